"""Storage engines behind one interface: ``connect(url)`` → :class:`Store`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import Store
    from .engine import connect
    from .write import WriteReport

#: the store used when none is given (``--db``, ``CISCOPE_DB``)
DEFAULT_URL = "duckdb:///./ciscope.duckdb"

__all__ = ["DEFAULT_URL", "Store", "WriteReport", "connect"]


def __getattr__(name: str) -> Any:
    # The engines pull in pyarrow and numpy: loaded on first use, so that naming the
    # default store (the CLI's --help) costs nothing.
    if name in ("Store", "WriteReport", "connect"):
        from . import base, engine, write

        return getattr({"Store": base, "WriteReport": write, "connect": engine}[name], name)
    raise AttributeError(f"module 'ciscope.store' has no attribute {name!r}")
