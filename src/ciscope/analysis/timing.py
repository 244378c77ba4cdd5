"""Where the time of runs goes: phases, their statistics, stall thresholds and outliers.

Pure computation over arrays (no database): :class:`TimingData` holds one row per run with
its events aggregated (first/last time and count per event name — by the engine's query, or
from raw events with ``ufunc.at``); everything is computed with NumPy over whole columns —
never a Python loop per run or event (only per group, per phase and per event name).

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
from ..status import FAILED_STATUSES, RunStatus, Status

__all__ = [
    "DEFAULT_PHASES",
    "GROUP_BY",
    "check_group_by",
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
    "PhaseAggregate",
    "RunSetAggregate",
    "parse_counts",
    "report_from_aggregates",
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
    out: np.ndarray = arr.cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.float64) / 1e6
    if arr.null_count:
        out[~np.asarray(arr.is_valid())] = np.nan
    return out


@dataclass(slots=True)
class Cat:
    """A string column as codes into its distinct values (Arrow's dictionary encoding, in C++):
    compared and grouped as integers, never as one Python string per row. Code -1 = null."""

    codes: np.ndarray
    values: np.ndarray

    @classmethod
    def of(cls, column: pa.ChunkedArray | pa.Array | None, length: int = 0) -> Cat:
        if column is None:
            return cls(np.full(length, -1, dtype=np.int32), np.array([], dtype=object))
        import pyarrow.compute as pc

        arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        if not pa.types.is_string(arr.type):
            arr = arr.cast(pa.string())
        encoded = pc.dictionary_encode(arr)
        codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
        values = np.array(encoded.dictionary.to_pylist(), dtype=object)
        empty = np.flatnonzero(values == "")  # an empty string is no value
        if len(empty):
            codes = np.where(np.isin(codes, empty), -1, codes).astype(np.int32)
        return cls(codes, values)

    def eq(self, value: str) -> np.ndarray:
        hit = np.flatnonzero(self.values == value)
        return self.codes == hit[0] if len(hit) else np.zeros(len(self.codes), dtype=bool)

    def isin(self, values: Iterable[str]) -> np.ndarray:
        hit = np.flatnonzero(np.isin(self.values, list(values)))
        return np.isin(self.codes, hit)

    def at(self, i: int | np.integer[Any]) -> str | None:
        c = self.codes[i]
        return None if c < 0 else str(self.values[c])


@dataclass(slots=True)
class Occurrences:
    """Per event name (``names``: name → row) and run: the first and last emitted time (NaN
    when the run has none) and how many times it occurs."""

    names: dict[str, int]
    first: np.ndarray  # (names, runs)
    last: np.ndarray
    count: np.ndarray


def parse_counts(text: str | None) -> dict[str, int]:
    """A run's count per event name from ``run_event_summary.counts`` (``name`` US ``count``,
    items separated by RS, as :mod:`ciscope.store.run_timing` writes it)."""
    if not text:
        return {}
    return {name: int(c) for name, _, c in (item.rpartition("\x1f") for item in text.split("\x1e"))}


@dataclass(slots=True)
class TimingData:
    """Runs (one row each) with what the statistics need of their lifecycle events, per run:
    first/last time and count of each event name (:class:`Occurrences`), the worker, device
    group and requestor the events name (the smallest when several), and the emit→receive
    skew's count, sum, min, max and negatives. Built from raw events (:meth:`from_arrow`) or
    from the per-run aggregates a store query computes (:meth:`from_aggregates`)."""

    run_id: np.ndarray
    job: Cat
    build: pa.Array  # one distinct value a run: kept as Arrow strings, read only for the rows shown
    status: Cat
    started: np.ndarray  # epoch seconds
    run_worker: Cat
    reason: pa.Array  # reason text per run (searched with the stall regex)
    failed_tests: np.ndarray  # per run (0 when unknown)
    occ: Occurrences
    worker: Cat
    device_group: Cat
    requestor: Cat
    skew_count: np.ndarray
    skew_sum: np.ndarray
    skew_min: np.ndarray
    skew_max: np.ndarray
    skew_negative: np.ndarray
    events: int = 0
    #: phase start and end per run, (phases, runs) each, when read from the stored per-run
    #: phase rows (``run_phases``) instead of derived from ``occ`` (whose times are then NaN)
    phase_times: tuple[tuple[Phase, ...], np.ndarray, np.ndarray] | None = None

    @property
    def runs(self) -> int:
        return len(self.run_id)

    @staticmethod
    def _run_columns(runs: pa.Table) -> dict[str, Any]:
        import pyarrow.compute as pc

        reason = runs["reason"].combine_chunks() if "reason" in runs.column_names else pa.nulls(runs.num_rows, pa.string())
        return {"run_id": runs["run_id"].combine_chunks().cast(pa.int64()).to_numpy(zero_copy_only=False),
                "job": Cat.of(runs["job"]), "build": runs["build"].combine_chunks().cast(pa.string()), "status": Cat.of(runs["status"]),
                "started": _seconds(runs["started_at"]), "run_worker": Cat.of(runs["worker"]),
                "reason": reason.cast(pa.string()),
                "failed_tests": (pc.fill_null(runs["failed_tests"].combine_chunks().cast(pa.int64()), 0)
                                 .to_numpy(zero_copy_only=False) if "failed_tests" in runs.column_names
                                 else np.zeros(runs.num_rows, dtype=np.int64))}

    @classmethod
    def from_arrow(cls, runs: pa.Table, events: pa.Table) -> TimingData:
        """``runs``: run_id, job, build, status, started_at, worker, reason; ``events``: run_id,
        event, emitted_at and any of received_at, worker, device_group, requestor. Events of
        runs not in ``runs`` are dropped."""
        import pyarrow.compute as pc

        base = cls._run_columns(runs)
        n = len(base["run_id"])
        where = pc.index_in(events["run_id"].cast(pa.int64()), value_set=pa.array(base["run_id"]))
        if where.null_count:
            keep = pc.is_valid(where)
            events = events.filter(keep)
            where = where.filter(keep)
        m = events.num_rows
        ev_run = np.asarray(where.to_numpy(zero_copy_only=False), dtype=np.int64)
        emitted = _seconds(events["emitted_at"])

        def per_run(name: str) -> Cat:
            return _smallest_per_run(Cat.of(events[name] if name in events.column_names else None, m), ev_run, n)

        received = _seconds(events["received_at"]) if "received_at" in events.column_names else np.full(m, np.nan)
        skew = received - emitted
        ok = ~np.isnan(skew)
        runs_ok, v = ev_run[ok], skew[ok]
        low, high = np.full(n, np.inf), np.full(n, -np.inf)
        np.minimum.at(low, runs_ok, v)
        np.maximum.at(high, runs_ok, v)
        return cls(**base, occ=_occurrences(Cat.of(events["event"]), ev_run, emitted, n),
                   worker=per_run("worker"), device_group=per_run("device_group"), requestor=per_run("requestor"),
                   skew_count=np.bincount(runs_ok, minlength=n), skew_sum=np.bincount(runs_ok, weights=v, minlength=n),
                   skew_min=low, skew_max=high, skew_negative=np.bincount(runs_ok, weights=v < 0, minlength=n),
                   events=m)

    @classmethod
    def from_aggregates(cls, table: pa.Table, names: Sequence[str], *, count: np.ndarray | None = None) -> TimingData:
        """From one row per run: the run columns, ``f{i}``/``l{i}``/``c{i}`` (first, last,
        count of ``names[i]``; a first or last column may be left out), ``ev_worker``, ``ev_device_group``, ``ev_requestor`` and
        ``skew_n``, ``skew_sum``, ``skew_min``, ``skew_max``, ``skew_neg`` (see
        :func:`ciscope.queries.timing.timing_data`). ``count``: the counts (names, runs)
        instead of ``c{i}`` columns, with no first or last times."""
        base = cls._run_columns(table)
        n = len(base["run_id"])

        def num(name: str, fill: float) -> np.ndarray:
            col = table[name].combine_chunks()
            out = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
            return np.where(np.isnan(out), fill, out) if col.null_count else out

        k = len(names)
        if count is not None:  # counts given (stored summaries), no times: a read-only NaN view
            first = last = np.broadcast_to(np.nan, (k, n))
        else:
            first, last = np.empty((k, n)), np.empty((k, n))
            count = np.zeros((k, n), dtype=np.int64)
            columns = set(table.column_names)
            for i in range(k):  # a first or last time not asked for is NaN
                first[i] = _seconds(table[f"f{i}"]) if f"f{i}" in columns else np.nan
                last[i] = _seconds(table[f"l{i}"]) if f"l{i}" in columns else np.nan
                count[i] = num(f"c{i}", 0).astype(np.int64)

        def cat(name: str) -> Cat:
            return _sorted_cat(Cat.of(table[name] if name in table.column_names else None, n))

        skew_n = num("skew_n", 0)
        return cls(**base, occ=Occurrences({str(x): i for i, x in enumerate(names)}, first, last, count),
                   worker=cat("ev_worker"), device_group=cat("ev_device_group"), requestor=cat("ev_requestor"),
                   skew_count=skew_n.astype(np.int64), skew_sum=num("skew_sum", 0.0), skew_min=num("skew_min", np.inf),
                   skew_max=num("skew_max", -np.inf), skew_negative=num("skew_neg", 0), events=int(count.sum()))

    @classmethod
    def from_summaries(cls, table: pa.Table, phases: Sequence[Phase], phase_rows: pa.Table) -> TimingData:
        """From one row per run (the run columns and ``run_event_summary``'s: ``events``,
        ``ev_worker``, ``ev_device_group``, ``ev_requestor``, ``skew_*``, ``counts``) and the
        ``run_phases`` rows of ``phases`` (run_id, phase, start_at, end_at). The counts text
        is parsed once per distinct value (runs share a few event sets)."""
        import pyarrow.compute as pc

        n = table.num_rows
        sets = Cat.of(table["counts"], n)
        per_set = [parse_counts(str(text)) for text in sets.values]
        names = sorted({name for counts in per_set for name in counts})
        column = {name: i for i, name in enumerate(names)}
        matrix = np.zeros((len(names), len(per_set) + 1), dtype=np.int64)  # last column: a run without counts
        for j, counts in enumerate(per_set):
            for name, c in counts.items():
                matrix[column[name], j] = c
        count = matrix[:, np.where(sets.codes >= 0, sets.codes, len(per_set))]
        data = cls.from_aggregates(table.drop_columns(["counts"]), names, count=count)
        run_id = data.run_id
        start = np.full((len(phases), n), np.nan)
        end = np.full((len(phases), n), np.nan)
        if phase_rows.num_rows and n:
            order = np.argsort(run_id, kind="stable")
            rows = phase_rows["run_id"].combine_chunks().cast(pa.int64()).to_numpy(zero_copy_only=False)
            at = np.searchsorted(run_id[order], rows)
            at = np.minimum(at, n - 1)
            known = run_id[order][at] == rows  # phase rows of runs outside the table are dropped
            index = order[at][known]
            phase = pc.cast(phase_rows["phase"].combine_chunks(), pa.int64()).to_numpy(zero_copy_only=False)[known]
            start[phase, index] = _seconds(phase_rows["start_at"])[known]
            end[phase, index] = _seconds(phase_rows["end_at"])[known]
        data.phase_times = (tuple(phases), start, end)
        return data

    @classmethod
    def from_runs(cls, runs: Sequence[Run]) -> TimingData:
        """From records (tests, files not stored)."""
        from ..model import naive_utc
        from ..store.write import events_table, json_text

        table = pa.table({
            "run_id": pa.array([r.run_id for r in runs], pa.int64()),
            "job": pa.array([r.job for r in runs], pa.string()),
            "build": pa.array([r.build for r in runs], pa.string()),
            "status": pa.array([r.status.value for r in runs], pa.string()),
            "started_at": pa.array([naive_utc(r.started_at) for r in runs], pa.timestamp("us")),
            "worker": pa.array([r.worker for r in runs], pa.string()),
            "reason": pa.array([json_text(r.metadata["error"]) if "error" in r.metadata else None for r in runs], pa.string()),
            "failed_tests": pa.array([len({x.test_id for x in r.results if x.status in FAILED_STATUSES}
                                          - {x.test_id for x in r.results if x.status is Status.PASSED}) for r in runs],
                                     pa.int64()),
        })
        return cls.from_arrow(table, events_table((r.run_id, r.events) for r in runs))


def _sorted_cat(cat: Cat) -> Cat:
    """The same column with its values sorted (codes renumbered): code order = string order."""
    if not len(cat.values):
        return cat
    order = np.argsort(cat.values.astype(str))
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    codes = np.where(cat.codes >= 0, rank[np.maximum(cat.codes, 0)], -1).astype(np.int32)
    return Cat(codes, cat.values[order])


def _smallest_per_run(column: Cat, ev_run: np.ndarray, n: int) -> Cat:
    """Per run: the smallest value of ``column`` among its events (as SQL's ``min``)."""
    column = _sorted_cat(column)
    big = np.iinfo(np.int32).max
    best = np.full(n, big, dtype=np.int64)
    valid = column.codes >= 0
    np.minimum.at(best, ev_run[valid], column.codes[valid])
    return Cat(np.where(best == big, -1, best).astype(np.int32), column.values)


def _occurrences(names: Cat, ev_run: np.ndarray, emitted: np.ndarray, n: int) -> Occurrences:
    """First/last time and count per (event name, run): one ``ufunc.at`` and one ``bincount``
    over a (name, run) key, no sort."""
    k = len(names.values)
    first = np.full(k * n, np.inf)
    last = np.full(k * n, -np.inf)
    valid = names.codes >= 0
    key = names.codes[valid].astype(np.int64) * n + ev_run[valid]
    t = emitted[valid]
    np.minimum.at(first, key, t)
    np.maximum.at(last, key, t)
    count = np.bincount(key, minlength=k * n).reshape(k, n) if k and n else np.zeros((k, n), dtype=np.int64)
    first[np.isinf(first)] = np.nan
    last[np.isinf(last)] = np.nan
    return Occurrences({str(v): i for i, v in enumerate(names.values)}, first.reshape(k, n), last.reshape(k, n), count)


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


def _unfinished(data: TimingData) -> np.ndarray:
    return data.status.eq(RunStatus.PENDING.value)


def phase_table(data: TimingData, phases: Sequence[Phase] = DEFAULT_PHASES,
                occurrences: Occurrences | None = None) -> RunPhases:
    """Start, end and state of every phase of every run."""
    stored = data.phase_times
    if occurrences is None and stored is not None and stored[0] == tuple(phases):  # read from run_phases
        start, end = stored[1], stored[2]
    else:
        occ = data.occ if occurrences is None else occurrences
        start = np.full((len(phases), data.runs), np.nan)
        end = np.full((len(phases), data.runs), np.nan)
        for i, phase in enumerate(phases):
            for name in phase.start:  # first alternative the run has
                if name in occ.names:
                    start[i] = np.where(np.isnan(start[i]), occ.first[occ.names[name]], start[i])
            for name in phase.end:
                if name in occ.names:
                    end[i] = np.where(np.isnan(end[i]), occ.last[occ.names[name]], end[i])
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
    stalled_failed_tests: int  # failed tests in those runs: what the stalls cost
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


def check_group_by(by: str) -> None:
    """``--by``: one of :data:`GROUP_BY`, else a usage error."""
    if by not in GROUP_BY:
        raise UsageError(f"--by {by!r}: expected one of {', '.join(GROUP_BY)}")


@dataclass(slots=True)
class Groups:
    """The group of each run (``index`` into ``labels``, sorted), and the runs ordered by group
    (``order``; group g is ``order[bounds[g]:bounds[g + 1]]``)."""

    index: np.ndarray
    labels: np.ndarray
    order: np.ndarray
    bounds: np.ndarray

    def slices(self) -> Iterable[tuple[int, str, np.ndarray]]:
        for g, label in enumerate(self.labels):
            yield g, str(label), self.order[self.bounds[g]:self.bounds[g + 1]]

    def count(self, mask: np.ndarray) -> np.ndarray:
        """Per group: how many runs have ``mask``."""
        return np.bincount(self.index, weights=mask, minlength=len(self.labels)).astype(np.int64)


def _labels(parts: Sequence[tuple[np.ndarray, np.ndarray]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per run, the first part's value that is set (codes into each part's values), as indices
    into the sorted labels that occur ("-" when none is)."""
    label_of = np.full(n, -1, dtype=np.int64)
    values: list[str] = []
    for codes, vals in parts:
        base = len(values)
        values.extend(str(v) for v in vals)
        fill = (label_of < 0) & (codes >= 0)
        label_of[fill] = codes[fill] + base
    values.append("-")
    label_of[label_of < 0] = len(values) - 1
    strings = np.array(values, dtype=object)
    distinct = np.unique(strings)  # merge equal strings of different parts
    remap = np.searchsorted(distinct, strings)
    used, index = np.unique(remap[label_of], return_inverse=True)
    return index, distinct[used]


def _groups(data: TimingData, by: str) -> Groups:
    """The group of each run: its job, or the worker / device group its events name (the
    smallest when several; for workers else the run's worker); "-" when unknown."""
    check_group_by(by)
    if by == "job":
        parts = [(data.job.codes, data.job.values)]
    elif by == "worker":
        parts = [(data.worker.codes, data.worker.values), (data.run_worker.codes, data.run_worker.values)]
    else:
        parts = [(data.device_group.codes, data.device_group.values)]
    index, labels = _labels(parts, data.runs) if data.runs else (np.array([], dtype=np.int64), np.array([], dtype=object))
    order = np.argsort(index, kind="stable")
    bounds = np.searchsorted(index[order], np.arange(len(labels) + 1))
    return Groups(index, labels, order, bounds)


Stats = tuple[int, "float | None", "float | None", "float | None", "float | None", "float | None", "float | None",
              "float | None"]


def _stats(values: np.ndarray) -> Stats:
    if not len(values):
        return (0, None, None, None, None, None, None, None)
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return (len(values), _r(values.min()), _r(values.max()), _r(values.mean()), _r(values.std()),
            _r(p50), _r(p90), _r(p99))


def _skew_of(count: np.ndarray, total: np.ndarray, low: np.ndarray, high: np.ndarray, negative: np.ndarray,
             i: int | None = None) -> Skew | None:
    c = int(count.sum() if i is None else count[i])
    if not c:
        return None
    if i is None:
        return Skew(c, _r(low.min()), _r(high.max()), _r(total.sum() / c), int(negative.sum()))
    return Skew(c, _r(low[i]), _r(high[i]), _r(total[i] / c), int(negative[i]))


def _group_skews(data: TimingData, groups: Groups) -> list[Skew | None]:
    k = len(groups.labels)
    g = groups.index
    count = np.bincount(g, weights=data.skew_count, minlength=k)
    total = np.bincount(g, weights=data.skew_sum, minlength=k)
    negative = np.bincount(g, weights=data.skew_negative, minlength=k)
    low, high = np.full(k, np.inf), np.full(k, -np.inf)
    np.minimum.at(low, g, data.skew_min)
    np.maximum.at(high, g, data.skew_max)
    return [_skew_of(count, total, low, high, negative, i) for i in range(k)]


def stalled_runs(data: TimingData, config: TimingConfig) -> np.ndarray:
    """Boolean per run: stopped for slowness (a stall event, or a reason that says so)."""
    out = np.zeros(data.runs, dtype=bool)
    for name in config.stall_events:
        if name in data.occ.names:
            out |= data.occ.count[data.occ.names[name]] > 0
    if data.runs:
        import pyarrow.compute as pc

        texts = pc.fill_null(data.reason, "")
        out |= np.asarray(pc.match_substring_regex(texts, config.stall_reason).to_numpy(zero_copy_only=False), dtype=bool)
    return out


def timing_report(data: TimingData, *, by: str = "job", config: TimingConfig | None = None,
                  now: datetime | None = None) -> TimingReport:
    """Phase statistics per group and phase, and per group: requestors, ongoing and queued
    runs, errors, stalls, iterations and skew."""
    config = config or TimingConfig()
    groups = _groups(data, by)
    occ = data.occ
    table = phase_table(data, config.phases)
    durations = table.duration
    rows: list[PhaseStats] = []
    state_counts = {s: [groups.count(table.state[p] == s) for p in range(len(config.phases))]
                    for s in (MISSING, OUT_OF_ORDER, OPEN)}
    for g, label, runs in groups.slices():
        for p, phase in enumerate(config.phases):
            values = durations[p, runs]
            count, low, high, mean, std, p50, p90, p99 = _stats(values[~np.isnan(values)])
            rows.append(PhaseStats(label, phase.name, count, low, high, mean, std, p50, p90, p99,
                                   missing=int(state_counts[MISSING][p][g]),
                                   out_of_order=int(state_counts[OUT_OF_ORDER][p][g]), open=int(state_counts[OPEN][p][g])))
    unfinished = _unfinished(data)
    queue = next((i for i, ph in enumerate(config.phases) if ph.name == "queue"), None)
    queued = unfinished & (table.state[queue] == OPEN) if queue is not None else np.zeros(data.runs, dtype=bool)
    errored, failed = data.status.eq(RunStatus.ERROR.value), data.status.eq(RunStatus.FAILURE.value)
    stalled = stalled_runs(data, config)
    sizes = np.diff(groups.bounds)
    stalled_tests = np.bincount(groups.index, weights=np.where(stalled, data.failed_tests, 0), minlength=len(groups.labels))
    counts = {name: groups.count(mask) for name, mask in
              (("ongoing", unfinished), ("queued", queued), ("errored", errored), ("failed", failed), ("stalled", stalled))}
    # requestors: per (group, requestor) number of runs
    requestor = data.requestor.codes
    has = requestor >= 0
    nreq = max(len(data.requestor.values), 1)
    pairs, pair_counts = np.unique(groups.index[has] * nreq + requestor[has], return_counts=True)
    by_group: dict[int, list[Requestor]] = {}
    for pair, c in zip(pairs.tolist(), pair_counts.tolist()):
        by_group.setdefault(pair // nreq, []).append(Requestor(str(data.requestor.values[pair % nreq]), c))
    # iterations: per event name, per group: runs having it, runs repeating it, max and mean count
    k = len(groups.labels)
    iterations: dict[int, list[Iteration]] = {}
    for name, column in sorted(occ.names.items()):
        count = occ.count[column]
        present = count > 0
        runs_with = groups.count(present)
        repeated = groups.count(count > 1)
        total = np.bincount(groups.index, weights=count, minlength=k)
        top = np.zeros(k, dtype=np.int64)
        np.maximum.at(top, groups.index, count)
        for gi in np.flatnonzero(runs_with):
            iterations.setdefault(int(gi), []).append(Iteration(name, int(runs_with[gi]), int(repeated[gi]), int(top[gi]),
                                                                round(float(total[gi] / runs_with[gi]), 3)))
    skews = _group_skews(data, groups)
    summaries = []
    for g, label, _runs in groups.slices():
        finished = int(sizes[g] - counts["ongoing"][g])
        errors = int(counts["errored"][g])
        summaries.append(GroupSummary(
            group=label, runs=int(sizes[g]), ongoing=int(counts["ongoing"][g]), queued=int(counts["queued"][g]),
            errored=errors, failed=int(counts["failed"][g]),
            error_share=round(errors / finished, 4) if finished else None, stalled=int(counts["stalled"][g]),
            stalled_failed_tests=int(stalled_tests[g]),
            requestors=sorted(by_group.get(g, []), key=lambda r: (-r.requests, r.name)),
            iterations=iterations.get(g, []), skew=skews[g],
        ))
    overall = _skew_of(data.skew_count, data.skew_sum, data.skew_min, data.skew_max, data.skew_negative)
    return TimingReport(by=by, now=now, runs=data.runs, events=data.events, phases=rows, groups=summaries, skew=overall)


@dataclass(slots=True)
class PhaseAggregate:
    """The engine's aggregation of one phase in one group (:func:`report_from_aggregates`):
    ``runs`` in the group; of those, the measured durations' count, min, max, mean,
    population std and (p50, p90, p99); the runs ``out_of_order``, ``open`` and
    ``not_started`` (the rest of the unmeasured are ``missing``)."""

    group: str
    phase: int
    runs: int
    count: int
    min: float | None
    max: float | None
    mean: float | None
    std: float | None
    quantiles: Sequence[float | None] | None
    out_of_order: int
    open: int
    not_started: int


@dataclass(slots=True)
class RunSetAggregate:
    """The engine's aggregation of the runs of one group that share an event-count set
    (``counts`` as stored) and a requestor: how many, their events, how many are ongoing,
    queued (ongoing with an open ``queue`` phase), in error, failed, stopped for slowness by
    their reason (and their failed tests), their failed tests, and the skew sums."""

    group: str
    counts: str | None
    requestor: str | None
    runs: int
    events: int
    ongoing: int
    queued: int
    errored: int
    failed: int
    reason_stalled: int
    reason_stalled_tests: int
    failed_tests: int
    skew_n: int
    skew_sum: float | None
    skew_min: float | None
    skew_max: float | None
    skew_neg: int


def report_from_aggregates(phases: Sequence[PhaseAggregate], sets: Sequence[RunSetAggregate], *, by: str,
                           config: TimingConfig, now: datetime | None) -> TimingReport:
    """The :func:`timing_report` of runs the engine aggregated per (group, phase) and per
    (group, event-count set, requestor) — the same report, from rows that number groups ×
    phases and groups × sets instead of one per run (``ciscope timing`` on a store with the
    per-run summaries). Its test holds the two equal."""
    check_group_by(by)
    labels = sorted({a.group for a in sets})
    parsed = {a.counts: parse_counts(a.counts) for a in sets}
    names = sorted({name for counts in parsed.values() for name in counts})
    stall = set(config.stall_events)
    per_phase = {(a.group, a.phase): a for a in phases}
    rows: list[PhaseStats] = []
    for label in labels:
        for p, phase in enumerate(config.phases):
            agg = per_phase.get((label, p))
            if agg is None or not agg.count:
                stats: Stats = (0, None, None, None, None, None, None, None)
            else:
                p50, p90, p99 = agg.quantiles or (None, None, None)
                stats = (agg.count, _r(agg.min), _r(agg.max), _r(agg.mean), _r(agg.std), _r(p50), _r(p90), _r(p99))
            runs, ooo, open_, not_started = (agg.runs, agg.out_of_order, agg.open, agg.not_started) if agg else (0, 0, 0, 0)
            rows.append(PhaseStats(label, phase.name, *stats, missing=runs - stats[0] - ooo - open_ - not_started,
                                   out_of_order=ooo, open=open_))
    # the skew sums per group, as arrays: summarised by _skew_of, like timing_report's
    k = len(labels)
    skew_count, skew_total, skew_neg = np.zeros(k), np.zeros(k), np.zeros(k)
    skew_low, skew_high = np.full(k, np.inf), np.full(k, -np.inf)
    summaries = []
    for g, label in enumerate(labels):
        mine = [a for a in sets if a.group == label]
        for a in mine:
            skew_count[g] += a.skew_n
            skew_total[g] += a.skew_sum or 0.0
            skew_neg[g] += a.skew_neg
            skew_low[g] = min(skew_low[g], np.inf if a.skew_min is None else a.skew_min)
            skew_high[g] = max(skew_high[g], -np.inf if a.skew_max is None else a.skew_max)
        runs = sum(a.runs for a in mine)
        ongoing, errored = sum(a.ongoing for a in mine), sum(a.errored for a in mine)
        stalled = stalled_tests = 0
        for a in mine:
            by_event = any(parsed[a.counts].get(name, 0) > 0 for name in stall)
            stalled += a.runs if by_event else a.reason_stalled
            stalled_tests += a.failed_tests if by_event else a.reason_stalled_tests
        requests: dict[str, int] = {}
        for a in mine:
            if a.requestor:
                requests[a.requestor] = requests.get(a.requestor, 0) + a.runs
        iterations = []
        for name in names:
            having = [(a.runs, parsed[a.counts].get(name, 0)) for a in mine if parsed[a.counts].get(name, 0) > 0]
            if having:
                with_it = sum(n for n, _ in having)
                iterations.append(Iteration(name, with_it, sum(n for n, c in having if c > 1), max(c for _, c in having),
                                            round(sum(n * c for n, c in having) / with_it, 3)))
        finished = runs - ongoing
        summaries.append(GroupSummary(
            group=label, runs=runs, ongoing=ongoing, queued=sum(a.queued for a in mine), errored=errored,
            failed=sum(a.failed for a in mine), error_share=round(errored / finished, 4) if finished else None,
            stalled=stalled, stalled_failed_tests=stalled_tests,
            requestors=sorted((Requestor(n, c) for n, c in requests.items()), key=lambda r: (-r.requests, r.name)),
            iterations=iterations, skew=_skew_of(skew_count, skew_total, skew_low, skew_high, skew_neg, g)))
    return TimingReport(by=by, now=now, runs=sum(a.runs for a in sets), events=sum(a.events for a in sets),
                        phases=rows, groups=summaries,
                        skew=_skew_of(skew_count, skew_total, skew_low, skew_high, skew_neg))


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
    groups = _groups(data, by)
    table = phase_table(data, config.phases)
    end = _epoch(now)
    if end is None:
        end = float(np.nanmax(data.started)) if data.runs and not np.all(np.isnan(data.started)) else 0.0
    recent = (data.started >= end - rule.days * 86400) & (data.started <= end)
    durations = np.where(recent[None, :], table.duration, np.nan)
    out = []
    for p, phase in enumerate(config.phases):
        every = durations[p][~np.isnan(durations[p])]
        overall = float(np.quantile(every, rule.quantile)) if len(every) >= rule.min_samples else None
        for _g, label, runs in groups.slices():
            v = durations[p, runs]
            v = v[~np.isnan(v)]
            if len(v) >= rule.min_samples:
                q = float(np.quantile(v, rule.quantile))
                out.append(Threshold(label, phase.name, _r(q * rule.factor), len(v), "group", _r(q)))
            elif overall is not None:
                out.append(Threshold(label, phase.name, _r(overall * rule.factor), len(every), "all", _r(overall)))
            else:
                out.append(Threshold(label, phase.name, None, len(v), "insufficient", None))
    out.sort(key=lambda t: ([p.name for p in config.phases].index(t.phase), t.group))
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
    groups = _groups(data, by)
    table = phase_table(data, config.phases)
    at = _epoch(now)
    if at is None:
        at = float(np.nanmax(np.concatenate([data.started, data.occ.last.ravel()]))) if data.runs else 0.0
    stalled = stalled_runs(data, config)
    workers = _groups(data, "worker")
    found: list[Outlier] = []
    over_any = np.zeros(data.runs, dtype=bool)
    for p, phase in enumerate(config.phases):
        limit = np.array([lookup.get((str(label), phase.name), np.nan) for label in groups.labels], dtype=float)
        per_run = limit[groups.index] if data.runs else np.array([])
        measured = table.state[p] == MEASURED
        running = table.state[p] == OPEN
        seconds = np.where(measured, table.end[p] - table.start[p], np.where(running, at - table.start[p], np.nan))
        hit = np.flatnonzero(~np.isnan(per_run) & ~np.isnan(seconds) & (seconds > per_run))
        over_any[hit] = True
        for i in hit:  # only the outliers themselves
            worker = str(workers.labels[workers.index[i]])
            found.append(Outlier(int(data.run_id[i]), data.job.at(i) or "", data.build[int(i)].as_py() or "",
                                 str(groups.labels[groups.index[i]]), None if worker == "-" else worker, phase.name,
                                 "finished" if measured[i] else "running", _r(seconds[i]) or 0.0,
                                 float(per_run[i]), round(float(seconds[i] / per_run[i]), 3), bool(stalled[i])))
    found.sort(key=lambda o: (-o.ratio, o.job, o.build, o.phase))
    runs_per, over_per, stalled_per = np.diff(workers.bounds), workers.count(over_any), workers.count(stalled)
    rows = [WorkerOutliers(str(label), int(runs_per[i]), int(over_per[i]), round(float(over_per[i] / runs_per[i]), 4),
                           int(stalled_per[i]))
            for i, label in enumerate(workers.labels) if over_per[i] or stalled_per[i]]
    rows.sort(key=lambda w: (-w.share, -w.outlier_runs, w.worker))
    return OutlierReport(by=by, now=now, outliers=found, workers=rows)
