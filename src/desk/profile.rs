//! What an operator reads about a contact: the profile, and the pieces
//! the console polls (a link's mail, the outbox counts). Plain values
//! with no entity models, so front ends depend on desk alone; every
//! reader checks that the operator may browse.

use chrono::{DateTime, Utc};

use super::action::Action;
use super::email_history::SentMail;
use super::error::DeskError;
use super::notes::NoteEntry;
use super::roles::{self, Operator};
use super::{ContactRef, Desk};
pub use crate::mail::delivery_state::{DeliveryState, MailStatus, kind_label};
pub use crate::mail::queue::Counts as OutboxCounts;
use crate::store::contacts;
pub use crate::store::contacts::HeldOffer;

/// A contact as an operator sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The contact's id.
    pub contact_id: i64,
    /// Name, as stored (not sanitised).
    pub name: String,
    /// Email, as stored.
    pub email: String,
    /// When the contact was added.
    pub added_on: DateTime<Utc>,
    /// When the contact row last changed (every writer bumps it).
    pub updated_at: DateTime<Utc>,
    /// Agreed to marketing email.
    pub subscriber: bool,
    /// Tags.
    pub tags: String,
    /// Notes.
    pub notes: String,
    /// Offers held; non-empty means Customer.
    pub offers: Vec<HeldOffer>,
    /// The login, for customers who have one.
    pub account: Option<AccountSummary>,
    /// Reset links neither used, revoked nor expired, newest first.
    pub open_links: Vec<OpenLink>,
    /// The latest email queued for this contact.
    pub latest_mail: Option<MailStatus>,
    /// The latest 20 audit events about them, newest first.
    pub activity: Vec<Activity>,
    /// Notes operators wrote (not deleted), newest first.
    pub notes_written: Vec<NoteEntry>,
    /// The email history, newest first (never a body or a link).
    pub email_history: Vec<SentMail>,
}

/// A customer's login, without its secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSummary {
    /// A password has been set.
    pub password_set: bool,
    /// It must be changed at the next sign-in.
    pub must_change_password: bool,
    /// When it last changed.
    pub password_changed_at: Option<DateTime<Utc>>,
    /// A temporary password stops working then.
    pub temporary_expires_at: Option<DateTime<Utc>>,
    /// Successful sign-ins.
    pub sign_in_count: i32,
    /// The last one.
    pub last_login_at: Option<DateTime<Utc>>,
    /// Failed sign-ins in the current window.
    pub failed_logins: i32,
    /// Locked after failed sign-ins until then.
    pub locked_until: Option<DateTime<Utc>>,
}

/// An open reset link (never its token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenLink {
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// The operator, or `customer` for Forgot Password.
    pub requested_by: String,
}

/// One audit event about a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// What (an audit name).
    pub action: String,
    /// `ok`, `denied` or `refused`.
    pub outcome: String,
}

impl Profile {
    /// Customer = holds at least one offer.
    #[must_use]
    pub fn is_customer(&self) -> bool {
        !self.offers.is_empty()
    }

    /// When the first offer was granted.
    #[must_use]
    pub fn customer_since(&self) -> Option<DateTime<Utc>> {
        self.offers.iter().map(|o| o.granted_at).min()
    }
}

impl From<contacts::Profile> for Profile {
    fn from(p: contacts::Profile) -> Self {
        Self {
            contact_id: p.contact.id,
            name: p.contact.name,
            email: p.contact.email,
            added_on: p.contact.created_at,
            updated_at: p.contact.updated_at,
            subscriber: p.contact.subscribed,
            tags: p.contact.tags,
            notes: p.contact.notes,
            offers: p.offers,
            account: p.account.map(|a| AccountSummary {
                password_set: a.password_hash.is_some(),
                must_change_password: a.must_change_password,
                password_changed_at: a.password_changed_at,
                temporary_expires_at: a.temporary_expires_at,
                sign_in_count: a.sign_in_count,
                last_login_at: a.last_login_at,
                failed_logins: a.failed_logins,
                locked_until: a.locked_until,
            }),
            open_links: p
                .open_links
                .into_iter()
                .map(|l| OpenLink {
                    created_at: l.created_at,
                    expires_at: l.expires_at,
                    requested_by: l.requested_by,
                })
                .collect(),
            latest_mail: p.latest_mail.as_ref().map(MailStatus::from),
            activity: p
                .audit
                .into_iter()
                .map(|e| Activity {
                    at: e.at,
                    actor: e.actor,
                    action: e.action,
                    outcome: e.outcome,
                })
                .collect(),
            notes_written: p.note_rows.into_iter().map(NoteEntry::from).collect(),
            email_history: p.mail_history,
        }
    }
}

impl Desk {
    /// The profile of a contact, for an operator (any role). A refusal
    /// is audited.
    ///
    /// # Errors
    /// [`DeskError::NotFound`], [`DeskError::UnknownOperator`] or a store
    /// failure.
    pub async fn contact_profile<'a>(
        &self,
        op: &Operator,
        who: impl Into<ContactRef<'a>>,
    ) -> Result<Profile, DeskError> {
        let who = who.into();
        // By id (the console, every refresh) the profile's own read of the
        // contact row is the lookup; by email it is found first.
        let contact_id = match who {
            ContactRef::Id(id) => {
                self.check_browse(op, who).await?;
                id
            }
            ContactRef::Email(_) => self.browse_contact(op, who).await?.id,
        };
        match contacts::profile(self.store().conn(), contact_id, self.clock().now()).await {
            Ok(profile) => Ok(profile.into()),
            Err(crate::store::StoreError::NotFound(_)) => Err(DeskError::NotFound(format!(
                "contact {contact_id} no longer exists"
            ))),
            Err(err) => Err(err.into()),
        }
    }

    /// Where the mail for reset link `link_id` stands (any operator).
    ///
    /// # Errors
    /// [`DeskError::UnknownOperator`] or a store failure.
    pub async fn link_mail(
        &self,
        op: &Operator,
        link_id: i64,
    ) -> Result<Option<MailStatus>, DeskError> {
        let db = self.store().conn();
        roles::require(db, op, Action::Browse).await?;
        Ok(crate::mail::queue::latest_for_link(db, link_id)
            .await?
            .as_ref()
            .map(MailStatus::from))
    }

    /// How the outbox stands (any process may ask: it names no one).
    ///
    /// # Errors
    /// A store failure.
    pub async fn outbox_counts(&self) -> Result<OutboxCounts, DeskError> {
        Ok(crate::mail::queue::counts(self.store().conn()).await?)
    }

    /// Whether the store answers.
    ///
    /// # Errors
    /// [`DeskError::Unavailable`] when it does not.
    pub async fn ping(&self) -> Result<(), DeskError> {
        Ok(self.store().ping().await?)
    }
}
