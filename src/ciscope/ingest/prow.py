"""Prow/GCS run folders, the layout of Kubernetes and OpenShift CI.

A run folder holds ``started.json`` (and ``finished.json`` once the run ended, maybe
``prowjob.json``), ``build-log.txt`` and ``artifacts/`` with JUnit reports at any depth.
Recognised layouts (``<root>`` is whatever folder the user points at):

- ``<root>/logs/<job>/<build>/`` — periodic and postsubmit runs;
- ``<root>/pr-logs/pull/<org_repo>/<pr>/<job>/<build>/`` — presubmit runs;
- ``<root>/<job>/<build>/`` — any folder whose parent names the job.

:func:`find_run_folders` walks a tree without descending into run folders;
:func:`read_run` turns one folder into a :class:`~ciscope.model.Run` with all its results.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import InputError, RunFolderError
from ..model import LifecycleEvent, ResultColumns, Run, RunStatus
from .disruption import is_artifact
from .disruption import read_run_folder as read_disruption
from .jsonfile import parse_json, read_regular
from .junit import read_reports

RUN_MARKERS = ("started.json", "finished.json", "prowjob.json")
JUNIT_FILE = re.compile(r"junit[^/]*\.xml(\.gz)?$", re.IGNORECASE)
LOG_FILE = re.compile(r"\.(log|txt)(\.gz)?$", re.IGNORECASE)
MAX_JSON_BYTES = 16 << 20

_RESULTS = {
    "SUCCESS": RunStatus.SUCCESS,
    "FAILURE": RunStatus.FAILURE,
    "FAILED": RunStatus.FAILURE,
    "ERROR": RunStatus.ERROR,
    "ABORTED": RunStatus.ABORTED,
    "PENDING": RunStatus.PENDING,
    "TRIGGERED": RunStatus.PENDING,
}


def find_run_folders(root: str | os.PathLike[str]) -> Iterator[Path]:
    """Every run folder under ``root`` (or ``root`` itself), in sorted order."""
    root = Path(root)
    if any((root / marker).is_file() for marker in RUN_MARKERS):
        yield root
        return
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
        except OSError:
            continue
        for entry in entries:
            if not entry.is_dir(follow_symlinks=False):
                continue
            path = Path(entry.path)
            if any(os.path.isfile(os.path.join(entry.path, m)) for m in RUN_MARKERS):
                yield path
            else:
                stack.append(path)


def _load_json(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The JSON object of a metadata file; None when the folder has no such file."""
    data = read_regular(path, limit=MAX_JSON_BYTES, error=RunFolderError, purpose="run metadata")
    if data is None:
        return None
    value = parse_json(data, path, error=RunFolderError, what="a JSON object")
    if not isinstance(value, dict):
        raise RunFolderError(os.fspath(path), f"expected a JSON object, found {type(value).__name__}")
    return value


def _timestamp(value: Any, file: str | os.PathLike[str], key: str) -> datetime | None:
    """Epoch seconds or milliseconds, or an ISO 8601 time, as an aware datetime (naive ISO times
    are UTC); ``file`` and ``key`` only name the place in the error."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RunFolderError(os.fspath(file), f"{key} = {value!r}: expected epoch seconds or an ISO 8601 time")
    if isinstance(value, (int, float)):
        seconds = float(value)
        if seconds > 1e11:  # milliseconds
            seconds /= 1000.0
        return datetime.fromtimestamp(seconds, timezone.utc)
    if isinstance(value, str):
        text = value.strip()
        try:
            if text.replace(".", "", 1).isdigit():
                return _timestamp(float(text), file, key)
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    raise RunFolderError(os.fspath(file), f"{key} = {value!r}: expected epoch seconds or an ISO 8601 time")


def _layout(folder: Path) -> tuple[str, str, str | None]:
    """(job, build, pr) from the folder's place in the Prow layout."""
    parts = folder.resolve().parts
    build, job = parts[-1], parts[-2] if len(parts) >= 2 else "unknown"
    pr = None
    if len(parts) >= 6 and parts[-6] == "pr-logs" and parts[-5] == "pull":
        pr = f"{parts[-4]}#{parts[-3]}"
    return job, build, pr


def _commit_from_repos(started: dict[str, Any]) -> tuple[str | None, str | None]:
    """(branch, sha) of the first repo in started.json's ``repos`` ("branch:sha[,pr:sha]")."""
    repos = started.get("repos")
    if isinstance(repos, dict) and repos:
        ref = str(next(iter(repos.values())))
        base = ref.split(",", 1)[0]
        if ":" in base:
            branch, sha = base.split(":", 1)
            return branch or None, sha or None
        return base or None, None
    return None, None


def read_run(folder: str | os.PathLike[str], *, job: str | None = None,
             build: str | None = None, variants: dict[str, str] | None = None) -> Run:
    """Read one run folder: metadata and every JUnit report under ``artifacts/``.

    Raises :class:`~ciscope.errors.InputError` (naming the file) when the metadata is
    unusable: the run is then refused whole. A report that cannot be read does not refuse the
    run: its results are left out and the run is marked incomplete (see :func:`mark_incomplete`).
    """
    folder = Path(folder)
    run = read_run_metadata(folder, job=job, build=build, variants=variants)
    run.results, run.logs, refused, found = _read_artifacts(folder)
    mark_incomplete(run, refused)
    run.disruption = read_disruption(folder, run, found=found)  # docs/disruption.md
    run.events = _events(run, folder)
    return run


def mark_incomplete(run: Run, refused: list[InputError]) -> None:
    """Record in ``run.metadata`` the reports that could not be read: ``incomplete: true`` and
    ``refused: [{file, reason}]``. Their tests have no result in this run (never a pass)."""
    if refused:
        run.metadata["incomplete"] = True
        run.metadata["refused"] = [{"file": exc.file, "reason": str(exc)} for exc in refused]


def refusals(run: Run) -> list[tuple[str, str]]:
    """(file, reason) of every report left out of ``run`` (see :func:`mark_incomplete`)."""
    found = run.metadata.get("refused") if run.metadata.get("incomplete") else None
    if not isinstance(found, list):
        return []
    return [(str(r.get("file")), str(r.get("reason"))) for r in found if isinstance(r, dict)]


def _events(run: Run, folder: Path) -> list[LifecycleEvent]:
    """Lifecycle events: ``artifacts/events.jsonl`` or what the folder tells (docs/timing.md)."""
    from .events import prow_events

    return prow_events(run, folder)


def read_run_metadata(folder: str | os.PathLike[str], *, job: str | None = None,
                      build: str | None = None, variants: dict[str, str] | None = None) -> Run:
    """The run of a folder from its JSON metadata alone (no results, no logs): enough to
    know its ``run_id`` and status — whether it is already stored — without parsing reports."""
    folder = Path(folder)
    layout_job, layout_build, pr = _layout(folder)
    started = _load_json(folder / "started.json") or {}
    finished = _load_json(folder / "finished.json")
    prowjob = _load_json(folder / "prowjob.json") or {}
    spec: dict[str, Any] = prowjob["spec"] if isinstance(prowjob.get("spec"), dict) else {}
    pj_status: dict[str, Any] = prowjob["status"] if isinstance(prowjob.get("status"), dict) else {}
    pj_meta: dict[str, Any] = prowjob["metadata"] if isinstance(prowjob.get("metadata"), dict) else {}

    meta: dict[str, Any] = {}
    for source in (started.get("metadata"), (finished or {}).get("metadata")):
        if isinstance(source, dict):
            meta.update(source)

    status = _status(folder, finished, pj_status)
    branch, sha = _commit_from_repos(started)
    commit = (
        (finished or {}).get("revision")
        or started.get("repo-version")
        or sha
        or meta.get("revision")
    )
    run_variants: dict[str, str] = {}
    if isinstance(meta.get("variants"), dict):
        run_variants.update({str(k): str(v) for k, v in meta["variants"].items()})
    labels: dict[str, Any] = pj_meta["labels"] if isinstance(pj_meta.get("labels"), dict) else {}
    for key, value in labels.items():
        if key.startswith("variant.ciscope.io/"):
            run_variants[key.split("/", 1)[1]] = str(value)
    run_variants.update(variants or {})

    started_at = _timestamp(started.get("timestamp"), folder / "started.json", "timestamp")
    if started_at is None:
        started_at = _timestamp(pj_status.get("startTime"), folder / "prowjob.json", "status.startTime")
    finished_at = None
    if finished is not None:
        finished_at = _timestamp(finished.get("timestamp"), folder / "finished.json", "timestamp")
    if finished_at is None and pj_status.get("completionTime"):
        finished_at = _timestamp(pj_status.get("completionTime"), folder / "prowjob.json", "status.completionTime")

    lifecycle = {
        key: pj_status.get(key) or pj_meta.get(key)
        for key in ("creationTimestamp", "pendingTime", "startTime", "completionTime")
        if pj_status.get(key) or pj_meta.get(key)
    }
    if lifecycle:
        meta = {**meta, "lifecycle": lifecycle}
    pull = meta.get("pull") or (started.get("pull") if isinstance(started.get("pull"), (str, int)) else None)
    if pr is None and pull:
        pr = str(pull)

    run = Run(
        job=job or spec.get("job") or layout_job,
        build=build or str(pj_status.get("build_id") or layout_build),
        status=status,
        started_at=started_at,
        finished_at=finished_at,
        commit=str(commit) if commit else None,
        branch=str(meta.get("release") or meta.get("branch") or branch or "") or None,
        pr=pr,
        worker=str(started.get("node") or meta.get("worker") or spec.get("cluster") or "") or None,
        url=pj_status.get("url") or meta.get("url"),
        variants=run_variants,
        metadata={k: v for k, v in meta.items() if k != "variants"},
        source=str(folder),
    )
    return run


def _status(folder: Path, finished: dict[str, Any] | None, pj_status: dict[str, Any]) -> RunStatus:
    if finished is None:
        state = str(pj_status.get("state") or "").upper()
        if state and state in _RESULTS and _RESULTS[state] is not RunStatus.PENDING:
            return _RESULTS[state]
        return RunStatus.PENDING
    result = finished.get("result")
    if result is not None:
        key = str(result).upper()
        if key not in _RESULTS:
            accepted = ", ".join(sorted(_RESULTS))
            raise RunFolderError(
                str(folder / "finished.json"), f"result = {result!r} is not a known run status; expected one of {accepted}"
            )
        return _RESULTS[key]
    passed = finished.get("passed")
    if isinstance(passed, bool):
        return RunStatus.SUCCESS if passed else RunStatus.FAILURE
    raise RunFolderError(
        str(folder / "finished.json"), "neither 'result' nor a boolean 'passed': cannot tell how the run ended"
    )


def _read_artifacts(folder: Path) -> tuple[ResultColumns, list[str], list[InputError], list[str]]:
    """All attempts from every readable JUnit report of the run, attempts renumbered across
    files, the relative paths of the run's logs, the error of each unreadable report, and the
    paths of the disruption artifacts under ``artifacts/`` (see :mod:`.disruption`)."""
    logs: list[str] = []
    if os.path.isfile(folder / "build-log.txt"):
        logs.append("build-log.txt")
    artifacts = os.fspath(folder / "artifacts")  # as pathlib spells it (errors name the file so)
    # (path, path relative to the folder) of each report: plain strings from os.scandir, in
    # os.walk's order (a folder's files sorted, then its subfolders, sorted, depth first);
    # pathlib per file cost ~5% of an ingest
    reports: list[tuple[str, str]] = []
    found: list[str] = []
    if os.path.isdir(artifacts):
        _walk(artifacts, "artifacts/", reports, logs, found)
    else:  # tolerate reports placed directly in the run folder
        reports = [(os.fspath(p), p.relative_to(folder).as_posix())
                   for p in sorted(p for p in folder.iterdir() if p.is_file() and JUNIT_FILE.search(p.name))]
    refused: list[InputError] = []
    results = read_reports(reports, refused=refused)
    return results, logs, refused, found


def _walk(path: str, under: str, reports: list[tuple[str, str]], logs: list[str], found: list[str]) -> None:
    """Reports, logs and disruption artifacts under ``path`` (``under``: its path relative to
    the run folder, with a trailing slash); symlinked folders are listed, not entered (as
    os.walk does)."""
    try:
        with os.scandir(path) as scan:
            entries = list(scan)
    except OSError:
        return
    files: list[os.DirEntry[str]] = []
    folders: list[os.DirEntry[str]] = []
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        (folders if is_dir else files).append(entry)
    junit_file, log_file = JUNIT_FILE.search, LOG_FILE.search
    for entry in sorted(files, key=_name):
        name = entry.name
        if junit_file(name):
            reports.append((entry.path, under + name))
        elif log_file(name):
            logs.append(under + name)
        if is_artifact(name):
            found.append(entry.path)
    for entry in sorted(folders, key=_name):
        try:
            if entry.is_symlink():
                continue
        except OSError:
            continue
        _walk(entry.path, under + entry.name + "/", reports, logs, found)


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name
