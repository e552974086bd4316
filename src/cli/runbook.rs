//! The runbook commands: `reset-password --from FILE`, `unlock --from
//! FILE`, `unlock --all-locked [--since D]`, `sign-out --from FILE`.
//!
//! A file holds one email a line (`-` reads stdin; blank lines and `#`
//! comments are ignored). Lines that are not an email address are failures
//! of their own, reported by line number; the valid ones still run. Emails
//! no contact has are skipped. The rest is one desk bulk job (planned,
//! stored, walked contact by contact, each audited), with a progress bar
//! when stderr is a terminal, then a summary: done, skipped with reasons,
//! failed. Exit 0 only when nothing failed (15 otherwise).

use std::collections::HashMap;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use color_eyre::eyre::Result;

use super::printable;
use super::{Command, out, outln, say_error};
use crate::desk::bulk::{BulkAction, BulkSummary, by_reason};
use crate::desk::error::exit;
use crate::desk::{Desk, DeskError, Operator};

/// Where the contacts come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Source {
    /// One email a line; `-` is stdin.
    File(PathBuf),
    /// Every account locked now, optionally only locks that began within this.
    AllLocked(Option<String>),
}

/// A bulk command from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Runbook {
    action: BulkAction,
    source: Source,
}

impl Runbook {
    /// The runbook a command asks for, if it is one.
    pub(super) fn of(command: &Command) -> Option<Self> {
        let (action, source) = match command {
            Command::ResetPassword {
                from: Some(file), ..
            } => (BulkAction::ResetPassword, Source::File(file.clone())),
            Command::Unlock {
                from: Some(file), ..
            } => (BulkAction::Unlock, Source::File(file.clone())),
            Command::Unlock {
                all_locked: true,
                since,
                ..
            } => (BulkAction::Unlock, Source::AllLocked(since.clone())),
            Command::SignOut {
                from: Some(file), ..
            } => (BulkAction::SignOut, Source::File(file.clone())),
            _ => return None,
        };
        Some(Self { action, source })
    }
}

/// A line of the input that is not an email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BadLine {
    /// 1-based.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// Splits an input file into email addresses and bad lines.
pub(super) fn parse_lines(text: &str) -> (Vec<String>, Vec<BadLine>) {
    let mut emails = Vec::new();
    let mut bad = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match crate::import::check_email(line) {
            Ok(email) => emails.push(email),
            Err(reason) => bad.push(BadLine {
                line: n + 1,
                reason,
            }),
        }
    }
    (emails, bad)
}

fn read_input(path: &PathBuf) -> std::io::Result<String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Ok(text)
    } else {
        std::fs::read_to_string(path)
    }
}

/// Runs a runbook; returns the exit code.
pub(super) async fn run(desk: &Desk, op: &Operator, runbook: Runbook) -> Result<i32> {
    let mut names: HashMap<i64, String> = HashMap::new();
    let mut unknown = Vec::new();
    let mut bad = Vec::new();
    let ids = match &runbook.source {
        Source::File(path) => {
            let text = match read_input(path) {
                Ok(text) => text,
                Err(err) => {
                    say_error!("keydesk: cannot read {}: {err}", path.display());
                    return Ok(exit::USAGE);
                }
            };
            let (emails, bad_lines) = parse_lines(&text);
            bad = bad_lines;
            let found = match desk.contact_ids_by_email(op, &emails).await {
                Ok(found) => found,
                Err(err) => return Ok(refused(&err)),
            };
            let mut ids = Vec::new();
            for email in emails {
                match found.get(&email.to_lowercase()) {
                    Some(id) => {
                        names.entry(*id).or_insert(email);
                        ids.push(*id);
                    }
                    None => unknown.push(email),
                }
            }
            ids
        }
        Source::AllLocked(since) => {
            let since = match since.as_deref().map(humantime::parse_duration).transpose() {
                Ok(since) => since,
                Err(err) => {
                    say_error!("keydesk: --since: {err} (examples: 30m, 2h, 1d)");
                    return Ok(exit::USAGE);
                }
            };
            match desk.locked_contacts(op, since).await {
                Ok(ids) => ids,
                Err(err) => return Ok(refused(&err)),
            }
        }
    };
    let summary = match walk(desk, op, runbook.action, &ids).await {
        Ok(summary) => summary,
        Err(err) => return Ok(refused(&err)),
    };
    report(&runbook, &summary, &names, &unknown, &bad);
    if runbook.action == BulkAction::ResetPassword && summary.done > 0 {
        outln!("{}", deliver_some(desk).await);
    }
    Ok(if summary.failed.is_empty() && bad.is_empty() {
        exit::OK
    } else {
        exit::BULK_FAILED
    })
}

/// Plans, stores and walks the job, with a progress bar on a terminal.
async fn walk(
    desk: &Desk,
    op: &Operator,
    action: BulkAction,
    ids: &[i64],
) -> Result<BulkSummary, DeskError> {
    let plan = desk.plan_bulk(op, action, ids).await?;
    if plan.act_on.is_empty() && plan.skipped.is_empty() {
        return Ok(BulkSummary {
            job_id: 0,
            action,
            done: 0,
            skipped: Vec::new(),
            failed: Vec::new(),
            not_reached: 0,
            cancelled: false,
        });
    }
    let job = desk.start_bulk(op, &plan).await?;
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(plan.act_on.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {pos}/{len} ({per_sec}, {eta} left)",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(action.title());
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let shown = bar.clone();
    let summary = desk
        .run_bulk(op, job, move |p| shown.set_position(p.handled()))
        .await;
    bar.finish_and_clear();
    summary
}

fn report(
    runbook: &Runbook,
    summary: &BulkSummary,
    names: &HashMap<i64, String>,
    unknown: &[String],
    bad: &[BadLine],
) {
    let name = |id: i64| {
        names
            .get(&id)
            .map_or_else(|| format!("contact #{id}"), |e| printable(e))
    };
    let skipped = summary.skipped.len() + unknown.len();
    let failed = summary.failed.len() + bad.len();
    outln!(
        "{}: {} done, {skipped} skipped, {failed} failed",
        runbook.action.title(),
        summary.done
    );
    for (why, n) in by_reason(&summary.skipped) {
        outln!("  {n} skipped: {}", why.words());
    }
    if !unknown.is_empty() {
        outln!("  {} skipped: no contact has the email", unknown.len());
    }
    for (id, why) in &summary.skipped {
        outln!("skipped\t{}\t{}", name(*id), why.words());
    }
    for email in unknown {
        outln!("skipped\t{}\tno contact has the email", printable(email));
    }
    for (id, error) in &summary.failed {
        outln!("failed\t{}\t{}", name(*id), printable(error));
    }
    for line in bad {
        outln!("failed\tline {}\t{}", line.line, printable(&line.reason));
    }
}

/// One bounded delivery pass, as single commands make, then where the
/// outbox stands: the rest goes at `mail.max_per_minute` from any worker.
async fn deliver_some(desk: &Desk) -> String {
    if let Ok(worker) = crate::mail::worker::Worker::new(
        desk.store().clone(),
        desk.settings(),
        desk.clock().clone(),
        desk.outbox_wake(),
    ) {
        let limit = desk.settings().mail.smtp.timeout + std::time::Duration::from_secs(2);
        let _ = tokio::time::timeout(limit, worker.deliver_due()).await;
    }
    match crate::mail::queue::counts(desk.store().conn()).await {
        Ok(c) if c.queued + c.retrying == 0 => "every email is sent".to_owned(),
        Ok(c) => format!(
            "{} email(s) waiting in the outbox; `keydesk worker` or `keydesk serve` sends them, at most {} a minute",
            c.queued + c.retrying,
            desk.settings().mail.max_per_minute
        ),
        Err(err) => format!("emails queued (the outbox cannot be read now: {err})"),
    }
}

fn refused(err: &DeskError) -> i32 {
    say_error!("keydesk: {}", printable(&err.to_string()));
    err.exit_code()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_into_emails_and_bad_lines_by_number() {
        let (emails, bad) =
            parse_lines("# compromised\nada@example.com\n\n  Bob@Example.com \nnot an email\n");
        assert_eq!(emails, vec!["ada@example.com", "Bob@Example.com"]);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].line, 5);
        assert!(
            bad[0].reason.contains("not a valid email"),
            "{}",
            bad[0].reason
        );
    }
}
