//! `offers`: what a contact can buy or be granted.

use sea_orm::entity::prelude::*;

/// An offer row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "offers")]
pub struct Model {
    /// Key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Title.
    #[sea_orm(unique)]
    pub name: String,
    /// Products the offer gives access to, comma-separated.
    pub products: String,
    /// Created.
    pub created_at: DateTimeUtc,
}

/// No declared relations; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
