"""Disruption baselines and run checks from the store (the pure rules are in
:mod:`ciscope.analysis.disruption`).

Percentiles are computed by the engine with the portable ordered-set aggregate
``PERCENTILE_CONT(q) WITHIN GROUP (ORDER BY seconds)`` (DuckDB and PostgreSQL): the same
definition as :func:`ciscope.analysis.disruption.percentile_cont`, tested to agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..errors import StoreError, UsageError
from ..ingest.disruption import (
    AlertSample,
    BaselineRow,
    Baselines,
    DisruptionSample,
    read_query_results,
)
from ..model import Run, RunStatus, Status, TestResult
from ..queries.window import Window, now
from ..store.base import Store
from ..store.disruption import PERCENTILES_SQL, baselines_sql
from ..store.write import arrow_batch
from .disruption import (
    BaselineIndex,
    Comparison,
    RunCheck,
    check_run,
    compare_baselines,
)
from .disruption import previous_release as release_before

DISRUPTION_DAYS = 30  # upstream's LookbackDays
ALERT_DAYS = 7  # upstream's Alerts_Unified_LastWeek_P95

_KEY = "r.release, r.from_release, r.platform, r.architecture, r.network, r.topology"


def _window(store: Store, days: int, at: datetime | None, before: datetime | None) -> tuple[datetime, datetime, str]:
    """(start, end, comparison of the end): ``days`` up to ``at`` (default the store's "now",
    included) or strictly ``before`` a time (a run's own start)."""
    if before is not None:
        return before - timedelta(days=days), before, "<"
    if at is None:
        at = _window_end(store)
    return at - timedelta(days=days), at, "<="


def _window_end(store: Store) -> datetime:
    """Where disruption windows end by default: the store's one "now"
    (:func:`ciscope.queries.window.now`, the start of its newest run; every disruption run is a
    run of the store), the epoch in an empty store."""
    return now(store) or datetime(1970, 1, 1)


def _release_filter(releases: Sequence[str] | None) -> tuple[str, list[Any]]:
    if not releases:
        return "", []
    return f" AND r.release IN ({','.join('?' * len(releases))})", list(releases)


def releases_for(release: str | None, previous: str | None) -> list[str] | None:
    """``--release R [--previous-release P]``: R and P (default the release before R)."""
    if release is None:
        if previous is not None:
            raise UsageError("--previous-release needs --release")
        return None
    return [r for r in (release, previous or release_before(release)) if r]


def disruption_baselines(store: Store, /, *, days: int = DISRUPTION_DAYS, at: datetime | None = None,
                         before: datetime | None = None, releases: Sequence[str] | None = None,
                         portable: bool = False) -> Baselines:
    """Per backend × job type × MasterNodesUpdated: P50/P75/P95/P99, mean and job runs of the
    runs in the window, keeping what upstream keeps (an upgrade only with its control plane
    updated). ``portable`` forces the portable SQL on DuckDB (see
    :func:`ciscope.store.disruption.baselines_sql`)."""
    start, end, op = _window(store, days, at, before)
    extra, params = _release_filter(releases)
    sql = baselines_sql("portable" if portable else store.name, end_op=op, release_filter=extra)
    rows = store.query_dicts(sql, (start, end, *params))
    return Baselines("disruption", "current", [_row(r) for r in rows], source=f"store: {days} days to {end:%Y-%m-%d %H:%M}")


def alert_baselines(store: Store, /, *, days: int = ALERT_DAYS, at: datetime | None = None,
                    before: datetime | None = None, releases: Sequence[str] | None = None) -> Baselines:
    """Per alert × namespace × level × job type. Every run with alert data counts: a run that
    did not see an alert known for its release (seen by any run of the release in the window)
    counts as zero seconds — ci-tools injects those zero rows at upload."""
    start, end, op = _window(store, days, at, before)
    extra, params = _release_filter(releases)
    sql = f"""
        WITH r AS (
            SELECT run_id, started_at, release, from_release, platform, architecture, network, topology
            FROM disruption_runs r
            WHERE r.alert_files > 0 AND r.started_at > ? AND r.started_at {op} ?{extra}),
        k AS (
            SELECT a.alert, a.namespace, a.level, r.release,
                   min(r.started_at) AS first_observed, max(r.started_at) AS last_observed
            FROM alert_seconds a JOIN r ON r.run_id = a.run_id
            GROUP BY a.alert, a.namespace, a.level, r.release),
        v AS (
            SELECT k.alert, k.namespace, k.level, k.first_observed, k.last_observed, r.*,
                   COALESCE(a.seconds, 0) AS seconds
            FROM r JOIN k ON k.release = r.release
            LEFT JOIN alert_seconds a ON a.run_id = r.run_id AND a.alert = k.alert
                 AND a.namespace = k.namespace AND a.level = k.level)
        SELECT v.alert AS name, v.namespace, v.level, {_KEY.replace('r.', 'v.')},
               min(v.first_observed) AS first_observed, max(v.last_observed) AS last_observed,
               count(*) AS job_runs, {PERCENTILES_SQL}, avg(CAST(v.seconds AS DOUBLE PRECISION)) AS mean
        FROM v
        GROUP BY v.alert, v.namespace, v.level, {_KEY.replace('r.', 'v.')}
        ORDER BY v.alert, v.namespace, v.level, {_KEY.replace('r.', 'v.')}"""
    rows = store.query_dicts(sql, (start, end, *params))
    return Baselines("alerts", "current", [_row(r) for r in rows], source=f"store: {days} days to {end:%Y-%m-%d %H:%M}")


def _row(r: dict[str, Any]) -> BaselineRow:
    def number(value: Any) -> float | None:
        return None if value is None else float(value)

    def when(value: Any) -> str | None:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(value, datetime) else None

    return BaselineRow(
        name=r["name"], namespace=r.get("namespace") or "", level=r.get("level") or "", release=r["release"],
        from_release=r["from_release"], platform=r["platform"], architecture=r["architecture"],
        network=r["network"], topology=r["topology"], master_nodes_updated=r.get("master_nodes_updated"),
        job_runs=int(r["job_runs"]), p50=number(r["p50"]), p75=number(r["p75"]),
        p95=float(r["p95"] or 0.0), p99=float(r["p99"] or 0.0), mean=number(r["mean"]),
        first_observed=when(r.get("first_observed")), last_observed=when(r.get("last_observed")),
    )


def imported_baselines(store: Store, /, kind: str, *, source: str | None = None) -> Baselines | None:
    """Baselines imported with ``ciscope ingest query_results.json``: those of ``source``, else
    of the file imported last for ``kind``; None when there are none."""
    if source is None:
        last = store.query("SELECT source FROM disruption_baselines WHERE kind = ? "
                           "ORDER BY imported_at DESC, source LIMIT 1", (kind,))
        if not last:
            return None
        source = last[0][0]
    rows = store.query_dicts(
        "SELECT * FROM disruption_baselines WHERE kind = ? AND source = ? "
        "ORDER BY name, namespace, level, release, from_release, platform, architecture, network, topology",
        (kind, source))
    if not rows:
        return None
    out = [BaselineRow(
        name=r["name"], namespace=r["namespace"], level=r["level"], release=r["release"],
        from_release=r["from_release"], platform=r["platform"], architecture=r["architecture"],
        network=r["network"], topology=r["topology"], master_nodes_updated=r["master_nodes_updated"],
        job_runs=r["job_runs"], p50=r["p50"], p75=r["p75"], p95=float(r["p95"]), p99=float(r["p99"]),
        first_observed=r["first_observed"], last_observed=r["last_observed"],
    ) for r in rows]
    return Baselines(kind, rows[0]["format"], out, source=source)


def load_baselines(store: Store, spec: str, kind: str, **window: Any) -> Baselines | None:
    """Baselines named on the command line: ``store`` (computed), ``imported`` (the file
    imported last), or a ``query_results.json`` path."""
    if spec == "store":
        return disruption_baselines(store, **window) if kind == "disruption" else alert_baselines(store, **window)
    if spec == "imported":
        return imported_baselines(store, kind)
    if not Path(spec).exists():
        raise UsageError(f"{spec}: no such file; expected 'store', 'imported' or a query_results.json file")
    found = read_query_results(spec)
    return found if found.kind == kind else None


JOB_TYPE = ("release", "from_release", "platform", "architecture", "network", "topology")
SYNTHETIC_SUITE = "ciscope disruption"  # suite of the verdicts written as test results


def history_end(started_at: datetime | None) -> datetime | None:
    """Where a run's history ends: 00:00 UTC of the day it started (upstream's baselines are
    a daily report), so the run, its day and later runs are never part of its own history."""
    return None if started_at is None else started_at.replace(hour=0, minute=0, second=0, microsecond=0)


class _History:
    """Baselines by (spec, kind, history end, release), computed once per key: checking many
    runs costs one query per day and release, not per run."""

    def __init__(self, store: Store, specs: Sequence[str], days: int, alert_days: int) -> None:
        self.store, self.specs, self.days, self.alert_days = store, list(specs), days, alert_days
        self._cache: dict[tuple[str, str, datetime | None, str], BaselineIndex] = {}

    def index(self, kind: str, end: datetime | None, release: str) -> BaselineIndex:
        for spec in self.specs:
            key = (spec, kind, end if spec == "store" else None, release if spec == "store" else "")
            if key not in self._cache:
                window: dict[str, Any] = {}
                if spec == "store":
                    window = {"days": self.days if kind == "disruption" else self.alert_days, "before": end,
                              "releases": releases_for(release, None) if release else None}
                got = load_baselines(self.store, spec, kind, **window)
                self._cache[key] = BaselineIndex(got) if got is not None else None  # type: ignore[assignment]
            if self._cache[key] is not None:
                return self._cache[key]
        return BaselineIndex(Baselines(kind, "current", []))


def _samples(store: Store, run_ids: Sequence[int]) -> tuple[dict[int, list[DisruptionSample]], dict[int, list[AlertSample]]]:
    """The stored seconds of runs, two queries per 5,000 runs."""
    backends: dict[int, list[DisruptionSample]] = {}
    alerts: dict[int, list[AlertSample]] = {}
    for start in range(0, len(run_ids), 5000):
        chunk = list(run_ids[start:start + 5000])
        for rid, b, c, s in store.query_in(
                "SELECT run_id, backend, connection_type, seconds FROM disruption_seconds WHERE run_id IN ({marks}) "
                "ORDER BY run_id, backend, connection_type", chunk):
            backends.setdefault(rid, []).append(DisruptionSample(b, c, int(s)))
        for rid, n, ns, lv, s in store.query_in(
                "SELECT run_id, alert, namespace, level, seconds FROM alert_seconds WHERE run_id IN ({marks}) "
                "ORDER BY run_id, alert, namespace, level", chunk):
            alerts.setdefault(rid, []).append(AlertSample(n, ns, lv, int(s)))
    return backends, alerts


def _judge(store: Store, history: _History, info: dict[str, Any], job: str, build: str,
           samples: tuple[dict[int, list[DisruptionSample]], dict[int, list[AlertSample]]] | None = None) -> RunCheck:
    rid = info["run_id"]
    backends_of, alerts_of = samples or _samples(store, [rid])
    backends, alerts = backends_of.get(rid, []), alerts_of.get(rid, [])
    end = history_end(info["started_at"])
    return check_run(job, build, {k: info[k] for k in JOB_TYPE}, backends, alerts,
                     disruption=history.index("disruption", end, info["release"]),
                     alert_history=history.index("alerts", end, info["release"]))


def check(store: Store, ref: str, /, *, job: str | None = None, baselines: Sequence[str] = ("store",),
          days: int = DISRUPTION_DAYS, alert_days: int = ALERT_DAYS) -> RunCheck:
    """Verdicts of one run's backends and alerts against the best-matching history.

    ``baselines`` (the first that has data wins, per kind): ``store`` — computed from the
    ``days`` (alerts: ``alert_days``) before the UTC day the run started, limited to its
    release and the previous one; ``imported``; or ``query_results.json`` files (disruption
    and alert files are told apart by their content)."""
    from ..queries.facts import find_run

    run = find_run(store, ref, job)
    rows = store.query_dicts("SELECT * FROM disruption_runs WHERE run_id = ?", (run["run_id"],))
    if not rows:
        raise UsageError(f"{ref}: run {run['job']} {run['build']} has no disruption or alert data "
                         "(backend-disruption_*.json / alerts_*.json under artifacts/)")
    return _judge(store, _History(store, baselines, days, alert_days), rows[0], run["job"], run["build"])


def count_disruption_runs(store: Store, window: Window | None = None, /) -> int:
    """How many runs of ``window`` have disruption or alert data."""
    where, params = (window or Window()).where(store, runs="r", extra=["d.run_id = r.run_id"])
    return int(store.query(f"SELECT count(*) FROM disruption_runs d, runs r{where}", params)[0][0])


def check_runs(store: Store, window: Window | None = None, /, *, limit: int | None = 20,
               baselines: Sequence[str] = ("store",), days: int = DISRUPTION_DAYS,
               alert_days: int = ALERT_DAYS) -> list[RunCheck]:
    """:func:`check` of the newest ``limit`` runs (None: all) of ``window`` (job, time, branch,
    variant) that have disruption or alert data, newest first. Histories are shared between
    the runs (one query per day and release, not per run)."""
    where, params = (window or Window()).where(store, runs="r", extra=["d.run_id = r.run_id"])
    top = f" LIMIT {int(limit)}" if limit is not None else ""
    infos = store.query_dicts(
        f"SELECT d.*, r.build FROM disruption_runs d, runs r{where}"
        f" ORDER BY r.started_at DESC NULLS LAST, r.build DESC{top}", params)
    if not infos:
        return []
    history = _History(store, baselines, days, alert_days)
    samples = _samples(store, [i["run_id"] for i in infos])
    return [_judge(store, history, info, info["job"], info["build"], samples) for info in infos]


@dataclass(slots=True)
class RecordReport:
    """What :func:`record_verdicts` wrote."""

    runs: int = 0  # runs judged
    tests: int = 0  # synthetic test results written
    failed: int = 0  # backend or alert tests that failed
    flaked: int = 0  # alert tests that flaked (a failed and a passed attempt)
    skipped: int = 0  # tests without usable history (written as skipped)
    kept_upstream: int = 0  # verdicts not written: the run's own junit has a test of that name
    failed_runs: list[dict[str, str]] = field(default_factory=list)  # {job, build}: a backend or alert failed


def _synthetic_results(result: RunCheck, existing: set[str]) -> tuple[list[TestResult], int]:
    """Test results of a check: pass → passed, fail → failed, flake → failed then passed (as
    origin writes two junit cases), skipped → skipped. Tests the run already has are left out."""
    out: list[TestResult] = []
    kept = 0
    verdicts = [(v.test, v.verdict, v.reason or f"observed {v.observed_seconds} s, allowed {v.allowed_seconds} s")
                for v in result.backends]
    verdicts += [(a.test, a.verdict, a.reason or f"observed {a.observed_seconds} s, flake after {a.flake_after:g} s, "
                  f"fail after {a.fail_after:g} s") for a in result.alerts]
    for test, verdict, message in verdicts:
        if test in existing:
            kept += 1
            continue
        if verdict in ("fail", "flake"):
            out.append(TestResult(test, Status.FAILED, suite=SYNTHETIC_SUITE, failure_message=message,
                                  failure_type="disruption", file="disruption"))
        if verdict in ("pass", "flake"):
            out.append(TestResult(test, Status.PASSED, suite=SYNTHETIC_SUITE, attempt=1 if verdict == "flake" else 0,
                                  file="disruption"))
        if verdict == "skipped":
            out.append(TestResult(test, Status.SKIPPED, suite=SYNTHETIC_SUITE, failure_message=message,
                                  file="disruption"))
    return out, kept


def record_verdicts(store: Store, /, *, run_ids: Sequence[int] | None = None, baselines: Sequence[str] = ("store",),
                    days: int = DISRUPTION_DAYS, alert_days: int = ALERT_DAYS) -> RecordReport:
    """Write the verdicts of runs with disruption data (default: all) as test results of
    those runs (suite ``ciscope disruption``), named as origin names its tests, so they show
    in grids, flakes and regressions. Idempotent: a run's previous synthetic results are
    replaced; the run's counters (tests, failed, flaked) are recomputed. One transaction."""
    report = RecordReport()
    sql = ("SELECT d.*, r.build, r.status, r.started_at AS run_started FROM disruption_runs d "
           "JOIN runs r ON r.run_id = d.run_id")
    infos = store.query_dicts(sql + " ORDER BY d.started_at, d.run_id")
    if run_ids is not None:
        wanted = set(run_ids)
        infos = [i for i in infos if i["run_id"] in wanted]
    if not infos:
        return report
    history = _History(store, baselines, days, alert_days)
    ids = [i["run_id"] for i in infos]
    existing: dict[int, set[str]] = {}
    for start in range(0, len(ids), 5000):
        chunk = ids[start:start + 5000]
        for rid, test in store.query_in(
                "SELECT DISTINCT run_id, test FROM test_results WHERE suite <> ? AND run_id IN ({marks})",
                chunk, (SYNTHETIC_SUITE,)):
            existing.setdefault(rid, set()).add(test)
    runs: list[Run] = []
    samples = _samples(store, ids)
    for info in infos:
        result = _judge(store, history, info, info["job"], info["build"], samples)
        results, kept = _synthetic_results(result, existing.get(info["run_id"], set()))
        report.runs += 1
        report.kept_upstream += kept
        report.tests += len({r.name for r in results})
        report.failed += sum(1 for v in result.backends if v.verdict == "fail") + sum(
            1 for a in result.alerts if a.verdict == "fail")
        report.flaked += sum(1 for a in result.alerts if a.verdict == "flake")
        report.skipped += sum(1 for r in results if r.status is Status.SKIPPED)
        if result.verdict == "fail":
            report.failed_runs.append({"job": info["job"], "build": info["build"]})
        runs.append(Run(job=info["job"], build=info["build"], status=RunStatus(info["status"]),
                        started_at=info["run_started"], results=results))
    batch = arrow_batch(runs)
    store.begin()
    try:
        for start in range(0, len(ids), 5000):
            chunk = ids[start:start + 5000]
            marks = ",".join("?" * len(chunk))
            store.execute(f"DELETE FROM test_verdicts WHERE run_id IN ({marks}) AND test IN "
                          f"(SELECT test FROM test_results WHERE suite = ? AND run_id = test_verdicts.run_id)",
                          (*chunk, SYNTHETIC_SUITE))
            store.execute(f"DELETE FROM test_results WHERE suite = ? AND run_id IN ({marks})", (SYNTHETIC_SUITE, *chunk))
        for table in ("test_results", "test_verdicts"):
            if batch.tables[table].num_rows:
                store.append(table, batch.tables[table])
        for start in range(0, len(ids), 5000):
            chunk = ids[start:start + 5000]
            marks = ",".join("?" * len(chunk))
            store.execute(
                "UPDATE runs SET "
                "tests = (SELECT count(*) FROM test_verdicts v WHERE v.run_id = runs.run_id AND v.verdict <> 'skipped'), "
                "failed_tests = (SELECT count(*) FROM test_verdicts v WHERE v.run_id = runs.run_id "
                "AND v.verdict IN ('failed', 'error')), "
                "flaked_tests = (SELECT count(*) FROM test_verdicts v WHERE v.run_id = runs.run_id AND v.verdict = 'flaky') "
                f"WHERE run_id IN ({marks})", chunk)
        store.commit()
    except Exception as exc:
        store.rollback()
        raise StoreError(f"{store.url}: could not store the disruption verdicts of {len(ids)} run(s): {exc}") from exc
    return report


def baselines(store: Store, /, *, kind: str = "disruption", days: int | None = None, at: datetime | None = None,
              release: str | None = None, previous_release: str | None = None) -> Baselines:
    """``ciscope disruption baseline``: baselines of ``kind`` computed from the store over
    ``days`` (default 30 for disruption, 7 for alerts) up to ``at`` (default: the store's "now", its newest run), limited to ``release`` and its previous release when given."""
    releases = releases_for(release, previous_release)
    if kind == "alerts":
        return alert_baselines(store, days=days or ALERT_DAYS, at=at, releases=releases)
    if kind != "disruption":
        raise UsageError(f"kind = {kind!r}: expected disruption or alerts")
    return disruption_baselines(store, days=days or DISRUPTION_DAYS, at=at, releases=releases)


def report(store: Store | None, /, *, old: str | None = None, new: str | None = None, old_days: int | None = None,
           new_days: int | None = None, kind: str | None = None, leeway: float = 30.0,
           release: str | None = None, previous_release: str | None = None) -> Comparison:
    """``ciscope disruption report``: compare two baseline sets, each a ``query_results.json``
    file (``old``/``new``) or computed from the store. From the store, NEW covers the
    ``new_days`` up to the newest run and OLD the ``old_days`` before NEW's window."""
    if (old is None) == (old_days is None) or (new is None) == (new_days is None):
        raise UsageError("give OLD as a file or --old-days N, and NEW as a file or --new-days N (one of each)")
    if store is None and (old_days or new_days):
        raise UsageError("--old-days / --new-days compute baselines from a store: none was given")
    new_set = read_query_results(new) if new is not None else None
    old_set = read_query_results(old) if old is not None else None
    loaded = new_set or old_set
    kind = kind or (loaded.kind if loaded is not None else "disruption")
    if new_set is None and store is not None:
        new_set = baselines(store, kind=kind, days=new_days)
    if old_set is None and store is not None:
        end = _window_end(store)
        old_set = baselines(store, kind=kind, days=old_days, at=end - timedelta(days=new_days or 0))
    assert old_set is not None and new_set is not None
    if old_set.kind != new_set.kind:
        raise UsageError(f"OLD holds {old_set.kind} baselines but NEW holds {new_set.kind}: compare like with like")
    return compare_baselines(old_set, new_set, leeway=leeway, release=release, previous=previous_release)
