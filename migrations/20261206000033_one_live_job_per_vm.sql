-- At most one live job per VM, enforced by the database rather than by a check-then-insert that two
-- transactions on PostgreSQL can both pass. A second operation on a busy VM is refused with the
-- running job's id; this index is what makes the refusal race-free on both engines.
CREATE UNIQUE INDEX jobs_one_live_per_target ON jobs (target_id) WHERE state IN ('queued', 'running', 'unwinding');
