-- Row-store indexes for the tables of 0007 (DuckDB scans them).
CREATE INDEX explanations_run ON explanations (run_id, test);
CREATE INDEX run_variants_run ON run_variants (run_id);
CREATE INDEX run_variants_key ON run_variants (key, value);
