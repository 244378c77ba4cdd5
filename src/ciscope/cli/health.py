"""Test health: `runs`, `tests`, `flaky`, `regressions`."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import click
from rich.table import Table

from .app import (
    Context,
    _add_row,
    _fmt_time,
    _out,
    _pct,
    cli,
    emit_json,
    job_option,
    json_option,
)


@cli.command()
@job_option
@click.option("--days", type=int, help="Only runs started in the last N days.")
@click.option("--limit", type=int, help="At most N runs (newest first).")
@json_option
@click.pass_obj
def runs(obj: Context, job: str | None, days: int | None, limit: int | None, as_json: bool) -> None:
    """List runs, newest first."""
    from ..analysis.stats import list_runs

    since = datetime.now(timezone.utc) - timedelta(days=days) if days else None
    rows = list_runs(obj.store, job=job, since=since, limit=limit)
    if as_json:
        emit_json(rows)
        return
    table = Table()
    for column in ("job", "build", "status", "started_at", "commit", "tests", "failed_tests", "flaked_tests"):
        table.add_column(column, overflow="fold")
    for row in rows:
        _add_row(table, row["job"], row["build"], row["status"], _fmt_time(row["started_at"]),
                      (row["commit"] or "")[:12], str(row["tests"]), str(row["failed_tests"]), str(row["flaked_tests"]))
    _out().print(table)


@cli.command()
@job_option
@click.option("--days", type=int, help="Only runs started in the last N days.")
@json_option
@click.pass_obj
def tests(obj: Context, job: str | None, days: int | None, as_json: bool) -> None:
    """Per (job, test): runs, passed, failed, flaked, skipped, pass/working/flake rates."""
    from ..analysis.stats import stats_by_test

    since = datetime.now(timezone.utc) - timedelta(days=days) if days else None
    rows = stats_by_test(obj.store, job=job, since=since)
    if as_json:
        emit_json(rows)
        return
    table = Table()
    for column in ("job", "test", "runs", "passed", "failed", "flaked", "skipped", "pass", "working", "flake"):
        table.add_column(column, overflow="fold", justify="left" if column in ("job", "test") else "right")
    for r in rows:
        _add_row(table, r["job"], r["test"], *(str(r[k]) for k in ("runs", "passed", "failed", "flaked", "skipped")),
                      *(_pct(r[k]) for k in ("pass_rate", "working_rate", "flake_rate")))
    _out().print(table)

@cli.command()
@job_option
@click.option("--days", type=int, help="Only the last N days before the newest run.")
@click.option("--all", "show_all", is_flag=True, help="List every test, not only the flaky ones.")
@click.option("--min-runs", default=10, show_default=True, help="Fewer runs without flake evidence: insufficient_data.")
@click.option("--min-flakes", default=2, show_default=True, help="Flake events (retry flakes + isolated failures) that make a test flaky.")
@click.option("--include-known", is_flag=True, help="Count failures explained by known-bug fingerprints too (left out by default).")
@json_option
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
    table = Table()
    for column in ("job", "test", "runs", "flaked", "same commit", "isolated fails", "flip score", "flake rate", "last flake", "verdict"):
        table.add_column(column, overflow="fold", justify="left" if column in ("job", "test", "verdict", "last flake") else "right")
    for r in rows:
        _add_row(table, r["job"], r["test"], str(r["runs"]), str(r["flaked"]), str(r["same_commit_flips"]),
                      str(r["isolated_failures"]), f"{r['flip_score']:.1f}", _pct(r["flake_rate"]),
                      _fmt_time(r["last_flake"]), r["verdict"])
    _out().print(table)


@cli.command()
@job_option
@click.option("--basis-days", default=30, show_default=True, help="Basis window length, before the sample.")
@click.option("--sample-days", default=7, show_default=True, help="Sample window length, ending at the newest run.")
@click.option("--confidence", default=0.95, show_default=True, help="Fisher exact test confidence.")
@click.option("--pity", default=5.0, show_default=True, help="Pass-rate drop (points) always tolerated.")
@click.option("--min-failures", default=3, show_default=True, help="Sample failures needed to report.")
@click.option("--plain-fisher", is_flag=True, help="Sippy's plain level for every test: no correction for tests that already failed in the basis.")
@click.option("--include-known", is_flag=True, help="Count failures explained by known-bug fingerprints too (left out by default).")
@json_option
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
    table = Table()
    for column in ("job", "test", "status", "basis", "sample", "p", "first bad build", "first bad commit"):
        table.add_column(column, overflow="fold")
    for r in rows:
        _add_row(table, r["job"], r["test"], r["status"],
                      f"{_pct(r['basis']['pass_rate'])} of {r['basis']['runs']}",
                      f"{_pct(r['sample']['pass_rate'])} of {r['sample']['runs']}",
                      f"{r['p_value']:.2g}", r["first_bad_build"] or "-", (r["first_bad_commit"] or "-")[:12])
    _out().print(table)
