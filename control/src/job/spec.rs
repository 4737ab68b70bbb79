//! The VM↔driver mapping: what a VM row means to the driver, to its tenant's quota and to its
//! host, and the stored form of a size. Plain conversions with no database or driver calls.

use super::StepError;
use crate::Error;
use crate::driver::VmSpec;
use crate::store::host::Reservation;
use crate::store::vm::VmRow;
use meridian_core::resource::QuotaUsage;
use meridian_core::zone::ZoneId;
use uuid::Uuid;

/// A stored id, or an internal error naming it.
pub(super) fn parse_uuid(text: &str) -> Result<Uuid, StepError> {
    text.parse()
        .map_err(|e| StepError::Internal(Error::internal(format_args!("stored id {text:?}: {e}"))))
}

/// The VM's zone.
pub(super) fn zone_of(vm: &VmRow) -> Result<ZoneId, StepError> {
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
        state: meridian_core::resource::VmState::parse(&vm.state).map_err(|e| bad("state", &e))?,
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

/// What a VM reserves on its host.
pub(super) fn reservation(vm: &VmRow) -> Reservation {
    Reservation {
        vcpus: vm.vcpus,
        memory_mib: vm.memory_mib,
        disk_gib: vm.disk_gib,
    }
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
