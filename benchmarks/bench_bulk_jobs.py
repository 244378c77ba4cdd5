"""The store's last per-row loops made bulk (issue 9), A/B in one run: the ``jobs`` upsert of an
ingest batch (``Store._upsert_jobs``: one UPDATE or INSERT per job before, one ``update_rows``
and one ``append`` after) and the bounds of ``retrigger plan`` (``retriggers_per_commit`` and
``newest_starts``: one SELECT per (job, commit) before, one grouped query after).

"Before" is a checkout of the base commit (``--before SRC``, e.g. a ``git worktree add
/tmp/bulkbase <base>``), "after" this checkout; each side runs in a child process importing its
own ``src``, on a fresh store per side (a DuckDB file in a temporary folder; with ``--postgres
URL`` also a fresh PostgreSQL schema), the two sides one after the other per engine.

- upsert: ``_upsert_jobs`` of a batch of one run for each of ``--jobs`` jobs, half of them
  known, in a transaction rolled back after (median of ``--repeat``);
- ingest: ``write_runs`` of such a batch (one test result per run), each repetition with new
  builds and its own new half of jobs (median of ``--repeat``);
- plan: ``plan_retriggers`` over ``--commits`` failed runs, each on its own commit (50 jobs), a
  retry fingerprint explaining every tenth and a retrigger logged for every seventh (median of
  ``--repeat``).

Each side prints a digest of the ``jobs`` table after its ingests and of the plan's decisions:
the same on both sides, or the change altered an answer.

Usage: python benchmarks/bench_bulk_jobs.py --before /tmp/bulkbase/src [--jobs 2000] [--commits 5000]
       [--repeat 5] [--postgres postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
T0 = datetime(2026, 11, 1, 12, 0)


def _median(fn: Callable[[int], None], repeat: int) -> float:
    times = []
    for k in range(repeat):
        start = time.perf_counter()
        fn(k)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@contextlib.contextmanager
def _fresh(postgres: str | None) -> Iterator[str]:
    """The URL of an empty store: a DuckDB file, or a new PostgreSQL schema (dropped after)."""
    if postgres is None:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"duckdb:///{tmp}/bench.duckdb"
        return
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{postgres}{'&' if '?' in postgres else '?'}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(postgres, autocommit=True) as con:
            con.execute(f"DROP SCHEMA {schema} CASCADE")


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, default=str, sort_keys=True).encode()).hexdigest()[:12]


def child(postgres: str | None, jobs: int, commits: int, repeat: int) -> dict[str, Any]:
    """One side's figures (this process imports that side's ciscope)."""
    from ciscope.analysis.retrigger import RetriggerConfig, plan_retriggers
    from ciscope.model import Evidence, Run, RunStatus, Status, TestResult
    from ciscope.queries.retrigger import LoggedDecision, log_decisions
    from ciscope.queries.window import Window
    from ciscope.store import connect

    def batch(build: str, new: str) -> list[Run]:
        names = [f"job-{i:05d}" for i in range(jobs // 2)] + [f"job-{new}-{i:05d}" for i in range(jobs - jobs // 2)]
        return [Run(job=name, build=build, status=RunStatus.SUCCESS, started_at=T0 + timedelta(minutes=i),
                    commit=f"c{i}", variants={"platform": "aws", "build": build},
                    results=[TestResult(name="t", status=Status.PASSED)]) for i, name in enumerate(names)]

    out: dict[str, Any] = {}
    with _fresh(postgres) as url:
        store = connect(url)
        store.write_runs(batch("seed", "seed")[: jobs // 2])
        upsert = batch("upsert", "upsert")

        def upsert_once(_k: int) -> None:
            store.begin()
            store._upsert_jobs(upsert)
            store.rollback()

        out["upsert"] = _median(upsert_once, repeat)
        out["ingest"] = _median(lambda k: store.write_runs(batch(f"w{k}", f"w{k}")), repeat)
        out["jobs"] = _digest(store.query("SELECT job, variants, first_seen, last_seen FROM jobs ORDER BY job"))
        store.close()
    with _fresh(postgres) as url:
        store = connect(url)
        store.execute("INSERT INTO fingerprints (bug, title, url, retry, kind, pattern, source, digest, loaded_at,"
                      " test_ids) VALUES ('R', 'R', NULL, TRUE, 'regex', 'boom', 'f.yaml', 'd', ?, '[]')", (T0,))
        runs = [Run(job=f"job-{i % 50:02d}", build=str(i), status=RunStatus.FAILURE, commit=f"c{i:06d}",
                    started_at=T0 + timedelta(seconds=i),
                    evidence=[Evidence("R", "build-log.txt", 1, "boom")] if i % 10 == 0 else [])
                for i in range(commits)]
        for start in range(0, commits, 10_000):
            store.write_runs(runs[start : start + 10_000])
        with store.transaction("log retriggers"):
            log_decisions(store, [LoggedDecision(r.run_id, r.job, r.build, r.commit, "R", "retrigger", "x", None)
                                  for r in runs[::7]], T0)
        decisions: list[Any] = []

        def plan(_k: int) -> None:
            decisions[:] = plan_retriggers(store, Window(since=T0 - timedelta(days=1)), RetriggerConfig()).decisions

        out["plan"] = _median(plan, repeat)
        out["decisions"] = len(decisions)
        out["plan_digest"] = _digest([(d.run_id, d.decision, d.reason, d.rule) for d in decisions])
        store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, help="src folder of the base commit's checkout")
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--commits", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", help="also on PostgreSQL (fresh schemas of this database)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.postgres, args.jobs, args.commits, args.repeat)))
        return
    if args.before is None:
        parser.error("--before SRC (the base commit's src folder) is required")
    sides = {"before": args.before.resolve(), "after": HERE.parent / "src"}
    print(f"load average {open('/proc/loadavg').read().split()[:3]}; {args.jobs:,} jobs, {args.commits:,} commits,"
          f" median of {args.repeat}", file=sys.stderr)
    print("| engine | measure | before | after | speed-up |")
    print("|---|---|---:|---:|---:|")
    for engine, postgres in (("DuckDB", None), ("PostgreSQL", args.postgres)):
        if engine == "PostgreSQL" and postgres is None:
            continue
        got = {}
        for side, src in sides.items():
            command = [sys.executable, __file__, "--child", "--jobs", str(args.jobs), "--commits", str(args.commits),
                       "--repeat", str(args.repeat), *(["--postgres", postgres] if postgres else [])]
            done = subprocess.run(command, check=True, capture_output=True, text=True,
                                  env=dict(os.environ, PYTHONPATH=str(src)))
            got[side] = json.loads(done.stdout.splitlines()[-1])
        b, a = got["before"], got["after"]
        for key, what in (("upsert", f"`_upsert_jobs`, {args.jobs:,} jobs (half known)"),
                          ("ingest", f"`write_runs`, {args.jobs:,} runs of {args.jobs:,} jobs (half known)"),
                          ("plan", f"`retrigger plan`, {args.commits:,} failed runs on {args.commits:,} commits")):
            print(f"| {engine} | {what} | {b[key] * 1000:,.0f} ms | {a[key] * 1000:,.0f} ms"
                  f" | {b[key] / a[key]:,.1f}× |")
        same = b["jobs"] == a["jobs"] and b["plan_digest"] == a["plan_digest"]
        print(f"{engine}: jobs table and {a['decisions']:,} decisions {'identical' if same else 'DIFFER'} before/after;"
              f" load average {open('/proc/loadavg').read().split()[:3]}", file=sys.stderr)


if __name__ == "__main__":
    main()
