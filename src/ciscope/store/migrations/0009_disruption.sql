-- Disruption and alert seconds per run (OpenShift's backend-disruption_*.json and alerts_*.json),
-- and baselines imported from origin's query_results.json. See docs/disruption.md.

-- One row per run that had disruption or alert artifacts: its job type as real columns, so the
-- engine groups by them (upstream's JobRuns table joined with the job's variants). Written in
-- the run's transaction, deleted with it.
CREATE TABLE disruption_runs (
    run_id               BIGINT PRIMARY KEY,
    job                  TEXT NOT NULL,
    started_at           TIMESTAMP,               -- copied from runs: baselines scan by time
    release              TEXT NOT NULL,           -- e.g. 4.19 ('' when unknown)
    from_release         TEXT NOT NULL,           -- '' when not an upgrade
    platform             TEXT NOT NULL,           -- aws, gcp, metal ... ('' : verdicts skipped)
    architecture         TEXT NOT NULL,           -- amd64, arm64 ...
    network              TEXT NOT NULL,           -- ovn, sdn
    topology             TEXT NOT NULL,           -- ha, single, dual, compact, external ...
    master_nodes_updated TEXT,                    -- Y | N | NULL, from cluster-data_*.json
    disruption_files     INTEGER NOT NULL,        -- backend-disruption files read
    alert_files          INTEGER NOT NULL         -- alerts files read (0: the run has no alert data)
);

-- Disrupted seconds per (run, backend, connection type): every entry rounded up to whole
-- seconds, then summed over the run's phase files (ci-tools' reader).
CREATE TABLE disruption_seconds (
    run_id          BIGINT NOT NULL,
    backend         TEXT NOT NULL,                -- BackendName, e.g. kube-api-new-connections
    connection_type TEXT NOT NULL,                -- New | Reused ('' in old files)
    seconds         INTEGER NOT NULL
);

-- Alert seconds per (run, alert, namespace, level), merged over the run's files and rounded up.
-- Known alerts a run did not see are NOT stored as zero rows: the baselines count every run
-- with alert data that lacks a known alert as zero seconds (the same percentiles as ci-tools'
-- injected zero rows, without writing them).
CREATE TABLE alert_seconds (
    run_id    BIGINT NOT NULL,
    alert     TEXT NOT NULL,
    namespace TEXT NOT NULL,                      -- '' when the alert has none
    level     TEXT NOT NULL,                      -- Info | Warning | Critical (normalized case)
    seconds   INTEGER NOT NULL
);

-- Baselines imported from query_results.json files (`ciscope ingest query_results.json`).
-- Re-importing the same file (by path) replaces its rows.
CREATE TABLE disruption_baselines (
    source               TEXT NOT NULL,           -- the file imported
    kind                 TEXT NOT NULL,           -- disruption | alerts
    format               TEXT NOT NULL,           -- current | legacy | oldest
    name                 TEXT NOT NULL,           -- BackendName or AlertName
    namespace            TEXT NOT NULL,           -- alerts: AlertNamespace ('' otherwise)
    level                TEXT NOT NULL,           -- alerts: AlertLevel ('' otherwise)
    release              TEXT NOT NULL,
    from_release         TEXT NOT NULL,
    platform             TEXT NOT NULL,
    architecture         TEXT NOT NULL,
    network              TEXT NOT NULL,
    topology             TEXT NOT NULL,
    master_nodes_updated TEXT,
    job_runs             INTEGER,                 -- NULL in the oldest format
    p50                  DOUBLE PRECISION,        -- NULL in the legacy formats
    p75                  DOUBLE PRECISION,
    p95                  DOUBLE PRECISION NOT NULL,
    p99                  DOUBLE PRECISION NOT NULL,
    first_observed       TEXT,
    last_observed        TEXT,
    imported_at          TIMESTAMP NOT NULL
);
