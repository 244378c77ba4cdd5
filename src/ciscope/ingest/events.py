"""Lifecycle events of runs: where the time of a run goes (see docs/timing.md).

Two sources:

- **event files** — JSON lines (``*.events.jsonl``, ``events.jsonl``) or CSV (``*.events.csv``,
  ``events.csv``; ``,`` ``;`` ``|`` or tab separated, header first), one event per line with the
  run, the event name, when it was emitted and (optionally) received, the worker or device, the
  device group and the requestor (a device lab's ``testrun_id | event_name | event_emit |
  event_receive``). :func:`read_event_file` reads them; :func:`event_runs` turns them into runs.
- **Prow run folders** — ``artifacts/events.jsonl`` when the job wrote one (same format, the run
  is the folder's), else :func:`prow_events` derives what the folder tells: ``requested``
  (prowjob ``creationTimestamp``), ``pulled`` (``pendingTime``), ``pod_scheduled``
  (``podinfo.json``), ``test_start`` (``started.json``), ``test_end`` (``finished.json``),
  ``results_reported`` (``completionTime``). Nothing is guessed: an absent time is no event.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ..errors import InputError, RunFolderError
from ..model import LifecycleEvent, Run, RunStatus

__all__ = [
    "EVENT_FILE_NAMES",
    "FIELDS",
    "EventRow",
    "event_runs",
    "is_event_file",
    "number_iterations",
    "prow_events",
    "read_event_file",
]

MAX_EVENT_FILE_BYTES = 1 << 30
#: file names recognised as event files by ``ciscope ingest`` (see :func:`is_event_file`)
EVENT_FILE_NAMES = ("events.jsonl", "events.csv")

#: accepted column / key names of each field (first = canonical)
FIELDS: dict[str, tuple[str, ...]] = {
    "run": ("run", "run_id", "testrun_id", "build"),
    "event": ("event", "event_name", "name"),
    "emitted_at": ("emitted_at", "emitted", "event_emit", "time", "timestamp"),
    "received_at": ("received_at", "received", "event_receive"),
    "worker": ("worker", "device", "host", "worker_host"),
    "device_group": ("device_group", "group", "pool"),
    "requestor": ("requestor", "requester", "user"),
    "job": ("job", "queue"),
    "error": ("error",),
    "status": ("status", "result"),
}
_REQUIRED = ("run", "event", "emitted_at")
_STATUSES = {s.value: s for s in RunStatus} | {"passed": RunStatus.SUCCESS, "failed": RunStatus.FAILURE}


@dataclass(slots=True, frozen=True)
class EventRow:
    """One line of an event file: the event and the run it belongs to."""

    job: str | None
    run: str
    event: LifecycleEvent
    error: str | None = None
    status: str | None = None
    line: int = 0


def is_event_file(path: str | os.PathLike[str]) -> bool:
    """``events.jsonl``, ``events.csv``, ``*.events.jsonl``, ``*.events.csv`` (optionally ``.gz``)."""
    name = Path(path).name.lower()
    name = name.removesuffix(".gz")
    return name in EVENT_FILE_NAMES or name.endswith((".events.jsonl", ".events.csv"))


def _time(value: Any, file: str, line: int, key: str) -> datetime | None:
    """``value`` as a naive UTC time (None when absent), by the one parser of Prow times."""
    from .prow import (
        _timestamp,  # the one parser of epoch seconds/milliseconds and ISO 8601
    )

    try:
        found = _timestamp(value, file, key)
    except RunFolderError as exc:
        raise InputError(file, exc.reason, line=line) from None
    if found is None:
        return None
    return found.astimezone(UTC).replace(tzinfo=None)


#: per set of keys seen in a file's records: the keys present of each field, in FIELDS's order
_Plan = dict[str, tuple[str, ...]]
_PLANS: dict[tuple[str, ...], _Plan] = {}


def _plan(record: dict[str, Any]) -> _Plan:
    keys = tuple(record)
    plan = _PLANS.get(keys)
    if plan is None:
        if len(_PLANS) > 256:  # files of many shapes: keep the cache small
            _PLANS.clear()
        plan = _PLANS[keys] = {name: tuple(k for k in accepted if k in record) for name, accepted in FIELDS.items()}
    return plan


def _pick(record: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = record[key]
        if value is not None and value != "":
            return value
    return None


def _row(record: dict[str, Any], file: str, line: int, job: str | None) -> EventRow:
    plan = _plan(record)
    run, event, emitted = (_pick(record, plan[name]) for name in _REQUIRED)
    if run is None or event is None or emitted is None:
        name = _REQUIRED[[run, event, emitted].index(None)]
        accepted = " or ".join(repr(k) for k in FIELDS[name])
        raise InputError(file, f"missing {accepted}: every event needs run, event and emitted time", line=line)
    emitted_at = _time(emitted, file, line, "emitted_at")
    assert emitted_at is not None
    received = _time(_pick(record, plan["received_at"]), file, line, "received_at")
    status = _pick(record, plan["status"])
    if status is not None and str(status).lower() not in _STATUSES:
        raise InputError(file, f"status = {status!r}: expected one of {', '.join(sorted(_STATUSES))}", line=line)

    def text(name: str) -> str | None:
        value = _pick(record, plan[name])
        return None if value is None else str(value)

    return EventRow(
        job=text("job") or job,
        run=str(run),
        event=LifecycleEvent(event=str(event), emitted_at=emitted_at, received_at=received,
                             worker=text("worker"), device_group=text("device_group"), requestor=text("requestor")),
        error=text("error"),
        status=None if status is None else str(status).lower(),
        line=line,
    )


def _read_bytes(path: Path) -> bytes:
    size = path.stat().st_size
    if size > MAX_EVENT_FILE_BYTES:
        raise InputError(str(path), f"{size} bytes is larger than the {MAX_EVENT_FILE_BYTES} accepted for an event file")
    data = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        import gzip

        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise InputError(str(path), f"not a readable gzip file: {exc}") from None
    return data


def read_event_file(path: str | os.PathLike[str], *, job: str | None = None) -> list[EventRow]:
    """Every event of a JSON-lines or CSV event file, in file order. ``job`` names the job of
    rows without a ``job`` column. Raises :class:`InputError` naming the file, the line and what
    was expected."""
    path = Path(path)
    data = _read_bytes(path)
    name = path.name.lower().removesuffix(".gz")
    rows = _read_csv(data, str(path), job) if name.endswith(".csv") else _read_jsonl(data, str(path), job)
    if not rows:
        raise InputError(str(path), "no events: expected one event per line (run, event, emitted time)")
    return rows


def _read_jsonl(data: bytes, file: str, job: str | None) -> list[EventRow]:
    rows = []
    for number, raw in enumerate(data.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InputError(file, f"malformed JSON: {exc.msg}; expected one JSON object per line", line=number) from None
        if not isinstance(record, dict):
            raise InputError(file, f"expected a JSON object, found {type(record).__name__}", line=number)
        rows.append(_row(record, file, number, job))
    return rows


def _read_csv(data: bytes, file: str, job: str | None) -> list[EventRow]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(file, f"not UTF-8 text (byte {exc.start})") from None
    header = text.split("\n", 1)[0]
    delimiter = max(",;|\t", key=header.count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        columns = [c.strip() for c in next(reader)]
    except StopIteration:
        return []
    known = {k for keys in FIELDS.values() for k in keys}
    if not any(c in known for c in columns):
        raise InputError(file, f"header {header.strip()!r}: expected column names such as run, event, emitted_at, "
                               "received_at, worker, device_group, requestor", line=1)
    rows = []
    for values in reader:
        number = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(columns):
            raise InputError(file, f"{len(values)} fields, expected {len(columns)} as in the header", line=number)
        rows.append(_row({c: v.strip() for c, v in zip(columns, values)}, file, number, job))
    return rows


def number_iterations(events: Iterable[LifecycleEvent]) -> list[LifecycleEvent]:
    """The events in time order, each numbered among the run's events of the same name (0, 1, …)."""
    seen: dict[str, int] = {}
    out = []
    for e in sorted(events, key=lambda e: e.emitted_at):
        n = seen.get(e.event, 0)
        out.append(e if e.iteration == n else replace(e, iteration=n))
        seen[e.event] = n + 1
    return out


def event_runs(rows: Sequence[EventRow], *, file: str) -> list[Run]:
    """Runs described by event rows, one per (job, run). Status: the last ``status`` given,
    else ``error`` when any row carries an error, else ``success`` once ``results_reported``
    was seen, else ``pending``; started at the first event, finished at ``results_reported``."""
    grouped: dict[tuple[str, str], list[EventRow]] = {}
    for row in rows:
        if row.job is None:
            raise InputError(file, "no job for this run: add a 'job' column or give --job NAME", line=row.line)
        grouped.setdefault((row.job, row.run), []).append(row)
    runs = []
    for (job, build), items in grouped.items():
        events = number_iterations(r.event for r in items)
        statuses = [r.status for r in items if r.status]
        errors = [r.error for r in items if r.error]
        reported = [e.emitted_at for e in events if e.event == "results_reported"]
        if statuses:
            status = _STATUSES[statuses[-1]]
        elif errors:
            status = RunStatus.ERROR
        elif reported:
            status = RunStatus.SUCCESS
        else:
            status = RunStatus.PENDING
        worker = next((e.worker for e in events if e.worker), None)
        metadata: dict[str, object] = {}
        if errors:
            metadata["error"] = errors[-1]
        group = next((e.device_group for e in events if e.device_group), None)
        if group:
            metadata["device_group"] = group
        runs.append(Run(job=job, build=build, status=status, started_at=events[0].emitted_at.replace(tzinfo=UTC),
                        finished_at=reported[-1].replace(tzinfo=UTC) if reported and status is not RunStatus.PENDING else None,
                        worker=worker, metadata=metadata, events=events, source=file))
    return runs


def _naive(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def prow_events(run: Run, folder: str | os.PathLike[str]) -> list[LifecycleEvent]:
    """The events of a Prow run folder: ``artifacts/events.jsonl`` (or ``events.csv``) when
    present, else those its metadata tells (see the module docstring)."""
    folder = Path(folder)
    for name in EVENT_FILE_NAMES:
        path = folder / "artifacts" / name
        if path.is_file():
            rows = read_event_file(path, job=run.job)
            return number_iterations(r.event for r in rows)
    from .prow import _load_json, _timestamp

    worker = run.worker
    group = run.metadata.get("device_group") if isinstance(run.metadata.get("device_group"), str) else None
    found: list[tuple[str, datetime | None]] = []
    lifecycle = run.metadata.get("lifecycle")
    if isinstance(lifecycle, dict):
        found.append(("requested", _timestamp(lifecycle.get("creationTimestamp"), folder / "prowjob.json", "creationTimestamp")))
        found.append(("pulled", _timestamp(lifecycle.get("pendingTime"), folder / "prowjob.json", "pendingTime")))
    podinfo = _load_json(folder / "podinfo.json")
    if podinfo is not None:
        pod: dict[str, Any] = podinfo["pod"] if isinstance(podinfo.get("pod"), dict) else {}
        status: dict[str, Any] = pod["status"] if isinstance(pod.get("status"), dict) else {}
        for cond in status.get("conditions") or []:
            if isinstance(cond, dict) and cond.get("type") == "PodScheduled" and cond.get("status") == "True":
                found.append(("pod_scheduled", _timestamp(cond.get("lastTransitionTime"), folder / "podinfo.json",
                                                          "status.conditions[PodScheduled].lastTransitionTime")))
        spec: dict[str, Any] = pod["spec"] if isinstance(pod.get("spec"), dict) else {}
        worker = worker or spec.get("nodeName")
    found.append(("test_start", run.started_at))
    if run.status is not RunStatus.PENDING:
        found.append(("test_end", run.finished_at))
    if isinstance(lifecycle, dict) and run.status is not RunStatus.PENDING:
        found.append(("results_reported", _timestamp(lifecycle.get("completionTime"), folder / "prowjob.json", "completionTime")))
    events = [LifecycleEvent(event=name, emitted_at=_naive(when), worker=worker, device_group=group)  # type: ignore[arg-type]
              for name, when in found if when is not None]
    return number_iterations(events)
