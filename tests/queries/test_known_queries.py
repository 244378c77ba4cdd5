"""The reads and writes of known-bug classification (issue 9: analysis.known holds no SQL):
what each function of :mod:`ciscope.queries.known` and
:func:`ciscope.queries.explained.explained_tests` reads and writes, on both engines."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pyarrow as pa
from histories import T0

from ciscope.model import Evidence, Run, RunStatus, Status, TestResult
from ciscope.queries import known as q
from ciscope.queries.explained import explained_tests
from ciscope.queries.known import StoredFingerprint
from ciscope.store.base import Store

NAIVE_T0 = T0.replace(tzinfo=None)
T1 = "pkg.Case.t1"
BUG_1 = StoredFingerprint("BUG-1", "a bug", "https://bugs/1", True, "regex", "x", "f.yaml", "d1", [T1], NAIVE_T0)


def _runs(store):
    """e2e/1 failed: pkg.Case.t1 failed twice (an assertion in a.py; BUG-1 matched it), t2
    flaked, and BUG-2 matched a log line; e2e/2 failed with no match; e2e/3 passed."""
    def t1(attempt: int, message: str) -> TestResult:
        return TestResult(name="t1", classname="pkg.Case", suite="s", file="a.py", status=Status.FAILED,
                          attempt=attempt, failure_type="AssertionError", failure_message=message)

    hour = timedelta(hours=1)
    failing = Run("e2e", "1", RunStatus.FAILURE, started_at=T0, logs=["build-log.txt"], results=[
        t1(0, "first line\nsecond"), t1(1, "again"), TestResult(name="t2", status=Status.FAILED, failure_text="flaked"),
        TestResult(name="t2", status=Status.PASSED, attempt=1)],
        evidence=[Evidence("BUG-1", "junit", None, "first line", T1), Evidence("BUG-2", "build-log.txt", 3, "node lost")])
    unmatched = Run("e2e", "2", RunStatus.FAILURE, started_at=T0 + hour, results=[t1(0, "other")])
    passed = Run("e2e", "3", RunStatus.SUCCESS, started_at=T0 + 2 * hour, results=[TestResult("t3", Status.PASSED)])
    q.insert_fingerprints(store, [BUG_1])
    store.write_runs([failing, unmatched, passed])
    return failing, unmatched, passed


def test_definitions_are_written_read_retitled_and_forgotten(store):
    failing, *_ = _runs(store)
    assert q.stored_fingerprints(store) == {"BUG-1": BUG_1}
    assert q.fingerprint_scopes(store) == {"BUG-1": [T1]}
    q.update_fingerprint_titles(store, "BUG-1", title="renamed", url="", retry=False, source="g.yaml")
    [row] = q.stored_fingerprints(store).values()
    assert (row.title, row.url, row.retry, row.source, row.digest) == ("renamed", "", False, "g.yaml", "d1")
    assert q.matched_runs(store, ["BUG-1", "BUG-9"]) == {failing.run_id}
    q.forget_fingerprints(store, ["BUG-1"])
    assert q.stored_fingerprints(store) == {}
    assert q.matched_runs(store, ["BUG-1"]) == set()
    assert q.matched_runs(store, ["BUG-2"]) == {failing.run_id}  # another bug's matches are kept


def test_runs_to_rescan_and_their_failed_attempts(store):
    failing, unmatched, _ = _runs(store)
    runs = q.runs_to_rescan(store)
    assert sorted((r.job, r.build) for r in runs) == [("e2e", "1"), ("e2e", "2")]
    assert [r.run_id for r in runs] == sorted(r.run_id for r in runs)
    first = next(r for r in runs if r.build == "1")
    assert (first.status, first.logs, first.results, first.started_at) == (RunStatus.FAILURE, ["build-log.txt"], [],
                                                                          NAIVE_T0)
    results = q.failed_results(store, [failing.run_id, unmatched.run_id])
    assert [(r.test_id, r.attempt, r.failure_message, r.failure_text) for r in results[failing.run_id]] == [
        (T1, 0, "first line\nsecond", None), (T1, 1, "again", None), ("t2", 0, None, "flaked")]
    [again] = results[unmatched.run_id]
    assert (again.name, again.classname, again.suite, again.file, again.failure_type, again.status) == (
        "t1", "pkg.Case", "s", "a.py", "AssertionError", Status.FAILED)


def test_matches_are_read_and_written(store):
    failing, unmatched, passed = _runs(store)
    ids = [failing.run_id, unmatched.run_id, passed.run_id]
    assert q.matched_bugs(store, ids) == {failing.run_id: {"BUG-1", "BUG-2"}}
    assert sorted(q.match_evidence(store, ids)[failing.run_id], key=lambda e: e.bug) == [
        Evidence("BUG-1", "", None, "", T1), Evidence("BUG-2", "", None, "", None)]
    assert q.write_matches(store, [(unmatched.run_id, [Evidence("BUG-3", "junit", None, "boom", T1)])],
                           now=NAIVE_T0) == 1
    assert q.write_matches(store, [], now=NAIVE_T0) == 0
    assert q.matched_bugs(store, [unmatched.run_id]) == {unmatched.run_id: {"BUG-3"}}


def test_explanations_are_deleted_and_rewritten(store):
    failing, unmatched, passed = _runs(store)
    ids = [failing.run_id, unmatched.run_id, passed.run_id]
    assert q.failing_tests(store, ids) == {failing.run_id: {T1, "t2"}, unmatched.run_id: {T1}}
    assert explained_tests(store, ids) == {failing.run_id: {T1}}
    q.delete_explanations(store, [failing.run_id])
    assert explained_tests(store, ids) == {}
    # BUG-2 matched a log; once its definition lists t2, the rewrite explains t2 by it
    q.insert_fingerprints(store, [StoredFingerprint("BUG-2", None, None, False, "regex", "y", "g.yaml", "d2", ["t2"],
                                                    NAIVE_T0)])
    evidence = q.match_evidence(store, [failing.run_id])
    failing_now = q.failing_tests(store, sorted(evidence))
    q.write_explanations(store, ((rid, failing_now.get(rid, set()), ev) for rid, ev in evidence.items()),
                         q.fingerprint_scopes(store))
    assert explained_tests(store, ids) == {failing.run_id: {T1, "t2"}}
    assert sorted(store.query("SELECT test, bug FROM explanations")) == [(T1, "BUG-1"), ("t2", "BUG-2")]


def test_reasons_and_the_failures_they_come_from(store):
    failing, unmatched, passed = _runs(store)
    ids = [failing.run_id, unmatched.run_id, passed.run_id]
    assert sorted(q.failed_attempt_texts(store, ids)) == sorted([  # t2 flaked: its verdict is not a failure
        (failing.run_id, T1, 0, "first line\nsecond", None), (failing.run_id, T1, 1, "again", None),
        (unmatched.run_id, T1, 0, "other", None)])
    reasons = q.stored_reasons(store, ids)
    assert set(reasons) == {failing.run_id, unmatched.run_id}  # a passed run has no reason
    assert reasons[failing.run_id]["fingerprint"] == ["BUG-1", "BUG-2"]
    q.write_reasons(store, {failing.run_id: {"message": "rewritten", "fingerprint": None}})
    assert q.stored_reasons(store, [failing.run_id]) == {failing.run_id: {"message": "rewritten", "fingerprint": None}}
    assert q.stored_reasons(store, [unmatched.run_id]) == {unmatched.run_id: reasons[unmatched.run_id]}


def test_reasons_of_many_runs_are_written_in_bulk_as_one_update_per_run_wrote_them(store):
    """write_reasons is one bulk update (Store.update_rows): over many runs it stores exactly
    what an UPDATE per run (the fallback of the base Store, the former path) stores — texts
    with quotes, newlines, commas and non-ASCII included; runs left out keep their reasons."""
    runs = [Run("e2e", str(i), RunStatus.FAILURE, started_at=T0 + timedelta(minutes=i),
                results=[TestResult(name="t", status=Status.FAILED, failure_message=f"boom {i}")]) for i in range(600)]
    store.write_runs(runs)
    ids = [r.run_id for r in runs]
    before = q.stored_reasons(store, ids)
    assert set(before) == set(ids)

    def rewritten(rid: int, i: int) -> dict[str, object]:
        return {"message": f"line {i}\n\"quoted\", 'single', ä ✓ \\ {rid}", "fingerprint": [f"BUG-{i % 7}"] if i % 3 else None,
                "cluster": None}

    bulk = {rid: rewritten(rid, i) for i, rid in enumerate(ids[:500])}
    store.begin()
    q.write_reasons(store, bulk)
    store.commit()
    after = q.stored_reasons(store, ids)
    assert {rid: after[rid] for rid in bulk} == bulk
    assert {rid: after[rid] for rid in ids[500:]} == {rid: before[rid] for rid in ids[500:]}

    # the same rows written one UPDATE per run store the same text
    bulk_text = dict(store.query_in("SELECT run_id, reason FROM runs WHERE run_id IN ({marks})", ids))
    store.begin()
    q.write_reasons(store, {rid: before[rid] for rid in ids[:500]})  # back to the ingest's reasons
    store.commit()
    table = pa.table({"run_id": pa.array(list(bulk), pa.int64()),
                      "reason": pa.array([orjson.dumps(d).decode() for d in bulk.values()], pa.string())})
    store.begin()
    Store.update_rows(store, "runs", table, key="run_id")
    store.commit()
    assert dict(store.query_in("SELECT run_id, reason FROM runs WHERE run_id IN ({marks})", ids)) == bulk_text

    q.write_reasons(store, {})  # nothing to write: no statement
    q.write_reasons(store, {-1: {"message": "no such run"}})  # a run the store lacks: nothing changes
    assert q.stored_reasons(store, [-1]) == {}
