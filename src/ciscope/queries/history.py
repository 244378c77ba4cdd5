"""Reads of tests' histories from ``test_verdicts`` (and ``runs``, ``test_results``):

- one test's verdict counts per job and per UTC day, its newest runs and the failure
  messages of its failed runs (the test page, :mod:`ciscope.analysis.test_history`);
- the durations of every passing or flaky verdict of a window, in time order per (job, test)
  (:mod:`ciscope.analysis.slowdowns`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..store.base import Store
from . import rules
from .window import Window

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["counts_of_test", "duration_histories", "failure_messages_of_test", "runs_of_test"]

_COUNTS = rules.verdict_counts()


def _where_test(test: str, job: str | None) -> tuple[str, list[Any]]:
    where, params = "test = ?", [test]
    if job is not None:
        where += " AND job = ?"
        params.append(job)
    return where, params


def counts_of_test(store: Store, test: str, /, *, job: str | None = None
                   ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """``test``'s verdict counts (or in ``job`` only), from one scan of the verdicts (the test
    column is read once: at 10M verdicts a scan is most of the test page's time):

    - per job, by job: (job, passed, failed, flaked, skipped, start of its newest run);
    - per (UTC day, job) of the runs with a start time, by day and job: (day, job, passed,
      failed, flaked, skipped, mean duration).

    An ``error`` verdict counts as failed."""
    where, params = _where_test(test, job)
    rows = store.query(
        f"SELECT CAST(started_at AS DATE) AS day, job, {_COUNTS}, avg(duration), max(started_at) FROM test_verdicts"
        f" WHERE {where} GROUP BY day, job ORDER BY day NULLS LAST, job", params)
    per_job: dict[str, list[Any]] = {}
    for _day, name, passed, failed, flaked, skipped, _mean, last in rows:
        total = per_job.setdefault(name, [name, 0, 0, 0, 0, None])
        total[1] += passed
        total[2] += failed
        total[3] += flaked
        total[4] += skipped
        if last is not None and (total[5] is None or last > total[5]):
            total[5] = last
    days = [row[:7] for row in rows if row[0] is not None]
    return [tuple(per_job[name]) for name in sorted(per_job)], days


def runs_of_test(store: Store, test: str, /, *, job: str | None = None,
                 limit: int | None = None) -> list[dict[str, Any]]:
    """``test``'s newest ``limit`` verdicts (None: every one): {run_id, job, build, started_at,
    verdict, attempts, duration}, newest first."""
    _, params = _where_test(test, job)
    top = f" LIMIT {int(limit)}" if limit is not None else ""
    return store.query_dicts(
        "SELECT v.run_id, v.job, r.build, v.started_at, v.verdict, v.attempts, v.duration FROM test_verdicts v"
        " JOIN runs r ON r.run_id = v.run_id WHERE v.test = ?" + (" AND v.job = ?" if job is not None else "") +
        f" ORDER BY v.started_at DESC NULLS LAST, r.build DESC, v.job{top}", params)


def failure_messages_of_test(store: Store, test: str, run_ids: Sequence[int],
                             /) -> list[tuple[int, str | None, str | None]]:
    """(run_id, failure_message, failure_text) of ``test``'s failed or errored attempts in the
    runs, by run and attempt."""
    return store.query_in(
        "SELECT run_id, failure_message, failure_text FROM test_results WHERE test = ?"
        f" AND {rules.failed_status()} AND run_id IN ({{marks}}) ORDER BY run_id, attempt",
        list(run_ids), [test])


def duration_histories(store: Store, window: Window, /) -> pa.Table:
    """The passing and flaky verdicts with a positive duration of ``window``, ordered by (job,
    test, start, build): gid (the (job, test) pair numbered in the database, so only numbers
    cross per row), job, test, started_at, duration, build, commit_sha."""
    where, params = window.where(store, runs="r", job="v.job", started="v.started_at", test="v.test",
                                 extra=[rules.sql_in("v.verdict", rules.PASSING_VERDICTS), "v.duration > 0"])
    return store.query_arrow(
        "SELECT dense_rank() OVER (ORDER BY v.job, v.test) AS gid, v.job, v.test, v.started_at, v.duration,"
        f" r.build, r.commit_sha FROM test_verdicts v JOIN runs r ON r.run_id = v.run_id{where}"
        " ORDER BY v.job, v.test, v.started_at, r.build", params)
