//! The data layer: sea-orm over SQLite, PostgreSQL or MySQL/MariaDB,
//! chosen by `database.url`. It does I/O and holds no rules; `desk` decides.

pub mod backup;
pub mod bulk;
pub mod contacts;
pub mod entity;
pub mod id_set;
pub mod migration;
pub mod schema;
pub mod search;
pub mod search_index;

use std::time::Duration;

use sea_orm::sqlx;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use crate::settings::DatabaseSettings;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (down, network, pool timeout).
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Db(DbErr),
    /// A row that should exist does not.
    #[error("{0} not found")]
    NotFound(String),
    /// A unique key already holds this value.
    #[error("{0} already exists")]
    Duplicate(String),
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        classify(err)
    }
}

/// Sorts a database error into "unavailable" (worth retrying, worth telling
/// the user the store is down) and the rest.
#[must_use]
pub fn classify(err: DbErr) -> StoreError {
    let text = err.to_string();
    let unavailable = matches!(err, DbErr::ConnectionAcquire(_) | DbErr::Conn(_))
        || [
            "Connection refused",
            "connection reset",
            "Broken pipe",
            "pool timed out",
            "PoolTimedOut",
            "terminating connection",
            "server closed the connection",
            "unexpected EOF",
            "Connection reset",
            "error communicating with database",
            "the connection was closed",
            "io error",
        ]
        .iter()
        .any(|needle| text.contains(needle));
    if unavailable {
        StoreError::Unavailable(text)
    } else if text.contains("UNIQUE constraint")
        || text.contains("duplicate key")
        || text.contains("Duplicate entry")
    {
        StoreError::Duplicate(text)
    } else {
        StoreError::Db(err)
    }
}

/// The connected store.
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
}

impl Store {
    /// Connects (creating the SQLite file and its folder if needed).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the server cannot be reached.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        let url = settings.url.as_str();
        if let Some(path) = sqlite_path(url).filter(|_| !url.contains("mode=memory")) {
            private_sqlite_file(std::path::Path::new(&path), url.contains("mode=rwc"))?;
        }
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.connect_timeout(settings.connect_timeout)
            .acquire_timeout(settings.connect_timeout)
            .sqlx_logging(false)
            .test_before_acquire(true);
        if url.starts_with("sqlite:") {
            let busy = settings.busy_timeout;
            let memory = url.contains(":memory:") || url.contains("mode=memory");
            // One writer at a time is SQLite's model; readers run beside it in WAL mode.
            opts.max_connections(if memory { 1 } else { 4 })
                .min_connections(1);
            opts.map_sqlx_sqlite_opts(move |o| {
                let o = o.busy_timeout(busy).foreign_keys(true);
                if memory {
                    o
                } else {
                    o.journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                        .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                }
            });
        } else {
            opts.max_connections(settings.max_connections)
                .min_connections(1);
        }
        if url.starts_with("postgres") {
            // A generic plan for `LIKE '%q%'` is far slower than a custom one; see NOTES.md.
            opts.map_sqlx_postgres_opts(|o| o.options([("plan_cache_mode", "force_custom_plan")]));
        }
        let db = Database::connect(opts).await?;
        Ok(Self { db })
    }

    /// Wraps an existing connection (benchmarks, tests).
    #[must_use]
    pub fn from_connection(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Applies pending migrations.
    ///
    /// # Errors
    /// When a migration fails.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migration::Migrator::up(&self.db, None).await?;
        Ok(())
    }

    /// The sea-orm connection.
    #[must_use]
    pub fn conn(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Which backend this is.
    #[must_use]
    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// A short name for status lines: `sqlite`, `postgres`, `mysql`.
    #[must_use]
    pub fn backend_name(&self) -> &'static str {
        match self.backend() {
            DbBackend::Postgres => "postgres",
            DbBackend::MySql => "mysql",
            _ => "sqlite",
        }
    }

    /// Begins a transaction that will write. On SQLite it takes the write
    /// lock up front (`BEGIN IMMEDIATE`), so a reader never has to upgrade
    /// and two processes wait on each other instead of failing with
    /// "database is locked".
    ///
    /// # Errors
    /// When the database is unavailable.
    pub async fn begin_write(&self) -> Result<DatabaseTransaction, StoreError> {
        let options = TransactionOptions {
            isolation_level: None,
            access_mode: None,
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        };
        Ok(self.db.begin_with_options(options).await?)
    }

    /// Whether the database answers.
    ///
    /// # Errors
    /// When it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        Ok(self.db.ping().await?)
    }
}

pub use crate::settings::sqlite_path;

/// Makes a SQLite store file owner-only ([`crate::files`]): its folder is
/// created 0700, the file itself 0600 before SQLite opens it (SQLite gives
/// the -wal and -shm files the main file's mode), and an existing file, or
/// -wal or -shm, that others can read is narrowed to 0600 with a warning.
fn private_sqlite_file(path: &std::path::Path, create: bool) -> Result<(), StoreError> {
    let unavailable = |what: &std::path::Path, e: std::io::Error| {
        StoreError::Unavailable(format!("{}: {e}", what.display()))
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::files::private_dir_all(dir).map_err(|e| unavailable(dir, e))?;
    }
    let mut companions = [path.to_owned(), path.to_owned(), path.to_owned()];
    companions[1].as_mut_os_string().push("-wal");
    companions[2].as_mut_os_string().push("-shm");
    for file in &companions {
        match crate::files::tighten_if_open(file) {
            Ok(Some(mode)) => tracing::warn!(
                file = %file.display(),
                was = %format!("{mode:04o}"),
                "the store file was readable by other accounts; its permissions are now 0600"
            ),
            Ok(None) => {}
            Err(e) => return Err(unavailable(file, e)),
        }
    }
    if create {
        crate::files::create_private(path).map_err(|e| unavailable(path, e))?;
    }
    Ok(())
}

/// A pause between retries of a write that lost a race; short and bounded.
pub const RETRY_PAUSE: Duration = Duration::from_millis(20);

/// Runs a raw statement (used by tests and migrations' helpers).
///
/// # Errors
/// On any database error.
pub async fn execute_raw(db: &impl ConnectionTrait, sql: &str) -> Result<(), StoreError> {
    db.execute_unprepared(sql).await?;
    Ok(())
}
