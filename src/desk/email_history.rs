//! A contact's email history: every message keydesk queued for them, with
//! its delivery state, newest first. Never a body or a link: those are
//! secrets while queued and gone once sent.

use super::Desk;
use super::error::DeskError;
use super::roles::Operator;
use crate::store::contacts;
pub use crate::store::contacts::{HISTORY_LIMIT, MailSummary as SentMail};

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
        let contact = self.browse_contact(op, email.into()).await?;
        Ok(contacts::mail_history(self.store.conn(), contact.id).await?)
    }
}
