"""Which runs a report reads, and what "now" is.

Every read command takes the same filters (``--job``, ``--days``, ``--since``, ``--until``,
``--branch``, ``--variant KEY=VALUE``, ``--test REGEX``); they become one :class:`Window`,
and every query builds its WHERE clause from it here — nowhere else.

**Now** is the start of the newest run in the store (:func:`now`), whatever the job: a
history that stopped (a demo, an export, a TestGrid dump) reads the same today as the day it
was taken, and a live store's newest run is minutes old. ``--days N`` means the N days
before now; ``--until`` replaces now. Times are UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..clock import naive_utc
from ..errors import UsageError

if TYPE_CHECKING:
    from ..store.base import Store

__all__ = ["Window", "naive_utc", "now"]


def now(store: Store) -> datetime | None:
    """The one "now" of every report: the start of the newest run in the store (naive UTC),
    or None for an empty store."""
    (latest,) = store.query("SELECT max(started_at) FROM runs")[0]
    return naive_utc(latest)


@dataclass(frozen=True)
class Window:
    """Filters on runs (and tests) shared by every report.

    ``since`` (inclusive) and ``until`` (exclusive) bound the run's start; ``days`` counts back
    from ``until``, else from :func:`now`. ``variants`` must all hold; ``test`` is a regular
    expression searched in test ids (the common subset of Python's, RE2's and POSIX syntax)."""

    job: str | None = None
    days: float | None = None
    since: datetime | None = None
    until: datetime | None = None
    branch: str | None = None
    variants: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    test: str | None = None

    def __post_init__(self) -> None:
        if self.days is not None and self.since is not None:
            raise UsageError("give --days or --since, not both")
        if self.days is not None and self.days <= 0:
            raise UsageError(f"--days {self.days:g}: expected a positive number of days")
        if self.since and self.until and naive_utc(self.since) >= naive_utc(self.until):  # type: ignore[operator]
            raise UsageError(f"--since {self.since.isoformat()} is not before --until {self.until.isoformat()}")
        if self.test is not None:
            try:
                re.compile(self.test)
            except re.error as exc:
                raise UsageError(f"--test {self.test!r}: not a regular expression ({exc})") from None

    def replace(self, **changes: Any) -> Window:
        from dataclasses import replace

        return replace(self, **changes)

    def bounds(self, store: Store) -> tuple[datetime | None, datetime | None]:
        """(since, until) as naive UTC; ``days`` resolved against ``until`` or :func:`now`."""
        until = naive_utc(self.until)
        since = naive_utc(self.since)
        if self.days is not None:
            end = until or now(store)
            since = end - timedelta(days=self.days) if end is not None else None
        return since, until

    def run_clauses(self, store: Store, *, runs: str = "r", job: str | None = None,
                    started: str | None = None, has_branch: bool = True) -> tuple[list[str], list[Any]]:
        """WHERE clauses (and parameters) selecting runs, over a table aliased ``runs`` with a
        ``run_id`` column (``runs`` itself, or ``test_verdicts``, which carries copies of
        ``job`` and ``started_at`` to spare a join on hot paths: name them with ``job`` and
        ``started``). Without a ``branch`` column (``has_branch=False``) the branch filter
        asks the run."""
        job_col = job or f"{runs}.job"
        time_col = started or f"{runs}.started_at"
        clauses: list[str] = []
        params: list[Any] = []
        if self.job is not None:
            clauses.append(f"{job_col} = ?")
            params.append(self.job)
        since, until = self.bounds(store)
        if since is not None:
            clauses.append(f"{time_col} >= ?")
            params.append(since)
        if until is not None:
            clauses.append(f"{time_col} < ?")
            params.append(until)
        if self.branch is not None:
            clauses.append(f"{runs}.branch = ?" if has_branch else
                           f"EXISTS (SELECT 1 FROM runs rb WHERE rb.run_id = {runs}.run_id AND rb.branch = ?)")
            params.append(self.branch)
        for key, value in self.variants:
            clauses.append(f"EXISTS (SELECT 1 FROM run_variants rv WHERE rv.run_id = {runs}.run_id"
                           " AND rv.key = ? AND rv.value = ?)")
            params.extend([key, value])
        return clauses, params

    def test_clauses(self, store: Store, column: str) -> tuple[list[str], list[Any]]:
        """The ``test`` filter on a column of test ids."""
        if self.test is None:
            return [], []
        return [store.regex_sql(column)], [self.test]

    def where(self, store: Store, *, runs: str = "r", job: str | None = None, started: str | None = None,
              has_branch: bool = True, test: str | None = None, extra: list[str] | None = None,
              extra_params: list[Any] | None = None) -> tuple[str, list[Any]]:
        """`` WHERE …`` (or ``""``) of the run clauses, the test clause on ``test`` when given,
        and ``extra`` clauses first."""
        clauses, params = list(extra or []), list(extra_params or [])
        c, p = self.run_clauses(store, runs=runs, job=job, started=started, has_branch=has_branch)
        clauses += c
        params += p
        if test is not None:
            c, p = self.test_clauses(store, test)
            clauses += c
            params += p
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
