//! The operations commands: `completions`, `doctor`, `migrate --status`,
//! `backup` and `outbox`. Each prints text for a person or, with
//! `--json`, one JSON document for a script.

use std::path::Path;

use color_eyre::eyre::Result;
use serde::Serialize;

use super::{CompletionShell, Failure, OutboxAction, OutboxArgs, connect, open_store, outln};
use super::{out, say_error, unavailable};
use crate::settings::{Settings, SettingsError, Sources};

/// `keydesk completions SHELL`: the script on stdout.
pub(super) fn completions(shell: CompletionShell) -> i32 {
    use clap::CommandFactory;
    let shell = match shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut super::Cli::command(), "keydesk", &mut script);
    out!("{}", String::from_utf8_lossy(&script));
    0
}

/// `keydesk doctor [--json]`: exit 0 only when no check failed.
pub(super) async fn doctor(settings: &Settings, sources: &Sources, json: bool) -> i32 {
    let report = crate::doctor::run(settings, sources).await;
    print_report(&report, json);
    i32::from(!report.ok)
}

/// `keydesk doctor` when the settings themselves do not load: the
/// failing settings check, exit 78 like every command.
pub(super) fn doctor_without_settings(err: &SettingsError, sources: &Sources, json: bool) -> i32 {
    let report = crate::doctor::settings_failed(&err.to_string(), sources);
    print_report(&report, json);
    super::EX_CONFIG
}

fn print_report(report: &crate::doctor::Report, json: bool) {
    if json {
        print_json(report);
    } else {
        out!("{}", report.text());
    }
}

/// One JSON document on stdout, pretty-printed (serde_json escapes
/// control characters, so stored text cannot reach the terminal raw).
pub(super) fn print_json(value: &impl Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => outln!("{text}"),
        Err(err) => say_error!("keydesk: cannot write JSON: {err}"),
    }
}

/// `keydesk migrate --status [--json]`: applied and pending migrations;
/// changes nothing.
pub(super) async fn migrate_status(settings: &Settings, json: bool) -> Result<i32> {
    let store = connect(settings).await?;
    let status = crate::store::schema::status(store.conn())
        .await
        .map_err(|e| unavailable(settings, &e))?;
    if json {
        #[derive(Serialize)]
        struct Shown<'a> {
            store: String,
            store_version: Option<&'a str>,
            #[serde(flatten)]
            status: &'a crate::store::schema::SchemaStatus,
        }
        print_json(&Shown {
            store: crate::settings::redact_url(&settings.database.url),
            store_version: status.store_version(),
            status: &status,
        });
        return Ok(0);
    }
    let mut text = format!(
        "store {}: version {}; this keydesk knows up to {}\n",
        crate::settings::redact_url(&settings.database.url),
        status.store_version().unwrap_or("none (empty)"),
        status.known_version
    );
    for applied in &status.applied {
        text.push_str(&format!(
            "applied  {}  {}\n",
            applied.name,
            applied.applied_at.format("%Y-%m-%d %H:%M:%S UTC")
        ));
    }
    for name in &status.pending {
        text.push_str(&format!("pending  {name}\n"));
    }
    for name in &status.unknown {
        text.push_str(&format!("unknown  {name}  (from a newer keydesk)\n"));
    }
    if let Some(problem) = status.problem() {
        text.push_str(&problem);
        text.push('\n');
    }
    out!("{text}");
    Ok(0)
}

/// `keydesk backup FILE`.
pub(super) async fn backup(settings: &Settings, file: &Path) -> Result<i32> {
    let store = open_store(settings).await?;
    match crate::store::backup::sqlite(&store, file).await {
        Ok(done) => {
            outln!(
                "backup written to {} ({} bytes, checked); keep the settings and the SSH host key with it, and the pepper file apart",
                done.path.display(),
                done.bytes
            );
            Ok(0)
        }
        Err(err) => Err(Failure::new(crate::desk::error::exit::FAILURE, err.to_string()).into()),
    }
}

/// `keydesk outbox [--failed] [--limit N] [--json] | outbox retry ID`.
pub(super) async fn outbox(settings: &Settings, args: OutboxArgs) -> Result<i32> {
    let store = open_store(settings).await?;
    let now = crate::clock::Clock::system().now();
    if let Some(OutboxAction::Retry { id }) = args.action {
        let before = crate::mail::queue::get(store.conn(), id).await?;
        return match crate::mail::queue::retry(&store, id, now).await {
            Ok(()) => {
                let error = before.map(|r| r.last_error).unwrap_or_default();
                outln!("outbox message {id} queued again (last error was: {error})");
                Ok(0)
            }
            Err(err) => {
                say_error!("keydesk: {err}");
                Ok(1)
            }
        };
    }
    let rows = crate::mail::queue::list(store.conn(), args.failed, args.limit).await?;
    if args.json {
        #[derive(Serialize)]
        struct Row<'a> {
            id: i64,
            state: &'a str,
            kind: &'a str,
            recipient: &'a str,
            attempts: i32,
            created_at: chrono::DateTime<chrono::Utc>,
            next_attempt_at: chrono::DateTime<chrono::Utc>,
            sent_at: Option<chrono::DateTime<chrono::Utc>>,
            last_error: &'a str,
            status: String,
        }
        let shown: Vec<Row<'_>> = rows
            .iter()
            .map(|r| Row {
                id: r.id,
                state: &r.state,
                kind: &r.kind,
                recipient: &r.recipient,
                attempts: r.attempts,
                created_at: r.created_at,
                next_attempt_at: r.next_attempt_at,
                sent_at: r.sent_at,
                last_error: &r.last_error,
                status: crate::mail::delivery_state::DeliveryState::of(r, now).to_string(),
            })
            .collect();
        print_json(&shown);
    } else {
        out!("{}", crate::mail::admin::format_table(&rows, now));
    }
    Ok(0)
}
