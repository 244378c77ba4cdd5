"""Ctrl-C during a parallel ingest (issue 8): was a KeyboardInterrupt traceback per worker and
a misleading "could not store 720 run(s)". Now: exit 130, one line saying what the batches
committed before the interrupt stored, workers quiet, the store consistent.

A real terminal's Ctrl-C sends SIGINT to the whole foreground process group (the ingest and
its workers); the test does the same with killpg on a process started in its own session.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def group_members(pgid: int) -> int:
    """Live (not zombie) processes in a process group (from /proc)."""
    count = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        count += int(fields[2]) == pgid and fields[0] != "Z"  # fields 3 and 5 of stat: state, process group
    return count


FOLDERS = 1_600  # run folders of the tree


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ciscope import demo

    out = tmp_path_factory.mktemp("big") / "data"
    # 1,600 run folders, ~460k results: ~3 s of parallel ingest here, so "mid-read" (1.5 s after the
    # workers start) is mid-read (600 folders took 1.5 s once the reader got faster: the interrupt
    # came as the ingest exited)
    demo.generate(out, seed=5, runs_per_job=400, days=30)
    return out


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to see the ingest's workers")
@pytest.mark.parametrize("delay", [0.0, 1.5], ids=["while-workers-start", "mid-read"])
def test_ctrl_c_during_parallel_ingest(tree: Path, tmp_path: Path, delay: float) -> None:
    db = f"duckdb:///{tmp_path / 'c.duckdb'}"
    ingest = subprocess.Popen([sys.executable, "-m", "ciscope.cli", "--db", db, "ingest", str(tree), "--workers", "2"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while group_members(ingest.pid) < 4 and ingest.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # until both workers exist (with the ingest and multiprocessing's resource tracker)
    time.sleep(delay)
    assert ingest.poll() is None, "the ingest finished before the interrupt: make the tree bigger"
    os.killpg(ingest.pid, signal.SIGINT)
    began = time.monotonic()
    _, stderr = ingest.communicate(timeout=60)
    assert time.monotonic() - began < 20  # workers stopped, not waited for
    assert ingest.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr and "could not store" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    said = re.match(r"interrupted: (\d+) new run\(s\) stored \(batches committed before the interrupt\); "
                    r"nothing of the batch in progress was stored", lines[0])
    assert said, lines[0]
    deadline = time.monotonic() + 10
    while group_members(ingest.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert group_members(ingest.pid) == 0  # no worker left behind

    from ciscope.store import connect

    with connect(db, read_only=True) as store:
        (runs, results), = store.query("SELECT count(*), coalesce(sum(tests), 0) FROM runs")
        assert runs == int(said.group(1))
        # every stored run is whole: its verdicts are there (a batch is all or nothing)
        (verdicts,), = store.query("SELECT count(*) FROM test_verdicts WHERE verdict <> 'skipped'")
        assert verdicts == results

    if not delay:
        return
    again = subprocess.run([sys.executable, "-m", "ciscope.cli", "--db", db, "ingest", str(tree), "--workers", "2"],
                           check=False, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert f"{FOLDERS - runs} run(s) stored" in again.stderr and f"{runs} already stored" in again.stderr



@pytest.mark.parametrize("method", ["query", "query_arrow", "execute"])
def test_an_interrupted_duckdb_statement_is_a_keyboard_interrupt(method: str) -> None:
    """DuckDB cancels an interrupted statement (Ctrl-C, or ``interrupt()`` as here) and raises an
    ordinary exception (RuntimeError "Query interrupted" in DuckDB 2.0), which would be reported
    as a store failure ("could not store N runs"). The store raises KeyboardInterrupt instead."""
    import threading

    from ciscope.store.duckdb import DuckDBStore

    store = DuckDBStore("duckdb://:memory:")
    timer = threading.Timer(0.5, store.con.interrupt)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            getattr(store, method)("SELECT count(*) FROM range(100000000000) a")
    finally:
        timer.cancel()
        store.close()
