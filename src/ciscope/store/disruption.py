"""Arrow tables of the disruption artifacts of runs (written in the runs' own transaction by
:meth:`Store._write`), and imported ``query_results.json`` baselines. Schema:
``migrations/0009_disruption.sql``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from ..ingest.disruption import Baselines
    from ..model import Run
    from .base import Store

RUNS_SCHEMA = pa.schema([
    ("run_id", pa.int64()), ("job", pa.string()), ("started_at", pa.timestamp("us")),
    ("release", pa.string()), ("from_release", pa.string()), ("platform", pa.string()),
    ("architecture", pa.string()), ("network", pa.string()), ("topology", pa.string()),
    ("master_nodes_updated", pa.string()), ("disruption_files", pa.int32()), ("alert_files", pa.int32()),
])
SECONDS_SCHEMA = pa.schema([
    ("run_id", pa.int64()), ("backend", pa.string()), ("connection_type", pa.string()), ("seconds", pa.int32()),
])
ALERTS_SCHEMA = pa.schema([
    ("run_id", pa.int64()), ("alert", pa.string()), ("namespace", pa.string()), ("level", pa.string()),
    ("seconds", pa.int32()),
])
BASELINES_SCHEMA = pa.schema([
    ("source", pa.string()), ("kind", pa.string()), ("format", pa.string()), ("name", pa.string()),
    ("namespace", pa.string()), ("level", pa.string()), ("release", pa.string()), ("from_release", pa.string()),
    ("platform", pa.string()), ("architecture", pa.string()), ("network", pa.string()), ("topology", pa.string()),
    ("master_nodes_updated", pa.string()), ("job_runs", pa.int32()), ("p50", pa.float64()), ("p75", pa.float64()),
    ("p95", pa.float64()), ("p99", pa.float64()), ("first_observed", pa.string()), ("last_observed", pa.string()),
    ("imported_at", pa.timestamp("us")),
])
#: tables holding rows of a run (appended with it, deleted with it), in write order
RUN_TABLES = {"disruption_runs": RUNS_SCHEMA, "disruption_seconds": SECONDS_SCHEMA, "alert_seconds": ALERTS_SCHEMA}


def disruption_tables(runs: Sequence[Run]) -> dict[str, pa.Table]:
    """The disruption rows of runs that had disruption, alert or cluster-data artifacts."""
    from ..ingest.disruption import ALERTS_FILE, DISRUPTION_FILE

    cols: dict[str, dict[str, list[Any]]] = {name: {f: [] for f in schema.names} for name, schema in RUN_TABLES.items()}
    for run in runs:
        found = run.disruption
        if found is None or found.empty:
            continue
        rid = run.run_id
        started = run.started_at
        if started is not None and started.tzinfo is not None:
            started = started.astimezone(UTC).replace(tzinfo=None)
        names = [f.rsplit("/", 1)[-1] for f in found.files]
        row = {"run_id": rid, "job": run.job, "started_at": started, **found.job_type,
               "master_nodes_updated": found.master_nodes_updated,
               "disruption_files": sum(1 for n in names if DISRUPTION_FILE.match(n)),
               "alert_files": sum(1 for n in names if ALERTS_FILE.match(n))}
        for key, value in row.items():
            cols["disruption_runs"][key].append(value)
        for b in found.backends:
            for key, value in (("run_id", rid), ("backend", b.backend), ("connection_type", b.connection_type),
                               ("seconds", b.seconds)):
                cols["disruption_seconds"][key].append(value)
        for a in found.alerts:
            for key, value in (("run_id", rid), ("alert", a.name), ("namespace", a.namespace), ("level", a.level),
                               ("seconds", a.seconds)):
                cols["alert_seconds"][key].append(value)
    return {name: pa.Table.from_pydict(cols[name], schema=schema) for name, schema in RUN_TABLES.items()}


def baselines_table(baselines: Baselines, *, now: datetime | None = None) -> pa.Table:
    now = (now or datetime.now(UTC)).replace(tzinfo=None)
    cols: dict[str, list[Any]] = {f: [] for f in BASELINES_SCHEMA.names}
    for r in baselines.rows:
        values = {
            "source": baselines.source, "kind": baselines.kind, "format": baselines.format, "name": r.name,
            "namespace": r.namespace, "level": r.level, "release": r.release, "from_release": r.from_release,
            "platform": r.platform, "architecture": r.architecture, "network": r.network, "topology": r.topology,
            "master_nodes_updated": r.master_nodes_updated, "job_runs": r.job_runs, "p50": r.p50, "p75": r.p75,
            "p95": r.p95, "p99": r.p99, "first_observed": r.first_observed, "last_observed": r.last_observed,
            "imported_at": now,
        }
        for key, value in values.items():
            cols[key].append(value)
    return pa.Table.from_pydict(cols, schema=BASELINES_SCHEMA)


def write_baselines(store: Store, baselines: Baselines) -> int:
    """Store imported baselines in one transaction; rows imported before from the same source
    are replaced (re-importing a file is idempotent). Returns the rows stored."""
    table = baselines_table(baselines)
    with store.transaction(f"store the baselines of {baselines.source}"):
        store.execute("DELETE FROM disruption_baselines WHERE source = ?", (baselines.source,))
        if table.num_rows:
            store.append("disruption_baselines", table)
    return table.num_rows


_TYPE = "release, from_release, platform, architecture, network, topology, master_nodes_updated"


def percentiles_sql(store: Store) -> str:
    """P50, P75, P95 and P99 of ``v.seconds`` over the group, as columns p50 … p99: the
    ordered-set aggregate ``PERCENTILE_CONT(q) WITHIN GROUP`` (PostgreSQL, DuckDB, Spark), or
    the engine's own (:meth:`Store.percentile_sql`: ClickHouse)."""
    return ", ".join(f"{store.percentile_sql('v.seconds', q)} AS p{p}"
                     for p, q in ((50, 0.5), (75, 0.75), (95, 0.95), (99, 0.99)))


def baselines_sql(engine: str, *, end_op: str, release_filter: str, percentiles: str) -> str:
    """The disruption baselines query (parameters: window start, window end, releases…).

    Portable: ``percentiles`` (:func:`percentiles_sql`: the ordered-set aggregate
    ``PERCENTILE_CONT(q) WITHIN GROUP`` on PostgreSQL and DuckDB). DuckDB's fast path computes
    the four quantiles in one pass per group (``quantile_cont(x, [list])``) and groups by backend × an integer job-type key instead of
    eight strings: twice as fast on 10M rows (benchmarks/BENCHMARKS.md); a test checks both
    give the same rows."""
    where = (f"r.started_at > ? AND r.started_at {end_op} ? "
             f"AND (r.master_nodes_updated <> 'N' OR r.from_release = ''){release_filter}")
    order = ", ".join(f"k.{c}" for c in _TYPE.split(", "))
    if engine == "duckdb":
        return f"""
            WITH r AS (SELECT r.run_id, dense_rank() OVER (ORDER BY {_TYPE}) AS t, {_TYPE}
                       FROM disruption_runs r WHERE {where}),
            g AS (SELECT v.backend, r.t, count(*) AS job_runs,
                         quantile_cont(v.seconds, [0.5, 0.75, 0.95, 0.99]) AS q,
                         avg(CAST(v.seconds AS DOUBLE)) AS mean
                  FROM disruption_seconds v JOIN r ON r.run_id = v.run_id GROUP BY v.backend, r.t),
            k AS (SELECT DISTINCT t, {_TYPE} FROM r)
            SELECT g.backend AS name, {order}, g.job_runs, g.q[1] AS p50, g.q[2] AS p75, g.q[3] AS p95,
                   g.q[4] AS p99, g.mean
            FROM g JOIN k ON k.t = g.t
            ORDER BY name, {order}"""
    key = ", ".join(f"r.{c}" for c in _TYPE.split(", "))
    return f"""
        SELECT v.backend AS name, {key}, count(*) AS job_runs,
               {percentiles}, avg(CAST(v.seconds AS DOUBLE PRECISION)) AS mean
        FROM disruption_seconds v JOIN disruption_runs r ON r.run_id = v.run_id
        WHERE {where}
        GROUP BY v.backend, {key}
        ORDER BY v.backend, {key}"""
