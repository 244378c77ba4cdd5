"""JUnit/xUnit parsing: small reports built inside each test (see test_junit_corpus.py for
the real-world corpora and test_hostile_xml.py for refused input)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from ciscope.errors import HostileInputError, ReportError
from ciscope.ingest import _xml
from ciscope.ingest.junit import MAX_REPORT_BYTES, parse_junit
from ciscope.model import Status, TestResult, Verdict, verdict_of

PASSED, FAILED, ERROR, SKIPPED = Status.PASSED, Status.FAILED, Status.ERROR, Status.SKIPPED


def parse(tmp_path: Path, xml: str | bytes, *, filename: str = "report.xml", **kwargs: object) -> list[TestResult]:
    path = tmp_path / filename
    path.write_bytes(xml.encode() if isinstance(xml, str) else xml)
    return list(parse_junit(path, **kwargs))  # type: ignore[arg-type]


def brief(results: list[TestResult]) -> list[tuple[str, str, str, Status, int]]:
    return [(r.suite, r.classname, r.name, r.status, r.attempt) for r in results]


def error_of(tmp_path: Path, xml: str | bytes, *, filename: str = "bad.xml") -> ReportError:
    with pytest.raises(ReportError) as caught:
        parse(tmp_path, xml, filename=filename)
    return caught.value


# --------------------------------------------------------------------------- outcomes


def test_every_status_with_type_message_and_text(tmp_path: Path) -> None:
    results = parse(tmp_path, """<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="pkg.Suite" tests="4">
    <testcase classname="pkg.C" name="passes" time="0.25"/>
    <testcase classname="pkg.C" name="fails" time="1">
      <failure type="AssertionError" message="expected 1 got 2">Traceback:
  line 1
  line 2</failure>
      <system-out>noise</system-out>
    </testcase>
    <testcase classname="pkg.C" name="errors"><error type="OSError" message="boom">trace</error></testcase>
    <testcase classname="pkg.C" name="skips"><skipped message="not on Tuesdays"/></testcase>
  </testsuite>
</testsuites>""")
    assert brief(results) == [
        ("pkg.Suite", "pkg.C", "passes", PASSED, 0),
        ("pkg.Suite", "pkg.C", "fails", FAILED, 0),
        ("pkg.Suite", "pkg.C", "errors", ERROR, 0),
        ("pkg.Suite", "pkg.C", "skips", SKIPPED, 0),
    ]
    passes, fails, errors, skips = results
    assert passes.duration == 0.25 and passes.failure_message is None and passes.failure_text is None
    assert (fails.failure_type, fails.failure_message) == ("AssertionError", "expected 1 got 2")
    assert fails.failure_text == "Traceback:\n  line 1\n  line 2"
    assert (errors.failure_type, errors.failure_message, errors.failure_text) == ("OSError", "boom", "trace")
    assert skips.failure_message == "not on Tuesdays"  # the skip reason
    assert {r.file for r in results} == {str(tmp_path / "report.xml")}
    assert fails.test_id == "pkg.C.fails"


def test_failure_outranks_error_and_several_failures_keep_every_text(tmp_path: Path) -> None:
    """pytest writes <failure> and <error> in one testcase when the call failed and the
    teardown errored: the test failed (as verdict_of ranks a failure above an error)."""
    results = parse(tmp_path, """<testsuite name="s">
  <testcase name="both"><error message="teardown">t</error><failure message="call">c</failure></testcase>
  <testcase name="many">
    <failure message="first" type="A">one</failure><failure message="second" type="B">two</failure>
  </testcase>
  <testcase name="skipped-then-failed"><skipped/><failure message="x"/></testcase>
</testsuite>""")
    both, many, skipped_then_failed = results
    assert both.status is FAILED and both.failure_message == "call"
    assert (many.status, many.failure_type, many.failure_message) == (FAILED, "A", "first")
    assert many.failure_text == "one\n\ntwo"
    assert skipped_then_failed.status is FAILED


@pytest.mark.parametrize(
    ("attribute", "children", "expected"),
    [
        ('status="run"', "", PASSED),  # GoogleTest, Catch2
        ('status="run" result="completed"', "", PASSED),
        ('status="run" result="skipped"', "", SKIPPED),  # GoogleTest 1.10 (no <skipped> child yet)
        ('status="run" result="skipped"', '<skipped message="GTEST_SKIP"/>', SKIPPED),
        ('status="notrun"', "", SKIPPED),  # GoogleTest DISABLED_ tests
        ('status="disabled"', "", SKIPPED),  # tst
        ('status="disabled"', '<failure message="x"/>', SKIPPED),  # a disabled test did not run
        ('status="failed"', "", FAILED),
        ('status="errored"', "", ERROR),
        ('status="passed"', "", PASSED),
        ('status="whatever"', "", PASSED),  # free-form in JUnit: not an outcome we know
        ("", "<ignored/>", SKIPPED),
    ],
)
def test_status_attribute_and_skip_spellings(tmp_path: Path, attribute: str, children: str, expected: Status) -> None:
    (result,) = parse(tmp_path, f'<testsuite name="s"><testcase name="t" {attribute}>{children}</testcase></testsuite>')
    assert result.status is expected


# --------------------------------------------------------------------------- retries


def test_surefire_flaky_failures_come_before_the_pass(tmp_path: Path) -> None:
    results = parse(tmp_path, """<testsuite name="S">
  <testcase name="flaky" classname="a.B" time="3.5">
    <flakyFailure message="first" type="java.lang.AssertionError" time="1.5">
      <stackTrace>at a.B.flaky(B.java:1)</stackTrace>
      <system-out>out</system-out>
    </flakyFailure>
    <flakyError message="second" type="java.io.IOException">
      <stackTrace>at a.B.flaky(B.java:2)</stackTrace>
    </flakyError>
  </testcase>
  <testcase name="stable" classname="a.B"/>
</testsuite>""")
    assert brief(results) == [
        ("S", "a.B", "flaky", FAILED, 0),
        ("S", "a.B", "flaky", ERROR, 1),
        ("S", "a.B", "flaky", PASSED, 2),
        ("S", "a.B", "stable", PASSED, 0),
    ]
    first, second, final = results[:3]
    assert (first.failure_type, first.failure_message, first.failure_text) == (
        "java.lang.AssertionError", "first", "at a.B.flaky(B.java:1)")
    assert first.duration == 1.5 and second.duration is None and final.duration == 3.5
    assert verdict_of(r.status for r in results[:3]) is Verdict.FLAKY


def test_surefire_reruns_come_after_the_first_failure(tmp_path: Path) -> None:
    results = parse(tmp_path, """<testsuite name="S">
  <testcase name="broken" classname="a.B">
    <failure message="original" type="AssertionError">trace 0</failure>
    <rerunFailure message="again" type="AssertionError"><stackTrace>trace 1</stackTrace></rerunFailure>
    <rerunError message="worse" type="RuntimeException"><stackTrace>trace 2</stackTrace></rerunError>
  </testcase>
</testsuite>""")
    assert [(r.status, r.attempt, r.failure_message, r.failure_text) for r in results] == [
        (FAILED, 0, "original", "trace 0"),
        (FAILED, 1, "again", "trace 1"),
        (ERROR, 2, "worse", "trace 2"),
    ]
    assert verdict_of(r.status for r in results) is Verdict.FAILED


def test_repeated_testcases_are_attempts_numbered_per_suite_class_and_name(tmp_path: Path) -> None:
    """OpenShift writes a failure then a pass; web-test-runner puts the retry later in the
    suite; the same name in another class or suite is another test."""
    results = parse(tmp_path, """<testsuites>
  <testsuite name="e2e">
    <testcase classname="c" name="t"><failure message="1st"/></testcase>
    <testcase classname="c" name="other"/>
    <testcase classname="c2" name="t"/>
    <testcase classname="c" name="t"/>
    <testcase classname="c" name="t"><error message="3rd"/></testcase>
  </testsuite>
  <testsuite name="e2e-2"><testcase classname="c" name="t"/></testsuite>
</testsuites>""")
    assert brief(results) == [
        ("e2e", "c", "t", FAILED, 0),
        ("e2e", "c", "other", PASSED, 0),
        ("e2e", "c2", "t", PASSED, 0),
        ("e2e", "c", "t", PASSED, 1),
        ("e2e", "c", "t", ERROR, 2),
        ("e2e-2", "c", "t", PASSED, 0),
    ]


def test_attempts_continue_when_a_suite_name_comes_back(tmp_path: Path) -> None:
    results = parse(tmp_path, """<testsuites>
  <testsuite name="a"><testcase classname="c" name="t"><failure/></testcase><testcase classname="c" name="u"/></testsuite>
  <testsuite name="b"><testcase classname="c" name="t"/></testsuite>
  <testsuite name="a"><testcase classname="c" name="t"/><testcase classname="c" name="v"/></testsuite>
  <testsuite name="a"><testcase classname="c" name="t"/></testsuite>
</testsuites>""")
    assert [(r.suite, r.name, r.attempt) for r in results] == [
        ("a", "t", 0), ("a", "u", 0), ("b", "t", 0), ("a", "t", 1), ("a", "v", 0), ("a", "t", 2)]


def test_attempt_numbering_survives_folding_of_large_suites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys of big suites are folded into sorted arrays; repeats must still be found."""
    monkeypatch.setattr(_xml.Attempts, "LIVE_LIMIT", 3)
    cases = "".join(f'<testcase classname="c" name="t{i}"/>' for i in range(300))
    retries = "".join(f'<testcase classname="c" name="t{i}"><failure/></testcase>' for i in (0, 5, 299, 5))
    results = parse(tmp_path, f'<testsuite name="big">{cases}{retries}</testsuite>')
    assert [r.attempt for r in results[:300]] == [0] * 300
    assert [(r.name, r.attempt) for r in results[300:]] == [("t0", 1), ("t5", 1), ("t299", 1), ("t5", 2)]


# --------------------------------------------------------------------------- structure


def test_nested_suites_use_the_innermost_named_suite(tmp_path: Path) -> None:
    results = parse(tmp_path, """<testsuites name="run">
  <testsuite name="outer">
    <testcase name="before"/>
    <testsuite name="inner"><testcase name="deep"/>
      <testsuite><testcase name="unnamed-suite"/></testsuite>
    </testsuite>
    <testcase name="after"/>
  </testsuite>
  <testcase name="no-suite"/>
</testsuites>""")
    assert [(r.suite, r.name) for r in results] == [
        ("outer", "before"), ("inner", "deep"), ("inner", "unnamed-suite"), ("outer", "after"), ("", "no-suite")]


def test_bare_testsuite_root_and_class_attribute(tmp_path: Path) -> None:
    """PHPUnit writes class= (and sometimes classname=): classname wins."""
    results = parse(tmp_path, """<testsuite name="php">
  <testcase name="a" class="App\\Tests\\A"/>
  <testcase name="b" class="App\\Tests\\B" classname="App.Tests.B"/>
</testsuite>""")
    assert [r.classname for r in results] == ["App\\Tests\\A", "App.Tests.B"]


def test_junit_with_a_default_namespace(tmp_path: Path) -> None:
    results = parse(tmp_path, """<testsuites xmlns="urn:example:junit"><testsuite name="s">
  <testcase name="t"><failure message="m">x</failure></testcase></testsuite></testsuites>""")
    assert brief(results) == [("s", "", "t", FAILED, 0)] and results[0].failure_message == "m"


def test_many_cases_stream_through_batches(tmp_path: Path) -> None:
    """More cases than one free-as-you-go batch, with comments and suite-level output."""
    body = "".join(f'<!-- {i} --><testcase classname="c" name="t{i}" time="{i}"/>' for i in range(1000))
    results = parse(tmp_path, f'<testsuite name="s"><properties/>{body}<system-out>x</system-out></testsuite>')
    assert [r.name for r in results] == [f"t{i}" for i in range(1000)]
    assert results[999].duration == 999.0


# --------------------------------------------------------------------------- sources


def test_gzip_by_suffix_and_by_magic_bytes_and_raw_bytes(tmp_path: Path) -> None:
    xml = b'<testsuite name="s"><testcase classname="c" name="t"/></testsuite>'
    (tmp_path / "a.xml.gz").write_bytes(gzip.compress(xml))
    (tmp_path / "b.xml").write_bytes(gzip.compress(xml))  # gzip without the suffix
    for source in (tmp_path / "a.xml.gz", str(tmp_path / "b.xml"), xml, gzip.compress(xml)):
        assert brief(list(parse_junit(source))) == [("s", "c", "t", PASSED, 0)]
    assert next(parse_junit(xml)).file == "<bytes>"
    assert next(parse_junit(xml, name="artifacts/junit.xml")).file == "artifacts/junit.xml"
    assert next(parse_junit(tmp_path / "a.xml.gz")).file == str(tmp_path / "a.xml.gz")


def test_utf16_with_bom_and_latin1_declared(tmp_path: Path) -> None:
    utf16 = '<?xml version="1.0" encoding="UTF-16"?><testsuite name="s"><testcase name="caf\u00e9"/></testsuite>'
    assert parse(tmp_path, utf16.encode("utf-16"))[0].name == "caf\u00e9"
    latin1 = '<?xml version="1.0" encoding="ISO-8859-1"?><testsuite name="s"><testcase name="caf\u00e9"/></testsuite>'
    assert parse(tmp_path, latin1.encode("latin-1"))[0].name == "caf\u00e9"
    assert parse(tmp_path, b"\xef\xbb\xbf" + utf16.replace("UTF-16", "UTF-8").encode())[0].name == "caf\u00e9"


@pytest.mark.parametrize(
    ("time", "expected"),
    [("1.5", 1.5), ("1,234.5", 1234.5), ("0", 0.0), ("1e-05", 1e-05), (" 2 ", 2.0), ("3s", 3.0),
     ("abc", None), ("<<computed>>".replace("<", "&lt;").replace(">", "&gt;"), None), ("-1", None),
     ("nan", None), ("inf", None), ("", None)],
)
def test_durations(tmp_path: Path, time: str, expected: float | None) -> None:
    (result,) = parse(tmp_path, f'<testsuite><testcase name="t" time="{time}"/></testsuite>')
    assert result.duration == expected


def test_missing_time_and_name(tmp_path: Path) -> None:
    (result,) = parse(tmp_path, "<testsuite><testcase/></testsuite>")
    assert (result.name, result.classname, result.suite, result.duration) == ("", "", "", None)


def test_failure_text_is_capped_and_the_cut_is_noted(tmp_path: Path) -> None:
    big = "x" * (_xml.MAX_TEXT_CHARS + 5000)
    (result,) = parse(tmp_path, f'<testsuite><testcase name="t"><failure message="m">{big}</failure></testcase></testsuite>')
    assert result.failure_text is not None
    assert result.failure_text.startswith("x" * _xml.MAX_TEXT_CHARS)
    assert result.failure_text.endswith("[truncated by ciscope: 5,000 more characters]")
    assert len(result.failure_text) < _xml.MAX_TEXT_CHARS + 100


def test_parse_is_lazy_and_the_default_limit_is_one_gib() -> None:
    assert MAX_REPORT_BYTES == 1 << 30
    iterator = parse_junit(b"not xml")
    with pytest.raises(ReportError):
        next(iterator)


# --------------------------------------------------------------------------- errors


def test_truncated_xml_names_file_line_and_the_missing_close(tmp_path: Path) -> None:
    error = error_of(tmp_path, '<?xml version="1.0"?>\n<testsuites>\n  <testsuite name="s">\n    <testcase name="t"/>\n')
    assert error.file.endswith("bad.xml") and error.line == 5
    assert "truncated XML: expected closing </testsuite> (opened on line 3)" in str(error)
    assert str(error).startswith(f"{error.file}:5")


def test_truncated_inside_an_element(tmp_path: Path) -> None:
    error = error_of(tmp_path, '<testsuite>\n<testcase name="t">\n<failure>boom')
    assert error.line == 3 and "expected closing </failure> (opened on line 3)" in error.reason


def test_truncated_inside_cdata(tmp_path: Path) -> None:
    error = error_of(tmp_path, '<testsuite>\n<testcase name="t">\n<failure><![CDATA[boom\n')
    assert error.line is not None and "CDATA section not finished: expected ']]>'" in error.reason


def test_mismatched_tags(tmp_path: Path) -> None:
    error = error_of(tmp_path, '<testsuite>\n<testcase name="t">\n</testsuite>')
    assert error.line == 3
    assert error.reason == "mismatched tags: expected closing </testcase> (opened on line 2), found </testsuite>"


@pytest.mark.parametrize("content", [b"", b"   \n\t\n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    error = error_of(tmp_path, content, filename="empty.xml")
    assert str(error) == f"{tmp_path / 'empty.xml'}: empty file: expected an XML test report"


def test_not_xml_at_all(tmp_path: Path) -> None:
    error = error_of(tmp_path, "PASS: everything\n")
    assert error.line == 1 and "not XML: expected '<'" in error.reason


def test_invalid_bytes_for_the_declared_encoding(tmp_path: Path) -> None:
    error = error_of(tmp_path, b'<?xml version="1.0" encoding="UTF-8"?>\n<testsuite>\n<testcase name="\xff\xfe"/></testsuite>')
    assert error.line == 3 and "invalid bytes for the file's encoding UTF-8" in error.reason


def test_forbidden_character(tmp_path: Path) -> None:
    error = error_of(tmp_path, b'<testsuite>\n<testcase name="t"><failure>a\x00b</failure></testcase></testsuite>')
    assert error.line == 2 and "expected only characters XML 1.0 allows" in error.reason


def test_undefined_entity(tmp_path: Path) -> None:
    error = error_of(tmp_path, '<testsuite>\n<testcase name="&nbsp;"/></testsuite>')
    assert error.line == 2 and "Entity 'nbsp' not defined" in error.reason and "predefined entities" in error.reason


def test_two_roots(tmp_path: Path) -> None:
    error = error_of(tmp_path, "<testsuite/>\n<testsuite/>")
    assert error.line == 2 and "expected exactly one root element" in error.reason


def test_unsupported_root_lists_the_accepted_ones(tmp_path: Path) -> None:
    error = error_of(tmp_path, '<?xml version="1.0"?>\n<!-- c -->\n<suites><suite/></suites>')
    assert error.line == 3
    assert error.reason.startswith("unsupported root element <suites>: expected one of <testsuites> (JUnit)")
    for accepted in ("<test-run> (NUnit 3)", "<assemblies> (xUnit.net v2)", "<TestRun> (MSTest TRX", "<TestLog>"):
        assert accepted in error.reason


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="file does not exist"):
        list(parse_junit(tmp_path / "nope.xml"))
    with pytest.raises(ReportError, match="is a folder"):
        list(parse_junit(tmp_path))


def test_corrupt_gzip(tmp_path: Path) -> None:
    data = gzip.compress(b"<testsuite>" + b'<testcase name="t"/>' * 1000 + b"</testsuite>")
    error = error_of(tmp_path, data[: len(data) // 2], filename="cut.xml.gz")
    assert "corrupt gzip stream" in error.reason and error.file.endswith("cut.xml.gz")


def test_oversized_is_hostile_not_malformed(tmp_path: Path) -> None:
    with pytest.raises(HostileInputError, match="over the limit of 100 bytes"):
        parse(tmp_path, "<testsuite>" + "<testcase/>" * 20 + "</testsuite>", max_bytes=100)


# --------------------------------------------------------------------------- native dialects


def test_nunit2(tmp_path: Path) -> None:
    results = parse(tmp_path, """<test-results name="t.dll" total="4">
  <test-suite name="t.dll"><results>
    <test-suite type="Namespace" name="Ns"><results>
      <test-suite type="TestFixture" name="Fixture"><results>
        <test-case name="Ns.Fixture.Passes" executed="True" result="Success" success="True" time="0.5"/>
        <test-case name="Ns.Fixture.Fails(&quot;a.b&quot;)" executed="True" result="Failure" success="False">
          <failure><message>expected 1</message><stack-trace>at Ns.Fixture</stack-trace></failure>
        </test-case>
        <test-case name="Ns.Fixture.Ignored" executed="False" result="Ignored"><reason><message>later</message></reason></test-case>
        <test-case name="Ns.Fixture.Old" executed="True" success="False"/>
      </results></test-suite>
    </results></test-suite>
  </results></test-suite>
</test-results>""")
    assert [(r.suite, r.classname, r.name, r.status) for r in results] == [
        ("Fixture", "Ns.Fixture", "Passes", PASSED),
        ("Fixture", "Ns.Fixture", 'Fails("a.b")', FAILED),
        ("Fixture", "Ns.Fixture", "Ignored", SKIPPED),
        ("Fixture", "Ns.Fixture", "Old", FAILED),
    ]
    assert (results[1].failure_message, results[1].failure_text) == ("expected 1", "at Ns.Fixture")
    assert results[2].failure_message == "later" and results[0].duration == 0.5


def test_nunit3_labels_and_unknown_result(tmp_path: Path) -> None:
    results = parse(tmp_path, """<test-run result="Failed"><test-suite type="TestFixture" name="F" fullname="N.F">
  <test-case name="ok" fullname="N.F.ok" classname="N.F" result="Passed" duration="0.1"/>
  <test-case name="bad" classname="N.F" result="Failed"><failure><message>m</message></failure></test-case>
  <test-case name="threw" classname="N.F" result="Failed" label="Error"/>
  <test-case name="maybe" classname="N.F" result="Inconclusive"/>
  <test-case name="warn" classname="N.F" result="Warning"/>
</test-suite></test-run>""")
    assert [(r.classname, r.name, r.status) for r in results] == [
        ("N.F", "ok", PASSED), ("N.F", "bad", FAILED), ("N.F", "threw", ERROR), ("N.F", "maybe", SKIPPED),
        ("N.F", "warn", PASSED)]
    error = error_of(tmp_path, '<test-run>\n<test-case name="x" classname="C" result="Bogus"/></test-run>')
    assert error.line == 2
    assert error.reason.startswith('unknown test-case result="Bogus": expected one of cancelled, error, failed')


def test_xunit_net_v2(tmp_path: Path) -> None:
    results = parse(tmp_path, """<assemblies><assembly name="C:\\build\\My.Tests.dll">
  <collection name="c">
    <test name="My.Tests.A.Ok" type="My.Tests.A" method="Ok" time="0.01" result="Pass"/>
    <test name="My.Tests.A.Theory(x: 1)" type="My.Tests.A" method="Theory" result="Fail">
      <failure exception-type="Xunit.Sdk.TrueException"><message>nope</message><stack-trace>at A</stack-trace></failure>
    </test>
    <test name="My.Tests.A.Later" type="My.Tests.A" method="Later" result="Skip"><reason>flaky</reason></test>
  </collection></assembly></assemblies>""")
    assert [(r.suite, r.classname, r.name, r.status) for r in results] == [
        ("My.Tests", "My.Tests.A", "Ok", PASSED), ("My.Tests", "My.Tests.A", "Theory(x: 1)", FAILED),
        ("My.Tests", "My.Tests.A", "Later", SKIPPED)]
    assert results[1].failure_type == "Xunit.Sdk.TrueException" and results[2].failure_message == "flaky"


def test_trx_reads_classes_listed_after_the_results(tmp_path: Path) -> None:
    results = parse(tmp_path, """<?xml version="1.0" encoding="utf-8"?>
<TestRun xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">
  <Results>
    <UnitTestResult testId="1" testName="Adds" outcome="Passed" duration="00:00:01.5000000"/>
    <UnitTestResult testId="2" testName="Subtracts" outcome="Failed">
      <Output><ErrorInfo><Message>2 != 3</Message><StackTrace>at Calc</StackTrace></ErrorInfo></Output>
    </UnitTestResult>
    <UnitTestResult testId="3" testName="Later" outcome="NotExecuted"/>
    <UnitTestResult testId="4" testName="Hung" outcome="Timeout"/>
  </Results>
  <TestDefinitions>
    <UnitTest id="1"><TestMethod className="Calc.Tests, Calc.Tests, Version=1.0" name="Adds"/></UnitTest>
    <UnitTest id="2"><TestMethod className="Calc.Tests" name="Subtracts"/></UnitTest>
  </TestDefinitions>
</TestRun>""")
    assert [(r.classname, r.name, r.status, r.duration) for r in results] == [
        ("Calc.Tests", "Adds", PASSED, 1.5), ("Calc.Tests", "Subtracts", FAILED, None),
        ("", "Later", SKIPPED, None), ("", "Hung", ERROR, None)]
    assert (results[1].failure_message, results[1].failure_text) == ("2 != 3", "at Calc")
    error = error_of(tmp_path, '<TestRun xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">'
                               '<Results><UnitTestResult testName="x" outcome="Meh"/></Results></TestRun>')
    assert 'unknown UnitTestResult outcome="Meh"' in error.reason and "notexecuted" in error.reason


def test_cppunit_boost_ctest_and_friends(tmp_path: Path) -> None:
    cppunit = parse(tmp_path, """<TestRun><FailedTests><FailedTest id="1"><Name>MathTest::testSum</Name>
  <FailureType>Assertion</FailureType><Message>equality
  assertion failed</Message></FailedTest></FailedTests>
  <SuccessfulTests><Test id="2"><Name>MathTest::testPush</Name></Test></SuccessfulTests></TestRun>""")
    assert [(r.classname, r.name, r.status, r.failure_message) for r in cppunit] == [
        ("MathTest", "testSum", FAILED, "equality assertion failed"), ("MathTest", "testPush", PASSED, None)]
    boost = parse(tmp_path, """<TestLog><TestSuite name="Master"><TestSuite name="arith">
  <TestCase name="ok"><Info file="t.cpp" line="1">fine</Info><TestingTime>1500</TestingTime></TestCase>
  <TestCase name="bad"><Error file="t.cpp" line="2">check failed</Error></TestCase>
  <TestCase name="crash"><Exception file="t.cpp" line="3">std::bad_alloc</Exception></TestCase>
  <TestCase name="off" skipped="yes" reason="disabled"/>
</TestSuite></TestSuite></TestLog>""")
    assert [(r.classname, r.name, r.status) for r in boost] == [
        ("Master.arith", "ok", PASSED), ("Master.arith", "bad", FAILED), ("Master.arith", "crash", ERROR),
        ("Master.arith", "off", SKIPPED)]
    assert boost[0].duration == 0.0015 and boost[3].failure_message == "disabled"
    ctest = parse(tmp_path, """<Site><Testing><TestList><Test>./a</Test></TestList>
  <Test Status="passed"><Name>a</Name><Path>./sub/dir</Path><Results>
    <NamedMeasurement name="Execution Time"><Value>0.25</Value></NamedMeasurement></Results></Test>
  <Test Status="notrun"><Name>b</Name><Path>.</Path></Test>
</Testing></Site>""")
    assert [(r.classname, r.name, r.status, r.duration) for r in ctest] == [
        ("projectroot.sub.dir", "a", PASSED, 0.25), ("projectroot", "b", SKIPPED, None)]


def test_cunit_failed_assertions_of_one_test_make_one_result(tmp_path: Path) -> None:
    results = parse(tmp_path, """<?xml version="1.0" ?>
<!DOCTYPE CUNIT_TEST_RUN_REPORT SYSTEM "CUnit-Run.dtd">
<CUNIT_TEST_RUN_REPORT><CUNIT_RESULT_LISTING><CUNIT_RUN_SUITE><CUNIT_RUN_SUITE_SUCCESS>
  <SUITE_NAME> Suite 1 </SUITE_NAME>
  <CUNIT_RUN_TEST_RECORD><CUNIT_RUN_TEST_SUCCESS><TEST_NAME> ok </TEST_NAME></CUNIT_RUN_TEST_SUCCESS></CUNIT_RUN_TEST_RECORD>
  <CUNIT_RUN_TEST_RECORD>
    <CUNIT_RUN_TEST_FAILURE><TEST_NAME> bad </TEST_NAME><FILE_NAME> t.c </FILE_NAME><LINE_NUMBER> 7 </LINE_NUMBER>
      <CONDITION> a == 1 </CONDITION></CUNIT_RUN_TEST_FAILURE>
    <CUNIT_RUN_TEST_FAILURE><TEST_NAME> bad </TEST_NAME><FILE_NAME> t.c </FILE_NAME><LINE_NUMBER> 9 </LINE_NUMBER>
      <CONDITION> b == 2 </CONDITION></CUNIT_RUN_TEST_FAILURE>
  </CUNIT_RUN_TEST_RECORD>
</CUNIT_RUN_SUITE_SUCCESS></CUNIT_RUN_SUITE></CUNIT_RESULT_LISTING></CUNIT_TEST_RUN_REPORT>""")
    assert [(r.suite, r.name, r.status, r.attempt) for r in results] == [
        ("Suite 1", "ok", PASSED, 0), ("Suite 1", "bad", FAILED, 0)]
    assert results[1].failure_message == "a == 1 (t.c:7)" and results[1].failure_text == "a == 1 (t.c:7)\nb == 2 (t.c:9)"


def test_testresult_field_order_the_hot_loop_relies_on() -> None:
    """parse_junit builds records positionally (it is measurably faster): a change to
    TestResult's field order must come with a change to ciscope/ingest/junit.py."""
    import dataclasses

    assert [f.name for f in dataclasses.fields(TestResult)][:10] == [
        "name", "status", "classname", "suite", "duration", "failure_type", "failure_message", "failure_text",
        "attempt", "file"]
