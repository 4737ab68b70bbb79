//! Cohorts: jobs that stand at the same step move forward together.
//!
//! A worker claims many jobs at once and moves each group at one position as a cohort: the
//! driver's part of the step runs for every member side by side, then one transaction records
//! the step for all of them (their database changes, the jobs' new position, their progress
//! events). A cohort of 200 VM creates costs the database a handful of statements per step
//! instead of a dozen per VM. What each step means is defined once, in the one-job path: the
//! cohort calls the same step functions, and any member that fails, loses a race or its lease
//! leaves the cohort and carries on alone through that path.

use super::StepError;
use super::step::{Database, effect};
use crate::store::Store;
use crate::store::job::{JobEvent, JobRow};
use crate::store::vm::VmRow;
use crate::{Control, Error};
use futures_util::future::join_all;
use meridian_core::job::{JobKind, JobPosition, JobState, NextAction, Step};
use std::collections::HashMap;
use std::time::Duration;
use uuid::Uuid;

/// How many jobs one worker moves at once.
pub const COHORT_LIMIT: usize = 256;

/// Jobs grouped by where they stand, oldest group first.
fn by_position(jobs: Vec<JobRow>) -> Vec<(JobPosition, Vec<JobRow>)> {
    let mut groups: Vec<(JobPosition, Vec<JobRow>)> = Vec::new();
    for job in jobs {
        match groups.iter_mut().find(|(position, _)| *position == job.position) {
            Some((_, members)) => members.push(job),
            None => groups.push((job.position, vec![job])),
        }
    }
    groups
}

impl Control {
    /// Runs jobs until `shutdown` resolves. Newly queued jobs are claimed as soon as a nudge
    /// arrives (or within a short poll interval), even while earlier cohorts are mid-way, so a
    /// single create never waits behind a long boot; each cohort holds its jobs under its own
    /// lease name, so a claim never takes a job that another cohort of this worker is running.
    ///
    /// Each cohort runs as a task of its own. (They were futures of this loop's task, polled only
    /// between claims: a cohort holding the database's write turn then stood still while the
    /// next claim waited for that turn, until the wait timed out. The load benchmark found it:
    /// creates took 5–10 s and some failed.)
    pub async fn worker_run(&self, owner: String, shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut shutdown = shutdown;
        let mut running = tokio::task::JoinSet::new();
        let mut in_flight = 0usize;
        let mut cohorts = 0u64;
        loop {
            if *shutdown.borrow() {
                return;
            }
            while in_flight < COHORT_LIMIT {
                cohorts += 1;
                // Ends with '#' so that releasing this cohort's leases by prefix never touches
                // cohort 10 when cohort 1 stops.
                let name = format!("{owner}#{cohorts}#");
                let claimed = match self
                    .store
                    .job_claim_many(&name, self.lease_ms, COHORT_LIMIT - in_flight)
                    .await
                {
                    Ok(claimed) => claimed,
                    Err(error) => {
                        tracing::warn!(error.detail = %error, worker = %owner, "job claim failed");
                        break;
                    }
                };
                if claimed.is_empty() {
                    break;
                }
                in_flight += claimed.len();
                let control = self.clone();
                running.spawn(async move {
                    let count = claimed.len();
                    if let Err(error) = control.cohorts_run(claimed, &name).await {
                        tracing::warn!(error.detail = ?error, worker = %name, "job worker error");
                        // A database hiccup (a deadlock on PostgreSQL, a write turn that timed
                        // out) must not strand the cohort's jobs until their leases lapse: hand
                        // them back now. Every step is idempotent, so whoever takes them resumes.
                        // Only a transient one, though: a fault that recurs would be retried at once,
                        // in a tight loop; its jobs wait for their leases to lapse instead.
                        if error.is_transient() {
                            match control.store.job_leases_release(&name).await {
                                Ok(_) => control.jobs_queued.notify_one(),
                                Err(error) => tracing::warn!(error.detail = %error, worker = %name, "leases not released; they lapse instead"),
                            }
                        }
                    }
                    count
                });
            }
            tokio::select! {
                Some(done) = running.join_next() => match done {
                    Ok(count) => in_flight -= count,
                    Err(error) => {
                        // A panicked cohort: its jobs' leases lapse and another claim takes them.
                        tracing::error!(error.detail = %error, worker = %owner, "a cohort task ended abnormally");
                        in_flight = running.len();
                    }
                },
                () = self.jobs_queued.notified() => {}
                () = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Runs jobs in this task until none is runnable (tests, benchmarks and the invariant
    /// checker use it). Returns how many jobs were claimed.
    pub async fn job_drain(&self, owner: &str) -> Result<usize, Error> {
        let mut ran = 0;
        loop {
            let claimed = self
                .store
                .job_claim_many(owner, self.lease_ms, COHORT_LIMIT)
                .await?;
            if claimed.is_empty() {
                return Ok(ran);
            }
            ran += claimed.len();
            self.cohorts_run(claimed, owner).await?;
        }
    }

    /// Runs claimed jobs to their end: one cohort per position, side by side.
    async fn cohorts_run(&self, claimed: Vec<JobRow>, owner: &str) -> Result<(), Error> {
        let claimed = self.jobs_past_their_claims(claimed, owner).await?;
        let runs = by_position(claimed)
            .into_iter()
            .map(|(position, jobs)| self.cohort_run(jobs, owner, position));
        join_all(runs).await.into_iter().collect()
    }

    /// Moves a cohort, all at `position`, step by step to the end. Members that leave the cohort
    /// (a failed step, a lost race) finish alone afterwards.
    async fn cohort_run(&self, jobs: Vec<JobRow>, owner: &str, position: JobPosition) -> Result<(), Error> {
        let mut jobs = jobs;
        let mut position = position;
        let mut alone = Vec::new();
        if position.state == JobState::Queued {
            if !self.jobs_start(&jobs, owner, position).await? {
                // Some lease was lost: start each alone; the lost ones are skipped there.
                alone.extend(jobs.drain(..).map(|job| (job, position)));
            }
            position.state = JobState::Running;
        }
        while !jobs.is_empty() {
            // Database-only steps take no driver time, so the heartbeat inside a step never runs
            // for them: renew between steps too (one statement per wave), let go of any member
            // whose lease was lost, and hand an admin's cancel to the member's own run.
            {
                let ids: Vec<Uuid> = jobs.iter().map(|job| job.id).collect();
                let held = self.store.job_renew_many(&ids, owner, self.lease_ms).await?;
                // A member an admin cancelled leaves the cohort: alone, it unwinds from here.
                let mut kept = Vec::with_capacity(jobs.len());
                for job in jobs.drain(..) {
                    match held.iter().find(|(id, _)| *id == job.id) {
                        Some((_, false)) => kept.push(job),
                        Some((_, true)) => alone.push((job, position)),
                        None => {}
                    }
                }
                jobs = kept;
                if jobs.is_empty() {
                    break;
                }
            }
            let (step, undo) = match position.next() {
                NextAction::Finish(state) => {
                    if !self.jobs_finish(&jobs, owner, position, state).await? {
                        alone.extend(jobs.drain(..).map(|job| (job, position)));
                    }
                    break;
                }
                NextAction::Do(step) => (step, false),
                NextAction::Undo(step) => (step, true),
            };
            if jobs.len() == 1 {
                alone.extend(jobs.drain(..).map(|job| (job, position)));
                break;
            }
            let (stayed, left) = self.cohort_step(jobs, owner, position, step, undo).await?;
            alone.extend(left);
            jobs = stayed;
            position = if undo {
                position.undo_done()
            } else {
                position.step_done()
            }
            .map_err(Error::internal)?;
        }
        let leftovers = alone.into_iter().map(|(mut job, at)| {
            job.position = at;
            self.job_execute(job, owner)
        });
        join_all(leftovers).await.into_iter().collect()
    }

    /// One step (or undo) for every member of a cohort. Returns the members that did it
    /// together, and those that must go on alone from the position they are at.
    async fn cohort_step(
        &self,
        jobs: Vec<JobRow>,
        owner: &str,
        position: JobPosition,
        step: Step,
        undo: bool,
    ) -> Result<(Vec<JobRow>, Vec<(JobRow, JobPosition)>), Error> {
        let targets: Vec<String> = jobs.iter().map(|job| job.target_id.to_string()).collect();
        let vms: HashMap<String, VmRow> = self
            .store
            .vm_by_ids(&targets)
            .await?
            .into_iter()
            .map(|vm| (vm.id.clone(), vm))
            .collect();
        // The driver's part for every member at once, renewing the cohort's leases meanwhile.
        let work = join_all(jobs.iter().map(|job| async {
            let vm = vms
                .get(&job.target_id.to_string())
                .ok_or_else(|| StepError::Failed("The VM no longer exists.".into()))?;
            let spec = super::vm_spec(vm)?;
            self.driver.before_step(step, undo, &spec).await?;
            self.step_backend(job, step, undo, vm, &spec).await
        }));
        let ids: Vec<Uuid> = jobs.iter().map(|job| job.id).collect();
        let heartbeat = async {
            let every = Duration::from_millis(u64::try_from(self.lease_ms / 3).unwrap_or(1000).max(10));
            loop {
                tokio::time::sleep(every).await;
                if let Err(error) = self.store.job_renew_many(&ids, owner, self.lease_ms).await {
                    tracing::warn!(error.detail = %error, "lease renewal failed");
                }
            }
        };
        let outcomes = tokio::select! {
            outcomes = work => outcomes,
            never = heartbeat => never,
        };
        let mut together = Vec::with_capacity(jobs.len());
        let mut alone = Vec::new();
        for (job, outcome) in jobs.into_iter().zip(outcomes) {
            match outcome {
                Ok(()) => together.push(job),
                Err(StepError::Failed(message)) if !undo && !super::step::rolls_forward_only(position) => {
                    let next = self.job_fail(&job, owner, position, step, &message).await?;
                    alone.push((job, next));
                }
                // A failed undo, a lost race or a database hiccup: the one-job path retries it
                // (or leaves it for the lease to lapse) as it would for any job.
                Err(_) => alone.push((job, position)),
            }
        }
        if together.is_empty() {
            return Ok((together, alone));
        }
        match self.cohort_record(&together, owner, position, step, undo).await {
            Ok(events) => {
                events.into_iter().for_each(|event| self.publish(event));
                Ok((together, alone))
            }
            Err(reason) => {
                tracing::debug!(job.step = %step, reason = ?reason, "cohort step rolled back; members go on alone");
                alone.extend(together.into_iter().map(|job| (job, position)));
                Ok((Vec::new(), alone))
            }
        }
    }

    /// The database part of a cohort's step, the jobs' advance and their events: one transaction.
    async fn cohort_record(
        &self,
        jobs: &[JobRow],
        owner: &str,
        position: JobPosition,
        step: Step,
        undo: bool,
    ) -> Result<Vec<JobEvent>, StepError> {
        let mut tx = self.store.begin_write().await?;
        let targets: Vec<String> = jobs.iter().map(|job| job.target_id.to_string()).collect();
        let mut vms: HashMap<String, VmRow> = Store::vm_by_ids_tx(&mut tx, &targets)
            .await?
            .into_iter()
            .map(|vm| (vm.id.clone(), vm))
            .collect();
        let mut ordered = Vec::with_capacity(jobs.len());
        for target in &targets {
            let vm = vms
                .remove(target)
                .ok_or_else(|| StepError::Failed("The VM no longer exists.".into()))?;
            ordered.push(vm);
        }
        // The database effects of a create's steps have forms for many VMs at once; any other
        // runs member by member inside this transaction (so does every undo: a destroy's undo
        // may be a no-op for some members, which the one-member form decides).
        match effect(step, undo).database {
            Database::HostPlace if !undo && ordered.iter().all(|vm| vm.host_id.is_none()) => {
                self.place_many(&mut tx, &ordered).await?;
            }
            Database::IpAllocate if !undo && ordered.iter().all(|vm| vm.private_ip.is_none()) => {
                self.private_ips_allocate(&mut tx, &ordered).await?;
            }
            Database::MarkRunning if !undo && position.kind == JobKind::VmCreate => {
                let since = crate::metering::whole_second(crate::store::now_ms());
                if !Store::vm_mark_running_fresh(&mut tx, &targets, since).await? {
                    return Err(StepError::Retry("a VM was metered already".into()));
                }
            }
            _ => {
                for (job, vm) in jobs.iter().zip(&ordered) {
                    self.step_database(&mut tx, job, step, undo, vm).await?;
                }
            }
        }
        let ids: Vec<Uuid> = jobs.iter().map(|job| job.id).collect();
        let (_, events) = super::runner::steps_record(&mut tx, &ids, owner, position, step, undo).await?;
        tx.commit().await?;
        Ok(events)
    }
}
