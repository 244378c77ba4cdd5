"""Test histories as columnar arrays: one portable query, then vectorized NumPy.

Flake and regression detection read every verdict of every (job, test) in time order. A
single SQL query (the same on every engine) returns them sorted; the analyses then work on
NumPy arrays with group boundaries, never a Python loop per result. This keeps 10 million
results within seconds and guarantees the same answers on every engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..queries.explained import explained_sql
from ..queries.window import Window as Scope
from ..store.base import Store

# verdict codes in the arrays
PASS, FAIL, FLAKY = 0, 1, 2


#: Tests that set the job up (Sippy's install and infrastructure tests): when one fails, the
#: run is an infrastructure failure, not evidence about the tests that did not get to run.
DEFAULT_SETUP_TESTS = (r"^(?:install should succeed|\[sig-sippy\] infrastructure should work"
                       r"|\[sig-sippy\] (?:install|setup) |cluster install |(?:job|cluster) setup should succeed)")
#: (written without ``\b`` and other escapes whose meaning differs between Python/RE2 and
#: PostgreSQL's regular expressions: the pattern runs in the database)


@dataclass
class InfraRule:
    """Which runs are infrastructure failures, excluded from test statistics: the run ended
    in ``error``, or it failed with no test results, or at least ``fraction`` of its tests
    failed (and at least ``min_failed`` of them) — the job broke, not the tests — or a setup
    test (a test id matching ``setup_tests``, see :data:`DEFAULT_SETUP_TESTS`) failed."""

    fraction: float = 0.5
    min_failed: int = 10
    setup_tests: str | None = DEFAULT_SETUP_TESTS

    def clauses(self, store: Store) -> tuple[list[str], list[object]]:
        """SQL conditions over ``runs r`` that hold for runs that are NOT infrastructure failures."""
        clauses = [
            "r.status NOT IN ('pending', 'error', 'aborted')",
            "r.tests > 0",
            "NOT (r.failed_tests >= ? AND r.failed_tests >= ? * r.tests)",
        ]
        params: list[object] = [self.min_failed, self.fraction]
        if self.setup_tests:
            clauses.append("NOT EXISTS (SELECT 1 FROM test_verdicts sv WHERE sv.run_id = r.run_id"
                           f" AND sv.verdict IN ('failed', 'error') AND {store.regex_sql('sv.test')})")
            params.append(self.setup_tests)
        return clauses, params


@dataclass
class History:
    """Verdicts sorted by (job, test, started_at, build). ``group`` numbers the (job, test)
    pairs 0..n-1 in that order; ``starts[k]`` is the first row of group k."""

    jobs: list[str]  # per group
    tests: list[str]  # per group
    group: np.ndarray  # int64 per row
    starts: np.ndarray  # int64 per group
    verdict: np.ndarray  # int8 per row: PASS, FAIL, FLAKY
    attempts: np.ndarray  # int16 per row: attempts of the test in that run (> 1: retried)
    started: np.ndarray  # int64 µs since epoch per row
    commit: np.ndarray  # int64 code per row (-1 = unknown); codes are per history
    run: np.ndarray  # int64 per row: index into ``builds`` and ``run_ids``
    builds: list[str]  # build id per run index
    run_ids: np.ndarray  # int64 run_id per run index (sorted)
    commits: list[str | None]  # code → sha
    explained: np.ndarray | None = None  # bool per row: a known bug explains the failure

    @property
    def groups(self) -> int:
        return len(self.jobs)

    def build(self, row: int) -> str:
        return self.builds[int(self.run[row])]

    def time(self, row: int) -> datetime:
        return datetime.fromtimestamp(int(self.started[row]) / 1e6, timezone.utc)


@dataclass
class Window:
    """Which verdicts a history analysis reads: the runs of a :class:`ciscope.queries.window.Window`
    (job, time, branch, variants, tests), infrastructure runs left out, and — unless
    ``include_known`` — failures a known bug explains (:mod:`ciscope.queries.explained`):
    those are the bug's, not the test's. Sippy calls the regressions they cause "triaged"."""

    scope: Scope = field(default_factory=Scope)
    infra: InfraRule | None = None
    include_known: bool = False

    def where(self, store: Store) -> tuple[str, list[object]]:
        clauses, params = (self.infra or InfraRule()).clauses(store)
        clauses.insert(0, "v.verdict <> 'skipped'")
        if not self.include_known:
            clauses.append("NOT " + explained_sql("v.run_id", "v.test"))
        c, p = self.scope.run_clauses(store, runs="r", job="v.job", started="v.started_at")
        clauses += c
        params += p
        c, p = self.scope.test_clauses(store, "v.test")
        clauses += c
        params += p
        return " AND ".join(clauses), params


def infra_runs(store: Store, scope: Scope, rule: InfraRule | None = None) -> int:
    """How many finished runs of ``scope`` the infrastructure rule leaves out."""
    rule = rule or InfraRule()
    keep, params = rule.clauses(store)
    where, wparams = scope.where(store, extra=["r.status NOT IN ('pending', 'aborted')"])
    (n,) = store.query(f"SELECT count(*) FROM runs r{where} AND NOT ({' AND '.join(keep)})", [*wparams, *params])[0]
    return int(n)


def verdict_counts(store: Store, window: Window) -> list[tuple[str, str, int, int, int]]:
    """(job, test, runs, failed, flaked) of every test in the window, sorted."""
    where, params = window.where(store)
    sql = (
        "SELECT v.job, v.test, count(*),"
        " sum(CASE WHEN v.verdict IN ('failed', 'error') THEN 1 ELSE 0 END),"
        " sum(CASE WHEN v.verdict = 'flaky' THEN 1 ELSE 0 END)"
        f" FROM test_verdicts v JOIN runs r ON r.run_id = v.run_id WHERE {where}"
        " GROUP BY v.job, v.test ORDER BY v.job, v.test"
    )
    return [(j, t, int(n), int(f), int(k)) for j, t, n, f, k in store.query(sql, params)]


def load_history(store: Store, window: Window, *, troubled_only: bool = False) -> History:
    """Every non-skipped verdict of finished, non-infrastructure runs in the window, sorted
    by (job, test, time). With ``troubled_only``, only tests that failed or flaked at least
    once in the window — all that sequence analyses need, usually a few percent of rows."""
    where, params = window.where(store)
    having = " HAVING sum(CASE WHEN verdict <> 'passed' THEN 1 ELSE 0 END) > 0" if troubled_only else ""
    # Only integers and timestamps cross the wire per row: (job, test) pairs are numbered in
    # the database and fetched once; builds and commits come with the (few) runs.
    base = (
        "WITH base AS (SELECT v.job, v.test, v.verdict, v.attempts, v.started_at, v.run_id, r.build"
        f" FROM test_verdicts v JOIN runs r ON r.run_id = v.run_id WHERE {where}),"
        " k AS (SELECT job, test, ROW_NUMBER() OVER (ORDER BY job, test) - 1 AS gid"
        f" FROM base GROUP BY job, test{having})"
    )
    keys_sql = f"{base} SELECT job, test FROM k ORDER BY gid"
    rows_sql = (
        f"{base} SELECT k.gid, CASE b.verdict WHEN 'passed' THEN 0 WHEN 'flaky' THEN 2 ELSE 1 END AS code,"
        " b.attempts, b.started_at, b.run_id FROM base b JOIN k ON k.job = b.job AND k.test = b.test"
        " ORDER BY k.gid, b.started_at, b.build"
    )
    runs_sql = "SELECT run_id, build, commit_sha FROM runs ORDER BY run_id"
    keys = store.query_arrow(keys_sql, params)
    rows = store.query_arrow(rows_sql, params)
    runs = store.query_arrow(runs_sql)
    return history_from_arrow(keys, rows, runs)


def history_from_arrow(keys: pa.Table, rows: pa.Table, runs: pa.Table) -> History:
    n = rows.num_rows
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return History([], [], empty, empty, np.zeros(0, np.int8), np.zeros(0, np.int16), empty, empty, empty, [],
                       empty, [])
    group = rows["gid"].combine_chunks().to_numpy(zero_copy_only=False).astype(np.int64)
    changed = np.ones(n, dtype=bool)
    changed[1:] = group[1:] != group[:-1]
    starts = np.flatnonzero(changed)
    verdict = rows["code"].combine_chunks().to_numpy(zero_copy_only=False).astype(np.int8)
    micros = pc.cast(pc.cast(rows["started_at"].combine_chunks(), pa.timestamp("us")), pa.int64())
    started = micros.fill_null(0).to_numpy(zero_copy_only=False)
    run_ids = runs["run_id"].combine_chunks().to_numpy(zero_copy_only=False)  # sorted by the query
    position = np.searchsorted(run_ids, rows["run_id"].combine_chunks().to_numpy(zero_copy_only=False))
    commit_dict = runs["commit_sha"].combine_chunks().dictionary_encode()
    run_commit = commit_dict.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return History(
        jobs=keys["job"].to_pylist(),
        tests=keys["test"].to_pylist(),
        group=group,
        starts=starts.astype(np.int64),
        verdict=verdict,
        attempts=rows["attempts"].combine_chunks().to_numpy(zero_copy_only=False).astype(np.int16),
        started=started.astype(np.int64),
        commit=run_commit[position],
        run=position.astype(np.int64),
        builds=runs["build"].to_pylist(),
        run_ids=run_ids.astype(np.int64),
        commits=commit_dict.dictionary.to_pylist(),
    )


def segment_lengths(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For an array of keys, (segment id per element, length of each segment) where a
    segment is a maximal run of equal consecutive keys."""
    if len(keys) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    new = np.ones(len(keys), dtype=bool)
    new[1:] = keys[1:] != keys[:-1]
    seg = np.cumsum(new) - 1
    return seg, np.bincount(seg)
