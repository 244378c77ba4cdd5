"""The JUnit/xUnit parser against real reports with independent expected results.

- EnricoMi/publish-unit-test-result-action: every input with a ``.results`` sibling (the
  action's own parse, a Python repr) is compared on the multiset of (classname, name,
  status); inputs with an ``.exception`` sibling must be refused.
- jenkinsci/xunit-plugin: ``types/<tool>/testcaseN/input.xml`` is compared with the
  plugin's expected JUnit conversion ``result.xml`` (both read by us).
- mikepenz/action-junit-report and junitparser samples: everything parses except the
  corrupt files, and the retry files give the attempts they describe.

Where the oracle's semantics differ from ours the difference is listed, per file, with the
reason, in DEVIATIONS below; a listed file must deviate in exactly that way (and an
unlisted one must match exactly), so the lists cannot go stale. docs/junit.md has the
summary table.
"""

from __future__ import annotations

import ast
import os
from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from ciscope.errors import HostileInputError, InputError, ReportError
from ciscope.ingest.junit import parse_junit
from ciscope.model import Status, TestResult, Verdict, test_id, verdict_of

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("CISCOPE_SHARED_DATA") or REPO / ".." / "shared" / "data")
ENRICO = SHARED / "junit-enricomi-publish-unit-test-result" / "python" / "test" / "files"
JENKINS = SHARED / "junit-jenkins-xunit-plugin" / "src" / "test" / "resources" / "org" / "jenkinsci" / "plugins" / "xunit" / "types"
MIKEPENZ = SHARED / "junit-mikepenz-action-junit-report" / "test_results"
JUNITPARSER = SHARED / "junit-junitparser-samples" / "tests" / "data"
MISSING = f"shared data not found at {SHARED} (set CISCOPE_SHARED_DATA)"

PASSED, FAILED, ERROR, SKIPPED = Status.PASSED, Status.FAILED, Status.ERROR, Status.SKIPPED


def files(root: Path, pattern: str) -> list[Any]:
    """Parameters for every file under ``root`` matching ``pattern``, or one skipped
    parameter saying why when the shared data is absent."""
    if not root.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=MISSING), id="shared-data-missing")]
    return [pytest.param(path, id=str(path.relative_to(root))) for path in sorted(root.glob(pattern))]


def parse(path: Path) -> list[TestResult]:
    return list(parse_junit(path))


class Deviation(NamedTuple):
    kind: str  # "naming": same outcome counts, other identities | "status": outcome counts differ
    #            | "count": the oracle has another number of cases | "refused": we raise
    reason: str


def classify(ours: Counter[tuple[str, str, str]], theirs: Counter[tuple[str, str, str]]) -> str:
    if ours == theirs:
        return "match"
    if sum(ours.values()) != sum(theirs.values()):
        return "count"
    statuses = lambda counter: Counter({k[2]: 0 for k in counter}) + Counter(k[2] for k in counter.elements())  # noqa: E731
    return "naming" if statuses(ours) == statuses(theirs) else "status"


# --------------------------------------------------------------------------- EnricoMi

_DOT_RESULTS = {"success": "passed", "failure": "failed", "error": "error", "skipped": "skipped", "disabled": "skipped"}


def load_results(path: Path) -> dict[str, Any]:
    """Read a ``.results`` file (Python repr of ParsedUnitTestResults): constructor calls
    become dicts, nothing is evaluated."""

    def dotted(node: ast.expr) -> str:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute):
            return f"{dotted(node.value)}.{node.attr}"
        raise ValueError(ast.dump(node))

    def value(node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            return [value(e) for e in node.elts]
        if isinstance(node, ast.Call):
            fields = {k.arg: value(k.value) for k in node.keywords if k.arg}
            return {"__type__": dotted(node.func).rsplit(".", 1)[-1], "__args__": [value(a) for a in node.args], **fields}
        if isinstance(node, (ast.Name, ast.Attribute)):
            return dotted(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        raise ValueError(f"{path}: unexpected {ast.dump(node)[:80]}")

    return value(ast.parse(path.read_text(encoding="utf-8"), mode="eval").body)  # type: ignore[no-any-return]


def enrico_key(junit: bool) -> Any:
    """JUnit files compare (classname, name, status) exactly; native formats compare
    (test id, status) because EnricoMi keeps NUnit 2's full name in test_name with an
    empty class while we split it (the test id, ``classname.name``, is the same)."""
    if junit:
        return lambda classname, name, status: (classname, name, status)
    return lambda classname, name, status: ("", test_id(classname, name), status)


_NUNIT3_LABEL_ERROR = ("status", "NUnit 3 result=Failed label=Error (an unexpected exception): we say error, as "
                                 "JUnit's <error>; EnricoMi says failure")
ENRICO_DEVIATIONS: dict[str, Deviation] = {
    "junit-xml/junit.multiresult.xml": Deviation(
        "status", "a testcase with both <failure> and <error>: a failure outranks an error for us (as in "
                  "verdict_of); EnricoMi lets the error win"),
    "junit-xml/no-attributes.xml": Deviation(
        "count", "testcases without a name attribute: we keep them (name ''), EnricoMi drops them"),
    "nunit/mstest/clicketyclackety.xml": Deviation(*_NUNIT3_LABEL_ERROR),
    "nunit/mstest/timewarpinc.xml": Deviation(*_NUNIT3_LABEL_ERROR),
    "nunit/nunit3/jenkins/NUnit-issue44527.xml": Deviation(*_NUNIT3_LABEL_ERROR),
    "nunit/nunit3/jenkins/NUnit-multinamespace.xml": Deviation(
        "refused", 'success="Turue" is not a boolean: we refuse the file (unknown outcome values are errors), '
                   "EnricoMi reads it as passed"),
    "trx/yami_YAMILEX_2015-10-24_04_18_59.trx": Deviation(
        "status", 'TRX outcome="Aborted": we say error (the test did not complete), EnricoMi says skipped'),
    "xunit/mstest/fixie.xml": Deviation(
        "naming", "xUnit.net: EnricoMi names tests by method (theory rows collapse to one name and would look "
                  "like retries); we keep the test's full name minus the class"),
    "xunit/mstest/pickles.xml": Deviation(
        "naming", "xUnit.net: EnricoMi names tests by method (theory rows collapse), we keep the parameters"),
    "xunit/mstest/jenkinsci/testcase5.xml": Deviation(
        "naming", "xUnit.net display names ('Check if the app is running.'): EnricoMi uses the method name, "
                  "we use the name the runner reported"),
    "xunit/mstest/jenkinsci/testcase6.xml": Deviation(
        "naming", 'xUnit.net test with type="" method="": EnricoMi gives it an empty name, we keep name='),
}


def enrico_inputs() -> list[Any]:
    if not ENRICO.is_dir():
        return files(ENRICO, "*")
    params = []
    for results in sorted(ENRICO.rglob("*.results")):
        stem = results.name.removesuffix(".results")
        for suffix in (".xml", ".trx"):
            report = results.with_name(stem + suffix)
            if report.exists() and not results.with_name(stem + ".exception").exists():
                params.append(pytest.param(report, id=str(report.relative_to(ENRICO))))
    return params


@pytest.mark.parametrize("report", enrico_inputs())
def test_enricomi_expected_results(report: Path) -> None:
    relative = str(report.relative_to(ENRICO))
    expected = load_results(report.with_name(report.name.rsplit(".", 1)[0] + ".results"))
    assert expected["__type__"] == "ParsedUnitTestResults" and not expected["errors"]
    deviation = ENRICO_DEVIATIONS.get(relative)
    try:
        results = parse(report)
    except InputError as exc:
        assert deviation is not None and deviation.kind == "refused", f"unexpected refusal: {exc}"
        return
    junit = report.suffix == ".xml" and relative.startswith("junit-xml/")
    key = enrico_key(junit)
    ours = Counter(key(r.classname, r.name, r.status.value) for r in results)
    theirs = Counter(key(case.get("class_name") or "", case.get("test_name") or "", _DOT_RESULTS[case["result"]])
                     for case in expected["cases"])
    kind = classify(ours, theirs)
    assert kind == (deviation.kind if deviation else "match"), (
        f"{relative}: {kind}\n ours - theirs: {sorted((ours - theirs).items())[:5]}\n"
        f" theirs - ours: {sorted((theirs - ours).items())[:5]}")
    if junit:  # the counts per status in the action's summary (.results.json) agree too
        assert sum(1 for r in results) == sum(theirs.values()) or deviation is not None


def enrico_refusals() -> list[Any]:
    if not ENRICO.is_dir():
        return files(ENRICO, "*")
    params = []
    for exception in sorted(ENRICO.rglob("*.exception")):
        stem = exception.name.removesuffix(".exception")
        if exception.parent.name == "json":
            continue  # mocha/dart JSON inputs: not XML reports
        params.append(pytest.param(exception.with_name(stem + ".xml"), id=str(exception.relative_to(ENRICO))))
    return params


@pytest.mark.parametrize("report", enrico_refusals())
def test_enricomi_refused_inputs(report: Path) -> None:
    """Every input the action rejects (``.exception``), we reject too — with a file name."""
    with pytest.raises((ReportError, HostileInputError)) as caught:
        parse(report)
    assert caught.value.file == str(report)
    if "sec1752" in report.name:  # XXE through a DOCTYPE: refused as hostile, nothing read
        assert isinstance(caught.value, HostileInputError) and "abc" not in str(caught.value)
    elif report.exists() and report.stat().st_size:
        assert caught.value.line is not None or "unsupported root element" in caught.value.reason


# --------------------------------------------------------------------------- Jenkins xunit plugin

UNSUPPORTED = {
    "cpptest": "Parasoft C++test <ResultsSession>: a static-analysis/unit-test session format, not supported",
    "valgrind": "Valgrind memcheck <valgrindoutput>: memory errors, not test results; not supported",
}
JENKINS_DEVIATIONS: dict[str, Deviation] = {
    "boosttest/testcase4": Deviation("count", "the plugin's result.xml repeats the cases of a nested suite in its "
                                              "parent (and gives them another status there): an XSL bug"),
    "ctest/testcase1": Deviation("naming", "the plugin rewrites '-' to '_' in CTest names; we keep them"),
    "fpcunit/testcase2": Deviation("status", 'FPCUnit Result="Error" (an exception): we say error, the plugin '
                                             "failure"),
    "googletest/testcase4": Deviation("naming", "the plugin appends value_param ' (33)' and a line break to "
                                                "parameterised GoogleTest names"),
    "mbunit/testcase1": Deviation("naming", "the plugin's classname is assembly + fixture name "
                                            "('Sample.Tests.SampleTests'), ours the fixture type"),
    "nunit/testcase3": Deviation("refused", 'success="Turue": we refuse unknown outcome values; the plugin '
                                            "reads it as passed"),
    "nunit/testcase8": Deviation("status", "NUnit 2 NotRunnable: we say skipped (NUnit's 'not run'), the plugin "
                                           "error; Inconclusive: we say skipped, the plugin passed"),
    "nunit/testcase11": Deviation("naming", "test names not prefixed by the fixture's suite name: the plugin uses "
                                            "the fixture as class and keeps the full name, we split the full name"),
    "nunit/testcase12": Deviation("naming", "as testcase11"),
    "nunit/testcase14": Deviation("naming", "parameterised tests: the plugin makes the method the class and "
                                            "'(args)' the name, we keep Method(args) in the fixture"),
    # one entry per case (a second key silently replaced the first): the outcome counts differ, so
    # "status" is what the comparison sees; the names differ too
    "nunit/testcase15": Deviation("status", 'NUnit 2 executed="False" result="Skipped": we say skipped, the plugin '
                                            "passed; and xUnit.net results in NUnit 2 form: the plugin uses 'Test "
                                            "collection for X' as class, we split the test's full name"),
    "nunit/testcase16": Deviation("naming", "as testcase14"),
    "nunit3/testcase2": Deviation("status", "NUnit 3 label=Error: we say error, the plugin failure"),
    "nunit3/testcase3": Deviation("status", "NUnit 3 label=Error: we say error, the plugin failure; Inconclusive: "
                                            "we say skipped, the plugin error"),
    "phpunit/testcase11": Deviation("naming", "PHPUnit writes class= and classname=: the plugin takes class "
                                              "(PHP namespace), we take classname (JUnit's)"),
}


def jenkins_pairs() -> list[Any]:
    if not JENKINS.is_dir():
        return files(JENKINS, "*")
    params = []
    for report in sorted(JENKINS.glob("*/testcase*/input.xml"), key=lambda p: (p.parts[-3], int(p.parts[-2][8:]))):
        tool, case = report.parts[-3], report.parts[-2]
        marks = []
        if tool in UNSUPPORTED:
            marks.append(pytest.mark.xfail(raises=ReportError, strict=True, reason=UNSUPPORTED[tool]))
        params.append(pytest.param(report, id=f"{tool}/{case}", marks=marks))
    return params


@pytest.mark.parametrize("report", jenkins_pairs())
def test_jenkins_xunit_conversions(report: Path) -> None:
    tool_case = f"{report.parts[-3]}/{report.parts[-2]}"
    expected_file = next(p for p in (report.with_name("result.xml"), report.with_name("junit-result.xml")) if p.exists())
    deviation = JENKINS_DEVIATIONS.get(tool_case)
    try:
        results = parse(report)
    except ReportError as exc:
        if report.parts[-3] in UNSUPPORTED:
            assert "unsupported root element" in exc.reason
            raise
        assert deviation is not None and deviation.kind == "refused", f"unexpected refusal: {exc}"
        return
    ours = Counter((r.classname, r.name, r.status.value) for r in results)
    theirs = Counter((r.classname, r.name, r.status.value) for r in parse(expected_file))
    kind = classify(ours, theirs)
    assert kind == (deviation.kind if deviation else "match"), (
        f"{tool_case}: {kind}\n ours - theirs: {sorted((ours - theirs).items())[:5]}\n"
        f" theirs - ours: {sorted((theirs - ours).items())[:5]}")


# --------------------------------------------------------------------------- mikepenz + junitparser

NOT_WELL_FORMED = {
    "corrupt-junit/e2e-tests/corrupt/target/sf-reports/TEST-test.CorruptTest.xml": "CDATA section not finished",
    # upstream expected-output templates with time="<<computed>>": '<' is not allowed in attributes
    "junit-web-test/expected.xml": "Unescaped '<' not allowed in attributes values",
    "junit-web-test/expectedRetries.xml": "Unescaped '<' not allowed in attributes values",
}


@pytest.mark.parametrize("report", files(MIKEPENZ, "**/*.xml") + files(JUNITPARSER, "*.xml"))
def test_small_samples_parse_or_are_refused_clearly(report: Path) -> None:
    relative = str(report.relative_to(MIKEPENZ)) if MIKEPENZ in report.parents else report.name
    if relative in NOT_WELL_FORMED:
        with pytest.raises(ReportError) as caught:
            parse(report)
        assert NOT_WELL_FORMED[relative] in caught.value.reason and caught.value.line is not None
        assert str(caught.value).startswith(f"{report}:{caught.value.line}")
        return
    results = parse(report)
    assert all(r.file == str(report) for r in results)
    assert all(r.name or r.classname for r in results)


def _needs(root: Path) -> None:
    if not root.is_dir():
        pytest.skip(MISSING)


def attempts_of(results: list[TestResult], name: str, classname: str | None = None) -> list[tuple[Status, int]]:
    return [(r.status, r.attempt) for r in results if r.name == name and (classname is None or r.classname == classname)]


def test_surefire_flaky_failure() -> None:
    _needs(MIKEPENZ)
    results = parse(MIKEPENZ / "maven_surefire_flaky" / "surefire-report.xml")
    assert attempts_of(results, "createWebhook") == [(FAILED, 0), (PASSED, 1)]
    failed, passed = results
    assert failed.failure_type == "java.lang.AssertionError"
    assert failed.failure_message is not None and "Expected: <false>" in failed.failure_message
    assert failed.failure_text is not None and failed.failure_text.startswith("java.lang.AssertionError")
    assert "Some error output here" not in failed.failure_text  # system-err is not the trace
    assert passed.duration == 0.683 and failed.suite == "io.sodadata.dependson.soda.integrations.msteams.MicrosoftTeamsCrudTest"


def test_marathon_and_mixed_flaky_failures() -> None:
    _needs(MIKEPENZ)
    marathon = parse(MIKEPENZ / "junit_flaky_failure" / "marathon_junit_report.xml")
    assert attempts_of(marathon, "testFlakyFailure") == [(FAILED, 0), (PASSED, 1)]
    assert marathon[0].failure_type == "rerun exception" and marathon[0].failure_text == "junit.framework.AssertionFailedError"
    mixed = parse(MIKEPENZ / "junit_flaky_failure" / "mixed_flaky_and_passed.xml")
    assert [(r.name, r.status, r.attempt) for r in mixed] == [
        ("testFlaky", FAILED, 0), ("testFlaky", PASSED, 1), ("testPassed", PASSED, 0), ("testAnotherPassed", PASSED, 0)]


def test_pytest_style_retries_as_repeated_testcases() -> None:
    _needs(MIKEPENZ)
    folder = MIKEPENZ / "flaky_retries"
    with_classname = parse(folder / "flaky_with_classname_file.xml")
    assert attempts_of(with_classname, "test_foo", "test_foo.TestFoo") == [(FAILED, 0), (ERROR, 1), (PASSED, 2)]
    assert attempts_of(with_classname, "test_foo", "test_bar.TestBar") == [(PASSED, 0)]  # same name, other class
    assert verdict_of(s for s, _ in attempts_of(with_classname, "test_foo", "test_foo.TestFoo")) is Verdict.FLAKY
    all_failures = parse(folder / "flaky_all_failures.xml")
    assert attempts_of(all_failures, "test_always_fails") == [(FAILED, 0), (FAILED, 1), (ERROR, 2)]
    assert [r.failure_message for r in all_failures] == ["first failure", "second failure", "third error"]
    assert verdict_of(r.status for r in all_failures) is Verdict.FAILED
    success_first = parse(folder / "flaky_success_first.xml")
    assert attempts_of(success_first, "test_success_first") == [(PASSED, 0), (FAILED, 1), (ERROR, 2)]
    assert verdict_of(r.status for r in success_first) is Verdict.FLAKY


def test_web_test_runner_retry_later_in_the_suite() -> None:
    """expectedRetries.xml is a template (time="<<computed>>"); with the placeholder filled
    in, the retried test's failure and later pass are attempts 0 and 1."""
    _needs(MIKEPENZ)
    data = (MIKEPENZ / "junit-web-test" / "expectedRetries.xml").read_bytes().replace(b"<<computed>>", b"0.001")
    results = list(parse_junit(data, name="expectedRetries.xml"))
    assert attempts_of(results, "retried flaky test") == [(FAILED, 0), (PASSED, 1)]
    assert Counter(r.status for r in results) == {PASSED: 5, FAILED: 2, SKIPPED: 1}
    assert {r.suite for r in results} == {
        "Chrome_puppeteer_/packages/test-runner-junit-reporter/test/fixtures/multiple/nested-test.js",
        "Chrome_puppeteer_/packages/test-runner-junit-reporter/test/fixtures/multiple/simple-test.js"}


def test_dialect_samples() -> None:
    _needs(MIKEPENZ)
    disabled = parse(MIKEPENZ / "issues" / "testDisabled.xml")
    assert Counter(r.status for r in disabled) == {SKIPPED: 10, PASSED: 6, FAILED: 4, ERROR: 2}
    (failed_disabled,) = parse(MIKEPENZ / "issues" / "testFailedDisabled.xml")
    assert failed_disabled.status is SKIPPED  # status="disabled" with a <failure>: it did not run
    nested = parse(MIKEPENZ / "nested" / "junit.xml")
    assert [(r.suite, r.name, r.status) for r in nested] == [
        ("TestA", "A", FAILED), ("TestA", "B", PASSED), ("TestB", "A", PASSED), ("TestB", "B", FAILED),
        ("packet", "A", FAILED)]
    (catch2,) = parse(MIKEPENZ / "catch2" / "report.xml")
    assert (catch2.status, catch2.failure_type, catch2.failure_message) == (
        FAILED, "REQUIRE", "REQUIRE(v == 1) expands to 0 == 10")
    nextest = parse(MIKEPENZ / "nextest" / "basic.xml")
    assert [(r.name, r.status, r.failure_type) for r in nextest][0] == ("test_failure", FAILED, "test failure")
    assert nextest[0].suite == "oxidized_navigation::parry3d" and nextest[0].duration == 0.774
    multiple = parse(MIKEPENZ / "multiple_failures" / "test_multiple_failures.xml")
    first = multiple[0]
    assert (first.status, first.failure_message) == (FAILED, "First assertion failed")
    assert first.failure_text is not None and "Third failure stack trace" in first.failure_text
    structure = parse(MIKEPENZ / "container-structure" / "test.xml")
    assert [r.duration for r in structure] == [999638317.0, 0.0, 0.0] and {r.suite for r in structure} == {""}
    perl = parse(MIKEPENZ / "perl" / "result.xml")
    assert perl[0].duration == pytest.approx(4.50611114501953e-05)


def test_junitparser_samples() -> None:
    _needs(JUNITPARSER)
    jenkins = parse(JUNITPARSER / "jenkins.xml")
    assert [(r.name, r.status) for r in jenkins] == [
        ("should default path to an empty string", FAILED), ("should default consolidate to true", SKIPPED),
        ("should default useDotNotation to true", PASSED)]
    assert {r.suite for r in jenkins} == {"JUnitXmlReporter.constructor"}
    for name, expected in {"no_fails.xml": {PASSED: 2, SKIPPED: 1}, "normal.xml": {PASSED: 1, FAILED: 1, SKIPPED: 1},
                           "no_suites_tag.xml": {PASSED: 1, FAILED: 1, SKIPPED: 1}, "pytest_error.xml": {FAILED: 1},
                           "pytest_success.xml": {PASSED: 1}}.items():
        assert Counter(r.status for r in parse(JUNITPARSER / name)) == expected, name
