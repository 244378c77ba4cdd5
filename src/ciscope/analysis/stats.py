"""Run lists and per-test pass rates with Sippy's definitions.

For one (job, test): ``runs = passed + failed + flaked`` (skipped runs do not count; an
``error`` verdict counts as failed), ``pass_rate = passed / runs``,
``working_rate = (passed + flaked) / runs`` and ``flake_rate = flaked / runs``.

No SQL here: the runs and the counts are read by :mod:`ciscope.queries.runs`.
"""

from __future__ import annotations

from typing import Any

from ..queries.runs import verdict_counts_by_test, window_run_count, window_runs
from ..queries.window import Window
from ..store.base import Store


def list_runs(store: Store, /, *, window: Window | None = None, limit: int | None = None,
              offset: int = 0, reasons: bool = True) -> list[dict[str, Any]]:
    """Runs of ``window``, newest first: {job, build, status, started_at, finished_at, commit,
    tests, failed_tests, flaked_tests, reason}; ``reason``: the structured failure reason of a
    failed or incomplete run (:mod:`ciscope.analysis.failure_reason`), else null (left out
    with ``reasons=False``). With a ``test`` filter: runs with a verdict of a matching test."""
    rows = window_runs(store, window or Window(), limit=limit, offset=offset)
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
    return window_run_count(store, window or Window())


def stats_by_test(store: Store, /, *, window: Window | None = None) -> list[dict[str, Any]]:
    """Per (job, test) counts and rates over the runs of ``window``, worst pass rate first."""
    out = []
    for job_name, test, runs, passed, failed, flaked, skipped in verdict_counts_by_test(store, window or Window()):
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
