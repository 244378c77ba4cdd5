"""One test's history across every job: its runs, newest first, and its pass and flake rates
per job and per day (Sippy's definitions, as :mod:`ciscope.analysis.stats`).

This is what the dashboard's test page (``/tests/{test}``) and ``/api/tests/{test}`` show.
No SQL here: the counts, runs and messages are read by :mod:`ciscope.queries.history`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from ..errors import NotFoundError
from ..queries.history import counts_of_test, failure_messages_of_test, runs_of_test
from ..status import TROUBLED_VERDICTS
from ..store.base import Store
from .stats import _ratio

__all__ = ["DayRates", "JobRates", "TestHistory", "TestRun", "history_of_test"]


@dataclass(frozen=True)
class TestRun:
    """The test's verdict in one run."""

    __test__ = False  # not a pytest test class

    job: str
    build: str
    started_at: datetime | None
    verdict: str
    attempts: int
    duration: float | None
    message: str  # first line of the first failed attempt's message or output, else ""


@dataclass(frozen=True)
class JobRates:
    """Counts and rates of the test in one job (``runs = passed + failed + flaked``)."""

    job: str
    runs: int
    passed: int
    failed: int
    flaked: int
    skipped: int
    pass_rate: float | None
    flake_rate: float | None
    last_run: datetime | None


@dataclass(frozen=True)
class DayRates:
    """Counts and rates of the test in one job on one UTC day."""

    day: date
    job: str
    runs: int
    passed: int
    failed: int
    flaked: int
    pass_rate: float | None
    flake_rate: float | None
    mean_duration: float | None


@dataclass(frozen=True)
class TestHistory:
    __test__ = False  # not a pytest test class

    test: str
    jobs: list[JobRates]
    days: list[DayRates]
    runs: list[TestRun]  # newest first, at most ``limit``
    total_runs: int  # runs with a verdict for this test, in every job (skipped included)


def history_of_test(store: Store, test: str, /, *, job: str | None = None, limit: int | None = 200) -> TestHistory:
    """The history of ``test`` (its id, as listed by ``ciscope tests``), optionally in one job.

    Raises :class:`NotFoundError` when no run of the store (or of ``job``) has the test.
    """
    jobs = []
    total = 0
    per_job, per_day = counts_of_test(store, test, job=job)
    for name, passed, failed, flaked, skipped, last in per_job:
        passed, failed, flaked, skipped = int(passed), int(failed), int(flaked), int(skipped)
        runs = passed + failed + flaked
        total += runs + skipped
        jobs.append(JobRates(job=name, runs=runs, passed=passed, failed=failed, flaked=flaked, skipped=skipped,
                             pass_rate=_ratio(passed, runs), flake_rate=_ratio(flaked, runs), last_run=last))
    if not jobs:
        raise NotFoundError(f"{test}: no such test" + (f" in job {job!r}" if job else "")
                            + " (test ids as listed by `ciscope tests`)")
    days = []
    for day, name, passed, failed, flaked, _skipped, mean in per_day:
        passed, failed, flaked = int(passed), int(failed), int(flaked)
        runs = passed + failed + flaked
        days.append(DayRates(day=day, job=name, runs=runs, passed=passed, failed=failed, flaked=flaked,
                             pass_rate=_ratio(passed, runs), flake_rate=_ratio(flaked, runs),
                             mean_duration=None if mean is None else round(float(mean), 3)))
    rows = runs_of_test(store, test, job=job, limit=limit)
    messages: dict[int, str] = {}
    failing = [r["run_id"] for r in rows if r["verdict"] in TROUBLED_VERDICTS]
    if failing:
        for run_id, message, text in failure_messages_of_test(store, test, failing):
            messages.setdefault(run_id, (message or text or "").strip().split("\n", 1)[0][:500])
    runs_out = [TestRun(job=r["job"], build=r["build"], started_at=r["started_at"], verdict=r["verdict"],
                        attempts=int(r["attempts"]), duration=r["duration"], message=messages.get(r["run_id"], ""))
                for r in rows]
    return TestHistory(test=test, jobs=jobs, days=days, runs=runs_out, total_runs=total)
