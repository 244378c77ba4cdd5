"""TestGrid: `grid` and `summary`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ..errors import UsageError
from ..queries.window import Window
from .app import (
    Context,
    _out,
    cli,
    emit_json,
    format_option,
    output_file,
    stderr,
    window_options,
)

if TYPE_CHECKING:
    from ..analysis.summary import TabOptions, TestGridConfig


def _tab_options(func: Any) -> Any:
    """--include-test / --exclude-test / --testgrid-config: a tab's filters, as TestGrid's base_options."""
    func = click.option("--testgrid-config", "testgrid_config", envvar="CISCOPE_TESTGRID_CONFIG",
                        type=click.Path(dir_okay=False, path_type=str),
                        help="YAML file of per-job tab options (include_test, exclude_test, base_options, "
                             "num_columns_recent, …; see docs/grid.md), or TestGrid's own config.yaml. "
                             "Env: CISCOPE_TESTGRID_CONFIG.")(func)
    func = click.option("--exclude-test", "exclude_tests", multiple=True, metavar="REGEX",
                        help="Leave out rows whose test name matches REGEX (repeatable; TestGrid's "
                             "exclude-filter-by-regex), after the config file's.")(func)
    func = click.option("--include-test", "include_tests", multiple=True, metavar="REGEX",
                        help="Keep only rows whose test name matches REGEX (repeatable: every one must "
                             "match; TestGrid's include-filter-by-regex).")(func)
    return func


def _given(include_tests: tuple[str, ...], exclude_tests: tuple[str, ...], **numbers: int | None) -> TabOptions:
    from ..analysis.summary import TabOptions, check_regexes

    return TabOptions(include=check_regexes(include_tests, where="--include-test"),
                      exclude=check_regexes(exclude_tests, where="--exclude-test"), **numbers)


def _load_config(path: str | None) -> TestGridConfig | None:
    from ..analysis.summary import TestGridConfig

    return TestGridConfig.load(path) if path else None


@cli.command()
@click.argument("job")
@click.option("--columns", type=click.IntRange(min=0), default=100, show_default=True, help="Newest N runs (0: all).")
@click.option("--npz", "npz_file", callback=output_file("--npz"), help="Write the status matrix, durations and labels as a NumPy .npz file.")
@click.option("--parquet", "parquet_file", callback=output_file("--parquet"), help="Write one row per cell (test, build, started, status, duration, message) as Parquet.")
@click.option("--all-rows", is_flag=True, help="Show every test, also those with no failure in the runs shown (table, csv, markdown).")
@window_options(job=False)
@_tab_options
@format_option
@click.pass_obj
def grid(obj: Context, job: str, columns: int, npz_file: str | None, parquet_file: str | None, all_rows: bool,
         window: Window, include_tests: tuple[str, ...], exclude_tests: tuple[str, ...], testgrid_config: str | None,
         as_json: bool) -> None:
    """TestGrid-style grid of JOB: rows = tests, columns = runs (newest first), TestGrid status codes.

    Rows are filtered as the tab's include/exclude regexes say (--include-test, --exclude-test,
    --testgrid-config). --json writes the shape of TestGrid's /table response (run-length encoded
    statuses, messages per non-blank cell, timestamps in ms, changelists, column_ids).
    """
    from ..analysis.grid import tab_summary
    from ..analysis.summary import filtered_grid, grid_json, job_grid, job_options
    from ..queries.facts import job_exists
    from ..report import reports
    from ..report.export import write_npz, write_parquet

    include = (*include_tests, window.test) if window.test else include_tests  # --test: one more include filter
    options = job_options(job, config=_load_config(testgrid_config), given=_given(include, exclude_tests))
    g = job_grid(obj.store, job, columns=columns or None, window=window)
    if not g.columns and not job_exists(obj.store, job):
        raise UsageError(f"no runs of job {job!r} in {obj.db}; `ciscope runs` lists what is stored")
    g = filtered_grid(g, options)
    if not g.columns:
        stderr.print(f"{job}: no runs (an empty TestGrid tab: STALE, no completed results)")
    for path, write in ((npz_file, write_npz), (parquet_file, write_parquet)):
        if path:
            try:
                write(g, path)
            except OSError as exc:
                raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
            stderr.print(f"wrote {path}: {len(g.tests)} tests × {len(g.columns)} runs", markup=False)
    if as_json:
        emit_json(grid_json(g, tab_summary(g, config=options.summary_config())))
    elif not g.columns:
        return
    elif obj.format != "table":
        obj.show(reports.grid(g, all_rows=all_rows))
    elif not (npz_file or parquet_file):
        # the runs that fit beside the test names (names up to 60 characters wide; longer ones fold)
        width = _out().width - min(60, max((len(t) for t in g.tests), default=0)) - 7
        obj.show(reports.grid(g, all_rows=all_rows, width=width))


@cli.command()
@window_options()
@click.option("--columns", type=click.IntRange(min=0), default=100, show_default=True, help="Newest N runs of each job considered (0: all).")
@click.option("--recent", type=click.IntRange(min=1), help="TestGrid's num_columns_recent (default: the config file's, else 10).")
@click.option("--alert-after", type=click.IntRange(min=0), help="Consecutive failures that open an alert (default: config, else 3).")
@click.option("--close-after", type=click.IntRange(min=1), help="Passes that close an alert (default: config, else 1).")
@_tab_options
@click.option("--imported", is_flag=True, help="List the tab summaries imported from TestGrid (/summary files) as published.")
@format_option
@click.pass_obj
def summary(obj: Context, window: Window, columns: int, recent: int | None, alert_after: int | None,
            close_after: int | None, include_tests: tuple[str, ...], exclude_tests: tuple[str, ...],
            testgrid_config: str | None, imported: bool, as_json: bool) -> None:
    """TestGrid's tab summary per job: overall status, status string, latest green, alerts.

    Each job's tab is filtered by its include/exclude regexes (--include-test, --exclude-test and
    the --testgrid-config file). When a TestGrid /summary for the same tab was ingested, its
    published status is shown beside ciscope's and compared (as of the published summary's last
    run). Jobs without runs (empty TestGrid tabs) are STALE.
    """
    from ..analysis.summary import tab_reports, upstream_summaries
    from ..report import reports

    job = window.job
    if window.test:  # --test: one more include filter of every tab
        include_tests = (*include_tests, window.test)
    if imported:
        published = upstream_summaries(obj.store, tab=job)
        obj.output([u.as_dict() for u in published], reports.imported)
        return
    given = _given(include_tests, exclude_tests, num_columns_recent=recent, num_failures_to_alert=alert_after,
                   num_passes_to_disable_alert=close_after)
    tab_reports_ = tab_reports(obj.store, job=job, config=_load_config(testgrid_config), given=given,
                               columns=columns or None, window=window)
    obj.output([r.as_dict() for r in tab_reports_], reports.summary)
