-- The store's generation (Store.generation, docs/store.md): one row whose number every write
-- transaction bumps when it commits (Store.commit), so `ciscope serve` knows from one tiny read,
-- in the snapshot it reads, whether a cached report is still the store's answer.
CREATE TABLE store_generation (
    generation BIGINT NOT NULL
);
INSERT INTO store_generation VALUES (0);
