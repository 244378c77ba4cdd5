"""Reading saved TestGrid responses and fetching them from a (local) TestGrid server.

The fetcher is exercised against a real ``http.server`` on 127.0.0.1 started per test; no
test touches the network.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from ciscope.analysis.grid import (
    Alert,
    StatusCounts,
    TabStatus,
    TestStatus,
    tab_summary,
)
from ciscope.errors import HostileInputError, InputError, ReportError
from ciscope.ingest.testgrid import (
    fetch_json,
    fetch_summary,
    fetch_tab_summaries_v1,
    fetch_tab_v1,
    fetch_table,
    grid_from_api_v1,
    parse_summary,
    read_json,
    read_source,
    read_summary,
    read_table,
    tab_of,
)

TABLE = {
    "test-group-name": "group", "timestamps": [1646853381000, 1646680567000],
    "changelists": ["1501638022821580800", "1500913188135243776"],
    "custom-columns": [["1", "1"]], "column-header-names": ["Date", "Time", "Build Number"],
    "overall-status": 4,
    "tests": [
        {"name": "job.Overall", "statuses": [{"count": 1, "value": 0}, {"count": 1, "value": 12}],
         "messages": ["failed"], "short_texts": ["F"], "alert": None},
        {"name": "setup", "statuses": [{"count": 2, "value": 1}], "messages": ["", ""],
         "short_texts": ["", ""], "alert": None},
    ],
}

SUMMARY_2020 = {
    "tab-a": {"alert": "", "last_run_timestamp": 1588631720000, "last_update_timestamp": 1588666937,
              "latest_green": "1", "overall_status": "FAILING",
              "overall_status_icon": "warning",
              "status": "5 of 10 (50.0%) recent columns passed (180 of 190 or 94.7% cells)",
              "tests": [{"display_name": "Overall", "test_name": "Overall", "fail_count": 15,
                         "fail_timestamp": 1588603869, "pass_timestamp": 0,
                         "failure_message": "", "build_link": "", "linked_bugs": []}],
              "dashboard_name": ""},
    "tab-b": {"alert": "no completed results", "last_run_timestamp": 0,
              "last_update_timestamp": 1588669803, "latest_green": "no recent greens",
              "overall_status": "STALE", "overall_status_icon": "error_outline",
              "status": "no completed results", "tests": [], "dashboard_name": ""},
}


def write_json(path, obj):
    path.write_text(json.dumps(obj))
    return path


# ---------------------------------------------------------------- saved files


def test_read_table(tmp_path):
    grid = read_table(write_json(tmp_path / "t.json", TABLE), name="tab", dashboard="dash")
    assert (grid.name, grid.dashboard, grid.tests) == ("tab", "dash", ["job.Overall", "setup"])
    assert grid.statuses == [[0, 12], [1, 1]]
    assert grid.messages[0] == ["", "failed"]
    assert grid.meta["overall-status"] == 4
    assert tab_summary(grid).status == (
        "1 of 2 (50.0%) recent columns passed (2 of 3 or 66.7% cells)")


@pytest.mark.parametrize("source, expected", [
    # the shared dumps' names: <dashboard>__<tab>.table[.<capture>].json
    (("d/redhat-openshift-ocp-release-4.10-informing__release-openshift-ocp-installer-e2e-metal-compact-4.10"
      ".table.json"), ("release-openshift-ocp-installer-e2e-metal-compact-4.10",
                     "redhat-openshift-ocp-release-4.10-informing")),
    ("redhat-openshift-ocp-release-4.4-informing__release-openshift-ocp-installer-e2e-gcp-rt-4.4.table.2020-03.json",
     ("release-openshift-ocp-installer-e2e-gcp-rt-4.4", "redhat-openshift-ocp-release-4.4-informing")),
    ("dash__tab.json", ("tab", "dash")),
    # a live URL's tab= parameter, and a file named after such a URL (sippy's originals)
    ("https://testgrid.k8s.io/redhat-openshift-ocp-release-4.4-informing/table?show-stale-tests=&tab=e2e%20aws",
     ("e2e aws", "redhat-openshift-ocp-release-4.4-informing")),
    ("https---testgrid.k8s.io-redhat-openshift-ocp-release-4.4-informing-table-show-stale-tests=&tab=e2e-gcp-4.4",
     ("e2e-gcp-4.4", "")),
    ("http://127.0.0.1:8080/x/dash__my-tab.table.json", ("my-tab", "dash")),
    ("http://127.0.0.1:8080/x/dash__my-tab.table.json?tab=other", ("other", "")),
    # otherwise the Prow job of the table's GCS query, then its (mangled) test group name
    ("e2e-gcp-rt-4.4.json", ("release-openshift-ocp-installer-e2e-gcp-rt-4.4", "")),
])
def test_tab_of(source, expected):
    table = {"test-group-name": "releaseopenshiftocpinstallere2egcprt44",
             "query": "origin-ci-test/logs/release-openshift-ocp-installer-e2e-gcp-rt-4.4"}
    assert tab_of(source, table) == expected


def test_tab_of_falls_back_to_the_test_group():
    assert tab_of("saved.json", {"test-group-name": "group"}) == ("group", "")


def test_read_source_names_the_job_after_the_tab(tmp_path):
    path = write_json(tmp_path / "dash__my-tab.table.json", TABLE)
    got = read_source(str(path))
    assert got.job == "my-tab" and not got.summaries
    assert {r.job for r in got.runs} == {"my-tab"} and len(got.runs) == 2
    meta = got.runs[0].metadata
    assert (meta["tab"], meta["dashboard"], meta["overall"], meta["extra"]) == ("my-tab", "dash", None, ["1"])
    forced = read_source(str(path), job="other")
    assert {r.job for r in forced.runs} == {"other"} and forced.runs[0].metadata["tab"] == "my-tab"
    empty = read_source(str(write_json(tmp_path / "dash__empty.table.json",
                                       {**TABLE, "timestamps": [], "changelists": [], "tests": []})))
    assert (empty.job, empty.runs) == ("empty", [])
    summary = read_source(str(write_json(tmp_path / "s.json", SUMMARY_2020)))
    assert summary.job is None and set(summary.summaries) == {"tab-a", "tab-b"}
    with pytest.raises(InputError, match="not a TestGrid /table"):
        read_source(str(write_json(tmp_path / "o.json", {"x": 1})))
    with pytest.raises(ReportError, match="--job"):
        read_source(str(write_json(tmp_path / "anon.json", {**TABLE, "test-group-name": ""})))


def test_read_table_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ReportError, match="not JSON"):
        read_table(bad)
    with pytest.raises(InputError, match="cannot read"):
        read_table(tmp_path / "missing.json")
    with pytest.raises(HostileInputError, match="more than the 10 bytes"):
        read_json(write_json(tmp_path / "big.json", TABLE), max_bytes=10)
    sparse = json.loads(json.dumps(TABLE))
    sparse["tests"][1]["messages"] = ["", "", ""]
    with pytest.raises(ReportError, match=r'test "setup": 3 messages for 2 non-blank cells'):
        read_table(write_json(tmp_path / "sparse.json", sparse))


def test_legacy_summary_units_are_normalised(tmp_path):
    tabs = read_summary(write_json(tmp_path / "s.json", SUMMARY_2020))
    a, b = tabs["tab-a"], tabs["tab-b"]
    assert a.overall_status is TabStatus.FAIL and a.latest_green == "1"
    assert a.last_run_ms == 1588631720000  # already ms (2020)
    assert a.updated_ms == 1588666937000  # seconds
    assert a.counts == StatusCounts(5, 10, 180, 190)
    assert a.alerts == (Alert(test="Overall", fail_count=15, fail_time_ms=1588603869000),)
    assert (b.overall_status, b.stale_alert, b.last_run_ms, b.counts) == (
        TabStatus.STALE, "no completed results", None, None)
    later = parse_summary({"t": {**SUMMARY_2020["tab-a"], "last_run_timestamp": 1646968581}})
    assert later["t"].last_run_ms == 1646968581000  # seconds since 2021


def test_summary_errors():
    with pytest.raises(ReportError, match='tab "t": expected an object with "overall_status"'):
        parse_summary({"t": {"status": ""}})
    with pytest.raises(ReportError, match='unknown tab status "GREEN"'):
        parse_summary({"t": {"overall_status": "GREEN"}})
    with pytest.raises(ReportError, match="not a TestGrid summary"):
        parse_summary([1, 2])


# ---------------------------------------------------------------- API v1

HEADERS_V1 = {"headers": [{"build": "567", "started": "2023-05-29T11:25:20.000Z",
                           "extra": ["abc"]}, {"build": "456"}]}
ROWS_V1 = {"rows": [{"name": "//a:test", "cells": [{"result": 12, "cell_id": "x",
                                                    "message": "boom", "icon": "F"}, {}]},
                    {"name": "//b:test", "cells": [{"result": "PASS"}, {"result": 1}]}]}


def test_grid_from_api_v1():
    grid = grid_from_api_v1(ROWS_V1, HEADERS_V1, name="tab")
    assert grid.builds == ["567", "456"] and grid.started_ms == [1685359520000, None]
    assert grid.columns[0].label == "abc"
    assert grid.statuses == [[12, 0], [1, 1]] and grid.messages[0] == ["boom", ""]
    assert grid.icons is not None and grid.icons[0] == ["F", ""]


def test_api_v1_errors():
    short = {"rows": [{"name": "//a:test", "cells": [{}]}]}
    with pytest.raises(ReportError, match=r'test "//a:test": 1 cells but 2 headers'):
        grid_from_api_v1(short, HEADERS_V1, name="tab")
    odd = {"rows": [{"name": "//a:test", "cells": [{"result": 99}, {}]}]}
    with pytest.raises(ReportError, match=r"unknown result 99"):
        grid_from_api_v1(odd, HEADERS_V1, name="tab")


def test_api_v1_tab_summaries():
    tabs = parse_summary({"tab_summaries": [{
        "tab_name": "t", "overall_status": "FLAKY", "latest_passing_build": "123",
        "detailed_status_message": "Tab stats: 3 of 5 (60 %) recent columns passed "
                                   "(5 of 7 or 71.43 % cells)",
        "last_run_timestamp": "2023-05-29T11:25:20.000Z",
        "failures_summary": {"top_failing_tests": [{
            "display_name": "x", "fail_count": 4, "fail_timestamp": "2023-05-29T11:25:20Z",
            "pass_timestamp": {"seconds": 1685359000}}]}}]})
    t = tabs["t"]
    assert (t.overall_status, t.latest_green, t.counts, t.last_run_ms) == (
        TabStatus.FLAKY, "123", StatusCounts(3, 5, 5, 7), 1685359520000)
    assert t.alerts == (Alert(test="x", fail_count=4, fail_time_ms=1685359520000,
                              pass_time_ms=1685359000000),)


def test_api_v1_shapes_of_the_upstream_fake_data(shared_data):
    """The open-source frontend's fake API responses (synthetic values, real shapes)."""
    data = read_json(shared_data / "testgrid" / "testgrid-api-v1" / "fake-api-data.json")
    grid = grid_from_api_v1(data["fake-tab-7-rows"], data["fake-tab-7-headers"], name="fake-tab-7")
    assert grid.builds == ["567", "456", "345", "234", "123"]
    assert grid.row("//gotests/somepath:unit_5324") == [0, 0, 12, 1, 0]
    tabs = parse_summary(data["fake-dashboard-1-tab-summaries"])
    assert tabs["fake-tab-1"].counts == StatusCounts(5, 5, 7, 7)
    assert tabs["fake-tab-1"].alerts[0].fail_count == 1
    assert {t.overall_status for t in tabs.values()} == {TabStatus.PASS, TabStatus.FLAKY,
                                                         TabStatus.FAIL}


# ---------------------------------------------------------------- fetching


class FakeTestGrid:
    """A local HTTP server answering scripted responses: path → [(status, body, delay)],
    consumed in order, the last one repeating."""

    def __init__(self) -> None:
        self.routes: dict[str, list[tuple[int, bytes, float]]] = {}
        self.hits: collections.Counter[str] = collections.Counter()
        self.queries: list[dict[str, list[str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                url = urlsplit(self.path)
                server.hits[url.path] += 1
                server.queries.append(parse_qs(url.query, keep_blank_values=True))
                script = server.routes.get(url.path) or [(404, b"not found", 0.0)]
                status, body, delay = script.pop(0) if len(script) > 1 else script[0]
                time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # client gave up (timeout)
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,),
                                       daemon=True)
        self.thread.start()

    def serve(self, path: str, *responses: tuple[int, object, float] | object) -> None:
        script = []
        for r in responses:
            status, body, delay = r if isinstance(r, tuple) else (200, r, 0.0)
            script.append((status, body if isinstance(body, bytes) else json.dumps(body).encode(),
                           delay))
        self.routes[path] = script

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def testgrid():
    server = FakeTestGrid()
    yield server
    server.close()


def test_fetch_table_and_cache(testgrid, tmp_path):
    testgrid.serve("/dash/table", TABLE)
    cache = tmp_path / "cache"
    grid = fetch_table(testgrid.url, "dash", "my tab",
                       base_options="exclude-filter-by-regex=Monitor%5Cscluster",
                       cache_dir=cache, backoff=0)
    assert grid.name == "my tab" and grid.statuses == [[0, 12], [1, 1]]
    assert testgrid.queries[0] == {"tab": ["my tab"], "show-stale-tests": [""],
                                   "exclude-filter-by-regex": [r"Monitor\scluster"]}
    assert len(list(cache.glob("*.json"))) == 1
    again = fetch_table(testgrid.url, "dash", "my tab",
                        base_options="exclude-filter-by-regex=Monitor%5Cscluster", cache_dir=cache)
    assert again.statuses == grid.statuses and testgrid.hits["/dash/table"] == 1
    fetch_table(testgrid.url, "dash", "my tab", cache_dir=cache, refresh=True)
    assert testgrid.hits["/dash/table"] == 2


def test_fetch_retries_server_errors(testgrid):
    testgrid.serve("/dash/summary", (503, b"busy", 0.0), (500, b"oops", 0.0), SUMMARY_2020)
    tabs = fetch_summary(testgrid.url, "dash", retries=2, backoff=0)
    assert set(tabs) == {"tab-a", "tab-b"} and testgrid.hits["/dash/summary"] == 3


def test_fetch_gives_up_after_retries(testgrid):
    testgrid.serve("/dash/summary", (502, b"bad gateway", 0.0))
    with pytest.raises(InputError, match=r"GET failed after 3 attempts: HTTP 502"):
        fetch_summary(testgrid.url, "dash", retries=2, backoff=0)
    assert testgrid.hits["/dash/summary"] == 3


def test_fetch_does_not_retry_client_errors(testgrid, tmp_path):
    with pytest.raises(InputError, match=r"HTTP 404 Not Found; check the dashboard and tab names"):
        fetch_json(f"{testgrid.url}/nope/summary", retries=3, backoff=0, cache_dir=tmp_path)
    assert testgrid.hits["/nope/summary"] == 1
    assert not list(tmp_path.iterdir())  # errors are never cached


def test_fetch_timeout_is_retried(testgrid):
    testgrid.serve("/slow", (200, {"late": True}, 0.5), (200, {"ok": True}, 0.0))
    assert fetch_json(f"{testgrid.url}/slow", timeout=0.1, retries=1, backoff=0) == {"ok": True}
    testgrid.serve("/slower", (200, {"late": True}, 0.5))
    with pytest.raises(InputError, match=r"after 2 attempts: .*timed out"):
        fetch_json(f"{testgrid.url}/slower", timeout=0.1, retries=1, backoff=0)


def test_fetch_refuses_bad_bodies(testgrid, tmp_path):
    testgrid.serve("/garbage", b"<html>maintenance</html>")
    with pytest.raises(ReportError, match="not JSON"):
        fetch_json(f"{testgrid.url}/garbage", cache_dir=tmp_path, backoff=0)
    assert not list(tmp_path.glob("*.json"))
    testgrid.serve("/huge", TABLE)
    with pytest.raises(HostileInputError, match="larger than the 100 bytes"):
        fetch_json(f"{testgrid.url}/huge", max_bytes=100)


def test_fetch_unreachable_server(tmp_path):
    server = FakeTestGrid()
    url = server.url
    server.close()
    with pytest.raises(InputError, match=r"after 2 attempts: ConnectionRefusedError"):
        fetch_json(f"{url}/x", retries=1, backoff=0, timeout=1)


def test_fetch_api_v1(testgrid):
    root = "/api/v1/dashboards/dash/tabs/tab"
    testgrid.serve(f"{root}/headers", HEADERS_V1)
    testgrid.serve(f"{root}/rows", ROWS_V1)
    testgrid.serve("/api/v1/dashboards/dash/tab-summaries",
                   {"tab_summaries": [{"tab_name": "tab", "overall_status": "PASSING"}]})
    grid = fetch_tab_v1(testgrid.url, "dash", "tab", backoff=0)
    assert grid.tests == ["//a:test", "//b:test"] and grid.row("//a:test") == [
        TestStatus.FAIL, TestStatus.NO_RESULT]
    tabs = fetch_tab_summaries_v1(testgrid.url, "dash", backoff=0)
    assert tabs["tab"].overall_status is TabStatus.PASS
