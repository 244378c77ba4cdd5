"""Writing a Parquet lake: ``ingest``, ``demo``, ``reclassify``, ``disruption record``,
``retrigger run`` and ``db migrate`` with ``--db parquet:///DIR`` (or the same lake named as
``spark://…?lake=DIR`` or ``chdb:///DIR``).

The reading engines never write: a command that writes runs on a **working copy**, a private
DuckDB file in a hidden folder beside the lake (``.DIR.work-…/work.duckdb``), and when the
command ends the partitions it changed are published with the export's atomic swap
(:func:`~ciscope.store.parquet.write_lake`): a reader sees the lake before the command or
after it, never a mix, and a failure or Ctrl-C leaves the lake as it was (batches committed
before a Ctrl-C are published, as in a store). One process writes a lake at a time
(:func:`~ciscope.store.parquet.lake_lock`).

What the working copy loads, so that a write reads what it changes and not the whole lake
(publishing still links every file of the lake into the new tree: the atomic swap's price):
the small tables and ``runs`` (one row per run: what ingest needs to skip or replace a run)
when it opens; the other tables only for the (day, job) partitions that the written runs
fall in (or fell in before a ``--replace`` moved them), just before publishing — those
partitions are rewritten whole, every other one is carried over as it is (hard links). A
command that reads history (reclassify, disruption record, retrigger run, a fingerprint
change at ingest) reads a table of runs the copy has not loaded: that read first loads the
whole lake (:meth:`LakeWriter.load_history`) and the whole lake is published. A lake of an
older schema version is loaded whole, migrated and published whole.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import duckdb
import pyarrow as pa

from ..errors import StoreError, UsageError
from . import scheme
from .duckdb import DuckDBStore
from .parquet import Partition, _check_target, lake_lock, lake_path, lake_select, partition_files, write_lake
from .schema import RUN_TABLES, latest_version

__all__ = ["LakeWriter", "lake_folder"]


def lake_folder(url: str) -> str:
    """The lake folder a ``parquet://``, ``chdb://`` or ``spark://…?lake=`` URL names."""
    if url.startswith("spark://"):
        from .lakes import spark_url

        return spark_url(url)[1]
    return lake_path(url)


class LakeWriter(DuckDBStore):
    """A writable lake: a DuckDB working copy of what a command needs, published to the lake
    when the store is closed (see the module)."""

    def __init__(self, url: str, *, wait: float = 0.0) -> None:
        lake = os.path.abspath(lake_folder(url))
        self._stack = ExitStack()
        self._stack.enter_context(lake_lock(lake, wait=wait))
        try:
            old = _check_target(lake)
        except BaseException:
            self._stack.close()
            raise
        parent, name = os.path.split(lake)
        self.work = tempfile.mkdtemp(prefix=f".{name}.work-", dir=parent)
        self._stack.callback(shutil.rmtree, self.work, ignore_errors=True)
        try:
            # a parquet:// URL's DuckDB settings (?memory_limit=2GB…) hold for the working copy
            settings = url.split("?", 1)[1] if scheme(url) == "parquet" and "?" in url else ""
            super().__init__("duckdb:///" + os.path.join(self.work, "work.duckdb") + (f"?{settings}" if settings else ""))
        except BaseException:
            self._stack.close()
            raise
        self.url, self.lake = url, lake
        self._guard = True  # reads of unloaded history load it first (off while loading and writing runs)
        self._whole = old is None  # everything is here (a new lake; or loaded): publish the whole lake
        self._dirty = False
        self._written: set[int] = set()  # runs written by this command (their lake rows are stale)
        self._touched: set[Partition] = set()  # partitions to rewrite
        self.tables: dict[str, dict[str, Any]] = {}
        self._upgraded: list[str] = []  # migrations applied to an older lake's rows when loaded
        try:
            if old is not None:
                self._open_lake(old)
        except BaseException:
            self.discard()
            raise
        if old is None:
            self._dirty = True  # a new lake is published even if empty (db migrate)

    # -- loading ----------------------------------------------------------------------------

    def _open_lake(self, manifest: dict[str, Any]) -> None:
        version, latest = int(manifest.get("schema_version") or 0), latest_version(self.name)
        if version > latest:
            raise StoreError(f"the lake {self.lake} has schema version {version}, this ciscope knows {latest}: "
                             "write it with a newer ciscope")
        self.tables = manifest["tables"]
        try:
            with self._unguarded():
                super().migrate(upto=version)  # the lake's own schema: its rows load as they are
                for table, spec in self.tables.items():
                    self.con.execute(f'CREATE OR REPLACE TEMP VIEW "lake_{table}" AS '
                                     + lake_select(self.lake, table, spec, partition_columns=True))
                for table, spec in self.tables.items():  # the lake's rows replace what migrations seeded
                    if not spec["partitioned"] or table == "runs":
                        self._load(table, replace=True)
                if version < latest:
                    self.load_history()
                    self._upgraded = super().migrate()  # and its backfills, over every row
        except duckdb.Error as exc:
            raise StoreError(f"cannot read the lake {self.lake}: {exc}") from None
        self._dirty = version < latest

    def _load(self, table: str, where: str = "", params: Sequence[Any] = (), *, replace: bool = False,
              files: Sequence[str] | None = None) -> None:
        """Insert the lake's rows of ``table`` (``WHERE …``; from ``files`` only when given)."""
        if table not in self.tables or not super().table_exists(table):
            return
        mine = {row[0] for row in self.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ?",
            [table]).fetchall()}
        columns = [c for c in self.tables[table]["columns"] if c in mine]
        source = (f'"lake_{table}"' if files is None else
                  f"({lake_select(self.lake, table, self.tables[table], columns=columns, files=files)})")
        names = ", ".join(f'"{c}"' for c in columns)
        if replace:
            self.con.execute(f'DELETE FROM "{table}"')
        self.con.execute(f'INSERT INTO "{table}" ({names}) SELECT {names} FROM {source} {where}', list(params))

    def _history_tables(self) -> list[str]:
        return [t for t, spec in self.tables.items() if spec["partitioned"] and t != "runs"]

    def _fresh(self) -> tuple[str, list[Any]]:
        """The WHERE clause leaving out the lake's rows of runs this command wrote (stale now)."""
        if not self._written:
            return "", []
        marks, params = self.in_list(sorted(self._written))
        return f"WHERE run_id NOT IN ({marks})", params

    def load_history(self) -> None:
        """Load every partition of the lake not loaded yet: the command reads history, and the
        whole lake is published."""
        if self._whole:
            return
        with self._unguarded():
            try:
                where, params = self._fresh()
                for table in self._history_tables():
                    self._load(table, where, params)
            except Exception as exc:
                raise StoreError(f"cannot read the lake {self.lake}: {exc}") from None
        self._whole = True

    def _complete(self) -> None:
        """Load the rows of the lake's runs that share a partition with a written run: the
        partition is rewritten whole (the files of those partitions only, one read per table)."""
        where, params = self._fresh()
        for table in self._history_tables():
            files = partition_files(self.lake, table, self._touched)
            if files:
                self._load(table, where, params, files=files)

    def migrate(self, upto: int | None = None) -> list[str]:
        applied, self._upgraded = [*self._upgraded, *super().migrate(upto)], []
        return applied

    def table_exists(self, table: str) -> bool:
        return table != "api_tokens" and super().table_exists(table)  # a lake holds no credentials

    # -- reads of history load it first ------------------------------------------------------

    @contextmanager
    def _unguarded(self) -> Iterator[None]:
        """Reads inside do not load history (the copy's own loading; ingest writing its runs,
        which reads only what it writes)."""
        guard, self._guard = self._guard, False
        try:
            yield
        finally:
            self._guard = guard

    _HISTORY = re.compile(r"\b(" + "|".join(t for t in RUN_TABLES if t != "runs") + r")\b")

    def _reads_history(self, sql: str) -> None:
        if self._guard and not self._whole and self._HISTORY.search(sql):
            self.load_history()

    def _writes(self, sql: str) -> None:
        verb = sql.lstrip().split(None, 1)[0].upper()
        if verb not in ("SELECT", "WITH", "BEGIN", "COMMIT", "ROLLBACK") and "store_generation" not in sql:
            self._dirty = True  # (a commit bumps the generation: not a change of its own)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._reads_history(sql)
        self._writes(sql)
        super().execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._reads_history(sql)
        self._writes(sql)
        return super().query(sql, params)

    def query_arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        self._reads_history(sql)
        return super().query_arrow(sql, params)

    def to_arrow(self, expr: Any) -> pa.Table:
        self.load_history()  # the Ibis expressions read the verdicts
        return super().to_arrow(expr)

    def append(self, table: str, data: pa.Table) -> None:
        self._reads_history(table)
        self._dirty = True
        super().append(table, data)

    def update_rows(self, table: str, data: pa.Table, *, key: str) -> None:
        self._reads_history(table)
        self._dirty = True
        super().update_rows(table, data, key=key)

    # -- writing runs: what ingest does touches only their partitions -------------------------

    def _write(self, runs: Sequence[Any], batch: Any, replace: bool) -> Any:
        with self._unguarded():
            report = super()._write(runs, batch, replace)
        written = [*report.inserted, *report.replaced]
        self._written.update(written)
        self._touch(written)
        return report

    def _delete_runs(self, run_ids: Sequence[int]) -> None:
        self._touch(run_ids)  # where the replaced runs were: rewritten too
        super()._delete_runs(run_ids)

    def _touch(self, run_ids: Sequence[int]) -> None:
        """Mark the partitions of those stored runs to be rewritten."""
        self._touched.update(self.query_in("SELECT CAST(started_at AS DATE), job FROM runs WHERE run_id IN ({marks})",
                                           run_ids, chunk=5000))

    # -- publishing ---------------------------------------------------------------------------

    def publish(self) -> None:
        """Write what the command changed to the lake (atomically), if anything."""
        if not self._dirty:
            return
        try:
            with self._unguarded():
                if self._whole:
                    write_lake(self, self.lake)
                else:
                    self._complete()
                    write_lake(self, self.lake, partitions=self._touched)
        except UsageError as exc:
            raise StoreError(str(exc)) from None
        self._dirty = False

    def discard(self) -> None:
        """Close the working copy without publishing it; the lake is as it was."""
        with contextlib.suppress(Exception):
            super().close()
        self._stack.close()

    def close(self) -> None:
        """Publish, then remove the working copy and release the lake."""
        try:
            if self.con is not None:
                with contextlib.suppress(Exception):
                    self.rollback()  # a batch in progress (Ctrl-C) is not published
                self.publish()
        finally:
            self.discard()
