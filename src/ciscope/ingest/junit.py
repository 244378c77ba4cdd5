"""JUnit/xUnit XML reports → :class:`~ciscope.model.TestResult` records, one per attempt.

:func:`parse_junit` reads JUnit XML in all its common dialects (Ant, Maven Surefire and
Failsafe, Gradle, pytest, Jest, Mocha, go-junit-report, Bazel, CTest's JUnit output,
PHPUnit, Catch2, cargo-nextest, GoogleTest, Android/Marathon, Jenkins …) and the native
XML formats of NUnit 2/3, xUnit.net, MSTest/TRX and several C/C++ tools (see
:mod:`ciscope.ingest.xunit_dialects`). The dialect is chosen from the root element.

It streams: lxml ``iterparse`` on ``end`` events of test-case elements, processed elements
freed as it goes, so memory does not grow with the size of the file (only with the number
of distinct tests, for attempt numbering: ~60 bytes each). Safety (DTDs, entities, size
limits, gzip bombs) is :mod:`ciscope.ingest._xml`'s job; see docs/junit.md.

Example::

    >>> from ciscope.ingest.junit import parse_junit
    >>> xml = b'<testsuite name="s"><testcase classname="c" name="t" time="0.5"/></testsuite>'
    >>> [(r.suite, r.classname, r.name, r.status.value, r.duration) for r in parse_junit(xml)]
    [('s', 'c', 't', 'passed', 0.5)]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from lxml import etree

from ..errors import InputError, ReportError
from ..model import ResultColumns, Status, TestResult
from . import xunit_dialects
from ._xml import MAX_REPORT_BYTES, Attempts, Report, Source, cap_text, parse_seconds

__all__ = ["MAX_REPORT_BYTES", "parse_junit", "qualify", "read_reports", "repeats_are_retries", "supported_roots"]

Dialect = Callable[[Report, Attempts], Iterator[TestResult]]

PASSED, FAILED, ERROR, SKIPPED = Status.PASSED, Status.FAILED, Status.ERROR, Status.SKIPPED
_DROP_EVERY = 64  # free processed test cases in batches: one C call per batch

# Child elements of <testcase> that carry an outcome. Anything else (system-out,
# properties, …) is ignored.
_FAILURE, _ERROR, _SKIPPED, _FLAKY_FAILURE, _FLAKY_ERROR, _RERUN_FAILURE, _RERUN_ERROR = range(7)
_CHILD_KINDS = {
    "failure": _FAILURE,
    "error": _ERROR,
    "skipped": _SKIPPED,
    "ignored": _SKIPPED,  # some Ant-derived writers
    "disabled": _SKIPPED,
    "flakyFailure": _FLAKY_FAILURE,  # Surefire/Failsafe rerunFailingTestsCount: failed, then passed
    "flakyError": _FLAKY_ERROR,
    "rerunFailure": _RERUN_FAILURE,  # Surefire: failed, and failed again on every rerun
    "rerunError": _RERUN_ERROR,
}
# status="…" on <testcase> (GoogleTest "notrun", tst/Catch2-style "disabled", …).
_SKIP_STATUSES = frozenset({"disabled", "notrun", "not run", "skipped", "skip", "ignored", "pending"})
_FAIL_STATUSES = frozenset({"failed", "failure", "fail"})
_ERROR_STATUSES = frozenset({"error", "errored"})


def parse_junit(
    source: str | os.PathLike[str] | bytes,
    *,
    name: str | None = None,
    max_bytes: int = MAX_REPORT_BYTES,
) -> Iterator[TestResult]:
    """Yield one :class:`TestResult` per attempt of each test case in a report.

    Args:
        source: a path (plain or gzip-compressed, recognised by its magic bytes) or the
            report's raw bytes.
        name: the file name used in errors and in ``TestResult.file``; default: the path
            as given (``"<bytes>"`` for bytes).
        max_bytes: refuse reports larger than this, raw or decompressed.

    Raises:
        ReportError: malformed or truncated XML, bad encoding, an unsupported root
            element, or an unknown outcome value in a dialect that defines them.
        HostileInputError: a DTD internal subset or entity declaration, an external DTD,
            or a report over ``max_bytes``.

    Attempts of the same (suite, classname, name) are numbered from 0 in file order:
    Surefire's ``flakyFailure``/``flakyError`` become failed attempts before the passing
    one, ``rerunFailure``/``rerunError`` failed attempts after the first failure, and a
    test case repeated in the file (retries written as separate ``<testcase>``) one
    attempt per occurrence.
    """
    if name is None:
        name = "<bytes>" if isinstance(source, (bytes, bytearray, memoryview)) else os.fspath(source)
    return _parse(source, name, max_bytes)


def _dialect_for(report: Report) -> Dialect | None:
    prolog = report.prolog
    if not prolog.root:
        _raise_lxml_error(report)
    local, namespace = report.local_root, report.namespace
    found = _DIALECTS.get((namespace, local)) or _DIALECTS.get(("*", local))
    if found is None and namespace and local in ("testsuites", "testsuite"):
        found = _DIALECTS[(None, local)]  # JUnit written with a namespace
    if found is None:
        shown = f"{{{namespace}}}{local}" if namespace else local
        raise ReportError(
            report.name,
            f"unsupported root element <{shown}>: expected one of {supported_roots()}",
            line=prolog.line,
        )
    return found[1]


def supported_roots() -> str:
    """The accepted root elements, for error messages and docs."""
    return ", ".join(f"<{root}> ({label})" for (_, root), (label, _) in _DIALECTS.items() if label)


def _raise_lxml_error(report: Report) -> None:
    """The prolog is not markup: let lxml name the problem and its line."""
    try:
        for _ in report.iterparse(events=("start",)):
            break
    except etree.XMLSyntaxError as exc:
        raise report.syntax_error(exc) from None
    raise ReportError(report.name, "not an XML document: expected an XML test report", line=report.prolog.line)


# --------------------------------------------------------------------------- JUnit


def _parse(source: Source, name: str, max_bytes: int) -> Iterator[TestResult]:
    for chunk in _chunks(source, name, max_bytes):
        yield from chunk


def read_columns(source: str | os.PathLike[str] | bytes, *, name: str | None = None,
                 max_bytes: int = MAX_REPORT_BYTES, rows: int | None = None) -> Iterator[ResultColumns]:
    """What :func:`parse_junit` reads, as :class:`~ciscope.model.ResultColumns` of at most
    about ``rows`` rows each (default: the whole report in one): the same rows, limits and
    refusals, without a :class:`TestResult` per passing test case."""
    if name is None:
        name = "<bytes>" if isinstance(source, (bytes, bytearray, memoryview)) else os.fspath(source)
    return _chunks(source, name, max_bytes, rows or _WHOLE)


_CHUNK_ROWS = 1 << 12  # rows per chunk that parse_junit hands over (a few MB)
_WHOLE = 1 << 62


def _chunks(source: Source, name: str, max_bytes: int, rows: int = _CHUNK_ROWS) -> Iterator[ResultColumns]:
    """Open the report, pick its dialect; JUnit is read here, in the hot loop where every
    statement runs once per test case (so it avoids the calls, allocations and generator
    delegation it can: see benchmarks/BENCHMARKS.md). A passing test case is three list
    appends (name, classname, time); suites and the file are kept per run of rows, and only
    test cases with children or a status make records (:func:`_with_outcome`)."""
    report = Report(source, name=name, max_bytes=max_bytes)
    try:
        reader = _dialect_for(report)
        if reader is not None:
            # none of the native formats writes retries as repeated records: a repeat is
            # another test of the same name (a parameterised test's rows, say)
            cols = ResultColumns()
            for record in reader(report, Attempts(retries=False)):
                cols.add(record)
            yield cols
            return
        attempts = Attempts()
        retries: bool | None = None  # decided from the root element at the first test case
        ns = report.namespace
        prefix = f"{{{ns}}}" if ns else ""
        testcase, testsuite = prefix + "testcase", prefix + "testsuite"
        kinds = {prefix + tag: kind for tag, kind in _CHILD_KINDS.items()}
        file = report.name
        not_passed = _NOT_PASSED_STATUSES
        inf = float("inf")
        live: set[int] = attempts.live
        live_add = live.add
        prior: Any = None
        last_parent: Any = None
        suite = path = ""
        since_drop = 0

        cols = ResultColumns()
        cols.files.append((0, file))
        names, classnames, durations = cols.name, cols.classname, cols.duration
        names_add, classnames_add, durations_add = names.append, classnames.append, durations.append
        numbered = cols.attempt  # attempt (retries) or occurrence (distinct repeats), by row
        row = 0
        try:
            for _, el in report.iterparse(tag=(testcase, testsuite)):
                if el.tag != testcase:  # a <testsuite> ended: free it and what came before
                    el.clear()
                    parent = el.getparent()
                    if parent is not None:
                        del parent[: parent.index(el)]
                    last_parent = None
                    continue
                get = el.get
                name = get("name") or ""
                classname = get("classname")
                if classname is None:
                    classname = get("class") or ""  # PHPUnit, some Ant writers
                duration: float | None
                text = get("time")
                if text is None:
                    duration = None
                else:  # parse_seconds, inline for a plain float in range (as good as a cache hit)
                    try:
                        duration = float(text)
                        if not 0.0 <= duration < inf:
                            duration = parse_seconds(text)
                    except ValueError:
                        duration = parse_seconds(text)
                parent = el.getparent()
                if parent is not last_parent:
                    if retries is None:
                        retries = attempts.retries = repeats_are_retries(el.getroottree().getroot())
                        numbered = cols.attempt if retries else cols.occurrence
                    last_parent = parent
                    suite, path = _suite_names(parent, testsuite)
                    cols.suites.append((row, suite, path))
                    attempts.switch(path or suite)  # nested suites: attempts per path of names
                    live, prior = attempts.live, attempts.prior
                    live_add = live.add
                outcome = get("status")
                if len(el) or (
                    outcome is not None and (outcome.lower() in not_passed or get("result") in _RESULT_SKIPS)
                ):
                    records = _with_outcome(el, name, classname, suite, duration, outcome, kinds, file)
                    number = attempts.number(hash((classname, name)))
                    details, attempt_of = cols.details, cols.attempt
                    for index, record in enumerate(records):
                        if retries:
                            if index:
                                number = attempts.number(hash((classname, name)))
                            if number:
                                attempt_of[row] = number
                        else:  # another test of the same name; its flaky/rerun children are its attempts
                            if index:
                                attempt_of[row] = index
                            if number:
                                cols.occurrence[row] = number
                        names_add(name)
                        classnames_add(classname)
                        durations_add(record.duration)
                        if record.status is not PASSED or record.failure_type is not None \
                                or record.failure_message is not None or record.failure_text is not None:
                            details[row] = (record.status, record.failure_type, record.failure_message,
                                            record.failure_text)
                        row += 1
                    live, prior = attempts.live, attempts.prior
                    live_add = live.add
                else:
                    key = hash((classname, name))
                    if key in live or prior is not None:  # a repeat, or a suite name seen before
                        attempt = attempts.number(key)
                        live, prior = attempts.live, attempts.prior
                        live_add = live.add
                        if attempt:
                            numbered[row] = attempt
                    else:
                        live_add(key)
                    names_add(name)
                    classnames_add(classname)
                    durations_add(duration)
                    row += 1
                since_drop += 1
                if since_drop == _DROP_EVERY:
                    since_drop = 0
                    if parent is not None:
                        # Only what precedes: lxml may already have parsed later siblings.
                        del parent[: parent.index(el)]
                    if len(live) > attempts.LIVE_LIMIT:
                        attempts.fold()
                        live, prior = attempts.live, attempts.prior
                        live_add = live.add
                    if row >= rows:  # hand over a chunk; the next one starts in the same suite
                        yield cols
                        cols = ResultColumns()
                        cols.files.append((0, file))
                        cols.suites.append((0, suite, path))
                        names, classnames, durations = cols.name, cols.classname, cols.duration
                        names_add, classnames_add, durations_add = names.append, classnames.append, durations.append
                        numbered = cols.occurrence if retries is False else cols.attempt
                        row = 0
        except etree.XMLSyntaxError as exc:
            raise report.syntax_error(exc) from None
        if not row:
            cols.files.clear()
            cols.suites.clear()
        yield cols
    finally:
        report.close()


_NOT_PASSED_STATUSES = _SKIP_STATUSES | _FAIL_STATUSES | _ERROR_STATUSES
# Root names jest-junit and mocha's reporters (mocha-junit-reporter, mocha's own xunit) write
# by default. Neither writes retries as repeated test cases (jest-junit and
# mocha-junit-reporter write a retried test once, with its last outcome), so in their reports
# two test cases of the same name in one suite are two tests (duplicate titles).
_DISTINCT_REPEAT_ROOTS = frozenset({"jest tests", "mocha tests"})


def repeats_are_retries(root: Any) -> bool:
    """Whether a JUnit report's repeated test cases (same suite, classname and name) are
    attempts of one test — OpenShift, pytest-rerunfailures, gotestsum ``--rerun-fails``,
    web-test-runner and most writers that repeat a test at all — or, for jest-junit and
    mocha reports (recognised by their default root name), distinct tests."""
    return (root.get("name") or "").strip().lower() not in _DISTINCT_REPEAT_ROOTS
# GoogleTest ≥ 1.10 writes status="run" result="skipped" (the <skipped> child came later)
_RESULT_SKIPS = frozenset({"skipped", "suppressed"})


SUITE_PATH_SEPARATOR = " / "


def _suite_names(parent: Any, testsuite: str) -> tuple[str, str]:
    """(name of the innermost enclosing <testsuite> that has one, the names of all named
    enclosing suites from the outermost, joined by " / ", when there are two or more: else "")."""
    names = []
    node = parent
    while node is not None:
        if node.tag == testsuite:
            suite_name = node.get("name")
            if suite_name:
                names.append(suite_name)
        node = node.getparent()
    if not names:
        return "", ""
    return names[0], SUITE_PATH_SEPARATOR.join(reversed(names)) if len(names) > 1 else ""


def _outcome_detail(element: Any, *, stack_trace_child: bool = False) -> tuple[str | None, str | None, str | None]:
    """(type, message, text) of a <failure>/<error>/<skipped>/<flakyFailure>… element."""
    text: str | None
    if len(element):
        if stack_trace_child:  # Surefire's flaky/rerun elements keep the trace in a child
            text = None
            for child in element:
                if isinstance(child.tag, str) and child.tag.endswith("stackTrace"):
                    text = child.text
                    break
            if text is None:
                text = element.text
        else:
            text = "".join(element.itertext())
    else:
        text = element.text
    if text is not None and not text.strip():
        text = None
    return element.get("type"), element.get("message"), text


def _with_outcome(
    el: Any,
    name: str,
    classname: str,
    suite: str,
    duration: float | None,
    status_attr: str | None,
    kinds: dict[Any, int],
    file: str,
) -> list[TestResult]:
    """Records of a test case that has child elements or a status attribute (slow path)."""
    failures: list[Any] = []
    errors: list[Any] = []
    skips: list[Any] = []
    before: list[tuple[Status, Any]] = []  # flaky attempts: happened before the final one
    after: list[tuple[Status, Any]] = []  # reruns: happened after the first one
    for child in el:
        kind = kinds.get(child.tag)
        if kind is None:
            continue
        if kind == _FAILURE:
            failures.append(child)
        elif kind == _ERROR:
            errors.append(child)
        elif kind == _SKIPPED:
            skips.append(child)
        elif kind == _FLAKY_FAILURE:
            before.append((FAILED, child))
        elif kind == _FLAKY_ERROR:
            before.append((ERROR, child))
        elif kind == _RERUN_FAILURE:
            after.append((FAILED, child))
        else:
            after.append((ERROR, child))

    records = [_retry(status, child, name, classname, suite, file) for status, child in before]
    status_value = status_attr.lower() if status_attr is not None else ""
    if status_value and el.get("result") in _RESULT_SKIPS:
        status_value = "skipped"
    # A failure outranks an error within one attempt (as in verdict_of); a status that
    # says the test did not run outranks both (tst, Catch2 and GoogleTest "disabled").
    outcome: list[Any]
    if status_value in _SKIP_STATUSES:
        status, outcome = SKIPPED, skips
    elif failures:
        status, outcome = FAILED, failures
    elif errors:
        status, outcome = ERROR, errors
    elif skips:
        status, outcome = SKIPPED, skips
    elif status_value in _FAIL_STATUSES:
        status, outcome = FAILED, []
    elif status_value in _ERROR_STATUSES:
        status, outcome = ERROR, []
    else:
        status, outcome = PASSED, []
    failure_type = failure_message = failure_text = None
    if outcome:
        failure_type, failure_message, failure_text = _outcome_detail(outcome[0])
        if len(outcome) > 1:  # several assertion failures in one attempt: keep every text
            texts = [text for _, _, text in map(_outcome_detail, outcome) if text]
            failure_text = "\n\n".join(texts) or None
    records.append(
        TestResult(name, status, classname, suite, duration, failure_type, failure_message,
                   cap_text(failure_text), 0, file)
    )
    records.extend(_retry(status, child, name, classname, suite, file) for status, child in after)
    return records


def _retry(status: Status, child: Any, name: str, classname: str, suite: str, file: str) -> TestResult:
    failure_type, failure_message, failure_text = _outcome_detail(child, stack_trace_child=True)
    return TestResult(name, status, classname, suite, parse_seconds(child.get("time")), failure_type,
                      failure_message, cap_text(failure_text), 0, file)


# --------------------------------------------------------------------------- identity


def qualify(results: list[TestResult]) -> list[TestResult]:
    """Give the records of ONE report the suite as ``scope`` where their test id would not
    tell them apart from other tests of the report (docs/junit.md, "Test identity"):

    1. a classname that is empty or repeats the name does not distinguish: in a report
       with more than one named suite, such records take their suite (jest-junit writes
       the test file as the suite, and same-named tests in different files are different
       tests);
    2. a test id that occurs in more than one suite of the report (the same class run
       once per browser, say) takes its suite in every one of them.

    A suite is named by its innermost name, or by its path of names (``outer / inner``, which
    :func:`parse_junit` leaves in ``scope`` for nested suites) where the same innermost name
    occurs under different outer suites of the report. Deterministic: it depends on the
    report alone. Returns ``results``, changed in place.
    """
    cols = ResultColumns.from_records(results)
    _qualify_columns(cols)
    for record, scope in zip(results, cols.scopes()):
        record.scope = scope
    return results


def _qualify_columns(cols: ResultColumns) -> None:
    """:func:`qualify` on a report's columns: the rule written once, per run of rows (one
    suite: nothing to do) and per row only where a report has several."""
    n = len(cols)
    segments = [seg for i, seg in enumerate(cols.suites)
                if (cols.suites[i + 1][0] if i + 1 < len(cols.suites) else n) > seg[0]]  # with rows
    under: dict[str, set[str]] = {}
    for _, suite, path in segments:
        under.setdefault(suite, set()).add(path or suite)
    keys_of = [(row, suite if len(under[suite]) == 1 else path or suite) for row, suite, path in segments]
    cols.suites = [(row, suite, "") for row, suite, _ in segments]
    cols.scope = {}
    cols._tests = None
    if len({key for _, key in keys_of}) < 2:  # one suite (most reports): no test id can be in several
        return
    keys = cols.expand(keys_of)
    names, classnames = cols.name, cols.classname
    loose = [not c or c == name for c, name in zip(classnames, names)]
    several = len({key for key, is_loose in zip(keys, loose) if key and is_loose}) > 1
    if several:
        cols.scope = {row: key for row, (key, is_loose) in enumerate(zip(keys, loose)) if key and is_loose}
    tests = cols.tests()
    suites_of: dict[str, set[str]] = {}
    for test, key in zip(tests, keys):
        suites_of.setdefault(test, set()).add(key)
    scope = cols.scope
    for row, (test, key) in enumerate(zip(tests, keys)):
        if key and row not in scope and len(suites_of[test]) > 1:
            scope[row] = key
    cols._tests = None


def read_reports(reports: Iterable[tuple[str | os.PathLike[str], str]], *,
                 refused: list[InputError] | None = None) -> ResultColumns:
    """Every attempt in the reports of ONE run: ``(path, file)`` pairs, ``file`` being what
    each result's ``file`` says (the path relative to the run folder, say). Each report's
    records are :func:`qualify`-ed; then the attempts of one test (one test id) are
    numbered from 0 across the reports, in the order given: the same test in two reports
    of one run was run twice (Bazel's ``test_attempts``, a job that reruns its failures).

    With ``refused``, a report that cannot be read is appended there (with its reason) and
    left out — none of its tests gets a result — instead of refusing the whole run.

    Returns columns (a sequence of :class:`TestResult` for who wants records)."""
    results = ResultColumns()
    for path, file in reports:
        try:
            [cols] = read_columns(path, name=os.fspath(path))
        except InputError as exc:
            if refused is None:
                raise
            refused.append(exc)
            continue
        _qualify_columns(cols)
        cols.set_file(file)
        results.extend(cols)
    tests = results.tests()
    attempt: dict[int, int] = {}
    if len(set(tests)) != len(tests):  # some test ran more than once
        seen: dict[str, int] = {}
        for row, key in enumerate(tests):
            number = seen.get(key, 0)
            if number:
                attempt[row] = number
            seen[key] = number + 1
    results.attempt = attempt
    return results


# --------------------------------------------------------------------------- dialects

# (namespace or None, root element local name) → (label, reader). Labels are shown in the
# "unsupported root element" error and in docs/junit.md.
_DIALECTS: dict[tuple[str | None, str], tuple[str, Dialect | None]] = {
    (None, "testsuites"): ("JUnit", None),  # read by _parse itself
    (None, "testsuite"): ("JUnit", None),
    **xunit_dialects.DIALECTS,
}
