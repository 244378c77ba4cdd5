"""TestGrid: `grid` and `summary`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
@click.option("--columns", default=100, show_default=True, help="Newest N runs (0: all).")
@click.option("--npz", "npz_file", type=click.Path(dir_okay=False, path_type=str), help="Write the status matrix, durations and labels as a NumPy .npz file.")
@click.option("--parquet", "parquet_file", type=click.Path(dir_okay=False, path_type=str), help="Write one row per cell (test, build, started, status, duration, message) as Parquet.")
@_tab_options
@json_option
@click.pass_obj
def grid(obj: Context, job: str, columns: int, npz_file: str | None, parquet_file: str | None,
         include_tests: tuple[str, ...], exclude_tests: tuple[str, ...], testgrid_config: str | None,
         as_json: bool) -> None:
    """TestGrid-style grid of JOB: rows = tests, columns = runs (newest first), TestGrid status codes.

    Rows are filtered as the tab's include/exclude regexes say (--include-test, --exclude-test,
    --testgrid-config). --json writes the shape of TestGrid's /table response (run-length encoded
    statuses, messages per non-blank cell, timestamps in ms, changelists, column_ids).
    """
    from ..analysis.grid import tab_summary
    from ..analysis.summary import filtered_grid, grid_json, job_grid, job_options
    from ..report.export import write_npz, write_parquet

    options = job_options(job, config=_load_config(testgrid_config), given=_given(include_tests, exclude_tests))
    g = job_grid(obj.store, job, columns=columns or None)
    if not g.columns and not obj.store.query("SELECT 1 FROM jobs WHERE job = ?", [job]):
        raise UsageError(f"no runs of job {job!r} in {obj.db}; `ciscope runs` lists what is stored")
    g = filtered_grid(g, options)
    if not g.columns:
        stderr.print(f"{job}: no runs (an empty TestGrid tab: STALE, no completed results)")
    if npz_file:
        write_npz(g, npz_file)
        stderr.print(f"wrote {npz_file}: {len(g.tests)} tests × {len(g.columns)} runs")
    if parquet_file:
        write_parquet(g, parquet_file)
        stderr.print(f"wrote {parquet_file}")
    if as_json:
        emit_json(grid_json(g, tab_summary(g, config=options.summary_config())))
    elif g.columns and not (npz_file or parquet_file):
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
@click.option("--recent", type=click.IntRange(min=1), help="TestGrid's num_columns_recent (default: the config file's, else 10).")
@click.option("--alert-after", type=click.IntRange(min=0), help="Consecutive failures that open an alert (default: config, else 3).")
@click.option("--close-after", type=click.IntRange(min=1), help="Passes that close an alert (default: config, else 1).")
@_tab_options
@click.option("--imported", is_flag=True, help="List the tab summaries imported from TestGrid (/summary files) as published.")
@json_option
@click.pass_obj
def summary(obj: Context, job: str | None, columns: int, recent: int | None, alert_after: int | None,
            close_after: int | None, include_tests: tuple[str, ...], exclude_tests: tuple[str, ...],
            testgrid_config: str | None, imported: bool, as_json: bool) -> None:
    """TestGrid's tab summary per job: overall status, status string, latest green, alerts.

    Each job's tab is filtered by its include/exclude regexes (--include-test, --exclude-test and
    the --testgrid-config file). When a TestGrid /summary for the same tab was ingested, its
    published status is shown beside ciscope's and compared (as of the published summary's last
    run). Jobs without runs (empty TestGrid tabs) are STALE.
    """
    from ..analysis.summary import tab_reports, upstream_summaries

    if imported:
        published = upstream_summaries(obj.store, tab=job)
        if as_json:
            emit_json([u.as_dict() for u in published])
            return
        _print_imported(published)
        return
    given = _given(include_tests, exclude_tests, num_columns_recent=recent, num_failures_to_alert=alert_after,
                   num_passes_to_disable_alert=close_after)
    reports = tab_reports(obj.store, job=job, config=_load_config(testgrid_config), given=given,
                          columns=columns or None)
    if as_json:
        emit_json([r.as_dict() for r in reports])
        return
    table = Table()
    for column in ("job", "status", "recent columns", "latest green", "alerts", "upstream", "agrees"):
        table.add_column(column, overflow="fold")
    for r in reports:
        s = r.summary
        label = s.overall_status.label
        alerts = ", ".join(f"{a.test} ({a.fail_count})" for a in s.alerts[:3])
        more = f" +{len(s.alerts) - 3}" if len(s.alerts) > 3 else ""
        status = s.status if not s.stale_alert or s.stale_alert == s.status else f"{s.status} ({s.stale_alert})"
        upstream: Text | str = "-"
        if r.upstream:  # the published status, and its status string where it differs from ours
            upstream = Text(r.upstream.overall_status, style=_COLORS.get(r.upstream.overall_status, ""))
            if r.upstream.status != s.status:
                upstream.append(f": {r.upstream.status}")
        _add_row(table, r.job, Text(label, style=_COLORS.get(label, "white")), status, s.latest_green, alerts + more,
                 upstream, _agrees(r.agreement))
    _out().print(table)


_COLORS = {"PASSING": "green", "FLAKY": "magenta", "FAILING": "red", "BROKEN": "red", "STALE": "yellow"}


def _agrees(agreement: Any) -> Text | str:
    if agreement is None:
        return "-"
    if agreement.agrees is None:
        return Text("not comparable", style="dim")
    if agreement.agrees:
        return Text("yes", style="green")
    return Text("no: " + ", ".join(agreement.differs), style="red")


def _print_imported(published: list[Any]) -> None:
    from datetime import UTC, datetime

    table = Table()
    for column in ("tab", "last run", "status", "recent columns", "latest green", "alerts", "source"):
        table.add_column(column, overflow="fold")
    for u in published:
        when = datetime.fromtimestamp(u.last_run_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M") if u.last_run_ms else "-"
        _add_row(table, u.tab, when, Text(u.overall_status, style=_COLORS.get(u.overall_status, "")), u.status,
                 u.latest_green, len(u.alerts), u.source)
    _out().print(table)
