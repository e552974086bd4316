//! Editing a contact's name and email (admins).
//!
//! Both are checked as an import checks them (the email must be one mail
//! can reach, and unique without regard to case). A customer's email is
//! their login, so changing it revokes their open reset links (a link
//! mailed to the old address must not set the password any more) and
//! queues two notices: to the old address (naming the new one partly
//! masked) and to the new one. The audit row holds both values.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set};

use super::action::Action;
use super::audit::{Actor, Event};
use super::error::DeskError;
use super::operation::Done;
use super::outbox::{self, Kind};
use super::reset_links::revoke_open;
use super::roles::{self, Operator};
use super::{ContactRef, Desk, lock_contact};
use crate::mail::compose::Recipient;
use crate::store::entity::{account, contact, grant};

/// What to change; `None` keeps the current value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactEdit {
    /// The new name.
    pub name: Option<String>,
    /// The new email.
    pub email: Option<String>,
}

/// What an edit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    /// The contact.
    pub contact_id: i64,
    /// The email now (the new one when it changed).
    pub email: String,
    /// The name now.
    pub name: String,
    /// The email changed.
    pub email_changed: bool,
    /// Reset links that were open and are now revoked.
    pub links_revoked: u64,
    /// Notices queued (0, or 2 when a customer's email changed).
    pub notices: u8,
}

/// The checked values of an edit, or why it cannot be saved.
fn checked(edit: &ContactEdit) -> Result<(Option<String>, Option<String>), DeskError> {
    let name = edit
        .name
        .as_deref()
        .map(crate::import::check_name)
        .transpose()
        .map_err(DeskError::Invalid)?;
    let email = edit
        .email
        .as_deref()
        .map(|email| {
            // An agent types this one: bidi overrides and zero-width
            // characters would make it read differently from what it is, on
            // screen and in the audit trail (imports keep what the platform has).
            if email.chars().any(crate::mail::compose::invisible) {
                return Err("the email contains invisible formatting characters".to_owned());
            }
            crate::import::check_email(email)
        })
        .transpose()
        .map_err(DeskError::Invalid)?;
    if name.is_none() && email.is_none() {
        return Err(DeskError::Invalid(
            "nothing to change: give a new name or a new email".into(),
        ));
    }
    Ok((name, email))
}

impl Desk {
    /// Changes the name and/or email of the contact with `email` (admins).
    ///
    /// # Errors
    /// [`DeskError::NotAllowed`], [`DeskError::NotFound`],
    /// [`DeskError::Invalid`] (a bad name or email, or no change),
    /// [`DeskError::Conflict`] (another contact has the new email), or a
    /// store failure.
    pub async fn edit_contact(
        &self,
        op: &Operator,
        who: impl Into<ContactRef<'_>>,
        edit: &ContactEdit,
    ) -> Result<Edited, DeskError> {
        let who = who.into();
        let result = match checked(edit) {
            Ok((name, new_email)) => {
                let (name, new_email) = (name.as_deref(), new_email.as_deref());
                self.transact(&Actor::operator(op), move |txn, now| async move {
                    roles::require(&*txn, op, Action::EditContact).await?;
                    self.edit_contact_step(&txn, now, who, name, new_email)
                        .await
                })
                .await
            }
            Err(err) => {
                // The role is checked first even for bad input, so that a
                // viewer's attempt is recorded as denied, not as refused.
                match roles::require(self.store.conn(), op, Action::EditContact).await {
                    Ok(()) => Err(err),
                    Err(denied) => Err(denied),
                }
            }
        };
        self.audit_refusal(op, Action::EditContact, Some(who), &result)
            .await;
        if let Ok(edited) = &result {
            if edited.notices > 0 {
                self.wake_outbox();
            }
            tracing::info!(by = ?op.name, contact = edited.contact_id, email_changed = edited.email_changed, "contact edited");
        }
        result
    }

    async fn edit_contact_step(
        &self,
        txn: &DatabaseTransaction,
        now: DateTime<Utc>,
        who: ContactRef<'_>,
        name: Option<&str>,
        new_email: Option<&str>,
    ) -> Result<Done<Edited>, DeskError> {
        let old = lock_contact(txn, who).await?;
        let new_name = name.unwrap_or(&old.name).to_owned();
        let new_email = new_email.unwrap_or(&old.email).to_owned();
        let email_changed = new_email != old.email;
        if new_name == old.name && !email_changed {
            return Err(DeskError::Invalid(
                "nothing to change: the name and email are already these".into(),
            ));
        }
        if new_email.to_lowercase() != old.email_lower
            && contact::Entity::find()
                .filter(contact::Column::EmailLower.eq(new_email.to_lowercase()))
                .one(txn)
                .await?
                .is_some()
        {
            return Err(DeskError::Conflict(format!(
                "another contact already has the email {new_email}"
            )));
        }
        let mut row: contact::ActiveModel = old.clone().into();
        row.name = Set(new_name.clone());
        row.name_lower = Set(new_name.to_lowercase());
        row.email = Set(new_email.clone());
        row.email_lower = Set(new_email.to_lowercase());
        row.updated_at = Set(now);
        let saved = row.update(txn).await?;
        let customer = grant::Entity::find()
            .filter(grant::Column::ContactId.eq(old.id))
            .one(txn)
            .await?
            .is_some();
        let (mut links_revoked, mut notices) = (0, 0);
        if email_changed && customer {
            if let Some(account) = account::Entity::find()
                .filter(account::Column::ContactId.eq(old.id))
                .one(txn)
                .await?
            {
                links_revoked = revoke_open(txn, account.id, now, None).await?;
            }
            for (to, kind, to_new) in [
                (&old.email, Kind::EmailChangedOld, false),
                (&new_email, Kind::EmailChangedNew, true),
            ] {
                let recipient = Recipient {
                    name: new_name.clone(),
                    email: to.clone(),
                };
                let composed = self
                    .composer
                    .email_changed(&recipient, &new_email, to_new, now)
                    .map_err(|e| DeskError::Internal(format!("composing the notice: {e}")))?;
                outbox::queue(txn, kind, to, old.id, None, composed, now).await?;
                notices += 1;
            }
        }
        let event = Event::ok(Action::EditContact.audit_name(), Some(old.id))
            .detail("old_email", old.email.clone())
            .detail("new_email", new_email.clone())
            .detail("old_name", old.name.clone())
            .detail("new_name", new_name.clone())
            .detail("links_revoked", links_revoked)
            .detail("notices", notices);
        Ok(Done::new(
            Edited {
                contact_id: saved.id,
                email: saved.email,
                name: saved.name,
                email_changed,
                links_revoked,
                notices,
            },
            event,
        ))
    }
}
