-- Signed CloudStack requests that changed something, remembered until they expire, so the same
-- signed URL is never run twice (by this server or another on the same database). `signature` is
-- the SHA-256 of the signature's bytes; `expires_at` (Unix ms) is when the row may be forgotten.
CREATE TABLE cloudstack_signatures (
    api_key_id  TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    signature   TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (api_key_id, signature)
);
