"""The reads of the known-failure reports (issue 9: analysis.triage holds no SQL): what each
query of :mod:`ciscope.queries.triage`, :func:`ciscope.queries.facts.find_run` and the
explained readers of :mod:`ciscope.queries.explained` return, on both engines."""

from __future__ import annotations

from datetime import timedelta

import pytest
from histories import T0

from ciscope.errors import NotFoundError, UsageError
from ciscope.model import Evidence, Run, RunStatus, Status, TestResult
from ciscope.queries import triage as reads
from ciscope.queries.explained import explained_pair_set, explaining_bugs
from ciscope.queries.facts import find_run
from ciscope.queries.known import stored_fingerprints
from ciscope.queries.triage import BugHit, FailedAttempt, RunTests
from ciscope.queries.window import Window

NAIVE_T0 = T0.replace(tzinfo=None)


def _runs(store):
    """e2e/1 failed (t1 failed twice, t2 flaked; BUG-1 matched t1, BUG-2 a log line),
    e2e/2 failed with no match, e2e/3 passed; upgrade/1 failed with a log match only."""
    failing = Run(job="e2e", build="1", status=RunStatus.FAILURE, started_at=T0, logs=["build-log.txt"], results=[
        TestResult(name="t1", status=Status.FAILED, attempt=0, failure_message="first line\nsecond"),
        TestResult(name="t1", status=Status.FAILED, attempt=1, failure_message="again"),
        TestResult(name="t2", status=Status.FAILED, attempt=0, failure_text="flaked"),
        TestResult(name="t2", status=Status.PASSED, attempt=1),
        TestResult(name="t3", status=Status.PASSED),
    ], evidence=[Evidence("BUG-1", "junit", None, "first line", "t1"),
                 Evidence("BUG-2", "build-log.txt", 3, "node lost")])
    unmatched = Run(job="e2e", build="2", status=RunStatus.FAILURE, started_at=T0 + timedelta(hours=1), results=[
        TestResult(name="t1", status=Status.FAILED), TestResult(name="t3", status=Status.PASSED)])
    passed = Run(job="e2e", build="3", status=RunStatus.SUCCESS, started_at=T0 + timedelta(hours=2), results=[
        TestResult(name="t1", status=Status.PASSED)])
    other = Run(job="upgrade", build="1", status=RunStatus.FAILURE, started_at=T0 + timedelta(hours=3),
                results=[TestResult(name="u", status=Status.PASSED)],
                evidence=[Evidence("BUG-2", "build-log.txt", 9, "node lost")])
    store.execute("INSERT INTO fingerprints (bug, title, url, retry, kind, pattern, source, digest, test_ids, loaded_at)"
                  " VALUES ('BUG-1', 'a bug', 'https://bugs/1', TRUE, 'regex', 'x', 'f.yaml', 'd', '[]', ?)",
                  (NAIVE_T0,))
    store.write_runs([failing, unmatched, passed, other])
    return failing, unmatched, passed, other


def test_find_run_resolves_a_build_a_job_build_or_a_run_id(store):
    failing, unmatched, _, other = _runs(store)
    assert find_run(store, "2")["run_id"] == unmatched.run_id
    assert find_run(store, "e2e/1")["run_id"] == failing.run_id
    assert find_run(store, "1", job="upgrade")["run_id"] == other.run_id
    assert find_run(store, str(other.run_id))["build"] == "1"
    with pytest.raises(UsageError, match="several jobs have this build"):
        find_run(store, "1")
    with pytest.raises(NotFoundError, match="no such run"):
        find_run(store, "e2e/9")


def test_one_run_reads(store):
    failing, unmatched, *_ = _runs(store)
    rid = failing.run_id
    assert reads.run_tests(store, rid) == RunTests(failed=["t1"], flaked=["t2"])
    assert reads.failure_text_by_test(store, rid) == {"t1": "first line\nsecond", "t2": "flaked"}
    assert reads.run_matches(store, rid) == [Evidence("BUG-1", "junit", None, "first line", "t1"),
                                       Evidence("BUG-2", "build-log.txt", 3, "node lost")]
    logs = reads.run_logs(store, rid)
    assert (logs.logs, logs.metadata) == (["build-log.txt"], {})
    assert explaining_bugs(store, rid) == {"t1": {"BUG-1"}}  # BUG-2 lists no test_ids: it explains no test
    assert explaining_bugs(store, unmatched.run_id) == {}
    assert explained_pair_set(store) == {(rid, "t1")}


def test_window_reads(store):
    failing, unmatched, _, other = _runs(store)
    defs = stored_fingerprints(store)  # the one read of the definitions (queries.known), as triage and bugs use it
    assert {b: (d.title, d.url, d.retry) for b, d in defs.items()} == {"BUG-1": ("a bug", "https://bugs/1", True)}
    assert sorted(reads.bug_hits(store, Window()), key=lambda h: (h.bug, h.job)) == [
        BugHit("BUG-1", failing.run_id, "e2e", NAIVE_T0), BugHit("BUG-2", failing.run_id, "e2e", NAIVE_T0),
        BugHit("BUG-2", other.run_id, "upgrade", NAIVE_T0 + timedelta(hours=3))]
    assert [h.bug for h in reads.bug_hits(store, Window(job="upgrade"))] == ["BUG-2"]
    assert reads.failed_run_count(store, Window()) == 3
    assert reads.failed_run_count(store, Window(job="e2e")) == 2
    runs = reads.failed_runs(store, Window())
    assert [(r.job, r.build, r.classified) for r in runs] == [("upgrade", "1", True), ("e2e", "2", False),
                                                              ("e2e", "1", True)]
    assert all(isinstance(r.reason, dict) for r in runs)
    assert reads.first_failed_attempts(store, Window(job="e2e")) == sorted([
        FailedAttempt(failing.run_id, "e2e", "1", "t1", "first line\nsecond", NAIVE_T0),
        FailedAttempt(failing.run_id, "e2e", "1", "t2", "flaked", NAIVE_T0),
        FailedAttempt(unmatched.run_id, "e2e", "2", "t1", "", NAIVE_T0 + timedelta(hours=1)),
    ], key=lambda f: (f.run_id, f.test))
    assert [f.test for f in reads.first_failed_attempts(store, Window(test="^t2$"))] == ["t2"]
