"""Known-failure commands through the real CLI (subprocess): exit codes, JSON shapes, the
fingerprint directory from the option, the environment and ./fingerprints."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from runfolders import write_run

DISK = "write failed: No space left on device (errno 28)"
JUNIT = f"""<testsuite name="e2e"><testcase name="a"/>
<testcase name="storage"><failure message="{DISK}">trace</failure></testcase>
<testcase name="other"><failure message="pod e2e-1 did not start in 300s">trace</failure></testcase></testsuite>"""


def cli(*args: str, cwd, env_extra: dict | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CISCOPE_FINGERPRINTS"}
    env.update({"COLUMNS": "250", **(env_extra or {})})
    return subprocess.run([sys.executable, "-m", "ciscope.cli", "--db", "duckdb:///c.duckdb", *args],
                          capture_output=True, text=True, timeout=120, env=env, cwd=cwd)


def setup(tmp_path):
    for build in ("1", "2"):
        write_run(tmp_path / "data", "e2e", build, junit=JUNIT)
    fp = tmp_path / "fingerprints"
    fp.mkdir()
    (fp / "BUG-1.yaml").write_text("title: disk full\nregex: 'No space left on device \\(errno \\d+\\)'\n")
    return fp


def test_ingest_triage_bugs_unclassified_clusters(tmp_path):
    setup(tmp_path)
    # ./fingerprints is the default directory
    done = cli("ingest", "data", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["classified"] == 2
    assert "1 fingerprint(s) from fingerprints" in done.stderr

    t = json.loads(cli("triage", "1", "--json", cwd=tmp_path).stdout)
    assert {"job", "build", "status", "failures", "bugs", "unexplained", "advice"} <= set(t)
    assert t["bugs"] == ["BUG-1"] and t["unexplained"] == ["other"]
    assert [f["bugs"] for f in t["failures"]] == [[], ["BUG-1"]]
    table = cli("triage", "1", cwd=tmp_path)
    assert "advice: 1 of 2 failures explained" in table.stdout

    b = json.loads(cli("bugs", "--json", cwd=tmp_path).stdout)
    assert [(x["bug"], x["title"], x["hits"]["all"]) for x in b] == [("BUG-1", "disk full", 2)]

    u = json.loads(cli("unclassified", "--json", cwd=tmp_path).stdout)
    assert (u["failed_runs"], u["classified"], u["runs"]) == (2, 2, [])

    c = json.loads(cli("clusters", "--json", cwd=tmp_path).stdout)
    assert len(c) == 1 and c[0]["size"] == 2 and c[0]["example"].startswith("pod e2e-1")
    assert {"id", "size", "runs", "tests", "jobs", "first_seen", "last_seen", "example", "normalized",
            "suggested_fingerprint"} <= set(c[0])

    # a new fingerprint is picked up by reclassify
    (tmp_path / "fingerprints" / "BUG-2.yaml").write_text("regex: 'pod e2e-\\d+ did not start in \\d+s'\n")
    r = cli("reclassify", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["added"] == ["BUG-2"]
    t = json.loads(cli("triage", "1", "--json", cwd=tmp_path).stdout)
    assert t["unexplained"] == [] and "safe to recheck" in t["advice"]
    assert json.loads(cli("clusters", "--json", cwd=tmp_path).stdout) == []


def test_fingerprints_check_and_directory_errors(tmp_path):
    fp = setup(tmp_path)
    (fp / "BAD.yaml").write_text("regex: '(unclosed'\n")
    done = cli("fingerprints", "check", str(fp), "--json", cwd=tmp_path)
    assert done.returncode == 3
    rows = {os.path.basename(r["file"]): r for r in json.loads(done.stdout)}
    assert rows["BUG-1.yaml"]["ok"] and rows["BUG-1.yaml"]["error"] is None
    assert not rows["BAD.yaml"]["ok"] and "does not compile" in rows["BAD.yaml"]["error"]
    human = cli("fingerprints", "check", str(fp), cwd=tmp_path)
    assert human.returncode == 3 and "BAD.yaml: line 1" in human.stderr and "1 rejected" in human.stderr
    (fp / "BAD.yaml").unlink()
    assert cli("fingerprints", "check", str(fp), cwd=tmp_path).returncode == 0

    missing = cli("--fingerprints", "nowhere", "ingest", "data", cwd=tmp_path)
    assert missing.returncode == 2 and "nowhere" in missing.stderr
    env = cli("ingest", "data", "--json", cwd=tmp_path, env_extra={"CISCOPE_FINGERPRINTS": str(fp)})
    assert env.returncode == 0 and json.loads(env.stdout)["classified"] == 2


def test_flaky_exclude_known_and_regressions_include_known_flags(tmp_path):
    setup(tmp_path)
    assert cli("ingest", "data", cwd=tmp_path).returncode == 0
    for command, flag in (("flaky", "--exclude-known"), ("regressions", "--include-known")):
        plain = cli(command, "--json", cwd=tmp_path)
        known = cli(command, "--json", flag, cwd=tmp_path)
        assert plain.returncode == 0 and known.returncode == 0, (plain.stderr, known.stderr)
        assert isinstance(json.loads(known.stdout), list)
