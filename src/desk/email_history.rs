//! A contact's email history: every message keydesk queued for them, with
//! its delivery state, newest first. Never a body or a link: those are
//! secrets while queued and gone once sent.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::Desk;
use super::audit;
use super::error::DeskError;
use super::operators::{self, Action, Operator};
use crate::store::contacts;
use crate::store::entity::outbox;

/// How many messages the history shows.
pub const HISTORY_LIMIT: u64 = 50;

/// One message as the history shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SentMail {
    /// The outbox row (`keydesk outbox retry ID`).
    pub id: i64,
    /// `reset_link`, `password_changed`, `welcome`, `email_changed_old`, `email_changed_new`.
    pub kind: String,
    /// The address it was for.
    pub recipient: String,
    /// Queued at.
    pub queued_at: DateTime<Utc>,
    /// Delivered at.
    pub sent_at: Option<DateTime<Utc>>,
    /// `queued`, `sending`, `sent`, `failed`, `expired`.
    pub state: String,
    /// Delivery attempts so far.
    pub attempts: i32,
    /// The last server reply or error (empty when none).
    pub last_error: String,
}

impl Desk {
    /// The newest [`HISTORY_LIMIT`] messages queued for the contact with
    /// `email`, newest first (any role).
    ///
    /// # Errors
    /// [`DeskError::UnknownOperator`], [`DeskError::NotFound`], or a store failure.
    pub async fn email_history(
        &self,
        op: &Operator,
        email: &str,
    ) -> Result<Vec<SentMail>, DeskError> {
        let db = self.store.conn();
        let allowed = operators::require(db, op, Action::Browse).await;
        self.audit_refusal(op, Action::Browse, Some(email), &allowed)
            .await;
        allowed?;
        let contact = contacts::by_email(db, email)
            .await?
            .ok_or_else(|| audit::not_found(email))?;
        // The body column is never read.
        let rows = outbox::Entity::find()
            .select_only()
            .columns([
                outbox::Column::Id,
                outbox::Column::Kind,
                outbox::Column::Recipient,
                outbox::Column::CreatedAt,
                outbox::Column::SentAt,
                outbox::Column::State,
                outbox::Column::Attempts,
                outbox::Column::LastError,
            ])
            .filter(outbox::Column::ContactId.eq(contact.id))
            .order_by_desc(outbox::Column::Id)
            .limit(HISTORY_LIMIT)
            .into_tuple::<(
                i64,
                String,
                String,
                DateTime<Utc>,
                Option<DateTime<Utc>>,
                String,
                i32,
                String,
            )>()
            .all(db)
            .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, kind, recipient, queued_at, sent_at, state, attempts, last_error)| SentMail {
                    id,
                    kind,
                    recipient,
                    queued_at,
                    sent_at,
                    state,
                    attempts,
                    last_error,
                },
            )
            .collect())
    }
}
