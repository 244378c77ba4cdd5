"""TestGrid grids and tab summaries built from the store.

A job's grid has one column per run (newest first) and one row per test, plus TestGrid's
``Overall`` row from the run status. Verdicts become TestGrid status codes:
passed → PASS, failed/error → FAIL, flaky → FLAKY, skipped → PASS_WITH_SKIPS; a pending
run is RUNNING. The tab summary, status string and alerts are then exactly TestGrid's
(:mod:`ciscope.analysis.grid`).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

import numpy as np

from ..store.base import Store
from .grid import Column, Grid, SummaryConfig, TabSummary, TestStatus, rle_encode, tab_summary

VERDICT_STATUS = {
    "passed": TestStatus.PASS,
    "failed": TestStatus.FAIL,
    "error": TestStatus.FAIL,
    "flaky": TestStatus.FLAKY,
    "skipped": TestStatus.PASS_WITH_SKIPS,
}
RUN_STATUS = {
    "success": TestStatus.PASS,
    "failure": TestStatus.FAIL,
    "error": TestStatus.FAIL,
    "aborted": TestStatus.CANCEL,
    "pending": TestStatus.RUNNING,
}
OVERALL = "Overall"
DEFAULT_COLUMNS = 100


def job_grid(store: Store, job: str, /, *, columns: int | None = DEFAULT_COLUMNS,
             messages: bool = True) -> Grid:
    """The job's grid over its newest ``columns`` runs (None: every run)."""
    limit = f" LIMIT {int(columns)}" if columns else ""
    runs = store.query(
        "SELECT run_id, build, started_at, commit_sha, status, failed_tests FROM runs WHERE job = ?"
        f" ORDER BY started_at DESC NULLS LAST, build DESC{limit}",
        [job],
    )
    cols = [Column(build=build, started_ms=_ms(started), commit=commit) for _, build, started, commit, _, _ in runs]
    ids = [r[0] for r in runs]
    position = {rid: i for i, rid in enumerate(ids)}
    overall_status = [int(RUN_STATUS.get(r[4], TestStatus.UNKNOWN)) for r in runs]
    overall_messages = [
        "Build failed outside of test results" if r[4] == "failure" and not r[5] else "" for r in runs
    ]
    if not ids:
        return Grid(name=job, columns=[], tests=[], statuses=[], messages=[])
    table = store.query_arrow(
        f"SELECT run_id, test, verdict, duration FROM test_verdicts WHERE run_id IN ({','.join('?' * len(ids))})"
        " ORDER BY test",
        ids,
    )
    tests_col = table["test"].combine_chunks().dictionary_encode()
    names = tests_col.dictionary.to_pylist()
    ordered = sorted(names)
    rank = {name: i for i, name in enumerate(ordered)}
    row_of_name = np.array([rank[name] for name in names], dtype=np.int64)
    status = np.zeros((len(names), len(ids)), dtype=np.int8)
    durations = np.full((len(names), len(ids)), np.nan)
    r = row_of_name[tests_col.indices.to_numpy(zero_copy_only=False)]
    c = np.array([position[x] for x in table["run_id"].to_pylist()], dtype=np.int64)
    lookup = {v: int(s) for v, s in VERDICT_STATUS.items()}
    status[r, c] = np.array([lookup[v] for v in table["verdict"].to_pylist()], dtype=np.int8)
    durations[r, c] = table["duration"].to_numpy(zero_copy_only=False).astype(float)
    message_grid = [[""] * len(ids) for _ in ordered]
    if messages:
        index = {name: i for i, name in enumerate(ordered)}
        for run_id, test, message in store.query(
            "SELECT run_id, test, min(coalesce(failure_message, failure_text, '')) FROM test_results"
            f" WHERE run_id IN ({','.join('?' * len(ids))}) AND status IN ('failed', 'error')"
            " GROUP BY run_id, test",
            ids,
        ):
            message_grid[index[test]][position[run_id]] = (message or "")[:1000]
    # one vectorised pass (NaN → None) instead of a Python test per cell: 900k cells at 300 × 3,000
    duration_rows = np.where(np.isnan(durations), None, durations).tolist()
    return Grid(
        name=job,
        columns=cols,
        tests=[OVERALL, *ordered],
        statuses=[overall_status, *status.tolist()],
        messages=[overall_messages, *message_grid],
        durations=[[None] * len(ids), *duration_rows],
    )


def _ms(value: datetime | None) -> int | None:
    """Epoch milliseconds of a stored (naive UTC) timestamp."""
    if value is None:
        return None
    return int(value.replace(tzinfo=timezone.utc).timestamp() * 1000) if value.tzinfo is None else int(value.timestamp() * 1000)


def grid_json(grid: Grid, summary: TabSummary | None = None) -> dict[str, Any]:
    """The shape of TestGrid's legacy ``/table`` response: run-length encoded statuses,
    messages per non-blank cell, ``timestamps`` in ms, ``changelists`` and ``column_ids``."""
    alerts = {a.test: a for a in (summary.alerts if summary else ())}
    tests = []
    for name, statuses, messages, durations in zip(grid.tests, grid.statuses, grid.messages,
                                                   grid.durations or [[None] * len(grid.columns)] * len(grid.tests)):
        row: dict[str, Any] = {
            "name": name,
            "statuses": rle_encode(statuses),
            "messages": [m for s, m in zip(statuses, messages) if s],
            "durations": [d for s, d in zip(statuses, durations) if s],
            "alert": _alert_json(alerts[name]) if name in alerts else None,
        }
        tests.append(row)
    return {
        "test-group-name": grid.name,
        "tests": tests,
        "timestamps": [c.started_ms for c in grid.columns],
        "changelists": [c.build for c in grid.columns],
        "column_ids": [c.build for c in grid.columns],
        "commits": [c.commit for c in grid.columns],
    }


def _alert_json(alert: Any) -> dict[str, Any]:
    return {k: v for k, v in asdict(alert).items() if v is not None}


def job_summary(store: Store, job: str, /, *, config: SummaryConfig | None = None,
                columns: int | None = DEFAULT_COLUMNS) -> dict[str, Any]:
    """TestGrid's tab summary of one job."""
    grid = job_grid(store, job, columns=columns, messages=True)
    summary = tab_summary(grid, config=config)
    return summary_json(job, summary)


def summary_json(job: str, summary: TabSummary) -> dict[str, Any]:
    return {
        "job": job,
        "overall_status": summary.overall_status.label,
        "status": summary.status,
        "latest_green": summary.latest_green,
        "last_run": summary.last_run_ms,
        "stale_alert": summary.stale_alert,
        "alerts": [_alert_json(a) for a in summary.alerts],
    }


def job_summaries(store: Store, /, *, job: str | None = None, config: SummaryConfig | None = None,
                  columns: int | None = DEFAULT_COLUMNS) -> list[dict[str, Any]]:
    """The tab summary of every job (or one), by job name."""
    jobs = [job] if job else [row[0] for row in store.query("SELECT job FROM jobs ORDER BY job")]
    return [job_summary(store, name, config=config, columns=columns) for name in jobs]
