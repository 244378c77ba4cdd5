"""Readers of a store (DuckDB cursors, PostgreSQL connections) in snapshots, the reader pool,
and the store's generation (both engines)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from ciscope.errors import StoreError
from ciscope.model import Run, RunStatus, Status, TestResult
from ciscope.store.pool import ReaderPool

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


def run(build: int, tests: int = 5) -> Run:
    return Run(job="job", build=str(build), status=RunStatus.SUCCESS, started_at=T0 + timedelta(hours=build),
               results=[TestResult(name=f"t{k}", status=Status.PASSED, duration=1.0) for k in range(tests)])


def count(store) -> int:
    return int(store.query("SELECT count(*) FROM test_results")[0][0])


def test_generation_changes_with_every_write_transaction(store) -> None:
    first = store.generation()
    assert store.generation() == first  # reading does not change it
    store.write_runs([run(1)])
    second = store.generation()
    assert second > first
    store.write_runs([run(1)])  # already stored: still a committed transaction
    assert store.generation() > second
    with pytest.raises(StoreError):
        with store.transaction("fail on purpose"):
            store.execute("DELETE FROM runs")
            raise RuntimeError("boom")
    assert store.query("SELECT count(*) FROM runs")[0][0] == 1  # rolled back, and so was the bump
    assert store.generation() > second


def test_a_reader_keeps_its_snapshot_while_the_store_writes(store) -> None:
    store.write_runs([run(1)])
    reader = store.reader()
    try:
        with reader.snapshot():
            before, generation = count(reader), reader.generation()
            store.write_runs([run(2)])  # commits on the store's own connection meanwhile
            assert (count(reader), reader.generation()) == (before, generation)
            with pytest.raises(Exception, match="read-only"):
                reader.execute("DELETE FROM runs")
        with reader.snapshot():
            assert count(reader) == before + 5 and reader.generation() > generation
    finally:
        reader.close()
    assert count(store) == before + 5


def test_pool_reuses_readers_and_bounds_them(store) -> None:
    pool = ReaderPool(store, 2)
    try:
        with pool.read() as a:
            pass
        with pool.read() as b:
            assert b is a  # reused
        most = []
        lock = threading.Lock()
        out = [0]

        def work() -> None:
            with pool.read() as r:
                with lock:
                    out[0] += 1
                    most.append(out[0])
                count(r)
                with lock:
                    out[0] -= 1

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert max(most) <= 2
    finally:
        pool.close()
    with pytest.raises(StoreError, match="closed"):
        with pool.read():
            pass


def test_pool_drops_a_broken_reader(store) -> None:
    pool = ReaderPool(store, 1)
    try:
        with pytest.raises(Exception, match="closed"):
            with pool.read() as r:
                r.con.close()  # the connection dies under a request
                count(r)
        with pool.read() as fresh:  # a new one replaces it
            assert fresh is not r
            assert count(fresh) == 0
    finally:
        pool.close()
