"""End-to-end ingest benchmark: Prow run folders → DuckDB and → PostgreSQL.

Generates a synthetic history with ``ciscope.demo.generate`` (cached in benchmarks/_data),
then measures, each in its own subprocess (so peak RSS is per contender):

- ``lxml-floor``: a bare lxml iterparse loop over every JUnit file that only counts test
  cases — the parse floor any ingester pays (the named peer);
- ``ciscope-duckdb``: ``ciscope ingest`` into a fresh DuckDB file;
- ``ciscope-postgres``: ``ciscope ingest`` into a fresh PostgreSQL schema (COPY of Arrow-rendered CSV; see store/postgres.py);
- each with one process (serial) and with ``--workers`` processes (parallel reading);
- a re-ingest of the same tree into the DuckDB file, every run already stored (idempotent:
  runs are recognised from their metadata and their reports not read).

Usage: python benchmarks/bench_ingest.py [--runs-per-job 700] [--jobs 5] [--tests-per-job 300]
       [--postgres postgresql://postgres@127.0.0.1:5432/test] [--skip-postgres] [--workers N]
       [--markdown]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"

FLOOR = r"""
import gzip, os, sys, time
from lxml import etree
root = sys.argv[1]
files = []
for d, _, names in os.walk(root):
    files += [os.path.join(d, n) for n in names if n.startswith("junit") and (n.endswith(".xml") or n.endswith(".xml.gz"))]
t = time.perf_counter()
cases = 0
for f in files:
    src = gzip.open(f) if f.endswith(".gz") else f
    for _, el in etree.iterparse(src, events=("end",), tag="testcase"):
        cases += 1
        el.clear()
        while el.getprevious() is not None:
            del el.getparent()[0]
print(cases, time.perf_counter() - t)
"""

CISCOPE = r"""
import sys, time
from ciscope.store import connect
from ciscope.ingest.batch import ingest
store = connect(sys.argv[2])
t = time.perf_counter()
report = ingest(store, [sys.argv[1]], workers=int(sys.argv[3]))
elapsed = time.perf_counter() - t
assert not report.refused, report.refused[:3]
print(report.results or report.skipped, elapsed)
"""


def contender(code: str, *args: str) -> tuple[int, float, float]:
    """(count, seconds, peak RSS MiB) of a snippet run in a fresh interpreter."""
    wrapper = code + ("\nimport resource\nprint(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
                      " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    out = subprocess.run([sys.executable, "-c", wrapper, *args], capture_output=True, text=True, check=True)
    lines = out.stdout.strip().splitlines()
    count, seconds = lines[-2].split()
    own, child = lines[-1].split()
    return int(count), float(seconds), (int(own) / 1024, int(child) / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=5)
    parser.add_argument("--runs-per-job", type=int, default=700)
    parser.add_argument("--tests-per-job", type=int, default=300)
    parser.add_argument("--postgres", default=os.environ.get("CISCOPE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="worker processes of the parallel contenders (the serial ones use 1)")
    args = parser.parse_args()

    from ciscope.demo import generate

    out = DATA / f"ingest-{args.jobs}x{args.runs_per_job}x{args.tests_per_job}"
    if not (out / "truth.json").exists():
        shutil.rmtree(out, ignore_errors=True)
        t = time.perf_counter()
        generate(out, seed=7, end=datetime(2026, 11, 1, tzinfo=timezone.utc), jobs=args.jobs,
                 runs_per_job=args.runs_per_job, tests_per_job=args.tests_per_job)
        print(f"generated {out} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    junit = sum(f.stat().st_size for f in out.rglob("junit*") if f.is_file())

    rows = []
    cases, seconds, rss = contender(FLOOR, str(out))  # (own, children) peak
    rows.append(("lxml-floor (parse only, counts cases)", cases, seconds, rss))
    db = DATA / "bench.duckdb"
    for suffix in ("", ".wal"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    counts = sorted({1, args.workers})
    for workers in counts:
        for suffix in ("", ".wal"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        results, seconds, rss = contender(CISCOPE, str(out), f"duckdb:///{db}", str(workers))
        rows.append((f"ciscope ingest → DuckDB, {workers} process{'es' if workers > 1 else ''}", results, seconds, rss))
    skipped, seconds, rss = contender(CISCOPE, str(out), f"duckdb:///{db}", str(counts[-1]))
    rows.append((f"re-ingest, all {skipped:,} runs stored → DuckDB, {counts[-1]} process{'es' if counts[-1] > 1 else ''}",
                 0, seconds, rss))
    if not args.skip_postgres:
        import psycopg

        for workers in counts:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(args.postgres, autocommit=True) as con:
                con.execute(f"CREATE SCHEMA {schema}")
            try:
                sep = "&" if "?" in args.postgres else "?"
                url = f"{args.postgres}{sep}options=-csearch_path%3D{schema}"
                results, seconds, rss = contender(CISCOPE, str(out), url, str(workers))
                rows.append((f"ciscope ingest → PostgreSQL (COPY), {workers} process{'es' if workers > 1 else ''}",
                             results, seconds, rss))
            finally:
                with psycopg.connect(args.postgres, autocommit=True) as con:
                    con.execute(f"DROP SCHEMA {schema} CASCADE")

    floor = rows[0][2]
    print(f"data: {out.name}: {size / 1e6:.0f} MB on disk ({junit / 1e6:.0f} MB JUnit), {rows[0][1]:,} test cases; {os.cpu_count()} cores")
    header = "| contender | results | seconds | results/s | peak RSS MiB (main / largest worker) | time vs lxml floor |"
    print(header)
    print("|---|---:|---:|---:|---:|---:|")
    for name, count, seconds, (own, child) in rows:
        memory = f"{own:.0f} / {child:.0f}" if child else f"{own:.0f}"
        rate = f"{count / seconds:,.0f}" if count else "—"
        print(f"| {name} | {count:,} | {seconds:.2f} | {rate} | {memory} | {seconds / floor:.2f}× |")


if __name__ == "__main__":
    main()
