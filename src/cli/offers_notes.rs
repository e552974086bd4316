//! `keydesk offers ...` and `keydesk notes ...`: granting and revoking
//! offers and keeping notes from a shell, through desk. Stored text goes
//! through `printable` before it reaches a terminal; JSON escapes it.

use std::io::Read;

use color_eyre::eyre::{Result, WrapErr};

use super::desk_commands::{deliver_now, printable};
use super::ops_commands::print_json;
use super::{NotesCommand, OffersCommand, out, outln};
use crate::desk::notes::MAX_NOTE_CHARS;
use crate::desk::{Desk, DeskError, Operator};

/// Runs one `offers` command.
pub(super) async fn offers(
    desk: &Desk,
    op: &Operator,
    command: OffersCommand,
) -> Result<(), DeskError> {
    match command {
        OffersCommand::List { json } => {
            let list = desk.list_offers(op).await?;
            if json {
                print_json(&list);
            } else {
                for o in &list {
                    outln!(
                        "{}\t{}\t{} holder(s)",
                        printable(&o.name),
                        printable(&o.products),
                        o.holders
                    );
                }
            }
        }
        OffersCommand::Grant {
            email,
            offer,
            no_welcome,
        } => {
            let granted = desk.grant_offer(op, &email, &offer, !no_welcome).await?;
            outln!(
                "{} now holds {}{}",
                printable(&email),
                printable(&granted.offer),
                if granted.restored_login {
                    " (their login works again with its old password)"
                } else if granted.became_customer {
                    " and is a Customer"
                } else {
                    ""
                }
            );
            if let Some(welcome) = &granted.welcome {
                outln!(
                    "welcome email for {}: its link works until {}",
                    printable(&welcome.recipient),
                    welcome.expires_at.format("%Y-%m-%d %H:%M UTC")
                );
                outln!("{}", deliver_now(desk, granted.contact_id).await);
            }
        }
        OffersCommand::Revoke { email, offer } => {
            let revoked = desk.revoke_offer(op, &email, &offer).await?;
            outln!(
                "{} no longer holds {}",
                printable(&email),
                printable(&revoked.offer)
            );
            if !revoked.still_customer {
                outln!(
                    "no offer left: not a Customer any more; ended {} site session(s), revoked {} link(s)",
                    revoked.sessions_ended,
                    revoked.links_revoked
                );
            }
        }
    }
    Ok(())
}

/// Runs one `notes` command. The outer error is a failure to read
/// standard input; the inner one desk's answer.
pub(super) async fn notes(
    desk: &Desk,
    op: &Operator,
    command: NotesCommand,
) -> Result<Result<(), DeskError>> {
    Ok(match command {
        NotesCommand::Add { email, text } => {
            let text = if text == "-" { read_stdin()? } else { text };
            desk.add_note(op, &email, &text).await.map(|note| {
                outln!("note {} added to {}", note.id, printable(&email));
            })
        }
        NotesCommand::List { email, json } => desk.list_notes(op, &email).await.map(|list| {
            if json {
                print_json(&list);
                return;
            }
            if list.is_empty() {
                outln!("{} has no notes", printable(&email));
            }
            for n in &list {
                outln!(
                    "{}\t{}\t{}",
                    n.id,
                    n.created_at.format("%Y-%m-%d %H:%M UTC"),
                    printable(&n.author)
                );
                for line in n.text.lines() {
                    outln!("    {}", printable(line));
                }
            }
        }),
        NotesCommand::Delete { id } => desk.delete_note(op, id).await.map(|()| {
            outln!("note {id} deleted");
        }),
    })
}

/// A note from standard input: read at most a little more than a note may
/// hold, so a runaway pipe is refused by desk's length rule, not by memory.
fn read_stdin() -> Result<String> {
    let cap = u64::try_from(MAX_NOTE_CHARS * 4 + 1).unwrap_or(u64::MAX);
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(cap)
        .read_to_end(&mut bytes)
        .wrap_err("reading the note from standard input")?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
