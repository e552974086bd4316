//! Notes on a contact: written by agents and admins, listed newest first
//! with author and time, deleted by their author or an admin.
//!
//! The text is kept as written (up to [`MAX_NOTE_CHARS`] characters, line
//! breaks included); like every text from the store it is sanitised where
//! it is shown (console, command line). A deleted note keeps its row with
//! who deleted it, and is no longer listed.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, Set};

use super::action::{Action, Role};
use super::audit::{self, Actor, Event};
use super::error::DeskError;
use super::operation::Done;
use super::roles::{self, Operator};
use super::{ContactRef, Desk, lock_contact, touch_contact};
use crate::store::contacts;
use crate::store::entity::note;

/// Longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 2_000;

/// A note as listed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NoteEntry {
    /// Key (`keydesk notes delete ID`).
    pub id: i64,
    /// The operator who wrote it.
    pub author: String,
    /// Written at.
    pub created_at: DateTime<Utc>,
    /// The text as written: sanitise before showing it.
    pub text: String,
}

impl From<note::Model> for NoteEntry {
    fn from(n: note::Model) -> Self {
        Self {
            id: n.id,
            author: n.author,
            created_at: n.created_at,
            text: n.body,
        }
    }
}

/// The note as it will be stored, or why it cannot be.
fn checked(text: &str) -> Result<String, DeskError> {
    // Line ends from any system read the same; the ends are trimmed.
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let text = text.trim();
    if text.is_empty() {
        return Err(DeskError::Invalid("the note is empty".into()));
    }
    let chars = text.chars().count();
    if chars > MAX_NOTE_CHARS {
        return Err(DeskError::Invalid(format!(
            "a note holds at most {MAX_NOTE_CHARS} characters; this one has {chars}"
        )));
    }
    Ok(text.to_owned())
}

impl Desk {
    /// Writes a note on the contact with `email` (agents and admins).
    ///
    /// # Errors
    /// [`DeskError::NotAllowed`], [`DeskError::NotFound`],
    /// [`DeskError::Invalid`] (empty or too long), or a store failure.
    pub async fn add_note(
        &self,
        op: &Operator,
        who: impl Into<ContactRef<'_>>,
        text: &str,
    ) -> Result<NoteEntry, DeskError> {
        let who = who.into();
        let result = match checked(text) {
            Ok(text) => {
                let text = text.as_str();
                self.transact(&Actor::operator(op), move |txn, now| async move {
                    roles::require(&*txn, op, Action::AddNote).await?;
                    self.add_note_step(&txn, now, op, who, text).await
                })
                .await
            }
            Err(err) => roles::require(self.store.conn(), op, Action::AddNote)
                .await
                .and(Err(err)),
        };
        self.audit_refusal(op, Action::AddNote, Some(who), &result)
            .await;
        if let Ok(entry) = &result {
            tracing::info!(by = ?op.name, note = entry.id, "note added");
        }
        result
    }

    async fn add_note_step(
        &self,
        txn: &DatabaseTransaction,
        now: DateTime<Utc>,
        op: &Operator,
        who: ContactRef<'_>,
        text: &str,
    ) -> Result<Done<NoteEntry>, DeskError> {
        let contact = lock_contact(txn, who).await?;
        let row = note::ActiveModel {
            contact_id: Set(contact.id),
            author: Set(op.name.chars().take(200).collect()),
            body: Set(text.to_owned()),
            created_at: Set(now),
            deleted_at: Set(None),
            deleted_by: Set(None),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        touch_contact(txn, contact.id, now).await?;
        let event = Event::ok(Action::AddNote.audit_name(), Some(contact.id))
            .detail("note_id", row.id)
            .detail("chars", text.chars().count());
        Ok(Done::new(row.into(), event))
    }

    /// The notes on the contact with `email`, newest first (any role).
    ///
    /// # Errors
    /// [`DeskError::UnknownOperator`], [`DeskError::NotFound`], or a store failure.
    pub async fn list_notes(
        &self,
        op: &Operator,
        email: &str,
    ) -> Result<Vec<NoteEntry>, DeskError> {
        let contact = self.browse_contact(op, email.into()).await?;
        Ok(contacts::live_notes(self.store.conn(), contact.id)
            .await?
            .into_iter()
            .map(NoteEntry::from)
            .collect())
    }

    /// Deletes note `id`: its author (agent or admin) or any admin may.
    ///
    /// # Errors
    /// [`DeskError::NotAllowed`] (a viewer, or an agent and someone
    /// else's note), [`DeskError::NotFound`] (no such note, or deleted
    /// already), or a store failure.
    pub async fn delete_note(&self, op: &Operator, id: i64) -> Result<(), DeskError> {
        let result = self
            .transact(&Actor::operator(op), move |txn, now| async move {
                roles::require(&*txn, op, Action::DeleteNote).await?;
                self.delete_note_step(&txn, now, op, id).await
            })
            .await;
        if let Err(err) = &result
            && matches!(
                err,
                DeskError::NotAllowed { .. } | DeskError::UnknownOperator { .. }
            )
            && let Err(e) = self.audit_note_refusal(op, id, err).await
        {
            tracing::warn!(error = %e, "could not audit a refusal");
        }
        if result.is_ok() {
            tracing::info!(by = ?op.name, note = id, "note deleted");
        }
        result
    }

    async fn delete_note_step(
        &self,
        txn: &DatabaseTransaction,
        now: DateTime<Utc>,
        op: &Operator,
        id: i64,
    ) -> Result<Done<()>, DeskError> {
        let row = note::Entity::find_by_id(id)
            .one(txn)
            .await?
            .filter(|n| n.deleted_at.is_none())
            .ok_or_else(|| DeskError::NotFound(format!("there is no note {id}")))?;
        let role = roles::role_of(txn, &op.name).await?;
        if row.author != op.name && role < Some(Role::Admin) {
            return Err(DeskError::NotAllowed {
                action: Action::DeleteNote,
                needed_role: Role::Admin,
            });
        }
        let contact_id = row.contact_id;
        let author = row.author.clone();
        let mut gone: note::ActiveModel = row.into();
        gone.deleted_at = Set(Some(now));
        gone.deleted_by = Set(Some(op.name.chars().take(200).collect()));
        gone.update(txn).await?;
        touch_contact(txn, contact_id, now).await?;
        let event = Event::ok(Action::DeleteNote.audit_name(), Some(contact_id))
            .detail("note_id", id)
            .detail("author", author);
        Ok(Done::new((), event))
    }

    /// A denied note deletion, recorded against the note's contact (the
    /// shared refusal path finds contacts by email; a note is named by id).
    async fn audit_note_refusal(
        &self,
        op: &Operator,
        id: i64,
        err: &DeskError,
    ) -> Result<(), DeskError> {
        let txn = self.store.begin_write().await?;
        let contact_id = note::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .map(|n| n.contact_id);
        audit::write(
            &txn,
            self.clock.now(),
            &Actor::operator(op),
            Event::new(Action::DeleteNote.audit_name(), "denied", contact_id)
                .detail("note_id", id)
                .detail("reason", err.kind())
                .detail("message", err.to_string()),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_trimmed_its_line_ends_unified_and_its_length_capped() {
        assert_eq!(checked("  a\r\nb\rc \n").unwrap(), "a\nb\nc");
        assert!(matches!(checked(" \n "), Err(DeskError::Invalid(_))));
        assert!(checked(&"é".repeat(MAX_NOTE_CHARS)).is_ok());
        let err = checked(&"x".repeat(10_000)).unwrap_err();
        assert!(err.to_string().contains("2000"), "{err}");
    }
}
