-- Lifecycle events of runs (docs/timing.md): one row per event, written with the run.
-- iteration numbers repeats of one event name in one run from 0 (flash retries).
CREATE TABLE run_events (
    run_id        BIGINT NOT NULL,
    event         TEXT NOT NULL,
    emitted_at    TIMESTAMP NOT NULL,
    received_at   TIMESTAMP,
    worker        TEXT,
    device_group  TEXT,
    requestor     TEXT,
    iteration     INTEGER NOT NULL DEFAULT 0
);

-- Every retrigger decision (planned, executed, refused) with its reason (docs/timing.md).
CREATE TABLE retriggers (
    run_id       BIGINT NOT NULL,
    job          TEXT NOT NULL,
    build        TEXT NOT NULL,
    commit_sha   TEXT,
    rule         TEXT,                -- the retry fingerprint(s) or reason regex that allowed it
    decision     TEXT NOT NULL,       -- retrigger | skip | dry_run | failed
    reason       TEXT NOT NULL,
    action       TEXT,                -- the command or webhook (URL) used
    response     TEXT,                -- exit status / HTTP status of the action
    decided_at   TIMESTAMP NOT NULL
);
