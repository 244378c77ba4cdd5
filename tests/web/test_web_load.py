"""Parallel reads and the report cache through a real ``ciscope serve`` on 127.0.0.1 (both
engines): readers see whole runs while uploads commit, and an upload shows up in the very
next request of a cached report."""

from __future__ import annotations

import io
import json
import tarfile
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import Server, start, stop

from ciscope.cli import cli

JOB = "load-job"
TESTS = 40


def run_folder(build: int, *, failing: int = 0) -> bytes:
    """A Prow run folder of ``JOB`` as tar.gz: ``TESTS`` tests, the first ``failing`` failed."""
    cases = "".join(
        f'<testcase name="load test {k:02d}" time="0.1">'
        + ('<failure message="boom">boom</failure>' if k < failing else "") + "</testcase>"
        for k in range(TESTS))
    files = {
        f"{JOB}/{build}/started.json": json.dumps({"timestamp": 1793000000 + build * 60}),
        f"{JOB}/{build}/finished.json": json.dumps({"timestamp": 1793000000 + build * 60 + 30,
                                                    "result": "FAILURE" if failing else "SUCCESS",
                                                    "passed": not failing}),
        f"{JOB}/{build}/artifacts/junit_load.xml": f'<?xml version="1.0"?><testsuite name="l" tests="{TESTS}">'
                                                   f"{cases}</testsuite>",
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def upload(server: Server, token: str, body: bytes) -> dict:
    request = urllib.request.Request(f"{server.base}/api/upload", data=body, method="POST",
                                     headers={"Content-Type": "application/gzip", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=300) as answer:
        assert answer.status == 200
        return json.loads(answer.read())


@pytest.fixture(params=["duckdb", "postgresql"])
def empty_server(request: pytest.FixtureRequest, tmp_path: Path):
    """An empty store with one token, served."""
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'load.duckdb'}"
    else:
        url = request.getfixturevalue("pg_schema_url")
    token = CliRunner().invoke(cli, ["--db", url, "token", "create", "ci-bot"]).stdout.strip()
    assert token.startswith("cis_")
    server, process = start(url, url, request.param)
    yield server, token
    stop(process)


def test_a_new_run_shows_up_at_once_in_cached_reports(empty_server: tuple[Server, str]) -> None:
    server, token = empty_server
    upload(server, token, run_folder(1))
    for _ in range(2):  # the second answer comes from the cache
        summary = server.get("/api/summary").json()
        assert [(s["job"], len(server.get(f"/api/grid/{JOB}").json()["column_ids"])) for s in summary] == [(JOB, 1)]
        assert server.get(f"/api/tests?job={JOB}").json()[0]["runs"] == 1
    upload(server, token, run_folder(2, failing=3))
    assert len(server.get(f"/api/grid/{JOB}").json()["column_ids"]) == 2
    tests = {t["test"]: t for t in server.get(f"/api/tests?job={JOB}").json()}
    assert {t["runs"] for t in tests.values()} == {2}
    assert sum(t["failed"] for t in tests.values()) == 3
    assert len(server.get(f"/api/runs?job={JOB}").json()) == 2
    assert server.get("/api/unclassified").json()["runs"][0]["build"] == "2"


def test_reads_see_whole_runs_while_uploads_run(empty_server: tuple[Server, str]) -> None:
    """8 readers poll while 12 runs are uploaded by 3 clients: every answer is a 200 over whole
    runs (every test has the same run count: no half-written run, no mix of two snapshots),
    counts never go back for a reader, and after the last upload every run is there."""
    server, token = empty_server
    upload(server, token, run_folder(0))
    uploads = 12
    done = threading.Event()
    problems: list[str] = []
    seen: list[int] = []

    def reader(path: str) -> None:
        last = 0
        while not done.is_set():
            answer = server.get(path)
            if answer.status != 200:
                problems.append(f"{path}: {answer.status} {answer.body[:200]!r}")
                return
            if path.startswith("/api/tests"):
                counts = {t["runs"] for t in answer.json()}
            elif path.startswith("/api/grid"):
                grid = answer.json()  # every cell of every row holds a result
                counts = {len(grid["column_ids"])} | {sum(r["count"] for r in row["statuses"] if r["value"])
                                                      for row in grid["tests"]}
            else:
                counts = {len(answer.json())}
            if len(counts) != 1 or min(counts) < last:
                problems.append(f"{path}: run counts {sorted(counts)} after {last}")
                return
            last = counts.pop()
            seen.append(last)

    paths = [f"/api/tests?job={JOB}", f"/api/runs?job={JOB}", f"/api/grid/{JOB}", f"/api/tests?job={JOB}"] * 2
    readers = [threading.Thread(target=reader, args=(p,)) for p in paths]
    for t in readers:
        t.start()
    try:
        def send(builds: list[int]) -> None:
            for b in builds:
                upload(server, token, run_folder(b, failing=b % 3))

        senders = [threading.Thread(target=send, args=(list(range(1 + k, uploads + 1, 3)),)) for k in range(3)]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        # no pause: the next request sees every run
        assert {t["runs"] for t in server.get(f"/api/tests?job={JOB}").json()} == {uploads + 1}
        assert len(server.get(f"/api/runs?job={JOB}").json()) == uploads + 1
    finally:
        done.set()
        for t in readers:
            t.join()
    assert not problems, problems
    assert len(set(seen)) > 1, "the readers never saw an upload land"
