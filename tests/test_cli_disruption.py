"""`ciscope disruption baseline | report | check` and `ciscope ingest query_results.json`, as a
table and as JSON, on DuckDB and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from disruption_runs import JOB, RUNS, add_artifacts, write_history
from runfolders import write_run

from ciscope.cli import cli
from ciscope.errors import CiscopeError

CURRENT = "openshift/disruption/query_results_origin-2025-04-03_rel4.18-4.19.json"
LEGACY = "openshift/disruption/query_results_origin-2023-06-09_rel4.14_legacy-format.json"


def invoke(db: str, *args: str) -> tuple[int, str, str]:
    """Run in-process; a ciscope error gives its exit code and message, as `main` does."""
    result = CliRunner().invoke(cli, ["--db", db, *args], env={"COLUMNS": "250"})
    if isinstance(result.exception, CiscopeError):
        return result.exception.exit_code, result.stdout, str(result.exception)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def loaded(store_url: str, tmp_path: Path) -> str:
    from ciscope.ingest.batch import ingest
    from ciscope.store import connect

    with connect(store_url) as store:
        ingest(store, [write_history(tmp_path / "data")], workers=1)
    return store_url


def test_baseline_table_json_and_query_results(loaded):
    code, out, _ = invoke(loaded, "disruption", "baseline", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["backend"] for r in rows] == ["image-registry-reused-connections", "kube-api-new-connections"]
    kube = rows[1]
    assert set(kube) == {"backend", "release", "from_release", "platform", "architecture", "network", "topology",
                         "master_nodes_updated", "job_runs", "p50", "p75", "p95", "p99", "mean"}
    assert (kube["release"], kube["job_runs"], kube["p99"]) == ("4.18", RUNS, 10.0)

    code, out, _ = invoke(loaded, "disruption", "baseline", "--format", "query-results")
    doc = json.loads(out)
    assert list(doc[1]) == ["BackendName", "Release", "FromRelease", "Platform", "Architecture", "Network",
                            "Topology", "MasterNodesUpdated", "JobRuns", "P95", "P99", "P75", "P50"]
    assert (doc[1]["BackendName"], doc[1]["JobRuns"], doc[1]["P99"]) == ("kube-api-new-connections", RUNS, "10.0")

    code, out, _ = invoke(loaded, "disruption", "baseline")
    assert code == 0 and "kube-api-new-connections" in out and "2 disruption baseline(s)" in out

    code, out, _ = invoke(loaded, "disruption", "baseline", "--kind", "alerts", "--json")
    alerts = {r["alert"]: r for r in json.loads(out)}
    assert alerts["KubePodNotReady"]["job_runs"] == RUNS and alerts["KubePodNotReady"]["level"] == "Warning"
    code, out, _ = invoke(loaded, "disruption", "baseline", "--kind", "alerts")
    assert code == 0 and "KubePodNotReady" in out
    code, out, _ = invoke(loaded, "disruption", "baseline", "--kind", "alerts", "--format", "query-results")
    doc = {r["AlertName"]: r for r in json.loads(out)}
    assert list(doc["KubePodNotReady"]) == ["AlertName", "AlertNamespace", "AlertLevel", "FirstObserved", "LastObserved",
                                            "Release", "FromRelease", "Platform", "Architecture", "Network", "Topology",
                                            "MasterNodesUpdated", "JobRuns", "P95", "P99", "P75", "P50"]
    assert doc["KubePodNotReady"]["FirstObserved"].endswith("Z") and doc["KubePodNotReady"]["AlertLevel"] == "Warning"

    code, out, _ = invoke(loaded, "disruption", "baseline", "--at", "2026-10-27T00:00:00Z", "--days", "1", "--json")
    assert {r["job_runs"] for r in json.loads(out)} == {16}  # runs 1-16 started 08:33-23:33 on 2026-10-26
    code, _, err = invoke(loaded, "disruption", "baseline", "--at", "yesterday")
    assert code == 2 and "--at" in err
    code, out, _ = invoke(loaded, "disruption", "baseline", "--release", "4.19", "--json")
    assert len(json.loads(out)) == 2  # 4.19 and the previous release, 4.18
    code, out, _ = invoke(loaded, "disruption", "baseline", "--release", "4.19", "--previous-release", "4.17", "--json")
    assert json.loads(out) == []


def test_check_table_and_json(loaded, tmp_path):
    code, out, _ = invoke(loaded, "disruption", "check", "100", "--json")
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"job", "build", "job_type", "verdict", "backends", "alerts"}
    assert doc["job_type"] == {"release": "4.18", "from_release": "", "platform": "aws", "architecture": "amd64",
                               "network": "ovn", "topology": "ha"}
    # history ends at the start of the run's (UTC) day: 88 runs before it — fewer than 100, and
    # no 4.17 history → skipped with the reason
    kube = next(b for b in doc["backends"] if b["backend"] == "kube-api-new-connections")
    assert kube["verdict"] == "skipped" and "only 88 historical runs" in kube["reason"]
    assert kube["test"].startswith("[sig-api-machinery] disruption/kube-api connection/new")
    # a run on a later day has all 110 before it
    from ciscope.ingest.batch import ingest
    from ciscope.store import connect

    add_artifacts(write_run(tmp_path / "late", JOB, "130", result="SUCCESS"), 130)
    with connect(loaded) as store:
        ingest(store, [tmp_path / "late"], workers=1)
    code, out, _ = invoke(loaded, "disruption", "check", f"{JOB}/130", "--json")
    doc = json.loads(out)
    kube = next(b for b in doc["backends"] if b["backend"] == "kube-api-new-connections")
    assert (kube["verdict"], kube["match"], kube["baseline"]["job_runs"]) == ("pass", "exact", RUNS)
    assert doc["alerts"][0]["alert"] == "KubePodNotReady" and doc["alerts"][0]["verdict"] == "pass"
    code, out, _ = invoke(loaded, "disruption", "check", "130")
    assert code == 0 and "kube-api-new-connections" in out and "pass" in out and "KubePodNotReady" in out
    code, _, err = invoke(loaded, "disruption", "check", "nope")
    assert code == 2 and "nope: no such run" in err


def test_ingest_query_results_then_check_and_report_from_store(store_url, shared_data):
    path = str(shared_data / CURRENT)
    code, out, err = invoke(store_url, "ingest", path, "--json")
    assert code == 0, err
    assert json.loads(out)["baselines"] == 4432 and "4432 disruption/alert baseline row(s) imported" in err
    code, out, err = invoke(store_url, "disruption", "report", str(shared_data / LEGACY), path, "--json")
    doc = json.loads(out)
    assert (doc["releases"], doc["added"], doc["missing"], doc["compared"], doc["rows"]) == (
        ["4.19", "4.18"], 4432, 1050, 0, [])
    code, out, _ = invoke(store_url, "disruption", "report", str(shared_data / LEGACY), path, "--markdown")
    assert out == "## Disruptions Information\nThere were (4432) added jobs and (1050) were removed.\n"
    code, out, _ = invoke(store_url, "disruption", "report", str(shared_data / LEGACY), path)
    assert code == 0 and "0 key(s) compared, 4432 added, 1050 removed" in out


def test_report_from_store_windows(loaded):
    # NEW = last 2 days (48 runs), OLD = the 2 days before (48 runs); same job type, both with < 100 runs
    code, out, _ = invoke(loaded, "disruption", "report", "--old-days", "2", "--new-days", "2", "--json",
                          "--release", "4.18")
    doc = json.loads(out)
    assert code == 0 and doc["compared"] == 2 and doc["added"] == 0 and doc["rows"] == []
    code, out, _ = invoke(loaded, "disruption", "report", "--old-days", "2", "--new-days", "2", "--release", "4.18")
    assert code == 0 and "2 key(s) compared" in out


def test_bad_input_exits_with_clear_errors(tmp_path, shared_data):
    bad = tmp_path / "query_results.json"
    bad.write_text('[{"BackendName": "x", "Release": "4.1"}]')
    env = {**os.environ, "COLUMNS": "250"}
    db = f"duckdb:///{tmp_path / 'c.duckdb'}"
    done = subprocess.run([sys.executable, "-m", "ciscope.cli", "--db", db, "disruption", "report", str(bad),
                           str(shared_data / CURRENT)], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 3 and "query_results.json (row 0): missing FromRelease" in done.stderr
    assert "Traceback" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "ciscope.cli", "--db", db, "ingest", str(bad)],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 3 and "row 0" in done.stderr and "refused" in done.stderr


def test_record_table_and_json(loaded):
    code, out, _ = invoke(loaded, "disruption", "record", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["runs"] == RUNS and doc["failed_runs"] == []
    assert set(doc) == {"runs", "tests", "failed", "flaked", "skipped", "kept_upstream", "failed_runs"}
    code, out, _ = invoke(loaded, "disruption", "record")
    assert code == 0 and f"{RUNS} run(s) judged" in out
