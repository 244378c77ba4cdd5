"""TestGrid dumps ingested into the store: tables become runs, summaries are kept — both engines."""

from __future__ import annotations

from ciscope.analysis.summary import job_grid
from ciscope.ingest.batch import BareRunOptions, ingest
from ciscope.ingest.testgrid import read_table

TABLE = ("sippy-testgrid-legacy/table/redhat-openshift-ocp-release-4.5-informing__"
         "release-openshift-origin-installer-e2e-aws-upgrade-4.4-stable-to-4.5-ci.table.json")
SUMMARY = "sippy-testgrid-legacy/summary/redhat-openshift-ocp-release-4.4-informing.summary.json"


def test_table_becomes_runs_and_round_trips(store, shared_data):
    path = shared_data / "testgrid" / TABLE
    grid = read_table(path)
    report = ingest(store, [str(path)], bare=BareRunOptions(job="aws-upgrade-4.4-to-4.5"))
    assert not report.refused
    assert report.runs == len(grid.columns) == 93
    assert ingest(store, [str(path)], bare=BareRunOptions(job="aws-upgrade-4.4-to-4.5")).skipped == 93
    rebuilt = job_grid(store, "aws-upgrade-4.4-to-4.5", columns=None)
    assert [c.build for c in rebuilt.columns] == [c.build for c in grid.columns]
    # every test row's cells survive the trip (running cells carry no result)
    for test, row in zip(grid.tests, grid.statuses):
        if test == "Overall":
            continue
        expected = [0 if v == 4 else v for v in row]
        if any(expected):
            assert rebuilt.row(test) == expected, test


def test_summary_is_stored(store, shared_data):
    path = shared_data / "testgrid" / SUMMARY
    report = ingest(store, [str(path)])
    assert report.summaries > 40 and not report.refused
    statuses = dict(store.query("SELECT overall_status, count(*) FROM testgrid_summaries GROUP BY overall_status"))
    assert set(statuses) <= {"PASSING", "FLAKY", "FAILING", "STALE", "BROKEN", ""}
    ingest(store, [str(path)])  # idempotent: replaced, not duplicated
    assert store.query("SELECT count(*) FROM testgrid_summaries")[0][0] == report.summaries


def test_not_testgrid_json_is_refused(store, tmp_path):
    bad = tmp_path / "other.json"
    bad.write_text('{"hello": 1}')
    report = ingest(store, [str(bad)])
    assert "not a TestGrid /table" in report.refused[0].reason
