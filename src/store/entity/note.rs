//! `notes`: a note an operator wrote on a contact's profile.

use sea_orm::entity::prelude::*;

/// A note row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notes")]
pub struct Model {
    /// Key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The contact it is about.
    pub contact_id: i64,
    /// The operator who wrote it.
    pub author: String,
    /// The text as written (sanitised where it is shown).
    pub body: String,
    /// Written at.
    pub created_at: DateTimeUtc,
    /// Deleted at; a deleted note is no longer listed.
    pub deleted_at: Option<DateTimeUtc>,
    /// The operator who deleted it.
    pub deleted_by: Option<String>,
}

/// No declared relations; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
