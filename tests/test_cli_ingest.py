"""`ciscope ingest` as users have it, through the real CLI (subprocess), on DuckDB and
PostgreSQL: bare console logs (real, labelled logs from the shared data), reports that cannot
be read, several runs at once, and a fingerprint directory found implicitly."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from runfolders import write_run

from ciscope.store import connect

CIDIFF = "buildlogs-cidiff-breakages/breakages"


def cli(url: str, *args: str, cwd: Path, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CISCOPE_FINGERPRINTS"}
    env.update({"COLUMNS": "250", **(env_extra or {})})
    return subprocess.run([sys.executable, "-m", "ciscope.cli", "--db", url, *args],
                          check=False, capture_output=True, text=True, timeout=180, env=env, cwd=cwd)


def ok(done: subprocess.CompletedProcess[str], code: int = 0) -> subprocess.CompletedProcess[str]:
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done


def query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    store = connect(url)
    try:
        return store.query(sql, params)
    finally:
        store.close()


def metadata(url: str, job: str, build: str) -> dict:
    return json.loads(query(url, "SELECT metadata FROM runs WHERE job = ? AND build = ?", (job, build))[0][0])


def groundtruth(path: Path) -> list[tuple[int, int]]:
    """The error line ranges of a CiDiff ground truth file."""
    out = []
    for line in path.read_text().splitlines()[1:]:
        kind, _, span = line.partition(" ")
        if kind == "E":
            a, _, b = span.partition("-")
            out.append((int(a), int(b or a)))
    return out


# ------------------------------------------------------------------ raw logs

def test_bare_console_logs_are_runs_with_status_fingerprints_and_failure_lines(store_url, shared_data, tmp_path):
    cidiff = shared_data / CIDIFF
    # a Jenkins log ("Finished: FAILURE") and its passing twin ("Finished: SUCCESS")
    done = ok(cli(store_url, "ingest", str(cidiff / "dspot_842" / "fail.log.xz"), "--job", "dspot", "--build", "842",
                  "--commit", "abc123", "--started", "2022-05-01T10:00:00Z", "--json", cwd=tmp_path))
    assert json.loads(done.stdout)["runs"] == 1
    ok(cli(store_url, "ingest", str(cidiff / "dspot_842" / "pass.log.xz"), "--job", "dspot", "--build", "841",
           cwd=tmp_path))
    # a GitHub Actions log ("##[error]Process completed with exit code 1.") and a pass that does not say
    ok(cli(store_url, "ingest", str(cidiff / "cidiff_57" / "fail.log.xz"), "--job", "cidiff", "--build", "57",
           cwd=tmp_path))
    ok(cli(store_url, "ingest", str(cidiff / "cidiff_57" / "pass.log.xz"), "--job", "cidiff", "--build", "56",
           cwd=tmp_path))
    ok(cli(store_url, "ingest", str(cidiff / "cidiff_57" / "pass.log.xz"), "--job", "cidiff", "--build", "55",
           "--status", "success", cwd=tmp_path))
    # Mozilla Taskcluster (.log.gz) and an openQA autoinst log named as openQA names it
    ok(cli(store_url, "ingest", str(shared_data / "buildlogs-mozilla-treeherder/logs/build-fail.log.gz"),
           "--job", "gecko", "--build", "1", cwd=tmp_path))
    openqa = tmp_path / "openqa" / "autoinst-log.txt"
    openqa.parent.mkdir()
    shutil.copy(shared_data / "openqa/os-autoinst-scripts/test/data/01-os-autoinst.txt.3", openqa)
    ok(cli(store_url, "ingest", str(openqa.parent), "--job", "openqa", "--build", "7", cwd=tmp_path))

    rows = {(job, build): status for job, build, status in query(store_url, "SELECT job, build, status FROM runs")}
    assert rows == {("dspot", "842"): "failure", ("dspot", "841"): "success", ("cidiff", "57"): "failure",
                    ("cidiff", "56"): "failure", ("cidiff", "55"): "success", ("gecko", "1"): "failure",
                    ("openqa", "7"): "error"}
    fail = metadata(store_url, "dspot", "842")
    assert fail["status_from"] == "log"
    assert fail["status_line"] == {"file": "fail.log.xz", "status": "failure", "runner": "jenkins",
                                   "line": 11895, "text": "Finished: FAILURE"}
    assert metadata(store_url, "cidiff", "57")["status_line"]["runner"] == "github"
    assert metadata(store_url, "cidiff", "56")["status_from"] == "default"
    assert metadata(store_url, "cidiff", "55")["status_from"] == "--status"
    assert metadata(store_url, "gecko", "1")["status_line"]["runner"] == "taskcluster"
    assert metadata(store_url, "openqa", "7")["status_line"]["text"].endswith("Result: setup failure")
    # the GitHub log's own first timestamp is the run's start
    started = {b: s for b, s in query(store_url, "SELECT build, started_at FROM runs WHERE job = 'cidiff'")}
    assert started["57"].strftime("%Y-%m-%d %H:%M:%S") == "2022-05-30 09:10:31"

    # triage: nothing explains the failure, so it shows the log's failure lines (the labelled ones)
    t = json.loads(ok(cli(store_url, "triage", "dspot/842", "--json", cwd=tmp_path)).stdout)
    lr = t["log_reason"]
    assert lr["file"] == "fail.log.xz" and set(lr) == {"file", "start", "end", "text"}
    truth = groundtruth(cidiff / "dspot_842" / "groundtruth")
    assert any(a <= lr["end"] and lr["start"] <= b for a, b in truth)
    assert "No space left on device" in lr["text"]
    assert t["failures"] == [] and t["incomplete"] is None
    table = ok(cli(store_url, "triage", "dspot/842", cwd=tmp_path)).stdout
    assert f"failure lines of fail.log.xz (lines {lr['start']}-{lr['end']})" in table
    assert "No space left on device" in table
    # a run that did not fail has nothing to explain
    assert json.loads(ok(cli(store_url, "triage", "dspot/841", "--json", cwd=tmp_path)).stdout)["log_reason"] is None

    # fingerprints match the stored log: the known bug explains the run; no failure lines needed
    fps = tmp_path / "fps"
    fps.mkdir()
    (fps / "DISK-1.yaml").write_text("title: disk full on the builder\nregex: 'No space left on device'\n")
    ok(cli(store_url, "--fingerprints", str(fps), "reclassify", cwd=tmp_path))
    t = json.loads(ok(cli(store_url, "triage", "dspot/842", "--json", cwd=tmp_path)).stdout)
    assert t["bugs"] == ["DISK-1"] and t["log_reason"] is None
    assert t["run_evidence"][0]["file"] == "fail.log.xz" and t["advice"].endswith("safe to recheck")
    # ... and at ingest too
    ok(cli(store_url, "--fingerprints", str(fps), "ingest", str(cidiff / "dspot_842" / "fail.log.xz"),
           "--job", "dspot-copy", "--build", "1", cwd=tmp_path))
    assert query(store_url, "SELECT count(*) FROM matches m JOIN runs r ON r.run_id = m.run_id"
                            " WHERE r.job = 'dspot-copy'")[0][0] == 1


def test_log_names_as_upstream_uses_them(store_url, tmp_path):
    """Zuul's job-output.txt (found in a folder, with its service logs), console.log, a
    .txt.gz; the Ansible recap says the run failed; the main log is the runner's."""
    import gzip

    run = tmp_path / "zuul"
    (run / "logs").mkdir(parents=True)
    (run / "job-output.txt").write_text(
        "2024-03-01 10:00:00.000000 | Job console starting...\n"
        "2024-03-01 10:05:00.000000 | TASK [run tempest]\n"
        "2024-03-01 10:05:01.000000 | controller | ERROR: tempest.api.compute.test_servers failed\n"
        "2024-03-01 10:06:00.000000 | PLAY RECAP\n"
        "2024-03-01 10:06:00.000000 | controller | ok: 33 changed: 25 unreachable: 0 failed: 1 skipped: 6\n"
        "2024-03-01 10:07:00.000000 | PLAY RECAP\n"
        "2024-03-01 10:07:00.000000 | controller | ok: 3 changed: 2 unreachable: 0 failed: 0 skipped: 0\n")
    (run / "logs" / "screen-n-cpu.txt.gz").write_bytes(gzip.compress(b"nova-compute: libvirt error\n"))
    (run / "notes.md").write_text("not a log")
    done = ok(cli(store_url, "ingest", str(run), "--job", "tempest-full", "--json", cwd=tmp_path))
    assert json.loads(done.stdout)["runs"] == 1
    [(status, logs, source, started)] = query(store_url, "SELECT status, logs, source, started_at FROM runs")
    assert status == "failure"
    assert sorted(json.loads(logs)) == ["job-output.txt", "logs/screen-n-cpu.txt.gz"]
    assert Path(source) == run.resolve()
    assert started.strftime("%Y-%m-%d %H:%M") == "2024-03-01 10:00"
    meta = json.loads(query(store_url, "SELECT metadata FROM runs")[0][0])
    assert (meta["status_from"], meta["status_line"]["runner"], meta["status_line"]["line"]) == ("log", "ansible", 5)
    # a bare folder with nothing usable is refused, naming what is looked for
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.md").write_text("x")
    refused = ok(cli(store_url, "ingest", str(empty), "--job", "j", cwd=tmp_path), 3)
    assert "console logs" in refused.stderr and "notes" not in refused.stderr
    # a log needs a job
    assert "--job" in ok(cli(store_url, "ingest", str(run / "job-output.txt"), cwd=tmp_path), 2).stderr


# ------------------------------------------------------------------ one bad file

def _report(k: int, *, fail: bool = False) -> str:
    case = f'<testcase classname="pkg.T{k}" name="test_{k}"' + (
        '><failure message="boom">trace</failure></testcase>' if fail else "/>")
    return f'<testsuite name="s{k}" timestamp="2024-01-0{1 + k % 9}T10:00:00">{case}<testcase classname="pkg.T{k}" name="other"/></testsuite>'


def test_a_folder_with_bad_reports_stores_the_readable_ones(store_url, tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    for k in range(37):
        (folder / f"TEST-{k:02d}.xml").write_text(_report(k, fail=k == 5))
    bad = {"TEST-10.xml": "<testsuite><testcase name='x'>",  # truncated
           "TEST-20.xml": "",  # empty
           "TEST-30.xml": '<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]><testsuite/>'}
    for name, text in bad.items():
        (folder / name).write_text(text)
    done = ok(cli(store_url, "ingest", str(folder), "--job", "unit", "--build", "b1", "--json", cwd=tmp_path), 3)
    report = json.loads(done.stdout)
    assert (report["runs"], report["results"], report["incomplete"]) == (1, 34 * 2, 1)
    assert sorted(Path(r["path"]).name for r in report["refused"]) == sorted(bad)
    assert {r["run"] for r in report["refused"]} == {"unit/b1"}
    assert all(r["reason"] for r in report["refused"])
    meta = metadata(store_url, "unit", "b1")
    assert meta["incomplete"] is True and sorted(Path(r["file"]).name for r in meta["refused"]) == sorted(bad)
    # the lost files' tests have no verdict in that run: never counted as passed
    verdicts = dict(query(store_url, "SELECT test, verdict FROM test_verdicts"))
    assert len(verdicts) == 34 * 2 and "pkg.T10.test_10" not in verdicts and verdicts["pkg.T5.test_5"] == "failed"
    assert query(store_url, "SELECT status, failed_tests FROM runs")[0] == ("failure", 1)
    # the table names every refusal (not only the first), with the run it was left out of
    again = ok(cli(store_url, "ingest", str(folder), "--job", "unit", "--build", "b2", cwd=tmp_path), 3)
    for name in bad:
        assert name in again.stderr
    assert again.stderr.count("left out of run unit/b2, stored incomplete") == 3
    assert "3 input(s) refused" in again.stderr and "1 run(s) stored incomplete" in again.stderr
    t = json.loads(ok(cli(store_url, "triage", "unit/b2", "--json", cwd=tmp_path)).stdout)
    assert sorted(Path(r["file"]).name for r in t["incomplete"]) == sorted(bad)
    assert "incomplete: " in ok(cli(store_url, "triage", "unit/b2", cwd=tmp_path)).stdout


def test_a_run_with_no_readable_report_is_refused_whole_every_file_named(store_url, tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    for name in ("a.xml", "b.xml", "c.xml"):
        (folder / name).write_text("<testsuite><testcase name='x'>")
    done = ok(cli(store_url, "ingest", str(folder), "--job", "unit", "--json", cwd=tmp_path), 3)
    report = json.loads(done.stdout)
    assert report["runs"] == 0 and report["incomplete"] == 0
    assert sorted(Path(r["path"]).name for r in report["refused"]) == ["a.xml", "b.xml", "c.xml"]
    assert all(r["run"] is None for r in report["refused"])
    assert query(store_url, "SELECT count(*) FROM runs")[0][0] == 0


def test_a_prow_run_with_one_bad_junit_is_stored_incomplete(store_url, tmp_path):
    good = write_run(tmp_path / "gcs", "e2e", "1")
    (good / "artifacts" / "junit_more.xml").write_text("<testsuite><testcase name='t'>")  # truncated
    broken = write_run(tmp_path / "gcs", "e2e", "2")
    (broken / "finished.json").write_text("{")
    done = ok(cli(store_url, "ingest", str(tmp_path / "gcs"), "--json", cwd=tmp_path), 3)
    report = json.loads(done.stdout)
    assert (report["runs"], report["results"], report["incomplete"]) == (1, 4, 1)
    assert sorted((Path(r["path"]).name, r["run"]) for r in report["refused"]) == [
        ("2", None), ("junit_more.xml", "e2e/1")]
    assert query(store_url, "SELECT status FROM runs")[0][0] == "failure"  # finished.json's, not the reports'
    table = ok(cli(store_url, "ingest", str(tmp_path / "gcs"), "--replace", cwd=tmp_path), 3)
    assert "junit_more.xml" in table.stderr and "left out of run e2e/1" in table.stderr


# ------------------------------------------------------------------ several runs at once

def test_run_per_file_and_folder(store_url, tmp_path):
    files = tmp_path / "files"
    files.mkdir()
    # names in the opposite order of their own timestamps: the order of runs follows the reports
    (files / "a.xml").write_text('<testsuite name="s" timestamp="2024-02-03T10:00:00"><testcase name="t"/></testsuite>')
    (files / "b.xml").write_text('<testsuite name="s" timestamp="2024-02-02T10:00:00"><testcase name="t">'
                                 '<failure message="x"/></testcase></testsuite>')
    (files / "c.xml").write_text('<testsuite name="s"><testcase name="t"/></testsuite>')  # no timestamp: mtime
    mtime = datetime(2024, 2, 1, 12, 0, tzinfo=UTC).timestamp()
    os.utime(files / "c.xml", (mtime, mtime))
    names = [str(files / n) for n in ("a.xml", "b.xml", "c.xml")]
    done = ok(cli(store_url, "ingest", *names, "--job", "j", "--run-per", "file", "--json", cwd=tmp_path))
    assert json.loads(done.stdout)["runs"] == 3
    runs = json.loads(ok(cli(store_url, "runs", "--job", "j", "--json", cwd=tmp_path)).stdout)
    by_start = sorted(runs, key=lambda r: r["started_at"])
    assert [r["started_at"][:16] for r in by_start] == ["2024-02-01T12:00", "2024-02-02T10:00", "2024-02-03T10:00"]
    assert [r["status"] for r in by_start] == ["success", "failure", "success"]
    assert sorted(r["build"].rsplit("-", 1)[0] for r in runs) == ["a", "b", "c"]
    table = ok(cli(store_url, "runs", "--job", "j", cwd=tmp_path)).stdout
    assert all(r["build"] in table for r in runs)
    # the same files again: the same builds (hashes of their content), nothing new
    again = json.loads(ok(cli(store_url, "ingest", *names, "--job", "j", "--run-per", "file", "--json",
                              cwd=tmp_path)).stdout)
    assert (again["runs"], again["skipped"]) == (0, 3)
    # without --run-per they are one run, as before
    one = json.loads(ok(cli(store_url, "ingest", *names, "--job", "k", "--json", cwd=tmp_path)).stdout)
    assert one["runs"] == 1
    assert query(store_url, "SELECT started_at FROM runs WHERE job = 'k'")[0][0].strftime("%Y-%m-%d") == "2024-02-02"
    # --build names one run
    usage = ok(cli(store_url, "ingest", *names, "--job", "j", "--run-per", "file", "--build", "x", cwd=tmp_path), 2)
    assert "--build" in usage.stderr

    # one run per folder: reports and logs of a folder together
    tree = tmp_path / "builds"
    for build, verdict in (("101", "SUCCESS"), ("102", "FAILURE")):
        (tree / build).mkdir(parents=True)
        (tree / build / "junit.xml").write_text('<testsuite name="s"><testcase name="t"/></testsuite>')
        (tree / build / "console.log").write_text(f"building\nFinished: {verdict}\n")
    done = ok(cli(store_url, "ingest", str(tree), "--job", "f", "--run-per", "folder", "--json", cwd=tmp_path))
    assert json.loads(done.stdout)["runs"] == 2
    rows = sorted(query(store_url, "SELECT status, logs, tests FROM runs WHERE job = 'f'"))
    assert [(s, json.loads(logs), n) for s, logs, n in rows] == [
        ("failure", ["console.log"], 1), ("success", ["console.log"], 1)]
    # identical reports in two builds stay two runs, named after their folders
    builds = sorted(b for (b,) in query(store_url, "SELECT build FROM runs WHERE job = 'f'"))
    assert [b.split("-")[0] for b in builds] == ["101", "102"] and all(len(b) == 12 for b in builds)
    # the log's closing line decides the status even though every test passed
    assert {json.loads(m)["status_from"] for (m,) in query(store_url, "SELECT metadata FROM runs WHERE job = 'f'")} \
        == {"log"}


# ------------------------------------------------------------------ implicit fingerprint directories

JUNIT = """<testsuite name="e2e"><testcase name="storage"><failure message="write failed: No space left on device (errno 28)">trace</failure></testcase></testsuite>"""


def test_an_implicit_empty_fingerprint_directory_never_deletes(store_url, tmp_path):
    for build in ("1", "2"):
        write_run(tmp_path / "data", "e2e", build, junit=JUNIT)
    write_run(tmp_path / "later", "e2e", "3", junit=JUNIT)
    write_run(tmp_path / "later2", "e2e", "4", junit=JUNIT)
    fps = tmp_path / "fps"
    fps.mkdir()
    (fps / "BUG-1.yaml").write_text("title: disk full\nregex: 'No space left on device \\(errno \\d+\\)'\n")
    ok(cli(store_url, "--fingerprints", str(fps), "ingest", str(tmp_path / "data"), cwd=tmp_path))
    matches = query(store_url, "SELECT count(*) FROM matches")[0][0]
    assert matches >= 2

    work = tmp_path / "work"
    (work / "fingerprints").mkdir(parents=True)  # found implicitly, and empty
    done = ok(cli(store_url, "ingest", str(tmp_path / "later"), "--json", cwd=work))
    assert json.loads(done.stdout)["runs"] == 1
    assert "holds no fingerprint" in done.stderr and "reclassify" in done.stderr
    assert query(store_url, "SELECT count(*) FROM matches")[0][0] == matches
    assert [b["bug"] for b in json.loads(ok(cli(store_url, "bugs", "--json", cwd=work)).stdout)] == ["BUG-1"]
    # the same from the environment
    env = ok(cli(store_url, "ingest", str(tmp_path / "later2"), cwd=tmp_path,
                 env_extra={"CISCOPE_FINGERPRINTS": str(work / "fingerprints")}))
    assert "found implicitly" in env.stderr
    assert query(store_url, "SELECT count(*) FROM fingerprints")[0][0] == 1
    # even given explicitly, an ingest does not delete them all
    explicit = ok(cli(store_url, "--fingerprints", str(work / "fingerprints"), "ingest", str(tmp_path / "data"),
                      cwd=tmp_path))
    assert "holds no fingerprint" in explicit.stderr
    assert query(store_url, "SELECT count(*) FROM matches")[0][0] == matches
    # an implicit directory that lacks one of several stored fingerprints keeps it too
    (fps / "BUG-2.yaml").write_text("title: other\nregex: 'something else entirely here'\n")
    ok(cli(store_url, "--fingerprints", str(fps), "reclassify", cwd=tmp_path))
    shutil.copy(fps / "BUG-1.yaml", work / "fingerprints" / "BUG-1.yaml")
    partial = ok(cli(store_url, "ingest", str(tmp_path / "data"), cwd=work))
    assert "lacks 1 stored one(s)" in partial.stderr and "BUG-2" in partial.stderr
    assert query(store_url, "SELECT count(*) FROM fingerprints")[0][0] == 2
    (work / "fingerprints" / "BUG-1.yaml").unlink()
    (fps / "BUG-2.yaml").unlink()

    # removing them is explicit: reclassify with the empty directory deletes, as a table and as JSON
    table = ok(cli(store_url, "--fingerprints", str(work / "fingerprints"), "reclassify", "--json", cwd=tmp_path))
    assert sorted(json.loads(table.stdout)["deleted"]) == ["BUG-1", "BUG-2"]
    assert query(store_url, "SELECT count(*) FROM matches")[0][0] == 0
    assert json.loads(ok(cli(store_url, "bugs", "--json", cwd=work)).stdout) == []
    again = ok(cli(store_url, "--fingerprints", str(work / "fingerprints"), "reclassify", cwd=tmp_path))
    assert "nothing to re-classify" in again.stderr


@pytest.mark.parametrize("name", ["job-output.txt", "console.log", "build-log.txt", "x.log", "x.log.gz",
                                  "x.txt.gz", "autoinst-log.txt", "job-output.txt.gz", "fail.log.xz"])
def test_log_names(name):
    from ciscope.ingest.logs import is_log

    assert is_log(name)


@pytest.mark.parametrize("name", ["junit.xml", "notes.md", "requirements.txt", "0", "x.subunit"])
def test_not_log_names(name):
    from ciscope.ingest.logs import is_log

    assert not is_log(name)
