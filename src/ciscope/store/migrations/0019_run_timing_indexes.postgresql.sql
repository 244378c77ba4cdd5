-- Row-store indexes for the tables of 0018 (DuckDB scans them; ART indexes would only slow
-- bulk appends): deleting a run's rows (DELETE ... WHERE run_id IN) and the per-config reads.
CREATE INDEX run_event_summary_run ON run_event_summary (run_id);
CREATE INDEX run_phases_config_run ON run_phases (config, run_id, phase);
CREATE INDEX run_phases_run ON run_phases (run_id);
