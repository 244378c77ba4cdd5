"""Lifecycle event files and events derived from Prow run folders."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from ciscope.errors import InputError
from ciscope.ingest.events import (
    event_runs,
    is_event_file,
    prow_events,
    read_event_file,
)
from ciscope.ingest.prow import read_run
from ciscope.model import RunStatus


def test_jsonl_events_with_aliases_and_iterations(tmp_path: Path) -> None:
    path = tmp_path / "lab.events.jsonl"
    lines = [
        {"testrun_id": "7", "event_name": "requested", "event_emit": "2026-11-01T10:00:00Z", "requestor": "a@x", "job": "lab"},
        {"run": "7", "event": "flash_start", "emitted_at": 1793527260, "received_at": 1793527261.5, "device": "dev1",
         "device_group": "n900"},
        {"run": "7", "event": "flash_start", "emitted_at": 1793527300000, "job": "lab"},
        {"run": "7", "event": "results_reported", "emitted_at": "2026-11-01T10:10:00", "job": "lab"},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    rows = read_event_file(path, job="lab")
    assert [r.event.event for r in rows] == ["requested", "flash_start", "flash_start", "results_reported"]
    assert rows[1].event.emitted_at == datetime(2026, 11, 1, 10, 1, 0)
    assert rows[1].event.received_at == datetime(2026, 11, 1, 10, 1, 1, 500000)
    assert rows[2].event.emitted_at == datetime(2026, 11, 1, 10, 1, 40)  # milliseconds
    (run,) = event_runs(rows, file=str(path))
    assert (run.job, run.build, run.status, run.worker) == ("lab", "7", RunStatus.SUCCESS, "dev1")
    assert [(e.event, e.iteration) for e in run.events if e.event == "flash_start"] == [("flash_start", 0), ("flash_start", 1)]
    assert run.finished_at is not None and run.finished_at.hour == 10 and run.finished_at.minute == 10


def test_csv_pipe_separated_and_status(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("testrun_id|event_name|event_emit|event_receive|worker|device_group|requestor|error\n"
                    "1|requested|2026-11-01T10:00:00Z||w1|g|a@x|\n"
                    "1|flash_start|2026-11-01T10:01:00Z|2026-11-01T10:01:02Z|w1|g||\n"
                    "1|flash_end|2026-11-01T10:02:00Z||w1|g||flash failed\n"
                    "2|requested|2026-11-01T10:00:00Z||w2|g|b@x|\n")
    runs = {r.build: r for r in event_runs(read_event_file(path, job="lab"), file=str(path))}
    assert runs["1"].status is RunStatus.ERROR and runs["1"].metadata["error"] == "flash failed"
    assert runs["2"].status is RunStatus.PENDING and runs["2"].finished_at is None
    assert runs["1"].metadata["device_group"] == "g"


@pytest.mark.parametrize(("name", "text", "message"), [
    ("e.events.jsonl", '{"run": 1, "event": "x", "emitted_at": "2026-11-01"}\n{"run": 1,\n', r"e.events.jsonl:2: malformed JSON"),
    ("e.events.jsonl", '{"run": 1, "emitted_at": "2026-11-01"}\n', r":1: missing 'event' or 'event_name' or 'name'"),
    ("e.events.jsonl", '{"run": 1, "event": "x", "emitted_at": "yesterday"}\n', r":1: emitted_at = 'yesterday': expected epoch"),
    ("e.events.jsonl", '[1, 2]\n', r":1: expected a JSON object, found list"),
    ("e.events.jsonl", '\n\n', r"no events"),
    ("e.events.csv", 'a,b,c\n1,2,3\n', r"e.events.csv:1: header 'a,b,c': expected column names"),
    ("e.events.csv", 'run,event,emitted_at\n1,x,2026-11-01\n1,y\n', r"e.events.csv:3: 2 fields, expected 3"),
    ("e.events.csv", 'run,event,emitted_at,status\n1,x,2026-11-01,exploded\n', r":2: status = 'exploded': expected one of"),
])
def test_bad_event_files_name_file_line_and_expectation(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_event_file(path, job="lab")


def test_job_is_required(tmp_path: Path) -> None:
    path = tmp_path / "x.events.jsonl"
    path.write_text('{"run": 1, "event": "x", "emitted_at": "2026-11-01"}\n')
    with pytest.raises(InputError, match=r"x.events.jsonl:1: no job for this run: add a 'job' column or give --job"):
        event_runs(read_event_file(path), file=str(path))


def test_recognition_rule() -> None:
    assert is_event_file("a/events.jsonl") and is_event_file("lab.events.csv") and is_event_file("x.EVENTS.jsonl.gz")
    assert not is_event_file("events.json") and not is_event_file("junit.xml") and not is_event_file("myevents.csv")


def _folder(tmp_path: Path, *, podinfo: bool = True, events: str | None = None) -> Path:
    folder = tmp_path / "logs" / "job-a" / "42"
    (folder / "artifacts").mkdir(parents=True)
    (folder / "started.json").write_text(json.dumps({"timestamp": 1793527200, "node": "node-1"}))
    (folder / "finished.json").write_text(json.dumps({"timestamp": 1793527800, "result": "SUCCESS"}))
    (folder / "prowjob.json").write_text(json.dumps({"spec": {"job": "job-a"}, "metadata": {"creationTimestamp": "2026-11-01T09:58:00Z"},
                                                    "status": {"pendingTime": "2026-11-01T09:59:00Z", "startTime": "2026-11-01T09:58:00Z",
                                                               "completionTime": "2026-11-01T10:11:00Z", "build_id": "42"}}))
    if podinfo:
        (folder / "podinfo.json").write_text(json.dumps({"pod": {"spec": {"nodeName": "node-1"}, "status": {"conditions": [
            {"type": "Initialized", "status": "True", "lastTransitionTime": "2026-11-01T09:59:40Z"},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-11-01T09:59:30Z"}]}}}))
    if events is not None:
        (folder / "artifacts" / "events.jsonl").write_text(events)
    return folder


def test_prow_folder_events_derived(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    run = read_run(folder)
    events = prow_events(run, folder)
    assert [(e.event, e.emitted_at.strftime("%H:%M:%S")) for e in events] == [
        ("requested", "09:58:00"), ("pulled", "09:59:00"), ("pod_scheduled", "09:59:30"),
        ("test_start", "10:00:00"), ("test_end", "10:10:00"), ("results_reported", "10:11:00")]
    assert {e.worker for e in events} == {"node-1"}
    assert run.events == events  # read_run attaches them


def test_prow_folder_without_prowjob_tells_only_start_and_end(tmp_path: Path) -> None:
    folder = _folder(tmp_path, podinfo=False)
    (folder / "prowjob.json").unlink()
    assert [e.event for e in prow_events(read_run(folder), folder)] == ["test_start", "test_end"]


def test_prow_folder_with_events_file(tmp_path: Path) -> None:
    folder = _folder(tmp_path, events='{"run": "42", "event": "boot_start", "emitted_at": "2026-11-01T10:00:00Z"}\n'
                                       '{"run": "42", "event": "boot_end", "emitted_at": "2026-11-01T10:00:30Z"}\n')
    assert [e.event for e in read_run(folder).events] == ["boot_start", "boot_end"]
    (folder / "artifacts" / "events.jsonl").write_text('{"run": "42"}\n')
    with pytest.raises(InputError, match=r"artifacts/events.jsonl:1: missing"):
        read_run(folder)
