"""Run lists and per-test pass rates with Sippy's definitions.

For one (job, test): ``runs = passed + failed + flaked`` (skipped runs do not count; an
``error`` verdict counts as failed), ``pass_rate = passed / runs``,
``working_rate = (passed + flaked) / runs`` and ``flake_rate = flaked / runs``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..store.base import Store


def list_runs(store: Store, /, *, job: str | None = None, since: datetime | None = None,
              limit: int | None = None) -> list[dict[str, Any]]:
    """Runs, newest first: {job, build, status, started_at, finished_at, commit, tests,
    failed_tests, flaked_tests}."""
    where, params = _where(job=job, since=since, time_column="started_at")
    sql = (
        "SELECT job, build, status, started_at, finished_at, commit_sha AS commit, tests,"
        " failed_tests, flaked_tests FROM runs"
        f"{where} ORDER BY started_at DESC NULLS LAST, job, build"
    )
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return store.query_dicts(sql, params)


def stats_by_test(store: Store, /, *, job: str | None = None, since: datetime | None = None
               ) -> list[dict[str, Any]]:
    """Per (job, test) counts and rates, worst pass rate first."""
    where, params = _where(job=job, since=since, time_column="started_at")
    sql = f"""
        SELECT job, test,
               passed + failed + flaked AS runs, passed, failed, flaked, skipped
        FROM (
            SELECT job, test,
                   sum(CASE WHEN verdict = 'passed' THEN 1 ELSE 0 END) AS passed,
                   sum(CASE WHEN verdict IN ('failed', 'error') THEN 1 ELSE 0 END) AS failed,
                   sum(CASE WHEN verdict = 'flaky' THEN 1 ELSE 0 END) AS flaked,
                   sum(CASE WHEN verdict = 'skipped' THEN 1 ELSE 0 END) AS skipped
            FROM test_verdicts{where}
            GROUP BY job, test
        ) AS counts
        ORDER BY job, test
    """
    rows = store.query(sql, params)
    out = []
    for job_name, test, runs, passed, failed, flaked, skipped in rows:
        runs, passed, failed, flaked, skipped = (int(x) for x in (runs, passed, failed, flaked, skipped))
        out.append(
            {
                "job": job_name,
                "test": test,
                "runs": runs,
                "passed": passed,
                "failed": failed,
                "flaked": flaked,
                "skipped": skipped,
                "pass_rate": _ratio(passed, runs),
                "working_rate": _ratio(passed + flaked, runs),
                "flake_rate": _ratio(flaked, runs),
            }
        )
    out.sort(key=lambda r: (r["pass_rate"] if r["pass_rate"] is not None else 2.0, r["job"], r["test"]))
    return out


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def _where(*, job: str | None, since: datetime | None, time_column: str) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if job is not None:
        clauses.append("job = ?")
        params.append(job)
    if since is not None:
        clauses.append(f"{time_column} >= ?")
        params.append(since.replace(tzinfo=None))
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
