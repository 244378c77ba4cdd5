"""TestGrid grids and tab summaries built from the store.

A job's grid has one column per run (newest first) and one row per test, plus TestGrid's
``Overall`` row from the run status. Verdicts become TestGrid status codes:
passed → PASS, failed/error → FAIL, flaky → FLAKY, skipped → PASS_WITH_SKIPS; a pending
run is RUNNING. The tab summary, status string and alerts are then exactly TestGrid's
(:mod:`ciscope.analysis.grid`).

Runs imported from a TestGrid ``/table`` dump are rebuilt as the dump had them: the
``Overall`` row only where the dump has one (its own codes and messages), columns named by
their custom headers. A tab's include/exclude filters and alert options come from a YAML file
(:class:`TestGridConfig`) and the command line; a ``/summary`` imported for the same tab is
compared with the recomputation (:func:`tab_reports`).

No SQL here: the runs, cells, messages and imported summaries are read by
:mod:`ciscope.queries.grid` (the jobs by :mod:`ciscope.queries.facts`); this module turns
them into grids and reports.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError, UsageError
from ..queries.facts import job_exists, job_names
from ..queries.grid import (
    GridRun,
    cell_messages,
    grid_verdict_lists,
    grid_verdicts,
    jobs_runs,
    published_summaries,
)
from ..queries.window import Window
from ..store.base import Store
from .grid import (
    Alert,
    Column,
    Grid,
    SummaryConfig,
    TabCells,
    TabSummary,
    TestStatus,
    rle_encode,
    tab_summary,
)

VERDICT_STATUS = {
    "passed": TestStatus.PASS,
    "failed": TestStatus.FAIL,
    "error": TestStatus.FAIL,
    "flaky": TestStatus.FLAKY,
    "skipped": TestStatus.PASS_WITH_SKIPS,
}
RUN_STATUS = {
    "success": TestStatus.PASS,
    "failure": TestStatus.FAIL,
    "error": TestStatus.FAIL,
    "aborted": TestStatus.CANCEL,
    "pending": TestStatus.RUNNING,
}
OVERALL = "Overall"
DEFAULT_COLUMNS = 100


@dataclass(slots=True)
class GridCells:
    """A job's grid as arrays (what :func:`job_grid` and the job page's payload are made of):
    ``status[row, column]`` TestGrid codes (int8) and ``durations`` (NaN: none; None: not
    read) of the sorted test ``names``, newest column first; the ``Overall`` row apart."""

    columns: list[Column]
    run_ids: list[int]
    names: list[str]
    status: np.ndarray
    durations: np.ndarray | None
    overall_status: list[int]
    overall_messages: list[str]
    has_overall: bool


def grid_cells(store: Store, job: str, /, *, columns: int | None = DEFAULT_COLUMNS,
               window: Window | None = None, durations: bool = True) -> GridCells:
    """The cells of the job's grid over its newest ``columns`` runs (None: every run) among
    the runs of ``window`` (their durations unless not ``durations``). The verdicts come in no
    order (see :mod:`ciscope.queries.grid`): the rows are placed by NumPy."""
    return jobs_cells(store, [job], columns=columns, window=window, durations=durations)[job]


def jobs_cells(store: Store, jobs: Sequence[str], /, *, columns: int | None = DEFAULT_COLUMNS,
               window: Window | None = None, durations: bool = True) -> dict[str, GridCells]:
    """:func:`grid_cells` of each of the jobs, their verdicts read in one query and placed at
    once: one matrix whose rows are the jobs' rows one job after the other, each job's by test
    name, and whose columns are each job's own (a job's cells are a slice of it). Without
    durations, the verdicts are read grouped by test and verdict (:func:`grid_verdict_lists`)."""
    runs = jobs_runs(store, jobs, columns=columns, window=window)
    heads = {job: _heads(runs[job]) for job in jobs}
    ids = [r.run_id for job in jobs for r in runs[job]]
    found = _read_cells(store, ids, durations=durations) if ids else None
    if found is None:
        return {job: _no_verdicts(heads[job], durations) for job in jobs}
    names = found.names
    # each verdict's job and column: its run's place in ``ids``, the jobs' runs one after the other
    counts = [len(runs[job]) for job in jobs]
    first = np.cumsum([0, *counts])
    job_of_place = np.repeat(np.arange(len(jobs)), counts)
    column_of_place = np.arange(len(ids)) - first[job_of_place]
    place = pc.index_in(found.run_id, value_set=pa.array(ids, type=found.run_id.type)).to_numpy(zero_copy_only=False)
    # a row per (job, test) present, in the order of (job, test name)
    key = (job_of_place * len(names))[place] + found.test
    present = np.bincount(key, minlength=len(jobs) * len(names)) > 0
    row_of_key = np.cumsum(present) - 1
    keys = np.flatnonzero(present)
    bounds = np.searchsorted(keys, np.arange(len(jobs) + 1) * len(names))
    if len(jobs) > 1 and len(keys) * max(counts) > 2 * int(np.dot(np.diff(bounds), counts)) + 1_000_000:
        # jobs of very different lengths: a matrix as wide as the longest would be mostly empty
        return {job: grid_cells(store, job, columns=columns, window=window, durations=durations) for job in jobs}
    width = max(counts)
    status = np.zeros((len(keys), width), dtype=np.int8)
    cell = row_of_key[key] * width + column_of_place[place]  # each verdict's place in the matrix, flat
    status.ravel()[cell] = found.codes
    seconds = None
    if found.seconds is not None:
        seconds = np.full(status.shape, np.nan)
        seconds.ravel()[cell] = found.seconds
    out = {}
    for j, job in enumerate(jobs):
        if not counts[j]:
            out[job] = _no_verdicts(heads[job], durations)
            continue
        rows = slice(bounds[j], bounds[j + 1])
        cols, run_ids, overall_status, overall_messages, has_overall = heads[job]
        out[job] = GridCells(cols, run_ids, [names[k] for k in (keys[rows] - j * len(names)).tolist()],
                             status[rows, :counts[j]],
                             None if seconds is None else seconds[rows, :counts[j]],
                             overall_status, overall_messages, has_overall)
    return out


@dataclass(frozen=True, slots=True)
class _Cells:
    """Verdicts as read, one entry per cell, in no order: ``run_id`` (Arrow), ``test`` (an
    index into ``names``, the distinct test names sorted), ``codes`` (TestGrid codes, int8)
    and ``seconds`` (the durations, NaN: none; None: not read)."""

    names: list[str]
    run_id: pa.Array | pa.ChunkedArray
    test: np.ndarray
    codes: np.ndarray
    seconds: np.ndarray | None


def _read_cells(store: Store, ids: Sequence[int], *, durations: bool) -> _Cells | None:
    """The verdicts of the runs ``ids`` (None: none): as rows with their durations, else grouped
    by test and verdict (each name and verdict coded once per group, the groups spread over
    their runs)."""
    if durations:
        table = grid_verdicts(store, ids, durations=True)
        if not table.num_rows:  # (PostgreSQL types the columns of no rows as nulls)
            return None
        names, rank = _sorted_names(table["test"])
        return _Cells(names, table["run_id"], rank, _verdict_codes(table["verdict"]),
                      table["duration"].to_numpy().astype(float))
    groups = grid_verdict_lists(store, ids)
    if not groups.num_rows:
        return None
    lists = groups["run_ids"].combine_chunks()
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
    names, rank = _sorted_names(groups["test"])  # spread over each group's runs: one pass each
    return _Cells(names, lists.flatten(), np.repeat(rank, lengths), np.repeat(_verdict_codes(groups["verdict"]), lengths),
                  None)


def _sorted_names(tests: pa.ChunkedArray) -> tuple[list[str], np.ndarray]:
    """The distinct names of an Arrow column of test names, sorted, and each entry's place
    among them (int64)."""
    encoded = tests.dictionary_encode()  # one dictionary shared by the chunks
    dictionary = encoded.chunk(0).dictionary.to_pylist() if encoded.num_chunks else []
    by_name = sorted(range(len(dictionary)), key=dictionary.__getitem__)
    rank = np.zeros(len(dictionary), dtype=np.int64)
    rank[by_name] = np.arange(len(dictionary))
    chunks = [c.indices.to_numpy(zero_copy_only=False) for c in encoded.chunks]
    indices = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)
    return [dictionary[i] for i in by_name], rank[indices]


# a verdict's TestGrid code by its place among VERDICT_STATUS's (any other: UNKNOWN)
_STATUS_OF = np.array([*VERDICT_STATUS.values(), TestStatus.UNKNOWN], dtype=np.int8)


def _verdict_codes(verdicts: Any) -> np.ndarray:
    """The TestGrid codes (int8) of an Arrow array of verdicts."""
    known = pc.index_in(verdicts, value_set=pa.array(list(VERDICT_STATUS), type=verdicts.type))
    codes: np.ndarray = _STATUS_OF[pc.fill_null(known, len(VERDICT_STATUS)).to_numpy(zero_copy_only=False)]
    return codes


def _heads(runs: Sequence[GridRun]) -> tuple[list[Column], list[int], list[int], list[str], bool]:
    """What a job's grid takes of its runs: (columns, run ids, the Overall row's statuses and
    messages, whether it has one)."""
    imported = [_imported_column(r.metadata) for r in runs]
    cols = [Column(build=r.build, started_ms=_ms(r.started_at), commit=r.commit,
                   extra=tuple(tg.get("extra") or ()) if tg else ())
            for r, tg in zip(runs, imported)]
    # the Overall row: from the run status, or as a TestGrid dump had it (none if it had none)
    overall_status = [int(tg["overall"] or 0) if tg else int(RUN_STATUS.get(r.status, TestStatus.UNKNOWN))
                      for r, tg in zip(runs, imported)]
    overall_messages = [
        str(tg.get("overall_message") or "") if tg
        else "Build failed outside of test results" if r.status == "failure" and not r.failed_tests else ""
        for r, tg in zip(runs, imported)
    ]
    has_overall = any(tg is None or tg["overall"] is not None for tg in imported)
    return cols, [r.run_id for r in runs], overall_status, overall_messages, has_overall


def _no_verdicts(heads: tuple[list[Column], list[int], list[int], list[str], bool], durations: bool) -> GridCells:
    """The cells of a job whose runs (if any) have no verdicts: no rows."""
    cols, run_ids, overall_status, overall_messages, has_overall = heads
    return GridCells(cols, run_ids, [], np.zeros((0, len(run_ids)), dtype=np.int8),
                     np.zeros((0, len(run_ids))) if durations else None, overall_status, overall_messages, has_overall)


def grid_messages(store: Store, cells: GridCells) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(rows, columns, texts) of the cells with a message: a failure's message, else a skip's
    reason (TestGrid shows both), at most 1,000 characters. Rows index ``cells.names``."""
    if not cells.run_ids:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), []
    found = cell_messages(store, cells.run_ids)
    index = {name: i for i, name in enumerate(cells.names)}
    position = {rid: i for i, rid in enumerate(cells.run_ids)}
    rows, cols, texts = [], [], []
    for run_id, test, message in found:
        if message and test in index:
            rows.append(index[test])
            cols.append(position[run_id])
            texts.append(_text(message))
    return np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64), texts


def _text(message: str) -> str:
    """A cell's message as the grid shows it: at most 1,000 characters."""
    return message[:1000]


# a cell whose message is wanted: (the job's cells, its row in ``names`` or -1 for Overall, column)
MessageRequest = tuple[GridCells, int, int]


def read_messages(store: Store, requests: Sequence[MessageRequest]) -> list[str]:
    """The messages of the given cells (of any jobs), as :func:`grid_messages` has them
    ("" for none), read in one query."""
    tests = {cells.names[r] for cells, r, _ in requests if r >= 0}
    found = {(run_id, test): _text(message) for run_id, test, message in
             cell_messages(store, sorted({cells.run_ids[c] for cells, r, c in requests if r >= 0}), tests=sorted(tests))
             if message} if tests else {}
    return [cells.overall_messages[c] if r < 0 else found.get((cells.run_ids[c], cells.names[r]), "")
            for cells, r, c in requests]


def job_grid(store: Store, job: str, /, *, columns: int | None = DEFAULT_COLUMNS,
             messages: bool = True, window: Window | None = None) -> Grid:
    """The job's grid over its newest ``columns`` runs (None: every run) among the runs of
    ``window`` (its time, branch and variant filters; its test filter is the tab's include
    filter, see :func:`ciscope.cli.testgrid`)."""
    cells = grid_cells(store, job, columns=columns, window=window)
    ids, ordered = cells.run_ids, cells.names
    if not ids:
        return Grid(name=job, columns=[], tests=[], statuses=[], messages=[])
    message_grid = [[""] * len(ids) for _ in ordered]
    if messages:
        for row, col, text in zip(*grid_messages(store, cells), strict=True):
            message_grid[row][col] = text
    # one vectorised pass (NaN → None) instead of a Python test per cell: 900k cells at 300 × 3,000
    assert cells.durations is not None
    duration_rows = np.where(np.isnan(cells.durations), None, cells.durations).tolist()  # type: ignore[call-overload]
    if not cells.has_overall:
        return Grid(name=job, columns=cells.columns, tests=ordered, statuses=cells.status.tolist(), messages=message_grid,
                    durations=duration_rows)
    return Grid(
        name=job,
        columns=cells.columns,
        tests=[OVERALL, *ordered],
        statuses=[cells.overall_status, *cells.status.tolist()],
        messages=[cells.overall_messages, *message_grid],
        durations=[[None] * len(ids), *duration_rows],
    )


def tab_cells(store: Store, job: str, cells: GridCells, *,
              read: Callable[[Sequence[MessageRequest]], list[str]] | None = None) -> TabCells:
    """The job's grid as :func:`tab_summary` reads it — the rows of :func:`job_grid`
    (``Overall`` first when there is one) — without the dense lists: the messages are read
    only for the cells asked for (the alerts'), by ``read`` (default :func:`read_messages`)."""
    offset = 1 if cells.has_overall else 0
    status = cells.status
    tests = list(cells.names)
    if offset:
        status = np.vstack([np.array(cells.overall_status, dtype=np.int8)[None, :], status])
        tests = [OVERALL, *tests]

    def messages(wanted: Sequence[tuple[int, int]]) -> list[str]:
        requests = [(cells, r - offset, c) for r, c in wanted]
        return read(requests) if read else read_messages(store, requests)

    return TabCells(job, cells.columns, tests, status, messages, np.arange(len(tests)))


def grid_page(store: Store, job: str, /, *, columns: int | None = DEFAULT_COLUMNS) -> dict[str, Any]:
    """The job page's grid, compact (``/api/grid/JOB?format=page``; drawn by ``grid.js``):

    - ``builds``, ``times`` (epoch ms), ``commits``: the columns, newest first;
    - ``tests``: the row names, ``Overall`` first when there is one;
    - ``values`` and ``lengths``: the cells, row after row, run-length encoded (TestGrid
      codes; a run never crosses rows, so the rows are the cells decoded in order, each
      ``len(builds)`` long);
    - ``messages``: ``[row, column, k]`` of the cells with a message only, the message being
      ``texts[k]`` (each text once: a skip's reason repeats in every run).

    No durations and no tab summary: the page shows neither (``/api/grid/JOB`` has them)."""
    cells = grid_cells(store, job, columns=columns, durations=False)
    if not cells.run_ids:
        return {"job": job, "builds": [], "times": [], "commits": [], "tests": [], "values": [], "lengths": [],
                "messages": [], "texts": []}
    status, names = cells.status, list(cells.names)
    rows, cols, texts = grid_messages(store, cells)
    if cells.has_overall:
        status = np.vstack([np.array(cells.overall_status, dtype=np.int8)[None, :], status])
        names = [OVERALL, *names]
        rows = rows + 1
        extra = [(0, i, m) for i, m in enumerate(cells.overall_messages) if m]
    else:
        extra = []
    flat = status.ravel()
    width = status.shape[1]
    change = np.ones(flat.size, dtype=bool)
    if flat.size:
        change[1:] = flat[1:] != flat[:-1]
        change[::width] = True  # a run never crosses rows
    starts = np.flatnonzero(change)
    lengths = np.diff(np.append(starts, flat.size))
    unique: dict[str, int] = {}  # a skip's reason repeats in every run: each text once
    messages = [[r, c, unique.setdefault(t, len(unique))]
                for r, c, t in [*extra, *zip(rows.tolist(), cols.tolist(), texts, strict=True)]]
    return {
        "job": job,
        "builds": [c.build for c in cells.columns],
        "times": [c.started_ms for c in cells.columns],
        "commits": [c.commit for c in cells.columns],
        "tests": names,
        "values": flat[starts].tolist(),
        "lengths": lengths.tolist(),
        "messages": messages,
        "texts": list(unique),
    }


def _imported_column(metadata: str | None) -> dict[str, Any] | None:
    """What a run imported from a TestGrid ``/table`` keeps of its column (see
    :func:`ciscope.ingest.testgrid.grid_to_runs`), or None for any other run (and for runs
    imported before the ``overall`` key existed, whose Overall row is the run status)."""
    if not metadata or '"testgrid table"' not in metadata:
        return None
    meta = orjson.loads(metadata)
    return meta if meta.get("format") == "testgrid table" and "overall" in meta else None


def _ms(value: datetime | None) -> int | None:
    """Epoch milliseconds of a stored (naive UTC) timestamp."""
    if value is None:
        return None
    return int(value.replace(tzinfo=UTC).timestamp() * 1000) if value.tzinfo is None else int(value.timestamp() * 1000)


def grid_json(grid: Grid, summary: TabSummary | None = None) -> dict[str, Any]:
    """The shape of TestGrid's legacy ``/table`` response: run-length encoded statuses,
    messages per non-blank cell, ``timestamps`` in ms, ``changelists`` and ``column_ids``."""
    alerts = {a.test: a for a in (summary.alerts if summary else ())}
    tests = []
    no_durations: list[list[float | None]] = [[None] * len(grid.columns)] * len(grid.tests)
    for name, statuses, messages, durations in zip(grid.tests, grid.statuses, grid.messages,
                                                   grid.durations or no_durations):
        row: dict[str, Any] = {
            "name": name,
            "statuses": rle_encode(statuses),
            "messages": [m for s, m in zip(statuses, messages) if s],
            "durations": [d for s, d in zip(statuses, durations) if s],
            "alert": _alert_json(alerts[name]) if name in alerts else None,
        }
        tests.append(row)
    return {
        "test-group-name": grid.name,
        "tests": tests,
        "timestamps": [c.started_ms for c in grid.columns],
        "changelists": [c.build for c in grid.columns],
        "column_ids": [c.build for c in grid.columns],
        "commits": [c.commit for c in grid.columns],
    }


def _alert_json(alert: Alert) -> dict[str, Any]:
    """An alert's fields (in their order) but those that are None."""
    return {k: v for k in _ALERT_FIELDS if (v := getattr(alert, k)) is not None}


_ALERT_FIELDS = tuple(f.name for f in fields(Alert))


# ---------------------------------------------------------------- tab options per job


@dataclass(frozen=True, slots=True)
class TabOptions:
    """A tab's options as a config entry or the command line gives them; None = not given."""

    include: tuple[str, ...] = ()  # include-filter-by-regex: a row must match every one
    exclude: tuple[str, ...] = ()  # exclude-filter-by-regex: a row matching any one is dropped
    num_columns_recent: int | None = None
    num_failures_to_alert: int | None = None
    num_passes_to_disable_alert: int | None = None

    def then(self, other: TabOptions) -> TabOptions:
        """These options followed by ``other``: regexes add up, ``other``'s numbers win."""
        def pick(a: int | None, b: int | None) -> int | None:
            return a if b is None else b
        return TabOptions(
            include=_unique(self.include + other.include), exclude=_unique(self.exclude + other.exclude),
            num_columns_recent=pick(self.num_columns_recent, other.num_columns_recent),
            num_failures_to_alert=pick(self.num_failures_to_alert, other.num_failures_to_alert),
            num_passes_to_disable_alert=pick(self.num_passes_to_disable_alert, other.num_passes_to_disable_alert))

    def summary_config(self) -> SummaryConfig:
        """TestGrid's :class:`SummaryConfig` with these options over testgrid.k8s.io's defaults."""
        numbers = {name: value for name in ("num_columns_recent", "num_failures_to_alert", "num_passes_to_disable_alert")
                   if (value := getattr(self, name)) is not None}
        return SummaryConfig(include=self.include, exclude=self.exclude, **numbers)


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def check_regexes(values: Iterable[str], *, where: str) -> tuple[str, ...]:
    """The regexes, each checked to compile; a bad one raises :class:`UsageError` naming ``where``."""
    out = []
    for value in values:
        try:
            re.compile(value)
        except re.error as exc:
            raise UsageError(f"{where}: {value!r} is not a valid regular expression ({exc})") from None
        out.append(value)
    return tuple(out)


_OPTION_KEYS = {"include_test", "exclude_test", "base_options", "num_columns_recent", "num_failures_to_alert",
                "num_passes_to_disable_alert"}


@dataclass(frozen=True, slots=True)
class TestGridConfig:
    """Per-job tab options read from a YAML file (``--testgrid-config``, ``CISCOPE_TESTGRID_CONFIG``)::

        jobs:
          "*":                                  # a glob: every job
            exclude_test: ['Monitor\\scluster']
          release-openshift-*-4.10:
            base_options: exclude-filter-by-regex=%5Eoperator.Run%20template.*container%20test%24
            num_columns_recent: 10

    Every entry whose key is the job's name or a glob matching it applies, in file order:
    regexes add up, a later entry's numbers win; the command line comes last. TestGrid's own
    ``config.yaml`` (``dashboards`` / ``test_groups``) is read too: one exact entry per tab.
    """

    __test__ = False  # not a pytest test class

    path: str
    entries: tuple[tuple[str, TabOptions], ...] = ()

    @classmethod
    def load(cls, path: str | Path) -> TestGridConfig:
        import yaml

        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputError(str(path), f"cannot read the TestGrid config: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise InputError(str(path), f"not UTF-8 text (byte {exc.start}); expected a YAML file") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise InputError(str(path), f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
                             line=mark.line + 1 if mark else None) from None
        if data is None:
            return cls(str(path))
        if isinstance(data, Mapping) and "jobs" not in data and {"dashboards", "test_groups"} & set(data):
            return cls(str(path), _testgrid_entries(path, data))
        if not isinstance(data, Mapping) or set(data) - {"jobs"} or not isinstance(data.get("jobs", {}), Mapping):
            raise InputError(str(path), 'expected a mapping with one key, "jobs", mapping job names or globs '
                             "to options (include_test, exclude_test, base_options, num_columns_recent, "
                             "num_failures_to_alert, num_passes_to_disable_alert), or a TestGrid config "
                             "(dashboards, test_groups)")
        return cls(str(path), tuple((str(key), _entry(path, f"jobs.{key}", value))
                                    for key, value in (data.get("jobs") or {}).items()))

    def options_for(self, job: str) -> TabOptions:
        """The options of ``job``: every matching entry, in file order."""
        merged = TabOptions()
        for key, options in self.entries:
            if key == job or fnmatch.fnmatchcase(job, key):
                merged = merged.then(options)
        return merged


def _entry(path: str | Path, place: str, value: Any) -> TabOptions:
    if value is None:
        return TabOptions()
    if not isinstance(value, Mapping):
        raise InputError(str(path), f"expected a mapping of options, got {type(value).__name__}", place=place)
    unknown = sorted(set(map(str, value)) - _OPTION_KEYS)
    if unknown:
        raise InputError(str(path), f"unknown option {unknown[0]!r}; expected one of {', '.join(sorted(_OPTION_KEYS))}",
                         place=place)

    def regexes(key: str) -> tuple[str, ...]:
        raw = value.get(key)
        items = [] if raw is None else [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
            raise InputError(str(path), f"{key}: expected a regex or a list of regexes", place=place)
        try:
            return check_regexes(items, where=key)
        except UsageError as exc:
            raise InputError(str(path), str(exc), place=place) from None

    def number(key: str, low: int) -> int | None:
        raw = value.get(key)
        if raw is None:
            return None
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < low:
            raise InputError(str(path), f"{key}: expected an integer ≥ {low}, got {raw!r}", place=place)
        return raw

    include, exclude = regexes("include_test"), regexes("exclude_test")
    base = value.get("base_options")
    if base is not None:
        if not isinstance(base, str):
            raise InputError(str(path), "base_options: expected TestGrid's query string, e.g. "
                             "exclude-filter-by-regex=Monitor%5Cscluster", place=place)
        from_base = SummaryConfig.from_base_options(base)
        try:
            include = check_regexes(from_base.include, where="base_options") + include
            exclude = check_regexes(from_base.exclude, where="base_options") + exclude
        except UsageError as exc:
            raise InputError(str(path), str(exc), place=place) from None
    return TabOptions(include=include, exclude=exclude, num_columns_recent=number("num_columns_recent", 1),
                      num_failures_to_alert=number("num_failures_to_alert", 0),
                      num_passes_to_disable_alert=number("num_passes_to_disable_alert", 1))


def _testgrid_entries(path: str | Path, data: Mapping[str, Any]) -> tuple[tuple[str, TabOptions], ...]:
    """Entries from TestGrid's own ``config.yaml`` (``Configuration``): one per dashboard tab,
    keyed by the tab's name (the job a dump of it is stored under). A tab takes its
    ``base_options``, ``num_columns_recent`` and ``alert_options`` (num_failures_to_alert,
    num_passes_to_disable_alert), falling back to its test group's; a tab name found on several
    dashboards keeps the first. Other TestGrid options are ignored."""
    def items(value: Any, what: str) -> list[Mapping[str, Any]]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise InputError(str(path), f"{what}: expected a list of mappings (TestGrid's config.yaml)", place=what)
        return value

    groups = {str(g.get("name")): g for g in items(data.get("test_groups"), "test_groups")}
    entries: dict[str, TabOptions] = {}
    for board in items(data.get("dashboards"), "dashboards"):
        for tab in items(board.get("dashboard_tab"), f"dashboards.{board.get('name')}.dashboard_tab"):
            name = str(tab.get("name") or "")
            if not name or name in entries:
                continue
            group = groups.get(str(tab.get("test_group_name")), {})
            alert: Mapping[str, Any] = tab["alert_options"] if isinstance(tab.get("alert_options"), Mapping) else {}
            # proto3: 0 means unset, so the test group's (or the default) applies
            options = {"base_options": tab.get("base_options") or None,
                       "num_columns_recent": tab.get("num_columns_recent") or group.get("num_columns_recent") or None,
                       "num_failures_to_alert": alert.get("num_failures_to_alert") or group.get("num_failures_to_alert")
                       or None,
                       "num_passes_to_disable_alert": alert.get("num_passes_to_disable_alert")
                       or group.get("num_passes_to_disable_alert") or None}
            entries[name] = _entry(path, f"dashboards.{board.get('name')}.dashboard_tab.{name}",
                                   {k: v for k, v in options.items() if v is not None})
    return tuple(entries.items())


def job_options(job: str, *, config: TestGridConfig | None = None, given: TabOptions | None = None) -> TabOptions:
    """The options a job's tab is summarised with: the config file's, then ``given`` (the command line)."""
    options = config.options_for(job) if config else TabOptions()
    return options.then(given) if given else options


def filtered_grid(grid: Grid, options: TabOptions) -> Grid:
    """The grid with the tab's include/exclude filters applied (what TestGrid shows)."""
    return grid.filter(include=options.include, exclude=options.exclude)


# ---------------------------------------------------------------- imported summaries


@dataclass(frozen=True, slots=True)
class UpstreamSummary:
    """A tab summary as TestGrid published it (``ciscope ingest …summary.json``)."""

    tab: str
    source: str
    last_run_ms: int | None
    overall_status: str
    status: str
    latest_green: str
    alerts: tuple[Alert, ...]
    ingested_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"tab": self.tab, "source": self.source, "last_run": self.last_run_ms,
                "overall_status": self.overall_status, "status": self.status, "latest_green": self.latest_green,
                "alerts": [_alert_json(a) for a in self.alerts], "ingested_at": self.ingested_at}


def upstream_summaries(store: Store, /, *, tab: str | None = None) -> list[UpstreamSummary]:
    """Imported tab summaries (every tab, or one), by tab, newest last run first."""
    return [UpstreamSummary(tab=t, source=src, last_run_ms=_ms(last), overall_status=overall, status=status,
                            latest_green=green or "", alerts=tuple(Alert(**a) for a in orjson.loads(alerts or "[]")),
                            ingested_at=at)
            for t, src, last, overall, status, green, alerts, at in published_summaries(store, tab=tab)]


COMPARED = ("overall_status", "status", "latest_green", "alerts")


@dataclass(frozen=True, slots=True)
class Agreement:
    """Whether ciscope's recomputation says what TestGrid published for the same tab.

    Comparable when the published summary's last run is one of the job's stored runs: the
    recomputation is then taken as of that run (:meth:`Grid.as_of`), so a summary captured
    before newer runs were ingested is still checked. ``agrees`` is None when not comparable
    (``reason`` says why)."""

    agrees: bool | None
    differs: tuple[str, ...] = ()
    as_of_ms: int | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"agrees": self.agrees, "differs": list(self.differs), "as_of": self.as_of_ms, "reason": self.reason}


def _alert_keys(alerts: Iterable[Alert]) -> list[tuple[Any, ...]]:
    """What a published summary says about each alert (it names no builds)."""
    return sorted((a.test, a.fail_count, a.fail_time_ms, a.pass_time_ms, a.failure_message) for a in alerts)


def compare_upstream(upstream: UpstreamSummary, grid: Grid, config: SummaryConfig,
                     current: TabSummary | None = None) -> Agreement:
    """Compare a published summary with ciscope's recomputation of the same tab."""
    if upstream.last_run_ms is None:
        if grid.columns:
            return Agreement(None, reason="the published tab had no runs; the stored job has some")
        mine, as_of = current or tab_summary(grid, config=config), None
    elif upstream.last_run_ms in grid.started_ms:
        as_of = upstream.last_run_ms
        newest = grid.columns[0].started_ms == as_of
        mine = current if newest and current else tab_summary(grid if newest else grid.as_of(as_of), config=config)
    elif grid.columns and grid.columns[0].started_ms is not None and upstream.last_run_ms > grid.columns[0].started_ms:
        return Agreement(None, reason=f"the published summary is newer: its last run ({_iso(upstream.last_run_ms)}) "
                         f"started after the newest stored run ({_iso(grid.columns[0].started_ms)})")
    else:
        return Agreement(None, reason=f"the published summary's last run ({_iso(upstream.last_run_ms)}) is not "
                         f"among the {len(grid.columns)} runs considered")
    theirs = {"overall_status": upstream.overall_status, "status": upstream.status,
              "latest_green": upstream.latest_green, "alerts": _alert_keys(upstream.alerts)}
    ours = {"overall_status": mine.overall_status.label, "status": mine.status, "latest_green": mine.latest_green,
            "alerts": _alert_keys(mine.alerts)}
    differs = tuple(f for f in COMPARED if theirs[f] != ours[f])
    return Agreement(not differs, differs, as_of)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pick_upstream(candidates: Sequence[UpstreamSummary], grid: Grid) -> UpstreamSummary | None:
    """The published summary to show beside a job: the newest whose last run is stored (or,
    for an empty grid, one of an empty tab), else the newest."""
    stored = set(grid.started_ms)
    for candidate in candidates:
        if (candidate.last_run_ms in stored) if candidate.last_run_ms else not grid.columns:
            return candidate
    return candidates[0] if candidates else None


# ---------------------------------------------------------------- summaries per job


@dataclass(frozen=True, slots=True)
class TabReport:
    """One job's tab summary, the config it was computed with, and the published summary
    of the same tab with the comparison, when one was imported."""

    job: str
    summary: TabSummary
    config: SummaryConfig = field(default_factory=SummaryConfig)
    upstream: UpstreamSummary | None = None
    agreement: Agreement | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**summary_json(self.job, self.summary),
                "filters": {"include": list(self.config.include), "exclude": list(self.config.exclude)},
                "upstream": self.upstream.as_dict() if self.upstream else None,
                "agreement": self.agreement.as_dict() if self.agreement else None}


def job_summary(store: Store, job: str, /, *, config: SummaryConfig | None = None,
                columns: int | None = DEFAULT_COLUMNS) -> dict[str, Any]:
    """TestGrid's tab summary of one job, as :meth:`TabReport.as_dict`."""
    return tab_report(store, job, config=config, columns=columns).as_dict()


def summary_json(job: str, summary: TabSummary) -> dict[str, Any]:
    return {
        "job": job,
        "overall_status": summary.overall_status.label,
        "status": summary.status,
        "latest_green": summary.latest_green,
        "last_run": summary.last_run_ms,
        "stale_alert": summary.stale_alert,
        "alerts": [_alert_json(a) for a in summary.alerts],
    }


def tab_report(store: Store, job: str, /, *, config: SummaryConfig | None = None,
               columns: int | None = DEFAULT_COLUMNS, upstream: Sequence[UpstreamSummary] | None = None,
               window: Window | None = None) -> TabReport:
    """One job's :class:`TabReport` (``upstream``: the imported summaries of its tab, read
    from the store when not given) over the runs of ``window``."""
    config = config or SummaryConfig()
    candidates = upstream_summaries(store, tab=job) if upstream is None else upstream
    return _reports(store, [job], {job: config}, {job: list(candidates)}, columns=columns, window=window)[0]


def _reports(store: Store, jobs: Sequence[str], configs: Mapping[str, SummaryConfig],
             published: Mapping[str, Sequence[UpstreamSummary]], *, columns: int | None,
             window: Window | None) -> list[TabReport]:
    """The jobs' :class:`TabReport`. A job with imported summaries of its tab is compared
    with one (on its whole grid: :func:`compare_upstream`); the others are summarised from
    their cells (no dense grid), the verdicts of all read in one query and the messages of
    all their alerts in another."""
    plain = [job for job in jobs if not published.get(job)]
    cells = jobs_cells(store, plain, columns=columns, window=window, durations=False)
    wanted: dict[str, list[MessageRequest]] = {}

    def later(job: str) -> Callable[[Sequence[MessageRequest]], list[str]]:
        def record(requests: Sequence[MessageRequest]) -> list[str]:  # read below, for every job at once
            wanted[job] = list(requests)
            return [""] * len(requests)
        return record

    summaries = {job: tab_summary(tab_cells(store, job, cells[job], read=later(job)), config=configs[job])
                 for job in plain}
    requests = [request for job in plain for request in wanted.get(job, ())]
    texts = iter(read_messages(store, requests) if requests else [])
    reports = {}
    for job in plain:  # tab_summary asks once per tab, for its alerts' cells in the alerts' order
        summary = summaries[job]
        if summary.alerts:
            summary = replace(summary, alerts=tuple(replace(alert, failure_message=next(texts))
                                                    for alert in summary.alerts))
        reports[job] = TabReport(job, summary, configs[job])
    for job in jobs:
        if job in reports:
            continue
        grid = job_grid(store, job, columns=columns, messages=True, window=window)
        summary = tab_summary(grid, config=configs[job])
        chosen = _pick_upstream(published[job], grid)
        agreement = compare_upstream(chosen, grid, configs[job], summary) if chosen else None
        reports[job] = TabReport(job, summary, configs[job], chosen, agreement)
    return [reports[job] for job in jobs]


def tab_reports(store: Store, /, *, job: str | None = None, config: TestGridConfig | None = None,
                given: TabOptions | None = None, columns: int | None = DEFAULT_COLUMNS,
                window: Window | None = None) -> list[TabReport]:
    """The tab report of every job (or one), by job name; jobs without runs (empty TestGrid
    tabs) included, shown STALE as TestGrid shows them."""
    if job and not job_exists(store, job):
        raise UsageError(f"no job {job!r} in the store; `ciscope runs` lists the stored runs, "
                         "`ciscope summary --imported` the imported TestGrid summaries")
    jobs = [job] if job else job_names(store)
    return _reports(store, jobs, {name: job_options(name, config=config, given=given).summary_config() for name in jobs},
                    _published(store), columns=columns, window=window)


def _published(store: Store) -> dict[str, list[UpstreamSummary]]:
    """The imported summaries by tab."""
    published: dict[str, list[UpstreamSummary]] = {}
    for summary in upstream_summaries(store):
        published.setdefault(summary.tab, []).append(summary)
    return published


def job_summaries(store: Store, /, *, job: str | None = None, config: SummaryConfig | None = None,
                  columns: int | None = DEFAULT_COLUMNS) -> list[dict[str, Any]]:
    """The tab summary of every job (or one), by job name."""
    jobs = [job] if job else job_names(store)
    config = config or SummaryConfig()
    return [report.as_dict() for report in _reports(store, jobs, dict.fromkeys(jobs, config), _published(store),
                                                    columns=columns, window=None)]
