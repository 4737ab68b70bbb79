-- Log-in, password-change and sign-up attempts, one row per budget an attempt spent, so that every
-- server sharing the database counts against the same budgets (see core/src/throttle.rs).
-- `budget` is the SHA-256 (hex) of what the budget is for (no e-mail or address is kept);
-- `attempt_id` ties an attempt's rows together so that it can be taken back; `at` is Unix ms.
-- Rows older than the longest window are deleted by the server's sweeper (by `at`).
CREATE TABLE login_attempts (
    budget      TEXT NOT NULL,
    at          BIGINT NOT NULL,
    attempt_id  TEXT NOT NULL,
    PRIMARY KEY (budget, at, attempt_id)
);
CREATE INDEX login_attempts_by_time ON login_attempts (at);
