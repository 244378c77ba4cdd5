"""Storage engines behind one interface: ``connect(url)`` → :class:`Store`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import Store
    from .engine import connect
    from .write import WriteReport

#: the store used when none is given (``--db``, ``CISCOPE_DB``)
DEFAULT_URL = "duckdb:///./ciscope.duckdb"

#: the engines that read a Parquet lake in place (``parquet://`` is DuckDB's reading of it)
LAKE_SCHEMES = ("parquet", "spark", "chdb", "clickhouse")

__all__ = ["DEFAULT_URL", "LAKE_SCHEMES", "Store", "WriteReport", "connect", "scheme"]


def scheme(url: str) -> str:
    """The engine a store URL names: what comes before ``://`` (``""`` when nothing does)."""
    return url.split("://", 1)[0] if "://" in url else ""


def __getattr__(name: str) -> Any:
    # The engines pull in pyarrow and numpy: loaded on first use, so that naming the
    # default store (the CLI's --help) costs nothing.
    if name in ("Store", "WriteReport", "connect"):
        from . import base, engine, write

        return getattr({"Store": base, "WriteReport": write, "connect": engine}[name], name)
    raise AttributeError(f"module 'ciscope.store' has no attribute {name!r}")
