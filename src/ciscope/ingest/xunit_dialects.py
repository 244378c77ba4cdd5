"""Native (non-JUnit) XML test report formats, read into the same records as JUnit.

One reader per format, chosen by :func:`ciscope.ingest.junit.parse_junit` from the root
element (see :data:`DIALECTS`). Each streams with lxml ``iterparse`` on the ``end`` of its
test-level element and frees what it has read, except TRX, whose test classes are listed
after the results and which therefore keeps one small tuple per result until the end.

Outcome values are checked: a value a format does not define (NUnit ``result="Bogus"``)
is a :class:`~ciscope.errors.ReportError` naming the value and the accepted ones.
Names follow the Jenkins xunit plugin's JUnit conversion where it is natural
(``classname`` = the fixture/class, ``name`` = the test within it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..errors import ReportError
from ..model import Status, TestResult
from ._xml import Attempts, Report, drop, iter_closing, local, parse_hms, parse_seconds, result, text_of

PASSED, FAILED, ERROR, SKIPPED = Status.PASSED, Status.FAILED, Status.ERROR, Status.SKIPPED

Reader = Callable[[Report, Attempts], Iterator[TestResult]]


def _status(report: Report, element: Any, attribute: str, value: str | None, table: dict[str, Status]) -> Status:
    """Look ``value`` up in a format's outcome ``table`` (case-insensitively)."""
    status = table.get((value or "").lower())
    if status is None:
        accepted = ", ".join(sorted({k for k in table if k}))
        raise ReportError(
            report.name,
            f'unknown {local(element.tag)} {attribute}="{value}": expected one of {accepted}',
            line=element.sourceline,
        )
    return status


def _q(report: Report, tag: str) -> str:
    return f"{{{report.namespace}}}{tag}" if report.namespace else tag


def _child(element: Any, name: str) -> Any:
    for sub in element:
        if local(sub.tag) == name:
            return sub
    return None


def _child_text(element: Any, *path: str) -> str | None:
    for name in path:
        element = _child(element, name)
        if element is None:
            return None
    text = "".join(element.itertext())
    return text.strip() or None


def _ancestor(element: Any, name: str, *, skip: Callable[[Any], bool] | None = None) -> Any:
    node = element.getparent()
    while node is not None:
        if local(node.tag) == name and not (skip and skip(node)):
            return node
        node = node.getparent()
    return None


def _split_dotted(full: str) -> tuple[str, str]:
    """``Ns.Fixture(1.5).Method("a.b")`` → (``Ns.Fixture(1.5)``, ``Method("a.b")``): split
    at the last dot outside brackets and quotes."""
    depth, quote, cut = 0, "", -1
    for index, char in enumerate(full):
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "([<{":
            depth += 1
        elif char in ")]>}":
            depth = max(depth - 1, 0)
        elif char == "." and depth == 0:
            cut = index
    if cut < 0:
        return "", full
    return full[:cut], full[cut + 1 :]


def _name_text(element: Any, child: str) -> str:
    """A name held as element text, whitespace collapsed (writers wrap long ones)."""
    text = _child_text(element, child)
    return " ".join(text.split()) if text else ""


def _strip_prefix(name: str, classname: str) -> str:
    if classname and name.startswith(classname + "."):
        return name[len(classname) + 1 :]
    return name


# --------------------------------------------------------------------------- NUnit 2 and 3

# NUnit 2 writes Success/Failure/Error/Ignored/NotRunnable/…, NUnit 3 Passed/Failed/
# Skipped/Inconclusive/Warning (plus a label); both appear in the wild under either root.
_NUNIT = {
    "success": PASSED,
    "passed": PASSED,
    "warning": PASSED,  # NUnit 3: passed, with warnings
    "failure": FAILED,
    "failed": FAILED,
    "error": ERROR,
    "cancelled": ERROR,
    "ignored": SKIPPED,
    "notrunnable": SKIPPED,  # could not be run (bad signature …): NUnit counts it as "not run"
    "skipped": SKIPPED,
    "inconclusive": SKIPPED,
}
_NUNIT3_ERROR_LABELS = {"error", "invalid", "cancelled"}
_NUNIT_GROUPING = {"ParameterizedMethod", "ParameterizedTest", "Theory", "GenericMethod"}
# NUnit 2.5+ suite types that name a namespace or a fixture (not Assembly, Project, …)
_NUNIT_QUALIFYING = {"Namespace", "TestSuite", "TestFixture", "Fixture", "GenericFixture", "ParameterizedFixture"}
_BOOLEAN = {"true": True, "false": False}


def _nunit2_names(case: Any, full: str) -> tuple[str, str]:
    """NUnit 2 names a test case by its full name; older runners by its short name only.
    The fixture's qualified name comes from the enclosing suites when they are typed."""
    chain: list[str] = []
    node = case.getparent()
    while node is not None:
        if local(node.tag) == "test-suite":
            kind = node.get("type")
            if kind is None:
                chain = []
                break  # NUnit 2.0–2.4: untyped suites, names already qualified
            if kind in _NUNIT_QUALIFYING:
                chain.append(node.get("name") or "")
        node = node.getparent()
    fixture = ".".join(reversed(chain))
    if fixture and full.startswith(fixture + "."):
        return fixture, full[len(fixture) + 1 :]
    classname, name = _split_dotted(full)
    if fixture and not classname.endswith(chain[0]) and not full.startswith(chain[0] + "."):
        return fixture, full  # a short name under a typed fixture ("Method.Case (42%)")
    return classname, name


def _nunit(report: Report, attempts: Attempts) -> Iterator[TestResult]:
    """NUnit 2 ``<test-results>`` and NUnit 3 ``<test-run>`` (or a bare ``<test-suite>``)."""
    last_parent, suite = None, ""
    for case in iter_closing(report, _q(report, "test-case")):
        parent = case.getparent()
        if parent is not last_parent:
            fixture = _ancestor(case, "test-suite", skip=lambda s: s.get("type") in _NUNIT_GROUPING)
            last_parent, suite = parent, (fixture.get("name") or "") if fixture is not None else ""
        classname = case.get("classname")
        if classname is not None:  # NUnit 3
            name = case.get("name") or ""
        elif case.get("fullname") is not None:  # NUnit 3 drafts
            classname, name = _split_dotted(case.get("fullname") or "")
        else:  # NUnit 2: "Namespace.Class.Method(args)"
            classname, name = _nunit2_names(case, case.get("name") or "")
        value = case.get("result")
        if value is not None:
            status = _status(report, case, "result", value, _NUNIT)
            if status is FAILED and (case.get("label") or "").lower() in _NUNIT3_ERROR_LABELS:
                status = ERROR
        elif case.get("executed") is not None and not _flag(report, case, "executed"):  # NUnit 2.0–2.4
            status = SKIPPED
        elif case.get("success") is not None:
            status = PASSED if _flag(report, case, "success") else FAILED
        else:
            status = FAILED if _child(case, "failure") is not None else PASSED
        duration = parse_seconds(case.get("duration") if case.get("duration") is not None else case.get("time"))
        message = text = None
        detail = _child(case, "failure") if status in (FAILED, ERROR) else _child(case, "reason")
        if detail is not None:
            message = _child_text(detail, "message")
            text = _child_text(detail, "stack-trace")
        yield result(attempts, report.name, name=name, status=status, classname=classname, suite=suite,
                     duration=duration, failure_message=message, failure_text=text)
        drop(case)


def _flag(report: Report, element: Any, attribute: str) -> bool:
    value = element.get(attribute) or ""
    flag = _BOOLEAN.get(value.lower())
    if flag is None:
        raise ReportError(report.name, f'unknown {local(element.tag)} {attribute}="{value}": expected True or False',
                          line=element.sourceline)
    return flag


# --------------------------------------------------------------------------- xUnit.net

_XUNIT = {"pass": PASSED, "fail": FAILED, "skip": SKIPPED, "notrun": SKIPPED}


def _xunit_net(report: Report, attempts: Attempts) -> Iterator[TestResult]:
    """xUnit.net v1 (``<assembly>``) and v2 (``<assemblies>``)."""
    last_parent, suite = None, ""
    for test in iter_closing(report, _q(report, "test")):
        parent = test.getparent()
        if parent is not last_parent:
            assembly = _ancestor(test, "assembly")
            path = (assembly.get("name") or "") if assembly is not None else ""
            base = path.replace("\\", "/").rsplit("/", 1)[-1]
            last_parent, suite = parent, base[:-4] if base.lower().endswith((".dll", ".exe")) else base
        classname = test.get("type") or ""
        name = _strip_prefix(test.get("name") or "", classname)
        status = _status(report, test, "result", test.get("result"), _XUNIT)
        failure_type = message = text = None
        failure = _child(test, "failure")
        if failure is not None:
            failure_type = failure.get("exception-type")
            message = _child_text(failure, "message")
            text = _child_text(failure, "stack-trace")
        elif status is SKIPPED:
            reason = _child(test, "reason")
            if reason is not None:
                message = _child_text(reason, "message") or text_of(reason)
        yield result(attempts, report.name, name=name, status=status, classname=classname, suite=suite,
                     duration=parse_seconds(test.get("time")), failure_type=failure_type,
                     failure_message=message, failure_text=text)
        drop(test)


# --------------------------------------------------------------------------- MSTest TRX

_TRX = {
    "passed": PASSED,
    "completed": PASSED,
    "passedbutrunaborted": PASSED,
    "warning": PASSED,
    "failed": FAILED,
    "error": ERROR,
    "timeout": ERROR,
    "aborted": ERROR,
    "disconnected": ERROR,
    "notexecuted": SKIPPED,
    "notrunnable": SKIPPED,
    "inconclusive": SKIPPED,
    "pending": SKIPPED,
    "inprogress": SKIPPED,
}


def _trx(report: Report, attempts: Attempts) -> Iterator[TestResult]:
    """Visual Studio / ``dotnet test`` TRX (2006 and 2010 schemas)."""
    q = lambda tag: _q(report, tag)  # noqa: E731
    result_tags = {q("UnitTestResult"), q("TestResult"), q("WebTestResult"), q("ManualTestResult"),
                   q("GenericTestResult"), q("OrderedTestResult")}
    definition_tags = {q("UnitTest"), q("WebTest"), q("ManualTest"), q("GenericTest"), q("OrderedTest")}
    pending: list[tuple[str, str, Status, float | None, str | None, str | None]] = []
    classes: dict[str, str] = {}
    for element in iter_closing(report, tuple(result_tags | definition_tags)):
        if element.tag in definition_tags:
            method = _child(element, "TestMethod")
            if method is not None:
                # 2006 schema: "Namespace.Class, Assembly"
                classes[element.get("id") or ""] = (method.get("className") or "").split(",", 1)[0].strip()
            drop(element)
            continue
        if _child(element, "InnerResults") is not None:
            continue  # a data-driven parent: its inner results are the attempts
        status = _status(report, element, "outcome", element.get("outcome"), _TRX)
        message = text = None
        output = _child(element, "Output")
        if output is not None:
            info = _child(output, "ErrorInfo")
            if info is not None:
                message = _child_text(info, "Message")
                text = _child_text(info, "StackTrace")
        pending.append((element.get("testId") or "", element.get("testName") or "", status,
                        parse_hms(element.get("duration")), message, text))
        if element.getparent() is not None and local(element.getparent().tag) == "Results":
            drop(element)
    for test_id, test_name, status, duration, message, text in pending:
        classname = classes.get(test_id, "")
        yield result(attempts, report.name, name=_strip_prefix(test_name, classname), status=status,
                     classname=classname, duration=duration, failure_message=message, failure_text=text)


# --------------------------------------------------------------------------- C/C++ tools


def _cppunit(report: Report, attempts: Attempts) -> Iterator[TestResult]:
    """CppUnit ``<TestRun>`` (also AUnit and the xunit plugin's "custom tool" sample)."""
    statuses = {"FailedTests": FAILED, "SuccessfulTests": PASSED, "SkippedTests": SKIPPED}
    for test in iter_closing(report, ("FailedTest", "Test")):
        group = test.getparent()
        status = statuses.get(local(group.tag)) if group is not None else None
        if status is None:
            continue
        full = _name_text(test, "Name")
        if "::" in full:
            classname, _, name = full.rpartition("::")
        elif "." in full:
            classname, _, name = full.partition(".")  # AUnit: "Test Stack.Push"
        else:
            classname, name = "", full
        failure_type = _child_text(test, "FailureType")
        if status is FAILED and (failure_type or "").lower() == "error":
            status = ERROR
        message = _child_text(test, "Message")
        yield result(attempts, report.name, name=name, status=status, classname=classname,
                     failure_type=failure_type if status is not PASSED else None,
                     failure_message=" ".join(message.split()) if message else None, failure_text=message)
        drop(test)


def _boost(report: Report, attempts: Attempts) -> Iterator[TestResult]:
    """Boost.Test log (``<TestLog>``) and report (``<TestResult>``) formats."""
    report_format = report.local_root == "TestResult"
    results = {"passed": PASSED, "failed": FAILED, "aborted": ERROR, "skipped": SKIPPED}
    for case in iter_closing(report, "TestCase"):
        path: list[str] = []
        node = case.getparent()
        while node is not None and local(node.tag) in ("TestSuite", "TestCase"):
            path.append(node.get("name") or "")  # (Boost nests suites in test cases at times)
            node = node.getparent()
        path.reverse()
        classname = ".".join(path)
        failures: list[Any] = []
        errors: list[Any] = []
        duration = None
        for child in case:
            tag = local(child.tag)
            if tag == "Error":
                failures.append(child)
            elif tag in ("FatalError", "Exception"):
                errors.append(child)
            elif tag == "TestingTime":
                micros = parse_seconds(child.text)
                duration = micros / 1e6 if micros is not None else None
        if report_format:
            status = _status(report, case, "result", case.get("result"), results)
        elif (case.get("skipped") or "").lower() == "yes":
            status = SKIPPED
        elif errors:
            status = ERROR
        elif failures:
            status = FAILED
        else:
            status = PASSED
        bad = errors or failures
        text = "\n".join(t for t in (text_of(e) for e in bad) if t) or None
        message = " ".join(text.split())[:500] if text else (case.get("reason") if status is SKIPPED else None)
        yield result(attempts, report.name, name=case.get("name") or "", status=status, classname=classname,
                     suite=path[-1] if path else "", duration=duration, failure_message=message, failure_text=text)
        drop(case)


_CTEST = {"passed": PASSED, "failed": FAILED, "notrun": SKIPPED, "disabled": SKIPPED}


def _ctest(report: Report, attempts: Attempts) -> Iterator[TestResult]:
    """CTest dashboard ``<Site>`` (Test.xml)."""
    for test in iter_closing(report, "Test"):
        value = test.get("Status")
        if value is None:
            continue  # <TestList><Test>path</Test>: the list, not a result
        status = _status(report, test, "Status", value, _CTEST)
        duration = exit_code = completion = output = None
        results = _child(test, "Results")
        if results is not None:
            for measurement in results:
                label = measurement.get("name")
                if label == "Execution Time":
                    duration = parse_seconds(_child_text(measurement, "Value"))
                elif label == "Exit Code":
                    exit_code = _child_text(measurement, "Value")
                elif label == "Completion Status":
                    completion = _child_text(measurement, "Value")
                elif local(measurement.tag) == "Measurement":
                    output = _child_text(measurement, "Value")
        path = (_child_text(test, "Path") or ".").strip()
        # As the Jenkins xunit plugin names them: "." → projectroot, "./a/b" → projectroot.a.b
        classname = "projectroot" + (path[1:] if path.startswith(".") else path).replace("/", ".")
        message = exit_code or completion
        yield result(attempts, report.name, name=_name_text(test, "Name"), status=status,
                     classname=classname, suite="CTest", duration=duration,
                     failure_message=message if status is not PASSED else None,
                     failure_text=output if status in (FAILED, ERROR) else None)
        drop(test)


_CHECK = {"success": PASSED, "failure": FAILED, "error": ERROR}


def _check(report: Report, attempts: Attempts) -> Iterator[TestResult]:
    """Check (libcheck) XML output."""
    last_parent, title = None, ""
    for test in iter_closing(report, _q(report, "test")):
        parent = test.getparent()
        if parent is not last_parent:
            last_parent, title = parent, (_child_text(parent, "title") or "") if parent is not None else ""
        status = _status(report, test, "result", test.get("result"), _CHECK)
        message = _child_text(test, "message")
        yield result(attempts, report.name, name=_child_text(test, "id") or "", status=status, classname=title,
                     suite=title, duration=parse_seconds(_child_text(test, "duration")),
                     failure_message=message if status is not PASSED else None,
                     failure_text=_child_text(test, "fn") if status is not PASSED else None)
        drop(test)


def _qtestlib(report: Report, attempts: Attempts) -> Iterator[TestResult]:
    """Qt Test (QTestLib ``-xml``) ``<TestCase>``."""
    bad_incidents = {"fail", "xpass"}  # xpass: passed although expected to fail
    for function in iter_closing(report, "TestFunction"):
        classname = function.getparent().get("name") if function.getparent() is not None else ""
        status, message, duration = PASSED, None, None
        for child in function:
            tag = local(child.tag)
            kind = (child.get("type") or "").lower()
            if tag == "Incident" and kind in bad_incidents:
                status = FAILED
                message = message or _child_text(child, "Description")
            elif kind in ("skip", "qskip") and status is PASSED:
                status = SKIPPED
                message = _child_text(child, "Description")
            elif tag == "Duration":
                msecs = parse_seconds(child.get("msecs"))
                duration = msecs / 1000 if msecs is not None else None
        yield result(attempts, report.name, name=function.get("name") or "", status=status,
                     classname=classname or "", suite=classname or "", duration=duration, failure_message=message)
        drop(function)


def _unittestpp(report: Report, attempts: Attempts) -> Iterator[TestResult]:
    """UnitTest++ ``<unittest-results>``."""
    for test in iter_closing(report, "test"):
        failures = [f for f in test if local(f.tag) == "failure"]
        message = "\n".join(f.get("message") or "" for f in failures) or None
        suite = test.get("suite") or ""
        yield result(attempts, report.name, name=test.get("name") or "", status=FAILED if failures else PASSED,
                     classname=suite, suite=suite, duration=parse_seconds(test.get("time")),
                     failure_message=message)
        drop(test)


_GTESTER = {"success": PASSED, "failed": FAILED}


def _gtester(report: Report, attempts: Attempts) -> Iterator[TestResult]:
    """GLib ``gtester`` XML."""
    for case in iter_closing(report, "testcase"):
        binary = case.getparent()
        suite = (binary.get("path") or "") if binary is not None else ""
        *groups, name = (case.get("path") or "").strip("/").split("/")
        classname = ".".join(groups) or suite  # "/binding/chain" → binding, chain
        if (case.get("skipped") or "0") not in ("0", ""):
            status = SKIPPED
            message = None
        else:
            state = _child(case, "status")
            value = state.get("result") if state is not None else None
            status = _status(report, case, "status result", value, _GTESTER)
            message = f"exit-status={state.get('exit-status')}" if status is FAILED and state is not None else None
        text = _child_text(case, "error") if status is FAILED else None
        yield result(attempts, report.name, name=name, status=status, classname=classname, suite=suite,
                     duration=parse_seconds(_child_text(case, "duration")), failure_message=message,
                     failure_text=text)
        drop(case)


def _cunit(report: Report, attempts: Attempts) -> Iterator[TestResult]:
    """CUnit automated-mode ``<CUNIT_TEST_RUN_REPORT>``. A test with several failed
    assertions has several failure records; they make one failed attempt."""
    last_holder, suite = None, ""
    for record in iter_closing(report, "CUNIT_RUN_TEST_RECORD"):
        holder = record.getparent()
        if holder is not last_holder:  # read before drop() frees the <SUITE_NAME> sibling
            last_holder, suite = holder, (_name_text(holder, "SUITE_NAME") if holder is not None else "")
        failures: dict[str, list[str]] = {}
        for outcome in record:
            kind = local(outcome.tag)
            if not kind.startswith("CUNIT_RUN_TEST_"):
                continue
            name = _name_text(outcome, "TEST_NAME")
            conditions = failures.setdefault(name, [])
            if kind != "CUNIT_RUN_TEST_SUCCESS":
                where = f"{_child_text(outcome, 'FILE_NAME') or '?'}:{_child_text(outcome, 'LINE_NUMBER') or '?'}"
                conditions.append(f"{_child_text(outcome, 'CONDITION') or ''} ({where})")
        for name, conditions in failures.items():
            yield result(attempts, report.name, name=name, status=FAILED if conditions else PASSED,
                         classname=suite, suite=suite, failure_message=conditions[0] if conditions else None,
                         failure_text="\n".join(conditions) or None)
        drop(record)


_FPCUNIT = {"ok": PASSED, "failed": FAILED, "error": ERROR, "ignored": SKIPPED}


def _fpcunit(report: Report, attempts: Attempts) -> Iterator[TestResult]:
    """Free Pascal FPCUnit ``<TestResults>``."""
    for test in iter_closing(report, "Test"):
        holder = test.getparent()
        suite = (holder.get("Name") or "") if holder is not None else ""
        status = _status(report, test, "Result", test.get("Result"), _FPCUNIT)
        message = _child_text(test, "Message") or _child_text(test, "ExceptionMessage")
        yield result(attempts, report.name, name=test.get("Name") or "", status=status, classname=suite,
                     suite=suite, duration=parse_hms(test.get("ElapsedTime")),
                     failure_type=_child_text(test, "ExceptionClass"),
                     failure_message=message if status is not PASSED else None)
        drop(test)


_MBUNIT = {"success": PASSED, "failure": FAILED, "ignore": SKIPPED, "skip": SKIPPED}


def _mbunit(report: Report, attempts: Attempts) -> Iterator[TestResult]:
    """MbUnit ``<report-result>``."""
    for run in iter_closing(report, "run"):
        fixture = _ancestor(run, "fixture")
        classname = (fixture.get("type") or fixture.get("name") or "") if fixture is not None else ""
        fixture_name = (fixture.get("name") or "") if fixture is not None else ""
        status = _status(report, run, "result", run.get("result"), _MBUNIT)
        exception = _child(run, "exception")
        failure_type = message = text = None
        if exception is not None:
            failure_type = exception.get("type")
            message = _child_text(exception, "message")
            text = _child_text(exception, "stack-trace")
        yield result(attempts, report.name, name=_strip_prefix(run.get("name") or "", fixture_name), status=status,
                     classname=classname, suite=classname, duration=parse_seconds(run.get("duration")),
                     failure_type=failure_type, failure_message=message, failure_text=text)
        drop(run)


def _tusar(report: Report, attempts: Attempts) -> Iterator[TestResult]:
    """TUSAR test results (``<tusar><tests><testsuite><testcase testname=…>``)."""
    for case in iter_closing(report, _q(report, "testcase")):
        holder = case.getparent()
        suite = (holder.get("name") or "") if holder is not None else ""
        status, detail = PASSED, None
        for child in case:
            tag = local(child.tag)
            if tag in ("failure", "error", "skipped"):
                status, detail = {"failure": FAILED, "error": ERROR, "skipped": SKIPPED}[tag], child
                break
        yield result(attempts, report.name, name=case.get("testname") or case.get("name") or "", status=status,
                     classname=case.get("fulltestname") or "", suite=suite, duration=parse_seconds(case.get("time")),
                     failure_type=detail.get("type") if detail is not None else None,
                     failure_message=detail.get("message") if detail is not None else None,
                     failure_text=text_of(detail) if detail is not None else None)
        drop(case)


TRX_2006 = "http://microsoft.com/schemas/VisualStudio/TeamTest/2006"
TRX_2010 = "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"
CHECK_NS = "http://check.sourceforge.net/ns"

# (namespace or None, root local name) → (label, reader); "*" = any namespace.
DIALECTS: dict[tuple[str | None, str], tuple[str, Reader]] = {
    (None, "test-results"): ("NUnit 2", _nunit),
    (None, "test-run"): ("NUnit 3", _nunit),
    (None, "test-suite"): ("NUnit fragment", _nunit),
    (None, "assemblies"): ("xUnit.net v2", _xunit_net),
    (None, "assembly"): ("xUnit.net v1", _xunit_net),
    (TRX_2010, "TestRun"): ("MSTest TRX, TeamTest 2006/2010 namespace", _trx),
    (TRX_2006, "TestRun"): ("", _trx),
    (None, "TestRun"): ("CppUnit/AUnit, no namespace", _cppunit),
    (None, "TestLog"): ("Boost.Test log", _boost),
    (None, "TestResult"): ("Boost.Test report", _boost),
    (None, "Site"): ("CTest", _ctest),
    (CHECK_NS, "testsuites"): ("Check, check.sourceforge.net namespace", _check),
    (None, "TestCase"): ("QTestLib", _qtestlib),
    (None, "unittest-results"): ("UnitTest++", _unittestpp),
    (None, "gtester"): ("gtester", _gtester),
    (None, "CUNIT_TEST_RUN_REPORT"): ("CUnit", _cunit),
    (None, "TestResults"): ("FPCUnit", _fpcunit),
    (None, "report-result"): ("MbUnit", _mbunit),
    ("*", "tusar"): ("TUSAR", _tusar),
}
