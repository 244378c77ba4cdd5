"""Ctrl-C at random moments of a parallel ingest (not a speed benchmark: a stress check of
``tests/test_cli_interrupt.py``'s promise, which one test run hits only at a few moments).

Each round starts ``ciscope ingest TREE --workers 2`` into a fresh DuckDB file in its own
session, sleeps a random delay, sends SIGINT to the whole process group (what a terminal's
Ctrl-C does) and waits. It counts the outcomes: exit 130 with one line saying it was interrupted (right),
finished before the interrupt, another exit code (wrong: printed with stderr), and hangs (no
exit within ``--timeout``: dumped with py-spy when installed, then killed).

Usage: python benchmarks/stress_interrupt.py [--rounds 40] [--min 1.0] [--max 3.6] [--timeout 40] [--src DIR]
(the window of delays should cover reading and writing: the ingest of the demo tree takes
~3–5 s on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: the ingest's line (what the batches committed before stored), or the CLI's own
#: "interrupted" when the signal lands outside the batches (start-up, the closing summary)
MESSAGE = "interrupted"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--min", type=float, default=1.0, help="shortest delay before the interrupt (s)")
    parser.add_argument("--max", type=float, default=3.6, help="longest delay (s)")
    parser.add_argument("--timeout", type=float, default=40, help="seconds after the interrupt that count as a hang")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--src", type=Path, default=HERE.parent / "src",
                        help="the ciscope sources to run (e.g. an older commit's, from `git archive`)")
    args = parser.parse_args()
    sys.path.insert(0, str(args.src))
    from ciscope import demo

    random.seed(args.seed)
    env = dict(os.environ, PYTHONPATH=str(args.src))
    outcomes: Counter[str] = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "data"
        demo.generate(tree, seed=5, runs_per_job=150, days=30)  # the interrupt test's tree: 600 run folders
        for i in range(args.rounds):
            db = Path(tmp) / f"r{i}.duckdb"
            # SIGINT handled as at a terminal even when this script runs in the background
            # (a background job inherits SIGINT ignored)
            ingest = subprocess.Popen(
                [sys.executable, "-m", "ciscope.cli", "--db", f"duckdb:///{db}", "ingest", str(tree), "--workers", "2"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, env=env,
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
            delay = random.uniform(args.min, args.max)
            time.sleep(delay)
            if ingest.poll() is not None:
                outcomes["finished before the interrupt"] += 1
                continue
            os.killpg(ingest.pid, signal.SIGINT)
            try:
                _, err = ingest.communicate(timeout=args.timeout)
            except subprocess.TimeoutExpired:
                outcomes["hang"] += 1
                print(f"round {i}, delay {delay:.2f} s: no exit {args.timeout:g} s after the interrupt", flush=True)
                if shutil.which("py-spy"):
                    subprocess.run(["py-spy", "dump", "--pid", str(ingest.pid)], check=False)
                os.killpg(ingest.pid, signal.SIGKILL)
                ingest.communicate()
                continue
            lines = [line for line in err.splitlines() if line.strip()]
            if (ingest.returncode == 130 and lines and lines[-1].startswith(MESSAGE)
                    and "Traceback" not in err and "could not store" not in err):
                outcomes["exit 130, said interrupted"] += 1
            elif ingest.returncode == -signal.SIGINT and lines and "run(s) stored" in lines[-1]:
                outcomes["finished, then killed at exit"] += 1  # the summary was printed: all stored
            else:
                outcomes[f"exit {ingest.returncode}"] += 1
                print(f"round {i}, delay {delay:.2f} s: exit {ingest.returncode}\n{err}", flush=True)
            for path in Path(tmp).glob(f"r{i}.duckdb*"):
                path.unlink()
    print(f"{args.rounds} rounds, delays {args.min:g}–{args.max:g} s:",
          ", ".join(f"{name} {count}" for name, count in outcomes.most_common()))
    sys.exit(1 if outcomes["hang"] or any(k.startswith("exit ") for k in outcomes) else 0)


if __name__ == "__main__":
    main()
