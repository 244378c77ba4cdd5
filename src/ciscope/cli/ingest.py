"""`ciscope ingest` and `ciscope demo`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ..errors import UsageError
from ..store.base import Store
from .app import (
    Context,
    _add_row,
    _datetime,
    _out,
    _pct,
    _variants,
    cli,
    emit_json,
    json_option,
    progress_bar,
    stderr,
)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--job", help="Job of bare report files (run folders name their own).")
@click.option("--build", help="Build id of bare report files (default: a hash of their content).")
@click.option("--started", help="Start time of bare report files (ISO 8601; default: file time).")
@click.option("--commit", help="Commit tested by bare report files.")
@click.option("--branch", help="Branch or release of bare report files.")
@click.option("--variant", "variants", multiple=True, metavar="KEY=VALUE", help="Variant of bare report files (repeatable).")
@click.option("--replace", is_flag=True, help="Re-ingest runs already stored (replacing them) instead of skipping them.")
@click.option("--workers", type=click.IntRange(min=1), envvar="CISCOPE_INGEST_WORKERS",
              help="Processes reading run folders (default: one per CPU, at most 8). Env: CISCOPE_INGEST_WORKERS.")
@json_option
@click.pass_obj
def ingest(obj: Context, paths: tuple[str, ...], job: str | None, build: str | None, started: str | None,
           commit: str | None, branch: str | None, variants: tuple[str, ...], replace: bool, workers: int | None,
           as_json: bool) -> None:
    """Ingest Prow run folders and JUnit/xUnit reports.

    PATHS may be run folders, any tree of them (logs/<job>/<build>/, pr-logs/pull/<org_repo>/<pr>/<job>/<build>/,
    <job>/<build>/), or bare report files and folders, which together form one run described by --job etc.
    TestGrid /table and /summary responses are ingested from saved .json files or http(s) URLs
    (`ciscope ingest testgrid URL...`; cached in $CISCOPE_CACHE or ~/.cache/ciscope, with timeouts and retries).
    Lifecycle event files (events.jsonl, events.csv, *.events.jsonl, *.events.csv) add runs' events
    (a job column, else --job; see docs/timing.md).
    """
    from ..ingest.batch import BareRunOptions
    from ..ingest.batch import ingest as run_ingest

    if paths and paths[0] == "testgrid" and not Path("testgrid").exists():
        paths = paths[1:]  # `ciscope ingest testgrid URL...`: the sources are TestGrid responses
        if not paths:
            raise UsageError("ingest testgrid: give one or more TestGrid /table or /summary URLs or saved .json files")
    bare = BareRunOptions(job=job, build=build, started=_datetime(started), commit=commit,
                          branch=branch, variants=_variants(variants))
    classifier = _classifier(obj, obj.fingerprint_dir())
    with progress_bar("ingesting runs") as update:
        report = run_ingest(obj.store, paths, bare=bare, replace=replace, progress=update, classifier=classifier,
                            workers=workers)
    _finish_ingest(report, as_json)


def _classifier(obj: Context, directory: Path | None) -> Any:
    """Load the fingerprints, re-classify history if they changed, return the classifier."""
    from ..analysis.known import prepare

    if directory is None:
        return None
    with progress_bar("re-classifying history") as update:
        classifier, done, rejected = prepare(obj.store, directory, progress=update)
    for r in rejected:
        stderr.print(f"[yellow]fingerprint skipped[/yellow] {escape(r['file'])}: {escape(r['error'])}"
                     + (f" (hint: {escape(r['hint'])})" if r.get("hint") else ""))
    if done is not None and (done.runs_scanned or done.changed or done.deleted):
        stderr.print(_reclassify_line(done))
    n = len(classifier.fingerprints) if classifier else 0
    stderr.print(f"{n} fingerprint(s) from {directory}" + (f" ({classifier.scanner.backend})" if classifier else ""))
    return classifier


def _reclassify_line(r: Any) -> str:
    return (f"fingerprints: {len(r.added)} added, {len(r.changed)} changed, {len(r.deleted)} deleted, "
            f"{r.unchanged} unchanged; {r.runs_scanned} run(s) re-scanned, {r.matches} match(es) stored, "
            f"{r.runs_affected} reason(s) updated")


def _finish_ingest(report: Any, as_json: bool) -> None:
    if as_json:
        emit_json(report.as_dict())
    summary = (
        f"{report.runs} run(s) stored, {report.replaced} replaced, {report.skipped} already stored, "
        f"{report.pending} pending; {report.results} test results in {report.seconds:.1f} s"
    )
    if report.classified:
        summary += f"; {report.classified} run(s) matched known bugs"
    if getattr(report, "events", 0):
        summary += f"; {report.events} lifecycle events from event files"
    stderr.print(summary)
    for warning in report.warnings:
        stderr.print(f"[yellow]warning[/yellow] {escape(warning)}")
    for refused in report.refused:
        text = refused.reason if refused.path in refused.reason else f"{refused.path}: {refused.reason}"
        stderr.print(f"[red]refused[/red] {escape(text)}")
    if report.refused:
        stderr.print(f"{len(report.refused)} input(s) refused")
        sys.exit(3)


@cli.command()
@click.option("--seed", default=1, show_default=True, help="Random seed: the same seed gives the same history.")
@click.option("--out", default="demo-data", show_default=True, type=click.Path(path_type=str), help="Folder to write the run folders and truth.json into.")
@click.option("--runs-per-job", default=200, show_default=True, help="Runs per job.")
@click.option("--days", default=30, show_default=True, help="Days of history, ending today.")
@click.pass_obj
def demo(obj: Context, seed: int, out: str, runs_per_job: int, days: int) -> None:
    """Write a realistic synthetic CI history (with its ground truth), ingest it, summarize it."""
    from .. import demo as demo_module
    from ..ingest.batch import ingest as run_ingest

    with progress_bar("writing demo runs") as update:
        truth = demo_module.generate(out, seed=seed, runs_per_job=runs_per_job, days=days, progress=update)
    stderr.print(f"wrote {sum(1 for _ in Path(out).rglob('started.json'))} run folders, {Path(out) / 'truth.json'} "
                 f"and {Path(out) / 'fingerprints'}/ (one file per known bug)")
    classifier = _classifier(obj, obj.fingerprint_dir() if obj.fingerprints else Path(out) / "fingerprints")
    with progress_bar("ingesting runs") as update:
        report = run_ingest(obj.store, [out], progress=update, classifier=classifier)
    stderr.print(
        f"{report.runs} run(s) stored, {report.skipped} already stored, {report.pending} pending; "
        f"{report.results} test results in {report.seconds:.1f} s into {obj.db}; "
        f"{report.classified} run(s) matched known bugs"
    )
    _print_summary(obj.store, truth)
    if report.refused:
        for refused in report.refused:
            stderr.print(f"[red]refused[/red] {escape(refused.path)}: {escape(refused.reason)}")
        sys.exit(3)


def _print_summary(store: Store, truth: dict[str, Any]) -> None:
    """What the demo shows: TestGrid status per job, flaky tests, regressions — each
    checked against the demo's ground truth."""
    from ..analysis.flakes import flaky_tests
    from ..analysis.regressions import regressions
    from ..analysis.summary import job_summaries

    out = _out()
    table = Table(title="jobs (TestGrid tab summary)", title_justify="left")
    for column in ("job", "runs", "status", "recent columns", "alerts"):
        table.add_column(column, overflow="fold")
    counts = dict(store.query("SELECT job, count(*) FROM runs GROUP BY job"))
    colors = {"PASSING": "green", "FLAKY": "magenta", "FAILING": "red", "BROKEN": "red", "STALE": "yellow"}
    for row in job_summaries(store):
        _add_row(table, row["job"], counts.get(row["job"], 0),
                 Text(row["overall_status"], style=colors.get(row["overall_status"], "")), row["status"], len(row["alerts"]))
    out.print(table)

    flaky = flaky_tests(store, only_flaky=True)
    truth_flaky = {(f["job"], f["test"]) for f in truth.get("flaky", [])}
    found = {(r["job"], r["test"]) for r in flaky}
    table = Table(title=f"flaky tests: {len(flaky)} found; {len(found & truth_flaky)} of {len(truth_flaky)} "
                        f"planted flakes, {len(found - truth_flaky)} others (top 10 by failed runs caused)",
                  title_justify="left")
    for column in ("job", "test", "runs", "flaked", "isolated fails", "flip score", "planted?"):
        table.add_column(column, overflow="fold")
    for r in flaky[:10]:
        _add_row(table, r["job"], r["test"], r["runs"], r["flaked"], r["isolated_failures"], f"{r['flip_score']:.1f}",
                 "yes" if (r["job"], r["test"]) in truth_flaky else "no")
    out.print(table)

    found_reg = regressions(store)
    truth_reg = {(r["job"], r["test"]): r["first_bad_build"] for r in truth.get("regressions", [])}
    exact = sum(1 for r in found_reg if truth_reg.get((r["job"], r["test"])) == r["first_bad_build"])
    table = Table(title=f"regressions: {len(found_reg)} found; {exact} of {len(truth_reg)} planted ones with the exact first bad build",
                  title_justify="left")
    for column in ("job", "test", "status", "basis", "sample", "first bad build", "planted?"):
        table.add_column(column, overflow="fold")
    for r in found_reg[:10]:
        key = (r["job"], r["test"])
        _add_row(table, r["job"], r["test"], r["status"], _pct(r["basis"]["pass_rate"]), _pct(r["sample"]["pass_rate"]),
                 r["first_bad_build"] or "-", "yes" if key in truth_reg else "no")
    out.print(table)
    _print_known(store, truth)
    stderr.print("next: ciscope runs | tests | flaky | regressions | summary | grid JOB | bugs | unclassified | clusters"
                 " | triage BUILD  (add --json for data)")


def _print_known(store: Store, truth: dict[str, Any]) -> None:
    """Known bugs and failure clusters, checked against the demo's ground truth."""
    from ..analysis.triage import bugs, failure_clusters, unclassified

    out = _out()
    rate = unclassified(store)
    found = bugs(store)
    table = Table(title=f"known bugs: {rate['classified']} of {rate['failed_runs']} failed runs classified "
                        f"({_pct(rate['classification_rate'])})", title_justify="left")
    for column in ("bug", "title", "failed runs", "last 7 d", "jobs"):
        table.add_column(column, overflow="fold")
    for b in found:
        _add_row(table, b["bug"], b["title"], b["hits"]["all"], b["hits"]["7d"], len(b["jobs"]))
    out.print(table)
    clusters = failure_clusters(store, top=8)
    families = truth.get("unknown_families", {})
    table = Table(title=f"unexplained failures: {clusters['failures']} in {clusters['clusters']} clusters "
                        f"(demo planted {len(families)} unknown families; top {clusters['shown']})", title_justify="left")
    for column in ("cluster", "size", "runs", "tests", "example", "suggested fingerprint"):
        table.add_column(column, overflow="fold")
    for c in clusters["items"]:
        _add_row(table, c["id"], c["size"], c["runs"], c["tests"], c["example"][:100], c["suggested_fingerprint"] or "-")
    out.print(table)
