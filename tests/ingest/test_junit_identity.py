"""Test identity across the JUnit dialects (docs/junit.md, "Test identity"), and run
status of bare reports whose tests failed, then passed on a rerun (Surefire flakes).

Issue 8: jest-junit writes ``classname=""`` and the test file as the suite, so the same
test name in two files was one test and a failure merged into a pass; Maven Surefire
reruns (``flakyFailure``) made a failed run with 0 failed tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from ciscope.ingest.batch import BareRunOptions, ingest, read_bare_run, read_subunit_run
from ciscope.ingest.junit import parse_junit, qualify, read_reports
from ciscope.model import (
    RunStatus,
    Status,
    TestResult,
    Verdict,
    qualifiers,
    test_id,
    verdicts_of,
)

ENRICO = "junit-enricomi-publish-unit-test-result/python/test/files"
MIKEPENZ = "junit-mikepenz-action-junit-report/test_results"
JENKINS = "junit-jenkins-xunit-plugin/src/test/resources/org/jenkinsci/plugins/xunit/types"

# jest-junit's shape (EnricoMi's jest/jest-junit.xml): root "jest tests", one suite per test
# file, classname="". Two files share test names; one of them fails in b.test.js only.
JEST = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="jest tests" tests="6" failures="1" errors="0" time="1.2">
  <testsuite name="src/a.test.js" errors="0" failures="0" skipped="0" tests="3">
    <testcase classname="" name="renders" time="0.1"/>
    <testcase classname="" name="handles click" time="0.1"/>
    <testcase classname="" name="handles click" time="0.1"/>
  </testsuite>
  <testsuite name="src/b.test.js" errors="0" failures="1" skipped="0" tests="3">
    <testcase classname="" name="renders" time="0.1"><failure message="boom">Error: boom</failure></testcase>
    <testcase classname="" name="handles click" time="0.1"/>
    <testcase classname="" name="snapshot" time="0.1"><skipped/></testcase>
  </testsuite>
</testsuites>
"""


def write(tmp_path: Path, text: str, name: str = "report.xml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def verdicts(results: list[TestResult]) -> dict[str, Verdict]:
    return verdicts_of(results)


# --------------------------------------------------------------------------- identity


def test_jest_same_name_in_two_files_is_two_tests_and_the_failure_stays_a_failure(tmp_path: Path) -> None:
    results = read_reports([(write(tmp_path, JEST), "junit.xml")])
    assert verdicts(results) == {
        "src/a.test.js::renders": Verdict.PASSED,
        "src/a.test.js::handles click": Verdict.PASSED,
        "src/a.test.js::handles click #2": Verdict.PASSED,  # a duplicate title: jest-junit writes no retries
        "src/b.test.js::renders": Verdict.FAILED,
        "src/b.test.js::handles click": Verdict.PASSED,
        "src/b.test.js::snapshot": Verdict.SKIPPED,
    }
    assert all(r.attempt == 0 for r in results)
    # what the identity was before: the names alone, so a failure and passes made one flake
    old = Counter(test_id(r.classname, r.name) for r in results)
    assert old == {"renders": 2, "handles click": 3, "snapshot": 1}


def test_jest_through_the_store_counts_every_test(tmp_path: Path, store) -> None:
    write(tmp_path, JEST, "junit.xml")
    report = ingest(store, [tmp_path / "junit.xml"], bare=BareRunOptions(job="web", build="1"))
    assert report.results == 6
    (run,) = store.query_dicts("SELECT status, tests, failed_tests, flaked_tests FROM runs")
    assert run == {"status": "failure", "tests": 5, "failed_tests": 1, "flaked_tests": 0}
    rows = store.query("SELECT test, verdict FROM test_verdicts ORDER BY test")
    assert rows == [("src/a.test.js::handles click", "passed"), ("src/a.test.js::handles click #2", "passed"),
                    ("src/a.test.js::renders", "passed"), ("src/b.test.js::handles click", "passed"),
                    ("src/b.test.js::renders", "failed"), ("src/b.test.js::snapshot", "skipped")]
    # the stored id gives back the qualifiers it was made from (known-bug reclassification rebuilds results)
    for test, name, classname in store.query("SELECT test, name, classname FROM test_results"):
        assert test_id(classname, name, *qualifiers(test, classname, name)) == test


def test_real_jest_junit_report_matches_its_oracle_counts(shared_data: Path) -> None:
    """EnricoMi's jest-junit sample: one suite (the file), classname="": with a single
    suite the ids stay the names; counts as the action's .results.json says."""
    path = shared_data / ENRICO / "junit-xml/jest/jest-junit.xml"
    stats = json.loads(path.with_suffix(".results.json").read_text())["stats"]
    results = read_reports([(path, "jest-junit.xml")])
    found = Counter(verdicts(results).values())
    assert (len(results), found[Verdict.PASSED], found[Verdict.FAILED]) == (
        stats["runs"], stats["tests_succ"], stats["tests_fail"])
    assert sorted(verdicts(results)) == ["Load widget via link", "Mount iframe"]


def test_openshift_style_report_keeps_name_ids_and_its_repeats_are_retries(tmp_path: Path) -> None:
    """One suite, no classname (openshift-tests, the demo): ids are the names, as before,
    and a failure then a pass of the same test is one flaky test."""
    path = write(tmp_path, """<testsuite name="openshift-tests" tests="3">
  <testcase name="[sig-a] passes"/>
  <testcase name="[sig-b] flakes"><failure message="timed out"/></testcase>
  <testcase name="[sig-b] flakes"/>
</testsuite>""")
    results = read_reports([(path, "junit_e2e.xml")])
    assert verdicts(results) == {"[sig-a] passes": Verdict.PASSED, "[sig-b] flakes": Verdict.FLAKY}
    assert [r.attempt for r in results] == [0, 0, 1]


def test_classname_that_distinguishes_keeps_classname_dot_name(tmp_path: Path) -> None:
    """go-junit-report/gotestsum (one suite per package, classname = package), Surefire,
    pytest: the ids are classname.name, unchanged, whatever the number of suites."""
    path = write(tmp_path, """<testsuites>
  <testsuite name="example.com/a"><testcase classname="example.com/a" name="TestX"/></testsuite>
  <testsuite name="example.com/b"><testcase classname="example.com/b" name="TestX"><failure/></testcase></testsuite>
  <testsuite name="pytest"><testcase classname="tests.test_m.TestC" name="test_y"/></testsuite>
</testsuites>""")
    results = read_reports([(path, "r.xml")])
    assert [r.test_id for r in results] == ["example.com/a.TestX", "example.com/b.TestX", "tests.test_m.TestC.test_y"]
    assert all(not r.scope for r in results)


def test_classname_equal_to_the_name_does_not_distinguish(tmp_path: Path) -> None:
    """jest-junit's default templates write classname = name = "describe title"."""
    path = write(tmp_path, """<testsuites name="jest tests">
  <testsuite name="a.test.ts"><testcase classname="Cart adds" name="Cart adds"/></testsuite>
  <testsuite name="b.test.ts"><testcase classname="Cart adds" name="Cart adds"><failure/></testcase></testsuite>
</testsuites>""")
    assert verdicts(read_reports([(path, "r.xml")])) == {
        "a.test.ts::Cart adds": Verdict.PASSED, "b.test.ts::Cart adds": Verdict.FAILED}


def test_same_class_and_name_in_two_suites_are_two_tests(shared_data: Path) -> None:
    """Jenkins xunit sample junit/testcase3: PHPUnit runs FiltersTest once per browser;
    'FiltersTest.testMutuallyExclusiveBooleans' under 'FiltersTest: chrome' and under
    'FiltersTest: internet explorer' are two tests, not two attempts of one."""
    results = read_reports([(shared_data / JENKINS / "junit/testcase3/input.xml", "input.xml")])
    ids = [r.test_id for r in results if r.name == "testMutuallyExclusiveBooleans"]
    assert ids == ["FiltersTest: chrome::FiltersTest.testMutuallyExclusiveBooleans",
                   "FiltersTest: internet explorer::FiltersTest.testMutuallyExclusiveBooleans"]


def test_nested_suites_repeating_an_inner_name_keep_the_browsers_apart(shared_data: Path) -> None:
    """junit/testcase3 again: the data-set suites are both named 'FiltersTest::testFilterByNull',
    under 'FiltersTest: chrome' and under 'FiltersTest: internet explorer', and their test
    cases have no classname. The error in Internet Explorer stays an error (it was folded
    with Chrome's pass into a flake): the suite path names them where the inner name does not."""
    results = read_reports([(shared_data / JENKINS / "junit/testcase3/input.xml", "input.xml")])
    found = verdicts(results)
    assert len(found) == len(results) == 32
    assert Counter(found.values()) == {Verdict.PASSED: 31, Verdict.ERROR: 1}
    prefix = "FiltersTest / FiltersTest: internet explorer / FiltersTest::testFilterByNull::"
    assert found[prefix + "testFilterByNull with data set #1"] is Verdict.ERROR
    assert found[prefix.replace("internet explorer", "chrome") + "testFilterByNull with data set #1"] is Verdict.PASSED
    # a suite whose inner name is unique keeps the short name
    assert "FiltersTest: chrome::testOnFilterByDateBehavesLikeOr" in found


def test_parser_leaves_the_suite_path_of_nested_suites_in_scope(tmp_path: Path) -> None:
    path = write(tmp_path, """<testsuites><testsuite name="a"><testsuite name="x"><testcase name="t"/></testsuite></testsuite>
<testsuite name="b"><testsuite name="x"><testcase name="t"><failure/></testcase></testsuite></testsuite>
<testsuite name="c"><testsuite name="y"><testcase name="t"/></testsuite></testsuite></testsuites>""")
    parsed = list(parse_junit(path))
    assert [(r.suite, r.scope, r.attempt) for r in parsed] == [("x", "a / x", 0), ("x", "b / x", 0), ("y", "c / y", 0)]
    assert [r.test_id for r in qualify(parsed)] == ["a / x::t", "b / x::t", "y::t"]


def test_qualify_is_per_report_and_leaves_unambiguous_reports_alone(tmp_path: Path) -> None:
    single = list(parse_junit(write(tmp_path, '<testsuite name="s"><testcase name="t"/></testsuite>')))
    assert [r.test_id for r in qualify(single)] == ["t"]
    nested = list(parse_junit(write(tmp_path, """<testsuites><testsuite name="TestA"><testcase name="A"/></testsuite>
<testsuite name="TestB"><testcase name="A"/></testsuite></testsuites>""", "n.xml")))
    assert [r.test_id for r in qualify(nested)] == ["TestA::A", "TestB::A"]


# --------------------------------------------------------------------------- repeats: retries or tests


@pytest.mark.parametrize(("relative", "tests", "occurrences"), [
    # NUnit 3: parameterised tests whose display names are cut to the same text
    (f"{ENRICO}/nunit/nunit3/jenkins/NUnit-correct2.xml", 218, 35),
    # Boost.Test log: a test case run once per value, same name
    (f"{JENKINS}/boosttest/testcase12/input.xml", 131, 17),
    # mocha's xunit reporter (root "Mocha Tests"): duplicate titles in one describe
    (f"{ENRICO}/junit-xml/mocha/latex-utensils.xml", 109, 8),
])
def test_repeats_are_distinct_tests_where_the_format_has_no_retries(
        shared_data: Path, relative: str, tests: int, occurrences: int) -> None:
    results = read_reports([(shared_data / relative, "r.xml")])
    assert len(verdicts(results)) == len(results) == tests
    assert sum(1 for r in results if r.occurrence) == occurrences
    assert all(r.attempt == 0 for r in results)


@pytest.mark.parametrize(("relative", "expected"), [
    # pytest-rerunfailures-style retries (mikepenz "retries" samples): one record per attempt
    ("flaky_retries/flaky_with_classname_file.xml", {
        "test_foo.TestFoo.test_foo": Verdict.FLAKY, "test_bar.TestBar.test_foo": Verdict.PASSED,
        "test_baz.TestBaz.test_baz": Verdict.PASSED}),
    ("flaky_retries/flaky_all_failures.xml", {"test_always_fails.TestAlwaysFails.test_always_fails": Verdict.FAILED}),
    ("flaky_retries/flaky_success_first.xml", {"test_order.TestOrder.test_success_first": Verdict.FLAKY}),
    # gotestsum --rerun-fails: the rerun repeats the test case in the package's suite
    ("junit-server-test/report.xml", {
        "github.com/example/example/server/v8/channels/api4.TestWebSocketReconnectRace": Verdict.FLAKY,
        "github.com/example/example/server/v8/channels/api4.TestCreateChannelBookmark": Verdict.SKIPPED,
        "github.com/example/example/server/v8/channels/api4.TestWebSocketUpgrade": Verdict.PASSED}),
    # Surefire/Marathon flakyFailure inside the passing test case
    ("maven_surefire_flaky/surefire-report.xml", {
        "io.sodadata.dependson.soda.integrations.msteams.MicrosoftTeamsCrudTest.createWebhook": Verdict.FLAKY}),
    ("junit_flaky_failure/marathon_junit_report.xml", {"com.mikepenz.Class.testFlakyFailure": Verdict.FLAKY}),
])
def test_retry_conventions_fold_into_one_test(shared_data: Path, relative: str, expected: dict[str, Verdict]) -> None:
    assert verdicts(read_reports([(shared_data / MIKEPENZ / relative, "r.xml")])) == expected


def test_the_same_test_in_two_reports_of_one_run_is_retried(tmp_path: Path) -> None:
    """Bazel writes each attempt's test.xml separately: across the files of one run, the
    same test id is another attempt."""
    first = write(tmp_path, '<testsuite name="//a:t"><testcase name="//a:t"><failure/></testcase></testsuite>', "1.xml")
    second = write(tmp_path, '<testsuite name="//a:t"><testcase name="//a:t"/></testsuite>', "2.xml")
    results = read_reports([(first, "attempt_1.xml"), (second, "test.xml")])
    assert [(r.test_id, r.attempt, r.file) for r in results] == [("//a:t", 0, "attempt_1.xml"), ("//a:t", 1, "test.xml")]
    assert verdicts(results) == {"//a:t": Verdict.FLAKY}


# --------------------------------------------------------------------------- Surefire flakes: run status


@pytest.mark.parametrize("relative", ["maven_surefire_flaky/surefire-report.xml",
                                      "junit_flaky_failure/mixed_flaky_and_passed.xml",
                                      "junit_flaky_failure/marathon_junit_report.xml"])
def test_a_build_green_with_flakes_is_a_success(shared_data: Path, relative: str) -> None:
    run = read_bare_run([shared_data / MIKEPENZ / relative], BareRunOptions(job="j"))
    assert run.status is RunStatus.SUCCESS
    assert any(r.status is Status.FAILED for r in run.results)  # the failed attempt is kept
    assert Verdict.FLAKY in verdicts(run.results).values()


def test_reruns_that_all_failed_make_a_failed_run(shared_data: Path) -> None:
    """Jenkins xunit junit/testcase5: a <failure> with five <rerunFailure>s."""
    run = read_bare_run([shared_data / JENKINS / "junit/testcase5/input.xml"], BareRunOptions(job="j"))
    assert run.status is RunStatus.FAILURE
    assert Counter(verdicts(run.results).values()) == {Verdict.PASSED: 5, Verdict.FAILED: 1}


def test_subunit_run_with_only_a_flake_is_a_success(tmp_path: Path) -> None:
    stream = tmp_path / "0"
    stream.write_text("test: pkg.T.test_a\nfailure: pkg.T.test_a [\nboom\n]\ntest: pkg.T.test_a\nsuccess: pkg.T.test_a\n"
                      "test: pkg.T.test_b\nsuccess: pkg.T.test_b\n")
    run = read_subunit_run(stream, BareRunOptions(job="j"))
    assert run.status is RunStatus.SUCCESS
    assert verdicts(run.results) == {"pkg.T.test_a": Verdict.FLAKY, "pkg.T.test_b": Verdict.PASSED}
    stream.write_text("test: pkg.T.test_a\nfailure: pkg.T.test_a [\nboom\n]\n")
    assert read_subunit_run(stream, BareRunOptions(job="j")).status is RunStatus.FAILURE


def cli(*args: str, db: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ciscope.cli", "--db", db, *args], check=False, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "COLUMNS": "250"})


def test_cli_surefire_flaky_report_is_a_green_run_with_a_flaky_test(shared_data: Path, tmp_path: Path) -> None:
    db = f"duckdb:///{tmp_path / 'x.duckdb'}"
    report = shared_data / MIKEPENZ / "maven_surefire_flaky/surefire-report.xml"
    done = cli("ingest", str(report), "--job", "j", db=db)
    assert done.returncode == 0, done.stderr
    test = "io.sodadata.dependson.soda.integrations.msteams.MicrosoftTeamsCrudTest.createWebhook"
    runs = json.loads(cli("runs", "--json", db=db).stdout)
    assert [(r["status"], r["tests"], r["failed_tests"], r["flaked_tests"]) for r in runs] == [("success", 1, 0, 1)]
    tests = json.loads(cli("tests", "--json", db=db).stdout)
    assert [(t["test"], t["failed"], t["flaked"]) for t in tests] == [(test, 0, 1)]
    flaky = json.loads(cli("flaky", "--json", db=db).stdout)
    assert [(f["test"], f["flaked"], f["verdict"]) for f in flaky] == [(test, 1, "flaky")]
    table = cli("runs", db=db)
    assert table.returncode == 0 and "success" in table.stdout
