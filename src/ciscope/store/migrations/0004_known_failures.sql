-- Known failures: the compiled form of the fingerprint directory and the matches found.
-- The directory (one YAML per bug, under version control) stays the source of truth.
CREATE TABLE fingerprints (
    bug        TEXT PRIMARY KEY,
    title      TEXT,
    url        TEXT,
    retry      BOOLEAN NOT NULL DEFAULT FALSE,
    kind       TEXT NOT NULL,          -- query | regex
    pattern    TEXT NOT NULL,          -- the query or regex as written
    source     TEXT NOT NULL,          -- file it was loaded from
    digest     TEXT NOT NULL,          -- hash of the compiled definition: changed → re-match
    loaded_at  TIMESTAMP NOT NULL
);

-- One row per piece of evidence: a fingerprint matched a line of a log or a test's failure.
CREATE TABLE matches (
    run_id     BIGINT NOT NULL,
    bug        TEXT NOT NULL,
    test       TEXT,                   -- set when the evidence is a test's failure text
    file       TEXT NOT NULL,          -- log path relative to the run folder, or "junit"
    line       INTEGER,                -- 1-based line number in that file
    text       TEXT NOT NULL,          -- the matched line (≤ 1 KiB)
    matched_at TIMESTAMP NOT NULL
);
