//! Points where a test holds an operation on purpose, to make a race happen every time instead of
//! by luck. Nothing is set outside tests; an unset point costs one lock.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Barrier;

/// The longest a hook holds an operation: on SQLite (one writer) the second party can never
/// arrive while the first holds the write turn, so the first goes on alone after this.
const HOLD_AT_MOST: Duration = Duration::from_secs(2);

/// Test hooks; see [`crate::Control::hooks`].
#[derive(Debug, Default)]
pub struct Hooks {
    /// Held between "does this VM have a live job?" and the insert of the new one: the barrier
    /// and how many operations are still to pass it (then the hook clears itself).
    before_job_insert: Mutex<Option<(Arc<Barrier>, usize)>>,
    /// The error the next request's acting context fails with (then the hook clears itself).
    acting_failure: Mutex<Option<crate::Error>>,
}

impl Hooks {
    /// Makes the next `parties` operations on VMs wait for each other between their live-job
    /// check and their job insert (each waits at most [`HOLD_AT_MOST`]); later ones pass freely.
    pub fn hold_before_job_insert(&self, parties: usize) {
        *lock(&self.before_job_insert) = Some((Arc::new(Barrier::new(parties)), parties));
    }

    /// Makes the next request that asks who is acting (at the edge every front door shares) fail
    /// with `error`, as though the control plane had answered with it: a test sees how each front
    /// door answers each kind of error.
    pub fn fail_next_acting(&self, error: crate::Error) {
        *lock(&self.acting_failure) = Some(error);
    }

    /// The error set by [`Self::fail_next_acting`], once; None when none is set.
    pub fn acting_failure(&self) -> Option<crate::Error> {
        lock(&self.acting_failure).take()
    }

    /// Where an operation on a VM passes between its check and its insert.
    pub(crate) async fn before_job_insert(&self) {
        let barrier = {
            let mut held = lock(&self.before_job_insert);
            let barrier = held.as_ref().map(|(barrier, _)| barrier.clone());
            if let Some((_, remaining)) = held.as_mut() {
                *remaining = remaining.saturating_sub(1);
                if *remaining == 0 {
                    *held = None;
                }
            }
            barrier
        };
        if let Some(barrier) = barrier {
            // A timeout is not a failure: see HOLD_AT_MOST.
            let _ = tokio::time::timeout(HOLD_AT_MOST, barrier.wait()).await;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
