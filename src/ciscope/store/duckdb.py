"""Embedded DuckDB engine: the default store, one file, no server.

Arrow tables are appended by letting DuckDB scan them directly (zero copy).
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import duckdb
import pyarrow as pa

from ..errors import StoreError
from .base import Store


def duckdb_path(url: str) -> str:
    """The file path of a ``duckdb://`` URL (``:memory:`` for an in-memory database)."""
    path = url.split("://", 1)[1] if "://" in url else url
    if path.startswith("/") and not path.startswith("//"):
        path = path[1:] or ":memory:"  # duckdb:///x.duckdb → x.duckdb (relative)
    elif path.startswith("//"):
        path = path[1:]  # duckdb:////abs/path → /abs/path
    return ":memory:" if path in ("", ":memory:") else path


class DuckDBStore(Store):
    """``duckdb:///relative/or/absolute/path.duckdb`` or ``duckdb://:memory:``."""

    name = "duckdb"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.path = path = duckdb_path(url)
        try:
            if path != ":memory:":
                parent = os.path.dirname(os.path.abspath(path))
                os.makedirs(parent, exist_ok=True)
            self.con = duckdb.connect(path)
        except (duckdb.Error, OSError) as exc:
            raise StoreError(f"cannot open DuckDB database {path!r}: {exc}") from exc

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.con.execute(sql, list(params))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, list(params)).fetchall()

    def query_arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        relation = self.con.sql(sql, params=list(params) or None)
        if hasattr(relation, "to_arrow_table"):  # DuckDB >= 1.4 renamed arrow()
            return relation.to_arrow_table()
        return relation.arrow()

    def append(self, table: str, data: pa.Table) -> None:
        self.con.register("_ciscope_append", data)
        try:
            self.con.execute(f"INSERT INTO {table} SELECT * FROM _ciscope_append")
        finally:
            self.con.unregister("_ciscope_append")

    def table_exists(self, table: str) -> bool:
        rows = self.query(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", (table,)
        )
        return bool(rows[0][0])

    def regex_sql(self, column: str) -> str:
        return f"regexp_matches({column}, ?)"

    def close(self) -> None:
        self.con.close()
