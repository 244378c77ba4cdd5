"""Tests that became markedly slower: one duration changepoint per (job, test).

For each (job, test), the durations of its runs in time order (passing and flaky verdicts:
a failure's duration measures the failure, not the test) are taken on a log scale — a
slowdown multiplies a duration, and log-durations are close to normal. The split that
maximizes Welch's t statistic of "later runs are slower" is the candidate changepoint, with
at least ``min_side`` runs on each side; computed for every test at once with cumulative sums
(O(rows), as :mod:`.changepoint` does for failures).

A candidate is reported when the runs after it are ``min_factor`` times slower (ratio of the
medians) and a one-sided Mann–Whitney U test on the raw durations says so with a p-value below
``alpha`` divided by the number of tests examined (Bonferroni: thousands of tests are looked at
together). The report says which run (build, commit, time) starts the slow stretch, by how much
(``factor``, medians before and after) and with what confidence (``p_value``).

No SQL here: the durations are read by :func:`ciscope.queries.history.duration_histories`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from scipy.stats import mannwhitneyu

from ..queries.history import duration_histories
from ..queries.window import Window
from ..store.base import Store

__all__ = ["Slowdown", "SlowdownOptions", "slowdowns"]


@dataclass(frozen=True)
class SlowdownOptions:
    min_factor: float = 1.5  # median after / median before
    alpha: float = 0.001  # family-wise, over every test examined
    min_side: int = 8  # runs on each side of the split


@dataclass(frozen=True)
class Slowdown:
    """A test whose runs became slower from ``build`` on."""

    job: str
    test: str
    build: str  # the first run of the slow stretch
    commit: str | None
    at: datetime | None
    factor: float  # median after / median before
    median_before: float  # seconds
    median_after: float
    runs_before: int
    runs_after: int
    p_value: float  # one-sided Mann-Whitney U, before the Bonferroni correction
    t_statistic: float  # Welch's t of the log-durations at the split

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def slowdowns(store: Store, /, *, window: Window | None = None,
              options: SlowdownOptions | None = None) -> list[Slowdown]:
    """Every (job, test) of ``window`` whose durations stepped up, largest factor first."""
    options = options or SlowdownOptions()
    table = duration_histories(store, window or Window())
    if table.num_rows == 0:
        return []
    gid = table["gid"].to_numpy(zero_copy_only=False)
    seconds = table["duration"].to_numpy(zero_copy_only=False).astype(float)
    n = len(seconds)
    new = np.ones(n, dtype=bool)
    new[1:] = gid[1:] != gid[:-1]
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], n)
    group = np.cumsum(new) - 1
    sizes = ends - starts

    x = np.log(seconds)
    cs = np.concatenate([[0.0], np.cumsum(x)])
    cs2 = np.concatenate([[0.0], np.cumsum(x * x)])
    position = np.arange(n) - starts[group]  # index of the row in its group: the split before it
    k = position  # runs before the split
    m = sizes[group] - k  # runs from the split on
    ok = (k >= options.min_side) & (m >= options.min_side)
    s0 = cs[starts[group]]
    s0_2 = cs2[starts[group]]
    left = cs[np.arange(n)] - s0
    left2 = cs2[np.arange(n)] - s0_2
    total = cs[ends[group]] - s0
    total2 = cs2[ends[group]] - s0_2
    right, right2 = total - left, total2 - left2
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_l, mean_r = left / k, right / m
        var_l = np.maximum(left2 / k - mean_l**2, 0.0) * k / np.maximum(k - 1, 1)
        var_r = np.maximum(right2 / m - mean_r**2, 0.0) * m / np.maximum(m - 1, 1)
        t = (mean_r - mean_l) / np.sqrt(var_l / k + var_r / m + 1e-12)
    t = np.where(ok, t, -np.inf)
    best = np.full(len(starts), -np.inf)
    np.maximum.at(best, group, t)
    at_best = np.flatnonzero((t == best[group]) & np.isfinite(t))
    _, first = np.unique(group[at_best], return_index=True)
    split = at_best[first]  # one row per group that has a candidate: the first row after the split
    examined = int(np.sum(sizes >= 2 * options.min_side))
    column = {name: table[name] for name in ("job", "test", "build", "commit_sha", "started_at")}
    out: list[Slowdown] = []
    for row in split:
        g = group[row]
        before, after = seconds[starts[g]:row], seconds[row:ends[g]]
        median_before, median_after = float(np.median(before)), float(np.median(after))
        factor = median_after / median_before if median_before > 0 else float("inf")
        if factor < options.min_factor:
            continue
        p = float(mannwhitneyu(after, before, alternative="greater").pvalue)
        if p >= options.alpha / max(examined, 1):
            continue
        job, test, build, commit, when = (column[name][int(row)].as_py() for name in column)
        out.append(Slowdown(
            job=job, test=test, build=build, commit=commit,
            at=when.replace(tzinfo=UTC) if isinstance(when, datetime) and when.tzinfo is None else when,
            factor=round(factor, 3), median_before=round(median_before, 6), median_after=round(median_after, 6),
            runs_before=len(before), runs_after=len(after), p_value=p, t_statistic=round(float(t[row]), 3)))
    out.sort(key=lambda s: (-s.factor, s.p_value, s.job, s.test))
    return out
