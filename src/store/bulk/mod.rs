//! Bulk loading (`seed`): secondary indexes dropped for the load and
//! built once after the rows, inside the same transaction.
//!
//! Maintaining a B-tree on a random key (the email) while millions of rows
//! go in rewrites its pages over and over; on SQLite every rewrite goes
//! through the WAL, which is how seeding ten million contacts once wrote
//! 104 GB for a 3.9 GB file. Built after the rows, each index is one sort
//! and one sequential write.
//!
//! DDL is transactional on SQLite and PostgreSQL, so the drop, the rows and
//! the re-creation commit together or not at all: a failed load leaves the
//! store, indexes included, as it was. MySQL commits DDL implicitly, so
//! there the indexes stay in place (slower, never left missing).
//!
//! On PostgreSQL a load goes through [`postgres::CopyLoad`] instead: rows
//! arrive by `COPY`, and the tables' foreign keys are dropped with the
//! indexes and added back (validated in one pass) at the end.

mod load;
pub mod postgres;
pub mod rows;

pub use load::Load;

/// The `contacts` columns a load writes, in the order its rows give them.
pub const CONTACT_COLUMNS: &[&str] = &[
    "id",
    "name",
    "email",
    "name_lower",
    "email_lower",
    "subscribed",
    "tags",
    "notes",
    "created_at",
    "updated_at",
];
/// The `grants` columns a load writes, in the order its rows give them.
pub const GRANT_COLUMNS: &[&str] = &[
    "contact_id",
    "offer_id",
    "source",
    "granted_by",
    "granted_at",
];

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement, Value};

use super::StoreError;

/// Statements that re-create the indexes dropped for a load.
#[derive(Debug, Default)]
#[must_use = "the dropped indexes come back only through `restore`"]
pub struct DeferredIndexes {
    create: Vec<String>,
}

impl DeferredIndexes {
    /// Indexes dropped.
    #[must_use]
    pub fn len(&self) -> usize {
        self.create.len()
    }

    /// Whether none were dropped.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.create.is_empty()
    }

    /// Builds the dropped indexes again, in the load's transaction.
    ///
    /// # Errors
    /// When an index cannot be built (for a unique one: duplicate rows
    /// went in; the transaction must then be rolled back).
    pub async fn restore(self, txn: &DatabaseTransaction) -> Result<(), StoreError> {
        for sql in self.create {
            txn.execute_unprepared(&sql).await?;
        }
        Ok(())
    }
}

pub(crate) fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Drops the secondary indexes of `tables` (not primary keys, not those
/// that back a constraint) inside `txn`; see [`DeferredIndexes::restore`].
///
/// # Errors
/// When the catalogue cannot be read or an index dropped.
pub async fn defer_indexes(
    txn: &DatabaseTransaction,
    tables: &[&str],
) -> Result<DeferredIndexes, StoreError> {
    let backend = txn.get_database_backend();
    let sql = match backend {
        // Indexes SQLite made for a UNIQUE or PRIMARY KEY clause have no SQL.
        DbBackend::Sqlite => {
            "SELECT name, sql AS def FROM sqlite_master WHERE type = 'index' AND tbl_name = ? \
             AND sql IS NOT NULL ORDER BY name"
        }
        DbBackend::Postgres => postgres::INDEXES,
        _ => return Ok(DeferredIndexes::default()),
    };
    let mut deferred = DeferredIndexes::default();
    for table in tables {
        let rows = txn
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [Value::from((*table).to_owned())],
            ))
            .await?;
        for row in rows {
            let name: String = row.try_get("", "name")?;
            let def: String = row.try_get("", "def")?;
            txn.execute_unprepared(&format!("DROP INDEX {}", quoted(&name)))
                .await?;
            deferred.create.push(def);
        }
    }
    Ok(deferred)
}
