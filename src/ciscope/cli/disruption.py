"""`ciscope disruption baseline | report | check`: OpenShift-style disruption and alert baselines."""

from __future__ import annotations

import dataclasses
import sys
from datetime import UTC
from typing import TYPE_CHECKING, Any

import click

from ..errors import UsageError
from ..queries.window import Window
from .app import (
    Context,
    _add_row,
    _datetime,
    _out,
    cli,
    emit_json,
    job_option,
    json_option,
    window_options,
)

if TYPE_CHECKING:
    pass

_KIND = click.option("--kind", type=click.Choice(["disruption", "alerts"]), default=None,
                     help="Backend disruption (default) or alert baselines.")
_RELEASE = click.option("--release", help="Only this release and the previous one (e.g. 4.19).")
_PREVIOUS = click.option("--previous-release", help="The previous release (default: the minor version before --release).")

_NUMERIC = {"runs", "P50", "P75", "P95", "P99", "mean"}
_VERDICT_STYLE = {"pass": "green", "fail": "red", "flake": "magenta", "skipped": "yellow"}


@cli.group()
def disruption() -> None:
    """Disruption and alert baselines: is this run noticeably worse than history?

    Per-backend disruption seconds and alert seconds of OpenShift runs (backend-disruption_*.json,
    alerts_*.json under artifacts/), percentiles per job type, origin's query_results.json, the
    allowed-disruption verdict and the PR report of upstream's job-run-aggregator.
    """


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


@disruption.command()
@_KIND
@click.option("--days", type=click.IntRange(min=1), help="Window in days up to the newest run (default 30; alerts 7).")
@click.option("--at", "at", help="End of the window (ISO 8601; default: the newest run with disruption data).")
@_RELEASE
@_PREVIOUS
@click.option("--format", "fmt", type=click.Choice(["table", "json", "query-results"]), default=None,
              help="query-results: origin's query_results.json (current format).")
@json_option
@click.pass_obj
def baseline(obj: Context, kind: str | None, days: int | None, at: str | None, release: str | None,
             previous_release: str | None, fmt: str | None, as_json: bool) -> None:
    """P50/P75/P95/P99, mean and job runs per backend (or alert) and job type, from the store.

    Keeps what upstream keeps: an upgrade run counts only when its control plane was updated
    (MasterNodesUpdated = Y). --format query-results writes origin's query_results.json.
    """
    from rich.table import Table

    from ..analysis.disruption import baseline_json
    from ..analysis.disruption_store import baselines
    from ..ingest.disruption import query_results_document

    kind = kind or "disruption"
    try:
        end = _datetime(at)
    except click.BadParameter:
        raise click.BadParameter(f"{at!r}: expected an ISO 8601 time such as 2026-11-01T12:00:00Z",
                                 param_hint="--at") from None
    if end is not None:
        end = end.astimezone(UTC).replace(tzinfo=None)  # the store's times are naive UTC
    found = baselines(obj.store, kind=kind, days=days, at=end, release=release,
                      previous_release=previous_release)
    fmt = fmt or ("json" if as_json else "table")
    if fmt == "query-results":
        emit_json(query_results_document(found))
        return
    if fmt == "json":
        emit_json([baseline_json(r, kind) for r in found.rows])
        return
    table = Table(title=f"{len(found.rows)} {kind} baseline(s), {found.source}", title_justify="left")
    names = ["alert", "namespace", "level"] if kind == "alerts" else ["backend"]
    for column in (*names, "release", "from", "platform", "arch", "network", "topology", "MNU", "runs",
                   "P50", "P75", "P95", "P99", "mean"):
        table.add_column(column, overflow="fold", justify="right" if column in _NUMERIC else "left")
    for r in found.rows:
        first = [r.name, r.namespace, r.level] if kind == "alerts" else [r.name]
        _add_row(table, *first, r.release, r.from_release, r.platform, r.architecture, r.network, r.topology,
                 r.master_nodes_updated or "-", r.job_runs, _seconds(r.p50), _seconds(r.p75), _seconds(r.p95),
                 _seconds(r.p99), _seconds(r.mean))
    _out().print(table)


@disruption.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=str), metavar="[OLD] [NEW]")
@click.option("--old-days", type=click.IntRange(min=1), help="OLD from the store: the N days before NEW's window.")
@click.option("--new-days", type=click.IntRange(min=1), help="NEW from the store: the N days up to the newest run.")
@_KIND
@click.option("--leeway", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="Percent a P99 must rise to count as an increase.")
@_RELEASE
@_PREVIOUS
@click.option("--markdown", is_flag=True, help="Write upstream's pull-request message (Markdown).")
@json_option
@click.pass_obj
def report(obj: Context, files: tuple[str, ...], old_days: int | None, new_days: int | None, kind: str | None,
           leeway: float, release: str | None, previous_release: str | None, markdown: bool, as_json: bool) -> None:
    """Compare two baselines as upstream's analyzer does: which keys' P99 rose beyond the leeway.

    OLD and NEW are query_results.json files, or computed from the store with --old-days / --new-days.
    Compared: NEW's rows of the target release (--release, default the newest in NEW) and the
    previous one. The table lists increases with at least 100 job runs, largest P95 increase first.
    """
    from rich.table import Table

    from ..analysis.disruption import comparison_json, report_markdown
    from ..analysis.disruption_store import report as compare

    files = tuple(files)
    needed = (old_days is None) + (new_days is None)
    if len(files) != needed:
        raise UsageError(f"expected {needed} file argument(s) ([OLD] [NEW]) with "
                         f"--old-days={old_days or '-'} --new-days={new_days or '-'}; got {len(files)}")
    rest = list(files)
    old = rest.pop(0) if old_days is None else None
    new = rest.pop(0) if new_days is None else None
    result = compare(obj.store if (old_days or new_days) else None, old=old, new=new,
                     old_days=old_days, new_days=new_days, kind=kind, leeway=leeway, release=release,
                     previous_release=previous_release)
    if markdown:
        sys.stdout.write(report_markdown(result))
        return
    if as_json:
        emit_json(comparison_json(result))
        return
    out = _out()
    out.print(f"{result.kind}: releases {', '.join(result.releases) or '-'}; {result.compared} key(s) compared, "
              f"{result.added} added, {result.missing} removed; P99 {result.increased} increased "
              f"(> {result.leeway:g}%), {result.decreased} decreased", markup=False)
    table = Table(title=f"{len(result.rows)} row(s) with at least 100 job runs", title_justify="left")
    for column in ("name", "release", "from", "arch", "network", "platform", "topology", "runs",
                   "P95", "P95 %", "P99", "P99 %"):
        table.add_column(column, overflow="fold")
    for r in result.rows:
        _add_row(table, r.name, r.release, r.from_release, r.architecture, r.network, r.platform, r.topology,
                 r.job_runs, f"{r.previous_p95:g} → {r.p95:g}", f"{r.p95_increase_percent:.2f}%",
                 f"{r.previous_p99:g} → {r.p99:g}", f"{r.p99_increase_percent:.2f}%")
    out.print(table)


@disruption.command()
@click.argument("ref", metavar="RUN")
@job_option
@click.option("--baseline", "baseline_specs", multiple=True, metavar="store|imported|FILE",
              help="History to judge against (repeatable): 'store' (default: the runs before this one), "
                   "'imported' (the query_results.json imported last), or query_results.json files.")
@click.option("--days", type=click.IntRange(min=1), default=30, show_default=True, help="Disruption history window (store).")
@click.option("--alert-days", type=click.IntRange(min=1), default=7, show_default=True, help="Alert history window (store).")
@json_option
@click.pass_obj
def check(obj: Context, ref: str, job: str | None, baseline_specs: tuple[str, ...], days: int, alert_days: int,
          as_json: bool) -> None:
    """Judge run RUN (a build id, JOB/BUILD or run_id): each backend's disruption against the
    allowed seconds of its best-matching history, each alert against P95 (flake) and P99 (fail)."""
    from rich.table import Table
    from rich.text import Text

    from ..analysis.disruption import check_json
    from ..analysis.disruption_store import check as run_check

    result = run_check(obj.store, ref, job=job, baselines=baseline_specs or ("store",), days=days, alert_days=alert_days)
    if as_json:
        emit_json(check_json(result))
        return
    out = _out()
    jt = result.job_type
    out.print(Text(f"{result.job} {result.build}: ") + Text(result.verdict, style=_VERDICT_STYLE[result.verdict])
              + Text(f"  ({jt['release']} from {jt['from_release'] or '-'}, {jt['platform'] or '?'}/{jt['architecture']}/"
                     f"{jt['network']}/{jt['topology']})"))
    table = Table(title="backends", title_justify="left")
    for column in ("backend", "observed s", "allowed s", "verdict", "history"):
        table.add_column(column, overflow="fold")
    for v in result.backends:
        history = (f"{v.match}: P99 {v.baseline.p99:g} s over {v.baseline.job_runs} runs" if v.baseline else v.reason)
        _add_row(table, v.backend, v.observed_seconds, "-" if v.allowed_seconds is None else v.allowed_seconds,
                 Text(v.verdict, style=_VERDICT_STYLE[v.verdict]), history)
    out.print(table)
    if result.alerts:
        table = Table(title="alerts", title_justify="left")
        for column in ("alert", "namespace", "level", "observed s", "flake after", "fail after", "verdict", "history"):
            table.add_column(column, overflow="fold")
        for a in result.alerts:
            history = (f"{a.match} over {a.baseline.job_runs} runs" if a.baseline else a.reason) + (
                f" ({a.modifier})" if a.modifier else "")
            _add_row(table, a.alert, a.namespace or "-", a.level, a.observed_seconds, _seconds(a.flake_after),
                     _seconds(a.fail_after), Text(a.verdict, style=_VERDICT_STYLE[a.verdict]), history)
        out.print(table)


@disruption.command("runs")
@window_options()
@click.option("--limit", type=click.IntRange(min=0), default=20, show_default=True,
              help="The newest N runs with disruption or alert data (0: all).")
@click.option("--baseline", "baseline_specs", multiple=True, metavar="store|imported|FILE",
              help="History to judge against (repeatable), as for `check`. Default: store.")
@click.option("--history-days", type=click.IntRange(min=1), default=30, show_default=True,
              help="Disruption history window (store).")
@click.option("--alert-days", type=click.IntRange(min=1), default=7, show_default=True, help="Alert history window (store).")
@json_option
@click.pass_obj
def runs_command(obj: Context, window: Window, limit: int, baseline_specs: tuple[str, ...], history_days: int,
                 alert_days: int, as_json: bool) -> None:
    """`check` for each of the newest runs with disruption or alert data (newest first), within
    the window's job, time, branch and variant: each run's verdict and its failed backends and alerts."""
    from rich.table import Table
    from rich.text import Text

    from ..analysis.disruption import check_json
    from ..analysis.disruption_store import check_runs

    results = check_runs(obj.store, window, limit=limit or None, baselines=baseline_specs or ("store",),
                         days=history_days, alert_days=alert_days)
    if as_json:
        emit_json([check_json(r) for r in results])
        return
    table = Table(title=f"{len(results)} run(s), newest first", title_justify="left")
    for column in ("job", "build", "verdict", "backends", "worse than allowed", "alerts failed or flaked"):
        table.add_column(column, overflow="fold")
    for r in results:
        worse = ", ".join(f"{v.backend} ({v.connection_type}) {v.observed_seconds} s > {v.allowed_seconds} s"
                          for v in r.backends if v.verdict == "fail")
        alerts = ", ".join(f"{a.alert} {a.verdict}" for a in r.alerts if a.verdict in ("fail", "flake"))
        _add_row(table, r.job, r.build, Text(r.verdict, style=_VERDICT_STYLE[r.verdict]), len(r.backends),
                 worse or "-", alerts or "-")
    _out().print(table)


@disruption.command()
@click.option("--baseline", "baseline_specs", multiple=True, metavar="store|imported|FILE",
              help="History to judge against (repeatable), as for `check`. Default: store.")
@click.option("--days", type=click.IntRange(min=1), default=30, show_default=True, help="Disruption history window (store).")
@click.option("--alert-days", type=click.IntRange(min=1), default=7, show_default=True, help="Alert history window (store).")
@json_option
@click.pass_obj
def record(obj: Context, baseline_specs: tuple[str, ...], days: int, alert_days: int, as_json: bool) -> None:
    """Write every run's disruption and alert verdicts as test results of the run (suite
    "ciscope disruption", named as origin names its tests), so they show in grids, flakes and
    regressions. Re-running replaces them; a test the run's own junit already has is left alone."""
    from rich.table import Table

    from ..analysis.disruption_store import record_verdicts

    report = record_verdicts(obj.writable_store, baselines=baseline_specs or ("store",), days=days, alert_days=alert_days)
    if as_json:
        emit_json(dataclasses.asdict(report))
        return
    out = _out()
    out.print(f"{report.runs} run(s) judged: {report.tests} test(s) written, {report.failed} failed, "
              f"{report.flaked} flaked, {report.skipped} skipped (no usable history), "
              f"{report.kept_upstream} left to the run's own junit", markup=False)
    if report.failed_runs:
        table = Table(title=f"{len(report.failed_runs)} run(s) noticeably worse than history", title_justify="left")
        table.add_column("job", overflow="fold")
        table.add_column("build")
        for r in report.failed_runs:
            _add_row(table, r["job"], r["build"])
        out.print(table)


def demo_summary(store: Any, truth: dict[str, Any]) -> None:
    """`ciscope demo`: record the disruption verdicts and check them against the planted
    worse runs. Alert history spans 30 days here: each demo job is its own job type, too few
    runs in upstream's 7-day window to judge."""
    from ..analysis.disruption_store import record_verdicts

    report = record_verdicts(store, alert_days=30)
    planted = {(w["job"], w["build"]) for w in truth.get("disruption", {}).get("worse_runs", [])}
    failed = {(r["job"], r["build"]) for r in report.failed_runs}
    _out().print(f"disruption: {report.runs} run(s) judged, {len(failed)} worse than history "
                 f"({len(failed & planted)} of {len(planted)} planted outages found); verdicts stored as tests "
                 f"(`ciscope disruption record`, `ciscope disruption check RUN`)", markup=False)
