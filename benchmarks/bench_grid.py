"""The job page's grid at TestGrid's big-tab size: 300 runs × 3,000 tests of one job.

Builds (once, cached in benchmarks/_data) the demo history ``ciscope.demo.generate(out,
seed=2, runs_per_job=300, tests_per_job=3000, jobs=1)`` (realistic failure messages) and
ingests it with ``ciscope ingest`` into a DuckDB file. Then measures, median of ``--repeat``:

1. in process, where a grid request's time goes: the runs and verdicts query
   (``job_grid(messages=False)``), the messages query (the rest of ``job_grid``), TestGrid's
   tab summary, ``grid_json`` (the ``/api/grid`` shape) and its orjson encoding, with the
   size of the JSON; the same for the page's compact payload (``grid_page``), cold and from
   the cache;
2. over HTTP (a real ``ciscope serve`` on 127.0.0.1, one client): ``/api/grid/JOB?columns=300``
   (the CLI's JSON), the page's ``/api/grid/JOB?columns=300&format=page`` first (cold) and
   again (cached), and the page shell.

Usage: python benchmarks/bench_grid.py [--runs 300 --tests 3000] [--repeat 3] [--no-http]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def build(db: Path, runs: int, tests: int) -> None:
    from click.testing import CliRunner

    from ciscope.cli import cli
    from ciscope.demo import generate

    folder = DATA / f"grid-demo-{runs}x{tests}"
    if not (folder / "truth.json").exists():
        began = time.perf_counter()
        generate(folder, seed=2, runs_per_job=runs, tests_per_job=tests, jobs=1)
        print(f"  demo written ({time.perf_counter() - began:.0f} s)", file=sys.stderr)
    began = time.perf_counter()
    partial = db.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    result = CliRunner().invoke(cli, ["--db", f"duckdb:///{partial}", "ingest", str(folder), "--workers", "1"],
                                catch_exceptions=False)
    if result.exit_code != 0:
        raise SystemExit(result.output)
    partial.rename(db)
    print(f"  ingested ({time.perf_counter() - began:.0f} s)", file=sys.stderr)


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median seconds of ``repeat`` calls, and the last value."""
    times = []
    value = None
    for _ in range(repeat):
        began = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times), value


def in_process(db: Path, job: str, columns: int, repeat: int) -> list[tuple[str, float, str]]:
    import orjson

    from ciscope.analysis.grid import tab_summary
    from ciscope.analysis.summary import grid_json, job_grid
    from ciscope.store import connect
    from ciscope.web import reports
    from ciscope.web.app import JSON_OPTIONS

    store = connect(f"duckdb:///{db}")
    out: list[tuple[str, float, str]] = []
    t, _ = timed(lambda: job_grid(store, job, columns=columns, messages=False), repeat)
    out.append(("job_grid without messages (runs, verdicts, durations)", t, ""))
    t, grid = timed(lambda: job_grid(store, job, columns=columns), repeat)
    out.append(("job_grid (+ the messages query)", t, f"{len(grid.tests):,} rows × {len(grid.columns)} runs"))
    t, summary = timed(lambda: tab_summary(grid), repeat)
    out.append(("tab_summary", t, ""))
    t, body = timed(lambda: grid_json(grid, summary), repeat)
    out.append(("grid_json", t, ""))
    t, encoded = timed(lambda: orjson.dumps(body, option=JSON_OPTIONS), repeat)
    out.append(("orjson of grid_json", t, f"{len(encoded) / 1e6:.1f} MB"))
    if hasattr(reports, "grid_page"):
        def cold() -> bytes:  # the server caches it per store generation (web/cache.py): this is a miss
            return orjson.dumps(reports.grid_page(store, job, columns=columns), option=JSON_OPTIONS)

        t, encoded = timed(cold, repeat)
        out.append(("grid_page + orjson, cold (page payload)", t, f"{len(encoded) / 1e6:.2f} MB"))
    store.close()
    return out


def http(db: Path, job: str, columns: int, repeat: int) -> list[tuple[str, float, str]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    served = db.with_name("grid-served.duckdb")
    shutil.copy(db, served)
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    server = subprocess.Popen([sys.executable, "-m", "ciscope.cli", "--db", f"duckdb:///{served}", "serve",
                               "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"

    def get(path: str) -> bytes:
        with urllib.request.urlopen(base + path, timeout=600) as answer:
            return bytes(answer.read())

    out: list[tuple[str, float, str]] = []
    try:
        for _ in range(300):
            try:
                get("/api/runs?limit=1")
                break
            except OSError:
                time.sleep(0.2)
        t, body = timed(lambda: get(f"/api/grid/{job}?columns={columns}"), repeat)
        out.append((f"GET /api/grid/JOB?columns={columns} (CLI JSON)", t, f"{len(body) / 1e6:.1f} MB"))
        began = time.perf_counter()
        body = get(f"/api/grid/{job}?columns={columns}&format=page")
        out.append((f"GET /api/grid/JOB?columns={columns}&format=page, first (cold)", time.perf_counter() - began,
                    f"{len(body) / 1e6:.2f} MB"))
        t, _ = timed(lambda: get(f"/api/grid/{job}?columns={columns}&format=page"), repeat)
        out.append(("  the same again (cached)", t, ""))
        t, _ = timed(lambda: get(f"/jobs/{job}?columns={columns}"), repeat)
        out.append(("GET /jobs/JOB (the page shell)", t, ""))
    finally:
        server.terminate()
        server.wait(timeout=30)
        served.unlink(missing_ok=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--tests", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent / "src"))
    DATA.mkdir(exist_ok=True)
    db = DATA / f"grid-{args.runs}x{args.tests}.duckdb"
    if not db.exists():
        print(f"building {db} ...", file=sys.stderr)
        build(db, args.runs, args.tests)
    if args.build_only:
        return
    from ciscope.store import connect

    store = connect(f"duckdb:///{db}")
    job = store.query("SELECT job FROM runs GROUP BY job ORDER BY count(*) DESC LIMIT 1")[0][0]
    results = store.query("SELECT count(*) FROM test_results")[0][0]
    store.close()
    print(f"store: {results:,} test results, job {job}; {uptime()}")
    rows = in_process(db, job, args.runs, args.repeat)
    if not args.no_http:
        rows += http(db, job, args.runs, args.repeat)
    print(f"{'what':<62} {'median s':>9}  note")
    for name, seconds, note in rows:
        print(f"{name:<62} {seconds:9.3f}  {note}")
    print(uptime())


if __name__ == "__main__":
    main()
