//! Meridian's control plane: every action a user, an API client or a worker can take.
//!
//! Each resource has one file with `<resource>_<verb>` methods on [`Control`], each taking an
//! [`OpContext`] first. Authorisation is checked here, next to the action, never only in the UI.

pub mod account;
pub mod context;
pub mod error;
pub mod password;
pub mod session_store;
pub mod store;
#[doc(hidden)]
pub mod testing;

pub use context::{Actor, OpContext};
pub use error::Error;
pub use store::Store;

use password::Passwords;

/// The control plane: the store plus the services that actions share.
#[derive(Clone)]
pub struct Control {
    store: Store,
    passwords: Passwords,
}

impl Control {
    /// Builds the control plane over an opened, migrated store.
    pub async fn new(store: Store) -> Result<Self, Error> {
        let passwords = Passwords::new().await?;
        Ok(Self { store, passwords })
    }

    /// The store, for wiring (sessions, health checks) and tests.
    pub fn store(&self) -> &Store {
        &self.store
    }
}
