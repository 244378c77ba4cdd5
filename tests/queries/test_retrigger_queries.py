"""The reads and writes of retrigger planning (issue 9: analysis.retrigger holds no SQL): what
each function of :mod:`ciscope.queries.retrigger` reads and writes, on both engines."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ciscope.model import Evidence, Run, RunStatus, Status, TestResult
from ciscope.queries import retrigger as q
from ciscope.queries.retrigger import RetriggerCandidate
from ciscope.queries.window import Window

T0 = datetime(2026, 11, 1, 12, 0)


def _runs(store):
    """On j@c1: ``tests`` failed (t1 explained by retry bug R, t2 by the other bug N), then
    ``infra`` failed with no failed test and R matched its log, then ``green`` passed; on j@c2
    a failure with no commit-mate."""
    for bug, retry in (("R", True), ("N", False)):
        store.execute("INSERT INTO fingerprints (bug, title, url, retry, kind, pattern, source, digest, loaded_at,"
                      " test_ids) VALUES (?, ?, NULL, ?, 'regex', 'boom', 'f.yaml', 'd', ?, '[]')", (bug, bug, retry, T0))
    tests = Run(job="j", build="1", status=RunStatus.FAILURE, started_at=T0, commit="c1", url="https://ci/1",
                results=[TestResult(name="t1", status=Status.FAILED), TestResult(name="t2", status=Status.FAILED)],
                evidence=[Evidence("R", "junit", None, "boom", "t1"), Evidence("N", "junit", None, "boom", "t2")])
    infra = Run(job="j", build="2", status=RunStatus.ERROR, started_at=T0 + timedelta(minutes=1), commit="c1",
                evidence=[Evidence("R", "build-log.txt", 1, "boom")])
    green = Run(job="j", build="3", status=RunStatus.SUCCESS, started_at=T0 + timedelta(minutes=2), commit="c1",
                results=[TestResult(name="t1", status=Status.PASSED)])
    other = Run(job="j", build="4", status=RunStatus.FAILURE, started_at=T0 + timedelta(minutes=3), commit="c2")
    store.write_runs([tests, infra, green, other])
    return tests, infra, green, other


def test_candidates_and_what_explains_them(store):
    tests, infra, _, other = _runs(store)
    candidates = q.failed_runs_to_retrigger(store, Window())
    assert [(c.build, c.status, c.commit_sha) for c in candidates] == [("1", "failure", "c1"), ("2", "error", "c1"),
                                                                       ("4", "failure", "c2")]
    first = candidates[0]
    assert first == RetriggerCandidate(tests.run_id, "j", "1", "c1", "failure", T0, first.reason, "https://ci/1", None)
    assert q.failed_runs_to_retrigger(store, Window(since=T0 + timedelta(minutes=3))) == [candidates[2]]
    ids = [tests.run_id, infra.run_id, other.run_id]
    assert q.retry_explained_counts(store, ids) == {tests.run_id: (2, 1)}
    assert q.retry_bugs(store, ids) == {tests.run_id: {"R"}}
    assert q.retry_log_bugs(store, ids) == {infra.run_id: {"R"}}


def test_the_bounds_and_the_log(store):
    tests, infra, green, _ = _runs(store)
    commits = [("j", "c1"), ("j", "c9")]
    assert q.retriggers_per_run(store, [tests.run_id]) == {}
    assert q.newest_starts(store, commits) == {("j", "c1"): green.started_at}
    q.log_decision(store, tests.run_id, job="j", build="1", commit="c1", rule="R", decision="retrigger",
                   reason="explained", action="rerun j", decided_at=T0)
    q.log_decision(store, infra.run_id, job="j", build="2", commit="c1", rule=None, decision="skip",
                   reason="no rule", action=None, decided_at=T0)
    assert q.retriggers_per_run(store, [tests.run_id, infra.run_id]) == {tests.run_id: 1}
    assert q.retriggers_per_commit(store, commits) == {("j", "c1"): 1, ("j", "c9"): 0}
    # the next run of j@c1 after the retriggered one is infra, which failed
    assert q.retriggered_outcomes(store) == [("R", tests.run_id, "error")]
    q.record_outcome(store, tests.run_id, T0, decision="failed", response="HTTP 500")
    assert store.query("SELECT decision, response FROM retriggers WHERE run_id = ?", (tests.run_id,)) == [
        ("failed", "HTTP 500")]
    assert q.retriggers_per_run(store, [tests.run_id]) == {tests.run_id: 1}  # a failed action still counts
    assert q.retriggered_outcomes(store) == []


def test_decisions_are_logged_in_one_append(store):
    """log_decisions: every decision as a row of ``retriggers`` (no response yet; an aware time
    stored as naive UTC), what one INSERT per decision wrote; nothing for no decisions."""
    tests, infra, _, _ = _runs(store)
    aware = T0.replace(tzinfo=timezone(timedelta(hours=2)))  # 10:00 UTC
    q.log_decisions(store, [], aware)
    q.log_decisions(store, [
        q.LoggedDecision(tests.run_id, "j", "1", "c1", "R", "retrigger", "explained", "rerun j"),
        q.LoggedDecision(infra.run_id, "j", "2", None, None, "skip", "no commit: 'x', \"y\"\n", None)], aware)
    rows = store.query("SELECT run_id, job, build, commit_sha, rule, decision, reason, action, response, decided_at"
                       " FROM retriggers ORDER BY build")
    naive = T0 - timedelta(hours=2)
    assert rows == [(tests.run_id, "j", "1", "c1", "R", "retrigger", "explained", "rerun j", None, naive),
                    (infra.run_id, "j", "2", None, None, "skip", "no commit: 'x', \"y\"\n", None, None, naive)]
    q.record_outcome(store, tests.run_id, aware, decision="failed", response="HTTP 500")
    assert store.query("SELECT decision, response FROM retriggers WHERE run_id = ?", (tests.run_id,)) == [
        ("failed", "HTTP 500")]


def test_the_bounds_of_many_commits_in_one_query(store, monkeypatch):
    """retriggers_per_commit and newest_starts over the pairs asked only — jobs j and k with
    commits c1 and c2 asked as (j, c1) and (k, c2): not j@c2 nor k@c1, though the job and
    commit lists cross there — each in one query, whether 2 pairs are asked or 80."""
    runs = [Run(job=job, build=f"{job}{sha}{i}", status=RunStatus.FAILURE, commit=sha,
                started_at=T0 + timedelta(minutes=10 * i + len(job + sha)))
            for job in ("j", "k") for sha in ("c1", "c2") for i in range(2)]
    store.write_runs(runs)
    q.log_decisions(store, [q.LoggedDecision(r.run_id, r.job, r.build, r.commit, "R", decision, "x", None)
                            for r, decision in zip(runs, ("retrigger", "failed", "retrigger", "skip",
                                                          "retrigger", "retrigger", "skip", "retrigger"))], T0)
    asked = [("j", "c1"), ("k", "c2")]
    # j@c1: retrigger + failed; k@c2: skip + retrigger (j@c2 and k@c1 have their own)
    assert q.retriggers_per_commit(store, asked) == {("j", "c1"): 2, ("k", "c2"): 1}
    assert q.newest_starts(store, asked) == {("j", "c1"): T0 + timedelta(minutes=13),
                                             ("k", "c2"): T0 + timedelta(minutes=13)}
    many = [*asked, *((f"j{i}", f"c{i}") for i in range(78))]
    queries: list[str] = []
    real = store.query
    monkeypatch.setattr(store, "query", lambda sql, params=(): queries.append(sql) or real(sql, params))
    for pairs in (asked, many):
        queries.clear()
        assert q.retriggers_per_commit(store, pairs) == {**{p: 0 for p in pairs}, ("j", "c1"): 2, ("k", "c2"): 1}
        assert q.newest_starts(store, pairs) == {("j", "c1"): T0 + timedelta(minutes=13),
                                                 ("k", "c2"): T0 + timedelta(minutes=13)}
        assert len(queries) == 2, queries
