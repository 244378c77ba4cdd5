"""A real ``ciscope serve`` on 127.0.0.1 over a small demo store (plus one hostile run).

The demo history (seed 1, 40 runs per job) is ingested with its fingerprints through the
CLI. The DuckDB server owns its file, so a copy of it (``reference``) answers the CLI side of
the comparisons; on PostgreSQL the CLI reads the served schema itself.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner

from ciscope.cli import cli
from ciscope.demo import generate

REPO = Path(__file__).resolve().parents[2]
XSS_JOB = "xss-job"
XSS_TEST = "<script>alert(1)</script>"
XSS_MESSAGE = "<img src=x onerror=alert(2)> & \"quoted\""
XSS_BUILD = "xss-build-1"
XSS_JUNIT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="hostile" tests="2" failures="1">
  <testcase classname="" name="&lt;script&gt;alert(1)&lt;/script&gt;" time="1.5">
    <failure message="&lt;img src=x onerror=alert(2)&gt; &amp; &quot;quoted&quot;">boom</failure>
  </testcase>
  <testcase classname="" name="plain passing test" time="0.1"/>
</testsuite>
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(*args: str) -> Any:
    """``ciscope ARGS`` in process; its stdout parsed as JSON when it is JSON."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if result.stdout.strip().startswith(("[", "{")) else result.stdout


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Server:
    """A running ``ciscope serve``: its base URL and a CLI-readable URL of the same data."""

    base: str
    reference_db: str
    engine: str

    def get(self, path: str, *, accept: str = "application/json", headers: dict[str, str] | None = None) -> Response:
        request = urllib.request.Request(self.base + path, headers={"Accept": accept, **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                return Response(answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())

    def cli(self, *args: str) -> Any:
        return run_cli("--db", self.reference_db, *args)


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("web-demo") / "demo"
    generate(root, seed=1, runs_per_job=40)
    (root.parent / "junit-xss.xml").write_text(XSS_JUNIT)
    return root


def fill(url: str, demo: Path) -> None:
    run_cli("--db", url, "--fingerprints", str(demo / "fingerprints"), "ingest", str(demo), "--workers", "1")
    run_cli("--db", url, "ingest", str(demo.parent / "junit-xss.xml"), "--job", XSS_JOB, "--build", XSS_BUILD,
            "--started", "2020-01-01T00:00:00Z")


def start(db: str, reference: str, engine: str, *, global_options: tuple[str, ...] = (),
          serve_options: tuple[str, ...] = (), env_extra: dict[str, str] | None = None,
          ready: str = "/api/runs?limit=1", headers: dict[str, str] | None = None
          ) -> tuple[Server, subprocess.Popen[bytes]]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
           **(env_extra or {})}
    env.pop("CISCOPE_FINGERPRINTS", None)
    process = subprocess.Popen([sys.executable, "-m", "ciscope.cli", "--db", db, *global_options, "serve",
                                "--port", str(port), *serve_options],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    server = Server(f"http://127.0.0.1:{port}", reference, engine)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ciscope serve exited {process.returncode}: {process.stderr.read().decode()}")
        try:
            if server.get(ready, headers=headers).status == 200:
                return server, process
        except OSError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("ciscope serve did not answer within 60 s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def duckdb_server(demo_folder: Path, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("web-duckdb")
    served, reference = folder / "served.duckdb", folder / "reference.duckdb"
    fill(f"duckdb:///{served}", demo_folder)
    shutil.copy(served, reference)
    server, process = start(f"duckdb:///{served}", f"duckdb:///{reference}", "duckdb")
    yield server
    stop(process)


@pytest.fixture(scope="session")
def postgresql_server(demo_folder: Path, postgres_url: str):
    import psycopg

    schema = f"ciscope_web_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in postgres_url else "?"
    url = f"{postgres_url}{sep}options={quote(f'-csearch_path={schema}')}"
    fill(url, demo_folder)
    server, process = start(url, url, "postgresql")
    yield server
    stop(process)
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["duckdb", "postgresql"])
def server(request: pytest.FixtureRequest) -> Server:
    """The served demo store, once per engine."""
    return request.getfixturevalue(f"{request.param}_server")
