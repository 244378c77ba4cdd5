"""Where the time of runs goes: phases, their statistics, stall thresholds and outliers.

Pure computation over arrays (no database): :class:`TimingData` holds one row per run and one
per lifecycle event; everything is computed with NumPy over whole columns — never a Python loop
per run or event (only per group, per phase and per event name).

- A **phase** is a pair of events (:class:`Phase`): its start is the *first* occurrence of the
  first start event the run has (alternatives in order), its end the *last* occurrence of the
  first end event it has — so ``provision`` includes every flash retry. A finished run without
  the start or the end is counted ``missing``; an end before the start ``out_of_order``; an
  unfinished run with a start and no end is ``open``. None of them is given a duration.
- **skew** = received − emitted, per event that has both.
- **thresholds** (:class:`ThresholdRule`): per group and phase, ``quantile × factor`` of the
  durations of runs started in the ``days`` before now, when at least ``min_samples`` exist;
  else the phase's threshold over all groups (``basis: "all"``), else none (``"insufficient"``).
- **outliers**: finished phases longer than their threshold, and open phases of unfinished runs
  whose elapsed time (now − start) already is.
- A run is **stopped for slowness** when it has a stall event (``stall``, ``timeout``,
  ``stopped_slow`` by default) or its reason says so (openQA's ``timeout: … exceeded
  MAX_JOB_TIME``, ``too slow``, ``stall detected`` …).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import UsageError
from ..model import Run

__all__ = [
    "DEFAULT_PHASES",
    "GROUP_BY",
    "GroupSummary",
    "Iteration",
    "Outlier",
    "OutlierReport",
    "Phase",
    "PhaseStats",
    "Requestor",
    "RunPhases",
    "Skew",
    "Threshold",
    "ThresholdReport",
    "ThresholdRule",
    "TimingConfig",
    "TimingData",
    "TimingReport",
    "WorkerOutliers",
    "outliers",
    "phase_table",
    "thresholds",
    "timing_report",
]

GROUP_BY = ("job", "worker", "device_group")
_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class Phase:
    """A phase from its start event to its end event (alternatives tried in order)."""

    name: str
    start: tuple[str, ...]
    end: tuple[str, ...]


DEFAULT_PHASES: tuple[Phase, ...] = (
    Phase("queue", ("queued", "requested"), ("pulled", "pod_scheduled")),
    Phase("provision", ("flash_start",), ("flash_end",)),
    Phase("boot", ("boot_start",), ("boot_end",)),
    Phase("test", ("test_start",), ("test_end",)),
    Phase("publish", ("test_end",), ("results_reported",)),
    Phase("total", ("requested", "queued"), ("results_reported",)),
)


@dataclass(frozen=True, slots=True)
class ThresholdRule:
    """Stall threshold = ``quantile`` of the durations × ``factor``, over ``days`` before now,
    resting on at least ``min_samples`` durations."""

    quantile: float = 0.99
    factor: float = 1.5
    days: float = 30.0
    min_samples: int = 20


@dataclass(frozen=True, slots=True)
class TimingConfig:
    phases: tuple[Phase, ...] = DEFAULT_PHASES
    rule: ThresholdRule = field(default_factory=ThresholdRule)
    stall_events: tuple[str, ...] = ("stall", "timeout", "stopped_slow")
    #: run-level reasons only (openQA's), not a test's "timed out": that is a test failure
    stall_reason: str = r"(?i)(timeout: (test execution|setup) exceeded|MAX_JOB_TIME|MAX_SETUP_TIME|stopped for slowness|too slow|stall detected)"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "config") -> TimingConfig:
        """From the ``timing:`` section of a config file::

            phases: {queue: [queued, pulled], provision: [[flash_start], [flash_end]], ...}
            thresholds: {quantile: 0.99, factor: 1.5, days: 30, min_samples: 20}
            stall_events: [stall, timeout]
            stall_reason: "timeout|stall"
        """
        phases = DEFAULT_PHASES
        if "phases" in data:
            raw = data["phases"]
            if not isinstance(raw, Mapping) or not raw:
                raise UsageError(f"{source}: timing.phases: expected a mapping of phase name to [start, end]")
            built = []
            for name, pair in raw.items():
                if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
                    raise UsageError(f"{source}: timing.phases.{name}: expected [start event, end event]")
                start, end = ((p,) if isinstance(p, str) else tuple(str(x) for x in p) for p in pair)
                if not start or not end:
                    raise UsageError(f"{source}: timing.phases.{name}: empty start or end")
                built.append(Phase(str(name), start, end))
            phases = tuple(built)
        rule = ThresholdRule()
        if "thresholds" in data:
            raw_rule = data["thresholds"]
            if not isinstance(raw_rule, Mapping):
                raise UsageError(f"{source}: timing.thresholds: expected a mapping (quantile, factor, days, min_samples)")
            unknown = set(raw_rule) - {"quantile", "factor", "days", "min_samples"}
            if unknown:
                raise UsageError(f"{source}: timing.thresholds: unknown key(s) {sorted(unknown)}; "
                                 "expected quantile, factor, days, min_samples")
            try:
                rule = ThresholdRule(quantile=float(raw_rule.get("quantile", rule.quantile)),
                                     factor=float(raw_rule.get("factor", rule.factor)),
                                     days=float(raw_rule.get("days", rule.days)),
                                     min_samples=int(raw_rule.get("min_samples", rule.min_samples)))
            except (TypeError, ValueError) as exc:
                raise UsageError(f"{source}: timing.thresholds: {exc}") from None
            if not 0 < rule.quantile <= 1 or rule.factor <= 0 or rule.days <= 0 or rule.min_samples < 1:
                raise UsageError(f"{source}: timing.thresholds: expected 0 < quantile ≤ 1, factor > 0, days > 0, min_samples ≥ 1")
        default = cls()
        stall_events = tuple(str(e) for e in data.get("stall_events", default.stall_events))
        stall_reason = str(data.get("stall_reason", default.stall_reason))
        try:
            re.compile(stall_reason)
            import pyarrow.compute as pc

            pc.match_substring_regex(pa.array([""]), stall_reason)  # the engine that searches (RE2)
        except (re.error, pa.ArrowInvalid) as exc:
            raise UsageError(f"{source}: timing.stall_reason: not a regular expression ({exc})") from None
        return cls(phases=phases, rule=rule, stall_events=stall_events, stall_reason=stall_reason)


# -- input ----------------------------------------------------------------------------------

def _seconds(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Timestamps as float epoch seconds (NaN for null)."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    arr = arr.cast(pa.timestamp("us"))
    out = arr.cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.float64) / 1e6
    if arr.null_count:
        out[~np.asarray(arr.is_valid())] = np.nan
    return out


def _objects(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=object)


@dataclass(slots=True)
class TimingData:
    """Runs (one row each) and their lifecycle events (``ev_run`` = the run's row index)."""

    run_id: np.ndarray
    job: np.ndarray
    build: np.ndarray
    status: np.ndarray
    started: np.ndarray  # epoch seconds
    run_worker: np.ndarray
    reason: np.ndarray  # reason text or None
    ev_run: np.ndarray
    ev_name: np.ndarray
    emitted: np.ndarray
    received: np.ndarray
    worker: np.ndarray
    device_group: np.ndarray
    requestor: np.ndarray
    iteration: np.ndarray

    @property
    def runs(self) -> int:
        return len(self.run_id)

    @classmethod
    def from_arrow(cls, runs: pa.Table, events: pa.Table) -> TimingData:
        """``runs``: run_id, job, build, status, started_at, worker, reason; ``events``: run_id,
        event, emitted_at, received_at, worker, device_group, requestor, iteration. Events of
        runs not in ``runs`` are dropped."""
        import pyarrow.compute as pc

        rid = runs["run_id"].combine_chunks()
        where = pc.index_in(events["run_id"], value_set=rid)
        keep = pc.is_valid(where)
        if pc.sum(pc.invert(keep)).as_py():
            events = events.filter(keep)
            where = where.filter(keep)
        return cls(
            run_id=rid.to_numpy(zero_copy_only=False),
            job=_objects(runs["job"]), build=_objects(runs["build"]), status=_objects(runs["status"]),
            started=_seconds(runs["started_at"]), run_worker=_objects(runs["worker"]), reason=_objects(runs["reason"]),
            ev_run=np.asarray(where.to_numpy(zero_copy_only=False), dtype=np.int64),
            ev_name=_objects(events["event"]), emitted=_seconds(events["emitted_at"]),
            received=_seconds(events["received_at"]), worker=_objects(events["worker"]),
            device_group=_objects(events["device_group"]), requestor=_objects(events["requestor"]),
            iteration=np.asarray(events["iteration"].to_numpy(zero_copy_only=False), dtype=np.int64),
        )

    @classmethod
    def from_runs(cls, runs: Sequence[Run]) -> TimingData:
        """From records (tests, files not stored)."""
        from ..store.base import _json, _utc_naive, events_table

        table = pa.table({
            "run_id": pa.array([r.run_id for r in runs], pa.int64()),
            "job": pa.array([r.job for r in runs], pa.string()),
            "build": pa.array([r.build for r in runs], pa.string()),
            "status": pa.array([r.status.value for r in runs], pa.string()),
            "started_at": pa.array([_utc_naive(r.started_at) for r in runs], pa.timestamp("us")),
            "worker": pa.array([r.worker for r in runs], pa.string()),
            "reason": pa.array([_json(r.metadata["error"]) if "error" in r.metadata else None for r in runs], pa.string()),
        })
        return cls.from_arrow(table, events_table((r.run_id, r.events) for r in runs))


# -- phases ---------------------------------------------------------------------------------

@dataclass(slots=True)
class RunPhases:
    """Per phase, per run: start and end (epoch seconds, NaN when absent) and the state code
    (0 measured, 1 missing, 2 out of order, 3 open, 4 not started: an unfinished run)."""

    phases: tuple[Phase, ...]
    start: np.ndarray  # (phases, runs)
    end: np.ndarray
    state: np.ndarray

    @property
    def duration(self) -> np.ndarray:
        d = self.end - self.start
        return np.where(self.state == 0, d, np.nan)


MEASURED, MISSING, OUT_OF_ORDER, OPEN, NOT_STARTED = 0, 1, 2, 3, 4


def _occurrences(data: TimingData) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Per event name: (runs having it, first time, last time, count), from one sort."""
    if not len(data.ev_run):
        return {}
    names, codes = np.unique(data.ev_name.astype(str), return_inverse=True)
    order = np.lexsort((data.emitted, data.ev_run, codes))
    c, r, t = codes[order], data.ev_run[order], data.emitted[order]
    key_change = np.flatnonzero((np.diff(c) != 0) | (np.diff(r) != 0)) + 1
    starts = np.concatenate(([0], key_change))
    ends = np.concatenate((key_change, [len(c)]))
    out = {}
    name_bounds = np.searchsorted(c[starts], np.arange(len(names) + 1))
    for i, name in enumerate(names):
        s = starts[name_bounds[i]:name_bounds[i + 1]]
        e = ends[name_bounds[i]:name_bounds[i + 1]]
        out[str(name)] = (r[s], t[s], t[e - 1], e - s)
    return out


def _unfinished(data: TimingData) -> np.ndarray:
    return data.status == "pending"


def phase_table(data: TimingData, phases: Sequence[Phase] = DEFAULT_PHASES,
                occurrences: Mapping[str, tuple[np.ndarray, ...]] | None = None) -> RunPhases:
    """Start, end and state of every phase of every run."""
    occ = _occurrences(data) if occurrences is None else occurrences
    n = data.runs
    start = np.full((len(phases), n), np.nan)
    end = np.full((len(phases), n), np.nan)
    for i, phase in enumerate(phases):
        for name in phase.start:  # first alternative the run has
            if name in occ:
                runs, first, _last, _count = occ[name]
                free = np.isnan(start[i, runs])
                start[i, runs[free]] = first[free]
        for name in phase.end:
            if name in occ:
                runs, _first, last, _count = occ[name]
                free = np.isnan(end[i, runs])
                end[i, runs[free]] = last[free]
    has_s, has_e = ~np.isnan(start), ~np.isnan(end)
    unfinished = _unfinished(data)[None, :]
    state = np.full(start.shape, MISSING, dtype=np.int8)
    state[has_s & has_e & (end >= start)] = MEASURED
    state[has_s & has_e & (end < start)] = OUT_OF_ORDER
    state[unfinished & has_s & ~has_e] = OPEN
    state[unfinished & ~has_s & ~has_e] = NOT_STARTED
    return RunPhases(tuple(phases), start, end, state)


# -- results --------------------------------------------------------------------------------

def _r(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 3)


@dataclass(slots=True)
class PhaseStats:
    """Durations (seconds) of one phase in one group; ``missing``, ``out_of_order`` and ``open``
    runs are counted, never given a duration."""

    group: str
    phase: str
    count: int
    min: float | None
    max: float | None
    mean: float | None
    std: float | None  # population standard deviation
    p50: float | None
    p90: float | None
    p99: float | None
    missing: int = 0
    out_of_order: int = 0
    open: int = 0


@dataclass(slots=True)
class Requestor:
    name: str
    requests: int


@dataclass(slots=True)
class Iteration:
    """How often an event occurs in the runs that have it: ``repeated`` runs had it more than once."""

    event: str
    runs: int
    repeated: int
    max: int
    mean: float


@dataclass(slots=True)
class Skew:
    """received − emitted (seconds) over events with both; ``negative``: received before emitted."""

    count: int
    min: float | None
    max: float | None
    mean: float | None
    p99: float | None
    negative: int


@dataclass(slots=True)
class GroupSummary:
    group: str
    runs: int
    ongoing: int
    queued: int
    errored: int  # runs ending in error (status error)
    failed: int  # runs ending in failure
    error_share: float | None  # errored / finished runs
    stalled: int  # runs stopped for slowness
    requestors: list[Requestor]
    iterations: list[Iteration]
    skew: Skew | None


@dataclass(slots=True)
class TimingReport:
    by: str
    now: datetime | None
    runs: int
    events: int
    phases: list[PhaseStats]
    groups: list[GroupSummary]
    skew: Skew | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _group_keys(data: TimingData, by: str) -> np.ndarray:
    """The group of each run: its job, or the worker / device group of its first event that
    names one (else the run's worker); "-" when unknown."""
    if by not in GROUP_BY:
        raise UsageError(f"--by {by!r}: expected one of {', '.join(GROUP_BY)}")
    if by == "job":
        keys = data.job.copy()
    else:
        column = data.worker if by == "worker" else data.device_group
        keys = _first_per_run(data, column)
        if by == "worker":
            fill = np.array([k is None for k in keys], dtype=bool)
            keys[fill] = data.run_worker[fill]
    keys = np.where(np.array([k is None or k == "" for k in keys], dtype=bool), "-", keys)
    return keys.astype(str)


def _first_per_run(data: TimingData, column: np.ndarray) -> np.ndarray:
    """Per run: the value of ``column`` on its earliest event where it is set (None if never)."""
    out = np.full(data.runs, None, dtype=object)
    present = np.flatnonzero(np.array([v is not None and v != "" for v in column], dtype=bool))
    if len(present):
        order = present[np.lexsort((data.emitted[present], data.ev_run[present]))]
        runs, first = np.unique(data.ev_run[order], return_index=True)
        out[runs] = column[order[first]]
    return out


def _stats(values: np.ndarray) -> tuple[Any, ...]:
    if not len(values):
        return (0, None, None, None, None, None, None, None)
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return (len(values), _r(values.min()), _r(values.max()), _r(values.mean()), _r(values.std()),
            _r(p50), _r(p90), _r(p99))


def _skew(data: TimingData, mask: np.ndarray | None = None) -> Skew | None:
    s = data.received - data.emitted
    ok = ~np.isnan(s) if mask is None else (~np.isnan(s) & mask)
    v = s[ok]
    if not len(v):
        return None
    return Skew(count=len(v), min=_r(v.min()), max=_r(v.max()), mean=_r(v.mean()),
                p99=_r(np.percentile(v, 99)), negative=int((v < 0).sum()))


def stalled_runs(data: TimingData, config: TimingConfig) -> np.ndarray:
    """Boolean per run: stopped for slowness (a stall event, or a reason that says so)."""
    out = np.zeros(data.runs, dtype=bool)
    if len(data.ev_name):
        hit = np.isin(data.ev_name.astype(str), list(config.stall_events))
        out[data.ev_run[hit]] = True
    if data.runs:
        import pyarrow.compute as pc

        texts = pc.fill_null(pa.array(data.reason, pa.string()), "")
        out |= np.asarray(pc.match_substring_regex(texts, config.stall_reason).to_numpy(zero_copy_only=False), dtype=bool)
    return out


def timing_report(data: TimingData, *, by: str = "job", config: TimingConfig | None = None,
                  now: datetime | None = None) -> TimingReport:
    """Phase statistics per group and phase, and per group: requestors, ongoing and queued
    runs, errors, stalls, iterations and skew."""
    config = config or TimingConfig()
    keys = _group_keys(data, by)
    groups, gidx = np.unique(keys, return_inverse=True) if data.runs else (np.array([], dtype=str), np.array([], dtype=np.int64))
    occ = _occurrences(data)
    table = phase_table(data, config.phases, occ)
    durations = table.duration
    rows: list[PhaseStats] = []
    for g, group in enumerate(groups):
        in_group = gidx == g
        for p, phase in enumerate(config.phases):
            state = table.state[p, in_group]
            values = durations[p, in_group]
            rows.append(PhaseStats(str(group), phase.name, *_stats(values[~np.isnan(values)]),
                                   missing=int((state == MISSING).sum()), out_of_order=int((state == OUT_OF_ORDER).sum()),
                                   open=int((state == OPEN).sum())))
    unfinished = _unfinished(data)
    queue = next((i for i, ph in enumerate(config.phases) if ph.name == "queue"), None)
    queued = np.zeros(data.runs, dtype=bool)
    if queue is not None:
        queued = unfinished & (table.state[queue] == OPEN)
    stalled = stalled_runs(data, config)
    requestor = _first_per_run(data, data.requestor)
    ev_group = gidx[data.ev_run] if len(data.ev_run) else np.array([], dtype=np.int64)
    summaries = []
    for g, group in enumerate(groups):
        in_group = gidx == g
        status = data.status[in_group]
        finished = int((status != "pending").sum())
        errored = int((status == "error").sum())
        names, counts = np.unique(np.array([r for r in requestor[in_group] if r], dtype=str), return_counts=True)
        order = np.lexsort((names, -counts))
        iterations = []
        for name, (runs, _f, _l, count) in occ.items():
            c = count[in_group[runs]]
            if len(c):
                iterations.append(Iteration(name, len(c), int((c > 1).sum()), int(c.max()), round(float(c.mean()), 3)))
        summaries.append(GroupSummary(
            group=str(group), runs=int(in_group.sum()), ongoing=int(unfinished[in_group].sum()),
            queued=int(queued[in_group].sum()), errored=errored, failed=int((status == "failure").sum()),
            error_share=round(errored / finished, 4) if finished else None, stalled=int(stalled[in_group].sum()),
            requestors=[Requestor(str(names[i]), int(counts[i])) for i in order],
            iterations=sorted(iterations, key=lambda it: it.event), skew=_skew(data, ev_group == g),
        ))
    return TimingReport(by=by, now=now, runs=data.runs, events=len(data.ev_run), phases=rows,
                        groups=summaries, skew=_skew(data))


# -- thresholds and outliers -----------------------------------------------------------------

@dataclass(slots=True)
class Threshold:
    """A phase's stall threshold in a group (seconds), and the ``samples`` it rests on.
    ``basis``: ``group`` (its own durations), ``all`` (too few: the phase over all groups),
    ``insufficient`` (too few anywhere: no threshold)."""

    group: str
    phase: str
    threshold: float | None
    samples: int
    basis: str
    quantile_value: float | None


@dataclass(slots=True)
class ThresholdReport:
    by: str
    now: datetime | None
    rule: ThresholdRule
    thresholds: list[Threshold]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lookup(self) -> dict[tuple[str, str], float]:
        return {(t.group, t.phase): t.threshold for t in self.thresholds if t.threshold is not None}


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return (value - _EPOCH).total_seconds()


def thresholds(data: TimingData, *, by: str = "job", config: TimingConfig | None = None,
               now: datetime | None = None) -> ThresholdReport:
    """Stall thresholds per group and phase from the durations of runs started in the rule's
    ``days`` before ``now`` (default: the newest run's start)."""
    config = config or TimingConfig()
    rule = config.rule
    keys = _group_keys(data, by)
    table = phase_table(data, config.phases)
    end = _epoch(now)
    if end is None:
        end = float(np.nanmax(data.started)) if data.runs and not np.all(np.isnan(data.started)) else 0.0
    recent = (data.started >= end - rule.days * 86400) & (data.started <= end)
    durations = np.where(recent[None, :], table.duration, np.nan)
    groups = np.unique(keys) if data.runs else np.array([], dtype=str)
    out = []
    for p, phase in enumerate(config.phases):
        every = durations[p][~np.isnan(durations[p])]
        overall = float(np.quantile(every, rule.quantile)) if len(every) >= rule.min_samples else None
        for group in groups:
            v = durations[p, keys == group]
            v = v[~np.isnan(v)]
            if len(v) >= rule.min_samples:
                q = float(np.quantile(v, rule.quantile))
                out.append(Threshold(str(group), phase.name, _r(q * rule.factor), len(v), "group", _r(q)))
            elif overall is not None:
                out.append(Threshold(str(group), phase.name, _r(overall * rule.factor), len(every), "all", _r(overall)))
            else:
                out.append(Threshold(str(group), phase.name, None, len(v), "insufficient", None))
    return ThresholdReport(by=by, now=now, rule=rule, thresholds=out)


@dataclass(slots=True)
class Outlier:
    """A phase over its threshold: ``finished`` (its duration) or ``running`` (elapsed so far)."""

    run_id: int
    job: str
    build: str
    group: str
    worker: str | None
    phase: str
    state: str
    seconds: float
    threshold: float
    ratio: float
    stalled: bool


@dataclass(slots=True)
class WorkerOutliers:
    """A worker's runs, how many had a phase over its threshold, and how many were stopped for slowness."""

    worker: str
    runs: int
    outlier_runs: int
    share: float
    stalled: int


@dataclass(slots=True)
class OutlierReport:
    by: str
    now: datetime | None
    outliers: list[Outlier]
    workers: list[WorkerOutliers]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def outliers(data: TimingData, *, by: str = "job", config: TimingConfig | None = None,
             now: datetime | None = None, limits: ThresholdReport | None = None) -> OutlierReport:
    """Finished and still-running runs over their thresholds, and the workers they ran on."""
    config = config or TimingConfig()
    limits = limits or thresholds(data, by=by, config=config, now=now)
    lookup = limits.lookup()
    keys = _group_keys(data, by)
    table = phase_table(data, config.phases)
    at = _epoch(now)
    if at is None:
        at = float(np.nanmax(np.concatenate([data.started, data.emitted]))) if data.runs else 0.0
    stalled = stalled_runs(data, config)
    workers = _group_keys(data, "worker")
    found: list[Outlier] = []
    over_any = np.zeros(data.runs, dtype=bool)
    for p, phase in enumerate(config.phases):
        limit = np.array([lookup.get((k, phase.name), np.nan) for k in np.unique(keys)]) if data.runs else np.array([])
        per_run = limit[np.searchsorted(np.unique(keys), keys)] if data.runs else np.array([])
        measured = table.state[p] == MEASURED
        running = table.state[p] == OPEN
        seconds = np.where(measured, table.end[p] - table.start[p], np.where(running, at - table.start[p], np.nan))
        hit = np.flatnonzero(~np.isnan(per_run) & ~np.isnan(seconds) & (seconds > per_run))
        over_any[hit] = True
        for i in hit:  # only the outliers themselves
            found.append(Outlier(int(data.run_id[i]), str(data.job[i]), str(data.build[i]), str(keys[i]),
                                 None if workers[i] == "-" else str(workers[i]), phase.name,
                                 "finished" if measured[i] else "running", _r(seconds[i]) or 0.0,
                                 float(per_run[i]), round(float(seconds[i] / per_run[i]), 3), bool(stalled[i])))
    found.sort(key=lambda o: (-o.ratio, o.job, o.build, o.phase))
    names, inverse = np.unique(workers, return_inverse=True) if data.runs else (np.array([]), np.array([], dtype=int))
    runs_per = np.bincount(inverse, minlength=len(names))
    over_per = np.bincount(inverse, weights=over_any, minlength=len(names)).astype(int)
    stalled_per = np.bincount(inverse, weights=stalled, minlength=len(names)).astype(int)
    rows = [WorkerOutliers(str(names[i]), int(runs_per[i]), int(over_per[i]), round(float(over_per[i] / runs_per[i]), 4),
                           int(stalled_per[i]))
            for i in range(len(names)) if over_per[i] or stalled_per[i]]
    rows.sort(key=lambda w: (-w.share, -w.outlier_runs, w.worker))
    return OutlierReport(by=by, now=now, outliers=found, workers=rows)


def iter_durations(data: TimingData, phases: Iterable[Phase]) -> np.ndarray:
    """Durations (phases × runs), NaN where not measured: for charts."""
    return phase_table(data, tuple(phases)).duration
