//! Audit log rows, and the entry an audited mutation writes in its own transaction.
//!
//! A mutation runs inside [`scoped`] with its entry pending; the first write transaction that
//! commits in that scope inserts the entry just before its `COMMIT`, so the change and its entry
//! land together or not at all (a crash between two writes lost entries). A single statement
//! written with [`WriteExt::execute_write`] inside the scope becomes such a transaction.

use super::{Store, Tx};
use meridian_core::view::AuditEntry;
use sqlx::Row;
use sqlx::any::{AnyArguments, AnyQueryResult};
use std::sync::{Arc, Mutex};

/// An audit entry waiting for the mutation's transaction.
#[derive(Debug)]
pub(crate) struct PendingAudit {
    tenant_id: String,
    row: AuditEntry,
    written: bool,
}

impl PendingAudit {
    /// An entry for `tenant_id`, not yet written.
    pub(crate) fn new(tenant_id: String, row: AuditEntry) -> Arc<Mutex<Self>> {
        Arc::new(Mutex::new(Self {
            tenant_id,
            row,
            written: false,
        }))
    }

    /// Whether a committed transaction carried the entry.
    pub(crate) fn written(pending: &Mutex<Self>) -> bool {
        lock(pending).written
    }
}

fn lock(pending: &Mutex<PendingAudit>) -> std::sync::MutexGuard<'_, PendingAudit> {
    pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

tokio::task_local! {
    static PENDING: Arc<Mutex<PendingAudit>>;
}

/// Runs `work` with `pending` as its audit entry (see the module's doc).
pub(crate) async fn scoped<F: std::future::Future>(pending: Arc<Mutex<PendingAudit>>, work: F) -> F::Output {
    PENDING.scope(pending, work).await
}

/// Whether an entry in this task's scope still waits for a transaction.
fn waiting() -> bool {
    PENDING
        .try_with(|pending| !lock(pending).written)
        .unwrap_or(false)
}

/// Inserts the scope's waiting entry into `tx` (about to commit); returns it so that the caller
/// marks it written once the commit succeeded.
pub(crate) async fn write_pending(tx: &mut Tx) -> Result<Option<Arc<Mutex<PendingAudit>>>, sqlx::Error> {
    let Ok(pending) = PENDING.try_with(Arc::clone) else {
        return Ok(None);
    };
    let (tenant_id, row) = {
        let held = lock(&pending);
        if held.written {
            return Ok(None);
        }
        (held.tenant_id.clone(), held.row.clone())
    };
    audit_insert_query(&tenant_id, &row).execute(&mut **tx).await?;
    Ok(Some(pending))
}

/// Marks an entry written after its transaction committed.
pub(crate) fn mark_written(pending: &Mutex<PendingAudit>) {
    lock(pending).written = true;
}

/// One statement that writes, run as a transaction of its own when an audited mutation's entry
/// waits (so that the entry rides on it), else simply on the writer.
pub(crate) trait WriteExt<'q>: Sized {
    /// Executes the statement.
    fn execute_write<'s>(
        self,
        store: &'s Store,
    ) -> impl std::future::Future<Output = Result<AnyQueryResult, sqlx::Error>> + Send + 's
    where
        'q: 's;
}

impl<'q> WriteExt<'q> for sqlx::query::Query<'q, sqlx::Any, AnyArguments<'q>> {
    async fn execute_write<'s>(self, store: &'s Store) -> Result<AnyQueryResult, sqlx::Error>
    where
        'q: 's,
    {
        if !waiting() {
            return self.execute(&mut *store.writer().await?).await;
        }
        let mut tx = store.begin_write().await?;
        let done = self.execute(&mut *tx).await?;
        // A statement that changed nothing (a delete of what is not there) carries no entry: the
        // mutation reports its refusal, which is recorded on its own.
        if done.rows_affected() > 0 {
            tx.commit().await?;
        }
        Ok(done)
    }
}

fn audit_insert_query<'q>(
    tenant_id: &'q str,
    row: &'q AuditEntry,
) -> sqlx::query::Query<'q, sqlx::Any, AnyArguments<'q>> {
    sqlx::query(
        "INSERT INTO audit_log (id, tenant_id, seq, at, actor, action, target, result, client, request_id) \
         SELECT $1, $2, COALESCE(MAX(seq), 0) + 1, $3, $4, $5, $6, $7, $8, $9 FROM audit_log WHERE tenant_id = $2",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(tenant_id)
    .bind(row.at)
    .bind(&row.actor)
    .bind(&row.action)
    .bind(&row.target)
    .bind(&row.result)
    .bind(&row.client)
    .bind(&row.request_id)
}

impl Store {
    /// Appends an entry on its own (a refusal, which changed nothing, or a sign-in).
    pub async fn audit_insert(&self, tenant_id: &str, row: &AuditEntry) -> Result<(), sqlx::Error> {
        audit_insert_query(tenant_id, row)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(())
    }

    /// The tenant's newest entries first.
    pub async fn audit_list(&self, tenant_id: &str, limit: i64) -> Result<Vec<AuditEntry>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT at, actor, action, target, result, client, request_id FROM audit_log \
             WHERE tenant_id = $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(tenant_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    at: row.try_get("at")?,
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    target: row.try_get("target")?,
                    result: row.try_get("result")?,
                    client: row.try_get("client")?,
                    request_id: row.try_get("request_id")?,
                })
            })
            .collect()
    }
}
