-- Row-store indexes for PostgreSQL. DuckDB does not get them: its zone maps serve scans and
-- ART indexes would only slow bulk appends.
CREATE INDEX test_results_run ON test_results (run_id);
CREATE INDEX test_verdicts_run ON test_verdicts (run_id);
CREATE INDEX test_verdicts_job_test ON test_verdicts (job, test);
CREATE INDEX runs_job_started ON runs (job, started_at);
