"""Reads for ``ciscope timing``: the runs of a window that have lifecycle events, with their
events aggregated per run by the engine (one grouped query; only the columns a report needs),
as an Arrow table of one row per run.

Also the timing/retrigger config file (``--config FILE`` / ``CISCOPE_CONFIG``): YAML or JSON
with a ``timing:`` section (phases, thresholds, stall rules — see
:meth:`ciscope.analysis.timing.TimingConfig.from_mapping`) and a ``retrigger:`` section
(see :mod:`ciscope.analysis.retrigger`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..analysis.timing import (
    OutlierReport,
    PhaseAggregate,
    RunSetAggregate,
    ThresholdReport,
    TimingConfig,
    TimingData,
    TimingReport,
    check_group_by,
    outliers,
    report_from_aggregates,
    thresholds,
    timing_report,
)
from ..errors import InputError
from ..status import RunStatus
from ..store.base import Store
from ..store.sqltext import sql_string
from . import rules
from .window import Window, naive_utc
from .window import now as store_now

__all__ = [
    "ChartRun",
    "chart_runs",
    "engine_report",
    "load_config",
    "timing_config",
    "summary_data",
    "timing_data",
    "timing_now",
    "timing_outliers",
    "timing_stats",
    "timing_thresholds",
]


def load_config(path: str | Path | None) -> dict[str, Any]:
    """The config file as a mapping ({} without a file). Errors name the file and the line."""
    if path is None:
        return {}
    import yaml

    p = Path(path)
    if not p.is_file():
        raise InputError(str(p), "no such config file")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(str(p), f"malformed YAML/JSON: {getattr(exc, 'problem', exc)}",
                         line=mark.line + 1 if mark else None) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(str(p), f"expected a mapping with timing: and retrigger: sections, found {type(data).__name__}")
    unknown = set(data) - {"timing", "retrigger"}
    if unknown:
        raise InputError(str(p), f"unknown section(s) {sorted(unknown)}; expected timing, retrigger")
    return data


def timing_config(config: dict[str, Any], *, source: str = "config") -> TimingConfig:
    section = config.get("timing") or {}
    if not isinstance(section, dict):
        raise InputError(source, "timing: expected a mapping (phases, thresholds, stall_events, stall_reason)")
    return TimingConfig.from_mapping(section, source=source)


def timing_now(store: Store, window: Window) -> datetime | None:
    """``--until``, else the newest run's start or the newest event, whichever is later (an
    unfinished run's open phase is measured up to it)."""
    if window.until is not None:
        return naive_utc(window.until)
    latest = store_now(store)
    (newest,) = store.query("SELECT max(emitted_at) FROM run_events")[0]
    newest = naive_utc(newest)
    return max((t for t in (latest, newest) if t is not None), default=None)


_RUN_COLUMNS = "r.run_id, r.job, r.build, r.status, r.started_at, r.worker, r.failed_tests, r.reason, r.metadata"
_OPTIONAL = ("received_at", "worker", "device_group", "requestor")


def _needs(by: str, *extra: str) -> tuple[str, ...]:
    return tuple(c for c in _OPTIONAL if c in extra or c == by)


def timing_data(store: Store, window: Window, columns: tuple[str, ...] = _OPTIONAL,
                run_ids: Sequence[int] | None = None, config: TimingConfig | None = None) -> TimingData:
    """The runs of the window that have events, each with its events aggregated **by the
    engine** (one pass, grouped by run): first and last time and count of every event name,
    and — only when a report needs them (``columns``) — the worker, device group and requestor
    its events name (the smallest when several) and the emit→receive skew's count, sum, min,
    max and negatives. One row per run comes back, never one per event. ``run_ids``: only
    these runs (integers, written into the SQL as literals). With ``config``, only the first
    time of the events starting its phases (and of stall events) and the last time of those
    ending them are asked (counts of every name): fewer aggregates for the engine."""
    names = [row[0] for row in store.query("SELECT DISTINCT event FROM run_events ORDER BY event")]
    firsts = lasts = None
    if config is not None:
        firsts = {n for p in config.phases for n in p.start} | set(config.stall_events)
        lasts = {n for p in config.phases for n in p.end}
    select: list[str] = []
    for i, name in enumerate(names):
        # the names as SQL literals (quotes doubled), not parameters: the engine then folds each
        # comparison into its plan (measured: a parameterised plan took twice as long on DuckDB)
        literal = sql_string(str(name))
        if firsts is None or name in firsts:
            select.append(f"min(CASE WHEN e.event = {literal} THEN e.emitted_at END) AS f{i}")
        if lasts is None or name in lasts:
            select.append(f"max(CASE WHEN e.event = {literal} THEN e.emitted_at END) AS l{i}")
        select.append(f"count(CASE WHEN e.event = {literal} THEN 1 END) AS c{i}")
    for column in ("worker", "device_group", "requestor"):
        if column in columns:
            select.append(f"min(e.{column}) AS ev_{column}")
    if "received_at" in columns:
        skew = f"({store.seconds_sql('e.received_at')} - {store.seconds_sql('e.emitted_at')})"
        select += ["count(e.received_at) AS skew_n", f"sum({skew}) AS skew_sum", f"min({skew}) AS skew_min",
                   f"max({skew}) AS skew_max", "count(CASE WHEN e.received_at < e.emitted_at THEN 1 END) AS skew_neg"]
    extra: list[str] | None = None
    extra_params: list[Any] = []
    if run_ids is not None and not run_ids:
        extra = ["1 = 0"]
    elif run_ids is not None:
        marks, extra_params = store.in_list([int(rid) for rid in run_ids])
        extra = [f"r.run_id IN ({marks})"]
    where, window_params = window.where(store, runs="r", extra=extra, extra_params=extra_params)
    aggregates = ", ".join(select) if select else "count(*) AS n"
    scope = f" JOIN runs r ON r.run_id = e.run_id{where}" if where else ""  # no filter: no join over every event
    sql = (f"SELECT {_RUN_COLUMNS}, a.* FROM (SELECT e.run_id AS event_run, {aggregates} FROM run_events e{scope}"
           " GROUP BY e.run_id) a JOIN runs r ON r.run_id = a.event_run")
    table = store.query_columns(sql, window_params)
    table = _reason(table)
    for column in ("skew_n", "skew_sum", "skew_min", "skew_max", "skew_neg"):
        if column not in table.column_names:
            table = table.append_column(column, pa.nulls(table.num_rows, pa.float64()))
    return TimingData.from_aggregates(table, names)


def _reason(table: pa.Table) -> pa.Table:
    """The text a stall reason is searched in: the run's reason and its metadata (an event
    file's error), as one ``reason`` column."""
    reason, metadata = (pc.fill_null(table[c].cast(pa.string()), "") for c in ("reason", "metadata"))
    return table.drop_columns(["reason", "metadata"]).append_column(
        "reason", pc.binary_join_element_wise(reason, metadata, " "))


def summary_data(store: Store, window: Window, config: TimingConfig) -> TimingData | None:
    """The runs of the window that have events, from the per-run summaries kept at ingest
    (``run_event_summary``: one row per run; ``run_phases``: one per run and phase of
    ``config``'s phases) — O(runs), not O(events). Phase rows missing for this config are
    written first when the store is writable; None when it has no such tables or is read-only
    and lacks rows (then :func:`timing_data` reads the events)."""
    from ..store.run_timing import ensure_phases, phases_fingerprint

    if not ensure_phases(store, config.phases):
        return None
    where, params = window.where(store, runs="r")
    runs = store.query_columns(
        f"SELECT {_RUN_COLUMNS}, s.events, s.worker AS ev_worker, s.device_group AS ev_device_group,"
        " s.requestor AS ev_requestor, s.skew_n, s.skew_sum, s.skew_min, s.skew_max, s.skew_neg, s.counts"
        f" FROM run_event_summary s JOIN runs r ON r.run_id = s.run_id{where}", params)
    config_clause = f"p.config = '{phases_fingerprint(config.phases)}'"  # hex digits: a safe literal
    scope = " JOIN runs r ON r.run_id = p.run_id" if where else ""  # no run filter: no join
    where, params = window.where(store, runs="r", extra=[config_clause]) if where else (f" WHERE {config_clause}", [])
    phases = store.query_columns(f"SELECT p.run_id, p.phase, p.start_at, p.end_at FROM run_phases p{scope}{where}", params)
    return TimingData.from_summaries(_reason(runs), config.phases, phases)


def _data(store: Store, window: Window, columns: tuple[str, ...], config: TimingConfig) -> TimingData:
    """The window's runs with events for the statistics: from the summaries when the store has
    them, else aggregated from the events (same numbers)."""
    data = summary_data(store, window, config)
    return data if data is not None else timing_data(store, window, columns, config=config)


def _label_sql(by: str) -> str:
    """A run's group as SQL, as :func:`ciscope.analysis.timing._groups` tells it: its job, or
    the worker (its events', else the run's) or device group its events name; "-" when none
    (an empty string is none)."""
    check_group_by(by)
    return {"job": "COALESCE(NULLIF(r.job, ''), '-')",
            "worker": "COALESCE(NULLIF(s.worker, ''), NULLIF(r.worker, ''), '-')",
            "device_group": "COALESCE(NULLIF(s.device_group, ''), '-')"}[by]


def engine_report(store: Store, window: Window, *, by: str, config: TimingConfig) -> TimingReport | None:
    """``ciscope timing``'s report aggregated **in the engine** from the per-run summaries: one
    query per (group, phase) — count, min, max, mean, std and quantiles of the measured
    durations, and the runs out of order, open or not started — and one per (group, event-count
    set, requestor) — runs, events, ongoing, queued, errors, failures, stalls told by the
    reason (the ``stall_reason`` regex run by the engine: RE2 on DuckDB, POSIX on PostgreSQL),
    failed tests, skew sums. A few hundred rows come back for a million runs. None when the
    store has no summaries for ``config`` (or no quantile aggregate): the caller reads per run."""
    label = _label_sql(by)
    try:
        quantiles = store.quantiles_sql("x.d", (0.5, 0.9, 0.99))
    except NotImplementedError:
        return None
    from ..store.run_timing import ensure_phases, phases_fingerprint

    if not ensure_phases(store, config.phases):
        return None
    fingerprint = phases_fingerprint(config.phases)  # hex digits: a safe literal
    where, params = window.where(store, runs="r", extra=[f"p.config = '{fingerprint}'"])
    summary = " JOIN run_event_summary s ON s.run_id = p.run_id" if "s." in label else ""
    start, end = store.seconds_sql("p.start_at"), store.seconds_sql("p.end_at")
    both = "p.start_at IS NOT NULL AND p.end_at IS NOT NULL"
    pending = rules.run_status_is("r.status", RunStatus.PENDING)
    rows = store.query(
        f"SELECT x.g, x.phase, count(*), count(x.d), min(x.d), max(x.d), avg(x.d), stddev_pop(x.d), {quantiles},"
        " sum(x.ooo), sum(x.open), sum(x.ns) FROM"
        f" (SELECT {label} AS g, p.phase, CASE WHEN {both} AND p.end_at >= p.start_at THEN {end} - {start} END AS d,"
        f" CASE WHEN {both} AND p.end_at < p.start_at THEN 1 ELSE 0 END AS ooo,"
        f" CASE WHEN {pending} AND p.start_at IS NOT NULL AND p.end_at IS NULL THEN 1 ELSE 0 END AS open,"
        f" CASE WHEN {pending} AND p.start_at IS NULL AND p.end_at IS NULL THEN 1 ELSE 0 END AS ns"
        f" FROM run_phases p JOIN runs r ON r.run_id = p.run_id{summary}{where}) x GROUP BY x.g, x.phase", params)
    phases = [PhaseAggregate(g, int(k), int(n), int(c), lo, hi, mean, std, list(q) if q is not None else None,
                             int(ooo), int(op), int(ns)) for g, k, n, c, lo, hi, mean, std, q, ooo, op, ns in rows]
    queue = next((k for k, p in enumerate(config.phases) if p.name == "queue"), None)
    queued, join = "0", ""
    if queue is not None:
        join = f" LEFT JOIN run_phases q ON q.run_id = s.run_id AND q.config = '{fingerprint}' AND q.phase = {queue}"
        queued = f"CASE WHEN {pending} AND q.start_at IS NOT NULL AND q.end_at IS NULL THEN 1 ELSE 0 END"
    where, params = window.where(store, runs="r")
    text = "COALESCE(r.reason, '') || ' ' || COALESCE(r.metadata, '')"
    rows = store.query(
        "SELECT x.g, x.counts, x.requestor, count(*), sum(x.events), sum(x.ongoing), sum(x.queued), sum(x.errored),"
        " sum(x.failed), sum(x.stall), sum(x.stall * x.failed_tests), sum(x.failed_tests), sum(x.skew_n),"
        " sum(x.skew_sum), min(x.skew_min), max(x.skew_max), sum(x.skew_neg) FROM"
        f" (SELECT {label} AS g, s.counts, NULLIF(s.requestor, '') AS requestor, s.events,"
        f" CASE WHEN {pending} THEN 1 ELSE 0 END AS ongoing, {queued} AS queued,"
        f" CASE WHEN {rules.run_status_is('r.status', RunStatus.ERROR)} THEN 1 ELSE 0 END AS errored,"
        f" CASE WHEN {rules.run_status_is('r.status', RunStatus.FAILURE)} THEN 1 ELSE 0 END AS failed,"
        f" CASE WHEN {store.regex_sql(text)} THEN 1 ELSE 0 END AS stall, COALESCE(r.failed_tests, 0) AS failed_tests,"
        " s.skew_n, s.skew_sum, s.skew_min, s.skew_max, s.skew_neg"
        f" FROM run_event_summary s JOIN runs r ON r.run_id = s.run_id{join}{where}) x"
        " GROUP BY x.g, x.counts, x.requestor", [config.stall_reason, *params])
    sets = [RunSetAggregate(g, counts, req, int(n), int(ev or 0), int(on), int(qu), int(er), int(fa), int(st), int(stt),
                            int(ft), int(sn or 0), sk, lo, hi, int(neg or 0))
            for g, counts, req, n, ev, on, qu, er, fa, st, stt, ft, sn, sk, lo, hi, neg in rows]
    return report_from_aggregates(phases, sets, by=by, config=config, now=timing_now(store, window))


def timing_stats(store: Store, window: Window, *, by: str = "job", config: TimingConfig | None = None) -> TimingReport:
    """``ciscope timing``: phase statistics per group — aggregated by the engine from the
    per-run summaries (:func:`engine_report`), else per run from the events."""
    config = config or TimingConfig()
    report = engine_report(store, window, by=by, config=config)
    if report is not None:
        return report
    data = _data(store, window, _needs(by, "received_at", "requestor"), config)
    return timing_report(data, by=by, config=config, now=timing_now(store, window))


def _threshold_window(store: Store, window: Window, config: TimingConfig) -> Window:
    """The rule's ``days`` before now, unless the window says otherwise."""
    if window.days is not None or window.since is not None:
        return window
    return window.replace(days=config.rule.days)


def timing_thresholds(store: Store, window: Window, *, by: str = "job", config: TimingConfig | None = None) -> ThresholdReport:
    """``ciscope timing thresholds``: a stall threshold per group and phase."""
    config = config or TimingConfig()
    data = _data(store, _threshold_window(store, window, config), _needs(by), config)
    return thresholds(data, by=by, config=config, now=timing_now(store, window))


def timing_outliers(store: Store, window: Window, *, by: str = "job", config: TimingConfig | None = None) -> OutlierReport:
    """``ciscope timing outliers``: runs (finished or running) and workers over the thresholds."""
    config = config or TimingConfig()
    now = timing_now(store, window)
    limits = thresholds(_data(store, _threshold_window(store, window, config), _needs(by), config), by=by,
                        config=config, now=now)
    return outliers(_data(store, window, _needs(by, "worker"), config), by=by, config=config, now=now,
                    limits=limits)


@dataclass(slots=True)
class ChartRun:
    """One bar of the stacked chart: a run and its phase durations (seconds, None when unmeasured)."""

    label: str
    started: datetime | None
    phases: dict[str, float | None]


def chart_runs(store: Store, window: Window, *, config: TimingConfig | None = None) -> list[ChartRun]:
    """The phases of every run of the window with events, oldest first (the chart draws the
    newest for the bars and all of them for the trends)."""
    from ..analysis.timing import phase_table

    config = config or TimingConfig()
    data = _data(store, window, (), config)
    if not data.runs:
        return []
    durations = phase_table(data, config.phases).duration
    order = sorted(range(data.runs), key=lambda i: (data.started[i], data.build[i].as_py() or ""))
    out = []
    epoch = datetime(1970, 1, 1)
    for i in order:  # one bar per run: the chart's own rows
        started = None if data.started[i] != data.started[i] else epoch + timedelta(seconds=float(data.started[i]))
        out.append(ChartRun(f"{data.job.at(i)} #{data.build[i].as_py()}", started,
                            {p.name: (None if durations[k, i] != durations[k, i] else float(durations[k, i]))
                             for k, p in enumerate(config.phases)}))
    return out
