"""Engines that read a Parquet lake in place: Spark (PySpark, local or a cluster) and
ClickHouse (embedded, chDB; or a server). None of them writes: commands that write a lake named
by a ``spark://`` or ``chdb://`` URL do it through :mod:`ciscope.store.lakewrite`.

``spark://local[2]?lake=DIR`` (``spark://HOST:PORT?lake=DIR`` for a standalone cluster that
sees DIR at the same path) opens a Spark session with one temporary view per table of the lake
(``spark.read.parquet``, partitions discovered from the folders) and runs the query layer's
Ibis expressions through Ibis's PySpark backend.

ClickHouse is reached through clickhouse-connect either way: ``chdb:///DIR`` (relative) or
``chdb:////abs/DIR`` with its chDB backend (ClickHouse's engine in this process, in memory),
``clickhouse://HOST:8123/DATABASE?lake=DIR`` over HTTP to a server that reads DIR itself. Both
create one view per table (``file('DIR/TABLE/**/*.parquet', Parquet)``) and run the Ibis
expressions compiled to ClickHouse SQL (``ibis.to_sql(expr, dialect="clickhouse")``) with the
same client calls (:class:`_ClickHouseStore`); only how the client is made and where the lake
is found differ.

The analyses built on :mod:`ciscope.queries.verdicts` (``flaky``, ``regressions``) run
entirely as Ibis expressions; the other read commands send portable SQL through
:meth:`Store.query`, which Spark runs with its own parameter markers and ClickHouse with the
parameters inlined as literals. Every read command but ``token list`` (a lake holds no API
tokens) gives the same answers as DuckDB (``tests/store/test_engine_matrix.py``): the results
are shaped as DuckDB's (:func:`_as_duckdb`), and the dialect hooks (``seconds_sql``,
``quantiles_sql``, ``percentile_sql``, ``regex_sql``) say what each engine calls differently.
An engine's own error becomes a :class:`StoreError` naming it (``chdb: …``, ``clickhouse: …``,
``spark: …``).
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pyarrow as pa

from ..errors import StoreError, UsageError
from .base import Store
from .parquet import MANIFEST, READ_ONLY, ReadOnlyLake, lake_path, parse_manifest, read_manifest

__all__ = ["ChdbStore", "ClickHouseStore", "ClickHouseURL", "SparkStore", "clickhouse_url", "spark_url"]


class _LakeStore(ReadOnlyLake, Store):
    """Read-only engine over a lake: writes stop with :data:`READ_ONLY`."""

    read_only = True

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        raise StoreError(READ_ONLY)

    def table_exists(self, table: str) -> bool:
        return table in self.manifest["tables"]

    def query_arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        raise NotImplementedError

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        table = self.query_arrow(sql, params)
        return list(zip(*(column.to_pylist() for column in table.columns)))

    manifest: dict[str, Any]


# -- Spark ------------------------------------------------------------------------------------


def spark_url(url: str) -> tuple[str, str]:
    """(master, lake folder) of ``spark://local[N]?lake=DIR`` or ``spark://HOST:PORT?lake=DIR``
    (``warehouse=DIR`` is the same: the lake is the Parquet warehouse Spark reads)."""
    rest = url.split("://", 1)[1]
    where, _, query = rest.partition("?")
    given = parse_qs(query)
    lakes = given.get("lake") or given.get("warehouse")
    if not where or not lakes:
        raise UsageError(f"{url}: expected spark://local[2]?lake=DIR or spark://HOST:PORT?lake=DIR "
                         "(DIR: a lake written by `ciscope export --parquet`)")
    master = where if where.startswith("local") else f"spark://{where}"
    return master, lakes[0]


class SparkStore(_LakeStore):
    """``spark://local[2]?lake=DIR``: a lake read by Spark (PySpark; Java 17). One session per
    process (Spark's rule), local mode with a 1 GB driver unless a cluster is named."""

    name = "spark"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        master, path = spark_url(url)
        self.path = os.path.abspath(path)
        self.manifest = read_manifest(self.path)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise StoreError("spark:// needs PySpark: pip install 'ciscope[engines]'") from None
        self.session = (
            SparkSession.builder.master(master).appName("ciscope")
            .config("spark.driver.memory", os.environ.get("CISCOPE_SPARK_MEMORY", "1g"))
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "2")
            # partition values stay strings: a job called "123" is not a number
            .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
            # list a lake's partition folders in the driver, not with a Spark job per table
            .config("spark.sql.sources.parallelPartitionDiscovery.threshold", "100000")
            .getOrCreate()
        )
        self.session.sparkContext.setLogLevel("ERROR")
        self._views: set[str] = set()

    def _view(self, table: str) -> None:
        """Register the lake's ``table`` as a temporary view, on first use (listing a table's
        partitions and reading a footer costs seconds: only the tables a command reads)."""
        if table in self._views:
            return
        spec = self.manifest["tables"][table]
        folder = os.path.join(self.path, table)
        frame = self.session.read.option("basePath", folder).parquet(folder)
        frame.select(*[f"`{c}`" for c in spec["columns"]]).createOrReplaceTempView(table)
        self._views.add(table)

    def ibis_table(self, name: str) -> Any:
        self._view(name)
        return super().ibis_table(name)

    def ibis_backend(self) -> Any:
        if getattr(self, "_ibis", None) is None:
            import ibis

            self._ibis = ibis.pyspark.connect(self.session)
        return self._ibis

    def query_arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        for table in self.manifest["tables"]:
            if re.search(rf"\b{re.escape(table)}\b", sql):
                self._view(table)
        sql = _DOUBLE_PRECISION.sub("DOUBLE", sql)  # Spark SQL's name of the portable type
        try:
            frame = self.session.sql(sql, args=list(params)) if params else self.session.sql(sql)
            return _as_duckdb(frame.toArrow())
        except Exception as exc:  # PySpark's AnalysisException, ParseException, Py4JJavaError…
            raise StoreError(f"spark: {_first_line(exc)}") from None  # not the JVM's stack

    def regex_sql(self, column: str) -> str:
        return f"{column} RLIKE ?"

    def seconds_sql(self, column: str) -> str:
        # Spark has no date_part('epoch', …); 1e6 is a double literal (1000000.0 would be a decimal)
        return f"(unix_micros(CAST({column} AS TIMESTAMP)) / 1e6)"  # the lake's times are TIMESTAMP_NTZ, read as UTC

    def quantiles_sql(self, expr: str, quantiles: Sequence[float]) -> str:
        # percentile: exact, linear interpolation between the closest ranks (NumPy's default)
        return f"percentile({expr}, array({', '.join(repr(float(q)) for q in quantiles)}))"

    def close(self) -> None:
        # the session is the process's (Spark allows one); its views are dropped, it stays up
        for table in self._views:
            self.session.catalog.dropTempView(table)
        self._views.clear()


# -- ClickHouse: embedded (chDB) or a server, both through clickhouse-connect --------------------


def _literal(value: Any) -> str:
    """A parameter as a ClickHouse literal."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        return f"toDateTime64('{value.replace(tzinfo=None).isoformat(sep=' ')}', 6, 'UTC')"
    if isinstance(value, date):
        return f"toDate('{value.isoformat()}')"
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def _inline(sql: str, params: Sequence[Any]) -> str:
    """``?`` markers replaced by literals (markers inside quoted strings are left alone)."""
    out: list[str] = []
    values = iter(params)
    quote: str | None = None
    for ch in sql:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "?":
            out.append(_literal(next(values)))
            continue
        out.append(ch)
    return "".join(out)


_SETTINGS = {"session_timezone": "UTC", "join_use_nulls": 1}  # every query's, on either transport
# clickhouse-connect logs a failed request before raising it: the StoreError says it, once
logging.getLogger("clickhouse_connect").addHandler(logging.NullHandler())


class _ClickHouseStore(_LakeStore):
    """What a ClickHouse server and chDB share — everything but how the client is made and where
    the engine finds the lake: a clickhouse-connect client (HTTP to a server, or chDB's engine in
    this process), one view per lake table over ``file()``, the Ibis expressions compiled to
    ClickHouse SQL, the portable SQL with its parameters inlined, and the dialect hooks."""

    client: Any
    lake: str  # the lake's folder as the engine's file() sees it

    def _create_views(self) -> None:
        for table, spec in self.manifest["tables"].items():
            files = posixpath.join(self.lake, table, "**" if spec["partitioned"] else "", "*.parquet")
            columns = ", ".join(f"`{c}`" for c in spec["columns"])
            self._command(f"CREATE OR REPLACE VIEW `{table}` AS SELECT {columns} FROM file('{_sql(files)}', Parquet)"
                          " SETTINGS session_timezone = 'UTC'")

    def _command(self, sql: str) -> None:
        try:
            self.client.command(sql)
        except Exception as exc:  # clickhouse-connect's DatabaseError and OperationalError
            raise StoreError(f"{self.name}: {_first_line(exc)}") from None

    def ibis_table(self, name: str) -> Any:
        from ..queries.verdicts import unbound

        return unbound(name)

    def to_arrow(self, expr: Any) -> pa.Table:
        import ibis

        return self.query_arrow(ibis.to_sql(expr, dialect="clickhouse"))

    def query_arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        sql = _inline(sql, params) if params else sql
        try:
            result = self.client.query_arrow(sql, settings=_SETTINGS)
        except Exception as exc:  # clickhouse-connect's DatabaseError and OperationalError
            raise StoreError(f"{self.name}: {_first_line(exc)}") from None
        return _as_duckdb(result)

    def regex_sql(self, column: str) -> str:
        return f"match({column}, ?)"

    def seconds_sql(self, column: str) -> str:
        # ClickHouse's date_part('epoch', …) drops the fraction
        return f"(toUnixTimestamp64Micro({column}) / 1000000.0)"

    def percentile_sql(self, expr: str, quantile: float) -> str:
        return f"quantileExactInclusive({float(quantile)!r})({expr})"

    def quantiles_sql(self, expr: str, quantiles: Sequence[float]) -> str:
        # quantileExactInclusive: linear interpolation between the closest ranks (NumPy's default)
        return f"quantilesExactInclusive({', '.join(repr(float(q)) for q in quantiles)})({expr})"

    def close(self) -> None:
        self.client.close()


class ChdbStore(_ClickHouseStore):
    """``chdb:///DIR``: a lake read by embedded ClickHouse (chDB), through clickhouse-connect's
    chDB backend — the same client, SQL and views as a server (:class:`ClickHouseStore`), in a
    temporary in-memory engine of this process."""

    name = "chdb"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.path = self.lake = os.path.abspath(lake_path(url))
        self.manifest = read_manifest(self.path)
        try:
            import chdb  # noqa: F401  (clickhouse-connect's backend imports it lazily: say what is missing here)
            import clickhouse_connect
        except ImportError:
            raise StoreError("chdb:// needs chDB and clickhouse-connect: pip install 'ciscope[engines]'") from None
        self.client = clickhouse_connect.get_client(dsn="chdb://memory")
        self._create_views()


@dataclass(frozen=True)
class ClickHouseURL:
    """A ``clickhouse://[USER[:PASSWORD]@]HOST[:PORT]/DATABASE?lake=DIR`` URL, taken apart."""

    host: str
    port: int  # the HTTP interface's (clickhouse-connect speaks HTTP, not the native protocol)
    database: str  # where the lake's views are created (one database per lake)
    lake: str  # the lake's folder as the server's file() sees it: relative to its user_files_path
    username: str | None
    password: str

    def where(self) -> str:
        return f"http://{self.host}:{self.port}"


def clickhouse_url(url: str) -> ClickHouseURL:
    """The parts of a ``clickhouse://`` URL (a :class:`UsageError` naming the expected shape)."""
    expected = (f"{url}: expected clickhouse://[USER[:PASSWORD]@]HOST[:PORT]/DATABASE?lake=DIR (PORT: the server's "
                "HTTP port, 8123 by default; DIR: a lake written by `ciscope export --parquet`, as the server's "
                "file() sees it — relative to its user_files_path)")
    parts = urlsplit(url)
    query = parse_qs(parts.query, keep_blank_values=True)
    database = unquote(parts.path.strip("/"))
    try:
        port = parts.port or 8123
    except ValueError:
        raise UsageError(expected) from None
    if (parts.scheme != "clickhouse" or not parts.hostname or not re.fullmatch(r"\w+", database)
            or set(query) != {"lake"} or len(query["lake"]) != 1 or not query["lake"][0]):
        raise UsageError(expected)
    return ClickHouseURL(host=parts.hostname, port=port, database=database, lake=query["lake"][0].rstrip("/") or "/",
                         username=unquote(parts.username) if parts.username else None,
                         password=unquote(parts.password or ""))


class ClickHouseStore(_ClickHouseStore):
    """``clickhouse://HOST:8123/DATABASE?lake=DIR``: a lake read by a ClickHouse server, through
    clickhouse-connect (HTTP). The server reads the lake itself — its manifest and Parquet files
    through ``file()``, under its ``user_files_path`` — so this process needs no access to it;
    the views are created in DATABASE (created when missing) on every connection.

    ``client``: an open clickhouse-connect client to use instead of connecting to HOST:PORT —
    the tests give the chDB engine's, so that everything but the HTTP transport runs without a
    server."""

    name = "clickhouse"

    def __init__(self, url: str, client: Any = None) -> None:
        parts = clickhouse_url(url)
        # the store's URL, in every message and in `db info`, never shows the password
        super().__init__(url.replace(f":{parts.password}@", ":***@", 1) if parts.password else url)
        self.lake = parts.lake
        self.client = client if client is not None else _http_client(parts, self.url)
        manifest = posixpath.join(parts.lake, MANIFEST)
        try:
            text = self.client.query_arrow(f"SELECT * FROM file('{_sql(manifest)}', RawBLOB)").column(0)[0].as_py()
            self.manifest = parse_manifest(text, f"{parts.where()} file('{manifest}')")
            self._command(f"CREATE DATABASE IF NOT EXISTS `{parts.database}`")
            self.client.database = parts.database
            self._create_views()
        except StoreError:
            self.client.close()
            raise
        except Exception as exc:  # the manifest's file() (clickhouse-connect's DatabaseError)
            self.client.close()
            raise StoreError(f"{self.url}: no lake at {parts.lake} on the server ({_first_line(exc)}): the server reads "
                             "it with file(), so DIR must be a lake written by `ciscope export --parquet` under its "
                             "user_files_path (relative to it, or absolute inside it)") from None


def _http_client(parts: ClickHouseURL, shown: str) -> Any:
    """A clickhouse-connect client of the server ``parts`` name (``shown``: its URL for the errors)."""
    try:
        import clickhouse_connect
    except ImportError:
        raise StoreError("clickhouse:// needs clickhouse-connect: pip install 'ciscope[engines]'") from None
    try:
        return clickhouse_connect.get_client(host=parts.host, port=parts.port, username=parts.username,
                                             password=parts.password, connect_timeout=10, autogenerate_session_id=False)
    except Exception as exc:  # OperationalError (refused, timeout), DatabaseError (not ClickHouse, too old)
        raise StoreError(f"{shown}: no usable ClickHouse server at {parts.where()}: {_first_line(exc)} — expected "
                         "a ClickHouse server (23.6 or newer) answering on its HTTP port") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__).splitlines()[0]


_DOUBLE_PRECISION = re.compile(r"\bDOUBLE\s+PRECISION\b", re.IGNORECASE)


def _as_duckdb(table: pa.Table) -> pa.Table:
    """A lake engine's result shaped as DuckDB's: a column selected as ``r.run_id`` from a
    join where another table has a ``run_id`` too is named ``run_id`` (ClickHouse keeps the
    qualified name), and times are naive UTC (ClickHouse's DateTime64 and Spark's timestamps
    carry the session's zone)."""
    names = list(table.column_names)
    for i, name in enumerate(names):
        bare = name.rsplit(".", 1)[-1]
        if re.fullmatch(r"\w+\.\w+", name) and bare not in names:
            names[i] = bare
    if names != table.column_names:
        table = table.rename_columns(names)
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            table = table.set_column(i, field.name, table.column(i).cast(pa.timestamp(field.type.unit)))
    return table


def _sql(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")
