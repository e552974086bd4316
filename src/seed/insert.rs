//! Rows waiting to be written: as multi-row `INSERT`s sized to each
//! backend's limit on bound parameters (SQLite, MySQL), or as `COPY` text
//! (PostgreSQL, see [`crate::store::bulk::postgres`]).
//!
//! Values are always bound or escaped, never spliced into the SQL text.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

use crate::store::StoreError;
use crate::store::bulk::postgres::{CopyLoad, UnsupportedValue, encode_row};

/// Rows of one table waiting to be written.
#[derive(Debug)]
pub(crate) struct Rows {
    table: &'static str,
    columns: &'static [&'static str],
    values: Vec<Value>,
    /// The rows as `COPY` text, once [`Rows::encode_copy`] made it.
    copy: Vec<u8>,
}

impl Rows {
    pub(crate) fn new(table: &'static str, columns: &'static [&'static str]) -> Self {
        Self {
            table,
            columns,
            values: Vec::new(),
            copy: Vec::new(),
        }
    }

    /// Adds one row; `row` has one value per column.
    pub(crate) fn push(&mut self, row: impl IntoIterator<Item = Value>) {
        let before = self.values.len();
        self.values.extend(row);
        debug_assert_eq!(self.values.len() - before, self.columns.len());
    }

    /// Writes the rows and empties the buffer.
    pub(crate) async fn flush(&mut self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
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

    /// Turns the rows into `COPY` text (done on the generating thread, so
    /// the writer only sends bytes).
    pub(crate) fn encode_copy(&mut self) -> Result<(), UnsupportedValue> {
        let values = std::mem::take(&mut self.values);
        self.copy.reserve(values.len() * 16);
        for row in values.chunks(self.columns.len()) {
            encode_row(&mut self.copy, row)?;
        }
        Ok(())
    }

    /// Writes the rows [`Rows::encode_copy`] encoded and empties the buffer.
    pub(crate) async fn copy(&mut self, load: &mut CopyLoad) -> Result<(), StoreError> {
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
