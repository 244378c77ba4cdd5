"""Test histories as columnar arrays: one portable query, then vectorized NumPy.

Flake and regression detection read every verdict of every (job, test) in time order. One
Ibis expression (:func:`ciscope.queries.verdicts.history_queries`, run by the store's engine)
returns them sorted; the analyses then work on
NumPy arrays with group boundaries, never a Python loop per result. This keeps 10 million
results within seconds and guarantees the same answers on every engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..queries import verdicts
from ..queries.verdicts import Selection
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
    test (a test id matching ``setup_tests``, see :data:`DEFAULT_SETUP_TESTS`) failed.
    (The rule is applied in the engine by :mod:`ciscope.queries.verdicts`.)"""

    fraction: float = 0.5
    min_failed: int = 10
    setup_tests: str | None = DEFAULT_SETUP_TESTS


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
class VerdictFilter:
    """Which verdicts a history analysis reads: the runs of a :class:`ciscope.queries.window.Window`
    (job, time, branch, variants, tests), infrastructure runs left out, and — unless
    ``include_known`` — failures a known bug explains (:mod:`ciscope.queries.explained`):
    those are the bug's, not the test's. Sippy calls the regressions they cause "triaged"."""

    scope: Scope = field(default_factory=Scope)
    infra: InfraRule | None = None
    include_known: bool = False

    def selection(self, store: Store) -> Selection:
        """The window resolved against the store (``--days`` counts back from its "now")."""
        since, until = self.scope.bounds(store)
        rule = self.infra or InfraRule()
        return Selection(job=self.scope.job, since=since, until=until, branch=self.scope.branch,
                         variants=self.scope.variants, test=self.scope.test, fraction=rule.fraction,
                         min_failed=rule.min_failed, setup_tests=rule.setup_tests,
                         include_known=self.include_known)


def infra_runs(store: Store, scope: Scope, rule: InfraRule | None = None) -> int:
    """How many finished runs of ``scope`` the infrastructure rule leaves out."""
    selection = VerdictFilter(scope=scope, infra=rule).selection(store)
    return int(store.scalar(verdicts.infra_run_count(store.ibis_table, selection)))


def verdict_counts(store: Store, window: VerdictFilter) -> list[tuple[str, str, int, int, int]]:
    """(job, test, runs, failed, flaked) of every test in the window, sorted."""
    table = store.to_arrow(verdicts.verdict_counts(store.ibis_table, window.selection(store)))
    columns = [table[c].to_pylist() for c in ("job", "test", "runs", "failed", "flaked")]
    return [(j, t, int(n), int(f or 0), int(k or 0)) for j, t, n, f, k in zip(*columns)]


def load_history(store: Store, window: VerdictFilter, *, troubled_only: bool = False,
                 tests: Sequence[tuple[str, str]] | None = None) -> History:
    """Every non-skipped verdict of finished, non-infrastructure runs in the window, sorted
    by (job, test, time). With ``troubled_only``, only tests that failed or flaked at least
    once in the window — all that sequence analyses need, usually a few percent of rows;
    with ``tests``, only (at least) those (job, test) pairs. The engine numbers the
    (job, test) pairs: only integers and timestamps cross the wire per row; builds and
    commits come with the (few) runs."""
    keys, rows, runs = verdicts.history_queries(store.ibis_table, window.selection(store),
                                                troubled_only=troubled_only, tests=tests)
    return history_from_arrow(store.to_arrow(keys), store.to_arrow(rows), store.to_arrow(runs))


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
