-- The tests a fingerprint is limited to (its test_ids, JSON list): a match in a run's logs
-- explains the failures of these tests. Empty list: no limit.
ALTER TABLE fingerprints ADD COLUMN test_ids TEXT DEFAULT '[]';
