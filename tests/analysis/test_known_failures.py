"""Known failures end to end on every engine: matching at ingest, reasons, reclassify,
triage, bugs, unclassified, clusters, and known-bug failures left out of flake detection."""

from __future__ import annotations

import gzip
from datetime import timedelta

import orjson
import pytest
from histories import history_runs
from runfolders import write_run

from ciscope.analysis.flakes import flaky_tests
from ciscope.analysis.known import Classifier, load_directory, prepare, reclassify
from ciscope.analysis.triage import bugs, failure_clusters, triage, unclassified
from ciscope.errors import UsageError
from ciscope.ingest.batch import ingest
from ciscope.model import Evidence, run_id
from ciscope.queries.window import Window

DISK = "write failed: No space left on device (errno 28) on /var/lib/containers"
JUNIT_BUG = f"""<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="e2e" tests="3" failures="2">
  <testcase name="[sig-a] passes" time="1"/>
  <testcase name="[sig-b] storage" time="2"><failure message="{DISK}">trace</failure></testcase>
  <testcase name="[sig-c] other" time="3"><failure message="pod e2e-{{n}} did not start in 300s">trace</failure></testcase>
</testsuite>
"""
JUNIT_ONLY_BUG = JUNIT_BUG.replace('<testcase name="[sig-c] other" time="3"><failure message="pod e2e-{n} did not start in 300s">trace</failure></testcase>',
                                   '<testcase name="[sig-c] other" time="3"/>')
JUNIT_PASS = """<testsuite name="e2e"><testcase name="[sig-a] passes" time="1"/></testsuite>"""
BUILD_LOG = "step 1\nstep 2\n2026-11-01T10:00:00Z kubelet: " + DISK + "\nstep 4\n"


def fingerprints(tmp_path, **files: str):
    folder = tmp_path / "fp"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text)
    return folder


def runs_tree(tmp_path):
    root = tmp_path / "gcs"
    # 1: both failures; 2: only the disk bug; 3: passes (never scanned); 4: only the other failure
    for build, junit in (("1", JUNIT_BUG.replace("{n}", "1")), ("2", JUNIT_ONLY_BUG), ("3", JUNIT_PASS),
                         ("4", JUNIT_BUG.replace("{n}", "4").replace(f'message="{DISK}"', 'message="ok"')
                          .replace("<failure message=\"ok\">trace</failure>", ""))):
        folder = write_run(root, "e2e-aws", build, result="SUCCESS" if build == "3" else "FAILURE", junit=junit)
        if build in ("1", "2"):
            (folder / "build-log.txt").write_text(BUILD_LOG)
            logs = folder / "artifacts" / "e2e" / "nodes"
            logs.mkdir(parents=True)
            (logs / "journal.log.gz").write_bytes(gzip.compress(b"boot\n" + DISK.encode() + b"\n"))
        if build == "3":
            (folder / "build-log.txt").write_text(BUILD_LOG)  # a passing run is not scanned
    return root


def ingest_with(store, root, folder):
    classifier, report, rejected = prepare(store, folder)
    assert rejected == []
    return ingest(store, [root], classifier=classifier)


def matches(store):
    return sorted(store.query("SELECT run_id, bug, test, file, line, text FROM matches"),
                  key=lambda r: (r[0], r[1], r[2] or "", r[3]))


def test_matches_at_ingest_with_evidence_and_reasons(store, tmp_path):
    fp = fingerprints(tmp_path, **{"BUG-1": "regex: 'No space left on device \\(errno \\d+\\)'\n"})
    report = ingest_with(store, runs_tree(tmp_path), fp)
    assert report.runs == 4 and report.classified == 2 and report.refused == []
    rid1, rid2 = run_id("e2e-aws", "1"), run_id("e2e-aws", "2")
    found = matches(store)
    per_run = {}
    for rid, bug, test, file, line, _text in found:
        per_run.setdefault(rid, set()).add((bug, test, file, line))
    expected = {
        ("BUG-1", "[sig-b] storage", "artifacts/e2e/junit/junit_e2e.xml", 1),
        ("BUG-1", None, "build-log.txt", 3),
        ("BUG-1", None, "artifacts/e2e/nodes/journal.log.gz", 2),
    }
    assert per_run == {rid1: expected, rid2: expected}
    assert all(DISK in text for *_, text in found)
    reasons = {rid: orjson.loads(reason) for rid, reason in store.query("SELECT run_id, reason FROM runs WHERE reason IS NOT NULL")}
    assert reasons[rid2]["fingerprint"] == ["BUG-1"] and reasons[rid2]["cluster"] is None
    assert reasons[rid1]["fingerprint"] == ["BUG-1"]
    assert len(reasons[rid1]["cluster"]) == 16  # "[sig-c] other" is unexplained
    assert reasons[run_id("e2e-aws", "4")]["fingerprint"] is None
    # idempotent: ingesting again stores nothing twice
    again = ingest_with(store, tmp_path / "gcs", fp)
    assert again.runs == 0 and again.skipped == 4 and matches(store) == found


def test_lucene_query_fingerprints_match_too(store, tmp_path):
    fp = fingerprints(tmp_path, **{"LP-42": 'query: >\n  message:"No space left on device" AND filename:"build-log.txt"\n'})
    ingest_with(store, runs_tree(tmp_path), fp)
    assert {(bug, test, file) for _, bug, test, file, _, _ in matches(store)} == {("LP-42", None, "build-log.txt")}


def test_reclassify_only_what_changed(store, tmp_path):
    root = runs_tree(tmp_path)
    fp = fingerprints(tmp_path, **{"BUG-1": "regex: 'No space left on device \\(errno \\d+\\)'\n"})
    ingest_with(store, root, fp)
    before = matches(store)

    # nothing changed
    fps, _ = load_directory(fp)
    assert reclassify(store, fps).nothing_to_do

    # a new fingerprint for the other failure: only it is scanned, the old matches stay
    (fp / "BUG-2.yaml").write_text("regex: 'pod e2e-\\d+ did not start in \\d+s'\n")
    fps, _ = load_directory(fp)
    report = reclassify(store, fps)
    assert (report.added, report.changed, report.deleted, report.unchanged) == (["BUG-2"], [], [], 1)
    assert report.runs_scanned == 3  # the failed runs; the passing one is not scanned
    bug2 = [m for m in matches(store) if m[1] == "BUG-2"]
    assert {(m[0], m[2]) for m in bug2} == {(run_id("e2e-aws", "1"), "[sig-c] other"), (run_id("e2e-aws", "4"), "[sig-c] other")}
    assert [m for m in matches(store) if m[1] == "BUG-1"] == before
    reason4 = orjson.loads(store.query("SELECT reason FROM runs WHERE run_id = ?", (run_id("e2e-aws", "4"),))[0][0])
    assert reason4["fingerprint"] == ["BUG-2"] and reason4["cluster"] is None

    # a changed regex replaces that bug's matches
    (fp / "BUG-1.yaml").write_text("regex: 'this text appears nowhere at all in the logs'\n")
    fps, _ = load_directory(fp)
    report = reclassify(store, fps)
    assert (report.added, report.changed) == ([], ["BUG-1"])
    assert {m[1] for m in matches(store)} == {"BUG-2"}
    reason2 = orjson.loads(store.query("SELECT reason FROM runs WHERE run_id = ?", (run_id("e2e-aws", "2"),))[0][0])
    assert reason2["fingerprint"] is None

    # a deleted file: its matches and its definition go
    (fp / "BUG-2.yaml").unlink()
    fps, _ = load_directory(fp)
    report = reclassify(store, fps)
    assert report.deleted == ["BUG-2"]
    assert matches(store) == []
    assert [b for (b,) in store.query("SELECT bug FROM fingerprints ORDER BY bug")] == ["BUG-1"]


def test_reclassify_is_all_or_nothing(store, tmp_path):
    root = runs_tree(tmp_path)
    fp = fingerprints(tmp_path, **{"BUG-1": "regex: 'No space left on device \\(errno \\d+\\)'\n"})
    ingest_with(store, root, fp)
    before = matches(store)
    (fp / "BUG-1.yaml").unlink()
    fps, _ = load_directory(fp)
    original = store.append

    def broken(table, data):
        raise RuntimeError("disk full")

    (fp / "BUG-9.yaml").write_text("regex: 'pod e2e-\\d+ did not start in \\d+s'\n")
    fps, _ = load_directory(fp)
    store.append = broken
    try:
        with pytest.raises(RuntimeError):
            reclassify(store, fps)
    finally:
        store.append = original
    assert matches(store) == before
    assert [b for (b,) in store.query("SELECT bug FROM fingerprints")] == ["BUG-1"]


def test_triage_advice(store, tmp_path):
    fp = fingerprints(tmp_path, **{"BUG-1": "title: disk full\nregex: 'No space left on device \\(errno \\d+\\)'\n"})
    ingest_with(store, runs_tree(tmp_path), fp)
    t2 = triage(store, "2")
    assert (t2["job"], t2["build"], t2["status"]) == ("e2e-aws", "2", "failure")
    assert [f["test"] for f in t2["failures"]] == ["[sig-b] storage"]
    assert t2["failures"][0]["bugs"] == ["BUG-1"] and t2["failures"][0]["evidence"][0]["line"] == 1
    assert t2["bugs"] == ["BUG-1"] and t2["bug_titles"] == {"BUG-1": "disk full"} and t2["unexplained"] == []
    assert t2["advice"].startswith("all failures explained by known bugs") and "safe to recheck" in t2["advice"]
    assert {e["file"] for e in t2["run_evidence"]} == {"build-log.txt", "artifacts/e2e/nodes/journal.log.gz"}

    t1 = triage(store, "e2e-aws/1")
    assert t1["unexplained"] == ["[sig-c] other"] and "safe to recheck" not in t1["advice"]
    assert t1["advice"].startswith("1 of 2 failures explained")

    t4 = triage(store, str(run_id("e2e-aws", "4")))
    assert t4["bugs"] == [] and t4["unexplained"] == ["[sig-c] other"] and "no known bug" in t4["advice"]

    assert "nothing to triage" in triage(store, "3")["advice"]
    with pytest.raises(UsageError, match="nope"):
        triage(store, "nope")


def test_ambiguous_build_needs_a_job(store, tmp_path):
    root = tmp_path / "gcs"
    write_run(root, "job-a", "7")
    write_run(root, "job-b", "7")
    ingest(store, [root])
    with pytest.raises(UsageError, match="--job"):
        triage(store, "7")
    assert triage(store, "7", job="job-b")["job"] == "job-b"


def test_bugs_windows_share_and_hourly_series(store, tmp_path):
    root = tmp_path / "gcs"
    # builds are one hour apart (runfolders: timestamp = base + build·3600)
    for build in ("10", "20", "200", "330"):
        write_run(root, "e2e", build, junit=JUNIT_ONLY_BUG)
    write_run(root, "e2e", "331", junit=JUNIT_BUG.replace("{n}", "9").replace(f'message="{DISK}"', 'message="x"'))
    fp = fingerprints(tmp_path, **{"BUG-1": "regex: 'No space left on device \\(errno \\d+\\)'\n",
                                   "BUG-0": "regex: 'a bug that never happened here at all'\n"})
    ingest_with(store, root, fp)
    out = {b["bug"]: b for b in bugs(store, days=10)}
    b = out["BUG-1"]
    # newest run: build 331; 24 h back reaches build 308; 7 d back build 163; 10 d back build 91
    assert b["hits"] == {"24h": 1, "7d": 2, "10d": 2, "all": 4}
    assert b["share"] == 0.8 and b["jobs"] == ["e2e"] and b["defined"]
    assert len(b["hourly"]["counts"]) == 240 and sum(b["hourly"]["counts"]) == 2
    start = b["hourly"]["start"]
    last = b["last_seen"]
    assert b["hourly"]["counts"][int((last - start).total_seconds() // 3600)] == 1
    assert b["first_seen"] == last - timedelta(hours=320)
    assert out["BUG-0"]["hits"]["all"] == 0 and [x["bug"] for x in bugs(store)][0] == "BUG-1"


def test_unclassified_and_rates(store, tmp_path):
    fp = fingerprints(tmp_path, **{"BUG-1": "regex: 'No space left on device \\(errno \\d+\\)'\n"})
    ingest_with(store, runs_tree(tmp_path), fp)
    u = unclassified(store)
    assert (u["failed_runs"], u["classified"], u["unclassified"]) == (3, 2, 1)
    assert u["classification_rate"] == round(2 / 3, 4)
    assert u["jobs"] == [{"job": "e2e-aws", "failed_runs": 3, "classified": 2, "classification_rate": round(2 / 3, 4)}]
    assert [r["build"] for r in u["runs"]] == ["4"] and len(u["runs"][0]["cluster"]) == 16


def test_clusters_of_unexplained_failures_with_a_fingerprint(store, tmp_path):
    root = tmp_path / "gcs"
    for build in range(1, 7):
        junit = (f'<testsuite name="e2e"><testcase name="t{build % 2}"><failure message="dial tcp 10.0.{build}.7:6443: '
                 f'connect: connection refused"/></testcase><testcase name="u"><failure message="{DISK}"/></testcase>'
                 f'<testcase name="v"><failure message="panic: nil map write in goroutine {build * 11}"/></testcase></testsuite>')
        write_run(root, "e2e", str(build), junit=junit)
    fp = fingerprints(tmp_path, **{"BUG-1": "regex: 'No space left on device \\(errno \\d+\\)'\n"})
    ingest_with(store, root, fp)
    result = failure_clusters(store)
    assert result["failures"] == 12  # the disk failures are explained
    sizes = sorted((c["size"], c["tests"]) for c in result["items"])
    assert sizes == [(6, 1), (6, 2)]
    for c in result["items"]:
        assert c["group_ids"][0] == c["id"]
        assert c["suggested_fingerprint"]
    import re
    dial = next(c for c in result["items"] if "dial tcp" in c["example"])
    pattern = re.compile(dial["suggested_fingerprint"])
    assert all(pattern.search(f"dial tcp 10.0.{b}.7:6443: connect: connection refused") for b in range(1, 7))
    assert not pattern.search("panic: nil map write in goroutine 11")
    # known failures come back on request
    assert failure_clusters(store, include_known=True)["failures"] == 18


def test_known_bug_flakes_are_reported_with_their_bugs(store):
    """Issue 8: a test that flakes because of a known bug still flakes."""
    runs = history_runs({"t": "PPFPPPFPPPPFPPPPF"})
    for run in runs:
        for r in run.results:
            if r.name == "t" and r.status.value == "failed":
                r.failure_message = DISK
                run.evidence.append(Evidence("BUG-1", "junit", 1, DISK, "t"))
    store.write_runs(runs)
    [row] = flaky_tests(store, only_flaky=True)
    assert (row["test"], row["known_bugs"], row["known_share"]) == ("t", ["BUG-1"], 1.0)
    assert [r["test"] for r in flaky_tests(store, only_flaky=True, exclude_known=True)] == []


def test_classifier_skips_runs_without_failures(tmp_path):
    from ciscope.fingerprints import Fingerprint
    from ciscope.model import Run, RunStatus, Status, TestResult

    c = Classifier([Fingerprint.from_regex("No space left on device", id="B")])
    ok = Run("j", "1", RunStatus.SUCCESS, results=[TestResult("t", Status.PASSED)])
    assert c.evidence(ok) == []
    retried = Run("j", "2", RunStatus.SUCCESS, results=[
        TestResult("t", Status.FAILED, failure_message=DISK), TestResult("t", Status.PASSED, attempt=1)])
    assert [(e.bug, e.test) for e in c.evidence(retried)] == [("B", "t")]


def test_windows_of_unclassified_and_clusters(store, tmp_path):
    fp = fingerprints(tmp_path, **{"BUG-1": "regex: 'No space left on device \\(errno \\d+\\)'\n"})
    ingest_with(store, runs_tree(tmp_path), fp)
    # the newest run (build 4) starts the window's end; days=0 leaves nothing before it
    newest = store.query("SELECT max(started_at) FROM runs")[0][0]
    assert unclassified(store, window=Window(since=newest + timedelta(seconds=1)))["failed_runs"] == 0
    assert unclassified(store, window=Window(days=1))["failed_runs"] == 3
    assert unclassified(store, window=Window(job="other-job"))["failed_runs"] == 0
    assert failure_clusters(store, window=Window(since=newest + timedelta(seconds=1)))["failures"] == 0
    assert failure_clusters(store, window=Window(days=1))["failures"] == 2  # "[sig-c] other" in builds 1 and 4


def test_log_match_explains_test_ids_ignoring_tempest_attributes(store, tmp_path):
    root = tmp_path / "gcs"
    junit = ('<testsuite name="tempest"><testcase classname="tempest.api.TestServers" name="test_boot[id-3e41,smoke]">'
             '<failure message="Server did not become ACTIVE in time"/></testcase>'
             '<testcase classname="tempest.api.TestServers" name="test_other"><failure message="unrelated"/></testcase>'
             '</testsuite>')
    folder = write_run(root, "tempest-full", "5", junit=junit)
    (folder / "build-log.txt").write_text("boot\nnova-compute: libvirt: Domain not found: no domain with matching uuid\n")
    fp = fingerprints(tmp_path, **{"LP-1": "regex: 'libvirt: Domain not found: no domain with matching uuid'\n"
                                           "test_ids:\n  - tempest.api.TestServers.test_boot\n"})
    ingest_with(store, root, fp)
    t = triage(store, "5")
    assert [(f["test"], f["bugs"]) for f in t["failures"]] == [
        ("tempest.api.TestServers.test_boot[id-3e41,smoke]", ["LP-1"]), ("tempest.api.TestServers.test_other", [])]
    assert t["unexplained"] == ["tempest.api.TestServers.test_other"]
    assert [c["example"] for c in failure_clusters(store)["items"]] == ["unrelated"]
    from ciscope.analysis.clusters import cluster_key
    reason = orjson.loads(store.query("SELECT reason FROM runs")[0][0])
    assert reason["fingerprint"] == ["LP-1"] and reason["cluster"] == cluster_key("unrelated")
    # the same after a re-classification (reasons rewritten from the stored matches)
    fps, _ = load_directory(fp)
    reclassify(store, fps, full=True)
    assert orjson.loads(store.query("SELECT reason FROM runs")[0][0])["cluster"] == cluster_key("unrelated")


def test_a_run_of_many_bare_files_is_scanned_without_error():
    """Found on real data: a bare run's source is its files' paths joined by commas, longer
    than a path may be; re-classifying it raised 'File name too long'."""
    from ciscope.fingerprints import Fingerprint
    from ciscope.model import Run, RunStatus, Status, TestResult

    c = Classifier([Fingerprint.from_regex("No space left on device", id="B")])
    run = Run("j", "1", RunStatus.FAILURE, results=[TestResult("t", Status.FAILED, failure_message=DISK)],
              source=",".join([f"/data/reports/{'r' * 200}-{k}.xml" for k in range(40)]), logs=["build-log.txt"])
    assert [(e.bug, e.test) for e in c.evidence(run)] == [("B", "t")]
