"""Regressions: a significant drop of a test's pass rate, and the run where it started.

Sippy's Component Readiness rule, per (job, test): the *basis* window (``basis_days``
before the sample) against the *sample* window (the last ``sample_days``). Passes include
flakes (``flakeAsFailure`` off). A test regressed when

- ``basis_rate − sample_rate > pity / 100`` (default 5 points), and
- the sample has at least ``min_failures`` failures (default 3), and
- the one-sided Fisher exact test says the sample fails more often with confidence
  ``confidence`` (default 0.95): ``p < 1 − confidence``.

Status ``extreme`` when the drop exceeds 15 points, else ``regressed``; a test with no basis
runs failing at least ``min_failures`` times below ``new_test_pass_rate`` is
``new_test_failing``. The changepoint (:mod:`.changepoint`) over basis + sample gives
``first_bad_build`` and ``first_bad_commit``: the first run of the commit where the failure
rate rose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta, timezone
from typing import Any

import numpy as np
from scipy.stats import hypergeom

from ..queries import verdicts
from ..queries.window import Window as Scope
from ..queries.window import naive_utc, now
from ..store.base import Store
from .changepoint import changepoints
from .history import FAIL, InfraRule, VerdictFilter, load_history


@dataclass
class RegressionOptions:
    basis_days: int = 30
    sample_days: int = 7
    confidence: float = 0.95
    pity: float = 5.0  # percentage points
    min_failures: int = 3
    extreme_drop: float = 15.0  # percentage points
    new_test_pass_rate: float = 0.95
    # A test that already failed in the basis has a failure rate of its own; among the many such
    # tests some drift down by chance in any 7 days (a steady flake is not a regression). For
    # them the significance level is divided by their number (Bonferroni); tests that never
    # failed in the basis keep Sippy's plain level.
    correct_for_flaky_basis: bool = True


def regressions(store: Store, /, *, window: Scope | None = None, options: RegressionOptions | None = None,
                infra: InfraRule | None = None, include_known: bool = False) -> list[dict[str, Any]]:
    """Regressed (job, test) pairs, worst first, over the runs of ``window`` (its job, branch,
    variants and test filters). The sample window ends at ``window.until`` (exclusive), else at
    :func:`ciscope.queries.window.now` (inclusive), so old histories can be analysed too.
    Failures explained by known-bug fingerprints are left out unless ``include_known``
    (Sippy: triaged)."""
    scope = window or Scope()
    options = options or RegressionOptions()
    end = naive_utc(scope.until)
    if end is None:
        newest = now(store)
        end = newest + timedelta(microseconds=1) if newest is not None else None
    if end is None:
        return []
    at = end.replace(tzinfo=timezone.utc)
    sample_start = at - timedelta(days=options.sample_days)
    basis_start = sample_start - timedelta(days=options.basis_days)
    selection = VerdictFilter(scope=scope.replace(since=basis_start, until=at, days=None), infra=infra,
                       include_known=include_known)
    # Fisher's inputs per test come from the engine; a test never failing cannot regress
    cut = naive_utc(sample_start)  # the sample is (at − sample_days, at]
    assert cut is not None
    counts = store.to_arrow(verdicts.period_counts(store.ibis_table, selection.selection(store), cut))
    groups = counts.num_rows
    if groups == 0:
        return []
    jobs, tests = counts["job"].to_pylist(), counts["test"].to_pylist()
    b_runs, b_fail, s_runs, s_fail = (
        counts[c].fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
        for c in ("b_runs", "b_fail", "s_runs", "s_fail"))
    s_pass, b_pass = s_runs - s_fail, b_runs - b_fail
    with np.errstate(divide="ignore", invalid="ignore"):
        s_rate = np.where(s_runs > 0, s_pass / np.maximum(s_runs, 1), np.nan)
        b_rate = np.where(b_runs > 0, b_pass / np.maximum(b_runs, 1), np.nan)
    # one-sided Fisher exact: P(sample failures >= observed) under no difference
    total = s_runs + b_runs
    p_value = hypergeom.sf(s_fail - 1, total, s_fail + b_fail, s_runs)
    drop = (b_rate - s_rate) * 100.0
    alpha = np.full(groups, 1.0 - options.confidence)
    if options.correct_for_flaky_basis:
        flaky_basis = (b_fail > 0) & (s_runs > 0)
        alpha[flaky_basis] /= max(int(flaky_basis.sum()), 1)
    significant = (
        (b_runs > 0) & (s_runs > 0)
        & (drop > options.pity)
        & (s_fail >= options.min_failures)
        & (p_value < alpha)
    )
    new_failing = (b_runs == 0) & (s_fail >= options.min_failures) & (s_rate < options.new_test_pass_rate)
    candidates = significant | new_failing
    if not candidates.any():
        return []
    # only the candidates' histories come back: their change points and builds
    picked = [(jobs[k], tests[k]) for k in np.flatnonzero(candidates)]
    history = load_history(store, selection, troubled_only=True, tests=picked)
    group_of = {(j, t): k for k, (j, t) in enumerate(zip(history.jobs, history.tests))}
    hist = np.array([group_of.get((jobs[k], tests[k]), -1) for k in range(groups)], dtype=np.int64)
    hg = history.groups
    g, v = history.group, history.verdict
    in_sample = history.started > int(sample_start.timestamp() * 1e6)
    fail = v == FAIL
    # A drop made of failures of a shared-cause cluster (one message failing several tests
    # together beyond chance, see flakes.shared_cause_rows) is the cluster's, not the test's:
    # with those failures left out, does the drop still hold?
    shared_cause = np.zeros(groups, dtype=bool)
    s_shared = np.zeros(groups, dtype=np.int64)
    from .flakes import FlakeOptions, shared_cause_rows

    fo = FlakeOptions()
    shared = shared_cause_rows(store, selection, history, min_tests=fo.shared_cause_tests,
                               share=fo.shared_cause_share, alpha=fo.shared_cause_alpha)
    if shared.any():
        keep = ~shared
        at_k = np.where(hist >= 0, hist, 0)

        def per_test(weights: np.ndarray) -> np.ndarray:
            counted = np.bincount(g, weights=weights, minlength=hg).astype(np.int64)
            return np.where(hist >= 0, counted[at_k], 0)

        s_shared = per_test(in_sample & shared)
        s_runs2 = per_test(in_sample & keep)
        s_fail2 = per_test(in_sample & fail & keep)
        b_runs2 = per_test(~in_sample & keep)
        b_fail2 = per_test(~in_sample & fail & keep)
        with np.errstate(divide="ignore", invalid="ignore"):
            s_rate2 = np.where(s_runs2 > 0, (s_runs2 - s_fail2) / np.maximum(s_runs2, 1), np.nan)
            b_rate2 = np.where(b_runs2 > 0, (b_runs2 - b_fail2) / np.maximum(b_runs2, 1), np.nan)
        p2 = hypergeom.sf(s_fail2 - 1, s_runs2 + b_runs2, s_fail2 + b_fail2, s_runs2)
        still = (((b_runs2 > 0) & (s_runs2 > 0) & ((b_rate2 - s_rate2) * 100.0 > options.pity)
                  & (s_fail2 >= options.min_failures) & (p2 < alpha))
                 | ((b_runs2 == 0) & (s_fail2 >= options.min_failures) & (s_rate2 < options.new_test_pass_rate)))
        shared_cause = candidates & (s_shared > 0) & ~still
    cp = changepoints(history)

    ends = np.append(history.starts[1:], len(v))
    out: list[dict[str, Any]] = []
    for c in np.flatnonzero(candidates):
        k = int(hist[c])
        split = int(cp.row[k])
        # the first bad build is the first FAILING run at the change point (the split is the
        # first run of the first bad commit, which may have passed); the last good build is the
        # last run before the split that did not fail: the range a bisect would search
        row = split
        if split >= 0:
            failing = np.flatnonzero(fail[split:ends[k]])
            row = split + int(failing[0]) if len(failing) else -1
        good = -1
        if split > history.starts[k]:
            before = np.flatnonzero(~fail[history.starts[k]:split])
            good = int(history.starts[k] + before[-1]) if len(before) else -1
        status = "new_test_failing" if new_failing[c] else ("extreme" if drop[c] > options.extreme_drop else "regressed")
        if shared_cause[c]:
            status = "shared_cause"
        out.append({
            "job": jobs[c],
            "test": tests[c],
            "status": status,
            "basis": _window(b_runs[c], b_pass[c], b_rate[c]),
            "sample": _window(s_runs[c], s_pass[c], s_rate[c]),
            "p_value": float(p_value[c]),
            "first_bad_build": history.build(row) if row >= 0 else None,
            "first_bad_commit": _commit(history, row),
            "first_bad_at": history.time(row) if row >= 0 else None,
            "last_good_build": history.build(good) if good >= 0 else None,
            "last_good_commit": _commit(history, good),
            "suspects": _suspects(history, good, row),
            "failure_rate_before": round(float(cp.rate_before[k]), 6) if row >= 0 else None,
            "failure_rate_after": round(float(cp.rate_after[k]), 6) if row >= 0 else None,
            "shared_cause_failures": int(s_shared[c]),
        })
    order = {"extreme": 0, "regressed": 1, "new_test_failing": 2, "shared_cause": 3}
    out.sort(key=lambda r: (order[r["status"]], r["p_value"], r["job"], r["test"]))
    return out


def _commit(history: Any, row: int) -> str | None:
    return history.commits[history.commit[row]] if row >= 0 and history.commit[row] >= 0 else None


def _suspects(history: Any, good: int, bad: int) -> dict[str, Any] | None:
    """The bisect range: commits after the last good run's, up to the first bad run's."""
    if bad < 0:
        return None
    return {"from_build": history.build(good) if good >= 0 else None, "from_commit": _commit(history, good),
            "to_build": history.build(bad), "to_commit": _commit(history, bad)}


def _window(runs: int, passed: int, rate: float) -> dict[str, Any]:
    return {"runs": int(runs), "passed": int(passed), "pass_rate": None if np.isnan(rate) else round(float(rate), 6)}
