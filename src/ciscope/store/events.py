"""Writing lifecycle events of runs that are already stored (an event file that arrives after
the run's folder was ingested). New runs get their events with them (``arrow_batch``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..model import LifecycleEvent
from .base import Store
from .run_timing import refresh_run_timing
from .write import events_table

__all__ = ["replace_events"]


def replace_events(store: Store, events: Mapping[int, Sequence[LifecycleEvent]]) -> int:
    """Replace the stored events of those stored runs by ``events`` (run_id → events), in one
    transaction under the write lock, with their summaries (``run_event_summary``,
    ``run_phases``); runs that are not stored are left out. Returns the number of events written."""
    if not events:
        return 0
    with store.transaction(f"store the events of {len(events)} run(s)", lock=True):
        stored = [rid for rid in store.stored_status(events) if events[rid]]
        for name in ("run_phases", "run_event_summary", "run_events"):  # the summaries with the events
            store.execute_in(f"DELETE FROM {name} WHERE run_id IN ({{marks}})", stored)
        table = events_table((rid, events[rid]) for rid in stored)
        if table.num_rows:
            store.append("run_events", table)
            refresh_run_timing(store, stored)
    return table.num_rows
