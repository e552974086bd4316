//! `audit_events`: append-only record of who did what. Never holds a secret.

use sea_orm::entity::prelude::*;

/// An audit row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    /// Key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// When.
    pub at: DateTimeUtc,
    /// Operator name, customer email, or `system`.
    pub actor: String,
    /// `operator`, `customer` or `system`.
    pub actor_kind: String,
    /// SSH client or IP address.
    pub source: String,
    /// What was done, e.g. `reset_link.sent`.
    pub action: String,
    /// `ok` or `denied`.
    pub outcome: String,
    /// The contact concerned.
    pub contact_id: Option<i64>,
    /// JSON details; never a secret.
    pub detail: String,
}

/// No declared relations; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
