//! Live changes to VMs, for streams that follow one (the VM page's live progress): fed by this
//! process's job events and, on PostgreSQL, by every other server's, so a stream wakes when its
//! VM changed instead of asking the database over and over.
//!
//! One relay task per process turns job events into the VMs they concern (one lookup per new
//! job, shared by every stream) and publishes them with `pg_notify`; one listener, on a
//! connection of its own, hears the other servers'. When events may have been missed (a lagging
//! receiver, a lost connection), [`VmChange::Unknown`] tells every stream to look again. On
//! SQLite this process is the only writer, so its own events are all there is.

use crate::store::Store;
use crate::store::job::JobEvent;
use std::collections::HashMap;
use tokio::sync::broadcast;
use uuid::Uuid;

/// Something changed: one VM, or possibly any (events were missed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmChange {
    /// This VM's state or job progress changed.
    Vm(Uuid),
    /// Changes may have been missed: every follower should look again.
    Unknown,
}

/// Jobs whose VM is remembered at most (then the memory starts afresh).
const JOBS_REMEMBERED: usize = 10_000;
/// VM ids per notification at most: PostgreSQL's payload limit is 8,000 bytes.
const VMS_PER_NOTIFY: usize = 150;
/// Job events relayed at once at most.
const BATCH: usize = 256;

/// The feed: started on its first subscriber.
pub(crate) struct Live {
    changes: broadcast::Sender<VmChange>,
    started: std::sync::Once,
}

impl Default for Live {
    fn default() -> Self {
        Self {
            changes: broadcast::channel(1024).0,
            started: std::sync::Once::new(),
        }
    }
}

impl crate::Control {
    /// Changes to VMs, from this process and (on PostgreSQL) every other server on the database.
    /// A receiver that lags behind should treat it as [`VmChange::Unknown`].
    pub fn vm_changes_subscribe(&self) -> broadcast::Receiver<VmChange> {
        self.live_start();
        self.live.changes.subscribe()
    }

    /// Starts relaying this process's job events as VM changes (to this process's streams and,
    /// on PostgreSQL, to the other servers') and hearing the other servers'; once per process
    /// (further calls do nothing). Every process that runs jobs or serves streams calls it, so
    /// that its changes reach streams on every server.
    pub fn live_start(&self) {
        self.live.started.call_once(|| {
            // This process's name in notifications, so that it skips its own.
            let origin = Uuid::new_v4().simple().to_string();
            let events = self.job_events.subscribe();
            let (relay_done, done) = tokio::sync::watch::channel(false);
            tokio::spawn(relay(
                self.store.clone(),
                events,
                self.live.changes.clone(),
                origin.clone(),
                relay_done,
            ));
            tokio::spawn(listen(
                self.store.clone(),
                self.live.changes.clone(),
                origin,
                done,
            ));
        });
    }
}

/// Turns this process's job events into VM changes, here and for the other servers.
async fn relay(
    store: Store,
    mut events: broadcast::Receiver<JobEvent>,
    changes: broadcast::Sender<VmChange>,
    origin: String,
    _done: tokio::sync::watch::Sender<bool>,
) {
    let mut targets: HashMap<Uuid, Uuid> = HashMap::new();
    loop {
        let mut jobs = Vec::new();
        match events.recv().await {
            Ok(event) => jobs.push(event.job_id),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(
                    job_events.missed = missed,
                    "live changes lagged: every follower looks again"
                );
                let _ = changes.send(VmChange::Unknown);
                if let Err(error) = store.vm_change_notify(&format!("{origin} *")).await {
                    tracing::warn!(error.detail = %error, "VM change notification failed");
                }
                continue;
            }
            // Every control plane is gone: so is the listener (it watches `_done`).
            Err(broadcast::error::RecvError::Closed) => return,
        }
        while jobs.len() < BATCH
            && let Ok(event) = events.try_recv()
        {
            jobs.push(event.job_id);
        }
        let unknown: Vec<Uuid> = jobs
            .iter()
            .filter(|job| !targets.contains_key(job))
            .copied()
            .collect();
        if !unknown.is_empty() {
            if targets.len() + unknown.len() > JOBS_REMEMBERED {
                targets.clear();
            }
            match store.job_targets(&unknown).await {
                Ok(found) => targets.extend(found),
                Err(error) => {
                    tracing::warn!(error.detail = %error, "live changes: job targets unread");
                    let _ = changes.send(VmChange::Unknown);
                    continue;
                }
            }
        }
        let mut vms: Vec<Uuid> = jobs.iter().filter_map(|job| targets.get(job).copied()).collect();
        vms.sort_unstable();
        vms.dedup();
        for vm in &vms {
            let _ = changes.send(VmChange::Vm(*vm));
        }
        for chunk in vms.chunks(VMS_PER_NOTIFY) {
            let ids: Vec<String> = chunk.iter().map(|vm| vm.simple().to_string()).collect();
            if let Err(error) = store
                .vm_change_notify(&format!("{origin} {}", ids.join(",")))
                .await
            {
                tracing::warn!(error.detail = %error, "VM change notification failed");
            }
        }
    }
}

/// Hears the other servers' VM changes (PostgreSQL), until the relay ends.
async fn listen(
    store: Store,
    changes: broadcast::Sender<VmChange>,
    origin: String,
    mut done: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let mut listener = match store.vm_change_listen().await {
            Ok(Some(listener)) => listener,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(error.detail = %error, "cannot listen for VM changes; trying again");
                tokio::select! {
                    () = tokio::time::sleep(std::time::Duration::from_secs(1)) => continue,
                    _ = done.changed() => return,
                }
            }
        };
        // Whatever happened while nobody listened is unknown.
        let _ = changes.send(VmChange::Unknown);
        loop {
            let heard = tokio::select! {
                heard = listener.try_recv() => heard,
                _ = done.changed() => return,
            };
            match heard {
                Ok(Some(notification)) => {
                    for change in parse(notification.payload(), &origin) {
                        let _ = changes.send(change);
                    }
                }
                // The connection was lost (and is made again on the next call): notifications
                // meanwhile are gone.
                Ok(None) => {
                    let _ = changes.send(VmChange::Unknown);
                }
                Err(error) => {
                    tracing::warn!(error.detail = %error, "listening for VM changes failed; listening again");
                    break;
                }
            }
        }
    }
}

/// The changes a notification carries: `ORIGIN vm,vm,…` or `ORIGIN *`; nothing from `mine`.
fn parse(payload: &str, mine: &str) -> Vec<VmChange> {
    let Some((origin, vms)) = payload.split_once(' ') else {
        return vec![VmChange::Unknown];
    };
    if origin == mine {
        return Vec::new();
    }
    if vms == "*" {
        return vec![VmChange::Unknown];
    }
    vms.split(',')
        .map(|vm| vm.parse().map_or(VmChange::Unknown, VmChange::Vm))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_names_its_vms_and_a_servers_own_are_skipped() {
        let vm = Uuid::new_v4();
        let payload = format!("other {},{}", vm.simple(), vm.simple());
        assert_eq!(parse(&payload, "me"), vec![VmChange::Vm(vm), VmChange::Vm(vm)]);
        assert_eq!(parse(&payload.replacen("other", "me", 1), "me"), vec![]);
        assert_eq!(parse("other *", "me"), vec![VmChange::Unknown]);
        assert_eq!(parse("garbage", "me"), vec![VmChange::Unknown]);
    }
}
