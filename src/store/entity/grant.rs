//! `grants`: a contact's access to an offer. A contact with a grant is a Customer.

use sea_orm::entity::prelude::*;

/// A grant row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "grants")]
pub struct Model {
    /// Key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The contact.
    pub contact_id: i64,
    /// The offer.
    pub offer_id: i64,
    /// `purchased` or `granted`.
    pub source: String,
    /// Who granted it (empty for a purchase).
    pub granted_by: String,
    /// When.
    pub granted_at: DateTimeUtc,
}

/// No declared relations; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
