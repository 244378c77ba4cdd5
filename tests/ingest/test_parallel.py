"""Run folders read by worker processes store exactly what a serial ingest stores — on
every engine — with refusals reported, known bugs matched in the workers, and idempotence."""

from __future__ import annotations

import pytest

from ciscope.analysis.known import prepare
from ciscope.ingest import parallel
from ciscope.ingest.batch import ingest

from runfolders import JUNIT, write_run

DISK = "No space left on device (errno 28)"


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_FOLDERS", 2)
    monkeypatch.setattr(parallel, "CHUNK", 3)


def tree(root, n=10):
    for build in range(1, n + 1):
        junit = JUNIT.replace("boom: expected 1 got 2", DISK) if build % 3 == 0 else JUNIT
        write_run(root, "e2e" if build % 2 else "e2e-gcp", str(build), junit=junit,
                  result=None if build == 7 else "FAILURE")  # build 7 still pending
    bad = write_run(root, "e2e", "99")
    (bad / "finished.json").write_text("{not json")
    return root


def snapshot(store):
    return {
        "runs": sorted(store.query("SELECT run_id, job, build, status, tests, failed_tests, flaked_tests, reason FROM runs")),
        "results": sorted(store.query("SELECT run_id, test, attempt, status, failure_message, file FROM test_results")),
        "verdicts": sorted(store.query("SELECT run_id, test, verdict, attempts FROM test_verdicts")),
        "matches": sorted(store.query("SELECT run_id, bug, coalesce(test, ''), file, line FROM matches")),
        "jobs": sorted(store.query("SELECT job, variants FROM jobs")),
    }


def run(store, root, workers, fp):
    classifier, _, _ = prepare(store, fp)
    return ingest(store, [root], workers=workers, classifier=classifier)


def test_parallel_equals_serial(store, store_url, tmp_path, small_chunks):
    from ciscope.store import connect

    root = tree(tmp_path / "gcs")
    fp = tmp_path / "fp"
    fp.mkdir()
    (fp / "BUG-1.yaml").write_text("regex: 'No space left on device \\(errno \\d+\\)'\n")
    parallel_report = run(store, root, 2, fp)
    assert (parallel_report.runs, parallel_report.pending, parallel_report.classified) == (10, 1, 3)
    assert [r.path for r in parallel_report.refused] == [str(root / "logs" / "e2e" / "99")]
    assert "finished.json" in parallel_report.refused[0].reason
    got = snapshot(store)
    assert len(got["matches"]) == 3  # builds 3, 6, 9: the failure text of "[sig-c] fails"
    # the same folders, serially, into a second store of the same engine
    other_url = store_url.replace(".duckdb", "-serial.duckdb") if store_url.startswith("duckdb") else None
    if other_url is None:
        # PostgreSQL: compare against a serial ingest into the same store after clearing it
        for table in ("matches", "test_verdicts", "test_results", "runs", "jobs", "fingerprints"):
            store.execute(f"DELETE FROM {table}")
        serial_report = run(store, root, 1, fp)
        assert snapshot(store) == got
    else:
        with connect(other_url) as serial_store:
            serial_report = run(serial_store, root, 1, fp)
            assert snapshot(serial_store) == got
    assert (serial_report.runs, serial_report.pending, serial_report.classified) == (10, 1, 3)


def test_parallel_ingest_is_idempotent(store, tmp_path, small_chunks):
    root = tree(tmp_path / "gcs")
    first = ingest(store, [root], workers=2)
    before = snapshot(store)
    again = ingest(store, [root], workers=2)
    assert (first.runs, again.runs, again.skipped) == (10, 0, 10)  # a still-pending run is not replaced by itself
    assert snapshot(store) == before
    replaced = ingest(store, [root], workers=2, replace=True)
    assert replaced.replaced == 10 and snapshot(store) == before
