"""The demo generator: deterministic, Prow-shaped, and its truth.json agrees with the files."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import pytest
from lxml import etree

from ciscope.demo import generate
from ciscope.errors import UsageError

END = datetime(2025, 1, 31, tzinfo=timezone.utc)
SMALL = {"runs_per_job": 12, "tests_per_job": 100}


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def read_report(path: Path) -> etree._Element:
    data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))


def runs_of(root: Path) -> dict[tuple[str, str], Path]:
    """(job, build) -> run folder, for every folder holding a started.json."""
    return {(p.parent.parent.name, p.parent.name): p.parent for p in root.rglob("started.json")}


def attempts_of(folder: Path) -> dict[str, list[tuple[str, str, str]]]:
    """test -> [(status, message, text)] in file order, across the run's JUnit reports."""
    found: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for path in sorted((folder / "artifacts").rglob("junit*.xml*")):
        suite = read_report(path)
        cases = suite.findall("testcase")
        failures = [c for c in cases if c.find("failure") is not None]
        skipped = [c for c in cases if c.find("skipped") is not None]
        assert suite.tag == "testsuite"
        assert (int(suite.get("tests")), int(suite.get("failures")), int(suite.get("skipped"))) == (
            len(cases), len(failures), len(skipped)), path
        for case in cases:
            failure = case.find("failure")
            if failure is not None:
                found[case.get("name")].append(("failed", failure.get("message"), failure.text or ""))
            elif case.find("skipped") is not None:
                found[case.get("name")].append(("skipped", "", ""))
            else:
                found[case.get("name")].append(("passed", "", ""))
    return found


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """One history at the default size, shared by the tests that read it."""
    root = tmp_path_factory.mktemp("demo") / "out"
    calls: list[tuple[int, int]] = []
    truth = generate(root, seed=7, end=END, progress=lambda done, total: calls.append((done, total)))
    total = len(truth["jobs"]) * truth["params"]["runs_per_job"]
    assert calls[-1] == (total, total) and len(calls) == total
    return root, truth


@pytest.fixture(scope="module")
def scanned(history: tuple[Path, dict]) -> dict[tuple[str, str], dict[str, list[tuple[str, str, str]]]]:
    root, _ = history
    return {key: attempts_of(folder) for key, folder in runs_of(root).items()}


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", seed=3, end=END, **SMALL)
    generate(tmp_path / "b", seed=3, end=END, **SMALL)
    generate(tmp_path / "c", seed=4, end=END, **SMALL)
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")
    assert tree_digest(tmp_path / "a") != tree_digest(tmp_path / "c")
    assert json.loads((tmp_path / "a" / "truth.json").read_text()) == json.loads(json.dumps(a))


def test_rewrites_a_previous_demo_but_refuses_other_folders(tmp_path: Path) -> None:
    generate(tmp_path / "a", seed=3, end=END, **SMALL)
    before = tree_digest(tmp_path / "a")
    generate(tmp_path / "a", seed=3, end=END, **SMALL)
    assert tree_digest(tmp_path / "a") == before
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty"):
        generate(tmp_path / "other", **SMALL)
    with pytest.raises(UsageError, match="tests_per_job = 5"):
        generate(tmp_path / "d", tests_per_job=5)


def test_default_size_meets_the_minimums(history: tuple[Path, dict]) -> None:
    root, truth = history
    assert len(truth["jobs"]) >= 3
    assert truth["params"]["runs_per_job"] >= 200
    assert len(truth["durations"]) >= 300  # distinct tests
    assert any(j["presubmit"] for j in truth["jobs"].values())
    assert {j["retries"] for j in truth["jobs"].values()} == {True, False}
    platforms = {j["variants"]["platform"] for j in truth["jobs"].values()}
    assert len(platforms) >= 3
    assert len(truth["bugs"]) >= 8 and len(truth["unknown_families"]) >= 5
    starts = [json.loads((f / "started.json").read_text())["timestamp"] for f in runs_of(root).values()]
    assert len(starts) == len(truth["jobs"]) * 200
    assert (max(starts) - min(starts)) / 86400 > 29
    assert int(END.timestamp()) - 30 * 86400 <= min(starts) and max(starts) < int(END.timestamp())


def test_run_folders_are_prow_shaped(history: tuple[Path, dict]) -> None:
    root, truth = history
    pending = {(r["job"], r["build"]) for r in truth["pending_runs"]}
    infra = {(r["job"], r["build"]): r["kind"] for r in truth["infra_runs"]}
    aborted = {(r["job"], r["build"]) for r in truth["aborted_runs"]}
    runs = runs_of(root)
    assert pending and infra and aborted and pending | set(infra) | aborted <= set(runs)
    assert 0.005 <= len(pending) / len(runs) <= 0.02 and 0.01 <= len(infra) / len(runs) <= 0.06
    by_job: dict[str, list[tuple[int, str]]] = defaultdict(list)
    gzipped = 0
    for (job, build), folder in runs.items():
        started = json.loads((folder / "started.json").read_text())
        prowjob = json.loads((folder / "prowjob.json").read_text())
        assert re.fullmatch(r"\d{19}", build) and prowjob["status"]["build_id"] == build
        assert started["metadata"]["variants"] == truth["jobs"][job]["variants"]
        assert prowjob["spec"]["job"] == job and prowjob["kind"] == "ProwJob"
        assert (folder / "build-log.txt").is_file()
        by_job[job].append((started["timestamp"], build))
        status = prowjob["status"]
        lifecycle = [prowjob["metadata"]["creationTimestamp"], status["pendingTime"]]
        lifecycle.append(datetime.fromtimestamp(started["timestamp"], timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        if (job, build) in pending:
            assert not (folder / "finished.json").exists() and status["state"] == "pending"
            assert not list((folder / "artifacts").rglob("junit*.xml*"))
            continue
        finished = json.loads((folder / "finished.json").read_text())
        lifecycle.append(status["completionTime"])
        assert lifecycle == sorted(lifecycle)
        assert finished["result"].lower() == status["state"]
        assert finished["passed"] == (finished["result"] == "SUCCESS")
        reports = list((folder / "artifacts").rglob("junit*.xml*"))
        gzipped += any(p.name.endswith(".gz") for p in reports)
        if (job, build) in infra:
            assert finished["result"] == "ERROR"
            names = {p.name for p in reports}
            assert names == (set() if infra[(job, build)] == "lease" else {"junit_install.xml"})
        elif (job, build) in aborted:
            assert finished["result"] == "ABORTED" and not reports
        else:
            assert any(p.name.startswith("junit_e2e_") for p in reports)
        if truth["jobs"][job]["presubmit"]:
            assert folder.parts[-6:-3] == ("pr-logs", "pull", "openshift_origin")
            assert started["metadata"]["pull"] == folder.parts[-3]
        else:
            assert folder.parts[-3] == "logs"
    assert gzipped > 0
    for rows in by_job.values():
        builds = [b for _, b in sorted(rows)]
        assert builds == sorted(builds, key=int) and len(set(builds)) == len(builds)


def test_every_failure_has_exactly_one_recorded_cause(history: tuple[Path, dict], scanned: dict) -> None:
    _, truth = history
    recorded = {(f["job"], f["build"], f["test"]): f for f in truth["failures"]}
    assert len(recorded) == len(truth["failures"])
    observed = {(job, build, test): [a[0] for a in attempts]
                for (job, build), tests in scanned.items() for test, attempts in tests.items()
                if any(a[0] == "failed" for a in attempts)}
    assert set(observed) == set(recorded)
    for key, statuses in observed.items():
        assert statuses == recorded[key]["attempts"], key
    causes = {f["cause"].split(":")[0] for f in truth["failures"]}
    assert causes == {"flake", "regression", "broken", "bug", "unknown", "infra"}


def test_retries_show_flakes_as_fail_then_pass(history: tuple[Path, dict]) -> None:
    _, truth = history
    for failure in truth["failures"]:
        retries = truth["jobs"][failure["job"]]["retries"]
        if failure["cause"] == "infra" or not retries:
            assert failure["attempts"] == ["failed"]
        elif failure["cause"] == "flake":
            assert failure["attempts"] == ["failed", "passed"]
        else:
            assert failure["attempts"] == ["failed", "failed"]
    flaky = {(f["job"], f["test"]) for f in truth["flaky"]}
    assert all(0.02 <= f["rate"] <= 0.30 for f in truth["flaky"])
    assert {(f["job"], f["test"]) for f in truth["failures"] if f["cause"] == "flake"} <= flaky


def test_regressions_pass_before_and_mostly_fail_after(history: tuple[Path, dict], scanned: dict) -> None:
    _, truth = history
    assert truth["regressions"]
    for regression in truth["regressions"]:
        job, test, first = regression["job"], regression["test"], int(regression["first_bad_build"])
        before, after = [], []
        for (run_job, build), tests in scanned.items():
            if run_job == job and test in tests:
                (before if int(build) < first else after).append(tests[test][0][0])
        assert before and set(before) == {"passed"}
        assert scanned[(job, regression["first_bad_build"])][test][0][0] == "failed"
        assert after.count("failed") / len(after) >= 0.7
    commits = [c["sha"] for c in truth["commits"]]
    assert all(r["first_bad_commit"] in commits for r in truth["regressions"])


def test_fingerprints_match_their_bug_and_nothing_else(history: tuple[Path, dict], scanned: dict) -> None:
    root, truth = history
    bugs = {bug_id: re.compile(bug["regex"]) for bug_id, bug in truth["bugs"].items()}
    families = {name: re.compile(family["regex"]) for name, family in truth["unknown_families"].items()}
    for bug_id, bug in truth["bugs"].items():
        assert bugs[bug_id].search(bug["message"]) and bugs[bug_id].search(bug["log_line"])
    cause_of = {(f["job"], f["build"], f["test"]): f["cause"] for f in truth["failures"]}
    hit: set[str] = set()
    for (job, build), tests in scanned.items():
        for test, attempts in tests.items():
            for status, message, text in attempts:
                if status != "failed":
                    continue
                cause = cause_of[(job, build, test)]
                for bug_id, regex in bugs.items():
                    expected = cause == f"bug:{bug_id}"
                    assert bool(regex.search(message)) == expected and bool(regex.search(text)) == expected
                for name, regex in families.items():
                    assert bool(regex.search(message)) == (cause == f"unknown:{name}")
                hit.add(cause)
    assert {f"bug:{b}" for b in bugs} <= hit and {f"unknown:{n}" for n in families} <= hit
    causes_by_run: dict[tuple[str, str], set[str]] = defaultdict(set)
    for f in truth["failures"]:
        causes_by_run[(f["job"], f["build"])].add(f["cause"])
    for (job, build), folder in runs_of(root).items():
        log = (folder / "build-log.txt").read_text()
        for bug_id, regex in bugs.items():
            assert bool(regex.search(log)) == (f"bug:{bug_id}" in causes_by_run[(job, build)]), (job, build, bug_id)


def test_durations_are_stable_per_test_with_a_slowdown(history: tuple[Path, dict], scanned: dict) -> None:
    root, truth = history
    slow = truth["slowdowns"][0]
    commit_at = {c["sha"]: i for i, c in enumerate(truth["commits"])}
    times: dict[bool, list[float]] = {False: [], True: []}
    for (job, build), folder in runs_of(root).items():
        revision = json.loads((folder / "started.json").read_text())["repos"]["openshift/origin"].split(",")[0][5:]
        if not scanned[(job, build)].get(slow["test"]):
            continue
        for path in (folder / "artifacts").rglob("junit*.xml*"):
            for case in read_report(path).iterfind("testcase"):
                if case.get("name") == slow["test"]:
                    times[commit_at[revision] >= commit_at[slow["from_commit"]]].append(float(case.get("time")))
    median = truth["durations"][slow["test"]]["median"]
    early, late = sorted(times[False]), sorted(times[True])
    assert abs(early[len(early) // 2] / median - 1) < 0.2
    assert abs(late[len(late) // 2] / (median * slow["factor"]) - 1) < 0.2


def test_run_result_follows_the_last_attempts(history: tuple[Path, dict]) -> None:
    root, truth = history
    failing = {(f["job"], f["build"]) for f in truth["failures"] if f["attempts"][-1] == "failed"}
    flaked_only = {(f["job"], f["build"]) for f in truth["failures"] if f["attempts"][-1] == "passed"} - failing
    assert flaked_only
    for (job, build), folder in runs_of(root).items():
        if (folder / "finished.json").exists():
            result = json.loads((folder / "finished.json").read_text())["result"]
            if result in ("SUCCESS", "FAILURE"):
                assert (result == "FAILURE") == ((job, build) in failing), (job, build)


def test_end_defaults_to_today_midnight_utc(tmp_path: Path) -> None:
    before = datetime.now(timezone.utc).strftime("%Y-%m-%dT00:00:00Z")
    truth = generate(tmp_path / "a", **SMALL)
    after = datetime.now(timezone.utc).strftime("%Y-%m-%dT00:00:00Z")
    assert truth["end"] in (before, after)
