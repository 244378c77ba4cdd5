"""The write path's data: runs turned into Arrow tables once (:func:`arrow_batch`) — results,
verdicts, matches, explanations, variants, events and the run rows — and the rules a write
follows (:func:`would_write`, :class:`WriteReport`). Engines append these tables in bulk."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ..model import Evidence, LifecycleEvent, ResultColumns, Run, RunStatus, Status, TestResult, naive_utc
from ..status import FAILED_RUN_STATUSES, FAILED_VERDICTS, Verdict
from .disruption import disruption_tables
from .schema import (
    EXPLANATIONS_SCHEMA,
    JOBS_SCHEMA,
    MATCHES_SCHEMA,
    RESULTS_SCHEMA,
    RUN_EVENTS_SCHEMA,
    RUN_VARIANTS_SCHEMA,
    RUNS_SCHEMA,
    VERDICTS_SCHEMA,
)


def json_text(value: object) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


@dataclass(slots=True)
class Batch:
    """Runs ready to append: one Arrow table per table, plus the runs' ids."""

    run_ids: list[int]
    tables: dict[str, pa.Table]
    results: int = 0


def columns_of(run: Run) -> ResultColumns:
    """The run's results as columns: as read (the JUnit and Prow readers write columns), or
    from its records (subunit, TestGrid, hand-made runs), converted once and kept."""
    if not isinstance(run.results, ResultColumns):
        run.results = ResultColumns.from_records(run.results)
    return run.results


def arrow_batch(runs: Sequence[Run], *, now: datetime | None = None) -> Batch:
    """Turn runs (with their results) into Arrow tables.

    The result columns are taken as the readers wrote them (no record per passing test is
    made or taken apart: sparse columns are filled per row that has a value); the verdict of
    each test in each run and the run counters are derived with Arrow's group-by (C++), not
    a Python loop per result.
    """
    now = naive_utc(now or datetime.now(timezone.utc))
    run_ids = [run.run_id for run in runs]
    rid_col: list[int] = []
    tests: list[str] = []
    names: list[str] = []
    classnames: list[str] = []
    suites: list[str] = []
    durations: list[float | None] = []
    statuses: list[str] = []
    files: list[str] = []
    attempts: dict[int, int] = {}
    details: dict[int, tuple[Status, str | None, str | None, str | None]] = {}
    for rid, run in zip(run_ids, runs):
        cols = columns_of(run)
        base = len(names)
        rid_col += [rid] * len(cols)
        tests += cols.tests()
        names += cols.name
        classnames += cols.classname
        suites += cols.expand(cols.suites)
        durations += cols.duration
        statuses += cols.statuses()
        files += cols.expand(cols.files)
        if cols.attempt:
            attempts.update({row + base: n for row, n in cols.attempt.items()})
        if cols.details:
            details.update({row + base: d for row, d in cols.details.items()})
    n = len(names)
    attempt_col = [0] * n
    for row, number in attempts.items():
        attempt_col[row] = number
    ftype: list[str | None] = [None] * n
    message: list[str | None] = [None] * n
    text: list[str | None] = [None] * n
    for row, (_, failure_type, failure_message, failure_text) in details.items():
        ftype[row], message[row], text[row] = failure_type, failure_message, failure_text
    results = pa.Table.from_arrays(
        [pa.array(rid_col, pa.int64()), pa.array(tests, pa.string()), pa.array(names, pa.string()),
         pa.array(classnames, pa.string()), pa.array(suites, pa.string()), pa.array(attempt_col, pa.int32()),
         pa.array(statuses, pa.string()), pa.array(durations, pa.float64()), pa.array(ftype, pa.string()),
         pa.array(message, pa.string()), pa.array(text, pa.string()), pa.array(files, pa.string())],
        schema=RESULTS_SCHEMA,
    )

    run_info = pa.table({
        "run_id": pa.array(run_ids, pa.int64()),
        "job": pa.array([r.job for r in runs], pa.string()),
        "started_at": pa.array([naive_utc(r.started_at) for r in runs], pa.timestamp("us")),
    })
    verdicts, counters = _derive_verdicts(results, run_info)

    counts = {rid: (0, 0, 0) for rid in run_ids}
    for rid, counted, failed, flaked in zip(*(counters[c].to_pylist() for c in ("run_id", "counted", "failed", "flaked"))):
        counts[rid] = (counted, failed, flaked)
    run_cols: dict[str, list[Any]] = {name: [] for name in RUNS_SCHEMA.names}
    for run, rid in zip(runs, run_ids):
        counted, failed, flaked = counts[rid]
        values = {
            "run_id": rid,
            "job": run.job,
            "build": run.build,
            "status": run.status.value,
            "started_at": naive_utc(run.started_at),
            "finished_at": naive_utc(run.finished_at),
            "commit_sha": run.commit,
            "branch": run.branch,
            "pr": run.pr,
            "worker": run.worker,
            "url": run.url,
            "variants": json_text(run.variants),
            "metadata": json_text(run.metadata),
            "reason": json_text(run_reason(run, failed)) if _is_failed(run) else None,
            "source": run.source,
            "logs": json_text(run.logs),
            "tests": counted,
            "failed_tests": failed,
            "flaked_tests": flaked,
            "ingested_at": now,
        }
        for key, value in values.items():
            run_cols[key].append(value)
    tables = {
        "runs": pa.Table.from_pydict(run_cols, schema=RUNS_SCHEMA),
        "test_results": results,
        "test_verdicts": verdicts,
        "matches": evidence_table([(rid, run.evidence) for rid, run in zip(run_ids, runs)], now=now),
        "explanations": explanations_table((rid, _failing_ids(run), run.evidence)
                                           for rid, run in zip(run_ids, runs) if run.evidence),
        "run_variants": variants_table((rid, run.variants) for rid, run in zip(run_ids, runs)),
        "run_events": events_table((rid, run.events) for rid, run in zip(run_ids, runs) if run.events),
    }
    tables.update(disruption_tables(runs))
    return Batch(run_ids=run_ids, tables=tables, results=results.num_rows)


def evidence_table(evidence: Iterable[tuple[int, Sequence[Evidence]]], *, now: datetime | None) -> pa.Table:
    """The ``matches`` rows of (run_id, evidence list) pairs."""
    cols: dict[str, list[Any]] = {name: [] for name in MATCHES_SCHEMA.names}
    for rid, items in evidence:
        for e in items:
            cols["run_id"].append(rid)
            cols["bug"].append(e.bug)
            cols["test"].append(e.test)
            cols["file"].append(e.file)
            cols["line"].append(e.line)
            cols["text"].append(e.text[:1024])
            cols["matched_at"].append(now)
    return pa.Table.from_pydict(cols, schema=MATCHES_SCHEMA)


def explanations_table(runs: Iterable[tuple[int, Iterable[str], Sequence[Evidence]]],
                       scoped: dict[str, list[str]] | None = None) -> pa.Table:
    """The ``explanations`` rows of (run_id, failing test ids, evidence) triples: which bug
    explains which failed test, by the one rule of :func:`ciscope.queries.explained.explain`."""
    from ..queries.explained import explain

    cols: dict[str, list[Any]] = {"run_id": [], "test": [], "bug": []}
    for rid, failing, evidence in runs:
        for test, bugs in sorted(explain(failing, evidence, scoped).items()):
            for bug in sorted(bugs):
                cols["run_id"].append(rid)
                cols["test"].append(test)
                cols["bug"].append(bug)
    return pa.Table.from_pydict(cols, schema=EXPLANATIONS_SCHEMA)


def jobs_table(rows: Sequence[tuple[str, str, datetime | None, datetime | None]]) -> pa.Table:
    """``jobs`` rows — (job, variants as JSON text, first_seen, last_seen) — as an Arrow table."""
    names = JOBS_SCHEMA.names
    return pa.Table.from_pydict({n: [row[i] for row in rows] for i, n in enumerate(names)}, schema=JOBS_SCHEMA)


def variants_table(runs: Iterable[tuple[int, dict[str, str]]]) -> pa.Table:
    """The ``run_variants`` rows of (run_id, variants) pairs."""
    cols: dict[str, list[Any]] = {"run_id": [], "key": [], "value": []}
    for rid, variants in runs:
        for key, value in sorted(variants.items()):
            cols["run_id"].append(rid)
            cols["key"].append(str(key))
            cols["value"].append(str(value))
    return pa.Table.from_pydict(cols, schema=RUN_VARIANTS_SCHEMA)


def events_table(runs: Iterable[tuple[int, Sequence[LifecycleEvent]]]) -> pa.Table:
    """The ``run_events`` rows of (run_id, lifecycle events) pairs (see docs/timing.md)."""
    cols: dict[str, list[Any]] = {name: [] for name in RUN_EVENTS_SCHEMA.names}
    for rid, events in runs:
        for e in events:
            cols["run_id"].append(rid)
            cols["event"].append(e.event)
            cols["emitted_at"].append(naive_utc(e.emitted_at))
            cols["received_at"].append(naive_utc(e.received_at))
            cols["worker"].append(e.worker)
            cols["device_group"].append(e.device_group)
            cols["requestor"].append(e.requestor)
            cols["iteration"].append(e.iteration)
    return pa.Table.from_pydict(cols, schema=RUN_EVENTS_SCHEMA)


def _failing_ids(run: Run) -> set[str]:
    """Test ids with a failed or errored attempt in the run (failed or flaked)."""
    cols = columns_of(run)
    tests = cols.tests()
    return {tests[row] for row in cols.failed_rows()}


def _derive_verdicts(results: pa.Table, run_info: pa.Table) -> tuple[pa.Table, pa.Table]:
    """One verdict per (run, test) from its attempts (see :func:`ciscope.model.verdict_of`),
    and per run: tests with a verdict other than skipped, failed (or error), flaked."""
    status = results["status"]
    flags = pa.table({
        "run_id": results["run_id"],
        "test": results["test"],
        "p": pc.equal(status, Status.PASSED.value),
        "f": pc.equal(status, Status.FAILED.value),
        "e": pc.equal(status, Status.ERROR.value),
        "duration": results["duration"],
    })
    grouped = flags.group_by(["run_id", "test"], use_threads=False).aggregate(
        [("p", "any"), ("f", "any"), ("e", "any"), ("p", "count"), ("duration", "max")]
    )
    passed, failed, errored = grouped["p_any"], grouped["f_any"], grouped["e_any"]
    verdict = pc.if_else(
        pc.and_(passed, pc.or_(failed, errored)), Verdict.FLAKY.value,
        pc.if_else(failed, Verdict.FAILED.value, pc.if_else(errored, Verdict.ERROR.value,
                                                            pc.if_else(passed, Verdict.PASSED.value, Verdict.SKIPPED.value))),
    )
    # job and start of each verdict's run: a hash lookup and a take (cheaper than a join)
    where = pc.index_in(grouped["run_id"], value_set=run_info["run_id"].combine_chunks())
    verdicts = pa.Table.from_arrays(
        [grouped["run_id"], run_info["job"].take(where), grouped["test"], verdict,
         pc.cast(grouped["p_count"], pa.int32()), grouped["duration_max"], run_info["started_at"].take(where)],
        schema=VERDICTS_SCHEMA,
    )
    v = verdicts["verdict"]
    per_run = pa.table({
        "run_id": verdicts["run_id"],
        "counted": pc.cast(pc.not_equal(v, Verdict.SKIPPED.value), pa.int32()),
        "failed": pc.cast(pc.is_in(v, value_set=pa.array([f.value for f in FAILED_VERDICTS])), pa.int32()),
        "flaked": pc.cast(pc.equal(v, Verdict.FLAKY.value), pa.int32()),
    })
    counters = per_run.group_by("run_id", use_threads=False).aggregate(
        [("counted", "sum"), ("failed", "sum"), ("flaked", "sum")]
    ).select(["run_id", "counted_sum", "failed_sum", "flaked_sum"]).rename_columns(
        ["run_id", "counted", "failed", "flaked"]
    )
    return verdicts, counters


def _is_failed(run: Run) -> bool:
    return run.status in FAILED_RUN_STATUSES


def run_reason(run: Run, failed_tests: int) -> dict[str, object]:
    """What a failed run's tests say, stored with it (``runs.reason``): which component failed,
    the first message, the known bugs whose fingerprints matched (``fingerprint``) and the
    failure cluster of its first unexplained failed test (``cluster``, see
    :func:`ciscope.analysis.clusters.cluster_key`; None when every failure is explained).
    These are the ingest-time facts the one structured reason shown by ``runs``, ``triage``
    and the API is computed from, with timing's verdicts, at read time
    (:func:`ciscope.analysis.failure_reason.failure_reason`)."""
    from ..analysis.clusters import cluster_key
    from ..queries.explained import explain

    bugs = sorted({e.bug for e in run.evidence})
    failing = _failing(run)  # once per run: it computes test ids
    reason = _base_reason(run, failed_tests, failing)
    reason["fingerprint"] = bugs or None
    explained = explain({r.test_id for r in failing}, run.evidence)
    unexplained = [r for r in failing if r.test_id not in explained]
    reason["cluster"] = None
    if unexplained:
        first = min(unexplained, key=lambda r: (r.test_id, r.attempt))
        reason["cluster"] = cluster_key(first.failure_message or first.failure_text or "")
    return reason


def _failing(run: Run) -> list[TestResult]:
    """Failed attempts of the tests whose verdict is failed or error (a test that also
    passed in the run flaked: it did not make the run fail). Rows that did not pass are the
    columns' sparse ones, so this costs per failure, plus one set lookup per result."""
    cols = columns_of(run)
    rows = cols.failed_rows()
    if not rows:
        return []
    tests, details = cols.tests(), cols.details
    failing = {tests[row] for row in rows}
    passed = {test for row, test in enumerate(tests)
              if test in failing and (row not in details or details[row][0] is Status.PASSED)}
    return [cols[row] for row in rows if tests[row] not in passed]


def _base_reason(run: Run, failed_tests: int, failing: list[TestResult]) -> dict[str, object]:
    if failed_tests == 0:
        category = "infrastructure" if not run.results else "outside_tests"
        message = (
            "job failed before any test ran" if not run.results
            else "job failed but no test failed (build failed outside of test results)"
        )
        return {"component": category, "message": message, "fingerprint": None, "tests": []}
    names = list(dict.fromkeys(r.test_id for r in failing))
    first = failing[0]
    message = first.failure_message or (first.failure_text or "").strip().split("\n", 1)[0]
    return {
        "component": "tests",
        "message": f"{first.test_id}: {message}"[:1000],
        "fingerprint": None,
        "tests": names[:20],
    }


def batch_of(batch: Batch, todo: Sequence[Run]) -> Batch:
    """The batch without the rows of runs that are not in ``todo``."""
    keep = [r.run_id for r in todo]
    if len(keep) == len(batch.run_ids):
        return batch
    wanted = pa.array(keep, pa.int64())
    tables = {name: t.filter(pc.is_in(t["run_id"], value_set=wanted)) for name, t in batch.tables.items()}
    return Batch(run_ids=keep, tables=tables, results=tables["test_results"].num_rows)


def would_write(stored: str | None, status: RunStatus, *, replace: bool = False) -> bool:
    """Whether a run of ``status`` is written when the store holds it with status ``stored``
    (None: not stored): always when not stored or with ``replace``; over a stored copy only
    when that copy is still ``pending`` and this one is not (the run has ended since). The
    one statement of the rule: the writer, the ingest's pre-check and its known-bug scan ask it."""
    if stored is None or replace:
        return True
    return stored == RunStatus.PENDING.value and status is not RunStatus.PENDING


@dataclass(slots=True)
class WriteReport:
    """What one :meth:`Store.write_runs` call did."""

    inserted: list[int] = field(default_factory=list)
    replaced: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # already stored: idempotent no-op
    results: int = 0
