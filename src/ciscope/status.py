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


class RetriggerDecision(str, enum.Enum):
    """What ``ciscope retrigger`` decided for a failed run (the ``retriggers`` log)."""

    RETRIGGER = "retrigger"  # retriggered (its action performed)
    SKIP = "skip"  # left alone, the reason says why
    DRY_RUN = "dry_run"  # would have been retriggered: a dry run, or retriggering is disabled
    FAILED = "failed"  # retriggered, but the action failed


# The groupings every reader shares (SQL fragments of them: :mod:`ciscope.queries.rules`).
# Tuples, not sets: a member equals its value (``"error" in FAILED_RUN_STATUSES``), which a
# set lookup would miss (a member hashes by its name).

#: a failed attempt: failed or errored
FAILED_STATUSES: tuple[Status, ...] = (Status.FAILED, Status.ERROR)
#: a test that failed in a run: an ``error`` verdict counts as failed
FAILED_VERDICTS: tuple[Verdict, ...] = (Verdict.FAILED, Verdict.ERROR)
#: a test in trouble in a run, what a known bug can explain: it failed or flaked
TROUBLED_VERDICTS: tuple[Verdict, ...] = (*FAILED_VERDICTS, Verdict.FLAKY)
#: a test that passed in the end (its duration counts): passed or flaky
PASSING_VERDICTS: tuple[Verdict, ...] = (Verdict.PASSED, Verdict.FLAKY)
#: a failed run: its tests failed, or the infrastructure did
FAILED_RUN_STATUSES: tuple[RunStatus, ...] = (RunStatus.FAILURE, RunStatus.ERROR)
#: a run that did not end on its own: still running, or stopped
UNENDED_RUN_STATUSES: tuple[RunStatus, ...] = (RunStatus.PENDING, RunStatus.ABORTED)
#: a run the history analyses never count: unended, or the job broke
UNFINISHED_RUN_STATUSES: tuple[RunStatus, ...] = (RunStatus.PENDING, RunStatus.ERROR, RunStatus.ABORTED)
#: a retrigger made or tried: what the bounds (``max_per_run``, ``max_per_commit``) count
TRIED_RETRIGGERS: tuple[RetriggerDecision, ...] = (RetriggerDecision.RETRIGGER, RetriggerDecision.FAILED)
