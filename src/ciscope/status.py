"""The outcome vocabularies: of a test attempt (:class:`Status`), of a test in a run
(:class:`Verdict`) and of a run (:class:`RunStatus`). Re-exported by :mod:`ciscope.model`;
kept in their own module so that the command line can name them without loading the records."""

from __future__ import annotations

import enum


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
