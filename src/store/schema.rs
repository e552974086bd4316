//! Where a store's schema stands against the migrations this keydesk
//! knows: applied, pending, and applied-but-unknown (written by a newer
//! keydesk). Read without writing anything, so `doctor`, `migrate
//! --status` and `/readyz` can ask any store, even a read-only one.

use chrono::{DateTime, TimeZone, Utc};
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};
use sea_orm_migration::{MigratorTrait, SchemaManager, seaql_migrations};
use serde::Serialize;

use super::StoreError;
use super::migration::Migrator;

/// One migration recorded in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// Its name, e.g. `m20261128_000001_create_tables`.
    pub name: String,
    /// When it ran.
    pub applied_at: DateTime<Utc>,
}

/// The schema of one store against this build's migrations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchemaStatus {
    /// Recorded in the store and known here, oldest first.
    pub applied: Vec<Applied>,
    /// Known here and not yet applied, in the order they would run.
    pub pending: Vec<String>,
    /// Recorded in the store but unknown here: a newer keydesk migrated it.
    pub unknown: Vec<String>,
    /// The newest migration this keydesk knows.
    pub known_version: String,
}

impl SchemaStatus {
    /// Whether this keydesk can use the store as it is.
    #[must_use]
    pub fn is_current(&self) -> bool {
        self.pending.is_empty() && self.unknown.is_empty()
    }

    /// The store's version: its newest recorded migration, known or not
    /// (names sort by date); `None` for an empty store.
    #[must_use]
    pub fn store_version(&self) -> Option<&str> {
        self.applied
            .iter()
            .map(|a| a.name.as_str())
            .chain(self.unknown.iter().map(String::as_str))
            .max()
    }

    /// One line saying why the store is not current, or `None` when it is.
    #[must_use]
    pub fn problem(&self) -> Option<String> {
        if !self.unknown.is_empty() {
            Some(format!(
                "the store's schema ({}) is newer than this keydesk knows ({}); upgrade keydesk",
                self.store_version().unwrap_or("?"),
                self.known_version
            ))
        } else if !self.pending.is_empty() {
            Some(format!(
                "the store has {} pending migration(s) ({}); run `keydesk migrate`",
                self.pending.len(),
                self.pending.join(", ")
            ))
        } else {
            None
        }
    }
}

/// Every migration this build knows, in order.
#[must_use]
pub fn known() -> Vec<String> {
    Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect()
}

/// Whether `table` exists. On PostgreSQL through `to_regclass`: the
/// `information_schema` query sea-orm asks instead costs a new server
/// process some 20 ms of catalogue reads, at every console's launch.
async fn has_table(db: &DatabaseConnection, table: &str) -> Result<bool, StoreError> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(SchemaManager::new(db).has_table(table).await?);
    }
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT to_regclass($1) IS NOT NULL AS present",
            [table.into()],
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get("", "present")?,
        None => false,
    })
}

/// Reads the store's migration records and compares them with [`known`].
///
/// # Errors
/// When the store cannot be read.
pub async fn status(db: &DatabaseConnection) -> Result<SchemaStatus, StoreError> {
    let known = known();
    let table = Migrator::migration_table_name().to_string();
    let recorded = if has_table(db, &table).await? {
        seaql_migrations::Entity::find()
            .order_by_asc(seaql_migrations::Column::Version)
            .all(db)
            .await?
    } else {
        Vec::new()
    };
    let applied = recorded
        .iter()
        .filter(|r| known.contains(&r.version))
        .map(|r| Applied {
            name: r.version.clone(),
            applied_at: Utc
                .timestamp_opt(r.applied_at, 0)
                .single()
                .unwrap_or_default(),
        })
        .collect();
    let unknown = recorded
        .iter()
        .filter(|r| !known.contains(&r.version))
        .map(|r| r.version.clone())
        .collect();
    let pending = known
        .iter()
        .filter(|k| !recorded.iter().any(|r| &r.version == *k))
        .cloned()
        .collect();
    Ok(SchemaStatus {
        applied,
        pending,
        unknown,
        known_version: known.last().cloned().unwrap_or_default(),
    })
}
