//! One bulk load, whatever the backend: the transaction, the deferred
//! indexes (and keys), the writes and the end. `seed` and large imports
//! go through it.

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement};

use super::postgres::CopyLoad;
use super::rows::Rows;
use super::{DeferredIndexes, defer_indexes};
use crate::store::{Store, StoreError};

/// A load in progress. Dropped without [`Load::commit`], it is rolled back.
#[derive(Debug)]
#[must_use = "a load that is not committed is rolled back"]
pub enum Load {
    /// SQLite, MySQL: multi-row `INSERT`s in a sea-orm transaction.
    Insert {
        /// The load's transaction.
        txn: DatabaseTransaction,
        /// Indexes to build again before the commit.
        deferred: DeferredIndexes,
    },
    /// PostgreSQL: `COPY`.
    Copy(CopyLoad),
}

impl Load {
    /// Begins a load into `tables`, their secondary indexes (on
    /// PostgreSQL also foreign keys) dropped until [`Load::commit`].
    ///
    /// # Errors
    /// When the transaction cannot begin or an index cannot be dropped.
    pub async fn begin(store: &Store, tables: &[&str]) -> Result<Self, StoreError> {
        if store.backend() == DbBackend::Postgres {
            return Ok(Self::Copy(CopyLoad::begin(store, tables).await?));
        }
        let txn = store.begin_write().await?;
        if store.backend() == DbBackend::Sqlite {
            // Building the indexes at the end sorts in the page cache: give it room.
            txn.execute_unprepared("PRAGMA cache_size = -262144")
                .await?;
        }
        let deferred = defer_indexes(&txn, tables).await?;
        Ok(Self::Insert { txn, deferred })
    }

    /// Writes `rows` and empties them.
    ///
    /// # Errors
    /// When the database refuses a row.
    pub async fn write(&mut self, rows: &mut Rows) -> Result<(), StoreError> {
        match self {
            Self::Insert { txn, .. } => Ok(rows.flush(txn).await?),
            Self::Copy(load) => rows.copy(load).await,
        }
    }

    /// The id after the highest one in `table`, read inside the load. Ids
    /// from here on are free: the load holds the table's write lock
    /// (SQLite's write transaction; on PostgreSQL the dropped indexes).
    ///
    /// # Errors
    /// When the query fails.
    pub async fn next_id(&mut self, table: &str) -> Result<i64, StoreError> {
        let sql = format!(
            "SELECT COALESCE(MAX(id), 0) + 1 AS next FROM {}",
            super::quoted(table)
        );
        match self {
            Self::Insert { txn, .. } => {
                let backend = txn.get_database_backend();
                let row = txn
                    .query_one_raw(Statement::from_string(backend, sql))
                    .await?;
                Ok(row
                    .map(|r| r.try_get::<i64>("", "next"))
                    .transpose()?
                    .unwrap_or(1))
            }
            Self::Copy(load) => load.query_i64(&sql).await,
        }
    }

    /// A free id for one new row of `table` (not one of the load's
    /// tables) that is written at once: from its sequence on PostgreSQL,
    /// the next after the highest elsewhere (the write transaction holds
    /// the store's write lock on SQLite).
    ///
    /// # Errors
    /// When the query fails.
    pub async fn new_id(&mut self, table: &str) -> Result<i64, StoreError> {
        match self {
            Self::Copy(load) => {
                let table = table.replace('\'', "''");
                load.query_i64(&format!(
                    "SELECT nextval(pg_get_serial_sequence('{table}', 'id'))"
                ))
                .await
            }
            Self::Insert { .. } => self.next_id(table).await,
        }
    }

    /// After rows went in with explicit ids: moves PostgreSQL's sequence
    /// for `table` past them, so the next ordinary insert does not collide
    /// (SQLite and MySQL move on by themselves).
    ///
    /// # Errors
    /// When the statement fails.
    pub async fn sync_sequence(&mut self, table: &str) -> Result<(), StoreError> {
        if let Self::Copy(load) = self {
            let table = table.replace('\'', "''");
            load.execute(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 (SELECT MAX(id) FROM \"{table}\")) WHERE EXISTS (SELECT 1 FROM \"{table}\")"
            ))
            .await?;
        }
        Ok(())
    }

    /// Builds what was deferred and commits. On SQLite the WAL the load
    /// went through is then given back (at ten million contacts as much
    /// again as the store); a reader holding the WAL only delays that.
    ///
    /// # Errors
    /// When an index or key cannot be built (nothing is kept then) or the
    /// commit fails.
    pub async fn commit(self, store: &Store) -> Result<(), StoreError> {
        match self {
            Self::Copy(load) => load.commit().await,
            Self::Insert { txn, deferred } => {
                deferred.restore(&txn).await?;
                let sqlite = store.backend() == DbBackend::Sqlite;
                if sqlite {
                    // Back to SQLite's default for whoever uses this connection next.
                    txn.execute_unprepared("PRAGMA cache_size = -2000").await?;
                }
                txn.commit().await?;
                if sqlite {
                    store
                        .conn()
                        .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
                        .await?;
                }
                Ok(())
            }
        }
    }
}
