"""`ciscope ingest` and `ciscope demo`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import UsageError
from ..report.table import Column, Section, View, pct, print_table
from ..status import RunStatus
from .app import (
    Context,
    _datetime,
    _out,
    _variants,
    cli,
    emit_json,
    json_option,
    progress_bar,
    stderr,
)

if TYPE_CHECKING:
    from ..store.base import Store


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--job", help="Job of bare report files and logs (run folders name their own).")
@click.option("--build", help="Build id of bare report files (default: a hash of their content).")
@click.option("--started", help="Start time of bare report files (ISO 8601; default: the reports' own timestamps, "
                                "else the log's first, else the file time).")
@click.option("--commit", help="Commit tested by bare report files.")
@click.option("--branch", help="Branch or release of bare report files.")
@click.option("--variant", "variants", multiple=True, metavar="KEY=VALUE", help="Variant of bare report files (repeatable).")
@click.option("--status", type=click.Choice([s.value for s in RunStatus if s is not RunStatus.PENDING]),
              help="Status of the bare run (default: the log's closing lines, else failed tests, else failure).")
@click.option("--run-per", type=click.Choice(["file", "folder"]),
              help="Bare files: one run per file or per folder (default: one run for all of them).")
@click.option("--replace", is_flag=True, help="Re-ingest runs already stored (replacing them) instead of skipping them.")
@click.option("--workers", type=click.IntRange(min=1), envvar="CISCOPE_INGEST_WORKERS",
              help="Processes reading run folders (default: one per CPU, at most 8). Env: CISCOPE_INGEST_WORKERS.")
@json_option
@click.pass_obj
def ingest(obj: Context, paths: tuple[str, ...], job: str | None, build: str | None, started: str | None,
           commit: str | None, branch: str | None, variants: tuple[str, ...], status: str | None,
           run_per: str | None, replace: bool, workers: int | None, as_json: bool) -> None:
    """Ingest Prow run folders, JUnit/xUnit reports and console logs.

    PATHS may be run folders, any tree of them (logs/<job>/<build>/, pr-logs/pull/<org_repo>/<pr>/<job>/<build>/,
    <job>/<build>/), or bare report files, console logs (job-output.txt, console.log, build-log.txt, *.log,
    *.log.gz, *.txt.gz) and folders of them, which together form one run described by --job etc.
    (one run per file or folder with --run-per). A report that cannot be read is left out of its run,
    which is stored marked incomplete; every refusal is listed and the exit status is 3.
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
                          branch=branch, variants=_variants(variants), status=RunStatus(status) if status else None,
                          run_per=run_per)
    directory = obj.fingerprint_dir()  # a bad one is refused before the store is opened (or created)
    with stored_on_interrupt(obj.writable_store):
        classifier = _classifier(obj, directory)
        with progress_bar("ingesting runs") as update:
            report = run_ingest(obj.writable_store, paths, bare=bare, replace=replace, progress=update,
                                classifier=classifier, workers=workers)
    _finish_ingest(report, as_json)


@contextmanager
def stored_on_interrupt(store: Store) -> Iterator[None]:
    """Ctrl-C while writing: roll back the batch in progress and exit 130 with one line saying
    what the batches committed before the interrupt stored (each batch is one transaction)."""
    from ..queries.facts import run_count

    before = run_count(store)
    try:
        yield
    except KeyboardInterrupt:
        with suppress(Exception):  # no transaction was open: nothing to undo
            store.rollback()
        try:
            stored = f"{run_count(store) - before} new run(s) stored"
        except Exception:  # noqa: BLE001 - the connection did not survive: say what is certain
            stored = "the batches committed before it are stored"
        stderr.print(f"interrupted: {stored} (batches committed before the interrupt); nothing of the batch in "
                     "progress was stored. Run the same command again to go on: stored runs are skipped.")
        sys.exit(130)


def _classifier(obj: Context, directory: Path | None, *, implicit: bool | None = None) -> Any:
    """Load the fingerprints, re-classify history if they changed, return the classifier.
    A directory not given with --fingerprints (``implicit``) never deletes stored ones."""
    from rich.markup import escape

    from ..analysis.known import prepare

    if directory is None:
        return None
    if implicit is None:
        implicit = obj.fingerprints is None or obj.fingerprints_from_env
    with progress_bar("re-classifying history") as update:
        classifier, done, rejected = prepare(obj.writable_store, directory, progress=update, implicit=implicit)
    for r in rejected:
        stderr.print(f"[yellow]fingerprint skipped[/yellow] {escape(r['file'])}: {escape(r['error'])}"
                     + (f" (hint: {escape(r['hint'])})" if r.get("hint") else ""))
    if done is not None and (done.runs_scanned or done.changed or done.deleted):
        stderr.print(_reclassify_line(done))
    for warning in done.warnings if done is not None else []:
        stderr.print(f"[yellow]warning[/yellow] {escape(warning)}")
    n = len(classifier.fingerprints) if classifier else 0
    stderr.print(f"{n} fingerprint(s) from {directory}" + (f" ({classifier.scanner.backend})" if classifier else ""))
    return classifier


def _reclassify_line(r: Any) -> str:
    return (f"fingerprints: {len(r.added)} added, {len(r.changed)} changed, {len(r.deleted)} deleted, "
            f"{r.unchanged} unchanged; {r.runs_scanned} run(s) re-scanned, {r.matches} match(es) stored, "
            f"{r.runs_affected} reason(s) updated")


def _finish_ingest(report: Any, as_json: bool) -> None:
    from rich.markup import escape
    if as_json:
        emit_json(report.as_dict())
    summary = (
        f"{report.runs} run(s) stored, {report.replaced} replaced, {report.skipped} already stored, "
        f"{report.pending} pending; {report.results} test results in {report.seconds:.1f} s"
    )
    if report.classified:
        summary += f"; {report.classified} run(s) matched known bugs"
    if report.incomplete:
        summary += f"; {report.incomplete} run(s) stored incomplete"
    if report.baselines:
        summary += f"; {report.baselines} disruption/alert baseline row(s) imported"
    if getattr(report, "events", 0):
        summary += f"; {report.events} lifecycle events from event files"
    stderr.print(summary)
    for warning in report.warnings:
        stderr.print(f"[yellow]warning[/yellow] {escape(warning)}")
    for refused in report.refused:
        text = refused.reason if refused.path in refused.reason else f"{refused.path}: {refused.reason}"
        if refused.run:
            text += f" (left out of run {refused.run}, stored incomplete)"
        stderr.print(f"[red]refused[/red] {escape(text)}", soft_wrap=True)
    if report.refused:
        stderr.print(f"{len(report.refused)} input(s) refused")
        sys.exit(3)


@cli.command()
@click.option("--seed", type=click.IntRange(min=0), default=1, show_default=True, help="Random seed: the same seed gives the same history.")
@click.option("--out", default="demo-data", show_default=True, type=click.Path(path_type=str), help="Folder to write the run folders and truth.json into.")
@click.option("--runs-per-job", type=click.IntRange(min=1), default=200, show_default=True, help="Runs per job.")
@click.option("--days", type=click.IntRange(min=1), default=30, show_default=True, help="Days of history, ending today.")
@click.pass_obj
def demo(obj: Context, seed: int, out: str, runs_per_job: int, days: int) -> None:
    """Write a realistic synthetic CI history (with its ground truth), ingest it, summarize it."""
    from rich.markup import escape

    from .. import demo as demo_module
    from ..ingest.batch import ingest as run_ingest

    with progress_bar("writing demo runs") as update:
        truth = demo_module.generate(out, seed=seed, runs_per_job=runs_per_job, days=days, progress=update)
    stderr.print(f"wrote {sum(1 for _ in Path(out).rglob('started.json'))} run folders, {Path(out) / 'truth.json'} "
                 f"and {Path(out) / 'fingerprints'}/ (one file per known bug)")
    directory = obj.fingerprint_dir() if obj.fingerprints else Path(out) / "fingerprints"
    with stored_on_interrupt(obj.writable_store):
        classifier = _classifier(obj, directory, implicit=bool(obj.fingerprints_from_env))
        with progress_bar("ingesting runs") as update:
            report = run_ingest(obj.writable_store, [out], progress=update, classifier=classifier)
    stderr.print(
        f"{report.runs} run(s) stored, {report.skipped} already stored, {report.pending} pending; "
        f"{report.results} test results in {report.seconds:.1f} s into {obj.db}; "
        f"{report.classified} run(s) matched known bugs"
    )
    _print_summary(obj.writable_store, truth)
    from .disruption import demo_summary

    demo_summary(obj.writable_store, truth)
    if report.refused:
        for refused in report.refused:
            stderr.print(f"[red]refused[/red] {escape(refused.path)}: {escape(refused.reason)}")
        sys.exit(3)


def _print_summary(store: Store, truth: dict[str, Any]) -> None:
    """What the demo shows: TestGrid status per job, flaky tests, regressions, known bugs and
    failure clusters — each checked against the demo's ground truth, with the columns of the
    commands that show them (:mod:`ciscope.report.reports`)."""
    from ..analysis.flakes import flaky_tests
    from ..analysis.regressions import regressions
    from ..analysis.summary import job_summaries
    from ..analysis.triage import bugs, failure_clusters, unclassified
    from ..queries.facts import runs_per_job
    from ..report import reports

    def planted(truth_keys: Any) -> Column:
        return Column("planted", "planted?", lambda r: "yes" if (r["job"], r["test"]) in truth_keys else "no")

    def pick(columns: list[Column], *names: str) -> list[Column]:
        return [c for c in columns if c.name in names]

    counts = runs_per_job(store)
    runs_column = Column("runs", "runs", lambda r: counts.get(r["job"], 0), right=True)
    sections = [Section(reports.SUMMARY[:1] + [runs_column] + reports.SUMMARY[1:3]
                        + [Column("alerts", "alerts", lambda r: len(r["alerts"]), right=True)],
                        job_summaries(store), "jobs (TestGrid tab summary)")]

    flaky = flaky_tests(store, only_flaky=True)
    truth_flaky = {(f["job"], f["test"]) for f in truth.get("flaky", [])}
    found = {(r["job"], r["test"]) for r in flaky}
    sections.append(Section(
        pick(reports.FLAKY, "job", "test", "runs", "flaked", "isolated_failures", "flip_score") + [planted(truth_flaky)],
        flaky[:10], f"flaky tests: {len(flaky)} found; {len(found & truth_flaky)} of {len(truth_flaky)} planted flakes, "
                    f"{len(found - truth_flaky)} others (top 10 by failed runs caused)"))

    found_reg = regressions(store)
    truth_reg = {(r["job"], r["test"]): r["first_bad_build"] for r in truth.get("regressions", [])}
    exact = sum(1 for r in found_reg if truth_reg.get((r["job"], r["test"])) == r["first_bad_build"])
    sections.append(Section(
        pick(reports.REGRESSIONS, "job", "test", "status", "basis_pass_rate", "sample_pass_rate", "first_bad_build")
        + [planted(truth_reg)], found_reg[:10],
        f"regressions: {len(found_reg)} found; {exact} of {len(truth_reg)} planted ones with the exact first bad build"))

    rate = unclassified(store)
    found_bugs = bugs(store)
    sections.append(Section(
        [reports.field("bug"), reports.field("title"),
         Column("hits_all", "failed runs", lambda b: b["hits"]["all"], right=True),
         Column("hits_7d", "last 7 d", lambda b: b["hits"]["7d"], right=True),
         Column("jobs", "jobs", lambda b: len(b["jobs"]), right=True)], found_bugs,
        f"known bugs: {rate['classified']} of {rate['failed_runs']} failed runs classified "
        f"({pct(rate['classification_rate'])})"))
    clusters = failure_clusters(store, top=8)
    families = truth.get("unknown_families", {})
    sections.append(Section(
        pick(reports.CLUSTERS, "id", "size", "runs", "tests", "example", "suggested_fingerprint"), clusters["items"],
        f"unexplained failures: {clusters['failures']} in {clusters['clusters']} clusters "
        f"(demo planted {len(families)} unknown families; top {clusters['shown']})"))
    print_table(View(sections), _out())
    stderr.print("next: ciscope runs | tests | flaky | regressions | summary | grid JOB | bugs | unclassified | clusters"
                 " | triage BUILD  (add --format json|csv|markdown for data)")
