"""End-to-end ingest benchmark: Prow run folders → DuckDB and → PostgreSQL.

Generates a synthetic history with ``ciscope.demo.generate`` (cached in benchmarks/_data),
then measures, each in its own subprocess (so peak RSS is per contender):

- ``lxml-floor``: a bare lxml iterparse loop over every JUnit file that only counts test
  cases — the parse floor any ingester pays;
- ``pipeline-floor``: the *minimal useful* pipeline (issue 13's peer): the same loop reading
  each test case's suite, name, classname, time (as a float) and its failure/error/skipped
  child with type, message and text into column lists, Arrow tables of ≤ 200,000 rows,
  each appended to a fresh DuckDB file in one transaction — no test ids, attempts, verdicts,
  run rows, dialects or safety limits; and the same pipeline into PostgreSQL (one table without
  indexes in a fresh schema, COPY of Arrow-rendered CSV as ciscope's store does), the peer
  of the PostgreSQL contenders;
- ``ciscope-duckdb``: ``ciscope ingest`` into a fresh DuckDB file;
- ``ciscope-postgres``: ``ciscope ingest`` into a fresh PostgreSQL schema (COPY of Arrow-rendered CSV; see store/postgres.py);
- each with one process (serial) and with ``--workers`` processes (parallel reading);
- a re-ingest of the same tree into the DuckDB file, every run already stored (idempotent:
  runs are recognised from their metadata and their reports not read).

Usage: python benchmarks/bench_ingest.py [--runs-per-job 700] [--jobs 5] [--tests-per-job 300]
       [--postgres postgresql://postgres@127.0.0.1:5432/test] [--skip-postgres] [--workers N]
       [--markdown] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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

PIPELINE = r"""
import gzip, io, os, sys, time
import pyarrow as pa
from lxml import etree
root, target = sys.argv[1], sys.argv[2]
folders = []
for d, dirs, names in os.walk(root):
    dirs.sort()
    files = [os.path.join(d, n) for n in sorted(names)
             if n.startswith("junit") and (n.endswith(".xml") or n.endswith(".xml.gz"))]
    if files:
        folders.append(files)
SCHEMA = pa.schema([("run_id", pa.int64()), ("file", pa.string()), ("suite", pa.string()), ("name", pa.string()),
                    ("classname", pa.string()), ("status", pa.string()), ("duration", pa.float64()),
                    ("failure_type", pa.string()), ("failure_message", pa.string()), ("failure_text", pa.string())])
CREATE = ("CREATE TABLE r (run_id BIGINT, file VARCHAR, suite VARCHAR, name VARCHAR, classname VARCHAR, status VARCHAR,"
          " duration DOUBLE PRECISION, failure_type VARCHAR, failure_message VARCHAR, failure_text VARCHAR)")
if target.startswith("postgresql://"):  # COPY of Arrow-rendered CSV, as ciscope's PostgreSQL store appends
    import psycopg, pyarrow.csv as pacsv
    con = psycopg.connect(target, autocommit=True)
    con.execute(CREATE)
    def write(table):
        options = pacsv.WriteOptions(include_header=False, batch_size=65536)
        with con.transaction(), con.cursor() as cur, cur.copy("COPY r FROM STDIN (FORMAT csv)") as copy:
            for batch in table.to_batches(max_chunksize=65536):
                sink = io.BytesIO()
                pacsv.write_csv(pa.Table.from_batches([batch]), sink, options)
                copy.write(sink.getvalue())
else:
    import duckdb
    con = duckdb.connect(target)
    con.execute(CREATE)
    def write(table):
        con.execute("BEGIN")
        con.register("batch", table)
        con.execute("INSERT INTO r SELECT * FROM batch")
        con.unregister("batch")
        con.execute("COMMIT")
KINDS = {"failure": "failed", "error": "error", "skipped": "skipped"}
t = time.perf_counter()
cols = [[] for _ in SCHEMA]
rid_, file_, suite_, name_, cls_, status_, dur_, type_, msg_, text_ = cols
total = 0
def flush():
    global cols, rid_, file_, suite_, name_, cls_, status_, dur_, type_, msg_, text_, total
    table = pa.Table.from_arrays([pa.array(c, f.type) for c, f in zip(cols, SCHEMA)], schema=SCHEMA)
    write(table)
    total += table.num_rows
    cols = [[] for _ in SCHEMA]
    rid_, file_, suite_, name_, cls_, status_, dur_, type_, msg_, text_ = cols
for rid, files in enumerate(folders):
    for f in files:
        src = gzip.open(f) if f.endswith(".gz") else f
        for _, el in etree.iterparse(src, events=("end",), tag="testcase"):
            seconds = el.get("time")
            status = "passed"
            ftype = message = text = None
            for child in el:
                kind = KINDS.get(child.tag)
                if kind is not None:
                    status, ftype, message, text = kind, child.get("type"), child.get("message"), child.text
                    break
            rid_.append(rid); file_.append(f); suite_.append(el.getparent().get("name")); name_.append(el.get("name"))
            cls_.append(el.get("classname")); status_.append(status); dur_.append(float(seconds) if seconds else None)
            type_.append(ftype); msg_.append(message); text_.append(text)
            el.clear()
            while el.getprevious() is not None:
                del el.getparent()[0]
    if len(rid_) >= 200_000:
        flush()
flush()
elapsed = time.perf_counter() - t
assert con.execute("SELECT count(*) FROM r").fetchone()[0] == total
print(total, elapsed)
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


def contender(code: str, *args: str) -> tuple[int, float, tuple[float, float], float]:
    """(count, seconds, peak RSS MiB (own, largest child), CPU seconds) of a snippet run in a
    fresh interpreter. The CPU time is user + system of the whole process and its worker
    processes, start-up and imports included (~0.3 s): on a loaded machine the steadier figure."""
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrapper = code + ("\nimport resource\nprint(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
                      " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    env = dict(os.environ, PYTHONPATH=str(HERE.parent / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", wrapper, *args], capture_output=True, text=True, check=True, env=env)
    lines = out.stdout.strip().splitlines()
    count, seconds = lines[-2].split()
    own, child = lines[-1].split()
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_seconds = (used.ru_utime - cpu.ru_utime) + (used.ru_stime - cpu.ru_stime)
    return int(count), float(seconds), (int(own) / 1024, int(child) / 1024), cpu_seconds


def ingest_data(jobs: int, runs_per_job: int, tests_per_job: int) -> Path:
    """The Prow run folders of a generated history (``ciscope.demo.generate``, seed 7), made
    once in benchmarks/_data and reused."""
    from ciscope.demo import generate

    out = DATA / f"ingest-{jobs}x{runs_per_job}x{tests_per_job}"
    if not (out / "truth.json").exists():
        shutil.rmtree(out, ignore_errors=True)
        t = time.perf_counter()
        generate(out, seed=7, end=datetime(2026, 11, 1, tzinfo=UTC), jobs=jobs, runs_per_job=runs_per_job,
                 tests_per_job=tests_per_job)
        print(f"generated {out} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=5)
    parser.add_argument("--runs-per-job", type=int, default=700)
    parser.add_argument("--tests-per-job", type=int, default=300)
    parser.add_argument("--postgres", default=os.environ.get("CISCOPE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each contender; the median is shown (default 3)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="worker processes of the parallel contenders (the serial ones use 1)")
    args = parser.parse_args()

    out = ingest_data(args.jobs, args.runs_per_job, args.tests_per_job)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    junit = sum(f.stat().st_size for f in out.rglob("junit*") if f.is_file())

    def fresh_duckdb() -> None:
        for suffix in ("", ".wal"):
            Path(str(db) + suffix).unlink(missing_ok=True)

    def measure(label: str, code: str, *argv: str, setup: Any = None,
                teardown: Any = None) -> tuple[str, int, float, float, tuple[float, float], float]:
        """(label, count, median seconds, best seconds, median peak RSS, median CPU seconds) of
        ``--repeat`` runs."""
        runs = []
        for _ in range(args.repeat):
            extra = setup() if setup else ()
            try:
                runs.append(contender(code, *argv, *extra))
            finally:
                if teardown:
                    teardown(*extra)
        seconds = [r[1] for r in runs]
        rss = (statistics.median(r[2][0] for r in runs), statistics.median(r[2][1] for r in runs))
        print(f"  {label}: {runs[0][0]:,} in {statistics.median(seconds):.2f} s (runs {', '.join(f'{x:.2f}' for x in seconds)}; "
              f"load {os.getloadavg()[0]:.2f})", file=sys.stderr)
        return label, runs[0][0], statistics.median(seconds), min(seconds), rss, statistics.median(r[3] for r in runs)

    db = DATA / "bench.duckdb"
    loads = [os.getloadavg()[0]]
    rows = [measure("lxml-floor (parse only, counts cases)", FLOOR, str(out))]

    def fresh_duckdb_url() -> tuple[()]:
        fresh_duckdb()
        return ()

    rows.append(measure("pipeline-floor (lxml → Arrow → DuckDB, same fields)", PIPELINE, str(out), str(db),
                        setup=fresh_duckdb_url))
    counts = sorted({1, args.workers})

    def plural(workers: int) -> str:
        return f"{workers} process{'es' if workers > 1 else ''}"

    for workers in counts:
        rows.append(measure(f"ciscope ingest → DuckDB, {plural(workers)}", CISCOPE, str(out), f"duckdb:///{db}",
                            str(workers), setup=fresh_duckdb_url))
    label, skipped, seconds, best, rss, cpu = measure(f"re-ingest, all runs stored → DuckDB, {plural(counts[-1])}",
                                                      CISCOPE, str(out), f"duckdb:///{db}", str(counts[-1]))
    rows.append((label.replace("all runs", f"all {skipped:,} runs"), 0, seconds, best, rss, cpu))
    if not args.skip_postgres:
        import psycopg

        def schema_url(*extra: str) -> Any:
            def setup() -> tuple[str, ...]:
                schema = f"bench_{uuid.uuid4().hex[:8]}"
                with psycopg.connect(args.postgres, autocommit=True) as con:
                    con.execute(f"CREATE SCHEMA {schema}")
                sep = "&" if "?" in args.postgres else "?"
                return f"{args.postgres}{sep}options=-csearch_path%3D{schema}", *extra
            return setup

        def drop(url: str, *_extra: str) -> None:
            schema = url.rsplit("%3D", 1)[1]
            with psycopg.connect(args.postgres, autocommit=True) as con:
                con.execute(f"DROP SCHEMA {schema} CASCADE")

        rows.append(measure("pipeline-floor → PostgreSQL (same fields, COPY into one table without indexes)",
                            PIPELINE, str(out), setup=schema_url(), teardown=drop))
        for workers in counts:
            rows.append(measure(f"ciscope ingest → PostgreSQL (COPY), {plural(workers)}", CISCOPE, str(out),
                                setup=schema_url(str(workers)), teardown=drop))
    loads.append(os.getloadavg()[0])
    fresh_duckdb()

    floor, pipeline, pipeline_cpu = rows[0][2], rows[1][2], rows[1][5]
    # each ingest against the minimal pipeline into the same engine (PostgreSQL's server does
    # work DuckDB's embedded engine does not: its own CPU is not in the CPU column)
    postgres_floor = next((row[2] for row in rows if row[0].startswith("pipeline-floor → PostgreSQL")), None)
    same_engine = {row[0]: postgres_floor if postgres_floor and "PostgreSQL" in row[0] else pipeline for row in rows}
    print(f"data: {out.name}: {size / 1e6:.0f} MB on disk ({junit / 1e6:.0f} MB JUnit), {rows[0][1]:,} test cases; "
          f"{os.cpu_count()} cores; median of {args.repeat} runs (best in brackets); load average "
          f"{loads[0]:.2f} before, {loads[1]:.2f} after")
    print("| contender | results | seconds | results/s | peak RSS MiB (main / largest worker) | time vs lxml floor "
          "| time vs pipeline floor | time vs the same engine's pipeline floor | CPU s (all processes) "
          "| CPU vs pipeline floor |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, count, seconds, best, (own, child), cpu in rows:
        memory = f"{own:.0f} / {child:.0f}" if child else f"{own:.0f}"
        rate = f"{count / seconds:,.0f}" if count else "—"
        print(f"| {name} | {count:,} | {seconds:.2f} ({best:.2f}) | {rate} | {memory} | {seconds / floor:.2f}× "
              f"| {seconds / pipeline:.2f}× | {seconds / same_engine[name]:.2f}× | {cpu:.2f} | {cpu / pipeline_cpu:.2f}× |")

if __name__ == "__main__":
    main()
