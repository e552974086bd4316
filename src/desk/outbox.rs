//! Queueing mail: one `outbox` row per message, written inside the
//! operation's transaction so that the mail goes out if and only if the
//! action committed. The delivery worker (`mail::outbox`) sends the rows
//! and clears each body once sent.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};

use super::error::DeskError;
use crate::mail::compose::Composed;
use crate::mail::queue::kind;
use crate::store::entity::outbox;

/// What a queued message is; the worker and the console read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A reset link (the row names the link, so an expired one is not sent).
    ResetLink,
    /// "Your password was changed" (never holds a password).
    PasswordChanged,
    /// The welcome email; like a reset link, the row names its link.
    Welcome,
    /// To the old address after an email change.
    EmailChangedOld,
    /// To the new address after an email change.
    EmailChangedNew,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::ResetLink => kind::RESET_LINK,
            Self::PasswordChanged => kind::PASSWORD_CHANGED,
            Self::Welcome => kind::WELCOME,
            Self::EmailChangedOld => kind::EMAIL_CHANGED_OLD,
            Self::EmailChangedNew => kind::EMAIL_CHANGED_NEW,
        }
    }
}

/// Queues a composed message for `recipient` (a bare address).
pub(crate) async fn queue(
    db: &impl ConnectionTrait,
    kind: Kind,
    recipient: &str,
    contact_id: i64,
    reset_link_id: Option<i64>,
    composed: Composed,
    now: DateTime<Utc>,
) -> Result<i64, DeskError> {
    let row = outbox::ActiveModel {
        recipient: Set(recipient.to_owned()),
        kind: Set(kind.as_str().to_owned()),
        contact_id: Set(Some(contact_id)),
        reset_link_id: Set(reset_link_id),
        body: Set(Some(composed.formatted)),
        state: Set("queued".to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        claimed_until: Set(None),
        sent_at: Set(None),
        last_error: Set(String::new()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(row.id)
}
