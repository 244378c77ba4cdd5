"""Issue 8: two ingests of the same runs at once, in two real processes, against the real
PostgreSQL server: neither fails, nothing is stored twice, the loser reports the runs as
already stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from runfolders import write_run


def test_two_processes_ingesting_the_same_folder(pg_schema_url, tmp_path):
    for build in range(1, 121):
        write_run(tmp_path / "data", f"job-{build % 3}", str(build))
    env = {**os.environ, "CISCOPE_INGEST_WORKERS": "1"}
    command = [sys.executable, "-m", "ciscope.cli", "--db", pg_schema_url, "ingest", str(tmp_path / "data"), "--json"]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert "Traceback" not in err and "duplicate key" not in err
    reports = [json.loads(out) for out, _ in outs]
    assert sorted(r["runs"] for r in reports) == sorted([reports[0]["runs"], 120 - reports[0]["runs"]])
    assert sum(r["runs"] for r in reports) == 120
    assert sum(r["skipped"] for r in reports) == 120
    from ciscope.store import connect

    with connect(pg_schema_url) as store:
        assert store.query("SELECT count(*), count(DISTINCT run_id) FROM runs") == [(120, 120)]
        assert store.query("SELECT count(*) FROM test_results")[0][0] == 120 * 4
        assert store.query("SELECT count(*) FROM jobs")[0][0] == 3
