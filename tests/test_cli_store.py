"""Opening the store from the CLI (issue 8): read commands never create a store, open DuckDB
read-only and never migrate; a store that cannot be written says so in one line; a DuckDB
file another process holds is waited for (bounded), saying what for."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from runfolders import write_run

READ_COMMANDS = [("runs",), ("tests",), ("flaky",), ("clusters",), ("bugs",), ("unclassified",), ("summary",),
                 ("regressions",), ("grid", "periodic-e2e"), ("triage", "1"), ("db", "info")]


def ciscope(*args: str, db: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ciscope.cli", "--db", db, *args], check=False, capture_output=True, text=True,
                          timeout=180, cwd=cwd, env={**os.environ, "COLUMNS": "200", **env})


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def ingest_two_runs(db: str, tmp_path: Path) -> None:
    for build in ("1", "2"):
        write_run(tmp_path / "data", "periodic-e2e", build)
    done = ciscope("ingest", str(tmp_path / "data"), db=db)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: "-".join(c))
def test_read_commands_on_a_missing_duckdb_store(tmp_path: Path, command: tuple[str, ...]) -> None:
    path = tmp_path / "nonexistent" / "dir" / "x.duckdb"
    done = ciscope(*command, db=f"duckdb:///{path}")
    assert done.returncode == 4
    assert one_line(done.stderr).startswith(f"error: no store at {path}")
    assert not (tmp_path / "nonexistent").exists()


def test_missing_store_on_both_engines_then_created_by_a_write(store_url: str, tmp_path: Path) -> None:
    done = ciscope("runs", db=store_url)
    assert done.returncode == 4 and "no store at" in one_line(done.stderr)
    ingest_two_runs(store_url, tmp_path)
    done = ciscope("runs", "--format", "csv", db=store_url)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 3


def test_old_schema_asks_for_db_migrate(store_url: str, tmp_path: Path) -> None:
    from ciscope.store import connect

    ingest_two_runs(store_url, tmp_path)
    with connect(store_url) as store:
        newest = store.schema_version()
        store.execute("DELETE FROM schema_migrations WHERE version = ?", (newest,))
        older = store.schema_version()
    done = ciscope("runs", db=store_url)
    assert done.returncode == 4
    line = one_line(done.stderr)
    assert f"schema version {older}, this ciscope needs {newest}" in line and "ciscope db migrate" in line
    with connect(store_url, migrate=False) as store:  # the read did not migrate
        assert store.schema_version() == older


def _can_mount_read_only() -> str:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return "needs root and unshare to make a read-only mount"
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs none /mnt && mount -o remount,ro /mnt"],
                           check=False, capture_output=True)
    return "" if probe.returncode == 0 else f"cannot make a read-only mount here: {probe.stderr.decode().strip()}"


READ_ONLY_MOUNTS = _can_mount_read_only()


def in_read_only_folder(folder: Path, mountpoint: Path, command: list[str], *, writable_file: str | None = None
                        ) -> subprocess.CompletedProcess[str]:
    """Run ``command`` where ``mountpoint`` shows ``folder`` read-only (optionally with one file
    of it writable: a read-only folder holding a writable store file)."""
    mountpoint.mkdir()
    steps = [f"mount --bind {folder} {mountpoint}", f"mount -o remount,ro,bind {mountpoint}"]
    if writable_file:
        steps.append(f"mount --bind {folder / writable_file} {mountpoint / writable_file}")
    script = " && ".join(steps) + ' && exec "$@"'
    return subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", *command], check=False, capture_output=True, text=True,
                          timeout=180, env={**os.environ, "COLUMNS": "200"})


@pytest.mark.skipif(bool(READ_ONLY_MOUNTS), reason=READ_ONLY_MOUNTS or "-")
def test_store_on_a_read_only_file_system(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    ingest_two_runs(f"duckdb:///{folder / 'c.duckdb'}", tmp_path)
    db = f"duckdb:///{tmp_path / 'ro' / 'c.duckdb'}"
    cli = [sys.executable, "-m", "ciscope.cli", "--db", db]
    read = in_read_only_folder(folder, tmp_path / "ro", [*cli, "runs", "--json"])
    assert read.returncode == 0, read.stderr  # a read-only store file can be queried
    assert '"build": "2"' in read.stdout
    write_run(tmp_path / "more", "periodic-e2e", "3")
    (tmp_path / "ro").rmdir()
    write = in_read_only_folder(folder, tmp_path / "ro", [*cli, "ingest", str(tmp_path / "more")])
    assert write.returncode == 4
    assert "c.duckdb" in one_line(write.stderr)


@pytest.mark.skipif(bool(READ_ONLY_MOUNTS), reason=READ_ONLY_MOUNTS or "-")
def test_writable_store_in_a_read_only_folder(tmp_path: Path) -> None:
    """DuckDB writes its journal (.wal) beside the file: the folder must be writable. Was: two
    tracebacks ("Cannot open file …wal", then "no transaction is active")."""
    folder = tmp_path / "store"
    ingest_two_runs(f"duckdb:///{folder / 'c.duckdb'}", tmp_path)
    db = f"duckdb:///{tmp_path / 'ro' / 'c.duckdb'}"
    write_run(tmp_path / "more", "periodic-e2e", "3")
    done = in_read_only_folder(folder, tmp_path / "ro", [sys.executable, "-m", "ciscope.cli", "--db", db, "ingest",
                                                         str(tmp_path / "more")], writable_file="c.duckdb")
    assert done.returncode == 4
    line = one_line(done.stderr)
    assert "not writable" in line and str(tmp_path / "ro") in line and ".wal" in line


HOLDER = textwrap.dedent("""
    import sys, time
    from ciscope.store import connect
    store = connect(sys.argv[1])          # open for writing, as an ingest does
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
    store.close()
""")


def hold(db: str, seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, db, str(seconds)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    return holder


def test_reads_and_writes_wait_for_a_locked_duckdb_store(tmp_path: Path) -> None:
    db = f"duckdb:///{tmp_path / 'c.duckdb'}"
    ingest_two_runs(db, tmp_path)
    holder = hold(db, 4)
    began = time.monotonic()
    read = ciscope("runs", "--json", db=db, CISCOPE_WAIT="60")
    waited = time.monotonic() - began
    holder.wait(timeout=30)
    assert read.returncode == 0, read.stderr
    assert '"build": "2"' in read.stdout
    assert 1 < waited < 30
    line = one_line(read.stderr)
    assert f"locked by process {holder.pid}" in line and str(tmp_path / "c.duckdb") in line and "--wait" in line

    holder = hold(db, 4)
    write_run(tmp_path / "more", "periodic-e2e", "3")
    ingest = ciscope("ingest", str(tmp_path / "more"), db=db, CISCOPE_WAIT="60")
    holder.wait(timeout=30)
    assert ingest.returncode == 0, ingest.stderr
    assert "waiting up to 60 s" in ingest.stderr and "1 run(s) stored" in ingest.stderr


def test_lock_wait_times_out_with_exit_4(tmp_path: Path) -> None:
    db = f"duckdb:///{tmp_path / 'c.duckdb'}"
    ingest_two_runs(db, tmp_path)
    holder = hold(db, 30)
    try:
        began = time.monotonic()
        done = ciscope("triage", "2", db=db, CISCOPE_WAIT="1")
        assert time.monotonic() - began < 20
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 4
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in done.stderr, done.stderr  # "waiting …", then the error
    assert f"locked by process {holder.pid}" in lines[1] and "gave up after 1 s" in lines[1]
    assert "ciscope serve" in lines[1]
