"""Records and enums shared by every layer: what a job run and a test result are.

Data flows one way: sources → ingest → store → analysis → interfaces. The ingest modules
produce these records; the store persists them; nothing here knows about a database.

Vocabulary (Sippy's): a *job* runs many times; each *run* (Prow calls it a build) has a
status and produces *test results*. A test may be attempted several times in one run
(retries); every attempt is one :class:`TestResult`, and one :class:`Verdict` per test per
run is derived from its attempts by :func:`verdict_of`.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .ingest.disruption import RunDisruption


class Status(str, enum.Enum):
    """Outcome of one attempt of one test."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"


class Verdict(str, enum.Enum):
    """One outcome per test per run, derived from all of its attempts."""

    PASSED = "passed"
    FAILED = "failed"
    FLAKY = "flaky"  # failed (or errored) and passed in the same run
    SKIPPED = "skipped"
    ERROR = "error"


class RunStatus(str, enum.Enum):
    """Outcome of a whole run (Prow's finished.json `result`, lower-cased)."""

    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"  # infrastructure error: the job could not run its tests
    ABORTED = "aborted"
    PENDING = "pending"  # started.json without finished.json: still running (or lost)


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
    results: list[TestResult] = field(default_factory=list)
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
_FAILING = {Status.FAILED, Status.ERROR}


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
    return any(v in (Verdict.FAILED, Verdict.ERROR) for v in verdicts_of(results).values())


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
