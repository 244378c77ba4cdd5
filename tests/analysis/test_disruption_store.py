"""Disruption artifacts through ingest into the store, baselines computed by the engine (both
engines), imported query_results.json, and run checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from disruption_runs import JOB, RUNS, add_artifacts, kube_api_seconds, write_history
from runfolders import write_run

from ciscope.analysis.disruption import Sample, compute_baselines, percentile_cont
from ciscope.analysis.disruption_store import (
    alert_baselines,
    check,
    disruption_baselines,
    imported_baselines,
)
from ciscope.ingest.batch import ingest
from ciscope.ingest.disruption import read_query_results


@pytest.fixture
def history(tmp_path: Path) -> Path:
    return write_history(tmp_path / "data")


def test_ingest_stores_seconds_and_job_types(store, history):
    report = ingest(store, [history], workers=1)
    assert report.runs == RUNS and not report.refused
    assert len(report.warnings) == 1 and "backend-disruption_20261101-020000.json" in report.warnings[0]
    assert "malformed JSON" in report.warnings[0] and "run kept" in report.warnings[0]
    runs = store.query_dicts("SELECT * FROM disruption_runs ORDER BY started_at")
    assert len(runs) == RUNS
    # started.json's metadata says release 4.18, platform aws, network ovn: run variants win over the job name
    first = runs[0]
    assert (first["release"], first["from_release"], first["platform"], first["architecture"], first["network"],
            first["topology"], first["master_nodes_updated"], first["disruption_files"], first["alert_files"]) == (
        "4.18", "", "aws", "amd64", "ovn", "ha", "N", 2, 1)
    seconds = dict(store.query(
        "SELECT r.build, s.seconds FROM disruption_seconds s JOIN runs r ON r.run_id = s.run_id "
        "WHERE s.backend = 'kube-api-new-connections'"))
    assert seconds == {str(b): kube_api_seconds(b) for b in range(1, RUNS + 1)}
    assert store.query("SELECT DISTINCT seconds FROM disruption_seconds WHERE backend LIKE 'image-registry%'") == [(2,)]
    assert store.query("SELECT count(*), min(seconds) FROM alert_seconds WHERE alert = 'KubePodNotReady'") == [(11, 30)]
    # re-ingest is a no-op, --replace rewrites without duplicating
    assert ingest(store, [history], workers=1).skipped == RUNS
    ingest(store, [history / "logs" / JOB / "5"], replace=True, workers=1)
    assert store.query("SELECT count(*) FROM disruption_seconds")[0][0] == 2 * RUNS
    assert store.query("SELECT count(*) FROM disruption_runs")[0][0] == RUNS


def test_engine_baselines_equal_the_reference_implementation(store, history):
    ingest(store, [history], workers=1)
    got = disruption_baselines(store, days=30)
    samples = [Sample(backend, "4.18", "", "aws", "amd64", "ovn", "ha", seconds=s, master_nodes_updated="N")
               for b in range(1, RUNS + 1)
               for backend, s in (("kube-api-new-connections", kube_api_seconds(b)), ("image-registry-reused-connections", 2))]
    expected = compute_baselines(samples)
    assert [r.name for r in got.rows] == [r.name for r in expected.rows]
    for mine, ref in zip(got.rows, expected.rows):
        assert mine.job_runs == ref.job_runs == RUNS
        for p in ("p50", "p75", "p95", "p99", "mean"):
            assert getattr(mine, p) == pytest.approx(getattr(ref, p)), p
    # a window of 1 day holds the last 24 runs (started hourly)
    assert {r.job_runs for r in disruption_baselines(store, days=1).rows} == {24}
    assert disruption_baselines(store, releases=["4.20", "4.19"]).rows == []


def test_unseen_known_alerts_count_as_zero(store, history):
    ingest(store, [history], workers=1)
    rows = {r.name: r for r in alert_baselines(store, days=30).rows}
    kube = rows["KubePodNotReady"]
    assert (kube.namespace, kube.level, kube.job_runs) == ("openshift-etcd", "Warning", RUNS)
    values = [30] * 11 + [0] * (RUNS - 11)
    assert kube.p95 == pytest.approx(percentile_cont(values, 0.95))
    assert kube.p99 == pytest.approx(percentile_cont(values, 0.99)) and kube.p50 == 0
    assert rows["Watchdog2"].p99 == 0 and rows["Watchdog2"].job_runs == RUNS


def test_check_a_run_against_the_runs_before_it(store, history, tmp_path):
    worse = write_run(tmp_path / "more", JOB, "120", result="SUCCESS")
    add_artifacts(worse, 120)
    ingest(store, [history], workers=1)
    kube_p99 = percentile_cont([kube_api_seconds(b) for b in range(1, RUNS + 1)], 0.99)
    # make run 120 clearly worse than allowed: rewrite its disruption before ingest
    doc = json.loads((next(worse.rglob("backend-disruption_20261101-000000.json"))).read_text())
    doc["BackendDisruptions"]["kube-api-new-connections"]["DisruptedDuration"] = "2m"
    next(worse.rglob("backend-disruption_20261101-000000.json")).write_text(json.dumps(doc))
    ingest(store, [tmp_path / "more"], workers=1)
    result = check(store, "120")
    by_backend = {v.backend: v for v in result.backends}
    kube = by_backend["kube-api-new-connections"]
    assert kube.match == "exact" and kube.baseline.job_runs == RUNS
    assert kube.allowed_seconds == round(max(kube_p99, 1) + 5)  # p99 = 10: max(15, 12) = 15
    assert (kube.observed_seconds, kube.verdict) == (120 + kube_api_seconds(120), "fail")
    assert by_backend["image-registry-reused-connections"].verdict == "pass"
    assert result.verdict == "fail"
    kube_alert = next(a for a in result.alerts if a.alert == "KubePodNotReady")
    # history: 30 s in 11 of 110 runs, 0 s (unseen) in the others → P95 = P99 = 30: 30 s passes
    assert kube_alert.match == "exact" and kube_alert.baseline.job_runs == RUNS
    assert (kube_alert.flake_after, kube_alert.fail_after, kube_alert.verdict) == (30, 30, "pass")


def test_imported_baselines_and_checks_against_them(store, history, shared_data):
    path = shared_data / "openshift" / "disruption" / "query_results_origin-2025-04-03_rel4.18-4.19.json"
    report = ingest(store, [path], workers=1)
    assert report.baselines == 4432 and not report.refused
    assert ingest(store, [path], workers=1).baselines == 4432  # replaced, not duplicated
    assert store.query("SELECT count(*) FROM disruption_baselines")[0][0] == 4432
    got = imported_baselines(store, "disruption")
    assert got.rows and got.format == "current"
    assert sorted(got.rows, key=lambda r: r.job_type() + (r.name,)) == sorted(
        read_query_results(path).rows, key=lambda r: r.job_type() + (r.name,))
    alerts = shared_data / "openshift" / "alerts" / "query_results_origin-2022-12-05_rel4.12.json"
    assert ingest(store, [alerts], workers=1).baselines == 795
    got_alerts = imported_baselines(store, "alerts")
    assert (got_alerts.format, len(got_alerts.rows)) == ("legacy", 795)
    assert imported_baselines(store, "disruption").source == str(path)  # each kind its own last import
    ingest(store, [history], workers=1)
    result = check(store, "3", baselines=["imported"])
    kube = next(v for v in result.backends if v.backend == "kube-api-new-connections")
    assert kube.match in ("exact", "previous_release") or kube.verdict == "skipped"


def test_parallel_ingest_stores_the_same_rows(tmp_path, history):
    """Worker processes build the disruption tables too (≥ 80 folders: the parallel path)."""
    from ciscope.store import connect

    tables = {}
    for workers in (1, 2):
        with connect(f"duckdb:///{tmp_path / f'w{workers}.duckdb'}") as s:
            report = ingest(s, [history], workers=workers)
            assert len(report.warnings) == 1 and "run kept" in report.warnings[0]
            tables[workers] = [s.query(f"SELECT * EXCLUDE (run_id) FROM {t} ORDER BY ALL")
                               for t in ("disruption_seconds", "alert_seconds")] + [
                s.query("SELECT * EXCLUDE (run_id) FROM disruption_runs ORDER BY ALL")]
    assert tables[1] == tables[2] and len(tables[1][0]) == 2 * RUNS


KUBE_TEST = "[sig-api-machinery] disruption/kube-api connection/new should be available throughout the test"


def test_record_verdicts_as_test_results(store, history, tmp_path):
    from ciscope.analysis.disruption_store import SYNTHETIC_SUITE, record_verdicts

    worse = write_run(tmp_path / "more", JOB, "120", result="SUCCESS")
    add_artifacts(worse, 120)
    first = next(worse.rglob("backend-disruption_20261101-000000.json"))
    doc = json.loads(first.read_text())
    doc["BackendDisruptions"]["kube-api-new-connections"]["DisruptedDuration"] = "2m"
    first.write_text(json.dumps(doc))
    # run 121 already has origin's own test of that name in its junit: origin's verdict is kept
    upstream = write_run(tmp_path / "more", JOB, "121", result="SUCCESS",
                         junit=f'<testsuite name="openshift-tests"><testcase name="{KUBE_TEST}"/></testsuite>')
    add_artifacts(upstream, 121)
    ingest(store, [history, tmp_path / "more"], workers=1)
    before = dict(store.query("SELECT build, tests FROM runs"))

    report = record_verdicts(store)
    assert report.runs == RUNS + 2 and report.kept_upstream == 1
    assert report.failed_runs == [{"job": JOB, "build": "120"}]
    verdicts = dict(store.query(
        "SELECT r.build, v.verdict FROM test_verdicts v JOIN runs r ON r.run_id = v.run_id WHERE v.test = ?", (KUBE_TEST,)))
    assert verdicts["120"] == "failed" and verdicts["121"] == "passed" and verdicts["1"] == "skipped"
    message = store.query("SELECT failure_message FROM test_results t JOIN runs r ON r.run_id = t.run_id "
                          "WHERE r.build = '120' AND t.test = ?", (KUBE_TEST,))[0][0]
    assert message == f"observed {120 + kube_api_seconds(120)} s, allowed 15 s"
    after = dict(store.query("SELECT build, tests FROM runs"))
    # run 120: 2 backends + 1 alert judged, all with history; run 1 judged nothing (skipped do not count)
    assert after["120"] == before["120"] + 3 and after["1"] == before["1"]
    assert store.query("SELECT failed_tests FROM runs WHERE build = '120'") == [(2,)]  # junit's one + disruption
    counts = store.query("SELECT count(*) FROM test_results WHERE suite = ?", (SYNTHETIC_SUITE,))
    again = record_verdicts(store)  # idempotent: replaced, not duplicated
    assert again.tests == report.tests
    assert store.query("SELECT count(*) FROM test_results WHERE suite = ?", (SYNTHETIC_SUITE,)) == counts
    assert dict(store.query("SELECT build, tests FROM runs")) == after


def test_duckdb_fast_path_equals_the_portable_sql(tmp_path, history):
    from ciscope.store import connect

    with connect(f"duckdb:///{tmp_path / 'd.duckdb'}") as s:
        ingest(s, [history], workers=1)
        for window in ({"days": 30}, {"days": 1}, {"days": 30, "releases": ["4.18", "4.17"]}):
            fast, portable = disruption_baselines(s, **window), disruption_baselines(s, portable=True, **window)
            assert fast.rows == portable.rows and fast.rows
