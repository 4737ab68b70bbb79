//! The job runner: claims a job, starts it, runs its steps (or their undos) one by one with the
//! lease held, retries a step that lost a race, unwinds after a failure or a cancel, and ends a
//! job for good when it cannot go on. What each step does is in [`super::step`]; the runner only
//! runs steps.

use super::StepError;
use super::spec::vm_spec;
use super::step::{
    Backend, jobs_ended_effect, jobs_started_effect, rolls_forward_only, step_database_accept, step_def,
};
use crate::store::job::{JobEvent, JobRow, NewJob};
use crate::store::vm::VmRow;
use crate::store::{Store, Tx, now_ms};
use crate::{Control, Error};
use meridian_core::job::{JobKind, JobPosition, JobState, NextAction, Step};
use std::time::Duration;
use uuid::Uuid;

/// How often a step that lost a race is tried again before the job gives up on it.
const STEP_RETRIES: u32 = 8;

/// How many failed undos a job survives. An undo that keeps failing (the backend refuses to put
/// back what the job took away) would otherwise be retried every lease, forever.
const UNDO_ATTEMPTS: i64 = 3;

/// How many times a job may be claimed before it is ended for good. A healthy job is claimed once,
/// and again after each crash or lost lease; a fault on our side that recurs at every try (a
/// database constraint a step keeps breaking) would otherwise be retried for ever.
const MAX_CLAIMS: i64 = 25;

impl Control {
    /// Claims and runs one job. Returns false when there was nothing to run.
    pub async fn job_run_one(&self, owner: &str) -> Result<bool, Error> {
        let Some(job) = self.store.job_claim(owner, self.lease_ms).await? else {
            return Ok(false);
        };
        self.job_execute(job, owner).await?;
        Ok(true)
    }

    /// Runs exactly one step (or undo, or the finish) of one job and keeps the claim, so a test
    /// can interleave crashes and replays. Returns the job, or None when nothing is runnable.
    pub async fn job_step_one(&self, owner: &str) -> Result<Option<Uuid>, Error> {
        let Some(job) = self.store.job_claim(owner, self.lease_ms).await? else {
            return Ok(None);
        };
        let mut job = job;
        if job.position.state == JobState::Queued {
            self.job_start(&job, owner).await?;
            job.position.state = JobState::Running;
        }
        self.job_advance_once(&job, owner, job.position).await?;
        Ok(Some(job.id))
    }

    pub(super) async fn job_execute(&self, job: JobRow, owner: &str) -> Result<(), Error> {
        let mut position = job.position;
        if position.state == JobState::Queued {
            self.job_start(&job, owner).await?;
            position.state = JobState::Running;
        }
        loop {
            // Renewed before every step, so a job whose lease lapsed (and may now be another
            // worker's) is never driven again from here: no driver call before this check.
            let held = self.store.job_renew_many(&[job.id], owner, self.lease_ms).await?;
            match held.first() {
                None => return Ok(()),
                Some((_, true)) if matches!(position.state, JobState::Queued | JobState::Running) => {
                    position = self.job_cancel_begin(&job, owner, position).await?;
                    continue;
                }
                Some(_) => {}
            }
            match self.job_advance_once(&job, owner, position).await? {
                Some(next) => position = next,
                None => return Ok(()),
            }
        }
    }

    /// One move of the job machine from `position`: a step, an undo, or the finish. Returns the
    /// new position, or None when the job is over for this worker (finished, lost, or an undo to
    /// retry later).
    async fn job_advance_once(
        &self,
        job: &JobRow,
        owner: &str,
        position: JobPosition,
    ) -> Result<Option<JobPosition>, Error> {
        let (step, undo) = match position.next() {
            NextAction::Do(step) => (step, false),
            NextAction::Undo(step) => (step, true),
            NextAction::Finish(state) => {
                self.job_finish(job, owner, position, state).await?;
                return Ok(None);
            }
        };
        let mut attempt = 0;
        let outcome = loop {
            match self.step_run(job, owner, position, step, undo).await {
                Err(StepError::Retry(reason)) if attempt < STEP_RETRIES => {
                    attempt += 1;
                    tracing::debug!(job.id = %job.id, job.step = %step, attempt, reason, "step lost a race; retrying");
                    tokio::time::sleep(Duration::from_millis(u64::from(attempt) * 5)).await;
                }
                Err(StepError::Retry(reason)) => {
                    break Err(StepError::Failed(format!(
                        "Gave up after repeated conflicts: {reason}"
                    )));
                }
                other => break other,
            }
        };
        match outcome {
            Ok(next) => Ok(Some(next)),
            Err(StepError::LeaseLost) => Ok(None),
            Err(StepError::Failed(message) | StepError::Retry(message)) => {
                let NextAction::Do(step) = position.next() else {
                    self.job_undo_failed(job, owner, position, &message).await?;
                    return Ok(None);
                };
                if rolls_forward_only(position) {
                    tracing::warn!(job.id = %job.id, job.step = %step, error = %message, "teardown step failed; tried again at the next claim");
                    return Ok(None);
                }
                Ok(Some(self.job_fail(job, owner, position, step, &message).await?))
            }
            Err(StepError::Internal(error)) => Err(error),
        }
    }

    async fn job_start(&self, job: &JobRow, owner: &str) -> Result<(), Error> {
        self.jobs_start(std::slice::from_ref(job), owner, job.position)
            .await?;
        Ok(())
    }

    /// Marks queued jobs, all at `position`, as running. False (and nothing changed) if `owner`
    /// no longer holds every one of them.
    pub(crate) async fn jobs_start(
        &self,
        jobs: &[JobRow],
        owner: &str,
        position: JobPosition,
    ) -> Result<bool, Error> {
        let mut tx = self.store.begin_write().await?;
        let running = JobPosition {
            state: JobState::Running,
            ..position
        };
        let ids: Vec<Uuid> = jobs.iter().map(|job| job.id).collect();
        if !Store::job_advance_many(&mut tx, &ids, owner, running, None).await? {
            return Ok(false);
        }
        let vms: Vec<String> = jobs.iter().map(|job| job.target_id.to_string()).collect();
        jobs_started_effect(&mut tx, position.kind, &vms).await?;
        let events = Store::job_event_insert_many(&mut tx, &ids, "job", "started", "Started").await?;
        tx.commit().await?;
        events.into_iter().for_each(|event| self.publish(event));
        Ok(true)
    }

    /// An undo failed: the job stays unwinding for another try (when its lease comes round), or,
    /// after [`UNDO_ATTEMPTS`], ends failed with the undo's error and its VM marked failed, where
    /// staff see it in the job queue; destroying the VM releases whatever it still holds.
    async fn job_undo_failed(
        &self,
        job: &JobRow,
        owner: &str,
        position: JobPosition,
        message: &str,
    ) -> Result<(), Error> {
        let NextAction::Undo(step) = position.next() else {
            return Ok(());
        };
        let mut tx = self.store.begin_write().await?;
        let Some(failures) = Store::job_undo_failed(&mut tx, job.id, owner).await? else {
            return Ok(());
        };
        if failures < UNDO_ATTEMPTS {
            tx.commit().await?;
            tracing::warn!(job.id = %job.id, job.step = %step, error = %message, failures, "undo failed; will retry");
            return Ok(());
        }
        let error = format!(
            "Could not undo \u{201c}{}\u{201d}: {message} The VM is marked failed; destroying it releases what it still holds.",
            step.label()
        );
        self.job_end_for_good(tx, job, owner, position, step.as_str(), &error)
            .await
    }

    /// Ends a job that cannot go on, in `tx`: failed, naming `step` and `error`, its VM marked
    /// failed (and no longer metered) where staff see it in the job queue. What the VM still
    /// holds is released by destroying it.
    async fn job_end_for_good(
        &self,
        mut tx: crate::store::Tx,
        job: &JobRow,
        owner: &str,
        position: JobPosition,
        step: &str,
        error: &str,
    ) -> Result<(), Error> {
        let ended = JobPosition {
            state: JobState::Failed,
            ..position
        };
        if !Store::job_advance(&mut tx, job.id, owner, ended, Some((step, error))).await? {
            return Ok(());
        }
        if let Some(vm) = Store::vm_by_id_tx(&mut tx, &job.target_id.to_string()).await? {
            self.job_abandoned_effect(&mut tx, &vm).await?;
        }
        let event = Store::job_event_insert(&mut tx, job.id, step, "failed", error).await?;
        tx.commit().await?;
        self.publish(event);
        job_finished_metrics(job, JobState::Failed, now_ms());
        tracing::error!(job.id = %job.id, job.step = step, error, "job ended for good with its VM failed");
        Ok(())
    }

    /// Ends the jobs among `claimed` that were claimed more than [`MAX_CLAIMS`] times (a fault
    /// on our side that keeps recurring: each claim after a lapsed lease or a stopped cohort
    /// counts) and returns the others to run.
    pub(crate) async fn jobs_past_their_claims(
        &self,
        claimed: Vec<JobRow>,
        owner: &str,
    ) -> Result<Vec<JobRow>, Error> {
        let mut runnable = Vec::with_capacity(claimed.len());
        for job in claimed {
            if job.attempts <= MAX_CLAIMS {
                runnable.push(job);
                continue;
            }
            let step = match job.position.next() {
                NextAction::Do(step) | NextAction::Undo(step) => step.as_str(),
                NextAction::Finish(_) => "job",
            };
            let error = format!(
                "Stopped after {} tries that failed on Meridian's side; Meridian staff have been alerted. \
                 The VM is marked failed; destroying it releases what it still holds.",
                job.attempts - 1
            );
            let tx = self.store.begin_write().await?;
            self.job_end_for_good(tx, &job, owner, job.position, step, &error)
                .await?;
        }
        Ok(runnable)
    }

    pub(super) async fn job_fail(
        &self,
        job: &JobRow,
        owner: &str,
        position: JobPosition,
        step: Step,
        message: &str,
    ) -> Result<JobPosition, Error> {
        let next = position.step_failed().map_err(Error::internal)?;
        let mut tx = self.store.begin_write().await?;
        if !Store::job_advance(&mut tx, job.id, owner, next, Some((step.as_str(), message))).await? {
            return Ok(position);
        }
        let event = Store::job_event_insert(&mut tx, job.id, step.as_str(), "failed", message).await?;
        tx.commit().await?;
        self.publish(event);
        tracing::info!(job.id = %job.id, job.step = %step, error = %message, "job step failed; unwinding");
        Ok(next)
    }

    /// Starts unwinding a job an admin cancelled, between two steps. Returns where it is now
    /// (unchanged if the lease was lost meanwhile: the next renewal notices).
    async fn job_cancel_begin(
        &self,
        job: &JobRow,
        owner: &str,
        position: JobPosition,
    ) -> Result<JobPosition, Error> {
        let next = position.cancel().map_err(Error::internal)?;
        let at = match position.next() {
            NextAction::Do(step) => step.as_str(),
            _ => "job",
        };
        let mut tx = self.store.begin_write().await?;
        if !Store::job_cancel_begin(&mut tx, job.id, owner, at).await? {
            return Ok(position);
        }
        let event = Store::job_event_insert(
            &mut tx,
            job.id,
            "job",
            "cancelling",
            "Cancelled by Meridian staff; undoing what was done",
        )
        .await?;
        tx.commit().await?;
        self.publish(event);
        tracing::info!(job.id = %job.id, "job cancelled; unwinding");
        Ok(next)
    }

    async fn job_finish(
        &self,
        job: &JobRow,
        owner: &str,
        position: JobPosition,
        state: JobState,
    ) -> Result<(), Error> {
        self.jobs_finish(std::slice::from_ref(job), owner, position, state)
            .await?;
        Ok(())
    }

    /// Ends jobs, all at `position`, in `state`. False (and nothing changed) if `owner` no longer
    /// holds every one of them.
    pub(crate) async fn jobs_finish(
        &self,
        jobs: &[JobRow],
        owner: &str,
        position: JobPosition,
        state: JobState,
    ) -> Result<bool, Error> {
        let mut tx = self.store.begin_write().await?;
        let ids: Vec<Uuid> = jobs.iter().map(|job| job.id).collect();
        // An unwound job ends cancelled if an admin cancelled it, failed otherwise.
        let cancelled = if state == JobState::Failed {
            Store::job_cancelled_among(&mut tx, &ids).await?
        } else {
            Vec::new()
        };
        let (cancelled, ended): (Vec<Uuid>, Vec<Uuid>) = ids.iter().partition(|id| cancelled.contains(id));
        let mut events = Vec::new();
        let outcome_of = |id: &Uuid| {
            if cancelled.contains(id) {
                JobState::Cancelled
            } else {
                state
            }
        };
        let outcomes: Vec<JobState> = jobs.iter().map(|job| outcome_of(&job.id)).collect();
        for (ids, state) in [(ended, state), (cancelled, JobState::Cancelled)] {
            if ids.is_empty() {
                continue;
            }
            let done = JobPosition { state, ..position };
            if !Store::job_advance_many(&mut tx, &ids, owner, done, None).await? {
                return Ok(false);
            }
            let vms: Vec<String> = jobs
                .iter()
                .filter(|job| ids.contains(&job.id))
                .map(|job| job.target_id.to_string())
                .collect();
            jobs_ended_effect(&mut tx, position.kind, state, &vms).await?;
            let message = match state {
                JobState::Succeeded => "Finished",
                JobState::Failed => "Failed; everything it did has been undone",
                _ => "Cancelled; everything it did has been undone",
            };
            events.extend(Store::job_event_insert_many(&mut tx, &ids, "job", state.as_str(), message).await?);
        }
        tx.commit().await?;
        events.into_iter().for_each(|event| self.publish(event));
        let now = now_ms();
        for (job, outcome) in jobs.iter().zip(outcomes) {
            job_finished_metrics(job, outcome, now);
        }
        Ok(true)
    }

    pub(super) fn publish(&self, event: JobEvent) {
        // Nobody listening is fine: the events are in the database too.
        let _ = self.job_events.send(event);
    }

    /// Runs one step (or its undo) and advances the job in the same transaction as its effect.
    async fn step_run(
        &self,
        job: &JobRow,
        owner: &str,
        position: JobPosition,
        step: Step,
        undo: bool,
    ) -> Result<JobPosition, StepError> {
        let vm_id = job.target_id.to_string();
        let vm = self
            .store
            .vm_by_id(&vm_id)
            .await?
            .ok_or_else(|| StepError::Failed("The VM no longer exists.".into()))?;
        let spec = vm_spec(&vm)?;
        self.driver.before_step(step, undo, &spec).await?;
        // Effects outside the database first: the driver's operations are idempotent. They can
        // take longer than a lease (a boot takes ~18 s), so the lease is renewed while they run;
        // if it is lost anyway, the step stops here and the new holder redoes it.
        let work = self.step_backend(job, step, undo, &vm, &spec);
        let heartbeat = async {
            let every = Duration::from_millis(u64::try_from(self.lease_ms / 3).unwrap_or(1000).max(10));
            loop {
                tokio::time::sleep(every).await;
                match self.store.job_renew(job.id, owner, self.lease_ms).await {
                    Ok(true) => {}
                    Ok(false) => return StepError::LeaseLost,
                    Err(error) => return StepError::from(error),
                }
            }
        };
        tokio::select! {
            done = work => done?,
            lost = heartbeat => return Err(lost),
        }
        let mut tx = self.store.begin_write().await?;
        let vm = Store::vm_by_id_tx(&mut tx, &vm_id)
            .await?
            .ok_or_else(|| StepError::Failed("The VM no longer exists.".into()))?;
        self.step_database(&mut tx, job, step, undo, &vm).await?;
        let (next, events) = steps_record(&mut tx, &[job.id], owner, position, step, undo).await?;
        tx.commit().await?;
        events.into_iter().for_each(|event| self.publish(event));
        Ok(next)
    }
}

/// Records in `tx` that `step` (or its undo) is done for jobs all at `position`: their new
/// position and a progress event each. [`StepError::LeaseLost`] if `owner` no longer holds
/// every one of them (the caller rolls back).
pub(super) async fn steps_record(
    tx: &mut Tx,
    ids: &[Uuid],
    owner: &str,
    position: JobPosition,
    step: Step,
    undo: bool,
) -> Result<(JobPosition, Vec<JobEvent>), StepError> {
    let next = if undo {
        position.undo_done()
    } else {
        position.step_done()
    }
    .map_err(|e| StepError::Internal(Error::internal(e)))?;
    if !Store::job_advance_many(tx, ids, owner, next, None).await? {
        return Err(StepError::LeaseLost);
    }
    let (status, verb) = if undo {
        ("undone", "Undid")
    } else {
        ("done", "Done")
    };
    let message = format!("{verb}: {}", step.label());
    let events = Store::job_event_insert_many(tx, ids, step.as_str(), status, &message).await?;
    Ok((next, events))
}

/// Counts a finished job by kind and outcome, with how long it took from being queued.
fn job_finished_metrics(job: &JobRow, outcome: JobState, now: i64) {
    let kind = job.position.kind.as_str();
    metrics::counter!("meridian_jobs_finished_total", "kind" => kind, "outcome" => outcome.as_str())
        .increment(1);
    #[expect(
        clippy::cast_precision_loss,
        reason = "milliseconds of a job's life fit an f64 exactly"
    )]
    let seconds = (now - job.created_at).max(0) as f64 / 1000.0;
    metrics::histogram!("meridian_job_duration_seconds", "kind" => kind).record(seconds);
}

impl Control {
    /// Before new jobs of `kind` are accepted, one for each of `vms`: their first step's backend
    /// hook, as for any step. That step runs inside the accepting transaction
    /// ([`Control::jobs_first_step_run`]): a refusal refuses the request itself and leaves
    /// nothing behind, which is what makes concurrent creates at the quota boundary exact. So it
    /// must have no backend part (a driver call must not hold the request up).
    pub(crate) async fn jobs_first_step_prepare(&self, kind: JobKind, vms: &[VmRow]) -> Result<(), Error> {
        let Some(&step) = kind.steps().first() else {
            return Ok(());
        };
        if step_def(step).run.backend != Backend::Nothing {
            return Err(Error::internal(format_args!(
                "step {step} has a backend part: it cannot run while its job is accepted"
            )));
        }
        for vm in vms {
            self.driver
                .before_step(step, false, &vm_spec(vm)?)
                .await
                .map_err(|e| Error::Forbidden(format!("Could not {}: {e}", step.label().to_lowercase())))?;
        }
        Ok(())
    }

    /// Runs the first step of new jobs of `kind` for `vms` in `tx`, the transaction that
    /// accepts them, before their rows are written (it marks the rows in hand).
    pub(crate) async fn jobs_first_step_run(
        &self,
        tx: &mut Tx,
        kind: JobKind,
        vms: &mut [VmRow],
    ) -> Result<(), Error> {
        match kind.steps().first() {
            Some(&step) => step_database_accept(tx, step, vms).await,
            None => Ok(()),
        }
    }

    /// Queues new jobs in `tx` past their first step, which [`Control::jobs_first_step_run`]
    /// did in the same transaction, recording it as done. Workers are woken once `tx` commits
    /// (the caller nudges them).
    pub(crate) async fn jobs_queue_past_first_step(&self, tx: &mut Tx, jobs: &[NewJob]) -> Result<(), Error> {
        let mut kinds: Vec<JobKind> = Vec::new();
        for job in jobs {
            if !kinds.contains(&job.kind) {
                kinds.push(job.kind);
            }
        }
        for kind in kinds {
            let Some(&step) = kind.steps().first() else {
                continue;
            };
            let of_kind: Vec<NewJob> = jobs.iter().filter(|job| job.kind == kind).cloned().collect();
            Store::job_insert_many(tx, &of_kind, 1).await?;
            let ids: Vec<Uuid> = of_kind.iter().map(|job| job.id).collect();
            Store::job_event_insert_many(
                tx,
                &ids,
                step.as_str(),
                "done",
                &format!("Done: {}", step.label()),
            )
            .await?;
        }
        Ok(())
    }
}
