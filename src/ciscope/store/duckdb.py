"""Embedded DuckDB engine: the default store, one file, no server.

Arrow tables are appended by letting DuckDB scan them directly (zero copy).

One process at a time may write a DuckDB file, and while it has the file open for writing no
other process can open it at all (DuckDB's file lock). Opening therefore waits for the lock,
up to ``wait`` seconds, saying once what it waits for (``on_wait``); ``ciscope serve`` is the
way to share one DuckDB store between many clients. Read commands open the file read-only
(several readers may share it) and never create it.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb
import pyarrow as pa

from ..errors import StoreError, UsageError
from .base import Store, update_from_sql

_LOCK_HOLDER = re.compile(r"\(PID (\d+)\)")
_SEED_LOCK = threading.Lock()


#: DuckDB settings a ``duckdb://`` URL may give after ``?`` (``?memory_limit=4GB&threads=2``):
#: how much memory DuckDB takes before it spills to ``temp_directory`` (default: 80% of RAM,
#: next to the file), how many threads it runs
DUCKDB_SETTINGS = ("memory_limit", "threads", "temp_directory", "max_temp_directory_size")


def duckdb_settings(url: str) -> dict[str, str]:
    """The :data:`DUCKDB_SETTINGS` of a ``duckdb://`` URL's query; anything else is a
    :class:`UsageError` naming what is accepted."""
    if "?" not in url:
        return {}
    from urllib.parse import parse_qs

    given = parse_qs(url.split("?", 1)[1], keep_blank_values=True)
    unknown = sorted(set(given) - set(DUCKDB_SETTINGS))
    if unknown:
        raise UsageError(f"{url}: unknown DuckDB setting {', '.join(map(repr, unknown))}; "
                         f"expected {', '.join(DUCKDB_SETTINGS)} (e.g. duckdb:///ciscope.duckdb?memory_limit=4GB)")
    return {key: values[-1] for key, values in given.items()}


def duckdb_path(url: str) -> str:
    """The file path of a ``duckdb://`` URL (``:memory:`` for an in-memory database); its
    query (``?memory_limit=…``, see :func:`duckdb_settings`) is not part of it."""
    url = url.split("?", 1)[0]
    path = url.split("://", 1)[1] if "://" in url else url
    if path.startswith("/") and not path.startswith("//"):
        path = path[1:] or ":memory:"  # duckdb:///x.duckdb → x.duckdb (relative)
    elif path.startswith("//"):
        path = path[1:]  # duckdb:////abs/path → /abs/path
    return ":memory:" if path in ("", ":memory:") else path


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc)
    return "Could not set lock" in text or "Conflicting lock" in text


def lock_holder(message: str) -> int | None:
    """The PID DuckDB names in a lock error ("Conflicting lock is held in … (PID 1234)"), if any."""
    found = _LOCK_HOLDER.search(message)
    return int(found.group(1)) if found else None


@contextmanager
def _interrupts() -> Iterator[None]:
    """Ctrl-C during a statement: DuckDB cancels it and raises an ordinary exception
    (``InterruptException``; DuckDB 2.0: ``RuntimeError("Query interrupted")``) that would read
    as a store failure. It is the user's interrupt: raise KeyboardInterrupt."""
    try:
        yield
    except duckdb.InterruptException:
        raise KeyboardInterrupt from None
    except RuntimeError as exc:
        if str(exc) == "Query interrupted":
            raise KeyboardInterrupt from None
        raise


class DuckDBStore(Store):
    """``duckdb:///relative/or/absolute/path.duckdb`` or ``duckdb://:memory:``.

    ``read_only``: open an existing file for reading only (a missing file is an error, never
    created); ``wait``: seconds to wait for another process's lock; ``on_wait(message)`` is
    called once when waiting starts."""

    name = "duckdb"

    def __init__(self, url: str, *, read_only: bool = False, wait: float = 0.0,
                 on_wait: Callable[[str], None] | None = None) -> None:
        super().__init__(url)
        self.path = path = duckdb_path(url)
        self.settings = duckdb_settings(url)
        self.read_only = read_only = read_only and path != ":memory:"
        if path != ":memory:":
            if read_only:
                if not os.path.isfile(path):
                    raise StoreError(f"no store at {path}: `ciscope ingest` or `ciscope demo` creates one "
                                     "(or give another with --db / CISCOPE_DB)")
            else:
                self._prepare_folder(path)
        self.con = self._open(path, read_only, wait, on_wait)

    @staticmethod
    def _prepare_folder(path: str) -> None:
        parent = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store folder {parent}: {exc.strerror}") from exc
        if not os.access(parent, os.W_OK):
            raise StoreError(f"cannot write the store {path}: its folder {parent} is not writable (DuckDB keeps "
                             f"its journal {os.path.basename(path)}.wal there); read commands can still query it")
        if os.path.exists(path) and not os.access(path, os.W_OK):
            raise StoreError(f"cannot write the store {path}: the file is read-only; read commands can still query it")

    def _open(self, path: str, read_only: bool, wait: float,
              on_wait: Callable[[str], None] | None) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + max(0.0, wait)
        told = False
        pause = 0.05
        while True:
            try:
                return duckdb.connect(path, read_only=read_only, config=dict(self.settings))
            except duckdb.Error as exc:
                if not _is_lock_error(exc):
                    raise StoreError(f"cannot open DuckDB database {path}: {exc}") from exc
                pid = lock_holder(str(exc))
                holder = f"process {pid}" if pid else "another process"
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"{path} is locked by {holder} (a DuckDB file has one writer, and no reader while it "
                        f"writes); gave up after {wait:g} s (--wait / CISCOPE_WAIT). To share one store between "
                        "many clients run `ciscope serve`, or use PostgreSQL") from None
                if not told and on_wait is not None:
                    on_wait(f"waiting up to {wait:g} s for {path}: locked by {holder} (--wait / CISCOPE_WAIT)")
                    told = True
                time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
                pause = min(pause * 2, 0.5)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with _interrupts():
            self.con.execute(sql, list(params))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with _interrupts():
            return self.con.execute(sql, list(params)).fetchall()

    def query_arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        with _interrupts():
            relation = self.con.sql(sql, params=list(params) or None)
            if hasattr(relation, "to_arrow_table"):  # DuckDB >= 1.4 renamed arrow()
                return relation.to_arrow_table()
            return relation.arrow()

    def in_list(self, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """One list parameter, unnested: DuckDB tests an IN list of constants one constant after
        another on every row, but joins a subquery's rows by hash — at 10M verdicts, the 100 run
        ids of a grid took 19.6 ms as constants and 4.2 ms as a list (benchmarks/bench_dashboard.py)."""
        return "SELECT unnest(?)", [list(values)]

    @contextmanager
    def _registered(self, name: str, data: pa.Table) -> Iterator[None]:
        """``data`` as the view ``name`` (no copy) while the block runs."""
        self.con.register(name, data)
        try:
            yield
        finally:
            # after a failed or interrupted statement the transaction is aborted and DuckDB
            # refuses even this; the statement's own exception (a Ctrl-C is KeyboardInterrupt)
            # is the one to raise, not "Current transaction is aborted" (which read as a store
            # failure)
            with contextlib.suppress(duckdb.Error):
                self.con.unregister(name)

    def append(self, table: str, data: pa.Table) -> None:
        with self._registered("_ciscope_append", data):
            self.execute(f"INSERT INTO {table} SELECT * FROM _ciscope_append")

    def update_rows(self, table: str, data: pa.Table, *, key: str) -> None:
        """One UPDATE … FROM the Arrow table, registered as a view (no copy)."""
        sql = update_from_sql(table, "_ciscope_update", data, key)
        if not data.num_rows:
            return
        with self._registered("_ciscope_update", data):
            self.execute(sql)

    def rollback(self) -> None:
        """Roll back; a COMMIT that failed (e.g. the journal could not be written) has already
        ended the transaction, which is not a second error."""
        try:
            self.con.execute("ROLLBACK")
        except duckdb.TransactionException:
            pass

    def table_exists(self, table: str) -> bool:
        rows = self.query(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", (table,)
        )
        return bool(rows[0][0])

    def regex_sql(self, column: str) -> str:
        return f"regexp_matches({column}, ?)"

    def quantiles_sql(self, expr: str, quantiles: Sequence[float]) -> str:
        return f"quantile_cont({expr}, [{', '.join(repr(float(q)) for q in quantiles)}])"

    def ibis_backend(self) -> Any:
        if getattr(self, "_ibis", None) is None:
            import ibis

            # on a cursor: Ibis sets its session options (time zone UTC, no replacement scans)
            # on its own connection to the same database, not on the store's
            self._ibis = ibis.duckdb.from_connection(self.con.cursor())
        return self._ibis

    def reader(self) -> DuckDBStore:
        """A cursor of this database (``con.cursor()``: a connection of its own to the same
        database, about 25 µs to make): it reads from another thread in its own transactions
        while this store writes; DuckDB's MVCC keeps each snapshot whole."""
        with _SEED_LOCK:  # cursors are made from one idle cursor, never from the writer's connection
            seed = self.__dict__.get("_seed")
            if seed is None:
                seed = self._seed = self.con.cursor()
            view = object.__new__(type(self))
            view.__dict__.update(self.__dict__)  # url, path, read_only (a lake's manifest too)
            view.__dict__.pop("_seed", None)  # a reader makes its own seed if asked for readers
            view.__dict__.pop("_ibis", None)  # and its own Ibis backend (one per connection, per thread)
            view.con = seed.cursor()
        return view

    def alive(self) -> bool:
        try:
            self.con.execute("SELECT 1")
        except duckdb.Error:
            return False
        return True

    def close(self) -> None:
        seed = self.__dict__.pop("_seed", None)
        if seed is not None:
            seed.close()
        self.con.close()
