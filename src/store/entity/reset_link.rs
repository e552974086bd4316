//! `reset_links`: password reset links. Only the token's SHA-256 is stored.

use sea_orm::entity::prelude::*;

/// A reset link row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reset_links")]
pub struct Model {
    /// Key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The account it resets.
    pub account_id: i64,
    /// Lowercase hex SHA-256 of the token; never the token.
    #[sea_orm(unique)]
    pub token_sha256: String,
    /// Created.
    pub created_at: DateTimeUtc,
    /// Stops working at.
    pub expires_at: DateTimeUtc,
    /// Used at.
    pub used_at: Option<DateTimeUtc>,
    /// Revoked at.
    pub revoked_at: Option<DateTimeUtc>,
    /// Operator name, or `customer` for Forgot Password.
    pub requested_by: String,
}

/// No declared relations; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
