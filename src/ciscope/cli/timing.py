"""Where the time goes: `timing`, `timing thresholds`, `timing outliers` (docs/timing.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..queries.window import Window
from .app import (
    Context,
    _add_row,
    _out,
    cli,
    emit_json,
    json_option,
    stderr,
    window_options,
)

if TYPE_CHECKING:
    pass

config_option = click.option(
    "--config", "config_path", envvar="CISCOPE_CONFIG", show_envvar=True, type=click.Path(path_type=str),
    help="Config file (YAML): timing phases, threshold rule, stall rules; retrigger settings. See docs/timing.md.")
by_option = click.option("--by", type=click.Choice(["job", "worker", "device_group"]), default="job", show_default=True,
                         help="Group runs by job, worker (device) or device group.")


def _config(path: str | None) -> Any:
    from ..queries.timing import load_config, timing_config

    return timing_config(load_config(path), source=path or "config")


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


@cli.group(invoke_without_command=True)
@window_options()
@by_option
@click.option("--chart", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.svg",
              help="Also write an SVG chart: phases of the newest runs (stacked bars) and phase trends over time.")
@click.option("--newest", default=30, show_default=True, type=click.IntRange(min=1), help="Runs in the chart's bars.")
@config_option
@json_option
@click.pass_context
def timing(ctx: click.Context, window: Window, by: str, chart: Path | None, newest: int, config_path: str | None,
           as_json: bool) -> None:
    """Phase statistics (queue, provision, boot, test, publish, total) per job, worker or device group.

    Per group and phase: count, min, max, mean, std, p50, p90, p99 (seconds), and the runs whose
    phase is missing, out of order or still open. Per group: requestors, ongoing and queued runs,
    runs ending in error, runs stopped for slowness, repeated events, emit→receive skew.
    """
    from rich.table import Table
    if ctx.invoked_subcommand is not None:
        return
    from ..queries.timing import timing_stats

    obj: Context = ctx.obj
    config = _config(config_path)
    report = timing_stats(obj.store, window, by=by, config=config)
    if chart is not None:
        from ..queries.timing import chart_runs
        from ..report.timing_svg import timing_svg

        phases = [p.name for p in config.phases if p.name != "total"]
        chart.write_text(timing_svg(chart_runs(obj.store, window, config=config), phases, newest=newest))
        stderr.print(f"chart written to {chart}", markup=False)
    if as_json:
        emit_json(report.to_dict())
        return
    if not report.runs:
        stderr.print("no runs with lifecycle events in this window (see docs/timing.md for event files)")
        return
    table = Table(title=f"phases by {by} (seconds)")
    for column in (by, "phase", "count", "min", "p50", "p90", "p99", "max", "mean", "std", "missing", "out of order", "open"):
        table.add_column(column, justify="left" if column in (by, "phase") else "right")
    for r in report.phases:
        _add_row(table, r.group, r.phase, r.count, _s(r.min), _s(r.p50), _s(r.p90), _s(r.p99), _s(r.max), _s(r.mean),
                 _s(r.std), r.missing, r.out_of_order, r.open)
    _out().print(table)
    groups = Table(title=f"runs by {by}")
    for column in (by, "runs", "ongoing", "queued", "errored", "error share", "failed", "stalled", "tests failed in stalls",
                   "requestors",
                   "repeated events", "skew mean", "skew max"):
        groups.add_column(column, justify="left" if column in (by, "requestors", "repeated events") else "right")
    for g in report.groups:
        requestors = ", ".join(f"{r.name} ({r.requests})" for r in g.requestors[:3])
        repeated = ", ".join(f"{i.event} ×{i.max} in {i.repeated}" for i in g.iterations if i.repeated)
        _add_row(groups, g.group, g.runs, g.ongoing, g.queued, g.errored,
                 "-" if g.error_share is None else f"{g.error_share:.1%}", g.failed, g.stalled, g.stalled_failed_tests,
                 requestors or "-",
                 repeated or "-", _s(g.skew.mean if g.skew else None), _s(g.skew.max if g.skew else None))
    _out().print(groups)


@timing.command("thresholds")
@window_options()
@by_option
@config_option
@json_option
@click.pass_obj
def timing_thresholds_command(obj: Context, window: Window, by: str, config_path: str | None, as_json: bool) -> None:
    """Stall thresholds per group and phase, for a worker to load and stop a too-slow run.

    Rule (config timing.thresholds): quantile × factor of the durations of the runs started in the
    last `days` (default P99 × 1.5 over 30 days), when at least `min_samples` (20) exist; else the
    phase over all groups; else none. Each threshold says how many samples it rests on.
    """
    from rich.table import Table

    from ..queries.timing import timing_thresholds

    report = timing_thresholds(obj.store, window, by=by, config=_config(config_path))
    if as_json:
        emit_json(report.to_dict())
        return
    rule = report.rule
    table = Table(title=f"stall thresholds: P{rule.quantile * 100:g} × {rule.factor:g} over {rule.days:g} days, "
                        f"≥ {rule.min_samples} samples")
    for column in (by, "phase", "threshold (s)", "quantile (s)", "samples", "basis"):
        table.add_column(column, justify="left" if column in (by, "phase", "basis") else "right")
    for t in report.thresholds:
        _add_row(table, t.group, t.phase, _s(t.threshold), _s(t.quantile_value), t.samples, t.basis)
    _out().print(table)


@timing.command("outliers")
@window_options()
@by_option
@config_option
@json_option
@click.pass_obj
def timing_outliers_command(obj: Context, window: Window, by: str, config_path: str | None, as_json: bool) -> None:
    """Finished and still-running runs whose phase exceeds its stall threshold, and the workers
    they ran on (with the runs stopped for slowness)."""
    from rich.table import Table

    from ..queries.timing import timing_outliers

    report = timing_outliers(obj.store, window, by=by, config=_config(config_path))
    if as_json:
        emit_json(report.to_dict())
        return
    table = Table(title="phases over their stall threshold")
    group = [by] if by not in ("job", "worker") else []
    for column in ("job", "build", *group, "worker", "phase", "state", "seconds", "threshold", "ratio", "stalled"):
        table.add_column(column, justify="right" if column in ("seconds", "threshold", "ratio") else "left")
    for o in report.outliers:
        _add_row(table, o.job, o.build, *([o.group] if group else []), o.worker or "-", o.phase, o.state,
                 _s(o.seconds), _s(o.threshold), f"{o.ratio:.2f}", "yes" if o.stalled else "")
    _out().print(table)
    workers = Table(title="workers with outliers or stalls")
    for column in ("worker", "runs", "outlier runs", "share", "stopped for slowness"):
        workers.add_column(column, justify="left" if column == "worker" else "right")
    for w in report.workers:
        _add_row(workers, w.worker, w.runs, w.outlier_runs, f"{w.share:.1%}", w.stalled)
    _out().print(workers)
