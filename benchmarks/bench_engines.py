"""The query layer on every engine, over the same data: DuckDB with hand-written SQL (the
named peer: what `verdict_counts` was before issue 9), DuckDB through Ibis, DuckDB over the
Parquet lake (parquet://), chDB over the lake and Spark local[2] over the lake.

Builds (once, cached in benchmarks/_data) a DuckDB store of ``--runs × --tests`` verdicts
with SQL (runs over 4 jobs and 28 days; 5 % of tests fail 5 % of the time, 2 % flake, 1 %
break in the last week), exports it as a lake, then times three aggregations of
:mod:`ciscope.queries.verdicts` — verdict counts per test, Fisher's basis/sample counts,
TestGrid's flip counts (window functions) — cold (first call, after opening) and warm (best
of ``--repeat``). Every engine's answer is checked against DuckDB's.

Usage: python benchmarks/bench_engines.py [--runs 2000 --tests 500] [--repeat 2] [--skip spark]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
CUT = datetime(2026, 11, 22)

NATIVE = (  # verdict_counts as hand-written DuckDB SQL (analysis/history.py before issue 9)
    "SELECT v.job, v.test, count(*) AS runs,"
    " sum(CASE WHEN v.verdict IN ('failed', 'error') THEN 1 ELSE 0 END) AS failed,"
    " sum(CASE WHEN v.verdict = 'flaky' THEN 1 ELSE 0 END) AS flaked"
    " FROM test_verdicts v JOIN runs r ON r.run_id = v.run_id"
    " WHERE v.verdict <> 'skipped' AND r.status NOT IN ('pending', 'error', 'aborted') AND r.tests > 0"
    " AND NOT (r.failed_tests >= 10 AND r.failed_tests >= 0.5 * r.tests)"
    " AND NOT EXISTS (SELECT 1 FROM explanations x WHERE x.run_id = v.run_id AND x.test = v.test)"
    " GROUP BY v.job, v.test ORDER BY v.job, v.test"
)


def build(db: Path, lake: Path, runs: int, tests: int) -> None:
    from ciscope.store import connect
    from ciscope.store.parquet import export_parquet

    minutes = 28 * 24 * 60 // runs
    with connect(f"duckdb:///{db}") as store:
        store.execute(
            "INSERT INTO runs (run_id, job, build, status, started_at, finished_at, commit_sha, tests, failed_tests,"
            " flaked_tests, ingested_at) SELECT i, 'periodic-job-' || (i % 4), CAST(i AS VARCHAR), 'success',"
            f" TIMESTAMP '2026-11-01' + to_minutes(i * {minutes}), TIMESTAMP '2026-11-01' + to_minutes(i * {minutes} + 60),"
            f" 'sha' || (i // 3), {tests}, 0, 0, TIMESTAMP '2026-12-01' FROM range({runs}) t(i)")
        store.execute(
            "INSERT INTO test_verdicts (run_id, job, test, verdict, attempts, duration, started_at)"
            " SELECT r.run_id, r.job, '[sig-bench] test ' || lpad(CAST(k AS VARCHAR), 5, '0'),"
            " CASE WHEN k % 20 = 0 AND hash(r.run_id * 100000 + k) % 100 < 5 THEN 'failed'"
            "      WHEN k % 50 = 1 AND hash(r.run_id * 100000 + k) % 100 < 3 THEN 'flaky'"
            f"      WHEN k % 100 = 7 AND r.started_at > TIMESTAMP '{CUT:%Y-%m-%d}' THEN 'failed'"
            "      ELSE 'passed' END, 1, 1.0, r.started_at"
            f" FROM runs r, range({tests}) t(k)")
        store.execute("UPDATE runs SET failed_tests = f.n FROM (SELECT run_id, count(*) AS n FROM test_verdicts"
                      " WHERE verdict = 'failed' GROUP BY run_id) f WHERE f.run_id = runs.run_id")
        export_parquet(store, str(lake))


def contenders(db: Path, lake: Path, skip: set[str]) -> list[tuple[str, str]]:
    out = [("duckdb-native-sql", f"duckdb:///{db}"), ("duckdb-ibis", f"duckdb:///{db}"),
           ("parquet-ibis", f"parquet:///{lake}"), ("chdb-ibis", f"chdb:///{lake}"),
           ("spark-ibis", f"spark://local[2]?lake={lake}")]
    return [(name, url) for name, url in out if name.split("-")[0] not in skip]


def timed(fn: Any, repeat: int) -> tuple[float, float, Any]:
    began = time.perf_counter()
    result = fn()
    cold = time.perf_counter() - began
    warm = cold
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        warm = min(warm, time.perf_counter() - began)
    return cold, warm, result


def canonical(table: Any) -> list[tuple[Any, ...]]:
    rows = table.to_pylist()
    return sorted(tuple(int(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
                        for v in row.values()) for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--tests", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip", action="append", default=[], help="engine to leave out: spark, chdb, parquet")
    args = parser.parse_args()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    sys.path.insert(0, str(HERE.parent / "src"))
    from ciscope.queries import verdicts
    from ciscope.queries.verdicts import Selection
    from ciscope.store import connect

    rows = args.runs * args.tests
    DATA.mkdir(exist_ok=True)
    db, lake = DATA / f"engines-{rows}.duckdb", DATA / f"engines-{rows}-lake"
    if not db.exists() or not lake.exists():
        shutil.rmtree(lake, ignore_errors=True)
        db.unlink(missing_ok=True)
        began = time.perf_counter()
        build(db, lake, args.runs, args.tests)
        print(f"built {rows:,} verdicts in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    selection = Selection()
    queries = {
        "verdict_counts": lambda s: verdicts.verdict_counts(s.ibis_table, selection),
        "period_counts": lambda s: verdicts.period_counts(s.ibis_table, selection, CUT),
        "flip_counts": lambda s: verdicts.flip_counts(s.ibis_table, selection),
    }
    load = os.getloadavg()
    results: list[dict[str, Any]] = []
    reference: dict[str, Any] = {}
    for name, url in contenders(db, lake, set(args.skip)):
        began = time.perf_counter()
        store = connect(url, read_only=True)
        opened = time.perf_counter() - began
        for query, build_expr in queries.items():
            if name == "duckdb-native-sql":
                if query != "verdict_counts":
                    continue
                cold, warm, answer = timed(lambda s=store: s.query_arrow(NATIVE), args.repeat)
            else:
                cold, warm, answer = timed(lambda s=store, b=build_expr: s.to_arrow(b(s)), args.repeat)
            got = canonical(answer)
            same = reference.setdefault(query, got) == got
            results.append({"engine": name, "query": query, "open": opened, "cold": cold, "warm": warm,
                            "rows": answer.num_rows, "same": same})
            print(f"{name:18} {query:15} open {opened:6.2f}  cold {cold:7.3f}  warm {warm:7.3f}  "
                  f"rows {answer.num_rows}  same-as-duckdb {same}", file=sys.stderr)
        store.close()
    peer = {r["query"]: r["warm"] for r in results if r["engine"] == "duckdb-ibis"}
    native = next(r["warm"] for r in results if r["engine"] == "duckdb-native-sql")
    print(f"\n{rows:,} verdicts ({args.runs:,} runs × {args.tests} tests, 4 jobs, 28 days); "
          f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, after: "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()) + "\n")
    print("| engine | query | open s | cold s | warm s | vs duckdb-ibis (warm) | same answer |")
    print("|---|---|---:|---:|---:|---:|---|")
    for r in results:
        base = native if r["engine"] == "duckdb-native-sql" else peer[r["query"]]
        ratio = r["warm"] / base if r["engine"] != "duckdb-native-sql" else peer["verdict_counts"] / native
        label = f"{ratio:.2f}×" if r["engine"] != "duckdb-native-sql" else f"ibis / native = {ratio:.2f}×"
        print(f"| {r['engine']} | {r['query']} | {r['open']:.2f} | {r['cold']:.3f} | {r['warm']:.3f} | {label} | "
              f"{'yes' if r['same'] else 'NO'} |")


if __name__ == "__main__":
    main()
