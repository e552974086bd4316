//! `bulk_jobs`: one bulk action over a list of contacts, with its counts.

use sea_orm::entity::prelude::*;

/// A bulk job.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bulk_jobs")]
pub struct Model {
    /// Key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `reset_password`, `unlock` or `sign_out`.
    pub action: String,
    /// The operator who started it.
    pub operator: String,
    /// Where they started it from.
    pub source: String,
    /// `running`, `cancelled` or `finished`.
    pub state: String,
    /// Contacts in the job.
    pub total: i32,
    /// Acted on.
    pub done: i32,
    /// Left alone, with a reason.
    pub skipped: i32,
    /// Failed.
    pub failed: i32,
    /// Started at.
    pub created_at: DateTimeUtc,
    /// Last progress.
    pub updated_at: DateTimeUtc,
    /// Finished or cancelled at.
    pub finished_at: Option<DateTimeUtc>,
}

/// No declared relations; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
