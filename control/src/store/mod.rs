//! The store: one connection pool over SQLite or PostgreSQL, the same SQL on both.
//!
//! Queries use `$n` placeholders (understood by both back-ends through sqlx's `Any` driver), ids
//! are UUID text and times are Unix milliseconds, so one schema and one set of queries serve both.
//! One file per resource holds that resource's queries.

pub mod api_key;
pub mod audit;
mod auth_cache;
pub mod bandwidth;
pub mod cloudstack_signature;
pub mod firewall;
pub mod host;
pub mod idempotency;
pub mod invite;
pub mod job;
pub mod login_attempt;
pub mod meter;
pub mod probe;
pub mod quota;
pub mod scaling_group;
pub mod session;
pub mod ssh_key;
pub mod stack;
pub mod staff;
pub mod template;
pub mod tenant;
pub mod usage;
pub mod user;
pub mod vdc;
pub mod vm;
pub mod vm_change;
pub mod vm_sample;

use sqlx::Executor;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection as _, Transaction};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// Set on every SQLite connection: enforced foreign keys, a wait instead of an immediate
/// "database is locked", and a 64 MiB page cache (the default 2 MiB rereads the VM table's pages
/// from the OS on every job wave). Write-ahead logging, so that readers never block the writer,
/// is set once by the writer: it stays with the file, and a reader asking for it would wait for
/// the write lock (and deadlock with a writer waiting for that reader's connection).
const SQLITE_PRAGMAS: &[&str] = &[
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA cache_size = -65536",
];

/// How long a write waits for its turn before it fails (writes take milliseconds).
const WRITE_WAIT: Duration = Duration::from_secs(10);

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
            // Reads and writes use separate connections, which would see separate in-memory
            // databases.
            if url.contains(":memory:") || url.contains("mode=memory") {
                return Err(UnsupportedUrl(url.to_owned()));
            }
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
    /// Reads, and on PostgreSQL writes too.
    pool: AnyPool,
    /// On SQLite, the one connection every write goes through, taken in turn (first come,
    /// first served) by locking it. Writers then queue in order in the process instead of
    /// racing for SQLite's write lock, whose busy handler is not first come, first served (a
    /// waiting writer sleeps and retries; a newcomer may take the lock meanwhile). The lock is
    /// tokio's mutex: fair, and a waiter that gives up loses nothing.
    writer: Option<Arc<Mutex<AnyConnection>>>,
    backend: Backend,
    /// Sessions and acting users remembered while nothing they depend on changes (SQLite only).
    auth: Arc<auth_cache::AuthCache>,
    /// The URL it was opened with, for connections of their own (PostgreSQL's LISTEN).
    url: Arc<str>,
}

/// A transaction: on SQLite's writer (holding the turn to write until it ends) or from the pool.
/// Dereferences to the connection, so statements run on `&mut **tx` like on any transaction.
pub struct Tx(TxKind, TxUse);

/// What a transaction is for: only one that writes carries a waiting audit entry.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TxUse {
    Write,
    Read,
}

enum TxKind {
    /// A pooled transaction (every PostgreSQL transaction, and SQLite's read-only ones).
    Pooled(Option<Transaction<'static, Any>>),
    /// SQLite's writer, inside `BEGIN IMMEDIATE`; None once committed.
    Writer(Option<OwnedMutexGuard<AnyConnection>>),
}

impl Tx {
    /// Commits. If committing fails (or is abandoned half-way), the transaction is rolled back.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        // An audited mutation's entry rides on its first write transaction.
        let audit = match self.1 {
            TxUse::Write => audit::write_pending(&mut self).await?,
            TxUse::Read => None,
        };
        self.commit_inner().await?;
        if let Some(pending) = audit {
            audit::mark_written(&pending);
        }
        Ok(())
    }

    async fn commit_inner(&mut self) -> Result<(), sqlx::Error> {
        match &mut self.0 {
            TxKind::Pooled(tx) => match tx.take() {
                Some(tx) => tx.commit().await,
                None => Ok(()),
            },
            TxKind::Writer(conn) => {
                let Some(open) = conn.as_mut() else {
                    return Ok(());
                };
                open.execute("COMMIT").await?;
                // Committed: dropping the guard gives the turn to the next writer.
                conn.take();
                Ok(())
            }
        }
    }
}

impl std::ops::Deref for Tx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match &self.0 {
            TxKind::Pooled(Some(tx)) => tx,
            TxKind::Writer(Some(conn)) => conn,
            _ => unreachable!("a transaction is used after it ended"),
        }
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match &mut self.0 {
            TxKind::Pooled(Some(tx)) => tx,
            TxKind::Writer(Some(conn)) => conn,
            _ => unreachable!("a transaction is used after it ended"),
        }
    }
}

impl Drop for Tx {
    /// An uncommitted writer transaction (an error, a cancelled request) is rolled back before
    /// the next writer gets the connection. (sqlx rolls pooled ones back itself.)
    fn drop(&mut self) {
        if let TxKind::Writer(conn) = &mut self.0
            && let Some(mut conn) = conn.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                if let Err(error) = conn.execute("ROLLBACK").await {
                    tracing::error!(error.detail = %error, "rolling back an abandoned write failed");
                }
            });
        }
    }
}

/// The connection for one statement that writes outside a transaction: SQLite's writer (with the
/// turn to write) or a pooled one.
pub enum WriteConn {
    /// From the pool (PostgreSQL).
    Pooled(PoolConnection<Any>),
    /// SQLite's writer.
    Writer(OwnedMutexGuard<AnyConnection>),
}

impl std::ops::Deref for WriteConn {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match self {
            WriteConn::Pooled(conn) => conn,
            WriteConn::Writer(conn) => conn,
        }
    }
}

impl std::ops::DerefMut for WriteConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            WriteConn::Pooled(conn) => conn,
            WriteConn::Writer(conn) => conn,
        }
    }
}

impl Store {
    /// Opens a pool. SQLite gets WAL, foreign keys and a busy timeout on every connection.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        install_default_drivers();
        let backend = Backend::from_url(url).map_err(|e| sqlx::Error::Configuration(Box::new(e)))?;
        let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        let (pool, writer) = match backend {
            Backend::Sqlite => {
                // The writer first: it creates the file and turns on WAL before readers open it.
                let mut writer = AnyConnection::connect(url).await?;
                writer.execute("PRAGMA journal_mode = WAL").await?;
                for pragma in SQLITE_PRAGMAS {
                    writer.execute(*pragma).await?;
                }
                let pool = options
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
                    .await?;
                (pool, Some(Arc::new(Mutex::new(writer))))
            }
            Backend::Postgres => (options.max_connections(16).connect(url).await?, None),
        };
        Ok(Self {
            pool,
            writer,
            backend,
            // One process writes SQLite; PostgreSQL is shared by several.
            auth: Arc::new(auth_cache::AuthCache::new(backend == Backend::Sqlite)),
            url: Arc::from(url),
        })
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match &self.writer {
            Some(writer) => MIGRATOR.run(&mut *writer.lock().await).await,
            None => MIGRATOR.run(&self.pool).await,
        }
    }

    /// The engine behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for queries in this crate.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Waits for SQLite's writer, first come first served; a wait past [`WRITE_WAIT`] is an
    /// error, like a pool's acquire timeout, rather than a hang.
    async fn writer_turn(
        writer: &Arc<Mutex<AnyConnection>>,
    ) -> Result<OwnedMutexGuard<AnyConnection>, sqlx::Error> {
        tokio::time::timeout(WRITE_WAIT, Arc::clone(writer).lock_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)
    }

    /// The connection for one statement that writes outside a transaction.
    pub(crate) async fn writer(&self) -> Result<WriteConn, sqlx::Error> {
        Ok(match &self.writer {
            Some(writer) => WriteConn::Writer(Self::writer_turn(writer).await?),
            None => WriteConn::Pooled(self.pool.acquire().await?),
        })
    }

    /// Starts a write transaction. On SQLite it waits for the turn to write and takes the write
    /// lock up front (`BEGIN IMMEDIATE`): another process on the same file (a CLI command) then
    /// waits on the busy timeout instead of failing to upgrade a read lock.
    pub(crate) async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        match &self.writer {
            Some(writer) => {
                let mut conn = Self::writer_turn(writer).await?;
                conn.execute("BEGIN IMMEDIATE").await?;
                Ok(Tx(TxKind::Writer(Some(conn)), TxUse::Write))
            }
            None => Ok(Tx(TxKind::Pooled(Some(self.pool.begin().await?)), TxUse::Write)),
        }
    }

    /// Starts a transaction that only reads: one consistent view, from the pool.
    pub(crate) async fn begin_read(&self) -> Result<Tx, sqlx::Error> {
        Ok(Tx(TxKind::Pooled(Some(self.pool.begin().await?)), TxUse::Read))
    }

    /// Checks the database answers; used by `/healthz`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }

    /// Closes every connection, waiting for in-flight queries.
    pub async fn close(&self) {
        self.pool.close().await;
        if let Some(writer) = &self.writer {
            // Waits for the writer's turn; the connection closes when the last handle goes.
            drop(writer.lock().await);
        }
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

/// Whether the database gave up on the transaction to settle a conflict with another one
/// (PostgreSQL's deadlock_detected 40P01 and serialization_failure 40001): nothing it did stays,
/// and running it again may succeed.
pub(crate) fn is_retryable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("40001" | "40P01")),
        _ => false,
    }
}

/// How many values one statement binds at most, so a multi-row statement is cut into chunks of
/// `MAX_BINDS / columns` rows. Far below SQLite's limit (32,766) and PostgreSQL's (65,535); the
/// bulk inserts mark their values with [`Marks::of`] the database, so SQLite binds them in a
/// straight line (with `$n` it grows with the square of the count).
pub(crate) const MAX_BINDS: usize = 1_000;

/// `($1, $2), ($3, $4), …`: the VALUES list of `rows` rows of `columns` placeholders each.
pub(crate) fn values_list(rows: usize, columns: usize) -> String {
    Marks::NUMBERED.values(1, rows, columns)
}

/// `$first, $first+1, …`: the placeholders of an `IN (…)` list of `n` values.
pub(crate) fn in_list(first: usize, n: usize) -> String {
    Marks::NUMBERED.list(first, n)
}

/// How a statement marks the places of its values, chosen for the transaction's database:
/// PostgreSQL's numbered `$n`, or SQLite's anonymous `?`, which it binds in order. sqlx finds
/// each `$n` of a SQLite statement by its name in a list, so binding a statement's values there
/// grows with the square of their count (at 126 values a statement it was 12 % of a metering
/// tick's CPU); anonymous marks bind in a straight line, so a statement can carry thousands.
/// A statement uses one kind throughout: numbered marks after anonymous ones would not line up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Marks {
    anonymous: bool,
}

impl Marks {
    /// `$1`, `$2`, …
    pub const NUMBERED: Marks = Marks { anonymous: false };

    /// The marks `tx`'s database binds quickest.
    pub fn of(tx: &Tx) -> Self {
        Self {
            anonymous: tx.backend_name() != "PostgreSQL",
        }
    }

    /// The marks `backend` binds quickest.
    pub fn of_backend(backend: Backend) -> Self {
        Self {
            anonymous: backend == Backend::Sqlite,
        }
    }

    /// The VALUES list of `rows` rows of `columns` values each, numbered from `first`.
    pub fn values(self, first: usize, rows: usize, columns: usize) -> String {
        let mut sql = String::with_capacity(rows * (columns * 6 + 2));
        for row in 0..rows {
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            sql.push_str(&self.list(first + row * columns, columns));
            sql.push(')');
        }
        sql
    }

    /// `n` values separated by commas, numbered from `first`.
    pub fn list(self, first: usize, n: usize) -> String {
        let mut sql = String::with_capacity(n * 6);
        for i in first..first + n {
            if i > first {
                sql.push_str(", ");
            }
            if self.anonymous {
                sql.push('?');
            } else {
                sql.push('$');
                sql.push_str(&i.to_string());
            }
        }
        sql
    }
}

#[cfg(test)]
mod tests {
    use super::{Marks, in_list, values_list};

    #[test]
    fn placeholder_lists_number_every_value_once_in_order() {
        assert_eq!(values_list(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(in_list(3, 3), "$3, $4, $5");
        assert_eq!(Marks::NUMBERED.values(4, 2, 2), "($4, $5), ($6, $7)");
        let anonymous = Marks { anonymous: true };
        assert_eq!(anonymous.values(4, 2, 2), "(?, ?), (?, ?)");
        assert_eq!(anonymous.list(1, 3), "?, ?, ?");
    }
}

/// A stored id as its typed id. Ids are written by the control plane from typed ids, so a stored
/// one that does not parse is a corrupted row: it reads as the nil id (which matches nothing),
/// and the corruption is logged rather than failing the whole list it is in.
pub(crate) fn id_of<T: std::str::FromStr + From<uuid::Uuid>>(stored: &str) -> T {
    stored.parse().unwrap_or_else(|_| {
        tracing::error!(id = %stored.chars().take(64).collect::<String>(), "stored id is not a uuid");
        T::from(uuid::Uuid::nil())
    })
}
