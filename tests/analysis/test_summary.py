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


def test_duckdb_bit_strings_equal_the_portable_lists(tmp_path):
    """DuckDB reads the summary's cells as bit strings over the runs (grid_verdict_bits), every
    other engine as lists of run ids: the same cells — here over 9 runs of two jobs (bit
    strings padded to whole bytes), with absent, skipped, flaky and failed cells."""
    from ciscope.analysis.summary import _read_cells
    from ciscope.queries.grid import jobs_runs
    from ciscope.store import connect

    with connect(f"duckdb:///{tmp_path / 'cells.duckdb'}") as store:
        store.write_runs(history_runs({"a": "PPFR.S", "b": ".FFFPP", "c": "SSSSSS"}, job="one", filler=2))
        store.write_runs(history_runs({"a": "RFP", "d": "P.P", "e": "XPF"}, job="two", filler=0))
        runs = jobs_runs(store, ["one", "two"], columns=None)
        ids = [r.run_id for job in ("one", "two") for r in runs[job]]
        assert len(ids) == 9  # not a multiple of 8: the bit strings are padded

        def cells(portable: bool) -> list[tuple[int, str, int]]:
            found = _read_cells(store, ids, durations=False, portable=portable)
            assert found is not None and found.seconds is None
            return sorted(zip(found.place.tolist(), [found.names[t] for t in found.test.tolist()],
                              found.codes.tolist(), strict=True))

        bits, lists = cells(False), cells(True)
        assert len(bits) == 5 + 5 + 6 + 2 * 6 + 3 + 2 + 3  # every present cell, absent ones not
        assert bits == lists
