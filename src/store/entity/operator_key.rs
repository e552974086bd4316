//! `operator_keys`: SSH public keys that sign an operator in to `ssh-serve`.

use sea_orm::entity::prelude::*;

/// An operator key row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "operator_keys")]
pub struct Model {
    /// Key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The operator the key signs in as.
    pub operator_id: i64,
    /// `SHA256:...`, as `ssh-keygen -l` prints it.
    #[sea_orm(unique)]
    pub fingerprint: String,
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, ...
    pub algorithm: String,
    /// The key in OpenSSH form, without its comment.
    pub public_key: String,
    /// The comment the key came with (often user@host).
    pub comment: String,
    /// Added at.
    pub created_at: DateTimeUtc,
    /// Added by (operator name).
    pub created_by: String,
}

/// No declared relations; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
