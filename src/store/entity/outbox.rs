//! `outbox`: one row per email, written in the same transaction as the
//! action that sends it, delivered by the worker.

use sea_orm::entity::prelude::*;

/// An outbox row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    /// Key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Recipient address.
    pub recipient: String,
    /// `reset_link` or `password_changed`.
    pub kind: String,
    /// The contact it is for.
    pub contact_id: Option<i64>,
    /// The reset link it carries, so an expired one is not sent.
    pub reset_link_id: Option<i64>,
    /// The rendered RFC 5322 message; cleared once sent.
    pub body: Option<String>,
    /// `queued`, `sending`, `sent`, `failed`, `expired`.
    pub state: String,
    /// Delivery attempts so far.
    pub attempts: i32,
    /// Due at.
    pub next_attempt_at: DateTimeUtc,
    /// A worker's claim lasts until.
    pub claimed_until: Option<DateTimeUtc>,
    /// Sent at.
    pub sent_at: Option<DateTimeUtc>,
    /// The last server reply or error.
    pub last_error: String,
    /// Queued at.
    pub created_at: DateTimeUtc,
}

/// No declared relations; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
