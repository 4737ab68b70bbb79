//! Housekeeping every server runs: forgetting what has expired, and answering health checks.

use crate::session_store::DbSessionStore;
use crate::store::now_ms;
use crate::{Control, Error};

impl Control {
    /// Deletes expired sessions, day-old idempotency keys, expired CloudStack signatures and
    /// throttled log-in attempts older than every window. Each sweep is logged with what it
    /// removed; one that fails is logged and the others still run.
    pub async fn expired_sweep(&self) {
        let now = now_ms();
        match self.store.session_delete_expired(now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions.deleted = n, "expired sessions deleted"),
            Err(error) => tracing::warn!(error.detail = %error, "expired-session sweep failed"),
        }
        match self.store.idempotency_delete_expired(now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(idempotency_keys.deleted = n, "day-old idempotency keys forgotten"),
            Err(error) => tracing::warn!(error.detail = %error, "idempotency-key sweep failed"),
        }
        match self.store.cloudstack_signature_delete_expired(now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                cloudstack_signatures.deleted = n,
                "expired CloudStack signatures forgotten"
            ),
            Err(error) => tracing::warn!(error.detail = %error, "CloudStack signature sweep failed"),
        }
        let before = now - meridian_core::throttle::LONGEST_WINDOW_MS;
        match self.store.login_attempt_delete_expired(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                login_attempts.deleted = n,
                "throttled attempts past every window forgotten"
            ),
            Err(error) => tracing::warn!(error.detail = %error, "throttled-attempt sweep failed"),
        }
    }

    /// Whether the database answers (health and readiness checks).
    pub async fn database_ping(&self) -> Result<(), Error> {
        Ok(self.store.ping().await?)
    }

    /// The session store the HTTP session layer keeps sessions in (the same database).
    pub fn session_store(&self) -> DbSessionStore {
        DbSessionStore::new(self.store.clone())
    }
}
