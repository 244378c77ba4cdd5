"""Per-run summaries of lifecycle events (migration 0018, docs/store.md): ``run_event_summary``
(one row per run: counts per event name, the worker / device group / requestor its events
name, skew) and ``run_phases`` (one row per run and phase of a phase config, keyed by the
config's fingerprint). ``ciscope timing`` reads these instead of aggregating every event.

Both are derived from ``run_events`` by the set-based ``INSERT … SELECT`` statements below —
one definition, used at ingest (the runs just written, in their transaction), by the
migration's backfill, and lazily on a read for a phase config the store has no rows for.
Rows are deleted with their run (``RUN_TABLES``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ..analysis.timing import DEFAULT_PHASES, Phase
from ..errors import StoreError
from .base import Store
from .sqltext import sql_string

__all__ = ["ensure_phases", "phases_fingerprint", "refresh_run_timing", "register_phases"]

_CHUNK = 5000


def _phases_json(phases: Sequence[Phase]) -> str:
    return json.dumps([[p.name, list(p.start), list(p.end)] for p in phases], separators=(",", ":"))


def phases_fingerprint(phases: Sequence[Phase]) -> str:
    """The key of a phase config's rows in ``run_phases``: 16 hex digits of the SHA-256 of
    its phases (names, start and end alternatives, in order)."""
    return hashlib.sha256(_phases_json(phases).encode()).hexdigest()[:16]


def _scope(store: Store, run_ids: Sequence[int] | None) -> tuple[str, list[Any]]:
    """The WHERE clause of the events of ``run_ids`` (None: all) and its parameters."""
    if run_ids is None:
        return "", []
    marks, params = store.in_list([int(r) for r in run_ids])
    return f" WHERE e.run_id IN ({marks})", params


def _summary_sql(store: Store, scope: str) -> str:
    skew = f"({store.seconds_sql('e.received_at')} - {store.seconds_sql('e.emitted_at')})"
    return ("INSERT INTO run_event_summary (run_id, events, worker, device_group, requestor, skew_n, skew_sum,"
            " skew_min, skew_max, skew_neg, counts)"
            " SELECT a.run_id, a.events, a.worker, a.device_group, a.requestor, a.skew_n, a.skew_sum, a.skew_min,"
            " a.skew_max, a.skew_neg, c.counts FROM"
            " (SELECT e.run_id, count(*) AS events, min(e.worker) AS worker, min(e.device_group) AS device_group,"
            " min(e.requestor) AS requestor, count(e.received_at) AS skew_n,"
            f" sum({skew}) AS skew_sum, min({skew}) AS skew_min, max({skew}) AS skew_max,"
            " count(CASE WHEN e.received_at < e.emitted_at THEN 1 END) AS skew_neg"
            f" FROM run_events e{scope} GROUP BY e.run_id) a JOIN"
            " (SELECT n.run_id, string_agg(n.event || chr(31) || CAST(n.n AS TEXT), chr(30) ORDER BY n.event) AS counts"
            f" FROM (SELECT e.run_id, e.event, count(*) AS n FROM run_events e{scope} GROUP BY e.run_id, e.event) n"
            " GROUP BY n.run_id) c ON c.run_id = a.run_id")


def _phases_sql(phases: Sequence[Phase], scope: str) -> str:
    """One pass over the events of the scope, grouped by run (first time of each start event,
    last of each end event), then one row per phase."""
    firsts = sorted({n for p in phases for n in p.start})
    lasts = sorted({n for p in phases for n in p.end})
    select = [f"min(CASE WHEN e.event = {sql_string(n)} THEN e.emitted_at END) AS f{i}" for i, n in enumerate(firsts)]
    select += [f"max(CASE WHEN e.event = {sql_string(n)} THEN e.emitted_at END) AS l{i}" for i, n in enumerate(lasts)]

    def pick(names: Sequence[str], kind: str, index: list[str]) -> str:
        columns = [f"a.{kind}{index.index(n)}" for n in names]
        return columns[0] if len(columns) == 1 else f"COALESCE({', '.join(columns)})"

    start = " ".join(f"WHEN {k} THEN {pick(p.start, 'f', firsts)}" for k, p in enumerate(phases))
    end = " ".join(f"WHEN {k} THEN {pick(p.end, 'l', lasts)}" for k, p in enumerate(phases))
    values = ", ".join(f"({k})" for k in range(len(phases)))
    return ("INSERT INTO run_phases (config, run_id, phase, start_at, end_at)"
            f" SELECT {sql_string(phases_fingerprint(phases))}, a.run_id, v.phase,"
            f" CASE v.phase {start} END, CASE v.phase {end} END"
            f" FROM (SELECT e.run_id, {', '.join(select)} FROM run_events e{scope} GROUP BY e.run_id) a"
            f" CROSS JOIN (VALUES {values}) AS v(phase)")


def _configs(store: Store) -> list[tuple[Phase, ...]]:
    out = []
    for (text,) in store.query("SELECT phases FROM timing_configs ORDER BY config"):
        out.append(tuple(Phase(str(name), tuple(start), tuple(end)) for name, start, end in json.loads(text)))
    return out


def register_phases(store: Store, phases: Sequence[Phase]) -> None:
    """Keep ``phases``' rows up to date at ingest from now on (inside a write transaction)."""
    fingerprint = phases_fingerprint(phases)
    if not store.query("SELECT 1 FROM timing_configs WHERE config = ?", (fingerprint,)):
        store.execute("INSERT INTO timing_configs VALUES (?, ?, ?)",
                      (fingerprint, _phases_json(phases), datetime.now(UTC).replace(tzinfo=None)))


def refresh_run_timing(store: Store, run_ids: Sequence[int] | None = None) -> None:
    """Write the summaries of ``run_ids`` (all runs with events when None) from their events,
    for every registered phase config: inside the caller's write transaction, after their
    events are written and their old summaries deleted. Set-based: one ``INSERT … SELECT`` per
    table and config (per 5,000 runs), never a statement per run."""
    if run_ids is not None and not run_ids:
        return
    configs = _configs(store)
    chunks = [None] if run_ids is None else [run_ids[i:i + _CHUNK] for i in range(0, len(run_ids), _CHUNK)]
    for chunk in chunks:
        scope, params = _scope(store, chunk)
        store.execute(_summary_sql(store, scope), params * 2)  # the scope is in it twice
        for phases in configs:
            store.execute(_phases_sql(phases, scope), params)


def backfill(store: Store) -> None:
    """Migration 0018: register the default phases and summarise every stored run's events."""
    register_phases(store, DEFAULT_PHASES)
    refresh_run_timing(store)


def ensure_phases(store: Store, phases: Sequence[Phase]) -> bool:
    """Whether ``run_phases`` holds ``phases``' rows for every summarised run — writing the
    missing ones first (one ``INSERT … SELECT`` over the runs lacking them, and registering
    the config for ingest) when the store is writable. False on a store without the tables
    (an older schema) or one opened read-only that lacks rows: read the events instead."""
    if not (store.table_exists("run_phases") and store.table_exists("run_event_summary")):
        return False
    fingerprint = sql_string(phases_fingerprint(phases))
    (runs,), = store.query("SELECT count(*) FROM run_event_summary")
    (have,), = store.query(f"SELECT count(*) FROM run_phases WHERE config = {fingerprint} AND phase = 0")
    if runs == have:
        return True
    if getattr(store, "read_only", False):
        return False
    scope = (" WHERE e.run_id IN (SELECT s.run_id FROM run_event_summary s WHERE NOT EXISTS"
             f" (SELECT 1 FROM run_phases p WHERE p.config = {fingerprint} AND p.phase = 0 AND p.run_id = s.run_id))")
    try:
        with store.transaction("summarise the phases of stored runs", lock=True):
            register_phases(store, phases)
            store.execute(_phases_sql(phases, scope))
    except StoreError:  # a store that cannot be written (a Parquet lake): read the events
        return False
    return True
