"""Reads for the structured failure reasons of runs (``runs --json``, ``triage``, the API):
what the store knows of each run, in a few bulk queries, and timing's verdicts — then
:func:`ciscope.analysis.failure_reason.failure_reason`, the one definition, per run.

Timing verdicts need stall thresholds, so when some of the runs asked about have lifecycle
events, the thresholds of ``ciscope timing thresholds`` (by job, the rule's days before now)
are computed once: one aggregation over those days' events.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import orjson

from ..analysis.failure_reason import FailureReason, RunFacts, TimingVerdict, failure_reason, timing_verdicts
from ..analysis.timing import TimingConfig
from ..status import RunStatus
from ..store.base import Store
from . import rules
from .explained import explained_sql
from .window import Window

__all__ = ["configured_timing", "failure_reasons"]

CHUNK = 2000
MAX_MATCHES = 5  # evidence lines per run from fingerprint matches
MAX_FAILURES = 3  # failed tests per run shown as evidence


def configured_timing() -> TimingConfig:
    """The ``timing:`` section of ``$CISCOPE_CONFIG`` (defaults without one)."""
    from .timing import load_config, timing_config

    path = os.environ.get("CISCOPE_CONFIG") or None
    return timing_config(load_config(path), source=path or "config")


def _chunks(values: Sequence[int]) -> list[list[int]]:
    return [list(values[i:i + CHUNK]) for i in range(0, len(values), CHUNK)]


def failure_reasons(store: Store, run_ids: Sequence[int], *, config: TimingConfig | None = None,
                    timing: bool = True) -> dict[int, FailureReason]:
    """The reason of every failed, aborted or incomplete run among ``run_ids`` (and of pending
    runs stopped for slowness); other runs are left out. ``timing=False`` skips the verdicts
    drawn from lifecycle events and thresholds."""
    config = config or configured_timing()
    facts: dict[int, RunFacts] = {}
    for chunk in _chunks(run_ids):
        for rid, status, tests, failed, reason, metadata, source, worker in store.query_in(
                "SELECT run_id, status, tests, failed_tests, reason, metadata, source, worker FROM runs"
                f" WHERE run_id IN ({{marks}}) AND (status <> '{RunStatus.SUCCESS.value}' OR metadata LIKE '%\"incomplete\"%')", chunk):
            facts[rid] = RunFacts(rid, status, int(tests or 0), int(failed or 0), orjson.loads(reason) if reason else {},
                                  orjson.loads(metadata) if metadata else {}, source, worker)
    if not facts:
        return {}
    ids = sorted(facts)
    matches: dict[int, list[dict[str, Any]]] = defaultdict(list)
    unexplained: dict[int, int] = {}
    failures: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for chunk in _chunks(ids):
        for rid, bug, test, file, line, text in store.query_in(
                "SELECT run_id, bug, test, file, line, text FROM matches WHERE run_id IN ({marks})"
                " ORDER BY run_id, bug, test NULLS LAST, file NULLS LAST, line NULLS LAST", chunk):
            if len(matches[rid]) < MAX_MATCHES:
                matches[rid].append({"bug": bug, "test": test, "file": file, "line": line, "text": text})
        for rid, n in store.query_in(
                f"SELECT v.run_id, count(*) FROM test_verdicts v WHERE {rules.failed_verdict('v.verdict')}"
                f" AND v.run_id IN ({{marks}}) AND NOT {explained_sql('v.run_id', 'v.test')} GROUP BY v.run_id", chunk):
            unexplained[rid] = int(n)
        for rid, test, message, text in store.query_in(
                "SELECT run_id, test, failure_message, failure_text FROM (SELECT t.run_id, t.test, t.failure_message,"
                " t.failure_text, row_number() OVER (PARTITION BY t.run_id ORDER BY t.test, t.attempt) AS k"
                " FROM test_results t JOIN test_verdicts v ON v.run_id = t.run_id AND v.test = t.test"
                f" WHERE {rules.failed_status('t.status')} AND {rules.failed_verdict('v.verdict')}"
                " AND t.run_id IN ({marks})) f"
                f" WHERE k <= {MAX_FAILURES} ORDER BY run_id, k", chunk):
            failures[rid].append((test, (message or text or "").strip().split("\n", 1)[0][:300]))
    for rid, f in facts.items():
        f.matches, f.unexplained, f.failures = matches.get(rid, []), unexplained.get(rid, 0), failures.get(rid, [])
    verdicts = _verdicts(store, ids, config) if timing else {}
    out = {}
    for rid in ids:
        reason = failure_reason(facts[rid], verdicts.get(rid), config=config)
        if reason is not None:
            out[rid] = reason
    return out


def _verdicts(store: Store, ids: list[int], config: TimingConfig) -> dict[int, TimingVerdict]:
    """Timing's verdicts on those of ``ids`` that have lifecycle events."""
    with_events = [rid for chunk in _chunks(ids) for (rid,) in store.query_in(
        "SELECT DISTINCT run_id FROM run_events WHERE run_id IN ({marks})", chunk)]
    if not with_events:
        return {}
    from .timing import timing_data, timing_now, timing_thresholds

    now = timing_now(store, Window())
    limits = timing_thresholds(store, Window(), by="job", config=config)
    data = timing_data(store, Window(), ("worker",), run_ids=sorted(with_events), config=config)
    return timing_verdicts(data, config=config, limits=limits, now=now)
