"""The per-run event summaries and phase rows (migration 0018, store/run_timing.py) on DuckDB
and PostgreSQL: written at ingest, replaced with a run's events, deleted with the run,
backfilled for another phase config — and the statistics read from them equal those read
from the events."""

from __future__ import annotations

import json
from pathlib import Path

from test_timing_store import lab_events

from ciscope.analysis.timing import Phase, TimingConfig, outliers, thresholds, timing_report
from ciscope.ingest.batch import BareRunOptions, ingest
from ciscope.queries.timing import engine_report, summary_data, timing_data, timing_now
from ciscope.queries.window import Window
from ciscope.store import connect
from ciscope.store.run_timing import phases_fingerprint, refresh_run_timing

ALL = ("received_at", "worker", "device_group", "requestor")


def same_reports(store, config: TimingConfig) -> None:
    """Every report (all groupings) from the summaries — per run, and aggregated by the engine —
    equals the one from the events."""
    window = Window()
    now = timing_now(store, window)
    fast = summary_data(store, window, config)
    slow = timing_data(store, window, ALL, config=config)
    assert fast is not None and fast.phase_times is not None
    for by in ("job", "worker", "device_group"):
        expected = timing_report(slow, by=by, config=config, now=now).to_dict()
        assert timing_report(fast, by=by, config=config, now=now).to_dict() == expected
        engine = engine_report(store, window, by=by, config=config)
        assert engine is not None and engine.to_dict() == expected
        assert thresholds(fast, by=by, config=config, now=now) == thresholds(slow, by=by, config=config, now=now)
        assert outliers(fast, by=by, config=config, now=now) == outliers(slow, by=by, config=config, now=now)


def counts(store) -> tuple[int, int, int]:
    return store.query("SELECT (SELECT count(DISTINCT run_id) FROM run_events), (SELECT count(*) FROM run_event_summary),"
                       " (SELECT count(*) FROM run_phases)")[0]


def test_summaries_follow_ingest_replace_and_reingest(store, tmp_path: Path) -> None:
    ingest(store, [lab_events(tmp_path / "a.events.jsonl", 6, slow=50)], bare=BareRunOptions())
    assert counts(store) == (6, 6, 36)  # 6 runs, 6 default phases each
    same_reports(store, TimingConfig())
    # a later file with other events for 2 of the runs (a flash retry, a missing boot end): replaced
    lines = [json.loads(x) for x in (tmp_path / "a.events.jsonl").read_text().splitlines()]
    later = [x for x in lines if x["run"] in ("w1-0", "w1-1") and x["event"] != "boot_end"]
    later.append({**next(x for x in later if x["event"] == "flash_start"), "emitted_at": "2026-11-01T09:59:00Z"})
    (tmp_path / "b.events.jsonl").write_text("\n".join(json.dumps(x) for x in later) + "\n")
    ingest(store, [tmp_path / "b.events.jsonl"], bare=BareRunOptions())
    assert counts(store) == (6, 6, 36)
    same_reports(store, TimingConfig())
    report = timing_report(summary_data(store, Window(), TimingConfig()))  # type: ignore[arg-type]
    boot = next(r for r in report.phases if r.phase == "boot")
    flash = next(i for i in report.groups[0].iterations if i.event == "flash_start")
    assert (boot.count, boot.missing, flash.repeated, flash.max) == (4, 2, 1, 2)


def test_another_phase_config_is_backfilled_once_and_kept_at_ingest(store, tmp_path: Path) -> None:
    ingest(store, [lab_events(tmp_path / "a.events.jsonl", 4)], bare=BareRunOptions())
    config = TimingConfig(phases=(Phase("setup", ("queued",), ("boot_end",)), Phase("run", ("test_start",), ("test_end",))))
    key = phases_fingerprint(config.phases)
    assert store.query("SELECT count(*) FROM run_phases WHERE config = ?", (key,))[0][0] == 0
    same_reports(store, config)  # the first read writes its rows
    assert store.query("SELECT count(*) FROM run_phases WHERE config = ?", (key,))[0][0] == 8
    ingest(store, [lab_events(tmp_path / "b.events.jsonl", 2, worker="w2")], bare=BareRunOptions())
    assert store.query("SELECT count(*) FROM run_phases WHERE config = ?", (key,))[0][0] == 12  # written at ingest
    same_reports(store, config)


def test_migration_summarises_runs_stored_before_it(store, tmp_path: Path) -> None:
    ingest(store, [lab_events(tmp_path / "a.events.jsonl", 3)], bare=BareRunOptions())
    with store.transaction("forget the summaries"):  # as a store of schema 14 would be
        store.execute("DELETE FROM run_phases")
        store.execute("DELETE FROM run_event_summary")
        refresh_run_timing(store)
    assert counts(store) == (3, 3, 18)
    same_reports(store, TimingConfig())


def test_read_only_store_without_rows_reads_the_events(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'ro.duckdb'}"
    with connect(url) as writable:
        ingest(writable, [lab_events(tmp_path / "a.events.jsonl", 3)], bare=BareRunOptions())
    config = TimingConfig(phases=(Phase("run", ("test_start",), ("test_end",)),))
    with connect(url, read_only=True) as store:
        assert summary_data(store, Window(), TimingConfig()) is not None  # the defaults: kept at ingest
        assert summary_data(store, Window(), config) is None  # no rows, cannot write them: the events
        assert timing_report(timing_data(store, Window(), ALL, config=config), config=config).phases[0].count == 3
