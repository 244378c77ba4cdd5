"""The report cache of ``ciscope serve``: each report computed once per store generation.

A report (summary, flaky, regressions, grid, bugs, clusters …) is a pure function of its
parameters and of what the store holds, and the store's :meth:`~ciscope.store.base.Store.generation`
changes whenever a write commits. So an answer is kept under ``(report, parameters,
generation)`` and served again until the next write: an upload makes every answer of the
older generation unreachable at once (a new run shows up in the next request), and they are
dropped as soon as an answer of the newer generation is stored.

- **Single flight**: concurrent requests for the same key wait for the one computing it
  instead of computing it too (20 clients opening the same page cost one analysis). An error
  reaches every waiter and is not kept.
- **Bounded**: least recently used answers are dropped beyond ``max_entries`` answers or
  ``max_bytes`` of their JSON (the size measured once, by encoding the answer as the API
  does; the Python objects take a few times that). An answer larger than a quarter of the
  budget is served but not kept.
- Answers are shared between requests: callers must not change them (slice or copy instead).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import orjson

JSON_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z | orjson.OPT_SERIALIZE_NUMPY  # as the API encodes


def size_of(value: Any) -> int:
    """Bytes of ``value`` as JSON: what the cache's budget counts."""
    try:
        return len(orjson.dumps(value, option=JSON_OPTIONS))
    except TypeError:  # not JSON (a Path, a set …): count it as small
        return 1024


WAIT = object()  # claim(): another caller computes the answer
LEAD = object()  # claim(): this caller computes it


class _Flight:
    """One computation in progress; waiters block on it."""

    __slots__ = ("done", "value", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None

    def wait(self) -> Any:
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.value


@dataclass(slots=True)
class CacheStats:
    """Counters of a :class:`ReportCache` (read by the tests; not served over HTTP)."""

    hits: int = 0
    misses: int = 0  # computed here
    waits: int = 0  # waited for another request computing the same answer
    evictions: int = 0
    entries: int = 0
    bytes: int = 0


class ReportCache:
    """Answers keyed by ``(key, generation)``, least recently used dropped first."""

    def __init__(self, *, max_bytes: int = 64 * 2**20, max_entries: int = 1000) -> None:
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[Hashable, int], tuple[Any, int]] = OrderedDict()
        self._flights: dict[tuple[Hashable, int], _Flight] = {}
        self._newest = 0  # newest generation seen: older answers are dropped, not stored
        self.stats = CacheStats()

    def get(self, key: Hashable, generation: int, compute: Callable[[], Any]) -> Any:
        """The answer for ``key`` at ``generation``: kept, being computed by another caller
        (wait for it), or ``compute()`` now."""
        found, flight = self.claim(key, generation)
        if flight is None:
            return found
        if found is WAIT:
            return flight.wait()
        return self.fill(key, generation, flight, compute)

    def claim(self, key: Hashable, generation: int) -> tuple[Any, _Flight | None]:
        """``(answer, None)`` when kept; ``(WAIT, flight)`` when another caller computes it
        (``flight.wait()`` for it: hold no store connection meanwhile); ``(LEAD, flight)``:
        this caller computes it and must :meth:`fill` it."""
        full = (key, generation)
        with self._lock:
            if generation > self._newest:
                self._drop_older(generation)
            found = self._entries.get(full)
            if found is not None:
                self._entries.move_to_end(full)
                self.stats.hits += 1
                return found[0], None
            flight = self._flights.get(full)
            if flight is not None:
                self.stats.waits += 1
                return WAIT, flight
            flight = self._flights[full] = _Flight()
            self.stats.misses += 1
            return LEAD, flight

    def fill(self, key: Hashable, generation: int, flight: _Flight, compute: Callable[[], Any]) -> Any:
        """Compute the answer this caller claimed (:meth:`claim`), hand it to the waiters, keep it."""
        full = (key, generation)
        try:
            value = compute()
        except BaseException as exc:
            flight.error = exc
            with self._lock:
                del self._flights[full]
            flight.done.set()
            raise
        flight.value = value
        with self._lock:
            del self._flights[full]
        flight.done.set()  # waiters go on; sizing and storing happen after
        self._store(full, value)
        return value

    def resolve(self, key: Hashable, generation: int, flight: _Flight, value: Any = None,
                error: BaseException | None = None) -> None:
        """End a claimed computation with an answer computed elsewhere (or an error), keeping
        nothing: e.g. the answer of a newer generation handed to the waiters of an older one."""
        flight.value, flight.error = value, error
        with self._lock:
            self._flights.pop((key, generation), None)
        flight.done.set()

    def _store(self, full: tuple[Hashable, int], value: Any) -> None:
        size = size_of(value)
        if size > self.max_bytes // 4:
            return
        with self._lock:
            if full[1] < self._newest:
                return  # a write committed meanwhile: nobody will ask for this generation again
            old = self._entries.pop(full, None)
            if old is not None:
                self.stats.bytes -= old[1]
            self._entries[full] = (value, size)
            self.stats.bytes += size
            while self._entries and (len(self._entries) > self.max_entries or self.stats.bytes > self.max_bytes):
                _, (_, dropped) = self._entries.popitem(last=False)
                self.stats.bytes -= dropped
                self.stats.evictions += 1
            self.stats.entries = len(self._entries)

    def _drop_older(self, generation: int) -> None:
        """Under the lock: ``generation`` is new; answers of older generations go."""
        self._newest = generation
        for full in [k for k in self._entries if k[1] < generation]:
            _, size = self._entries.pop(full)
            self.stats.bytes -= size
        self.stats.entries = len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.stats.bytes = self.stats.entries = 0
