"""Run folders read by worker processes store exactly what a serial ingest stores — on
every engine — with refusals reported, known bugs matched in the workers, and idempotence."""

from __future__ import annotations

import pytest
from runfolders import JUNIT, write_run

from ciscope.analysis.known import prepare
from ciscope.ingest import parallel
from ciscope.ingest.batch import ingest

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
        "events": sorted(store.query("SELECT run_id, event, emitted_at, worker, iteration FROM run_events")),
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
    assert len(got["events"]) >= 10  # derived from started.json / finished.json
    # the same folders, serially, into a second store of the same engine
    other_url = store_url.replace(".duckdb", "-serial.duckdb") if store_url.startswith("duckdb") else None
    if other_url is None:
        # PostgreSQL: compare against a serial ingest into the same store after clearing it
        for table in ("run_events", "matches", "test_verdicts", "test_results", "runs", "jobs", "fingerprints"):
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


@pytest.mark.parametrize("workers", [1, 2])
def test_stored_runs_are_recognised_from_metadata_and_not_read(store, tmp_path, small_chunks, workers):
    """A re-ingest reads only the runs it may store: a stored run's reports are not parsed
    again (a report broken since is not even noticed), a stored pending run whose
    finished.json has appeared is read and replaces it, and new runs are stored."""
    root = tree(tmp_path / "gcs")
    first = ingest(store, [root], workers=workers)
    assert (first.runs, first.pending, len(first.refused)) == (10, 1, 1)
    before = snapshot(store)
    (root / "logs" / "e2e" / "1" / "artifacts" / "e2e" / "junit" / "junit_e2e.xml").write_text("<testsuite")
    finished = {"timestamp": 1793000000 + 7 * 3600 + 1800, "passed": False, "result": "FAILURE"}
    (root / "logs" / "e2e" / "7" / "finished.json").write_text(__import__("json").dumps(finished))
    write_run(root, "e2e", "11")
    calls = []
    again = ingest(store, [root], workers=workers, progress=lambda done, total: calls.append((done, total)))
    assert (again.runs, again.replaced, again.skipped) == (1, 1, 9)
    assert calls[-1] == (12, 12) and calls == sorted(calls)  # skipped folders count as done
    assert [r.path for r in again.refused] == [str(root / "logs" / "e2e" / "99")]  # still refused, whole
    after = snapshot(store)
    assert ("e2e", "11") in {(row[1], row[2]) for row in after["runs"]}
    assert [row[3] for row in after["runs"] if row[2] == "7"] == ["failure"]
    unchanged = lambda snap: [row for row in snap["runs"] if row[2] not in ("7", "11")]  # noqa: E731
    assert unchanged(after) == unchanged(before)
    # --replace reads everything again: the broken report is left out of its run, which is
    # stored incomplete (its metadata is fine); run 99's metadata still refuses it whole
    replaced = ingest(store, [root], workers=workers, replace=True)
    broken = str(root / "logs" / "e2e" / "1" / "artifacts" / "e2e" / "junit" / "junit_e2e.xml")
    assert sorted((r.path, r.run) for r in replaced.refused) == sorted(
        [(broken, "e2e/1"), (str(root / "logs" / "e2e" / "99"), None)])
    assert (replaced.replaced, replaced.incomplete) == (11, 1)
    (results,) = store.query("SELECT count(*) FROM test_results t JOIN runs r ON r.run_id = t.run_id"
                             " WHERE r.job = 'e2e' AND r.build = '1'")[0]
    assert results == 0


def test_workers_run_at_most_a_few_chunks_ahead(tmp_path, monkeypatch):
    """A slow consumer does not make finished chunks pile up: memory is bounded by the
    window (workers × AHEAD chunks), not by the input."""
    monkeypatch.setattr(parallel, "CHUNK", 2)
    root = tree(tmp_path / "gcs", n=24)
    folders = [str(p) for p in sorted((root / "logs").glob("*/*"))]
    pulled = 0

    def tasks():
        nonlocal pulled
        for start in range(0, len(folders), 2):
            pulled += 1
            yield folders[start:start + 2], 0

    seen, ahead, accounted = 0, [], 0
    for chunk in parallel.read_parallel(tasks(), 2, None):
        seen += 1
        ahead.append(pulled - seen)
        accounted += chunk.folders
    assert (seen, accounted) == (13, 25)  # 24 runs and a refused one
    assert max(ahead) <= 2 * parallel.AHEAD


def test_an_unguarded_script_ingests_in_parallel(tmp_path):
    """spawn re-imports the main script in each worker unless told not to: a script with no
    ``if __name__ == "__main__"`` guard must not ingest again in every worker."""
    import subprocess
    import sys

    root = tree(tmp_path / "gcs")
    script = tmp_path / "script.py"
    script.write_text(
        "from ciscope.ingest import parallel\n"
        "from ciscope.ingest.batch import ingest\n"
        "from ciscope.store import connect\n"
        "parallel.MIN_FOLDERS, parallel.CHUNK = 2, 3\n"
        f"store = connect('duckdb:///{tmp_path / 'x.duckdb'}')\n"
        f"report = ingest(store, [{str(root)!r}], workers=2)\n"
        "print('stored', report.runs, len(report.refused))\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["stored 10 1"]


def test_workers_from_the_environment(monkeypatch):
    monkeypatch.setenv(parallel.WORKERS_ENV, "3")
    assert parallel.default_workers() == 3
    monkeypatch.setenv(parallel.WORKERS_ENV, "0")
    assert parallel.default_workers() == 1
    monkeypatch.delenv(parallel.WORKERS_ENV)
    assert 1 <= parallel.default_workers() <= 8
