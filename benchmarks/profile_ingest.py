"""Where a serial ingest's time goes: cProfile of ``ingest(..., workers=1)`` of one job's run
folders of the ingest benchmark's data (``bench_ingest.py`` generates it in
benchmarks/_data/ingest-5x700x300) into a fresh DuckDB file; prints wall and CPU seconds and the
functions by own time and by cumulative time.

Usage: python benchmarks/profile_ingest.py [--data benchmarks/_data/ingest-5x700x300] [--job 0] [--top 25]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=HERE / "_data" / "ingest-5x700x300")
    parser.add_argument("--job", type=int, default=0, help="which job folder (sorted by name) to ingest")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent / "src"))
    from ciscope.ingest.batch import ingest
    from ciscope.store import connect

    jobs = sorted(p for p in (args.data / "logs").iterdir() if p.is_dir())
    with tempfile.TemporaryDirectory() as tmp:
        store = connect(f"duckdb:///{tmp}/profile.duckdb")
        profile = cProfile.Profile()
        wall, cpu = time.perf_counter(), time.process_time()
        profile.enable()
        report = ingest(store, [jobs[args.job]], workers=1)
        profile.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        store.close()
    print(f"{jobs[args.job].name}: {report.runs} runs, {report.results:,} results; "
          f"wall {wall:.2f} s, CPU {cpu:.2f} s (profiled)")
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumtime").print_stats(args.top * 2)


if __name__ == "__main__":
    main()
