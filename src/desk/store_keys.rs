//! Named values every process sharing the store agrees on (`store_keys`):
//! the site's CSRF secret and the first-admin claim. Each name is written
//! once; the unique index on `name` decides who wrote first, on every
//! backend, however many processes start at the same moment.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::error::DeskError;
use super::{Desk, tokens};
use crate::store::entity::store_key;

/// The secret the site's CSRF tokens are signed with.
pub(crate) const CSRF_SECRET: &str = "site.csrf_secret";

/// Written with the first admin, so a second claim on the same empty
/// store fails on the unique name instead of making a second admin.
pub(crate) const FIRST_ADMIN: &str = "operators.first_admin";

/// The value stored under `name`, if any.
pub(crate) async fn get(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<String>, DeskError> {
    Ok(store_key::Entity::find()
        .filter(store_key::Column::Name.eq(name))
        .one(db)
        .await?
        .map(|row| row.value))
}

/// Writes `name` once. A name already written fails with a duplicate key
/// ([`DeskError::is_transient`]), so the caller's retry reads the winner.
pub(crate) async fn claim(
    db: &impl ConnectionTrait,
    name: &str,
    value: &str,
    now: DateTime<Utc>,
) -> Result<(), DeskError> {
    store_key::ActiveModel {
        name: Set(name.to_owned()),
        value: Set(value.to_owned()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

impl Desk {
    /// The site's CSRF signing secret: 32 bytes from the OS CSPRNG
    /// (base64url), drawn by the first process that asks and read from the
    /// store by every other, so that every `keydesk serve` on one store
    /// accepts the others' forms and a restart expires none. Never logged.
    ///
    /// # Errors
    /// A store failure, or no randomness.
    pub async fn site_csrf_secret(&self) -> Result<String, DeskError> {
        self.retrying(move || async move {
            if let Some(secret) = get(self.store.conn(), CSRF_SECRET).await? {
                return Ok(secret);
            }
            let minted = tokens::mint()?;
            let txn = self.store.begin_write().await?;
            claim(&txn, CSRF_SECRET, &minted.raw, self.clock.now()).await?;
            txn.commit().await?;
            Ok(minted.raw)
        })
        .await
    }
}
