//! Meridian's control plane: every action a user, an API client or a worker can take.
//!
//! Each resource has one file with `<resource>_<verb>` methods on [`Control`], each taking an
//! [`OpContext`] first. Authorisation is checked here, next to the action, never only in the UI.

pub mod account;
pub mod api_key;
pub mod audit;
pub mod bandwidth;
pub mod billing;
pub mod context;
pub mod demo;
pub mod driver;
pub mod error;
pub mod firewall;
mod form_token;
pub mod hooks;
pub mod host;
mod housekeeping;
pub mod idempotency;
pub mod invariants;
pub mod job;
pub mod links;
pub mod live;
pub mod map;
pub mod metering;
pub mod overview;
pub mod password;
pub mod probe;
pub mod reconcile;
pub mod residency;
pub mod scaling;
pub mod session_store;
pub mod ssh_key;
pub mod stack;
pub mod staff;
/// The database: private to the control plane; front doors see views, never rows. Tests reach it
/// through the `testing` feature (the test-only door).
#[cfg(feature = "testing")]
pub mod store;
#[cfg(not(feature = "testing"))]
mod store;
pub mod telemetry;
pub mod template;
#[doc(hidden)]
pub mod testing;
pub mod throttle;
pub mod user;
pub mod vdc;
pub mod vm;
pub mod vm_metrics;
pub mod worker_identity;

pub use context::{Actor, OpContext};
pub use error::Error;
pub use store::{Backend, Store, now_ms};

use driver::Driver;
use password::Passwords;
use std::sync::Arc;
use store::job::JobEvent;

/// The control plane: the store, the driver, and the services that actions share.
#[derive(Clone)]
pub struct Control {
    store: Store,
    passwords: Passwords,
    driver: Arc<dyn Driver>,
    /// Wakes idle workers when a job is queued in this process.
    jobs_queued: Arc<tokio::sync::Notify>,
    /// Every job event, for live progress (also persisted in `job_events`).
    job_events: tokio::sync::broadcast::Sender<JobEvent>,
    /// How long a job claim lasts without renewal.
    lease_ms: i64,
    /// Sales demo mode: the demo tenant and its one-click log-in exist.
    demo: bool,
    /// The master secret API key secrets are derived from (see `meridian_core::api_key`).
    api_master: Arc<[u8]>,
    /// Points where tests hold operations to force races.
    hooks: Arc<hooks::Hooks>,
    /// Whether signed CloudStack requests must carry `signatureVersion=3` and `expires`.
    cloudstack_require_expires: bool,
    /// VM changes for live streams, from this process and the others on the database.
    live: Arc<live::Live>,
    /// The secret host agents' tokens derive from; None when no agents are taken.
    agent_secret: Option<Arc<[u8]>>,
}

impl Control {
    /// Builds the control plane over an opened, migrated store and a driver, and records the
    /// driver's hosts in the inventory.
    pub async fn new(store: Store, driver: Arc<dyn Driver>) -> Result<Self, Error> {
        let passwords = Passwords::new().await?;
        store.host_sync(&driver.hosts().await).await?;
        let (job_events, _) = tokio::sync::broadcast::channel(1024);
        Ok(Self {
            store,
            passwords,
            driver,
            jobs_queued: Arc::default(),
            job_events,
            lease_ms: job::LEASE_MS,
            demo: false,
            // A fresh master secret unless the server sets its own: keys made under it stop
            // working when this process ends.
            api_master: Arc::from(rand::random::<[u8; 32]>().as_slice()),
            hooks: Arc::default(),
            cloudstack_require_expires: false,
            live: Arc::default(),
            agent_secret: None,
        })
    }

    /// Refuses signed CloudStack requests without `signatureVersion=3` and `expires` (CloudStack's
    /// own `enforce.post.requests.and.timestamps`): such a signature carries no time, so a leaked
    /// one would work for ever. Off by default, since Apache libcloud signs so.
    pub fn with_cloudstack_require_expires(mut self, require: bool) -> Self {
        self.cloudstack_require_expires = require;
        self
    }

    /// Sets the master secret API key secrets are derived from; keys made under another one are
    /// refused.
    pub fn with_api_master_secret(mut self, secret: &[u8]) -> Self {
        self.api_master = Arc::from(secret);
        self
    }

    /// Sets how long a job claim lasts without renewal (how soon a dead worker's job is taken over).
    pub fn with_job_lease_ms(mut self, lease_ms: i64) -> Self {
        self.lease_ms = lease_ms.max(100);
        self
    }

    /// Live job events from this process.
    pub fn job_events_subscribe(&self) -> tokio::sync::broadcast::Receiver<JobEvent> {
        self.job_events.subscribe()
    }

    /// The driver behind the control plane.
    pub fn driver(&self) -> &Arc<dyn Driver> {
        &self.driver
    }

    /// The points where a test can hold operations to force a race.
    pub fn hooks(&self) -> &hooks::Hooks {
        &self.hooks
    }

    /// The store: the test-only door (with the `testing` feature) to what no view shows.
    #[cfg(feature = "testing")]
    pub fn store(&self) -> &Store {
        &self.store
    }
}
