"""TestGrid parity through the command line alone (issue 8): every same-capture ``/table`` +
``/summary`` pair of the shared real dumps is ingested by ``ciscope ingest`` in a subprocess
and ``ciscope summary`` must say what testgrid.k8s.io published — as JSON and as a table,
on DuckDB and on PostgreSQL.

The expected values are read from the raw ``/summary`` JSON here, not through ciscope's parser.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

LEGACY = Path("testgrid") / "sippy-testgrid-legacy"
RELEASE = "redhat-openshift-ocp-release-"
# README.txt, "Summary/table pairs in this tree (same capture …)": (summary file, table file)
PAIRS = [
    ("4.10-informing.summary.json", ("4.10-informing__periodic-ci-openshift-multiarch-master-nightly-4.10-"
                                     "ocp-e2e-compact-remote-libvirt-s390x.table.json")),
    ("4.10-informing.summary.json", ("4.10-informing__release-openshift-ocp-installer-e2e-metal-compact-"
                                     "4.10.table.json")),
    ("4.4-informing.summary.json", ("4.4-informing__release-openshift-origin-installer-e2e-aws-upgrade-"
                                    "rollback-4.4.table.json")),
    ("4.4-informing.summary.json", "4.4-informing__release-openshift-ocp-installer-e2e-gcp-fips-4.4.table.json"),
]
IDS = [t.split("__")[1].removesuffix(".table.json") for _, t in PAIRS]


def tab_of(table_file: str) -> str:
    return table_file.split("__", 1)[1].removesuffix(".table.json")


@pytest.fixture(scope="module")
def legacy(shared_data) -> Path:
    folder = shared_data / LEGACY
    if not (folder / "table").is_dir():
        pytest.skip(f"TestGrid dumps not found in {folder}")
    return folder


@pytest.fixture(scope="module")
def excludes(legacy) -> list[str]:
    """The tabs' exclude regexes, from the URLs sippy used (sample-data-urls.txt)."""
    found: list[str] = []
    for url in (legacy / "sample-data-urls.txt").read_text().split():
        for regex in parse_qs(urlsplit(url).query).get("exclude-filter-by-regex", []):
            if regex not in found:
                found.append(regex)
    assert found == [r"Monitor\scluster", r"^operator.Run template.*container test$"]
    return found


def run_cli(*args: str, db: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ciscope.cli", "--db", db, *args], capture_output=True, text=True,
                          check=False, timeout=300, env={**os.environ, "COLUMNS": "700", **(env or {})})


def published(legacy: Path, summary_file: str, tab: str) -> dict:
    """What testgrid.k8s.io published for the tab: the raw /summary entry."""
    entry = json.loads((legacy / "summary" / (RELEASE + summary_file)).read_text())[tab]
    return {"overall_status": entry["overall_status"], "status": entry["status"],
            "latest_green": entry["latest_green"],
            "alerts": sorted((t["test_name"], t["fail_count"], t["fail_timestamp"] * 1000 or None,
                              t["pass_timestamp"] * 1000 or None, t["failure_message"])
                             for t in entry.get("tests") or ())}


def shown(row: dict) -> dict:
    return {"overall_status": row["overall_status"], "status": row["status"], "latest_green": row["latest_green"],
            "alerts": sorted((a["test"], a["fail_count"], a.get("fail_time_ms"), a.get("pass_time_ms"),
                              a.get("failure_message", "")) for a in row["alerts"])}


def ingest_pair(legacy: Path, pair: tuple[str, str], db: str) -> None:
    summary_file, table_file = pair
    done = run_cli("ingest", str(legacy / "table" / (RELEASE + table_file)),
                   str(legacy / "summary" / (RELEASE + summary_file)), db=db)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("pair", PAIRS, ids=IDS)
def test_every_pair_reproduced_through_the_cli(legacy, excludes, store_url, pair):
    """ingest <table> <summary>, then `summary --json` with the tab's filters: overall status,
    status string, latest green and alerts are the published ones; the job is the tab."""
    ingest_pair(legacy, pair, store_url)
    tab = tab_of(pair[1])
    filters = [arg for regex in excludes for arg in ("--exclude-test", regex)]
    done = run_cli("summary", "--json", *filters, db=store_url)
    assert done.returncode == 0, done.stderr
    [row] = json.loads(done.stdout)  # the table's job only: the summary's other tabs are no jobs
    assert row["job"] == tab
    assert shown(row) == published(legacy, pair[0], tab)
    assert row["filters"] == {"include": [], "exclude": excludes}
    upstream = row["upstream"]
    assert upstream["tab"] == tab and upstream["overall_status"] == row["overall_status"]
    assert row["agreement"]["agrees"] is True and row["agreement"]["differs"] == []

    table = run_cli("summary", *filters, db=store_url)
    assert table.returncode == 0, table.stderr
    [line] = [x for x in table.stdout.splitlines() if tab in x]
    expected = published(legacy, pair[0], tab)
    assert f"│ {expected['overall_status']} " in line and expected["status"] in line
    assert line.rstrip("│ ").endswith("yes")  # the agrees column


def test_pairs_reproduced_with_a_config_file(legacy, tmp_path, store_url):
    """The same filters from a YAML file found through CISCOPE_TESTGRID_CONFIG, written with the
    base_options query string sippy's URLs carry."""
    urls = (legacy / "sample-data-urls.txt").read_text().split()
    base_options = "&".join(part for part in urlsplit(urls[-1]).query.split("&")
                            if part.startswith("exclude-filter-by-regex="))
    config = tmp_path / "testgrid.yaml"
    config.write_text(f'jobs:\n  "release-*":\n    base_options: "{base_options}"\n'
                      f'  "periodic-*":\n    base_options: "{base_options}"\n')
    files = {legacy / "summary" / (RELEASE + s) for s, _ in PAIRS} | {legacy / "table" / (RELEASE + t) for _, t in PAIRS}
    done = run_cli("ingest", *map(str, sorted(files)), db=store_url)  # all at once
    assert done.returncode == 0, done.stderr
    done = run_cli("summary", "--json", db=store_url, env={"CISCOPE_TESTGRID_CONFIG": str(config)})
    assert done.returncode == 0, done.stderr
    rows = {r["job"]: r for r in json.loads(done.stdout)}
    assert set(rows) == {tab_of(t) for _, t in PAIRS}
    for summary_file, table_file in PAIRS:
        row = rows[tab_of(table_file)]
        assert shown(row) == published(legacy, summary_file, row["job"]), row["job"]
        assert row["agreement"]["agrees"] is True
    # without the filters the rollback tab is FAILING on the excluded "Monitor cluster" row,
    # and the comparison says so
    plain = {r["job"]: r for r in json.loads(run_cli("summary", "--json", db=store_url).stdout)}
    rollback = plain["release-openshift-origin-installer-e2e-aws-upgrade-rollback-4.4"]
    assert rollback["overall_status"] == "FAILING" and rollback["upstream"]["overall_status"] == "FLAKY"
    assert rollback["agreement"]["agrees"] is False and "overall_status" in rollback["agreement"]["differs"]
    assert [a["test"] for a in rollback["alerts"]] == ["Monitor cluster while tests execute"]


def test_one_overall_row_and_named_columns(legacy, tmp_path):
    db = f"duckdb:///{tmp_path / 'g.duckdb'}"
    for pair in PAIRS[1:3]:
        ingest_pair(legacy, pair, db)
    metal = json.loads(run_cli("grid", "release-openshift-ocp-installer-e2e-metal-compact-4.10", "--json",
                               "--columns", "0", db=db).stdout)
    names = [t["name"] for t in metal["tests"]]
    assert "Overall" not in names  # the 2022 dump has no Overall row: none is added
    assert names.count("release-openshift-ocp-installer-e2e-metal-compact-4.10.Overall") == 1
    rollback = json.loads(run_cli("grid", "release-openshift-origin-installer-e2e-aws-upgrade-rollback-4.4",
                                  "--json", "--columns", "0", db=db).stdout)
    names = [t["name"] for t in rollback["tests"]]
    assert names.count("Overall") == 1
    filtered = json.loads(run_cli("grid", "release-openshift-origin-installer-e2e-aws-upgrade-rollback-4.4",
                                  "--json", "--exclude-test", r"Monitor\scluster", "--include-test", "^[OK]",
                                  db=db).stdout)
    kept = [t["name"] for t in filtered["tests"]]
    assert kept and all(n[0] in "OK" and "Monitor cluster" not in n for n in kept)
    assert set(kept) == {n for n in names if n[0] in "OK"}
    text = run_cli("grid", "release-openshift-origin-installer-e2e-aws-upgrade-rollback-4.4",
                   "--exclude-test", "Monitor", db=db)
    assert text.returncode == 0 and "Monitor cluster" not in text.stdout


def test_empty_tab_is_shown_stale(legacy, store_url):
    table = legacy / "table" / (RELEASE + PAIRS[3][1])
    done = run_cli("ingest", str(table), db=store_url)
    assert done.returncode == 0 and "empty, STALE tab" in done.stderr
    [row] = json.loads(run_cli("summary", "--json", db=store_url).stdout)
    assert (row["job"], row["overall_status"], row["status"]) == (
        "release-openshift-ocp-installer-e2e-gcp-fips-4.4", "STALE", "no completed results")
    assert row["upstream"] is None and row["agreement"] is None
    text = run_cli("summary", db=store_url)
    assert "STALE" in text.stdout and "release-openshift-ocp-installer-e2e-gcp-fips-4.4" in text.stdout
    grid = run_cli("grid", "release-openshift-ocp-installer-e2e-gcp-fips-4.4", "--json", db=store_url)
    assert grid.returncode == 0 and json.loads(grid.stdout)["tests"] == []
    grid = run_cli("grid", "release-openshift-ocp-installer-e2e-gcp-fips-4.4", db=store_url)
    assert grid.returncode == 0 and "STALE" in grid.stderr


def test_imported_summaries_listed(legacy, store_url):
    path = legacy / "summary" / (RELEASE + "4.4-informing.summary.json")
    raw = json.loads(path.read_text())
    assert run_cli("ingest", str(path), db=store_url).returncode == 0
    listed = json.loads(run_cli("summary", "--imported", "--json", db=store_url).stdout)
    assert sorted(u["tab"] for u in listed) == sorted(raw)
    by_tab = {u["tab"]: u for u in listed}
    for tab, entry in raw.items():
        assert (by_tab[tab]["overall_status"], by_tab[tab]["status"], len(by_tab[tab]["alerts"])) == (
            entry["overall_status"], entry["status"], len(entry.get("tests") or ())), tab
    assert json.loads(run_cli("summary", "--json", db=store_url).stdout) == []  # tabs are not jobs
    one = json.loads(run_cli("summary", "--imported", "--json", "--job", tab_of(PAIRS[2][1]), db=store_url).stdout)
    assert [u["tab"] for u in one] == ["release-openshift-origin-installer-e2e-aws-upgrade-rollback-4.4"]
    text = run_cli("summary", "--imported", db=store_url)
    assert text.returncode == 0
    assert all(tab in text.stdout for tab in raw)


def test_published_summary_of_another_capture_is_compared_as_of_its_last_run(legacy, tmp_path):
    """The 2020-03 summary of the rollback tab ends 36 days before the table: compared with
    the grid as of its last run, it agrees; the gcp-rt summary's last run is not stored."""
    db = f"duckdb:///{tmp_path / 'c.duckdb'}"
    older = legacy / "summary" / (RELEASE + "4.4-informing.summary.2020-03.json")
    done = run_cli("ingest", str(older), str(legacy / "table" / (RELEASE + PAIRS[2][1])),
                   str(legacy / "table" / (RELEASE + "4.4-informing__release-openshift-ocp-installer-e2e-gcp-rt-4.4"
                                           ".table.2020-03.json")), db=db)
    assert done.returncode == 0, done.stderr
    rows = {r["job"]: r for r in json.loads(run_cli("summary", "--json", "--exclude-test", r"Monitor\scluster",
                                                    "--exclude-test", "^operator.Run template.*container test$",
                                                    db=db).stdout)}
    rollback = rows["release-openshift-origin-installer-e2e-aws-upgrade-rollback-4.4"]
    assert rollback["upstream"]["source"] == str(older)
    assert rollback["agreement"]["agrees"] is True and rollback["agreement"]["as_of"] == rollback["upstream"]["last_run"]
    assert rollback["agreement"]["as_of"] < rollback["last_run"]
    rt = rows["release-openshift-ocp-installer-e2e-gcp-rt-4.4"]
    assert rt["agreement"]["agrees"] is None and "the published summary is newer" in rt["agreement"]["reason"]
    unknown = run_cli("summary", "--job", "no-such-job", db=db)
    assert unknown.returncode == 2 and "no job 'no-such-job'" in unknown.stderr
    text = run_cli("summary", db=db)  # unfiltered: the rollback tab disagrees, the published string is shown
    assert "not comparable" in text.stdout
    [line] = [x for x in text.stdout.splitlines() if "aws-upgrade-rollback-4.4" in x]
    assert f"FLAKY: {rollback['upstream']['status']}" in line and "no: overall_status" in line


def test_bad_filters_and_config_are_refused_without_traceback(legacy, tmp_path):
    db = f"duckdb:///{tmp_path / 'e.duckdb'}"
    ingest_pair(legacy, PAIRS[0], db)
    bad = run_cli("summary", "--exclude-test", "(unclosed", db=db)
    assert bad.returncode == 2 and "--exclude-test" in bad.stderr and "(unclosed" in bad.stderr
    bad = run_cli("grid", IDS[0], "--include-test", "[", db=db)
    assert bad.returncode == 2 and "--include-test" in bad.stderr
    bad = run_cli("summary", "--recent", "0", db=db)
    assert bad.returncode == 2
    config = tmp_path / "tg.yaml"
    config.write_text("jobs:\n  e2e-*:\n    exclude_tests: [x]\n")
    bad = run_cli("summary", "--testgrid-config", str(config), db=db)
    assert bad.returncode == 3 and str(config) in bad.stderr and "jobs.e2e-*" in bad.stderr
    assert "exclude_tests" in bad.stderr and "exclude_test" in bad.stderr
    config.write_text("jobs:\n  e2e:\n    exclude_test: ['a(']\n")
    bad = run_cli("summary", "--testgrid-config", str(config), db=db)
    assert bad.returncode == 3 and "a(" in bad.stderr and "jobs.e2e" in bad.stderr
    config.write_text("jobs: [1, 2]\n")
    bad = run_cli("summary", "--testgrid-config", str(config), db=db)
    assert bad.returncode == 3 and '"jobs"' in bad.stderr
    config.write_text("jobs:\n  x: {num_columns_recent: 0}\n")
    bad = run_cli("summary", "--testgrid-config", str(config), db=db)
    assert bad.returncode == 3 and "num_columns_recent" in bad.stderr
    missing = run_cli("summary", "--testgrid-config", str(tmp_path / "nope.yaml"), db=db)
    assert missing.returncode == 3 and "nope.yaml" in missing.stderr
    for done in (bad, missing):
        assert "Traceback" not in done.stderr


def test_live_tables_are_named_after_their_tab(legacy, tmp_path):
    """`ingest testgrid URL` without --job: the tab comes from the URL's tab= parameter, else
    from a <dashboard>__<tab>.table.json path (a real server on 127.0.0.1)."""
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    folder = legacy / "table"

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{httpd.server_address[1]}"
        by_query = f"{base}/{RELEASE}{PAIRS[0][1]}?show-stale-tests=&tab=s390x%20nightly"
        by_path = f"{base}/{RELEASE}{PAIRS[1][1]}"
        db = f"duckdb:///{tmp_path / 'live.duckdb'}"
        done = run_cli("ingest", "testgrid", by_query, by_path, db=db, env={"CISCOPE_CACHE": str(tmp_path / "cache")})
        assert done.returncode == 0, done.stderr
    finally:
        httpd.shutdown()
        httpd.server_close()
    rows = json.loads(run_cli("summary", "--json", db=db).stdout)
    assert [r["job"] for r in rows] == ["release-openshift-ocp-installer-e2e-metal-compact-4.10", "s390x nightly"]
