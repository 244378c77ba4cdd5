"""Writing a lake (issue 9): ingest, reclassify, disruption record and db migrate with
``--db parquet:///DIR`` (or ``spark://…?lake=DIR``, ``chdb:///DIR``) through a DuckDB working
copy published with the export's atomic partition swap.

The oracle is the store: the same commands on a DuckDB store followed by ``export --parquet``
must give the same lake, table by table and row by row."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from test_parquet_lake import cli, cli_json

from ciscope.errors import StoreError, UsageError
from ciscope.model import Run, RunStatus, Status, TestResult
from ciscope.store.engine import connect
from ciscope.store.parquet import MANIFEST, read_manifest

# columns that say when a row was written, not what it holds; the generation counts commits
VOLATILE = {"ingested_at", "applied_at", "loaded_at", "matched_at", "registered_at", "generation", "recorded_at",
            "first_seen", "last_seen", "classified_at", "created_at"}


def lake_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the lake at ``path``, its rows sorted, volatile columns left out."""
    con = duckdb.connect()
    out: dict[str, list[tuple[Any, ...]]] = {}
    for table, spec in read_manifest(str(path))["tables"].items():
        columns = [f'"{c}"' for c in spec["columns"] if c not in VOLATILE]
        if not columns:
            continue
        files = path / table / ("**" if spec["partitioned"] else "") / "*.parquet"
        hive = ", hive_partitioning = true, hive_types = {'day': DATE, 'job': VARCHAR}" if spec["partitioned"] else ""
        rows = con.execute(f"SELECT {', '.join(columns)} FROM read_parquet('{files}'{hive})").fetchall()
        out[table] = sorted(rows, key=repr)
    return out


def assert_same_lake(got: Path, want: Path) -> None:
    a, b = lake_rows(got), lake_rows(want)
    assert sorted(a) == sorted(b)
    for table in a:
        assert a[table] == b[table], table
    assert sum(len(rows) for rows in a.values()) > 1000


def partitions(lake: Path, table: str = "test_results") -> dict[str, int]:
    """day=…/job=… folders of a table → the inode of their file (a partition carried over is
    a hard link of the same file)."""
    return {str(f.parent.relative_to(lake / table)): f.stat().st_ino for f in (lake / table).glob("day=*/job=*/*.parquet")}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("lakewrite")
    done = cli("--db", f"duckdb:///{tmp / 'seed.duckdb'}", "demo", "--out", str(tmp / "data"), "--runs-per-job", "40",
               "--seed", "3")
    assert done.returncode == 0, done.stderr
    return tmp / "data"


def on_store_then_export(data: Path, tmp: Path, *commands: tuple[str, ...]) -> Path:
    db = f"duckdb:///{tmp / 'oracle.duckdb'}"
    for command in commands:
        done = cli("--db", db, "--fingerprints", str(data / "fingerprints"), *command)
        assert done.returncode == 0, (command, done.stderr)
    cli_json("--db", db, "export", "--parquet", str(tmp / "oracle"))
    return tmp / "oracle"


def test_ingest_in_two_halves_gives_the_lake_of_a_store(data: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    url = f"parquet:///{lake}"
    first = cli_json("--db", url, "--fingerprints", str(data / "fingerprints"), "ingest", str(data / "pr-logs"))
    assert first["runs"] > 0
    before = partitions(lake)
    from ciscope.ingest.parallel import MIN_FOLDERS

    assert len(list((data / "logs").glob("*/*/finished.json"))) >= MIN_FOLDERS  # the parallel path, below
    second = cli_json("--db", url, "--fingerprints", str(data / "fingerprints"), "ingest", "--workers", "2",
                      str(data / "logs"))
    assert second["runs"] > first["runs"]
    oracle = on_store_then_export(data, tmp_path, ("ingest", str(data / "pr-logs"), str(data / "logs")))
    assert_same_lake(lake, oracle)
    after = partitions(lake)
    kept = [p for p, inode in before.items() if after.get(p) == inode]
    assert kept and len(kept) == len(before), "the first half's partitions are carried over, not rewritten"
    for command in (("runs",), ("flaky",), ("bugs",), ("summary",)):
        assert cli_json("--db", url, *command) == cli_json("--db", f"duckdb:///{tmp_path / 'oracle.duckdb'}", *command)
    # again: every run is stored already; nothing is published, the lake's files stay as they are
    again = cli_json("--db", url, "ingest", str(data / "logs"))
    assert again["runs"] == 0 and partitions(lake) == after
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".lake.")) == [".lake.lock"], \
        "the working copies are removed"


@pytest.mark.parametrize("command", [("reclassify", "--full"), ("disruption", "record"), ("db", "migrate")],
                         ids=["reclassify", "disruption record", "db migrate"])
def test_history_commands_on_a_lake_give_the_lake_of_a_store(data: Path, tmp_path: Path,
                                                               command: tuple[str, ...]) -> None:
    lake = tmp_path / "lake"
    ingest = ("ingest", str(data / "pr-logs"), str(data / "logs"))
    done = cli("--db", f"parquet:///{lake}", "--fingerprints", str(data / "fingerprints"), *ingest)
    assert done.returncode == 0, done.stderr
    fingerprints = tmp_path / "fingerprints"
    shutil.copytree(data / "fingerprints", fingerprints)
    os.remove(sorted(fingerprints.glob("*.yaml"))[0])  # one bug fewer: reclassify has something to do
    done = cli("--db", f"parquet:///{lake}", "--fingerprints", str(fingerprints), *command)
    assert done.returncode == 0, done.stderr
    db = f"duckdb:///{tmp_path / 'oracle.duckdb'}"
    assert cli("--db", db, "--fingerprints", str(data / "fingerprints"), *ingest).returncode == 0
    assert cli("--db", db, "--fingerprints", str(fingerprints), *command).returncode == 0
    cli_json("--db", db, "export", "--parquet", str(tmp_path / "oracle"))
    assert_same_lake(lake, tmp_path / "oracle")


def _run(job: str, build: str, start: datetime | None, status: Status = Status.FAILED) -> Run:
    results = [TestResult(name="t1", classname="c", status=status, failure_message="boom" if status is Status.FAILED else None),
               TestResult(name="t2", classname="c", status=Status.PASSED)]
    return Run(job=job, build=build, status=RunStatus.FAILURE if status is Status.FAILED else RunStatus.SUCCESS,
               started_at=start, results=results)


def _write(url: str, runs: list[Run], *, replace: bool = False) -> None:
    store = connect(url, writable_lake=True)
    try:
        store.write_runs(runs, replace=replace)
    finally:
        store.close()


def test_a_replaced_run_that_moves_day_leaves_no_copy_behind(tmp_path: Path) -> None:
    day1, day2 = datetime(2026, 11, 1, 10), datetime(2026, 11, 3, 10)
    lake = f"parquet:///{tmp_path / 'lake'}"
    store_url = f"duckdb:///{tmp_path / 's.duckdb'}"
    steps: list[tuple[list[Run], bool]] = [
        ([_run("j", "1", day1), _run("j", "2", day1, Status.PASSED), _run("k", "1", None)], False),
        ([_run("j", "1", day2, Status.PASSED)], True),  # build 1 re-ingested: it now started on day 2
        ([_run("k", "1", day1)], True),  # the run without a start gets one: the null partition empties
    ]
    for runs, replace in steps:
        _write(lake, runs, replace=replace)
        store = connect(store_url)
        try:
            store.write_runs(runs, replace=replace)  # the oracle: the same writes on a store
        finally:
            store.close()
    cli_json("--db", store_url, "export", "--parquet", str(tmp_path / "oracle"))
    a, b = lake_rows(tmp_path / "lake"), lake_rows(tmp_path / "oracle")
    assert a == b
    assert sorted((r[1], r[2]) for r in a["runs"]) == [("j", "1"), ("j", "2"), ("k", "1")]
    folders = partitions(tmp_path / "lake", "runs")
    assert sorted(folders) == ["day=2026-11-01/job=j", "day=2026-11-01/job=k", "day=2026-11-03/job=j"]


def test_one_writer_at_a_time_and_a_failure_changes_nothing(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    url = f"parquet:///{lake}"
    _write(url, [_run("j", "1", datetime(2026, 11, 1, 10))])
    before = partitions(lake, "runs")
    first = connect(url, writable_lake=True)
    try:
        with pytest.raises(StoreError, match="being written by another ciscope process"):
            connect(url, writable_lake=True)
        # a job name too long for a partition folder: publishing fails, the lake stays as it was
        first.write_runs([_run("x" * 300, "1", datetime(2026, 11, 2, 10))])
        with pytest.raises(StoreError, match="cannot be a partition of the lake"):
            first.close()
    finally:
        first.discard()
    assert partitions(lake, "runs") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lake.lock", "lake"], "no working copy or staging left"
    # discarded: nothing written is published
    second = connect(url, writable_lake=True)
    second.write_runs([_run("j", "2", datetime(2026, 11, 2, 10))])
    second.discard()
    assert partitions(lake, "runs") == before
    assert [r["build"] for r in cli_json("--db", url, "runs")] == ["1"]


def test_the_lake_engines_urls_write_the_same_lake(data: Path, tmp_path: Path) -> None:
    """``spark://…?lake=`` and ``chdb://`` name the lake a command writes (no JVM is started
    to write: the working copy is DuckDB), and read it back."""
    lake = tmp_path / "lake"
    fingerprints = ("--fingerprints", str(data / "fingerprints"))
    done = cli("--db", f"spark://local[2]?lake={lake}", *fingerprints, "ingest", str(data / "pr-logs"))
    assert done.returncode == 0, done.stderr
    done = cli("--db", f"chdb:///{lake}", *fingerprints, "ingest", str(data / "logs"))
    assert done.returncode == 0, done.stderr
    oracle = on_store_then_export(data, tmp_path, ("ingest", str(data / "pr-logs"), str(data / "logs")))
    a, b = lake_rows(lake), lake_rows(oracle)
    assert a == b
    assert cli_json("--db", f"chdb:///{lake}", "runs", "--limit", "5") == cli_json("--db", f"parquet:///{lake}", "runs",
                                                                                   "--limit", "5")


def test_tokens_and_plain_writes_are_refused_on_a_lake(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    url = f"parquet:///{lake}"
    _write(url, [_run("j", "1", datetime(2026, 11, 1, 10))])
    before = sorted(str(p) for p in lake.rglob("*"))
    done = cli("--db", url, "token", "create", "ci")
    assert done.returncode == 4 and "no API tokens here" in done.stderr and "Traceback" not in done.stderr
    assert sorted(str(p) for p in lake.rglob("*")) == before
    with pytest.raises(StoreError, match="a lake is written only by ciscope's commands"):
        connect(url)  # a library caller's writable connect: no working copy unless asked for


def test_a_folder_that_is_not_a_lake_is_refused(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(UsageError, match="holds no ciscope lake"):
        connect(f"parquet:///{tmp_path / 'mine'}", writable_lake=True)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    assert not (tmp_path / "mine" / MANIFEST).exists()


def test_a_new_lake_is_created_by_db_migrate(tmp_path: Path) -> None:
    lake = tmp_path / "new"
    done = cli("--db", f"parquet:///{lake}", "db", "migrate")
    assert done.returncode == 0, done.stderr
    assert read_manifest(str(lake))["schema_version"] == cli_json("--db", f"parquet:///{lake}", "db", "info")[
        "schema_version"]
    assert cli_json("--db", f"parquet:///{lake}", "runs") == []


def _before_run_timing(lake: Path) -> None:
    """Make ``lake`` what an export before migration 0018 (the run timing summaries) wrote: no
    run_event_summary, run_phases or timing_configs; schema version 16 (DuckDB has no 17)."""
    manifest = read_manifest(str(lake))
    for table in ("run_event_summary", "run_phases", "timing_configs"):
        del manifest["tables"][table]
        shutil.rmtree(lake / table)
    manifest["schema_version"] = 16
    (lake / MANIFEST).write_text(json.dumps(manifest))
    [migrations] = (lake / "schema_migrations").glob("*.parquet")
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_parquet('{migrations}') WHERE version < 18) TO '{migrations}.new' (FORMAT parquet)")
    os.replace(f"{migrations}.new", migrations)


def test_a_lake_of_an_older_schema_is_migrated_and_backfilled_whole(data: Path, tmp_path: Path) -> None:
    """A lake exported before the run timing summaries existed: `db migrate` loads it whole,
    applies the new migration with its backfill over every run's events (as it does on a
    store), and publishes the lake of the newest schema — the export of a store holding the
    same runs. Before that, a read command says to run `db migrate`."""
    db = f"duckdb:///{tmp_path / 'store.duckdb'}"
    assert cli("--db", db, "ingest", str(data / "pr-logs")).returncode == 0
    cli_json("--db", db, "export", "--parquet", str(tmp_path / "oracle"))
    assert lake_rows(tmp_path / "oracle")["run_phases"]  # the demo's runs have lifecycle events
    old = tmp_path / "old"
    shutil.copytree(tmp_path / "oracle", old)
    _before_run_timing(old)
    refused = cli("--db", f"parquet:///{old}", "runs")
    assert refused.returncode != 0 and "schema version 16" in refused.stderr and "db migrate" in refused.stderr
    done = cli("--db", f"parquet:///{old}", "db", "migrate")
    assert done.returncode == 0, done.stderr
    assert read_manifest(str(old))["schema_version"] == read_manifest(str(tmp_path / "oracle"))["schema_version"]
    assert_same_lake(old, tmp_path / "oracle")


def test_an_ingest_loads_the_runs_table_not_the_results(tmp_path: Path) -> None:
    """Writing runs into new partitions reads the lake's runs (to skip or replace), never the
    results of the other partitions: the working copy holds only what is written."""
    lake = tmp_path / "lake"
    url = f"parquet:///{lake}"
    start = datetime(2026, 11, 1, 10)
    _write(url, [_run("j", str(i), start + timedelta(days=i)) for i in range(5)])
    store = connect(url, writable_lake=True)
    try:
        store.write_runs([_run("j", "new", start + timedelta(days=30))])
        con = store.con  # type: ignore[attr-defined]  # the working copy itself, past the load-on-read guard
        assert con.execute("SELECT count(*) FROM runs").fetchone() == (6,)
        assert con.execute("SELECT count(*) FROM test_results").fetchone() == (2,)
        store.close()
    finally:
        store.discard()
    assert len(cli_json("--db", url, "runs")) == 6
    assert len(lake_rows(lake)["test_results"]) == 12


def test_retrigger_run_on_a_lake_logs_and_bounds_as_on_a_store(tmp_path: Path) -> None:
    """`retrigger run` reads the lake's log of earlier retriggers (a table of runs: the whole
    lake is loaded), executes, and publishes its decisions: a second run finds the bound used."""
    from analysis.test_retrigger import Hook, failed_run, fingerprints

    url = f"parquet:///{tmp_path / 'lake'}"
    store = connect(url, writable_lake=True)
    try:
        fingerprints(store, B_retry=True)
        store.write_runs([failed_run("e2e", "1", "c1"), failed_run("e2e", "2", "c2", tests={"t9": None})])
    finally:
        store.close()
    hook = Hook()
    try:
        config = tmp_path / "ciscope.yaml"
        config.write_text(f"retrigger:\n  enabled: true\n  webhook: {{url: '{hook.url}'}}\n  days: 30\n")
        first = cli_json("--db", url, "retrigger", "run", "--config", str(config))
        assert [b["build"] for b in hook.bodies] == ["1"]
        assert [(d["build"], d["decision"], d["response"]) for d in first["decisions"]] == [
            ("1", "retrigger", "HTTP 201"), ("2", "skip", None)]
        (rule,) = cli_json("--db", url, "retrigger", "stats")["rules"]
        assert (rule["rule"], rule["retriggers"]) == ("B-retry", 1)
        again = cli_json("--db", url, "retrigger", "run", "--config", str(config))
        assert [b["build"] for b in hook.bodies] == ["1"], "max_per_run: the lake's log bounds the second run"
        assert [d["decision"] for d in again["decisions"] if d["build"] == "1"] != ["retrigger"]
    finally:
        hook.server.shutdown()


def test_the_working_copy_takes_the_urls_duckdb_settings(tmp_path: Path) -> None:
    """`parquet:///DIR?memory_limit=…` bounds the working copy (its sorts spill beyond it)."""
    store = connect(f"parquet:///{tmp_path / 'lake'}?memory_limit=300MB&threads=1", writable_lake=True)
    try:
        assert store.con.execute("SELECT current_setting('memory_limit'), current_setting('threads')").fetchone() \
            == ("286.1 MiB", 1)  # type: ignore[attr-defined]
    finally:
        store.discard()
    with pytest.raises(UsageError, match="unknown DuckDB setting 'memory'"):
        connect(f"parquet:///{tmp_path / 'lake'}?memory=1GB", writable_lake=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lake.lock"]
