"""Reads and writes of retrigger planning (:mod:`ciscope.analysis.retrigger`):

- the failed runs of a window, the candidates (:func:`failed_runs_to_retrigger`);
- what explains their failures: per run, how many failed tests a ``retry`` fingerprint
  explains (:func:`retry_explained_counts`), which ``retry`` bugs explain them
  (:func:`retry_bugs`) and which matched a log (:func:`retry_log_bugs`);
- the bounds: retriggers logged per run (:func:`retriggers_per_run`) and per (job, commit)
  (:func:`retriggers_per_commit`), the newest run of each (job, commit) (:func:`newest_starts`);
- the ``retriggers`` log: decisions (:func:`log_decisions`, one bulk append), the outcome of its action
  (:func:`record_outcome`), and how the next run of each retriggered one ended
  (:func:`retriggered_outcomes`, ``retrigger stats``).

A run **failed** when its status is ``failure`` or ``error``; a logged decision counts against
the bounds when it is ``retrigger`` or ``failed`` (the action was tried). The writes run inside
the caller's transaction (``retrigger run`` decides and logs under the write lock).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import pyarrow as pa

from ..clock import naive_utc
from ..store.base import Store
from . import rules
from .window import Window

__all__ = ["LoggedDecision", "RetriggerCandidate", "failed_runs_to_retrigger", "log_decision", "log_decisions",
           "newest_starts", "record_outcome",
           "retriggered_outcomes", "retriggers_per_commit", "retriggers_per_run",
           "retry_bugs", "retry_explained_counts", "retry_log_bugs"]

#: a retrigger made or tried: what the bounds count
_TRIED = rules.sql_in("decision", rules.TRIED_RETRIGGERS)


@dataclass(frozen=True, slots=True)
class RetriggerCandidate:
    """A failed run that may be retriggered; ``reason`` is its stored reason (JSON text)."""

    run_id: int
    job: str
    build: str
    commit_sha: str | None
    status: str
    started_at: datetime | None
    reason: str | None
    url: str | None
    branch: str | None


def failed_runs_to_retrigger(store: Store, window: Window) -> list[RetriggerCandidate]:
    """The failed runs of ``window``, oldest first (then by job and build)."""
    where, params = window.where(store, runs="r", extra=[rules.FAILED_RUN])
    return [RetriggerCandidate(**row) for row in store.query_dicts(
        "SELECT r.run_id, r.job, r.build, r.commit_sha, r.status, r.started_at, r.reason, r.url,"
        f" r.branch FROM runs r{where} ORDER BY r.started_at, r.job, r.build", params)]


def retry_explained_counts(store: Store, run_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """Per run of these with a failed test: (its failed tests, those of them a ``retry``
    fingerprint explains). A join with the distinct (run, test) pairs a ``retry`` fingerprint
    explains, not a correlated EXISTS (ClickHouse has none in an aggregate)."""
    marks, params = store.in_list(run_ids)
    failed = store.query(
        "SELECT v.run_id, count(*), sum(CASE WHEN e.test IS NULL THEN 0 ELSE 1 END) FROM test_verdicts v"
        " LEFT JOIN (SELECT DISTINCT x.run_id, x.test FROM explanations x JOIN fingerprints f ON f.bug = x.bug"
        f" WHERE f.retry AND x.run_id IN ({marks})) e ON e.run_id = v.run_id AND e.test = v.test"
        f" WHERE {rules.failed_verdict('v.verdict')} AND v.run_id IN ({marks}) GROUP BY v.run_id",
        params * 2)
    return {rid: (n, int(k or 0)) for rid, n, k in failed}


def retry_bugs(store: Store, run_ids: Sequence[int]) -> dict[int, set[str]]:
    """Per run of these, the ``retry`` fingerprints that explain some failure of it."""
    return _bugs_per_run(store, "SELECT DISTINCT x.run_id, x.bug FROM explanations x JOIN fingerprints f ON f.bug = x.bug"
                                " WHERE f.retry AND x.run_id IN ({marks})", run_ids)


def retry_log_bugs(store: Store, run_ids: Sequence[int]) -> dict[int, set[str]]:
    """Per run of these, the ``retry`` fingerprints that matched one of its logs."""
    return _bugs_per_run(store, "SELECT DISTINCT m.run_id, m.bug FROM matches m JOIN fingerprints f ON f.bug = m.bug"
                                " WHERE f.retry AND m.test IS NULL AND m.run_id IN ({marks})", run_ids)


def _bugs_per_run(store: Store, sql: str, run_ids: Sequence[int]) -> dict[int, set[str]]:
    """The (run_id, bug) rows of ``sql`` (``{marks}``: the run ids) as bugs per run."""
    bugs: dict[int, set[str]] = {}
    for rid, bug in store.query_in(sql, list(run_ids)):
        bugs.setdefault(rid, set()).add(bug)
    return bugs


def retriggers_per_run(store: Store, run_ids: Sequence[int]) -> dict[int, int]:
    """Per run of these retriggered before, how many retriggers were made (or tried)."""
    return {rid: n for rid, n in store.query_in(
        f"SELECT run_id, count(*) FROM retriggers WHERE {_TRIED}"
        " AND run_id IN ({marks}) GROUP BY run_id", list(run_ids))}


def retriggers_per_commit(store: Store, commits: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Per (job, commit_sha) of ``commits``, how many retriggers of the job on the commit were
    made (or tried)."""
    counts = _per_pair(store, f"SELECT job, commit_sha, count(*) FROM retriggers WHERE {_TRIED}"
                              " AND job IN ({jobs}) AND commit_sha IN ({shas}) GROUP BY job, commit_sha", commits)
    return {pair: int(counts.get(pair) or 0) for pair in commits}


def newest_starts(store: Store, commits: Sequence[tuple[str, str]]) -> dict[tuple[str, str], datetime]:
    """Per (job, commit_sha) of ``commits`` with a start time, the start of its newest run."""
    latest = _per_pair(store, "SELECT job, commit_sha, max(started_at) FROM runs WHERE job IN ({jobs})"
                              " AND commit_sha IN ({shas}) GROUP BY job, commit_sha", commits)
    return {pair: latest[pair] for pair in commits if latest.get(pair) is not None}


#: (job, commit) pairs per query of :func:`_per_pair`: at most twice as many parameters
_PAIRS = 5000


def _per_pair(store: Store, sql: str, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """The value per (job, commit_sha) of ``pairs`` of ``sql`` — rows (job, commit_sha, value)
    grouped by the pair, ``{jobs}`` and ``{shas}`` its IN lists — in one query per 5,000
    pairs: every engine (chDB and Spark included) filters by the two IN lists; the pairs the
    lists cross but ``pairs`` lacks are dropped here."""
    wanted = set(pairs)
    out: dict[tuple[str, str], Any] = {}
    for start in range(0, len(pairs), _PAIRS):
        chunk = pairs[start : start + _PAIRS]
        jobs, job_params = store.in_list(sorted({job for job, _ in chunk}))
        shas, sha_params = store.in_list(sorted({sha for _, sha in chunk}))
        for job, sha, value in store.query(sql.format(jobs=jobs, shas=shas), [*job_params, *sha_params]):
            if (job, sha) in wanted:
                out[job, sha] = value
    return out


class LoggedDecision(NamedTuple):
    """One decision of ``retrigger run`` as :func:`log_decisions` logs it."""

    run_id: int
    job: str
    build: str
    commit: str | None
    rule: str | None
    decision: str
    reason: str
    action: str | None


#: the ``retriggers`` table's columns, in its order (DuckDB's append inserts by position)
_LOG_SCHEMA = pa.schema([("run_id", pa.int64()), ("job", pa.string()), ("build", pa.string()),
                         ("commit_sha", pa.string()), ("rule", pa.string()), ("decision", pa.string()),
                         ("reason", pa.string()), ("action", pa.string()), ("response", pa.string()),
                         ("decided_at", pa.timestamp("us"))])


def log_decisions(store: Store, decisions: Sequence[LoggedDecision], decided_at: datetime, /) -> None:
    """Log decisions made at ``decided_at`` (their actions not performed yet: no response), in
    one bulk append."""
    if not decisions:
        return
    columns = list(zip(*decisions))
    n = len(decisions)
    store.append("retriggers", pa.Table.from_arrays(
        [*(pa.array(c, t.type) for c, t in zip(columns, _LOG_SCHEMA)), pa.nulls(n, pa.string()),
         pa.array([naive_utc(decided_at)] * n, pa.timestamp("us"))], schema=_LOG_SCHEMA))


def log_decision(store: Store, run_id: int, /, *, job: str, build: str, commit: str | None, rule: str | None,
                 decision: str, reason: str, action: str | None, decided_at: datetime) -> None:
    """Log one decision (its action not performed yet: no response)."""
    log_decisions(store, [LoggedDecision(run_id, job, build, commit, rule, decision, reason, action)], decided_at)


def record_outcome(store: Store, run_id: int, decided_at: datetime, /, *, decision: str, response: str | None) -> None:
    """Record how the action of a ``retrigger`` decision logged at ``decided_at`` went."""
    store.execute("UPDATE retriggers SET decision = ?, response = ? WHERE run_id = ? AND decided_at = ?"
                  " AND decision = ?", (decision, response, run_id, naive_utc(decided_at), rules.RETRIGGER))


def retriggered_outcomes(store: Store) -> list[tuple[str, int, str | None]]:
    """(rule, run_id, status of the next run) of every retrigger made for a rule: the next run
    is the first of the same job on the same commit started after the retriggered one (None
    while there is none). Ranked in a join, not a correlated subquery (ClickHouse has none): a
    decision is its (run_id, decided_at), the key :func:`record_outcome` updates by."""
    made = f"{rules.sql_is('t.decision', rules.RETRIGGER)} AND t.rule IS NOT NULL"
    return store.query(
        "SELECT t.rule, t.run_id, x.status FROM retriggers t JOIN runs r ON r.run_id = t.run_id"
        " LEFT JOIN (SELECT c.run_id, c.decided_at, c.status FROM"
        " (SELECT t.run_id AS run_id, t.decided_at AS decided_at, n.status AS status,"
        " row_number() OVER (PARTITION BY t.run_id, t.decided_at ORDER BY n.started_at) AS k"
        " FROM retriggers t JOIN runs r ON r.run_id = t.run_id JOIN runs n ON n.job = r.job AND n.commit_sha = r.commit_sha"
        f" WHERE {made} AND n.started_at > r.started_at) c WHERE c.k = 1) x"
        f" ON x.run_id = t.run_id AND x.decided_at = t.decided_at WHERE {made}")
