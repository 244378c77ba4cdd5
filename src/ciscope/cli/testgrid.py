"""TestGrid: `grid` and `summary`."""

from __future__ import annotations

import click

from ..errors import UsageError
from ..report import reports
from .app import (
    Context,
    _out,
    cli,
    emit_json,
    format_option,
    job_option,
    output_file,
    stderr,
)


@cli.command()
@click.argument("job")
@click.option("--columns", type=click.IntRange(min=0), default=100, show_default=True, help="Newest N runs (0: all).")
@click.option("--npz", "npz_file", callback=output_file("--npz"), help="Write the status matrix, durations and labels as a NumPy .npz file.")
@click.option("--parquet", "parquet_file", callback=output_file("--parquet"), help="Write one row per cell (test, build, started, status, duration, message) as Parquet.")
@click.option("--all-rows", is_flag=True, help="Show every test, also those with no failure in the runs shown (table, csv, markdown).")
@format_option
@click.pass_obj
def grid(obj: Context, job: str, columns: int, npz_file: str | None, parquet_file: str | None, all_rows: bool,
         as_json: bool) -> None:
    """TestGrid-style grid of JOB: rows = tests, columns = runs (newest first), TestGrid status codes.

    --json writes the shape of TestGrid's /table response (run-length encoded statuses,
    messages per non-blank cell, timestamps in ms, changelists, column_ids).
    """
    from ..analysis.grid import tab_summary
    from ..analysis.summary import grid_json, job_grid
    from ..report.export import write_npz, write_parquet

    g = job_grid(obj.store, job, columns=columns or None)
    if not g.columns:
        raise UsageError(f"no runs of job {job!r} in {obj.db}; `ciscope runs` lists what is stored")
    for path, write in ((npz_file, write_npz), (parquet_file, write_parquet)):
        if path:
            try:
                write(g, path)
            except OSError as exc:
                raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
            stderr.print(f"wrote {path}: {len(g.tests)} tests × {len(g.columns)} runs", markup=False)
    if as_json:
        emit_json(grid_json(g, tab_summary(g)))
    elif obj.format != "table":
        obj.show(reports.grid(g, all_rows=all_rows))
    elif not (npz_file or parquet_file):
        # the runs that fit beside the test names (names up to 60 characters wide; longer ones fold)
        width = _out().width - min(60, max((len(t) for t in g.tests), default=0)) - 7
        obj.show(reports.grid(g, all_rows=all_rows, width=width))


@cli.command()
@job_option
@click.option("--columns", type=click.IntRange(min=0), default=100, show_default=True, help="Newest N runs of each job considered (0: all).")
@click.option("--recent", type=click.IntRange(min=1), default=10, show_default=True, help="TestGrid's num_columns_recent.")
@click.option("--alert-after", type=click.IntRange(min=1), default=3, show_default=True, help="Consecutive failures that open an alert.")
@click.option("--close-after", type=click.IntRange(min=1), default=1, show_default=True, help="Passes that close an alert.")
@format_option
@click.pass_obj
def summary(obj: Context, job: str | None, columns: int, recent: int, alert_after: int, close_after: int,
            as_json: bool) -> None:
    """TestGrid's tab summary per job: overall status, status string, latest green, alerts."""
    from ..analysis.grid import SummaryConfig
    from ..analysis.summary import job_summaries

    config = SummaryConfig(num_columns_recent=recent, num_failures_to_alert=alert_after,
                           num_passes_to_disable_alert=close_after)
    rows = job_summaries(obj.store, job=job, config=config, columns=columns or None)
    if as_json:
        emit_json(rows)
        return
    obj.show(reports.summary(rows))
