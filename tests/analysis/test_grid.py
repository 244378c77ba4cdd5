"""TestGrid's grid model and tab-summary rules on small grids built in each test.

Expected values come from the rules in docs/grid.md (upstream: GoogleCloudPlatform/testgrid
``pkg/summarizer/summary.go``, ``pkg/updater`` ``alertRow``, ``internal/result``); the real
dumps are checked in test_testgrid_dumps.py.
"""

from __future__ import annotations

import pytest

from ciscope.analysis.grid import (
    Alert,
    Column,
    Grid,
    StatusClass,
    StatusCounts,
    SummaryConfig,
    TabStatus,
    TestStatus,
    coalesce,
    dashboard_status,
    expand_sparse,
    format_status,
    latest_green,
    merge_attempts,
    merge_cells,
    pairs_decode,
    pairs_encode,
    parse_status,
    rle_decode,
    rle_encode,
    row_alert,
    stale_alert,
    status_counts,
    tab_summary,
    to_ms,
)
from ciscope.errors import ReportError, UsageError

P, F, FL, R, U, B = (TestStatus.PASS, TestStatus.FAIL, TestStatus.FLAKY, TestStatus.RUNNING,
                     TestStatus.UNKNOWN, TestStatus.NO_RESULT)
HOUR = 3600 * 1000


def make_grid(rows: dict[str, list[int]], *, extra: bool = False, messages: dict | None = None,
              step_ms: int = HOUR, newest_ms: int = 100 * HOUR) -> Grid:
    """A grid whose columns are builds "n-1" … "0" (newest first), one hour apart."""
    n = len(next(iter(rows.values()))) if rows else 0
    columns = [Column(build=str(n - 1 - i), started_ms=newest_ms - i * step_ms,
                      extra=(f"x{n - 1 - i}",) if extra else ()) for i in range(n)]
    msgs = messages or {}
    return Grid(name="tab", columns=columns, tests=list(rows),
                statuses=[[int(v) for v in row] for row in rows.values()],
                messages=[list(msgs.get(t, [""] * n)) for t in rows])


# ---------------------------------------------------------------- status codes


def test_status_codes_match_the_proto():
    assert [s.name for s in TestStatus] == [
        "NO_RESULT", "PASS", "PASS_WITH_ERRORS", "PASS_WITH_SKIPS", "RUNNING",
        "CATEGORIZED_ABORT", "UNKNOWN", "CANCEL", "BLOCKED", "TIMED_OUT", "CATEGORIZED_FAIL",
        "BUILD_FAIL", "FAIL", "FLAKY", "TOOL_FAIL", "BUILD_PASSED"]
    assert [s.value for s in TestStatus] == list(range(16))


def test_severity_order():
    by_severity = sorted(TestStatus, key=lambda s: s.severity)
    assert [s.value for s in by_severity] == [0, 15, 1, 3, 2, 4, 5, 6, 7, 8, 13, 14, 9, 10, 11, 12]


@pytest.mark.parametrize("codes, cls", [
    ((0,), StatusClass.BLANK), ((1, 2, 3, 15), StatusClass.PASSING),
    ((9, 10, 11, 12, 14), StatusClass.FAILING), ((13,), StatusClass.FLAKY),
    ((4,), StatusClass.RUNNING), ((5, 6, 7, 8), StatusClass.UNKNOWN)])
def test_status_classes(codes, cls):
    assert {TestStatus(c).status_class for c in codes} == {cls}


@pytest.mark.parametrize("code, ignoring, showing", [
    (0, B, B), (1, P, P), (2, P, P), (3, P, P), (15, P, P), (4, B, U), (5, U, U), (6, U, U),
    (7, U, U), (8, U, U), (9, F, F), (10, F, F), (11, F, F), (12, F, F), (14, F, F),
    (13, FL, FL)])
def test_coalesce(code, ignoring, showing):
    assert coalesce(code) is ignoring
    assert coalesce(code, ignore_running=False) is showing


def test_merge_cells_most_severe_wins():
    assert merge_cells([P, FL, F]) is F
    assert merge_cells([P, TestStatus.PASS_WITH_SKIPS]) is TestStatus.PASS_WITH_SKIPS
    assert merge_cells([TestStatus.BUILD_PASSED, P]) is P
    assert merge_cells([]) is B


def test_merge_attempts_pass_and_fail_is_flaky():
    assert merge_attempts([F, P]) is FL
    assert merge_attempts([TestStatus.TIMED_OUT, TestStatus.PASS_WITH_SKIPS]) is FL
    assert merge_attempts([F, TestStatus.TIMED_OUT]) is F
    assert merge_attempts([P, TestStatus.CANCEL]) is TestStatus.CANCEL


@pytest.mark.parametrize("value, ms", [
    (1646968581, 1646968581000), (1588676119000, 1588676119000),
    (1613000037000000, 1613000037000), (0, None), (None, None), (1.5e9, 1_500_000_000_000)])
def test_to_ms_accepts_seconds_ms_and_microseconds(value, ms):
    assert to_ms(value) == ms


# ---------------------------------------------------------------- encodings


def test_rle_roundtrip_and_invariant():
    runs = [{"count": 2, "value": 1}, {"count": 1, "value": 0}, {"count": 3, "value": 12}]
    cells = rle_decode(runs, columns=6)
    assert cells == [1, 1, 0, 12, 12, 12]
    assert rle_encode(cells) == runs


def test_rle_count_mismatch_names_test_and_counts():
    with pytest.raises(ReportError, match=r'test "t1": statuses add up to 3 cells but the table '
                                          r"has 4 columns"):
        rle_decode([{"count": 3, "value": 1}], columns=4, test="t1", source="x.json")


def test_rle_rejects_unknown_code():
    with pytest.raises(ReportError, match=r'test "t": bad run'):
        rle_decode([{"count": 1, "value": 16}], test="t")


def test_state_proto_pairs():
    assert pairs_decode([0, 3, 5, 4]) == [0, 0, 0, 5, 5, 5, 5]
    assert pairs_encode([0, 0, 0, 5, 5, 5, 5]) == [0, 3, 5, 4]
    with pytest.raises(ValueError, match="pairs"):
        pairs_decode([1, 2, 3])


def test_sparse_messages_advance_only_on_non_blank_cells():
    cells = [12, 0, 0, 1, 12]
    assert expand_sparse(["a", "b", "c"], cells) == ["a", "", "", "b", "c"]
    assert expand_sparse([], cells) == [""] * 5
    with pytest.raises(ReportError, match=r'test "t": 5 messages for 3 non-blank cells'):
        expand_sparse(["m"] * 5, cells, test="t")


def legacy_table(**overrides):
    table = {
        "test-group-name": "group", "timestamps": [3000, 2000, 1000],
        "changelists": ["103", "102", "101"], "custom-columns": [["1", "", "1"], ["", "", ""]],
        "column-header-names": ["Date", "Time", "Build Number"],
        "tests": [
            {"name": "a", "statuses": [{"count": 1, "value": 12}, {"count": 1, "value": 0},
                                       {"count": 1, "value": 1}],
             "messages": ["boom", ""], "short_texts": ["F", ""]},
            {"name": "b", "statuses": [{"count": 3, "value": 1}],
             "messages": ["", "", ""], "short_texts": ["", "", ""],
             "graphs": [{"metric": ["test-duration-minutes"], "values": [[1.5, 2, 0.5]]}]},
        ],
    }
    table.update(overrides)
    return table


def test_from_testgrid_table_decodes_cells_and_sparse_messages():
    grid = Grid.from_testgrid_table(legacy_table(), name="tab")
    assert grid.name == "tab" and grid.tests == ["a", "b"]
    assert grid.builds == ["103", "102", "101"] and grid.started_ms == [3000, 2000, 1000]
    assert grid.statuses == [[12, 0, 1], [1, 1, 1]]
    # message 2 of row "a" belongs to column 2, not column 1 (the blank)
    assert grid.messages[0] == ["boom", "", ""]
    assert grid.icons is not None and grid.icons[0] == ["F", "", ""]
    assert grid.columns[0].extra == ("1", "") and grid.columns[1].label == ""
    assert grid.durations == [[None, None, None], [90.0, 120.0, 30.0]]
    assert [(t, c.build, s, m) for t, c, s, m, _ in grid.cells()][:2] == [
        ("a", "103", F, "boom"), ("a", "101", P, "")]


def test_from_testgrid_table_checks_column_count():
    table = legacy_table()
    table["tests"][1]["statuses"] = [{"count": 2, "value": 1}]
    with pytest.raises(ReportError, match=r'test "b": statuses add up to 2 cells but the table '
                                          r"has 3 columns"):
        Grid.from_testgrid_table(table, source="t.json")


def test_from_testgrid_table_sparse_durations_are_ignored():
    table = legacy_table()
    table["tests"][1]["graphs"][0]["values"] = [[1.0]]
    assert Grid.from_testgrid_table(table).durations is None


def test_grid_rejects_ragged_rows():
    with pytest.raises(UsageError, match=r'test "a": 1 statuses for 2 columns'):
        Grid(name="g", columns=[Column("2"), Column("1")], tests=["a"], statuses=[[1]],
             messages=[["", ""]])


def test_from_rows_merges_by_severity_and_keeps_winner_message():
    columns = [Column("2", 2000), Column("1", 1000)]
    grid = Grid.from_rows([("t", "2", P, "", 1.0), ("t", "2", F, "bad", 2.0),
                           ("t", "2", FL, "flaky", None), ("u", "1", P, None, None)],
                          name="job", columns=columns)
    assert grid.tests == ["t", "u"]
    assert grid.statuses == [[12, 0], [0, 1]]
    assert grid.messages == [["bad", ""], ["", ""]]
    assert grid.durations == [[2.0, None], [None, None]]


def test_from_rows_unknown_build():
    with pytest.raises(UsageError, match=r'build "9", which is not among the columns'):
        Grid.from_rows([("t", "9", P, "", None)], name="job", columns=[Column("1")])


def test_filters_and_stale_rows():
    grid = make_grid({"keep": [P, P, P], "Monitor cluster x": [F, F, F], "old": [B, B, F],
                      "x@TESTGRID@": [F, F, F]})
    assert grid.filter(exclude=[r"Monitor\scluster"]).tests == ["keep", "old", "x@TESTGRID@"]
    assert grid.filter(include=["e", "p"]).tests == ["keep"]
    assert grid.drop_stale(2).tests == ["keep", "Monitor cluster x", "x@TESTGRID@"]
    summary = tab_summary(grid, config=SummaryConfig(num_columns_recent=2,
                                                     exclude=(r"Monitor\scluster",)))
    assert summary.status == "2 of 2 (100.0%) recent columns passed (2 of 2 or 100.0% cells)"


def test_as_of_drops_newer_columns_and_empty_rows():
    grid = make_grid({"a": [F, P, P], "new": [P, B, B]})
    older = grid.as_of(grid.columns[1].started_ms)
    assert older.builds == ["1", "0"] and older.tests == ["a"] and older.statuses == [[1, 1]]


# ---------------------------------------------------------------- alerts


@pytest.mark.parametrize("row, count", [
    ([F, F, F, P], 3), ([P, F, F, F], None), ([F, F, P, F, F, F], None), ([F, F, F, F, P, F], 4),
    ([F, B, F, F], 3), ([F, F, FL, F], None)])
def test_alert_vectors(row, count):
    alert = row_alert(make_grid({"t": row}), "t")
    assert (alert.fail_count if alert else None) == count


def test_alert_payload():
    grid = make_grid({"t": [F, R, F, U, F, F, P, F]}, extra=True,
                     messages={"t": ["newest", "", "2", "", "3", "oldest", "", "x"]})
    alert = row_alert(grid, "t")
    assert alert == Alert(test="t", fail_count=4, streak=4, fail_build="2", fail_label="x2",
                          fail_time_ms=grid.columns[5].started_ms, latest_fail_build="7",
                          pass_build="1", pass_label="x1",
                          pass_time_ms=grid.columns[6].started_ms, failure_message="newest")


def test_alert_counts_all_failures_but_streak_separately():
    # flaky cell resets a short streak; the older streak opens the alert; fail_count counts all
    grid = make_grid({"t": [F, FL, F, F, F, P]}, messages={"t": ["a", "", "b", "c", "d", ""]})
    alert = row_alert(grid, "t")
    assert (alert.fail_count, alert.streak, alert.failure_message) == (4, 3, "b")
    old = row_alert(grid, "t", variant="2020")
    assert (old.fail_count, old.streak) == (3, 3)


def test_alert_options():
    grid = make_grid({"t": [F, F, P, F, F, F]})
    assert row_alert(grid, "t") is None
    # two passes needed to close: the single pass does not clear the older outage
    assert row_alert(grid, "t", close_after=2).fail_count == 5
    assert row_alert(grid, "t", open_after=0) is None
    assert row_alert(make_grid({"t": [F, F]}), "t", open_after=2).streak == 2


def test_alert_2020_variant_skips_stale_rows():
    grid = make_grid({"t": [B, B, F, F, F]})
    assert row_alert(grid, "t").fail_count == 3
    assert row_alert(grid, "t", variant="2020", recent=2) is None


# ---------------------------------------------------------------- status string


def test_format_status_like_testgrid():
    text = format_status(StatusCounts(7, 10, 3045, 3181))
    assert text == "7 of 10 (70.0%) recent columns passed (3045 of 3181 or 95.7% cells)"
    assert parse_status(text) == StatusCounts(7, 10, 3045, 3181)
    assert parse_status("Tab stats: 4 of 5 (80 %) recent columns passed (6 of 7 or 85.71 % "
                        "cells)") == StatusCounts(4, 5, 6, 7)
    assert format_status(StatusCounts(0, 0, 0, 0)) == "no completed results"
    assert parse_status("no completed results") is None


def test_status_counts_rules():
    grid = make_grid({
        "a": [P, P, P, R, P, F],
        "b": [F, FL, U, P, B, F],
        "c": [P, P, B, B, B, P],
    })
    counts, ratios = status_counts(grid, 5)
    # col0 has a FAIL; col1 FLAKY and col2 UNKNOWN don't fail a column; col3: RUNNING is blank;
    # col4 passes; col5 is beyond the 5 recent columns
    assert counts == StatusCounts(4, 5, 7, 10)
    assert ratios == [1 / 3, 0.0, 0.0, 0.0, 0.0]
    counts_2020, _ = status_counts(grid, 5, flaky_fails_column=True)
    assert counts_2020.passing_columns == 2


# ---------------------------------------------------------------- overall status


def overall(rows, **options):
    return tab_summary(make_grid(rows), config=SummaryConfig(**options)).overall_status


def test_empty_grid_is_stale():
    summary = tab_summary(make_grid({}))
    assert (summary.overall_status, summary.status, summary.latest_green, summary.stale_alert) == (
        TabStatus.STALE, "no completed results", "no recent greens", "no completed results")
    current = SummaryConfig(empty_is_stale=False)
    assert tab_summary(make_grid({}), config=current).overall_status is TabStatus.UNKNOWN


def test_alert_makes_failing():
    assert overall({"a": [F, F, F, P], "b": [P, P, P, P]}) is TabStatus.FAIL
    assert overall({"a": [F, F, F, P]}, num_failures_to_alert=0) is TabStatus.FLAKY


def test_passing_flaky_unknown():
    assert overall({"a": [P, P], "b": [B, P]}) is TabStatus.PASS
    assert overall({"a": [P, F], "b": [P, P]}) is TabStatus.FLAKY
    assert overall({"a": [P, U]}) is TabStatus.FLAKY
    assert overall({"a": [FL, P]}) is TabStatus.FLAKY
    # only the `recent` newest used columns are looked at
    assert overall({"a": [P, P, F]}, num_columns_recent=2) is TabStatus.PASS
    assert overall({"a": [U, U]}) is TabStatus.FLAKY


def test_running_and_blank_columns_are_not_counted():
    # the running column is skipped, so the scan reaches the failure in the third column
    assert overall({"a": [R, P, F], "b": [B, P, P]}, num_columns_recent=2) is TabStatus.FLAKY
    # a blank column is not counted either
    assert overall({"a": [B, P, F]}, num_columns_recent=2) is TabStatus.FLAKY
    # quirk: failures in the skipped running column still count
    assert overall({"a": [R, P, P], "b": [F, P, P]}, num_columns_recent=2) is TabStatus.FLAKY


def test_broken_pending_acceptable_ignored():
    rows = {"a": [F, P, P, P], "b": [F, P, P, P], "c": [P, P, P, P]}
    assert overall(rows) is TabStatus.FLAKY
    assert overall(rows, broken_column_threshold=0.5) is TabStatus.BROKEN
    assert overall(rows, broken_column_threshold=0.7) is TabStatus.FLAKY
    assert overall(rows, min_acceptable_runs=5) is TabStatus.PENDING
    assert overall(rows, max_acceptable_flakiness=25) is TabStatus.ACCEPTABLE
    assert overall(rows, max_acceptable_flakiness=20) is TabStatus.FLAKY
    ignored = {"a": [TestStatus.CANCEL, P], "b": [F, P]}
    assert overall(ignored) is TabStatus.FLAKY
    assert overall(ignored, ignored_test_statuses=frozenset({TestStatus.CANCEL})) is TabStatus.PASS


def test_tab_stats_variant():
    rows = {"a": [F, P, P, P], "b": [P, P, P, P]}
    summary = tab_summary(make_grid(rows), config=SummaryConfig(
        tab_stats_prefix=True, max_acceptable_flakiness=30))
    assert summary.overall_status is TabStatus.ACCEPTABLE
    assert summary.status == (
        "Tab stats: 3 of 4 (75.0%) recent columns passed (7 of 8 or 87.5% cells)\n"
        "Status info: Recent flakiness (25.0%) over valid columns is within configured "
        "acceptable level of 30.0%.")


def test_latest_green():
    grid = make_grid({"a": [P, P, P, P], "b": [F, R, P, P], "c": [B, B, B, P]}, extra=True)
    assert latest_green(grid) == "x1"  # column "2" is running: not green
    assert latest_green(grid, use_first_extra=False) == "1"
    assert latest_green(make_grid({"a": [F, FL, U]})) == "no recent greens"


def test_stale_alert_messages():
    grid = make_grid({"a": [P]}, newest_ms=1_600_000_000_000)
    now = grid.columns[0].started_ms + 26 * HOUR + 20 * 60 * 1000
    assert stale_alert(grid, stale_hours=0, now_ms=now) == ""
    assert stale_alert(grid, stale_hours=24, now_ms=now) == (
        "latest column from 2020-09-13 12:26:40 +0000 UTC (26h15m0s old)")
    grid.updated_ms = grid.columns[0].started_ms
    assert stale_alert(grid, stale_hours=24, now_ms=now).startswith(
        "data has not changed since 2020-09-13 12:26:40 +0000 UTC")
    summary = tab_summary(grid, config=SummaryConfig(alert_stale_results_hours=24), now_ms=now)
    assert summary.overall_status is TabStatus.STALE


def test_tab_status_labels():
    assert [s.label for s in TabStatus] == ["", "", "PASSING", "FAILING", "FLAKY", "STALE",
                                            "BROKEN", "PENDING", "ACCEPTABLE"]
    assert TabStatus.from_label("PASSING") is TabStatus.PASS
    assert TabStatus.from_label("") is TabStatus.UNKNOWN
    assert TabStatus.FLAKY.icon == "remove_circle_outline"
    with pytest.raises(ValueError, match="unknown tab status"):
        TabStatus.from_label("GREEN")


def test_dashboard_roll_up():
    assert dashboard_status([TabStatus.PASS, TabStatus.FLAKY, TabStatus.FAIL]) is TabStatus.FAIL
    assert dashboard_status([TabStatus.PASS, TabStatus.ACCEPTABLE]) is TabStatus.ACCEPTABLE
    assert dashboard_status([TabStatus.STALE, TabStatus.BROKEN]) is TabStatus.BROKEN
    assert dashboard_status([]) is TabStatus.UNKNOWN


def test_config_from_base_options():
    cfg = SummaryConfig.from_base_options(
        "exclude-filter-by-regex=Monitor%5Cscluster&include-filter-by-regex=%5Eoperator",
        num_columns_recent=5)
    assert cfg.exclude == (r"Monitor\scluster",) and cfg.include == ("^operator",)
    assert cfg.num_columns_recent == 5


def test_config_and_lookup_errors():
    with pytest.raises(UsageError, match="num_columns_recent is 0; expected 1 or more"):
        SummaryConfig(num_columns_recent=0)
    with pytest.raises(UsageError, match='alert_variant is "2019"'):
        SummaryConfig(alert_variant="2019")
    with pytest.raises(UsageError, match='has no test "nope"'):
        row_alert(make_grid({"a": [P]}), "nope")
    with pytest.raises(UsageError, match='has no test "nope"'):
        make_grid({"a": [P]}).row("nope")
