//! What became of an email, in words an agent can act on: "reset email
//! queued, retrying in 2 min: connection refused". The console and the
//! site read the outbox row and show this; nothing here touches the body.

use std::fmt;

use chrono::{DateTime, Utc};

use super::queue::{kind, state};
use crate::store::entity::outbox;

/// The delivery state of one outbox row, as of a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryState {
    /// Waiting for its first attempt.
    Queued,
    /// A worker holds it now.
    Sending {
        /// Which attempt this is (1 for the first).
        attempt: i32,
    },
    /// Waiting after a temporary failure.
    Retrying {
        /// Seconds until the next attempt (0: due now).
        in_secs: i64,
        /// Attempts made so far.
        attempts: i32,
        /// The last failure.
        error: String,
    },
    /// Delivered.
    Sent {
        /// When.
        at: DateTime<Utc>,
        /// Seconds ago, as of the moment asked.
        ago_secs: i64,
    },
    /// Given up on: refused for good or out of attempts.
    Failed {
        /// The server's reply or the last error.
        error: String,
    },
    /// Not sent because its reset link died first.
    Expired,
    /// A state this version does not know (a newer keydesk wrote it).
    Unknown(String),
}

impl DeliveryState {
    /// Reads a row as of `now`.
    #[must_use]
    pub fn of(row: &outbox::Model, now: DateTime<Utc>) -> Self {
        match row.state.as_str() {
            state::QUEUED if row.last_error.is_empty() => Self::Queued,
            state::QUEUED => Self::Retrying {
                in_secs: (row.next_attempt_at - now).num_seconds().max(0),
                attempts: row.attempts,
                error: row.last_error.clone(),
            },
            state::SENDING => Self::Sending {
                attempt: row.attempts.max(1),
            },
            state::SENT => {
                let at = row.sent_at.unwrap_or(row.created_at);
                Self::Sent {
                    at,
                    ago_secs: (now - at).num_seconds().max(0),
                }
            }
            state::FAILED => Self::Failed {
                error: row.last_error.clone(),
            },
            state::EXPIRED => Self::Expired,
            other => Self::Unknown(other.to_owned()),
        }
    }

    /// Whether the message may still go out without anyone acting.
    #[must_use]
    pub fn is_pending(&self) -> bool {
        matches!(
            self,
            Self::Queued | Self::Sending { .. } | Self::Retrying { .. }
        )
    }
}

/// "45 s", "2 min", "3 h", "2 d": short, rounded, for status lines.
#[must_use]
pub fn short_duration(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        0..=89 => format!("{secs} s"),
        90..=5399 => format!("{} min", (secs + 30) / 60),
        5400..=129_599 => format!("{} h", (secs + 1800) / 3600),
        _ => format!("{} d", (secs + 43_200) / 86_400),
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Queued => f.write_str("queued"),
            Self::Sending { attempt: 1 } => f.write_str("sending"),
            Self::Sending { attempt } => write!(f, "sending (attempt {attempt})"),
            Self::Retrying {
                in_secs: 0, error, ..
            } => write!(f, "queued, retrying now: {error}"),
            Self::Retrying { in_secs, error, .. } => {
                write!(
                    f,
                    "queued, retrying in {}: {error}",
                    short_duration(*in_secs)
                )
            }
            Self::Sent { ago_secs, .. } if *ago_secs < 5 => f.write_str("sent just now"),
            Self::Sent { ago_secs, .. } => write!(f, "sent {} ago", short_duration(*ago_secs)),
            Self::Failed { error } if error.is_empty() => f.write_str("failed"),
            Self::Failed { error } => write!(f, "failed: {error}"),
            Self::Expired => f.write_str("not sent: the link expired before delivery"),
            Self::Unknown(state) => write!(f, "in unknown state {state:?}"),
        }
    }
}

/// What a kind of email is called in a sentence.
#[must_use]
pub fn kind_label(kind_value: &str) -> &'static str {
    match kind_value {
        kind::RESET_LINK => "reset email",
        kind::PASSWORD_CHANGED => "password-changed notice",
        kind::WELCOME => "welcome email",
        kind::EMAIL_CHANGED_OLD => "email-changed notice (old address)",
        kind::EMAIL_CHANGED_NEW => "email-changed notice (new address)",
        _ => "email",
    }
}

/// One line for a profile or status line, e.g. "reset email queued,
/// retrying in 2 min: connection refused (smtp 127.0.0.1:25 (plain))".
#[must_use]
pub fn describe_delivery(row: &outbox::Model, now: DateTime<Utc>) -> String {
    format!("{} {}", kind_label(&row.kind), DeliveryState::of(row, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn row(state_value: &str) -> outbox::Model {
        let at = DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        outbox::Model {
            id: 1,
            recipient: "ada@example.com".into(),
            kind: kind::RESET_LINK.into(),
            contact_id: Some(1),
            reset_link_id: Some(1),
            body: None,
            state: state_value.into(),
            attempts: 0,
            next_attempt_at: at,
            claimed_until: None,
            sent_at: None,
            last_error: String::new(),
            created_at: at,
        }
    }

    #[test]
    fn says_what_an_agent_needs() {
        let queued = row(state::QUEUED);
        let now = queued.created_at;
        assert_eq!(describe_delivery(&queued, now), "reset email queued");

        let mut retrying = row(state::QUEUED);
        retrying.attempts = 2;
        retrying.last_error = "connection refused (smtp relay:25 (starttls))".into();
        retrying.next_attempt_at = now + TimeDelta::seconds(118);
        assert_eq!(
            describe_delivery(&retrying, now),
            "reset email queued, retrying in 2 min: connection refused (smtp relay:25 (starttls))"
        );

        let mut sent = row(state::SENT);
        sent.kind = kind::PASSWORD_CHANGED.into();
        sent.sent_at = Some(now);
        assert_eq!(
            describe_delivery(&sent, now + TimeDelta::seconds(3 * 3600)),
            "password-changed notice sent 3 h ago"
        );

        let mut failed = row(state::FAILED);
        failed.last_error = "550 5.1.1 mailbox unavailable".into();
        assert_eq!(
            describe_delivery(&failed, now),
            "reset email failed: 550 5.1.1 mailbox unavailable"
        );
        assert!(describe_delivery(&row(state::EXPIRED), now).contains("expired"));
        assert!(DeliveryState::of(&retrying, now).is_pending());
        assert!(!DeliveryState::of(&failed, now).is_pending());
    }

    #[test]
    fn short_durations_round_sensibly() {
        assert_eq!(short_duration(-5), "0 s");
        assert_eq!(short_duration(45), "45 s");
        assert_eq!(short_duration(150), "3 min");
        assert_eq!(short_duration(7200), "2 h");
        assert_eq!(short_duration(3 * 86_400), "3 d");
    }
}
