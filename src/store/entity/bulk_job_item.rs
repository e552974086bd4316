//! `bulk_job_items`: one contact of a bulk job and what became of it. The
//! state changes in the same transaction as the action, so a job resumed
//! after a restart never acts on a contact twice.

use sea_orm::entity::prelude::*;

/// A job's contact.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bulk_job_items")]
pub struct Model {
    /// Key (the order the job walks in).
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The job.
    pub job_id: i64,
    /// The contact.
    pub contact_id: i64,
    /// `pending`, `done`, `skipped` or `failed`.
    pub state: String,
    /// Why skipped or failed (a reason code or an error), else empty.
    pub reason: String,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

/// No declared relations; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
