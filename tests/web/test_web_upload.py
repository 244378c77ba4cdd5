"""Uploads to a real ``ciscope serve``: tokens, `ciscope upload`, per-file answers, hostile
archives refused member by member, bombs and oversize bodies refused whole, parallel clients
losing and duplicating nothing (both engines)."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from conftest import REPO, XSS_JUNIT, Server, run_cli, start, stop

from ciscope.cli import cli

ERROR_KEYS = {"ok", "error", "errors", "status"}


def run_folders(demo: Path, n: int) -> list[Path]:
    return sorted(p.parent for p in (demo / "logs").rglob("started.json"))[:n]


@pytest.fixture(params=["duckdb", "postgresql"])
def upload_server(request: pytest.FixtureRequest, tmp_path: Path, demo_folder: Path):
    """An empty store with one token, served with the demo's fingerprints and a 2 MiB upload limit."""
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'uploads.duckdb'}"
    else:
        url = request.getfixturevalue("pg_schema_url")
    token = CliRunner().invoke(cli, ["--db", url, "token", "create", "ci-bot"]).stdout.strip()
    assert token.startswith("cis_")
    server, process = start(url, url, request.param, global_options=("--fingerprints", str(demo_folder / "fingerprints")),
                            serve_options=("--max-upload", "2"))
    server.token = token  # type: ignore[attr-defined]
    yield server
    stop(process)


def post(server: Server, body: bytes, *, token: str | None, query: str = "") -> tuple[int, dict, dict]:
    headers = {"Content-Type": "application/gzip"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{server.base}/api/upload{query}", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=300) as answer:
            return answer.status, dict(answer.headers), json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def tar_gz(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


def upload_cli(server: Server, *args: str) -> tuple[int, dict]:
    """`ciscope upload ... --json` as a CI worker runs it (a process: exit codes and messages as users see them)."""
    done = subprocess.run([sys.executable, "-m", "ciscope.cli", "upload", "--server", server.base, "--token", server.token,
                           "--json", *args], capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, (json.loads(done.stdout) if done.stdout.strip().startswith("{") else {"out": done.stderr})


def test_tokens_are_required_and_checked(upload_server: Server) -> None:
    body = tar_gz([(member("junit.xml"), XSS_JUNIT.encode())])
    for token in (None, "cis_not-a-real-token", "Bearer-less"):
        status, headers, answer = post(upload_server, body, token=token, query="?job=j")
        assert status == 401 and set(answer) == ERROR_KEYS and answer["status"] == 401
        assert "token" in answer["error"] and headers.get("www-authenticate") == "Bearer"
    assert upload_server.get("/api/runs").json() == []
    if upload_server.engine == "postgresql":  # the CLI can reach the store while the server runs
        listed = run_cli("--db", upload_server.reference_db, "token", "list", "--json")
        assert [t["name"] for t in listed] == ["ci-bot"] and "token_hash" not in listed[0]
        assert post(upload_server, body, token=upload_server.token, query="?job=j")[0] == 200
        assert run_cli("--db", upload_server.reference_db, "token", "list", "--json")[0]["last_used_at"]
        run_cli("--db", upload_server.reference_db, "token", "revoke", "ci-bot")
        assert post(upload_server, body, token=upload_server.token, query="?job=j")[0] == 401


def test_upload_run_folders_with_the_cli(upload_server: Server, demo_folder: Path) -> None:
    folders = run_folders(demo_folder, 3)
    code, answer = upload_cli(upload_server, *map(str, folders))
    assert code == 0, answer
    assert answer["ok"] and answer["ingest"]["runs"] + answer["ingest"]["pending"] == 3
    files = {f["path"]: f for f in answer["files"]}
    for folder in folders:
        name = f"{folder.parent.name}/{folder.name}/started.json"
        assert files[name]["result"] == "stored"
    runs = upload_server.get("/api/runs").json()
    assert sorted((r["job"], r["build"]) for r in runs) == sorted((f.parent.name, f.name) for f in folders)
    # again: idempotent, nothing duplicated
    code, again = upload_cli(upload_server, *map(str, folders))
    assert code == 0 and again["ingest"]["skipped"] == 3 and again["ingest"]["runs"] == 0
    assert {f["result"] for f in again["files"]} == {"already stored"}
    assert len(upload_server.get("/api/runs").json()) == 3
    # matched against the server's fingerprints at ingest, as `ciscope ingest --fingerprints` does
    assert upload_server.get("/api/bugs").json(), "the demo's fingerprints are loaded"


def test_upload_bare_reports_needs_metadata(upload_server: Server, tmp_path: Path) -> None:
    report = tmp_path / "junit-x.xml"
    report.write_text(XSS_JUNIT)
    code, answer = upload_cli(upload_server, str(report))
    assert code == 2 and "job" in answer["out"]
    code, answer = upload_cli(upload_server, str(report), "--job", "bare-job", "--build", "7",
                              "--started", "2026-01-02T03:04:05Z", "--variant", "arch=arm64")
    assert code == 0, answer
    assert answer["files"] == [{"path": "junit-x.xml", "result": "stored", "reason": None}]
    run = upload_server.get("/api/runs?job=bare-job").json()
    assert [(r["build"], r["started_at"], r["failed_tests"]) for r in run] == [("7", "2026-01-02T03:04:05Z", 1)]


def test_hostile_members_are_refused_one_by_one(upload_server: Server) -> None:
    marker = f"ciscope-escape-{uuid.uuid4().hex}"
    body = tar_gz([
        (member(f"/tmp/{marker}.xml"), b"<x/>"),
        (member(f"../../{marker}.xml"), b"<x/>"),
        (member(f"ok/../../{marker}.xml"), b"<x/>"),
        (member("link.xml", tarfile.SYMTYPE, "/etc/passwd"), None),
        (member("hard.xml", tarfile.LNKTYPE, "/etc/passwd"), None),
        (member("dev", tarfile.CHRTYPE), None),
        (member("fifo", tarfile.FIFOTYPE), None),
        (member("reports/junit.xml"), XSS_JUNIT.encode()),
    ])
    status, _, answer = post(upload_server, body, token=upload_server.token, query="?job=hostile&build=1")
    assert status == 207, answer
    assert answer["ok"] is False
    results = {f["path"]: (f["result"], f["reason"]) for f in answer["files"]}
    assert results["reports/junit.xml"] == ("stored", None)
    for name, why in ((f"/tmp/{marker}.xml", "absolute"), (f"../../{marker}.xml", ".."), (f"ok/../../{marker}.xml", ".."),
                      ("link.xml", "link"), ("hard.xml", "link"), ("dev", "device"), ("fifo", "FIFO")):
        assert results[name][0] == "refused" and why in results[name][1], (name, results[name])
    assert not Path(f"/tmp/{marker}.xml").exists()
    assert [r["build"] for r in upload_server.get("/api/runs?job=hostile").json()] == ["1"]


def test_whole_upload_refusals(upload_server: Server) -> None:
    token = upload_server.token
    # a decompression bomb: 80 MiB of zeros in ~80 KiB (ratio far above 100)
    bomb = tar_gz([(member("junit-bomb.xml"), b"\0" * (80 * 2**20))])
    assert len(bomb) < 2**20
    status, _, answer = post(upload_server, bomb, token=token, query="?job=bomb")
    assert status == 413 and set(answer) == ERROR_KEYS and "decompression bomb" in answer["error"]
    # larger than --max-upload 2 (MiB)
    status, _, answer = post(upload_server, bytes(3 * 2**20), token=token, query="?job=big")
    assert status == 413 and "larger than" in answer["error"]
    # not an archive, an empty body, a corrupt gzip
    for body, text in ((b"<xml/>", "not a tar"), (b"", "empty body"), (gzip.compress(b"x" * 1000)[:-20], "archive")):
        status, _, answer = post(upload_server, body, token=token, query="?job=bad")
        assert status == 400 and text in answer["error"], (body[:20], answer)
    status, _, answer = post(upload_server, tar_gz([(member("j.xml"), XSS_JUNIT.encode())]), token=token,
                             query="?job=x&variant=novalue")
    assert status == 400 and "key=value" in answer["error"]
    assert upload_server.get("/api/runs").json() == []


def test_parallel_uploads_lose_and_duplicate_nothing(upload_server: Server, demo_folder: Path) -> None:
    folders = run_folders(demo_folder, 8)
    jobs = [[str(f)] for f in folders] * 2  # every run sent twice, by different clients at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda paths: upload_cli(upload_server, *paths), jobs))
    assert all(code == 0 for code, _ in answers), [a for c, a in answers if c]
    stored = sum(a["ingest"]["runs"] + a["ingest"]["pending"] for _, a in answers)
    skipped = sum(a["ingest"]["skipped"] for _, a in answers)
    assert (stored, skipped) == (8, 8)
    runs = upload_server.get("/api/runs").json()
    assert sorted((r["job"], r["build"]) for r in runs) == sorted((f.parent.name, f.name) for f in folders)
    job = folders[0].parent.name
    grid = upload_server.get(f"/api/grid/{quote(job, safe='')}").json()
    assert len(grid["column_ids"]) == sum(1 for f in folders if f.parent.name == job)


def test_token_commands_table_and_json(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'tokens.duckdb'}"
    runner = CliRunner()
    shown = runner.invoke(cli, ["--db", url, "token", "create", "alice"])
    assert shown.exit_code == 0 and shown.stdout.strip().startswith("cis_")
    created = run_cli("--db", url, "token", "create", "ci.bot-1", "--json")
    assert created["name"] == "ci.bot-1" and created["token"].startswith(created["prefix"])
    table = runner.invoke(cli, ["--db", url, "token", "list"]).stdout
    assert "alice" in table and "ci.bot-1" in table and created["prefix"] in table and created["token"] not in table
    listed = run_cli("--db", url, "token", "list", "--json")
    assert [t["name"] for t in listed] == ["alice", "ci.bot-1"] and all(t["revoked_at"] is None for t in listed)
    assert runner.invoke(cli, ["--db", url, "token", "revoke", "alice"]).exit_code == 0
    revoked = run_cli("--db", url, "token", "revoke", "ci.bot-1", "--json")
    assert revoked["revoked_at"] is not None
    for args, text in ((["token", "create", "alice"], "exists"), (["token", "create", "bad name!"], "token name"),
                       (["token", "revoke", "nobody"], "no such token")):
        done = subprocess.run([sys.executable, "-m", "ciscope.cli", "--db", url, *args], capture_output=True, text=True,
                              timeout=60, check=False, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
        assert done.returncode == 2 and text in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_upload_table_output(upload_server: Server, tmp_path: Path) -> None:
    report = tmp_path / "junit-t.xml"
    report.write_text(XSS_JUNIT)
    done = subprocess.run([sys.executable, "-m", "ciscope.cli", "upload", "--server", upload_server.base, "--token",
                           upload_server.token, str(report), "--job", "table-job"], capture_output=True, text=True,
                          timeout=300, check=False, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert done.returncode == 0, done.stderr
    assert "junit-t.xml" in done.stdout and "stored" in done.stdout and "1 run(s) stored" in done.stderr
    done = subprocess.run([sys.executable, "-m", "ciscope.cli", "upload", "--server", "http://127.0.0.1:1",
                           "--token", "cis_x", str(report), "--job", "j"], capture_output=True, text=True,
                          timeout=60, check=False, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert done.returncode == 4 and "cannot reach the server" in done.stderr and "Traceback" not in done.stderr
