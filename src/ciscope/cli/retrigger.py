"""Bounded retriggers of runs that failed for a known, retryable reason: `retrigger plan`,
`retrigger run`, `retrigger stats` (off unless configured; docs/timing.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ..queries.window import Window
from .app import (
    Context,
    _add_row,
    _out,
    _pct,
    cli,
    emit_json,
    json_option,
    stderr,
    window_options,
)
from .timing import config_option

if TYPE_CHECKING:
    pass


def _config(path: str | None) -> Any:
    from ..analysis.retrigger import RetriggerConfig
    from ..errors import InputError
    from ..queries.timing import load_config

    section = load_config(path).get("retrigger") or {}
    if not isinstance(section, dict):
        raise InputError(path or "config", "retrigger: expected a mapping (enabled, max_per_run, max_per_commit, "
                                           "reason_regex, command, webhook, days)")
    return RetriggerConfig.from_mapping(section, source=path or "config")


def _render(plan: Any, as_json: bool) -> None:
    from rich.table import Table
    if as_json:
        emit_json(plan.to_dict())
        return
    table = Table(title=f"retriggers ({'dry run' if plan.dry_run else 'executed'}; at most {plan.max_per_run} per run, "
                        f"{plan.max_per_commit} per commit)")
    for column in ("job", "build", "commit", "status", "decision", "reason", "rule", "action", "response"):
        table.add_column(column, overflow="fold")
    for d in plan.decisions:
        _add_row(table, d.job, d.build, (d.commit or "-")[:12], d.status, d.decision, d.reason, d.rule or "-",
                 d.action or "-", d.response or "-")
    _out().print(table)


@cli.group()
def retrigger() -> None:
    """Retrigger failed runs explained by `retry: true` fingerprints or a reason regex (off unless configured)."""


@retrigger.command("plan")
@window_options()
@config_option
@json_option
@click.pass_obj
def retrigger_plan(obj: Context, window: Window, config_path: str | None, as_json: bool) -> None:
    """Failed runs (last `retrigger.days`, default 2, unless --days/--since) with the decision,
    its reason, and the command or webhook that would retrigger each. Nothing is executed or logged."""
    from ..analysis.retrigger import plan_retriggers

    _render(plan_retriggers(obj.store, window, _config(config_path)), as_json)


@retrigger.command("run")
@window_options()
@config_option
@click.option("--dry-run", is_flag=True, help="Decide and log, but do not execute even when enabled.")
@json_option
@click.pass_obj
def retrigger_run(obj: Context, window: Window, config_path: str | None, dry_run: bool, as_json: bool) -> None:
    """Decide under the store's write lock, log every decision with its reason (table
    `retriggers`), and execute the retriggers only when the config says `retrigger: {enabled: true}`
    (a dry run otherwise). At most max_per_run (1) per run and max_per_commit (3) per job and commit."""
    from ..analysis.retrigger import run_retriggers

    config = _config(config_path)
    plan = run_retriggers(obj.writable_store, window, config, execute=not dry_run)
    if plan.dry_run:
        stderr.print("dry run: nothing executed" + ("" if config.enabled else " (retrigger.enabled is not true in the config)"))
    _render(plan, as_json)


@retrigger.command("stats")
@click.option("--min-rate", default=0.5, show_default=True, type=click.FloatRange(0, 1),
              help="Flag rules whose retriggered runs pass less often than this ...")
@click.option("--min-retries", default=10, show_default=True, type=click.IntRange(min=1),
              help="... over at least this many resolved retriggers.")
@json_option
@click.pass_obj
def retrigger_stats_command(obj: Context, min_rate: float, min_retries: int, as_json: bool) -> None:
    """Per retry rule: retriggers made, and whether the next run of the job on the same commit passed."""
    from rich.table import Table

    from ..analysis.retrigger import retrigger_stats

    stats = retrigger_stats(obj.store, min_rate=min_rate, min_retries=min_retries)
    if as_json:
        emit_json(stats.to_dict())
        return
    table = Table(title=f"retry rules (flagged: < {min_rate:.0%} success over ≥ {min_retries} retriggers)")
    for column in ("rule", "retriggers", "passed", "failed", "pending", "success rate", "flagged"):
        table.add_column(column, justify="left" if column in ("rule", "flagged") else "right")
    for r in stats.rules:
        _add_row(table, r.rule, r.retriggers, r.passed, r.failed, r.pending, _pct(r.success_rate),
                 "retries do not help" if r.flagged else "")
    _out().print(table)
