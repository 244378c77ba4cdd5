"""``connect(url)``: the engine a URL names, opened (and migrated, or checked when read-only)."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import StoreError, UnknownEngineError
from . import DEFAULT_URL, LAKE_SCHEMES, scheme  # defined in the package, where importing them costs nothing
from .base import Store
from .schema import latest_version


def engines() -> dict[str, type[Store]]:
    from .duckdb import DuckDBStore
    from .lakes import ChdbStore, ClickHouseStore, SparkStore
    from .parquet import ParquetStore
    from .postgres import PostgresStore

    return {"duckdb": DuckDBStore, "postgresql": PostgresStore, "postgres": PostgresStore, "parquet": ParquetStore,
            "spark": SparkStore, "chdb": ChdbStore, "clickhouse": ClickHouseStore}


def connect(url: str = DEFAULT_URL, *, migrate: bool = True, read_only: bool = False, wait: float = 0.0,
            on_wait: Callable[[str], None] | None = None, writable_lake: bool = False) -> Store:
    """Open the store at ``url`` (``duckdb:///path``, ``duckdb://:memory:``,
    ``postgresql://user@host:port/db``) and bring its schema up to date.

    ``read_only``: for reading only — the store must exist (a missing one is a
    :class:`StoreError` "no store at …", never created), a DuckDB file is opened read-only, and
    no migration runs: a schema older than the code is an error asking for ``ciscope db
    migrate``. ``wait``: seconds to wait for a DuckDB file locked by another process
    (``on_wait(message)`` is called once when waiting starts). ``writable_lake``: a lake URL
    opened for writing gives a :class:`~ciscope.store.lakewrite.LakeWriter` (published when
    closed), else the lake is refused as read-only."""
    engine = scheme(url)
    available = engines()
    if engine not in available:
        raise UnknownEngineError(
            f"Unknown database URL {url!r}: expected one of "
            "duckdb:///PATH, duckdb://:memory:, postgresql://USER@HOST:PORT/DB, parquet:///LAKE_DIR, "
            "spark://local[2]?lake=LAKE_DIR, chdb:///LAKE_DIR, clickhouse://HOST:8123/DATABASE?lake=LAKE_DIR"
        )
    if engine == "duckdb":
        from .duckdb import duckdb_path

        read_only = read_only and duckdb_path(url) != ":memory:"  # a fresh in-memory store is empty
        store = available[engine](url, read_only=read_only, wait=wait, on_wait=on_wait)  # type: ignore[call-arg]
    elif engine in LAKE_SCHEMES and not read_only:
        if engine == "clickhouse":
            raise StoreError("a clickhouse:// server only reads a lake, on its own machine; write the lake there "
                             "with --db parquet:///DIR (or ciscope export --parquet DIR)")
        if not writable_lake:
            from .parquet import READ_ONLY

            raise StoreError(READ_ONLY)
        from .lakewrite import LakeWriter

        store = LakeWriter(url, wait=wait)
    else:
        store = available[engine](url)
    if read_only:
        try:
            _check_readable(store)
        except BaseException:
            store.close()
            raise
    elif migrate:
        try:
            store.migrate()
        except BaseException:
            store.discard()
            raise
    return store


def _check_readable(store: Store) -> None:
    version, needed = store.schema_version(), latest_version(store.name)
    if version == 0:
        raise StoreError(f"no store at {store.url}: `ciscope ingest` or `ciscope demo` creates one "
                         "(or give another with --db / CISCOPE_DB)")
    if version < needed:
        raise StoreError(f"the store at {store.url} has schema version {version}, this ciscope needs {needed}: "
                         "run `ciscope db migrate` (read commands never change the schema)")
