"""Storage engines behind one interface: ``connect(url)`` → :class:`Store`."""

from .base import DEFAULT_URL, Store, WriteReport, connect

__all__ = ["DEFAULT_URL", "Store", "WriteReport", "connect"]
