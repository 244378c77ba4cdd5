"""API tokens for the write endpoints: created, listed and revoked by ``ciscope token``.

A token is ``cis_`` + 43 URL-safe characters (256 random bits). The store keeps only its
SHA-256 digest and a 12-character prefix; the token is shown once, when created.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from ..errors import NotFoundError, UsageError
from ..store.base import Store

__all__ = ["NewToken", "TokenInfo", "create_token", "list_tokens", "revoke_token", "verify_token"]

PREFIX = "cis_"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")


@dataclass(frozen=True)
class TokenInfo:
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class NewToken:
    name: str
    token: str  # shown once; only its hash is stored
    prefix: str
    created_at: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def create_token(store: Store, name: str) -> NewToken:
    """A new token for ``name`` (a CI system or person; unique among tokens ever created)."""
    if not _NAME.fullmatch(name):
        raise UsageError(f"{name!r}: a token name is 1-100 letters, digits and . _ @ -, starting with a letter or digit")
    if store.query("SELECT 1 FROM api_tokens WHERE name = ?", (name,)):
        raise UsageError(f"{name}: a token with this name exists (`ciscope token list`); revoke it or pick another name")
    token = PREFIX + secrets.token_urlsafe(32)
    created = _now()
    store.execute("INSERT INTO api_tokens (name, token_hash, prefix, created_at) VALUES (?, ?, ?, ?)",
                  (name, _digest(token), token[:12], created))
    return NewToken(name=name, token=token, prefix=token[:12], created_at=created)


def list_tokens(store: Store) -> list[TokenInfo]:
    return [TokenInfo(**row) for row in store.query_dicts(
        "SELECT name, prefix, created_at, revoked_at, last_used_at FROM api_tokens ORDER BY name")]


def revoke_token(store: Store, name: str) -> TokenInfo:
    """Revoke the token named ``name``: from now on it is refused. Revoking twice is a no-op."""
    if not store.query("SELECT 1 FROM api_tokens WHERE name = ?", (name,)):
        raise NotFoundError(f"{name}: no such token (`ciscope token list` shows them)")
    store.execute("UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (_now(), name))
    return next(t for t in list_tokens(store) if t.name == name)


def verify_token(store: Store, token: str | None) -> str | None:
    """The name of the live token ``token`` is, else None; records its use."""
    if not token or not token.startswith(PREFIX):
        return None
    digest = _digest(token)
    rows = store.query("SELECT name, token_hash FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL", (digest,))
    if not rows or not hmac.compare_digest(rows[0][1], digest):
        return None
    store.execute("UPDATE api_tokens SET last_used_at = ? WHERE name = ?", (_now(), rows[0][0]))
    return str(rows[0][0])
