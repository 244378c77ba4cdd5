"""Reads for the run list and the per-test counts (``ciscope runs``, ``ciscope tests``, the API;
:mod:`ciscope.analysis.stats`): the runs of a window, how many there are, and the verdict
counts per (job, test).

A window's ``test`` filter keeps the runs with a verdict of a matching test; on the per-test
counts it keeps the matching tests.
"""

from __future__ import annotations

from typing import Any

from ..store.base import Store
from . import rules
from .window import Window

__all__ = ["window_runs", "window_run_count", "verdict_counts_by_test"]


def window_runs(store: Store, window: Window, /, *, limit: int | None = None,
             offset: int = 0) -> list[dict[str, Any]]:
    """Runs of ``window``, newest first: {run_id, job, build, status, started_at, finished_at,
    commit, tests, failed_tests, flaked_tests}."""
    where, params = _runs_where(store, window)
    sql = (
        "SELECT r.run_id, r.job, r.build, r.status, r.started_at, r.finished_at, r.commit_sha AS commit, r.tests,"
        " r.failed_tests, r.flaked_tests FROM runs r"
        f"{where} ORDER BY r.started_at DESC NULLS LAST, r.job, r.build"
    )
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    if offset:
        sql += f" OFFSET {int(offset)}"
    return store.query_dicts(sql, params)


def window_run_count(store: Store, window: Window, /) -> int:
    """How many runs :func:`window_runs` lists for ``window`` without a limit."""
    where, params = _runs_where(store, window)
    return int(store.query(f"SELECT count(*) FROM runs r{where}", params)[0][0])


def _runs_where(store: Store, window: Window) -> tuple[str, list[Any]]:
    """The WHERE of the runs of ``window`` (alias ``r``); a ``test`` filter keeps runs with a
    verdict of a matching test."""
    extra, extra_params = [], []
    if window.test is not None:
        clause, params = window.test_clauses(store, "tv.test")
        extra.append(f"EXISTS (SELECT 1 FROM test_verdicts tv WHERE tv.run_id = r.run_id AND {clause[0]})")
        extra_params += params
    return window.where(store, extra=extra, extra_params=extra_params)


def verdict_counts_by_test(store: Store, window: Window, /) -> list[tuple[str, str, int, int, int, int, int]]:
    """Per (job, test) of ``window``: (job, test, runs, passed, failed, flaked, skipped), by job
    and test. ``runs = passed + failed + flaked`` (skipped runs do not count; an ``error``
    verdict counts as failed)."""
    where, params = window.where(store, runs="v", job="v.job", started="v.started_at", has_branch=False,
                                 test="v.test")
    sql = f"""
        SELECT job, test,
               passed + failed + flaked AS runs, passed, failed, flaked, skipped
        FROM (
            SELECT job, test, {rules.verdict_counts()}
            FROM test_verdicts v{where}
            GROUP BY job, test
        ) AS counts
        ORDER BY job, test
    """
    return [(job, test, int(runs), int(passed), int(failed), int(flaked), int(skipped))
            for job, test, runs, passed, failed, flaked, skipped in store.query(sql, params)]
