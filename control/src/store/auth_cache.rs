//! What every signed-in request reads first (its session row, then its user and whether the
//! user's tenant is active), kept in memory when this process is the database's only writer.
//!
//! On SQLite every write goes through this process (`Store::writer`), so the memory can be exact:
//! each write that could change an answer — a session saved or ended, a user's role changed or
//! removed, a tenant suspended, unsuspended or deleted — bumps an epoch after it is committed, and
//! an answer remembered under an older epoch is read again. (An answer is remembered under the
//! epoch read *before* the database was, so a change racing with the read only makes it stale at
//! once.) On PostgreSQL other processes write too, so nothing is remembered.

use super::user::UserRow;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Entries per map at most; past that the map starts afresh.
const ENTRIES_MAX: usize = 100_000;

/// The remembered answers and the epoch they hold for.
#[derive(Debug, Default)]
pub(crate) struct AuthCache {
    enabled: bool,
    epoch: AtomicU64,
    sessions: Mutex<HashMap<String, (String, i64, u64)>>,
    users: Mutex<HashMap<String, (UserRow, bool, u64)>>,
}

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl AuthCache {
    /// A cache that remembers only when `enabled` (this process is the only writer).
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            ..Self::default()
        }
    }

    /// The epoch to remember a read under: take it before reading the database.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Something an answer depends on changed (call after the change is committed).
    pub(crate) fn changed(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// A session's data and expiry, if remembered for this epoch and not expired at `now`.
    pub(crate) fn session(&self, id: &str, now: i64) -> Option<(String, i64)> {
        if !self.enabled {
            return None;
        }
        let epoch = self.epoch();
        locked(&self.sessions)
            .get(id)
            .filter(|(_, expires_at, at)| *at == epoch && *expires_at > now)
            .map(|(data, expires_at, _)| (data.clone(), *expires_at))
    }

    /// Remembers a session read or written under `epoch`.
    pub(crate) fn session_keep(&self, id: &str, data: &str, expires_at: i64, epoch: u64) {
        if self.enabled {
            let mut sessions = locked(&self.sessions);
            if sessions.len() >= ENTRIES_MAX {
                sessions.clear();
            }
            sessions.insert(id.to_owned(), (data.to_owned(), expires_at, epoch));
        }
    }

    /// A user and whether their tenant is active, if remembered for this epoch.
    pub(crate) fn user(&self, id: &str) -> Option<(UserRow, bool)> {
        if !self.enabled {
            return None;
        }
        let epoch = self.epoch();
        locked(&self.users)
            .get(id)
            .filter(|(.., at)| *at == epoch)
            .map(|(user, active, _)| (user.clone(), *active))
    }

    /// Remembers a user read under `epoch`.
    pub(crate) fn user_keep(&self, user: &UserRow, active: bool, epoch: u64) {
        if self.enabled {
            let mut users = locked(&self.users);
            if users.len() >= ENTRIES_MAX {
                users.clear();
            }
            users.insert(user.id.to_string(), (user.clone(), active, epoch));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_holds_until_anything_changes_and_only_when_enabled() {
        let cache = AuthCache::new(true);
        let epoch = cache.epoch();
        cache.session_keep("s1", "{}", 1_000, epoch);
        assert_eq!(cache.session("s1", 999), Some(("{}".into(), 1_000)));
        assert_eq!(cache.session("s1", 1_000), None, "expired");
        cache.changed();
        assert_eq!(cache.session("s1", 0), None, "read before the change");
        // Kept under the epoch read before a change that raced with the read: stale at once.
        cache.session_keep("s2", "{}", 1_000, epoch);
        assert_eq!(cache.session("s2", 0), None);

        let off = AuthCache::new(false);
        off.session_keep("s1", "{}", 1_000, off.epoch());
        assert_eq!(off.session("s1", 0), None);
    }
}
