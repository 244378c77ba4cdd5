"""Flaky tests: with retries, without retries, and not to be confused with regressions.

Three signals per (job, test), over finished runs that are not infrastructure failures:

- ``flaked`` — runs where the test failed and passed in the same run (a retry), Sippy's flake;
- ``same_commit_flips`` — failed runs on a commit where another run of the same job passed
  the test: the code did not change, the outcome did (test-infra's commit consistency);
- ``flip_score`` — TestGrid's flakiness: walking newest first, flips / considered results ×
  100, where a streak of 3 or more consecutive failures is skipped (a breakage, not a flake).

Failures that belong to a regression are not flake evidence: a streak of ``streak`` or more
consecutive failures, and every failure after a changepoint to a failure rate of
``regression_rate`` or more (see :mod:`ciscope.analysis.changepoint`). What remains —
isolated failures and retry flakes — are the *flake events*. A test is ``flaky`` with at
least ``min_flakes`` flake events; ``insufficient_data`` below ``min_runs`` runs without
that evidence; else ``not_flaky``. Sorted by impact: failed runs the flakiness caused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from ..store.base import Store
from .changepoint import changepoints
from .history import FAIL, FLAKY, History, InfraRule, load_history, segment_lengths


@dataclass
class FlakeOptions:
    min_runs: int = 10
    min_flakes: int = 2
    streak: int = 3
    regression_rate: float = 0.5
    regression_min_fails: int = 3


def flaky_tests(store: Store, /, *, job: str | None = None, days: int | None = None,
                at: datetime | None = None, options: FlakeOptions | None = None,
                infra: InfraRule | None = None, only_flaky: bool = False) -> list[dict[str, Any]]:
    """Per (job, test) flake statistics and verdict, most impactful first.

    ``days`` limits the window to the ``days`` before ``at`` (default: the newest run).
    """
    since = None
    if days is not None:
        at = at or newest_run(store, job=job)
        since = at - timedelta(days=days) if at else None
    history = load_history(store, job=job, since=since, infra=infra)
    rows = flake_stats(history, options or FlakeOptions())
    if only_flaky:
        rows = [r for r in rows if r["verdict"] == "flaky"]
    return rows


def newest_run(store: Store, *, job: str | None = None) -> datetime | None:
    sql = "SELECT max(started_at) FROM runs" + (" WHERE job = ?" if job else "")
    value = store.query(sql, [job] if job else [])[0][0]
    return value.replace(tzinfo=timezone.utc) if value is not None else None


def flake_stats(history: History, options: FlakeOptions) -> list[dict[str, Any]]:
    groups = history.groups
    if groups == 0:
        return []
    v, g = history.verdict, history.group
    n = len(v)
    is_fail = v == FAIL
    runs = np.bincount(g, minlength=groups)
    flaked = np.bincount(g, weights=(v == FLAKY), minlength=groups).astype(int)
    failed = np.bincount(g, weights=is_fail, minlength=groups).astype(int)

    # streaks of consecutive failures within a group
    key = np.where(is_fail, g, -1 - np.arange(n))  # non-failures never join a streak
    seg, lengths = segment_lengths(key)
    in_streak = is_fail & (lengths[seg] >= options.streak)

    # TestGrid flip score: streak failures skipped; newest first, a failure flips when the
    # next newer considered result was not a failure (or there is none); a flake always flips.
    considered = ~in_streak
    cg, cv = g[considered], v[considered]
    newer_is_fail = np.zeros(len(cv), dtype=bool)
    if len(cv) > 1:
        newer_is_fail[:-1] = (cv[1:] == FAIL) & (cg[1:] == cg[:-1])
    flips_row = (cv == FLAKY) | ((cv == FAIL) & ~newer_is_fail)
    flips = np.bincount(cg, weights=flips_row, minlength=groups)
    considered_n = np.bincount(cg, minlength=groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        flip_score = np.where(considered_n > 0, 100.0 * flips / np.maximum(considered_n, 1), 0.0)

    # failures after a changepoint to a high failure rate belong to that regression
    cp = changepoints(history)
    regressed = (cp.row >= 0) & (cp.rate_after >= options.regression_rate) & (cp.fails_after >= options.regression_min_fails)
    cut = np.where(regressed, cp.row, np.iinfo(np.int64).max)
    after_regression = np.arange(n) >= cut[g]
    isolated = is_fail & ~in_streak & ~after_regression
    event = isolated | (v == FLAKY)

    # same commit, different outcome: failed runs on a commit where the test also worked
    commit = history.commit
    known = commit >= 0
    pair = g * (int(commit.max()) + 2) + np.where(known, commit, -1) + 1
    uniq, inverse = np.unique(pair, return_inverse=True)
    worked = np.bincount(inverse, weights=(v != FAIL), minlength=len(uniq)) > 0
    flips_same_commit = is_fail & known & worked[inverse]
    same_commit = np.bincount(g, weights=flips_same_commit, minlength=groups).astype(int)

    events = np.bincount(g, weights=event, minlength=groups).astype(int)
    impact = np.bincount(g, weights=isolated, minlength=groups).astype(int)
    t = history.started
    big = np.iinfo(np.int64).max
    first_event = np.full(groups, big)
    last_event = np.full(groups, -1)
    np.minimum.at(first_event, g[event], t[event])
    np.maximum.at(last_event, g[event], t[event])

    out = []
    for k in range(groups):
        if events[k] >= options.min_flakes:
            verdict = "flaky"
        elif runs[k] < options.min_runs:
            verdict = "insufficient_data"
        else:
            verdict = "not_flaky"
        out.append({
            "job": history.jobs[k],
            "test": history.tests[k],
            "runs": int(runs[k]),
            "passed": int(runs[k] - failed[k] - flaked[k]),
            "failed": int(failed[k]),
            "flaked": int(flaked[k]),
            "same_commit_flips": int(same_commit[k]),
            "isolated_failures": int(impact[k]),
            "flip_score": round(float(flip_score[k]), 2),
            "flake_rate": round(flaked[k] / runs[k], 6) if runs[k] else None,
            "first_flake": _time(first_event[k]) if events[k] else None,
            "last_flake": _time(last_event[k]) if events[k] else None,
            "impact": int(impact[k]),
            "regressed": bool(regressed[k]),
            "verdict": verdict,
        })
    rank = {"flaky": 0, "insufficient_data": 1, "not_flaky": 2}
    out.sort(key=lambda r: (rank[r["verdict"]], -r["impact"], -(r["flaked"]), -r["flip_score"], r["job"], r["test"]))
    return out


def _time(micros: int) -> datetime:
    return datetime.fromtimestamp(int(micros) / 1e6, timezone.utc)

