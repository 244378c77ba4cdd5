-- Which failed tests known bugs explain (the answers of ciscope.queries.explained.explain),
-- one row per (run, test, bug). Written with the run and rewritten by reclassify, so every
-- reader asks one table the same question instead of re-deriving the rule.
CREATE TABLE explanations (
    run_id  BIGINT NOT NULL,
    test    TEXT NOT NULL,
    bug     TEXT NOT NULL
);

-- A run's variants (platform, network, upgrade, release ...) as rows, so that an engine can
-- filter and GROUP BY them; runs.variants keeps the same map as JSON for display.
CREATE TABLE run_variants (
    run_id  BIGINT NOT NULL,
    key     TEXT NOT NULL,
    value   TEXT NOT NULL
);
