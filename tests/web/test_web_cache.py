"""The report cache (:mod:`ciscope.web.cache`) and :class:`ciscope.web.app.StoreAccess`:
single flight, errors, generations, bounds; cached reports on a real DuckDB store."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ciscope.analysis.stats import list_runs
from ciscope.errors import NotFoundError
from ciscope.model import Run, RunStatus, Status, TestResult
from ciscope.queries.window import Window
from ciscope.web.app import StoreAccess
from ciscope.web.cache import ReportCache


def test_concurrent_identical_requests_compute_once() -> None:
    cache = ReportCache()
    calls = []

    def compute() -> list[int]:
        calls.append(1)
        time.sleep(0.3)
        return [1, 2, 3]

    answers = []
    threads = [threading.Thread(target=lambda: answers.append(cache.get("k", 1, compute))) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and answers == [[1, 2, 3]] * 10
    assert (cache.stats.misses, cache.stats.waits + cache.stats.hits) == (1, 9)
    assert cache.get("k", 1, compute) == [1, 2, 3] and len(calls) == 1


def test_an_error_reaches_every_waiter_and_is_not_kept() -> None:
    cache = ReportCache()
    calls = []

    def fail() -> None:
        calls.append(1)
        time.sleep(0.2)
        raise NotFoundError("x: no such job")

    errors = []

    def ask() -> None:
        try:
            cache.get("k", 1, fail)
        except NotFoundError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=ask) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == ["x: no such job"] * 5 and len(calls) == 1
    with pytest.raises(NotFoundError):
        cache.get("k", 1, fail)
    assert len(calls) == 2


def test_a_newer_generation_drops_older_answers() -> None:
    cache = ReportCache()
    assert cache.get("a", 1, lambda: "old a") == "old a"
    assert cache.get("b", 1, lambda: "old b") == "old b"
    assert cache.get("a", 2, lambda: "new a") == "new a"
    assert cache.stats.entries == 1  # "b" of generation 1 is gone
    assert cache.get("a", 1, lambda: "late") == "late"  # a reader still in an older snapshot: served, not kept
    assert cache.get("a", 1, lambda: "later") == "later"
    assert cache.get("a", 2, lambda: "never") == "new a"


def test_bounded_by_entries_and_bytes() -> None:
    cache = ReportCache(max_entries=3, max_bytes=4000)
    for k in range(5):
        cache.get(k, 1, lambda k=k: [k])
    assert cache.stats.entries == 3 and cache.stats.evictions == 2
    cache.get(2, 1, lambda: "recomputed")  # 2 is kept: least recently used go first
    cache.get(5, 1, lambda: [5])
    assert cache.get(2, 1, lambda: "recomputed") == [2]
    big = "x" * 900
    for k in range(10, 16):
        cache.get(k, 1, lambda: big)
    assert cache.stats.bytes <= 4000
    cache.get("huge", 1, lambda: "y" * 2000)  # over a quarter of the budget: served, not kept
    assert cache.get("huge", 1, lambda: "again") == "again"


def run(build: int) -> Run:
    return Run(job="job", build=str(build), status=RunStatus.SUCCESS,
               started_at=datetime(2026, 11, 1, tzinfo=timezone.utc) + timedelta(hours=build),
               results=[TestResult(name="t", status=Status.PASSED, duration=1.0)])


def test_store_access_caches_until_a_write(tmp_path: Path) -> None:
    access = StoreAccess(f"duckdb:///{tmp_path / 'c.duckdb'}")
    access.open()
    try:
        access.write(lambda store: store.write_runs([run(1)]))
        first = access.cached(list_runs, window=Window(job="job"))
        assert access.cached(list_runs, window=Window(job="job")) is first  # the kept answer
        assert access.cache.stats.hits == 1
        assert len(access.cached(list_runs, window=Window())) == 1  # other parameters: computed
        access.write(lambda store: store.write_runs([run(2)]))
        assert [r["build"] for r in access.cached(list_runs, window=Window(job="job"))] == ["2", "1"]
        with pytest.raises(Exception, match="read-only"):  # reads cannot write
            access.call(lambda store: store.execute("DELETE FROM runs"))
    finally:
        access.close()


def test_a_cold_report_waiting_for_a_turn_computes_the_newest_generation(tmp_path: Path) -> None:
    """One computing turn: a report asked for while it is taken waits, and when a write lands
    meanwhile it computes the store as it is then (one computation, not one per write)."""
    access = StoreAccess(f"duckdb:///{tmp_path / 'c.duckdb'}", computing=1)
    access.open()
    try:
        access.write(lambda store: store.write_runs([run(1)]))
        gate = threading.Event()

        def slow(store: object) -> str:
            gate.wait(60)
            return "slow"

        def until(misses: int) -> None:
            deadline = time.monotonic() + 30
            while access.cache.stats.misses < misses:
                assert time.monotonic() < deadline
                time.sleep(0.01)

        answers: dict[str, object] = {}
        first = threading.Thread(target=lambda: answers.update(slow=access.cached(slow)))
        first.start()
        until(1)  # the one turn is taken
        waiting = [threading.Thread(target=lambda k=k: answers.update({k: access.cached(list_runs, window=Window())}))
                   for k in ("a", "b")]
        for t in waiting:
            t.start()
        until(2)  # "a" or "b" claimed the report at the old generation and waits for the turn
        access.write(lambda store: store.write_runs([run(2)]))
        gate.set()
        for t in (first, *waiting):
            t.join(60)
        assert answers["slow"] == "slow"
        assert [r["build"] for r in answers["a"]] == [r["build"] for r in answers["b"]] == ["2", "1"]  # type: ignore[index]
        assert access.cache.stats.misses == 3  # slow, the claim at the old generation, the newest
        hits = access.cache.stats.hits
        assert [r["build"] for r in access.cached(list_runs, window=Window())] == ["2", "1"]
        assert access.cache.stats.hits == hits + 1  # kept under the newest generation
    finally:
        access.close()


def test_a_light_report_does_not_wait_behind_heavy_ones(tmp_path: Path) -> None:
    """Reports marked light (a list of runs, one run's triage: milliseconds) are computed at
    once on a miss, while the computing turns are all taken by heavy reports."""
    from ciscope.web import reports

    access = StoreAccess(f"duckdb:///{tmp_path / 'c.duckdb'}", computing=1)
    access.open()
    try:
        access.write(lambda store: store.write_runs([run(1)]))
        gate = threading.Event()

        def slow(store: object) -> str:
            gate.wait(60)
            return "slow"

        heavy = threading.Thread(target=lambda: access.cached(slow))
        heavy.start()
        deadline = time.monotonic() + 30
        while access.cache.stats.misses < 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        answer: list[object] = []
        light = threading.Thread(target=lambda: answer.append(access.cached(reports.runs, Window())))
        light.start()
        light.join(30)
        rows, total = answer[0]  # type: ignore[misc]
        assert not light.is_alive() and [r["build"] for r in rows] == ["1"] and total == 1
        assert heavy.is_alive()  # still holding the one turn
        gate.set()
        heavy.join(60)
    finally:
        access.close()
