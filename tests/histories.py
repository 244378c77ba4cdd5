"""Build run histories from compact patterns, for analysis tests.

Each test's history is a string, one character per run, oldest first: ``P`` pass, ``F``
fail, ``R`` failed then passed on retry (flaky), ``X`` failed twice (retried, reproduced),
``S`` skipped, ``.`` absent.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ciscope.model import Run, RunStatus, Status, TestResult

T0 = datetime(2026, 10, 1, tzinfo=timezone.utc)
_ATTEMPTS = {"P": [Status.PASSED], "F": [Status.FAILED], "R": [Status.FAILED, Status.PASSED],
             "X": [Status.FAILED, Status.FAILED],
             "S": [Status.SKIPPED], ".": []}


def history_runs(patterns: dict[str, str], *, job: str = "e2e", hours: float = 6.0,
                 commits: list[str] | None = None, filler: int = 20) -> list[Run]:
    """Runs of ``job``: run i starts at T0 + i·hours on commits[i] (default: one per run).
    ``filler`` always-passing tests keep every run from looking like an infrastructure failure."""
    length = max(len(p) for p in patterns.values())
    runs = []
    for i in range(length):
        results = []
        for test, pattern in patterns.items():
            code = pattern[i] if i < len(pattern) else "."
            for attempt, status in enumerate(_ATTEMPTS[code]):
                results.append(TestResult(name=test, status=status, attempt=attempt, duration=1.0,
                                          failure_message="boom" if status is Status.FAILED else None))
        results += [TestResult(name=f"filler {k}", status=Status.PASSED) for k in range(filler)]
        failed = any(r.status is Status.FAILED for r in results if not any(
            o.name == r.name and o.status is Status.PASSED for o in results))
        runs.append(Run(job=job, build=f"{1000 + i}", status=RunStatus.FAILURE if failed else RunStatus.SUCCESS,
                        started_at=T0 + timedelta(hours=hours * i),
                        commit=(commits[i] if commits else f"sha{i:04d}"), results=results))
    return runs
