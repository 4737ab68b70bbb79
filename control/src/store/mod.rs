//! The store: one connection pool over SQLite or PostgreSQL, the same SQL on both.
//!
//! Queries use `$n` placeholders (understood by both back-ends through sqlx's `Any` driver), ids
//! are UUID text and times are Unix milliseconds, so one schema and one set of queries serve both.
//! One file per resource holds that resource's queries.

pub mod audit;
pub mod bandwidth;
pub mod firewall;
pub mod host;
pub mod invite;
pub mod job;
pub mod probe;
pub mod quota;
pub mod session;
pub mod sim;
pub mod ssh_key;
pub mod stack;
pub mod staff;
pub mod template;
pub mod tenant;
pub mod usage;
pub mod user;
pub mod vdc;
pub mod vm;

use sqlx::Executor;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, Transaction};
use std::time::Duration;

/// Set on every SQLite connection: write-ahead logging so readers never block the writer,
/// enforced foreign keys, a wait instead of an immediate "database is locked", and a 64 MiB page
/// cache (the default 2 MiB rereads the VM table's pages from the OS on every job wave).
const SQLITE_PRAGMAS: &[&str] = &[
    "PRAGMA journal_mode = WAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA cache_size = -65536",
];

/// The migrations in `migrations/`, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Which database engine the store talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default.
    Sqlite,
    /// The scale-out database.
    Postgres,
}

/// A database URL the store cannot use.
#[derive(Debug, thiserror::Error)]
#[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://USER@HOST:PORT/DB")]
pub struct UnsupportedUrl(pub String);

impl Backend {
    /// The engine a URL names.
    pub fn from_url(url: &str) -> Result<Self, UnsupportedUrl> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(UnsupportedUrl(url.to_owned()))
        }
    }
}

/// The handle to the database, cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Opens a pool. SQLite gets WAL, foreign keys and a busy timeout on every connection.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        install_default_drivers();
        let backend = Backend::from_url(url).map_err(|e| sqlx::Error::Configuration(Box::new(e)))?;
        let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        let pool = match backend {
            Backend::Sqlite => {
                options
                    .max_connections(8)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            for pragma in SQLITE_PRAGMAS {
                                conn.execute(*pragma).await?;
                            }
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?
            }
            Backend::Postgres => options.max_connections(16).connect(url).await?,
        };
        Ok(Self { pool, backend })
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        MIGRATOR.run(&self.pool).await
    }

    /// The engine behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for queries in this crate.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a write transaction. On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`) so
    /// two concurrent writers queue on the busy timeout instead of failing to upgrade a read lock.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// Checks the database answers; used by `/healthz`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }

    /// Closes every connection, waiting for in-flight queries.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Milliseconds since the Unix epoch: how the store records time.
pub fn now_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}

/// True when a database error is a UNIQUE constraint violation (on either engine).
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}

/// How many values one statement binds at most, so a multi-row statement is cut into chunks of
/// `MAX_BINDS / columns` rows. Far below SQLite's limit (32,766) and PostgreSQL's (65,535): sqlx
/// looks each `$n` up by name on SQLite, which grows with the square of the count, and the
/// create benchmark ran no faster with larger chunks.
pub(crate) const MAX_BINDS: usize = 1_000;

/// `($1, $2), ($3, $4), …`: the VALUES list of `rows` rows of `columns` placeholders each.
pub(crate) fn values_list(rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..columns {
            if column > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", row * columns + column + 1));
        }
        sql.push(')');
    }
    sql
}

/// `$first, $first+1, …`: the placeholders of an `IN (…)` list of `n` values.
pub(crate) fn in_list(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::{in_list, values_list};

    #[test]
    fn placeholder_lists_number_every_value_once_in_order() {
        assert_eq!(values_list(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(in_list(3, 3), "$3, $4, $5");
    }
}
