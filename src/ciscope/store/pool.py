"""Reader connections shared by threads: how ``ciscope serve`` reads in parallel.

A :class:`ReaderPool` hands each request a reader of the store (:meth:`Store.reader`: a DuckDB
cursor, a PostgreSQL connection) inside one read-only snapshot (:meth:`Store.snapshot`), and
takes it back afterwards for the next request. At most ``size`` readers are out at once (more
requests wait for one); idle ones are kept, a broken one (:meth:`Store.alive`) is dropped.
Writes never go through the pool: the store itself stays the one writer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from .base import Store


class ReaderPool:
    """Up to ``size`` readers of ``store``, shared by threads."""

    def __init__(self, store: Store, size: int) -> None:
        if size < 1:
            raise ValueError(f"size={size}: a reader pool needs at least one reader")
        self.store = store
        self.size = size
        self._idle: list[Store] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)
        self._closed = False

    @contextmanager
    def read(self) -> Iterator[Store]:
        """A reader inside one snapshot: every query of the block sees the same store."""
        with self._slots:
            reader = self._take()
            try:
                with reader.snapshot():
                    yield reader
            except BaseException:
                self._give(reader, keep=reader.alive())
                raise
            self._give(reader, keep=True)

    def _take(self) -> Store:
        with self._lock:
            if self._closed:
                from ..errors import StoreError

                raise StoreError(f"{self.store.url}: the store is closed (the server is stopping)")
            if self._idle:
                return self._idle.pop()
        return self.store.reader()

    def _give(self, reader: Store, *, keep: bool) -> None:
        with self._lock:
            if keep and not self._closed:
                self._idle.append(reader)
                return
        with suppress(Exception):
            reader.close()

    def close(self) -> None:
        """Close the idle readers; readers still out are closed when they come back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for reader in idle:
            with suppress(Exception):
                reader.close()
