//! Bulk loading into PostgreSQL: `COPY ... FROM STDIN` on one connection,
//! in one transaction, with the tables' secondary indexes and foreign keys
//! dropped for the load and put back once at the end.
//!
//! Measured at a million seeded contacts on this 2-core machine, the
//! server is the bottleneck: multi-row `INSERT`s of bound values cost it
//! 52 s (parsing and binding 65,535-parameter statements, then one
//! foreign-key lookup per grant and account); `COPY` with the keys checked
//! afterwards costs it about 10 s. A foreign key added back is validated in
//! one pass over the table, so the loaded rows are checked all the same.
//!
//! sea-orm has no `COPY`, so this one place talks to the connection pool
//! under it (sqlx). Dropping a transaction that was not committed rolls it
//! back: a failed load leaves the store, its indexes and keys as they were.

use std::sync::Arc;

use sea_orm::sqlx::{self, AssertSqlSafe, Postgres, Row, Transaction};
use sea_orm::{DbBackend, DbErr, RuntimeErr, Value};

use super::quoted;
use crate::store::{Store, StoreError, classify};

/// Secondary indexes of a table (`$1`), without those that back a
/// constraint (primary keys, `UNIQUE` constraints): name and definition.
pub(super) const INDEXES: &str = "SELECT i.indexname AS name, i.indexdef AS def FROM pg_indexes i \
     WHERE i.schemaname = current_schema() AND i.tablename = $1 AND NOT EXISTS \
     (SELECT 1 FROM pg_constraint c WHERE c.conindid = \
     (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass) \
     ORDER BY i.indexname";

/// Foreign keys declared on a table (`$1`): name and definition.
const FOREIGN_KEYS: &str = "SELECT c.conname AS name, pg_get_constraintdef(c.oid) AS def \
     FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
     JOIN pg_namespace n ON n.oid = t.relnamespace \
     WHERE n.nspname = current_schema() AND t.relname = $1 AND c.contype = 'f' \
     ORDER BY c.conname";

fn db_err(err: sqlx::Error) -> StoreError {
    classify(DbErr::Exec(RuntimeErr::SqlxError(Arc::new(err))))
}

/// A load in progress: one transaction on one pooled connection.
#[must_use = "a load that is not committed is rolled back"]
pub struct CopyLoad {
    txn: Transaction<'static, Postgres>,
    /// `CREATE INDEX` statements, then `ALTER TABLE ... ADD CONSTRAINT`.
    restore: Vec<String>,
}

impl std::fmt::Debug for CopyLoad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyLoad")
            .field("restore", &self.restore.len())
            .finish_non_exhaustive()
    }
}

impl CopyLoad {
    /// Begins a load into `tables` of a PostgreSQL store: drops their
    /// secondary indexes and foreign keys inside a new transaction.
    ///
    /// # Errors
    /// When the store is not PostgreSQL, or the catalogue cannot be read
    /// or an index or key dropped.
    pub async fn begin(store: &Store, tables: &[&str]) -> Result<Self, StoreError> {
        if store.backend() != DbBackend::Postgres {
            return Err(StoreError::Db(DbErr::Custom(
                "COPY loads need a PostgreSQL store".into(),
            )));
        }
        let pool = store.conn().get_postgres_connection_pool();
        let mut txn = pool.begin().await.map_err(db_err)?;
        let mut indexes = Vec::new();
        let mut keys = Vec::new();
        for table in tables {
            let quoted_table = quoted(table);
            for (name, def) in catalogue(&mut txn, FOREIGN_KEYS, table).await? {
                let name = quoted(&name);
                run(
                    &mut txn,
                    format!("ALTER TABLE {quoted_table} DROP CONSTRAINT {name}"),
                )
                .await?;
                keys.push(format!(
                    "ALTER TABLE {quoted_table} ADD CONSTRAINT {name} {def}"
                ));
            }
            for (name, def) in catalogue(&mut txn, INDEXES, table).await? {
                run(&mut txn, format!("DROP INDEX {}", quoted(&name))).await?;
                indexes.push(def);
            }
        }
        indexes.extend(keys);
        Ok(Self {
            txn,
            restore: indexes,
        })
    }

    /// Secondary indexes and foreign keys dropped for the load.
    #[must_use]
    pub fn deferred(&self) -> usize {
        self.restore.len()
    }

    /// Appends rows to `table`: `data` is `COPY` text, one line per row
    /// with `columns` in order (see [`encode_row`]).
    ///
    /// # Errors
    /// When the server refuses a row or the connection fails.
    pub async fn copy(
        &mut self,
        table: &str,
        columns: &[&str],
        data: &[u8],
    ) -> Result<u64, StoreError> {
        if data.is_empty() {
            return Ok(0);
        }
        let columns: Vec<String> = columns.iter().map(|c| quoted(c)).collect();
        let statement = format!("COPY {} ({}) FROM STDIN", quoted(table), columns.join(", "));
        let mut copy = self.txn.copy_in_raw(&statement).await.map_err(db_err)?;
        if let Err(err) = copy.send(data).await {
            // Ends the COPY so the connection is usable to roll back.
            let _ = copy.abort("the load failed").await;
            return Err(db_err(err));
        }
        copy.finish().await.map_err(db_err)
    }

    /// Runs one statement inside the load's transaction.
    ///
    /// # Errors
    /// When the statement fails.
    pub async fn execute(&mut self, sql: &str) -> Result<(), StoreError> {
        run(&mut self.txn, sql.to_owned()).await
    }

    /// Runs one query that returns one `bigint` (the first column of the
    /// first row) inside the load's transaction.
    ///
    /// # Errors
    /// When the query fails or returns no row.
    pub async fn query_i64(&mut self, sql: &str) -> Result<i64, StoreError> {
        let row = sqlx::query(AssertSqlSafe(sql.to_owned()))
            .fetch_one(&mut *self.txn)
            .await
            .map_err(db_err)?;
        row.try_get::<i64, _>(0).map_err(db_err)
    }

    /// Builds the indexes, adds the foreign keys back (validating every
    /// loaded row) and commits.
    ///
    /// # Errors
    /// When an index or key cannot be built (duplicates, a dangling
    /// reference: nothing is kept then) or the commit fails.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        for sql in std::mem::take(&mut self.restore) {
            self.execute(&sql).await?;
        }
        self.txn.commit().await.map_err(db_err)
    }
}

/// Names and definitions the catalogue query `sql` lists for `table`.
async fn catalogue(
    txn: &mut Transaction<'static, Postgres>,
    sql: &'static str,
    table: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows = sqlx::query(sql)
        .bind(table)
        .fetch_all(&mut **txn)
        .await
        .map_err(db_err)?;
    rows.iter()
        .map(|row| Ok((row.try_get("name")?, row.try_get("def")?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(db_err)
}

/// Runs one statement without parameters.
async fn run(txn: &mut Transaction<'static, Postgres>, sql: String) -> Result<(), StoreError> {
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&mut **txn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// A value `COPY` text cannot carry here (none of the loaders make one).
#[derive(Debug, thiserror::Error)]
#[error("a {0} value cannot go into a COPY load")]
pub struct UnsupportedValue(&'static str);

/// Appends one row in `COPY` text format: tab-separated, `\N` for NULL,
/// backslash escapes for the characters that would end a field or a row.
///
/// # Errors
/// [`UnsupportedValue`] for a value type no loader uses.
pub fn encode_row(out: &mut Vec<u8>, row: &[Value]) -> Result<(), UnsupportedValue> {
    use std::io::Write as _;
    for (at, value) in row.iter().enumerate() {
        if at > 0 {
            out.push(b'\t');
        }
        match value {
            Value::Bool(None)
            | Value::Int(None)
            | Value::BigInt(None)
            | Value::String(None)
            | Value::ChronoDateTimeUtc(None) => out.extend_from_slice(b"\\N"),
            Value::Bool(Some(b)) => out.push(if *b { b't' } else { b'f' }),
            // Writing to a Vec cannot fail.
            Value::Int(Some(n)) => {
                let _ = write!(out, "{n}");
            }
            Value::BigInt(Some(n)) => {
                let _ = write!(out, "{n}");
            }
            Value::String(Some(s)) => escape(out, s),
            Value::ChronoDateTimeUtc(Some(at)) => {
                // Microseconds: what timestamptz keeps.
                let _ = write!(out, "{}", at.format("%Y-%m-%d %H:%M:%S%.6f+00"));
            }
            _ => return Err(UnsupportedValue("non-text")),
        }
    }
    out.push(b'\n');
    Ok(())
}

fn escape(out: &mut Vec<u8>, text: &str) {
    for &byte in text.as_bytes() {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(byte),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn rows_are_tab_separated_with_nulls_and_escapes() {
        let at = Utc
            .with_ymd_and_hms(2026, 12, 4, 5, 6, 7)
            .single()
            .expect("valid time");
        let mut out = Vec::new();
        encode_row(
            &mut out,
            &[
                Value::BigInt(Some(-42)),
                Value::String(Some("tab\there\\ new\nline\rÅsa".into())),
                Value::Bool(Some(true)),
                Value::Int(None),
                Value::ChronoDateTimeUtc(Some(at)),
            ],
        )
        .expect("encodable");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "-42\ttab\\there\\\\ new\\nline\\rÅsa\tt\t\\N\t2026-12-04 05:06:07.000000+00\n"
        );
    }

    #[test]
    fn a_value_no_loader_makes_is_refused() {
        let mut out = Vec::new();
        assert!(encode_row(&mut out, &[Value::Double(Some(1.5))]).is_err());
    }
}
