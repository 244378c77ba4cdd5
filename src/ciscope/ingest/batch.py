"""Ingest many paths into a store: discovery, per-run reading, batched atomic writes.

Every run is read completely before anything of it is written. Unusable run metadata refuses
the whole run (named, with the reason) and the batch goes on; an unreadable report is left
out of its run, which is stored marked incomplete with every refusal listed. Runs are written in batches, each
batch in one transaction; a run already stored is skipped (see :meth:`Store.write_runs`).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError, UsageError
from ..model import Run, RunStatus, run_failed
from ..queries.facts import has_runs
from ..store.base import Store
from ..store.disruption import write_baselines
from ..store.write import WriteReport, would_write
from . import disruption, parallel, testgrid
from .events import is_event_file
from .junit import read_reports
from .logs import is_log, log_started, log_status, main_log
from .prow import (
    RUN_MARKERS,
    find_run_folders,
    mark_incomplete,
    read_run,
    read_run_metadata,
    refusals,
)
from .subunit import parse_subunit

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
    """An input that was not stored, and why. ``run`` names the run (``job/build``) that was
    stored without it — marked incomplete — when the rest of the run could be read."""

    path: str
    reason: str
    run: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "reason": self.reason, "run": self.run}


@dataclass
class IngestReport:
    """What an ingest did: counts, and every refused input with its reason."""

    runs: int = 0  # newly stored
    replaced: int = 0
    skipped: int = 0  # already stored (idempotent)
    pending: int = 0  # stored runs with no finished.json yet
    results: int = 0
    summaries: int = 0  # TestGrid tab summaries imported
    baselines: int = 0  # disruption/alert baseline rows imported from query_results.json
    refused: list[Refused] = field(default_factory=list)
    seconds: float = 0.0
    classified: int = 0  # stored runs with at least one known-bug match
    warnings: list[str] = field(default_factory=list)  # e.g. unreadable logs (the run is stored)
    incomplete: int = 0  # stored runs with some report left out (each listed in ``refused``)
    events: int = 0  # lifecycle events from event files (docs/timing.md)

    def as_dict(self) -> dict[str, object]:
        return {
            "runs": self.runs,
            "replaced": self.replaced,
            "skipped": self.skipped,
            "pending": self.pending,
            "results": self.results,
            "summaries": self.summaries,
            "baselines": self.baselines,
            "refused": [r.as_dict() for r in self.refused],
            "incomplete": self.incomplete,
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
    #: the run's status as the user states it (else from the log's closing lines, the tests, …)
    status: RunStatus | None = None
    #: None: all bare files of one ingest form one run; "file": one run per report or log
    #: file; "folder": one run per folder of reports and logs
    run_per: str | None = None


RUN_PER = ("file", "folder")


def _is_run_tree(path: Path) -> bool:
    if any((path / marker).is_file() for marker in RUN_MARKERS):
        return True
    for _dirpath, _dirs, files in os.walk(path):
        if any(marker in files for marker in RUN_MARKERS):
            return True
    return False


def _report_files(path: Path) -> tuple[list[Path], list[Path]]:
    """(report and subunit files, console logs) of a path given on the command line: the
    file itself, or what a folder holds at any depth (see :mod:`ciscope.ingest.logs`)."""
    if path.is_file():
        return ([], [path]) if is_log(path, explicit=True) else ([path], [])
    found, logs = [], []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for name in sorted(filenames):
            if name.lower().endswith(REPORT_SUFFIXES) or SUBUNIT_NAME.search(name):
                found.append(Path(dirpath) / name)
            elif is_log(name):
                logs.append(Path(dirpath) / name)
    return found, logs


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
    failed = run_failed(stream.results)
    stem = path.name.split(".", 1)[0] if path.name[0].isdigit() else path.name.rsplit(".subunit", 1)[0]
    return Run(
        job=options.job,
        build=options.build or stem,
        status=options.status or (RunStatus.FAILURE if failed else RunStatus.SUCCESS),
        started_at=options.started or stream.started_at,
        finished_at=stream.finished_at,
        commit=options.commit,
        branch=options.branch,
        variants=dict(options.variants),
        metadata={"format": f"subunit v{stream.version}", "tags": sorted(stream.tags)},
        results=stream.results,
        source=str(path),
    )


def read_bare_run(files: Sequence[Path], options: BareRunOptions, logs: Sequence[Path] = (),
                  name: str | None = None) -> Run:
    """One run made of bare report files and console logs, described by ``options``.

    A report that cannot be read is left out and recorded (the run is marked incomplete,
    see :func:`ciscope.ingest.prow.mark_incomplete`); when nothing at all could be read, the
    run is refused. The build id defaults to a hash of the files' content (``name-hash`` with a
    ``name``: runs of ``--run-per``, whose reports may be identical); the start time to
    the reports' own timestamps, else the main log's first timestamp, else the newest file
    time. The status: ``options.status``, else what the main log's closing lines say, else
    failed tests decide, else (a log alone) failure — ``metadata.status_from`` says which.
    """
    first = (list(files) or list(logs))[0]
    if not options.job:
        raise UsageError(
            f"{first}: bare report files carry no job name; say which run they belong to "
            "with --job NAME (and optionally --build, --started, --commit, --variant key=value)"
        )
    digest = hashlib.sha1()
    refused: list[InputError] = []
    for path in files:
        digest.update(path.read_bytes() if path.stat().st_size < (64 << 20) else str(path.stat()).encode())
    results = read_reports(((path, path.name) for path in files), refused=refused)
    for path in logs if not files else ():  # logs next to reports do not change the run's build id
        digest.update(path.read_bytes() if path.stat().st_size < (64 << 20) else str(path.stat()).encode())
    if refused and not results and not logs:
        raise _Unreadable(refused)
    failed = run_failed(results)  # a test that failed, then passed on a rerun, is a flake
    base = _common_folder([*files, *logs]) if logs else None
    log_names = [p.resolve().relative_to(base).as_posix() for p in logs] if base is not None else []
    main = main_log(log_names)
    started = options.started or _reports_started(files) or (log_started(base / main) if base and main else None) \
        or datetime.fromtimestamp(max(p.stat().st_mtime for p in [*files, *logs]), UTC)
    run = Run(
        job=options.job,
        build=options.build or (f"{name}-{digest.hexdigest()[:8]}" if name else digest.hexdigest()[:12]),
        status=RunStatus.FAILURE if failed else RunStatus.SUCCESS,
        started_at=started,
        commit=options.commit,
        branch=options.branch,
        variants=dict(options.variants),
        results=results,
        logs=log_names,
        source=str(base) if base is not None else ",".join(str(p) for p in files),
    )
    _bare_status(run, options, base, main, has_reports=bool(files) and not (refused and not results))
    mark_incomplete(run, refused)
    return run


class _Unreadable(Exception):
    """Every report of a bare run was refused (each with its error) and no log was given."""

    def __init__(self, errors: list[InputError]) -> None:
        super().__init__(f"{len(errors)} unreadable report(s)")
        self.errors = errors


def _bare_status(run: Run, options: BareRunOptions, base: Path | None, main: str | None, *,
                 has_reports: bool) -> None:
    """Set the status of a bare run and ``metadata.status_from``: ``--status`` (the user
    said), ``log`` (its main log's runner line, in ``metadata.status_line``), ``tests``
    (failed tests decide), or ``default`` (a log that does not say: failure)."""
    if options.status is not None:
        run.status = options.status
        run.metadata["status_from"] = "--status"
        return
    if base is not None and main is not None:
        try:
            said = log_status(base / main)
        except InputError:
            said = None
        if said is not None:
            run.status = said.status
            run.metadata["status_from"] = "log"
            run.metadata["status_line"] = {"file": main, **said.as_dict()}
            return
    if has_reports:
        run.metadata["status_from"] = "tests"
        return
    run.status = RunStatus.FAILURE
    run.metadata["status_from"] = "default"


def _common_folder(paths: Sequence[Path]) -> Path:
    """The deepest folder holding all ``paths`` (where a run's logs are found again later)."""
    return Path(os.path.commonpath([str(p.resolve().parent) for p in paths]))


_SUITE_TIME = re.compile(rb"<(?:testsuites?|assemblies|assembly|test-run|test-suite)\b[^>]*?"
                         rb"\b(?:timestamp|start-time|run-date)=\"([^\"]+)\"(?:[^>]*?\brun-time=\"([^\"]+)\")?")
_TRX_TIME = re.compile(rb"<Times\b[^>]*?\bstart=\"([^\"]+)\"")


def _reports_started(files: Sequence[Path]) -> datetime | None:
    """The earliest start time the reports state themselves: a JUnit ``testsuite``
    ``timestamp``, NUnit's ``start-time``, xUnit.net's ``run-date``/``run-time``, a TRX
    ``Times start``, among the first 64 KiB of each. Times without a zone are UTC."""
    from ..fingerprints.reader import open_log

    found: list[datetime] = []
    for path in files:
        try:
            with open_log(path) as fh:
                head = fh.read(64 << 10)
        except (OSError, EOFError, ValueError):
            continue
        for m in (*_SUITE_TIME.finditer(head), *_TRX_TIME.finditer(head)):
            text = m.group(1).decode("ascii", "replace").strip()
            if m.lastindex == 2 and m.group(2):
                text += "T" + m.group(2).decode("ascii", "replace").strip()
            try:
                value = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
            except ValueError:
                continue
            found.append(value if value.tzinfo else value.replace(tzinfo=UTC))
    return min(found) if found else None


def read_testgrid(source: str, *, job: str | None = None) -> testgrid.TestGridSource:
    """A saved or live TestGrid response: a /table gives runs, a /summary tab summaries."""
    return testgrid.read_source(source, job=job, cache_dir=testgrid_cache())


def testgrid_cache() -> Path:
    """Where live TestGrid responses are cached (CISCOPE_CACHE, else ~/.cache/ciscope)."""
    root = os.environ.get("CISCOPE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "ciscope")
    return Path(root) / "testgrid"


def ingest(store: Store, paths: Iterable[str | os.PathLike[str]], *,
           bare: BareRunOptions | None = None, replace: bool = False,
           progress: Progress | None = None, classifier: Classifier | None = None,
           workers: int | None = None) -> IngestReport:
    """Ingest Prow run folders (any tree of them), bare JUnit/xUnit reports and console logs.

    All bare reports and logs given in one call form one run, described by ``bare`` (one run
    per file or per folder with ``bare.run_per``). With a
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


def _bare_groups(files: list[Path], logs: list[Path], run_per: str | None) -> list[tuple[list[Path], list[Path]]]:
    """(reports, logs) of each run the bare files make: all of them one run (``run_per``
    None), one run per file, or one run per folder (the folder a file is in)."""
    if not files and not logs:
        return []
    if run_per is None:
        return [(files, logs)]
    if run_per == "file":
        return [([f], []) for f in files] + [([], [f]) for f in logs]
    if run_per != "folder":
        raise UsageError(f"--run-per {run_per!r}: expected one of {', '.join(RUN_PER)}")
    groups: dict[Path, tuple[list[Path], list[Path]]] = {}
    for f in files:
        groups.setdefault(f.resolve().parent, ([], []))[0].append(f)
    for f in logs:
        groups.setdefault(f.resolve().parent, ([], []))[1].append(f)
    return [groups[folder] for folder in sorted(groups)]


def _run_name(files: list[Path], logs: list[Path], options: BareRunOptions | None) -> str | None:
    """The name a ``--run-per`` run's build id starts with: its file's name without the
    report or log suffix (``TEST-a.b.C.xml.gz`` → ``TEST-a.b.C``), or its folder's name."""
    if options is None or options.run_per is None:
        return None
    path = (files or logs)[0]
    if options.run_per == "folder":
        return path.resolve().parent.name or "root"
    stem = path.name
    for suffix in (".gz", ".xz", ".bz2"):
        stem = stem.removesuffix(suffix)
    return stem.rsplit(".", 1)[0] if "." in stem.strip(".") else stem


def _count_incomplete(report: IngestReport, runs: Sequence[Run], stored: set[int]) -> None:
    """List the reports left out of each run just stored (marked incomplete)."""
    for run in runs:
        if run.run_id not in stored:
            continue
        lost = refusals(run)
        if lost:
            report.incomplete += 1
            report.refused.extend(Refused(file, reason, run=f"{run.job}/{run.build}") for file, reason in lost)


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
        if old is not None and status is not None and not would_write(old, status):
            continue
        keep.append(folder)
    return keep, len(folders) - len(keep)


@dataclass
class _Inputs:
    """The paths of one ingest, sorted by what reads them."""

    folders: list[Path] = field(default_factory=list)  # Prow run folders
    bare_files: list[Path] = field(default_factory=list)  # bare JUnit/xUnit reports
    bare_logs: list[Path] = field(default_factory=list)
    streams: list[Path] = field(default_factory=list)  # subunit
    testgrid: list[str] = field(default_factory=list)  # TestGrid responses (or origin's query_results.json)
    event_files: list[Path] = field(default_factory=list)


def _sort_inputs(paths: Iterable[str | os.PathLike[str]], report: IngestReport) -> _Inputs:
    """Sort the given paths by what reads them; a path with nothing to read is refused."""
    found = _Inputs()
    for raw in paths:
        if is_event_file(raw) and Path(raw).is_file():
            found.event_files.append(Path(raw))
            continue
        if str(raw).startswith(("http://", "https://")) or str(raw).lower().endswith(TESTGRID_SUFFIXES):
            found.testgrid.append(str(raw))
            continue
        path = Path(raw)
        if not path.exists():
            report.refused.append(Refused(str(path), "no such file or folder"))
        elif path.is_dir() and _is_run_tree(path):
            found.folders.extend(find_run_folders(path))
        else:
            files, logs = _report_files(path)
            if not files and not logs:
                report.refused.append(Refused(str(path), "no run folders (started.json), no report files (*.xml, "
                                              "*.xml.gz, *.trx, *.subunit, stestr streams) and no console logs "
                                              "(job-output.txt, console.log, *.log, *.log.gz, *.txt.gz) found"))
            found.streams.extend(f for f in files if _is_subunit(f))
            found.bare_files.extend(f for f in files if not _is_subunit(f))
            found.bare_logs.extend(logs)
    return found


def _bare_runs(found: _Inputs, bare: BareRunOptions | None) -> list[tuple[list[Path], list[Path]]]:
    """The runs the bare files make; a usage error when what names them is missing."""
    if found.streams and not (bare and bare.job):
        raise UsageError(f"{found.streams[0]}: subunit streams carry no job name; say which job they belong to "
                         "with --job NAME")
    if len(found.streams) > 1 and bare and bare.build:
        raise UsageError("--build names one run, but several subunit streams (one run each) were given")
    if (found.bare_files or found.bare_logs) and not (bare and bare.job):
        raise UsageError(
            f"{(found.bare_files or found.bare_logs)[0]}: bare report files and logs carry no job name; say which "
            "run they belong to with --job NAME (and optionally --build, --started, --commit, --variant key=value)"
        )
    runs = _bare_groups(found.bare_files, found.bare_logs, bare.run_per if bare else None)
    if len(runs) > 1 and bare and bare.build:
        raise UsageError(f"--build names one run, but --run-per {bare.run_per} makes {len(runs)} runs of "
                         "these files: leave --build out (each run's build id is a hash of its files)")
    return runs


def _count_stored(report: IngestReport, runs: Sequence[Run], written: WriteReport) -> set[int]:
    """Count the runs one write stored, new, replaced and still pending; returns their ids."""
    stored = set(written.inserted) | set(written.replaced)
    report.runs += len(written.inserted)
    report.replaced += len(written.replaced)
    report.pending += sum(1 for r in runs if r.status is RunStatus.PENDING and r.run_id in stored)
    return stored


def _tally(report: IngestReport, runs: Sequence[Run], written: WriteReport) -> None:
    """Count what one write of read runs did: stored (:func:`_count_stored`), skipped, results,
    runs stored incomplete and runs with known-bug matches."""
    stored = _count_stored(report, runs, written)
    _count_incomplete(report, runs, stored)
    report.skipped += len(written.skipped)
    report.results += written.results
    report.classified += sum(1 for r in runs if r.evidence and r.run_id in stored)


@dataclass
class _Writer:
    """Runs read in this process, written in batches of about ``BATCH_RESULTS`` results (or
    ``BATCH_RUNS`` runs), each in one transaction; the known-bug scan of the runs a batch
    will store happens just before it is written."""

    store: Store
    report: IngestReport
    replace: bool
    classifier: Classifier | None
    pending: list[Run] = field(default_factory=list)
    pending_results: int = 0

    def take(self, run: Run) -> None:
        if run.disruption is not None:
            self.report.warnings.extend(run.disruption.warnings)
        self.pending.append(run)
        self.pending_results += len(run.results)
        if self.pending_results >= BATCH_RESULTS or len(self.pending) >= BATCH_RUNS:
            self.flush()

    def flush(self) -> None:
        runs = self.pending
        if not runs:
            return
        self.pending, self.pending_results = [], 0
        if self.classifier is not None:
            stored = self.store.stored_status(r.run_id for r in runs)
            for run in runs:
                if would_write(stored.get(run.run_id), run.status, replace=self.replace):
                    self.classifier.classify(run)
            self.report.warnings.extend(self.classifier.warnings)
            self.classifier.warnings.clear()
        _tally(self.report, runs, self.store.write_runs(runs, replace=self.replace))


class _Progress:
    """Inputs done so far, told to the caller's progress callback."""

    def __init__(self, total: int, callback: Progress | None) -> None:
        self.total, self.done, self.callback = total, 0, callback

    def advance(self, count: int = 1) -> None:
        self.done += count
        if self.callback and count:
            self.callback(self.done, self.total)


def _ingest(store: Store, paths: Iterable[str | os.PathLike[str]], *,
            bare: BareRunOptions | None, replace: bool, progress: Progress | None,
            classifier: Classifier | None = None, workers: int | None = None) -> IngestReport:
    began = time.perf_counter()
    report = IngestReport()
    found = _sort_inputs(paths, report)
    bare_runs = _bare_runs(found, bare)
    done = _Progress(len(found.folders) + len(found.streams) + len(found.testgrid) + len(found.event_files)
                     + len(bare_runs), progress)
    writer = _Writer(store, report, replace, classifier)
    _ingest_folders(writer, found.folders, done, workers)
    for source in found.testgrid:
        _ingest_testgrid(writer, source, bare)
        done.advance()
    for stream in found.streams:
        try:
            writer.take(read_subunit_run(stream, bare or BareRunOptions()))
        except InputError as exc:
            report.refused.append(Refused(str(stream), str(exc)))
        done.advance()
    for reports, logs in bare_runs:
        try:
            writer.take(read_bare_run(reports, bare or BareRunOptions(), logs, name=_run_name(reports, logs, bare)))
        except _Unreadable as exc:
            report.refused.extend(Refused(e.file, str(e)) for e in exc.errors)
        except InputError as exc:
            report.refused.append(Refused(exc.file, str(exc)))
        done.advance()
    writer.flush()
    for path in found.event_files:
        try:
            report.events += _ingest_events(store, path, bare.job if bare else None, report)
        except InputError as exc:
            report.refused.append(Refused(str(path), str(exc)))
        done.advance()
    report.seconds = time.perf_counter() - began
    return report


def _ingest_folders(writer: _Writer, folders: list[Path], done: _Progress, workers: int | None) -> None:
    """Prow run folders: read by worker processes when there are enough of them (and known
    bugs, if any, come from a fingerprint directory the workers can load), else here.

    Runs already stored are recognised from their metadata (a few small JSON files) and not
    read at all — no report parsed, no log scanned — when the store held runs before this
    ingest (else only runs read by this very ingest could be stored: write_runs skips those).
    Store.write_runs still decides, so this is only a shortcut."""
    if not folders:
        return
    store, report = writer.store, writer.report
    check = not writer.replace and has_runs(store)

    def groups() -> Iterator[tuple[list[str], int]]:
        for start in range(0, len(folders), parallel.CHUNK):
            group = [str(f) for f in folders[start:start + parallel.CHUNK]]
            yield _unstored(store, group) if check else (group, 0)

    if workers is None:
        workers = parallel.default_workers()
    fingerprints = writer.classifier.source_dir if writer.classifier is not None else None
    if workers > 1 and len(folders) >= parallel.MIN_FOLDERS and (writer.classifier is None or fingerprints):
        _ingest_parallel(writer, groups(), done, workers, fingerprints)
        return
    for group, skipped in groups():
        report.skipped += skipped
        done.advance(skipped)
        for folder in group:
            try:
                writer.take(read_run(folder))
            except InputError as exc:
                report.refused.append(Refused(str(folder), str(exc)))
            done.advance()


def _ingest_parallel(writer: _Writer, groups: Iterable[tuple[list[str], int]], done: _Progress, workers: int,
                     fingerprints: str | None) -> None:
    """Run folders read and tabulated by worker processes; their tables written here, in
    batches as large as the serial path's."""
    writer.flush()
    report = writer.report
    prepared: list[parallel.Chunk] = []

    def write() -> None:
        runs, batch = parallel.merge(prepared)
        prepared.clear()
        if runs:
            _tally(report, runs, writer.store.write_prepared(runs, batch, replace=writer.replace))

    # closed however the loop ends: a Ctrl-C (or an error) while a batch is written here, not
    # inside the reader, must still stop the workers now — left to the garbage collector, the
    # pool outlived the interrupt and the interpreter could hang at exit joining its thread
    chunks = parallel.read_parallel(groups, workers, fingerprints)
    with contextlib.closing(chunks):
        for chunk in chunks:
            report.refused.extend(Refused(path, reason) for path, reason in chunk.refused)
            report.warnings.extend(chunk.warnings)
            report.skipped += chunk.skipped
            if chunk.batch is not None:
                prepared.append(chunk)
            if (sum(c.batch.results for c in prepared if c.batch is not None) >= BATCH_RESULTS
                    or sum(len(c.runs) for c in prepared) >= BATCH_RUNS):
                write()
            done.advance(chunk.folders)
    if prepared:
        write()


def _ingest_testgrid(writer: _Writer, source: str, bare: BareRunOptions | None) -> None:
    """A TestGrid response (its runs, its tab summaries) or origin's disruption baselines."""
    store, report = writer.store, writer.report
    if disruption.looks_like_query_results(source):  # origin's baselines, not TestGrid
        try:
            report.baselines += write_baselines(store, disruption.read_query_results(source))
        except InputError as exc:
            report.refused.append(Refused(source, str(exc)))
        return
    try:
        got = read_testgrid(source, job=bare.job if bare else None)
        for run in got.runs:
            writer.take(run)
        if got.summaries:
            store.write_testgrid_summaries(got.summaries, source=source)
            report.summaries += len(got.summaries)
        if got.job and not got.runs:  # an empty tab: keep the job, shown as STALE
            store.register_job(got.job)
            report.warnings.append(f"{source}: tab {got.job!r} has no results (an empty, STALE tab); "
                                   "its job is stored without runs")
    except InputError as exc:
        report.refused.append(Refused(source, str(exc)))


def _ingest_events(store: Store, path: Path, job: str | None, report: IngestReport) -> int:
    """An event file: its runs not yet stored are stored with their events; the stored events
    of the others are replaced by the file's (see docs/timing.md). Returns the events stored."""
    from ..store.events import replace_events
    from .events import event_runs, read_event_file

    runs = event_runs(read_event_file(path, job=job), file=str(path))
    written = store.write_runs(runs)
    new = _count_stored(report, runs, written)
    stored = sum(len(r.events) for r in runs if r.run_id in new)
    return stored + replace_events(store, {r.run_id: r.events for r in runs if r.run_id not in new})
