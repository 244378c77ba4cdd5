"""Verdict queries as Ibis expressions: the aggregations run in the engine.

Every function here takes ``table`` — a function from a table name to an Ibis table (a
store's :meth:`~ciscope.store.base.Store.ibis_table`, or :func:`unbound` to compile SQL
without a connection) — and a :class:`Selection`, and returns an Ibis expression. The store
executes it (:meth:`~ciscope.store.base.Store.to_arrow`) on its own engine — DuckDB,
PostgreSQL, Spark, chDB — so only per-test aggregates, or the histories of the tests that
failed, come back to Python. The same expressions compile to BigQuery, Trino and Snowflake
(``docs/sql/``, written by ``scripts/compile_sql.py``).

The selection of verdicts (:func:`selected`) is the one rule of every history analysis:
verdicts other than ``skipped`` of finished runs that are not infrastructure failures,
inside the window's runs and tests, and — unless ``include_known`` — not explained by a
known bug (:func:`ciscope.queries.explained.explained_pairs`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import ibis
import ibis.expr.types as ir

from .explained import explained_pairs
from .rules import (
    FAILED_STATUSES,
    FAILED_VERDICTS,
    FLAKY,
    PASSED,
    SKIPPED,
    TROUBLED_VERDICTS,
    UNENDED_RUN_STATUSES,
    UNFINISHED_RUN_STATUSES,
)

__all__ = ["Selection", "TableOf", "explained_failures", "failure_messages", "flip_counts", "history_queries",
           "infra_run_count", "job_run_counts", "period_counts", "selected", "unbound", "verdict_counts"]

#: a table of the store by name
TableOf = Callable[[str], ir.Table]


def unbound(name: str) -> ir.Table:
    """The store's table ``name`` with its schema and no connection: to compile SQL."""
    from ..store.schema import SCHEMAS

    return ibis.table(ibis.Schema.from_pyarrow(SCHEMAS[name]), name=name)


@dataclass(frozen=True)
class Selection:
    """Which verdicts a history analysis reads, resolved: the window's bounds (``since``
    inclusive, ``until`` exclusive, on the run's start), job, branch, variants and test
    regular expression; the infrastructure rule (a run is left out when it ended in
    ``error``, had no tests, ``min_failed`` and ``fraction`` of its tests failed, or a test
    matching ``setup_tests`` failed); and whether failures a known bug explains count."""

    job: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    branch: str | None = None
    variants: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    test: str | None = None
    fraction: float = 0.5
    min_failed: int = 10
    setup_tests: str | None = None
    include_known: bool = False


def _scoped_runs(table: TableOf, s: Selection, runs: ir.Table) -> list[ir.BooleanValue]:
    """Conditions on ``runs`` of the window's job, time, branch and variants."""
    preds: list[ir.BooleanValue] = []
    if s.job is not None:
        preds.append(runs.job == s.job)
    if s.since is not None:
        preds.append(runs.started_at >= s.since)
    if s.until is not None:
        preds.append(runs.started_at < s.until)
    if s.branch is not None:
        preds.append(runs.branch == s.branch)
    if s.variants:
        rv = table("run_variants")
        for key, value in s.variants:
            preds.append(runs.run_id.isin(rv.filter((rv.key == key) & (rv.value == value)).run_id))
    return preds


def _setup_failed_runs(table: TableOf, s: Selection) -> ir.Column | None:
    """run_id of runs where a setup test failed (None: no setup rule)."""
    if not s.setup_tests:
        return None
    sv = table("test_verdicts")
    return sv.filter(sv.verdict.isin(FAILED_VERDICTS) & sv.test.re_search(s.setup_tests)).run_id


def _kept_runs(table: TableOf, s: Selection) -> ir.Table:
    """Finished runs of the window that are not infrastructure failures."""
    r = table("runs")
    preds = [
        ~r.status.isin(UNFINISHED_RUN_STATUSES),
        r.tests > 0,
        ~((r.failed_tests >= s.min_failed) & (r.failed_tests >= s.fraction * r.tests)),
        *_scoped_runs(table, s, r),
    ]
    setup = _setup_failed_runs(table, s)
    if setup is not None:
        preds.append(~r.run_id.isin(setup))
    return r.filter(*preds).select("run_id", "build", "commit_sha")


def selected(table: TableOf, s: Selection) -> ir.Table:
    """The verdicts of the selection: run_id, job, test, verdict, attempts, started_at, build."""
    v = table("test_verdicts")
    preds: list[ir.BooleanValue] = [v.verdict != SKIPPED]
    # job and time are filtered on the verdict's own copies (a scan of one table, partitions pruned)
    if s.job is not None:
        preds.append(v.job == s.job)
    if s.since is not None:
        preds.append(v.started_at >= s.since)
    if s.until is not None:
        preds.append(v.started_at < s.until)
    if s.test is not None:
        preds.append(v.test.re_search(s.test))
    v = v.filter(*preds)
    runs = _kept_runs(table, s)
    out = v.join(runs, "run_id").select("run_id", "job", "test", "verdict", "attempts", "started_at", "build")
    if not s.include_known:
        out = out.anti_join(explained_pairs(table), ["run_id", "test"])
    return out


def _is_failed(t: ir.Table) -> ir.BooleanValue:
    return t.verdict.isin(FAILED_VERDICTS)


def verdict_counts(table: TableOf, s: Selection) -> ir.Table:
    """Per (job, test), sorted: runs, failed (failed or error), flaked."""
    v = selected(table, s)
    return (v.group_by("job", "test")
            .aggregate(runs=v.count(), failed=_is_failed(v).sum(), flaked=(v.verdict == FLAKY).sum())
            .order_by("job", "test"))


def period_counts(table: TableOf, s: Selection, cut: datetime) -> ir.Table:
    """Fisher's inputs per (job, test) that failed or flaked at least once, sorted: runs and
    failures in the basis (started at or before ``cut``) and in the sample (after it)."""
    v = selected(table, s)
    in_sample = v.started_at > cut
    failed = _is_failed(v)
    return (v.group_by("job", "test")
            .aggregate(b_runs=(~in_sample).sum(), b_fail=(~in_sample & failed).sum(),
                       s_runs=in_sample.sum(), s_fail=(in_sample & failed).sum(),
                       troubled=(v.verdict != PASSED).sum())
            .filter(lambda t: t.troubled > 0)
            .drop("troubled")
            .order_by("job", "test"))


def flip_counts(table: TableOf, s: Selection, streak: int = 3) -> ir.Table:
    """TestGrid's flakiness inputs per (job, test) that failed or flaked, with window
    functions: ``considered`` results (failures in a streak of ``streak`` or more consecutive
    failures are skipped: a breakage, not a flake) and ``flips`` among them — a flake, or a
    failure whose next newer considered result is not a failure. Flip score = 100 × flips /
    considered (:func:`ciscope.analysis.flakes.flake_stats` computes the same from a history)."""
    v = selected(table, s)
    test = ibis.window(group_by=[v.job, v.test])
    v = v.mutate(fail=_is_failed(v), troubled=(v.verdict != PASSED).sum().over(test))
    v = v.filter(v.troubled > 0)
    order = [v.started_at, v.build]
    every = ibis.window(group_by=[v.job, v.test], order_by=order)
    same = ibis.window(group_by=[v.job, v.test, v.fail], order_by=order)
    v = v.mutate(island=ibis.row_number().over(every) - ibis.row_number().over(same))
    streaks = ibis.window(group_by=[v.job, v.test, v.fail, v.island])
    v = v.mutate(streak_len=v.count().over(streaks))
    kept = v.filter(~(v.fail & (v.streak_len >= streak)))
    newer = ibis.window(group_by=[kept.job, kept.test], order_by=[kept.started_at, kept.build])
    kept = kept.mutate(newer_fail=kept.fail.lead().over(newer).fill_null(False))
    flip = (kept.verdict == FLAKY) | (kept.fail & ~kept.newer_fail)
    return (kept.group_by("job", "test")
            .aggregate(considered=kept.count(), flips=flip.sum())
            .order_by("job", "test"))


def history_queries(table: TableOf, s: Selection, *, troubled_only: bool = False,
                    tests: Sequence[tuple[str, str]] | None = None) -> tuple[ir.Table, ir.Table, ir.Table]:
    """Three expressions a :class:`ciscope.analysis.history.History` is built from: the
    (job, test) keys numbered ``gid`` 0..n-1 in order; every verdict as (gid, code, attempts,
    started_at, run_id) sorted by (gid, time, build), code 0 passed, 1 failed, 2 flaky; and
    (run_id, build, commit_sha) of every run. Only integers and times cross the wire per row.
    ``troubled_only``: tests that failed or flaked at least once; ``tests``: only (job, test)
    pairs among these (more may come: the filter is on jobs and tests separately)."""
    base = selected(table, s)
    if tests is not None:
        base = base.filter(base.job.isin(sorted({j for j, _ in tests})),
                           base.test.isin(sorted({t for _, t in tests})))
    keys = base.group_by("job", "test").aggregate(troubled=(base.verdict != PASSED).sum())
    if troubled_only:
        keys = keys.filter(keys.troubled > 0)
    keys = keys.mutate(gid=ibis.row_number().over(order_by=[keys.job, keys.test])).drop("troubled")
    code = ibis.cases((base.verdict == PASSED, 0), (base.verdict == FLAKY, 2), else_=1)
    rows = (base.mutate(code=code).join(keys, ["job", "test"])
            .order_by("gid", "started_at", "build")
            .select("gid", "code", "attempts", "started_at", "run_id"))
    runs = table("runs").select("run_id", "build", "commit_sha").order_by("run_id")
    return keys.order_by("gid").select("job", "test"), rows, runs


def explained_failures(table: TableOf, s: Selection) -> ir.Table:
    """(job, test, run_id, bug) of the selection's failed or flaked verdicts a known bug explains."""
    v = selected(table, s)
    v = v.filter(v.verdict.isin(TROUBLED_VERDICTS))
    x = table("explanations")
    return v.join(x, ["run_id", "test"]).select("job", "test", "run_id", "bug")


def failure_messages(table: TableOf, s: Selection) -> ir.Table:
    """One failure text per failed (run, test) of the selection: (run_id, job, test, message),
    the smallest of its failed attempts' messages (or texts)."""
    v = selected(table, s)
    v = v.filter(_is_failed(v)).select("run_id", "job", "test")
    t = table("test_results")
    t = t.filter(t.status.isin(FAILED_STATUSES)).mutate(message=ibis.coalesce(t.failure_message, t.failure_text, ""))
    joined = t.join(v, ["run_id", "test"])
    return joined.group_by("run_id", "job", "test").aggregate(message=joined.message.min())


def job_run_counts(table: TableOf, s: Selection) -> ir.Table:
    """(job, runs): runs of each job in the selection."""
    v = selected(table, s)
    return v.group_by("job").aggregate(runs=v.run_id.nunique())


def infra_run_count(table: TableOf, s: Selection) -> ir.Scalar:
    """Finished runs (not pending, not aborted) of the window that the infrastructure rule leaves out."""
    r = table("runs")
    scoped = r.filter(~r.status.isin(UNENDED_RUN_STATUSES), *_scoped_runs(table, s, r))
    return scoped.anti_join(_kept_runs(table, s), "run_id").count()
