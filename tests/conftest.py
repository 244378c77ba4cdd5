"""Shared fixtures.

``store`` runs a test once per engine: DuckDB (in memory) and PostgreSQL. PostgreSQL comes
from ``CISCOPE_TEST_POSTGRES_URL`` (``.ci/run`` points it at the machine's server); without
it a throwaway server is started when PostgreSQL's binaries are installed; otherwise the
PostgreSQL half is skipped with a visible reason. Each PostgreSQL test gets its own schema.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CISCOPE_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set CISCOPE_SHARED_DATA)")
    return SHARED_DATA


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _throwaway_postgres(tmp: Path) -> tuple[str, subprocess.Popen[bytes] | None, str]:
    """Start a private PostgreSQL server; returns (url, None, reason-if-unavailable)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or ([shutil.which("initdb")] if shutil.which("initdb") else [])
    if not candidates:
        return "", None, "PostgreSQL binaries (initdb) are not installed and CISCOPE_TEST_POSTGRES_URL is not set"
    bindir = Path(candidates[-1]).parent
    data = tmp / "pgdata"
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        run_as = ["runuser", "-u", "postgres", "--"]
        os.chmod(tmp, 0o777)
    port = _free_port()
    try:
        subprocess.run([*run_as, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
                       check=True, capture_output=True)
        subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(tmp / "log"),
                        "-o", f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                       check=True, capture_output=True)
    except (subprocess.CalledProcessError, OSError) as exc:
        return "", None, f"could not start a throwaway PostgreSQL: {exc}"
    return f"postgresql://postgres@127.0.0.1:{port}/postgres", None, ""


@pytest.fixture(scope="session")
def postgres_url():
    url = os.environ.get("CISCOPE_TEST_POSTGRES_URL")
    tmp = None
    if not url:
        tmp = Path(tempfile.mkdtemp(prefix="ciscope-pg-"))
        url, _, reason = _throwaway_postgres(tmp)
        if not url:
            pytest.skip(f"PostgreSQL half skipped: {reason}")
    yield url
    if tmp is not None:
        bindir = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))[-1]).parent
        run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(tmp / "pgdata"), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def _schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture
def pg_schema_url(request):
    """A PostgreSQL URL whose search_path is a fresh, empty schema (dropped afterwards)."""
    import psycopg

    base = request.getfixturevalue("postgres_url")
    schema = f"ciscope_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    yield _schema_url(base, schema)
    with psycopg.connect(base, autocommit=True) as con:
        con.execute(f"DROP SCHEMA {schema} CASCADE")


ENGINES = ["duckdb", "postgresql"]


@pytest.fixture(params=ENGINES)
def store_url(request, tmp_path):
    """A fresh, empty store URL, once per engine."""
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'ciscope.duckdb'}"
    return request.getfixturevalue("pg_schema_url")


@pytest.fixture
def store(store_url):
    from ciscope.store import connect

    s = connect(store_url)
    yield s
    s.close()
