"""Engines that read a Parquet lake in place: Spark (PySpark, local or a cluster) and
ClickHouse (embedded, chDB). Both are read-only, like ``parquet://``.

``spark://local[2]?lake=DIR`` (``spark://HOST:PORT?lake=DIR`` for a standalone cluster that
sees DIR at the same path) opens a Spark session with one temporary view per table of the lake
(``spark.read.parquet``, partitions discovered from the folders) and runs the query layer's
Ibis expressions through Ibis's PySpark backend. ``chdb:///DIR`` (relative) or
``chdb:////abs/DIR`` opens an embedded ClickHouse session with one view per table
(``file('DIR/TABLE/**/*.parquet', Parquet)``) and runs the Ibis expressions compiled to
ClickHouse SQL (``ibis.to_sql(expr, dialect="clickhouse")``) — Ibis has no chDB backend, and
its ClickHouse backend needs a server.

The analyses built on :mod:`ciscope.queries.verdicts` (``flaky``, ``regressions``) run
entirely as Ibis expressions; the other read commands send portable SQL through
:meth:`Store.query`, which Spark runs with its own parameter markers and chDB with the
parameters inlined as literals. Every read command but ``token list`` (a lake holds no API
tokens) gives the same answers as DuckDB (``tests/store/test_engine_matrix.py``): the results
are shaped as DuckDB's (:func:`_as_duckdb`), and the dialect hooks (``seconds_sql``,
``quantiles_sql``, ``percentile_sql``, ``regex_sql``) say what each engine calls differently.
An engine's own error becomes a :class:`StoreError` naming it (``chdb: …``, ``spark: …``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qs

import pyarrow as pa

from ..errors import StoreError, UsageError
from .base import Store
from .parquet import READ_ONLY, ReadOnlyLake, lake_path, read_manifest

__all__ = ["ChdbStore", "SparkStore", "spark_url"]


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
    """(master, lake folder) of ``spark://local[N]?lake=DIR`` or ``spark://HOST:PORT?lake=DIR``."""
    rest = url.split("://", 1)[1]
    where, _, query = rest.partition("?")
    lakes = parse_qs(query).get("lake")
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
            first = (str(exc).strip() or type(exc).__name__).splitlines()[0]  # not the JVM's stack
            raise StoreError(f"spark: {first}") from None

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


# -- ClickHouse, embedded (chDB) ---------------------------------------------------------------


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


class ChdbStore(_LakeStore):
    """``chdb:///DIR``: a lake read by embedded ClickHouse (chDB), in a temporary session."""

    name = "chdb"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.path = os.path.abspath(lake_path(url))
        self.manifest = read_manifest(self.path)
        try:
            from chdb import session
        except ImportError:
            raise StoreError("chdb:// needs chDB: pip install 'ciscope[engines]'") from None
        self.session = session.Session()
        for table, spec in self.manifest["tables"].items():
            files = os.path.join(self.path, table, "**" if spec["partitioned"] else "", "*.parquet")
            columns = ", ".join(f"`{c}`" for c in spec["columns"])
            self.session.query(f"CREATE VIEW `{table}` AS SELECT {columns} FROM file('{_sql(files)}', Parquet)"
                               " SETTINGS session_timezone = 'UTC'")

    def ibis_table(self, name: str) -> Any:
        from ..queries.verdicts import unbound

        return unbound(name)

    def to_arrow(self, expr: Any) -> pa.Table:
        import ibis

        return self.query_arrow(ibis.to_sql(expr, dialect="clickhouse"))

    def query_arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        sql = _inline(sql, params) if params else sql
        try:
            result = self.session.query(f"{sql} SETTINGS session_timezone = 'UTC', join_use_nulls = 1", "ArrowTable")
        except Exception as exc:  # chDB raises its own RuntimeError subclasses
            raise StoreError(f"chdb: {exc}") from None
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
        self.session.close()


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
