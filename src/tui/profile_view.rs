//! A contact's profile as the console shows it: desk's read model with
//! every text sanitised for the terminal, and the contact an action is
//! about. Views and dialogs read these; only `update` makes them.

use chrono::{DateTime, Utc};

use super::sanitize::clean;
use crate::desk::{MailStatus, Profile};

/// The contact a dialog is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Contact id.
    pub contact_id: i64,
    /// Name, sanitised.
    pub name: String,
    /// Email, sanitised.
    pub email: String,
    /// Holds an offer.
    pub customer: bool,
}

/// The password state line of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordState {
    /// No account (not a customer, or never invited).
    NoAccount,
    /// An account without a password.
    NeverSet,
    /// Set, and usable.
    Set,
    /// Set, but must be changed at next login.
    MustChange,
}

/// A profile, sanitised for the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileView {
    /// The contact and who it is, sanitised.
    pub target: Target,
    /// Subscribed to marketing.
    pub subscriber: bool,
    /// Added on.
    pub added: DateTime<Utc>,
    /// First offer granted.
    pub customer_since: Option<DateTime<Utc>>,
    /// Offers: (title, products, "purchased"/"granted", by whom, when).
    pub offers: Vec<OfferLine>,
    /// Tags, sanitised.
    pub tags: String,
    /// Notes, sanitised.
    pub notes: String,
    /// Password state.
    pub password: PasswordState,
    /// When the password last changed.
    pub password_changed_at: Option<DateTime<Utc>>,
    /// A temporary password stops working then.
    pub temporary_expires_at: Option<DateTime<Utc>>,
    /// Locked until.
    pub locked_until: Option<DateTime<Utc>>,
    /// Successful logins.
    pub sign_in_count: i32,
    /// Last login.
    pub last_login_at: Option<DateTime<Utc>>,
    /// Open reset links: (created, expires).
    pub open_links: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// Where the latest email stands (text fields sanitised).
    pub mail: Option<MailStatus>,
    /// Recent audit events, newest first.
    pub audit: Vec<AuditLine>,
    /// Notes operators wrote, newest first, sanitised.
    pub note_lines: Vec<super::profile_extra::NoteLine>,
    /// The email history, newest first, sanitised (never a body).
    pub history: Vec<crate::desk::email_history::SentMail>,
}

/// One offer in a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferLine {
    /// Title.
    pub name: String,
    /// Products.
    pub products: String,
    /// `purchased` or `granted`.
    pub source: String,
    /// By whom.
    pub granted_by: String,
    /// When.
    pub granted_at: DateTime<Utc>,
}

/// One audit event in a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLine {
    /// When.
    pub at: DateTime<Utc>,
    /// Who, sanitised.
    pub actor: String,
    /// What, sanitised.
    pub action: String,
    /// `ok` or `denied`.
    pub outcome: String,
}

impl ProfileView {
    /// Sanitises a profile from desk.
    #[must_use]
    pub fn from_desk(p: &Profile) -> Self {
        let account = p.account.as_ref();
        let password = match account {
            None => PasswordState::NoAccount,
            Some(a) if !a.password_set => PasswordState::NeverSet,
            Some(a) if a.must_change_password => PasswordState::MustChange,
            Some(_) => PasswordState::Set,
        };
        Self {
            target: Target {
                contact_id: p.contact_id,
                name: clean(&p.name),
                email: clean(&p.email),
                customer: p.is_customer(),
            },
            subscriber: p.subscriber,
            added: p.added_on,
            customer_since: p.customer_since(),
            offers: p
                .offers
                .iter()
                .map(|o| OfferLine {
                    name: clean(&o.name),
                    products: clean(&o.products),
                    source: clean(&o.source),
                    granted_by: clean(&o.granted_by),
                    granted_at: o.granted_at,
                })
                .collect(),
            tags: clean(&p.tags),
            notes: clean(&p.notes),
            password,
            password_changed_at: account.and_then(|a| a.password_changed_at),
            temporary_expires_at: account.and_then(|a| a.temporary_expires_at),
            locked_until: account.and_then(|a| a.locked_until),
            sign_in_count: account.map_or(0, |a| a.sign_in_count),
            last_login_at: account.and_then(|a| a.last_login_at),
            open_links: p
                .open_links
                .iter()
                .map(|l| (l.created_at, l.expires_at))
                .collect(),
            mail: p.latest_mail.as_ref().map(|m| MailStatus {
                kind: clean(&m.kind),
                state: clean(&m.state),
                last_error: clean(&m.last_error),
                ..m.clone()
            }),
            audit: p
                .activity
                .iter()
                .map(|e| AuditLine {
                    at: e.at,
                    actor: clean(&e.actor),
                    action: clean(&e.action),
                    outcome: clean(&e.outcome),
                })
                .collect(),
            note_lines: p
                .notes_written
                .iter()
                .map(super::profile_extra::NoteLine::from)
                .collect(),
            history: p
                .email_history
                .iter()
                .map(super::profile_extra::clean_mail)
                .collect(),
        }
    }

    /// Whether the account is locked at `now`.
    #[must_use]
    pub fn locked_at(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|t| t > now)
    }
}
