"""Reads and writes of the disruption reports (:mod:`ciscope.analysis.disruption_store`,
``ciscope disruption …``, the disruption page).

- baselines computed by the engine over a window of runs: per backend
  (:func:`computed_disruption_rows`; its SQL, portable and DuckDB's fast path, is
  :func:`ciscope.store.disruption.baselines_sql`) and per alert (:func:`computed_alert_rows`);
- baselines imported from ``query_results.json`` (:func:`last_import_source`,
  :func:`imported_rows`);
- the runs with disruption or alert data (:class:`DisruptionRun`): one run
  (:func:`disruption_run`), the newest of a window (:func:`window_disruption_runs`,
  :func:`disruption_run_count`), all of them with their run's status
  (:func:`disruption_runs_with_status`), and their stored seconds (:func:`run_samples`);
- ``disruption record``: the tests a run has outside the synthetic suite
  (:func:`tests_outside_suite`) and the one transaction replacing that suite's results
  (:func:`replace_suite_results`);
- what the page shells need: the jobs with disruption data (:func:`disruption_jobs`) and
  whether a run has some (:func:`has_disruption`).

Percentiles are computed by the engine with the portable ordered-set aggregate
``PERCENTILE_CONT(q) WITHIN GROUP (ORDER BY seconds)`` (DuckDB and PostgreSQL): the same
definition as :func:`ciscope.analysis.disruption.percentile_cont`, tested to agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import StoreError
from ..ingest.disruption import JOB_TYPE_FIELDS, AlertSample, BaselineRow, DisruptionSample
from ..model import Run
from ..store.base import Store
from ..store.disruption import baselines_sql, percentiles_sql
from ..store.write import arrow_batch
from . import rules
from .window import Window

__all__ = ["DisruptionRun", "RunSamples", "computed_alert_rows", "computed_disruption_rows",
           "disruption_jobs", "disruption_run", "disruption_run_count", "disruption_runs_with_status",
           "has_disruption", "imported_rows", "last_import_source", "replace_suite_results", "run_samples",
           "tests_outside_suite", "window_disruption_runs"]

_KEY = "r.release, r.from_release, r.platform, r.architecture, r.network, r.topology"
#: the job type's columns, each named as itself (ClickHouse names ``r.release`` of a join
#: ``r.release`` when another table of the join has a ``release``)
_AS_NAMED = ", ".join(f"{c} AS {c.removeprefix('r.')}" for c in _KEY.split(", "))
#: runs are read, written and deleted in chunks of this many ids (``IN (?, …)`` lists)
_CHUNK = 5000


# ---------------------------------------------------------------------------- computed baselines

def _release_filter(releases: Sequence[str] | None) -> tuple[str, list[Any]]:
    if not releases:
        return "", []
    return f" AND r.release IN ({','.join('?' * len(releases))})", list(releases)


def computed_disruption_rows(store: Store, start: datetime, end: datetime, /, *, end_op: str,
                             releases: Sequence[str] | None = None, portable: bool = False) -> list[BaselineRow]:
    """Per backend × job type × MasterNodesUpdated of the runs started after ``start`` and
    before (``end_op`` ``<``) or up to (``<=``) ``end``, of ``releases`` when given: P50/P75/
    P95/P99, mean and job runs, keeping what upstream keeps (an upgrade only with its control
    plane updated). ``portable`` forces the portable SQL on DuckDB."""
    extra, params = _release_filter(releases)
    sql = baselines_sql("portable" if portable else store.name, end_op=end_op, release_filter=extra,
                        percentiles=percentiles_sql(store))
    return [_baseline_row(r) for r in store.query_dicts(sql, (start, end, *params))]


def computed_alert_rows(store: Store, start: datetime, end: datetime, /, *, end_op: str,
                        releases: Sequence[str] | None = None) -> list[BaselineRow]:
    """Per alert × namespace × level × job type of the runs with alert data in the window (as
    :func:`computed_disruption_rows`). A run that did not see an alert known for its release
    (seen by any run of the release in the window) counts as zero seconds."""
    extra, params = _release_filter(releases)
    sql = f"""
        WITH r AS (
            SELECT run_id, started_at, release, from_release, platform, architecture, network, topology
            FROM disruption_runs r
            WHERE r.alert_files > 0 AND r.started_at > ? AND r.started_at {end_op} ?{extra}),
        k AS (
            SELECT a.alert, a.namespace, a.level, r.release,
                   min(r.started_at) AS first_observed, max(r.started_at) AS last_observed
            FROM alert_seconds a JOIN r ON r.run_id = a.run_id
            GROUP BY a.alert, a.namespace, a.level, r.release),
        v AS (
            SELECT k.alert AS alert, k.namespace AS namespace, k.level AS level, k.first_observed AS first_observed,
                   k.last_observed AS last_observed, {_AS_NAMED},
                   COALESCE(a.seconds, 0) AS seconds
            FROM r JOIN k ON k.release = r.release
            LEFT JOIN alert_seconds a ON a.run_id = r.run_id AND a.alert = k.alert
                 AND a.namespace = k.namespace AND a.level = k.level)
        SELECT v.alert AS name, v.namespace, v.level, {_KEY.replace('r.', 'v.')},
               min(v.first_observed) AS first_observed, max(v.last_observed) AS last_observed,
               count(*) AS job_runs, {percentiles_sql(store)}, avg(CAST(v.seconds AS DOUBLE PRECISION)) AS mean
        FROM v
        GROUP BY v.alert, v.namespace, v.level, {_KEY.replace('r.', 'v.')}
        ORDER BY v.alert, v.namespace, v.level, {_KEY.replace('r.', 'v.')}"""
    return [_baseline_row(r) for r in store.query_dicts(sql, (start, end, *params))]


def _baseline_row(r: dict[str, Any]) -> BaselineRow:
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


# ---------------------------------------------------------------------------- imported baselines

def last_import_source(store: Store, kind: str) -> str | None:
    """The source of the baselines of ``kind`` imported last (None: none imported)."""
    last = store.query("SELECT source FROM disruption_baselines WHERE kind = ? "
                       "ORDER BY imported_at DESC, source LIMIT 1", (kind,))
    return last[0][0] if last else None


def imported_rows(store: Store, kind: str, source: str) -> tuple[str, list[BaselineRow]]:
    """(format, rows) of the baselines of ``kind`` imported from ``source``, by name and job
    type; ("", []) when there are none."""
    rows = store.query_dicts(
        "SELECT * FROM disruption_baselines WHERE kind = ? AND source = ? "
        "ORDER BY name, namespace, level, release, from_release, platform, architecture, network, topology",
        (kind, source))
    if not rows:
        return "", []
    return rows[0]["format"], [BaselineRow(
        name=r["name"], namespace=r["namespace"], level=r["level"], release=r["release"],
        from_release=r["from_release"], platform=r["platform"], architecture=r["architecture"],
        network=r["network"], topology=r["topology"], master_nodes_updated=r["master_nodes_updated"],
        job_runs=r["job_runs"], p50=r["p50"], p75=r["p75"], p95=float(r["p95"]), p99=float(r["p99"]),
        first_observed=r["first_observed"], last_observed=r["last_observed"],
    ) for r in rows]


# ---------------------------------------------------------------------------- runs with disruption data

@dataclass(frozen=True)
class DisruptionRun:
    """A run with disruption or alert data (``disruption_runs``): when its data starts, its job
    type (release, from_release, platform, architecture, network, topology, in upstream's
    order), and from the ``runs`` table, when read with it, its build, status and start
    (``run_started``)."""

    run_id: int
    job: str
    started_at: datetime | None
    job_type: dict[str, str]
    build: str = ""
    status: str = ""
    run_started: datetime | None = None

    @property
    def release(self) -> str:
        return self.job_type["release"]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> DisruptionRun:
        return cls(row["run_id"], row["job"], row["started_at"], {k: row[k] for k in JOB_TYPE_FIELDS},
                   build=row.get("build", ""), status=row.get("status", ""), run_started=row.get("run_started"))


_RUN_COLUMNS = "d.run_id, d.job, d.started_at, " + ", ".join(f"d.{c}" for c in JOB_TYPE_FIELDS)


def disruption_run(store: Store, run_id: int) -> DisruptionRun | None:
    """The disruption row of a run (None: the run has no disruption or alert data)."""
    rows = store.query_dicts(f"SELECT {_RUN_COLUMNS} FROM disruption_runs d WHERE d.run_id = ?", (run_id,))
    return DisruptionRun.from_row(rows[0]) if rows else None


def window_disruption_runs(store: Store, window: Window, /, *, limit: int | None) -> list[DisruptionRun]:
    """The newest ``limit`` (None: all) runs of ``window`` with disruption or alert data,
    newest first (then by build, descending), with their build."""
    where, params = window.where(store, runs="r", extra=["d.run_id = r.run_id"])
    top = f" LIMIT {int(limit)}" if limit is not None else ""
    rows = store.query_dicts(
        f"SELECT {_RUN_COLUMNS}, r.build FROM disruption_runs d, runs r{where}"
        f" ORDER BY r.started_at DESC NULLS LAST, r.build DESC{top}", params)
    return [DisruptionRun.from_row(r) for r in rows]


def disruption_run_count(store: Store, window: Window, /) -> int:
    """How many runs of ``window`` have disruption or alert data."""
    where, params = window.where(store, runs="r", extra=["d.run_id = r.run_id"])
    return int(store.query(f"SELECT count(*) FROM disruption_runs d, runs r{where}", params)[0][0])


def disruption_runs_with_status(store: Store) -> list[DisruptionRun]:
    """Every run with disruption or alert data, with its build, status and start, by the
    start of its disruption data, then run id."""
    rows = store.query_dicts(
        f"SELECT {_RUN_COLUMNS}, r.build, r.status, r.started_at AS run_started FROM disruption_runs d "
        "JOIN runs r ON r.run_id = d.run_id ORDER BY d.started_at, d.run_id")
    return [DisruptionRun.from_row(r) for r in rows]


@dataclass(frozen=True)
class RunSamples:
    """The stored seconds of runs, by run id: per backend and connection type, per alert."""

    backends: dict[int, list[DisruptionSample]]
    alerts: dict[int, list[AlertSample]]


def run_samples(store: Store, run_ids: Sequence[int]) -> RunSamples:
    """The stored seconds of runs (by backend and connection type, by alert, namespace and
    level), two queries per 5,000 runs."""
    backends: dict[int, list[DisruptionSample]] = {}
    alerts: dict[int, list[AlertSample]] = {}
    ids = list(run_ids)
    for rid, b, c, s in store.query_in(
            "SELECT run_id, backend, connection_type, seconds FROM disruption_seconds WHERE run_id IN ({marks}) "
            "ORDER BY run_id, backend, connection_type", ids, chunk=_CHUNK):
        backends.setdefault(rid, []).append(DisruptionSample(b, c, int(s)))
    for rid, n, ns, lv, s in store.query_in(
            "SELECT run_id, alert, namespace, level, seconds FROM alert_seconds WHERE run_id IN ({marks}) "
            "ORDER BY run_id, alert, namespace, level", ids, chunk=_CHUNK):
        alerts.setdefault(rid, []).append(AlertSample(n, ns, lv, int(s)))
    return RunSamples(backends, alerts)


# ---------------------------------------------------------------------------- disruption record

def tests_outside_suite(store: Store, run_ids: Sequence[int], suite: str) -> dict[int, set[str]]:
    """Per run (of those with any): the tests it has results of outside ``suite``."""
    found: dict[int, set[str]] = {}
    for rid, test in store.query_in("SELECT DISTINCT run_id, test FROM test_results WHERE suite <> ? AND run_id IN "
                                    "({marks})", list(run_ids), (suite,), chunk=_CHUNK):
        found.setdefault(rid, set()).add(test)
    return found


def replace_suite_results(store: Store, run_ids: Sequence[int], runs: Sequence[Run], suite: str) -> None:
    """In one transaction: delete the results of ``suite`` of ``run_ids`` and their verdicts,
    append the results (and verdicts) of ``runs``, and recompute the runs' counters (tests,
    failed, flaked) from their verdicts. Raises :class:`StoreError` (rolled back) on failure."""
    ids = list(run_ids)
    batch = arrow_batch(list(runs))
    store.begin()
    try:
        for start in range(0, len(ids), _CHUNK):
            marks, chunk = store.in_list(ids[start:start + _CHUNK])
            store.execute(f"DELETE FROM test_verdicts WHERE run_id IN ({marks}) AND test IN "
                          f"(SELECT test FROM test_results WHERE suite = ? AND run_id = test_verdicts.run_id)",
                          (*chunk, suite))
            store.execute(f"DELETE FROM test_results WHERE suite = ? AND run_id IN ({marks})", (suite, *chunk))
        for table in ("test_results", "test_verdicts"):
            if batch.tables[table].num_rows:
                store.append(table, batch.tables[table])
        for start in range(0, len(ids), _CHUNK):
            marks, chunk = store.in_list(ids[start:start + _CHUNK])
            store.execute(
                "UPDATE runs SET "
                "tests = (SELECT count(*) FROM test_verdicts v WHERE v.run_id = runs.run_id"
                f" AND {rules.counted_verdict('v.verdict')}), "
                "failed_tests = (SELECT count(*) FROM test_verdicts v WHERE v.run_id = runs.run_id"
                f" AND {rules.failed_verdict('v.verdict')}), "
                "flaked_tests = (SELECT count(*) FROM test_verdicts v WHERE v.run_id = runs.run_id"
                f" AND {rules.flaky_verdict('v.verdict')}) "
                f"WHERE run_id IN ({marks})", chunk)
        store.commit()
    except Exception as exc:
        store.rollback()
        raise StoreError(f"{store.url}: could not store the disruption verdicts of {len(ids)} run(s): {exc}") from exc


# ---------------------------------------------------------------------------- page shells

def disruption_jobs(store: Store) -> list[str]:
    """Jobs with disruption or alert data, by name."""
    return [r[0] for r in store.query("SELECT DISTINCT job FROM disruption_runs ORDER BY job")]


def has_disruption(store: Store, run_id: int) -> bool:
    """Whether a run has disruption or alert data."""
    return bool(store.query("SELECT count(*) FROM disruption_runs WHERE run_id = ?", (run_id,))[0][0])
