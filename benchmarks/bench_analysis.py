"""Analysis speed over a large history: `flaky`, `regressions` (and `summary` when present).

Builds (once, cached in benchmarks/_data) a DuckDB store of ``--jobs × --runs × --tests``
verdicts through the real write path (``Store.write_runs``), with flaky tests, regressions
and broken tests mixed in, then times each analysis in this process, cold (first call) and
warm (best of ``--repeat``). The named peer is a plain Python loop doing TestGrid's flip
analysis test by test over the same rows (what summarizers without vectorization do),
measured in the same run.

Usage: python benchmarks/bench_analysis.py [--jobs 10 --runs 1000 --tests 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"


def build(path: Path, jobs: int, runs: int, tests: int, seed: int = 3) -> None:
    from ciscope.model import Run, RunStatus, Status, TestResult
    from ciscope.store import connect

    gc.disable()  # millions of acyclic objects: see ingest/batch.py
    rng = np.random.default_rng(seed)
    store = connect(f"duckdb:///{path}")
    t0 = datetime(2026, 10, 1, tzinfo=timezone.utc)
    names = [f"[sig-bench] test {k:05d} should behave [Suite:openshift/conformance/parallel]" for k in range(tests)]
    statuses = np.array([Status.PASSED, Status.FAILED], dtype=object)
    began = time.perf_counter()
    for j in range(jobs):
        job = f"periodic-bench-job-{j:02d}"
        fail_p = np.zeros(tests)
        flaky = rng.choice(tests, tests // 50, replace=False)
        fail_p[flaky] = rng.uniform(0.02, 0.3, len(flaky))
        broken = rng.choice(tests, 3, replace=False)
        regressed = rng.choice(tests, 5, replace=False)
        change = int(runs * 0.85)
        batch = []
        for i in range(runs):
            p = fail_p.copy()
            p[broken] = 1.0
            if i >= change:
                p[regressed] = 0.9
            failed = rng.random(tests) < p
            status = statuses[failed.astype(int)]
            results = [TestResult(name=n, status=s, duration=1.0) for n, s in zip(names, status)]
            batch.append(Run(job=job, build=str(10_000 + i), status=RunStatus.FAILURE if failed.any() else RunStatus.SUCCESS,
                             started_at=t0 + timedelta(minutes=45 * i), commit=f"c{i // 2}", results=results))
            if len(batch) == 200:
                store.write_runs(batch)
                batch = []
        if batch:
            store.write_runs(batch)
        print(f"  job {j + 1}/{jobs} written ({time.perf_counter() - began:.0f} s)", file=sys.stderr)
    store.close()


def analysis_store(jobs: int, runs: int, tests: int) -> tuple[Path, float | None]:
    """The cached store of ``jobs`` × ``runs`` × ``tests`` (built by :func:`build` when missing)
    and the seconds its build took (None: it was cached)."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"analysis-{jobs}x{runs}x{tests}.duckdb"
    if path.exists():
        return path, None
    print(f"building {path} …", file=sys.stderr)
    began = time.perf_counter()
    build(path, jobs, runs, tests)
    return path, time.perf_counter() - began


def python_flip_peer(store) -> int:
    """TestGrid's flip analyzer, one test at a time in plain Python (the peer)."""
    rows = store.query(
        "SELECT v.job, v.test, v.verdict FROM test_verdicts v JOIN runs r ON r.run_id = v.run_id"
        " WHERE v.verdict <> 'skipped' ORDER BY v.job, v.test, v.started_at DESC"
    )
    flaky = 0
    key, seq = None, []

    def score(seq: list[str]) -> float:
        flips = considered = 0
        last_passing = True
        i = 0
        while i < len(seq):
            if seq[i] == "failed":
                j = i
                while j < len(seq) and seq[j] == "failed":
                    j += 1
                if j - i >= 3:
                    i = j
                    continue
            considered += 1
            if seq[i] == "passed":
                last_passing = True
            elif seq[i] == "flaky":
                flips += 1
                last_passing = True
            else:
                if last_passing:
                    flips += 1
                last_passing = False
            i += 1
        return 100.0 * flips / considered if considered else 0.0

    for job, test, verdict in rows:
        if (job, test) != key:
            if seq and score(seq) > 0:
                flaky += 1
            key, seq = (job, test), []
        seq.append(verdict)
    if seq and score(seq) > 0:
        flaky += 1
    return flaky


def timed(fn, repeat: int) -> tuple[float, float, object]:
    t = time.perf_counter()
    value = fn()
    cold = time.perf_counter() - t
    best = cold
    for _ in range(repeat - 1):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return cold, best, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--tests", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from ciscope.analysis.flakes import flaky_tests
    from ciscope.analysis.regressions import regressions
    from ciscope.store import connect

    path, _ = analysis_store(args.jobs, args.runs, args.tests)
    store = connect(f"duckdb:///{path}")
    results = store.query("SELECT count(*) FROM test_results")[0][0]
    contenders = [
        ("ciscope flaky (all tests, verdicts)", lambda: len(flaky_tests(store, only_flaky=True))),
        ("ciscope regressions (30 d basis, 7 d sample)", lambda: len(regressions(store))),
    ]
    try:
        from ciscope.analysis.summary import job_summaries  # issue 3: TestGrid tab summaries

        contenders.append(("ciscope summary (TestGrid tab status)", lambda: len(job_summaries(store))))
    except ImportError:
        pass
    contenders.append(("peer: per-test Python flip loop (TestGrid flakiness)", lambda: python_flip_peer(store)))
    print(f"store: {path.name}, {results:,} test results, DuckDB, {__import__('os').cpu_count()} cores")
    print("| analysis | cold s | warm s | rows out |")
    print("|---|---:|---:|---:|")
    for name, fn in contenders:
        cold, best, value = timed(fn, args.repeat if not name.startswith("peer") else 1)
        print(f"| {name} | {cold:.2f} | {best:.2f} | {value:,} |", flush=True)


if __name__ == "__main__":
    main()
