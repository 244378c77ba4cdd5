"""The known-failures layer end to end, on every engine (the ``store`` fixture): matching at
ingest (test failure texts, build-log.txt, .gz logs), the stored reasons, idempotence,
reclassify (added / changed / deleted / unchanged fingerprints, one transaction), triage,
bugs, unclassified, clusters, and known-bug failures left out of flake and regression
detection. Every expected value below was worked out by hand from the input written here.
"""

from __future__ import annotations

import gzip
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
from histories import history_runs
from runfolders import write_run

from ciscope.analysis.clusters import cluster_key
from ciscope.analysis.flakes import flaky_tests
from ciscope.analysis.known import Classifier, load_directory, prepare, reclassify
from ciscope.analysis.regressions import regressions
from ciscope.analysis.triage import bugs, failure_clusters, triage, unclassified, unexplained_failures
from ciscope.errors import UsageError
from ciscope.fingerprints import Fingerprint
from ciscope.ingest.batch import ingest
from ciscope.model import Status, run_id
from ciscope.queries.window import Window

JOB = "e2e-gcp"
JUNIT_FILE = "artifacts/e2e/junit/junit_e2e.xml"
GZ_LOG = "artifacts/e2e/gather/etcd.log.gz"
ETCD = "etcdserver: request timed out"
ETCD_REGEX = "regex: 'etcdserver: request timed out'\n"
# the signature is on line 3 of the test's failure text: message, then the body's two lines
MOUNTS = """<testcase name="[sig-storage] mounts" time="3"><failure message="mount /data failed">waiting for volume
etcdserver: request timed out after 5s
at volume.go:12</failure></testcase>"""
OK = '<testcase name="[sig-a] ok" time="1"/>'


def dial(ip: str) -> str:
    return f"dial tcp {ip}:6443: connect: connection refused"


def dial_case(ip: str) -> str:
    return f'<testcase name="[sig-net] dial" time="2"><failure message="{dial(ip)}">stack</failure></testcase>'


def suite(*cases: str) -> str:
    return '<?xml version="1.0"?>\n<testsuite name="e2e">\n' + "\n".join(cases) + "\n</testsuite>\n"


def fingerprint_dir(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "fingerprints"
    folder.mkdir(exist_ok=True)
    for bug, text in files.items():
        (folder / f"{bug}.yaml").write_text(text)
    return folder


def prow_tree(tmp_path: Path) -> Path:
    """Five runs of one job:

    101 failed: [sig-storage] mounts (etcd on line 3 of its failure text); etcd on line 4 of
        build-log.txt and on line 5 of a gzipped log under artifacts/ — all explained;
    102 failed: mounts (etcd) and [sig-net] dial (unexplained); build-log.txt without etcd;
    103 passed, though its build-log.txt has the etcd line: never scanned;
    104 failed: [sig-net] dial only (unexplained), no etcd anywhere;
    105 failed outside its tests (every test passed); etcd on line 2 of build-log.txt.
    """
    root = tmp_path / "gcs"
    f101 = write_run(root, JOB, "101", junit=suite(OK, MOUNTS))
    (f101 / "build-log.txt").write_text(f"step 1\nstep 2\nstep 3\nE1101 10:00:00 {ETCD}\nstep 5\n")
    gather = f101 / "artifacts" / "e2e" / "gather"
    gather.mkdir(parents=True)
    (gather / "etcd.log.gz").write_bytes(gzip.compress(f"a\nb\nc\nd\nleader lost; {ETCD}\nf\n".encode()))
    write_run(root, JOB, "102", junit=suite(OK, MOUNTS, dial_case("10.0.0.1")))
    f103 = write_run(root, JOB, "103", result="SUCCESS", junit=suite(OK))
    (f103 / "build-log.txt").write_text(f"{ETCD}\n")
    write_run(root, JOB, "104", junit=suite(OK, dial_case("10.0.0.2")))
    f105 = write_run(root, JOB, "105", junit=suite(OK))
    (f105 / "build-log.txt").write_text(f"installing\n{ETCD} while bootstrapping\n")
    return root


def ingest_with(store, root: Path, folder: Path):
    classifier, _, rejected = prepare(store, folder)
    assert rejected == []
    return ingest(store, [root], classifier=classifier, workers=1)


def rid(build: str, job: str = JOB) -> int:
    return run_id(job, build)


def all_matches(store) -> list[tuple]:
    rows = store.query("SELECT run_id, bug, test, file, line, text FROM matches")
    return sorted(rows, key=lambda r: (r[0], r[1], r[2] or "", r[3]))


def reasons(store) -> dict[int, dict | None]:
    return {r: (orjson.loads(reason) if reason else None)
            for r, reason in store.query("SELECT run_id, reason FROM runs")}


def mounts_match(build: str, bug: str = "BUG-ETCD") -> tuple:
    return (rid(build), bug, "[sig-storage] mounts", JUNIT_FILE, 3, "etcdserver: request timed out after 5s")


def dial_match(build: str, ip: str) -> tuple:
    return (rid(build), "BUG-DIAL", "[sig-net] dial", JUNIT_FILE, 1, dial(ip))


LOG_101 = [(rid("101"), "BUG-ETCD", None, GZ_LOG, 5, f"leader lost; {ETCD}"),
           (rid("101"), "BUG-ETCD", None, "build-log.txt", 4, f"E1101 10:00:00 {ETCD}")]
LOG_105 = (rid("105"), "BUG-ETCD", None, "build-log.txt", 2, f"{ETCD} while bootstrapping")
DIAL_CLUSTER = cluster_key(dial("10.0.0.1"))


def expected_ingest_matches() -> list[tuple]:
    return sorted([mounts_match("101"), *LOG_101, mounts_match("102"), LOG_105],
                  key=lambda r: (r[0], r[1], r[2] or "", r[3]))


# ------------------------------------------------------------------ matching at ingest


def test_ingest_stores_evidence_from_failure_texts_and_logs(store, tmp_path):
    report = ingest_with(store, prow_tree(tmp_path), fingerprint_dir(tmp_path, **{"BUG-ETCD": ETCD_REGEX}))
    assert (report.runs, report.classified, report.refused, report.warnings) == (5, 3, [], [])
    assert all_matches(store) == expected_ingest_matches()
    # the passing run 103 has the signature in its log, but was not scanned
    assert store.query("SELECT count(*) FROM matches WHERE run_id = ?", (rid("103"),)) == [(0,)]
    assert [r for (r,) in store.query("SELECT bug FROM fingerprints")] == ["BUG-ETCD"]


def test_reasons_name_the_bugs_and_the_first_unexplained_cluster(store, tmp_path):
    ingest_with(store, prow_tree(tmp_path), fingerprint_dir(tmp_path, **{"BUG-ETCD": ETCD_REGEX}))
    got = reasons(store)
    assert got[rid("103")] is None  # passed: no reason at all
    assert (got[rid("101")]["fingerprint"], got[rid("101")]["cluster"]) == (["BUG-ETCD"], None)
    assert got[rid("102")]["fingerprint"] == ["BUG-ETCD"]
    assert re.fullmatch(r"[0-9a-f]{16}", got[rid("102")]["cluster"])
    # 10.0.0.1 and 10.0.0.2 are masked: the same cluster id for 102 and 104
    assert got[rid("102")]["cluster"] == got[rid("104")]["cluster"] == DIAL_CLUSTER
    assert got[rid("104")]["fingerprint"] is None
    assert got[rid("105")] == {"component": "outside_tests", "fingerprint": ["BUG-ETCD"], "cluster": None,
                               "message": "job failed but no test failed (build failed outside of test results)",
                               "tests": []}


def test_ingesting_the_same_folders_again_keeps_one_set_of_matches(store, tmp_path):
    root = prow_tree(tmp_path)
    folder = fingerprint_dir(tmp_path, **{"BUG-ETCD": ETCD_REGEX})
    ingest_with(store, root, folder)
    first = store.query("SELECT run_id, bug, test, file, line, text, matched_at FROM matches ORDER BY run_id, file")
    again = ingest_with(store, root, folder)
    assert (again.runs, again.skipped, again.classified) == (0, 5, 0)
    assert store.query("SELECT run_id, bug, test, file, line, text, matched_at FROM matches"
                       " ORDER BY run_id, file") == first
    # replacing the runs re-scans them: still one set
    replaced = ingest(store, [root], classifier=Classifier(load_directory(folder)[0]), replace=True, workers=1)
    assert (replaced.replaced, replaced.classified) == (5, 3)
    assert all_matches(store) == expected_ingest_matches()


def test_classifier_evidence_of_one_run_in_memory(tmp_path):
    """The Classifier alone, without a store: failed attempts only, one match per bug per test."""
    from ciscope.model import Run, RunStatus, TestResult

    c = Classifier([Fingerprint.from_regex("etcdserver: request timed out", id="BUG-ETCD")])
    passing = Run(JOB, "1", RunStatus.SUCCESS, results=[TestResult("t", Status.PASSED)])
    assert c.evidence(passing) == []
    # a retried failure is scanned although the run passed; the retry's identical text is not scanned twice
    retried = Run(JOB, "2", RunStatus.SUCCESS, results=[
        TestResult("t", Status.FAILED, failure_message=f"first\n{ETCD}"),
        TestResult("t", Status.FAILED, attempt=1, failure_message=f"first\n{ETCD}"),
        TestResult("t", Status.PASSED, attempt=2),
        TestResult("u", Status.PASSED, failure_message=ETCD)])  # passed: its text is not evidence
    assert [(e.bug, e.test, e.file, e.line, e.text) for e in c.evidence(retried)] == [
        ("BUG-ETCD", "t", "junit", 2, ETCD)]


# ------------------------------------------------------------------ reclassify


def test_reclassify_added_changed_deleted_unchanged(store, tmp_path):
    root = prow_tree(tmp_path)
    folder = fingerprint_dir(tmp_path, **{"BUG-ETCD": ETCD_REGEX})
    ingest_with(store, root, folder)
    stamps = store.query("SELECT run_id, file, matched_at FROM matches ORDER BY run_id, file")
    # Proof that an unchanged fingerprint is not re-scanned: its log line disappears from disk,
    # its stored match stays.
    (root / "logs" / JOB / "101" / "build-log.txt").write_text("rotated\n")

    # added: only BUG-DIAL runs over the 4 failed runs (101, 102, 104, 105)
    (folder / "BUG-DIAL.yaml").write_text(r"regex: 'dial tcp [\d.]+:\d+: connect: connection refused'" + "\n")
    report = reclassify(store, load_directory(folder)[0])
    assert report.as_dict() == {"added": ["BUG-DIAL"], "changed": [], "deleted": [], "unchanged": 1,
                                "runs_scanned": 4, "matches": 2, "runs_affected": 2, "warnings": []}
    assert all_matches(store) == sorted(expected_ingest_matches() + [dial_match("102", "10.0.0.1"),
                                                                     dial_match("104", "10.0.0.2")],
                                        key=lambda r: (r[0], r[1], r[2] or "", r[3]))
    assert store.query("SELECT run_id, file, matched_at FROM matches WHERE bug = 'BUG-ETCD'"
                       " ORDER BY run_id, file") == stamps
    got = reasons(store)
    assert (got[rid("102")]["fingerprint"], got[rid("102")]["cluster"]) == (["BUG-DIAL", "BUG-ETCD"], None)
    assert (got[rid("104")]["fingerprint"], got[rid("104")]["cluster"]) == (["BUG-DIAL"], None)
    assert got[rid("103")] is None

    # changed: BUG-ETCD now needs "after Ns", which only the test failure texts have
    (folder / "BUG-ETCD.yaml").write_text(r"regex: 'request timed out after \d+s'" + "\n")
    report = reclassify(store, load_directory(folder)[0])
    assert report.as_dict() == {"added": [], "changed": ["BUG-ETCD"], "deleted": [], "unchanged": 1,
                                "runs_scanned": 4, "matches": 2, "runs_affected": 3, "warnings": []}
    assert [m for m in all_matches(store) if m[1] == "BUG-ETCD"] == sorted([mounts_match("101"), mounts_match("102")])
    assert store.query("SELECT pattern FROM fingerprints WHERE bug = 'BUG-ETCD'") == [(r"request timed out after \d+s",)]
    got = reasons(store)
    assert (got[rid("105")]["fingerprint"], got[rid("105")]["cluster"]) == (None, None)
    assert got[rid("101")]["fingerprint"] == ["BUG-ETCD"]

    # deleted: BUG-DIAL's matches and its definition go; the runs' clusters come back
    (folder / "BUG-DIAL.yaml").unlink()
    report = reclassify(store, load_directory(folder)[0])
    assert report.as_dict() == {"added": [], "changed": [], "deleted": ["BUG-DIAL"], "unchanged": 1,
                                "runs_scanned": 0, "matches": 0, "runs_affected": 2, "warnings": []}
    assert [m[1] for m in all_matches(store)] == ["BUG-ETCD", "BUG-ETCD"]
    assert store.query("SELECT bug FROM fingerprints") == [("BUG-ETCD",)]
    got = reasons(store)
    assert (got[rid("102")]["fingerprint"], got[rid("102")]["cluster"]) == (["BUG-ETCD"], DIAL_CLUSTER)
    assert (got[rid("104")]["fingerprint"], got[rid("104")]["cluster"]) == (None, DIAL_CLUSTER)

    # nothing changed: nothing to do, nothing touched
    before = (all_matches(store), reasons(store))
    report = reclassify(store, load_directory(folder)[0])
    assert report.nothing_to_do and (report.unchanged, report.runs_scanned, report.runs_affected) == (1, 0, 0)
    assert (all_matches(store), reasons(store)) == before


def test_reclassify_full_rescans_unchanged_fingerprints_too(store, tmp_path):
    root = prow_tree(tmp_path)
    folder = fingerprint_dir(tmp_path, **{"BUG-ETCD": ETCD_REGEX})
    ingest_with(store, root, folder)
    (root / "logs" / JOB / "101" / "build-log.txt").unlink()
    report = reclassify(store, load_directory(folder)[0], full=True)
    assert (report.added, report.changed, report.unchanged, report.runs_scanned) == ([], ["BUG-ETCD"], 0, 4)
    # the log that is gone cannot be re-read: a warning naming it, and its match is gone
    assert len(report.warnings) == 1 and "build-log.txt" in report.warnings[0]
    assert all_matches(store) == [m for m in expected_ingest_matches() if m != LOG_101[1]]


def test_reclassify_is_one_transaction(store, tmp_path):
    """A real database error part-way (two definitions with one id violate the primary key of
    ``fingerprints``, after the old matches were deleted and new ones appended) leaves the
    store exactly as it was, and usable."""
    folder = fingerprint_dir(tmp_path, **{"BUG-ETCD": ETCD_REGEX})
    ingest_with(store, prow_tree(tmp_path), folder)
    before = (all_matches(store), reasons(store),
              store.query("SELECT bug, pattern, digest FROM fingerprints ORDER BY bug"))
    changed = Fingerprint.from_regex(r"request timed out after \d+s", id="BUG-ETCD")
    twice = [Fingerprint.from_regex(r"dial tcp [\d.]+:\d+: connect", id="BUG-DUP") for _ in range(2)]
    with pytest.raises(Exception) as failure:
        reclassify(store, [changed, *twice])
    assert "BUG-DUP" in str(failure.value) or "duplicate" in str(failure.value).lower()
    assert (all_matches(store), reasons(store),
            store.query("SELECT bug, pattern, digest FROM fingerprints ORDER BY bug")) == before
    report = reclassify(store, [changed, twice[0]])
    assert (report.added, report.changed, report.matches) == (["BUG-DUP"], ["BUG-ETCD"], 4)


def _snapshot(store) -> tuple:
    return (all_matches(store), sorted(reasons(store).items()),
            store.query("SELECT bug, kind, pattern, digest, test_ids FROM fingerprints ORDER BY bug"))


def test_reclassify_gives_the_same_store_on_duckdb_and_postgresql(tmp_path, pg_schema_url):
    from ciscope.store import connect

    root = prow_tree(tmp_path)
    folder = fingerprint_dir(tmp_path, **{"BUG-ETCD": ETCD_REGEX})
    stores = [connect(f"duckdb:///{tmp_path / 'x.duckdb'}"), connect(pg_schema_url)]
    try:
        for s in stores:
            ingest_with(s, root, folder)
        assert _snapshot(stores[0]) == _snapshot(stores[1])
        steps = [lambda: (folder / "BUG-DIAL.yaml").write_text("regex: 'connect: connection refused'\n"),
                 lambda: (folder / "BUG-ETCD.yaml").write_text("regex: 'request timed out after'\n"),
                 lambda: (folder / "BUG-DIAL.yaml").unlink()]
        for step in steps:
            step()
            fps = load_directory(folder)[0]
            reports = [reclassify(s, fps).as_dict() for s in stores]
            assert reports[0] == reports[1]
            assert _snapshot(stores[0]) == _snapshot(stores[1])
        assert [m[1] for m in _snapshot(stores[0])[0]] == ["BUG-ETCD", "BUG-ETCD"]
    finally:
        for s in stores:
            s.close()


def test_log_match_of_a_test_ids_fingerprint_explains_the_listed_test(store, tmp_path):
    """test_ids: a log line explains the failures of the tests the fingerprint lists — in
    triage, in clusters, and in the run's reason (at ingest and after reclassify)."""
    root = tmp_path / "gcs"
    folder = write_run(root, JOB, "201", junit=suite(OK, dial_case("10.0.0.9")))
    (folder / "build-log.txt").write_text("boot\nkubelet: node NotReady: PLEG is not healthy\n")
    fps = fingerprint_dir(tmp_path, **{"BUG-PLEG": "regex: 'PLEG is not healthy'\ntest_ids:\n  - '[sig-net] dial'\n"})
    ingest_with(store, root, fps)
    assert all_matches(store) == [(rid("201"), "BUG-PLEG", None, "build-log.txt", 2,
                                   "kubelet: node NotReady: PLEG is not healthy")]
    t = triage(store, "201")
    assert t["unexplained"] == [] and t["failures"][0]["bugs"] == ["BUG-PLEG"]
    assert unexplained_failures(store) == []
    assert (t["reason"]["fingerprint"], t["reason"]["cluster"]) == (["BUG-PLEG"], None)
    (fps / "BUG-PLEG.yaml").write_text("regex: 'PLEG is not healthy'\ntest_ids: ['[sig-net] dial']\ntitle: x\n")
    reclassify(store, load_directory(fps)[0], full=True)
    assert reasons(store)[rid("201")]["cluster"] is None


def test_reclassify_keeps_the_first_unexplained_test_of_ingest_whatever_the_collation(store, tmp_path):
    """The reason's cluster is that of the first unexplained failed test by test id, in
    Python's (code point) order at ingest; a re-classification must pick the same test even on
    a PostgreSQL whose collation is linguistic ("alpha" < "Zeta"; in code points "Z" < "a")."""
    if store.name == "postgresql":
        if not store.query("SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu'"):
            pytest.skip("this PostgreSQL has no ICU collation")
        for table in ("test_results", "test_verdicts"):
            store.execute(f'ALTER TABLE {table} ALTER COLUMN test TYPE TEXT COLLATE "und-x-icu"')
    root = tmp_path / "gcs"
    write_run(root, JOB, "1", junit=suite('<testcase name="Zeta one"><failure message="zeta broke"/></testcase>',
                                          '<testcase name="api works"><failure message="api broke"/></testcase>'))
    ingest(store, [root], workers=1)
    assert reasons(store)[rid("1")]["cluster"] == cluster_key("zeta broke")
    # a fingerprint matching the build log (runfolders writes "error: something" on line 2)
    report = reclassify(store, [Fingerprint.from_regex("error: something", id="BUG-LOG")])
    assert (report.matches, report.runs_affected) == (1, 1)
    assert reasons(store)[rid("1")]["cluster"] == cluster_key("zeta broke")


# ------------------------------------------------------------------ triage


def test_triage_shape_and_advice(store, tmp_path):
    ingest_with(store, prow_tree(tmp_path),
                fingerprint_dir(tmp_path, **{"BUG-ETCD": "title: etcd is slow\n" + ETCD_REGEX}))
    t = triage(store, "101")
    assert set(t) == {"job", "build", "run_id", "status", "started_at", "commit", "url", "failures", "flaked",
                      "bugs", "bug_titles", "run_evidence", "unexplained", "reason", "advice", "log_reason", "incomplete"}
    assert (t["job"], t["build"], t["run_id"], t["status"]) == (JOB, "101", rid("101"), "failure")
    assert t["failures"] == [{"test": "[sig-storage] mounts", "message": "mount /data failed", "bugs": ["BUG-ETCD"],
                              "evidence": [{"bug": "BUG-ETCD", "test": "[sig-storage] mounts", "file": JUNIT_FILE,
                                            "line": 3, "text": "etcdserver: request timed out after 5s"}]}]
    assert t["run_evidence"] == [{"bug": "BUG-ETCD", "test": None, "file": GZ_LOG, "line": 5,
                                  "text": f"leader lost; {ETCD}"},
                                 {"bug": "BUG-ETCD", "test": None, "file": "build-log.txt", "line": 4,
                                  "text": f"E1101 10:00:00 {ETCD}"}]
    assert (t["bugs"], t["bug_titles"], t["unexplained"]) == (["BUG-ETCD"], {"BUG-ETCD": "etcd is slow"}, [])
    assert t["advice"] == "all failures explained by known bugs (BUG-ETCD): safe to recheck"

    partly = triage(store, f"{JOB}/102")  # JOB/BUILD works too
    assert [(f["test"], f["bugs"]) for f in partly["failures"]] == [("[sig-net] dial", []),
                                                                    ("[sig-storage] mounts", ["BUG-ETCD"])]
    assert partly["unexplained"] == ["[sig-net] dial"]
    assert partly["advice"] == ("1 of 2 failures explained by known bugs (BUG-ETCD); 1 unexplained: "
                                "look at them before rechecking")

    none = triage(store, str(rid("104")))  # and a run_id
    assert (none["build"], none["bugs"], none["unexplained"]) == ("104", [], ["[sig-net] dial"])
    assert none["advice"] == ("no known bug explains these 1 failures: it may be your change or a new problem; "
                              "see `ciscope clusters`")
    assert none["failures"] == [{"test": "[sig-net] dial", "message": dial("10.0.0.2"), "bugs": [], "evidence": []}]

    assert triage(store, "103")["advice"] == "run did not fail: nothing to triage"
    outside = triage(store, "105")
    assert (outside["failures"], outside["unexplained"]) == ([], [])
    assert outside["advice"] == "the job failed outside its tests and matches known bug(s) BUG-ETCD: safe to recheck"
    for advice in (partly["advice"], none["advice"]):
        assert "safe to recheck" not in advice


def test_triage_notes_retry_bugs(store, tmp_path):
    ingest_with(store, prow_tree(tmp_path), fingerprint_dir(tmp_path, **{"BUG-ETCD": "retry: true\n" + ETCD_REGEX}))
    assert triage(store, "101")["advice"] == ("all failures explained by known bugs (BUG-ETCD): safe to recheck"
                                              " (every bug is marked retry)")


def test_triage_unknown_and_ambiguous_refs(store, tmp_path):
    root = tmp_path / "gcs"
    write_run(root, "job-a", "7")
    write_run(root, "job-b", "7")
    ingest(store, [root], workers=1)
    with pytest.raises(UsageError, match=r"^nope-42: no such run"):
        triage(store, "nope-42")
    with pytest.raises(UsageError, match=re.escape("7: several jobs have this build (job-a, job-b); say which with --job")):
        triage(store, "7")
    assert triage(store, "7", job="job-b")["job"] == "job-b"
    assert triage(store, "job-a/7")["job"] == "job-a"
    with pytest.raises(UsageError, match="no such run"):
        triage(store, "7", job="job-c")


# ------------------------------------------------------------------ bugs and unclassified

T0 = 1793000000  # runfolders: build B of a job starts at T0 + B hours; T0 is 33 min 20 s past an hour
ETCD_CASE = f'<testcase name="[sig-storage] mounts"><failure message="{ETCD} after 5s"/></testcase>'
OTHER_CASE = '<testcase name="[sig-x] other"><failure message="quota exceeded for project ci-7"/></testcase>'


def at(hour: int) -> datetime:
    return datetime.fromtimestamp(T0 + hour * 3600, timezone.utc).replace(tzinfo=None)


def bug_history(tmp_path: Path) -> Path:
    """Runs at hour h (build h). Newest: hour 300 (job a, passed), the windows' end.
    BUG-ETCD in failed runs of job a at 299, 276, 200, 61, 10 and of job b at 277, 132, 60;
    a passed run of job a at 298 where the etcd failure was retried away (not a failed run);
    job b failed at 250 for another reason."""
    root = tmp_path / "gcs"
    for job, hours in (("a", (299, 276, 200, 61, 10)), ("b", (277, 132, 60))):
        for h in hours:
            write_run(root, job, str(h), junit=suite(OK, ETCD_CASE))
    write_run(root, "a", "298", result="SUCCESS",
              junit=suite(OK, ETCD_CASE, '<testcase name="[sig-storage] mounts"/>'))
    write_run(root, "a", "300", result="SUCCESS", junit=suite(OK))
    write_run(root, "b", "250", junit=suite(OK, OTHER_CASE))
    return root


def test_bugs_hits_windows_share_jobs_and_hourly_series(store, tmp_path):
    folder = fingerprint_dir(tmp_path, **{"BUG-ETCD": "title: etcd\nurl: https://bugs.example/1\n" + ETCD_REGEX,
                                          "BUG-NEVER": "regex: 'this line is in no log at all'\n"})
    ingest_with(store, bug_history(tmp_path), folder)
    # the retried run at 298 was matched, but only failed runs are hits
    assert store.query("SELECT count(DISTINCT run_id) FROM matches") == [(9,)]
    out = bugs(store, days=10)
    assert [b["bug"] for b in out] == ["BUG-ETCD", "BUG-NEVER"]
    etcd = out[0]
    # windows end at hour 300 and are half-open: (end - span, end]
    # 24 h: 299, 277 (276 is on the edge); 7 d: + 276, 200 (132 on the edge); 10 d: + 132, 61 (60 on the edge)
    assert etcd["hits"] == {"24h": 2, "7d": 4, "10d": 6, "all": 8}
    assert etcd["share"] == round(8 / 9, 4) == 0.8889
    assert (etcd["jobs"], etcd["first_seen"], etcd["last_seen"]) == (["a", "b"], at(10), at(299))
    assert (etcd["title"], etcd["url"], etcd["retry"], etcd["defined"]) == ("etcd", "https://bugs.example/1", False, True)
    # 240 hourly slots; the first starts 239 h before the top of hour 300; hour h falls in slot h - 61
    assert etcd["hourly"]["start"] == at(61) - timedelta(seconds=2000)
    counts = etcd["hourly"]["counts"]
    assert len(counts) == 240
    assert {i: c for i, c in enumerate(counts) if c} == {238: 1, 216: 1, 215: 1, 139: 1, 71: 1, 0: 1}
    never = out[1]
    assert never["hits"] == {"24h": 0, "7d": 0, "10d": 0, "all": 0}
    assert (never["share"], never["jobs"], never["first_seen"], never["last_seen"]) == (0.0, [], None, None)
    assert never["hourly"]["counts"] == [0] * 240

    one_day = bugs(store, days=1)[0]
    assert len(one_day["hourly"]["counts"]) == 24
    assert {i: c for i, c in enumerate(one_day["hourly"]["counts"]) if c} == {22: 1, 0: 1}
    assert one_day["hits"] == etcd["hits"]  # the windows do not depend on --days

    # one job: its failed runs only; the end is still the newest run of the store
    b = bugs(store, window=Window(job="b"))[0]
    assert (b["hits"], b["share"], b["jobs"]) == ({"24h": 1, "7d": 1, "10d": 2, "all": 3}, 0.75, ["b"])


def test_bugs_lists_matches_without_a_stored_definition(store, tmp_path):
    """A classifier used without prepare() stores matches but no definitions: defined false."""
    folder = fingerprint_dir(tmp_path, **{"BUG-ETCD": "title: etcd\n" + ETCD_REGEX})
    ingest(store, [prow_tree(tmp_path)], classifier=Classifier(load_directory(folder)[0]), workers=1)
    [only] = bugs(store)
    assert (only["bug"], only["defined"], only["title"], only["hits"]["all"]) == ("BUG-ETCD", False, "", 3)
    assert only["share"] == 0.75  # 3 of the 4 failed runs (101, 102, 104, 105)


def test_unclassified_rates_overall_and_per_job(store, tmp_path):
    ingest_with(store, bug_history(tmp_path), fingerprint_dir(tmp_path, **{"BUG-ETCD": ETCD_REGEX}))
    u = unclassified(store)
    assert (u["failed_runs"], u["classified"], u["unclassified"], u["classification_rate"]) == (9, 8, 1, 0.8889)
    assert u["jobs"] == [{"job": "a", "failed_runs": 5, "classified": 5, "classification_rate": 1.0},
                         {"job": "b", "failed_runs": 4, "classified": 3, "classification_rate": 0.75}]
    assert u["runs"] == [{"job": "b", "build": "250", "status": "failure", "started_at": at(250), "failed_tests": 1,
                          "component": "tests", "message": "[sig-x] other: quota exceeded for project ci-7",
                          "cluster": cluster_key("quota exceeded for project ci-7")}]
    # --days 1: runs started in the 24 h up to the newest run (hour 299), both ends included:
    # 299, 277 and 276 (the edge)
    recent = unclassified(store, window=Window(days=1))
    assert (recent["failed_runs"], recent["classified"], recent["runs"]) == (3, 3, [])
    assert unclassified(store, window=Window(job="a"))["runs"] == []


def test_unclassified_with_no_failed_runs(store, tmp_path):
    root = tmp_path / "gcs"
    write_run(root, JOB, "1", result="SUCCESS", junit=suite(OK))
    ingest(store, [root], workers=1)
    assert unclassified(store) == {"failed_runs": 0, "classified": 0, "unclassified": 0,
                                   "classification_rate": None, "jobs": [], "runs": []}


# ------------------------------------------------------------------ clusters


def cluster_history(tmp_path: Path) -> Path:
    """Six failed runs. Every run: [sig-storage] mounts fails with the etcd bug (explained) and
    [sig-net] dial with a connection refused to a different IP and port. Runs 5 and 6:
    [sig-node] kubelet is refused too (another address). Runs 1-4: [sig-apps] deploy with a
    different uuid and number each time."""
    root = tmp_path / "gcs"
    for b in range(1, 7):
        cases = [OK, ETCD_CASE,
                 f'<testcase name="[sig-net] dial"><failure message="dial tcp 10.0.{b}.7:{6440 + b}: '
                 'connect: connection refused"/></testcase>']
        if b >= 5:
            cases.append(f'<testcase name="[sig-node] kubelet"><failure message="dial tcp 192.168.{b}.1:443: '
                         'connect: connection refused"/></testcase>')
        else:
            cases.append(f'<testcase name="[sig-apps] deploy"><failure message="deployment '
                         f'3f2504e0-4f89-11d3-9a0c-0305e82c330{b} not ready after {b * 7} attempts"/></testcase>')
        write_run(root, JOB, str(b), junit=suite(*cases))
    return root


DIAL_TEXTS = [f"dial tcp 10.0.{b}.7:{6440 + b}: connect: connection refused" for b in range(1, 7)] + [
    f"dial tcp 192.168.{b}.1:443: connect: connection refused" for b in (5, 6)]
DEPLOY_TEXTS = [f"deployment 3f2504e0-4f89-11d3-9a0c-0305e82c330{b} not ready after {b * 7} attempts"
                for b in range(1, 5)]


def test_clusters_of_unexplained_failures_with_suggested_fingerprints(store, tmp_path):
    ingest_with(store, cluster_history(tmp_path), fingerprint_dir(tmp_path, **{"BUG-ETCD": ETCD_REGEX}))
    result = failure_clusters(store)
    assert (result["failures"], result["clusters"], result["shown"]) == (12, 2, 2)  # 6 etcd failures left out
    refused, deploy = result["items"]
    assert (refused["size"], refused["runs"], refused["tests"], refused["jobs"]) == (8, 6, 2, 1)
    assert (deploy["size"], deploy["runs"], deploy["tests"], deploy["jobs"]) == (4, 4, 1, 1)
    assert refused["top_tests"] == [{"test": "[sig-net] dial", "failures": 6}, {"test": "[sig-node] kubelet", "failures": 2}]
    assert (refused["job_names"], refused["latest_run"]) == ([JOB], {"job": JOB, "build": "6"})
    assert (deploy["first_seen"], deploy["last_seen"]) == (at(1), at(4))
    assert refused["example"] == DIAL_TEXTS[0] and deploy["example"] == DEPLOY_TEXTS[0]
    for item, members, others in ((refused, DIAL_TEXTS, DEPLOY_TEXTS), (deploy, DEPLOY_TEXTS, DIAL_TEXTS)):
        pattern = re.compile(item["suggested_fingerprint"])
        assert all(pattern.search(text) for text in members), item["suggested_fingerprint"]
        assert not any(pattern.search(text) for text in others), item["suggested_fingerprint"]
        assert item["id"] == item["group_ids"][0] and re.fullmatch(r"[0-9a-f]{16}", item["id"])
    # every run's reason points at the cluster of its first unexplained test (by test id)
    got = reasons(store)
    for b in range(1, 5):  # "[sig-apps] deploy" sorts first
        assert got[rid(str(b))]["cluster"] in deploy["group_ids"]
    for b in (5, 6):  # "[sig-net] dial"
        assert got[rid(str(b))]["cluster"] in refused["group_ids"]
    # on request, the explained failures are clustered too
    assert failure_clusters(store, include_known=True)["failures"] == 18
    assert failure_clusters(store, min_size=5)["clusters"] == 1


# ------------------------------------------------------------------ flakes and regressions


def classified_history(store, patterns: dict[str, str], known: set[str], **options) -> None:
    """Runs from ``patterns``; the failures of the tests in ``known`` print the etcd bug, the
    others "boom". Classified by a real Classifier, then stored."""
    classifier = Classifier([Fingerprint.from_regex(r"etcdserver: request timed out", id="BUG-ETCD")])
    runs = history_runs(patterns, **options)
    for run in runs:
        for r in run.results:
            if r.name in known and r.status is Status.FAILED:
                r.failure_message = f"{ETCD} after 5s"
        classifier.classify(run)
    store.write_runs(runs)


def test_known_bug_flakes_are_reported_and_can_be_excluded(store):
    # both fail in isolation 4 times between passes; t's failures are all the etcd bug
    classified_history(store, {"t": "PPPFPPPPFPPPPFPPPPFPPP", "u": "PPFPPPPFPPPPFPPPPFPPPP"}, known={"t"})
    assert store.query("SELECT count(*), count(DISTINCT run_id) FROM matches") == [(4, 4)]
    own = flaky_tests(store, only_flaky=True, exclude_known=True)
    assert [(r["test"], r["isolated_failures"]) for r in own] == [("u", 4)]
    known = flaky_tests(store, only_flaky=True)
    assert sorted((r["test"], r["isolated_failures"], r["known_bugs"], r["known_share"]) for r in known) == [
        ("t", 4, ["BUG-ETCD"], 1.0), ("u", 4, [], 0.0)]
    # without the known failures t is a test that always passed
    t = next(r for r in flaky_tests(store, exclude_known=True) if r["test"] == "t")
    assert (t["runs"], t["flaked"], t["isolated_failures"], t["verdict"]) == (18, 0, 0, "not_flaky")


def test_known_bug_failures_are_not_regressions(store):
    # 30 days of passes, then a week of failures: all of them the etcd bug (12 h apart: 2 runs a day)
    classified_history(store, {"t": "P" * 60 + "F" * 14}, known={"t"}, hours=12.0)
    assert regressions(store) == []
    [found] = regressions(store, include_known=True)
    assert (found["test"], found["first_bad_build"]) == ("t", "1060")
