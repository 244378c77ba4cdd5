"""TestGrid grids and tab summaries built from the store — on every engine."""

from __future__ import annotations

import numpy as np
from histories import history_runs

from ciscope.analysis.grid import TestStatus
from ciscope.analysis.summary import grid_json, job_grid, job_summaries
from ciscope.report.export import write_npz, write_parquet


def test_grid_cells_and_overall_row(store):
    store.write_runs(history_runs({"a": "PPFR", "b": "PSPF"}, filler=0))
    grid = job_grid(store, "e2e")
    assert grid.tests == ["Overall", "a", "b"]
    assert [c.build for c in grid.columns] == ["1003", "1002", "1001", "1000"]  # newest first
    assert grid.row("a") == [TestStatus.FLAKY, TestStatus.FAIL, TestStatus.PASS, TestStatus.PASS]
    assert grid.row("b") == [TestStatus.FAIL, TestStatus.PASS, TestStatus.PASS_WITH_SKIPS, TestStatus.PASS]
    assert grid.row("Overall") == [TestStatus.FAIL, TestStatus.FAIL, TestStatus.PASS, TestStatus.PASS]
    assert grid.messages[1][1] == "boom"


def test_grid_json_is_testgrid_table_shaped(store):
    store.write_runs(history_runs({"a": "PPFF"}, filler=0))
    table = grid_json(job_grid(store, "e2e"))
    row = next(t for t in table["tests"] if t["name"] == "a")
    assert row["statuses"] == [{"count": 2, "value": 12}, {"count": 2, "value": 1}]
    assert row["messages"] == ["boom", "boom", "", ""]
    assert table["changelists"] == ["1003", "1002", "1001", "1000"]
    assert table["timestamps"][0] > table["timestamps"][1]


def test_summary_alerts_after_three_failures(store):
    store.write_runs(history_runs({"ok": "PPPPPPPPPP", "broken": "PPPPPPPFFF", "flake": "PPPPPPPPRP"}, filler=0))
    [summary] = job_summaries(store)
    assert summary["overall_status"] == "FAILING"
    assert [a["test"] for a in summary["alerts"]] == ["Overall", "broken"]  # TestGrid alerts on Overall too
    alert = summary["alerts"][1]
    assert alert["fail_count"] == 3 and alert["fail_build"] == "1007" and alert["pass_build"] == "1006"
    # passing column: a PASS and no FAIL (a FLAKY cell does not fail it); cells: PASS / non-blank
    assert summary["status"] == "7 of 10 (70.0%) recent columns passed (33 of 40 or 82.5% cells)"
    assert summary["latest_green"] == "1006"


def test_exports(store, tmp_path):
    import pyarrow.parquet as pq

    store.write_runs(history_runs({"a": "PF", "b": "SP"}, filler=0))
    grid = job_grid(store, "e2e")
    write_npz(grid, tmp_path / "g.npz")
    data = np.load(tmp_path / "g.npz")
    assert data["statuses"].shape == (3, 2) and list(data["tests"]) == ["Overall", "a", "b"]
    assert data["statuses"][1].tolist() == [12, 1]
    write_parquet(grid, tmp_path / "g.parquet")
    table = pq.read_table(tmp_path / "g.parquet")
    assert table.num_rows == 6 and set(table.column_names) >= {"test", "build", "status", "duration"}


def test_runs_without_verdicts(store):
    """Runs with no test results have the Overall row only, in the grid (rows with durations)
    and in the summary (cells grouped by test and verdict): on PostgreSQL the reads of no rows
    come typed as nulls."""
    store.write_runs(history_runs({"a": "..."}, job="empty", filler=0))
    grid = job_grid(store, "empty")
    assert grid.tests == ["Overall"] and grid.row("Overall") == [TestStatus.PASS] * 3
    [summary] = job_summaries(store)
    assert summary["job"] == "empty" and summary["alerts"] == []
    assert summary["status"] == "3 of 3 (100.0%) recent columns passed (3 of 3 or 100.0% cells)"
