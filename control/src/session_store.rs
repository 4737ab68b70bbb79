//! A tower-sessions store over Meridian's own database, so sessions survive restarts, are shared by
//! every server process, and can be ended per user (logout everywhere, password change, suspension).

use crate::store::Store;
use async_trait::async_trait;
use meridian_core::UserId;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

/// The session key under which the signed-in identity is kept.
pub const AUTH_KEY: &str = "auth";

/// The session key under which a signed-in staff member is kept (never beside [`AUTH_KEY`]).
pub const STAFF_KEY: &str = "staff";

/// What a staff session remembers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffAuth {
    /// The signed-in staff member.
    pub staff_id: meridian_core::id::StaffId,
    /// When they signed in (Unix ms), for the absolute session lifetime.
    pub signed_in_at: i64,
    /// The tenant they are inspecting, if any.
    pub inspecting: Option<Inspecting>,
}

/// A read-only inspection in progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspecting {
    /// The tenant.
    pub tenant_id: meridian_core::TenantId,
    /// Why, as recorded in the tenant's audit log.
    pub reason: String,
    /// Since when (Unix ms).
    pub since: i64,
}

/// What a session remembers about who signed in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionAuth {
    /// The signed-in user.
    pub user_id: UserId,
    /// When they signed in (Unix ms), for the absolute session lifetime.
    pub signed_in_at: i64,
}

/// The database-backed session store.
///
/// Every request saves its session, so that an idle timeout counts from the last use rather than
/// the last change; but a save that would only push the expiry a little later is skipped when
/// this process wrote the same data recently, so a busy user does not cost a write per request.
#[derive(Clone, Debug)]
pub struct DbSessionStore {
    store: Store,
    /// Session id → (hash of the data, expiry) as this process last wrote them.
    written: Arc<Mutex<HashMap<String, (u64, i64)>>>,
}

/// Sessions whose last write this process remembers, at most (then it forgets them all and
/// simply writes again).
const WRITTEN_MAX: usize = 100_000;

/// How much later an expiry may be than the stored one before it is written anyway: a tenth of
/// the session's idle time, at most a minute. The idle timeout is that much less exact.
fn refresh_slack_ms(expires_at: i64, now: i64) -> i64 {
    ((expires_at - now) / 10).clamp(0, 60_000)
}

impl DbSessionStore {
    /// A session store over `store`.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            written: Arc::default(),
        }
    }

    /// Whether writing `data` with `expires_at` for `id` would change only the expiry, and by less
    /// than the slack; otherwise remembers this write.
    fn unchanged(&self, id: &str, data: &str, expires_at: i64) -> bool {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(data);
        let mut written = self
            .written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let slack = refresh_slack_ms(expires_at, crate::store::now_ms());
        if let Some(&(previous, stored_expiry)) = written.get(id)
            && previous == hash
            && expires_at - stored_expiry < slack
        {
            return true;
        }
        if written.len() >= WRITTEN_MAX {
            written.clear();
        }
        written.insert(id.to_owned(), (hash, expires_at));
        false
    }

    /// Forgets what was written for `id` (it was deleted or its write failed).
    fn forget(&self, id: &str) {
        self.written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(id);
    }
}

fn backend(error: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

/// The user a record belongs to, lifted into its own column.
fn record_user(record: &Record) -> Option<UserId> {
    let auth = record.data.get(AUTH_KEY)?;
    serde_json::from_value::<SessionAuth>(auth.clone())
        .ok()
        .map(|auth| auth.user_id)
}

fn encode(record: &Record) -> session_store::Result<(String, String, i64)> {
    let data =
        serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))?;
    let expires_at = i64::try_from(record.expiry_date.unix_timestamp_nanos() / 1_000_000).map_err(backend)?;
    Ok((record.id.to_string(), data, expires_at))
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            let (id, data, expires_at) = encode(record)?;
            if self
                .store
                .session_insert(&id, record_user(record), &data, expires_at)
                .await
                .map_err(backend)?
            {
                return Ok(());
            }
            // A 128-bit id collided: astronomically unlikely, but never overwrite someone's session.
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let (id, data, expires_at) = encode(record)?;
        if self.unchanged(&id, &data, expires_at) {
            return Ok(());
        }
        // tower-sessions saves only a session it loaded (a new or re-keyed one is `create`d):
        // one whose row has gone since was ended meanwhile, and stays ended.
        let saved = self
            .store
            .session_update(&id, record_user(record), &data, expires_at)
            .await
            .map_err(backend);
        if !matches!(saved, Ok(true)) {
            self.forget(&id);
        }
        saved.map(|_| ())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let Some((data, expires_at)) = self
            .store
            .session_load(&id.to_string(), crate::store::now_ms())
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let data = serde_json::from_str(&data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date = OffsetDateTime::from_unix_timestamp_nanos(i128::from(expires_at) * 1_000_000)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.forget(&id.to_string());
        self.store.session_delete(&id.to_string()).await.map_err(backend)
    }
}

impl crate::Control {
    /// Who a request's session stands for. A session past its absolute lifetime (`max_age`) is
    /// ended here, and the actor is anonymous.
    pub async fn actor_from_session(
        &self,
        session: &tower_sessions::Session,
        max_age: std::time::Duration,
    ) -> Result<crate::Actor, crate::Error> {
        let store_error =
            |e: tower_sessions::session::Error| crate::Error::internal(format_args!("session: {e}"));
        let auth: Option<SessionAuth> = session.get(AUTH_KEY).await.map_err(store_error)?;
        let max_age_ms = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
        let expired = |signed_in_at: i64| crate::store::now_ms() - signed_in_at > max_age_ms;
        match auth {
            Some(auth) if expired(auth.signed_in_at) => {
                session.flush().await.map_err(store_error)?;
                return Ok(crate::Actor::Anonymous);
            }
            Some(auth) => return self.actor_for_session(auth.user_id).await,
            None => {}
        }
        let staff: Option<StaffAuth> = session.get(STAFF_KEY).await.map_err(store_error)?;
        match staff {
            Some(staff) if expired(staff.signed_in_at) => {
                session.flush().await.map_err(store_error)?;
                Ok(crate::Actor::Anonymous)
            }
            Some(staff) => self.actor_for_staff_session(&staff).await,
            None => Ok(crate::Actor::Anonymous),
        }
    }

    /// Who the session `session_id` stands for now, read from the store rather than from a
    /// request (for a long-lived stream re-checking its session): anonymous once the session is
    /// ended (logout, password change, suspension), expired, or past `max_age` since log-in, or
    /// once its user or staff member is removed. Cheap on SQLite, where sessions and users are
    /// remembered in the process until something changes.
    pub async fn session_actor(
        &self,
        session_id: &str,
        max_age: std::time::Duration,
    ) -> Result<crate::Actor, crate::Error> {
        let now = crate::store::now_ms();
        let Some((data, _)) = self.store.session_load(session_id, now).await? else {
            return Ok(crate::Actor::Anonymous);
        };
        let data: HashMap<String, serde_json::Value> =
            serde_json::from_str(&data).map_err(crate::Error::internal)?;
        let field = |key: &str| data.get(key).cloned();
        let max_age_ms = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
        let fresh = |signed_in_at: i64| now - signed_in_at <= max_age_ms;
        if let Some(auth) = field(AUTH_KEY).and_then(|v| serde_json::from_value::<SessionAuth>(v).ok()) {
            if !fresh(auth.signed_in_at) {
                return Ok(crate::Actor::Anonymous);
            }
            return self.actor_for_session(auth.user_id).await;
        }
        match field(STAFF_KEY).and_then(|v| serde_json::from_value::<StaffAuth>(v).ok()) {
            Some(staff) if fresh(staff.signed_in_at) => self.actor_for_staff_session(&staff).await,
            _ => Ok(crate::Actor::Anonymous),
        }
    }
}
