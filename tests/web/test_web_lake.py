"""`ciscope serve --db parquet:///DIR`: the dashboard and API over a Parquet lake, read-only.

The lake is exported from the DuckDB store the `duckdb_server` fixture serves; both servers
run for real on 127.0.0.1 and must answer every report the same; uploads are refused."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO, Server, run_cli, start, stop


@pytest.fixture(scope="module")
def lake_server(duckdb_server: Server, tmp_path_factory: pytest.TempPathFactory):
    lake = tmp_path_factory.mktemp("web-lake") / "lake"
    run_cli("--db", duckdb_server.reference_db, "export", "--parquet", str(lake))
    server, process = start(f"parquet:///{lake}", duckdb_server.reference_db, "parquet")
    yield server
    stop(process)


def test_every_report_answers_as_the_store(duckdb_server: Server, lake_server: Server) -> None:
    runs = duckdb_server.get("/api/runs?limit=50").json()
    job, build = runs[0]["job"], runs[0]["build"]
    paths = ["/api/runs?limit=50", "/api/summary", f"/api/grid/{job}", "/api/flaky", "/api/regressions",
             "/api/bugs", "/api/clusters", "/api/unclassified", f"/api/triage/{build}", "/api/timing",
             "/api/disruption/runs", "/api/tests?limit=20"]
    for path in paths:
        on_store, on_lake = duckdb_server.get(path), lake_server.get(path)
        assert on_store.status == 200, (path, on_store.body[:300])
        assert (on_lake.status, on_lake.json()) == (200, on_store.json()), path
    page = lake_server.get(f"/jobs/{job}", accept="text/html")
    assert page.status == 200 and job.encode() in page.body


def test_uploads_are_refused_with_the_reason(lake_server: Server) -> None:
    request = urllib.request.Request(lake_server.base + "/api/upload", data=b"x" * 10, method="POST",
                                     headers={"Content-Type": "application/gzip", "Authorization": "Bearer nope"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 403
    assert "reads a Parquet lake and takes no uploads" in caught.value.read().decode()


def test_what_cannot_be_served_says_why(tmp_path: Path) -> None:
    def serve(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ciscope.cli", *args], capture_output=True, text=True, timeout=60,
                              env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"})

    done = serve("--db", f"parquet:///{tmp_path}/lake", "serve", "--private", "--port", "0")
    assert done.returncode == 2 and "--private needs API tokens" in done.stderr, done.stderr
    done = serve("--db", f"spark://local[2]?lake={tmp_path}/lake", "serve", "--port", "0")
    assert done.returncode == 4 and "give --db parquet:///DIR" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
