//! Rows waiting to be written: as multi-row `INSERT`s sized to each
//! backend's limit on bound parameters (SQLite, MySQL), or as `COPY` text
//! (PostgreSQL, see [`crate::store::bulk::postgres`]).
//!
//! Values are always bound or escaped, never spliced into the SQL text.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

use super::postgres::{CopyLoad, UnsupportedValue, encode_row};
use crate::store::StoreError;

/// Rows of one table waiting to be written.
#[derive(Debug)]
pub struct Rows {
    table: &'static str,
    columns: &'static [&'static str],
    values: Vec<Value>,
    /// The rows as `COPY` text, once [`Rows::encode_copy`] made it.
    copy: Vec<u8>,
}

impl Rows {
    /// No rows yet for `columns` of `table`.
    #[must_use]
    pub fn new(table: &'static str, columns: &'static [&'static str]) -> Self {
        Self {
            table,
            columns,
            values: Vec::new(),
            copy: Vec::new(),
        }
    }

    /// Adds one row; `row` has one value per column.
    pub fn push(&mut self, row: impl IntoIterator<Item = Value>) {
        let before = self.values.len();
        self.values.extend(row);
        debug_assert_eq!(self.values.len() - before, self.columns.len());
    }

    /// Rows waiting (not yet encoded or written).
    #[must_use]
    pub fn len(&self) -> usize {
        self.values.len() / self.columns.len().max(1)
    }

    /// Whether no row is waiting.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.values.is_empty() && self.copy.is_empty()
    }

    /// Writes the rows with multi-row `INSERT`s and empties the buffer.
    ///
    /// # Errors
    /// When the database refuses a statement.
    pub async fn flush(&mut self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        let backend = db.get_database_backend();
        let per_statement = (max_params(backend) / self.columns.len()).clamp(1, 5_000);
        let values = std::mem::take(&mut self.values);
        let mut rows = values.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<Value> = rows
                .by_ref()
                .take(per_statement * self.columns.len())
                .collect();
            let sql = self.sql(backend, chunk.len() / self.columns.len());
            db.execute_raw(Statement::from_sql_and_values(backend, sql, chunk))
                .await?;
        }
        Ok(())
    }

    /// Turns the rows into `COPY` text (a seed does it on the generating
    /// thread, so the writer only sends bytes).
    ///
    /// # Errors
    /// [`UnsupportedValue`] for a value type `COPY` text does not carry here.
    pub fn encode_copy(&mut self) -> Result<(), UnsupportedValue> {
        let values = std::mem::take(&mut self.values);
        self.copy.reserve(values.len() * 16);
        for row in values.chunks(self.columns.len()) {
            encode_row(&mut self.copy, row)?;
        }
        Ok(())
    }

    /// Writes the rows by `COPY`, encoding any not encoded yet, and
    /// empties the buffer.
    ///
    /// # Errors
    /// When a value cannot be encoded or the server refuses a row.
    pub async fn copy(&mut self, load: &mut CopyLoad) -> Result<(), StoreError> {
        self.encode_copy()
            .map_err(|e| StoreError::Db(sea_orm::DbErr::Custom(e.to_string())))?;
        let data = std::mem::take(&mut self.copy);
        load.copy(self.table, self.columns, &data).await?;
        Ok(())
    }

    fn sql(&self, backend: DbBackend, rows: usize) -> String {
        let quote = |name: &str| match backend {
            DbBackend::MySql => format!("`{name}`"),
            _ => format!("\"{name}\""),
        };
        let cols = self.columns.len();
        let mut sql = format!(
            "INSERT INTO {} ({}) VALUES ",
            quote(self.table),
            self.columns
                .iter()
                .map(|c| quote(c))
                .collect::<Vec<_>>()
                .join(", ")
        );
        sql.reserve(rows * cols * 5);
        let mut n = 0;
        for row in 0..rows {
            if row > 0 {
                sql.push(',');
            }
            sql.push('(');
            for col in 0..cols {
                if col > 0 {
                    sql.push(',');
                }
                n += 1;
                match backend {
                    DbBackend::Postgres => {
                        sql.push('$');
                        sql.push_str(&n.to_string());
                    }
                    _ => sql.push('?'),
                }
            }
            sql.push(')');
        }
        sql
    }
}

/// Bound parameters one statement may carry.
fn max_params(backend: DbBackend) -> usize {
    match backend {
        // SQLITE_MAX_VARIABLE_NUMBER since SQLite 3.32.
        DbBackend::Sqlite => 32_766,
        // Both count parameters in 16 bits.
        _ => 65_535,
    }
}
