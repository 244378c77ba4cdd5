"""Reads for ``ciscope timing``: the runs of a window that have lifecycle events, and their
events — only the columns the statistics need, as Arrow tables, in two queries.

Also the timing/retrigger config file (``--config FILE`` / ``CISCOPE_CONFIG``): YAML or JSON
with a ``timing:`` section (phases, thresholds, stall rules — see
:meth:`ciscope.analysis.timing.TimingConfig.from_mapping`) and a ``retrigger:`` section
(see :mod:`ciscope.analysis.retrigger`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..analysis.timing import (
    OutlierReport,
    ThresholdReport,
    TimingConfig,
    TimingData,
    TimingReport,
    outliers,
    thresholds,
    timing_report,
)
from ..errors import InputError
from ..store.base import Store
from .window import Window, naive_utc
from .window import now as store_now

__all__ = [
    "ChartRun",
    "chart_runs",
    "load_config",
    "timing_config",
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


_RUN_COLUMNS = "r.run_id, r.job, r.build, r.status, r.started_at, r.worker, r.reason, r.metadata"
_OPTIONAL = ("received_at", "worker", "device_group", "requestor")


def _needs(by: str, *extra: str) -> tuple[str, ...]:
    return tuple(c for c in _OPTIONAL if c in extra or c == by)


def timing_data(store: Store, window: Window, columns: tuple[str, ...] = _OPTIONAL) -> TimingData:
    """Runs of the window that have events, and their events: run_id, event, emitted_at and
    only the optional ``columns`` a report needs (received_at, worker, device_group, requestor)."""
    has_events = "EXISTS (SELECT 1 FROM run_events x WHERE x.run_id = r.run_id)"
    where, params = window.where(store, runs="r", extra=[has_events])
    runs = store.query_arrow(f"SELECT {_RUN_COLUMNS} FROM runs r{where}", params)
    where_e, params_e = window.where(store, runs="r")
    wanted = ", ".join(["e.run_id", "e.event", "e.emitted_at", *(f"e.{c}" for c in columns if c in _OPTIONAL)])
    events = store.query_arrow(f"SELECT {wanted} FROM run_events e JOIN runs r ON r.run_id = e.run_id{where_e}", params_e)
    # the text a stall reason is searched in: the run's reason and its metadata (an event file's error)
    reason, metadata = (pc.fill_null(runs[c].cast(pa.string()), "") for c in ("reason", "metadata"))
    text = pc.binary_join_element_wise(reason, metadata, " ")
    runs = runs.drop_columns(["reason", "metadata"]).append_column("reason", text)
    return TimingData.from_arrow(runs, events)


def timing_stats(store: Store, window: Window, *, by: str = "job", config: TimingConfig | None = None) -> TimingReport:
    """``ciscope timing``: phase statistics per group."""
    data = timing_data(store, window, _needs(by, "received_at", "requestor"))
    return timing_report(data, by=by, config=config, now=timing_now(store, window))


def _threshold_window(store: Store, window: Window, config: TimingConfig) -> Window:
    """The rule's ``days`` before now, unless the window says otherwise."""
    if window.days is not None or window.since is not None:
        return window
    return window.replace(days=config.rule.days)


def timing_thresholds(store: Store, window: Window, *, by: str = "job", config: TimingConfig | None = None) -> ThresholdReport:
    """``ciscope timing thresholds``: a stall threshold per group and phase."""
    config = config or TimingConfig()
    data = timing_data(store, _threshold_window(store, window, config), _needs(by))
    return thresholds(data, by=by, config=config, now=timing_now(store, window))


def timing_outliers(store: Store, window: Window, *, by: str = "job", config: TimingConfig | None = None) -> OutlierReport:
    """``ciscope timing outliers``: runs (finished or running) and workers over the thresholds."""
    config = config or TimingConfig()
    now = timing_now(store, window)
    limits = thresholds(timing_data(store, _threshold_window(store, window, config), _needs(by)), by=by, config=config,
                        now=now)
    return outliers(timing_data(store, window, _needs(by, "worker")), by=by, config=config, now=now, limits=limits)


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
    data = timing_data(store, window, ())
    if not data.runs:
        return []
    durations = phase_table(data, config.phases).duration
    order = sorted(range(data.runs), key=lambda i: (data.started[i], data.build.at(i) or ""))
    out = []
    epoch = datetime(1970, 1, 1)
    for i in order:  # one bar per run: the chart's own rows
        started = None if data.started[i] != data.started[i] else epoch + timedelta(seconds=float(data.started[i]))
        out.append(ChartRun(f"{data.job.at(i)} #{data.build.at(i)}", started,
                            {p.name: (None if durations[k, i] != durations[k, i] else float(durations[k, i]))
                             for k, p in enumerate(config.phases)}))
    return out
