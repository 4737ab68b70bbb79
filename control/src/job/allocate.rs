//! What the placement and addressing steps take: hosts (placement over the zone's inventory, with
//! anti-affinity and dedicated hosts), private addresses from the tenant's subnets, and public
//! addresses from the zone's breakout. Each works for one VM or for a cohort at once.

use super::StepError;
use super::spec::{parse_uuid, vm_spec, zone_of};
use crate::driver::VmSpec;
use crate::store::host::Reservation;
use crate::store::vm::VmRow;
use crate::store::{Store, is_unique_violation, now_ms};
use crate::{Control, Error};
use meridian_core::id::{HostId, TenantId, VmId};
use meridian_core::ipam::{self, Cidr, DEFAULT_SUBNET_PREFIX_LEN, DEFAULT_SUPERNET};
use meridian_core::placement::{
    self, Host, Inventory, PlacementRequest, Resources, Strategy, VmRequest, ZoneSpread,
};
use meridian_core::zone::ZoneId;
use rand::SeedableRng;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use uuid::Uuid;

impl Control {
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
        let heard_since = crate::store::now_ms() - meridian_core::agent_api::HOST_SILENT_AFTER_MS;
        let host_rows = self.store.host_list_zone(tx, zone_id, heard_since).await?;
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
    pub(super) async fn host_undedicate_if_empty(
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
        let chosen = Self::private_ips_choose(tx, vms).await?;
        Store::vm_set_private_ip_many(tx, &chosen).await?;
        Ok(())
    }

    /// The addresses [`Control::private_ips_allocate`] gives `vms`, `(vm id, address)` in their
    /// order, without writing them (the VMs' rows may not be written yet); their zones' subnets
    /// are made if missing.
    pub(crate) async fn private_ips_choose(
        tx: &mut crate::store::Tx,
        vms: &[VmRow],
    ) -> Result<Vec<(String, Option<String>)>, StepError> {
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
        // In the VMs' order, not the networks'.
        chosen.sort_by_key(|(id, _)| vms.iter().position(|vm| &vm.id == id));
        Ok(chosen)
    }

    /// Gives a breakout VM a public address if it has none (its own transaction: the driver needs
    /// the address before it can route it) and returns the VM as the driver should see it.
    pub(super) async fn public_ip_ensure(&self, vm: &VmRow) -> Result<VmSpec, StepError> {
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
