"""Records and enums shared by every layer: what a job run and a test result are.

Data flows one way: sources → ingest → store → analysis → interfaces. The ingest modules
produce these records; the store persists them; nothing here knows about a database.

Vocabulary (Sippy's): a *job* runs many times; each *run* (Prow calls it a build) has a
status and produces *test results*. A test may be attempted several times in one run
(retries); every attempt is one :class:`TestResult`, and one :class:`Verdict` per test per
run is derived from its attempts by :func:`verdict_of`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .clock import naive_utc as naive_utc  # the one definition, re-exported
from .status import FAILED_STATUSES, FAILED_VERDICTS
from .status import RunStatus as RunStatus  # the enums live apart: light to import (the CLI's options)
from .status import Status as Status
from .status import Verdict as Verdict

if TYPE_CHECKING:
    from .ingest.disruption import RunDisruption


@dataclass(slots=True)
class TestResult:
    """One attempt of one test case, as a report file states it.

    ``name`` is the test case name; ``classname`` the JUnit ``classname`` attribute and
    ``suite`` the enclosing ``<testsuite name>``. ``attempt`` numbers the attempts of the
    same test (same :attr:`test_id`) within one run from 0 in file order; parsers that see
    Surefire's ``flakyFailure``/``rerunFailure`` emit those as attempts too.

    ``scope`` and ``occurrence`` are set by the reader only where classname and name do not
    tell a test apart from other tests of its report (docs/junit.md, "Test identity"):
    ``scope`` is then the suite (jest-junit: the test file; ``outer / inner`` for nested
    suites whose inner name recurs), ``occurrence`` numbers distinct tests of the same name in
    one suite from 0 (in formats where a repeat is not a retry).
    """

    __test__ = False  # not a pytest test class

    name: str
    status: Status
    classname: str = ""
    suite: str = ""
    duration: float | None = None  # seconds
    failure_type: str | None = None
    failure_message: str | None = None
    failure_text: str | None = None
    attempt: int = 0
    file: str = ""  # report file it came from, relative to the run folder when known
    scope: str = ""  # the suite, when it is needed to tell this test from others (see test_id)
    occurrence: int = 0  # distinct tests of the same scope, classname and name in one report, from 0

    @property
    def test_id(self) -> str:
        """The name a test is known by across runs: see :func:`test_id`."""
        return test_id(self.classname, self.name, self.scope, self.occurrence)


def test_id(classname: str, name: str, scope: str = "", occurrence: int = 0) -> str:
    """Stable identity of a test across runs: ``classname.name`` when a classname exists
    and the name does not already start with it, else the name; prefixed by ``scope::``
    when a scope is given and suffixed by `` #k`` (k = occurrence + 1) from the second
    distinct test of the same name on. The only definition: the store's ``test`` column
    is computed with it too.

    >>> test_id("pkg.C", "t"), test_id("", "renders", "src/a.test.js"), test_id("C", "t", "", 1)
    ('pkg.C.t', 'src/a.test.js::renders', 'C.t #2')
    """
    test = f"{classname}.{name}" if classname and not name.startswith(classname) else name
    if scope:
        test = f"{scope}::{test}"
    if occurrence:
        test = f"{test} #{occurrence + 1}"
    return test


test_id.__test__ = False  # type: ignore[attr-defined]


def qualifiers(test: str, classname: str, name: str) -> tuple[str, int]:
    """The ``(scope, occurrence)`` with which :func:`test_id` gives the stored id ``test``
    for this classname and name (to rebuild a :class:`TestResult` from the store);
    ``("", 0)`` when there is none.

    >>> qualifiers("src/a.test.js::renders #2", "", "renders")
    ('src/a.test.js', 1)
    """
    base = test_id(classname, name)
    head, sep, number = test.rpartition(" #")
    numbered = [(head, int(number) - 1)] if sep and number.isdigit() and int(number) >= 2 else []
    for text, occurrence in [(test, 0), *numbered]:
        if text == base:
            scope = ""
        elif text.endswith(f"::{base}"):
            scope = text[: -len(base) - 2]
        else:
            continue
        if test_id(classname, name, scope, occurrence) == test:
            return scope, occurrence
    return "", 0


def plain_test_id(test_id: str) -> str:
    """A test id without tempest-style attributes (``test_x[id-3e41…,smoke]`` → ``test_x``):
    how fingerprints' ``test_ids`` name tests."""
    return test_id.split("[", 1)[0] if test_id.endswith("]") else test_id


@dataclass(slots=True)
class Evidence:
    """A fingerprint (known bug) matched a line of a run's log or a test's failure text."""

    bug: str
    file: str  # log path relative to the run folder, or "junit" for a test's failure text
    line: int | None
    text: str  # the matched line, at most 1 KiB
    test: str | None = None
    #: a match in the run's logs explains the failures of these tests (its fingerprint's
    #: ``test_ids``); not stored in ``matches`` (the ``fingerprints`` table keeps them)
    explains: tuple[str, ...] = ()


@dataclass(slots=True, frozen=True)
class LifecycleEvent:
    """A waypoint of a run's journey (requested, queued, pulled, flash_start …): when the source
    emitted it and when the collector received it (None when the same), and where it happened.
    ``iteration`` numbers repeats of one event name in one run from 0 (flash retries)."""

    event: str
    emitted_at: datetime
    received_at: datetime | None = None
    worker: str | None = None
    device_group: str | None = None
    requestor: str | None = None
    iteration: int = 0


@dataclass(slots=True)
class Run:
    """One run of one job, with its metadata and (after ingest) its test results."""

    job: str
    build: str
    status: RunStatus
    started_at: datetime | None = None
    finished_at: datetime | None = None
    commit: str | None = None
    branch: str | None = None  # branch or release
    pr: str | None = None  # "org_repo#123" for presubmit runs
    worker: str | None = None  # host, node or cluster the run executed on
    url: str | None = None
    variants: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, object] = field(default_factory=dict)
    #: a list of records, or the columns a reader wrote (:class:`ResultColumns`, a sequence of records too)
    results: Sequence[TestResult] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)  # paths of logs kept for later matching
    evidence: list[Evidence] = field(default_factory=list)  # known-bug matches found at ingest
    events: list[LifecycleEvent] = field(default_factory=list)  # lifecycle events (docs/timing.md)
    source: str = ""  # folder or file it was ingested from
    disruption: RunDisruption | None = None  # OpenShift disruption/alert artifacts (docs/disruption.md)

    @property
    def run_id(self) -> int:
        return run_id(self.job, self.build)


def run_id(job: str, build: str) -> int:
    """Deterministic 63-bit id of a run: the same (job, build) always gets the same id,
    whatever the engine or the order of ingestion."""
    digest = hashlib.blake2b(f"{job}\x00{build}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


_PASSING = {Status.PASSED}
_FAILING = set(FAILED_STATUSES)


def verdicts_of(results: Iterable[TestResult]) -> dict[str, Verdict]:
    """The verdict of every test of one run (its attempts folded by :func:`verdict_of`),
    by test id."""
    statuses: dict[str, set[Status]] = {}
    for result in results:
        statuses.setdefault(result.test_id, set()).add(result.status)
    return {test: verdict_of(seen) for test, seen in statuses.items()}


def run_failed(results: Iterable[TestResult]) -> bool:
    """Whether some test of a run ended failed or in error: a test that failed and then
    passed on a retry is flaky, and a run whose only failures are flakes is green (what
    Maven Surefire's ``rerunFailingTestsCount`` reports as a success with flakes)."""
    return any(v in FAILED_VERDICTS for v in verdicts_of(results).values())


def verdict_of(statuses: Iterable[Status]) -> Verdict:
    """Fold the attempts of one test in one run into one verdict.

    A pass and a failure (or error) in the same run is ``flaky``; otherwise any failure
    wins over an error, an error over a pass, a pass over a skip.
    """
    seen = set(statuses)
    if seen & _PASSING and seen & _FAILING:
        return Verdict.FLAKY
    if Status.FAILED in seen:
        return Verdict.FAILED
    if Status.ERROR in seen:
        return Verdict.ERROR
    if Status.PASSED in seen:
        return Verdict.PASSED
    return Verdict.SKIPPED


_STATUS_OF = {s.value: s for s in Status}


class ResultColumns(Sequence[TestResult]):
    """Test results as columns: what the readers write and the store appends, without one
    Python object per passing test (issue 13).

    Dense per row: ``name``, ``classname``, ``duration``. By runs of rows: ``suites``
    (``(first row, suite, path)``; ``path`` is the ``outer / inner`` names of nested suites,
    the scope :func:`ciscope.ingest.junit.qualify` starts from, "" once qualified) and
    ``files`` (``(first row, file)``). Sparse, by row: ``details`` (status, failure type,
    message and text) of every row that did not simply pass, ``attempt``, ``occurrence``
    and ``scope`` where they are not 0 / "". A row without details passed.

    It is a sequence of :class:`TestResult`: indexing or iterating makes the records (new
    objects each time: change the columns, not them), for the consumers that want records.
    """

    __slots__ = ("name", "classname", "duration", "suites", "files", "details", "attempt", "occurrence", "scope",
                 "_tests")

    def __init__(self) -> None:
        self.name: list[str] = []
        self.classname: list[str] = []
        self.duration: list[float | None] = []
        self.suites: list[tuple[int, str, str]] = []
        self.files: list[tuple[int, str]] = []
        self.details: dict[int, tuple[Status, str | None, str | None, str | None]] = {}
        self.attempt: dict[int, int] = {}
        self.occurrence: dict[int, int] = {}
        self.scope: dict[int, str] = {}
        self._tests: list[str] | None = None

    # -- building ------------------------------------------------------------------------
    @classmethod
    def from_records(cls, records: Iterable[TestResult]) -> ResultColumns:
        cols = cls()
        for record in records:
            cols.add(record)
        return cols

    def add(self, r: TestResult) -> None:
        """Append one record (the general, slower path: readers append passing rows to the
        columns directly)."""
        row = len(self.name)
        self.name.append(r.name)
        self.classname.append(r.classname)
        self.duration.append(r.duration)
        suites = self.suites
        if not suites or suites[-1][1] != r.suite or suites[-1][2] != r.scope:
            suites.append((row, r.suite, r.scope))
        if not self.files or self.files[-1][1] != r.file:
            self.files.append((row, r.file))
        if r.status is not Status.PASSED or r.failure_type is not None or r.failure_message is not None \
                or r.failure_text is not None:
            self.details[row] = (r.status, r.failure_type, r.failure_message, r.failure_text)
        if r.attempt:
            self.attempt[row] = r.attempt
        if r.occurrence:
            self.occurrence[row] = r.occurrence
        self._tests = None

    def extend(self, other: ResultColumns) -> None:
        """Append another's rows (a run made of several reports)."""
        base = len(self.name)
        self.name += other.name
        self.classname += other.classname
        self.duration += other.duration
        self.suites += [(row + base, suite, path) for row, suite, path in other.suites]
        self.files += [(row + base, file) for row, file in other.files]
        self.details.update({row + base: value for row, value in other.details.items()})
        self.attempt.update({row + base: value for row, value in other.attempt.items()})
        self.occurrence.update({row + base: value for row, value in other.occurrence.items()})
        self.scope.update({row + base: value for row, value in other.scope.items()})
        self._tests = None

    def set_file(self, file: str) -> None:
        """Every row came from ``file``."""
        self.files = [(0, file)] if self.name else []

    # -- reading ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.name)

    def expand(self, runs: Sequence[tuple[Any, ...]], item: int = 1) -> list[str]:
        """A column kept by runs of rows (``suites``, ``files``: ``(first row, value, …)``),
        one value per row."""
        out: list[str] = []
        n = len(self.name)
        for i, entry in enumerate(runs):
            end: int = runs[i + 1][0] if i + 1 < len(runs) else n
            out += [entry[item]] * (end - entry[0])
        return out if runs else [""] * n

    def paths(self) -> list[str]:
        return self.expand(self.suites, 2)

    def scopes(self) -> list[str]:
        """The ``scope`` of each row: as qualified, else the nested suites' path."""
        out = self.paths()
        for row, scope in self.scope.items():
            out[row] = scope
        return out

    def statuses(self) -> list[str]:
        out = ["passed"] * len(self.name)
        for row, detail in self.details.items():
            out[row] = detail[0].value
        return out

    def tests(self) -> list[str]:
        """The :func:`test_id` of each row (computed once, then cached)."""
        if self._tests is None:
            tests = [f"{c}.{n}" if c and not n.startswith(c) else n for c, n in zip(self.classname, self.name)]
            special = set(self.occurrence) | set(self.scope)
            scopes = self.scopes() if any(path for _, _, path in self.suites) else None
            if scopes is not None:
                special.update(row for row, scope in enumerate(scopes) if scope)
            for row in special:
                scope = scopes[row] if scopes is not None else self.scope.get(row, "")
                tests[row] = test_id(self.classname[row], self.name[row], scope, self.occurrence.get(row, 0))
            self._tests = tests
        return self._tests

    def failed_rows(self) -> list[int]:
        """Rows that failed or errored, in order."""
        return sorted(row for row, d in self.details.items() if d[0] is Status.FAILED or d[0] is Status.ERROR)


    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        if isinstance(index, slice):
            return [self._record(i) for i in range(*index.indices(len(self.name)))]
        if index < 0:
            index += len(self.name)
        if not 0 <= index < len(self.name):
            raise IndexError(index)
        return self._record(index)

    def _at(self, runs: Sequence[tuple[Any, ...]], row: int) -> tuple[str, ...]:
        found: tuple[str, ...] = ("", "", "")
        for entry in runs:
            if entry[0] > row:
                break
            found = entry[1:]
        return found

    def _record(self, row: int) -> TestResult:
        suite, path = self._at(self.suites, row)[:2]
        file = self._at(self.files, row)[0]
        return self._make(row, suite, self.scope.get(row, path), file)

    def _make(self, row: int, suite: str, scope: str, file: str) -> TestResult:
        detail = self.details.get(row)
        status, ftype, message, text = detail if detail is not None else (Status.PASSED, None, None, None)
        return TestResult(self.name[row], status, self.classname[row], suite, self.duration[row], ftype, message,
                          text, self.attempt.get(row, 0), file, scope, self.occurrence.get(row, 0))

    def __iter__(self) -> Iterator[TestResult]:
        suites = self.expand(self.suites, 1)
        scopes = self.scopes()
        files = self.expand(self.files, 1)
        make = self._make
        for row in range(len(self.name)):
            yield make(row, suites[row], scopes[row], files[row])


def failed_attempts(results: Sequence[TestResult]) -> list[TestResult]:
    """The attempts that failed or errored, in order: from columns, without making a record
    per passing test."""
    if isinstance(results, ResultColumns):
        return [results[row] for row in results.failed_rows()]
    return [r for r in results if r.status is Status.FAILED or r.status is Status.ERROR]
