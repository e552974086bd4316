//! `contacts`: everyone the platform knows, customer or not.

use sea_orm::entity::prelude::*;

/// A contact row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contacts")]
pub struct Model {
    /// Key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Display name as entered.
    pub name: String,
    /// Email as entered.
    pub email: String,
    /// Lowercased name: the sort and search key.
    pub name_lower: String,
    /// Lowercased email: unique, so emails compare case-insensitively.
    #[sea_orm(unique)]
    pub email_lower: String,
    /// Agreed to marketing email.
    pub subscribed: bool,
    /// Comma-separated tags.
    pub tags: String,
    /// Free-text notes.
    pub notes: String,
    /// Added on.
    pub created_at: DateTimeUtc,
    /// Last change to the contact or its grants; drives the search index refresh.
    pub updated_at: DateTimeUtc,
}

/// No declared relations; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
