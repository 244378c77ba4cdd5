"""Reads and writes of known-bug classification (:mod:`ciscope.analysis.known`: ``reclassify``,
the fingerprint refresh before an ingest).

- the stored fingerprint definitions (:func:`stored_fingerprints`, their ``test_ids`` alone:
  :func:`fingerprint_scopes`), written by :func:`insert_fingerprints` and
  :func:`update_fingerprint_titles`, deleted with their matches by :func:`forget_fingerprints`;
- the runs to re-scan: every run that failed or has a failed attempt (:func:`runs_to_rescan`),
  with their failed attempts (:func:`failed_results`);
- the matches: which runs a bug matched (:func:`matched_runs`), which bugs matched a run
  (:func:`matched_bugs`), the evidence read back (:func:`match_evidence`), written by
  :func:`write_matches`;
- the ``explanations`` of runs: deleted (:func:`delete_explanations`) and rewritten
  (:func:`write_explanations`) from the tests that failed or flaked (:func:`failing_tests`);
- the structured failure reasons of runs (:func:`stored_reasons`, :func:`write_reasons`) and
  the failed attempts they are computed from (:func:`failed_attempt_texts`).

The writes run inside the caller's transaction (``reclassify`` makes one: a failure leaves the
store as it was). pyarrow is imported only by the writes that append Arrow tables, so that
commands that only read fingerprints do not load it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from ..model import Evidence, Run, RunStatus, Status, TestResult, qualifiers
from . import rules

if TYPE_CHECKING:
    from ..store.base import Store

__all__ = ["StoredFingerprint", "delete_explanations", "failed_attempt_texts", "failed_results", "failing_tests",
           "fingerprint_scopes", "forget_fingerprints", "insert_fingerprints", "match_evidence", "matched_bugs",
           "matched_pairs", "matched_runs", "runs_to_rescan", "stored_fingerprints", "stored_reasons", "update_fingerprint_titles",
           "write_explanations", "write_matches", "write_reasons"]


# ---------------------------------------------------------------------------- definitions

@dataclass(frozen=True)
class StoredFingerprint:
    """A row of ``fingerprints``: the definition the stored matches were computed with.
    ``pattern`` is the fingerprint's query or regex, ``source`` the file it came from,
    ``digest`` the hash of what decides what it matches (``ciscope.analysis.known.digest``)."""

    bug: str
    title: str | None
    url: str | None
    retry: bool
    kind: str
    pattern: str
    source: str | None
    digest: str
    test_ids: list[str]
    loaded_at: datetime | None


def stored_fingerprints(store: Store) -> dict[str, StoredFingerprint]:
    """The stored fingerprint definitions, by bug id."""
    rows = store.query_dicts("SELECT bug, title, url, retry, kind, pattern, source, digest, test_ids, loaded_at"
                             " FROM fingerprints ORDER BY bug")
    return {row["bug"]: StoredFingerprint(**{**row, "test_ids": orjson.loads(row["test_ids"] or "[]")})
            for row in rows}


def fingerprint_scopes(store: Store) -> dict[str, list[str]]:
    """Each stored fingerprint's ``test_ids`` (what its log matches explain), by bug id."""
    return {bug: orjson.loads(tests or "[]") for bug, tests in store.query("SELECT bug, test_ids FROM fingerprints")}


def insert_fingerprints(store: Store, definitions: Iterable[StoredFingerprint]) -> None:
    """Store these definitions (their bugs must have none stored)."""
    for d in definitions:
        store.execute("INSERT INTO fingerprints (bug, title, url, retry, kind, pattern, source, digest, test_ids,"
                      " loaded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      (d.bug, d.title, d.url, d.retry, d.kind, d.pattern, d.source, d.digest,
                       orjson.dumps(list(d.test_ids)).decode(), d.loaded_at))


def update_fingerprint_titles(store: Store, bug: str, /, *, title: str, url: str, retry: bool, source: str) -> None:
    """Set what a stored fingerprint says but does not match by: title, url, retry flag, file."""
    store.execute("UPDATE fingerprints SET title = ?, url = ?, retry = ?, source = ? WHERE bug = ?",
                  (title, url, retry, source, bug))


def forget_fingerprints(store: Store, bugs: Sequence[str]) -> None:
    """Delete the stored definitions of these bugs and every match of them."""
    store.execute_in("DELETE FROM matches WHERE bug IN ({marks})", bugs, chunk=1000)
    store.execute_in("DELETE FROM fingerprints WHERE bug IN ({marks})", bugs, chunk=1000)


# ---------------------------------------------------------------------------- runs to re-scan

def runs_to_rescan(store: Store) -> list[Run]:
    """Every stored run that may carry known bugs (it failed, or some test failed or flaked),
    by run id, without its results (see :func:`failed_results`)."""
    rows = store.query_dicts(
        "SELECT run_id, job, build, status, started_at, finished_at, commit_sha, branch, pr, worker, url, variants,"
        f" metadata, source, logs FROM runs WHERE {rules.failed_run()} OR failed_tests > 0"
        " OR flaked_tests > 0 ORDER BY run_id")
    return [Run(job=row["job"], build=row["build"], status=RunStatus(row["status"]), started_at=row["started_at"],
                finished_at=row["finished_at"], commit=row["commit_sha"], branch=row["branch"], pr=row["pr"],
                worker=row["worker"], url=row["url"], variants=orjson.loads(row["variants"] or "{}"),
                metadata=orjson.loads(row["metadata"] or "{}"), logs=orjson.loads(row["logs"] or "[]"),
                source=row["source"] or "")
            for row in rows]


def failed_results(store: Store, run_ids: Sequence[int]) -> dict[int, list[TestResult]]:
    """The failed and errored attempts of these runs, per run, by test and attempt."""
    results: dict[int, list[TestResult]] = {}
    for rid, test, name, classname, suite, attempt, status, mtype, message, text, file in store.query_in(
            "SELECT run_id, test, name, classname, suite, attempt, status, failure_type, failure_message,"
            f" failure_text, file FROM test_results WHERE {rules.failed_status()} AND run_id IN ({{marks}})"
            " ORDER BY run_id, test, attempt", list(run_ids)):
        scope, occurrence = qualifiers(test, classname, name)
        results.setdefault(rid, []).append(TestResult(
            name=name, classname=classname, suite=suite, attempt=attempt, status=Status(status), failure_type=mtype,
            failure_message=message, failure_text=text, file=file, scope=scope, occurrence=occurrence))
    return results


# ---------------------------------------------------------------------------- matches

def matched_runs(store: Store, bugs: Sequence[str]) -> set[int]:
    """The runs some of these bugs matched."""
    return {r for (r,) in store.query_in("SELECT DISTINCT run_id FROM matches WHERE bug IN ({marks})", list(bugs))}


def matched_bugs(store: Store, run_ids: Sequence[int]) -> dict[int, set[str]]:
    """Per run of these with a match, the bugs that matched it."""
    bugs: dict[int, set[str]] = {}
    for rid, bug in store.query_in("SELECT DISTINCT run_id, bug FROM matches WHERE run_id IN ({marks})", list(run_ids)):
        bugs.setdefault(rid, set()).add(bug)
    return bugs


def matched_pairs(store: Store) -> set[tuple[tuple[int, str], str]]:
    """Every ((run_id, test), bug) a fingerprint matched on a test (not on a log only)."""
    return {((rid, test), bug) for rid, bug, test in store.query("SELECT run_id, bug, test FROM matches WHERE test IS NOT NULL")}


def match_evidence(store: Store, run_ids: Sequence[int]) -> dict[int, list[Evidence]]:
    """Per run of these with a match, its matches as evidence: bug and test (None for a log
    match), without place or text (what the rule of "explained" needs)."""
    evidence: dict[int, list[Evidence]] = {}
    for rid, bug, test in store.query_in("SELECT DISTINCT run_id, bug, test FROM matches WHERE run_id IN ({marks})",
                                         list(run_ids)):
        evidence.setdefault(rid, []).append(Evidence(bug=bug, file="", line=None, text="", test=test))
    return evidence


def write_matches(store: Store, evidence: Iterable[tuple[int, Sequence[Evidence]]], *, now: datetime) -> int:
    """Append the ``matches`` rows of (run_id, evidence) pairs, found at ``now``; returns how
    many were written."""
    # pyarrow: imported here, not by commands that only read fingerprints
    from ..store.write import evidence_table

    table = evidence_table(evidence, now=now)
    if table.num_rows:
        store.append("matches", table)
    return int(table.num_rows)


# ---------------------------------------------------------------------------- explanations

def delete_explanations(store: Store, run_ids: Sequence[int]) -> None:
    """Delete the ``explanations`` of these runs."""
    if run_ids:
        marks, params = store.in_list(run_ids)
        store.execute(f"DELETE FROM explanations WHERE run_id IN ({marks})", params)


def failing_tests(store: Store, run_ids: Sequence[int]) -> dict[int, set[str]]:
    """Per run of these, the tests whose verdict is ``failed``, ``error`` or ``flaky`` (the
    failures a known bug can explain)."""
    failing: dict[int, set[str]] = {}
    for rid, test in store.query_in(f"SELECT run_id, test FROM test_verdicts WHERE {rules.troubled_verdict()}"
                                    " AND run_id IN ({marks})", list(run_ids)):
        failing.setdefault(rid, set()).add(test)
    return failing


def write_explanations(store: Store, runs: Iterable[tuple[int, Iterable[str], Sequence[Evidence]]],
                       scoped: dict[str, list[str]]) -> None:
    """Append the ``explanations`` of (run_id, failing tests, evidence) triples, by the rule of
    :func:`ciscope.queries.explained.explain` (``scoped``: :func:`fingerprint_scopes`)."""
    from ..store.write import explanations_table

    table = explanations_table(runs, scoped)
    if table.num_rows:
        store.append("explanations", table)


# ---------------------------------------------------------------------------- reasons

def failed_attempt_texts(store: Store, run_ids: Sequence[int]) -> list[tuple[int, str, int, str | None, str | None]]:
    """(run_id, test, attempt, failure_message, failure_text) of every failed or errored
    attempt of a test whose verdict in these runs is ``failed`` or ``error``, in no order."""
    return store.query_in(
        "SELECT t.run_id, t.test, t.attempt, t.failure_message, t.failure_text FROM test_results t"
        f" JOIN test_verdicts v ON v.run_id = t.run_id AND v.test = t.test WHERE {rules.failed_status('t.status')}"
        f" AND {rules.failed_verdict('v.verdict')} AND t.run_id IN ({{marks}})", list(run_ids))


def stored_reasons(store: Store, run_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The structured failure reasons of these runs, for those that have one."""
    return {rid: orjson.loads(reason) for rid, reason in store.query_in(
        "SELECT run_id, reason FROM runs WHERE run_id IN ({marks}) AND reason IS NOT NULL", list(run_ids))}


def write_reasons(store: Store, reasons: dict[int, dict[str, Any]]) -> None:
    """Replace the structured failure reasons of these runs: one bulk update
    (:meth:`~ciscope.store.base.Store.update_rows`)."""
    import pyarrow as pa

    store.update_rows("runs", pa.table({
        "run_id": pa.array(list(reasons), pa.int64()),
        "reason": pa.array([orjson.dumps(data).decode() for data in reasons.values()], pa.string()),
    }), key="run_id")
