-- Tab summaries imported from TestGrid (/summary or API v1 tab-summaries), as published
-- upstream: kept beside ciscope's own recomputation for comparison.
CREATE TABLE testgrid_summaries (
    tab            TEXT NOT NULL,
    source         TEXT NOT NULL,
    last_run       TIMESTAMP,
    overall_status TEXT NOT NULL,
    status         TEXT NOT NULL,
    latest_green   TEXT,
    alerts         TEXT NOT NULL DEFAULT '[]',
    ingested_at    TIMESTAMP NOT NULL
);
