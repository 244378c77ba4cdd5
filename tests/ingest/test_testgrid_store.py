"""TestGrid dumps ingested into the store: tables become runs, summaries are kept — both engines."""

from __future__ import annotations

from ciscope.analysis.grid import tab_summary
from ciscope.analysis.summary import (
    TabOptions,
    compare_upstream,
    job_grid,
    tab_report,
    tab_reports,
    upstream_summaries,
)
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


LEGACY = "testgrid/sippy-testgrid-legacy"


def test_every_dump_is_rebuilt_from_the_store_as_it_was(store, shared_data):
    """Each shared /table, stored as runs under its tab and rebuilt by job_grid, gives the
    dump's grid back: the same rows (one Overall row only where the dump has one), cells,
    messages and column names (custom headers) — so its tab summary is the dump's."""
    tables = sorted((shared_data / LEGACY / "table").glob("*.json"))
    report = ingest(store, [str(p) for p in tables])
    assert not report.refused and len(tables) == 8
    for path in tables:
        dumped = read_table(path)
        rebuilt = job_grid(store, dumped.name, columns=None)
        assert sorted(rebuilt.tests) == sorted(dumped.tests), path.name
        assert rebuilt.tests.count("Overall") == dumped.tests.count("Overall") <= 1
        assert rebuilt.builds == dumped.builds and [c.label for c in rebuilt.columns] == [c.label for c in dumped.columns]
        assert rebuilt.started_ms == dumped.started_ms
        for test, statuses, messages in zip(dumped.tests, dumped.statuses, dumped.messages):
            assert rebuilt.row(test) == statuses, (path.name, test)
            assert rebuilt.messages[rebuilt.tests.index(test)] == messages, (path.name, test)
        mine, theirs = tab_summary(rebuilt), tab_summary(dumped)
        assert (mine.overall_status, mine.status, mine.latest_green, sorted(mine.alerts, key=str)) == (
            theirs.overall_status, theirs.status, theirs.latest_green, sorted(theirs.alerts, key=str)), path.name
    jobs = [row[0] for row in store.query("SELECT job FROM jobs ORDER BY job")]
    assert "release-openshift-ocp-installer-e2e-gcp-fips-4.4" in jobs  # the empty tab is kept
    assert not any(job.startswith("releaseopenshift") for job in jobs)  # no mangled group names


def test_imported_summaries_compared_with_the_recomputation(store, shared_data):
    folder = shared_data / LEGACY
    tables = ["4.4-informing__release-openshift-origin-installer-e2e-aws-upgrade-rollback-4.4.table.json",
              "4.10-informing__release-openshift-ocp-installer-e2e-metal-compact-4.10.table.json"]
    summaries = ["4.4-informing.summary.json", "4.4-informing.summary.2020-03.json", "4.10-informing.summary.json"]
    ingest(store, [str(folder / "table" / f"redhat-openshift-ocp-release-{t}") for t in tables]
           + [str(folder / "summary" / f"redhat-openshift-ocp-release-{s}") for s in summaries])
    rollback = "release-openshift-origin-installer-e2e-aws-upgrade-rollback-4.4"
    published = upstream_summaries(store, tab=rollback)
    assert [u.overall_status for u in published] == ["FLAKY", "FLAKY"]  # two captures, newest first
    assert published[0].last_run_ms > published[1].last_run_ms
    assert published == [s for s in upstream_summaries(store) if s.tab == rollback]

    sippy = TabOptions(exclude=(r"Monitor\scluster", r"^operator.Run template.*container test$"))
    reports = {r.job: r for r in tab_reports(store, given=sippy)}
    assert set(reports) == {rollback, "release-openshift-ocp-installer-e2e-metal-compact-4.10"}
    for report in reports.values():
        assert report.agreement.agrees is True and report.upstream.last_run_ms == report.summary.last_run_ms
        assert report.upstream.status == report.summary.status
    # the older capture agrees as of its own last run
    grid = job_grid(store, rollback)
    older = compare_upstream(published[1], grid, sippy.summary_config())
    assert older.agrees is True and older.as_of_ms == published[1].last_run_ms < grid.started_ms[0]
    # unfiltered, the comparison names what differs
    plain = tab_report(store, rollback)
    assert plain.agreement.agrees is False
    assert set(plain.agreement.differs) == {"overall_status", "status", "latest_green", "alerts"}


def test_register_job_is_idempotent(store):
    store.register_job("empty-tab")
    store.register_job("empty-tab")
    assert store.query("SELECT job, first_seen FROM jobs") == [("empty-tab", None)]
    [report] = tab_reports(store)
    assert (report.job, report.summary.overall_status.label, report.summary.status) == (
        "empty-tab", "STALE", "no completed results")
