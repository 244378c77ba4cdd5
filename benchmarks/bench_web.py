"""Load benchmark of ``ciscope serve``: pages and API under 20 concurrent clients, and uploads.

Builds (once, cached in benchmarks/_data by ``bench_analysis.build``, the real write path) a
DuckDB store of ``--jobs × --runs × --tests`` results (default 10 × 300 × 350 = 1,050,000),
copies it, makes an upload token, starts ``python -m ciscope.cli serve`` on 127.0.0.1 and
measures, in this order:

1. HTTP, 1 client: every route once on an empty report cache (cold), then ``--sequential``
   times (warm: served from the cache);
2. HTTP, ``--clients`` threads (http.client, one connection each) over a shuffled list of
   ``--per-route`` requests of every route, stopped after ``--max-seconds``: p50 / p95 / max
   per route, requests per second — warm, nothing written meanwhile;
3. the same clients for ``--mixed-seconds`` while one more client uploads a run every
   ``--upload-interval`` seconds: each upload makes every cached report stale, so this is the
   cold-under-load case;
4. uploads: ``--uploads`` small Prow run folders (one JUnit file of ``--upload-tests`` tests
   each) as tar.gz, posted by ``--clients`` threads: uploads per second;
5. the peers: ``/static/ciscope.css`` in every phase (the server's floor: no store, no
   template), and, in process after the server stopped, the same reports called directly
   through ``ciscope.web.reports`` (what every API route calls) on the same store,
   ``--sequential`` times each — the work without HTTP, JSON encoding, server or cache.

Usage: python benchmarks/bench_web.py [--jobs 10 --runs 300 --tests 350] [--clients 20]
       [--per-route 40] [--max-seconds 300] [--uploads 60] [--mixed-seconds 60 --upload-interval 2]
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
sys.path.insert(0, str(HERE))


def routes(job: str, build: str) -> dict[str, str]:
    """name -> path; pages are their shells, their data comes from the API routes."""
    return {
        "static /static/ciscope.css (floor)": "/static/ciscope.css",
        "page /": "/",
        "page /jobs/{job}": f"/jobs/{job}",
        "page /runs/{build}": f"/runs/{build}?job={job}",
        "page /flaky": "/flaky",
        "GET /api/runs?limit=50": "/api/runs?limit=50",
        "GET /api/tests?job&limit=50": f"/api/tests?job={job}&limit=50",
        "GET /api/grid/{job}": f"/api/grid/{job}",
        "GET /api/summary": "/api/summary",
        "GET /api/flaky?limit=50": "/api/flaky?limit=50",
        "GET /api/regressions?limit=20": "/api/regressions?limit=20",
        "GET /api/triage/{build}?job": f"/api/triage/{build}?job={job}",
        "GET /api/bugs": "/api/bugs",
    }


def peers(job: str, build: str) -> dict[str, Any]:
    """The in-process calls behind each API route (as api.py makes them)."""
    from ciscope.analysis.flakes import FlakeOptions
    from ciscope.analysis.grid import SummaryConfig
    from ciscope.analysis.regressions import RegressionOptions
    from ciscope.queries.window import Window
    from ciscope.web import reports

    return {
        "GET /api/runs?limit=50": lambda s: reports.runs(s, Window(), limit=50),
        "GET /api/tests?job&limit=50": lambda s: reports.tests(s, Window(job=job)),
        "GET /api/grid/{job}": lambda s: reports.grid(s, job, columns=100),
        "GET /api/summary": lambda s: reports.summary(s, Window(), columns=100, config=SummaryConfig()),
        "GET /api/flaky?limit=50": lambda s: reports.flaky(s, Window(), options=FlakeOptions(), show_all=False,
                                                          exclude_known=False),
        "GET /api/regressions?limit=20": lambda s: reports.regressions(s, Window(), options=RegressionOptions(),
                                                                      include_known=False),
        "GET /api/triage/{build}?job": lambda s: reports.run_triage(s, build, Window(job=job)),
        "GET /api/bugs": lambda s: reports.bugs(s, Window(days=10)),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(con: http.client.HTTPConnection, path: str, body: bytes | None = None,
        headers: dict[str, str] | None = None) -> tuple[int, float]:
    began = time.perf_counter()
    con.request("POST" if body is not None else "GET", path, body=body, headers=headers or {})
    answer = con.getresponse()
    answer.read()
    return answer.status, time.perf_counter() - began


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_folder_tgz(job: str, build: int, tests: int) -> bytes:
    cases = "".join(f'<testcase name="upload test {k}" time="0.1"/>' for k in range(tests))
    files = {
        f"{job}/{build}/started.json": json.dumps({"timestamp": 1793000000 + build * 60}),
        f"{job}/{build}/finished.json": json.dumps({"timestamp": 1793000000 + build * 60 + 30, "result": "SUCCESS",
                                                    "passed": True}),
        f"{job}/{build}/artifacts/junit_upload.xml":
            f'<?xml version="1.0"?><testsuite name="u" tests="{tests}">{cases}</testsuite>',
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def concurrent(port: int, work: list[tuple[str, str, bytes | None]], clients: int, max_seconds: float,
               headers: dict[str, str] | None = None) -> tuple[dict[str, list[float]], dict[str, list[int]], float]:
    """``work`` (name, path, body) by ``clients`` threads; latencies and statuses per name, wall time."""
    lock = threading.Lock()
    times: dict[str, list[float]] = defaultdict(list)
    codes: dict[str, list[int]] = defaultdict(list)
    queue = list(reversed(work))
    deadline = time.monotonic() + max_seconds

    def client() -> None:
        con = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        while time.monotonic() < deadline:
            with lock:
                if not queue:
                    break
                name, path, body = queue.pop()
            status, seconds = get(con, path, body, headers)
            with lock:
                times[name].append(seconds)
                codes[name].append(status)
        con.close()

    began = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times, codes, time.perf_counter() - began


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--tests", type=int, default=350)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--per-route", type=int, default=40)
    parser.add_argument("--sequential", type=int, default=3)
    parser.add_argument("--max-seconds", type=float, default=300)
    parser.add_argument("--uploads", type=int, default=60)
    parser.add_argument("--upload-tests", type=int, default=200)
    parser.add_argument("--mixed-seconds", type=float, default=60, help="length of phase 3 (reads while uploading)")
    parser.add_argument("--upload-interval", type=float, default=2.0, help="seconds between uploads in phase 3")
    args = parser.parse_args()

    from bench_analysis import build

    from ciscope.store import connect
    from ciscope.web.tokens import create_token

    DATA.mkdir(exist_ok=True)
    cached = DATA / f"web-{args.jobs}x{args.runs}x{args.tests}.duckdb"
    if not cached.exists():
        print(f"building {cached} ...", file=sys.stderr)
        build(cached.with_suffix(".partial"), args.jobs, args.runs, args.tests)
        cached.with_suffix(".partial").rename(cached)
    work_dir = DATA / "web-run"
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir()
    db = work_dir / "served.duckdb"
    shutil.copy(cached, db)
    store = connect(f"duckdb:///{db}")
    results = store.query("SELECT count(*) FROM test_results")[0][0]
    runs = store.query("SELECT count(*) FROM runs")[0][0]
    job, build_id = store.query("SELECT job, build FROM runs ORDER BY started_at DESC LIMIT 1")[0]
    token = create_token(store, "bench").token
    store.close()
    print(f"store: {runs:,} runs, {results:,} test results; {uptime()}", file=sys.stderr)

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    server = subprocess.Popen([sys.executable, "-m", "ciscope.cli", "--db", f"duckdb:///{db}", "serve",
                               "--port", str(port)], env=env)
    try:
        for _ in range(300):
            try:
                con = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                if get(con, "/api/runs?limit=1")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        table = routes(job, build_id)
        report: dict[str, Any] = {"runs": runs, "results": results, "clients": args.clients,
                                  "uptime_before": uptime()}
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/gzip"}
        upload_no = iter(range(1, 10**6))
        # 1. one client: the first request of each route is cold (nothing cached), the next ones warm
        con = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        cold: dict[str, float] = {}
        single: dict[str, list[float]] = defaultdict(list)
        for name, path in table.items():
            status, cold[name] = get(con, path)
            assert status == 200, (name, status)
            for _ in range(args.sequential):
                status, seconds = get(con, path)
                assert status == 200, (name, status)
                single[name].append(seconds)
        # 2. concurrent clients, warm cache, no writes
        work = [(name, path, None) for name, path in table.items() for _ in range(args.per_route)]
        random.Random(1).shuffle(work)
        times, codes, wall = concurrent(port, work, args.clients, args.max_seconds)
        report["uptime_after_reads"] = uptime()
        bad = {n: [c for c in cs if c != 200] for n, cs in codes.items() if any(c != 200 for c in cs)}
        assert not bad, bad
        done = sum(len(v) for v in times.values())
        # 3. the same clients while one CI worker uploads a run every --upload-interval s: every
        #    upload makes the cached reports stale, so reads after it compute again (cold under load)
        stop_uploads = threading.Event()
        mixed_uploads: list[float] = []

        def uploader() -> None:
            up = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            while not stop_uploads.wait(args.upload_interval):
                body = run_folder_tgz("bench-upload-job", next(upload_no), args.upload_tests)
                status, seconds = get(up, "/api/upload", body, headers)
                assert status == 200, status
                mixed_uploads.append(seconds)

        writer = threading.Thread(target=uploader)
        writer.start()
        work = [(name, path, None) for name, path in table.items() for _ in range(10**4)]
        random.Random(2).shuffle(work)
        try:
            mtimes, mcodes, mwall = concurrent(port, work, args.clients, args.mixed_seconds)
        finally:
            stop_uploads.set()
            writer.join()
        bad = {n: [c for c in cs if c != 200] for n, cs in mcodes.items() if any(c != 200 for c in cs)}
        assert not bad, bad
        mdone = sum(len(v) for v in mtimes.values())
        report["uptime_after_mixed"] = uptime()
        # 4. uploads alone
        bodies = [("upload", "/api/upload", run_folder_tgz("bench-upload-job", next(upload_no), args.upload_tests))
                  for i in range(args.uploads)]
        up_times, up_codes, up_wall = concurrent(port, bodies, args.clients, args.max_seconds, headers)
        assert all(c == 200 for c in up_codes["upload"]), up_codes
        report["uptime_after_uploads"] = uptime()
    finally:
        server.terminate()
        server.wait(timeout=30)
    # 4. the in-process peer
    store = connect(f"duckdb:///{db}")
    peer: dict[str, list[float]] = {}
    for name, fn in peers(job, build_id).items():
        peer[name] = []
        fn(store)  # warm (DuckDB's own caches), as the server's store was
        for _ in range(args.sequential):
            began = time.perf_counter()
            fn(store)
            peer[name].append(time.perf_counter() - began)
    store.close()
    report["uptime_end"] = uptime()

    def ms(v: float) -> str:
        return f"{v * 1000:,.0f} ms"

    def cells(t: list[float]) -> str:
        return f"{ms(pct(t, .5))} | {ms(pct(t, .95))} | {ms(max(t))} | {len(t)}" if t else "— | — | — | 0"

    print(f"\n{runs:,} runs, {results:,} test results (DuckDB); {args.clients} clients; warm: {done} requests in "
          f"{wall:.1f} s = {done / wall:.1f} req/s; with uploads: {mdone} requests in {mwall:.1f} s = "
          f"{mdone / mwall:.1f} req/s, {len(mixed_uploads)} uploads (one every {args.upload_interval:g} s)")
    print(f"| route | 1 client: cold | warm, median | {args.clients} clients, warm: p50 | p95 | max | n | "
          f"{args.clients} clients + uploads: p50 | p95 | max | n | in process (no HTTP, no cache), median |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in table:
        inproc = ms(statistics.median(peer[name])) if name in peer else "—"
        print(f"| `{name}` | {ms(cold[name])} | {ms(statistics.median(single[name]))} | {cells(times.get(name, []))} | "
              f"{cells(mtimes.get(name, []))} | {inproc} |")
    ut = up_times["upload"]
    print(f"\nuploads: {len(ut)} run folders of {args.upload_tests} tests each by {args.clients} clients in "
          f"{up_wall:.1f} s = {len(ut) / up_wall:.2f} uploads/s; latency p50 {ms(pct(ut, .5))}, p95 {ms(pct(ut, .95))}")
    if mixed_uploads:
        print(f"uploads during the mixed phase: p50 {ms(pct(mixed_uploads, .5))}, p95 {ms(pct(mixed_uploads, .95))}")
    for key in ("uptime_before", "uptime_after_reads", "uptime_after_mixed", "uptime_after_uploads", "uptime_end"):
        print(f"{key}: {report[key]}")


if __name__ == "__main__":
    main()
