//! The job runner: claims persisted jobs and drives their steps forward, or unwinds them.
//!
//! Every step is idempotent and has an undo. After a step's effect, the job's position advances
//! in the same transaction as the step's database changes (driver calls, which are idempotent,
//! happen just before), so a worker killed at any instant leaves a job that the next worker
//! resumes exactly where it stopped: re-running a step whose effect is already there is a no-op.

mod view;
pub(crate) use view::job_with_steps;
mod wave;

pub use wave::COHORT_LIMIT;

use crate::driver::{DriverError, VmSpec};
use crate::store::host::Reservation;
use crate::store::job::{JobEvent, JobRow};
use crate::store::vm::VmRow;
use crate::store::{Store, is_unique_violation, now_ms};
use crate::{Control, Error};
use meridian_core::id::{HostId, TenantId, VmId};
use meridian_core::ipam::{self, Cidr, DEFAULT_SUBNET_PREFIX_LEN, DEFAULT_SUPERNET};
use meridian_core::job::{JobKind, JobPosition, JobState, NextAction, Step};
use meridian_core::placement::{
    self, Host, Inventory, PlacementRequest, Resources, Strategy, VmRequest, ZoneSpread,
};
use meridian_core::resource::{QuotaUsage, VmState};
use meridian_core::zone::ZoneId;
use rand::SeedableRng;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::Duration;
use uuid::Uuid;

/// The default claim length: a worker that dies loses its jobs this long after.
pub const LEASE_MS: i64 = 5_000;

/// Why a step did not complete.
#[derive(Debug)]
pub(crate) enum StepError {
    /// The step cannot succeed: unwind, and tell the user this.
    Failed(String),
    /// The worker lost its lease (another worker took over); stop touching the job.
    LeaseLost,
    /// A concurrent step took what this one chose (an address, a host's last room): the
    /// transaction rolled back, so run the step again.
    Retry(String),
    /// A fault on our side (database); retry later.
    Internal(Error),
}

impl From<sqlx::Error> for StepError {
    fn from(error: sqlx::Error) -> Self {
        // A UNIQUE backstop firing means another transaction won a race for the same address or
        // subnet; PostgreSQL may also ask for a retry of a conflicting transaction.
        let conflict = match &error {
            sqlx::Error::Database(db) => {
                db.is_unique_violation() || matches!(db.code().as_deref(), Some("40001" | "40P01"))
            }
            _ => false,
        };
        if conflict {
            StepError::Retry(error.to_string())
        } else {
            StepError::Internal(error.into())
        }
    }
}

/// How often a step that lost a race is tried again before the job gives up on it.
const STEP_RETRIES: u32 = 8;

/// How many failed undos a job survives. An undo that keeps failing (the backend refuses to put
/// back what the job took away) would otherwise be retried every lease, forever.
const UNDO_ATTEMPTS: i64 = 3;

/// How many times a job may be claimed before it is ended for good. A healthy job is claimed once,
/// and again after each crash or lost lease; a fault on our side that recurs at every try (a
/// database constraint a step keeps breaking) would otherwise be retried for ever.
const MAX_CLAIMS: i64 = 25;

/// Whether a job, standing at `position`, only goes forward: a destroy whose disk is deleted
/// cannot be put back (undoing would boot a VM with a blank disk), so a failure from there on is
/// tried again rather than unwound (and [`MAX_CLAIMS`] still ends it).
pub(crate) fn rolls_forward_only(position: JobPosition) -> bool {
    position.kind == JobKind::VmDestroy
        && position.state == JobState::Running
        && JobKind::VmDestroy
            .steps()
            .iter()
            .position(|step| *step == Step::DeleteDisk)
            .is_some_and(|disk| position.step > disk)
}

impl From<Error> for StepError {
    fn from(error: Error) -> Self {
        StepError::Internal(error)
    }
}

impl From<DriverError> for StepError {
    fn from(error: DriverError) -> Self {
        metrics::counter!("meridian_driver_errors_total", "transient" => if error.transient { "true" } else { "false" })
            .increment(1);
        if error.transient {
            StepError::Retry(error.message)
        } else {
            StepError::Failed(error.message)
        }
    }
}

fn parse_uuid(text: &str) -> Result<Uuid, StepError> {
    text.parse()
        .map_err(|e| StepError::Internal(Error::internal(format_args!("stored id {text:?}: {e}"))))
}

fn zone_of(vm: &VmRow) -> Result<ZoneId, StepError> {
    ZoneId::parse(&vm.zone).map_err(|e| StepError::Internal(Error::internal(e)))
}

/// What a VM row means to the driver.
pub(crate) fn vm_spec(vm: &VmRow) -> Result<VmSpec, Error> {
    let bad =
        |what: &str, e: &dyn std::fmt::Display| Error::internal(format_args!("vm {} {what}: {e}", vm.id));
    Ok(VmSpec {
        id: vm.id.parse().map_err(|e| bad("id", &e))?,
        name: vm.name.clone(),
        zone: ZoneId::parse(&vm.zone).map_err(|e| bad("zone", &e))?,
        host: vm
            .host_id
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e| bad("host", &e))?,
        // The driver boots an image: a built-in template's slug names it.
        template: vm.image.clone(),
        vcpus: u32::try_from(vm.vcpus).unwrap_or(0),
        memory_mib: u64::try_from(vm.memory_mib).unwrap_or(0),
        disk_gib: u64::try_from(vm.disk_gib).unwrap_or(0),
        private_ip: vm
            .private_ip
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e| bad("private ip", &e))?,
        public_ip: vm
            .public_ip
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e| bad("public ip", &e))?,
        ssh_keys: vm.ssh_keys.split_whitespace().map(str::to_owned).collect(),
        user_data: vm.user_data.clone(),
    })
}

/// What a VM takes from its tenant's quota.
pub(crate) fn vm_quota(vm: &VmRow) -> QuotaUsage {
    QuotaUsage {
        vms: 1,
        vcpus: u32::try_from(vm.vcpus).unwrap_or(u32::MAX),
        memory_mib: u64::try_from(vm.memory_mib).unwrap_or(u64::MAX),
        public_ips: u32::from(vm.breakout),
    }
}

fn reservation(vm: &VmRow) -> Reservation {
    Reservation {
        vcpus: vm.vcpus,
        memory_mib: vm.memory_mib,
        disk_gib: vm.disk_gib,
    }
}

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

    async fn job_execute(&self, job: JobRow, owner: &str) -> Result<(), Error> {
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
        if position.kind == JobKind::VmCreate {
            let vms: Vec<String> = jobs.iter().map(|job| job.target_id.to_string()).collect();
            Store::vm_set_state_many(&mut tx, &vms, VmState::Provisioning.as_str()).await?;
        }
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
            self.meter_stop(&mut tx, &vm).await?;
            // A resize that stopped half-way holds room for the larger size: give the growth
            // back, so that what the VM holds is its size alone and a destroy releases it all.
            if let Some(new) = vm.pending_size.as_deref().and_then(parse_size_key) {
                let current = (vm.vcpus, vm.memory_mib, vm.disk_gib);
                let grow = growth(current, new);
                Store::quota_release(&mut tx, &vm.tenant_id, &as_quota(grow)).await?;
                if let Some(host) = vm.host_id.as_deref() {
                    let host = host.parse().map_err(Error::internal)?;
                    Store::host_release(&mut tx, host, as_reservation(grow)).await?;
                }
                Store::vm_set_size(&mut tx, &vm.id, current, None).await?;
            }
            Store::vm_set_state(&mut tx, &vm.id, VmState::Failed.as_str()).await?;
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

    async fn job_fail(
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
            if state != JobState::Succeeded && position.kind == JobKind::VmCreate {
                let vms: Vec<String> = jobs
                    .iter()
                    .filter(|job| ids.contains(&job.id))
                    .map(|job| job.target_id.to_string())
                    .collect();
                Store::vm_set_state_many(&mut tx, &vms, VmState::Failed.as_str()).await?;
            }
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

    fn publish(&self, event: JobEvent) {
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
        let work = self.step_external(job, step, undo, &vm, &spec);
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
        let next = if undo {
            position.undo_done()
        } else {
            position.step_done()
        }
        .map_err(|e| StepError::Internal(Error::internal(e)))?;
        if !Store::job_advance(&mut tx, job.id, owner, next, None).await? {
            return Err(StepError::LeaseLost);
        }
        let (status, verb) = if undo {
            ("undone", "Undid")
        } else {
            ("done", "Done")
        };
        let event = Store::job_event_insert(
            &mut tx,
            job.id,
            step.as_str(),
            status,
            &format!("{verb}: {}", step.label()),
        )
        .await?;
        tx.commit().await?;
        self.publish(event);
        Ok(next)
    }

    /// Whether undoing `step` of `job` would give the VM something it did not have before the
    /// job: a destroy undone puts back only what the VM held when it began (a failed VM held no
    /// host, address, disk or port; a stopped one was not powered). Such an undo is a no-op.
    async fn undo_restores_nothing(&self, job: &JobRow, step: Step, undo: bool) -> Result<bool, StepError> {
        if !undo || job.position.kind != JobKind::VmDestroy {
            return Ok(false);
        }
        let before = job
            .params
            .as_deref()
            .and_then(|state| VmState::parse(state).ok())
            .unwrap_or(VmState::Stopped);
        let held = matches!(before, VmState::Running | VmState::Stopped);
        Ok(match step {
            Step::PowerOff => before != VmState::Running,
            Step::ReleaseBreakout
            | Step::DetachNetwork
            | Step::DeleteDisk
            | Step::ReleaseIp
            | Step::ReleaseHost
            | Step::ReleaseQuota => !held,
            _ => false,
        })
    }

    /// The driver part of a step.
    pub(crate) async fn step_external(
        &self,
        job: &JobRow,
        step: Step,
        undo: bool,
        vm: &VmRow,
        spec: &VmSpec,
    ) -> Result<(), StepError> {
        if self.undo_restores_nothing(job, step, undo).await? {
            return Ok(());
        }
        let driver = &self.driver;
        match (step, undo) {
            (Step::CreateDisk, false) | (Step::DeleteDisk, true) => driver.disk_create(spec).await?,
            (Step::CreateDisk, true) | (Step::DeleteDisk, false) => driver.disk_delete(spec).await?,
            (Step::Boot | Step::PowerOn, false) | (Step::PowerOff, true) => driver.vm_boot(spec).await?,
            (Step::Boot | Step::PowerOn, true) | (Step::PowerOff, false) => driver.vm_power_off(spec).await?,
            (Step::Reboot, false) => driver.vm_reboot(spec).await?,
            (Step::ResizeDisk, false) => {
                let new = vm
                    .pending_size
                    .as_deref()
                    .and_then(parse_size_key)
                    .map_or(vm.disk_gib, |s| s.2);
                driver.disk_resize(spec, u64::try_from(new).unwrap_or(0)).await?;
            }
            // Only a VM with an address was (or can be) on its network.
            (Step::AttachNetwork, false) | (Step::DetachNetwork, true) if vm.private_ip.is_some() => {
                driver.network_attach(spec).await?
            }
            (Step::AttachNetwork, true) | (Step::DetachNetwork, false) => driver.network_detach(spec).await?,
            (Step::Breakout, false) | (Step::ReleaseBreakout, true) if vm.breakout => {
                let spec = self.public_ip_ensure(vm).await?;
                if let Err(error) = driver.breakout_attach(&spec).await {
                    // Failed half-way: the address is already taken. A failed step is not undone,
                    // so give it back here, or the unwind would leave it held.
                    if let Err(detach) = driver.breakout_detach(&spec).await {
                        tracing::warn!(vm.id = %vm.id, error = ?detach, "detaching a half-opened breakout failed");
                    }
                    let mut tx = self.store.begin_write().await?;
                    Store::vm_set_public_ip(&mut tx, &vm.id, None).await?;
                    tx.commit().await?;
                    return Err(error.into());
                }
            }
            (Step::Breakout, true) | (Step::ReleaseBreakout, false) if vm.public_ip.is_some() => {
                driver.breakout_detach(spec).await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// The database part of a step, inside the transaction that also advances the job.
    async fn step_database(
        &self,
        tx: &mut crate::store::Tx,
        job: &JobRow,
        step: Step,
        undo: bool,
        vm: &VmRow,
    ) -> Result<(), StepError> {
        let set_state = |state: VmState| state.as_str();
        if self.undo_restores_nothing(job, step, undo).await? {
            return Ok(());
        }
        if matches!(step, Step::ResizeReserve | Step::ResizeApply) {
            return self.resize_step(tx, job, step, undo, vm).await;
        }
        match (step, undo) {
            (Step::ReserveQuota, false) | (Step::ReleaseQuota, true) if !vm.quota_reserved => {
                let enforce = step == Step::ReserveQuota;
                if !Store::quota_reserve(tx, &vm.tenant_id, &vm_quota(vm), enforce).await? {
                    return Err(StepError::Failed(
                        "The tenant's quota has no room for this VM.".into(),
                    ));
                }
                Store::vm_set_quota_reserved(tx, &vm.id, true).await?;
            }
            (Step::ReserveQuota, true) | (Step::ReleaseQuota, false) if vm.quota_reserved => {
                Store::quota_release(tx, &vm.tenant_id, &vm_quota(vm)).await?;
                Store::vm_set_quota_reserved(tx, &vm.id, false).await?;
            }
            (Step::Place, false) | (Step::ReleaseHost, true) if vm.host_id.is_none() => {
                self.place_many(tx, std::slice::from_ref(vm)).await?
            }
            (Step::Place, true) | (Step::ReleaseHost, false) => {
                if let Some(host) = &vm.host_id {
                    let host_id = parse_uuid(host)?;
                    Store::host_release(tx, host_id, reservation(vm)).await?;
                    Store::vm_set_host(tx, &vm.id, None).await?;
                    if vm.dedicated {
                        self.host_undedicate_if_empty(tx, vm, host).await?;
                    }
                }
            }
            (Step::AllocateIp, false) | (Step::ReleaseIp, true) if vm.private_ip.is_none() => {
                self.private_ips_allocate(tx, std::slice::from_ref(vm)).await?
            }
            (Step::AllocateIp, true) | (Step::ReleaseIp, false) => {
                Store::vm_set_private_ip(tx, &vm.id, None).await?
            }
            (Step::Breakout, true) | (Step::ReleaseBreakout, false) => {
                Store::vm_set_public_ip(tx, &vm.id, None).await?
            }
            (Step::SetBreakout, _) => {
                let open = (job.position.kind == JobKind::VmBreakoutOpen) != undo;
                if vm.breakout != open {
                    if vm.quota_reserved {
                        let address = QuotaUsage {
                            vms: 0,
                            vcpus: 0,
                            memory_mib: 0,
                            public_ips: 1,
                        };
                        if !open {
                            Store::quota_release(tx, &vm.tenant_id, &address).await?;
                        } else if !Store::quota_reserve(tx, &vm.tenant_id, &address, !undo).await? {
                            return Err(StepError::Failed(
                                "The tenant's quota has no room for another public address.".into(),
                            ));
                        }
                    }
                    Store::vm_set_breakout(tx, &vm.id, open).await?;
                }
            }
            // Every state change meters the time since the last one against the state that ends.
            (Step::MarkRunning, false) | (Step::MarkStopped, true) => {
                self.meter_vm(tx, vm, now_ms()).await?;
                Control::meter_start(tx, vm).await?;
                Store::vm_set_state(tx, &vm.id, set_state(VmState::Running)).await?;
            }
            (Step::MarkRunning, true) => {
                if job.position.kind == JobKind::VmCreate {
                    self.meter_stop(tx, vm).await?;
                    Store::vm_set_state(tx, &vm.id, set_state(VmState::Provisioning)).await?;
                } else {
                    self.meter_vm(tx, vm, now_ms()).await?;
                    Store::vm_set_state(tx, &vm.id, set_state(VmState::Stopped)).await?;
                }
            }
            (Step::MarkStopped, false) => {
                self.meter_vm(tx, vm, now_ms()).await?;
                Store::vm_set_state(tx, &vm.id, set_state(VmState::Stopped)).await?;
            }
            (Step::MarkDestroying, false) => {
                self.meter_stop(tx, vm).await?;
                Store::vm_set_state(tx, &vm.id, set_state(VmState::Destroying)).await?;
            }
            (Step::MarkDestroyed, true) => {
                Store::vm_set_state(tx, &vm.id, set_state(VmState::Destroying)).await?
            }
            (Step::MarkDestroying, true) => {
                let previous = job
                    .params
                    .clone()
                    .unwrap_or_else(|| VmState::Stopped.as_str().to_owned());
                Store::vm_set_state(tx, &vm.id, &previous).await?;
                // Billing resumes only for a VM that holds something again.
                if matches!(previous.as_str(), "running" | "stopped") {
                    Control::meter_start(tx, vm).await?;
                }
            }
            (Step::MarkDestroyed, false) => {
                Store::vm_set_state(tx, &vm.id, set_state(VmState::Destroyed)).await?
            }
            _ => {}
        }
        Ok(())
    }

    /// Places VMs on hosts of their zones and reserves the capacity: each tenant's VMs as one
    /// placement request (so members of an anti-affinity group land on distinct hosts), all or none.
    pub(crate) async fn place_many(&self, tx: &mut crate::store::Tx, vms: &[VmRow]) -> Result<(), StepError> {
        let zones: BTreeSet<&str> = vms.iter().map(|vm| vm.zone.as_str()).collect();
        let mut hosts = Vec::new();
        for zone in zones {
            hosts.extend(self.zone_hosts(tx, zone).await?);
        }
        let mut inventory = Inventory::new(hosts).map_err(|e| StepError::Internal(Error::internal(e)))?;
        let mut by_tenant: BTreeMap<&str, Vec<&VmRow>> = BTreeMap::new();
        for vm in vms {
            by_tenant.entry(vm.tenant_id.as_str()).or_default().push(vm);
        }
        let to_u32 = |v: i64| u32::try_from(v).unwrap_or(0);
        let to_u64 = |v: i64| u64::try_from(v).unwrap_or(0);
        let mut assignments = Vec::with_capacity(vms.len());
        for (tenant_id, tenant_vms) in by_tenant {
            let mut requests = Vec::with_capacity(tenant_vms.len());
            for vm in &tenant_vms {
                requests.push(VmRequest {
                    vm: VmId(parse_uuid(&vm.id)?),
                    name: vm.name.clone(),
                    size: Resources {
                        vcpus: to_u32(vm.vcpus),
                        memory_mib: to_u64(vm.memory_mib),
                        disk_gib: to_u64(vm.disk_gib),
                    },
                    zones: vec![zone_of(vm)?],
                    anti_affinity: vm.affinity_group.clone(),
                    dedicated: vm.dedicated,
                });
            }
            // Seeded by the first VM's id: the same VMs are proposed the same hosts if the step
            // re-runs.
            let seed = requests.first().map_or(0, |r| r.vm.0.as_u64_pair().0);
            let request = PlacementRequest {
                tenant: TenantId(parse_uuid(tenant_id)?),
                residency: match Self::residency_tx(tx, tenant_id).await {
                    Err(Error::NotFound) => {
                        return Err(StepError::Failed("The tenant no longer exists.".into()));
                    }
                    other => other.map_err(StepError::Internal)?,
                },
                vms: requests,
                zone_spread: ZoneSpread::Off,
            };
            // Members of an anti-affinity group placed earlier already hold hosts: the group's
            // new members must avoid those too, not only each other.
            let groups: BTreeSet<&str> = tenant_vms
                .iter()
                .filter_map(|vm| vm.affinity_group.as_deref())
                .collect();
            let taken = Store::vm_group_hosts(tx, tenant_id, &groups).await?;
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let placed = if taken.is_empty() {
                placement::place(&request, &inventory, Strategy::Spread, &mut rng)
            } else {
                let open = Inventory::new(
                    inventory
                        .hosts()
                        .iter()
                        .filter(|host| !taken.contains(&host.id.0.to_string()))
                        .cloned()
                        .collect(),
                )
                .map_err(|e| StepError::Internal(Error::internal(e)))?;
                placement::place(&request, &open, Strategy::Spread, &mut rng)
            }
            .map_err(|e| StepError::Failed(e.to_string()))?;
            inventory
                .apply(&placed)
                .map_err(|e| StepError::Internal(Error::internal(e)))?;
            for (assignment, vm) in placed.assignments.into_iter().zip(tenant_vms) {
                assignments.push((assignment, vm));
            }
        }
        let mut per_host: BTreeMap<Uuid, Reservation> = BTreeMap::new();
        for (assignment, vm) in &assignments {
            let sum = per_host.entry(assignment.host.0).or_insert(Reservation {
                vcpus: 0,
                memory_mib: 0,
                disk_gib: 0,
            });
            sum.vcpus += vm.vcpus;
            sum.memory_mib += vm.memory_mib;
            sum.disk_gib += vm.disk_gib;
        }
        for (host, need) in per_host {
            if !Store::host_reserve(tx, host, need).await? {
                return Err(StepError::Failed(
                    "The chosen host filled up meanwhile; try again.".into(),
                ));
            }
        }
        let mut dedicated = BTreeMap::new();
        for (assignment, vm) in &assignments {
            if assignment.dedicated {
                dedicated.insert(assignment.host.0, vm.tenant_id.as_str());
            }
        }
        for (host, tenant) in dedicated {
            Store::host_set_dedicated(tx, host, Some(tenant)).await?;
        }
        let hosts: Vec<(String, Option<String>)> = assignments
            .iter()
            .map(|(assignment, vm)| (vm.id.clone(), Some(assignment.host.0.to_string())))
            .collect();
        Store::vm_set_host_many(tx, &hosts).await?;
        Ok(())
    }

    /// The hosts of a zone as placement sees them: capacity, dedication and who is on each. The
    /// hosts are read (and, on PostgreSQL, locked) first, so the tenancy read after is current.
    async fn zone_hosts(&self, tx: &mut crate::store::Tx, zone_id: &str) -> Result<Vec<Host>, StepError> {
        let zone = ZoneId::parse(zone_id).map_err(|e| StepError::Internal(Error::internal(e)))?;
        let host_rows = self.store.host_list_zone(tx, zone_id).await?;
        let mut tenancy: BTreeMap<String, (BTreeMap<TenantId, u32>, u32)> = BTreeMap::new();
        for (host, tenant_id, count, dedicated) in Store::vm_host_tenancy(tx, zone_id).await? {
            let entry = tenancy.entry(host).or_default();
            entry.0.insert(
                TenantId(parse_uuid(&tenant_id)?),
                u32::try_from(count).unwrap_or(u32::MAX),
            );
            entry.1 += u32::try_from(dedicated).unwrap_or(0);
        }
        let to_u32 = |v: i64| u32::try_from(v).unwrap_or(0);
        let to_u64 = |v: i64| u64::try_from(v).unwrap_or(0);
        let mut hosts = Vec::with_capacity(host_rows.len());
        for row in host_rows {
            let (tenants_present, dedicated_vms) = tenancy.remove(&row.id.to_string()).unwrap_or_default();
            hosts.push(Host {
                id: HostId(row.id),
                zone,
                vcpus_total: to_u32(row.vcpus_total),
                vcpus_used: to_u32(row.vcpus_used),
                memory_mib_total: to_u64(row.memory_mib_total),
                memory_mib_used: to_u64(row.memory_mib_used),
                disk_gib_total: to_u64(row.disk_gib_total),
                disk_gib_used: to_u64(row.disk_gib_used),
                dedicated_to: row
                    .dedicated_tenant
                    .as_deref()
                    .map(parse_uuid)
                    .transpose()?
                    .map(TenantId),
                dedicated_vms,
                tenants_present,
            });
        }
        Ok(hosts)
    }

    /// A dedicated host goes back to the shared pool when its last dedicated VM leaves.
    async fn host_undedicate_if_empty(
        &self,
        tx: &mut crate::store::Tx,
        vm: &VmRow,
        host: &str,
    ) -> Result<(), StepError> {
        let remaining: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM vms WHERE host_id = $1 AND dedicated = 1 AND id <> $2")
                .bind(host)
                .bind(&vm.id)
                .fetch_one(&mut **tx)
                .await?;
        if remaining == 0 {
            Store::host_set_dedicated(tx, parse_uuid(host)?, None).await?;
        }
        Ok(())
    }

    /// Gives each VM the lowest free address in its zone's subnet of its tenant's network,
    /// creating the subnet on the tenant's first use of the zone, and records the addresses.
    pub(crate) async fn private_ips_allocate(
        &self,
        tx: &mut crate::store::Tx,
        vms: &[VmRow],
    ) -> Result<(), StepError> {
        let mut by_network: BTreeMap<(&str, &str), Vec<&VmRow>> = BTreeMap::new();
        for vm in vms {
            by_network
                .entry((vm.tenant_id.as_str(), vm.zone.as_str()))
                .or_default()
                .push(vm);
        }
        let mut subnets: BTreeMap<&str, Vec<(String, String)>> = BTreeMap::new();
        let mut chosen = Vec::with_capacity(vms.len());
        for ((tenant, zone), members) in by_network {
            if !subnets.contains_key(tenant) {
                subnets.insert(tenant, Store::subnet_list_tx(tx, tenant).await?);
            }
            let tenant_subnets = subnets
                .get_mut(tenant)
                .ok_or_else(|| StepError::Internal(Error::internal("subnets")))?;
            let subnet = match tenant_subnets.iter().find(|(z, _)| z == zone) {
                Some((_, cidr)) => Cidr::parse(cidr).map_err(|e| StepError::Internal(Error::internal(e)))?,
                None => {
                    let taken: BTreeSet<Cidr> = tenant_subnets
                        .iter()
                        .filter_map(|(_, cidr)| Cidr::parse(cidr).ok())
                        .collect();
                    let cidr = ipam::allocate_subnet(DEFAULT_SUPERNET, DEFAULT_SUBNET_PREFIX_LEN, &taken)
                        .map_err(|e| StepError::Failed(e.to_string()))?;
                    Store::subnet_insert(tx, tenant, zone, &cidr.to_string(), now_ms()).await?;
                    tenant_subnets.push((zone.to_owned(), cidr.to_string()));
                    cidr
                }
            };
            let mut taken: BTreeSet<Ipv4Addr> = Store::vm_private_ips_in_zone(tx, tenant, zone)
                .await?
                .iter()
                .filter_map(|ip| ip.parse().ok())
                .collect();
            for vm in members {
                let ip =
                    ipam::allocate_address(subnet, &taken).map_err(|e| StepError::Failed(e.to_string()))?;
                taken.insert(ip);
                chosen.push((vm.id.clone(), Some(ip.to_string())));
            }
        }
        Store::vm_set_private_ip_many(tx, &chosen).await?;
        Ok(())
    }

    /// Gives a breakout VM a public address if it has none (its own transaction: the driver needs
    /// the address before it can route it) and returns the VM as the driver should see it.
    async fn public_ip_ensure(&self, vm: &VmRow) -> Result<VmSpec, StepError> {
        if vm.public_ip.is_some() {
            return Ok(vm_spec(vm)?);
        }
        let zone = zone_of(vm)?;
        for _attempt in 0..3 {
            let mut tx = self.store.begin_write().await?;
            let held: BTreeSet<Ipv4Addr> = Store::vm_public_ips_in_zone(&mut tx, &vm.zone)
                .await?
                .iter()
                .filter_map(|ip| ip.parse().ok())
                .collect();
            let Some(ip) = self
                .driver
                .public_addresses(zone)
                .into_iter()
                .find(|ip| !held.contains(ip))
            else {
                return Err(StepError::Failed(format!("No public address is free in {zone}.")));
            };
            match Store::vm_set_public_ip(&mut tx, &vm.id, Some(&ip.to_string())).await {
                Err(error) if is_unique_violation(&error) => {
                    tracing::warn!(vm.id = %vm.id, ip = %ip, error.detail = %error, "public address taken meanwhile; choosing again");
                    continue;
                }
                other => other?,
            }
            tx.commit().await?;
            let mut spec = vm_spec(vm)?;
            spec.public_ip = Some(ip);
            return Ok(spec);
        }
        // Lost the race three times running: the step is retried as a whole (and fails the job
        // only if that keeps happening).
        Err(StepError::Retry(format!(
            "Could not reserve a public address in {zone}; try again."
        )))
    }
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

/// A size as stored in jobs and `pending_size`: "vcpus/memory_mib/disk_gib".
pub(crate) fn size_key(size: (i64, i64, i64)) -> String {
    format!("{}/{}/{}", size.0, size.1, size.2)
}

/// Parses [`size_key`]'s form.
pub(crate) fn parse_size_key(key: &str) -> Option<(i64, i64, i64)> {
    let mut parts = key.split('/').map(|p| p.parse::<i64>().ok());
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(Some(v)), Some(Some(m)), Some(Some(d)), None) => Some((v, m, d)),
        _ => None,
    }
}

/// What growing from `old` to `new` adds, per resource (shrinking parts count as zero).
fn growth(old: (i64, i64, i64), new: (i64, i64, i64)) -> (i64, i64, i64) {
    (
        (new.0 - old.0).max(0),
        (new.1 - old.1).max(0),
        (new.2 - old.2).max(0),
    )
}

fn as_quota(delta: (i64, i64, i64)) -> QuotaUsage {
    QuotaUsage {
        vms: 0,
        vcpus: u32::try_from(delta.0).unwrap_or(0),
        memory_mib: u64::try_from(delta.1).unwrap_or(0),
        public_ips: 0,
    }
}

fn as_reservation(delta: (i64, i64, i64)) -> Reservation {
    Reservation {
        vcpus: delta.0,
        memory_mib: delta.1,
        disk_gib: delta.2,
    }
}

impl Control {
    /// The sizes of a resize job: `(old, new)` from its parameter "old|new".
    async fn resize_sizes(&self, job: &JobRow) -> Result<((i64, i64, i64), (i64, i64, i64)), StepError> {
        let params = job.params.clone().unwrap_or_default();
        let (old, new) = params.split_once('|').unwrap_or_default();
        match (parse_size_key(old), parse_size_key(new)) {
            (Some(old), Some(new)) => Ok((old, new)),
            _ => Err(StepError::Internal(Error::internal(format_args!(
                "resize job {} params {params:?}",
                job.id
            )))),
        }
    }

    /// The database part of the resize steps. While a resize is pending the VM holds, for each
    /// resource, the larger of its old and new size: room is reserved before anything changes and
    /// released only once the new size is in place.
    async fn resize_step(
        &self,
        tx: &mut crate::store::Tx,
        job: &JobRow,
        step: Step,
        undo: bool,
        vm: &VmRow,
    ) -> Result<(), StepError> {
        let (old, new) = self.resize_sizes(job).await?;
        let current = (vm.vcpus, vm.memory_mib, vm.disk_gib);
        let host = vm.host_id.as_deref().map(parse_uuid).transpose()?;
        match (step, undo) {
            (Step::ResizeReserve, false) if vm.pending_size.is_none() => {
                let grow = growth(old, new);
                if !Store::quota_reserve(tx, &vm.tenant_id, &as_quota(grow), true).await? {
                    return Err(StepError::Failed(
                        "Your quota has no room for the larger size.".into(),
                    ));
                }
                if let Some(host) = host {
                    if !Store::host_reserve(tx, host, as_reservation(grow)).await? {
                        return Err(StepError::Failed(
                            "The VM's host has no room for the larger size.".into(),
                        ));
                    }
                }
                Store::vm_set_size(tx, &vm.id, current, Some(&size_key(new))).await?;
            }
            (Step::ResizeReserve, true) if vm.pending_size.is_some() => {
                let grow = growth(old, new);
                Store::quota_release(tx, &vm.tenant_id, &as_quota(grow)).await?;
                if let Some(host) = host {
                    Store::host_release(tx, host, as_reservation(grow)).await?;
                }
                Store::vm_set_size(tx, &vm.id, current, None).await?;
            }
            (Step::ResizeApply, false) if vm.pending_size.is_some() => {
                self.meter_vm(tx, vm, now_ms()).await?;
                let shrink = growth(new, old);
                Store::quota_release(tx, &vm.tenant_id, &as_quota(shrink)).await?;
                if let Some(host) = host {
                    Store::host_release(tx, host, as_reservation(shrink)).await?;
                }
                Store::vm_set_size(tx, &vm.id, new, None).await?;
            }
            (Step::ResizeApply, true) if vm.pending_size.is_none() && current == new => {
                let shrink = growth(new, old);
                Store::quota_reserve(tx, &vm.tenant_id, &as_quota(shrink), false).await?;
                if let Some(host) = host {
                    Store::host_reserve(tx, host, as_reservation(shrink)).await?;
                }
                Store::vm_set_size(tx, &vm.id, old, Some(&size_key(new))).await?;
            }
            _ => {}
        }
        Ok(())
    }
}
