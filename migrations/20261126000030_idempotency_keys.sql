-- REST creates carrying an Idempotency-Key: the first answer is kept for a day and replayed to a
-- retry by the same user with the same key and the same request; `status` is NULL while the first
-- is in flight. Keys are the user's own: another user's key of the same name is another key.
CREATE TABLE idempotency_keys (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    idem_key     TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    status       BIGINT,
    body         TEXT,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (user_id, idem_key)
);
