"""Reads and writes of the ``api_tokens`` table (``ciscope token``, the server's token check):
what :mod:`ciscope.web.tokens` decides is stored and asked here. A token is stored as its
SHA-256 digest and a 12-character prefix, never as itself."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..errors import StoreError

if TYPE_CHECKING:
    from ..store.base import Store

__all__ = ["insert_token", "live_token_row", "set_last_used", "token_exists", "token_rows", "revoke"]


def _tokens_here(store: Store) -> None:
    """A Parquet lake holds no tokens (``export`` leaves the credentials out, and a command
    writing a lake publishes no ``api_tokens``): a :class:`StoreError` says so."""
    if not store.table_exists("api_tokens"):
        raise StoreError(f"{store.url}: no API tokens here: a Parquet lake leaves the api_tokens table out "
                         "(manage them on the store that `ciscope serve` serves)")


def token_exists(store: Store, name: str) -> bool:
    _tokens_here(store)
    return bool(store.query("SELECT 1 FROM api_tokens WHERE name = ?", (name,)))


def insert_token(store: Store, name: str, digest: str, prefix: str, created: datetime) -> None:
    store.execute("INSERT INTO api_tokens (name, token_hash, prefix, created_at) VALUES (?, ?, ?, ?)",
                  (name, digest, prefix, created))


def token_rows(store: Store) -> list[dict[str, Any]]:
    """Every token (name, prefix, created_at, revoked_at, last_used_at), by name."""
    _tokens_here(store)
    return store.query_dicts("SELECT name, prefix, created_at, revoked_at, last_used_at FROM api_tokens ORDER BY name")


def revoke(store: Store, name: str, when: datetime) -> None:
    """Mark ``name`` revoked at ``when`` (a token revoked already keeps its first time)."""
    _tokens_here(store)
    store.execute("UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (when, name))


def live_token_row(store: Store, digest: str) -> tuple[str, str, datetime | None] | None:
    """(name, stored digest, last use) of the unrevoked token with this digest, else None."""
    rows = store.query("SELECT name, token_hash, last_used_at FROM api_tokens "
                       "WHERE token_hash = ? AND revoked_at IS NULL", (digest,))
    return (str(rows[0][0]), str(rows[0][1]), rows[0][2]) if rows else None


def set_last_used(store: Store, name: str, when: datetime) -> None:
    store.execute("UPDATE api_tokens SET last_used_at = ? WHERE name = ?", (when, name))
