"""The store: the only layer that talks to a database engine.

``connect(url)`` returns a :class:`Store` for ``duckdb:///path`` (embedded, the default) or
``postgresql://…``. Every engine gets the same schema (``migrations/NNNN_name.sql``, plus
``NNNN_name.<engine>.sql`` for engine-only steps such as row-store indexes) and the same
write path: runs are turned into Arrow tables once (:func:`arrow_batch`) and appended in
bulk — DuckDB scans the Arrow table, PostgreSQL receives it through binary COPY.

Analyses query with :meth:`Store.query` using portable SQL and ``?`` placeholders.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import StoreError, UnknownEngineError
from ..model import Evidence, LifecycleEvent, Run, RunStatus, Status, TestResult, test_id
from . import DEFAULT_URL  # defined in the package, where importing it costs nothing
from .disruption import RUN_TABLES as DISRUPTION_TABLES
from .disruption import disruption_tables

RUNS_SCHEMA = pa.schema(
    [
        ("run_id", pa.int64()),
        ("job", pa.string()),
        ("build", pa.string()),
        ("status", pa.string()),
        ("started_at", pa.timestamp("us")),
        ("finished_at", pa.timestamp("us")),
        ("commit_sha", pa.string()),
        ("branch", pa.string()),
        ("pr", pa.string()),
        ("worker", pa.string()),
        ("url", pa.string()),
        ("variants", pa.string()),
        ("metadata", pa.string()),
        ("reason", pa.string()),
        ("source", pa.string()),
        ("logs", pa.string()),
        ("tests", pa.int32()),
        ("failed_tests", pa.int32()),
        ("flaked_tests", pa.int32()),
        ("ingested_at", pa.timestamp("us")),
    ]
)
RESULTS_SCHEMA = pa.schema(
    [
        ("run_id", pa.int64()),
        ("test", pa.string()),
        ("name", pa.string()),
        ("classname", pa.string()),
        ("suite", pa.string()),
        ("attempt", pa.int32()),
        ("status", pa.string()),
        ("duration", pa.float64()),
        ("failure_type", pa.string()),
        ("failure_message", pa.string()),
        ("failure_text", pa.string()),
        ("file", pa.string()),
    ]
)
VERDICTS_SCHEMA = pa.schema(
    [
        ("run_id", pa.int64()),
        ("job", pa.string()),
        ("test", pa.string()),
        ("verdict", pa.string()),
        ("attempts", pa.int32()),
        ("duration", pa.float64()),
        ("started_at", pa.timestamp("us")),
    ]
)
MATCHES_SCHEMA = pa.schema(
    [
        ("run_id", pa.int64()),
        ("bug", pa.string()),
        ("test", pa.string()),
        ("file", pa.string()),
        ("line", pa.int32()),
        ("text", pa.string()),
        ("matched_at", pa.timestamp("us")),
    ]
)
EXPLANATIONS_SCHEMA = pa.schema([("run_id", pa.int64()), ("test", pa.string()), ("bug", pa.string())])
RUN_VARIANTS_SCHEMA = pa.schema([("run_id", pa.int64()), ("key", pa.string()), ("value", pa.string())])
RUN_EVENTS_SCHEMA = pa.schema([("run_id", pa.int64()), ("event", pa.string()), ("emitted_at", pa.timestamp("us")),
                               ("received_at", pa.timestamp("us")), ("worker", pa.string()),
                               ("device_group", pa.string()), ("requestor", pa.string()), ("iteration", pa.int32())])
SCHEMAS = {"runs": RUNS_SCHEMA, "test_results": RESULTS_SCHEMA, "test_verdicts": VERDICTS_SCHEMA,
           "matches": MATCHES_SCHEMA, "explanations": EXPLANATIONS_SCHEMA, "run_variants": RUN_VARIANTS_SCHEMA,
           "run_events": RUN_EVENTS_SCHEMA}
#: Tables holding rows of a run (deleted with it, written with it), children before ``runs``.
#: ``run_phases`` and ``run_event_summary`` are derived from ``run_events`` (store/run_timing.py).
RUN_TABLES = ("run_phases", "run_event_summary", "run_events", "matches", "explanations", "run_variants", *DISRUPTION_TABLES, "test_verdicts", "test_results",
              "runs")

def _utc_naive(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def _json(value: object) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


@dataclass(slots=True)
class Batch:
    """Runs ready to append: one Arrow table per table, plus the runs' ids."""

    run_ids: list[int]
    tables: dict[str, pa.Table]
    results: int = 0


_RESULT_FIELDS = ("name", "classname", "suite", "attempt", "status", "duration", "failure_type",
                  "failure_message", "failure_text", "file")
# stored columns, then what the test id needs besides name and classname (not stored)
_fields_of = operator.attrgetter(*_RESULT_FIELDS, "scope", "occurrence")


def arrow_batch(runs: Sequence[Run], *, now: datetime | None = None) -> Batch:
    """Turn runs (with their results) into Arrow tables.

    Result columns are transposed in one pass; the verdict of each test in each run and the
    run counters are derived with Arrow's group-by (C++), not a Python loop per result.
    """
    now = _utc_naive(now or datetime.now(timezone.utc))
    run_ids = [run.run_id for run in runs]
    rid_col: list[int] = []
    for rid, run in zip(run_ids, runs):
        rid_col.extend([rid] * len(run.results))
    columns: list[Sequence[Any]] = list(zip(*map(_fields_of, itertools.chain.from_iterable(r.results for r in runs))))
    if not columns:
        columns = [[] for _ in range(len(_RESULT_FIELDS) + 2)]
    *columns, scopes, occurrences = columns
    tests = list(map(test_id, columns[1], columns[0], scopes, occurrences))
    results = pa.Table.from_arrays(
        [pa.array(rid_col, pa.int64()), pa.array(tests, pa.string()),
         *(pa.array(col, field.type) for col, field in zip(columns, list(RESULTS_SCHEMA)[2:]))],
        schema=RESULTS_SCHEMA,
    )

    run_info = pa.table({
        "run_id": pa.array(run_ids, pa.int64()),
        "job": pa.array([r.job for r in runs], pa.string()),
        "started_at": pa.array([_utc_naive(r.started_at) for r in runs], pa.timestamp("us")),
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
            "started_at": _utc_naive(run.started_at),
            "finished_at": _utc_naive(run.finished_at),
            "commit_sha": run.commit,
            "branch": run.branch,
            "pr": run.pr,
            "worker": run.worker,
            "url": run.url,
            "variants": _json(run.variants),
            "metadata": _json(run.metadata),
            "reason": _json(run_reason(run, failed)) if _is_failed(run) else None,
            "source": run.source,
            "logs": _json(run.logs),
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
            cols["emitted_at"].append(_utc_naive(e.emitted_at))
            cols["received_at"].append(_utc_naive(e.received_at))
            cols["worker"].append(e.worker)
            cols["device_group"].append(e.device_group)
            cols["requestor"].append(e.requestor)
            cols["iteration"].append(e.iteration)
    return pa.Table.from_pydict(cols, schema=RUN_EVENTS_SCHEMA)


def _failing_ids(run: Run) -> set[str]:
    """Test ids with a failed or errored attempt in the run (failed or flaked)."""
    return {r.test_id for r in run.results if r.status is Status.FAILED or r.status is Status.ERROR}


def _derive_verdicts(results: pa.Table, run_info: pa.Table) -> tuple[pa.Table, pa.Table]:
    """One verdict per (run, test) from its attempts (see :func:`ciscope.model.verdict_of`),
    and per run: tests with a verdict other than skipped, failed (or error), flaked."""
    status = results["status"]
    flags = pa.table({
        "run_id": results["run_id"],
        "test": results["test"],
        "p": pc.equal(status, "passed"),
        "f": pc.equal(status, "failed"),
        "e": pc.equal(status, "error"),
        "duration": results["duration"],
    })
    grouped = flags.group_by(["run_id", "test"], use_threads=False).aggregate(
        [("p", "any"), ("f", "any"), ("e", "any"), ("p", "count"), ("duration", "max")]
    )
    passed, failed, errored = grouped["p_any"], grouped["f_any"], grouped["e_any"]
    verdict = pc.if_else(
        pc.and_(passed, pc.or_(failed, errored)), "flaky",
        pc.if_else(failed, "failed", pc.if_else(errored, "error", pc.if_else(passed, "passed", "skipped"))),
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
        "counted": pc.cast(pc.not_equal(v, "skipped"), pa.int32()),
        "failed": pc.cast(pc.or_(pc.equal(v, "failed"), pc.equal(v, "error")), pa.int32()),
        "flaked": pc.cast(pc.equal(v, "flaky"), pa.int32()),
    })
    counters = per_run.group_by("run_id", use_threads=False).aggregate(
        [("counted", "sum"), ("failed", "sum"), ("flaked", "sum")]
    ).select(["run_id", "counted_sum", "failed_sum", "flaked_sum"]).rename_columns(
        ["run_id", "counted", "failed", "flaked"]
    )
    return verdicts, counters


def _is_failed(run: Run) -> bool:
    return run.status in (RunStatus.FAILURE, RunStatus.ERROR)


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
    passed in the run flaked: it did not make the run fail)."""
    failed = [r for r in run.results if r.status is Status.FAILED or r.status is Status.ERROR]
    if not failed:
        return failed
    names = {r.name for r in failed}  # cheap filter first: test_id is a property call
    passed = {r.test_id for r in run.results if r.status is Status.PASSED and r.name in names}
    return [r for r in failed if r.test_id not in passed] if passed else failed


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


def _only(batch: Batch, todo: Sequence[Run]) -> Batch:
    """The batch without the rows of runs that are not in ``todo``."""
    keep = [r.run_id for r in todo]
    if len(keep) == len(batch.run_ids):
        return batch
    wanted = pa.array(keep, pa.int64())
    tables = {name: t.filter(pc.is_in(t["run_id"], value_set=wanted)) for name, t in batch.tables.items()}
    return Batch(run_ids=keep, tables=tables, results=tables["test_results"].num_rows)


@dataclass(slots=True)
class WriteReport:
    """What one :meth:`Store.write_runs` call did."""

    inserted: list[int] = field(default_factory=list)
    replaced: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # already stored: idempotent no-op
    results: int = 0


def migrations(engine: str) -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration for an engine, in order."""
    found = []
    folder = resources.files("ciscope.store") / "migrations"
    for entry in folder.iterdir():
        match = re.fullmatch(r"(\d{4})_(\w+?)(?:\.(\w+))?\.sql", entry.name)
        if not match or (match.group(3) and match.group(3) != engine):
            continue
        found.append((int(match.group(1)), entry.name, entry.read_text()))
    return sorted(found)


def split_sql(script: str) -> list[str]:
    """Statements of a migration script (no semicolons inside our statements)."""
    body = "\n".join(line.split("--", 1)[0] for line in script.splitlines())
    return [part.strip() for part in body.split(";") if part.strip()]


class Store:
    """A ciscope database. Subclasses implement the engine primitives; the write logic
    (idempotence, replace, pending runs) lives here once."""

    name = "base"

    def __init__(self, url: str) -> None:
        self.url = url

    # -- engine primitives -------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        raise NotImplementedError

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a portable SQL query with ``?`` placeholders."""
        raise NotImplementedError

    def query_arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        raise NotImplementedError

    def query_columns(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """A large result (many rows of numbers, times and short strings) as Arrow columns
        typed from the engine's result types (integers int64, numerics float64). The
        engines' query_arrow, unless an engine has a faster path (PostgreSQL: COPY)."""
        return self.query_arrow(sql, params)

    def append(self, table: str, data: pa.Table) -> None:
        """Bulk-append an Arrow table (inside the current transaction)."""
        raise NotImplementedError

    def begin(self) -> None:
        self.execute("BEGIN")

    @contextlib.contextmanager
    def transaction(self, what: str, *, lock: bool = False) -> Iterator[None]:
        """One transaction around the block: committed when it ends, rolled back when it raises
        (a :class:`StoreError` saying ``could not {what}``); ``lock`` takes the write lock first."""
        self.begin()
        try:
            if lock:
                self.lock_writes()
            yield
            self.commit()
        except Exception as exc:
            self.rollback()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"{self.url}: could not {what}: {exc}") from exc

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        self.execute("ROLLBACK")

    def close(self) -> None:
        raise NotImplementedError

    def table_exists(self, table: str) -> bool:
        raise NotImplementedError

    def regex_sql(self, column: str) -> str:
        """SQL condition: ``column`` contains a match of the regular expression in the next
        ``?`` parameter."""
        raise NotImplementedError

    # -- shared logic ---------------------------------------------------------------------
    def query_dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        table = self.query_arrow(sql, params)
        return table.to_pylist()

    def migrate(self) -> list[str]:
        """Apply the migrations not yet applied, in one transaction under the write lock (two
        processes opening a new store at once do not both migrate it); returns the names applied."""
        applied = []
        self.begin()
        try:
            self.lock_writes()
            if not self.table_exists("schema_migrations"):
                self.execute(
                    "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                    " applied_at TIMESTAMP NOT NULL)"
                )
            done = {row[0] for row in self.query("SELECT version FROM schema_migrations")}
            for version, name, sql in migrations(self.name):
                if version in done:
                    continue
                try:
                    for statement in split_sql(sql):
                        self.execute(statement)
                    if version in _BACKFILLS:
                        _BACKFILLS[version](self)
                except Exception as exc:
                    raise StoreError(f"{self.url}: migration {name} failed: {exc}") from exc
                self.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    (version, name, datetime.now(timezone.utc).replace(tzinfo=None)),
                )
                applied.append(name)
            self.commit()
        except StoreError:
            self.rollback()
            raise
        except Exception as exc:
            self.rollback()
            raise StoreError(f"{self.url}: could not migrate the schema: {exc}") from exc
        return applied

    def schema_version(self) -> int:
        if not self.table_exists("schema_migrations"):
            return 0
        rows = self.query("SELECT max(version) FROM schema_migrations")
        return int(rows[0][0] or 0)

    def stored_status(self, run_ids: Iterable[int]) -> dict[int, str]:
        """Status of those runs already stored."""
        ids = list(run_ids)
        out: dict[int, str] = {}
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            marks = ",".join("?" * len(chunk))
            for rid, status in self.query(
                f"SELECT run_id, status FROM runs WHERE run_id IN ({marks})", chunk
            ):
                out[rid] = status
        return out

    def write_runs(self, runs: Sequence[Run], *, replace: bool = False) -> WriteReport:
        """Store runs with their results in ONE transaction: all of them or none.

        A run already stored is skipped (ingest is idempotent) unless ``replace`` is true or
        the stored copy is still ``pending`` and the new one is not — then the old rows are
        deleted and the new ones written, in the same transaction.
        """
        return self._write(runs, None, replace)

    def write_prepared(self, runs: Sequence[Run], batch: Batch, *, replace: bool = False) -> WriteReport:
        """Like :meth:`write_runs` for runs whose Arrow tables were built elsewhere (an ingest
        worker process): ``runs`` carry the metadata only (their results are in ``batch``).
        Rows of runs that are skipped are filtered out of the tables before appending."""
        return self._write(runs, batch, replace)

    def lock_writes(self) -> None:
        """Inside a write transaction: wait until no other writer holds the store. DuckDB has
        one writer per file already; PostgreSQL takes an advisory lock."""

    def _plan(self, runs: Sequence[Run], replace: bool) -> tuple[WriteReport, list[Run]]:
        report = WriteReport()
        by_id: dict[int, Run] = {}
        for run in runs:  # the last copy of a run given twice in one batch wins
            by_id[run.run_id] = run
        stored = self.stored_status(by_id)
        todo: list[Run] = []
        for rid, run in by_id.items():
            old = stored.get(rid)
            if old is None:
                report.inserted.append(rid)
            elif replace or (old == RunStatus.PENDING.value and run.status is not RunStatus.PENDING):
                report.replaced.append(rid)
            else:
                report.skipped.append(rid)
                continue
            todo.append(run)
        return report, todo

    def _write(self, runs: Sequence[Run], batch: Batch | None, replace: bool) -> WriteReport:
        """Decide and write in ONE transaction, under the write lock: what is already stored is
        read after the lock is taken, so two ingests of the same runs at once cannot both
        insert them — the second finds the first's rows and reports them as already stored."""
        self.begin()
        try:
            self.lock_writes()
            report, todo = self._plan(runs, replace)
            if todo:
                batch = arrow_batch(todo) if batch is None else _only(batch, todo)
                if report.replaced:
                    self._delete_runs(report.replaced)
                for table in reversed(RUN_TABLES):
                    if table in batch.tables and batch.tables[table].num_rows:
                        self.append(table, batch.tables[table])
                events = batch.tables.get("run_events")
                if events is not None and events.num_rows:  # their summaries, from the rows just written
                    from .run_timing import refresh_run_timing

                    refresh_run_timing(self, pc.unique(events["run_id"]).to_pylist())
                self._upsert_jobs(todo)
                report.results = batch.results
            self.commit()
        except Exception as exc:
            self.rollback()
            raise StoreError(f"{self.url}: could not store {len(runs)} run(s): {exc}") from exc
        return report

    def write_testgrid_summaries(self, summaries: dict[str, Any], *, source: str) -> None:
        """Store upstream TestGrid tab summaries; a summary already stored for the same tab
        and last run is replaced."""
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        with self.transaction(f"store TestGrid summaries from {source}"):
            for tab, summary in summaries.items():
                last = (datetime.fromtimestamp(summary.last_run_ms / 1000, timezone.utc).replace(tzinfo=None)
                        if summary.last_run_ms else None)
                if last is None:
                    self.execute("DELETE FROM testgrid_summaries WHERE tab = ? AND last_run IS NULL", (tab,))
                else:
                    self.execute("DELETE FROM testgrid_summaries WHERE tab = ? AND last_run = ?", (tab, last))
                alerts = [{k: v for k, v in dataclasses.asdict(a).items() if v is not None} for a in summary.alerts]
                self.execute(
                    "INSERT INTO testgrid_summaries VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (tab, source, last, summary.overall_status.label, summary.status, summary.latest_green,
                     _json(alerts), now),
                )

    def register_job(self, job: str) -> None:
        """Store a job that has no runs (yet), e.g. an empty TestGrid tab; no-op if known."""
        try:
            self.execute("INSERT INTO jobs VALUES (?, ?, ?, ?) ON CONFLICT (job) DO NOTHING", (job, "{}", None, None))
        except Exception as exc:
            raise StoreError(f"{self.url}: could not store job {job!r}: {exc}") from exc

    def _delete_runs(self, run_ids: Sequence[int]) -> None:
        for start in range(0, len(run_ids), 5000):
            chunk = list(run_ids[start : start + 5000])
            marks = ",".join("?" * len(chunk))
            for table in RUN_TABLES:
                self.execute(f"DELETE FROM {table} WHERE run_id IN ({marks})", chunk)

    def _upsert_jobs(self, runs: Sequence[Run]) -> None:
        seen: dict[str, tuple[dict[str, str], datetime | None, datetime | None]] = {}
        for run in runs:
            started = _utc_naive(run.started_at)
            variants, first, last = seen.get(run.job, ({}, started, started))
            variants = {**variants, **run.variants}
            if started is not None:
                first = min(first, started) if first else started
                last = max(last, started) if last else started
            seen[run.job] = (variants, first, last)
        existing = {
            row[0]: row[1:]
            for row in self.query_in("SELECT job, variants, first_seen, last_seen FROM jobs WHERE job IN ({marks})", list(seen))
        }
        for job, (variants, first, last) in seen.items():
            if job in existing:
                old_variants, old_first, old_last = existing[job]
                merged = {**orjson.loads(old_variants), **variants}
                first = min(x for x in (first, old_first) if x) if (first or old_first) else None
                last = max(x for x in (last, old_last) if x) if (last or old_last) else None
                self.execute(
                    "UPDATE jobs SET variants = ?, first_seen = ?, last_seen = ? WHERE job = ?",
                    (_json(merged), first, last, job),
                )
            else:
                self.execute(
                    "INSERT INTO jobs VALUES (?, ?, ?, ?)", (job, _json(variants), first, last)
                )

    def query_in(self, sql: str, values: list[Any], params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run ``sql`` whose ``{marks}`` is replaced by one placeholder per value."""
        if not values:
            return []
        return self.query(sql.format(marks=",".join("?" * len(values))), [*params, *values])

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _backfill_0007(store: Store) -> None:
    """Fill ``explanations`` and ``run_variants`` for runs stored before migration 0007."""
    rows = store.query("SELECT run_id, variants FROM runs WHERE variants <> '{}'")
    table = variants_table((rid, orjson.loads(v)) for rid, v in rows)
    if table.num_rows:
        store.append("run_variants", table)
    scoped = {bug: orjson.loads(t or "[]") for bug, t in store.query("SELECT bug, test_ids FROM fingerprints")}
    evidence: dict[int, list[Evidence]] = {}
    for rid, bug, test in store.query("SELECT DISTINCT run_id, bug, test FROM matches"):
        evidence.setdefault(rid, []).append(Evidence(bug=bug, file="", line=None, text="", test=test))
    failing: dict[int, set[str]] = {}
    ids = sorted(evidence)
    for start in range(0, len(ids), 5000):
        for rid, test in store.query_in("SELECT run_id, test FROM test_verdicts WHERE verdict IN ('failed', 'error', 'flaky')"
                                        " AND run_id IN ({marks})", ids[start:start + 5000]):
            failing.setdefault(rid, set()).add(test)
    table = explanations_table(((rid, failing.get(rid, set()), ev) for rid, ev in evidence.items()), scoped)
    if table.num_rows:
        store.append("explanations", table)


def _backfill_0018(store: Store) -> None:
    from .run_timing import backfill

    backfill(store)


#: Python steps run right after a migration's SQL, in its transaction.
_BACKFILLS = {7: _backfill_0007, 18: _backfill_0018}


def engines() -> dict[str, type[Store]]:
    from .duckdb import DuckDBStore
    from .parquet import ParquetStore
    from .postgres import PostgresStore

    return {"duckdb": DuckDBStore, "postgresql": PostgresStore, "postgres": PostgresStore, "parquet": ParquetStore}


def latest_version(engine: str) -> int:
    """The schema version this code brings a store to (its newest migration)."""
    return max((version for version, _, _ in migrations(engine)), default=0)


def connect(url: str = DEFAULT_URL, *, migrate: bool = True, read_only: bool = False, wait: float = 0.0,
            on_wait: Callable[[str], None] | None = None) -> Store:
    """Open the store at ``url`` (``duckdb:///path``, ``duckdb://:memory:``,
    ``postgresql://user@host:port/db``) and bring its schema up to date.

    ``read_only``: for reading only — the store must exist (a missing one is a
    :class:`StoreError` "no store at …", never created), a DuckDB file is opened read-only, and
    no migration runs: a schema older than the code is an error asking for ``ciscope db
    migrate``. ``wait``: seconds to wait for a DuckDB file locked by another process
    (``on_wait(message)`` is called once when waiting starts)."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    available = engines()
    if scheme not in available:
        raise UnknownEngineError(
            f"Unknown database URL {url!r}: expected one of "
            "duckdb:///PATH, duckdb://:memory:, postgresql://USER@HOST:PORT/DB, parquet:///LAKE_DIR"
        )
    if scheme == "duckdb":
        from .duckdb import duckdb_path

        read_only = read_only and duckdb_path(url) != ":memory:"  # a fresh in-memory store is empty
        store = available[scheme](url, read_only=read_only, wait=wait, on_wait=on_wait)  # type: ignore[call-arg]
    elif scheme == "parquet":
        from .parquet import READ_ONLY

        if not read_only:
            raise StoreError(READ_ONLY)
        store = available[scheme](url)
    else:
        store = available[scheme](url)
    if read_only:
        try:
            _check_readable(store)
        except BaseException:
            store.close()
            raise
    elif migrate:
        store.migrate()
    return store


def _check_readable(store: Store) -> None:
    version, needed = store.schema_version(), latest_version(store.name)
    if version == 0:
        raise StoreError(f"no store at {store.url}: `ciscope ingest` or `ciscope demo` creates one "
                         "(or give another with --db / CISCOPE_DB)")
    if version < needed:
        raise StoreError(f"the store at {store.url} has schema version {version}, this ciscope needs {needed}: "
                         "run `ciscope db migrate` (read commands never change the schema)")
