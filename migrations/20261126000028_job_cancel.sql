-- An admin's request to cancel a live job. The worker honours it at the next step boundary (never
-- in the middle of a step), unwinding everything the job did; the reason becomes the job's error.
ALTER TABLE jobs ADD COLUMN cancel_requested_at BIGINT;
ALTER TABLE jobs ADD COLUMN cancel_reason TEXT;
