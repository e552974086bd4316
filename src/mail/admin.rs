//! The operator's view of the outbox: `keydesk worker`, `keydesk outbox
//! [--failed]` and `keydesk outbox retry ID`. Lists show state, attempts
//! and the last error, never a message body.

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use super::delivery_state::{DeliveryState, kind_label};
use super::transport::SetupError;
use super::worker::Worker;
use crate::clock::Clock;
use crate::settings::Settings;
use crate::store::Store;
use crate::store::entity::outbox;

/// Runs the worker alone until SIGTERM or Ctrl-C.
///
/// # Errors
/// When the transport cannot be set up.
pub async fn run_worker(store: Store, settings: &Settings) -> Result<(), SetupError> {
    let worker = Worker::new(store, settings, Clock::system(), Arc::new(Notify::new()))?;
    worker.run(stop_signal()).await;
    Ok(())
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM. The handlers are installed
/// when this is called, not when it is first awaited: a signal that comes
/// right after a server says it is ready must stop it cleanly, not kill it.
pub fn stop_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            (Err(err), _) | (_, Err(err)) => {
                tracing::warn!(%err, "cannot listen for SIGTERM; Ctrl-C still stops");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

/// The `keydesk outbox` table: one line per message, newest first.
#[must_use]
pub fn format_table(rows: &[outbox::Model], now: DateTime<Utc>) -> String {
    if rows.is_empty() {
        return "no messages\n".to_owned();
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>6}  {:<8}  {:<23}  {:>8}  {:<19}  {:<32}  STATUS",
        "ID", "STATE", "KIND", "ATTEMPTS", "QUEUED (UTC)", "RECIPIENT"
    );
    for row in rows {
        let _ = writeln!(
            out,
            "{:>6}  {:<8}  {:<23}  {:>8}  {:<19}  {:<32}  {}",
            row.id,
            row.state,
            kind_label(&row.kind),
            row.attempts,
            row.created_at.format("%Y-%m-%d %H:%M:%S"),
            one_line(&row.recipient),
            one_line(&DeliveryState::of(row, now).to_string()),
        );
    }
    out
}

/// Keeps a stored value from breaking the table or the terminal.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::queue::{kind, state};

    #[test]
    fn the_table_shows_state_and_error_but_never_the_body() {
        let at = DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let row = outbox::Model {
            id: 42,
            recipient: "ada@example.com".into(),
            kind: kind::RESET_LINK.into(),
            contact_id: None,
            reset_link_id: None,
            body: Some("Subject: x\r\n\r\nhttps://site/reset/SECRET-TOKEN".into()),
            state: state::FAILED.into(),
            attempts: 1,
            next_attempt_at: at,
            claimed_until: None,
            sent_at: None,
            last_error: "550 5.1.1 no such user\r\n\x1b[2J".into(),
            created_at: at,
        };
        let table = format_table(&[row], at);
        assert!(table.contains("    42  failed"), "{table}");
        assert!(table.contains("failed: 550 5.1.1 no such user"), "{table}");
        assert!(!table.contains("SECRET-TOKEN"), "{table}");
        assert!(!table.contains('\x1b'), "control characters are removed");
        assert_eq!(format_table(&[], at), "no messages\n");
    }
}
