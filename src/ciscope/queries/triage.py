"""Reads for the known-failure reports of :mod:`ciscope.analysis.triage`.

- one run (``triage``): its failed and flaked tests (:func:`run_tests`), the first failure
  line of each failed test (:func:`failure_text_by_test`), its fingerprint matches
  (:func:`run_matches`), and where its logs are (:func:`run_logs`);
- the failed runs of a window: which bugs matched which of them (:func:`bug_hits`, ``bugs``),
  and whether any matched at all (:func:`failed_runs`, ``unclassified``);
- the first failed attempt of every failed (run, test) of a window
  (:func:`first_failed_attempts`, the input of ``clusters``).

A run **failed** when its status is ``failure`` or ``error``; a test failed in a run when
its verdict is ``failed`` or ``error``. Which failures a known bug explains is read from
:mod:`ciscope.queries.explained`; which run a reference names, from
:func:`ciscope.queries.facts.find_run`; the bugs' titles, links and retry flags, from
:func:`ciscope.queries.known.stored_fingerprints` (the one read of the definitions).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from ..model import Evidence
from ..store.base import Store
from . import rules
from .window import Window

__all__ = ["BugHit", "FailedAttempt", "FailedRun", "RunLogs", "RunTests", "bug_hits", "failed_run_count", "failed_runs", "failure_text_by_test", "first_failed_attempts", "run_logs",
           "run_matches", "run_tests"]


# ---------------------------------------------------------------------------- one run

@dataclass(frozen=True)
class RunTests:
    """The tests of one run that failed (verdict ``failed`` or ``error``) and that flaked,
    each sorted by test id."""

    failed: list[str]
    flaked: list[str]


def run_tests(store: Store, run_id: int) -> RunTests:
    failed = [t for (t,) in store.query(
        f"SELECT test FROM test_verdicts WHERE run_id = ? AND {rules.failed_verdict()} ORDER BY test", (run_id,))]
    flaked = [t for (t,) in store.query(
        f"SELECT test FROM test_verdicts WHERE run_id = ? AND {rules.flaky_verdict()} ORDER BY test", (run_id,))]
    return RunTests(failed, flaked)


def failure_text_by_test(store: Store, run_id: int) -> dict[str, str]:
    """Per test with a failed attempt in the run: the first failed attempt's message, else
    its output ("" without either)."""
    texts: dict[str, str] = {}
    for test, message, text in store.query(
            "SELECT test, failure_message, failure_text FROM test_results WHERE run_id = ?"
            f" AND {rules.failed_status()} ORDER BY test, attempt", (run_id,)):
        texts.setdefault(test, message or text or "")
    return texts


def run_matches(store: Store, run_id: int) -> list[Evidence]:
    """The run's fingerprint matches (``test`` None for a match in a log), by bug, test,
    file and line."""
    return [Evidence(bug=bug, file=file, line=line, text=text, test=test) for bug, test, file, line, text in store.query(
        "SELECT bug, test, file, line, text FROM matches WHERE run_id = ?"
        " ORDER BY bug, test NULLS LAST, file NULLS LAST, line NULLS LAST", (run_id,))]


@dataclass(frozen=True)
class RunLogs:
    """Where a run's logs are: the folder it was ingested from (None when unknown), its logs
    kept for matching (paths relative to it) and its ingest metadata."""

    source: str | None
    logs: list[str]
    metadata: dict[str, Any]


def run_logs(store: Store, run_id: int) -> RunLogs:
    source, logs, metadata = store.query("SELECT source, logs, metadata FROM runs WHERE run_id = ?", (run_id,))[0]
    return RunLogs(source, orjson.loads(logs) if logs else [], orjson.loads(metadata) if metadata else {})


# ---------------------------------------------------------------------------- bugs

@dataclass(frozen=True)
class BugHit:
    """A bug matched a failed run (once per (bug, run), whatever the number of matches)."""

    bug: str
    run_id: int
    job: str
    started_at: datetime | None


def bug_hits(store: Store, window: Window) -> list[BugHit]:
    """Every (bug, failed run of ``window``) with a match, unordered."""
    where, params = window.where(store, extra=[rules.FAILED_RUN])
    return [BugHit(*row) for row in store.query(
        f"SELECT DISTINCT m.bug, m.run_id, r.job, r.started_at FROM matches m JOIN runs r ON r.run_id = m.run_id{where}",
        params)]


def failed_run_count(store: Store, window: Window) -> int:
    """How many runs of ``window`` failed."""
    where, params = window.where(store, extra=[rules.FAILED_RUN])
    (count,) = store.query(f"SELECT count(*) FROM runs r{where}", params)[0]
    return int(count)


# ---------------------------------------------------------------------------- unclassified

@dataclass(frozen=True)
class FailedRun:
    """A failed run, its structured failure reason (``{}`` without one) and whether some
    fingerprint matched it (``classified``)."""

    run_id: int
    job: str
    build: str
    status: str
    started_at: datetime | None
    failed_tests: int
    reason: dict[str, Any]
    classified: bool


def failed_runs(store: Store, window: Window) -> list[FailedRun]:
    """The failed runs of ``window``, newest first (then by job and build)."""
    where, params = window.where(store, extra=[rules.FAILED_RUN])
    rows = store.query(
        "SELECT r.run_id, r.job, r.build, r.status, r.started_at, r.failed_tests, r.reason,"
        " CASE WHEN EXISTS (SELECT 1 FROM matches m WHERE m.run_id = r.run_id) THEN 1 ELSE 0 END AS classified"
        f" FROM runs r{where} ORDER BY r.started_at DESC, r.job, r.build", params)
    return [FailedRun(rid, job, build, status, started, failed, orjson.loads(reason) if reason else {}, bool(classified))
            for rid, job, build, status, started, failed, reason, classified in rows]


# ---------------------------------------------------------------------------- clusters

@dataclass(frozen=True)
class FailedAttempt:
    """The first failed attempt of a test in a run: its text (message, else output, else "")."""

    run_id: int
    job: str
    build: str
    test: str
    text: str
    started_at: datetime | None


def first_failed_attempts(store: Store, window: Window) -> list[FailedAttempt]:
    """One per failed (run, test) of ``window`` (its ``test`` filter included), by run and test.
    Infrastructure runs without test results have none."""
    where, params = window.where(store, extra=[rules.failed_status("t.status")], test="t.test")
    rows = store.query(
        "SELECT t.run_id, r.job, r.build, t.test, t.attempt, t.failure_message, t.failure_text, r.started_at"
        f" FROM test_results t JOIN runs r ON r.run_id = t.run_id{where} ORDER BY t.run_id, t.test, t.attempt", params)
    out = []
    last = None
    for rid, job, build, test, _attempt, message, text, started in rows:
        if (rid, test) == last:
            continue
        last = (rid, test)
        out.append(FailedAttempt(rid, job, build, test, message or text or "", started))
    return out
