"""Prow/GCS run folders → runs, on both engines (the shared suite's ingest half)."""

from __future__ import annotations

import json

import pytest
from runfolders import JUNIT, write_run

from ciscope.analysis.stats import list_runs, stats_by_test
from ciscope.errors import UsageError
from ciscope.ingest.batch import BareRunOptions, ingest
from ciscope.ingest.prow import find_run_folders, read_run
from ciscope.model import RunStatus


def test_read_run_metadata_and_results(tmp_path):
    folder = write_run(tmp_path, "periodic-e2e-aws", "101")
    run = read_run(folder)
    assert (run.job, run.build, run.status) == ("periodic-e2e-aws", "101", RunStatus.FAILURE)
    assert run.commit == "rev101" and run.branch == "4.18" and run.worker == "worker-3"
    assert run.variants == {"platform": "aws", "network": "ovn"}
    assert run.started_at.timestamp() == 1793000000 + 101 * 3600
    assert run.logs == ["build-log.txt"]
    attempts = [(r.name, r.attempt, r.status.value) for r in run.results]
    assert ("[sig-b] flakes", 0, "failed") in attempts and ("[sig-b] flakes", 1, "passed") in attempts
    assert all(r.file == "artifacts/e2e/junit/junit_e2e.xml" for r in run.results)


def test_layouts_are_recognised(tmp_path):
    write_run(tmp_path, "periodic-a", "1")
    write_run(tmp_path, "pull-ci-b", "2", layout="pr")
    write_run(tmp_path / "plain", "job-c", "3", layout="plain")
    folders = sorted(find_run_folders(tmp_path))
    runs = [read_run(f) for f in folders]
    by_job = {r.job: r for r in runs}
    assert set(by_job) == {"periodic-a", "pull-ci-b", "job-c"}
    assert by_job["pull-ci-b"].pr == "openshift_origin#1234"
    assert by_job["periodic-a"].pr is None


def test_ingest_is_idempotent_and_replace_reingests(store, tmp_path):
    for build in ("1", "2", "3"):
        write_run(tmp_path, "periodic-e2e", build, gz=build == "2")
    first = ingest(store, [tmp_path])
    assert (first.runs, first.results, first.refused) == (3, 12, [])
    again = ingest(store, [tmp_path])
    assert (again.runs, again.skipped, again.results) == (0, 3, 0)
    assert store.query("SELECT count(*) FROM test_results")[0][0] == 12
    replaced = ingest(store, [tmp_path / "logs" / "periodic-e2e" / "2"], replace=True)
    assert replaced.replaced == 1
    assert store.query("SELECT count(*) FROM test_results")[0][0] == 12
    [row] = [s for s in stats_by_test(store) if s["test"] == "[sig-b] flakes"]
    assert (row["runs"], row["flaked"], row["flake_rate"]) == (3, 3, 1.0)


def test_pending_run_is_stored_then_completed(store, tmp_path):
    folder = write_run(tmp_path, "periodic-e2e", "5", result=None)
    report = ingest(store, [tmp_path])
    assert report.pending == 1
    assert list_runs(store)[0]["status"] == "pending"
    (folder / "finished.json").write_text(json.dumps({"timestamp": 1793100000, "passed": True, "result": "SUCCESS"}))
    report = ingest(store, [tmp_path])
    assert report.replaced == 1 and report.pending == 0
    assert list_runs(store)[0]["status"] == "success"


BAD_INPUTS = {
    "malformed finished.json": ("finished.json", b'{"result": "SUCCESS",', "malformed JSON"),
    "empty started.json": ("started.json", b"", "empty file"),
    "unknown result": ("finished.json", b'{"result": "EXPLODED"}', "'EXPLODED' is not a known run status"),
    "non-object JSON": ("started.json", b"[1, 2]", "expected a JSON object"),
    "bad timestamp": ("started.json", b'{"timestamp": "yesterday"}', "expected epoch seconds"),
}
BAD_REPORTS = {
    "truncated junit": ("artifacts/junit_x.xml", b"<testsuite><testcase name='a'>", "junit_x.xml"),
    "empty junit": ("artifacts/junit_y.xml", b"", "junit_y.xml"),
    "xxe junit": ("artifacts/junit_z.xml",
                  b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                  b"<testsuite><testcase name='&x;'/></testsuite>", "junit_z.xml"),
}


@pytest.mark.parametrize("case", sorted(BAD_REPORTS))
def test_a_bad_report_leaves_its_run_incomplete(store, tmp_path, case):
    """A run folder with one unreadable report among several: the readable ones are stored,
    the run is marked incomplete with the refusal recorded, and the lost file's tests have
    no verdict in that run (they are not counted as passed)."""
    relative, content, expected = BAD_REPORTS[case]
    write_run(tmp_path, "periodic-e2e", "1")
    bad = write_run(tmp_path, "periodic-e2e", "2")
    (bad / relative).parent.mkdir(parents=True, exist_ok=True)
    (bad / relative).write_bytes(content)
    (bad / "artifacts" / "junit_w.xml").write_text('<testsuite><testcase name="only-here"/></testsuite>')
    report = ingest(store, [tmp_path])
    assert (report.runs, report.incomplete) == (2, 1)
    [refused] = report.refused
    assert expected in refused.reason and refused.path == str(bad / relative)
    assert refused.run == "periodic-e2e/2"
    metadata = json.loads(store.query("SELECT metadata FROM runs WHERE build = '2'")[0][0])
    assert metadata["incomplete"] is True
    assert [r["file"] for r in metadata["refused"]] == [str(bad / relative)]
    assert store.query("SELECT status FROM runs WHERE build = '2'")[0][0] == "failure"  # finished.json's
    assert store.query("SELECT count(*) FROM test_results")[0][0] == 4 + 4 + 1
    verdicts = dict(store.query("SELECT test, verdict FROM test_verdicts v JOIN runs r ON r.run_id = v.run_id"
                                " WHERE r.build = '2'"))
    assert verdicts["only-here"] == "passed" and "a" not in verdicts
    # the same run is not reported again once stored
    again = ingest(store, [tmp_path])
    assert (again.skipped, again.refused, again.incomplete) == (2, [], 0)


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_a_bad_run_is_refused_whole_and_the_batch_goes_on(store, tmp_path, case):
    relative, content, expected = BAD_INPUTS[case]
    write_run(tmp_path, "periodic-e2e", "1")
    bad = write_run(tmp_path, "periodic-e2e", "2")
    write_run(tmp_path, "periodic-e2e", "3")
    (bad / relative).parent.mkdir(parents=True, exist_ok=True)
    (bad / relative).write_bytes(content)
    report = ingest(store, [tmp_path])
    assert report.runs == 2
    [refused] = report.refused
    assert expected in refused.reason and str(bad) in refused.path
    assert sorted(r[0] for r in store.query("SELECT build FROM runs")) == ["1", "3"]
    # nothing of the refused run was written
    assert store.query("SELECT count(*) FROM test_results")[0][0] == 8


def test_missing_path_is_refused(store, tmp_path):
    report = ingest(store, [tmp_path / "nope"])
    assert report.refused[0].reason == "no such file or folder"


def test_bare_reports_form_one_run(store, tmp_path):
    (tmp_path / "junit_a.xml").write_text(JUNIT)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "junit_b.xml").write_text(JUNIT.replace("[sig-", "[other-"))
    options = BareRunOptions(job="unit", commit="abc", variants={"arch": "arm64"})
    report = ingest(store, [tmp_path], bare=options)
    assert (report.runs, report.results) == (1, 8)
    [run] = list_runs(store)
    assert (run["job"], run["status"], run["commit"], run["failed_tests"], run["flaked_tests"]) == (
        "unit", "failure", "abc", 2, 2)
    # same content → same build id → idempotent
    assert ingest(store, [tmp_path], bare=options).skipped == 1


def test_bare_reports_need_a_job(store, tmp_path):
    (tmp_path / "junit_a.xml").write_text(JUNIT)
    with pytest.raises(UsageError, match="--job"):
        ingest(store, [tmp_path / "junit_a.xml"])


def test_special_files_named_like_metadata_or_artifacts_are_no_files(tmp_path):
    """A FIFO named prowjob.json (or like a disruption artifact) is not read: opening one for
    reading would wait for a writer for ever. Metadata: absent; an artifact: a warning."""
    import os

    folder = write_run(tmp_path, "periodic-e2e-aws", "102")
    os.mkfifo(folder / "prowjob.json")
    os.mkfifo(folder / "artifacts" / "e2e" / "junit" / "alerts_1.json")
    run = read_run(folder)  # returns: nothing blocks
    assert run.status is RunStatus.FAILURE and len(run.results) > 0
    assert run.disruption is not None and run.disruption.files == []
    assert any("alerts_1.json" in w and "not a regular file" in w for w in run.disruption.warnings)
