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
from datetime import UTC, datetime, timedelta

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


#: a token's ``last_used_at`` is recorded at most this often: a read that checks a token is a
#: read, and only the first check of a minute takes the store's write lock to record its use
USE_RESOLUTION = timedelta(minutes=1)


def live_token(store: Store, token: str | None) -> tuple[str, datetime | None] | None:
    """(name, last use) of the live token ``token`` is, else None. Reads only."""
    if not token or not token.startswith(PREFIX):
        return None
    digest = _digest(token)
    rows = store.query("SELECT name, token_hash, last_used_at FROM api_tokens "
                       "WHERE token_hash = ? AND revoked_at IS NULL", (digest,))
    if not rows or not hmac.compare_digest(rows[0][1], digest):
        return None
    return str(rows[0][0]), rows[0][2]


def needs_recording(last_used: datetime | None) -> bool:
    """Whether a use now should be written (see :data:`USE_RESOLUTION`)."""
    return last_used is None or _now() - last_used >= USE_RESOLUTION


def record_use(store: Store, name: str) -> None:
    store.execute("UPDATE api_tokens SET last_used_at = ? WHERE name = ?", (_now(), name))


def verify_token(store: Store, token: str | None) -> str | None:
    """The name of the live token ``token`` is, else None; records its use (a write)."""
    found = live_token(store, token)
    if found is None:
        return None
    record_use(store, found[0])
    return found[0]
