//! `accounts`: one customer login per customer contact.

use sea_orm::entity::prelude::*;

/// An account row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    /// Key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The contact this login belongs to.
    #[sea_orm(unique)]
    pub contact_id: i64,
    /// argon2id PHC string; `None` when no password was ever set.
    pub password_hash: Option<String>,
    /// The next login must set a new password.
    pub must_change_password: bool,
    /// When the password last changed.
    pub password_changed_at: Option<DateTimeUtc>,
    /// A temporary password stops working at this time unless changed.
    pub temporary_expires_at: Option<DateTimeUtc>,
    /// Successful logins.
    pub sign_in_count: i32,
    /// Last successful login.
    pub last_login_at: Option<DateTimeUtc>,
    /// Failed logins in the current window.
    pub failed_logins: i32,
    /// When the current failure window started.
    pub failed_window_started_at: Option<DateTimeUtc>,
    /// Locked until this time.
    pub locked_until: Option<DateTimeUtc>,
    /// Created.
    pub created_at: DateTimeUtc,
}

/// No declared relations; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
