//! What flows through the console: [`Msg`] (input and the results of
//! tasks, into `update`) and [`Cmd`] (work `update` asks for, run by the
//! runtime as tasks whose results come back as `Msg`s).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ratatui::crossterm::event::KeyEvent;

pub use crate::desk::OutboxCounts;
use crate::desk::audit::{AuditEntry, AuditFilter};
use crate::desk::bulk::{BulkAction, BulkPlan, BulkProgress, BulkSummary};
use crate::desk::filters::{Filter, IdSet, Lockout, OfferChoice};
use crate::desk::{Action, DeskError, Profile, SearchPage, SearchQuery};
use crate::settings::Secret;

/// An action on one contact's account with what the operator gave for
/// it, carried as a value from the menu or the confirmation dialog to the
/// task that performs it. Its kind is desk's [`Action`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Email a reset link; `force` sends even within the resend cooldown.
    SendResetLink {
        /// Skip the cooldown.
        force: bool,
    },
    /// Set a temporary password.
    ChangePassword {
        /// The new password (never logged: `Secret`'s `Debug` hides it).
        password: Secret,
        /// Require a new password at next login.
        require_change: bool,
    },
    /// Revoke every open reset link.
    RevokeResetLinks,
    /// Clear a login lock.
    Unlock,
    /// End every site session.
    SignOutEverywhere,
    /// Grant the offer with this title.
    GrantOffer {
        /// The offer's title.
        offer: String,
    },
    /// Revoke the offer with this title.
    RevokeOffer {
        /// The offer's title.
        offer: String,
    },
    /// Send a new welcome email.
    ResendWelcome,
    /// Change the name and/or email (`None` keeps it).
    EditContact {
        /// The new name.
        name: Option<String>,
        /// The new email.
        email: Option<String>,
    },
    /// Write a note.
    AddNote {
        /// Its text.
        text: String,
    },
    /// Delete a note.
    DeleteNote {
        /// Which.
        id: i64,
        /// Its author, sanitised (for the question).
        author: String,
    },
}

impl Request {
    /// Which action this is (without its payload, which may be a secret).
    #[must_use]
    pub fn action(&self) -> Action {
        match self {
            Self::SendResetLink { .. } => Action::SendResetLink,
            Self::ChangePassword { .. } => Action::ChangePassword,
            Self::RevokeResetLinks => Action::RevokeResetLinks,
            Self::Unlock => Action::Unlock,
            Self::SignOutEverywhere => Action::SignOutEverywhere,
            Self::GrantOffer { .. } => Action::GrantOffer,
            Self::RevokeOffer { .. } => Action::RevokeOffer,
            Self::ResendWelcome => Action::ResendWelcome,
            Self::EditContact { .. } => Action::EditContact,
            Self::AddNote { .. } => Action::AddNote,
            Self::DeleteNote { .. } => Action::DeleteNote,
        }
    }
}

/// An operator with their SSH keys, as desk lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorListing {
    /// The operator.
    pub operator: crate::desk::operators::OperatorEntry,
    /// Their keys.
    pub keys: Vec<crate::desk::operator_keys::OperatorKey>,
}

/// A change of the operators table, the same desk calls as `keydesk operators`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorChange {
    /// Add an operator (or set the role of an existing one).
    Add {
        /// OS user name.
        name: String,
        /// Role.
        role: crate::desk::Role,
    },
    /// Change an operator's role.
    SetRole {
        /// Whose.
        name: String,
        /// The new role.
        role: crate::desk::Role,
    },
    /// Remove an operator.
    Remove {
        /// Whom.
        name: String,
    },
    /// Give an operator an SSH key.
    AddKey {
        /// Whose.
        name: String,
        /// The OpenSSH public key text.
        key: String,
    },
}

/// How an action ended, in words for the status line and dialogs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionOutcome {
    /// Done; the text says what happened (e.g. "sent" or "queued: ...").
    Done(String),
    /// A reset link was refused because one was sent moments ago.
    Cooldown {
        /// Seconds until another may be sent without forcing.
        remaining_secs: u64,
    },
    /// The contact is not a customer (desk's own check).
    NotACustomer,
    /// The operator's role does not allow it.
    NotAllowed(String),
    /// The password does not meet the policy.
    Policy(Vec<String>),
    /// The database is unreachable; nothing was changed.
    Unavailable(String),
    /// Anything else.
    Failed(String),
}

/// How serious a status message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Something worked.
    Success,
    /// For information.
    Info,
    /// Worth a look.
    Warning,
    /// Something failed.
    Error,
}

/// Live feedback on a typed password.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyFeedback {
    /// Passes the policy.
    pub ok: bool,
    /// What is wrong, in words; empty when `ok`.
    pub problems: Vec<String>,
    /// Estimated strength 0-4, when known.
    pub strength: Option<u8>,
}

/// Who is at the keyboard, as the status line shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorView {
    /// OS user name.
    pub name: String,
    /// Their role; `None` when the OS user is not an operator.
    pub role: Option<crate::desk::Role>,
}

/// Everything `update` reacts to.
#[derive(Debug, Clone)]
pub enum Msg {
    /// A key press.
    Key(KeyEvent),
    /// Pasted text (bracketed paste).
    Paste(String),
    /// The terminal has a new size.
    Resize(u16, u16),
    /// Time passes (spinner, "time left", periodic refresh).
    Tick(DateTime<Utc>),
    /// A search finished.
    SearchDone {
        /// The search generation it answers.
        generation: u64,
        /// A further page (append) or a new result (replace).
        append: bool,
        /// The page, or why not.
        result: Result<SearchPage, TaskError>,
    },
    /// A profile loaded.
    ProfileLoaded {
        /// The profile generation it answers.
        generation: u64,
        /// The profile, or why not.
        result: Result<Box<Profile>, TaskError>,
    },
    /// An action finished.
    ActionDone {
        /// The contact it was for.
        contact_id: i64,
        /// Which action (secrets inside are dropped by then).
        action: Action,
        /// How it went.
        outcome: ActionOutcome,
    },
    /// A generated temporary password (or why none could be made).
    PasswordGenerated(Result<Secret, String>),
    /// Policy feedback for the typed password.
    PolicyChecked {
        /// The check generation it answers.
        generation: u64,
        /// The verdict.
        feedback: PolicyFeedback,
    },
    /// Outbox counts.
    StatusLoaded(Result<OutboxCounts, TaskError>),
    /// Who the operator is.
    OperatorResolved(Result<OperatorView, TaskError>),
    /// The database answered a ping (or not).
    Pinged(Result<(), TaskError>),
    /// The offers for the offer picker loaded.
    PickerOffersLoaded {
        /// The contact the picker is for.
        contact_id: i64,
        /// Every offer, or why not.
        result: Result<Vec<crate::desk::offers::OfferEntry>, TaskError>,
    },
    /// The contacts the active filters admit (`None`: no filter).
    FilterSetLoaded {
        /// The filter generation it answers.
        generation: u64,
        /// The set, or why not.
        result: Result<Option<IdSet>, TaskError>,
    },
    /// The offers, for Holds offer X.
    OffersLoaded(Result<Vec<OfferChoice>, TaskError>),
    /// The lockout view's facts for the rows shown.
    LockoutsLoaded(Result<HashMap<i64, Lockout>, TaskError>),
    /// Every contact matching the search and filters (`V`).
    AllMatching(Result<Vec<i64>, TaskError>),
    /// A bulk action planned: who gets it, who is skipped.
    BulkPlanned(Result<BulkPlan, TaskError>),
    /// The bulk job is stored and running.
    BulkStarted(i64),
    /// The running bulk job moved on.
    BulkProgress(BulkProgress),
    /// The bulk job ended (or was cancelled).
    BulkDone(Result<BulkSummary, TaskError>),
    /// The operators and their keys loaded for the Operators screen.
    OperatorsLoaded {
        /// The generation it answers.
        generation: u64,
        /// The operators, or why not.
        result: Result<Vec<OperatorListing>, TaskError>,
    },
    /// A change on the Operators screen ended: what was done, or why not.
    OperatorChanged(Result<String, TaskError>),
    /// Audit rows loaded for the Audit screen.
    AuditLoaded {
        /// The audit generation it answers.
        generation: u64,
        /// Only rows newer than those shown (a live refresh), or a new list.
        newer: bool,
        /// The rows, newest first, or why not.
        result: Result<Vec<AuditEntry>, TaskError>,
    },
}

/// A task's failure, sorted the way the console treats it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskError {
    /// The database cannot be reached: keep what is shown, say so, retry.
    Unavailable(String),
    /// Anything else, in words.
    Other(String),
}

impl From<DeskError> for TaskError {
    fn from(err: DeskError) -> Self {
        match err {
            DeskError::Unavailable(e) => Self::Unavailable(e),
            other => Self::Other(other.to_string()),
        }
    }
}

/// Work `update` asks the runtime to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmd {
    /// Run a search; a newer generation supersedes this one.
    Search {
        /// Generation, echoed in the answer.
        generation: u64,
        /// What to find.
        query: SearchQuery,
        /// Append to the list (a further page) rather than replace it.
        append: bool,
    },
    /// Load a profile; a newer generation supersedes this one.
    LoadProfile {
        /// Generation, echoed in the answer.
        generation: u64,
        /// Whose.
        contact_id: i64,
    },
    /// Perform an action through desk.
    Act {
        /// On whom.
        contact_id: i64,
        /// What.
        action: Request,
    },
    /// Make a temporary password.
    GeneratePassword,
    /// Check a typed password against the policy.
    CheckPassword {
        /// Generation, echoed in the answer.
        generation: u64,
        /// The password.
        password: Secret,
        /// The contact's name and email, which the password must not resemble.
        context: Vec<String>,
    },
    /// Copy text to the user's clipboard with OSC 52.
    Copy(Secret),
    /// Refresh outbox counts.
    RefreshStatus,
    /// Check whether the database is back.
    Ping,
    /// Load the offers for the offer picker.
    LoadPickerOffers {
        /// The contact the picker is for.
        contact_id: i64,
        /// Only the ones the contact holds (Revoke Offer); else every offer.
        held: bool,
    },
    /// Read the contacts the filters admit.
    LoadFilterSet {
        /// Generation, echoed in the answer.
        generation: u64,
        /// The filters, all of which a contact must pass.
        filters: Vec<Filter>,
    },
    /// Read the offers (Holds offer X).
    LoadOffers,
    /// Read the lockout view's facts for these contacts.
    LoadLockouts(Vec<i64>),
    /// Find every contact matching this search (select all).
    SelectAll(SearchQuery),
    /// Plan a bulk action on these contacts.
    PlanBulk {
        /// What.
        action: BulkAction,
        /// On whom.
        contact_ids: Vec<i64>,
    },
    /// Store and run a planned bulk action in the background.
    RunBulk(BulkPlan),
    /// Cancel the running bulk job.
    CancelBulk(i64),
    /// Read the operators and their keys.
    LoadOperators {
        /// Generation, echoed in the answer.
        generation: u64,
    },
    /// Change the operators through desk.
    ChangeOperator(OperatorChange),
    /// Read audit rows (`after_id` set: only newer ones, a live refresh).
    LoadAudit {
        /// Generation, echoed in the answer.
        generation: u64,
        /// Which rows.
        filter: AuditFilter,
    },
}
