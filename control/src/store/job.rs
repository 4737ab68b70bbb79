//! Job rows and their events: the persisted sagas and the progress feed.

use super::{MAX_BINDS, Marks, Store, Tx, in_list, now_ms};
use meridian_core::job::{JobKind, JobPosition, JobState};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

/// A job as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRow {
    /// Job id.
    pub id: Uuid,
    /// The tenant it acts for.
    pub tenant_id: Option<String>,
    /// Kind, state and step.
    pub position: JobPosition,
    /// The resource it acts on (a VM id).
    pub target_id: Uuid,
    /// The step that failed, once it has.
    pub failed_step: Option<String>,
    /// What went wrong, for the user.
    pub error: Option<String>,
    /// How many times a worker has claimed it.
    pub attempts: i64,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Finished (Unix ms).
    pub finished_at: Option<i64>,
    /// Its parameter (a destroy: the VM's state before; a resize: "old|new"), if any. Carried on
    /// the row so that a step never reads it from the pool while holding a transaction.
    pub params: Option<String>,
}

/// One line of a job's progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEvent {
    /// The job.
    pub job_id: Uuid,
    /// Order within the job, from 1.
    pub seq: i64,
    /// When (Unix ms).
    pub at: i64,
    /// Step name (or `job`).
    pub step: String,
    /// `started`, `done`, `failed`, `undoing`, `undone`, `succeeded`, …
    pub status: String,
    /// What happened.
    pub message: String,
}

/// A job to queue.
#[derive(Clone, Debug)]
pub(crate) struct NewJob {
    /// Job id.
    pub id: Uuid,
    /// The tenant it acts for.
    pub tenant_id: String,
    /// What it does.
    pub kind: JobKind,
    /// The resource it acts on.
    pub target: Uuid,
}

pub(crate) const JOB_COLUMNS: &str = "id, tenant_id, kind, target_id, state, step, failed_step, error, attempts, created_at, finished_at, params";

fn decode(e: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Decode(e.to_string().into())
}

pub(crate) fn job_from_row(row: &AnyRow) -> Result<JobRow, sqlx::Error> {
    let id: String = row.try_get("id")?;
    let target: String = row.try_get("target_id")?;
    let kind: String = row.try_get("kind")?;
    let state: String = row.try_get("state")?;
    let step: i64 = row.try_get("step")?;
    Ok(JobRow {
        id: id.parse().map_err(decode)?,
        tenant_id: row.try_get("tenant_id")?,
        position: JobPosition {
            kind: JobKind::parse(&kind).ok_or_else(|| decode(format!("job kind {kind}")))?,
            state: JobState::parse(&state).ok_or_else(|| decode(format!("job state {state}")))?,
            step: usize::try_from(step).map_err(decode)?,
        },
        target_id: target.parse().map_err(decode)?,
        failed_step: row.try_get("failed_step")?,
        error: row.try_get("error")?,
        attempts: row.try_get("attempts")?,
        created_at: row.try_get("created_at")?,
        finished_at: row.try_get("finished_at")?,
        params: row
            .try_get::<Option<String>, _>("params")?
            .filter(|p| !p.is_empty() && p != "{}"),
    })
}

impl Store {
    /// Queues a job inside the caller's transaction (the same one that creates its target).
    pub(crate) async fn job_insert(
        tx: &mut Tx,
        id: Uuid,
        tenant_id: &str,
        kind: JobKind,
        target: Uuid,
    ) -> Result<(), sqlx::Error> {
        let job = NewJob {
            id,
            tenant_id: tenant_id.to_owned(),
            kind,
            target,
        };
        Self::job_insert_many(tx, std::slice::from_ref(&job), 0).await
    }

    /// Queues jobs at `step` (later than 0 when the accepting transaction did the first steps).
    pub(crate) async fn job_insert_many(
        tx: &mut Tx,
        jobs: &[NewJob],
        step: usize,
    ) -> Result<(), sqlx::Error> {
        const COLUMNS: usize = 8;
        let now = now_ms();
        for chunk in jobs.chunks(MAX_BINDS / COLUMNS) {
            let sql = format!(
                "INSERT INTO jobs (id, tenant_id, kind, target_id, step, created_at, updated_at, state) VALUES {}",
                Marks::of(tx).values(1, chunk.len(), COLUMNS)
            );
            let mut query = sqlx::query(&sql);
            for job in chunk {
                query = query
                    .bind(job.id.to_string())
                    .bind(&job.tenant_id)
                    .bind(job.kind.as_str())
                    .bind(job.target.to_string())
                    .bind(i64::try_from(step).unwrap_or(0))
                    .bind(now)
                    .bind(now)
                    .bind(JobState::Queued.as_str());
            }
            query.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Claims one runnable job for `owner` until `lease_until`: a queued job, a live job whose
    /// lease ran out (its worker died), or one `owner` already holds.
    pub async fn job_claim(&self, owner: &str, lease_ms: i64) -> Result<Option<JobRow>, sqlx::Error> {
        Ok(self.job_claim_many(owner, lease_ms, 1).await?.into_iter().next())
    }

    /// Claims up to `limit` runnable jobs, oldest first. One conditional UPDATE, so two workers
    /// never both win a job: the outer condition is checked again on each row as it is written.
    pub async fn job_claim_many(
        &self,
        owner: &str,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<JobRow>, sqlx::Error> {
        let now = now_ms();
        // On PostgreSQL the candidates are locked as they are chosen, oldest first, skipping any
        // another server is claiming: two servers' claims then never wait for each other (they
        // deadlocked, each holding rows the other's UPDATE wanted). SQLite has one writer at a
        // time and no such clause.
        let lock = match self.backend() {
            super::Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            super::Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET lease_owner = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3 \
             WHERE id IN (SELECT id FROM jobs WHERE state IN ('queued', 'running', 'unwinding') \
                          AND (lease_until IS NULL OR lease_until < $3 OR lease_owner = $1) \
                          ORDER BY created_at, id LIMIT $4 {lock}) \
             AND state IN ('queued', 'running', 'unwinding') \
             AND (lease_until IS NULL OR lease_until < $3 OR lease_owner = $1) \
             RETURNING {JOB_COLUMNS}"
        );
        let rows = sqlx::query(&sql)
            .bind(owner)
            .bind(now + lease_ms)
            .bind(now)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *self.writer().await?)
            .await?;
        let mut jobs = rows.iter().map(job_from_row).collect::<Result<Vec<_>, _>>()?;
        jobs.sort_by_key(|job| (job.created_at, job.id));
        Ok(jobs)
    }

    /// Lets go of every live job leased by an owner whose name starts with `prefix` (a cohort that
    /// stopped on an error, or a restarted server's predecessor under the same identity), so
    /// that the next claim takes them at once instead of when the lease lapses. How many.
    pub async fn job_leases_release(&self, prefix: &str) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE jobs SET lease_owner = NULL, lease_until = NULL \
             WHERE state IN ('queued', 'running', 'unwinding') AND lease_owner IS NOT NULL \
             AND substr(lease_owner, 1, length($1)) = $1",
        )
        .bind(prefix)
        .execute(&mut *self.writer().await?)
        .await?;
        Ok(done.rows_affected())
    }

    /// Extends a lease the worker still holds; false if it lost it.
    pub async fn job_renew(&self, id: Uuid, owner: &str, lease_ms: i64) -> Result<bool, sqlx::Error> {
        Ok(!self.job_renew_many(&[id], owner, lease_ms).await?.is_empty())
    }

    /// Extends the leases the worker still holds among `ids`; returns those it still holds, each
    /// with whether an admin has asked for it to be cancelled.
    pub async fn job_renew_many(
        &self,
        ids: &[Uuid],
        owner: &str,
        lease_ms: i64,
    ) -> Result<Vec<(Uuid, bool)>, sqlx::Error> {
        let mut held = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_BINDS) {
            let sql = format!(
                "UPDATE jobs SET lease_until = $1 WHERE lease_owner = $2 AND id IN ({}) \
                 RETURNING id, cancel_requested_at",
                in_list(3, chunk.len())
            );
            let mut query = sqlx::query(&sql).bind(now_ms() + lease_ms).bind(owner);
            for id in chunk {
                query = query.bind(id.to_string());
            }
            for row in query.fetch_all(&mut *self.writer().await?).await? {
                let id: String = row.try_get("id")?;
                let cancel: Option<i64> = row.try_get("cancel_requested_at")?;
                held.push((id.parse().map_err(decode)?, cancel.is_some()));
            }
        }
        Ok(held)
    }

    /// Turns a running job whose cancel was asked for into an unwinding one, at a step boundary,
    /// if `owner` holds it. The admin's reason becomes its error; `at_step` is the step it stopped
    /// before. Returns false when the lease was lost.
    pub(crate) async fn job_cancel_begin(
        tx: &mut Tx,
        id: Uuid,
        owner: &str,
        at_step: &str,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'unwinding', failed_step = $1, \
             error = COALESCE(cancel_reason, 'Cancelled.'), updated_at = $2 \
             WHERE id = $3 AND lease_owner = $4 AND state IN ('queued', 'running') \
             AND cancel_requested_at IS NOT NULL",
        )
        .bind(at_step)
        .bind(now_ms())
        .bind(id.to_string())
        .bind(owner)
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Counts one more failed undo of a job `owner` holds; the count so far, or None when the
    /// lease was lost.
    pub(crate) async fn job_undo_failed(
        tx: &mut Tx,
        id: Uuid,
        owner: &str,
    ) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar(
            "UPDATE jobs SET undo_failures = undo_failures + 1, updated_at = $1 \
             WHERE id = $2 AND lease_owner = $3 RETURNING undo_failures",
        )
        .bind(now_ms())
        .bind(id.to_string())
        .bind(owner)
        .fetch_optional(&mut **tx)
        .await
    }

    /// Those of `ids` that were cancelled (rather than failed), inside the finishing transaction.
    pub(crate) async fn job_cancelled_among(tx: &mut Tx, ids: &[Uuid]) -> Result<Vec<Uuid>, sqlx::Error> {
        let mut cancelled = Vec::new();
        for chunk in ids.chunks(MAX_BINDS) {
            let sql = format!(
                "SELECT id FROM jobs WHERE cancel_requested_at IS NOT NULL AND id IN ({})",
                in_list(1, chunk.len())
            );
            let mut query = sqlx::query_scalar::<_, String>(&sql);
            for id in chunk {
                query = query.bind(id.to_string());
            }
            for id in query.fetch_all(&mut **tx).await? {
                cancelled.push(id.parse().map_err(decode)?);
            }
        }
        Ok(cancelled)
    }

    /// Moves a job to `position` inside the step's own transaction, if `owner` still holds it.
    /// Returns false (and the caller rolls back) when the lease was lost.
    pub(crate) async fn job_advance(
        tx: &mut Tx,
        id: Uuid,
        owner: &str,
        position: JobPosition,
        failure: Option<(&str, &str)>,
    ) -> Result<bool, sqlx::Error> {
        Self::job_advance_many(tx, &[id], owner, position, failure).await
    }

    /// Moves jobs to one `position` if `owner` still holds every one of them. Returns false (and
    /// the caller rolls back) when any lease was lost.
    pub(crate) async fn job_advance_many(
        tx: &mut Tx,
        ids: &[Uuid],
        owner: &str,
        position: JobPosition,
        failure: Option<(&str, &str)>,
    ) -> Result<bool, sqlx::Error> {
        let now = now_ms();
        let finished = position.state.is_terminal().then_some(now);
        let mut advanced = 0;
        for chunk in ids.chunks(MAX_BINDS) {
            let sql = format!(
                "UPDATE jobs SET state = $1, step = $2, updated_at = $3, finished_at = $4, \
                 failed_step = COALESCE($5, failed_step), error = COALESCE($6, error), \
                 lease_owner = CASE WHEN $4 IS NULL THEN lease_owner ELSE NULL END, \
                 lease_until = CASE WHEN $4 IS NULL THEN lease_until ELSE NULL END \
                 WHERE lease_owner = $7 AND id IN ({})",
                in_list(8, chunk.len())
            );
            let mut query = sqlx::query(&sql)
                .bind(position.state.as_str())
                .bind(i64::try_from(position.step).unwrap_or(i64::MAX))
                .bind(now)
                .bind(finished)
                .bind(failure.map(|(step, _)| step))
                .bind(failure.map(|(_, error)| error))
                .bind(owner);
            for id in chunk {
                query = query.bind(id.to_string());
            }
            advanced += query.execute(&mut **tx).await?.rows_affected();
        }
        Ok(usize::try_from(advanced).is_ok_and(|n| n == ids.len()))
    }

    /// Appends a progress event inside the caller's transaction and returns it.
    pub(crate) async fn job_event_insert(
        tx: &mut Tx,
        job_id: Uuid,
        step: &str,
        status: &str,
        message: &str,
    ) -> Result<JobEvent, sqlx::Error> {
        let mut events = Self::job_event_insert_many(tx, &[job_id], step, status, message).await?;
        events.pop().ok_or(sqlx::Error::RowNotFound)
    }

    /// Appends the same progress event to many jobs inside the caller's transaction.
    pub(crate) async fn job_event_insert_many(
        tx: &mut Tx,
        job_ids: &[Uuid],
        step: &str,
        status: &str,
        message: &str,
    ) -> Result<Vec<JobEvent>, sqlx::Error> {
        const COLUMNS: usize = 7;
        let at = now_ms();
        let mut events = Vec::with_capacity(job_ids.len());
        for chunk in job_ids.chunks(MAX_BINDS / COLUMNS) {
            // Each job's tenant (the event carries it) and its last event's number.
            let sql = format!(
                "SELECT j.id AS job_id, j.tenant_id, (SELECT MAX(e.seq) FROM job_events e WHERE e.job_id = j.id) AS last \
                 FROM jobs j WHERE j.id IN ({})",
                in_list(1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id.to_string());
            }
            let mut jobs = std::collections::HashMap::new();
            for row in query.fetch_all(&mut **tx).await? {
                let id: String = row.try_get("job_id")?;
                let tenant: Option<String> = row.try_get("tenant_id")?;
                let seq: Option<i64> = row.try_get("last")?;
                jobs.insert(id, (tenant, seq.unwrap_or(0)));
            }
            let sql = format!(
                "INSERT INTO job_events (job_id, seq, at, step, status, message, tenant_id) VALUES {}",
                Marks::of(tx).values(1, chunk.len(), COLUMNS)
            );
            let mut insert = sqlx::query(&sql);
            for &job_id in chunk {
                let (tenant, last) = jobs.get(&job_id.to_string()).cloned().unwrap_or((None, 0));
                let seq = last + 1;
                insert = insert
                    .bind(job_id.to_string())
                    .bind(seq)
                    .bind(at)
                    .bind(step)
                    .bind(status)
                    .bind(message)
                    .bind(tenant);
                events.push(JobEvent {
                    job_id,
                    seq,
                    at,
                    step: step.to_owned(),
                    status: status.to_owned(),
                    message: message.to_owned(),
                });
            }
            insert.execute(&mut **tx).await?;
        }
        Ok(events)
    }

    /// A job by id, scoped to its tenant.
    pub async fn job_get(&self, tenant_id: &str, id: Uuid) -> Result<Option<JobRow>, sqlx::Error> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 AND tenant_id = $2");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .bind(tenant_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    /// The tenant's most recent jobs, newest first.
    pub async fn job_list_tenant(&self, tenant_id: &str, limit: i64) -> Result<Vec<JobRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 ORDER BY created_at DESC, id LIMIT $2"
        );
        sqlx::query(&sql)
            .bind(tenant_id)
            .bind(limit)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(job_from_row)
            .collect()
    }

    /// Every job not yet finished (for draining and the invariant checker).
    pub async fn job_list_live(&self) -> Result<Vec<JobRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE state IN ('queued', 'running', 'unwinding') ORDER BY created_at"
        );
        sqlx::query(&sql)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(job_from_row)
            .collect()
    }

    /// How many live jobs there are in each live state (states with none are left out).
    pub async fn job_count_live_by_state(&self) -> Result<Vec<(String, i64)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT state, COUNT(*) FROM jobs WHERE state IN ('queued', 'running', 'unwinding') GROUP BY state",
        )
        .fetch_all(self.pool())
        .await
    }

    /// The events of a job after `after_seq`, in order.
    pub async fn job_events(&self, job_id: Uuid, after_seq: i64) -> Result<Vec<JobEvent>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT seq, at, step, status, message FROM job_events WHERE job_id = $1 AND seq > $2 ORDER BY seq",
        )
        .bind(job_id.to_string())
        .bind(after_seq)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(JobEvent {
                    job_id,
                    seq: row.try_get("seq")?,
                    at: row.try_get("at")?,
                    step: row.try_get("step")?,
                    status: row.try_get("status")?,
                    message: row.try_get("message")?,
                })
            })
            .collect()
    }
}

impl Store {
    /// Queues a job with a parameter (e.g. the state to return to if a destroy unwinds).
    pub(crate) async fn job_insert_with_params(
        tx: &mut Tx,
        id: Uuid,
        tenant_id: &str,
        kind: JobKind,
        target: Uuid,
        params: &str,
    ) -> Result<(), sqlx::Error> {
        Self::job_insert(tx, id, tenant_id, kind, target).await?;
        sqlx::query("UPDATE jobs SET params = $1 WHERE id = $2")
            .bind(params)
            .bind(id.to_string())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// A job's parameter, if it has one.
    pub async fn job_params(&self, id: Uuid) -> Result<Option<String>, sqlx::Error> {
        let params: Option<String> = sqlx::query_scalar("SELECT params FROM jobs WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        Ok(params.filter(|p| !p.is_empty() && p != "{}"))
    }
}

impl Store {
    /// The most recent jobs on a target (newest first), scoped to the tenant.
    pub async fn job_list_for_target(
        &self,
        tenant_id: &str,
        target: Uuid,
        limit: i64,
    ) -> Result<Vec<JobRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 AND target_id = $2 ORDER BY created_at DESC, id LIMIT $3"
        );
        sqlx::query(&sql)
            .bind(tenant_id)
            .bind(target.to_string())
            .bind(limit)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(job_from_row)
            .collect()
    }

    /// The tenant's most recent job events (newest first), with the job's kind and its VM.
    pub async fn job_events_recent(
        &self,
        tenant_id: &str,
        limit: i64,
    ) -> Result<Vec<RecentEvent>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT e.job_id, e.seq, e.at, e.step, e.status, e.message, j.kind, j.target_id, v.name AS vm_name \
             FROM job_events e JOIN jobs j ON j.id = e.job_id LEFT JOIN vms v ON v.id = j.target_id \
             WHERE e.tenant_id = $1 ORDER BY e.at DESC, e.seq DESC LIMIT $2",
        )
        .bind(tenant_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let job_id: String = row.try_get("job_id")?;
                Ok(RecentEvent {
                    event: JobEvent {
                        job_id: job_id.parse().map_err(decode)?,
                        seq: row.try_get("seq")?,
                        at: row.try_get("at")?,
                        step: row.try_get("step")?,
                        status: row.try_get("status")?,
                        message: row.try_get("message")?,
                    },
                    kind: row.try_get("kind")?,
                    target_id: row.try_get("target_id")?,
                    vm_name: row.try_get("vm_name")?,
                })
            })
            .collect()
    }
}

/// A recent event of one of a tenant's jobs, for its activity feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecentEvent {
    /// The event.
    pub event: JobEvent,
    /// Its job's kind.
    pub kind: String,
    /// Its job's VM.
    pub target_id: String,
    /// That VM's name, while its row exists.
    pub vm_name: Option<String>,
}

impl From<JobRow> for meridian_core::view::Job {
    /// The job as lists show it: without its steps.
    fn from(job: JobRow) -> Self {
        Self {
            id: job.id.into(),
            kind: job.position.kind.as_str().to_owned(),
            state: job.position.state.as_str().to_owned(),
            finished: job.position.state.is_terminal(),
            vm_id: job.target_id.into(),
            steps: None,
            failed_step: job.failed_step,
            error: job.error,
            created_at: job.created_at,
            finished_at: job.finished_at,
        }
    }
}

impl From<JobEvent> for meridian_core::view::JobEvent {
    fn from(event: JobEvent) -> Self {
        Self {
            job_id: event.job_id.into(),
            seq: event.seq,
            at: event.at,
            step: event.step,
            status: event.status,
            message: event.message,
        }
    }
}
