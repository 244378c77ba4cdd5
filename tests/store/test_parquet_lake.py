"""The Parquet lake (issue 9): `ciscope export --parquet DIR` and `--db parquet:///DIR`.

A demo store is exported through the real CLI; every read command must give the same JSON
on the store and on the lake. Re-exports are idempotent and atomic, hostile job names survive
the partition paths, and a lake refuses writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest

from ciscope.model import Run, RunStatus, Status, TestResult
from ciscope.store.engine import connect
from ciscope.store.parquet import MANIFEST, job_segment


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ciscope.cli", *args], check=False, capture_output=True,
                          text=True, timeout=300)


def cli_json(*args: str) -> Any:
    done = cli(*args, "--json")
    assert done.returncode == 0, (args, done.stderr)
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("lake")
    db = f"duckdb:///{tmp / 'demo.duckdb'}"
    done = cli("--db", db, "demo", "--out", str(tmp / "data"), "--runs-per-job", "30", "--seed", "1")
    assert done.returncode == 0, done.stderr
    lake = tmp / "lake"
    report = cli_json("--db", db, "export", "--parquet", str(lake))
    runs = cli_json("--db", db, "runs")
    failed = next(r for r in runs if r["status"] == "failure")
    return {"db": db, "lake": lake, "url": f"parquet:///{lake}", "report": report, "job": failed["job"],
            "build": failed["build"], "tmp": tmp}


READS = [("runs",), ("runs", "--job", "{job}", "--days", "3"), ("tests", "--job", "{job}"), ("flaky",),
         ("flaky", "--days", "7", "--variant", "platform=aws"), ("regressions",), ("summary",), ("grid", "{job}"),
         ("triage", "{build}"), ("bugs",), ("unclassified",), ("clusters",), ("tests", "--test", "sig-node")]


@pytest.mark.parametrize("command", READS, ids=[" ".join(c) for c in READS])
def test_every_read_command_answers_the_same_on_the_lake(demo: dict[str, Any], command: tuple[str, ...]) -> None:
    args = [a.format(**demo) for a in command]
    on_store = cli_json("--db", demo["db"], *args)
    on_lake = cli_json("--db", demo["url"], *args)
    assert on_store, args  # an empty answer would prove nothing
    assert on_lake == on_store


def test_the_report_counts_what_is_in_the_files(demo: dict[str, Any]) -> None:
    report = demo["report"]
    tables = {t["table"]: t for t in report["tables"]}
    assert "api_tokens" not in tables and {"runs", "test_results", "jobs", "schema_migrations"} <= set(tables)
    assert not tables["jobs"]["partitioned"] and tables["runs"]["partitioned"]
    assert report["rows"] == sum(t["rows"] for t in tables.values()) > 30_000
    assert report["bytes"] == sum(f.stat().st_size for f in demo["lake"].rglob("*.parquet"))
    store = connect(demo["db"], read_only=True)
    try:
        for name in ("runs", "test_results", "test_verdicts", "matches", "jobs", "fingerprints"):
            assert tables[name]["rows"] == store.query(f"SELECT count(*) FROM {name}")[0][0], name
        days_jobs = store.query("SELECT count(DISTINCT (CAST(started_at AS DATE), job)) FROM runs")[0][0]
    finally:
        store.close()
    assert tables["runs"]["partitions"] == report["partitions_written"] == days_jobs
    one = next((demo["lake"] / "runs").glob("day=*/job=*/part-0.parquet"))
    assert one.parent.parent.name.startswith("day=20") and (demo["lake"] / "jobs" / "part-0.parquet").is_file()


def test_arrow_reads_the_partitioned_layout_as_spark_would(demo: dict[str, Any]) -> None:
    """pyarrow.dataset with Hive partitioning (Spark's and Trino's reading of the same layout)."""
    verdicts = ds.dataset(demo["lake"] / "test_verdicts", format="parquet", partitioning="hive").to_table()
    store = connect(demo["db"], read_only=True)
    try:
        expected = store.query("SELECT job, count(*) FROM test_verdicts GROUP BY job ORDER BY job")
    finally:
        store.close()
    got = verdicts.group_by("job").aggregate([("run_id", "count")]).sort_by("job").to_pylist()
    assert [(r["job"], r["run_id_count"]) for r in got] == [tuple(r) for r in expected]
    assert {"day", "job", "verdict", "test"} <= set(verdicts.column_names)


def test_a_re_export_gives_the_same_lake(demo: dict[str, Any], tmp_path: Path) -> None:
    lake = tmp_path / "again"
    first = cli_json("--db", demo["db"], "export", "--parquet", str(lake))
    files = sorted(str(p.relative_to(lake)) for p in lake.rglob("*.parquet"))
    second = cli_json("--db", demo["db"], "export", "--parquet", str(lake))
    assert sorted(str(p.relative_to(lake)) for p in lake.rglob("*.parquet")) == files
    assert [(t["table"], t["rows"], t["partitions"]) for t in second["tables"]] == \
           [(t["table"], t["rows"], t["partitions"]) for t in first["tables"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".again.lock", "again"], "no staging folder left behind"
    # a window rewrites only its partitions, whole, and keeps the others
    window = cli_json("--db", demo["db"], "export", "--parquet", str(lake), "--days", "2")
    assert 0 < window["partitions_written"] < first["partitions_written"]
    assert window["partitions_written"] + window["partitions_kept"] == first["partitions_written"]
    assert cli_json("--db", f"parquet:///{lake}", "flaky") == cli_json("--db", demo["db"], "flaky")
    assert cli_json("--db", f"parquet:///{lake}", "runs") == cli_json("--db", demo["db"], "runs")
    # a lake exports as well: the copy answers the same
    copy = cli_json("--db", f"parquet:///{lake}", "export", "--parquet", str(tmp_path / "copy"))
    assert copy["rows"] == first["rows"] and copy["partitions_written"] == first["partitions_written"]
    assert cli_json("--db", f"parquet:///{tmp_path / 'copy'}", "flaky") == cli_json("--db", demo["db"], "flaky")


def _run(job: str, build: str, start: datetime, status: Status) -> Run:
    results = [TestResult(name="t1", classname="c", status=status, failure_message="boom" if status is Status.FAILED else None),
               TestResult(name="t2", classname="c", status=Status.PASSED)]
    return Run(job=job, build=build, status=RunStatus.FAILURE if status is Status.FAILED else RunStatus.SUCCESS,
               started_at=start, results=results)


HOSTILE = ["a/b", "../../etc", "x=y", "50%", "sp ace", "ünïcode-ジョブ", "job=", "quote'\"", "glob*?[c]{d}",
           "%2F", "back\\slash", "123", "tab\tline\n"]


def test_hostile_job_names_survive_the_partition_paths(tmp_path: Path) -> None:
    db = f"duckdb:///{tmp_path / 'h.duckdb'}"
    store = connect(db)
    start = datetime(2026, 11, 1, 12)
    store.write_runs([_run(job, str(i), start + timedelta(hours=i), Status.FAILED if i % 2 else Status.PASSED)
                      for i, job in enumerate(HOSTILE)] + [_run("a/b", "x", start, Status.PASSED)])
    store.close()
    lake = tmp_path / "lake"
    done = cli("--db", db, "export", "--parquet", str(lake))
    assert done.returncode == 0, done.stderr
    folders = {p.name for p in (lake / "runs").glob("day=*/*")}
    assert len(folders) == len(HOSTILE) and all("/" not in f and f.startswith("job=") for f in folders)
    assert all(p.resolve().is_relative_to(lake.resolve()) for p in lake.rglob("*"))
    assert job_segment("a/b") == "job=a%2Fb" and job_segment("ü") == "job=ü"
    url = f"parquet:///{lake}"
    runs = cli_json("--db", url, "runs")
    assert sorted(r["job"] for r in runs) == sorted([*HOSTILE, "a/b"])
    assert runs == cli_json("--db", db, "runs")
    for job in ("a/b", "glob*?[c]{d}", "123"):
        assert cli_json("--db", url, "tests", "--job", job) == cli_json("--db", db, "tests", "--job", job)
    got = ds.dataset(lake / "runs", format="parquet", partitioning="hive").to_table().column("job").to_pylist()
    assert sorted(got) == sorted([*HOSTILE, "a/b"])


def test_a_failed_export_leaves_the_previous_lake_intact(tmp_path: Path) -> None:
    db = f"duckdb:///{tmp_path / 's.duckdb'}"
    store = connect(db)
    start = datetime(2026, 11, 1, 12)
    store.write_runs([_run("good", "1", start, Status.PASSED)])
    store.close()
    lake = tmp_path / "lake"
    assert cli("--db", db, "export", "--parquet", str(lake)).returncode == 0
    before = {str(p.relative_to(lake)): p.read_bytes() for p in lake.rglob("*") if p.is_file()}
    # a job whose partition folder cannot exist (over 255 bytes): the export fails half-way
    store = connect(db)
    store.write_runs([_run("z" * 300, "2", start, Status.FAILED), _run("good", "3", start, Status.FAILED)])
    store.close()
    done = cli("--db", db, "export", "--parquet", str(lake))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "longer than the 255" in done.stderr
    after = {str(p.relative_to(lake)): p.read_bytes() for p in lake.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lake.lock", "lake", "s.duckdb"], "the staging folder is removed"
    assert [r["build"] for r in cli_json("--db", f"parquet:///{lake}", "runs")] == ["1"]


def test_export_refuses_a_folder_that_is_not_a_lake(tmp_path: Path, demo: dict[str, Any]) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    done = cli("--db", demo["db"], "export", "--parquet", str(tmp_path / "mine"))
    assert done.returncode == 2 and "is not empty and holds no ciscope lake" in done.stderr
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    done = cli("--db", demo["db"], "export", "--parquet", str(tmp_path / "new"), "--test", "x")
    assert done.returncode == 2 and "--test does not apply" in done.stderr and not (tmp_path / "new").exists()


def test_a_lake_refuses_tokens(demo: dict[str, Any]) -> None:
    """Commands that write a lake do it through a working copy (tests/store/test_lake_writes.py);
    tokens are refused (the server reads a lake read-only: tests/web/test_web_lake.py)."""
    before = sorted(str(p) for p in demo["lake"].rglob("*"))
    done = cli("--db", demo["url"], "token", "create", "ci")
    assert done.returncode == 4 and "no API tokens here" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(str(p) for p in demo["lake"].rglob("*")) == before


def test_no_lake_is_a_store_error(tmp_path: Path) -> None:
    done = cli("--db", f"parquet:///{tmp_path / 'nowhere'}", "runs")
    assert done.returncode == 4 and "no lake at" in done.stderr and "Traceback" not in done.stderr


def test_duckdb_reads_the_files_directly(demo: dict[str, Any]) -> None:
    import duckdb

    glob = os.path.join(demo["lake"], "test_results", "**", "*.parquet")
    con = duckdb.connect()
    (count, days) = con.execute(f"SELECT count(*), count(DISTINCT day) FROM read_parquet('{glob}', hive_partitioning = true)").fetchone()
    assert count == next(t["rows"] for t in demo["report"]["tables"] if t["table"] == "test_results") and days > 5
    assert (demo["lake"] / MANIFEST).is_file()


def test_export_from_every_engine_reads_back_the_same_rows(store: Any, tmp_path: Path) -> None:
    """The library call on DuckDB and PostgreSQL (the `store` fixture): the lake's tables hold
    exactly the store's rows, with the store's column types."""
    from ciscope.store.parquet import ParquetStore, export_parquet

    start = datetime(2026, 11, 1, 23, 30)
    store.write_runs([_run(job, str(i), start + timedelta(hours=i), Status.FAILED if i % 2 else Status.PASSED)
                      for i, job in enumerate(["a/b", "job one", "a/b", "z"])])
    report = export_parquet(store, str(tmp_path / "lake"))
    assert report.partitions_written == 4  # (2026-11-01, a/b), (11-02, job one), (11-02, a/b), (11-02, z)
    lake = ParquetStore(f"parquet:///{tmp_path / 'lake'}")
    try:
        for table, key in (("runs", "run_id"), ("test_results", "run_id, test"), ("test_verdicts", "run_id, test"),
                           ("jobs", "job"), ("schema_migrations", "version")):
            sql = f"SELECT * FROM {table} ORDER BY {key}"
            assert lake.query(sql) == store.query(sql), table
        types = dict(lake.query("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'runs'"))
        assert types["run_id"] == "BIGINT" and types["tests"] == "INTEGER" and types["started_at"] == "TIMESTAMP"
        assert lake.query("SELECT count(*) FROM matches") == [(0,)]  # empty, but its columns are known
    finally:
        lake.close()
