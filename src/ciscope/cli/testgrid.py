"""TestGrid: `grid` and `summary`."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table
from rich.text import Text

from ..errors import UsageError
from .app import (
    Context,
    _add_row,
    _out,
    cli,
    emit_json,
    job_option,
    json_option,
    stderr,
)


@cli.command()
@click.argument("job")
@click.option("--columns", default=100, show_default=True, help="Newest N runs (0: all).")
@click.option("--npz", "npz_file", type=click.Path(dir_okay=False, path_type=str), help="Write the status matrix, durations and labels as a NumPy .npz file.")
@click.option("--parquet", "parquet_file", type=click.Path(dir_okay=False, path_type=str), help="Write one row per cell (test, build, started, status, duration, message) as Parquet.")
@json_option
@click.pass_obj
def grid(obj: Context, job: str, columns: int, npz_file: str | None, parquet_file: str | None, as_json: bool) -> None:
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
    if npz_file:
        write_npz(g, npz_file)
        stderr.print(f"wrote {npz_file}: {len(g.tests)} tests × {len(g.columns)} runs")
    if parquet_file:
        write_parquet(g, parquet_file)
        stderr.print(f"wrote {parquet_file}")
    if as_json:
        emit_json(grid_json(g, tab_summary(g)))
    elif not (npz_file or parquet_file):
        _print_grid(g)


_CELL = {0: " ", 1: "[green]■[/]", 2: "[green]■[/]", 3: "[dim]s[/]", 4: "[blue]R[/]", 12: "[red]✖[/]",
         13: "[magenta]F[/]", 9: "[red]T[/]", 6: "?", 5: "?", 7: "?", 8: "?", 10: "[red]✖[/]", 11: "[red]✖[/]",
         14: "[red]✖[/]", 15: "[green]■[/]"}


def _print_grid(g: Any) -> None:
    out = _out()
    width = max(10, (out.width or 120) - 62)
    shown = g.columns[:width]
    out.print(f"[bold]{g.name}[/] — {len(g.tests)} rows × {len(g.columns)} runs (newest left; ■ pass ✖ fail F flaky s skip R running)")
    for test, row in zip(g.tests, g.statuses):
        if test != "Overall" and not any(v in (12, 13, 9, 10, 11, 14) for v in row):
            continue
        cells = "".join(_CELL.get(v, "?") for v in row[: len(shown)])
        out.print(Text(f"{test[:58]:<58}  ") + Text.from_markup(cells), highlight=False)


@cli.command()
@job_option
@click.option("--columns", default=100, show_default=True, help="Newest N runs of each job considered.")
@click.option("--recent", default=10, show_default=True, help="TestGrid's num_columns_recent.")
@click.option("--alert-after", default=3, show_default=True, help="Consecutive failures that open an alert.")
@click.option("--close-after", default=1, show_default=True, help="Passes that close an alert.")
@json_option
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
    colors = {"PASSING": "green", "FLAKY": "magenta", "FAILING": "red", "BROKEN": "red", "STALE": "yellow"}
    table = Table()
    for column in ("job", "status", "recent columns", "latest green", "alerts"):
        table.add_column(column, overflow="fold")
    for r in rows:
        color = colors.get(r["overall_status"], "white")
        alerts = ", ".join(f"{a['test'][:60]} ({a['fail_count']})" for a in r["alerts"][:3])
        more = f" +{len(r['alerts']) - 3}" if len(r["alerts"]) > 3 else ""
        _add_row(table, r["job"], Text(r["overall_status"], style=color), r["status"], r["latest_green"], alerts + more)
    _out().print(table)
