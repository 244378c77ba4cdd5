"""Test health: `runs`, `tests`, `flaky`, `regressions`."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from ..errors import UsageError
from ..queries.window import Window
from .app import (
    Context,
    _add_row,
    _fmt_time,
    _out,
    _pct,
    cli,
    emit_json,
    json_option,
    setup_tests_option,
    stderr,
    window_options,
)


@cli.command()
@window_options()
@click.option("--limit", type=int, help="At most N runs (newest first).")
@json_option
@click.pass_obj
def runs(obj: Context, window: Window, limit: int | None, as_json: bool) -> None:
    """List runs, newest first."""
    from ..analysis.stats import list_runs

    rows = list_runs(obj.store, window=window, limit=limit)
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
@window_options()
@json_option
@click.pass_obj
def tests(obj: Context, window: Window, as_json: bool) -> None:
    """Per (job, test): runs, passed, failed, flaked, skipped, pass/working/flake rates."""
    from ..analysis.stats import stats_by_test

    rows = stats_by_test(obj.store, window=window)
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
@window_options()
@click.option("--all", "show_all", is_flag=True, help="List every test, not only the flaky ones.")
@click.option("--min-runs", default=10, show_default=True, type=click.IntRange(min=1),
              help="Fewer runs without flake evidence: insufficient_data.")
@click.option("--min-flakes", default=2, show_default=True, type=click.IntRange(min=1),
              help="Flake events (retry flakes + isolated failures) that make a test flaky.")
@click.option("--exclude-known", is_flag=True,
              help="Leave out failures explained by known-bug fingerprints (tests that flake only because of a known bug disappear).")
@setup_tests_option
@json_option
@click.pass_obj
def flaky(obj: Context, window: Window, show_all: bool, min_runs: int, min_flakes: int,
          exclude_known: bool, setup_tests: str, as_json: bool) -> None:
    """Flaky tests, most failed runs caused first.

    Flake evidence: failed and passed in one run (retries), failed on a commit where another run
    passed, and isolated failures between passes. Streaks of 3+ failures and failures after a
    regression's changepoint are not flakes; infrastructure-failure runs (setup tests failed, the
    job errored, most tests failed) are left out. A test that flakes because of a known bug is
    reported with its known_bugs and the share of its failures they explain.
    """
    from ..analysis.flakes import FlakeOptions, flaky_tests
    infra = _infra(setup_tests)
    rows = flaky_tests(obj.store, window=window, only_flaky=not show_all, infra=infra,
                       options=FlakeOptions(min_runs=min_runs, min_flakes=min_flakes), exclude_known=exclude_known)
    _say_infra(obj, window, infra)
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
@window_options(days=False)
@click.option("--basis-days", default=30, show_default=True, type=click.IntRange(min=1), help="Basis window length, before the sample.")
@click.option("--sample-days", default=7, show_default=True, type=click.IntRange(min=1),
              help="Sample window length, ending at --until or now (the newest run).")
@click.option("--confidence", default=0.95, show_default=True, help="Fisher exact test confidence.")
@click.option("--pity", default=5.0, show_default=True, help="Pass-rate drop (points) always tolerated.")
@click.option("--min-failures", default=3, show_default=True, help="Sample failures needed to report.")
@click.option("--plain-fisher", is_flag=True, help="Sippy's plain level for every test: no correction for tests that already failed in the basis.")
@click.option("--include-known", is_flag=True, help="Count failures explained by known-bug fingerprints too (left out by default).")
@setup_tests_option
@json_option
@click.pass_obj
def regressions(obj: Context, window: Window, basis_days: int, sample_days: int, confidence: float,
                pity: float, min_failures: int, plain_fisher: bool, include_known: bool, setup_tests: str,
                as_json: bool) -> None:
    """Tests whose pass rate dropped significantly (Sippy's Fisher exact rule), with the first bad run."""
    from ..analysis.regressions import RegressionOptions
    from ..analysis.regressions import regressions as find_regressions

    options = RegressionOptions(basis_days=basis_days, sample_days=sample_days, confidence=confidence,
                                pity=pity, min_failures=min_failures, correct_for_flaky_basis=not plain_fisher)
    if window.since is not None:
        raise UsageError("regressions: the basis and sample windows are set by --basis-days/--sample-days "
                         "and end at --until; --since does not apply")
    infra = _infra(setup_tests)
    rows = find_regressions(obj.store, window=window, options=options, include_known=include_known, infra=infra)
    _say_infra(obj, window, infra)
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


def _infra(setup_tests: str | None) -> Any:
    """The infrastructure rule with ``--setup-tests`` (None: the default pattern, '': off)."""
    from ..analysis.history import DEFAULT_SETUP_TESTS, InfraRule

    return InfraRule(setup_tests=DEFAULT_SETUP_TESTS if setup_tests is None else (setup_tests or None))


def _say_infra(obj: Context, window: Window, infra: Any) -> None:
    """Tell (on stderr) how many runs the infrastructure rule left out of the statistics."""
    from ..analysis.history import infra_runs

    n = infra_runs(obj.store, window, infra)
    if n:
        stderr.print(f"{n} infrastructure run(s) left out (job errored, setup tests failed, or most tests failed)")
