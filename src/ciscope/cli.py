"""The ``ciscope`` command line. Thin: parse arguments, call one library function, render.

Data goes to stdout (tables, or JSON with ``--json``); messages and progress to stderr.

Exit codes: 0 success; 1 unexpected error; 2 usage error (bad option, unknown engine);
3 some input was refused (the rest was stored; each refusal is listed); 4 store error.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import click
import orjson
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from . import __version__
from .errors import CiscopeError, UsageError
from .store.base import DEFAULT_URL, Store, connect

stderr = Console(stderr=True, highlight=False)


def _out() -> Console:
    """Console for data on stdout. Piped output gets a wide page instead of rich's 80
    columns, so tables stay readable in files and pipes (COLUMNS still wins)."""
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
        console = Console(highlight=False, soft_wrap=True, width=240)
    return console


def emit_json(value: Any) -> None:
    sys.stdout.buffer.write(
        orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z)
    )
    sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()


@contextmanager
def progress_bar(label: str) -> Iterator[Any]:
    """A progress bar on stderr; yields a callback(done, total)."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=False,
        disable=not stderr.is_terminal,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


class Context:
    def __init__(self, db: str, fingerprints: str | None = None, fingerprints_from_env: bool = False) -> None:
        self.db = db
        self.fingerprints = fingerprints
        self.fingerprints_from_env = fingerprints_from_env  # errors then name CISCOPE_FINGERPRINTS
        self._store: Store | None = None

    def fingerprint_dir(self) -> Path | None:
        """--fingerprints, else CISCOPE_FINGERPRINTS, else ./fingerprints when it exists."""
        from .analysis.known import fingerprint_dir

        return fingerprint_dir(None if self.fingerprints_from_env else self.fingerprints)

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = connect(self.db)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


json_option = click.option("--json", "as_json", is_flag=True, help="Write JSON to stdout instead of a table.")
job_option = click.option("--job", help="Only this job.")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--db",
    envvar="CISCOPE_DB",
    default=DEFAULT_URL,
    show_default=True,
    help="Store URL: duckdb:///PATH (relative), duckdb:////ABS/PATH, duckdb://:memory:, or postgresql://USER@HOST:PORT/DB. Env: CISCOPE_DB.",
)
@click.option(
    "--fingerprints",
    envvar="CISCOPE_FINGERPRINTS",
    type=click.Path(path_type=str),
    help="Fingerprint directory (one YAML file per known bug). Env: CISCOPE_FINGERPRINTS. Default: ./fingerprints when it exists.",
)
@click.version_option(__version__, prog_name="ciscope")
@click.pass_context
def cli(ctx: click.Context, db: str, fingerprints: str | None) -> None:
    """ciscope: is it me, a known bug, a flake, or a regression?

    Ingest CI job runs and test results, keep their history, and ask it questions.
    """
    context = Context(db, fingerprints, ctx.get_parameter_source("fingerprints") is click.core.ParameterSource.ENVIRONMENT)
    ctx.obj = context
    ctx.call_on_close(context.close)


def _variants(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for value in values:
        if "=" not in value:
            raise click.BadParameter(f"{value!r}: expected key=value, e.g. platform=aws", param_hint="--variant")
        key, _, val = value.partition("=")
        out[key.strip()] = val.strip()
    return out


def _datetime(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected an ISO 8601 time such as 2026-11-01T12:00:00Z", param_hint="--started") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


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
    """
    from .ingest.batch import BareRunOptions, ingest as run_ingest

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
    from .analysis.known import prepare

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
    from . import demo as demo_module
    from .ingest.batch import ingest as run_ingest

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
    from .analysis.flakes import flaky_tests
    from .analysis.regressions import regressions
    from .analysis.summary import job_summaries

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
    from .analysis.triage import bugs, failure_clusters, unclassified

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


@cli.command()
@job_option
@click.option("--days", type=int, help="Only runs started in the last N days.")
@click.option("--limit", type=int, help="At most N runs (newest first).")
@json_option
@click.pass_obj
def runs(obj: Context, job: str | None, days: int | None, limit: int | None, as_json: bool) -> None:
    """List runs, newest first."""
    from .analysis.stats import list_runs

    since = datetime.now(timezone.utc) - timedelta(days=days) if days else None
    rows = list_runs(obj.store, job=job, since=since, limit=limit)
    if as_json:
        emit_json(rows)
        return
    table = Table()
    for column in ("job", "build", "status", "started_at", "commit", "tests", "failed_tests", "flaked_tests"):
        table.add_column(column, overflow="fold")
    for row in rows:
        _add_row(table, row["job"], row["build"], row["status"], _fmt_time(row["started_at"]),
                      (row["commit"] or "")[:12], str(row["tests"]), str(row["failed_tests"]), str(row["flaked_tests"]))
    _out().print(table)


@cli.command()
@job_option
@click.option("--days", type=int, help="Only runs started in the last N days.")
@json_option
@click.pass_obj
def tests(obj: Context, job: str | None, days: int | None, as_json: bool) -> None:
    """Per (job, test): runs, passed, failed, flaked, skipped, pass/working/flake rates."""
    from .analysis.stats import stats_by_test

    since = datetime.now(timezone.utc) - timedelta(days=days) if days else None
    rows = stats_by_test(obj.store, job=job, since=since)
    if as_json:
        emit_json(rows)
        return
    table = Table()
    for column in ("job", "test", "runs", "passed", "failed", "flaked", "skipped", "pass", "working", "flake"):
        table.add_column(column, overflow="fold", justify="left" if column in ("job", "test") else "right")
    for r in rows:
        _add_row(table, r["job"], r["test"], *(str(r[k]) for k in ("runs", "passed", "failed", "flaked", "skipped")),
                      *(_pct(r[k]) for k in ("pass_rate", "working_rate", "flake_rate")))
    _out().print(table)


def _add_row(table: Table, *values: Any) -> None:
    """Add a row whose strings are data, not markup: test names like "[sig-network] …"
    would otherwise be eaten as rich markup tags."""
    table.add_row(*(value if isinstance(value, Text) else Text(str(value)) for value in values))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _fmt_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


@cli.command()
@job_option
@click.option("--days", type=int, help="Only the last N days before the newest run.")
@click.option("--all", "show_all", is_flag=True, help="List every test, not only the flaky ones.")
@click.option("--min-runs", default=10, show_default=True, help="Fewer runs without flake evidence: insufficient_data.")
@click.option("--min-flakes", default=2, show_default=True, help="Flake events (retry flakes + isolated failures) that make a test flaky.")
@click.option("--include-known", is_flag=True, help="Count failures explained by known-bug fingerprints too (left out by default).")
@json_option
@click.pass_obj
def flaky(obj: Context, job: str | None, days: int | None, show_all: bool, min_runs: int, min_flakes: int,
          include_known: bool, as_json: bool) -> None:
    """Flaky tests, most failed runs caused first.

    Flake evidence: failed and passed in one run (retries), failed on a commit where another run
    passed, and isolated failures between passes. Streaks of 3+ failures and failures after a
    regression's changepoint are not flakes; infrastructure-failure runs and failures explained by
    known bugs are left out.
    """
    from .analysis.flakes import FlakeOptions, flaky_tests

    rows = flaky_tests(obj.store, job=job, days=days, only_flaky=not show_all,
                       options=FlakeOptions(min_runs=min_runs, min_flakes=min_flakes), include_known=include_known)
    if as_json:
        emit_json(rows)
        return
    table = Table()
    for column in ("job", "test", "runs", "flaked", "same commit", "isolated fails", "flip score", "flake rate", "last flake", "verdict"):
        table.add_column(column, overflow="fold", justify="left" if column in ("job", "test", "verdict", "last flake") else "right")
    for r in rows:
        _add_row(table, r["job"], r["test"], str(r["runs"]), str(r["flaked"]), str(r["same_commit_flips"]),
                      str(r["isolated_failures"]), f"{r['flip_score']:.1f}", _pct(r["flake_rate"]),
                      _fmt_time(r["last_flake"]), r["verdict"])
    _out().print(table)


@cli.command()
@job_option
@click.option("--basis-days", default=30, show_default=True, help="Basis window length, before the sample.")
@click.option("--sample-days", default=7, show_default=True, help="Sample window length, ending at the newest run.")
@click.option("--confidence", default=0.95, show_default=True, help="Fisher exact test confidence.")
@click.option("--pity", default=5.0, show_default=True, help="Pass-rate drop (points) always tolerated.")
@click.option("--min-failures", default=3, show_default=True, help="Sample failures needed to report.")
@click.option("--plain-fisher", is_flag=True, help="Sippy's plain level for every test: no correction for tests that already failed in the basis.")
@click.option("--include-known", is_flag=True, help="Count failures explained by known-bug fingerprints too (left out by default).")
@json_option
@click.pass_obj
def regressions(obj: Context, job: str | None, basis_days: int, sample_days: int, confidence: float,
                pity: float, min_failures: int, plain_fisher: bool, include_known: bool, as_json: bool) -> None:
    """Tests whose pass rate dropped significantly (Sippy's Fisher exact rule), with the first bad run."""
    from .analysis.regressions import RegressionOptions, regressions as find_regressions

    options = RegressionOptions(basis_days=basis_days, sample_days=sample_days, confidence=confidence,
                                pity=pity, min_failures=min_failures, correct_for_flaky_basis=not plain_fisher)
    rows = find_regressions(obj.store, job=job, options=options, include_known=include_known)
    if as_json:
        emit_json(rows)
        return
    table = Table()
    for column in ("job", "test", "status", "basis", "sample", "p", "first bad build", "first bad commit"):
        table.add_column(column, overflow="fold")
    for r in rows:
        _add_row(table, r["job"], r["test"], r["status"],
                      f"{_pct(r['basis']['pass_rate'])} of {r['basis']['runs']}",
                      f"{_pct(r['sample']['pass_rate'])} of {r['sample']['runs']}",
                      f"{r['p_value']:.2g}", r["first_bad_build"] or "-", (r["first_bad_commit"] or "-")[:12])
    _out().print(table)


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
    from .analysis.grid import tab_summary
    from .analysis.summary import grid_json, job_grid
    from .report.export import write_npz, write_parquet

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
    from .analysis.grid import SummaryConfig
    from .analysis.summary import job_summaries

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


@cli.group("fingerprints")
def fingerprints_group() -> None:
    """Known-bug fingerprints: check a directory before committing it."""


@fingerprints_group.command("check")
@click.argument("directory", required=False, type=click.Path(path_type=str))
@click.option("--history/--no-history", default=True, show_default=True,
              help="Also warn about fingerprints matching most stored failures (needs an existing store).")
@json_option
@click.pass_obj
def fingerprints_check(obj: Context, directory: str | None, history: bool, as_json: bool) -> None:
    """Load and compile every fingerprint file of DIRECTORY (default: the fingerprint directory).

    Each rejected file is reported with the reason and a hint; too-broad fingerprints are warned
    about. Exit status 3 when any file is rejected.
    """
    from .analysis.known import require
    from .fingerprints import check

    folder = Path(directory) if directory else require(obj.fingerprint_dir())
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a directory")
    results = check(folder)
    if history and _store_exists(obj.db):
        _broad_warnings(obj.store, folder, results)
    if as_json:
        emit_json([{"file": r["file"], "id": r.get("id"), "ok": r["ok"], "error": r.get("error"), "hint": r.get("hint"),
                    "warnings": r.get("warnings", [])} for r in results])
    else:
        for r in results:
            if r["ok"]:
                stderr.print(f"[green]ok[/green]       {escape(r['file'])}")
            else:
                stderr.print(f"[red]rejected[/red] {escape(r['file'])}: {escape(r['error'])}"
                             + (f"\n         hint: {escape(r['hint'])}" if r.get("hint") else ""))
            for w in r.get("warnings", []):
                stderr.print(f"[yellow]warning[/yellow]  {escape(r['file'])}: {escape(w)}")
        bad = sum(1 for r in results if not r["ok"])
        stderr.print(f"{len(results)} file(s), {len(results) - bad} ok, {bad} rejected")
    if any(not r["ok"] for r in results):
        sys.exit(3)


def _store_exists(url: str) -> bool:
    from .store.duckdb import duckdb_path

    if url.startswith("duckdb:"):
        path = duckdb_path(url)
        return path != ":memory:" and Path(path).is_file()
    return True


def _broad_warnings(store: Store, folder: Path, results: list[dict[str, Any]]) -> None:
    """Warn about fingerprints that would match more than half of a sample of stored failures."""
    from .fingerprints import breadth, load_fingerprint

    texts = [m or t or "" for m, t in store.query(
        "SELECT failure_message, failure_text FROM test_results WHERE status IN ('failed', 'error') LIMIT 5000")]
    if len(texts) < 20:
        return
    for r in results:
        if not r["ok"]:
            continue
        share = breadth(load_fingerprint(r["file"]), texts)
        if share > 0.5:
            r.setdefault("warnings", []).append(
                f"too broad: could match {share:.0%} of {len(texts)} stored failure texts; make it more specific")


@cli.command()
@click.option("--full", is_flag=True, help="Re-match every fingerprint, not only added and changed ones.")
@json_option
@click.pass_obj
def reclassify(obj: Context, full: bool, as_json: bool) -> None:
    """Re-match history after the fingerprint directory changed.

    Only added and changed fingerprints are re-run over stored failures and run logs; deleted
    ones lose their matches; reasons of the runs concerned are rewritten. One transaction.
    """
    from .analysis.known import load_directory, reclassify as run_reclassify, refresh_titles, require

    folder = require(obj.fingerprint_dir())
    fps, rejected = load_directory(folder)
    for r in rejected:
        stderr.print(f"[yellow]fingerprint skipped[/yellow] {escape(r['file'])}: {escape(r['error'])}")
    with progress_bar("re-classifying history") as update:
        report = run_reclassify(obj.store, fps, full=full, progress=update)
    refresh_titles(obj.store, fps)
    if as_json:
        emit_json({**report.as_dict(), "rejected": rejected})
    stderr.print(_reclassify_line(report) if not report.nothing_to_do else
                 f"fingerprints unchanged ({report.unchanged}): nothing to re-classify")
    for w in report.warnings:
        stderr.print(f"[yellow]warning[/yellow] {escape(w)}")
    if rejected:
        sys.exit(3)


@cli.command()
@click.argument("ref")
@job_option
@json_option
@click.pass_obj
def triage(obj: Context, ref: str, job: str | None, as_json: bool) -> None:
    """What made run REF fail (a build id, JOB/BUILD, or a run_id): known bugs with evidence,
    unexplained failures, and advice."""
    from .analysis.triage import triage as run_triage

    result = run_triage(obj.store, ref, job=job)
    if as_json:
        emit_json(result)
        return
    out = _out()
    out.print(f"[bold]{result['job']}[/bold] {result['build']}: {result['status']}"
              + (f", commit {result['commit'][:12]}" if result["commit"] else ""))
    table = Table(title=f"{len(result['failures'])} failed test(s)", title_justify="left")
    for column in ("test", "bugs", "evidence / message"):
        table.add_column(column, overflow="fold")
    for f in result["failures"]:
        ev = f["evidence"][0] if f["evidence"] else None
        _add_row(table, f["test"], ", ".join(f["bugs"]) or "unexplained",
                 f"{ev['file']}:{ev['line']}: {ev['text']}" if ev else f["message"])
    out.print(table)
    for e in result["run_evidence"]:
        out.print(f"  {e['bug']}: {e['file']}:{e['line']}: {e['text']}", markup=False)
    out.print(f"advice: {result['advice']}", markup=False)


@cli.command()
@click.option("--days", default=10, show_default=True, help="Length of the hourly series (and of the ranking window).")
@job_option
@json_option
@click.pass_obj
def bugs(obj: Context, days: int, job: str | None, as_json: bool) -> None:
    """Known bugs by hits: distinct failed runs in the last 24 h, 7 d, 10 d and all time."""
    from .analysis.triage import bugs as run_bugs

    result = run_bugs(obj.store, days=days, job=job)
    if as_json:
        emit_json(result)
        return
    table = Table(title=f"known bugs ({len(result)})", title_justify="left")
    for column in ("bug", "title", "24 h", "7 d", "10 d", "all", "share", "jobs", "last seen", f"last {days} d"):
        table.add_column(column, overflow="fold")
    for b in result:
        h = b["hits"]
        _add_row(table, b["bug"], b["title"], h["24h"], h["7d"], h["10d"], h["all"], _pct(b["share"]), len(b["jobs"]),
                 _fmt_time(b["last_seen"]), _sparkline(b["hourly"]["counts"], 24))
    _out().print(table)


def _sparkline(counts: list[int], width: int) -> str:
    """Counts folded into ``width`` buckets, drawn with block characters."""
    if not counts:
        return ""
    step = max(1, -(-len(counts) // width))
    sums = [sum(counts[i:i + step]) for i in range(0, len(counts), step)]
    top = max(sums) or 1
    blocks = " ▁▂▃▄▅▆▇█"
    return "".join(blocks[min(8, -(-v * 8 // top))] for v in sums)


@cli.command()
@click.option("--days", type=int, help="Only runs started in the last N days.")
@job_option
@click.option("--limit", type=int, default=50, show_default=True, help="At most N runs listed (the rates count all).")
@json_option
@click.pass_obj
def unclassified(obj: Context, days: int | None, job: str | None, limit: int, as_json: bool) -> None:
    """Failed runs no fingerprint explains, and the classification rate overall and per job."""
    from .analysis.triage import unclassified as run_unclassified

    result = run_unclassified(obj.store, days=days, job=job, limit=limit)
    if as_json:
        emit_json(result)
        return
    out = _out()
    table = Table(title=f"classification rate: {_pct(result['classification_rate'])} "
                        f"({result['classified']} of {result['failed_runs']} failed runs)", title_justify="left")
    for column in ("job", "failed runs", "classified", "rate"):
        table.add_column(column, overflow="fold")
    for j in result["jobs"]:
        _add_row(table, j["job"], j["failed_runs"], j["classified"], _pct(j["classification_rate"]))
    out.print(table)
    table = Table(title=f"unclassified failed runs ({result['unclassified']}, newest first)", title_justify="left")
    for column in ("job", "build", "started", "failed tests", "reason", "cluster"):
        table.add_column(column, overflow="fold")
    for r in result["runs"]:
        _add_row(table, r["job"], r["build"], _fmt_time(r["started_at"]), r["failed_tests"], (r["message"] or "")[:120],
                 r["cluster"] or "-")
    out.print(table)


@cli.command()
@click.option("--days", type=int, help="Only failures of runs started in the last N days.")
@job_option
@click.option("--top", type=int, default=50, show_default=True, help="At most N clusters, largest first.")
@click.option("--min-size", type=int, default=1, show_default=True, help="Leave out clusters with fewer failures.")
@click.option("--no-suggest", is_flag=True, help="Skip the suggested fingerprints (faster).")
@click.option("--include-known", is_flag=True, help="Cluster failures explained by known bugs too.")
@json_option
@click.pass_obj
def clusters(obj: Context, days: int | None, job: str | None, top: int, min_size: int, no_suggest: bool,
             include_known: bool, as_json: bool) -> None:
    """Clusters of unexplained test failures (Kubernetes triage), each with a suggested fingerprint."""
    from .analysis.triage import failure_clusters

    result = failure_clusters(obj.store, days=days, job=job, top=top, min_size=min_size, suggest=not no_suggest,
                              include_known=include_known)
    if as_json:
        emit_json(result["items"])
        return
    table = Table(title=f"{result['failures']} unexplained failures in {result['clusters']} clusters "
                        f"(largest {result['shown']})", title_justify="left")
    for column in ("cluster", "size", "runs", "tests", "jobs", "last seen", "example", "suggested fingerprint"):
        table.add_column(column, overflow="fold")
    for c in result["items"]:
        _add_row(table, c["id"], c["size"], c["runs"], c["tests"], c["jobs"], _fmt_time(c["last_seen"]),
                 c["example"][:160], c["suggested_fingerprint"] or "-")
    _out().print(table)


@cli.group()
def db() -> None:
    """Inspect and migrate the store."""


@db.command()
@click.pass_obj
def migrate(obj: Context) -> None:
    """Bring the schema up to date (every command does this on connect)."""
    store = connect(obj.db, migrate=False)
    try:
        applied = store.migrate()
        stderr.print(f"applied: {', '.join(applied)}" if applied else "schema is up to date")
        stderr.print(f"schema version {store.schema_version()}")
    finally:
        store.close()


@db.command()
@json_option
@click.pass_obj
def info(obj: Context, as_json: bool) -> None:
    """Engine, schema version and row counts."""
    store = obj.store
    counts = {t: int(store.query(f"SELECT count(*) FROM {t}")[0][0]) for t in ("jobs", "runs", "test_results", "test_verdicts")}
    value = {"url": obj.db, "engine": store.name, "schema_version": store.schema_version(), "rows": counts}
    if as_json:
        emit_json(value)
    else:
        _out().print(value)


def main() -> None:
    """Console entry point: render ciscope errors as one clear line and an exit code."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        stderr.print("aborted")
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except CiscopeError as exc:
        stderr.print(f"error: {exc}", markup=False)
        sys.exit(exc.exit_code)
    except SystemExit:
        raise


if __name__ == "__main__":
    main()
