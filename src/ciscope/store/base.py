"""The store: the only layer that talks to a database engine.

:class:`Store` holds what every engine shares — transactions and the write lock, migrations,
the write logic (idempotence, replace, pending runs), readers and the store's generation —
over a few engine primitives that ``duckdb.py``, ``postgres.py``, ``parquet.py`` and
``lakes.py`` implement. Beside it: ``schema.py`` (the tables: Arrow schemas and migrations),
``write.py`` (runs turned into Arrow tables once, appended in bulk — DuckDB scans the Arrow
table, PostgreSQL receives it through binary COPY) and ``engine.py`` (``connect(url)``).

Analyses query through ``ciscope.queries`` (Ibis expressions, or portable SQL with ``?``
placeholders through :meth:`Store.query`).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import StoreError
from ..model import Evidence, Run, naive_utc
from .schema import RUN_TABLES, migrations, split_sql
from .write import (
    Batch,
    WriteReport,
    arrow_batch,
    batch_of,
    explanations_table,
    jobs_table,
    json_text,
    variants_table,
    would_write,
)


class Store:
    """A ciscope database. Subclasses implement the engine primitives; the write logic
    (idempotence, replace, pending runs) lives here once."""

    name = "base"
    _generation_table = False  # see _has_generation

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

    def update_rows(self, table: str, data: pa.Table, *, key: str) -> None:
        """Bulk-update ``table`` from an Arrow table (inside the current transaction): each
        row of ``data`` sets the other columns of ``data`` on the row of ``table`` whose
        ``key`` equals its own (``key`` unique in ``data``; a key ``table`` lacks changes
        nothing). The engines run one statement over the whole table (DuckDB: UPDATE … FROM
        the registered Arrow table; PostgreSQL: COPY into a temporary table, then UPDATE …
        FROM it); this fallback runs one UPDATE per row."""
        names = updated_columns(data, key)
        sql = f"UPDATE {table} SET {', '.join(f'{n} = ?' for n in names)} WHERE {key} = ?"
        for row in zip(*(data[n].to_pylist() for n in (*names, key))):
            self.execute(sql, row)

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
        """Commit the current transaction, bumping the store's :meth:`generation` in it: every
        write transaction ciscope makes ends here (``write_runs``, ``transaction``, ``migrate``,
        reclassify, retriggers), so the generation changes exactly when what a report reads may
        have changed. Autocommit statements outside a transaction (token bookkeeping,
        ``register_job``) do not bump it: no report reads them."""
        if self._has_generation():
            self.execute("UPDATE store_generation SET generation = generation + 1")
        self.execute("COMMIT")

    def _has_generation(self) -> bool:
        """Whether ``store_generation`` exists (migration 0016); remembered once it does."""
        if not self._generation_table:
            self._generation_table = self.table_exists("store_generation")
        return self._generation_table

    def generation(self) -> int:
        """The store's generation: a number that changes whenever a write transaction commits
        (see :meth:`commit`), 0 for a store older than migration 0016. Read inside a
        :meth:`snapshot`, it is the generation of exactly the data the snapshot sees, so
        ``(report, parameters, generation)`` names one answer: the key of ``ciscope serve``'s
        report cache (:mod:`ciscope.web.cache`). One row, one read: cheap on every engine."""
        if not self._has_generation():
            return 0
        rows = self.query("SELECT max(generation) FROM store_generation")
        return int(rows[0][0] or 0)

    # -- reads from many threads -------------------------------------------------------
    #: statement that starts a read-only transaction seeing one snapshot (engines override it)
    SNAPSHOT_SQL = "BEGIN TRANSACTION READ ONLY"

    def reader(self) -> Store:
        """A new connection to the same database, for reading from another thread while this
        store writes (DuckDB: a cursor of the same database; PostgreSQL: a new connection). It
        is closed by the caller; :class:`ciscope.store.pool.ReaderPool` keeps a few for reuse."""
        raise NotImplementedError(f"the {self.name} engine has no separate readers")

    def alive(self) -> bool:
        """Whether the connection can still be used (a reader pool drops one that cannot)."""
        return True

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """One read-only transaction around the block: every query in it sees the store as it
        was when the block began, whatever commits meanwhile; a write in it is an error. Ends
        with a rollback (nothing to keep)."""
        self.execute(self.SNAPSHOT_SQL)
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception):  # a broken connection: the first error is the one to see
                self.rollback()
            raise
        self.rollback()

    def rollback(self) -> None:
        self.execute("ROLLBACK")

    def close(self) -> None:
        raise NotImplementedError

    def discard(self) -> None:
        """Close after a failure: what is not kept yet is dropped (a lake's working copy is not
        published); a store's committed transactions are kept, as with :meth:`close`."""
        self.close()

    def table_exists(self, table: str) -> bool:
        raise NotImplementedError

    def regex_sql(self, column: str) -> str:
        """SQL condition: ``column`` contains a match of the regular expression in the next
        ``?`` parameter."""
        raise NotImplementedError

    def seconds_sql(self, column: str) -> str:
        """SQL of a timestamp column as seconds since the epoch, a double with the microseconds
        (DuckDB and PostgreSQL alike; ``date_part``, not ``EXTRACT``: PostgreSQL's EXTRACT
        returns a numeric, and converting 600k of them cost a second in the timing aggregation)."""
        return f"date_part('epoch', {column})"

    def percentile_sql(self, expr: str, quantile: float) -> str:
        """SQL aggregate: the ``quantile`` of ``expr`` over the group, interpolated as
        :meth:`quantiles_sql` (the portable ordered-set aggregate; engines without it override)."""
        return f"percentile_cont({float(quantile)!r}) WITHIN GROUP (ORDER BY {expr})"

    def quantiles_sql(self, expr: str, quantiles: Sequence[float]) -> str:
        """SQL aggregate: the ``quantiles`` of ``expr`` over the group (linear interpolation
        between the closest ranks, as NumPy's default; nulls ignored), as one list/array value.
        NotImplementedError where the engine has none (the caller computes them itself)."""
        raise NotImplementedError

    # -- Ibis: the expressions of ciscope.queries, executed on this engine -------------------
    def ibis_backend(self) -> Any:
        """The Ibis backend over this store's connection (made once; Ibis is imported here,
        on first use, never by commands that do not query)."""
        raise StoreError(f"{self.url}: the {self.name} engine does not run Ibis expressions")

    def ibis_table(self, name: str) -> Any:
        """The table ``name`` as an Ibis table of :meth:`ibis_backend` (its schema read once)."""
        tables = self.__dict__.setdefault("_ibis_tables", {})
        if name not in tables:
            tables[name] = self.ibis_backend().table(name)
        return tables[name]

    def to_arrow(self, expr: Any) -> pa.Table:
        """Execute an Ibis expression on the engine; a scalar comes back as a one-row table."""
        result = self.ibis_backend().to_pyarrow(expr)
        return result if isinstance(result, pa.Table) else pa.table({"value": [result.as_py()]})

    def scalar(self, expr: Any) -> Any:
        """The value of a scalar Ibis expression."""
        return self.to_arrow(expr).column(0)[0].as_py()

    # -- shared logic ---------------------------------------------------------------------
    def query_dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        table = self.query_arrow(sql, params)
        return table.to_pylist()

    def migrate(self, upto: int | None = None) -> list[str]:
        """Apply the migrations not yet applied (up to version ``upto`` when given), in one
        transaction under the write lock (two processes opening a new store at once do not both
        migrate it); returns the names applied."""
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
                if version in done or (upto is not None and version > upto):
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
        return dict(self.query_in("SELECT run_id, status FROM runs WHERE run_id IN ({marks})", list(run_ids),
                                  chunk=5000))

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
            if not would_write(old, run.status, replace=replace):
                report.skipped.append(rid)
                continue
            (report.inserted if old is None else report.replaced).append(rid)
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
                batch = arrow_batch(todo) if batch is None else batch_of(batch, todo)
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
                     json_text(alerts), now),
                )

    def register_job(self, job: str) -> None:
        """Store a job that has no runs (yet), e.g. an empty TestGrid tab; no-op if known."""
        try:
            self.execute("INSERT INTO jobs VALUES (?, ?, ?, ?) ON CONFLICT (job) DO NOTHING", (job, "{}", None, None))
        except Exception as exc:
            raise StoreError(f"{self.url}: could not store job {job!r}: {exc}") from exc

    def _delete_runs(self, run_ids: Sequence[int]) -> None:
        for table in RUN_TABLES:
            self.execute_in(f"DELETE FROM {table} WHERE run_id IN ({{marks}})", run_ids)

    def _upsert_jobs(self, runs: Sequence[Run]) -> None:
        """The jobs of ``runs`` in ``jobs``: a new job inserted, a known one updated (its
        variants merged, the new ones winning; first_seen the earliest start, last_seen the
        latest). The merged rows are computed here and written in bulk — one
        :meth:`update_rows` for the known jobs, one :meth:`append` for the new — so a batch
        touching 2,000 jobs makes a few statements, not 2,000."""
        seen: dict[str, tuple[dict[str, str], datetime | None, datetime | None]] = {}
        for run in runs:
            started = naive_utc(run.started_at)
            variants, first, last = seen.get(run.job, ({}, started, started))
            variants = {**variants, **run.variants}
            if started is not None:
                first = min(first, started) if first else started
                last = max(last, started) if last else started
            seen[run.job] = (variants, first, last)
        existing = {row[0]: row[1:] for row in self.query_in(
            "SELECT job, variants, first_seen, last_seen FROM jobs WHERE job IN ({marks})", list(seen), chunk=5000)}
        known: list[tuple[str, str, datetime | None, datetime | None]] = []
        new: list[tuple[str, str, datetime | None, datetime | None]] = []
        for job, (variants, first, last) in seen.items():
            if job in existing:
                old_variants, old_first, old_last = existing[job]
                merged = {**orjson.loads(old_variants), **variants}
                first = min(x for x in (first, old_first) if x) if (first or old_first) else None
                last = max(x for x in (last, old_last) if x) if (last or old_last) else None
                known.append((job, json_text(merged), first, last))
            else:
                new.append((job, json_text(variants), first, last))
        if known:
            self.update_rows("jobs", jobs_table(known), key="job")
        if new:
            self.append("jobs", jobs_table(new))

    def in_list(self, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """What goes between the parentheses of ``x IN (…)`` to test ``values``, and its
        parameters (to come after those of the SQL before it): one placeholder per value here;
        an engine may do better (DuckDB: one list parameter, unnested)."""
        return ",".join("?" * len(values)), list(values)

    def _statements_in(self, sql: str, values: Sequence[Any], params: Sequence[Any],
                       chunk: int | None) -> Iterator[tuple[str, list[Any]]]:
        """``sql`` with its ``{marks}`` (last in it) replaced by :meth:`in_list` of at most
        ``chunk`` of ``values`` (all of them when None), and its parameters, statement by statement."""
        step = chunk or len(values) or 1
        for start in range(0, len(values), step):
            marks, extra = self.in_list(values[start : start + step])
            yield sql.format(marks=marks), [*params, *extra]

    def execute_in(self, sql: str, values: Sequence[Any], params: Sequence[Any] = (), *, chunk: int = 5000) -> None:
        """Run ``sql`` whose ``{marks}`` (last in it) is replaced by :meth:`in_list` of at most
        ``chunk`` of ``values`` at a time (a DELETE or UPDATE of many runs, say)."""
        for statement, args in self._statements_in(sql, values, params, chunk):
            self.execute(statement, args)

    def query_in(self, sql: str, values: Sequence[Any], params: Sequence[Any] = (), *,
                 chunk: int | None = None) -> list[tuple[Any, ...]]:
        """Run ``sql`` whose ``{marks}`` (last in it) is replaced by :meth:`in_list` of ``values``;
        ``chunk``: at most that many values a statement, the rows of every statement together
        (for a query whose rows each come from one value, never an aggregate across values)."""
        rows: list[tuple[Any, ...]] = []
        for statement, args in self._statements_in(sql, values, params, chunk):
            rows += self.query(statement, args)
        return rows

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def updated_columns(data: pa.Table, key: str) -> list[str]:
    """The columns :meth:`Store.update_rows` sets from ``data``: every one but ``key``."""
    names = [n for n in data.schema.names if n != key]
    if key not in data.schema.names or not names:
        raise ValueError(f"update_rows needs the key column {key!r} and a column to set, not {data.schema.names}")
    return names


def update_from_sql(table: str, source: str, data: pa.Table, key: str) -> str:
    """``UPDATE table SET c = u.c, … FROM source u WHERE table.key = u.key``: the one statement
    of the engines' :meth:`Store.update_rows` (``source`` holds ``data``'s rows)."""
    sets = ", ".join(f"{n} = u.{n}" for n in updated_columns(data, key))
    return f"UPDATE {table} SET {sets} FROM {source} u WHERE {table}.{key} = u.{key}"


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
    from ..queries.known import failing_tests

    failing: dict[int, set[str]] = {}
    ids = sorted(evidence)
    for start in range(0, len(ids), 5000):
        failing.update(failing_tests(store, ids[start:start + 5000]))
    table = explanations_table(((rid, failing.get(rid, set()), ev) for rid, ev in evidence.items()), scoped)
    if table.num_rows:
        store.append("explanations", table)


def _backfill_0018(store: Store) -> None:
    from .run_timing import backfill

    backfill(store)


#: Python steps run right after a migration's SQL, in its transaction.
_BACKFILLS = {7: _backfill_0007, 18: _backfill_0018}
