-- How many times undoing the job's steps failed. Past a bound the job ends (failed, with the undo's
-- error, its VM marked failed for staff) instead of being retried forever.
ALTER TABLE jobs ADD COLUMN undo_failures BIGINT NOT NULL DEFAULT 0;
