"""Every report the web serves, each one call of the library function the CLI calls.

This module is the only place where ``ciscope.web`` calls ``ciscope.analysis``: the API
(:mod:`ciscope.web.api`) and the pages (:mod:`ciscope.web.pages`) both go through it, so the
JSON of ``/api/X`` is the JSON of ``ciscope X --json`` (same function, same arguments, same
defaults). Every report takes the one window of every read command (:class:`ciscope.queries.window.Window`).

Times given here are normalised to naive UTC, as the store holds them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..analysis.flakes import FlakeOptions, flaky_tests
from ..analysis.grid import SummaryConfig, tab_summary
from ..analysis.regressions import RegressionOptions
from ..analysis.regressions import regressions as find_regressions
from ..analysis.stats import list_runs, stats_by_test
from ..analysis.summary import grid_json, job_grid, job_summaries
from ..analysis.test_history import TestHistory, history_of_test
from ..analysis.triage import bugs as top_bugs
from ..analysis.triage import failure_clusters, triage, unclassified
from ..errors import NotFoundError
from ..queries.window import Window
from ..store.base import Store


def utc(value: datetime | None) -> datetime | None:
    """An aware time converted to UTC (naive times are taken as UTC already)."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC)


def require_job(store: Store, job: str | None) -> None:
    """Raise :class:`NotFoundError` when ``job`` is given and has no run in the store."""
    if job is not None and not list_runs(store, window=Window(job=job), limit=1, reasons=False):
        raise NotFoundError(f"{job}: no such job (`ciscope runs` or /api/runs list the jobs stored)")


def runs(store: Store, f: Window, *, limit: int | None = None) -> list[dict[str, Any]]:
    require_job(store, f.job)
    return list_runs(store, window=f, limit=limit)


def tests(store: Store, f: Window) -> list[dict[str, Any]]:
    require_job(store, f.job)
    return stats_by_test(store, window=f)


def history(store: Store, test: str, f: Window, *, limit: int | None = 200) -> TestHistory:
    require_job(store, f.job)
    return history_of_test(store, test, job=f.job, limit=limit)


def grid(store: Store, job: str, *, columns: int | None) -> dict[str, Any]:
    g = job_grid(store, job, columns=columns or None)
    if not g.columns:
        raise NotFoundError(f"{job}: no such job (`ciscope runs` or /api/runs list the jobs stored)")
    return grid_json(g, tab_summary(g))


def summary(store: Store, f: Window, *, columns: int | None, config: SummaryConfig) -> list[dict[str, Any]]:
    require_job(store, f.job)
    return job_summaries(store, job=f.job, config=config, columns=columns or None)


def flaky(store: Store, f: Window, *, options: FlakeOptions, show_all: bool,
          exclude_known: bool) -> list[dict[str, Any]]:
    require_job(store, f.job)
    return flaky_tests(store, window=f, options=options, only_flaky=not show_all, exclude_known=exclude_known)


def regressions(store: Store, f: Window, *, options: RegressionOptions, include_known: bool) -> list[dict[str, Any]]:
    require_job(store, f.job)
    return find_regressions(store, window=f, options=options, include_known=include_known)


def run_triage(store: Store, ref: str, f: Window) -> dict[str, Any]:
    require_job(store, f.job)
    return triage(store, ref, job=f.job)


def bugs(store: Store, f: Window) -> list[dict[str, Any]]:
    require_job(store, f.job)
    return top_bugs(store, window=f.replace(days=None), days=int(f.days) if f.days is not None else 10)


def uncategorized(store: Store, f: Window, *, limit: int | None) -> dict[str, Any]:
    require_job(store, f.job)
    return unclassified(store, window=f, limit=limit)


def clusters(store: Store, f: Window, *, top: int | None, min_size: int, suggest: bool,
             include_known: bool) -> dict[str, Any]:
    require_job(store, f.job)
    return failure_clusters(store, window=f, top=top, min_size=min_size,
                            suggest=suggest, include_known=include_known)
