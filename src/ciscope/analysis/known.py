"""Known failures: match runs against the fingerprint directory, keep history classified.

elastic-recheck and openQA's auto-review answer "which known bug made this run fail?"; this
module is where ciscope does it:

- :func:`fingerprint_dir` finds the directory (``--fingerprints``, ``CISCOPE_FINGERPRINTS``,
  else ``./fingerprints`` when it exists);
- :class:`Classifier` scans one run **once** for all fingerprints: each failed test's
  failure text (one document per test) and the run's logs (``build-log.txt``, text and
  ``.gz`` logs under ``artifacts/``), and returns :class:`ciscope.model.Evidence`;
- :func:`reclassify` brings stored matches in line with the directory after it changed:
  only new or changed fingerprints are re-run over history, deleted ones lose their matches,
  and the reasons of affected runs are rewritten — LUCI Analysis' re-clustering, in one
  transaction.

The stored ``fingerprints`` table records which definition (``digest``) the matches were
computed with; it is what makes "only what changed" possible. What this module reads and
writes (definitions, matches, explanations, reasons) is in :mod:`ciscope.queries.known`: here
are the decisions, and ``reclassify``'s one transaction around the writes.
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import InputError, UsageError
from ..fingerprints import Fingerprint, Scanner, load_fingerprints
from ..model import Evidence, Run, TestResult, failed_attempts
from ..queries.explained import explained_tests
from ..queries.known import (
    StoredFingerprint,
    delete_explanations,
    failed_attempt_texts,
    failed_results,
    failing_tests,
    fingerprint_scopes,
    forget_fingerprints,
    insert_fingerprints,
    match_evidence,
    matched_bugs,
    matched_runs,
    runs_to_rescan,
    stored_fingerprints,
    stored_reasons,
    update_fingerprint_titles,
    write_explanations,
    write_matches,
    write_reasons,
)
from ..status import FAILED_RUN_STATUSES

if TYPE_CHECKING:
    from ..store.base import Store

FINGERPRINTS_ENV = "CISCOPE_FINGERPRINTS"
DEFAULT_DIR = "fingerprints"
#: Most bytes read from one log (decompressed). Bugs show up early or at the end; a runaway
#: multi-gigabyte log must not stall ingest.
MAX_LOG_BYTES = 512 << 20

Progress = Callable[[int, int], None]


def fingerprint_dir(option: str | os.PathLike[str] | None = None) -> Path | None:
    """The fingerprint directory in effect: the option, else ``$CISCOPE_FINGERPRINTS``, else
    ``./fingerprints`` when it exists, else None (no known bugs)."""
    chosen = option or os.environ.get(FINGERPRINTS_ENV)
    if chosen:
        path = Path(chosen)
        if not path.is_dir():
            raise UsageError(f"{path}: the fingerprint directory does not exist (from "
                             f"{'--fingerprints' if option else FINGERPRINTS_ENV})")
        return path
    default = Path(DEFAULT_DIR)
    return default if default.is_dir() else None


def load_directory(directory: str | os.PathLike[str]) -> tuple[list[Fingerprint], list[dict[str, Any]]]:
    """Fingerprints of a directory, and the files rejected (each with its reason)."""
    return load_fingerprints(directory)


def digest(fp: Fingerprint) -> str:
    """Hash of everything that decides what ``fp`` matches (not its title or url)."""
    parts = [fp.kind, fp.source, fp.scope.source if fp.scope is not None else "", sorted(fp.test_ids),
             fp.allow_nonvoting]
    return hashlib.sha256(orjson.dumps(parts)).hexdigest()[:32]


def failure_text(result: TestResult) -> str:
    """The text a test's failure is known by: its message, then the rest of its output."""
    message = result.failure_message or ""
    text = result.failure_text or ""
    if message and text.startswith(message):
        return text
    return f"{message}\n{text}" if message and text else (message or text)


def _is_folder(path: Path) -> bool:
    """Whether ``path`` is a folder. A run's ``source`` may name several files (a bare run:
    their paths joined by commas), far longer than a path can be: that is no folder."""
    try:
        return path.is_dir()
    except OSError:
        return False


def needs_scan(run: Run) -> bool:
    """Failed runs, and runs where some attempt failed (a retried failure can be a known bug)."""
    return run.status in FAILED_RUN_STATUSES or bool(failed_attempts(run.results))


@dataclass
class Classifier:
    """Scans runs for a set of fingerprints. Build one and reuse it (compiling is the
    expensive part); not thread-safe."""

    fingerprints: Sequence[Fingerprint]
    backend: str | None = None
    max_log_bytes: int = MAX_LOG_BYTES
    warnings: list[str] = field(default_factory=list)  # unreadable logs; the run is still stored
    #: the directory the fingerprints came from, when they did (lets worker processes
    #: build their own classifier instead of pickling compiled databases)
    source_dir: str | None = None

    def __post_init__(self) -> None:
        self.scanner = Scanner(self.fingerprints, backend=self.backend)
        self.by_id = {fp.id: fp for fp in self.fingerprints}

    def evidence(self, run: Run, folder: str | os.PathLike[str] | None = None) -> list[Evidence]:
        """Every fingerprint match of ``run``: per failed test (first matching place of each
        fingerprint in its failure text) and per log file (first matching line of each).
        ``folder`` is where the run's logs are (default: ``run.source`` when a folder)."""
        if not self.fingerprints or not needs_scan(run):
            return []
        out: list[Evidence] = []
        seen: set[tuple[str, str]] = set()
        for result in failed_attempts(run.results):
            text = failure_text(result)
            test = result.test_id
            if not text or (test, text) in seen:
                continue
            seen.add((test, text))
            for m in self.scanner.scan_text(text, file=result.file or "junit", run_meta=run, test=test):
                if not any(e.bug == m.fingerprint and e.test == test for e in out):
                    out.append(Evidence(m.fingerprint, m.file or "junit", m.line, m.text, test))
        base = Path(folder) if folder is not None else (Path(run.source) if run.source else None)
        if base is not None and _is_folder(base):
            for rel in run.logs:
                path = base / rel
                try:
                    matches = self.scanner.scan_file(path, file=rel, run_meta=run, max_bytes=self.max_log_bytes)
                except InputError as exc:
                    self.warnings.append(str(exc))
                    continue
                out.extend(Evidence(m.fingerprint, m.file, m.line, m.text, None, self.by_id[m.fingerprint].test_ids)
                           for m in matches)
        return out

    def classify(self, run: Run) -> Run:
        """Set ``run.evidence`` (in place) and return the run."""
        run.evidence = self.evidence(run)
        return run


# ---------------------------------------------------------------- stored definitions

def _definitions(fps: Iterable[Fingerprint], now: datetime) -> list[StoredFingerprint]:
    return [StoredFingerprint(bug=fp.id, title=fp.title, url=fp.url, retry=fp.retry, kind=fp.kind, pattern=fp.source,
                              source=fp.file, digest=digest(fp), test_ids=list(fp.test_ids), loaded_at=now)
            for fp in fps]


@dataclass
class ReclassifyReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: int = 0
    runs_scanned: int = 0
    matches: int = 0  # evidence rows written for the added and changed fingerprints
    runs_affected: int = 0  # runs whose reason was rewritten
    warnings: list[str] = field(default_factory=list)

    @property
    def nothing_to_do(self) -> bool:
        return not (self.added or self.changed or self.deleted)

    def as_dict(self) -> dict[str, Any]:
        return {"added": self.added, "changed": self.changed, "deleted": self.deleted, "unchanged": self.unchanged,
                "runs_scanned": self.runs_scanned, "matches": self.matches, "runs_affected": self.runs_affected,
                "warnings": self.warnings}


def plan(store: Store, fps: Sequence[Fingerprint]) -> ReclassifyReport:
    """What :func:`reclassify` would do: which fingerprints are new, changed or gone."""
    stored = {bug: row.digest for bug, row in stored_fingerprints(store).items()}
    report = ReclassifyReport()
    current = {}
    for fp in fps:
        current[fp.id] = d = digest(fp)
        if fp.id not in stored:
            report.added.append(fp.id)
        elif stored[fp.id] != d:
            report.changed.append(fp.id)
        else:
            report.unchanged += 1
    report.deleted = sorted(set(stored) - set(current))
    return report


def _runs_to_scan(store: Store, progress: Progress | None) -> Iterable[Run]:
    """Stored runs that may carry known bugs, rebuilt with their failed attempts."""
    runs = runs_to_rescan(store)
    total = len(runs)
    for start in range(0, total, 2000):
        chunk = runs[start:start + 2000]
        results = failed_results(store, [run.run_id for run in chunk])
        for i, run in enumerate(chunk):
            run.results = results.get(run.run_id, [])
            yield run
            if progress:
                progress(start + i + 1, total)


def reclassify(store: Store, fps: Sequence[Fingerprint], *, backend: str | None = None,
               full: bool = False, progress: Progress | None = None) -> ReclassifyReport:
    """Make the stored matches those of ``fps``: re-scan history for added and changed
    fingerprints (all of them with ``full``), drop the matches of deleted ones, rewrite the
    reasons of the runs concerned. One transaction: a failure leaves the store as it was.

    Logs are re-read from the run folders recorded at ingest; a run whose folder is gone is
    re-matched on its stored failure texts only (and a warning says so, once).
    """
    report = plan(store, fps)
    if full:
        report.changed = sorted(set(report.changed) | {fp.id for fp in fps if fp.id not in report.added})
        report.unchanged = 0
    todo_ids = set(report.added) | set(report.changed)
    todo = [fp for fp in fps if fp.id in todo_ids]
    new_rows: list[tuple[int, list[Evidence]]] = []
    if todo:
        classifier = Classifier(todo, backend=backend)
        missing = 0
        for run in _runs_to_scan(store, progress):
            report.runs_scanned += 1
            if run.logs and run.source and not _is_folder(Path(run.source)):
                missing += 1
            found = classifier.evidence(run)
            if found:
                new_rows.append((run.run_id, found))
        hits: dict[str, int] = defaultdict(int)
        for _, found in new_rows:
            for bug in {e.bug for e in found}:
                hits[bug] += 1
        if report.runs_scanned >= 20:
            for bug, n in sorted(hits.items()):
                if n > report.runs_scanned / 2:
                    report.warnings.append(f"{bug}: too broad? it matched {n} of the {report.runs_scanned} runs with "
                                           "failures; make it more specific")
        if missing:
            report.warnings.append(f"{missing} run folder(s) no longer exist: those runs were re-matched on their "
                                   "stored failure texts only")
        report.warnings.extend(classifier.warnings)
    touched_bugs = sorted(todo_ids | set(report.deleted))
    if not touched_bugs:
        return report
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    store.begin()
    try:
        old_runs = matched_runs(store, touched_bugs)
        forget_fingerprints(store, touched_bugs)
        report.matches = write_matches(store, new_rows, now=now)
        insert_fingerprints(store, _definitions(todo, now))
        affected = sorted(old_runs | {rid for rid, _ in new_rows})
        report.runs_affected = refresh_reasons(store, affected)
        store.commit()
    except Exception:
        store.rollback()
        raise
    return report


def refresh_titles(store: Store, fps: Sequence[Fingerprint]) -> None:
    """Keep titles, urls and retry flags of unchanged fingerprints up to date (they do not
    change what matches)."""
    stored = stored_fingerprints(store)
    for fp in fps:
        row = stored.get(fp.id)
        if row and (row.title, row.url, bool(row.retry), row.source) != (fp.title, fp.url, fp.retry, fp.file):
            update_fingerprint_titles(store, fp.id, title=fp.title, url=fp.url, retry=fp.retry, source=fp.file)


def refresh_explanations(store: Store, run_ids: Sequence[int]) -> None:
    """Recompute the ``explanations`` rows of these runs from their stored matches (the one
    rule: :func:`ciscope.queries.explained.explain`)."""
    scoped = fingerprint_scopes(store)
    for start in range(0, len(run_ids), 2000):
        chunk = list(run_ids[start:start + 2000])
        delete_explanations(store, chunk)
        evidence = match_evidence(store, chunk)
        failing = failing_tests(store, sorted(evidence))
        write_explanations(store, ((rid, failing.get(rid, set()), ev) for rid, ev in evidence.items()), scoped)


def refresh_reasons(store: Store, run_ids: Sequence[int]) -> int:
    """Rewrite the ``explanations`` of these runs, and ``reason.fingerprint`` and
    ``reason.cluster`` from their stored matches and failures. Runs without a reason (they
    did not fail) keep none. Returns the number of reasons rewritten."""
    from .clusters import cluster_key

    refresh_explanations(store, run_ids)
    count = 0
    for start in range(0, len(run_ids), 2000):
        chunk = list(run_ids[start:start + 2000])
        bugs = matched_bugs(store, chunk)
        explained = explained_tests(store, chunk)
        # the first unexplained failure by (test, attempt) in Python's order, as at ingest: an
        # ORDER BY on text would follow the database's collation
        first: dict[int, tuple[str, int, str]] = {}
        for rid, test, attempt, message, text in failed_attempt_texts(store, chunk):
            if test in explained.get(rid, ()):
                continue
            if rid not in first or (test, attempt) < first[rid][:2]:
                first[rid] = (test, attempt, message or text or "")
        reasons = stored_reasons(store, chunk)
        for rid, data in reasons.items():
            data["fingerprint"] = sorted(bugs.get(rid, ())) or None
            data["cluster"] = cluster_key(first[rid][2]) if rid in first else None
        write_reasons(store, reasons)
        count += len(reasons)
    return count


def prepare(store: Store, directory: str | os.PathLike[str] | None, *, backend: str | None = None,
            progress: Progress | None = None,
            implicit: bool = False) -> tuple[Classifier | None, ReclassifyReport | None, list[dict[str, Any]]]:
    """Before an ingest: load the directory, bring history in line with it when it changed
    (so that every stored match comes from the stored definitions), and return the
    classifier for the new runs, what was re-classified, and the rejected files.

    An ingest never deletes stored fingerprints by accident: when the directory was found
    ``implicit``-ly (``$CISCOPE_FINGERPRINTS`` or ``./fingerprints``, not ``--fingerprints``)
    and lacks stored fingerprints, or when it yields none at all while the store has some,
    nothing is re-classified: the stored fingerprints and matches are kept, new runs are
    matched against the fingerprints whose definition is unchanged, and a warning says to run
    ``ciscope reclassify`` (which does delete)."""
    if directory is None:
        return None, None, []
    fps, rejected = load_directory(directory)
    planned = plan(store, fps)
    if planned.deleted and (implicit or not fps):
        how = "found implicitly" if implicit else "given"
        kept = planned.deleted
        planned.warnings.append(
            f"{directory} ({how}) {'holds no fingerprint' if not fps else 'lacks ' + str(len(kept)) + ' stored one(s)'}"
            f"; kept the {len(kept)} stored fingerprint(s) not in it ({', '.join(kept[:5])}"
            f"{', …' if len(kept) > 5 else ''}) and their matches, and re-classified nothing"
            + (f" ({len(planned.added) + len(planned.changed)} added or changed fingerprint(s) not applied)"
               if planned.added or planned.changed else "")
            + f". To apply the directory as it is (deleting those), run `ciscope --fingerprints {directory} reclassify`")
        planned.deleted, planned.added, planned.changed = [], [], []
        stored_digests = {bug: row.digest for bug, row in stored_fingerprints(store).items()}
        unchanged = set(stored_digests) - set(kept)
        usable = [fp for fp in fps if fp.id in unchanged and digest(fp) == stored_digests.get(fp.id)]
        classifier = Classifier(usable, backend=backend) if usable else None
        return classifier, planned, rejected
    report = reclassify(store, fps, backend=backend, progress=progress)
    refresh_titles(store, fps)
    classifier = Classifier(fps, backend=backend, source_dir=str(directory)) if fps else None
    return classifier, report, rejected


def require(directory: Path | None) -> Path:
    if directory is None:
        raise UsageError(f"no fingerprint directory: give --fingerprints DIR, set {FINGERPRINTS_ENV}, "
                         f"or create ./{DEFAULT_DIR}")
    return directory
