"""Rewriting the structured reasons of many runs (what ``reclassify`` does): one bulk update
(:meth:`ciscope.store.base.Store.update_rows` — DuckDB: UPDATE … FROM the registered Arrow
table; PostgreSQL: COPY into a temporary table, then UPDATE … FROM) against one UPDATE per run
(the base Store's fallback, what ``queries.known.write_reasons`` did before), A/B in one
session. Each write runs in a transaction rolled back after, so every repetition sees the same
store; the figure is the median of ``--repeat``.

Usage: python benchmarks/bench_reasons.py [--url duckdb:///PATH | postgresql://…] [--runs 1000,10000,50000]
                                          [--repeat 5]
Without ``--url`` a DuckDB file in a temporary folder. The store gets ``max(--runs)`` failed
runs (one failed test each; written once, by ``Store.write_runs``) and must be empty.
Prints a Markdown table, ready for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
import pyarrow as pa

from ciscope.model import Run, RunStatus, Status, TestResult
from ciscope.queries.known import stored_reasons, write_reasons
from ciscope.store import connect
from ciscope.store.base import Store


def _timed(store: Store, write: Callable[[], None], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        store.begin()
        start = time.perf_counter()
        write()
        times.append(time.perf_counter() - start)
        store.rollback()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url")
    parser.add_argument("--runs", default="1000,10000,50000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sizes = sorted(int(n) for n in args.runs.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        store = connect(args.url or f"duckdb:///{os.path.join(tmp, 'reasons.duckdb')}")
        t0 = datetime(2026, 1, 1, tzinfo=UTC)
        for start in range(0, sizes[-1], 10_000):
            store.write_runs([Run("e2e", str(i), RunStatus.FAILURE, started_at=t0 + timedelta(minutes=i),
                                  results=[TestResult(name="t", status=Status.FAILED, failure_message=f"boom {i}")])
                              for i in range(start, min(start + 10_000, sizes[-1]))])
        ids = [rid for (rid,) in store.query("SELECT run_id FROM runs ORDER BY run_id")]
        reasons = stored_reasons(store, ids)
        for data in reasons.values():
            data["fingerprint"], data["cluster"] = ["BUG-1"], "rewritten"
        print(f"{store.name}, {len(ids)} failed runs stored; median of {args.repeat}", file=sys.stderr)
        print("| runs rewritten | one UPDATE per run | bulk (`update_rows`) | speed-up |")
        print("|---:|---:|---:|---:|")
        for n in sizes:
            chunk = dict(list(reasons.items())[:n])
            table = pa.table({"run_id": pa.array(list(chunk), pa.int64()),
                              "reason": pa.array([orjson.dumps(d).decode() for d in chunk.values()], pa.string())})
            per_row = _timed(store, lambda t=table: Store.update_rows(store, "runs", t, key="run_id"), args.repeat)
            bulk = _timed(store, lambda c=chunk: write_reasons(store, c), args.repeat)
            print(f"| {n:,} | {per_row * 1000:,.0f} ms | {bulk * 1000:,.0f} ms | {per_row / bulk:,.0f}× |")
        store.close()


if __name__ == "__main__":
    main()
