"""Where a run folder's reading goes, and what a worker sends back (issue 13).

On one job of the ingest benchmark's data (``bench_ingest.py`` generates it), in this process
with the garbage collector off as ingest runs: the CPU seconds of ``read_run`` over the job's
run folders and of each of its parts (metadata, JUnit reports, disruption artifacts, lifecycle
events), best of ``--repeat``; then the bytes a worker's chunks pickle to, with the text
columns plain and as dictionaries (what ``ciscope.ingest.parallel`` sends).

With ``--postgres URL``: one serial ingest of the whole data into a fresh schema, and the
machine's CPU over it (``/proc/stat``) split into the client's (its own rusage) and the rest
(the PostgreSQL server and the kernel's I/O) — run it on a quiet machine.

Usage: python benchmarks/bench_ingest_parts.py [--data benchmarks/_data/ingest-5x700x300] [--job 0] [--repeat 5]
       [--postgres postgresql://postgres@127.0.0.1:5432/test]
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
from collections.abc import Callable
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


def postgres_split(data: Path, base: str) -> str:
    import psycopg
    from bench_ingest import CISCOPE

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    env = dict(os.environ, PYTHONPATH=str(HERE.parent / "src"))
    try:
        before, cpu, wall = resource.getrusage(resource.RUSAGE_CHILDREN), machine_cpu(), time.perf_counter()
        subprocess.run([sys.executable, "-c", CISCOPE, str(data), f"{base}{sep}options=-csearch_path%3D{schema}", "1"],
                       check=True, capture_output=True, env=env)
        wall, cpu = time.perf_counter() - wall, machine_cpu() - cpu
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        client = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    finally:
        with psycopg.connect(base, autocommit=True) as con:
            con.execute(f"DROP SCHEMA {schema} CASCADE")
    return (f"PostgreSQL, serial ingest of {data.name}: wall {wall:.2f} s; machine CPU {cpu:.2f} s = client "
            f"{client:.2f} s + server and kernel {cpu - client:.2f} s (load {os.getloadavg()[0]:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=HERE / "_data" / "ingest-5x700x300")
    parser.add_argument("--job", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", help="also split a PostgreSQL ingest's CPU between client and server")
    args = parser.parse_args()

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
        print(postgres_split(args.data, args.postgres))


if __name__ == "__main__":
    main()
