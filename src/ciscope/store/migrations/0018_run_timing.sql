-- Per-run summaries of the lifecycle events (docs/timing.md, docs/store.md), so that
-- `ciscope timing` reads one row per run and one per (run, phase) instead of aggregating every
-- event. Derived from run_events only: written with a run's events (same transaction), deleted
-- with the run, rebuilt from run_events at any time (ciscope.store.run_timing).

-- One row per run that has events; what the statistics need that no phase config changes.
CREATE TABLE run_event_summary (
    run_id        BIGINT NOT NULL,
    events        BIGINT NOT NULL,      -- number of events
    worker        TEXT,                 -- the smallest worker its events name
    device_group  TEXT,                 -- the smallest device group
    requestor     TEXT,                 -- the smallest requestor
    skew_n        BIGINT NOT NULL,      -- events with a received time: count of skews
    skew_sum      DOUBLE PRECISION,     -- sum of received - emitted (seconds)
    skew_min      DOUBLE PRECISION,
    skew_max      DOUBLE PRECISION,
    skew_neg      BIGINT NOT NULL,      -- received before emitted
    -- how many times each event name occurs (iterations, stall events): "name<US>count"
    -- joined by <RS> (chr(31), chr(30)), names in order; the few distinct values are parsed once
    counts        TEXT NOT NULL
);

-- Start and end of every phase of every run with events, for one phase config (the phases
-- only: thresholds and stall rules do not change them). config = fingerprint of the phases
-- (ciscope.store.run_timing.phases_fingerprint); phase = its position in the config.
-- start = first occurrence of the first start event the run has, end = last occurrence of
-- the first end event it has; NULL when the run has none. Every phase has a row, so a run
-- with rows for phase 0 is complete for that config.
CREATE TABLE run_phases (
    config        TEXT NOT NULL,
    run_id        BIGINT NOT NULL,
    phase         INTEGER NOT NULL,
    start_at      TIMESTAMP,
    end_at        TIMESTAMP
);

-- The phase configs kept up to date at ingest (the defaults, and every config a writable
-- store was read with): phases as JSON [[name, [start events], [end events]], ...].
CREATE TABLE timing_configs (
    config        TEXT PRIMARY KEY,
    phases        TEXT NOT NULL,
    registered_at TIMESTAMP NOT NULL
);
