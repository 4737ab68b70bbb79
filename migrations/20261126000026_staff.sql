-- Meridian's own staff (support and admin), apart from tenant users: created from the command line,
-- never by sign-up, and signed in on a page of their own.
CREATE TABLE staff (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('support', 'admin')),
    created_at     BIGINT NOT NULL
);
