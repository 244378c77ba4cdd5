"""Run lists and per-test pass rates with Sippy's definitions.

For one (job, test): ``runs = passed + failed + flaked`` (skipped runs do not count; an
``error`` verdict counts as failed), ``pass_rate = passed / runs``,
``working_rate = (passed + flaked) / runs`` and ``flake_rate = flaked / runs``.
"""

from __future__ import annotations

from typing import Any

from ..queries.window import Window
from ..store.base import Store


def list_runs(store: Store, /, *, window: Window | None = None, limit: int | None = None,
              offset: int = 0, reasons: bool = True) -> list[dict[str, Any]]:
    """Runs of ``window``, newest first: {job, build, status, started_at, finished_at, commit,
    tests, failed_tests, flaked_tests, reason}; ``reason``: the structured failure reason of a
    failed or incomplete run (:mod:`ciscope.analysis.failure_reason`), else null (left out
    with ``reasons=False``). With a ``test`` filter: runs with a verdict of a matching test."""
    where, params = _runs_where(store, window or Window())
    sql = (
        "SELECT r.run_id, r.job, r.build, r.status, r.started_at, r.finished_at, r.commit_sha AS commit, r.tests,"
        " r.failed_tests, r.flaked_tests FROM runs r"
        f"{where} ORDER BY r.started_at DESC NULLS LAST, r.job, r.build"
    )
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    if offset:
        sql += f" OFFSET {int(offset)}"
    rows = store.query_dicts(sql, params)
    found = {}
    if reasons:
        from ..queries.failure_reasons import failure_reasons

        found = failure_reasons(store, [r["run_id"] for r in rows])
    for row in rows:
        rid = row.pop("run_id")
        if reasons:
            reason = found.get(rid)
            row["reason"] = reason.to_dict() if reason is not None else None
    return rows


def count_runs(store: Store, /, *, window: Window | None = None) -> int:
    """How many runs :func:`list_runs` lists for ``window`` without a limit."""
    where, params = _runs_where(store, window or Window())
    return int(store.query(f"SELECT count(*) FROM runs r{where}", params)[0][0])


def _runs_where(store: Store, window: Window) -> tuple[str, list[Any]]:
    """The WHERE of the runs of ``window`` (alias ``r``); a ``test`` filter keeps runs with a
    verdict of a matching test."""
    extra, extra_params = [], []
    if window.test is not None:
        clause, params = window.test_clauses(store, "tv.test")
        extra.append(f"EXISTS (SELECT 1 FROM test_verdicts tv WHERE tv.run_id = r.run_id AND {clause[0]})")
        extra_params += params
    return window.where(store, extra=extra, extra_params=extra_params)


def stats_by_test(store: Store, /, *, window: Window | None = None) -> list[dict[str, Any]]:
    """Per (job, test) counts and rates over the runs of ``window``, worst pass rate first."""
    window = window or Window()
    where, params = window.where(store, runs="v", job="v.job", started="v.started_at", has_branch=False,
                                 test="v.test")
    sql = f"""
        SELECT job, test,
               passed + failed + flaked AS runs, passed, failed, flaked, skipped
        FROM (
            SELECT job, test,
                   sum(CASE WHEN verdict = 'passed' THEN 1 ELSE 0 END) AS passed,
                   sum(CASE WHEN verdict IN ('failed', 'error') THEN 1 ELSE 0 END) AS failed,
                   sum(CASE WHEN verdict = 'flaky' THEN 1 ELSE 0 END) AS flaked,
                   sum(CASE WHEN verdict = 'skipped' THEN 1 ELSE 0 END) AS skipped
            FROM test_verdicts v{where}
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
