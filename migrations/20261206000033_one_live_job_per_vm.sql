-- At most one live job per VM, enforced by the database rather than by a check-then-insert that two
-- transactions on PostgreSQL can both pass. A second operation on a busy VM is refused with the
-- running job's id; this index is what makes the refusal race-free on both engines.
-- A database that already holds two live jobs on one VM (PostgreSQL let it happen) keeps the oldest;
-- the others end failed, saying why, for staff to retry once the VM is free.
UPDATE jobs SET state = 'failed', failed_step = 'job', updated_at = created_at, finished_at = created_at,
    error = 'Ended at an upgrade: another operation was already running on this VM. Retry it.'
WHERE state IN ('queued', 'running', 'unwinding') AND EXISTS (
    SELECT 1 FROM jobs older WHERE older.target_id = jobs.target_id
       AND older.state IN ('queued', 'running', 'unwinding')
       AND (older.created_at < jobs.created_at OR (older.created_at = jobs.created_at AND older.id < jobs.id)));
CREATE UNIQUE INDEX jobs_one_live_per_target ON jobs (target_id) WHERE state IN ('queued', 'running', 'unwinding');
