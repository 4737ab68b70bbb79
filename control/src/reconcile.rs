//! Reconciliation: after a crash of the control plane or of a host agent, the hosts converge on
//! what the database says. Run every [`RECONCILE_EVERY`] by each server (the server's
//! `--reconcile-secs`; every operation it uses is idempotent, so two servers doing it at once do no
//! harm).
//!
//! For each host agent that answers, with the VMs no job is working on:
//! - a VM on the host that the database does not place there (unknown, destroyed, or elsewhere) is
//!   an orphan: seen so for [`ORPHAN_GRACE`], it is discarded (process, port and disk);
//! - a VM the database says runs but whose QEMU is gone is restarted (and logged as lost);
//! - a VM the database says is stopped but runs is powered off.

use crate::driver::Presence;
use crate::job::vm_spec;
use crate::{Control, Error};
use meridian_core::resource::VmState;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How often servers reconcile, by default.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(15);
/// How long a VM the database does not know stays on its host before it is discarded, by default
/// (the server's `--orphan-grace-secs`): long enough for any create whose database write is in
/// flight.
pub const ORPHAN_GRACE: Duration = Duration::from_secs(60);

/// What one round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Orphans discarded.
    pub discarded: Vec<Uuid>,
    /// VMs restarted because their host had lost them.
    pub restarted: Vec<Uuid>,
    /// VMs powered off because the database says stopped.
    pub powered_off: Vec<Uuid>,
    /// Orphans seen, waiting out their grace.
    pub waiting: Vec<Uuid>,
}

/// What a reconciler remembers between rounds: when each orphan was first seen.
#[derive(Debug, Default)]
pub struct Reconciler {
    orphans_seen: HashMap<Uuid, Instant>,
}

impl Control {
    /// One reconciliation round over every host agent that answers.
    pub async fn reconcile(&self, reconciler: &mut Reconciler) -> Result<ReconcileReport, Error> {
        self.reconcile_with_grace(reconciler, ORPHAN_GRACE).await
    }

    /// [`Control::reconcile`] with another grace for orphans (tests).
    pub async fn reconcile_with_grace(
        &self,
        reconciler: &mut Reconciler,
        grace: Duration,
    ) -> Result<ReconcileReport, Error> {
        let mut report = ReconcileReport::default();
        let silent_since = crate::store::now_ms() - meridian_core::agent_api::HOST_SILENT_AFTER_MS;
        let hosts = self.store.host_agent_list().await?;
        let busy: BTreeSet<String> = self
            .store
            .job_list_live()
            .await?
            .iter()
            .map(|job| job.target_id.to_string())
            .collect();
        let vms = self.store.vm_list_all().await?;
        let mut still_orphans = BTreeSet::new();
        for host in hosts.iter().filter(|host| host.last_seen_ms >= silent_since) {
            let host_id = host.host.id;
            let present: BTreeMap<Uuid, Presence> = match self.driver.present(host_id).await {
                Ok(present) => present.into_iter().map(|p| (p.id, p)).collect(),
                Err(error) => {
                    tracing::warn!(host = %host.host.name, error = %error, "reconcile: host not listed");
                    continue;
                }
            };
            let here = host_id.to_string();
            let placed: BTreeMap<Uuid, &crate::store::vm::VmRow> = vms
                .iter()
                .filter(|vm| vm.host_id.as_deref() == Some(here.as_str()) && vm.state != "destroyed")
                .filter_map(|vm| vm.id.parse().ok().map(|id| (id, vm)))
                .collect();
            for (id, presence) in &present {
                if placed.contains_key(id) || busy.contains(&id.to_string()) {
                    continue;
                }
                still_orphans.insert(*id);
                let first_seen = *reconciler.orphans_seen.entry(*id).or_insert_with(Instant::now);
                if first_seen.elapsed() < grace {
                    report.waiting.push(*id);
                    continue;
                }
                tracing::warn!(host = %host.host.name, vm.id = %id, running = presence.running, "reconcile: discarding a VM the database does not place here");
                match self.driver.discard(host_id, *id).await {
                    Ok(()) => {
                        metrics::counter!("meridian_reconcile_total", "action" => "discard").increment(1);
                        report.discarded.push(*id);
                    }
                    Err(error) => tracing::warn!(vm.id = %id, error = %error, "reconcile: discard failed"),
                }
            }
            for (id, vm) in &placed {
                if busy.contains(&vm.id) {
                    continue;
                }
                let running = present.get(id).is_some_and(|p| p.running);
                let state = VmState::parse(&vm.state).map_err(Error::internal)?;
                let spec = vm_spec(vm)?;
                if state == VmState::Running && !running {
                    tracing::warn!(host = %host.host.name, vm.id = %id, "reconcile: the host lost a running VM; restarting it");
                    let restarted = async {
                        self.driver.disk_create(&spec).await?;
                        if spec.private_ip.is_some() {
                            self.driver.network_attach(&spec).await?;
                        }
                        self.driver.vm_boot(&spec).await
                    };
                    match restarted.await {
                        Ok(()) => {
                            metrics::counter!("meridian_reconcile_total", "action" => "restart").increment(1);
                            report.restarted.push(*id);
                        }
                        Err(error) => {
                            tracing::warn!(vm.id = %id, error = %error, "reconcile: restart failed")
                        }
                    }
                } else if state == VmState::Stopped && running {
                    tracing::warn!(host = %host.host.name, vm.id = %id, "reconcile: a stopped VM runs; powering it off");
                    match self.driver.vm_power_off(&spec).await {
                        Ok(()) => {
                            metrics::counter!("meridian_reconcile_total", "action" => "power_off")
                                .increment(1);
                            report.powered_off.push(*id);
                        }
                        Err(error) => {
                            tracing::warn!(vm.id = %id, error = %error, "reconcile: power-off failed")
                        }
                    }
                }
            }
        }
        // Forget orphans no longer seen (discarded, or claimed by a job meanwhile).
        reconciler.orphans_seen.retain(|id, _| still_orphans.contains(id));
        for id in &report.discarded {
            reconciler.orphans_seen.remove(id);
        }
        Ok(report)
    }
}
