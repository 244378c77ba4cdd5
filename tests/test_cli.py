"""The command line, run in a real subprocess (exit codes, stdout vs stderr) and in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from click.testing import CliRunner
from runfolders import write_run

from ciscope.cli import cli


def run_cli(*args: str, db: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run(
        [sys.executable, "-m", "ciscope.cli", "--db", db, *args],
        capture_output=True, text=True, timeout=120, env=env,
    )


def test_ingest_runs_tests_json(tmp_path):
    db = f"duckdb:///{tmp_path / 'c.duckdb'}"
    for build in ("1", "2"):
        write_run(tmp_path / "data", "periodic-e2e", build)
    done = run_cli("ingest", str(tmp_path / "data"), "--json", db=db)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["runs"] == 2
    assert "2 run(s) stored" in done.stderr

    runs = json.loads(run_cli("runs", "--json", db=db).stdout)
    assert [r["build"] for r in runs] == ["2", "1"]
    assert set(runs[0]) == {"job", "build", "status", "started_at", "finished_at", "commit",
                            "tests", "failed_tests", "flaked_tests", "reason"}
    assert runs[0]["reason"] is None or set(runs[0]["reason"]) >= {"category", "component", "phase", "message",
                                                                   "fingerprint", "evidence"}
    assert (runs[0]["tests"], runs[0]["failed_tests"], runs[0]["flaked_tests"]) == (3, 1, 1)
    assert runs[0]["started_at"].endswith("Z")

    tests = json.loads(run_cli("tests", "--json", "--job", "periodic-e2e", db=db).stdout)
    by_name = {t["test"]: t for t in tests}
    assert set(tests[0]) == {"job", "test", "runs", "passed", "failed", "flaked", "skipped",
                             "pass_rate", "working_rate", "flake_rate"}
    assert by_name["[sig-b] flakes"]["working_rate"] == 1.0
    assert by_name["[sig-c] fails"]["pass_rate"] == 0.0

    table = run_cli("tests", db=db)
    assert table.returncode == 0 and "[sig-c] fails" in table.stdout


def test_refused_input_exits_3_and_names_the_file(tmp_path):
    db = f"duckdb:///{tmp_path / 'c.duckdb'}"
    write_run(tmp_path / "data", "periodic-e2e", "1")
    bad = write_run(tmp_path / "data", "periodic-e2e", "2")
    (bad / "finished.json").write_text("{oops")
    done = run_cli("ingest", str(tmp_path / "data"), db=db)
    assert done.returncode == 3
    assert "finished.json" in done.stderr and "malformed JSON" in done.stderr
    assert "1 run(s) stored" in done.stderr


def test_usage_errors_exit_2(tmp_path):
    db = f"duckdb:///{tmp_path / 'c.duckdb'}"
    (tmp_path / "junit.xml").write_text("<testsuite/>")
    done = run_cli("ingest", str(tmp_path / "junit.xml"), db=db)
    assert done.returncode == 2 and "--job" in done.stderr
    done = run_cli("runs", db="sqlite:///x.db")
    assert done.returncode == 2 and "Unknown database URL" in done.stderr
    done = run_cli("ingest", str(tmp_path / "junit.xml"), "--job", "j", "--variant", "novalue", db=db)
    assert done.returncode == 2 and "key=value" in done.stderr


def test_every_command_has_help():
    runner = CliRunner()
    for name, command in cli.commands.items():
        assert command.help, f"{name} has no help text"
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, result.output


def test_db_info(tmp_path):
    db = f"duckdb:///{tmp_path / 'c.duckdb'}"
    assert run_cli("db", "migrate", db=db).returncode == 0  # read commands never create a store
    info = json.loads(run_cli("db", "info", "--json", db=db).stdout)
    assert info["engine"] == "duckdb" and info["schema_version"] >= 1
    assert info["rows"] == {"jobs": 0, "runs": 0, "test_results": 0, "test_verdicts": 0}


def test_ingest_testgrid_url_from_a_live_server(tmp_path, shared_data):
    """`ciscope ingest testgrid URL`: a real /table dump served over HTTP on 127.0.0.1."""
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    folder = shared_data / "testgrid" / "sippy-testgrid-legacy" / "table"
    dump = sorted(folder.iterdir())[0]

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/{dump.name}"
        db = f"duckdb:///{tmp_path / 'tg.duckdb'}"
        env = {**os.environ, "CISCOPE_CACHE": str(tmp_path / "cache")}
        done = subprocess.run([sys.executable, "-m", "ciscope.cli", "--db", db, "ingest", "testgrid", url,
                               "--job", "tg-job", "--json"], capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        table = json.loads(dump.read_text())
        assert report["runs"] == len(table["timestamps"]) and report["runs"] > 0
        assert list((tmp_path / "cache" / "testgrid").glob("*.json"))  # cached for the next time
        runs = json.loads(run_cli("runs", "--json", db=db).stdout)
        assert {r["job"] for r in runs} == {"tg-job"}
    finally:
        httpd.shutdown()
        httpd.server_close()
    missing = run_cli("ingest", "testgrid", db=f"duckdb:///{tmp_path / 'x.duckdb'}")
    assert missing.returncode == 2 and "TestGrid" in missing.stderr
