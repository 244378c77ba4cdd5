"""Every report the web serves, each one call of the library function the CLI calls.

This module is the only place where ``ciscope.web`` calls ``ciscope.analysis``: the API
(:mod:`ciscope.web.api`) and the pages (:mod:`ciscope.web.pages`) both go through it, so the
JSON of ``/api/X`` is the JSON of ``ciscope X --json`` (same function, same arguments, same
defaults). Every report takes the one window of every read command (:class:`ciscope.queries.window.Window`).

Times given here are normalised to naive UTC, as the store holds them.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from ..analysis.disruption import baseline_json, check_json, comparison_json
from ..analysis.disruption_store import baselines as disruption_baseline_set
from ..analysis.disruption_store import check as check_disruption
from ..analysis.disruption_store import check_runs, count_disruption_runs
from ..analysis.disruption_store import report as compare_disruption
from ..analysis.flakes import FlakeOptions, flaky_tests
from ..analysis.grid import SummaryConfig, tab_summary
from ..analysis.regressions import RegressionOptions
from ..analysis.regressions import regressions as find_regressions
from ..analysis.stats import count_runs, list_runs, stats_by_test
from ..analysis.summary import grid_json, job_grid, job_summaries
from ..analysis.summary import grid_page as job_grid_page
from ..analysis.test_history import TestHistory, history_of_test
from ..analysis.timing import TimingConfig
from ..analysis.triage import bugs as top_bugs
from ..analysis.triage import failure_clusters, triage, unclassified
from ..errors import NotFoundError
from ..queries import disruption as disruption_facts
from ..queries import facts
from ..queries.timing import chart_runs, load_config, timing_outliers, timing_stats, timing_thresholds
from ..queries.timing import timing_config as load_timing_config
from ..queries.window import Window, naive_utc
from ..store.base import Store
from .app import light


def utc(value: datetime | None) -> datetime | None:
    """An aware time converted to UTC (naive times are taken as UTC already)."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC)


@light
def require_job(store: Store, job: str | None) -> None:
    """Raise :class:`NotFoundError` when ``job`` is given and has no run in the store."""
    if job is not None and not facts.job_has_runs(store, job):
        raise NotFoundError(f"{job}: no such job (`ciscope runs` or /api/runs list the jobs stored)")


@light
def runs(store: Store, f: Window, *, limit: int | None = None, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """One page of runs (their failure reasons computed for that page only) and how many
    runs the window holds."""
    require_job(store, f.job)
    return list_runs(store, window=f, limit=limit, offset=offset), count_runs(store, window=f)


@light
def tests(store: Store, f: Window) -> list[dict[str, Any]]:
    require_job(store, f.job)
    return stats_by_test(store, window=f)


@light
def history(store: Store, test: str, f: Window, *, limit: int | None = 200) -> TestHistory:
    require_job(store, f.job)
    return history_of_test(store, test, job=f.job, limit=limit)


def grid(store: Store, job: str, *, columns: int | None) -> dict[str, Any]:
    g = job_grid(store, job, columns=columns or None)
    if not g.columns:
        raise NotFoundError(f"{job}: no such job (`ciscope runs` or /api/runs list the jobs stored)")
    return grid_json(g, tab_summary(g))


@light
def grid_page(store: Store, job: str, *, columns: int | None) -> dict[str, Any]:
    """The job page's compact grid (``/api/grid/JOB?format=page``; the server caches it per
    store generation, as every report: :mod:`ciscope.web.cache`)."""
    require_job(store, job)
    return job_grid_page(store, job, columns=columns or None)


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


@light
def run_triage(store: Store, ref: str, f: Window) -> dict[str, Any]:
    require_job(store, f.job)
    return triage(store, ref, job=f.job)


@light
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


# ------------------------------------------------------------------ disruption (docs/disruption.md)

def disruption_baselines(store: Store, *, kind: str, days: int | None, at: datetime | None, release: str | None,
                         previous_release: str | None) -> list[dict[str, Any]]:
    """``ciscope disruption baseline --json``."""
    found = disruption_baseline_set(store, kind=kind, days=days, at=naive_utc(at), release=release,
                                    previous_release=previous_release)
    return [baseline_json(r, kind) for r in found.rows]


def disruption_runs(store: Store, f: Window, *, limit: int | None, days: int,
                    alert_days: int) -> tuple[list[dict[str, Any]], int]:
    """``ciscope disruption runs --json`` (the newest ``limit`` runs with disruption data,
    judged), and how many runs of the window have such data."""
    require_job(store, f.job)
    checks = [check_json(r) for r in check_runs(store, f, limit=limit, days=days, alert_days=alert_days)]
    return checks, count_disruption_runs(store, f)


def disruption_check(store: Store, ref: str, f: Window, *, days: int, alert_days: int) -> dict[str, Any]:
    """``ciscope disruption check REF --json``."""
    require_job(store, f.job)
    return check_json(check_disruption(store, ref, job=f.job, days=days, alert_days=alert_days))


def disruption_report(store: Store, *, old_days: int, new_days: int, kind: str | None, leeway: float,
                      release: str | None, previous_release: str | None) -> dict[str, Any]:
    """``ciscope disruption report --old-days N --new-days M --json`` (from the store only: the
    server reads no file a request names)."""
    return comparison_json(compare_disruption(store, old_days=old_days, new_days=new_days, kind=kind, leeway=leeway,
                                              release=release, previous_release=previous_release))


# ------------------------------------------------------------------ timing (docs/timing.md)

def timing_config() -> TimingConfig:
    """The timing config the CLI reads by default: the file ``$CISCOPE_CONFIG`` names (set it
    where ``ciscope serve`` starts), else the defaults."""
    path = os.environ.get("CISCOPE_CONFIG") or None
    return load_timing_config(load_config(path), source=path or "config")


def timing(store: Store, f: Window, *, by: str) -> dict[str, Any]:
    """``ciscope timing --json``."""
    require_job(store, f.job)
    return timing_stats(store, f, by=by, config=timing_config()).to_dict()


def timing_threshold_report(store: Store, f: Window, *, by: str) -> dict[str, Any]:
    """``ciscope timing thresholds --json``."""
    require_job(store, f.job)
    return timing_thresholds(store, f, by=by, config=timing_config()).to_dict()


def timing_outlier_report(store: Store, f: Window, *, by: str) -> dict[str, Any]:
    """``ciscope timing outliers --json``."""
    require_job(store, f.job)
    return timing_outliers(store, f, by=by, config=timing_config()).to_dict()


def timing_runs(store: Store, f: Window, *, newest: int | None) -> dict[str, Any]:
    """The data of ``ciscope timing --chart``: each run's phase durations (seconds, None when
    unmeasured), oldest first, the newest ``newest`` (None: all)."""
    require_job(store, f.job)
    config = timing_config()
    found = chart_runs(store, f, config=config)
    if newest is not None:
        found = found[-newest:] if newest else []
    return {"phases": [p.name for p in config.phases], "runs": [asdict(r) for r in found]}


# ------------------------------------------------------------------ what the page shells need (cheap)

def disruption_jobs(store: Store) -> list[str]:
    """Jobs with disruption or alert data (the disruption page's job filter)."""
    return disruption_facts.disruption_jobs(store)


def timing_jobs(store: Store) -> list[str]:
    """Jobs with lifecycle events (the timing page's job filter)."""
    return facts.jobs_with_events(store)


def run_has(store: Store, run_id: int) -> dict[str, bool]:
    """Whether a run has disruption or alert data and lifecycle events (its page then loads
    the verdicts)."""
    return {"disruption": disruption_facts.has_disruption(store, run_id), "timing": facts.has_events(store, run_id)}
