//! The one shape of a job step: what it does on the backend (a driver call), what it does in the
//! database, and the undo of each. [`step_def`] gives every step as one [`StepDef`]; adding a step
//! is adding one arm there (and, for an effect no step had before, one [`Backend`] or
//! [`Database`] variant with its arm below). The runner and the cohorts run steps only through
//! [`Control::step_backend`] and [`Control::step_database`] (and a create's first step, run while
//! the create is accepted, through [`step_database_accept`]).
//!
//! Every effect is idempotent: it first looks at what the VM row (or the backend) already holds,
//! and doing it again changes nothing.

use super::resize;
use super::spec::{parse_size_key, parse_uuid, reservation, vm_quota};
use crate::driver::{DriverError, VmSpec};
use crate::store::job::JobRow;
use crate::store::vm::VmRow;
use crate::store::{Store, Tx, now_ms};
use crate::{Control, Error};
use meridian_core::job::{JobKind, JobPosition, JobState, Step};
use meridian_core::resource::{QuotaUsage, VmState};
use std::collections::BTreeMap;

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

/// What a step does outside the database, through the driver. Each is idempotent there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    /// Nothing outside the database.
    Nothing,
    /// Create the VM's disk from its template.
    DiskCreate,
    /// Delete the VM's disk.
    DiskDelete,
    /// Grow the disk to the pending size.
    DiskGrow,
    /// Boot (or power on) the VM.
    PowerOn,
    /// Power the VM off.
    PowerOff,
    /// Restart the guest.
    Reboot,
    /// Plug the VM into its private network (only a VM with an address can be).
    NetworkAttach,
    /// Unplug it.
    NetworkDetach,
    /// Take a public address (if the VM has none) and route it to a VM that has breakout.
    BreakoutAttach,
    /// Withdraw the public address, if the VM has one.
    BreakoutDetach,
}

/// What a step does in the database, in the transaction that also advances the job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Database {
    /// Nothing in the database.
    Nothing,
    /// Reserve the VM's size in its tenant's quota, unless reserved. `enforce`: refuse past the
    /// limits (an undo puts back what the VM held, limits or not).
    QuotaReserve {
        /// Whether the quota's limits apply.
        enforce: bool,
    },
    /// Release the VM's quota, if reserved.
    QuotaRelease,
    /// Choose a host and reserve room on it, unless the VM has one.
    HostPlace,
    /// Release the VM's host, if it has one.
    HostRelease,
    /// Give the VM a private address, unless it has one.
    IpAllocate,
    /// Take its private address away.
    IpRelease,
    /// Forget its public address (the backend part has withdrawn it).
    PublicIpForget,
    /// Record the breakout choice the job asks for, with its public-address quota; `undo`
    /// records the opposite.
    BreakoutRecord {
        /// Whether this is the undo.
        undo: bool,
    },
    /// Record the VM as running and start metering it.
    MarkRunning,
    /// Undo of [`Database::MarkRunning`] in its own step: a create's VM goes back to
    /// provisioning (no longer metered), a started one back to stopped.
    UnmarkRunning,
    /// Record the VM as stopped.
    MarkStopped,
    /// Record that the VM is being destroyed (no longer metered).
    MarkDestroying,
    /// Put back the state the VM had before its destroy began (metered again if it holds
    /// something).
    UnmarkDestroying,
    /// Record the VM as destroyed.
    MarkDestroyed,
    /// Back to being destroyed.
    UnmarkDestroyed,
    /// Reserve room for a resize's larger size.
    ResizeReserve,
    /// Give that room back.
    ResizeUnreserve,
    /// Put the new size in place.
    ResizeApply,
    /// Go back to the old size, the new one pending.
    ResizeUnapply,
}

/// One direction of a step: its backend part, then its database part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Effect {
    /// Runs first, outside any transaction (it may take seconds).
    pub backend: Backend,
    /// Runs after, with the job's advance, in one transaction.
    pub database: Database,
}

/// What an undo would give back to a VM whose destroy unwinds. A destroy undone puts back only
/// what the VM held when it began (a failed VM held no host, address, disk or port; a stopped
/// one was not powered): any other undo is a no-op there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GivesBack {
    /// Not a teardown step: its undo always runs.
    Always,
    /// Power: undone only for a VM that was running.
    Power,
    /// Something the VM holds (host, address, disk, port, quota): undone only for a VM that was
    /// running or stopped.
    Holdings,
}

/// One step (its stored name and label are core's [`Step`]): its effect, its undo, and when a
/// destroy's undo may give back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StepDef {
    /// What running it does.
    pub run: Effect,
    /// What undoing it does.
    pub undo: Effect,
    /// When a destroy unwinds, whether the undo gives anything back.
    pub gives_back: GivesBack,
}

const fn def(run: (Backend, Database), undo: (Backend, Database), gives_back: GivesBack) -> StepDef {
    StepDef {
        run: Effect {
            backend: run.0,
            database: run.1,
        },
        undo: Effect {
            backend: undo.0,
            database: undo.1,
        },
        gives_back,
    }
}

use Backend as B;
use Database as D;
use GivesBack::{Always, Holdings, Power};

/// Every step's definition. A teardown step's effects mirror its build step's: `ReleaseHost`
/// runs what `Place` undoes, and undoes what `Place` runs.
#[rustfmt::skip]
pub(crate) fn step_def(step: Step) -> StepDef {
    let (run, undo, gives_back) = match step {
        //                       run: (backend, database)                         undo: (backend, database)                         a destroy undone
        Step::ReserveQuota    => ((B::Nothing, D::QuotaReserve { enforce: true }), (B::Nothing, D::QuotaRelease),                    Always),
        Step::Place           => ((B::Nothing, D::HostPlace),                      (B::Nothing, D::HostRelease),                     Always),
        Step::AllocateIp      => ((B::Nothing, D::IpAllocate),                     (B::Nothing, D::IpRelease),                       Always),
        Step::CreateDisk      => ((B::DiskCreate, D::Nothing),                     (B::DiskDelete, D::Nothing),                      Always),
        Step::Boot            => ((B::PowerOn, D::Nothing),                        (B::PowerOff, D::Nothing),                        Always),
        Step::AttachNetwork   => ((B::NetworkAttach, D::Nothing),                  (B::NetworkDetach, D::Nothing),                   Always),
        Step::Breakout        => ((B::BreakoutAttach, D::Nothing),                 (B::BreakoutDetach, D::PublicIpForget),           Always),
        Step::MarkRunning     => ((B::Nothing, D::MarkRunning),                    (B::Nothing, D::UnmarkRunning),                   Always),
        Step::PowerOff        => ((B::PowerOff, D::Nothing),                       (B::PowerOn, D::Nothing),                         Power),
        Step::PowerOn         => ((B::PowerOn, D::Nothing),                        (B::PowerOff, D::Nothing),                        Always),
        Step::Reboot          => ((B::Reboot, D::Nothing),                         (B::Nothing, D::Nothing),                         Always),
        Step::MarkStopped     => ((B::Nothing, D::MarkStopped),                    (B::Nothing, D::MarkRunning),                     Always),
        Step::MarkDestroying  => ((B::Nothing, D::MarkDestroying),                 (B::Nothing, D::UnmarkDestroying),                Always),
        Step::ReleaseBreakout => ((B::BreakoutDetach, D::PublicIpForget),          (B::BreakoutAttach, D::Nothing),                  Holdings),
        Step::DetachNetwork   => ((B::NetworkDetach, D::Nothing),                  (B::NetworkAttach, D::Nothing),                   Holdings),
        Step::DeleteDisk      => ((B::DiskDelete, D::Nothing),                     (B::DiskCreate, D::Nothing),                      Holdings),
        Step::ReleaseIp       => ((B::Nothing, D::IpRelease),                      (B::Nothing, D::IpAllocate),                      Holdings),
        Step::ReleaseHost     => ((B::Nothing, D::HostRelease),                    (B::Nothing, D::HostPlace),                       Holdings),
        Step::ReleaseQuota    => ((B::Nothing, D::QuotaRelease),                   (B::Nothing, D::QuotaReserve { enforce: false }), Holdings),
        Step::MarkDestroyed   => ((B::Nothing, D::MarkDestroyed),                  (B::Nothing, D::UnmarkDestroyed),                 Always),
        Step::ResizeReserve   => ((B::Nothing, D::ResizeReserve),                  (B::Nothing, D::ResizeUnreserve),                 Always),
        Step::ResizeDisk      => ((B::DiskGrow, D::Nothing),                       (B::Nothing, D::Nothing),                         Always),
        Step::ResizeApply     => ((B::Nothing, D::ResizeApply),                    (B::Nothing, D::ResizeUnapply),                   Always),
        Step::SetBreakout     => ((B::Nothing, D::BreakoutRecord { undo: false }), (B::Nothing, D::BreakoutRecord { undo: true }),   Always),
    };
    def(run, undo, gives_back)
}

/// What running (or undoing) `step` does.
pub(crate) fn effect(step: Step, undo: bool) -> Effect {
    let def = step_def(step);
    if undo { def.undo } else { def.run }
}

/// Whether a job, standing at `position`, only goes forward: a destroy whose disk is deleted
/// cannot be put back (undoing would boot a VM with a blank disk), so a failure from there on is
/// tried again rather than unwound (and the runner's limit on claims still ends it).
pub(crate) fn rolls_forward_only(position: JobPosition) -> bool {
    position.kind == JobKind::VmDestroy
        && position.state == JobState::Running
        && JobKind::VmDestroy
            .steps()
            .iter()
            .position(|step| *step == Step::DeleteDisk)
            .is_some_and(|disk| position.step > disk)
}

/// Whether undoing `step` of `job` would give the VM something it did not have before the job
/// (see [`GivesBack`]). Such an undo is a no-op.
fn undo_restores_nothing(job: &JobRow, step: Step, undo: bool) -> bool {
    if !undo || job.position.kind != JobKind::VmDestroy {
        return false;
    }
    let before = job
        .params
        .as_deref()
        .and_then(|state| VmState::parse(state).ok())
        .unwrap_or(VmState::Stopped);
    match step_def(step).gives_back {
        Always => false,
        Power => before != VmState::Running,
        Holdings => !matches!(before, VmState::Running | VmState::Stopped),
    }
}

impl Control {
    /// The backend part of `step` (or its undo), for `vm` as the driver sees it (`spec`).
    pub(crate) async fn step_backend(
        &self,
        job: &JobRow,
        step: Step,
        undo: bool,
        vm: &VmRow,
        spec: &VmSpec,
    ) -> Result<(), StepError> {
        if undo_restores_nothing(job, step, undo) {
            return Ok(());
        }
        let driver = &self.driver;
        match effect(step, undo).backend {
            Backend::Nothing => {}
            Backend::DiskCreate => driver.disk_create(spec).await?,
            Backend::DiskDelete => driver.disk_delete(spec).await?,
            Backend::DiskGrow => {
                let new = vm
                    .pending_size
                    .as_deref()
                    .and_then(parse_size_key)
                    .map_or(vm.disk_gib, |s| s.2);
                driver.disk_resize(spec, u64::try_from(new).unwrap_or(0)).await?;
            }
            Backend::PowerOn => driver.vm_boot(spec).await?,
            Backend::PowerOff => driver.vm_power_off(spec).await?,
            Backend::Reboot => driver.vm_reboot(spec).await?,
            // Only a VM with an address was (or can be) on its network.
            Backend::NetworkAttach if vm.private_ip.is_some() => driver.network_attach(spec).await?,
            Backend::NetworkAttach => {}
            Backend::NetworkDetach => driver.network_detach(spec).await?,
            Backend::BreakoutAttach if vm.breakout => {
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
            Backend::BreakoutAttach => {}
            Backend::BreakoutDetach if vm.public_ip.is_some() => driver.breakout_detach(spec).await?,
            Backend::BreakoutDetach => {}
        }
        Ok(())
    }

    /// The database part of `step` (or its undo), inside the transaction that also advances the
    /// job.
    pub(crate) async fn step_database(
        &self,
        tx: &mut Tx,
        job: &JobRow,
        step: Step,
        undo: bool,
        vm: &VmRow,
    ) -> Result<(), StepError> {
        if undo_restores_nothing(job, step, undo) {
            return Ok(());
        }
        let kind = job.position.kind;
        match effect(step, undo).database {
            Database::Nothing => {}
            Database::QuotaReserve { enforce } => {
                if !vm.quota_reserved {
                    if !Store::quota_reserve(tx, &vm.tenant_id, &vm_quota(vm), enforce).await? {
                        return Err(StepError::Failed(
                            "The tenant's quota has no room for this VM.".into(),
                        ));
                    }
                    Store::vm_set_quota_reserved(tx, &vm.id, true).await?;
                }
            }
            Database::QuotaRelease => {
                if vm.quota_reserved {
                    Store::quota_release(tx, &vm.tenant_id, &vm_quota(vm)).await?;
                    Store::vm_set_quota_reserved(tx, &vm.id, false).await?;
                }
            }
            Database::HostPlace => {
                if vm.host_id.is_none() {
                    self.place_many(tx, std::slice::from_ref(vm)).await?;
                }
            }
            Database::HostRelease => {
                if let Some(host) = &vm.host_id {
                    let host_id = parse_uuid(host)?;
                    Store::host_release(tx, host_id, reservation(vm)).await?;
                    Store::vm_set_host(tx, &vm.id, None).await?;
                    if vm.dedicated {
                        self.host_undedicate_if_empty(tx, vm, host).await?;
                    }
                }
            }
            Database::IpAllocate => {
                if vm.private_ip.is_none() {
                    self.private_ips_allocate(tx, std::slice::from_ref(vm)).await?;
                }
            }
            Database::IpRelease => Store::vm_set_private_ip(tx, &vm.id, None).await?,
            Database::PublicIpForget => Store::vm_set_public_ip(tx, &vm.id, None).await?,
            Database::BreakoutRecord { undo } => {
                let open = (kind == JobKind::VmBreakoutOpen) != undo;
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
            Database::MarkRunning => {
                self.meter_vm(tx, vm, now_ms()).await?;
                Control::meter_start(tx, vm).await?;
                Store::vm_set_state(tx, &vm.id, VmState::Running.as_str()).await?;
            }
            Database::UnmarkRunning => {
                if kind == JobKind::VmCreate {
                    self.meter_stop(tx, vm).await?;
                    Store::vm_set_state(tx, &vm.id, VmState::Provisioning.as_str()).await?;
                } else {
                    self.meter_vm(tx, vm, now_ms()).await?;
                    Store::vm_set_state(tx, &vm.id, VmState::Stopped.as_str()).await?;
                }
            }
            Database::MarkStopped => {
                self.meter_vm(tx, vm, now_ms()).await?;
                Store::vm_set_state(tx, &vm.id, VmState::Stopped.as_str()).await?;
            }
            Database::MarkDestroying => {
                self.meter_stop(tx, vm).await?;
                Store::vm_set_state(tx, &vm.id, VmState::Destroying.as_str()).await?;
            }
            Database::UnmarkDestroying => {
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
            Database::MarkDestroyed => {
                Store::vm_set_state(tx, &vm.id, VmState::Destroyed.as_str()).await?;
                // What it did goes with it: its graphs and the counter readings behind its bill.
                Store::vm_samples_delete(tx, &vm.id).await?;
            }
            Database::UnmarkDestroyed => {
                Store::vm_set_state(tx, &vm.id, VmState::Destroying.as_str()).await?
            }
            Database::ResizeReserve => resize::resize_reserve(tx, job, vm).await?,
            Database::ResizeUnreserve => resize::resize_unreserve(tx, job, vm).await?,
            Database::ResizeApply => self.resize_apply(tx, job, vm).await?,
            Database::ResizeUnapply => resize::resize_unapply(tx, job, vm).await?,
        }
        Ok(())
    }
}

/// The database part of a job's first step for VMs being accepted: inside the transaction that
/// accepts them, before their rows are written (the rows in hand are marked instead). Only a
/// quota reservation without a backend part has this form: it reserves each tenant's VMs at once,
/// so concurrent creates at the quota boundary are exact, and a refusal refuses the whole request.
pub(crate) async fn step_database_accept(tx: &mut Tx, step: Step, vms: &mut [VmRow]) -> Result<(), Error> {
    let Effect {
        backend: Backend::Nothing,
        database: Database::QuotaReserve { enforce },
    } = effect(step, false)
    else {
        return Err(Error::internal(format_args!(
            "step {step} cannot run while its job is accepted"
        )));
    };
    let mut need: BTreeMap<&str, QuotaUsage> = BTreeMap::new();
    for vm in vms.iter().filter(|vm| !vm.quota_reserved) {
        let sum = need.entry(vm.tenant_id.as_str()).or_default();
        *sum = sum.plus(&vm_quota(vm));
    }
    for (tenant, need) in &need {
        if !Store::quota_reserve(tx, tenant, need, enforce).await? {
            let (quota, usage) = Store::quota_get_tx(tx, tenant).await?.ok_or(Error::NotFound)?;
            let refusal = quota.check(&usage, need).err().map_or_else(
                || "Your quota has no room for this VM.".to_owned(),
                |exceeded| exceeded.to_string(),
            );
            return Err(Error::Forbidden(refusal));
        }
    }
    drop(need);
    for vm in vms.iter_mut() {
        vm.quota_reserved = true;
    }
    Ok(())
}

/// What starting jobs of `kind` does to their VMs (`vms`, by id), in the transaction that starts
/// them: a create's VMs are provisioning from then on.
pub(crate) async fn jobs_started_effect(tx: &mut Tx, kind: JobKind, vms: &[String]) -> Result<(), Error> {
    if kind == JobKind::VmCreate {
        Store::vm_set_state_many(tx, vms, VmState::Provisioning.as_str()).await?;
    }
    Ok(())
}

/// What jobs of `kind` ending as `outcome` do to their VMs, in the transaction that ends them:
/// a create that did not succeed (unwound, or cancelled) leaves its VM failed.
pub(crate) async fn jobs_ended_effect(
    tx: &mut Tx,
    kind: JobKind,
    outcome: JobState,
    vms: &[String],
) -> Result<(), Error> {
    if outcome != JobState::Succeeded && kind == JobKind::VmCreate {
        Store::vm_set_state_many(tx, vms, VmState::Failed.as_str()).await?;
    }
    Ok(())
}

impl Control {
    /// What a job ended for good (it could neither go on nor unwind) does to its VM: no longer
    /// metered, and failed, where staff see it; destroying it releases what it still holds.
    pub(crate) async fn job_abandoned_effect(&self, tx: &mut Tx, vm: &VmRow) -> Result<(), Error> {
        self.meter_stop(tx, vm).await?;
        // A resize that stopped half-way holds room for the larger size: give the growth back,
        // so that what the VM holds is its size alone and a destroy releases it all.
        resize::resize_abandon(tx, vm).await?;
        Store::vm_set_state(tx, &vm.id, VmState::Failed.as_str()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{Database, Effect, GivesBack, step_def};
    use meridian_core::job::Step;

    /// A teardown step gives back exactly what its build step takes, and its undo takes it
    /// again: an unwound destroy leaves the VM holding what a create gave it.
    #[test]
    fn teardown_steps_mirror_the_build_steps() {
        let pairs = [
            (Step::ReleaseBreakout, Step::Breakout),
            (Step::DetachNetwork, Step::AttachNetwork),
            (Step::DeleteDisk, Step::CreateDisk),
            (Step::ReleaseIp, Step::AllocateIp),
            (Step::ReleaseHost, Step::Place),
            (Step::PowerOff, Step::PowerOn),
        ];
        for (teardown, build) in pairs {
            let (teardown, build) = (step_def(teardown), step_def(build));
            assert_eq!(teardown.run, build.undo, "{teardown:?} / {build:?}");
            assert_eq!(teardown.undo, build.run, "{teardown:?} / {build:?}");
            assert_ne!(teardown.gives_back, GivesBack::Always);
        }
        // Giving quota back on an unwound destroy puts back what the VM held, limits or not.
        let release = step_def(Step::ReleaseQuota);
        assert_eq!(release.run, step_def(Step::ReserveQuota).undo);
        assert_eq!(release.undo.database, Database::QuotaReserve { enforce: false });
        assert_eq!(
            step_def(Step::ReserveQuota).run,
            Effect {
                backend: super::Backend::Nothing,
                database: Database::QuotaReserve { enforce: true },
            }
        );
    }
}
