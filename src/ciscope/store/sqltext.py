"""SQL text shared by the store and the query layer, importing nothing (the query layer's
status rules are read by commands that never open a store)."""

from __future__ import annotations

__all__ = ["sql_string"]


def sql_string(text: str) -> str:
    """``text`` as a standard SQL string literal (single quotes, a quote doubled): for values
    a statement names itself (event names, statuses, file paths) so the engine folds them into
    its plan; a value given by a user travels as a parameter."""
    return "'" + text.replace("'", "''") + "'"
