"""Known failures: `fingerprints check`, `reclassify`, `triage`, `bugs`, `unclassified`, `clusters`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import UsageError
from .app import (
    Context,
    _out,
    cli,
    emit_json,
    format_option,
    job_option,
    json_option,
    progress_bar,
    stderr,
    window_options,
)
from .ingest import _reclassify_line

if TYPE_CHECKING:
    from ..queries.window import Window
    from ..store.base import Store


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
    from rich.markup import escape

    from ..analysis.known import require
    from ..fingerprints import check

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
    from ..store.duckdb import duckdb_path

    if url.startswith("duckdb:"):
        path = duckdb_path(url)
        return path != ":memory:" and Path(path).is_file()
    return True


def _broad_warnings(store: Store, folder: Path, results: list[dict[str, Any]]) -> None:
    """Warn about fingerprints that would match more than half of a sample of stored failures."""
    from ..fingerprints import breadth, load_fingerprint
    from ..queries.facts import failure_texts

    texts = failure_texts(store)
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
    from rich.markup import escape

    from ..analysis.known import load_directory, refresh_titles, require
    from ..analysis.known import reclassify as run_reclassify

    folder = require(obj.fingerprint_dir())
    fps, rejected = load_directory(folder)
    for r in rejected:
        stderr.print(f"[yellow]fingerprint skipped[/yellow] {escape(r['file'])}: {escape(r['error'])}")
    with progress_bar("re-classifying history") as update:
        report = run_reclassify(obj.writable_store, fps, full=full, progress=update)
    refresh_titles(obj.writable_store, fps)
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
@format_option
@click.pass_obj
def triage(obj: Context, ref: str, job: str | None, as_json: bool) -> None:
    """What made run REF fail (a build id, JOB/BUILD, or a run_id): known bugs with evidence,
    unexplained failures, and advice."""
    from ..analysis.triage import triage as run_triage
    from ..report import reports

    result = run_triage(obj.store, ref, job=job)
    obj.output(result, reports.triage)
    if obj.format == "table":  # the failure lines of a log-only run, and what was left out
        out = _out()
        if result.get("log_reason"):
            lr = result["log_reason"]
            out.print(f"failure lines of {lr['file']} (lines {lr['start']}-{lr['end']}):", markup=False)
            for line in lr["text"].splitlines():
                out.print(f"  {line}", markup=False, highlight=False)
        for r in result.get("incomplete") or []:
            out.print(f"incomplete: {r['reason']}", markup=False)


@cli.command()
@click.option("--days", default=10, show_default=True, type=click.IntRange(min=1),
              help="Length of the hourly series (and of the ranking window), ending at --until or now.")
@window_options(days=False)
@format_option
@click.pass_obj
def bugs(obj: Context, days: int, window: Window, as_json: bool) -> None:
    """Known bugs by hits: distinct failed runs in the last 24 h, 7 d, 10 d and all time."""
    from ..analysis.triage import bugs as run_bugs
    from ..report import reports

    result = run_bugs(obj.store, window=window, days=days)
    obj.output(result, lambda r: reports.bugs(r, days))

@cli.command()
@window_options()
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True, help="At most N runs listed (the rates count all).")
@format_option
@click.pass_obj
def unclassified(obj: Context, window: Window, limit: int, as_json: bool) -> None:
    """Failed runs no fingerprint explains, and the classification rate overall and per job."""
    from ..analysis.triage import unclassified as run_unclassified
    from ..report import reports

    result = run_unclassified(obj.store, window=window, limit=limit)
    obj.output(result, reports.unclassified)


@cli.command()
@window_options()
@click.option("--top", type=click.IntRange(min=1), default=50, show_default=True, help="At most N clusters, largest first.")
@click.option("--min-size", type=click.IntRange(min=1), default=1, show_default=True, help="Leave out clusters with fewer failures.")
@click.option("--no-suggest", is_flag=True, help="Skip the suggested fingerprints (faster).")
@click.option("--include-known", is_flag=True, help="Cluster failures explained by known bugs too.")
@format_option
@click.pass_obj
def clusters(obj: Context, window: Window, top: int, min_size: int, no_suggest: bool,
             include_known: bool, as_json: bool) -> None:
    """Clusters of unexplained test failures (Kubernetes triage), each with a suggested fingerprint."""
    from ..analysis.triage import failure_clusters
    from ..report import reports

    result = failure_clusters(obj.store, window=window, top=top, min_size=min_size, suggest=not no_suggest,
                              include_known=include_known)
    if as_json:
        emit_json(result["items"])
        return
    obj.show(reports.clusters(result))
