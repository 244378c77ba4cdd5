"""``/api/disruption/...`` and ``/api/timing...`` over a real ``ciscope serve``: each returns what
the matching ``ciscope disruption ... --json`` / ``ciscope timing ... --json`` prints, with the
window filters and the one error shape; and the job page's compact grid
(``/api/grid/JOB?format=page``) holds exactly the cells and messages of ``/api/grid/JOB``."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from conftest import XSS_BUILD, XSS_JOB, Server
from test_web_api import assert_error


def disruption_run(server: Server) -> dict:
    """The newest run with disruption data (the demo writes it for runs that ran their e2e tests)."""
    return server.cli("disruption", "runs", "--limit", "1", "--json")[0]


@pytest.mark.parametrize(("path", "args"), [
    ("/api/disruption/baselines", ["disruption", "baseline"]),
    ("/api/disruption/baselines?kind=alerts&days=30", ["disruption", "baseline", "--kind", "alerts", "--days", "30"]),
    ("/api/disruption/baselines?release=4.18", ["disruption", "baseline", "--release", "4.18"]),
    ("/api/disruption/runs", ["disruption", "runs"]),
    ("/api/disruption/runs?limit=5&days=3&history_days=20",
     ["disruption", "runs", "--limit", "5", "--days", "3", "--history-days", "20"]),
    ("/api/disruption/report?old_days=10&new_days=5", ["disruption", "report", "--old-days", "10", "--new-days", "5"]),
    ("/api/timing", ["timing"]),
    ("/api/timing?by=worker&days=10", ["timing", "--by", "worker", "--days", "10"]),
    ("/api/timing/thresholds", ["timing", "thresholds"]),
    ("/api/timing/thresholds?by=device_group", ["timing", "thresholds", "--by", "device_group"]),
    ("/api/timing/outliers", ["timing", "outliers"]),
])
def test_endpoint_returns_the_cli_json(duckdb_server: Server, path: str, args: list[str]) -> None:
    answer = duckdb_server.get(path)
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"] == "application/json"
    expected = duckdb_server.cli(*args, "--json")
    assert expected, f"{args}: the demo should give a non-empty answer"
    assert answer.json() == expected


def test_filters_and_a_run_match_the_cli(server: Server) -> None:
    """Both engines: the job filter, one run's check, and the timing of one job."""
    run = disruption_run(server)
    job = run["job"]
    for path, args in ((f"/api/disruption/runs?job={quote(job)}&limit=4", ["disruption", "runs", "--job", job, "--limit", "4"]),
                       (f"/api/disruption/check/{run['build']}?job={quote(job)}", ["disruption", "check", f"{job}/{run['build']}"]),
                       (f"/api/timing?job={quote(job)}", ["timing", "--job", job]),
                       (f"/api/timing/outliers?job={quote(job)}", ["timing", "outliers", "--job", job])):
        answer = server.get(path)
        assert answer.status == 200, (path, answer.body)
        assert answer.json() == server.cli(*args, "--json"), path
    runs = server.get(f"/api/disruption/runs?job={quote(job)}&limit=4")
    assert {r["job"] for r in runs.json()} == {job} and len(runs.json()) == 4
    assert int(runs.headers["x-total-count"]) >= 4
    page = server.get(f"/api/disruption/runs?job={quote(job)}&limit=2&offset=2").json()
    assert page == runs.json()[2:4]


def test_timing_runs_are_the_chart_data(duckdb_server: Server) -> None:
    every = duckdb_server.get("/api/timing/runs?newest=0").json()
    assert every["phases"][:3] == ["queue", "provision", "boot"] and len(every["runs"]) > 100
    newest = duckdb_server.get("/api/timing/runs?newest=7").json()
    assert newest["runs"] == every["runs"][-7:]
    starts = [r["started"] for r in every["runs"]]
    assert starts == sorted(starts)  # oldest first
    run = every["runs"][-1]
    assert set(run["phases"]) == set(every["phases"]) and " #" in run["label"]
    job = run["label"].split(" #")[0]
    assert {r["label"].split(" #")[0] for r in duckdb_server.get(f"/api/timing/runs?job={quote(job)}&newest=0")
            .json()["runs"]} == {job}


def test_errors(server: Server) -> None:
    for path in ("/api/disruption/runs?job=no-such-job", "/api/timing?job=no-such-job",
                 "/api/timing/thresholds?job=no-such-job", "/api/timing/outliers?job=no-such-job",
                 "/api/timing/runs?job=no-such-job", "/api/disruption/check/424242"):
        assert_error(server.get(path), 404, "no such")
    # a run without disruption data: arguments that do not fit
    assert_error(server.get(f"/api/disruption/check/{XSS_BUILD}?job={XSS_JOB}"), 400, "no disruption or alert data")
    assert_error(server.get("/api/disruption/baselines?kind=nonsense"), 422, "query.kind")
    assert_error(server.get("/api/timing?by=planet"), 422, "query.by")
    assert_error(server.get("/api/disruption/runs?limit=-1"), 422, "query.limit")
    assert_error(server.get("/api/disruption/baselines?until=0001-01-01T00:00:00Z"), 400, "between the years")
    assert_error(server.get("/api/timing?days=3&since=2026-01-01T00:00:00Z"), 400, "--days or --since")


def decode_page(page: dict) -> list[list[int]]:
    width = len(page["builds"])
    flat: list[int] = []
    for value, length in zip(page["values"], page["lengths"], strict=True):
        flat += [value] * length
    assert len(flat) == width * len(page["tests"])
    return [flat[i * width:(i + 1) * width] for i in range(len(page["tests"]))]


def test_the_page_grid_holds_the_cells_and_messages_of_the_grid(server: Server) -> None:
    from ciscope.analysis.grid import rle_decode

    job = server.cli("runs", "--json", "--limit", "1")[0]["job"]
    for columns in (100, 7, 0):
        full = server.get(f"/api/grid/{quote(job, safe='')}?columns={columns}").json()
        answer = server.get(f"/api/grid/{quote(job, safe='')}?columns={columns}&format=page")
        assert answer.status == 200, answer.body
        page = answer.json()
        assert page["tests"] == [row["name"] for row in full["tests"]]
        assert page["builds"] == full["column_ids"] and page["times"] == full["timestamps"]
        assert page["commits"] == full["commits"]
        assert decode_page(page) == [rle_decode(row["statuses"]) for row in full["tests"]]
        expected = set()
        for r, row in enumerate(full["tests"]):
            cells = [c for c, status in enumerate(rle_decode(row["statuses"])) if status]
            expected |= {(r, c, m) for c, m in zip(cells, row["messages"], strict=True) if m}
        assert {(r, c, page["texts"][k]) for r, c, k in page["messages"]} == expected and expected
        assert len(page["texts"]) == len(set(page["texts"]))
        assert len(answer.body) < len(server.get(f"/api/grid/{quote(job, safe='')}?columns={columns}").body) / 2
    assert_error(server.get("/api/grid/no-such-job?format=page"), 404, "no such job")
    assert_error(server.get(f"/api/grid/{quote(job, safe='')}?format=html"), 422, "query.format")
