//! The database part of the resize steps. While a resize is pending the VM holds, for each
//! resource, the larger of its old and new size: room is reserved before anything changes and
//! released only once the new size is in place (or the resize is undone or abandoned).

use super::StepError;
use super::spec::{parse_size_key, parse_uuid, size_key};
use crate::store::host::Reservation;
use crate::store::job::JobRow;
use crate::store::vm::VmRow;
use crate::store::{Store, Tx, now_ms};
use crate::{Control, Error};
use meridian_core::resource::QuotaUsage;

/// A size as `(vcpus, memory_mib, disk_gib)`.
type Size = (i64, i64, i64);

/// What growing from `old` to `new` adds, per resource (shrinking parts count as zero).
fn growth(old: Size, new: Size) -> Size {
    (
        (new.0 - old.0).max(0),
        (new.1 - old.1).max(0),
        (new.2 - old.2).max(0),
    )
}

fn as_quota(delta: Size) -> QuotaUsage {
    QuotaUsage {
        vms: 0,
        vcpus: u32::try_from(delta.0).unwrap_or(0),
        memory_mib: u64::try_from(delta.1).unwrap_or(0),
        public_ips: 0,
    }
}

fn as_reservation(delta: Size) -> Reservation {
    Reservation {
        vcpus: delta.0,
        memory_mib: delta.1,
        disk_gib: delta.2,
    }
}

/// The sizes of a resize job: `(old, new)` from its parameter "old|new".
fn resize_sizes(job: &JobRow) -> Result<(Size, Size), StepError> {
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

/// Gives back the room a resize that stopped half-way holds for the larger size, so that what
/// the VM holds is its size alone (a job ended for good calls it).
pub(super) async fn resize_abandon(tx: &mut Tx, vm: &VmRow) -> Result<(), Error> {
    if let Some(new) = vm.pending_size.as_deref().and_then(parse_size_key) {
        let current = (vm.vcpus, vm.memory_mib, vm.disk_gib);
        growth_release(tx, vm, growth(current, new)).await?;
    }
    Ok(())
}

/// Gives `grow` back to the VM's quota and host, and forgets its pending size.
async fn growth_release(tx: &mut Tx, vm: &VmRow, grow: Size) -> Result<(), Error> {
    Store::quota_release(tx, &vm.tenant_id, &as_quota(grow)).await?;
    if let Some(host) = vm.host_id.as_deref() {
        let host = host.parse().map_err(Error::internal)?;
        Store::host_release(tx, host, as_reservation(grow)).await?;
    }
    let current = (vm.vcpus, vm.memory_mib, vm.disk_gib);
    Store::vm_set_size(tx, &vm.id, current, None).await?;
    Ok(())
}

/// Reserves the growth in quota and on the host, and records the pending size.
pub(super) async fn resize_reserve(tx: &mut Tx, job: &JobRow, vm: &VmRow) -> Result<(), StepError> {
    if vm.pending_size.is_some() {
        return Ok(());
    }
    let (old, new) = resize_sizes(job)?;
    let current = (vm.vcpus, vm.memory_mib, vm.disk_gib);
    let grow = growth(old, new);
    if !Store::quota_reserve(tx, &vm.tenant_id, &as_quota(grow), true).await? {
        return Err(StepError::Failed(
            "Your quota has no room for the larger size.".into(),
        ));
    }
    if let Some(host) = vm.host_id.as_deref().map(parse_uuid).transpose()?
        && !Store::host_reserve(tx, host, as_reservation(grow)).await?
    {
        return Err(StepError::Failed(
            "The VM's host has no room for the larger size.".into(),
        ));
    }
    Store::vm_set_size(tx, &vm.id, current, Some(&size_key(new))).await?;
    Ok(())
}

/// Undoes [`resize_reserve`]: gives the growth back and forgets the pending size.
pub(super) async fn resize_unreserve(tx: &mut Tx, job: &JobRow, vm: &VmRow) -> Result<(), StepError> {
    if vm.pending_size.is_none() {
        return Ok(());
    }
    let (old, new) = resize_sizes(job)?;
    growth_release(tx, vm, growth(old, new)).await?;
    Ok(())
}

impl Control {
    /// Puts the new size in place (metering the old one up to now) and releases what shrank.
    pub(super) async fn resize_apply(&self, tx: &mut Tx, job: &JobRow, vm: &VmRow) -> Result<(), StepError> {
        if vm.pending_size.is_none() {
            return Ok(());
        }
        let (old, new) = resize_sizes(job)?;
        self.meter_vm(tx, vm, now_ms()).await?;
        let shrink = growth(new, old);
        Store::quota_release(tx, &vm.tenant_id, &as_quota(shrink)).await?;
        if let Some(host) = vm.host_id.as_deref().map(parse_uuid).transpose()? {
            Store::host_release(tx, host, as_reservation(shrink)).await?;
        }
        Store::vm_set_size(tx, &vm.id, new, None).await?;
        Ok(())
    }
}

/// Undoes [`Control::resize_apply`]: the old size again, with the new one pending.
pub(super) async fn resize_unapply(tx: &mut Tx, job: &JobRow, vm: &VmRow) -> Result<(), StepError> {
    let (old, new) = resize_sizes(job)?;
    let current = (vm.vcpus, vm.memory_mib, vm.disk_gib);
    if vm.pending_size.is_some() || current != new {
        return Ok(());
    }
    let shrink = growth(new, old);
    Store::quota_reserve(tx, &vm.tenant_id, &as_quota(shrink), false).await?;
    if let Some(host) = vm.host_id.as_deref().map(parse_uuid).transpose()? {
        Store::host_reserve(tx, host, as_reservation(shrink)).await?;
    }
    Store::vm_set_size(tx, &vm.id, old, Some(&size_key(new))).await?;
    Ok(())
}
