//! Who a server's job workers are, across its restarts: a stable name, so that a restarted server
//! takes back at once the jobs its killed predecessor held, instead of waiting for their leases to
//! lapse; and a guard that two live processes never share the name.

use crate::store::Backend;
use crate::{Control, Error};

/// This server's worker identity. Keep it alive as long as the workers run: on PostgreSQL it
/// holds the connection whose session lock guards the name.
#[derive(Debug)]
pub struct WorkerIdentity {
    /// What lease owners of this server start with (`NAME/BOOT/worker#cohort#`).
    pub name: String,
    /// How many live jobs of a predecessor were handed back to the queue at start.
    pub released: u64,
    _guard: Option<sqlx::AnyConnection>,
}

impl Control {
    /// Takes the worker identity `wanted` (stable across restarts, e.g. kept in the data
    /// directory) and releases the leases a dead predecessor under it still held.
    ///
    /// - SQLite: the caller holds the database file's one-server lock, so any lease at all was
    ///   held by a process that is gone: every lease is released.
    /// - PostgreSQL: a session-level advisory lock on the name, held on a connection of its own,
    ///   proves no live process has it (a killed server's session ends with its socket, and with
    ///   it the lock); then that name's leases are released. If another live process holds the
    ///   name (two servers started with one data directory), this one takes a fresh name and
    ///   releases nothing.
    pub async fn worker_identity_take(&self, wanted: &str) -> Result<WorkerIdentity, Error> {
        match self.store.backend() {
            Backend::Sqlite => {
                let released = self.store.job_leases_release("").await?;
                Ok(WorkerIdentity {
                    name: wanted.to_owned(),
                    released,
                    _guard: None,
                })
            }
            Backend::Postgres => {
                let mut guard = self.store.pool().acquire().await?.detach();
                let held: bool = sqlx::query_scalar(
                    "SELECT pg_try_advisory_lock(hashtextextended('meridian-worker:' || $1, 0))",
                )
                .bind(wanted)
                .fetch_one(&mut guard)
                .await?;
                if !held {
                    let name = format!("{wanted}-{}", uuid::Uuid::new_v4().simple());
                    tracing::warn!(worker.identity = wanted, worker.name = %name, "another live server has this worker identity; using a fresh one");
                    return Ok(WorkerIdentity {
                        name,
                        released: 0,
                        _guard: None,
                    });
                }
                let released = self.store.job_leases_release(&format!("{wanted}/")).await?;
                Ok(WorkerIdentity {
                    name: wanted.to_owned(),
                    released,
                    _guard: Some(guard),
                })
            }
        }
    }
}
