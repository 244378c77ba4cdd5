-- API tokens for the write endpoints of `ciscope serve` (`ciscope token create|list|revoke`).
-- Only a SHA-256 hash of each token is stored: tokens are 256-bit random strings, so a fast
-- hash is enough (no dictionary to guess from), and the token itself is shown once, at creation.
CREATE TABLE api_tokens (
    name         TEXT PRIMARY KEY,       -- who holds it: a CI system, a person
    token_hash   TEXT NOT NULL UNIQUE,   -- sha256 hex digest of the whole token
    prefix       TEXT NOT NULL,          -- its first 12 characters, to recognise it in lists and logs
    created_at   TIMESTAMP NOT NULL,
    revoked_at   TIMESTAMP,              -- set by `token revoke`; a revoked token is refused
    last_used_at TIMESTAMP               -- last accepted write
);
