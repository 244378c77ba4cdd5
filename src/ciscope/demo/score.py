"""Scoring the analyses against a demo's ground truth: how many planted flakes, regressions,
known-bug failures and unknown families each detector finds, with precision and recall.

Used by ``benchmarks/quality.py`` (figures in benchmarks/BENCHMARKS.md) and by
``tests/analysis/test_quality.py`` (floors on those figures). Read-only over the store.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..store.base import Store

SHOWN = 10  # how many false positives / misses a score keeps, to read


def ratio(good: int, total: int) -> float:
    """good / total; 1.0 for nothing to find (nothing missed, nothing wrong)."""
    return good / total if total else 1.0


@dataclass(frozen=True, slots=True)
class Detection:
    """A detector's answers (``found``) against the planted truth (``true``)."""

    true: int
    found: int
    correct: int
    precision: float
    recall: float
    false_positives: list[Any] = field(default_factory=list)
    missed: list[Any] = field(default_factory=list)

    @classmethod
    def of(cls, truth: Iterable[Hashable], found: Iterable[Hashable], shown: int = SHOWN) -> Detection:
        t, f = set(truth), set(found)
        good = len(t & f)
        return cls(len(t), len(f), good, ratio(good, len(f)), ratio(good, len(t)),
                   sorted(f - t, key=str)[:shown], sorted(t - f, key=str)[:shown])


@dataclass(frozen=True, slots=True)
class KnownCauseFlakes:
    """Flaky tests reported with known bugs: are they the bugs that really cause them?"""

    reported: int
    attributed_right: int
    precision: float
    own_flakes_marked_known: list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class FlakyScore:
    retries: Detection  # jobs whose runs retry failed tests
    no_retries: Detection
    known_cause: KnownCauseFlakes


@dataclass(frozen=True, slots=True)
class RegressionScore:
    detection: Detection
    first_bad_build_exact: float  # share of the correctly found regressions with the exact first bad build
    wrong_first_bad_build: list[tuple[tuple[str, str], str, str]]  # ((job, test), reported, true)


@dataclass(frozen=True, slots=True)
class KnownBugScore:
    detection: Detection  # per failed (run, test): "explained by bug X"
    classification_rate: float  # share of failed runs that known bugs explain


@dataclass(frozen=True, slots=True)
class ClusterScore:
    clusters: int
    members: int
    purity: float  # share of members whose true cause is their cluster's majority cause
    unknown_family_spans: dict[str, int]  # true unknown family -> how many clusters it spans


@dataclass(frozen=True, slots=True)
class Score:
    flaky: FlakyScore
    regressions: RegressionScore
    known_bugs: KnownBugScore
    clusters: ClusterScore


def score_flaky(store: Store, truth: dict[str, Any]) -> FlakyScore:
    """Verdict ``flaky`` against the planted flakes, apart for jobs with retries and without;
    known-bug failures are left out (they are the bug's), as ``flaky`` does by default."""
    from ..analysis.flakes import flaky_tests

    retry_jobs = {job for job, info in truth["jobs"].items() if info["retries"]}
    true_flaky = {(f["job"], f["test"]) for f in truth["flaky"]}
    found = {(r["job"], r["test"]) for r in flaky_tests(store, only_flaky=True, exclude_known=True)}
    by_kind = {}
    for kind, jobs in (("retries", retry_jobs), ("no_retries", set(truth["jobs"]) - retry_jobs)):
        by_kind[kind] = Detection.of({x for x in true_flaky if x[0] in jobs}, {x for x in found if x[0] in jobs})
    # flakes with a known cause: reported by default, each with the bugs that explain it
    targets = {(job, test): bug_id for bug_id, bug in truth["bugs"].items() for job in bug["jobs"] for test in bug["tests"]}
    with_bugs = [r for r in flaky_tests(store, only_flaky=True) if r["known_bugs"]]
    right = sum(1 for r in with_bugs if targets.get((r["job"], r["test"])) in r["known_bugs"])
    known = KnownCauseFlakes(len(with_bugs), right, ratio(right, len(with_bugs)),
                             sorted((r["job"], r["test"]) for r in with_bugs if (r["job"], r["test"]) in true_flaky)[:SHOWN])
    return FlakyScore(by_kind["retries"], by_kind["no_retries"], known)


def score_regressions(store: Store, truth: dict[str, Any]) -> RegressionScore:
    """Reported (job, test) against the planted regressions, and the first bad build of each.
    Every demo regression starts at 40–80 % of the history and is never fixed, so each one is
    visible in the default sample window against its basis. ``shared_cause`` rows are the
    cluster's drop, not the test's (docs/regressions.md): not counted."""
    from ..analysis.regressions import regressions

    true_reg = {(r["job"], r["test"]): r["first_bad_build"] for r in truth["regressions"]}
    reported = {(r["job"], r["test"]): r["first_bad_build"] for r in regressions(store) if r["status"] != "shared_cause"}
    correct = set(true_reg) & set(reported)
    exact = sum(1 for key in correct if reported[key] == true_reg[key])
    wrong = sorted((k, reported[k], true_reg[k]) for k in correct if reported[k] != true_reg[k])[:SHOWN]
    return RegressionScore(Detection.of(true_reg, reported), ratio(exact, len(correct)), wrong)


def score_known_bugs(store: Store, truth: dict[str, Any]) -> KnownBugScore:
    """Fingerprint matches per failed (run, test) against the truth's causes ``bug:X``."""
    from ..analysis.triage import unclassified
    from ..queries.known import matched_pairs

    cause = _causes(truth)
    predicted = matched_pairs(store)
    true_pairs = {(k, c[4:]) for k, c in cause.items() if c.startswith("bug:")}
    return KnownBugScore(Detection.of(true_pairs, predicted, shown=5), unclassified(store)["classification_rate"])


def score_clusters(store: Store, truth: dict[str, Any]) -> ClusterScore:
    """Purity of the clusters of unexplained failures (those ``ciscope clusters`` shows), and
    how many clusters each true unknown family spans."""
    from ..analysis.clusters import cluster
    from ..analysis.triage import unexplained_failures

    cause = _causes(truth)
    # as `ciscope clusters`: a failure without text joins no cluster
    groups = cluster([f for f in unexplained_failures(store) if f["text"].strip()], suggest=False)
    total = pure = 0
    spans: dict[str, set[str]] = defaultdict(set)
    for c in groups:
        causes = Counter(cause.get((m[0], m[2]), "none") for m in c.members)
        pure += causes.most_common(1)[0][1]
        total += c.size
        for m in c.members:
            label = cause.get((m[0], m[2]), "none")
            if label.startswith("unknown:"):
                spans[label].add(c.id)
    return ClusterScore(len(groups), total, ratio(pure, total), {k: len(v) for k, v in sorted(spans.items())})


def score(store: Store, truth: dict[str, Any]) -> Score:
    """Every detector against the truth of the demo stored in ``store``."""
    return Score(score_flaky(store, truth), score_regressions(store, truth),
                 score_known_bugs(store, truth), score_clusters(store, truth))


def _causes(truth: dict[str, Any]) -> dict[tuple[int, str], str]:
    """(run id, test) -> the one true cause of that failure (``bug:X``, ``unknown:F``, ``flake``…)."""
    from ..model import run_id

    return {(run_id(f["job"], f["build"]), f["test"]): f["cause"] for f in truth["failures"]}
