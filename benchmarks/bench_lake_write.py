"""Writing a Parquet lake (issue 9): what an ingest into a lake costs against the same ingest
into a DuckDB store (the peer), and against the store ingest followed by a full export (the
way a lake was kept current before lakes were writable).

Data: the Prow run folders of ``bench_ingest.py`` (5 jobs × 700 runs × 300 tests, ~1M results,
generated once in benchmarks/_data). The history is every job's runs but its newest
``--new`` builds; those newest builds are the ingest measured. Every contender runs the CLI a
user types, in its own process, on a fresh copy of the history (store file or lake folder):

- ``store``: ``ciscope --db duckdb:///COPY ingest NEW…``
- ``lake``: ``ciscope --db parquet:///COPY ingest NEW…`` (working copy, partitions of the new
  runs rewritten, the others hard-linked)
- ``store + export``: the ``store`` ingest, then ``ciscope export --parquet`` of the whole store
- ``reclassify --full`` on the store and on the lake (a command that reads history: the lake
  is loaded whole into the working copy and published whole)

Usage: python benchmarks/bench_lake_write.py [--new 35] [--history BUILDS] [--ingest-only] [--repeat 3] [--markdown]
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
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from bench_ingest import DATA, ingest_data  # noqa: E402

CISCOPE = [sys.executable, "-m", "ciscope.cli"]
ENV = dict(os.environ, PYTHONPATH=str(HERE.parent / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))


def ciscope(*args: str) -> None:
    done = subprocess.run([*CISCOPE, *args], capture_output=True, text=True, env=ENV, check=False)
    if done.returncode != 0:
        raise SystemExit(f"ciscope {' '.join(args[:4])}… failed ({done.returncode}): {done.stderr[-2000:]}")


def timed(steps: Callable[[], None]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child processes) of ``steps``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    steps()
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def split(root: Path, new: int, keep: int | None = None) -> tuple[list[str], list[str]]:
    """(history folders, newest folders): per job, its newest ``new`` builds are the new ones,
    the ``keep`` builds before them (default: all) the history."""
    history: list[str] = []
    newest: list[str] = []
    for job in sorted((root / "logs").iterdir()):
        builds = sorted((b for b in job.iterdir() if b.is_dir()), key=lambda p: int(p.name))
        older = builds[:-new]
        history += [str(b) for b in (older if keep is None else older[-keep:])]
        newest += [str(b) for b in builds[-new:]]
    return history, newest


def size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--new", type=int, default=35, help="newest builds per job ingested (default 35: 5%%)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep benchmarks/_data/lake-write (to profile)")
    parser.add_argument("--history", type=int, help="builds per job in the history (default: all before the new)")
    parser.add_argument("--ingest-only", action="store_true", help="only the two ingests (store, lake)")
    args = parser.parse_args()

    data = ingest_data(5, 700, 300)
    history, new = split(data, args.new, args.history)
    work = DATA / "lake-write"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    base_db, base_lake = work / "base.duckdb", work / "base-lake"
    fingerprints = data / "fingerprints"
    t = time.perf_counter()
    ciscope("--db", f"duckdb:///{base_db}", "--fingerprints", str(fingerprints), "ingest", *history)
    ciscope("--db", f"duckdb:///{base_db}", "export", "--parquet", str(base_lake))
    print(f"history: {len(history)} runs ingested and exported in {time.perf_counter() - t:.1f} s; "
          f"store {size(base_db) / 2**20:.0f} MiB, lake {size(base_lake) / 2**20:.0f} MiB", file=sys.stderr)

    db, lake, out = work / "copy.duckdb", work / "copy-lake", work / "out-lake"

    def fresh() -> None:
        for path in (lake, out):
            shutil.rmtree(path, ignore_errors=True)
        shutil.copyfile(base_db, db)
        shutil.copytree(base_lake, lake)

    fp = ("--fingerprints", str(fingerprints))
    contenders: list[tuple[str, Callable[[], None]]] = [
        ("store: ingest the new runs", lambda: ciscope("--db", f"duckdb:///{db}", *fp, "ingest", *new)),
        ("lake: ingest the new runs", lambda: ciscope("--db", f"parquet:///{lake}", *fp, "ingest", *new)),
        ("store: ingest, then export the whole store",
         lambda: (ciscope("--db", f"duckdb:///{db}", *fp, "ingest", *new),
                  ciscope("--db", f"duckdb:///{db}", "export", "--parquet", str(out)))[-1]),
        ("store: reclassify --full", lambda: ciscope("--db", f"duckdb:///{db}", *fp, "reclassify", "--full")),
        ("lake: reclassify --full", lambda: ciscope("--db", f"parquet:///{lake}", *fp, "reclassify", "--full")),
    ]
    if args.ingest_only:
        contenders = contenders[:2]
    results = []
    for label, steps in contenders:
        walls, cpus = [], []
        for _ in range(args.repeat):
            fresh()
            wall, cpu = timed(steps)
            walls.append(wall)
            cpus.append(cpu)
        load = os.getloadavg()[0]
        results.append((label, statistics.median(walls), statistics.median(cpus), load))
        print(f"  {label}: {statistics.median(walls):.2f} s (runs {', '.join(f'{w:.2f}' for w in walls)}; "
              f"CPU {statistics.median(cpus):.2f} s; load {load:.2f})", file=sys.stderr)
    # the answer is the same: the lake ingested into equals the store's export
    fresh()
    ciscope("--db", f"duckdb:///{db}", *fp, "ingest", *new)
    ciscope("--db", f"parquet:///{lake}", *fp, "ingest", *new)
    ciscope("--db", f"duckdb:///{db}", "export", "--parquet", str(out))
    for command in (["runs", "--limit", "100000", "--json"], ["flaky", "--json"]):
        a = subprocess.run([*CISCOPE, "--db", f"parquet:///{lake}", *command], capture_output=True, env=ENV, check=True)
        b = subprocess.run([*CISCOPE, "--db", f"duckdb:///{db}", *command], capture_output=True, env=ENV, check=True)
        assert a.stdout == b.stdout, f"{command[0]}: the lake answers differently from the store"

    peer = results[0][1]
    head = f"{len(new)} new runs into a history of {len(history)} runs"
    if args.markdown:
        print(f"{head}\n\n| contender | median s | CPU s | vs store ingest | load |\n|---|---:|---:|---:|---:|")
        for label, wall, cpu, load in results:
            print(f"| {label} | {wall:.2f} | {cpu:.2f} | {wall / peer:.2f}× | {load:.2f} |")
    else:
        print(head)
        for label, wall, cpu, load in results:
            print(f"{label:45} {wall:7.2f} s  CPU {cpu:6.2f} s  {wall / peer:5.2f}×  load {load:.2f}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
