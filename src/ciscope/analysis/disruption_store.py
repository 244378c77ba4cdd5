"""Disruption baselines, run checks and ``disruption record`` over a store: a thin
orchestration of the reads and writes of :mod:`ciscope.queries.disruption` (where the
baselines are computed by the engine) and the pure rules of :mod:`ciscope.analysis.disruption`.
No SQL here (``tests/test_layering.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..ingest.disruption import Baselines, read_query_results
from ..model import Run, RunStatus, Status, TestResult
from ..queries.disruption import (
    DisruptionRun,
    RunSamples,
    computed_alert_rows,
    computed_disruption_rows,
    disruption_run,
    disruption_run_count,
    disruption_runs_with_status,
    imported_rows,
    last_import_source,
    replace_suite_results,
    run_samples,
    tests_outside_suite,
    window_disruption_runs,
)
from ..queries.facts import find_run
from ..queries.window import Window, now
from ..store.base import Store
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
    rows = computed_disruption_rows(store, start, end, end_op=op, releases=releases, portable=portable)
    return Baselines("disruption", "current", rows, source=f"store: {days} days to {end:%Y-%m-%d %H:%M}")


def alert_baselines(store: Store, /, *, days: int = ALERT_DAYS, at: datetime | None = None,
                    before: datetime | None = None, releases: Sequence[str] | None = None) -> Baselines:
    """Per alert × namespace × level × job type. Every run with alert data counts: a run that
    did not see an alert known for its release (seen by any run of the release in the window)
    counts as zero seconds — ci-tools injects those zero rows at upload."""
    start, end, op = _window(store, days, at, before)
    rows = computed_alert_rows(store, start, end, end_op=op, releases=releases)
    return Baselines("alerts", "current", rows, source=f"store: {days} days to {end:%Y-%m-%d %H:%M}")


def imported_baselines(store: Store, /, kind: str, *, source: str | None = None) -> Baselines | None:
    """Baselines imported with ``ciscope ingest query_results.json``: those of ``source``, else
    of the file imported last for ``kind``; None when there are none."""
    if source is None:
        source = last_import_source(store, kind)
        if source is None:
            return None
    file_format, rows = imported_rows(store, kind, source)
    return Baselines(kind, file_format, rows, source=source) if rows else None


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


def _judge(history: _History, info: DisruptionRun, job: str, build: str, samples: RunSamples) -> RunCheck:
    backends, alerts = samples.backends.get(info.run_id, []), samples.alerts.get(info.run_id, [])
    end = history_end(info.started_at)
    return check_run(job, build, info.job_type, backends, alerts,
                     disruption=history.index("disruption", end, info.release),
                     alert_history=history.index("alerts", end, info.release))


def check(store: Store, ref: str, /, *, job: str | None = None, baselines: Sequence[str] = ("store",),
          days: int = DISRUPTION_DAYS, alert_days: int = ALERT_DAYS) -> RunCheck:
    """Verdicts of one run's backends and alerts against the best-matching history.

    ``baselines`` (the first that has data wins, per kind): ``store`` — computed from the
    ``days`` (alerts: ``alert_days``) before the UTC day the run started, limited to its
    release and the previous one; ``imported``; or ``query_results.json`` files (disruption
    and alert files are told apart by their content)."""
    run = find_run(store, ref, job)
    info = disruption_run(store, run["run_id"])
    if info is None:
        raise UsageError(f"{ref}: run {run['job']} {run['build']} has no disruption or alert data "
                         "(backend-disruption_*.json / alerts_*.json under artifacts/)")
    return _judge(_History(store, baselines, days, alert_days), info, run["job"], run["build"],
                  run_samples(store, [info.run_id]))


def count_disruption_runs(store: Store, window: Window | None = None, /) -> int:
    """How many runs of ``window`` have disruption or alert data."""
    return disruption_run_count(store, window or Window())


def check_runs(store: Store, window: Window | None = None, /, *, limit: int | None = 20,
               baselines: Sequence[str] = ("store",), days: int = DISRUPTION_DAYS,
               alert_days: int = ALERT_DAYS) -> list[RunCheck]:
    """:func:`check` of the newest ``limit`` runs (None: all) of ``window`` (job, time, branch,
    variant) that have disruption or alert data, newest first. Histories are shared between
    the runs (one query per day and release, not per run)."""
    infos = window_disruption_runs(store, window or Window(), limit=limit)
    if not infos:
        return []
    history = _History(store, baselines, days, alert_days)
    samples = run_samples(store, [i.run_id for i in infos])
    return [_judge(history, info, info.job, info.build, samples) for info in infos]


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
    infos = disruption_runs_with_status(store)
    if run_ids is not None:
        wanted = set(run_ids)
        infos = [i for i in infos if i.run_id in wanted]
    if not infos:
        return report
    history = _History(store, baselines, days, alert_days)
    ids = [i.run_id for i in infos]
    existing = tests_outside_suite(store, ids, SYNTHETIC_SUITE)
    runs: list[Run] = []
    samples = run_samples(store, ids)
    for info in infos:
        result = _judge(history, info, info.job, info.build, samples)
        results, kept = _synthetic_results(result, existing.get(info.run_id, set()))
        report.runs += 1
        report.kept_upstream += kept
        report.tests += len({r.name for r in results})
        report.failed += sum(1 for v in result.backends if v.verdict == "fail") + sum(
            1 for a in result.alerts if a.verdict == "fail")
        report.flaked += sum(1 for a in result.alerts if a.verdict == "flake")
        report.skipped += sum(1 for r in results if r.status is Status.SKIPPED)
        if result.verdict == "fail":
            report.failed_runs.append({"job": info.job, "build": info.build})
        runs.append(Run(job=info.job, build=info.build, status=RunStatus(info.status),
                        started_at=info.run_started, results=results))
    replace_suite_results(store, ids, runs, SYNTHETIC_SUITE)
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
