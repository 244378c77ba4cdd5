"""Start-up time of the command line (issue 13: ``ciscope --help`` under 0.15 s).

Runs each command ``--repeat`` times in a fresh interpreter, interleaved with the peer
``python -c pass`` (the interpreter's own start-up, which no change here can remove), like
hyperfine: the median and the fastest wall time of each, its CPU time (user + system: on a
loaded machine the steadier figure), and the load average before and after. It also lists the heavy modules each command imported (none for these: the store's
pyarrow, numpy, scipy, duckdb and psycopg are loaded on first use).

Usage: python benchmarks/bench_cli_startup.py [--repeat 15] [--markdown]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

HEAVY = ("pyarrow", "numpy", "scipy", "duckdb", "psycopg", "pandas")
COMMANDS: dict[str, list[str]] = {
    "python -c pass (peer: the interpreter alone)": ["-c", "pass"],
    "ciscope --help": ["-m", "ciscope.cli", "--help"],
    "ciscope --version": ["-m", "ciscope.cli", "--version"],
    "ciscope ingest --help": ["-m", "ciscope.cli", "ingest", "--help"],
}
PROBE = ("import runpy, sys; sys.argv = ['ciscope', *sys.argv[1:]]\n"
         "try:\n    runpy.run_module('ciscope.cli', run_name='__main__')\n"
         "except SystemExit:\n    pass\n"
         f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)")


def wall(args: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system) of one run. On a loaded machine the CPU
    time is the steadier figure: the wall time includes waiting for a core."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run([sys.executable, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    seconds = time.perf_counter() - began
    now = resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, (now.ru_utime - used.ru_utime) + (now.ru_stime - used.ru_stime)


def heavy(args: list[str]) -> str:
    if args[:2] != ["-m", "ciscope.cli"]:
        return "—"
    done = subprocess.run([sys.executable, "-c", PROBE, *args[2:]], capture_output=True, text=True, check=True)
    line = [x for x in done.stderr.splitlines() if x.startswith("HEAVY")][-1]
    return line.removeprefix("HEAVY ").strip("[]").replace("'", "") or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    before = os.getloadavg()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    cpu: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for argv in COMMANDS.values():  # warm the file cache once
        wall(argv)
    for _ in range(args.repeat):
        for name, argv in COMMANDS.items():
            seconds, used = wall(argv)
            times[name].append(seconds)
            cpu[name].append(used)
    after = os.getloadavg()
    first = next(iter(COMMANDS))
    peer_cpu = statistics.median(cpu[first])
    print(f"load average before {before[0]:.2f} {before[1]:.2f} {before[2]:.2f}, "
          f"after {after[0]:.2f} {after[1]:.2f} {after[2]:.2f}; {args.repeat} runs each, interleaved")
    print("| command | wall median s | wall fastest s | CPU median s | CPU fastest s | CPU − interpreter's s "
          "| heavy modules imported |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, argv in COMMANDS.items():
        median, used = statistics.median(times[name]), statistics.median(cpu[name])
        print(f"| {name} | {median:.3f} | {min(times[name]):.3f} | {used:.3f} | {min(cpu[name]):.3f} "
              f"| {used - peer_cpu:.3f} | {heavy(argv)} |")


if __name__ == "__main__":
    main()
