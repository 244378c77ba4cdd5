-- Row-store indexes for the tables of 0013 (DuckDB scans them: its zone maps serve the scans,
-- ART indexes would only slow bulk appends).
-- run_events: the per-run aggregation of `ciscope timing` (grouped by run, joined to runs),
-- replacing a run's events (DELETE ... WHERE run_id IN), and max(emitted_at) for "now".
CREATE INDEX run_events_run ON run_events (run_id, event);
CREATE INDEX run_events_emitted ON run_events (emitted_at);
-- retriggers: the bounds are counted per run and per (job, commit) under the write lock.
CREATE INDEX retriggers_run ON retriggers (run_id);
CREATE INDEX retriggers_job_commit ON retriggers (job, commit_sha);
