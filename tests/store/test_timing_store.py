"""Lifecycle events in the store and the timing reads, on DuckDB and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from ciscope.ingest.batch import BareRunOptions, ingest
from ciscope.queries.timing import (
    chart_runs,
    timing_outliers,
    timing_stats,
    timing_thresholds,
)
from ciscope.queries.window import Window

T0 = datetime(2026, 11, 1, 10, 0, 0)


def lab_events(path: Path, runs: int, *, worker: str = "w1", slow: float = 0.0, offset: int = 0) -> Path:
    """``runs`` runs of job 'lab': queue 10 s, flash 30 s, boot 20 s, test 100 s (+ ``slow`` on the last)."""
    lines = []
    for i in range(runs):
        t = T0 + timedelta(hours=offset + i)
        test = 100 + (slow if i == runs - 1 else 0)
        for name, at in (("requested", 0), ("queued", 1), ("pulled", 11), ("flash_start", 11), ("flash_end", 41),
                         ("boot_start", 41), ("boot_end", 61), ("test_start", 61), ("test_end", 61 + test),
                         ("results_reported", 65 + test)):
            lines.append({"run": f"{worker}-{offset + i}", "job": "lab", "event": name,
                          "emitted_at": (t + timedelta(seconds=at)).isoformat() + "Z",
                          "received_at": (t + timedelta(seconds=at + 1)).isoformat() + "Z",
                          "worker": worker, "device_group": "n900", "requestor": "qa@example.org"})
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


def prow_folder(root: Path, build: str, minutes: int) -> Path:
    folder = root / "logs" / "job-a" / build
    (folder / "artifacts").mkdir(parents=True)
    start = T0 + timedelta(hours=int(build))
    (folder / "started.json").write_text(json.dumps({"timestamp": start.isoformat() + "Z", "node": "node-1"}))
    (folder / "finished.json").write_text(json.dumps({"timestamp": (start + timedelta(minutes=minutes)).isoformat() + "Z",
                                                      "result": "SUCCESS"}))
    return folder


def test_events_are_stored_with_runs_and_queried(store, tmp_path: Path) -> None:
    report = ingest(store, [lab_events(tmp_path / "a.events.jsonl", 4, slow=50)], bare=BareRunOptions())
    assert (report.runs, report.events, report.refused) == (4, 40, [])
    assert store.query("SELECT count(*), max(iteration) FROM run_events")[0] == (40, 0)
    stats = timing_stats(store, Window())
    test = next(r for r in stats.phases if r.phase == "test")
    assert (test.group, test.count, test.min, test.max, test.mean) == ("lab", 4, 100, 150, 112.5)
    assert stats.skew is not None and (stats.skew.count, stats.skew.mean) == (40, 1.0)
    assert stats.groups[0].requestors[0].requests == 4
    # idempotent: the same file again changes nothing
    again = ingest(store, [tmp_path / "a.events.jsonl"], bare=BareRunOptions())
    assert again.runs == 0 and store.query("SELECT count(*) FROM run_events")[0][0] == 40
    # window: --days counts back from now (the newest run)
    assert timing_stats(store, Window(days=1.5 / 24)).runs == 2


def test_prow_folders_events_and_a_later_event_file(store, tmp_path: Path) -> None:
    for build, minutes in (("1", 10), ("2", 20), ("3", 30)):
        prow_folder(tmp_path / "gcs", build, minutes)
    assert ingest(store, [tmp_path / "gcs"], workers=1).runs == 3
    stats = timing_stats(store, Window(job="job-a"), by="worker")
    test = next(r for r in stats.phases if r.phase == "test")
    assert (test.group, test.count, test.mean) == ("node-1", 3, 1200.0)
    total = next(r for r in stats.phases if r.phase == "total")
    assert (total.count, total.missing) == (0, 3)  # no prowjob.json: never guessed
    # an event file naming a stored run replaces that run's events
    path = tmp_path / "late.events.csv"
    path.write_text("run,job,event,emitted_at\n2,job-a,boot_start,2026-11-01T12:00:00Z\n2,job-a,boot_end,2026-11-01T12:00:45Z\n")
    report = ingest(store, [path])
    assert (report.runs, report.events) == (0, 2)
    rows = store.query("SELECT event FROM run_events e JOIN runs r ON r.run_id = e.run_id WHERE r.build = '2' ORDER BY event")
    assert [r[0] for r in rows] == ["boot_end", "boot_start"]
    assert len(chart_runs(store, Window(job="job-a"))) == 3
    # an event name with a quote is a value, not SQL
    odd = tmp_path / "odd.events.jsonl"
    odd.write_text('{"run": "3", "job": "job-a", "event": "it\'s done", "emitted_at": "2026-11-01T13:00:00Z"}\n')
    assert ingest(store, [odd]).events == 1
    stats = timing_stats(store, Window(job="job-a"))
    assert [(i.event, i.runs) for i in stats.groups[0].iterations if i.event == "it's done"] == [("it's done", 1)]


def test_thresholds_and_outliers_from_the_store(store, tmp_path: Path) -> None:
    ingest(store, [lab_events(tmp_path / "a.events.jsonl", 25)], bare=BareRunOptions())
    ingest(store, [lab_events(tmp_path / "b.events.jsonl", 1, worker="w9", slow=900, offset=30)], bare=BareRunOptions())
    limits = timing_thresholds(store, Window())
    test = next(t for t in limits.thresholds if t.phase == "test")
    # 25 x 100 s and one 1000 s: P99 = 100 + 0.75 x 900 = 775 -> x 1.5
    assert (test.samples, test.basis, test.threshold) == (26, "group", 1162.5)
    by_worker = timing_thresholds(store, Window(), by="worker")
    w9 = next(t for t in by_worker.thresholds if (t.group, t.phase) == ("w9", "test"))
    assert (w9.basis, w9.samples) == ("all", 26)
    found = timing_outliers(store, Window(), by="worker")
    assert [(o.build, o.phase, o.state) for o in found.outliers if o.phase == "test"] == []  # under 1162.5
    assert isinstance(found.workers, list)


def test_event_and_retrigger_indexes(store) -> None:
    """Migration 0014: PostgreSQL indexes run_events and retriggers; DuckDB scans (issue 12)."""
    from ciscope.store.schema import latest_version

    wanted = {"run_events_run", "run_events_emitted", "retriggers_run", "retriggers_job_commit"}
    if store.name == "postgresql":
        rows = store.query("SELECT indexname FROM pg_indexes WHERE tablename IN ('run_events', 'retriggers')")
        assert wanted <= {r[0] for r in rows}
        assert store.schema_version() == latest_version("postgresql") >= 14
    else:
        rows = store.query("SELECT index_name FROM duckdb_indexes() WHERE table_name IN ('run_events', 'retriggers')")
        assert not rows
