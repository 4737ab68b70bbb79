//! The invariant checker: what must hold between jobs, whatever crashed or failed. Tests run it
//! after every scenario; an operator could run it against production.

use crate::job::vm_quota;
use crate::{Control, Error};
use meridian_core::ipam::Cidr;
use meridian_core::resource::{QuotaUsage, VmState};
use std::collections::{BTreeMap, BTreeSet};

impl Control {
    /// Every broken invariant, described; empty when all hold. `drained` also requires that no
    /// job is left queued or running.
    pub async fn invariants_check(&self, drained: bool) -> Result<Vec<String>, Error> {
        let mut broken = Vec::new();
        let vms = self.store.vm_list_all().await?;
        let hosts = self.store.host_list().await?;

        // Host usage equals the sum of the VMs placed on it.
        let mut placed: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
        for vm in &vms {
            if let Some(host) = &vm.host_id {
                let held = held_size(vm);
                let sum = placed.entry(host.clone()).or_default();
                sum.0 += held.0;
                sum.1 += held.1;
                sum.2 += held.2;
            }
        }
        for host in &hosts {
            let (vcpus, memory, disk) = placed.get(&host.id.to_string()).copied().unwrap_or_default();
            if (host.vcpus_used, host.memory_mib_used, host.disk_gib_used) != (vcpus, memory, disk) {
                broken.push(format!(
                    "host {} records {}/{}/{} used but its VMs add up to {vcpus}/{memory}/{disk}",
                    host.name, host.vcpus_used, host.memory_mib_used, host.disk_gib_used
                ));
            }
        }

        // What each VM holds matches its state.
        let live_jobs = self.store.job_list_live().await?;
        let busy: BTreeSet<String> = live_jobs.iter().map(|job| job.target_id.to_string()).collect();
        let subnets: BTreeMap<(String, String), Cidr> = {
            let mut map = BTreeMap::new();
            let tenants: BTreeSet<&String> = vms.iter().map(|vm| &vm.tenant_id).collect();
            for tenant in tenants {
                for (zone, cidr) in self.store.subnet_list(tenant).await? {
                    map.insert(
                        (tenant.clone(), zone),
                        Cidr::parse(&cidr).map_err(Error::internal)?,
                    );
                }
            }
            map
        };
        for vm in &vms {
            let state = VmState::parse(&vm.state).map_err(Error::internal)?;
            let name = format!("VM {} ({}, {})", vm.name, vm.id, vm.state);
            if busy.contains(&vm.id) {
                continue; // A job is mid-way; it owns the VM's resources until it finishes.
            }
            let holds_everything = matches!(state, VmState::Running | VmState::Stopped);
            if holds_everything {
                if vm.host_id.is_none() || vm.private_ip.is_none() || !vm.quota_reserved {
                    broken.push(format!("{name} lacks its host, private IP or quota"));
                }
                if vm.breakout != vm.public_ip.is_some() {
                    broken.push(format!(
                        "{name}: breakout is {} but public IP is {:?}",
                        vm.breakout, vm.public_ip
                    ));
                }
            } else if vm.host_id.is_some()
                || vm.private_ip.is_some()
                || vm.public_ip.is_some()
                || vm.quota_reserved
            {
                broken.push(format!("{name} still holds a host, an address or quota"));
            }
            if let Some(ip) = vm.private_ip.as_deref().and_then(|ip| ip.parse().ok()) {
                match subnets.get(&(vm.tenant_id.clone(), vm.zone.clone())) {
                    Some(subnet) if subnet.plan().is_assignable(ip) => {}
                    other => broken.push(format!(
                        "{name}: private IP {ip} is not assignable in its subnet {other:?}"
                    )),
                }
            }
        }

        // Quotas equal what the VMs that hold quota add up to.
        let mut reserved: BTreeMap<String, QuotaUsage> = BTreeMap::new();
        for vm in vms.iter().filter(|vm| vm.quota_reserved) {
            let (vcpus, memory_mib, _) = held_size(vm);
            let held = crate::store::vm::VmRow {
                vcpus,
                memory_mib,
                ..vm.clone()
            };
            let sum = reserved.entry(vm.tenant_id.clone()).or_default();
            *sum = sum.plus(&vm_quota(&held));
        }
        for (tenant, _, usage) in self.store.quota_list().await? {
            let expected = reserved.remove(&tenant).unwrap_or_default();
            if usage != expected {
                broken.push(format!(
                    "tenant {tenant} quota records {usage:?} but its VMs add up to {expected:?}"
                ));
            }
        }

        if drained {
            for job in &live_jobs {
                broken.push(format!(
                    "job {} ({:?}) is stuck in {:?}",
                    job.id, job.position.kind, job.position.state
                ));
            }
        }
        Ok(broken)
    }
}

/// What a VM holds on its host and in quota: its size, or during a resize, for each resource the
/// larger of its size and the size it is being resized to.
fn held_size(vm: &crate::store::vm::VmRow) -> (i64, i64, i64) {
    let size = (vm.vcpus, vm.memory_mib, vm.disk_gib);
    match vm.pending_size.as_deref().and_then(crate::job::parse_size_key) {
        Some(pending) => (
            size.0.max(pending.0),
            size.1.max(pending.1),
            size.2.max(pending.2),
        ),
        None => size,
    }
}
