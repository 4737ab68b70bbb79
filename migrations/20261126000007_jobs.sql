-- Persisted jobs (sagas). `step` is the index of the next step to run (or, while unwinding, the
-- number of steps still to undo); it advances in the same transaction as each step's effect, so a
-- crash at any point resumes or unwinds from exactly where it stopped. A lease lets several
-- workers (and several servers) share the queue: a job is claimed by one conditional UPDATE, and an
-- expired lease (a dead worker) lets another claim it.
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT REFERENCES tenants (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    state        TEXT NOT NULL,
    step         BIGINT NOT NULL DEFAULT 0,
    failed_step  TEXT,
    error        TEXT,
    params       TEXT NOT NULL DEFAULT '{}',
    lease_owner  TEXT,
    lease_until  BIGINT,
    attempts     BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    finished_at  BIGINT
);

-- Claiming takes the oldest live job: this partial index makes that a look at its first few entries
-- however many finished jobs there are.
CREATE INDEX jobs_live_by_age ON jobs (created_at, id) WHERE state IN ('queued', 'running', 'unwinding');
CREATE INDEX jobs_by_target ON jobs (target_id);

-- What happened, step by step: the live progress feed and the job's history.
CREATE TABLE job_events (
    job_id   TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq      BIGINT NOT NULL,
    at       BIGINT NOT NULL,
    step     TEXT NOT NULL,
    status   TEXT NOT NULL,
    message  TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);
