"""Times as ciscope stores them (kept apart from :mod:`ciscope.model` so that modules needing
only this — the report window, the CLI's option parsing — stay light to import)."""

from __future__ import annotations

from datetime import datetime, timezone


def naive_utc(value: datetime | None) -> datetime | None:
    """A time as stored: UTC without a zone (a naive time is taken as UTC already)."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(timezone.utc).replace(tzinfo=None)
