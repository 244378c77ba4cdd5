"""Reads for TestGrid grids and tab summaries (:mod:`ciscope.analysis.summary`): a job's
newest runs (the columns), their verdicts (the cells), the failure and skip messages of those
cells, and the tab summaries imported from TestGrid (``testgrid_summaries``).

The cells are read unsorted, as an Arrow table: sorting 900,000 rows by test name in the
engine took 8 of the 10 s a 300 × 3,000 grid cost, so the analysis places the rows with NumPy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..store.base import Store
from . import rules
from .window import Window

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["GridRun", "cell_messages", "grid_runs", "grid_verdict_lists", "grid_verdicts", "jobs_runs", "published_summaries"]


@dataclass(frozen=True, slots=True)
class GridRun:
    """What a grid column needs of a run."""

    run_id: int
    build: str
    started_at: datetime | None
    commit: str | None
    status: str
    failed_tests: int | None
    metadata: str | None  # the run's metadata JSON (a TestGrid ``/table`` import keeps its column there)


def grid_runs(store: Store, job: str, /, *, columns: int | None, window: Window | None = None) -> list[GridRun]:
    """The job's newest ``columns`` runs (None: every run) among the runs of ``window`` (its
    time, branch and variant filters; its job filter is ``job``), newest first."""
    return jobs_runs(store, [job], columns=columns, window=window)[job]


def jobs_runs(store: Store, jobs: Sequence[str], /, *, columns: int | None,
              window: Window | None = None) -> dict[str, list[GridRun]]:
    """:func:`grid_runs` of each of the jobs, in one query."""
    if not jobs:
        return {}
    marks, job_params = ("?", list(jobs)) if len(jobs) == 1 else store.in_list(jobs)
    where, params = (window.replace(job=None) if window else Window()).where(
        store, runs="r", extra=[f"r.job IN ({marks})"], extra_params=job_params)
    order = "r.started_at DESC NULLS LAST, r.build DESC"  # newest first
    fields = "r.job, r.run_id, r.build, r.started_at, r.commit_sha, r.status, r.failed_tests, r.metadata"
    if len(jobs) == 1:  # a LIMIT is cheaper than numbering the runs
        limit = f" LIMIT {int(columns)}" if columns else ""
        rows = store.query(f"SELECT {fields} FROM runs r{where} ORDER BY {order}{limit}", params)
    else:
        newest = f" WHERE n <= {int(columns)}" if columns else ""
        rows = store.query(
            "SELECT job, run_id, build, started_at, commit_sha, status, failed_tests, metadata FROM"
            f" (SELECT {fields}, row_number() OVER (PARTITION BY r.job ORDER BY {order}) AS n FROM runs r{where})"
            f" numbered{newest} ORDER BY job, n", params)
    out: dict[str, list[GridRun]] = {job: [] for job in jobs}
    for job, run_id, build, started, commit, status, failed, metadata in rows:
        out[job].append(GridRun(int(run_id), build, started, commit, status, failed, metadata))
    return out


def grid_verdicts(store: Store, run_ids: Sequence[int], *, durations: bool = True) -> pa.Table:
    """(run_id, test, verdict, duration) of every verdict of the runs, in no order; without
    the duration column unless ``durations``."""
    marks, params = store.in_list(run_ids)
    columns = "run_id, test, verdict, duration" if durations else "run_id, test, verdict"
    return store.query_arrow(f"SELECT {columns} FROM test_verdicts WHERE run_id IN ({marks})", params)


def grid_verdict_lists(store: Store, run_ids: Sequence[int]) -> pa.Table:
    """(test, verdict, run_ids) of the verdicts of the runs: for each test and verdict, the
    runs in which the test had that verdict (a list, in no order), the groups in no order.
    What a grid without durations is made of: each test name and verdict crosses once per
    group instead of once per cell — at 10M verdicts, the overview's 1M cells came 1.2–1.6×
    faster from DuckDB grouped than as rows, and need no encoding of 1M strings after."""
    marks, params = store.in_list(run_ids)
    return store.query_arrow("SELECT test, verdict, array_agg(run_id) AS run_ids FROM test_verdicts"
                             f" WHERE run_id IN ({marks}) GROUP BY test, verdict", params)


def cell_messages(store: Store, run_ids: Sequence[int], *, tests: Sequence[str] | None = None
                  ) -> list[tuple[int, str, str | None]]:
    """(run_id, test, message) of the failed, errored or skipped tests of the runs (of those
    among ``tests`` only, when given): a failure's message (or output), else a skip's reason —
    TestGrid shows both. Ordered, so that the job page's message list (numbered in arrival
    order) is the same on every read."""
    if not run_ids or tests is not None and not tests:
        return []
    marks, params = store.in_list(run_ids)
    of_tests = ""
    if tests is not None:
        test_marks, test_params = store.in_list(tests)
        of_tests, params = f" AND test IN ({test_marks})", [*params, *test_params]
    return store.query(
        f"SELECT run_id, test, coalesce(min(CASE WHEN status <> '{rules.SKIPPED}' THEN coalesce(failure_message, failure_text, '') END),"
        " min(coalesce(failure_message, failure_text, ''))) FROM test_results"
        f" WHERE {rules.sql_in('status', (*rules.FAILED_STATUSES, rules.SKIPPED))} AND run_id IN ({marks}){of_tests}"
        " GROUP BY run_id, test ORDER BY run_id, test",
        params,
    )


def published_summaries(store: Store, /, *, tab: str | None = None) -> list[tuple[Any, ...]]:
    """The imported tab summaries (every tab, or one) as stored: (tab, source, last_run,
    overall_status, status, latest_green, alerts JSON, ingested_at), by tab, newest last run
    first."""
    where, params = (" WHERE tab = ?", [tab]) if tab else ("", [])
    return store.query(
        "SELECT tab, source, last_run, overall_status, status, latest_green, alerts, ingested_at"
        f" FROM testgrid_summaries{where} ORDER BY tab, last_run DESC NULLS LAST, ingested_at DESC", params)
