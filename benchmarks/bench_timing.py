"""Speed of the lifecycle-event statistics (docs/timing.md).

1. Phase statistics for ``--runs`` runs (10 events each, some flash retries) — the device-lab
   note's measurement (ORM 10.88 s, NumPy record arrays 0.52 s for 1,000 runs). Measured in
   this process, best of ``--repeat``:
   - ``ciscope``: :func:`ciscope.analysis.timing.timing_report` on the Arrow tables a query
     returns (conversion included);
   - ``ciscope end-to-end``: :func:`ciscope.queries.timing.timing_stats` on an in-memory DuckDB
     store (the two queries included);
   - ``numpy prototype``: the note's approach — events as a NumPy record array, one pass per run
     (boolean mask of its events, first/last time per phase), then min/max/mean/std per group.
2. ``--big`` events (default 10M: 1M runs × 10) in a DuckDB file built with SQL (cached in
   benchmarks/_data), its per-run summaries written (what ingest does), ``timing_stats`` end
   to end by job and by worker from them, and by job from the events (the read before
   migration 0018: the peer; the reports are checked to be equal).

Usage: python benchmarks/bench_timing.py [--runs 1000] [--repeat 5] [--big 10000000] [--postgres URL --pg-events N]
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
NAMES = ("requested", "queued", "pulled", "flash_start", "flash_end", "boot_start", "boot_end", "test_start",
         "test_end", "results_reported")
T0 = datetime(2026, 11, 1)


def lab_tables(runs: int, seed: int = 7) -> tuple[pa.Table, pa.Table]:
    """Runs and events as a store query returns them: 10 events a run, 5 % with a flash retry."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, runs + 1, dtype=np.int64)
    start = np.sort(rng.uniform(0, 30 * 86400, runs))
    gaps = np.column_stack([np.zeros(runs), rng.uniform(0.5, 2, runs), rng.lognormal(np.log(30), 0.5, runs),
                            rng.uniform(1, 5, runs), rng.lognormal(np.log(300), 0.2, runs), np.zeros(runs),
                            rng.lognormal(np.log(60), 0.2, runs), np.zeros(runs), rng.lognormal(np.log(900), 0.3, runs),
                            rng.uniform(2, 10, runs)])
    times = start[:, None] + np.cumsum(gaps, axis=1)
    run_col, name_col, time_col = [np.repeat(ids, 10)], [np.tile(np.arange(10), runs)], [times.ravel()]
    retry = np.flatnonzero(rng.random(runs) < 0.05)  # an earlier failed flash attempt
    for k in (3, 4):
        run_col.append(ids[retry])
        name_col.append(np.full(len(retry), k))
        time_col.append(times[retry, 3] - 400 + (k - 3) * 100)
    run_ids, names, emitted = np.concatenate(run_col), np.concatenate(name_col), np.concatenate(time_col)
    workers = np.array([f"worker-{w:02d}" for w in range(24)], dtype=object)
    run_worker = rng.integers(0, 24, runs)
    us = (emitted * 1e6).astype(np.int64) + int((T0 - datetime(1970, 1, 1)).total_seconds() * 1e6)
    events = pa.table({
        "run_id": pa.array(run_ids),
        "event": pa.array(np.array(NAMES, dtype=object)[names]),
        "emitted_at": pa.array(us, pa.timestamp("us")),
        "received_at": pa.array(us + rng.integers(0, 500_000, len(us)), pa.timestamp("us")),
        "worker": pa.array(workers[run_worker[np.searchsorted(ids, run_ids)]]),
        "device_group": pa.array(np.array(["n900", "n950", "rx51"], dtype=object)[run_worker[np.searchsorted(ids, run_ids)] % 3]),
        "requestor": pa.array(np.array([f"qa{r}@example.org" for r in range(5)], dtype=object)[run_ids % 5]),
    })
    status = np.where(rng.random(runs) < 0.1, "failure", "success").astype(object)
    runs_table = pa.table({
        "run_id": pa.array(ids), "job": pa.array(np.array(["lab-n900", "lab-n950"], dtype=object)[ids % 2]),
        "build": pa.array(ids.astype(str).astype(object)), "status": pa.array(status),
        "started_at": pa.array((start * 1e6).astype(np.int64) + int((T0 - datetime(1970, 1, 1)).total_seconds() * 1e6),
                               pa.timestamp("us")),
        "worker": pa.array(workers[run_worker]), "reason": pa.nulls(runs, pa.string()),
    })
    return runs_table, events


def numpy_prototype(runs: pa.Table, events: pa.Table) -> dict[tuple[str, str], tuple[float, ...]]:
    """The note's NumPy version: a record array of events, one boolean mask per run."""
    rec = np.rec.fromarrays([events["run_id"].to_numpy(), events["event"].to_numpy(zero_copy_only=False).astype("U20"),
                             events["emitted_at"].cast(pa.int64()).to_numpy() / 1e6], names="run,name,emit")
    ids, jobs = runs["run_id"].to_numpy(), runs["job"].to_numpy(zero_copy_only=False)
    phases = {"queue": ("queued", "pulled"), "provision": ("flash_start", "flash_end"), "boot": ("boot_start", "boot_end"),
              "test": ("test_start", "test_end"), "publish": ("test_end", "results_reported"),
              "total": ("requested", "results_reported")}
    deltas: dict[tuple[str, str], list[float]] = {}
    for rid, job in zip(ids, jobs):
        mine = rec[rec.run == rid]
        for phase, (a, b) in phases.items():
            s, e = mine.emit[mine.name == a], mine.emit[mine.name == b]
            if len(s) and len(e):
                deltas.setdefault((job, phase), []).append(e.max() - s.min())
    return {k: (len(v), float(np.min(v)), float(np.max(v)), float(np.mean(v)), float(np.std(v))) for k, v in deltas.items()}


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        gc.collect()
        began = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - began)
    return min(times), out


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def small(runs: int, repeat: int) -> None:
    from ciscope.analysis.timing import TimingData, timing_report
    from ciscope.queries.timing import timing_stats
    from ciscope.queries.window import Window
    from ciscope.store import connect

    runs_table, events = lab_tables(runs)
    store = connect("duckdb://:memory:")
    store.begin()
    n = runs_table.num_rows
    full = pa.table({"run_id": runs_table["run_id"], "job": runs_table["job"], "build": runs_table["build"],
                     "status": runs_table["status"], "started_at": runs_table["started_at"],
                     "finished_at": runs_table["started_at"], "commit_sha": pa.nulls(n, pa.string()),
                     "branch": pa.nulls(n, pa.string()), "pr": pa.nulls(n, pa.string()), "worker": runs_table["worker"],
                     "url": pa.nulls(n, pa.string()), "variants": pa.array(["{}"] * n), "metadata": pa.array(["{}"] * n),
                     "reason": pa.nulls(n, pa.string()), "source": pa.array(["bench"] * n), "logs": pa.array(["[]"] * n),
                     "tests": pa.array(np.zeros(n, np.int32)), "failed_tests": pa.array(np.zeros(n, np.int32)),
                     "flaked_tests": pa.array(np.zeros(n, np.int32)), "ingested_at": runs_table["started_at"]})
    store.append("runs", full)
    store.append("run_events", events.append_column("iteration", pa.array(np.zeros(events.num_rows, np.int32))))
    store.commit()
    summarise(store)  # what ingest writes with the events: appended here past it
    core, report = best(lambda: timing_report(TimingData.from_arrow(runs_table, events)), repeat)
    e2e, stats = best(lambda: timing_stats(store, Window()), repeat)
    assert stats.runs == runs and stats.to_dict()["phases"] == report.to_dict()["phases"]  # type: ignore[attr-defined]
    proto, ref = best(lambda: numpy_prototype(runs_table, events), max(1, repeat // 2))
    mine = {(r.group, r.phase): r for r in report.phases}  # type: ignore[attr-defined]
    for key, (count, _lo, hi, mean, _std) in ref.items():  # type: ignore[union-attr]
        row = mine[key]
        assert row.count == count and abs(row.mean - mean) < 1e-3 and abs(row.max - hi) < 1e-3, (key, row, count, mean)
    print(f"### {runs:,} runs, {events.num_rows:,} events ({uptime()})\n")
    print("| contender | ms | vs ciscope |\n|---|---:|---:|")
    for name, seconds in (("ciscope (TimingData.from_arrow + timing_report on the raw events)", core), ("ciscope end-to-end (timing_stats: DuckDB in memory, queries + statistics)", e2e),
                          ("NumPy prototype (record array, a mask per run)", proto)):
        print(f"| {name} | {seconds * 1000:.1f} | {seconds / core:.1f}× |")
    print("\nSame counts, means and maxima per (group, phase) as the prototype (checked).\n")


def big(events: int, postgres: str | None, pg_events: int) -> None:
    from ciscope.store import connect

    runs = events // 10
    DATA.mkdir(exist_ok=True)
    path = DATA / f"timing-{events}.duckdb"
    if not path.exists():
        began = time.perf_counter()
        store = connect(f"duckdb:///{path}")
        fill(store, runs)
        store.close()
        print(f"(built {path.name} in {time.perf_counter() - began:.1f} s)")
    began = time.perf_counter()
    store = connect(f"duckdb:///{path}")  # a file of an older schema is migrated (0018 summarises its events)
    opened = time.perf_counter() - began
    print(f"### {events:,} events, {runs:,} runs, DuckDB file ({uptime()})\n")
    measure(store, events, opened)
    store.close()
    if postgres:
        began = time.perf_counter()
        pg = connect(postgres)
        opened = time.perf_counter() - began
        if not pg.query("SELECT count(*) FROM run_events")[0][0]:
            fill(pg, pg_events // 10)
        print(f"\n### {pg_events:,} events, PostgreSQL ({uptime()})\n")
        measure(pg, pg_events, opened)
        pg.close()


def measure(store, events: int, opened: float) -> None:
    """``timing_stats`` (by job, by worker): aggregated by the engine from the per-run summaries
    (:func:`ciscope.queries.timing.engine_report`); the same report computed per run from the
    summaries (:func:`ciscope.queries.timing.summary_data` + NumPy: ``timing_stats`` before the
    engine aggregation) and from the events as before migration 0018
    (:func:`ciscope.queries.timing.timing_data`): the peers. All three are checked equal."""
    from ciscope.analysis.timing import TimingConfig, timing_report
    from ciscope.queries.timing import summary_data, timing_data, timing_now, timing_stats
    from ciscope.queries.window import Window

    summarised = summarise(store)
    print("| command | by | seconds | vs engine |\n|---|---|---:|---:|")
    print(f"| open (+ migration) | | {opened:.2f} | |")
    print(f"| write the summaries of every run (what ingest does for its runs) | | {summarised:.2f} | |")
    results, engine = {}, {}
    config = TimingConfig()
    now = timing_now(store, Window())
    for by in ("job", "worker"):
        seconds, report = best(lambda by=by: timing_stats(store, Window(), by=by), 3)
        assert report.events == events, report.events  # type: ignore[attr-defined]
        results[by], engine[by] = report, seconds
        print(f"| timing_stats (aggregated by the engine from the summaries) | {by} | {seconds:.2f} | 1.00× |")
    for by in ("job", "worker"):
        seconds, report = best(lambda by=by: timing_report(summary_data(store, Window(), config), by=by,  # type: ignore[arg-type]
                                                           config=config, now=now), 2)
        print(f"| per run from the summaries + NumPy (timing_stats before) | {by} | {seconds:.2f} | {seconds / engine[by]:.2f}× |")
        assert report.to_dict() == results[by].to_dict(), "the engine's and the per-run reports differ"  # type: ignore[attr-defined]
    seconds, report = best(lambda: timing_report(timing_data(store, Window(), ("received_at", "requestor"), config=config),
                                                 config=config, now=now), 1)
    print(f"| per run from the events (the read before 0018) | job | {seconds:.2f} | {seconds / engine['job']:.2f}× |")
    assert report.to_dict() == results["job"].to_dict(), "the two reads differ"  # type: ignore[attr-defined]
    print("\nSame report from the engine's aggregation, the summaries per run and the events (checked).\n")


def summarise(store) -> float:
    """(Re)write the per-run summaries of every run from its events — :func:`fill` writes the
    events with SQL, past ingest — and return the seconds it took."""
    from ciscope.store.run_timing import refresh_run_timing

    began = time.perf_counter()
    with store.transaction("summarise the benchmark's events", lock=True):
        store.execute("DELETE FROM run_phases")
        store.execute("DELETE FROM run_event_summary")
        refresh_run_timing(store)
    seconds = time.perf_counter() - began
    if store.name == "postgresql":  # planner statistics of the new rows, as autovacuum gathers them
        store.execute("ANALYZE run_event_summary")
        store.execute("ANALYZE run_phases")
    return seconds


def fill(store, runs: int) -> None:
    """``runs`` runs of 10 events each, generated by the engine itself (SQL over a series)."""
    series = "range(?)" if store.name == "duckdb" else "generate_series(0, ? - 1)"
    alias = "t(i)"
    store.begin()
    store.execute(
        "INSERT INTO runs (run_id, job, build, status, started_at, finished_at, worker, source, ingested_at)"
        f" SELECT i + 1, 'lab-' || (i % 4), CAST(i AS TEXT), CASE WHEN i % 10 = 0 THEN 'failure' ELSE 'success' END,"
        " TIMESTAMP '2026-11-01 00:00:00' + (i * INTERVAL '2 second'), TIMESTAMP '2026-11-01 00:00:00' + (i * INTERVAL '2 second'),"
        f" 'worker-' || (i % 24), 'bench', TIMESTAMP '2026-11-01 00:00:00' FROM {series} AS {alias}", (runs,))
    names = ", ".join(f"'{n}'" for n in NAMES)
    store.execute(
        "INSERT INTO run_events (run_id, event, emitted_at, received_at, worker, device_group, requestor, iteration)"
        f" SELECT r.i + 1, (ARRAY[{names}])[k.j + 1],"
        " TIMESTAMP '2026-11-01 00:00:00' + (r.i * INTERVAL '2 second') + (k.j * (60 + (r.i * 7 + k.j * 13) % 50) * INTERVAL '1 second'),"
        " TIMESTAMP '2026-11-01 00:00:00' + (r.i * INTERVAL '2 second') + (k.j * (60 + (r.i * 7 + k.j * 13) % 50) * INTERVAL '1 second')"
        " + INTERVAL '300 millisecond', 'worker-' || (r.i % 24), 'group-' || (r.i % 3), 'qa' || (r.i % 5) || '@example.org', 0"
        f" FROM {series} AS r(i), {'range(10)' if store.name == 'duckdb' else 'generate_series(0, 9)'} AS k(j)", (runs,))
    store.commit()
    if store.name == "postgresql":  # planner statistics, as autovacuum would gather them on a live store
        store.execute("ANALYZE runs")
        store.execute("ANALYZE run_events")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--big", type=int, default=10_000_000, help="events for the large run (0: skip)")
    parser.add_argument("--postgres", default=os.environ.get("CISCOPE_BENCH_POSTGRES"), help="a PostgreSQL URL (an empty schema)")
    parser.add_argument("--pg-events", type=int, default=1_000_000)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent / "src"))
    small(args.runs, args.repeat)
    if args.big:
        big(args.big, args.postgres, args.pg_events)


if __name__ == "__main__":
    main()
