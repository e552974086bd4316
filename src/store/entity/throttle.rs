//! `throttles`: rate-limit counters shared by every process on the store.

use sea_orm::entity::prelude::*;

/// A counter row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "throttles")]
pub struct Model {
    /// Key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// What is counted, e.g. `forgot:email:<sha256>`; never a raw address.
    #[sea_orm(unique)]
    pub bucket: String,
    /// Window start.
    pub window_started_at: DateTimeUtc,
    /// Hits in the window.
    pub hits: i32,
}

/// No declared relations; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
