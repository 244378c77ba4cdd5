CREATE INDEX matches_run ON matches (run_id);
CREATE INDEX matches_bug ON matches (bug);
