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
from ..queries import tokens as stored
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
    if stored.token_exists(store, name):
        raise UsageError(f"{name}: a token with this name exists (`ciscope token list`); revoke it or pick another name")
    token = PREFIX + secrets.token_urlsafe(32)
    created = _now()
    stored.insert_token(store, name, _digest(token), token[:12], created)
    return NewToken(name=name, token=token, prefix=token[:12], created_at=created)


def list_tokens(store: Store) -> list[TokenInfo]:
    return [TokenInfo(**row) for row in stored.token_rows(store)]


def revoke_token(store: Store, name: str) -> TokenInfo:
    """Revoke the token named ``name``: from now on it is refused. Revoking twice is a no-op."""
    if not stored.token_exists(store, name):
        raise NotFoundError(f"{name}: no such token (`ciscope token list` shows them)")
    stored.revoke(store, name, _now())
    return next(t for t in list_tokens(store) if t.name == name)


#: a token's ``last_used_at`` is recorded at most this often: a read that checks a token is a
#: read, and only the first check of a minute takes the store's write lock to record its use
USE_RESOLUTION = timedelta(minutes=1)


def live_token(store: Store, token: str | None) -> tuple[str, datetime | None] | None:
    """(name, last use) of the live token ``token`` is, else None. Reads only."""
    if not token or not token.startswith(PREFIX):
        return None
    digest = _digest(token)
    row = stored.live_token_row(store, digest)
    if row is None or not hmac.compare_digest(row[1], digest):
        return None
    return row[0], row[2]


def needs_recording(last_used: datetime | None) -> bool:
    """Whether a use now should be written (see :data:`USE_RESOLUTION`)."""
    return last_used is None or _now() - last_used >= USE_RESOLUTION


def record_use(store: Store, name: str) -> None:
    stored.set_last_used(store, name, _now())


def verify_token(store: Store, token: str | None) -> str | None:
    """The name of the live token ``token`` is, else None; records its use (a write)."""
    found = live_token(store, token)
    if found is None:
        return None
    record_use(store, found[0])
    return found[0]
