"""Dashboard-shaped queries at 10 million results (issue 9): what the web pages ask for — one
job's grid (the job page), one test's history (the test page), the overview's summary of every
job, the newest runs — timed on the DuckDB store of ``bench_analysis.py`` (built once, cached
in benchmarks/_data), cold (first call in the process) and warm (best of ``--repeat``), called
directly (the server's report cache is not used: every call computes).

The peer, measured in the same run: the engine floor of each shape — the one SQL statement
that fetches the rows the report is drawn from (as Arrow, nothing computed in Python), so the
ratio is what ciscope adds over the engine.

Usage: python benchmarks/bench_dashboard.py [--jobs 10 --runs 1000 --tests 1000] [--repeat 5] [--markdown]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from bench_analysis import analysis_store  # noqa: E402


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """(cold, best warm) seconds of ``fn``."""
    t = time.perf_counter()
    fn()
    cold = time.perf_counter() - t
    warm = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - t)
    return cold, min(warm)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--tests", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()

    from ciscope.analysis.grid import SummaryConfig
    from ciscope.queries.window import Window
    from ciscope.store import connect
    from ciscope.web import reports

    path, _ = analysis_store(args.jobs, args.runs, args.tests)
    store = connect(f"duckdb:///{path}", read_only=True)
    (results,) = store.query("SELECT count(*) FROM test_results")[0]
    job = "periodic-bench-job-03"
    (test,) = store.query("SELECT test FROM test_verdicts WHERE job = ? AND verdict = 'failed' "
                          "GROUP BY test ORDER BY count(*) DESC, test LIMIT 1", [job])[0]
    newest = ("SELECT run_id FROM runs WHERE job = ? ORDER BY started_at DESC LIMIT 100")

    def floor(sql: str, params: list[Any]) -> Callable[[], Any]:
        return lambda: store.query_arrow(sql, params)  # on the same connection, as Arrow

    cases: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = [
        ("job page grid, newest 100 runs (`/api/grid/JOB?format=page`)",
         lambda: reports.grid_page(store, job, columns=100),
         floor(f"SELECT run_id, test, verdict FROM test_verdicts WHERE run_id IN ({newest})", [job])),
        ("TestGrid grid JSON, newest 100 runs (`/api/grid/JOB`)",
         lambda: reports.grid(store, job, columns=100),
         floor(f"SELECT run_id, test, verdict FROM test_verdicts WHERE run_id IN ({newest})", [job])),
        ("one test's history, 200 runs (`/api/tests/TEST`)",
         lambda: reports.history(store, test, Window(), limit=200),
         floor("SELECT run_id, job, verdict, started_at FROM test_verdicts WHERE test = ?"
               " ORDER BY started_at DESC LIMIT 200", [test])),
        ("overview: every job's summary, 100 runs each (`/api/summary`)",
         lambda: reports.summary(store, Window(), columns=100, config=SummaryConfig()),
         floor("SELECT v.job, v.run_id, v.test, v.verdict FROM test_verdicts v JOIN (SELECT run_id FROM"
               " (SELECT run_id, row_number() OVER (PARTITION BY job ORDER BY started_at DESC) AS n FROM runs)"
               " WHERE n <= 100) r USING (run_id)", [])),
        ("newest 50 runs (`/api/runs?limit=50`)",
         lambda: reports.runs(store, Window(), limit=50),
         floor("SELECT * FROM runs ORDER BY started_at DESC LIMIT 50", [])),
    ]
    load = os.getloadavg()[0]
    rows = []
    for label, ours, peer in cases:
        cold, warm = timed(ours, args.repeat)
        peer_cold, peer_warm = timed(peer, args.repeat)
        rows.append((label, cold, warm, peer_warm, warm / peer_warm))
        print(f"  {label}: cold {cold * 1000:.0f} ms, warm {warm * 1000:.1f} ms; floor {peer_warm * 1000:.1f} ms",
              file=sys.stderr)
    # the IN test of Store.in_list against the list of constants it replaced, on the grid's reads
    (ids,) = zip(*store.query(newest, [job]))
    constants = ",".join("?" * len(ids))
    in_list = [
        ("the grid's verdicts", "SELECT run_id, test, verdict FROM test_verdicts WHERE run_id IN ({})"),
        ("the grid's messages", "SELECT run_id, test, min(failure_message) FROM test_results WHERE status IN "
                                "('failed', 'error', 'skipped') AND run_id IN ({}) GROUP BY run_id, test"),
    ]
    in_rows = []
    marks, params = store.in_list(ids)

    def read(sql: str, values: list[Any]) -> Callable[[], Any]:
        return lambda: store.query_arrow(sql, values)

    for what, sql in in_list:
        _, listed = timed(read(sql.format(marks), params), args.repeat)
        _, spelled = timed(read(sql.format(constants), list(ids)), args.repeat)
        in_rows.append((what, spelled, listed))
    # the overview's cells (every job's newest 100 runs) as rows against grouped by test and
    # verdict, as ciscope.queries.grid.grid_verdict_lists reads them
    from ciscope.queries.facts import job_names
    from ciscope.queries.grid import grid_verdict_lists, grid_verdicts, jobs_runs

    overview_ids = [r.run_id for runs in jobs_runs(store, job_names(store), columns=100).values() for r in runs]
    _, as_rows = timed(lambda: grid_verdicts(store, overview_ids, durations=False), args.repeat)
    _, as_lists = timed(lambda: grid_verdict_lists(store, overview_ids), args.repeat)
    store.close()
    print(f"\n{results:,} results, {args.jobs} jobs × {args.runs} runs × {args.tests} tests; DuckDB file "
          f"{path.stat().st_size / 2**20:.0f} MiB; load average {load:.2f} → {os.getloadavg()[0]:.2f}")
    if args.markdown:
        print(f"\n| query | cold ms | warm ms (best of {args.repeat}) | engine floor ms | warm vs floor | under 100 ms warm? |")
        print("|---|---:|---:|---:|---:|---|")
        for label, cold, warm, peer, ratio in rows:
            print(f"| {label} | {cold * 1000:.0f} | {warm * 1000:.1f} | {peer * 1000:.1f} | {ratio:.1f}× | "
                  f"{'yes' if warm < 0.1 else '**no**'} |")
        print("\n| 100 run ids, warm best ms | IN (?, ?, …): constants | IN (SELECT unnest(?)): Store.in_list |")
        print("|---|---:|---:|")
        for what, spelled, listed in in_rows:
            print(f"| {what} | {spelled * 1000:.1f} | {listed * 1000:.1f} |")
        print(f"\n| the overview's cells ({len(overview_ids):,} runs), warm best ms | as rows (run_id, test, verdict) "
              "| by test and verdict, lists of run ids (`grid_verdict_lists`) |")
        print("|---|---:|---:|")
        print(f"| read as Arrow | {as_rows * 1000:.1f} | {as_lists * 1000:.1f} |")


if __name__ == "__main__":
    main()
