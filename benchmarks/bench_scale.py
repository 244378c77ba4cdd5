"""How the analyses grow with the history (issue 9): 1M, 10M and 100M results on DuckDB.

Stores are built once (cached in benchmarks/_data) by ``bench_analysis.build`` — jobs × 1,000
runs × 1,000 tests, with flaky, broken and regressed tests mixed in; 1, 10 and 100 jobs — and
each analysis runs as a user runs it: ``ciscope --db 'duckdb:///STORE?memory_limit=LIMIT' CMD
--json`` in its own process, timed end to end (start-up and JSON included), with its peak RSS.
DuckDB is held to ``--memory-limit`` (it spills beyond it), so the peak RSS shows whether memory
stays bounded as the store grows. The growth exponent is the slope of log(time) against
log(results) between the smallest and the largest store.

Peer, same run: ``SELECT count(*) … GROUP BY job, test`` over the verdicts — one scan and a
group-by of the whole history in the same engine, through the same CLI-sized process.

``--engine spark``: the same commands on Spark local[2] (``--db spark://local[2]?lake=DIR``,
driver memory ``CISCOPE_SPARK_MEMORY``, 1 GB by default) over the Parquet lake that ``ciscope
export --parquet`` writes from each store (exported once with the same memory limit, cached
beside it; export time, peak RSS and lake size reported), each command a fresh process starting its JVM, as a user runs it; the
DuckDB figures of the same run are the peer (``--engine both``).

Usage: python benchmarks/bench_scale.py [--jobs 1,10,100] [--memory-limit 2GB] [--engine duckdb|spark|both]
       [--markdown]
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from bench_analysis import analysis_store  # noqa: E402
from bench_lake_write import size as disk_size  # noqa: E402

COMMANDS = [("flaky", ["flaky", "--json"]), ("regressions", ["regressions", "--json"]),
            ("summary", ["summary", "--json"]), ("bugs", ["bugs", "--json"]), ("clusters", ["clusters", "--json"])]
PEER = ("import sys, duckdb; con = duckdb.connect(sys.argv[1], read_only=True, config={'memory_limit': sys.argv[2]});"
        " print(len(con.sql('SELECT job, test, count(*) FROM test_verdicts GROUP BY job, test').fetchall()))")


def run(argv: list[str]) -> tuple[float, float, int]:
    """(seconds, peak RSS MiB, bytes of output) of a command in a fresh process."""
    env = dict(os.environ, PYTHONPATH=str(HERE.parent / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    wrapper = ("import resource, subprocess, sys, time; t = time.perf_counter();"
               " out = subprocess.run(sys.argv[1:], capture_output=True);"
               " sys.stderr.buffer.write(out.stderr[-2000:]) if out.returncode else None;"
               " print(out.returncode, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,"
               " len(out.stdout))")
    done = subprocess.run([sys.executable, "-c", wrapper, *argv], capture_output=True, text=True, env=env, check=True)
    code, seconds, rss, size = done.stdout.split()
    if code != "0":
        raise SystemExit(f"{' '.join(argv)} failed ({code}): {done.stderr}")
    return float(seconds), int(rss) / 1024, int(size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", default="1,10,100", help="store sizes, in jobs of 1M results (default 1,10,100)")
    parser.add_argument("--memory-limit", default="2GB", help="DuckDB's memory_limit for every command (default 2GB)")
    parser.add_argument("--engine", choices=["duckdb", "spark", "both"], default="duckdb")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    sizes = [int(j) for j in args.jobs.split(",")]
    engines = ["duckdb", "spark"] if args.engine == "both" else [args.engine]
    rows: list[tuple[int, str, float, float, int]] = []
    info: list[str] = []
    for jobs in sizes:
        path, built = analysis_store(jobs, 1000, 1000)
        if built is not None:
            info.append(f"{jobs * 1_000_000:,} results built in {built:.0f} s "
                        f"(peak RSS of this process so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)")
        size = path.stat().st_size / 2**20
        info.append(f"{jobs * 1_000_000:,} results: DuckDB file {size:,.0f} MiB")
        urls = {"duckdb": f"duckdb:///{path}?memory_limit={args.memory_limit}"}
        if "spark" in engines:
            lake = path.with_suffix(".lake")
            if not (lake / "_ciscope_lake.json").exists():
                seconds, rss, _ = run([sys.executable, "-m", "ciscope.cli", "--db",
                                       f"duckdb:///{path}?memory_limit={args.memory_limit}", "export",
                                       "--parquet", str(lake)])
                info.append(f"{jobs * 1_000_000:,} results: lake exported in {seconds:.0f} s (peak RSS {rss:.0f} MiB)")
            info.append(f"{jobs * 1_000_000:,} results: lake {disk_size(lake) / 2**20:,.0f} MiB")
            urls["spark"] = f"spark://local[2]?lake={lake}"
        for engine in engines:
            for name, argv in COMMANDS:
                label = name if engine == "duckdb" else f"{name} (spark)"
                seconds, rss, out = run([sys.executable, "-m", "ciscope.cli", "--db", urls[engine], *argv])
                rows.append((jobs, label, seconds, rss, out))
                print(f"  {jobs * 1_000_000:>11,} {label}: {seconds:.2f} s, peak RSS {rss:.0f} MiB, {out:,} bytes out "
                      f"(load {os.getloadavg()[0]:.2f})", file=sys.stderr)
        if "duckdb" in engines:
            seconds, rss, out = run([sys.executable, "-c", PEER, str(path), args.memory_limit])
            rows.append((jobs, "peer: one GROUP BY job, test over the verdicts", seconds, rss, out))
            print(f"  {jobs * 1_000_000:>11,} peer: {seconds:.2f} s, peak RSS {rss:.0f} MiB", file=sys.stderr)
    print("\n".join(info))
    print(f"load average at the end {os.getloadavg()[0]:.2f}; memory_limit {args.memory_limit}")
    if args.markdown:
        names = list(dict.fromkeys(n for _, n, *_ in rows))
        head = " | ".join(f"{j * 1_000_000:,} results: s (peak RSS MiB)" for j in sizes)
        print(f"\n| command | {head} | growth exponent |")
        print("|---|" + "---:|" * len(sizes) + "---:|")
        for name in names:
            found = {j: (s, r) for j, n, s, r, _ in rows if n == name}
            cells = " | ".join(f"{found[j][0]:.2f} ({found[j][1]:.0f})" for j in sizes)
            lo, hi = sizes[0], sizes[-1]
            slope = (math.log(found[hi][0] / found[lo][0]) / math.log(hi / lo)) if hi != lo else float("nan")
            print(f"| `{name}` | {cells} | {slope:.2f} |" if not name.startswith("peer") else f"| {name} | {cells} | {slope:.2f} |")


if __name__ == "__main__":
    main()
