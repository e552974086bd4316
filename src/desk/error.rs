//! What a desk operation can answer instead of success.
//!
//! Every refusal is one line a customer, an agent or an admin can act on,
//! and maps to its own process exit code ([`DeskError::exit_code`]) so that
//! scripts can tell "not a customer" from "not allowed" from "try later".

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::action::{Action, Role};
use super::password::PolicyRefusal;
use crate::store::StoreError;

/// Why a reset link cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkProblem {
    /// No link has this token (mistyped, truncated, or never issued).
    Unknown,
    /// The link is older than `reset.link_ttl`.
    Expired,
    /// The link already set a password once.
    Used,
    /// A newer link, a password change or an agent revoked it.
    Revoked,
}

impl std::fmt::Display for LinkProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Unknown => "this reset link is not valid; check that the whole link was copied",
            Self::Expired => "this reset link has expired; ask for a new one",
            Self::Used => "this reset link was already used; ask for a new one if needed",
            Self::Revoked => {
                "this reset link was replaced or cancelled; use the newest link you received"
            }
        })
    }
}

/// The outcome of a desk operation that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// No contact (or operator) answers to this name.
    #[error("{0}")]
    NotFound(String),
    /// The contact exists but holds no offer, so has no login.
    #[error(
        "{name} is not a customer, so there is no password to reset or change: \
         a contact becomes a Customer when granted access to an offer"
    )]
    NotACustomer {
        /// The contact's display name.
        name: String,
    },
    /// The operator's role does not allow the action.
    #[error("{action} needs the {needed_role} role; ask an admin to change your role")]
    NotAllowed {
        /// What was attempted.
        action: Action,
        /// The least role that may do it.
        needed_role: Role,
    },
    /// The OS account running keydesk is not in the operators table.
    #[error(
        "{name} is not a keydesk operator; an admin can add you with \
         `keydesk operators add {name} --role agent`"
    )]
    UnknownOperator {
        /// The OS user name.
        name: String,
    },
    /// The new password breaks the policy; the refusal says which rule.
    #[error("{0}")]
    Policy(PolicyRefusal),
    /// A reset link went out moments ago.
    #[error(
        "a reset link was sent less than {cooldown} ago; try again in {}, or force a new link",
        humantime::format_duration(*remaining)
    )]
    Cooldown {
        /// Time until another link may be sent.
        remaining: Duration,
        /// The whole cooldown (`reset.resend_cooldown`).
        cooldown: HumanDuration,
    },
    /// Too many requests from this address or for this email.
    #[error("too many requests; try again in {}", humantime::format_duration(*retry_after))]
    RateLimited {
        /// When the current window ends.
        retry_after: Duration,
    },
    /// A reset link that cannot be used.
    #[error("{0}")]
    InvalidLink(LinkProblem),
    /// Too many failed sign-ins; the account waits.
    #[error(
        "this account is locked after too many failed sign-ins until {}; \
         try again later or use Forgot Password",
        until.format("%Y-%m-%d %H:%M UTC")
    )]
    Locked {
        /// When the lock ends.
        until: DateTime<Utc>,
    },
    /// Wrong email or password (never says which).
    #[error("the email or password is not correct")]
    BadCredentials,
    /// A temporary password set by support was not changed in time.
    #[error(
        "this temporary password has expired; ask support for a new one or use Forgot Password"
    )]
    TemporaryExpired,
    /// A customer site session that has ended or never existed.
    #[error("your session has ended; please sign in again")]
    SessionEnded,
    /// A change that would clash with existing data (an operator who
    /// already exists, removing the last admin).
    #[error("{0}")]
    Conflict(String),
    /// Input that cannot be used as given (an email mail cannot reach, a
    /// note too long, an edit that changes nothing); nothing was changed.
    #[error("{0}")]
    Invalid(String),
    /// The database cannot be reached; nothing was changed.
    #[error("the database is unavailable, nothing was changed; try again shortly ({0})")]
    Unavailable(String),
    /// Any other store failure; nothing was changed.
    #[error("{0}")]
    Store(StoreError),
    /// A failure that is not the caller's (randomness, templates, hashing).
    #[error("internal error: {0}")]
    Internal(String),
}

/// A duration that displays like `60s` or `6h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl std::fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl From<StoreError> for DeskError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(text) => Self::Unavailable(text),
            other => Self::Store(other),
        }
    }
}

impl From<sea_orm::DbErr> for DeskError {
    fn from(err: sea_orm::DbErr) -> Self {
        crate::store::classify(err).into()
    }
}

impl From<PolicyRefusal> for DeskError {
    fn from(refusal: PolicyRefusal) -> Self {
        Self::Policy(refusal)
    }
}

/// Process exit codes, one per kind of outcome (documented in `keydesk --help`).
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// An unexpected failure (store error, internal error).
    pub const FAILURE: i32 = 1;
    /// Bad command-line usage (clap's own code).
    pub const USAGE: i32 = 2;
    /// No contact or operator with that name.
    pub const NOT_FOUND: i32 = 3;
    /// The contact is not a customer.
    pub const NOT_A_CUSTOMER: i32 = 4;
    /// The password policy refused the password.
    pub const POLICY: i32 = 5;
    /// The operator's role does not allow it, or the OS user is no operator.
    pub const NOT_ALLOWED: i32 = 6;
    /// Rate-limited, or within the resend cooldown.
    pub const RATE_LIMITED: i32 = 7;
    /// The reset link is unknown, expired, used or revoked.
    pub const INVALID_LINK: i32 = 8;
    /// Sign-in refused (bad credentials, locked, temporary password expired, session ended).
    pub const SIGN_IN: i32 = 9;
    /// The database is unavailable; nothing was changed.
    pub const UNAVAILABLE: i32 = 10;
    /// A conflict with existing data (operator exists, last admin).
    pub const CONFLICT: i32 = 11;
    /// Input that cannot be used as given (12 and 13 are the command line's).
    pub const INVALID: i32 = 14;
    /// A bulk action failed for some contacts or input lines.
    pub const BULK_FAILED: i32 = 15;
}

impl DeskError {
    /// The process exit code the command line returns for this outcome.
    #[must_use]
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::NotFound(_) => exit::NOT_FOUND,
            Self::NotACustomer { .. } => exit::NOT_A_CUSTOMER,
            Self::Policy(_) => exit::POLICY,
            Self::NotAllowed { .. } | Self::UnknownOperator { .. } => exit::NOT_ALLOWED,
            Self::Cooldown { .. } | Self::RateLimited { .. } => exit::RATE_LIMITED,
            Self::InvalidLink(_) => exit::INVALID_LINK,
            Self::Locked { .. }
            | Self::BadCredentials
            | Self::TemporaryExpired
            | Self::SessionEnded => exit::SIGN_IN,
            Self::Unavailable(_) => exit::UNAVAILABLE,
            Self::Conflict(_) => exit::CONFLICT,
            Self::Invalid(_) => exit::INVALID,
            Self::Store(_) | Self::Internal(_) => exit::FAILURE,
        }
    }

    /// Whether the failure came from a race with another transaction
    /// (deadlock, serialization failure, a unique key taken meanwhile, a
    /// busy SQLite file) so that running the whole transaction again is
    /// the right answer.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Store(StoreError::Duplicate(_)) => true,
            Self::Store(StoreError::Db(err)) => {
                let text = err.to_string();
                [
                    "Deadlock found",
                    "deadlock detected",
                    "Lock wait timeout",
                    "could not serialize",
                    "database is locked",
                    "database table is locked",
                    "40001",
                    "40P01",
                ]
                .iter()
                .any(|needle| text.contains(needle))
            }
            _ => false,
        }
    }

    /// A short machine-readable name for audit rows and JSON output.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "not_found",
            Self::NotACustomer { .. } => "not_a_customer",
            Self::NotAllowed { .. } => "not_allowed",
            Self::UnknownOperator { .. } => "unknown_operator",
            Self::Policy(_) => "policy",
            Self::Cooldown { .. } => "cooldown",
            Self::RateLimited { .. } => "rate_limited",
            Self::InvalidLink(_) => "invalid_link",
            Self::Locked { .. } => "locked",
            Self::BadCredentials => "bad_credentials",
            Self::TemporaryExpired => "temporary_expired",
            Self::SessionEnded => "session_ended",
            Self::Conflict(_) => "conflict",
            Self::Invalid(_) => "invalid",
            Self::Unavailable(_) => "unavailable",
            Self::Store(_) => "store",
            Self::Internal(_) => "internal",
        }
    }
}
