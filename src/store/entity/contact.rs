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

impl ActiveModel {
    /// A new contact row with its derived keys filled in the one way search
    /// and the unique email index rely on: `name_lower` and `email_lower`
    /// are the Rust lowercase of the name and the email.
    #[must_use]
    pub fn new_contact(name: &str, email: &str, subscribed: bool, now: DateTimeUtc) -> Self {
        use sea_orm::ActiveValue::Set;
        Self {
            name: Set(name.to_owned()),
            email: Set(email.to_owned()),
            name_lower: Set(name.to_lowercase()),
            email_lower: Set(email.to_lowercase()),
            subscribed: Set(subscribed),
            tags: Set(String::new()),
            notes: Set(String::new()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
    }
}
