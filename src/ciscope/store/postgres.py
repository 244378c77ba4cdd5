"""PostgreSQL engine for a shared server. Bulk appends use binary COPY.

Queries are written once with ``?`` placeholders; they are rewritten to psycopg's ``%s``.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

import pyarrow as pa

from ..errors import StoreError
from .base import Store

_PG_TYPES = {
    pa.int64(): "int8",
    pa.int32(): "int4",
    pa.string(): "text",
    pa.float64(): "float8",
    pa.timestamp("us"): "timestamp",
}

_PLACEHOLDER = re.compile(r"%|\?")


def _pg_sql(sql: str) -> str:
    return _PLACEHOLDER.sub(lambda m: "%%" if m.group() == "%" else "%s", sql)


class PostgresStore(Store):
    """``postgresql://user@host:port/database`` (libpq URL)."""

    name = "postgresql"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        import psycopg  # only the store imports a driver

        self._psycopg = psycopg
        conninfo = "postgresql://" + url.split("://", 1)[1]
        try:
            self.con = psycopg.connect(conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot connect to PostgreSQL at {url!r}: {str(exc).strip()}. "
                "Is the server running (pg_ctlcluster … start) and the database created?"
            ) from exc

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.con.execute(_pg_sql(sql), list(params) or None)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.con.cursor() as cur:
            cur.execute(_pg_sql(sql), list(params) or None)
            return cur.fetchall()

    def query_arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        with self.con.cursor() as cur:
            cur.execute(_pg_sql(sql), list(params) or None)
            names = [d.name for d in cur.description or []]
            rows = cur.fetchall()
        columns = list(zip(*rows)) if rows else [[] for _ in names]
        return pa.table({name: list(col) for name, col in zip(names, columns)}) if names else pa.table({})

    def append(self, table: str, data: pa.Table) -> None:
        types = [_PG_TYPES[f.type] for f in data.schema]
        names = ", ".join(data.schema.names)
        with self.con.cursor() as cur:
            with cur.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(types)
                for batch in data.to_batches(max_chunksize=65536):
                    columns = [col.to_pylist() for col in batch.columns]
                    for row in zip(*columns):
                        copy.write_row(row)

    def table_exists(self, table: str) -> bool:
        rows = self.query("SELECT to_regclass(?) IS NOT NULL", (table,))
        return bool(rows[0][0])

    def close(self) -> None:
        self.con.close()
