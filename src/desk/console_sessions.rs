//! The sign-in audit: every console session, local or over `ssh-serve`,
//! writes an audit row when it starts and one when it ends, so an admin
//! can answer "who was in the console between 02:00 and 03:00, from where,
//! with which key, and for how long" from `keydesk audit`.
//!
//! - `console.start`: the operator (actor), the client address (source:
//!   `ssh ADDRESS:PORT` or `local`), and in `detail` the session id, `via`
//!   (`ssh` or `local`), the key's `SHA256:` fingerprint for SSH, and the
//!   operator's role then (`null` for an OS user who is not an operator:
//!   they see no contacts, but their visit is recorded).
//! - `console.end`: the same actor and source, and in `detail` the session
//!   id, `via`, `reason` ([`ConsoleEnd`]) and `duration_secs`.
//!
//! A failure to record (the store is down) is logged and never stops the
//! console: rule 9 says a dead database must not take the console with it.

use chrono::{DateTime, Utc};
use rand::RngExt;

use super::Desk;
use super::audit::{self, Actor, Event};
use super::error::DeskError;
use super::roles::{Identity, role_of};

/// The audit action of a session's first row.
pub const STARTED: &str = "console.start";
/// The audit action of a session's last row.
pub const ENDED: &str = "console.end";

/// How the console was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleVia {
    /// `keydesk` (or `keydesk demo`) on this host's terminal.
    Local,
    /// `keydesk ssh-serve`, signed in with the key of this fingerprint.
    Ssh {
        /// `SHA256:...` of the operator's key.
        key_fingerprint: String,
    },
}

impl ConsoleVia {
    fn name(&self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Ssh { .. } => "ssh",
        }
    }
}

/// Why a console session ended; `reason` in the `console.end` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleEnd {
    /// The operator quit.
    Quit,
    /// No input for `ssh.idle_timeout`.
    Idle,
    /// `ssh.max_session` passed.
    MaxSession,
    /// The terminal or the SSH connection went away (SIGHUP, a closed
    /// channel, a client that stopped reading).
    Dropped,
    /// keydesk was stopped: `ssh-serve` shutting down, or SIGTERM to a
    /// local console.
    ServerStop,
    /// The console failed (an internal error; the session alone ended).
    Failed,
}

impl ConsoleEnd {
    /// The `reason` written to the audit row.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Quit => "quit",
            Self::Idle => "idle",
            Self::MaxSession => "max_session",
            Self::Dropped => "dropped",
            Self::ServerStop => "server_stop",
            Self::Failed => "failed",
        }
    }
}

/// One console session, from its start row to its end row.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    id: String,
    actor: Actor,
    via: ConsoleVia,
    started: DateTime<Utc>,
}

impl ConsoleSession {
    /// The session id both rows carry (also in the log lines).
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Desk {
    /// Records that `identity` opened a console `via` the local terminal
    /// or SSH. Returns the session to pass to [`Desk::console_ended`].
    pub async fn console_started(&self, identity: &Identity, via: ConsoleVia) -> ConsoleSession {
        let session = ConsoleSession {
            // Correlates the two rows and the log; not a secret.
            id: format!("{:016x}", rand::rng().random::<u64>()),
            actor: Actor {
                kind: "operator",
                name: identity.name.clone(),
                source: identity.source.clone(),
            },
            via,
            started: self.clock.now(),
        };
        if let Err(err) = self.write_console_start(&session).await {
            tracing::warn!(kind = err.kind(), error = %err, session = %session.id, "could not audit a console session's start");
        }
        session
    }

    /// Records that `session` ended, and why.
    pub async fn console_ended(&self, session: &ConsoleSession, end: ConsoleEnd) {
        let now = self.clock.now();
        let secs = (now - session.started).num_seconds().max(0);
        let event = Event::ok(ENDED, None)
            .detail("session", session.id.as_str())
            .detail("via", session.via.name())
            .detail("reason", end.as_str())
            .detail("duration_secs", secs);
        if let Err(err) = self.write_console_row(&session.actor, now, event).await {
            tracing::warn!(kind = err.kind(), error = %err, session = %session.id, "could not audit a console session's end");
        }
    }

    async fn write_console_start(&self, session: &ConsoleSession) -> Result<(), DeskError> {
        let role = role_of(self.store.conn(), &session.actor.name).await?;
        let mut event = Event::ok(STARTED, None)
            .detail("session", session.id.as_str())
            .detail("via", session.via.name())
            .detail("role", role.map(super::action::Role::as_str));
        if let ConsoleVia::Ssh { key_fingerprint } = &session.via {
            event = event.detail("key", key_fingerprint.as_str());
        }
        self.write_console_row(&session.actor, session.started, event)
            .await
    }

    async fn write_console_row(
        &self,
        actor: &Actor,
        at: DateTime<Utc>,
        event: Event,
    ) -> Result<(), DeskError> {
        let txn = self.store.begin_write().await?;
        audit::write(&txn, at, actor, event).await?;
        txn.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_way_of_ending_has_its_own_reason() {
        let all = [
            ConsoleEnd::Quit,
            ConsoleEnd::Idle,
            ConsoleEnd::MaxSession,
            ConsoleEnd::Dropped,
            ConsoleEnd::ServerStop,
            ConsoleEnd::Failed,
        ];
        let mut names: Vec<&str> = all.iter().map(|e| e.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
    }
}
