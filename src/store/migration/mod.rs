//! Schema migrations, one file each, applied in order on every backend.

use sea_orm_migration::prelude::*;

mod m20261128_000001_create_tables;
mod m20261128_000002_operator_keys;
mod m20261128_000003_store_keys;
mod m20261203_000004_notes;
mod m20261203_000005_bulk_jobs;

/// Every migration keydesk knows.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_create_tables::Migration),
            Box::new(m20261128_000002_operator_keys::Migration),
            Box::new(m20261128_000003_store_keys::Migration),
            Box::new(m20261203_000004_notes::Migration),
            Box::new(m20261203_000005_bulk_jobs::Migration),
        ]
    }
}
