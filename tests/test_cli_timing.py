"""`ciscope timing`, `timing thresholds`, `timing outliers` and `--chart`, as tables and JSON,
on DuckDB and PostgreSQL."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner
from store.test_timing_store import lab_events

from ciscope.cli import cli


def invoke(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--db", url, *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_timing_commands_table_and_json(store_url: str, tmp_path: Path) -> None:
    lab_events(tmp_path / "a.events.jsonl", 25)
    lab_events(tmp_path / "b.events.jsonl", 1, worker="w9", slow=900, offset=30)
    hang = tmp_path / "c.events.jsonl"
    hang.write_text('{"run": "h", "job": "lab", "event": "test_start", "emitted_at": "2026-11-02T16:00:00Z", "worker": "w9"}\n'
                    '{"run": "h", "job": "lab", "event": "stall", "emitted_at": "2026-11-02T16:20:00Z", "worker": "w9"}\n')
    code, _ = invoke(store_url, "ingest", str(tmp_path / "a.events.jsonl"), str(tmp_path / "b.events.jsonl"), str(hang))
    assert code == 0

    code, out = invoke(store_url, "timing", "--json", "--by", "worker")
    data = json.loads(out)
    assert code == 0 and data["by"] == "worker" and data["runs"] == 27
    row = next(r for r in data["phases"] if (r["group"], r["phase"]) == ("w1", "test"))
    assert set(row) >= {"group", "phase", "count", "min", "max", "mean", "std", "p50", "p90", "p99"}
    assert (row["count"], row["mean"]) == (25, 100.0)
    w9 = next(g for g in data["groups"] if g["group"] == "w9")
    assert (w9["runs"], w9["ongoing"], w9["stalled"]) == (2, 1, 1)
    code, out = invoke(store_url, "timing", "--by", "device_group", "--job", "lab")
    assert code == 0 and "n900" in out and "provision" in out

    code, out = invoke(store_url, "timing", "thresholds", "--json")
    limits = json.loads(out)
    test = next(t for t in limits["thresholds"] if t["phase"] == "test")
    assert (test["group"], test["samples"], test["basis"]) == ("lab", 26, "group")
    assert limits["rule"] == {"quantile": 0.99, "factor": 1.5, "days": 30.0, "min_samples": 20}
    code, out = invoke(store_url, "timing", "thresholds")
    assert code == 0 and "P99 × 1.5 over 30 days" in out

    code, out = invoke(store_url, "timing", "outliers", "--json", "--by", "worker")
    found = json.loads(out)
    # the hanging run's test phase: open for 20 min, over w9's threshold (from all groups)
    assert [(o["build"], o["phase"], o["state"]) for o in found["outliers"]] == [("h", "test", "running")]
    assert found["workers"][0]["worker"] == "w9" and found["workers"][0]["stalled"] == 1
    code, out = invoke(store_url, "timing", "outliers", "--by", "worker")
    assert code == 0 and "running" in out and "w9" in out

    chart = tmp_path / "c.svg"
    code, _ = invoke(store_url, "timing", "--chart", str(chart), "--newest", "5", "--json")
    root = ET.fromstring(chart.read_text())
    assert code == 0 and root.tag.endswith("svg")
    svg = chart.read_text()
    # 5 bars: the hanging run (no measured phase: an empty bar) and 4 runs x 5 stacked phases
    assert svg.count("<title>lab #") == 4 * 5 and ">lab #h</text>" in svg


def test_config_file_and_errors(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'c.duckdb'}"
    lab_events(tmp_path / "a.events.jsonl", 3)
    invoke(url, "ingest", str(tmp_path / "a.events.jsonl"))
    config = tmp_path / "ciscope.yaml"
    config.write_text("timing:\n  phases:\n    setup: [requested, boot_end]\n  thresholds: {min_samples: 2, factor: 2}\n")
    code, out = invoke(url, "timing", "thresholds", "--json", "--config", str(config))
    (only,) = json.loads(out)["thresholds"]
    assert code == 0 and (only["phase"], only["threshold"], only["samples"]) == ("setup", 122.0, 3)
    config.write_text("timing:\n  thresholds: {p: 1}\n")
    result = CliRunner().invoke(cli, ["--db", url, "timing", "--config", str(config)])
    assert "unknown key(s) ['p']" in str(result.exception)
    config.write_text("timing: [\n")
    result = CliRunner().invoke(cli, ["--db", url, "timing", "--config", str(config)])
    assert "ciscope.yaml" in str(result.exception) and "malformed YAML" in str(result.exception)


FIELDS = {"category", "component", "phase", "message", "fingerprint", "evidence"}
JUNIT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="s" tests="2" failures="1"><testcase classname="pkg" name="test_ok" time="1"/>
<testcase classname="pkg" name="test_bad" time="2"><failure message="assert 1 == 2">boom</failure></testcase>
</testsuite>
"""


def test_failure_reasons_in_runs_and_triage(store_url: str, tmp_path: Path) -> None:
    """Issue 12: one structured reason per failed run, from timing (a stall, with its phase and
    ratio), the run's error (setup) and its tests — the same in `runs` and `triage`."""
    lab_events(tmp_path / "a.events.jsonl", 25)
    (tmp_path / "c.events.jsonl").write_text(
        '{"run": "h", "job": "lab", "event": "requested", "emitted_at": "2026-11-02T15:59:00Z", "worker": "w9"}\n'
        '{"run": "h", "job": "lab", "event": "test_start", "emitted_at": "2026-11-02T16:00:00Z", "worker": "w9"}\n'
        '{"run": "h", "job": "lab", "event": "stall", "emitted_at": "2026-11-02T16:20:00Z", "worker": "w9", "status": "error"}\n'
        '{"run": "e", "job": "lab", "event": "requested", "emitted_at": "2026-11-02T17:59:00Z", "worker": "w3"}\n'
        '{"run": "e", "job": "lab", "event": "flash_start", "emitted_at": "2026-11-02T18:00:00Z", "worker": "w3",'
        ' "error": "cache failure: asset download failed"}\n')
    (tmp_path / "junit.xml").write_text(JUNIT)
    code, _ = invoke(store_url, "ingest", str(tmp_path / "a.events.jsonl"), str(tmp_path / "c.events.jsonl"))
    assert code == 0
    code, _ = invoke(store_url, "ingest", str(tmp_path / "junit.xml"), "--job", "unit", "--build", "7",
                     "--started", "2026-11-02T12:00:00Z")
    assert code == 0

    code, out = invoke(store_url, "runs", "--json")
    runs = {r["build"]: r for r in json.loads(out)}
    assert code == 0 and all((r["reason"] is None) == (r["status"] == "success") for r in runs.values())
    assert all(FIELDS <= set(r["reason"]) for r in runs.values() if r["reason"])
    stall = runs["h"]["reason"]
    assert (stall["category"], stall["component"], stall["phase"]) == ("stall", "worker", "test")
    assert stall["message"].startswith("stopped for slowness in test on w9: 1200 s, ")
    assert [e["file"] for e in stall["evidence"]] == ["run_events", "timing"]
    setup = runs["e"]["reason"]
    assert (setup["category"], setup["phase"], setup["message"]) == ("setup", "provision", "cache failure: asset download failed")
    failed = runs["7"]["reason"]
    assert (failed["category"], failed["component"], failed["phase"], failed["fingerprint"]) == (
        "test_failure", "tests", "test", None)
    assert failed["message"] == "pkg.test_bad: assert 1 == 2" and failed["tests"] == ["pkg.test_bad"]
    assert failed["evidence"] == [{"file": None, "line": None, "text": "pkg.test_bad: assert 1 == 2"}]
    code, out = invoke(store_url, "runs", "--job", "lab", "--limit", "3")
    assert code == 0 and "setup [provision]: cache failure" in out and "stall [test]: stopped for slowness" in out

    code, out = invoke(store_url, "triage", "h", "--json")
    assert code == 0 and json.loads(out)["reason"] == stall
    code, out = invoke(store_url, "triage", "h")
    assert code == 0 and "reason: stall in test (worker): stopped for slowness in test on w9" in out
    assert "run_events: stall at 2026-11-02 16:20:00 during test" in out
    code, out = invoke(store_url, "triage", "lab/w1-3", "--json")
    assert code == 0 and json.loads(out)["reason"] is None
