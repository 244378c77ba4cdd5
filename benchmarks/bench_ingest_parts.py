"""Where a run folder's reading goes, and what a worker sends back (issue 13).

On one job of the ingest benchmark's data (``bench_ingest.py`` generates it), in this process
with the garbage collector off as ingest runs: the CPU seconds of ``read_run`` over the job's
run folders and of each of its parts (metadata, JUnit reports, disruption artifacts, lifecycle
events), best of ``--repeat``; then the bytes a worker's chunks pickle to, with the text
columns plain and as dictionaries (what ``ciscope.ingest.parallel`` sends).

With ``--subunit DIR``: the CPU seconds of parsing every subunit stream under DIR
(``parse_subunit``) and of turning its records into the columns the store takes
(``ResultColumns.from_records``): what a columnar subunit reader could save at most.

With ``--postgres URL``: one serial ingest of the whole data into a fresh schema, and the
machine's CPU over it (``/proc/stat``) split into the client's (its own rusage) and the rest
(the PostgreSQL server and the kernel's I/O) — run it on a quiet machine.

Usage: python benchmarks/bench_ingest_parts.py [--data benchmarks/_data/ingest-5x700x300] [--job 0] [--repeat 5]
       [--postgres postgresql://postgres@127.0.0.1:5432/test [--drop-index test_verdicts_job_test]]
       [--subunit ../shared/data/subunit-stestr-tacker-unit]
"""

from __future__ import annotations

import argparse
import gc
import os
import pickle
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))


def best_cpu(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.process_time()
        fn()
        times.append(time.process_time() - began)
    return min(times)


def machine_cpu() -> float:
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def postgres_split(data: Path, base: str, drop: Sequence[str] = ()) -> str:
    import psycopg
    from bench_ingest import CISCOPE

    from ciscope.store import connect

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}"
    env = dict(os.environ, PYTHONPATH=str(HERE.parent / "src"))
    try:
        if drop:  # the schema made first, then without these indexes
            connect(url).close()
            with psycopg.connect(url, autocommit=True) as con:
                for index in drop:
                    con.execute(f"DROP INDEX {index}")
        before, cpu, wall = resource.getrusage(resource.RUSAGE_CHILDREN), machine_cpu(), time.perf_counter()
        subprocess.run([sys.executable, "-c", CISCOPE, str(data), url, "1"], check=True, capture_output=True, env=env)
        wall, cpu = time.perf_counter() - wall, machine_cpu() - cpu
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        client = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        with psycopg.connect(url) as con:
            sizes = con.execute("SELECT relname, pg_relation_size(oid) FROM pg_class WHERE relnamespace = %s::regnamespace"
                                " AND relkind IN ('r', 'i') ORDER BY 2 DESC LIMIT 5", (schema,)).fetchall()
    finally:
        with psycopg.connect(base, autocommit=True) as con:
            con.execute(f"DROP SCHEMA {schema} CASCADE")
    without = f" without {', '.join(drop)}" if drop else ""
    return (f"PostgreSQL, serial ingest of {data.name}{without}: wall {wall:.2f} s; machine CPU {cpu:.2f} s = client "
            f"{client:.2f} s + server and kernel {cpu - client:.2f} s (load {os.getloadavg()[0]:.2f}); largest: "
            + ", ".join(f"{name} {size / 2**20:.0f} MiB" for name, size in sizes))


def subunit_columns(folder: Path, repeat: int) -> str:
    from ciscope.errors import InputError
    from ciscope.ingest.subunit import parse_subunit
    from ciscope.model import ResultColumns

    def readable(path: Path) -> bool:  # an stestr repository also holds its "format", "next-stream" …
        try:
            parse_subunit(path)
        except InputError:
            return False
        return True

    streams = [p for p in sorted(folder.rglob("*")) if p.is_file() and readable(p)]
    gc.disable()
    runs = [parse_subunit(p) for p in streams]
    results = sum(len(r.results) for r in runs)
    parse = best_cpu(lambda: [parse_subunit(p) for p in streams], repeat)
    columns = best_cpu(lambda: [ResultColumns.from_records(r.results) for r in runs], repeat)
    return (f"{folder.name}: {len(streams)} subunit streams, {results:,} results; CPU s, best of {repeat} "
            f"(load {os.getloadavg()[0]:.2f})\n  parse_subunit: {parse:.3f} ({parse / results * 1e6:.1f} µs per result)\n"
            f"  records → columns: {columns:.3f} ({columns / results * 1e6:.2f} µs per result, "
            f"{columns / parse:.1%} of the parse)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=HERE / "_data" / "ingest-5x700x300")
    parser.add_argument("--job", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", help="also split a PostgreSQL ingest's CPU between client and server")
    parser.add_argument("--drop-index", default="", help="with --postgres: comma-separated indexes to drop before it")
    parser.add_argument("--subunit", type=Path, help="only: subunit streams under this folder, parse against columns")
    args = parser.parse_args()
    if args.subunit:
        print(subunit_columns(args.subunit, args.repeat))
        return

    import pyarrow as pa

    from ciscope.ingest import prow
    from ciscope.ingest.parallel import CHUNK, read_chunk

    gc.disable()
    job = sorted(p for p in (args.data / "logs").iterdir() if p.is_dir())[args.job]
    folders = sorted(p for p in job.iterdir() if p.is_dir())
    runs = [prow.read_run_metadata(f) for f in folders]
    listed = [prow._read_artifacts(f) for f in folders]
    parts = {
        "read_run (all of it)": lambda: [prow.read_run(f) for f in folders],
        "metadata (read_run_metadata)": lambda: [prow.read_run_metadata(f) for f in folders],
        "JUnit reports and the walk (_read_artifacts)": lambda: [prow._read_artifacts(f) for f in folders],
        "disruption artifacts": lambda: [prow.read_disruption(f, r, found=a[3]) for f, r, a in zip(folders, runs, listed)],
        "lifecycle events": lambda: [prow._events(r, f) for f, r in zip(folders, runs)],
    }
    print(f"{job.name}: {len(folders)} run folders; CPU s, best of {args.repeat} (load {os.getloadavg()[0]:.2f})")
    for name, fn in parts.items():
        print(f"  {name}: {best_cpu(fn, args.repeat):.3f}")

    chunks = [read_chunk(([str(f) for f in folders[i:i + CHUNK]], None)) for i in range(0, len(folders), CHUNK)]
    compact = sum(len(pickle.dumps(c, protocol=5)) for c in chunks)
    for c in chunks:  # the same chunks with their text columns decoded
        assert c.batch is not None
        c.batch.tables = {n: pa.Table.from_arrays([col.cast(col.type.value_type) if pa.types.is_dictionary(col.type) else col
                                                   for col in t.columns], names=t.column_names)
                          for n, t in c.batch.tables.items()}
    plain = sum(len(pickle.dumps(c, protocol=5)) for c in chunks)
    print(f"  a worker's chunks pickled: {plain / 1e6:.1f} MB with plain text columns, {compact / 1e6:.1f} MB as sent")
    if args.postgres:
        print(postgres_split(args.data, args.postgres, [i for i in args.drop_index.split(",") if i]))


if __name__ == "__main__":
    main()
