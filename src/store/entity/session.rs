//! `sessions`: customer site sessions, stored by the SHA-256 of their id.

use sea_orm::entity::prelude::*;

/// A session row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    /// Key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The account signed in.
    pub account_id: i64,
    /// Lowercase hex SHA-256 of the session id; never the id.
    #[sea_orm(unique)]
    pub id_sha256: String,
    /// Signed in at.
    pub created_at: DateTimeUtc,
    /// Last request.
    pub last_seen_at: DateTimeUtc,
    /// Absolute end.
    pub expires_at: DateTimeUtc,
    /// Ended at.
    pub revoked_at: Option<DateTimeUtc>,
    /// Client address and user agent, for the customer's session list.
    pub client: String,
}

/// No declared relations; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
