//! `store_keys`: named values written once and shared by every process on
//! the store (the site's CSRF secret, the first-admin claim).

use sea_orm::entity::prelude::*;

/// A named value.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "store_keys")]
pub struct Model {
    /// Key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// What it is, e.g. `site.csrf_secret`.
    #[sea_orm(unique)]
    pub name: String,
    /// The value (a secret for some names: this type has no `Debug`).
    pub value: String,
    /// Written at.
    pub created_at: DateTimeUtc,
}

/// No declared relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreKey")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("value", &"<redacted>")
            .field("created_at", &self.created_at)
            .finish()
    }
}
