-- Server-side sessions (tower-sessions records). user_id is lifted out of the record so that logout everywhere,
-- password changes and suspension can end every session of a user in one statement.
CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    user_id     TEXT REFERENCES users (id) ON DELETE CASCADE,
    data        TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);

CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
