"""The known-failure commands through the real CLI: `--fingerprints DIR` and
CISCOPE_FINGERPRINTS, ingest, triage, bugs, unclassified, clusters, reclassify,
`fingerprints check`, and `flaky`/`regressions --include-known`. JSON shapes as documented in
docs/json.md; exit codes 0, 2 (usage) and 3 (a fingerprint file rejected).

Commands run in-process with click's runner (the same command code, a few ms each); the
usage errors, which the console entry point turns into exit status 2, run in a subprocess.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from runfolders import write_run

from ciscope.cli import cli

JOB = "e2e-aws"
JUNIT_FILE = "artifacts/e2e/junit/junit_e2e.xml"
ETCD = "etcdserver: request timed out"
T0 = 1793000000  # runfolders: build B starts at T0 + B hours


def iso(hour: int) -> str:
    """A run's start time as the JSON has it (naive UTC, marked Z)."""
    return datetime.fromtimestamp(T0 + hour * 3600, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(autouse=True)
def clean_env(tmp_path, monkeypatch):
    """Run from tmp_path (no ./fingerprints there) with no CISCOPE_* settings inherited."""
    monkeypatch.chdir(tmp_path)
    for name in ("CISCOPE_FINGERPRINTS", "CISCOPE_DB", "CISCOPE_INGEST_WORKERS"):
        monkeypatch.delenv(name, raising=False)


class Done:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def ciscope(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Done:
    """``ciscope --db duckdb:///<cwd>/x.duckdb ARGS`` in-process."""
    result = CliRunner().invoke(cli, ["--db", f"duckdb:///{cwd / 'x.duckdb'}", *args], env=env,
                                catch_exceptions=False, terminal_width=250)
    return Done(result.exit_code, result.stdout, " ".join(result.stderr.split()))  # rich wraps stderr lines


def ciscope_process(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The same through the console entry point, in a subprocess (exit codes of errors)."""
    clean = {k: v for k, v in os.environ.items() if k not in ("CISCOPE_FINGERPRINTS", "CISCOPE_DB")}
    clean.update({"COLUMNS": "250", **(env or {})})
    return subprocess.run([sys.executable, "-m", "ciscope.cli", "--db", f"duckdb:///{cwd / 'x.duckdb'}", *args],
                          capture_output=True, text=True, timeout=120, env=clean, cwd=cwd)


def ok_json(done: subprocess.CompletedProcess[str]):
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def suite(*cases: str) -> str:
    return '<testsuite name="e2e">\n<testcase name="[sig-a] ok"/>\n' + "\n".join(cases) + "\n</testsuite>\n"


MOUNTS = f'<testcase name="[sig-storage] mounts"><failure message="mount failed: {ETCD} after 5s">trace</failure></testcase>'


def dial(ip: str) -> str:
    return f"dial tcp {ip}:6443: connect: connection refused"


def dial_case(ip: str) -> str:
    return f'<testcase name="[sig-net] dial"><failure message="{dial(ip)}"/></testcase>'


def setup(tmp_path: Path) -> Path:
    """101: mounts fails with the etcd bug, also on line 2 of build-log.txt (all explained);
    102: mounts (etcd) and dial (unexplained); 103 passed; 104: dial only."""
    data = tmp_path / "data"
    f101 = write_run(data, JOB, "101", junit=suite(MOUNTS))
    (f101 / "build-log.txt").write_text(f"start\nE1101 {ETCD}\nend\n")
    write_run(data, JOB, "102", junit=suite(MOUNTS, dial_case("10.0.0.1")))
    write_run(data, JOB, "103", result="SUCCESS", junit=suite())
    write_run(data, JOB, "104", junit=suite(dial_case("10.0.0.2")))
    fp = tmp_path / "fp"
    fp.mkdir()
    (fp / "BUG-ETCD.yaml").write_text("title: etcd is slow\nregex: 'etcdserver: request timed out'\n")
    return fp


def test_ingest_and_reports_with_the_fingerprints_option(tmp_path):
    fp = setup(tmp_path)
    done = ciscope("--fingerprints", str(fp), "ingest", "data", "--workers", "1", "--json", cwd=tmp_path)
    report = ok_json(done)
    assert (report["runs"], report["classified"], report["refused"]) == (4, 2, [])
    assert f"1 fingerprint(s) from {fp}" in done.stderr

    t = ok_json(ciscope("triage", "101", "--json", cwd=tmp_path))
    assert set(t) == {"job", "build", "run_id", "status", "started_at", "commit", "url", "failures", "flaked",
                      "bugs", "bug_titles", "run_evidence", "unexplained", "reason", "advice", "log_reason", "incomplete"}
    assert (t["job"], t["build"], t["status"], t["started_at"]) == (JOB, "101", "failure", iso(101))
    assert t["failures"] == [{"test": "[sig-storage] mounts", "message": f"mount failed: {ETCD} after 5s",
                              "bugs": ["BUG-ETCD"],
                              "evidence": [{"bug": "BUG-ETCD", "test": "[sig-storage] mounts", "file": JUNIT_FILE,
                                            "line": 1, "text": f"mount failed: {ETCD} after 5s"}]}]
    assert t["run_evidence"] == [{"bug": "BUG-ETCD", "test": None, "file": "build-log.txt", "line": 2,
                                  "text": f"E1101 {ETCD}"}]
    assert (t["bugs"], t["bug_titles"], t["unexplained"]) == (["BUG-ETCD"], {"BUG-ETCD": "etcd is slow"}, [])
    assert (t["reason"]["fingerprint"], t["reason"]["cluster"]) == (["BUG-ETCD"], None)
    assert t["advice"] == "all failures explained by known bugs (BUG-ETCD): safe to recheck"

    t = ok_json(ciscope("triage", "102", "--job", JOB, "--json", cwd=tmp_path))
    assert [(f["test"], f["bugs"]) for f in t["failures"]] == [("[sig-net] dial", []), ("[sig-storage] mounts", ["BUG-ETCD"])]
    assert t["unexplained"] == ["[sig-net] dial"]
    assert t["advice"] == "1 of 2 failures explained by known bugs (BUG-ETCD); 1 unexplained: look at them before rechecking"
    table = ciscope("triage", "104", cwd=tmp_path)
    assert table.returncode == 0 and "unexplained" in table.stdout
    assert "advice: no known bug explains these 1 failures" in table.stdout
    unknown = ciscope_process("triage", "999999", "--json", cwd=tmp_path)
    assert unknown.returncode == 2 and "999999: no such run" in unknown.stderr and unknown.stdout == ""

    # windows end at the newest run (104): 101 and 102 are within 24 h; 2 of the 3 failed runs
    [b] = ok_json(ciscope("bugs", "--json", cwd=tmp_path))
    assert set(b) == {"bug", "title", "url", "retry", "defined", "hits", "share", "jobs", "first_seen", "last_seen",
                      "hourly"}
    assert (b["bug"], b["title"], b["defined"], b["hits"], b["share"], b["jobs"]) == (
        "BUG-ETCD", "etcd is slow", True, {"24h": 2, "7d": 2, "10d": 2, "all": 2}, 0.6667, [JOB])
    assert (b["first_seen"], b["last_seen"]) == (iso(101), iso(102))
    # T0 is 33 min 20 s past an hour: the last slot is hour 104's; 101 and 102 are 3 and 2 slots before it
    counts = b["hourly"]["counts"]
    assert len(counts) == 240 and {i: c for i, c in enumerate(counts) if c} == {236: 1, 237: 1}
    assert len(ok_json(ciscope("bugs", "--days", "1", "--json", cwd=tmp_path))[0]["hourly"]["counts"]) == 24

    u = ok_json(ciscope("unclassified", "--json", cwd=tmp_path))
    assert (u["failed_runs"], u["classified"], u["unclassified"], u["classification_rate"]) == (3, 2, 1, 0.6667)
    assert u["jobs"] == [{"job": JOB, "failed_runs": 3, "classified": 2, "classification_rate": 0.6667}]
    [run] = u["runs"]
    assert {k: v for k, v in run.items() if k != "cluster"} == {
        "job": JOB, "build": "104", "status": "failure", "started_at": iso(104), "failed_tests": 1,
        "component": "tests", "message": f"[sig-net] dial: {dial('10.0.0.2')}"}
    assert re.fullmatch(r"[0-9a-f]{16}", run["cluster"])

    [c] = ok_json(ciscope("clusters", "--json", cwd=tmp_path))
    assert set(c) == {"id", "size", "runs", "tests", "jobs", "first_seen", "last_seen", "example", "normalized",
                      "template", "variables", "suggested_fingerprint", "group_ids", "top_tests", "job_names",
                      "latest_run"}
    assert (c["size"], c["runs"], c["tests"], c["jobs"], c["example"]) == (2, 2, 1, 1, dial("10.0.0.1"))
    assert (c["top_tests"], c["job_names"], c["latest_run"]) == (
        [{"test": "[sig-net] dial", "failures": 2}], [JOB], {"job": JOB, "build": "104"})
    assert run["cluster"] in c["group_ids"]
    suggested = c["suggested_fingerprint"]
    assert all(re.search(suggested, dial(ip)) for ip in ("10.0.0.1", "10.0.0.2"))
    assert not re.search(suggested, f"mount failed: {ETCD} after 5s")

    # the documented workflow: save the suggestion as a fingerprint, reclassify
    (fp / "BUG-DIAL.yaml").write_text(yaml.safe_dump({"title": "refused", "regex": suggested}))
    r = ok_json(ciscope("--fingerprints", str(fp), "reclassify", "--json", cwd=tmp_path))
    assert r == {"added": ["BUG-DIAL"], "changed": [], "deleted": [], "unchanged": 1, "runs_scanned": 3,
                 "matches": 2, "runs_affected": 2, "warnings": [], "rejected": []}
    assert ok_json(ciscope("clusters", "--json", cwd=tmp_path)) == []
    assert ok_json(ciscope("unclassified", "--json", cwd=tmp_path))["classification_rate"] == 1.0
    t = ok_json(ciscope("triage", "102", "--json", cwd=tmp_path))
    assert t["advice"] == "all failures explained by known bugs (BUG-DIAL, BUG-ETCD): safe to recheck"
    again = ciscope("--fingerprints", str(fp), "reclassify", cwd=tmp_path)
    assert again.returncode == 0 and "fingerprints unchanged (2): nothing to re-classify" in again.stderr


def test_the_environment_names_the_fingerprint_directory(tmp_path):
    fp = setup(tmp_path)
    done = ciscope("ingest", "data", "--workers", "1", "--json", cwd=tmp_path, env={"CISCOPE_FINGERPRINTS": str(fp)})
    assert ok_json(done)["classified"] == 2
    # no directory at all: nothing is matched; reclassify needs one
    done = ciscope("ingest", "data", "--replace", "--workers", "1", "--json", cwd=tmp_path)
    assert ok_json(done)["classified"] == 0
    missing = ciscope_process("reclassify", cwd=tmp_path)
    assert missing.returncode == 2 and "no fingerprint directory" in missing.stderr


def test_a_missing_fingerprint_directory_is_a_usage_error(tmp_path):
    setup(tmp_path)
    done = ciscope_process("--fingerprints", "nowhere", "ingest", "data", cwd=tmp_path)
    assert done.returncode == 2
    assert "nowhere: the fingerprint directory does not exist (from --fingerprints)" in done.stderr
    done = ciscope_process("ingest", "data", cwd=tmp_path, env={"CISCOPE_FINGERPRINTS": "elsewhere"})
    assert done.returncode == 2
    assert "elsewhere: the fingerprint directory does not exist (from CISCOPE_FINGERPRINTS)" in " ".join(done.stderr.split())
    assert not (tmp_path / "x.duckdb").exists()  # refused before the store was opened


def test_fingerprints_check(tmp_path):
    fp = tmp_path / "fp"
    fp.mkdir()
    (fp / "BUG-1.yaml").write_text("regex: 'etcdserver: request timed out'\n")
    (fp / "BAD.yaml").write_text("title: broken\nregex: '(unclosed'\n")
    (fp / "SHORT.yaml").write_text("regex: 'oops'\n")
    (fp / "README.md").write_text("not a fingerprint\n")
    done = ciscope("fingerprints", "check", str(fp), "--json", cwd=tmp_path)
    assert done.returncode == 3
    rows = json.loads(done.stdout)
    assert [Path(r["file"]).name for r in rows] == ["BAD.yaml", "BUG-1.yaml", "SHORT.yaml"]
    assert all(set(r) == {"file", "id", "ok", "error", "hint", "warnings"} for r in rows)
    bad, good, short = rows
    assert (bad["id"], bad["ok"], bad["warnings"]) == ("BAD", False, [])
    assert bad["error"].startswith("line 2, regex") and bad["hint"] is not None
    assert (good["id"], good["ok"], good["error"], good["hint"], good["warnings"]) == ("BUG-1", True, None, None, [])
    assert (short["ok"], short["error"]) == (True, None)
    assert len(short["warnings"]) == 1 and short["warnings"][0].startswith("too broad?")

    human = ciscope("fingerprints", "check", str(fp), cwd=tmp_path)
    assert human.returncode == 3 and "3 file(s), 2 ok, 1 rejected" in human.stderr
    (fp / "BAD.yaml").unlink()
    assert ciscope("fingerprints", "check", str(fp), "--json", cwd=tmp_path).returncode == 0
    # no DIR: the fingerprint directory in effect, here from the environment
    assert ciscope("fingerprints", "check", cwd=tmp_path, env={"CISCOPE_FINGERPRINTS": str(fp)}).returncode == 0
    none = ciscope_process("fingerprints", "check", cwd=tmp_path)
    assert none.returncode == 2 and "no fingerprint directory" in none.stderr
    assert ciscope_process("fingerprints", "check", str(tmp_path / "nope"), cwd=tmp_path).returncode == 2


def test_reclassify_with_a_rejected_file_exits_3_and_lists_it(tmp_path):
    fp = setup(tmp_path)
    ok_json(ciscope("--fingerprints", str(fp), "ingest", "data", "--workers", "1", "--json", cwd=tmp_path))
    (fp / "BUG-BAD.yaml").write_text("regex: '(unclosed'\n")
    done = ciscope("--fingerprints", str(fp), "reclassify", "--json", cwd=tmp_path)
    assert done.returncode == 3
    report = json.loads(done.stdout)
    assert (report["added"], report["changed"], report["deleted"], report["unchanged"]) == ([], [], [], 1)
    [rejected] = report["rejected"]
    assert (Path(rejected["file"]).name, rejected["ok"]) == ("BUG-BAD.yaml", False)
    assert rejected["error"].startswith("line 1, regex") and rejected["hint"]
    assert "fingerprint skipped" in done.stderr and "BUG-BAD.yaml" in done.stderr


def history_tree(tmp_path: Path) -> Path:
    """Two jobs (runfolders: commit rev<build>). flaky-job (builds 100-121): t fails in isolation 4 times
    with the etcd bug, u 4 times with something else. reg-job (one run every 12 hours, builds
    0, 12, …, 876): t passes 60 times, then fails 14 times with the etcd bug."""
    data = tmp_path / "data"

    def run(job: str, build: int, failing: str | None, message: str) -> None:
        cases = ['<testcase name="t"/>', '<testcase name="u"/>']
        if failing is not None:
            i = "tu".index(failing)
            cases[i] = f'<testcase name="{failing}"><failure message="{message}"/></testcase>'
        write_run(data, job, str(build), result="FAILURE" if failing else "SUCCESS", junit=suite(*cases))

    t_pattern, u_pattern = "PPPFPPPPFPPPPFPPPPFPPP", "PPFPPPPFPPPPFPPPPFPPPP"
    for i in range(22):
        failing = "t" if t_pattern[i] == "F" else "u" if u_pattern[i] == "F" else None
        run("flaky-job", 100 + i, failing, f"{ETCD} after 5s" if failing == "t" else "boom")
    for i in range(74):
        run("reg-job", 12 * i, "t" if i >= 60 else None, f"{ETCD} after 5s")
    return data


def test_flaky_reports_known_flakes_and_regressions_leave_them_out(tmp_path):
    """Issue 8: a test that flakes because of a known bug is reported, with the bug;
    --exclude-known hides it. Regressions leave known failures out unless asked."""
    fp = setup(tmp_path)
    (tmp_path / "data").rename(tmp_path / "unused")
    history_tree(tmp_path)
    ok_json(ciscope("--fingerprints", str(fp), "ingest", "data", "--workers", "1", "--json", cwd=tmp_path))
    own = ok_json(ciscope("flaky", "--job", "flaky-job", "--exclude-known", "--json", cwd=tmp_path))
    assert [(r["test"], r["isolated_failures"]) for r in own] == [("u", 4)]
    known = ok_json(ciscope("flaky", "--job", "flaky-job", "--json", cwd=tmp_path))
    assert sorted((r["test"], r["isolated_failures"], bool(r["known_bugs"])) for r in known) == [
        ("t", 4, True), ("u", 4, False)]
    assert ok_json(ciscope("regressions", "--job", "reg-job", "--json", cwd=tmp_path)) == []
    [r] = ok_json(ciscope("regressions", "--job", "reg-job", "--include-known", "--json", cwd=tmp_path))
    assert (r["job"], r["test"], r["first_bad_build"], r["first_bad_commit"]) == ("reg-job", "t", "720", "rev720")
