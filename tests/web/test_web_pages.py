"""The pages in real headless Chromium (the Debian package, driven by Playwright) over a real
``ciscope serve``: every page loads without console errors or foreign requests, the grid shows
TestGrid's colours for known cells, hover and click work, filters work, hostile names stay text.

Screenshots of every page go to ``tmp/artifacts/web/`` (or ``$CISCOPE_ARTIFACTS``).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import REPO, XSS_BUILD, XSS_JOB, XSS_MESSAGE, XSS_TEST, Server

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="browser tests need Debian's chromium at /usr/bin/chromium "
                                       "(apt-get install -y chromium; .ci/run installs it in CI)")
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need Playwright: pip install playwright")
ARTIFACTS = Path(os.environ.get("CISCOPE_ARTIFACTS", REPO / "tmp" / "artifacts")) / "web"
# TestGrid's cell colours (web/src/testgrid-grid-cell.ts)
RGB = {1: (0x44, 0xdd, 0x77), 3: (0xbb, 0xff, 0xdd), 12: (0xaa, 0x22, 0x44), 13: (0x66, 0x33, 0xaa)}


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield chromium
        chromium.close()


class Watched:
    """A page whose console errors, page errors, dialogs and foreign requests are recorded."""

    def __init__(self, browser, server: Server) -> None:
        self.server = server
        self.page = browser.new_page(viewport={"width": 1400, "height": 900})
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        # (the one warning not counted is about this test's own pixel reads from the grid canvas)
        self.page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}")
                     if m.type in ("error", "warning") and "willReadFrequently" not in m.text else None)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url}"))
        self.page.on("request", lambda r: None if r.url.startswith((server.base, "data:"))
                     else self.problems.append(f"foreign request: {r.url}"))

        def dialog(d) -> None:
            self.dialogs.append(d.message)
            d.dismiss()

        self.page.on("dialog", dialog)

    def open(self, path: str, shot: str | None = None):
        answer = self.page.goto(self.server.base + path)
        self.settle(shot)
        return answer

    def settle(self, shot: str | None = None) -> None:
        """Wait until the page's heavy parts are drawn; then take its screenshot."""
        self.page.wait_for_load_state("networkidle")
        self.page.wait_for_function("!document.querySelector('.loading') && !document.querySelector("
                                    "'#page[data-page=job]:not([data-ready])')", timeout=60_000)
        if shot:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(ARTIFACTS / f"{shot}.png"))


@pytest.fixture
def watched(browser, duckdb_server: Server):
    w = Watched(browser, duckdb_server)
    yield w
    w.page.close()


def demo_job(server: Server) -> str:
    return server.cli("runs", "--json", "--limit", "1")[0]["job"]


def a_failed_run(server: Server) -> dict:
    return next(r for r in server.cli("runs", "--json") if r["status"] == "failure" and r["failed_tests"])


def test_every_page_loads_cleanly(watched: Watched) -> None:
    server = watched.server
    job = demo_job(server)
    run = a_failed_run(server)
    test = server.get("/api/flaky?limit=1").json()[0]["test"]
    pages = {
        "overview": "/", "job": f"/jobs/{quote(job, safe='')}", "run": f"/runs/{run['build']}?job={quote(run['job'])}",
        "test": f"/tests/{quote(test, safe='')}", "bugs": "/bugs", "uncategorized": "/uncategorized",
        "clusters": "/clusters", "flaky": "/flaky", "regressions": "/regressions", "disruption": "/disruption",
        "timing": "/timing", "api-docs": "/api/docs",
    }
    for name, path in pages.items():
        answer = watched.open(path, shot=name)
        assert answer.status == 200, (path, answer.status)
        assert not watched.problems, (path, watched.problems)
        errors = watched.page.evaluate("[...document.querySelectorAll('.error')].map(e => e.textContent).filter(Boolean)")
        assert not errors, (path, errors)
    # what the heavy parts drew
    watched.open("/")
    assert watched.page.locator("#jobs table tbody tr").count() == len(server.cli("summary", "--json"))
    assert "Classification rate" in watched.page.inner_text("#classification")
    watched.open(pages["test"])
    assert watched.page.locator("#test-chart").count() == 1
    assert watched.page.evaluate("Chart.getChart('test-chart').data.datasets.length") >= 2
    watched.open("/bugs")
    assert watched.page.evaluate("Chart.getChart('bugs-chart').data.datasets.length") >= 1
    watched.open("/clusters")
    assert "regex: '" in watched.page.inner_text("pre.yaml >> nth=0")
    watched.open("/api/docs")
    watched.page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
    assert not watched.problems, watched.problems


def test_unknown_things_are_404_pages(watched: Watched) -> None:
    for path, text in (("/jobs/no-such-job", "no such job"), ("/runs/424242", "no such run"),
                       ("/tests/no.such.test", "no such test"), ("/nowhere", "no such page")):
        answer = watched.page.goto(watched.server.base + path)
        assert answer.status == 404, path
        assert text in watched.page.inner_text("#error-message")


def grid_cells(server: Server, job: str) -> dict[int, tuple[str, str, str]]:
    """One (test, build, message) per status code of interest, from the grid API."""
    from ciscope.analysis.grid import rle_decode

    table = server.get(f"/api/grid/{quote(job, safe='')}").json()
    builds = table["column_ids"]
    found: dict[int, tuple[str, str, str]] = {}
    for row in table["tests"][1:]:
        cells = rle_decode(row["statuses"])
        messages = iter(row["messages"])
        for build, status in zip(builds, cells, strict=True):
            message = next(messages) if status else ""
            if status in RGB and status not in found:
                found[status] = (row["name"], build, message)
    return found


def pixel(page, test: str, build: str) -> tuple[tuple[int, int, int], dict]:
    point = page.evaluate("([t, b]) => window.ciscopeGrid.cellCenter(t, b)", [test, build])
    assert point, (test, build)
    rgb = page.evaluate("""([x, y]) => {
        const canvas = document.getElementById('grid-canvas');
        const box = canvas.getBoundingClientRect();
        const ratio = canvas.width / box.width;
        const d = canvas.getContext('2d').getImageData(Math.floor((x - box.left) * ratio), Math.floor((y - box.top) * ratio), 1, 1).data;
        return [d[0], d[1], d[2]];
    }""", [point["x"], point["y"]])
    return tuple(rgb), point


def test_grid_colours_hover_and_click(watched: Watched) -> None:
    server = watched.server
    job = demo_job(server)
    cells = grid_cells(server, job)
    assert {1, 12} <= set(cells), cells
    watched.open(f"/jobs/{quote(job, safe='')}")
    watched.page.wait_for_selector("#page[data-ready=true]")
    for status, (test, build, _) in cells.items():
        rgb, _ = pixel(watched.page, test, build)
        assert rgb == RGB[status], (status, test, build, rgb)
    test, build, message = cells[12]
    _, point = pixel(watched.page, test, build)
    watched.page.mouse.move(point["x"], point["y"])
    tip = watched.page.locator("#grid-tip")
    tip.wait_for(state="visible")
    text = tip.inner_text()
    assert test in text and build in text and "FAIL" in text
    assert message.split("\n")[0][:80] in text
    watched.page.mouse.click(point["x"], point["y"])
    watched.page.wait_for_url(f"**/runs/{build}?job=*")
    assert watched.page.url.endswith(f"/runs/{build}?job={quote(job, safe='')}")
    assert test in watched.page.inner_text("#failures")
    assert not watched.problems, watched.problems


def test_grid_filters(watched: Watched) -> None:
    job = demo_job(watched.server)
    watched.open(f"/jobs/{quote(job, safe='')}")
    page = watched.page
    page.wait_for_selector("#page[data-ready=true]")
    everything = page.evaluate("window.ciscopeGrid.shown()")
    assert everything[0] == "Overall" and len(everything) > 100
    page.fill("#grid-filter", "garbage collector")
    shown = page.evaluate("window.ciscopeGrid.shown()")
    assert 1 < len(shown) < len(everything)
    assert all("garbage collector" in name.lower() for name in shown[1:])
    page.fill("#grid-filter", "")
    page.fill("#grid-include", r"^\[sig-(apps|network)\]")
    page.fill("#grid-exclude", "Slow")
    shown = page.evaluate("window.ciscopeGrid.shown()")
    assert len(shown) > 1
    assert all(name.startswith(("[sig-apps]", "[sig-network]")) and "slow" not in name.lower() for name in shown[1:])
    page.fill("#grid-include", "")
    page.fill("#grid-exclude", "")
    page.check("#grid-hide-passing")
    shown = page.evaluate("window.ciscopeGrid.shown()")
    assert 1 < len(shown) < len(everything)
    failing = {row["name"] for row in watched.server.get(f"/api/grid/{quote(job, safe='')}").json()["tests"]
               if any(run["value"] in (9, 10, 11, 12, 13, 14) for run in row["statuses"])}
    assert set(shown[1:]) == failing - {"Overall"}
    page.uncheck("#grid-hide-passing")
    page.fill("#grid-include", "([unclosed")
    assert "include:" in page.inner_text("#grid-filter-error")
    assert len(page.evaluate("window.ciscopeGrid.shown()")) == len(everything)
    page.screenshot(path=str(ARTIFACTS / "job-filter-error.png"))
    assert not watched.problems, watched.problems


def test_hostile_test_names_render_as_text(watched: Watched) -> None:
    page = watched.page
    for path in (f"/runs/{XSS_BUILD}?job={XSS_JOB}", f"/tests/{quote(XSS_TEST, safe='')}", f"/jobs/{XSS_JOB}",
                 "/uncategorized", "/clusters?x=<script>alert(3)</script>"):
        watched.open(path, shot="xss-" + path.strip("/").split("/")[0].split("?")[0])
        if path.startswith("/jobs/"):
            page.wait_for_selector("#page[data-ready=true]")
            assert XSS_TEST in page.evaluate("window.ciscopeGrid.shown()")
            test_point = page.evaluate("([t, b]) => window.ciscopeGrid.cellCenter(t, b)", [XSS_TEST, XSS_BUILD])
            page.mouse.move(test_point["x"], test_point["y"])
            page.locator("#grid-tip").wait_for(state="visible")
            assert XSS_MESSAGE in page.inner_text("#grid-tip")
        # nothing ran, nothing was injected; our own scripts only
        assert watched.dialogs == [], (path, watched.dialogs)
        assert page.locator("img[src=x]").count() == 0, path
        scripts = page.evaluate("[...document.scripts].map(s => s.getAttribute('src'))")
        assert all(src and src.startswith("/static/") for src in scripts), (path, scripts)
        assert not [p for p in watched.problems if "alert" in p], watched.problems
    watched.open(f"/runs/{XSS_BUILD}?job={XSS_JOB}")
    assert XSS_TEST in page.inner_text("#failures")
    assert XSS_MESSAGE in page.inner_text("#failures")
    watched.open(f"/tests/{quote(XSS_TEST, safe='')}")
    assert XSS_TEST in page.inner_text("h1")
    assert XSS_MESSAGE in page.inner_text("#test-history")


PAINTED = """(canvas) => {
    if (!canvas || !canvas.width || !canvas.height) return false;
    const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
    return n > 500;
}"""


def column(page, box: str, label: str) -> list[str]:
    """The texts of one column of the table in ``box``, by its header."""
    return page.evaluate("""([box, label]) => {
        const table = document.querySelector(`#${box} table`);
        const i = [...table.querySelectorAll('thead th')].findIndex(th => th.textContent === label);
        return [...table.querySelectorAll('tbody tr')].map(tr => tr.children[i].textContent);
    }""", [box, label])


def test_disruption_page(watched: Watched) -> None:
    server, page = watched.server, watched.page
    watched.open("/disruption")
    page.wait_for_function("document.querySelectorAll('#disruption-charts canvas').length > 0")
    canvases = page.locator("#disruption-charts canvas")
    backends = {v["backend"] for r in server.cli("disruption", "runs", "--limit", "40", "--json") for v in r["backends"]}
    assert canvases.count() == len(backends) >= 1
    first = canvases.first.element_handle()
    assert page.evaluate("(c) => Chart.getChart(c).data.datasets.map(d => d.label)", first) == [
        "observed s", "P95 baseline", "P99 baseline", "allowed s"]
    assert page.evaluate("(c) => Chart.getChart(c).data.datasets[0].data.filter(v => v !== null).length", first) > 10
    # the baseline lines are drawn too (the job type's baseline now when a run had too little history)
    assert page.evaluate("(c) => Chart.getChart(c).data.datasets[2].data.some(v => v !== null)", first)
    assert page.evaluate(PAINTED, first)
    page.screenshot(path=str(ARTIFACTS / "disruption.png"), full_page=True)
    assert len(column(page, "disruption-runs", "build")) == 40
    assert "job types" in page.inner_text("#disruption-chart-note")
    assert column(page, "disruption-baselines", "backend")
    # filters: a job (the form reloads the page with ?job=), alert baselines
    job = page.evaluate("document.querySelector('select[name=job]').options[1].value")
    page.select_option("select[name=job]", job)
    page.select_option("select[name=kind]", "alerts")
    page.click("#disruption-filters button[type=submit]")
    page.wait_for_url("**/disruption?*")
    watched.settle(shot="disruption-filtered")
    assert set(column(page, "disruption-runs", "job")) == {job}
    assert column(page, "disruption-baselines", "alert")
    assert page.input_value("select[name=job]") == job
    assert page.inner_text("#disruption-chart-note") == ""  # one job: one job type
    assert not watched.problems, watched.problems


def test_timing_page(watched: Watched) -> None:
    server, page = watched.server, watched.page
    watched.open("/timing")
    page.wait_for_function("window.Chart && Chart.getChart('timing-bars') && Chart.getChart('timing-trends')")
    bars = page.evaluate("Chart.getChart('timing-bars').data")
    assert len(bars["labels"]) == 30 and [d["label"] for d in bars["datasets"]][:3] == ["queue", "provision", "boot"]
    assert bars["labels"][0] == server.get("/api/timing/runs?newest=1").json()["runs"][0]["label"]  # newest on top
    trends = page.evaluate("Chart.getChart('timing-trends').data.datasets.map(d => d.data.length)")
    assert max(trends) > 100
    for canvas in ("timing-bars", "timing-trends"):
        assert page.evaluate(PAINTED, page.locator(f"#{canvas}").element_handle()), canvas
    page.screenshot(path=str(ARTIFACTS / "timing.png"), full_page=True)
    stats = server.cli("timing", "--json")
    assert len(column(page, "timing-stats", "phase")) == len(stats["phases"])
    assert len(column(page, "timing-thresholds", "phase")) == len(server.cli("timing", "thresholds", "--json")["thresholds"])
    outliers = server.cli("timing", "outliers", "--json")["outliers"]
    assert len(column(page, "timing-outliers", "phase")) == len(outliers) if outliers else True
    # filters: group by worker; one job
    page.select_option("select[name=by]", "worker")
    page.click("#timing-filters button[type=submit]")
    page.wait_for_url("**/timing?*")
    watched.settle()
    assert page.inner_text("#timing-stats thead th >> nth=0") == "worker"
    workers = {p["group"] for p in server.cli("timing", "--by", "worker", "--json")["phases"]}
    assert set(column(page, "timing-stats", "worker")) == workers
    job = page.evaluate("document.querySelector('select[name=job]').options[1].value")
    watched.open(f"/timing?job={quote(job)}&newest=10", shot="timing-job")
    page.wait_for_function("window.Chart && Chart.getChart('timing-bars')")
    labels = page.evaluate("Chart.getChart('timing-bars').data.labels")
    assert len(labels) == 10 and all(label.startswith(f"{job} #") for label in labels)
    assert set(column(page, "timing-stats", "job")) == {job}
    assert not watched.problems, watched.problems


def test_run_page_shows_disruption_and_timing(watched: Watched) -> None:
    server, page = watched.server, watched.page
    run = server.cli("disruption", "runs", "--limit", "1", "--json")[0]
    watched.open(f"/runs/{run['build']}?job={quote(run['job'])}", shot="run-disruption-timing")
    assert column(page, "run-disruption", "backend") == [v["backend"] for v in run["backends"]]
    assert run["verdict"] in page.inner_text("#run-disruption p")
    phases = column(page, "run-timing", "phase")
    assert phases[:3] == ["queue", "provision", "boot"]
    assert set(column(page, "run-timing", "verdict")) <= {"within", "over", "not measured", "no threshold"}
    # a run without such data has neither section
    watched.open(f"/runs/{XSS_BUILD}?job={XSS_JOB}")
    assert page.locator("#run-disruption").count() == 0 and page.locator("#run-timing").count() == 0
    assert not watched.problems, watched.problems
