//! Which VMs job events concern, and PostgreSQL's notifications that carry them to every server
//! sharing the database (LISTEN on a connection of its own).

use super::{Backend, Store};
use sqlx::Row;
use uuid::Uuid;

/// The notification channel VM changes are published on.
pub(crate) const CHANNEL: &str = "meridian_vm_changes";

impl Store {
    /// The VM (target) of each of `jobs` that exists, as `(job, target)` pairs.
    pub(crate) async fn job_targets(&self, jobs: &[Uuid]) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
        let mut found = Vec::with_capacity(jobs.len());
        for chunk in jobs.chunks(super::MAX_BINDS) {
            let sql = format!(
                "SELECT id, target_id FROM jobs WHERE id IN ({})",
                super::in_list(1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for job in chunk {
                query = query.bind(job.to_string());
            }
            for row in query.fetch_all(self.pool()).await? {
                let (job, target): (String, String) = (row.try_get("id")?, row.try_get("target_id")?);
                if let (Ok(job), Ok(target)) = (job.parse(), target.parse()) {
                    found.push((job, target));
                }
            }
        }
        Ok(found)
    }

    /// Publishes `payload` on [`CHANNEL`] to every server listening (PostgreSQL; elsewhere there
    /// is no other server, and nothing is done).
    pub(crate) async fn vm_change_notify(&self, payload: &str) -> Result<(), sqlx::Error> {
        if self.backend != Backend::Postgres {
            return Ok(());
        }
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// A connection of its own listening on [`CHANNEL`] (PostgreSQL only; None elsewhere).
    pub(crate) async fn vm_change_listen(&self) -> Result<Option<sqlx::postgres::PgListener>, sqlx::Error> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let mut listener = sqlx::postgres::PgListener::connect(&self.url).await?;
        listener.listen(CHANNEL).await?;
        Ok(Some(listener))
    }
}
