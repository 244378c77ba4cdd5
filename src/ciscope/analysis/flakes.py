"""Flaky tests: with retries, without retries, and not to be confused with regressions.

Three signals per (job, test), over finished runs that are not infrastructure failures:

- ``flaked`` — runs where the test failed and passed in the same run (a retry), Sippy's flake;
- ``same_commit_flips`` — failed runs on a commit where another run of the same job passed
  the test: the code did not change, the outcome did (test-infra's commit consistency);
- ``flip_score`` — TestGrid's flakiness: walking newest first, flips / considered results ×
  100, where a streak of 3 or more consecutive failures is skipped (a breakage, not a flake).

Not flake evidence: a streak of ``streak`` or more consecutive failures, every failure after
a changepoint to a failure rate of ``regression_rate`` or more (a regression, see
:mod:`ciscope.analysis.changepoint`), a failure that failed again on retry (reproduced), and
the failures of a shared-cause cluster (:func:`shared_cause_rows`). What remains — isolated
failures and retry flakes — are the *flake events*. A test is ``flaky`` with at least
``min_flakes`` flake events or ``min_retry_flakes`` retry flakes (failing and passing in one
run is direct evidence); ``insufficient_data`` below ``min_runs`` runs without that
evidence; else ``not_flaky``. Sorted by impact: failed runs the flakiness caused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
from scipy.stats import poisson

from ..queries import verdicts
from ..queries.window import Window as Scope
from ..store.base import Store
from .changepoint import changepoints
from .clusters import cluster
from .history import FAIL, FLAKY, History, InfraRule, VerdictFilter, load_history, segment_lengths, verdict_counts


@dataclass
class FlakeOptions:
    min_runs: int = 10
    min_flakes: int = 2  # flake events (isolated failures + retry flakes) that make a test flaky
    min_retry_flakes: int = 1  # … or this many retry flakes alone: failed and passed in one run is direct evidence
    streak: int = 3
    regression_rate: float = 0.5
    regression_min_fails: int = 3
    # a failure cluster that made this many tests fail in one run of a job is a shared cause —
    # a product bug, the environment — not the tests' own flakiness, in every run of that job
    shared_cause_tests: int = 2
    shared_cause_share: float = 0.15  # … in at least this share of the runs the cluster hit
    # … or more often than independent failures would (Poisson tail below this); catches causes
    # that hit few runs, where a share of them is too noisy to judge
    shared_cause_alpha: float = 0.02


def flaky_tests(store: Store, /, *, window: Scope | None = None, options: FlakeOptions | None = None,
                infra: InfraRule | None = None, only_flaky: bool = False,
                exclude_known: bool = False) -> list[dict[str, Any]]:
    """Per (job, test) flake statistics and verdict, most impactful first, over the runs of
    ``window`` (default: all).

    A test whose failures a known bug explains still flakes: it is reported, with the bugs
    (``known_bugs``) and the share of its failed and flaked runs they explain
    (``known_share``). ``exclude_known`` leaves those failures out of the evidence instead,
    so that only the tests' own flakiness remains.
    """
    window = window or Scope()
    options = options or FlakeOptions()
    selection = VerdictFilter(scope=window, infra=infra, include_known=not exclude_known)
    history = load_history(store, selection, troubled_only=True)
    counts = None if only_flaky else verdict_counts(store, selection)
    shared = shared_cause_rows(store, selection, history, min_tests=options.shared_cause_tests,
                               share=options.shared_cause_share, alpha=options.shared_cause_alpha)
    rows = flake_stats(history, options, counts=counts, shared=shared)
    if only_flaky:
        rows = [r for r in rows if r["verdict"] == "flaky"]
    _add_known(store, selection, rows)
    return rows


def _add_known(store: Store, selection: VerdictFilter, rows: list[dict[str, Any]]) -> None:
    """Set ``known_bugs`` and ``known_share`` of each row: the bugs explaining the test's
    failed or flaked runs in the selection, and the share of those runs they explain."""
    found = store.to_arrow(verdicts.explained_failures(store.ibis_table, selection.selection(store)))
    explained: dict[tuple[str, str], dict[str, set[int]]] = {}
    for job, test, run_id, bug in zip(*(found[c].to_pylist() for c in ("job", "test", "run_id", "bug"))):
        explained.setdefault((job, test), {}).setdefault(bug, set()).add(run_id)
    for row in rows:
        bugs = explained.get((row["job"], row["test"]), {})
        runs = set().union(*bugs.values()) if bugs else set()
        troubled = row["failed"] + row["flaked"]
        row["known_bugs"] = sorted(bugs)
        row["known_share"] = round(min(len(runs), troubled) / troubled, 6) if troubled and runs else 0.0


def _together_by_chance(counts: list[int], runs: int) -> float:
    """Expected number of runs (of ``runs``) in which two or more of these tests fail, if
    each fails independently in ``count / runs`` of them."""
    if runs <= 0:
        return 0.0
    p = np.clip(np.asarray(counts, dtype=float) / runs, 0.0, 1.0)
    none = float(np.prod(1 - p))
    one = float(sum(p[i] * np.prod(np.delete(1 - p, i)) for i in range(len(p))))
    return runs * max(0.0, 1.0 - none - one)


def shared_cause_rows(store: Store, window: VerdictFilter, history: History, *, min_tests: int, share: float,
                      alpha: float = 0.0) -> np.ndarray:
    """Per history row: a failure whose message belongs to a failure cluster (see
    :mod:`.clusters`) that made ``min_tests`` or more tests fail together in at least
    ``share`` of the job's runs it hit. Independent flakes that happen to print the same
    message rarely fail together (p₁·p₂ of the runs); a common cause — a product bug, the
    environment — does, so none of that cluster's failures in the job are evidence that a
    test is flaky. With ``alpha``, a cluster whose tests failed together in more runs than
    independent failures explain (Poisson tail probability below ``alpha``, at least twice)
    counts as a shared cause too: the rule for causes that hit only a handful of runs."""
    shared = np.zeros(len(history.verdict), dtype=bool)
    if history.groups == 0:
        return shared
    selection = window.selection(store)
    messages = store.to_arrow(verdicts.failure_messages(store.ibis_table, selection).order_by("run_id", "job", "test"))
    rows = zip(*(messages[c].to_pylist() for c in ("run_id", "job", "test", "message")))
    # one failure per (run, test): cluster the messages (source locations masked: in
    # ``fail [github.com/…/networkpolicy.go:94]: …`` the location names the test, not the cause)
    job_runs: dict[str, int] = {}
    if alpha > 0:
        counted = store.to_arrow(verdicts.job_run_counts(store.ibis_table, selection))
        job_runs = {j: int(n) for j, n in zip(counted["job"].to_pylist(), counted["runs"].to_pylist())}
    failures = [{"text": _SOURCE_LOCATION.sub("<SRC>", (message or "")[:2000]), "run": run_id, "job": job, "test": test}
                for run_id, job, test, message in rows if message and message.strip()]
    # (a failure without any text says nothing about its cause: it joins no cluster)
    flagged: set[tuple[int, str, str]] = set()
    for found in cluster(failures, suggest=False, max_distance=SHARED_CAUSE_DISTANCE):
        tests_per_run: dict[int, set[str]] = {}
        for run_id, _job, test, _ in found.members:
            tests_per_run.setdefault(run_id, set()).add(test)
        runs_of: dict[str, set[int]] = {}
        together_in: dict[str, set[int]] = {}
        for run_id, job, _, _ in found.members:
            runs_of.setdefault(job, set()).add(run_id)
            if len(tests_per_run[run_id]) >= min_tests:
                together_in.setdefault(job, set()).add(run_id)
        together = {job for job, runs in together_in.items() if len(runs) >= share * len(runs_of[job])}
        if alpha > 0 and len(together) < len(runs_of):
            # summed over jobs (each job's runs are its own trials): observed runs with two or
            # more of the cluster's tests failing, against the number independence explains
            per_test: dict[tuple[str, str], int] = {}
            for _, job, test, _ in found.members:
                per_test[(job, test)] = per_test.get((job, test), 0) + 1
            expected = sum(_together_by_chance([n for (j, _), n in per_test.items() if j == job], job_runs.get(job, 0))
                           for job in runs_of)
            observed = sum(len(runs) for runs in together_in.values())
            if observed >= 2 and poisson.sf(observed - 1, max(expected, 1e-12)) < alpha:
                together = set(runs_of)
        for run_id, job, test, _ in found.members:
            if job in together:
                flagged.add((run_id, job, test))
    if not flagged:
        return shared
    group_of = {(j, t): k for k, (j, t) in enumerate(zip(history.jobs, history.tests))}
    run_index = {int(r): i for i, r in enumerate(history.run_ids)}
    n_groups = history.groups
    keys = np.array(sorted(run_index[r] * n_groups + group_of[(j, t)] for r, j, t in flagged
                           if (j, t) in group_of and r in run_index), dtype=np.int64)
    row_keys = history.run * n_groups + history.group
    flagged_rows: np.ndarray = np.isin(row_keys, keys) & (history.verdict == FAIL)
    return flagged_rows


#: Edit distance (share of the length) within which two failure messages are one cause when
#: judging shared causes: looser than triage's 10 %, because the question here is "the same
#: kind of failure?" (names of namespaces and pods differ by more than 10 % of a short message)
SHARED_CAUSE_DISTANCE = 0.25

_SOURCE_LOCATION = re.compile(r"[\w./-]+\.(?:go|py|java|kt|scala|js|ts|rb|c|cc|cpp|h|rs|cs|php):\d+")


def flake_stats(history: History, options: FlakeOptions,
                counts: list[tuple[str, str, int, int, int]] | None = None,
                shared: np.ndarray | None = None) -> list[dict[str, Any]]:
    """Flake rows for the tests of ``history`` plus, when ``counts`` (every test's
    (job, test, runs, failed, flaked)) is given, a row for every other test too: only tests
    that failed or flaked need the sequence analysis; the others are not flaky by construction."""
    v, g = history.verdict, history.group
    groups = history.groups
    h_runs = np.bincount(g, minlength=groups)
    h_flaked = np.bincount(g, weights=(v == FLAKY), minlength=groups).astype(int)
    h_failed = np.bincount(g, weights=(v == FAIL), minlength=groups).astype(int)
    evidence = _flake_evidence(history, options, shared)
    index = {(history.jobs[k], history.tests[k]): k for k in range(groups)}
    if counts is None:
        counts = [(history.jobs[k], history.tests[k], int(h_runs[k]), int(h_failed[k]), int(h_flaked[k]))
                  for k in range(groups)]

    out = []
    for job, test, runs, failed, flaked in counts:
        row: dict[str, Any] = {
            "job": job,
            "test": test,
            "runs": runs,
            "passed": runs - failed - flaked,
            "failed": failed,
            "flaked": flaked,
            "same_commit_flips": 0,
            "isolated_failures": 0,
            "flip_score": 0.0,
            "flake_rate": round(flaked / runs, 6) if runs else None,
            "first_flake": None,
            "last_flake": None,
            "impact": 0,
            "regressed": False,
        }
        k = index.get((job, test))
        if k is not None:
            row.update({key: values[k] for key, values in evidence.items()})
        events = row.pop("_events", 0)
        if events >= options.min_flakes or flaked >= options.min_retry_flakes:
            row["verdict"] = "flaky"
        elif runs < options.min_runs:
            row["verdict"] = "insufficient_data"
        else:
            row["verdict"] = "not_flaky"
        out.append(row)
    rank = {"flaky": 0, "insufficient_data": 1, "not_flaky": 2}
    out.sort(key=lambda r: (rank[r["verdict"]], -r["impact"], -(r["flaked"]), -r["flip_score"], r["job"], r["test"]))
    return out


def _flake_evidence(history: History, options: FlakeOptions, shared: np.ndarray | None) -> dict[str, list[Any]]:
    """Per group of ``history``: flip score, same-commit flips, isolated failures, first and
    last flake event, whether a regression changepoint was found."""
    groups = history.groups
    if groups == 0:
        return {}
    v, g = history.verdict, history.group
    n = len(v)
    is_fail = v == FAIL

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
    flip_score = 100.0 * flips / np.maximum(considered_n, 1)

    # failures after a changepoint to a high failure rate belong to that regression
    cp = changepoints(history)
    regressed = (cp.row >= 0) & (cp.rate_after >= options.regression_rate) & (cp.fails_after >= options.regression_min_fails)
    cut = np.where(regressed, cp.row, np.iinfo(np.int64).max)
    after_regression = np.arange(n) >= cut[g]
    # a failure that failed again on retry was reproduced in that run: evidence of a real
    # failure, not of flakiness (retrying jobs show their flakes as `flaky` verdicts)
    isolated = is_fail & ~in_streak & ~after_regression & (history.attempts <= 1)
    if shared is not None:
        isolated &= ~shared
    event = isolated | (v == FLAKY)

    # same commit, different outcome: failed runs on a commit where the test also worked
    commit = history.commit
    known = commit >= 0
    pair = g * (int(commit.max()) + 2) + np.where(known, commit, -1) + 1
    uniq, inverse = np.unique(pair, return_inverse=True)
    worked = np.bincount(inverse, weights=(v != FAIL), minlength=len(uniq)) > 0
    same_commit = np.bincount(g, weights=is_fail & known & worked[inverse], minlength=groups).astype(int)

    events = np.bincount(g, weights=event, minlength=groups).astype(int)
    impact = np.bincount(g, weights=isolated, minlength=groups).astype(int)
    t = history.started
    first_event = np.full(groups, np.iinfo(np.int64).max)
    last_event = np.full(groups, -1)
    np.minimum.at(first_event, g[event], t[event])
    np.maximum.at(last_event, g[event], t[event])
    return {
        "same_commit_flips": same_commit.tolist(),
        "isolated_failures": impact.tolist(),
        "flip_score": [round(float(x), 2) for x in flip_score],
        "first_flake": [_time(first_event[k]) if events[k] else None for k in range(groups)],
        "last_flake": [_time(last_event[k]) if events[k] else None for k in range(groups)],
        "impact": impact.tolist(),
        "regressed": regressed.tolist(),
        "_events": events.tolist(),
    }


def _time(micros: int) -> datetime:
    return datetime.fromtimestamp(int(micros) / 1e6, timezone.utc)

