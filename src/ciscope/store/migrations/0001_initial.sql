-- ciscope schema, version 1. Engine-neutral SQL: it runs unchanged on DuckDB and PostgreSQL.
-- Timestamps are UTC without a zone. JSON documents are stored as TEXT (portable).

-- One row per job; variants are the job's configuration (platform, network, upgrade ...).
CREATE TABLE jobs (
    job         TEXT PRIMARY KEY,
    variants    TEXT NOT NULL DEFAULT '{}',
    first_seen  TIMESTAMP,
    last_seen   TIMESTAMP
);

-- One row per run of a job (Prow: a build). run_id is a hash of (job, build), the same on
-- every engine, so re-ingesting is detected without a lookup table.
CREATE TABLE runs (
    run_id       BIGINT PRIMARY KEY,
    job          TEXT NOT NULL,
    build        TEXT NOT NULL,
    status       TEXT NOT NULL,          -- success | failure | error | aborted | pending
    started_at   TIMESTAMP,
    finished_at  TIMESTAMP,
    commit_sha   TEXT,
    branch       TEXT,                   -- branch or release
    pr           TEXT,                   -- org_repo#number for presubmits
    worker       TEXT,                   -- node / host / cluster
    url          TEXT,
    variants     TEXT NOT NULL DEFAULT '{}',
    metadata     TEXT NOT NULL DEFAULT '{}',
    reason       TEXT,                   -- structured reason of a failed run (JSON)
    source       TEXT,                   -- folder or file ingested
    logs         TEXT NOT NULL DEFAULT '[]', -- logs kept for later matching (JSON list of paths)
    tests        INTEGER NOT NULL DEFAULT 0, -- tests with a verdict other than skipped
    failed_tests INTEGER NOT NULL DEFAULT 0, -- verdict failed or error
    flaked_tests INTEGER NOT NULL DEFAULT 0, -- verdict flaky
    ingested_at  TIMESTAMP NOT NULL,
    UNIQUE (job, build)
);

-- One row per attempt of a test in a run.
CREATE TABLE test_results (
    run_id          BIGINT NOT NULL,
    test            TEXT NOT NULL,       -- identity across runs: classname.name (see model.test_id)
    name            TEXT NOT NULL,
    classname       TEXT NOT NULL,
    suite           TEXT NOT NULL,
    attempt         INTEGER NOT NULL,
    status          TEXT NOT NULL,       -- passed | failed | error | skipped
    duration        DOUBLE PRECISION,    -- seconds
    failure_type    TEXT,
    failure_message TEXT,
    failure_text    TEXT,
    file            TEXT NOT NULL
);

-- One verdict per test per run, derived from its attempts. job and started_at are copied
-- from runs on purpose: every history analysis scans this table by job and time.
CREATE TABLE test_verdicts (
    run_id      BIGINT NOT NULL,
    job         TEXT NOT NULL,
    test        TEXT NOT NULL,
    verdict     TEXT NOT NULL,           -- passed | failed | flaky | skipped | error
    attempts    INTEGER NOT NULL,
    duration    DOUBLE PRECISION,        -- of the last attempt
    started_at  TIMESTAMP
);
