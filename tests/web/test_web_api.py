"""The JSON API over a real ``ciscope serve``: each endpoint returns what ``ciscope X --json``
prints, pagination, filters, and the one error shape (404 for unknown job, run and test)."""

from __future__ import annotations

import re
import subprocess
import sys
from urllib.parse import quote

import pytest
from conftest import REPO, XSS_BUILD, XSS_JOB, XSS_TEST, Server, free_port

ERROR_KEYS = {"ok", "error", "errors", "status"}


def assert_error(answer, status: int, text: str) -> None:
    assert answer.status == status, answer.body
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert set(body) == ERROR_KEYS
    assert body["ok"] is False and body["status"] == status
    assert text in body["error"] and body["errors"] and all(isinstance(e, str) for e in body["errors"])


def a_failed_run(server: Server) -> dict:
    return next(r for r in server.cli("runs", "--json") if r["status"] == "failure" and r["failed_tests"])


def some_job(server: Server) -> str:
    return server.cli("runs", "--json", "--limit", "1")[0]["job"]


# ------------------------------------------------------------------ one source with the CLI

@pytest.mark.parametrize(("path", "args"), [
    ("/api/runs", ["runs"]),
    ("/api/tests", ["tests"]),
    ("/api/summary", ["summary"]),
    ("/api/flaky", ["flaky"]),
    ("/api/flaky?all=true&min_runs=5", ["flaky", "--all", "--min-runs", "5"]),
    ("/api/regressions", ["regressions"]),
    ("/api/regressions?plain_fisher=true&sample_days=5", ["regressions", "--plain-fisher", "--sample-days", "5"]),
    ("/api/bugs", ["bugs"]),
    ("/api/bugs?days=3", ["bugs", "--days", "3"]),
    ("/api/unclassified", ["unclassified"]),
    ("/api/clusters", ["clusters"]),
    ("/api/clusters?limit=5&min_size=2", ["clusters", "--top", "5", "--min-size", "2"]),
])
def test_endpoint_returns_the_cli_json(duckdb_server: Server, path: str, args: list[str]) -> None:
    answer = duckdb_server.get(path)
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"] == "application/json"
    expected = duckdb_server.cli(*args, "--json")
    assert expected, f"{args}: the demo should give a non-empty answer"
    assert answer.json() == expected


def test_job_filter_and_grid_match_the_cli(server: Server) -> None:
    job = some_job(server)
    for path, args in ((f"/api/runs?job={quote(job)}", ["runs", "--job", job]),
                       (f"/api/summary?job={quote(job)}", ["summary", "--job", job]),
                       (f"/api/grid/{quote(job, safe='')}", ["grid", job]),
                       (f"/api/grid/{quote(job, safe='')}?columns=7", ["grid", job, "--columns", "7"]),
                       (f"/api/flaky?job={quote(job)}&days=10", ["flaky", "--job", job, "--days", "10"])):
        answer = server.get(path)
        assert answer.status == 200, (path, answer.body)
        assert answer.json() == server.cli(*args, "--json"), path
    grid = server.get(f"/api/grid/{quote(job, safe='')}?columns=7").json()
    assert len(grid["column_ids"]) == 7 and grid["tests"][0]["name"] == "Overall"
    assert all(r["job"] == job for r in server.get(f"/api/runs?job={quote(job)}").json())


def test_window_filters_match_the_cli(duckdb_server: Server) -> None:
    """The filters of every read command (branch, variant, test, days, until) are the API's too."""
    runs = duckdb_server.cli("runs", "--json")
    branch = next(r for r in runs if r.get("branch") is not None)["branch"] if any(
        r.get("branch") for r in runs) else None
    cases = [("/api/runs?variant=platform%3Daws", ["runs", "--variant", "platform=aws"]),
             ("/api/tests?test=sig-network&days=5", ["tests", "--test", "sig-network", "--days", "5"]),
             ("/api/flaky?variant=platform%3Daws&test=sig", ["flaky", "--variant", "platform=aws", "--test", "sig"]),
             ("/api/unclassified?days=3", ["unclassified", "--days", "3"]),
             ("/api/clusters?test=sig-storage", ["clusters", "--test", "sig-storage"])]
    if branch:
        cases.append((f"/api/runs?branch={quote(branch)}", ["runs", "--branch", branch]))
    for path, args in cases:
        answer = duckdb_server.get(path)
        assert answer.status == 200, (path, answer.body)
        assert answer.json() == duckdb_server.cli(*args, "--json"), path
    assert_error(duckdb_server.get("/api/runs?variant=platform"), 400, "KEY=VALUE")
    assert_error(duckdb_server.get("/api/tests?test=%28%5B"), 400, "not a regular expression")


def test_triage_matches_the_cli(server: Server) -> None:
    run = a_failed_run(server)
    for ref in (run["build"], f"{run['job']}/{run['build']}"):
        answer = server.get(f"/api/triage/{quote(ref, safe='/')}")
        assert answer.status == 200, answer.body
        assert answer.json() == server.cli("triage", ref, "--json")
    body = server.get(f"/api/triage/{run['build']}?job={quote(run['job'])}").json()
    assert body["build"] == run["build"] and body["failures"] and body["advice"]


def test_every_failed_run_has_one_structured_reason(server: Server) -> None:
    """Issue 12: `/api/runs` and `/api/triage` carry the reason `ciscope runs --json` and
    `ciscope triage --json` compute (one function), with its six fields on every failed run."""
    runs = server.get("/api/runs").json()
    failed = [r for r in runs if r["status"] in ("failure", "error", "aborted")]
    assert failed and all(r["reason"] is not None for r in failed)
    assert all({"category", "component", "phase", "message", "fingerprint", "evidence"} <= set(r["reason"])
               for r in failed)
    categories = {r["reason"]["category"] for r in failed}
    assert {"known_bug", "test_failure"} <= categories, categories
    known = next(r for r in failed if r["reason"]["category"] == "known_bug")
    assert known["reason"]["fingerprint"] and known["reason"]["evidence"]
    for run in (known, next(r for r in failed if r["reason"]["category"] == "test_failure")):
        body = server.get(f"/api/triage/{quote(run['build'])}?job={quote(run['job'])}").json()
        assert body["reason"] == run["reason"]


def test_times_are_iso_utc_with_z(duckdb_server: Server) -> None:
    body = duckdb_server.get("/api/runs?limit=3").json()
    for row in body:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", row["started_at"]), row["started_at"]


def test_since_filter(duckdb_server: Server) -> None:
    rows = duckdb_server.get("/api/runs").json()
    middle = sorted(r["started_at"] for r in rows if r["started_at"])[len(rows) // 2]
    kept = duckdb_server.get(f"/api/runs?since={quote(middle)}").json()
    assert kept and all(r["started_at"] >= middle for r in kept)
    assert len(kept) < len(rows)
    # the same instant written with an offset selects the same runs
    hour = int(middle[11:13])
    shifted = f"{middle[:11]}{(hour + 2) % 24:02d}{middle[13:19]}+02:00" if hour < 22 else None
    if shifted:
        assert duckdb_server.get(f"/api/runs?since={quote(shifted)}").json() == kept


def test_pagination(duckdb_server: Server) -> None:
    everything = duckdb_server.get("/api/tests").json()
    page = duckdb_server.get("/api/tests?limit=7&offset=5")
    assert page.status == 200
    assert page.json() == everything[5:12]
    assert page.headers["x-total-count"] == str(len(everything))
    assert duckdb_server.get(f"/api/tests?offset={len(everything)}").json() == []
    runs = duckdb_server.get("/api/unclassified?limit=3&offset=2")
    full = duckdb_server.cli("unclassified", "--json", "--limit", "1000")
    assert runs.json()["runs"] == full["runs"][2:5]
    assert runs.headers["x-total-count"] == str(len(full["runs"]))
    clusters = duckdb_server.get("/api/clusters?limit=3&offset=2").json()
    assert clusters == duckdb_server.cli("clusters", "--json", "--top", "5")[2:5]


def test_test_history(server: Server) -> None:
    stats = [r for r in server.get("/api/tests").json() if r["failed"] and r["passed"]]
    row = stats[0]
    same_test = [r for r in server.get("/api/tests").json() if r["test"] == row["test"]]
    answer = server.get(f"/api/tests/{quote(row['test'], safe='')}")
    assert answer.status == 200, answer.body
    body = answer.json()
    assert body["test"] == row["test"]
    by_job = {j["job"]: j for j in body["jobs"]}
    assert set(by_job) == {r["job"] for r in same_test}
    for r in same_test:  # the same counts and rates as `ciscope tests`
        j = by_job[r["job"]]
        assert (j["runs"], j["passed"], j["failed"], j["flaked"], j["pass_rate"], j["flake_rate"]) == (
            r["runs"], r["passed"], r["failed"], r["flaked"], r["pass_rate"], r["flake_rate"])
    assert sum(d["runs"] for d in body["days"]) == sum(r["runs"] for r in same_test)
    assert any(run["message"] for run in body["runs"] if run["verdict"] == "failed")
    limited = server.get(f"/api/tests/{quote(row['test'], safe='')}?limit=2&job={quote(row['job'])}").json()
    assert len(limited["runs"]) == 2 and {j["job"] for j in limited["jobs"]} == {row["job"]}


def test_hostile_names_are_data(duckdb_server: Server) -> None:
    body = duckdb_server.get(f"/api/tests/{quote(XSS_TEST, safe='')}").json()
    assert body["test"] == XSS_TEST
    assert body["runs"][0]["message"].startswith("<img src=x onerror=alert(2)>")
    triage = duckdb_server.get(f"/api/triage/{XSS_BUILD}").json()
    assert triage["job"] == XSS_JOB and [f["test"] for f in triage["failures"]] == [XSS_TEST]


# ------------------------------------------------------------------ errors

def test_unknown_job_run_and_test_are_404(server: Server) -> None:
    assert_error(server.get("/api/grid/no-such-job"), 404, "no-such-job: no such job")
    for endpoint in ("runs", "tests", "summary", "flaky", "regressions", "bugs", "unclassified", "clusters"):
        assert_error(server.get(f"/api/{endpoint}?job=no-such-job"), 404, "no such job")
    assert_error(server.get("/api/triage/123456789"), 404, "123456789: no such run")
    assert_error(server.get("/api/triage/some-job/42"), 404, "no such run")
    assert_error(server.get("/api/tests/no.such.test"), 404, "no.such.test: no such test")
    assert_error(server.get("/api/nothing-here"), 404, "/api/nothing-here")


def test_bad_parameters_are_422(duckdb_server: Server) -> None:
    assert_error(duckdb_server.get("/api/runs?limit=-1"), 422, "query.limit")
    assert_error(duckdb_server.get("/api/runs?since=yesterday"), 422, "query.since")
    answer = duckdb_server.get("/api/regressions?confidence=2&min_failures=zero")
    assert_error(answer, 422, "query.")
    assert len(answer.json()["errors"]) == 2
    assert_error(duckdb_server.get("/api/grid/x?columns=many"), 422, "query.columns")


def test_openapi_and_local_docs(duckdb_server: Server) -> None:
    spec = duckdb_server.get("/openapi.json").json()
    for path in ("/api/runs", "/api/tests", "/api/tests/{test}", "/api/grid/{job}", "/api/summary", "/api/flaky",
                 "/api/regressions", "/api/triage/{ref}", "/api/bugs", "/api/unclassified", "/api/clusters"):
        assert path in spec["paths"], path
        responses = spec["paths"][path]["get"]["responses"]
        assert responses["404"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
        assert responses["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert set(spec["components"]["schemas"]["ErrorBody"]["properties"]) == ERROR_KEYS
    docs = duckdb_server.get("/api/docs", accept="text/html")
    assert docs.status == 200
    html = docs.body.decode()
    assets = re.findall(r"""(?:src|href)=["']?([^"' >]+)""", html) + re.findall(r"url: ?'([^']+)'", html)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in assets
    assert not [a for a in assets if "//" in a], "the docs page must load nothing from another host"
    for asset in assets:
        assert duckdb_server.get(asset).status == 200, asset


def test_serve_refuses_a_busy_port_and_a_bad_store(tmp_path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "ciscope.cli", "--db", f"duckdb:///{tmp_path / 'x.duckdb'}",
                               "serve", "--port", str(port)], capture_output=True, text=True, timeout=60, check=False,
                              env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "ciscope.cli", "--db", "postgresql://nobody@127.0.0.1:1/none",
                           "serve", "--port", str(free_port())], capture_output=True, text=True, timeout=60, check=False,
                          env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 4, done.stderr
    assert "Traceback" not in done.stderr
