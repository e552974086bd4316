//! `operators`: staff who may use keydesk, by OS user name, with a role.

use sea_orm::entity::prelude::*;

/// An operator row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "operators")]
pub struct Model {
    /// Key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// OS user name.
    #[sea_orm(unique)]
    pub name: String,
    /// `viewer`, `agent` or `admin`.
    pub role: String,
    /// Added at.
    pub created_at: DateTimeUtc,
    /// Added by.
    pub created_by: String,
}

/// No declared relations; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
