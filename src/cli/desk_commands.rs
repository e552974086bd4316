//! The customer-access commands: `reset-password`, `change-password`,
//! `unlock`, `sign-out`, `sessions`, `audit`, `operators`, `contacts`.
//! Each resolves the operator
//! from the OS (real uid, SSH client), calls one desk operation, prints
//! the outcome, and maps a refusal to its own exit code.

use super::{OperatorsCommand, out, outln, printable, say_error};
use std::io::{BufRead, IsTerminal, Write};

use color_eyre::eyre::{Result, WrapErr};

use super::Command;
use super::services::deliver_now;
use crate::desk::audit::{AuditEntry, AuditFilter};
use crate::desk::error::exit;
use crate::desk::{Desk, DeskError, Identity, Operator, Role};
use crate::settings::Settings;
use crate::store::Store;

/// After `migrate`: on a store with no operators, the OS user running it
/// becomes the first admin and is told so.
pub(super) async fn first_admin(store: Store, settings: Settings) -> Result<i32> {
    let desk = super::services::service_desk(store, settings)?;
    let identity = Identity::from_os()?;
    match desk.ensure_first_admin(&identity).await {
        Ok(Some(message)) => {
            outln!("{message}");
            Ok(exit::OK)
        }
        Ok(None) => Ok(exit::OK),
        Err(err) => Ok(refused(&err)),
    }
}

/// Runs one customer-access command.
pub(super) async fn run(store: Store, settings: Settings, command: Command) -> Result<i32> {
    let desk = super::services::service_desk(store, settings)?;
    let identity = Identity::from_os()?;
    let op = match desk.operator(&identity).await {
        Ok(op) => op,
        Err(err) => return Ok(refused(&err)),
    };
    if let Some(runbook) = super::runbook::Runbook::of(&command) {
        return super::runbook::run(&desk, &op, runbook).await;
    }
    let outcome = match command {
        Command::ResetPassword {
            email: Some(email),
            force,
            ..
        } => reset_password(&desk, &op, &email, force).await,
        Command::ChangePassword {
            email,
            generate,
            password_stdin: _,
            no_require_change,
        } => change_password(&desk, &op, &email, generate, !no_require_change).await?,
        Command::Unlock {
            email: Some(email), ..
        } => desk.unlock(&op, &email).await.map(|was_locked| {
            if was_locked {
                outln!("{} is unlocked", printable(&email));
            } else {
                outln!(
                    "{} was not locked; failure count cleared",
                    printable(&email)
                );
            }
        }),
        Command::SignOut {
            email: Some(email),
            session: None,
            ..
        } => desk.sign_out_everywhere(&op, &email).await.map(|n| {
            outln!("ended {n} site session(s) of {}", printable(&email));
        }),
        Command::SignOut {
            email: Some(email),
            session: Some(id),
            ..
        } => desk
            .end_customer_session(&op, &email, id)
            .await
            .map(|ended| {
                if ended {
                    outln!("ended site session {id} of {}", printable(&email));
                } else {
                    outln!(
                        "site session {id} of {} was not live; nothing changed",
                        printable(&email)
                    );
                }
            }),
        Command::Sessions { email, json: true } => {
            desk.customer_sessions(&op, &email).await.map(|list| {
                let shown: Vec<_> = list
                    .iter()
                    .map(|s| {
                        serde_json::json!({
                            "id": s.id,
                            "created_at": s.created_at,
                            "last_seen_at": s.last_seen_at,
                            "client": s.client,
                        })
                    })
                    .collect();
                super::ops_commands::print_json(&shown);
            })
        }
        Command::Sessions { email, json: false } => {
            desk.customer_sessions(&op, &email).await.map(|list| {
                if list.is_empty() {
                    outln!("{} has no live site session", printable(&email));
                }
                for s in list {
                    outln!(
                        "{}\tsigned in {}\tlast seen {}\t{}",
                        s.id,
                        s.created_at.format("%Y-%m-%d %H:%M UTC"),
                        s.last_seen_at.format("%Y-%m-%d %H:%M UTC"),
                        printable(&s.client)
                    );
                }
            })
        }
        Command::Audit {
            contact,
            limit,
            json,
        } => audit(&desk, &op, contact, limit, json).await?,
        Command::Operators(OperatorsCommand::AddKey { name, file, .. }) => {
            match read_key_text(file.as_deref()).and_then(|text| {
                crate::desk::operator_keys::parse_public_key(&text).map_err(|e| e.to_string())
            }) {
                Ok(key) => add_key(&desk, &op, &name, &key).await,
                Err(message) => {
                    // Bad input: said clearly, nothing stored.
                    say_error!("keydesk: {}", printable(&message));
                    return Ok(exit::USAGE);
                }
            }
        }
        Command::Operators(command) => operators(&desk, &op, command).await?,
        Command::Contacts(command) => super::contacts::run(&desk, &op, command).await,
        Command::Offers(command) => super::offers_notes::offers(&desk, &op, command).await,
        Command::Notes(command) => super::offers_notes::notes(&desk, &op, command).await?,
        // Not customer-access commands (or runbooks, handled above);
        // `cli::run` never sends them here.
        _ => Ok(()),
    };
    Ok(match outcome {
        Ok(()) => exit::OK,
        Err(err) => refused(&err),
    })
}

/// Prints a refusal (one line) and returns its exit code.
fn refused(err: &DeskError) -> i32 {
    say_error!("keydesk: {}", printable(&err.to_string()));
    err.exit_code()
}

async fn reset_password(
    desk: &Desk,
    op: &Operator,
    email: &str,
    force: bool,
) -> Result<(), DeskError> {
    let sent = desk.send_reset_link(op, email, force).await?;
    outln!(
        "reset link for {} works until {} (revoked {} older link(s))",
        printable(&sent.recipient),
        sent.expires_at.format("%Y-%m-%d %H:%M UTC"),
        sent.revoked_older
    );
    outln!("{}", deliver_now(desk, sent.contact_id).await);
    Ok(())
}

async fn change_password(
    desk: &Desk,
    op: &Operator,
    email: &str,
    generate: bool,
    require_change: bool,
) -> Result<Result<(), DeskError>> {
    let password = if generate {
        match desk.generate_temporary_password() {
            Ok(password) => password,
            Err(err) => return Ok(Err(err)),
        }
    } else {
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            eprint!("new password (one line): ");
            std::io::stderr().flush().ok();
        }
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .wrap_err("reading the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    let set = match desk
        .change_password(op, email, &password, require_change)
        .await
    {
        Ok(set) => set,
        Err(err) => return Ok(Err(err)),
    };
    let mut note = format!(
        "password of {} changed; {} reset link(s) revoked, {} session(s) ended",
        printable(email),
        set.links_revoked,
        set.sessions_ended
    );
    if let Some(until) = set.temporary_expires_at {
        note.push_str(&format!(
            "; it must be changed at the next sign-in and stops working at {}",
            until.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    if generate {
        // The password alone on stdout (once, so a script can capture it);
        // everything else on stderr. It is never logged.
        super::say!("{note}. Temporary password (shown once; give it through another channel):");
        outln!("{password}");
    } else {
        outln!("{note}");
    }
    // The "your password was changed" notice; on stderr with --generate so
    // stdout stays the password alone.
    let notice = deliver_now(desk, set.contact_id).await;
    if generate {
        super::say!("{notice}");
    } else {
        outln!("{notice}");
    }
    Ok(Ok(()))
}

async fn audit(
    desk: &Desk,
    op: &Operator,
    contact: Option<String>,
    limit: u64,
    json: bool,
) -> Result<Result<(), DeskError>> {
    let filter = AuditFilter {
        contact_email: contact,
        limit,
        ..AuditFilter::default()
    };
    let entries = match desk.audit(op, &filter).await {
        Ok(entries) => entries,
        Err(err) => return Ok(Err(err)),
    };
    let mut out = std::io::stdout().lock();
    if json {
        // serde_json escapes control characters, so JSON output is safe as is.
        serde_json::to_writer_pretty(&mut out, &entries)?;
        writeln!(out)?;
    } else {
        for entry in &entries {
            writeln!(out, "{}", audit_line(entry))?;
        }
    }
    Ok(Ok(()))
}

fn audit_line(e: &AuditEntry) -> String {
    printable(&format!(
        "{}  {} {} ({})  {}  {}  {}  {}",
        e.at.format("%Y-%m-%d %H:%M:%S"),
        e.actor_kind,
        e.actor,
        e.source,
        e.action,
        e.outcome,
        e.contact.as_deref().unwrap_or("-"),
        e.detail
    ))
}

async fn operators(
    desk: &Desk,
    op: &Operator,
    command: OperatorsCommand,
) -> Result<Result<(), DeskError>> {
    Ok(match command {
        OperatorsCommand::Add { name, role } => {
            let role: Role = match role.parse() {
                Ok(role) => role,
                // clap admits only the three names; this is a guard, not a path.
                Err(message) => return Ok(Err(DeskError::Internal(message))),
            };
            desk.add_operator(op, &name, role).await.map(|()| {
                outln!(
                    "{} is now an operator with the {role} role",
                    printable(&name)
                );
            })
        }
        OperatorsCommand::Remove { name } => desk.remove_operator(op, &name).await.map(|()| {
            outln!("{} is no longer an operator", printable(&name));
        }),
        OperatorsCommand::List { json } => match desk.list_operators(op).await {
            Ok(list) => {
                let keys = match desk.list_operator_keys(op).await {
                    Ok(keys) => keys,
                    Err(err) => return Ok(Err(err)),
                };
                if json {
                    let shown: Vec<_> = list
                        .iter()
                        .map(|entry| {
                            let keys: Vec<_> = keys
                                .iter()
                                .filter(|k| k.operator == entry.name)
                                .map(|k| {
                                    serde_json::json!({
                                        "fingerprint": k.fingerprint,
                                        "algorithm": k.algorithm,
                                        "comment": k.comment,
                                    })
                                })
                                .collect();
                            serde_json::json!({
                                "name": entry.name,
                                "role": entry.role.as_str(),
                                "created_at": entry.created_at,
                                "created_by": entry.created_by,
                                "keys": keys,
                            })
                        })
                        .collect();
                    super::ops_commands::print_json(&shown);
                    return Ok(Ok(()));
                }
                for entry in list {
                    outln!(
                        "{:<24} {:<7} added {} by {}",
                        printable(&entry.name),
                        entry.role,
                        entry.created_at.format("%Y-%m-%d"),
                        printable(&entry.created_by)
                    );
                    for key in keys.iter().filter(|k| k.operator == entry.name) {
                        outln!(
                            "    key {} {} {}",
                            key.fingerprint,
                            key.algorithm,
                            printable(&key.comment)
                        );
                    }
                }
                Ok(())
            }
            Err(err) => Err(err),
        },
        // Parsed and run by `run`, which can answer bad input with exit 2.
        OperatorsCommand::AddKey { .. } => Ok(()),
        OperatorsCommand::RemoveKey { name, fingerprint } => desk
            .remove_operator_keys(op, &name, fingerprint.as_deref())
            .await
            .map(|n| outln!("removed {n} key(s) of {}", printable(&name))),
    })
}

async fn add_key(
    desk: &Desk,
    op: &Operator,
    name: &str,
    key: &russh::keys::PublicKey,
) -> std::result::Result<(), DeskError> {
    desk.add_operator_key(op, name, key).await.map(|added| {
        outln!(
            "{} may now sign in to ssh-serve with {} ({})",
            printable(&added.operator),
            added.fingerprint,
            added.algorithm
        );
    })
}

/// The public key text from `--file` or standard input (at most 64 KiB:
/// a public key is one short line).
fn read_key_text(file: Option<&std::path::Path>) -> std::result::Result<String, String> {
    use std::io::Read;
    const LIMIT: u64 = 64 * 1024;
    let mut text = String::new();
    let read = match file {
        Some(path) => std::fs::File::open(path)
            .and_then(|f| f.take(LIMIT).read_to_string(&mut text))
            .map_err(|e| format!("reading {}: {e}", path.display())),
        None => std::io::stdin()
            .take(LIMIT)
            .read_to_string(&mut text)
            .map_err(|e| format!("reading the key from standard input: {e}")),
    };
    read.map(|_| text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_never_reach_the_terminal() {
        let shown = printable("Eve\u{1b}]0;pwned\u{7}\u{1b}[2J\r\n");
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert!(shown.starts_with("Eve"));
    }
}
