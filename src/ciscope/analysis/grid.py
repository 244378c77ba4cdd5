"""TestGrid's grid and the numbers TestGrid derives from it, reproduced without an engine.

A :class:`Grid` is one TestGrid tab (or test group): columns are runs, **newest first**
(TestGrid sorts by start time descending), rows are tests, each cell one
:class:`TestStatus` code with its message. :func:`tab_summary` recomputes what TestGrid's
summarizer shows for the tab — the overall status, the "N of M (P%) recent columns passed"
string, the latest green column and the alerts — following ``docs/grid.md`` and the upstream
rules (GoogleCloudPlatform/testgrid ``pkg/summarizer/summary.go``, ``pkg/updater`` ``alertRow``).

Two wire details matter when building a grid from TestGrid JSON: statuses are run-length
encoded (:func:`rle_decode`) and the companion lists (``messages``, ``short_texts``) hold one
entry per **non-blank** cell only (:func:`expand_sparse`).

Example:

    >>> grid = Grid.from_rows(
    ...     [("t1", "2", TestStatus.FAIL, "boom", None), ("t1", "1", TestStatus.PASS, "", None)],
    ...     name="job", columns=[Column("2", 2000), Column("1", 1000)])
    >>> tab_summary(grid).status
    '1 of 2 (50.0%) recent columns passed (1 of 2 or 50.0% cells)'
"""

from __future__ import annotations

import enum
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import parse_qs

import numpy as np

from ..errors import ReportError, UsageError

__all__ = [
    "IGNORED_TEST_STATUSES", "Alert", "Column", "Grid", "StatusClass", "StatusCounts",
    "SummaryConfig", "TabCells", "TabStatus", "TabSummary", "TestStatus", "coalesce", "dashboard_status",
    "expand_sparse", "format_status", "latest_green", "merge_attempts", "merge_cells",
    "pairs_decode", "pairs_encode", "parse_status", "rle_decode", "rle_encode", "row_alert",
    "stale_alert", "status_counts", "tab_summary", "to_ms",
]


class StatusClass(str, enum.Enum):
    """What a status means for analyses (``internal/result/results.go``)."""

    BLANK = "blank"
    PASSING = "passing"
    FAILING = "failing"
    FLAKY = "flaky"  # the cell both passed and failed
    RUNNING = "running"
    UNKNOWN = "unknown"  # aborted, cancelled, blocked, unknown


class TestStatus(enum.IntEnum):
    """TestGrid's cell status (``pb/test_status/test_status.proto``)."""

    __test__ = False  # not a pytest test class

    NO_RESULT = 0
    PASS = 1
    PASS_WITH_ERRORS = 2
    PASS_WITH_SKIPS = 3
    RUNNING = 4
    CATEGORIZED_ABORT = 5
    UNKNOWN = 6
    CANCEL = 7
    BLOCKED = 8
    TIMED_OUT = 9
    CATEGORIZED_FAIL = 10
    BUILD_FAIL = 11
    FAIL = 12
    FLAKY = 13
    TOOL_FAIL = 14
    BUILD_PASSED = 15

    @property
    def severity(self) -> int:
        """Rank used when several results share a cell: the highest wins (``result.GTE``)."""
        return _SEVERITY[self]

    @property
    def status_class(self) -> StatusClass:
        return _CLASS[self]


_SEVERITY = dict(zip(TestStatus, (0, 2, 4, 3, 5, 6, 7, 8, 9, 12, 13, 14, 15, 10, 11, 1),
                     strict=True))
_PASSING = frozenset({TestStatus.PASS, TestStatus.PASS_WITH_ERRORS, TestStatus.PASS_WITH_SKIPS,
                      TestStatus.BUILD_PASSED})
_FAILING = frozenset({TestStatus.TIMED_OUT, TestStatus.CATEGORIZED_FAIL, TestStatus.BUILD_FAIL,
                      TestStatus.FAIL, TestStatus.TOOL_FAIL})
_CLASS = {s: (StatusClass.BLANK if s == 0 else StatusClass.PASSING if s in _PASSING
              else StatusClass.FAILING if s in _FAILING else StatusClass.FLAKY if s == 13
              else StatusClass.RUNNING if s == 4 else StatusClass.UNKNOWN) for s in TestStatus}
# coalesce() as a lookup table per ignore_running, indexed by code: the summaries call it per cell.
_COALESCED = {
    ignore: tuple(TestStatus.NO_RESULT if s == 0 or (s == 4 and ignore) else TestStatus.PASS
                  if s in _PASSING else TestStatus.FAIL if s in _FAILING else TestStatus.FLAKY
                  if s == 13 else TestStatus.UNKNOWN for s in TestStatus)
    for ignore in (True, False)
}
# … and as arrays, for the summaries' scans over a whole status matrix at once
_COALESCED_CODES = {ignore: np.array([int(s) for s in table], dtype=np.int8) for ignore, table in _COALESCED.items()}
IGNORED_TEST_STATUSES = frozenset({TestStatus.CATEGORIZED_ABORT, TestStatus.UNKNOWN,
                                   TestStatus.CANCEL, TestStatus.BLOCKED})


def coalesce(status: int, *, ignore_running: bool = True) -> TestStatus:
    """Reduce a status to NO_RESULT, PASS, FAIL, FLAKY or UNKNOWN, as every TestGrid analysis
    does. RUNNING becomes NO_RESULT when running is ignored, else UNKNOWN."""
    return _COALESCED[ignore_running][status]


def merge_cells(statuses: Iterable[int]) -> TestStatus:
    """Several results in one cell: the most severe wins (TestGrid's ``MergeCells``)."""
    return max((TestStatus(s) for s in statuses), key=_SEVERITY.__getitem__,
               default=TestStatus.NO_RESULT)


def merge_attempts(statuses: Iterable[int]) -> TestStatus:
    """Same-name results of one build (retries), as the updater merges them: FLAKY when at
    least one passed and one failed, else the most severe."""
    seen = [TestStatus(s) for s in statuses]
    if any(s in _PASSING for s in seen) and any(s in _FAILING for s in seen):
        return TestStatus.FLAKY
    return merge_cells(seen)


def to_ms(value: float | int | None) -> int | None:
    """A TestGrid epoch timestamp in ms, whatever unit it came in: seconds (summaries since
    2021), milliseconds (tables) or microseconds (2021 tables' alert times, an upstream bug
    that multiplied ms by 1000). 0 and None mean "none"."""
    if not value:
        return None
    if value > 1e14:
        return int(value // 1000)
    if value > 1e11:
        return int(value)
    return int(value * 1000)


# ---------------------------------------------------------------- run-length encodings


def rle_decode(runs: Sequence[Mapping[str, int]] | None, *, columns: int | None = None,
               test: str = "", source: str = "<table>") -> list[int]:
    """Expand legacy table JSON ``statuses`` (``[{"count": n, "value": code}, ...]``).

    With ``columns`` given, checks TestGrid's invariant Σcount == number of columns and raises
    :class:`~ciscope.errors.ReportError` naming the test and both counts.
    """
    cells: list[int] = []
    for run in runs or ():
        count, value = run.get("count"), run.get("value", 0)
        if not isinstance(count, int) or count < 0 or not isinstance(value, int) \
                or not 0 <= value < len(TestStatus):
            raise ReportError(source, f'test "{test}": bad run {dict(run)!r}; expected '
                              '{"count": n >= 0, "value": 0..15}', place="statuses")
        cells.extend([value] * count)
    if columns is not None and len(cells) != columns:
        raise ReportError(source, f'test "{test}": statuses add up to {len(cells)} cells but '
                          f"the table has {columns} columns", place="statuses")
    return cells


def rle_encode(cells: Iterable[int]) -> list[dict[str, int]]:
    """The legacy table JSON run-length encoding of a row (inverse of :func:`rle_decode`)."""
    runs: list[dict[str, int]] = []
    for value in cells:
        if runs and runs[-1]["value"] == value:
            runs[-1]["count"] += 1
        else:
            runs.append({"count": 1, "value": int(value)})
    return runs


def pairs_decode(flat: Sequence[int]) -> list[int]:
    """Expand the state proto's ``Row.results``: flat (value, count) pairs."""
    if len(flat) % 2:
        raise ValueError(f"results must hold (value, count) pairs, got {len(flat)} integers")
    return [flat[i] for i in range(0, len(flat), 2) for _ in range(flat[i + 1])]


def pairs_encode(cells: Iterable[int]) -> list[int]:
    """The state proto encoding; a repeated value extends the last pair (``appendCell``)."""
    flat: list[int] = []
    for value in cells:
        if flat and flat[-2] == value:
            flat[-1] += 1
        else:
            flat += [int(value), 1]
    return flat


def expand_sparse(values: Sequence[Any] | None, cells: Sequence[int], *, fill: Any = "",
                  test: str = "", what: str = "messages", source: str = "<table>") -> list[Any]:
    """Spread a sparse companion list (one entry per non-blank cell) over all columns.

    ``messages``, ``short_texts``, ``cell_ids`` and ``properties`` skip NO_RESULT cells, so
    their index advances only on non-zero cells. An empty or missing list means no values.
    """
    if not values:
        return [fill] * len(cells)
    filled = sum(1 for c in cells if c)
    if len(values) != filled:
        raise ReportError(source, f'test "{test}": {len(values)} {what} for {filled} non-blank '
                          f"cells ({len(cells)} columns); expected one per non-blank cell",
                          place=what)
    it = iter(values)
    return [next(it) if c else fill for c in cells]


# ---------------------------------------------------------------- the grid


@dataclass(frozen=True, slots=True)
class Column:
    """One run of the job: a TestGrid column."""

    build: str  # build id (legacy JSON ``changelists[i]``, API v1 header ``build``)
    started_ms: int | None = None  # run start, epoch ms
    commit: str | None = None
    extra: tuple[str, ...] = ()  # custom header values; TestGrid reports extra[0] as the build

    @property
    def label(self) -> str:
        """What TestGrid names this column in alerts and latest green: the first custom
        header when the group has one (OpenShift: literally ``"1"``), else the build id."""
        return self.extra[0] if self.extra else self.build


@dataclass(slots=True)
class Grid:
    """A tab's grid: ``statuses[row][column]``, newest column first (index 0)."""

    name: str
    columns: list[Column]
    tests: list[str]
    statuses: list[list[int]]
    messages: list[list[str]]  # dense; "" where blank or no message
    icons: list[list[str]] | None = None  # short texts (F, S, R, n/N, metric values)
    durations: list[list[float | None]] | None = None  # seconds
    dashboard: str = ""
    extra_names: list[str] = field(default_factory=list)  # custom header names
    updated_ms: int | None = None  # when the grid state was last written, if known
    meta: dict[str, Any] = field(default_factory=dict)  # source-specific extras

    def __post_init__(self) -> None:
        n = len(self.columns)
        matrices: tuple[tuple[str, Sequence[Sequence[Any]] | None], ...] = (
            ("statuses", self.statuses), ("messages", self.messages), ("icons", self.icons),
            ("durations", self.durations))
        for what, matrix in matrices:
            if matrix is None:
                continue
            if len(matrix) != len(self.tests):
                raise UsageError(f"grid {self.name!r}: {len(matrix)} rows of {what} for "
                                 f"{len(self.tests)} tests")
            for test, row in zip(self.tests, matrix, strict=True):
                if len(row) != n:
                    raise UsageError(f'grid {self.name!r}, test "{test}": {len(row)} {what} '
                                     f"for {n} columns")

    @property
    def builds(self) -> list[str]:
        return [c.build for c in self.columns]

    @property
    def started_ms(self) -> list[int | None]:
        return [c.started_ms for c in self.columns]

    @property
    def commits(self) -> list[str | None]:
        return [c.commit for c in self.columns]

    def row(self, test: str) -> list[int]:
        """The statuses of one test, newest first."""
        try:
            return self.statuses[self.tests.index(test)]
        except ValueError:
            raise UsageError(f'grid {self.name!r} has no test "{test}"') from None

    def cells(self) -> Iterator[tuple[str, Column, TestStatus, str, float | None]]:
        """Every non-blank cell as (test, column, status, message, duration)."""
        for r, test in enumerate(self.tests):
            for c, status in enumerate(self.statuses[r]):
                if status:
                    yield (test, self.columns[c], TestStatus(status), self.messages[r][c],
                           self.durations[r][c] if self.durations else None)

    def select_rows(self, keep: Sequence[int]) -> Grid:
        """A grid with only the rows at the given indices (in that order)."""
        def pick(matrix: list[list[Any]] | None) -> list[list[Any]] | None:
            return None if matrix is None else [matrix[i] for i in keep]
        return replace(self, tests=[self.tests[i] for i in keep],
                       statuses=[self.statuses[i] for i in keep],
                       messages=[self.messages[i] for i in keep], icons=pick(self.icons),
                       durations=pick(self.durations))

    def filter(self, *, include: Iterable[str] = (), exclude: Iterable[str] = ()) -> Grid:
        """Rows whose name matches every ``include`` regex and no ``exclude`` regex (searched
        anywhere in the name, like Go's ``MatchString``): a tab's ``base_options``."""
        return self.select_rows(_matching_rows(self.tests, include, exclude))

    def drop_stale(self, recent: int) -> Grid:
        """Without stale rows: no result in the newest ``recent`` columns (TestGrid's
        ``recentRows``: the first run-length entry is NO_RESULT with count ≥ recent)."""
        return self.select_rows(_recent_rows(_status_matrix(self), recent).tolist())

    def as_of(self, time_ms: int) -> Grid:
        """The grid as it looked when the newest run was the one started at ``time_ms``:
        newer columns dropped, rows left without any result dropped (``dropEmptyRows``).
        Runs still running then have since finished, so this is exact only for them."""
        start = next((i for i, c in enumerate(self.columns)
                      if c.started_ms is not None and c.started_ms <= time_ms), len(self.columns))
        def cut(matrix: list[list[Any]] | None) -> list[list[Any]] | None:
            return None if matrix is None else [row[start:] for row in matrix]
        older = replace(self, columns=self.columns[start:], statuses=cut(self.statuses) or [],
                        messages=cut(self.messages) or [], icons=cut(self.icons),
                        durations=cut(self.durations))
        return older.select_rows([i for i, row in enumerate(older.statuses) if any(row)])

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, int, str | None, float | None]], *,
                  name: str, columns: Sequence[Column], tests: Sequence[str] | None = None,
                  dashboard: str = "") -> Grid:
        """Build a grid from (test, build, status, message, duration) rows — the shape the
        store returns. ``columns`` fixes the column order (newest first). Several results for
        one cell merge by severity (:func:`merge_cells`); the winner's message is kept."""
        index = {c.build: i for i, c in enumerate(columns)}
        if len(index) != len(columns):
            raise UsageError(f"grid {name!r}: duplicate build ids in columns")
        row_of: dict[str, int] = {t: i for i, t in enumerate(tests or ())}
        statuses: list[list[int]] = [[0] * len(columns) for _ in row_of]
        messages: list[list[str]] = [[""] * len(columns) for _ in row_of]
        durations: list[list[float | None]] = [[None] * len(columns) for _ in row_of]
        any_duration = False
        for test, build, status, message, duration in rows:
            if build not in index:
                raise UsageError(f'grid {name!r}: test "{test}" has a result for build '
                                 f'"{build}", which is not among the columns')
            if test not in row_of:
                row_of[test] = len(statuses)
                statuses.append([0] * len(columns))
                messages.append([""] * len(columns))
                durations.append([None] * len(columns))
            r, c = row_of[test], index[build]
            old = statuses[r][c]
            if old and _SEVERITY[TestStatus(status)] <= _SEVERITY[TestStatus(old)]:
                continue
            statuses[r][c] = int(TestStatus(status))
            messages[r][c] = message or ""
            if duration is not None:
                durations[r][c] = float(duration)
                any_duration = True
        return cls(name=name, columns=list(columns), tests=list(row_of), statuses=statuses,
                   messages=messages, durations=durations if any_duration else None,
                   dashboard=dashboard)

    @classmethod
    def from_testgrid_table(cls, table: Mapping[str, Any], *, name: str | None = None,
                            dashboard: str = "", source: str = "<table>") -> Grid:
        """Decode a legacy testgrid.k8s.io ``/{dashboard}/table?tab=…`` JSON response.

        Statuses are run-length decoded and checked against the column count; messages and
        short texts are spread from one-per-non-blank-cell to one-per-column; per-test
        durations are read from ``graphs`` (minutes → seconds) only when they are dense.
        """
        if not isinstance(table, Mapping) or not isinstance(table.get("tests", []), list):
            raise ReportError(source, "not a TestGrid table: expected an object with "
                              '"tests" and "timestamps"')
        stamps = table.get("timestamps") or []
        builds = table.get("changelists") or []
        if len(builds) != len(stamps):
            raise ReportError(source, f"{len(builds)} changelists for {len(stamps)} timestamps")
        custom = table.get("custom-columns") or []  # [header][column]
        columns = [Column(build=str(b), started_ms=int(t) if t else None,  # always ms
                          extra=tuple(str(h[i]) for h in custom if i < len(h)))
                   for i, (b, t) in enumerate(zip(builds, stamps, strict=True))]
        tests, statuses, messages, icons = [], [], [], []
        durations: list[list[float | None]] = []
        for entry in table.get("tests") or []:
            test = str(entry.get("name", ""))
            cells = rle_decode(entry.get("statuses"), columns=len(columns), test=test,
                               source=source)
            tests.append(test)
            statuses.append(cells)
            messages.append([m or "" for m in expand_sparse(entry.get("messages"), cells,
                                                            test=test, source=source)])
            icons.append([s or "" for s in expand_sparse(entry.get("short_texts"), cells,
                                                         test=test, what="short_texts",
                                                         source=source)])
            durations.append(_graph_durations(entry.get("graphs"), len(columns)))
        grid = cls(name=name if name is not None else str(table.get("test-group-name", "")),
                   columns=columns, tests=tests, statuses=statuses, messages=messages,
                   icons=icons, durations=durations if any(any(v is not None for v in row)
                                                           for row in durations) else None,
                   dashboard=dashboard, extra_names=list(table.get("column-header-names") or []))
        for key in ("test-group-name", "query", "overall-status", "stale-test-threshold",
                    "num-stale-tests"):
            if key in table:
                grid.meta[key] = table[key]
        return grid


def _graph_durations(graphs: Any, columns: int) -> list[float | None]:
    for graph in graphs or ():
        if "test-duration-minutes" in (graph.get("metric") or ()):
            values = (graph.get("values") or [[]])[0]
            if len(values) == columns:  # sparse layouts are not documented: keep dense only
                return [None if v is None else float(v) * 60 for v in values]
    return [None] * columns


def _matching_rows(tests: Sequence[str], include: Iterable[str], exclude: Iterable[str]) -> list[int]:
    """The rows whose name matches every ``include`` regex and no ``exclude`` regex."""
    inc = [re.compile(p) for p in include]
    exc = [re.compile(p) for p in exclude]
    if not inc and not exc:
        return list(range(len(tests)))
    return [i for i, t in enumerate(tests) if all(p.search(t) for p in inc) and not any(p.search(t) for p in exc)]


def _leading_blanks(status: np.ndarray) -> np.ndarray:
    """Per row of a status matrix: how many of the newest columns have no result (every
    column for a row without any)."""
    if not status.shape[1]:
        return np.zeros(status.shape[0], dtype=np.int64)
    filled = status != 0
    return np.where(filled.any(axis=1), filled.argmax(axis=1), status.shape[1])


def _recent_rows(status: np.ndarray, recent: int) -> np.ndarray:
    """The rows that are not stale: a result within the newest ``recent`` columns."""
    return np.flatnonzero(_leading_blanks(status) < recent)


@dataclass(frozen=True, slots=True)
class TabCells:
    """A tab as :func:`tab_summary` reads it: ``status[row, column]`` the TestGrid codes
    (int8, newest column first) of the rows named ``tests``; ``rows`` each row's index in
    the source its messages come from; ``messages`` the messages of (source row, column)
    cells, asked only for the alerts' cells (so a store reads only those). A :class:`Grid`
    becomes one with :meth:`of`; :mod:`ciscope.analysis.summary` builds them from the store."""

    name: str
    columns: Sequence[Column]
    tests: list[str]
    status: np.ndarray
    messages: Callable[[Sequence[tuple[int, int]]], list[str]]
    rows: np.ndarray
    updated_ms: int | None = None

    @classmethod
    def of(cls, grid: Grid, rows: Sequence[int] | None = None) -> TabCells:
        """The grid's cells (or those of the given rows only)."""
        keep = list(range(len(grid.tests))) if rows is None else list(rows)
        status = np.array([grid.statuses[r] for r in keep], dtype=np.int8).reshape(len(keep), len(grid.columns))
        return cls(grid.name, grid.columns, [grid.tests[r] for r in keep], status,
                   lambda cells: [grid.messages[r][c] for r, c in cells], np.array(keep, dtype=np.int64),
                   grid.updated_ms)

    def select_rows(self, keep: Sequence[int] | np.ndarray) -> TabCells:
        """Only the rows at the given indices (in that order)."""
        index = np.asarray(keep, dtype=np.int64)
        if len(index) == len(self.tests) and bool((index == np.arange(len(index))).all()):
            return self  # every row, in order (the usual case of each filter): no copy
        return replace(self, tests=[self.tests[i] for i in index.tolist()], status=self.status[index],
                       rows=self.rows[index])


def _status_matrix(grid: Grid | TabCells) -> np.ndarray:
    """The grid's statuses as one int8 array (rows × columns)."""
    if isinstance(grid, TabCells):
        return grid.status
    return np.array(grid.statuses, dtype=np.int8).reshape(len(grid.tests), len(grid.columns))


# ---------------------------------------------------------------- alerts


@dataclass(frozen=True, slots=True)
class Alert:
    """An open alert on one test (TestGrid's ``AlertInfo`` / summary ``FailingTestSummary``).

    Fields a source does not carry are None: a summary knows no build ids, a legacy table
    alert no streak length.
    """

    test: str
    fail_count: int  # every FAIL seen until the scan stopped (not only the streak)
    streak: int | None = None  # consecutive failures that opened the alert
    fail_build: str | None = None  # oldest failure of the outage: build id …
    fail_label: str | None = None  # … and TestGrid's name for it (first custom header)
    fail_time_ms: int | None = None
    latest_fail_build: str | None = None
    pass_build: str | None = None  # last pass before the outage, if within the grid
    pass_label: str | None = None
    pass_time_ms: int | None = None
    failure_message: str = ""  # message of the newest failure of the streak


def row_alert(grid: Grid, row: int | str, *, open_after: int = 3, close_after: int = 1,
              variant: str = "current", recent: int = 10) -> Alert | None:
    """The alert on one row, or None (``alertRow``, consecutive-failure rule of 2021-10).

    Walk newest → oldest, RUNNING as blank; blank and UNKNOWN neither count nor break a
    streak. FAIL extends the streak; PASS closes it after ``close_after`` passes (before it
    reached ``open_after`` failures: no alert; after: the alert stands and that pass is the
    last good run); FLAKY ends an open streak (the alert stands) or resets a short one.
    ``variant="2020"`` reproduces older data: stale rows (no result in the newest ``recent``
    columns) get no alert and ``fail_count`` counts only the final streak.
    """
    if isinstance(row, str):
        if row not in grid.tests:
            raise UsageError(f'grid {grid.name!r} has no test "{row}"')
        row = grid.tests.index(row)
    alerts = _alerts(TabCells.of(grid, [row]), open_after=open_after, close_after=close_after, variant=variant,
                     recent=recent)
    return alerts[0] if alerts else None


def _alerts(tab: TabCells, *, open_after: int, close_after: int, variant: str, recent: int) -> tuple[Alert, ...]:
    """The alerts of the tab's rows, in row order (:func:`row_alert`'s rule); the messages of
    the alerted cells asked for at once."""
    if open_after <= 0:
        return ()
    if close_after <= 0:
        close_after = 1
    coalesced = np.take(_COALESCED_CODES[True], tab.status)  # take: 2.5× a fancy index's speed here
    fails = coalesced == TestStatus.FAIL
    if close_after == 1 and fails.shape[1]:
        # the walk stops at a row's first PASS, alerting only if open_after FAILs came before it
        passes = coalesced == TestStatus.PASS
        first_pass = np.where(passes.any(axis=1), passes.argmax(axis=1), passes.shape[1])
        fails &= np.arange(passes.shape[1]) < first_pass[:, None]
    candidates = np.flatnonzero(fails.sum(axis=1) >= open_after)  # fewer FAILs can make no streak
    if variant == "2020":
        candidates = candidates[_leading_blanks(tab.status[candidates]) < recent]
    found = [(r, walk) for r in candidates.tolist()
             if (walk := _alert_walk(tab.status[r].tolist(), open_after, close_after))]
    messages = tab.messages([(int(tab.rows[r]), walk[3]) for r, walk in found])
    alerts = []
    for (r, (streak, total, first, latest, last_pass)), message in zip(found, messages, strict=True):
        fail, good = tab.columns[first], tab.columns[last_pass] if last_pass is not None else None
        alerts.append(Alert(test=tab.tests[r], fail_count=streak if variant == "2020" else total,
                            streak=streak, fail_build=fail.build,
                            fail_label=fail.label, fail_time_ms=fail.started_ms,
                            latest_fail_build=tab.columns[latest].build,
                            pass_build=good.build if good else None, pass_label=good.label if good else None,
                            pass_time_ms=good.started_ms if good else None,
                            failure_message=message))
    return tuple(alerts)


def _alert_walk(cells: Sequence[int], open_after: int, close_after: int
                ) -> tuple[int, int, int, int, int | None] | None:
    """One row's walk (see :func:`row_alert`): (streak, total failures, oldest failure's
    column, newest failure's column, last pass's column or None) of an alert, or None."""
    streak = total = passes = 0
    first = latest = last_pass = None
    for c, raw in enumerate(cells):
        value = _COALESCED[True][raw]
        if value == TestStatus.PASS:
            passes += 1
            if streak >= open_after:
                last_pass = c
                break
            if passes >= close_after:
                return None
            streak = 0
        elif value == TestStatus.FAIL:
            passes = 0
            streak += 1
            total += 1
            if streak == 1:
                latest = c
            first = c
        elif value == TestStatus.FLAKY:
            passes = 0
            if streak >= open_after:
                break
            streak = 0
    if streak < open_after or first is None or latest is None:
        return None
    return streak, total, first, latest, last_pass


# ---------------------------------------------------------------- tab summary


class TabStatus(enum.IntEnum):
    """A tab's overall status (``pb/summary/summary.proto``)."""

    NOT_SET = 0
    UNKNOWN = 1
    PASS = 2
    FAIL = 3
    FLAKY = 4
    STALE = 5
    BROKEN = 6
    PENDING = 7
    ACCEPTABLE = 8

    @property
    def label(self) -> str:
        """As summaries print it: PASSING, FAILING, FLAKY …; "" for UNKNOWN and NOT_SET."""
        return {0: "", 1: "", 2: "PASSING", 3: "FAILING"}.get(self.value, self.name)

    @property
    def icon(self) -> str:
        """The legacy summary's ``overall_status_icon``."""
        return {2: "done", 3: "warning", 4: "remove_circle_outline",
                5: "error_outline"}.get(self.value, "")

    @classmethod
    def from_label(cls, label: str) -> TabStatus:
        label = label.strip().upper()
        if label in ("", "UNKNOWN"):
            return cls.UNKNOWN
        named = {"PASSING": cls.PASS, "FAILING": cls.FAIL}.get(label) or cls.__members__.get(label)
        if named is None:
            raise ValueError(f'unknown tab status "{label}"; expected one of PASSING, FAILING, '
                             "FLAKY, STALE, BROKEN, PENDING, ACCEPTABLE or empty")
        return named


# Dashboard roll-up: the worst tab wins.
_ROLL_UP = (TabStatus.BROKEN, TabStatus.STALE, TabStatus.FAIL, TabStatus.FLAKY,
            TabStatus.PENDING, TabStatus.ACCEPTABLE, TabStatus.PASS)


def dashboard_status(statuses: Iterable[TabStatus]) -> TabStatus:
    """A dashboard's status from its tabs' (``dashboardSummary``): the worst tab wins."""
    seen = set(statuses)
    return next((s for s in _ROLL_UP if s in seen), TabStatus.UNKNOWN)


class StatusCounts(NamedTuple):
    """The four numbers of the status string, over the newest ``recent`` columns."""

    passing_columns: int
    completed_columns: int
    passing_cells: int
    filled_cells: int


NO_RUNS = "no completed results"
NO_GREENS = "no recent greens"
_STATUS_RE = re.compile(r"(?:Tab stats: )?(\d+) of (\d+) \([\d.]+ ?%\) recent columns passed "
                        r"\((\d+) of (\d+) or [\d.]+ ?% cells\)")


def format_status(counts: StatusCounts, *, prefix: str = "") -> str:
    """``"7 of 10 (70.0%) recent columns passed (3045 of 3181 or 95.7% cells)"``, or
    ``"no completed results"`` when no cell is filled (``statusMessage``)."""
    pc, cc, pcells, fcells = counts
    if fcells == 0:
        return NO_RUNS
    return (f"{prefix}{pc} of {cc} ({100 * pc / cc:.1f}%) recent columns passed "
            f"({pcells} of {fcells} or {100 * pcells / fcells:.1f}% cells)")


def parse_status(text: str) -> StatusCounts | None:
    """The counts in a status string (legacy, ``Tab stats:`` and API v1 spellings)."""
    match = _STATUS_RE.search(text or "")
    return StatusCounts(*map(int, match.groups())) if match else None


@dataclass(frozen=True, slots=True)
class SummaryConfig:
    """The tab and test-group options :func:`tab_summary` honours, with testgrid.k8s.io's
    defaults. Options behind summarizer flags that production leaves off are marked."""

    num_columns_recent: int = 10  # k8s config default; the open-source summarizer's is 5
    include: tuple[str, ...] = ()  # base_options include-filter-by-regex
    exclude: tuple[str, ...] = ()  # base_options exclude-filter-by-regex
    num_failures_to_alert: int = 3  # 0 = no alerts
    num_passes_to_disable_alert: int = 1
    alert_stale_results_hours: int = 0  # 0 = only an empty grid makes a tab STALE …
    empty_is_stale: bool = True  # … as on testgrid.k8s.io; False: current open source
    broken_column_threshold: float = 0.0  # 0 = never BROKEN
    use_first_extra: bool = True  # latest green names the first custom header (k8s client)
    # --allow-min-num-runs / --allow-ignored-columns / --allow-fuzzy-flakiness (off in prod)
    min_acceptable_runs: int = 0
    ignored_test_statuses: frozenset[TestStatus] = frozenset()
    max_acceptable_flakiness: float = 0.0
    # Historic variants: 2020's status string also failed a column on a FLAKY cell; 2020's
    # alerts skipped stale rows and counted only the final streak.
    flaky_fails_column: bool = False
    alert_variant: str = "current"
    tab_stats_prefix: bool = False  # "Tab stats: " prefix of summaries since 2022-10

    def __post_init__(self) -> None:
        if self.num_columns_recent < 1:
            raise UsageError(f"num_columns_recent is {self.num_columns_recent}; expected 1 or "
                             "more (TestGrid's default is 5, testgrid.k8s.io's 10)")
        if self.alert_variant not in ("current", "2020"):
            raise UsageError(f'alert_variant is "{self.alert_variant}"; expected "current" '
                             'or "2020"')

    @classmethod
    def from_base_options(cls, base_options: str, **options: Any) -> SummaryConfig:
        """A config from a tab's ``base_options`` query string (``exclude-filter-by-regex=…``)."""
        query = parse_qs(base_options.lstrip("?&"), keep_blank_values=False)
        return cls(include=tuple(query.get("include-filter-by-regex", ())),
                   exclude=tuple(query.get("exclude-filter-by-regex", ())), **options)


@dataclass(frozen=True, slots=True)
class TabSummary:
    """What TestGrid's summary shows for one tab. Parsed summaries leave unknowns None."""

    name: str
    overall_status: TabStatus
    status: str  # "N of M (P%) recent columns passed (X of Y or Z% cells)"
    latest_green: str
    alerts: tuple[Alert, ...] = ()
    stale_alert: str = ""  # "", "no completed results", "latest column from …"
    last_run_ms: int | None = None
    updated_ms: int | None = None
    counts: StatusCounts | None = None
    ignored_columns: int = 0
    column_failure_ratios: tuple[float, ...] = ()


def status_counts(grid: Grid | TabCells, recent: int, *, flaky_fails_column: bool = False
                  ) -> tuple[StatusCounts, list[float]]:
    """``gridMetrics``: the status-string counts over the newest ``recent`` columns (RUNNING
    counted as blank) and each column's failure ratio FAIL / non-blank cells."""
    pc = cc = pcells = fcells = 0
    ratios: list[float] = []
    values = _COALESCED_CODES[True][_status_matrix(grid)[:, :recent]]
    passing = (values == TestStatus.PASS).sum(axis=0).tolist()
    failing = (values == TestStatus.FAIL).sum(axis=0).tolist()
    filled = (values != TestStatus.NO_RESULT).sum(axis=0).tolist()
    for passes, fails, cells in zip(passing, failing, filled, strict=True):
        other = cells - passes - fails
        if cells:
            cc += 1
        if passes and not fails and not (flaky_fails_column and other):
            pc += 1
        pcells += passes
        fcells += cells
        ratios.append(fails / cells if cells else 0.0)
    return StatusCounts(pc, cc, pcells, fcells), ratios


def latest_green(grid: Grid | TabCells, *, use_first_extra: bool = True) -> str:
    """The newest column with at least one PASS and no FAIL, FLAKY or UNKNOWN (RUNNING counts
    as UNKNOWN), named by its first custom header or build; else ``"no recent greens"``."""
    green = np.flatnonzero(_column_bits(_status_matrix(grid), _GREEN_BITS) == _PASSED)
    if green.size:
        column = grid.columns[int(green[0])]
        return column.label if use_first_extra else column.build
    return NO_GREENS


# Per cell, the facts the column scans OR together (one table lookup and one reduction per
# matrix): whether it is RUNNING, filled, not passing (filled but not PASS), PASS — coalesced
# with RUNNING as blank for the overall-status scan; with RUNNING as UNKNOWN for latest green,
# where "bad" is FAIL, FLAKY or UNKNOWN.
_RUNNING, _FILLED, _BAD, _PASSED = 1, 2, 4, 8
_SCAN_BITS = np.array([(_RUNNING if s == TestStatus.RUNNING else 0)
                       | (_FILLED if c != TestStatus.NO_RESULT else 0)
                       | (_BAD if c not in (TestStatus.NO_RESULT, TestStatus.PASS) else 0)
                       | (_PASSED if c == TestStatus.PASS else 0)
                       for s, c in zip(TestStatus, _COALESCED[True], strict=True)], dtype=np.uint8)
_GREEN_BITS = np.array([(_PASSED if c == TestStatus.PASS else 0)
                        | (_BAD if c in (TestStatus.FAIL, TestStatus.FLAKY, TestStatus.UNKNOWN) else 0)
                        for c in _COALESCED[False]], dtype=np.uint8)


def _column_bits(raw: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """Per column of a status matrix: the OR of its cells' ``bits`` (a table by status code)."""
    if not raw.shape[0]:
        return np.zeros(raw.shape[1], dtype=np.uint8)
    out: np.ndarray = np.bitwise_or.reduce(np.take(bits, raw), axis=0)
    return out


def _scan_recent(grid: Grid | TabCells, cfg: SummaryConfig) -> tuple[bool, bool, int]:
    """The overall-status scan: (flaky, found a pass, ignored columns) over the newest
    ``recent`` completed, non-running columns."""
    flaky = found = False
    used = ignored = 0
    raw = _status_matrix(grid)
    bits = _column_bits(raw, _SCAN_BITS).tolist()
    ignored_in: list[bool] = [False] * len(bits)
    if cfg.ignored_test_statuses:
        ignored_in = np.logical_or.reduce(np.isin(raw, [int(s) for s in cfg.ignored_test_statuses]), axis=0).tolist()
    for column, has_ignored in zip(bits, ignored_in, strict=True):
        running, filled, bad, passed = (bool(column & bit) for bit in (_RUNNING, _FILLED, _BAD, _PASSED))
        if used >= cfg.num_columns_recent:
            break
        if running:
            # Unfinished: not counted as recent. Upstream quirk kept: its failures still
            # make the tab FLAKY.
            flaky = flaky or bad
            continue
        if not filled:
            continue  # all blank
        used += 1
        if has_ignored:
            ignored += 1  # counted, failures forgiven
            continue
        flaky = flaky or bad
        found = found or passed
    return flaky, found, ignored


def _go_time(ms: int) -> str:
    when = datetime.fromtimestamp(ms / 1000, tz=UTC)
    frac = f".{when.microsecond:06d}".rstrip("0").rstrip(".")
    return f"{when:%Y-%m-%d %H:%M:%S}{frac} +0000 UTC"


def _go_duration(ms: int) -> str:
    quarter = 15 * 60 * 1000  # Duration.Truncate(15 * time.Minute)
    seconds = ms // quarter * quarter // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def stale_alert(grid: Grid | TabCells, *, stale_hours: int = 0, now_ms: int | None = None,
                empty_is_stale: bool = True) -> str:
    """``staleAlert``: why the tab's results are stale, or "".

    A grid without columns is ``"no completed results"`` whatever ``stale_hours`` says when
    ``empty_is_stale`` (testgrid.k8s.io 2020 data and the early open-source summarizer);
    the current summarizer checks it, and a grid without rows, only when stale_hours > 0.
    """
    latest = grid.columns[0].started_ms if grid.columns else None
    if not latest and empty_is_stale:
        return NO_RUNS
    if stale_hours <= 0:
        return ""
    if not latest or not grid.tests:
        return NO_RUNS
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    limit = stale_hours * 3600 * 1000
    if grid.updated_ms is not None and now - grid.updated_ms > limit:
        return (f"data has not changed since {_go_time(grid.updated_ms)} "
                f"({_go_duration(now - grid.updated_ms)} old)")
    if now - latest > limit:
        return f"latest column from {_go_time(latest)} ({_go_duration(now - latest)} old)"
    return ""


def tab_summary(grid: Grid | TabCells, *, config: SummaryConfig | None = None,
                now_ms: int | None = None) -> TabSummary:
    """Recompute TestGrid's summary of one tab (``updateTab``).

    Rows are filtered first: stale rows (no result in the newest ``num_columns_recent``
    columns), ``@TESTGRID@`` rows, then the include/exclude regexes. The overall status is
    decided in TestGrid's order: BROKEN, STALE, FAILING (any alert), PENDING, then a scan
    of the recent columns — any failure, flake or unknown makes it FLAKY (or ACCEPTABLE
    within ``max_acceptable_flakiness``), else PASSING, else UNKNOWN.
    """
    cfg = config or SummaryConfig()
    recent = cfg.num_columns_recent
    tab = grid if isinstance(grid, TabCells) else TabCells.of(grid)
    rows = tab.select_rows(_recent_rows(tab.status, recent))
    rows = rows.select_rows([i for i, t in enumerate(rows.tests) if "@TESTGRID@" not in t])
    rows = rows.select_rows(_matching_rows(rows.tests, cfg.include, cfg.exclude))
    counts, ratios = status_counts(rows, recent, flaky_fails_column=cfg.flaky_fails_column)
    alerts = _alerts(rows, open_after=cfg.num_failures_to_alert, close_after=cfg.num_passes_to_disable_alert,
                     variant=cfg.alert_variant, recent=recent)
    stale = stale_alert(rows, stale_hours=cfg.alert_stale_results_hours, now_ms=now_ms,
                        empty_is_stale=cfg.empty_is_stale)
    flaky, found, ignored = _scan_recent(rows, cfg)
    valid = counts.completed_columns - ignored
    if cfg.broken_column_threshold > 0 and any(r > cfg.broken_column_threshold for r in ratios):
        overall = TabStatus.BROKEN
    elif stale:
        overall = TabStatus.STALE
    elif alerts:
        overall = TabStatus.FAIL
    elif cfg.min_acceptable_runs > valid:
        overall = TabStatus.PENDING
    elif flaky:
        overall = TabStatus.FLAKY
        if cfg.max_acceptable_flakiness > 0 and valid > 0 and \
                100 * counts.passing_columns / valid >= 100 - cfg.max_acceptable_flakiness:
            overall = TabStatus.ACCEPTABLE
    else:
        overall = TabStatus.PASS if found else TabStatus.UNKNOWN
    status = format_status(counts, prefix="Tab stats: " if cfg.tab_stats_prefix else "")
    if cfg.tab_stats_prefix and status != NO_RUNS:
        if ignored:
            status += f". {ignored} columns ignored"
        if overall == TabStatus.PENDING:
            status += "\nStatus info: Not enough runs"
        elif overall == TabStatus.ACCEPTABLE:
            flakiness = 100 - 100 * counts.passing_columns / valid
            status += (f"\nStatus info: Recent flakiness ({flakiness:.1f}%) over valid columns"
                       " is within configured acceptable level of "
                       f"{cfg.max_acceptable_flakiness:.1f}%.")
    return TabSummary(
        name=grid.name, overall_status=overall, status=status,
        latest_green=latest_green(rows, use_first_extra=cfg.use_first_extra), alerts=alerts,
        stale_alert=stale, last_run_ms=grid.columns[0].started_ms if grid.columns else None,
        updated_ms=grid.updated_ms, counts=counts, ignored_columns=ignored,
        column_failure_ratios=tuple(ratios))
