//! `keydesk backup FILE`: a consistent copy of a SQLite store while
//! consoles, `serve` and workers keep writing to it.
//!
//! SQLite's `VACUUM INTO` reads the database in one read transaction (in
//! WAL mode writers go on beside it) and writes a compact, self-contained
//! copy: no `-wal` file to forget. The copy is created owner-only first,
//! because it holds password hashes and session digests, then checked
//! with `PRAGMA quick_check`. PostgreSQL and MariaDB have their own tools
//! (docs/OPERATIONS.md).

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

use super::{Store, StoreError};

/// Why a backup was not written.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The store is not SQLite.
    #[error(
        "`keydesk backup` copies SQLite stores; this store is {0}: use pg_dump (PostgreSQL) or mariadb-dump (MariaDB) as docs/OPERATIONS.md shows"
    )]
    NotSqlite(&'static str),
    /// The target exists already (never overwritten).
    #[error("{0} exists already; choose a new file name")]
    Exists(PathBuf),
    /// The target cannot be created.
    #[error("cannot create {0}: {1}")]
    Create(PathBuf, std::io::Error),
    /// The copy failed (it was removed).
    #[error("copying the store failed: {0}")]
    Copy(StoreError),
    /// The copy did not pass SQLite's check (it was removed).
    #[error("the copy failed its integrity check: {0}")]
    Check(String),
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    /// The file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
}

/// Copies the SQLite store to `target`, which must not exist.
///
/// # Errors
/// [`BackupError`]; on any failure after the file was created, it is removed.
pub async fn sqlite(store: &Store, target: &Path) -> Result<Backup, BackupError> {
    if store.backend() != DbBackend::Sqlite {
        return Err(BackupError::NotSqlite(store.backend_name()));
    }
    // Owner-only and never over an existing file: `create_new` fails if it exists.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(target)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => BackupError::Exists(target.to_path_buf()),
            _ => BackupError::Create(target.to_path_buf(), e),
        })?;
    let result = copy_and_check(store, target).await;
    if result.is_err() {
        let _ = std::fs::remove_file(target);
    }
    result
}

async fn copy_and_check(store: &Store, target: &Path) -> Result<Backup, BackupError> {
    let absolute =
        std::path::absolute(target).map_err(|e| BackupError::Create(target.to_path_buf(), e))?;
    let name = absolute.to_string_lossy().into_owned();
    // The file name is a bound value, so no quoting can go wrong.
    store
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "VACUUM INTO ?",
            [name.clone().into()],
        ))
        .await
        .map_err(|e| BackupError::Copy(e.into()))?;
    let copy = Database::connect(format!("sqlite://{name}?mode=ro"))
        .await
        .map_err(|e| BackupError::Check(e.to_string()))?;
    let verdict = copy
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA quick_check",
        ))
        .await
        .map_err(|e| BackupError::Check(e.to_string()))?
        .and_then(|row| row.try_get_by_index::<String>(0).ok())
        .unwrap_or_default();
    let _ = copy.close().await;
    if verdict != "ok" {
        return Err(BackupError::Check(verdict));
    }
    let bytes = std::fs::metadata(&absolute).map_or(0, |m| m.len());
    Ok(Backup {
        path: absolute,
        bytes,
    })
}
