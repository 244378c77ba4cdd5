"""Disruption baselines over 10 million per-run backend rows (issue 11: goal < 3 s on DuckDB).

Builds (once, cached in benchmarks/_data) a DuckDB store whose ``disruption_runs`` and
``disruption_seconds`` tables hold ``--runs`` runs × ``--backends`` backends, appended in bulk
as Arrow tables through ``Store.append`` (the ingest's write path, without parsing 200,000 run
folders): 48 job types (2 releases × upgrade or not × 4 platforms × 3 topologies), start times
over 30 days, MasterNodesUpdated "Y" in 90 % of runs, 75 % of rows 0 s and the rest log-normal.

Times ``disruption_baselines(store, days=30)`` — DuckDB's fast path and the portable SQL — (every key's P50/P75/P95/P99, mean and runs, with
upstream's MasterNodesUpdated filter), cold and warm (best of ``--repeat``). The peer is NumPy
over the same rows already in memory: group codes, one ``lexsort`` by (group, seconds), then
every group's four percentiles by index arithmetic — the fastest in-process way we know — and
its numbers are checked equal to the engine's.

Usage: python benchmarks/bench_disruption.py [--runs 200000 --backends 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
START = datetime(2026, 10, 1)


def build(path: Path, runs: int, backends: int, seed: int = 11) -> None:
    from ciscope.store import connect
    from ciscope.store.disruption import RUNS_SCHEMA, SECONDS_SCHEMA

    rng = np.random.default_rng(seed)
    store = connect(f"duckdb:///{path}")
    releases = np.array(["4.18", "4.19"])
    platforms = np.array(["aws", "gcp", "azure", "metal"])
    topologies = np.array(["ha", "single", "dual"])
    rel = releases[rng.integers(0, 2, runs)]
    upgrade = rng.random(runs) < 0.5
    from_release = np.where(upgrade, np.where(rel == "4.19", "4.18", "4.17"), "")
    run_ids = np.arange(1, runs + 1, dtype=np.int64)
    started = np.datetime64(START) + (rng.random(runs) * 30 * 86400 * 1e6).astype("timedelta64[us]")
    run_table = pa.table({
        "run_id": run_ids, "job": pa.array([f"bench-job-{i % 97}" for i in range(runs)]),
        "started_at": pa.array(started, pa.timestamp("us")), "release": rel, "from_release": from_release,
        "platform": platforms[rng.integers(0, 4, runs)], "architecture": np.full(runs, "amd64"),
        "network": np.full(runs, "ovn"), "topology": topologies[rng.integers(0, 3, runs)],
        "master_nodes_updated": np.where(rng.random(runs) < 0.9, "Y", "N"),
        "disruption_files": np.full(runs, 2, np.int32), "alert_files": np.zeros(runs, np.int32),
    }, schema=RUNS_SCHEMA)
    names = np.array([f"backend-{k:02d}-{'new' if k % 2 else 'reused'}-connections" for k in range(backends)])
    store.begin()
    store.append("disruption_runs", run_table)
    step = 20_000
    for lo in range(0, runs, step):
        ids = np.repeat(run_ids[lo:lo + step], backends)
        n = len(ids)
        hit = rng.random(n) < 0.25
        seconds = np.where(hit, np.ceil(np.exp(rng.normal(1.0, 1.0, n))), 0).astype(np.int32)
        store.append("disruption_seconds", pa.table({
            "run_id": ids, "backend": np.tile(names, len(ids) // backends),
            "connection_type": np.tile(np.where(np.arange(backends) % 2, "New", "Reused"), len(ids) // backends),
            "seconds": seconds,
        }, schema=SECONDS_SCHEMA))
    store.commit()
    store.execute("CHECKPOINT")
    store.close()


def numpy_peer(store, end: datetime, days: int) -> tuple[float, dict[tuple, tuple[float, ...]]]:
    """Percentiles per key with NumPy over the rows in memory (loading not timed): the 10M
    rows as integer arrays (run_id, backend code, seconds), the runs' job types as codes."""
    import pyarrow.compute as pc

    runs = store.query_arrow("SELECT * FROM disruption_runs ORDER BY run_id")
    rows = store.query_arrow("SELECT run_id, backend, seconds FROM disruption_seconds")
    backend = pc.dictionary_encode(rows["backend"]).combine_chunks()
    backend_codes = backend.indices.to_numpy()
    backend_names = backend.dictionary.to_pylist()
    run_ids = rows["run_id"].to_numpy()
    seconds_all = rows["seconds"].to_numpy()
    run_cols = {n: runs[n].to_numpy(zero_copy_only=False) for n in runs.column_names}
    began = time.perf_counter()
    # per run: kept in the window and upstream's MasterNodesUpdated filter; job-type code
    start = np.datetime64(end - timedelta(days=days))
    started = run_cols["started_at"]
    kept_run = (started > start) & (started <= np.datetime64(end)) & (
        (run_cols["master_nodes_updated"] != "N") | (run_cols["from_release"] == ""))
    type_cols = ("release", "from_release", "platform", "architecture", "network", "topology", "master_nodes_updated")
    type_code = np.zeros(len(started), dtype=np.int64)
    uniques = []
    for name in type_cols:
        values, inverse = np.unique(run_cols[name].astype(str), return_inverse=True)
        type_code = type_code * len(values) + inverse
        uniques.append(values)
    position = np.searchsorted(run_cols["run_id"], run_ids)
    keep = kept_run[position]
    codes = (backend_codes[keep].astype(np.int64) * (type_code.max() + 1)) + type_code[position[keep]]
    seconds = seconds_all[keep].astype(np.float64)
    order = np.lexsort((seconds, codes))
    codes, seconds = codes[order], seconds[order]
    starts = np.concatenate(([0], np.flatnonzero(np.diff(codes)) + 1))
    counts = np.diff(np.concatenate((starts, [len(codes)])))
    out = []
    for q in (0.5, 0.75, 0.95, 0.99):
        pos = q * (counts - 1)
        low = np.floor(pos).astype(np.int64)
        high = np.minimum(low + 1, counts - 1)
        out.append(seconds[starts + low] + (seconds[starts + high] - seconds[starts + low]) * (pos - low))
    means = np.add.reduceat(seconds, starts) / counts
    elapsed = time.perf_counter() - began
    result = {}
    width = type_code.max() + 1
    for i, code in enumerate(codes[starts]):
        b, t = divmod(int(code), int(width))
        key = []
        for values in reversed(uniques):
            t, index = divmod(t, len(values))
            key.append(str(values[index]))
        result[(backend_names[b], *reversed(key))] = (int(counts[i]), *(float(o[i]) for o in out), float(means[i]))
    return elapsed, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200_000)
    parser.add_argument("--backends", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from ciscope.analysis.disruption_store import disruption_baselines
    from ciscope.store import connect

    DATA.mkdir(exist_ok=True)
    path = DATA / f"disruption-{args.runs}x{args.backends}.duckdb"
    if not path.exists():
        began = time.perf_counter()
        build(path, args.runs, args.backends)
        print(f"built {path.name} in {time.perf_counter() - began:.1f} s")
    store = connect(f"duckdb:///{path}")
    rows = store.query("SELECT count(*) FROM disruption_seconds")[0][0]
    end = store.query("SELECT max(started_at) FROM disruption_runs")[0][0]
    print(f"{rows:,} disruption rows, {args.runs:,} runs; load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    for portable in (False, True):
        times = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            got = disruption_baselines(store, days=30, portable=portable)
            times.append(time.perf_counter() - began)
        label = "portable SQL (PERCENTILE_CONT WITHIN GROUP ×4)" if portable else "DuckDB fast path (default)"
        print(f"ciscope disruption_baselines, {label}: cold {times[0]:.2f} s, warm best {min(times[1:] or times):.2f} s, "
              f"{len(got.rows)} keys; load {os.getloadavg()[0]:.2f}")
    peer_times = []
    for _ in range(args.repeat):
        elapsed, peer = numpy_peer(store, end, 30)
        peer_times.append(elapsed)
    print(f"NumPy peer (rows already in memory): best {min(peer_times):.2f} s, {len(peer)} keys")
    mismatches = 0
    for r in got.rows:
        key = (r.name, r.release, r.from_release, r.platform, r.architecture, r.network, r.topology,
               r.master_nodes_updated or "None")
        want = peer[key]
        have = (r.job_runs, r.p50, r.p75, r.p95, r.p99, r.mean)
        if want[0] != have[0] or not np.allclose(want[1:], have[1:], rtol=1e-9, atol=1e-9):
            mismatches += 1
    print(f"same numbers as NumPy: {len(got.rows) - mismatches} of {len(got.rows)} keys")
    print(f"load after: {os.getloadavg()[0]:.2f}")
    store.close()


if __name__ == "__main__":
    main()
