"""Test health: `runs`, `tests`, `flaky`, `regressions`."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import click

from ..report import reports
from .app import (
    Context,
    cli,
    emit_json,
    format_option,
    job_option,
)


@cli.command()
@job_option
@click.option("--days", type=click.IntRange(min=1), help="Only runs started in the last N days.")
@click.option("--limit", type=click.IntRange(min=1), help="At most N runs (newest first).")
@format_option
@click.pass_obj
def runs(obj: Context, job: str | None, days: int | None, limit: int | None, as_json: bool) -> None:
    """List runs, newest first."""
    from ..analysis.stats import list_runs

    since = datetime.now(timezone.utc) - timedelta(days=days) if days else None
    rows = list_runs(obj.store, job=job, since=since, limit=limit)
    if as_json:
        emit_json(rows)
        return
    obj.show(reports.runs(rows))


@cli.command()
@job_option
@click.option("--days", type=click.IntRange(min=1), help="Only runs started in the last N days.")
@format_option
@click.pass_obj
def tests(obj: Context, job: str | None, days: int | None, as_json: bool) -> None:
    """Per (job, test): runs, passed, failed, flaked, skipped, pass/working/flake rates."""
    from ..analysis.stats import stats_by_test

    since = datetime.now(timezone.utc) - timedelta(days=days) if days else None
    rows = stats_by_test(obj.store, job=job, since=since)
    if as_json:
        emit_json(rows)
        return
    obj.show(reports.tests(rows))

@cli.command()
@job_option
@click.option("--days", type=click.IntRange(min=1), help="Only the last N days before the newest run.")
@click.option("--all", "show_all", is_flag=True, help="List every test, not only the flaky ones.")
@click.option("--min-runs", type=click.IntRange(min=0), default=10, show_default=True, help="Fewer runs without flake evidence: insufficient_data.")
@click.option("--min-flakes", type=click.IntRange(min=1), default=2, show_default=True, help="Flake events (retry flakes + isolated failures) that make a test flaky.")
@click.option("--include-known", is_flag=True, help="Count failures explained by known-bug fingerprints too (left out by default).")
@format_option
@click.pass_obj
def flaky(obj: Context, job: str | None, days: int | None, show_all: bool, min_runs: int, min_flakes: int,
          include_known: bool, as_json: bool) -> None:
    """Flaky tests, most failed runs caused first.

    Flake evidence: failed and passed in one run (retries), failed on a commit where another run
    passed, and isolated failures between passes. Streaks of 3+ failures and failures after a
    regression's changepoint are not flakes; infrastructure-failure runs and failures explained by
    known bugs are left out.
    """
    from ..analysis.flakes import FlakeOptions, flaky_tests

    rows = flaky_tests(obj.store, job=job, days=days, only_flaky=not show_all,
                       options=FlakeOptions(min_runs=min_runs, min_flakes=min_flakes), include_known=include_known)
    if as_json:
        emit_json(rows)
        return
    obj.show(reports.flaky(rows))


@cli.command()
@job_option
@click.option("--basis-days", type=click.IntRange(min=1), default=30, show_default=True, help="Basis window length, before the sample.")
@click.option("--sample-days", type=click.IntRange(min=1), default=7, show_default=True, help="Sample window length, ending at the newest run.")
@click.option("--confidence", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.95, show_default=True, help="Fisher exact test confidence.")
@click.option("--pity", type=click.FloatRange(0, 100), default=5.0, show_default=True, help="Pass-rate drop (points) always tolerated.")
@click.option("--min-failures", type=click.IntRange(min=1), default=3, show_default=True, help="Sample failures needed to report.")
@click.option("--plain-fisher", is_flag=True, help="Sippy's plain level for every test: no correction for tests that already failed in the basis.")
@click.option("--include-known", is_flag=True, help="Count failures explained by known-bug fingerprints too (left out by default).")
@format_option
@click.pass_obj
def regressions(obj: Context, job: str | None, basis_days: int, sample_days: int, confidence: float,
                pity: float, min_failures: int, plain_fisher: bool, include_known: bool, as_json: bool) -> None:
    """Tests whose pass rate dropped significantly (Sippy's Fisher exact rule), with the first bad run."""
    from ..analysis.regressions import RegressionOptions
    from ..analysis.regressions import regressions as find_regressions

    options = RegressionOptions(basis_days=basis_days, sample_days=sample_days, confidence=confidence,
                                pity=pity, min_failures=min_failures, correct_for_flaky_basis=not plain_fisher)
    rows = find_regressions(obj.store, job=job, options=options, include_known=include_known)
    if as_json:
        emit_json(rows)
        return
    obj.show(reports.regressions(rows))
