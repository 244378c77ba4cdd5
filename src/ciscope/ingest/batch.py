"""Ingest many paths into a store: discovery, per-run reading, batched atomic writes.

Every run is read completely before anything of it is written, so a bad file refuses its
whole run (named, with the reason) and the batch goes on. Runs are written in batches, each
batch in one transaction; a run already stored is skipped (see :meth:`Store.write_runs`).
"""

from __future__ import annotations

import gc
import hashlib
import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from ..errors import InputError, UsageError
from ..model import Run, RunStatus, Status
from ..store.base import Store
from .junit import parse_junit
from .prow import RUN_MARKERS, find_run_folders, read_run, read_run_metadata
from . import parallel, testgrid
from .events import is_event_file
from .subunit import parse_subunit
from ..analysis.grid import Grid

if TYPE_CHECKING:
    from ..analysis.known import Classifier

REPORT_SUFFIXES = (".xml", ".xml.gz", ".trx")
TESTGRID_SUFFIXES = (".json",)  # saved TestGrid /table and /summary responses
# subunit streams: *.subunit (optionally compressed), and stestr/testrepository repositories,
# whose streams are files named by run number (0, 1, … optionally .xz/.gz).
SUBUNIT_NAME = re.compile(r"(\.subunit|^\d+)(\.(xz|gz))?$")
BATCH_RESULTS = 200_000
BATCH_RUNS = 2_000

Progress = Callable[[int, int], None]


@dataclass
class Refused:
    """An input that was not stored, and why."""

    path: str
    reason: str


@dataclass
class IngestReport:
    """What an ingest did: counts, and every refused input with its reason."""

    runs: int = 0  # newly stored
    replaced: int = 0
    skipped: int = 0  # already stored (idempotent)
    pending: int = 0  # stored runs with no finished.json yet
    results: int = 0
    summaries: int = 0  # TestGrid tab summaries imported
    refused: list[Refused] = field(default_factory=list)
    seconds: float = 0.0
    classified: int = 0  # stored runs with at least one known-bug match
    warnings: list[str] = field(default_factory=list)  # e.g. unreadable logs (the run is stored)
    events: int = 0  # lifecycle events from event files (docs/timing.md)

    def as_dict(self) -> dict[str, object]:
        return {
            "runs": self.runs,
            "replaced": self.replaced,
            "skipped": self.skipped,
            "pending": self.pending,
            "results": self.results,
            "summaries": self.summaries,
            "refused": [{"path": r.path, "reason": r.reason} for r in self.refused],
            "classified": self.classified,
            "warnings": self.warnings,
            "events": self.events,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class BareRunOptions:
    """What run bare report files belong to (they carry no run metadata of their own)."""

    job: str | None = None
    build: str | None = None
    started: datetime | None = None
    commit: str | None = None
    branch: str | None = None
    variants: dict[str, str] = field(default_factory=dict)


def _is_run_tree(path: Path) -> bool:
    if any((path / marker).is_file() for marker in RUN_MARKERS):
        return True
    for dirpath, _dirs, files in os.walk(path):
        if any(marker in files for marker in RUN_MARKERS):
            return True
    return False


def _report_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    found = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for name in sorted(filenames):
            if name.lower().endswith(REPORT_SUFFIXES) or SUBUNIT_NAME.search(name):
                found.append(Path(dirpath) / name)
    return found


def _is_subunit(path: Path) -> bool:
    return bool(SUBUNIT_NAME.search(path.name))


def read_subunit_run(path: Path, options: BareRunOptions) -> Run:
    """One subunit stream is one run: job from ``options``, build from the file name
    (stestr numbers its runs) unless given."""
    if not options.job:
        raise UsageError(
            f"{path}: a subunit stream carries no job name; say which job it belongs to with --job NAME"
        )
    stream = parse_subunit(path, name=str(path))
    failed = any(r.status in (Status.FAILED, Status.ERROR) for r in stream.results)
    stem = path.name.split(".", 1)[0] if path.name[0].isdigit() else path.name.rsplit(".subunit", 1)[0]
    return Run(
        job=options.job,
        build=options.build or stem,
        status=RunStatus.FAILURE if failed else RunStatus.SUCCESS,
        started_at=options.started or stream.started_at,
        finished_at=stream.finished_at,
        commit=options.commit,
        branch=options.branch,
        variants=dict(options.variants),
        metadata={"format": f"subunit v{stream.version}", "tags": sorted(stream.tags)},
        results=stream.results,
        source=str(path),
    )


def read_bare_run(files: Sequence[Path], options: BareRunOptions) -> Run:
    """One run made of bare report files, described by ``options``."""
    if not options.job:
        raise UsageError(
            f"{files[0]}: bare report files carry no job name; say which run they belong to "
            "with --job NAME (and optionally --build, --started, --commit, --variant key=value)"
        )
    digest = hashlib.sha1()
    results = []
    seen: dict[str, int] = {}
    for path in files:
        digest.update(path.read_bytes() if path.stat().st_size < (64 << 20) else str(path.stat()).encode())
        for result in parse_junit(path, name=str(path)):
            result.file = path.name
            key = result.test_id
            result.attempt = seen.get(key, 0)
            seen[key] = result.attempt + 1
            results.append(result)
    failed = any(r.status in (Status.FAILED, Status.ERROR) for r in results)
    started = options.started or datetime.fromtimestamp(
        max(p.stat().st_mtime for p in files), timezone.utc
    )
    return Run(
        job=options.job,
        build=options.build or digest.hexdigest()[:12],
        status=RunStatus.FAILURE if failed else RunStatus.SUCCESS,
        started_at=started,
        commit=options.commit,
        branch=options.branch,
        variants=dict(options.variants),
        results=results,
        source=",".join(str(p) for p in files),
    )


def read_testgrid(source: str, *, job: str | None = None) -> tuple[list[Run], dict[str, Any]]:
    """A saved or live TestGrid response: a /table gives runs, a /summary tab summaries."""
    if source.startswith(("http://", "https://")):
        obj = testgrid.fetch_json(source, cache_dir=testgrid_cache())
    else:
        if not Path(source).exists():
            raise InputError(source, "no such file")
        obj = testgrid.read_json(source)
    if testgrid.is_table(obj):
        grid = Grid.from_testgrid_table(obj, source=source)
        return testgrid.grid_to_runs(grid, job=job, source=source), {}
    if testgrid.is_summary(obj):
        return [], testgrid.parse_summary(obj, source=source)
    raise InputError(source, "not a TestGrid /table response (tests + timestamps) nor a /summary "
                     "(tabs with overall_status): the JSON inputs ciscope ingests")


def testgrid_cache() -> Path:
    """Where live TestGrid responses are cached (CISCOPE_CACHE, else ~/.cache/ciscope)."""
    root = os.environ.get("CISCOPE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "ciscope")
    return Path(root) / "testgrid"


def ingest(store: Store, paths: Iterable[str | os.PathLike[str]], *,
           bare: BareRunOptions | None = None, replace: bool = False,
           progress: Progress | None = None, classifier: Classifier | None = None,
           workers: int | None = None) -> IngestReport:
    """Ingest Prow run folders (any tree of them) and bare JUnit/xUnit reports.

    All bare reports given in one call form one run, described by ``bare``. With a
    ``classifier`` (see :func:`ciscope.analysis.known.prepare`), every run about to be
    stored is scanned once for known bugs and its matches are stored with it.
    """
    # Ingest allocates millions of small, acyclic objects; the cyclic garbage collector
    # would rescan them over and over (measured: 4x slower Arrow conversion). Pause it.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _ingest(store, paths, bare=bare, replace=replace, progress=progress, classifier=classifier,
                       workers=workers)
    finally:
        if collecting:
            gc.enable()


def _has_runs(store: Store) -> bool:
    return bool(store.query("SELECT 1 FROM runs LIMIT 1"))


def _unstored(store: Store, folders: list[str]) -> tuple[list[str], int]:
    """(the folders to read, how many were skipped): a folder is skipped when its run, known
    from its metadata alone, is stored and would be kept (see :meth:`Store.write_runs`: not
    when the stored copy is pending and this one is not). A folder whose metadata cannot be
    read is kept: reading it refuses it with the reason."""
    found: dict[str, tuple[int, RunStatus]] = {}
    for folder in folders:
        try:
            run = read_run_metadata(folder)
        except InputError:
            continue
        found[folder] = (run.run_id, run.status)
    stored = store.stored_status({rid for rid, _ in found.values()}) if found else {}
    keep = []
    for folder in folders:
        rid, status = found.get(folder, (None, None))
        old = stored.get(rid) if rid is not None else None
        if old is not None and not (old == RunStatus.PENDING.value and status is not RunStatus.PENDING):
            continue
        keep.append(folder)
    return keep, len(folders) - len(keep)


def _ingest(store: Store, paths: Iterable[str | os.PathLike[str]], *,
            bare: BareRunOptions | None, replace: bool, progress: Progress | None,
            classifier: Classifier | None = None, workers: int | None = None) -> IngestReport:
    began = time.perf_counter()
    report = IngestReport()
    folders: list[Path] = []
    bare_files: list[Path] = []
    streams: list[Path] = []
    testgrid: list[str] = []
    event_files: list[Path] = []
    for raw in paths:
        if is_event_file(raw) and Path(raw).is_file():
            event_files.append(Path(raw))
            continue
        if str(raw).startswith(("http://", "https://")) or str(raw).lower().endswith(TESTGRID_SUFFIXES):
            testgrid.append(str(raw))
            continue
        path = Path(raw)
        if not path.exists():
            report.refused.append(Refused(str(path), "no such file or folder"))
        elif path.is_dir() and _is_run_tree(path):
            folders.extend(find_run_folders(path))
        else:
            files = _report_files(path)
            if not files:
                report.refused.append(Refused(str(path), "no run folders (started.json) and no report files (*.xml, *.xml.gz, *.trx, *.subunit, stestr streams) found"))
            streams.extend(f for f in files if _is_subunit(f))
            bare_files.extend(f for f in files if not _is_subunit(f))

    if streams and not (bare and bare.job):
        raise UsageError(f"{streams[0]}: subunit streams carry no job name; say which job they belong to with --job NAME")
    if len(streams) > 1 and bare and bare.build:
        raise UsageError("--build names one run, but several subunit streams (one run each) were given")
    if bare_files and not (bare and bare.job):
        raise UsageError(
            f"{bare_files[0]}: bare report files carry no job name; say which run they belong to "
            "with --job NAME (and optionally --build, --started, --commit, --variant key=value)"
        )
    total = len(folders) + len(streams) + len(testgrid) + len(event_files) + (1 if bare_files else 0)
    done = 0
    pending: list[Run] = []
    pending_results = 0

    def flush() -> None:
        nonlocal pending, pending_results
        if not pending:
            return
        if classifier is not None:
            stored = store.stored_status(r.run_id for r in pending)
            for run in pending:
                old = stored.get(run.run_id)
                if old is None or replace or (old == RunStatus.PENDING.value and run.status is not RunStatus.PENDING):
                    classifier.classify(run)
            report.warnings.extend(classifier.warnings)
            classifier.warnings.clear()
        written = store.write_runs(pending, replace=replace)
        stored_ids = set(written.inserted) | set(written.replaced)
        report.classified += sum(1 for r in pending if r.evidence and r.run_id in stored_ids)
        report.runs += len(written.inserted)
        report.replaced += len(written.replaced)
        report.skipped += len(written.skipped)
        report.results += written.results
        stored = set(written.inserted) | set(written.replaced)
        report.pending += sum(1 for r in pending if r.status is RunStatus.PENDING and r.run_id in stored)
        pending, pending_results = [], 0

    def take(run: Run) -> None:
        nonlocal pending_results
        pending.append(run)
        pending_results += len(run.results)
        if pending_results >= BATCH_RESULTS or len(pending) >= BATCH_RUNS:
            flush()

    if workers is None:
        workers = parallel.default_workers()
    # Runs already stored are recognised from their metadata (a few small JSON files) and
    # not read at all — no report parsed, no log scanned — when the store held runs before
    # this ingest (else only runs read by this very ingest could be stored: write_runs
    # skips those). Store.write_runs still decides, so this is only a shortcut.
    check = not replace and bool(folders) and _has_runs(store)

    def groups() -> Iterable[tuple[list[str], int]]:
        for start in range(0, len(folders), parallel.CHUNK):
            group = [str(f) for f in folders[start:start + parallel.CHUNK]]
            yield _unstored(store, group) if check else (group, 0)

    fingerprints = classifier.source_dir if classifier is not None else None
    if workers > 1 and len(folders) >= parallel.MIN_FOLDERS and (classifier is None or fingerprints):
        flush()
        prepared: list[parallel.Chunk] = []
        prepared_results = 0

        def flush_prepared() -> None:
            nonlocal prepared, prepared_results
            if not prepared:
                return
            runs, batch = parallel.merge(prepared)
            prepared, prepared_results = [], 0
            if not runs:
                return
            written = store.write_prepared(runs, batch, replace=replace)
            stored_ids = set(written.inserted) | set(written.replaced)
            report.runs += len(written.inserted)
            report.replaced += len(written.replaced)
            report.skipped += len(written.skipped)
            report.results += written.results
            report.pending += sum(1 for r in runs if r.status is RunStatus.PENDING and r.run_id in stored_ids)
            report.classified += sum(1 for r in runs if r.evidence and r.run_id in stored_ids)

        for chunk in parallel.read_parallel(groups(), workers, fingerprints):
            report.refused.extend(Refused(path, reason) for path, reason in chunk.refused)
            report.warnings.extend(chunk.warnings)
            report.skipped += chunk.skipped
            if chunk.batch is not None:
                prepared.append(chunk)
                prepared_results += chunk.batch.results
            if prepared_results >= BATCH_RESULTS or sum(len(c.runs) for c in prepared) >= BATCH_RUNS:
                flush_prepared()
            done += chunk.folders
            if progress:
                progress(done, total)
        flush_prepared()
        folders = []
    for group, skipped in groups():
        report.skipped += skipped
        done += skipped
        if skipped and progress:
            progress(done, total)
        for folder in group:
            try:
                take(read_run(folder))
            except InputError as exc:
                report.refused.append(Refused(str(folder), str(exc)))
            done += 1
            if progress:
                progress(done, total)
    for source in testgrid:
        try:
            runs, summaries = read_testgrid(source, job=bare.job if bare else None)
            for run in runs:
                take(run)
            if summaries:
                store.write_testgrid_summaries(summaries, source=source)
                report.summaries += len(summaries)
        except InputError as exc:
            report.refused.append(Refused(source, str(exc)))
        done += 1
        if progress:
            progress(done, total)
    for stream in streams:
        try:
            take(read_subunit_run(stream, bare or BareRunOptions()))
        except InputError as exc:
            report.refused.append(Refused(str(stream), str(exc)))
        done += 1
        if progress:
            progress(done, total)
    if bare_files:
        try:
            take(read_bare_run(bare_files, bare or BareRunOptions()))
        except InputError as exc:
            report.refused.append(Refused(exc.file, str(exc)))
        done += 1
        if progress:
            progress(done, total)
    flush()
    for path in event_files:
        try:
            report.events += _ingest_events(store, path, bare.job if bare else None, report)
        except InputError as exc:
            report.refused.append(Refused(str(path), str(exc)))
        done += 1
        if progress:
            progress(done, total)
    report.seconds = time.perf_counter() - began
    return report


def _ingest_events(store: Store, path: Path, job: str | None, report: IngestReport) -> int:
    """An event file: its runs not yet stored are stored with their events; the stored events
    of the others are replaced by the file's (see docs/timing.md). Returns the events stored."""
    from ..store.events import replace_events
    from .events import event_runs, read_event_file

    runs = event_runs(read_event_file(path, job=job), file=str(path))
    written = store.write_runs(runs)
    report.runs += len(written.inserted)
    report.replaced += len(written.replaced)
    report.pending += sum(1 for r in runs if r.status is RunStatus.PENDING and r.run_id in set(written.inserted))
    new = set(written.inserted) | set(written.replaced)
    stored = sum(len(r.events) for r in runs if r.run_id in new)
    return stored + replace_events(store, {r.run_id: r.events for r in runs if r.run_id not in new})
