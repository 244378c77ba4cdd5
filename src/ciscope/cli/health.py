"""Test health: `runs`, `tests`, `flaky`, `regressions`."""

from __future__ import annotations

from typing import Any

import click

from ..errors import UsageError
from ..queries.window import Window
from .app import (
    Context,
    cli,
    format_option,
    setup_tests_option,
    stderr,
    window_options,
)


@cli.command()
@window_options()
@click.option("--limit", type=click.IntRange(min=1), help="At most N runs (newest first).")
@format_option
@click.pass_obj
def runs(obj: Context, window: Window, limit: int | None, as_json: bool) -> None:
    """List runs, newest first, with the structured reason of each failed or incomplete run
    (category, component, phase, message, fingerprint, evidence; docs/concepts.md)."""
    from ..analysis.stats import list_runs
    from ..report import reports

    rows = list_runs(obj.store, window=window, limit=limit)
    obj.output(rows, reports.runs)


@cli.command()
@window_options()
@format_option
@click.pass_obj
def tests(obj: Context, window: Window, as_json: bool) -> None:
    """Per (job, test): runs, passed, failed, flaked, skipped, pass/working/flake rates."""
    from ..analysis.stats import stats_by_test
    from ..report import reports

    rows = stats_by_test(obj.store, window=window)
    obj.output(rows, reports.tests)

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
@format_option
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
    from ..report import reports
    infra = _infra(setup_tests)
    rows = flaky_tests(obj.store, window=window, only_flaky=not show_all, infra=infra,
                       options=FlakeOptions(min_runs=min_runs, min_flakes=min_flakes), exclude_known=exclude_known)
    _say_infra(obj, window, infra)
    obj.output(rows, reports.flaky)


@cli.command()
@window_options(days=False)
@click.option("--basis-days", default=30, show_default=True, type=click.IntRange(min=1), help="Basis window length, before the sample.")
@click.option("--sample-days", default=7, show_default=True, type=click.IntRange(min=1),
              help="Sample window length, ending at --until or now (the newest run).")
@click.option("--confidence", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.95, show_default=True, help="Fisher exact test confidence.")
@click.option("--pity", type=click.FloatRange(0, 100), default=5.0, show_default=True, help="Pass-rate drop (points) always tolerated.")
@click.option("--min-failures", type=click.IntRange(min=1), default=3, show_default=True, help="Sample failures needed to report.")
@click.option("--plain-fisher", is_flag=True, help="Sippy's plain level for every test: no correction for tests that already failed in the basis.")
@click.option("--include-known", is_flag=True, help="Count failures explained by known-bug fingerprints too (left out by default).")
@setup_tests_option
@format_option
@click.pass_obj
def regressions(obj: Context, window: Window, basis_days: int, sample_days: int, confidence: float,
                pity: float, min_failures: int, plain_fisher: bool, include_known: bool, setup_tests: str,
                as_json: bool) -> None:
    """Tests whose pass rate dropped significantly (Sippy's Fisher exact rule), with the first bad run."""
    from ..analysis.regressions import RegressionOptions
    from ..analysis.regressions import regressions as find_regressions
    from ..report import reports

    options = RegressionOptions(basis_days=basis_days, sample_days=sample_days, confidence=confidence,
                                pity=pity, min_failures=min_failures, correct_for_flaky_basis=not plain_fisher)
    if window.since is not None:
        raise UsageError("regressions: the basis and sample windows are set by --basis-days/--sample-days "
                         "and end at --until; --since does not apply")
    infra = _infra(setup_tests)
    rows = find_regressions(obj.store, window=window, options=options, include_known=include_known, infra=infra)
    _say_infra(obj, window, infra)
    obj.output(rows, reports.regressions)


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


@cli.command()
@window_options()
@click.option("--min-factor", type=click.FloatRange(min=1, min_open=True), default=1.5, show_default=True,
              help="Report a test when its median duration grew at least this many times.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.001, show_default=True,
              help="Family-wise significance over every test examined (Mann-Whitney U, Bonferroni).")
@click.option("--min-runs", type=click.IntRange(min=2), default=8, show_default=True,
              help="Runs needed on each side of the change.")
@format_option
@click.pass_obj
def slowdowns(obj: Context, window: Window, min_factor: float, alpha: float, min_runs: int, as_json: bool) -> None:
    """Tests that became markedly slower, with the run where it started, by how much, how surely.

    Per (job, test), the durations of its passing runs in time order: the split where the later
    runs are most significantly slower (Welch's t on log-durations), confirmed by a one-sided
    Mann-Whitney U test corrected for the number of tests examined.
    """
    from ..analysis.slowdowns import SlowdownOptions
    from ..analysis.slowdowns import slowdowns as find_slowdowns
    from ..report import reports

    rows = [s.as_dict() for s in find_slowdowns(obj.store, window=window, options=SlowdownOptions(
        min_factor=min_factor, alpha=alpha, min_side=min_runs))]
    obj.output(rows, reports.slowdowns)
