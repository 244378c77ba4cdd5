"""The shared store suite: every test here runs on DuckDB and on PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import orjson
import pytest

from ciscope.analysis.stats import list_runs, stats_by_test
from ciscope.errors import StoreError, UnknownEngineError
from ciscope.model import Run, RunStatus, Status, TestResult
from ciscope.queries.window import Window
from ciscope.store import connect

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def make_run(build: str, outcomes: dict[str, list[Status]], *, job: str = "e2e-aws",
             status: RunStatus = RunStatus.SUCCESS, offset: int = 0) -> Run:
    results = []
    for test, statuses in outcomes.items():
        for attempt, st in enumerate(statuses):
            results.append(TestResult(
                name=test, status=st, suite="suite", duration=1.5 + attempt, attempt=attempt,
                failure_message="boom" if st in (Status.FAILED, Status.ERROR) else None,
                file="artifacts/junit.xml",
            ))
    return Run(job=job, build=build, status=status, started_at=T0 + timedelta(hours=offset),
               finished_at=T0 + timedelta(hours=offset, minutes=30), commit=f"c{offset}",
               variants={"platform": "aws"}, results=results)


P, F, E, S = Status.PASSED, Status.FAILED, Status.ERROR, Status.SKIPPED


def test_migrate_is_idempotent(store):
    assert store.schema_version() >= 1
    assert store.migrate() == []


def test_verdicts_and_counters(store):
    run = make_run("1", {"a": [P], "b": [F, P], "c": [F], "d": [S], "e": [E], "f": [F, F]},
                   status=RunStatus.FAILURE)
    report = store.write_runs([run])
    assert report.inserted == [run.run_id] and report.results == 8
    verdicts = dict(store.query("SELECT test, verdict FROM test_verdicts"))
    assert verdicts == {"a": "passed", "b": "flaky", "c": "failed", "d": "skipped", "e": "error", "f": "failed"}
    [row] = list_runs(store)
    assert (row["tests"], row["failed_tests"], row["flaked_tests"]) == (5, 3, 1)
    assert row["status"] == "failure" and row["commit"] == "c0"
    attempts = store.query("SELECT attempt, status FROM test_results WHERE test = 'b' ORDER BY attempt")
    assert attempts == [(0, "failed"), (1, "passed")]
    reason = store.query("SELECT reason FROM runs")[0][0]
    assert '"component":"tests"' in reason and "boom" in reason


def test_update_rows_sets_many_columns_of_many_rows_in_one_call(store):
    """Store.update_rows: each row of the Arrow table sets its columns on the row with its key
    (NULLs included); rows of the table it does not name, and keys the table lacks, are left."""
    import pyarrow as pa

    runs = [make_run(str(i), {"a": [F]}, status=RunStatus.FAILURE) for i in range(50)]
    store.write_runs(runs)
    ids = [r.run_id for r in runs]
    data = pa.table({"run_id": pa.array([*ids[:40], -1], pa.int64()),
                     "reason": pa.array([None if i % 2 else f"r{i}, 'q' \"x\"\n" for i in range(41)], pa.string()),
                     "flaked_tests": pa.array(range(41), pa.int64())})
    before = dict(store.query("SELECT run_id, reason FROM runs"))
    store.begin()
    store.update_rows("runs", data, key="run_id")
    store.commit()
    rows = {rid: (reason, flaked) for rid, reason, flaked in store.query("SELECT run_id, reason, flaked_tests FROM runs")}
    assert rows == {rid: ((None if i % 2 else f"r{i}, 'q' \"x\"\n"), i) if i < 40 else (before[rid], 0)
                    for i, rid in enumerate(ids)}
    store.update_rows("runs", data.slice(0, 0), key="run_id")  # nothing to update
    with pytest.raises(ValueError):
        store.update_rows("runs", data.select(["run_id"]), key="run_id")


def test_reingest_is_a_noop_and_replace_replaces(store):
    run = make_run("1", {"a": [P]})
    store.write_runs([run])
    again = store.write_runs([make_run("1", {"a": [P]})])
    assert again.skipped == [run.run_id] and again.inserted == []
    assert store.query("SELECT count(*) FROM test_results")[0][0] == 1
    replaced = store.write_runs([make_run("1", {"a": [F], "b": [P]})], replace=True)
    assert replaced.replaced == [run.run_id]
    assert store.query("SELECT count(*) FROM test_results")[0][0] == 2
    assert store.query("SELECT count(*) FROM runs")[0][0] == 1


def test_pending_run_is_completed_by_a_later_ingest(store):
    store.write_runs([make_run("7", {"a": [P]}, status=RunStatus.PENDING)])
    done = store.write_runs([make_run("7", {"a": [P], "b": [F]}, status=RunStatus.FAILURE)])
    assert len(done.replaced) == 1
    assert store.query("SELECT status, tests FROM runs") == [("failure", 2)]
    # a finished run is not downgraded by a stale pending copy
    assert store.write_runs([make_run("7", {}, status=RunStatus.PENDING)]).skipped


def test_a_failed_batch_leaves_nothing_half_written(store):
    store.write_runs([make_run("1", {"a": [P]})])
    good = make_run("2", {"a": [P]})
    bad = make_run("3", {"a": [P]})
    bad.results[0].name = None  # NOT NULL violation inside the batch
    with pytest.raises(StoreError) as raised:
        store.write_runs([good, bad])
    # the INSERT's own error, not what the aborted transaction said to the clean-up after it
    # (DuckDB refused to unregister the appended table, and that error replaced this one)
    assert "aborted" not in str(raised.value) and "NULL" in str(raised.value).upper(), raised.value
    assert store.query("SELECT build FROM runs") == [("1",)]
    assert store.query("SELECT count(*) FROM test_results")[0][0] == 1
    assert store.query("SELECT count(*) FROM test_verdicts")[0][0] == 1


def test_jobs_keep_variants_and_time_span(store):
    store.write_runs([make_run("1", {"a": [P]}, offset=0), make_run("2", {"a": [P]}, offset=5)])
    store.write_runs([make_run("3", {"a": [P]}, offset=-3)])
    [(job, variants, first, last)] = store.query("SELECT job, variants, first_seen, last_seen FROM jobs")
    assert job == "e2e-aws" and variants == '{"platform":"aws"}'
    assert first == (T0 - timedelta(hours=3)).replace(tzinfo=None)
    assert last == (T0 + timedelta(hours=5)).replace(tzinfo=None)

def _job_runs(n: int, *, start: int = 0, build: str = "b") -> list[Run]:
    """One run of each of ``n`` jobs (j0000, j0001, …): variants {"v": i, "n": "new"}, started
    ``i`` hours after T0, except every seventh job's run, which has no start time."""
    return [Run(job=f"j{i:04d}", build=build, status=RunStatus.SUCCESS, commit="c",
                started_at=None if i % 7 == 0 else T0 + timedelta(hours=i), variants={"v": str(i), "n": "new"})
            for i in range(start, start + n)]


def test_a_batch_of_many_jobs_merges_the_known_ones_and_adds_the_new(store):
    """The jobs of a batch touching 60 jobs, 30 of them known from an earlier run (with another
    variant and an earlier or later start, or none): variants merged (the new ones winning), first_seen
    the earliest start and last_seen the latest, whether the job is known or new."""
    old = [Run(job=f"j{i:04d}", build="a", status=RunStatus.SUCCESS, commit="c", variants={"n": "old", f"k{i}": "x"},
               started_at=None if i % 5 == 0 else T0 + timedelta(hours=i + (50 if i % 2 else -50)))
           for i in range(0, 60, 2)]
    store.write_runs(old)
    store.write_runs(_job_runs(60))
    expected = []
    for i in range(60):
        starts = [s for s in ([None if i % 7 == 0 else T0 + timedelta(hours=i)]
                              + ([None if i % 5 == 0 else T0 + timedelta(hours=i + (50 if i % 2 else -50))]
                                 if i % 2 == 0 else [])) if s is not None]
        variants = {**({"n": "old", f"k{i}": "x"} if i % 2 == 0 else {}), "v": str(i), "n": "new"}
        expected.append((f"j{i:04d}", orjson.dumps(variants, option=orjson.OPT_SORT_KEYS).decode(),
                         min(starts).replace(tzinfo=None) if starts else None,
                         max(starts).replace(tzinfo=None) if starts else None))
    assert store.query("SELECT job, variants, first_seen, last_seen FROM jobs ORDER BY job") == expected


def test_jobs_are_written_in_bulk(store, monkeypatch):
    """The statements a batch makes about ``jobs`` do not grow with its jobs: a batch of 200
    jobs (100 known) makes as many as one of 4 (2 known)."""
    def statements(runs: list[Run]) -> int:
        """How many statements writing ``runs`` makes that name ``jobs`` (every SQL statement
        of the store goes through its execute or query)."""
        seen: list[str] = []

        def recorded(real):
            def run(sql, params=()):
                seen.append(sql)
                return real(sql, params)
            return run

        with monkeypatch.context() as patch:
            for name in ("execute", "query"):
                patch.setattr(store, name, recorded(getattr(store, name)))
            store.write_runs(runs)
        return sum(" jobs" in sql for sql in seen)

    store.write_runs(_job_runs(2) + _job_runs(100, start=1000))
    few = statements(_job_runs(4, build="again"))
    many = statements(_job_runs(200, start=1000, build="again"))
    assert store.query("SELECT count(*) FROM jobs") == [(2 + 100 + 2 + 100,)]
    assert few == many and few <= 5, (few, many)


def test_sippy_rates(store):
    runs = [
        make_run("1", {"t": [P]}, offset=0),
        make_run("2", {"t": [F, P]}, offset=1),
        make_run("3", {"t": [F]}, offset=2),
        make_run("4", {"t": [S]}, offset=3),
        make_run("5", {"t": [P]}, offset=4),
    ]
    store.write_runs(runs)
    [row] = stats_by_test(store)
    assert row == {
        "job": "e2e-aws", "test": "t", "runs": 4, "passed": 2, "failed": 1, "flaked": 1, "skipped": 1,
        "pass_rate": 0.5, "working_rate": 0.75, "flake_rate": 0.25,
    }
    assert stats_by_test(store, window=Window(job="other")) == []
    newest = list_runs(store, limit=2)
    assert [r["build"] for r in newest] == ["5", "4"]


def test_unknown_engine_names_the_choices():
    with pytest.raises(UnknownEngineError, match="duckdb:///PATH"):
        connect("mysql://localhost/x")


def test_unreachable_postgres_is_a_clear_store_error():
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL"):
        connect("postgresql://nobody@127.0.0.1:1/nothing?connect_timeout=2")


def test_query_columns_types_nulls_and_empty_strings(store) -> None:
    """query_columns (PostgreSQL: COPY read by Arrow's CSV reader) gives what query_arrow gives:
    NULL is not '', newlines and quotes survive, integers and times keep their types."""
    import pyarrow as pa

    sql = ("SELECT CAST(? AS BIGINT) AS n, CAST(NULL AS TEXT) AS missing, '' AS empty, 'a \"b\"' || chr(10) || 'c' AS text,"
           " TIMESTAMP '2026-11-01 10:00:00.25' AS at, CAST(1.5 AS DOUBLE PRECISION) AS x, 1 = 1 AS yes")
    table = store.query_columns(sql, (7,))
    assert table.to_pylist() == [{"n": 7, "missing": None, "empty": "", "text": 'a "b"\nc',
                                  "at": datetime(2026, 11, 1, 10, 0, 0, 250000), "x": 1.5, "yes": True}]
    assert table.schema.field("n").type == pa.int64() and table.schema.field("at").type == pa.timestamp("us")
    empty = store.query_columns("SELECT run_id, job FROM runs WHERE 1 = 0")
    assert empty.num_rows == 0 and empty.column_names == ["run_id", "job"]


def test_duckdb_settings_from_the_url(tmp_path):
    """``duckdb:///PATH?memory_limit=…&threads=…&temp_directory=…`` reaches DuckDB (a bounded
    memory with a spill folder for big stores); anything else is refused naming the accepted."""
    from ciscope.errors import UsageError

    spill = tmp_path / "spill"
    url = f"duckdb:///{tmp_path / 'bounded.duckdb'}?memory_limit=100MB&threads=1&temp_directory={spill}"
    with connect(url) as store:
        assert store.path == str(tmp_path / "bounded.duckdb")
        (limit, threads, temp), = store.query(
            "SELECT current_setting('memory_limit'), current_setting('threads'), current_setting('temp_directory')")
        assert limit in ("95.3 MiB", "100.0 MB") and int(threads) == 1 and temp == str(spill)
        # a sort larger than the limit spills instead of failing
        (n,), = store.query("SELECT count(*) FROM (SELECT range AS x, md5(range::VARCHAR) AS h FROM range(3000000) ORDER BY h)")
        assert n == 3_000_000
    with pytest.raises(UsageError, match=r"unknown DuckDB setting 'memory'; expected memory_limit, threads"):
        connect(f"duckdb:///{tmp_path / 'x.duckdb'}?memory=1GB")
