//! `keydesk contacts search`, `contacts show` and `contacts edit`:
//! reading contacts from a shell, through desk (viewers and up; admins
//! edit), as text for a person or JSON for a script. Stored text goes through `printable`
//! before it reaches a terminal; JSON escapes it by itself.

use serde_json::{Value, json};

use super::ops_commands::print_json;
use super::printable;
use super::services::deliver_now;
use super::{ContactsCommand, KindArg, out, outln};
use crate::desk::contact_edit::ContactEdit;
use crate::desk::{Desk, DeskError, Operator};
use crate::desk::{KindFilter, MatchCount, Profile, SearchQuery};

/// Runs one `contacts` command.
pub(super) async fn run(
    desk: &Desk,
    op: &Operator,
    command: ContactsCommand,
) -> Result<(), DeskError> {
    match command {
        ContactsCommand::Search {
            query,
            kind,
            limit,
            json,
        } => {
            let query = SearchQuery {
                text: query,
                kind: match kind {
                    KindArg::All => KindFilter::All,
                    KindArg::Customers => KindFilter::Customers,
                    KindArg::Subscribers => KindFilter::Subscribers,
                    KindArg::Contacts => KindFilter::Neither,
                },
                after: None,
                limit: usize::from(limit),
                only: None,
            };
            let page = desk.search_contacts(op, &query).await?;
            if json {
                let rows: Vec<Value> = page
                    .rows
                    .iter()
                    .map(|r| {
                        json!({
                            "name": r.name,
                            "email": r.email,
                            "customer": r.customer,
                            "subscriber": r.subscriber,
                            "added_on": r.created_at,
                        })
                    })
                    .collect();
                print_json(&json!({
                    "total": page.total.value(),
                    "total_is_estimate": matches!(page.total, MatchCount::Estimate(_)),
                    "contacts": rows,
                }));
            } else {
                for r in &page.rows {
                    outln!(
                        "{}\t{}\t{}\t{}",
                        printable(&r.name),
                        printable(&r.email),
                        if r.customer { "customer" } else { "-" },
                        if r.subscriber { "subscriber" } else { "-" }
                    );
                }
                outln!("{} of {} match(es) shown", page.rows.len(), page.total);
            }
            Ok(())
        }
        ContactsCommand::Show { email, json } => {
            let profile = desk.contact_profile(op, &email).await?;
            let notes = desk.list_notes(op, &email).await?;
            let history = desk.email_history(op, &email).await?;
            if json {
                let mut shown = profile_json(&profile);
                shown["notes"] = json!(notes);
                shown["email_history"] = json!(history);
                print_json(&shown);
            } else {
                print_profile(&profile);
                for n in &notes {
                    outln!(
                        "note {:<8} {} {}: {}",
                        n.id,
                        n.created_at.format("%Y-%m-%d %H:%M"),
                        printable(&n.author),
                        printable(&n.text.replace('\n', " / "))
                    );
                }
                for m in &history {
                    outln!(
                        "email          {} {} to {} {} ({} attempt(s)){}",
                        m.queued_at.format("%Y-%m-%d %H:%M"),
                        printable(&m.kind),
                        printable(&m.recipient),
                        m.state,
                        m.attempts,
                        if m.last_error.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", printable(&m.last_error))
                        }
                    );
                }
            }
            Ok(())
        }
        ContactsCommand::Edit {
            email,
            new_email,
            name,
        } => {
            let edited = desk
                .edit_contact(
                    op,
                    &email,
                    &ContactEdit {
                        name,
                        email: new_email,
                    },
                )
                .await?;
            outln!(
                "{} is now {} <{}>",
                printable(&email),
                printable(&edited.name),
                printable(&edited.email)
            );
            if edited.notices > 0 {
                outln!(
                    "revoked {} open link(s); notices queued to the old and the new address",
                    edited.links_revoked
                );
                outln!("{}", deliver_now(desk, edited.contact_id).await);
            }
            Ok(())
        }
    }
}

/// What `contacts show --json` prints: the profile without any secret
/// (no password hash, no token digest, no mail body).
fn profile_json(p: &Profile) -> Value {
    let account = p.account.as_ref().map(|a| {
        json!({
            "password_set": a.password_set,
            "must_change_password": a.must_change_password,
            "password_changed_at": a.password_changed_at,
            "temporary_expires_at": a.temporary_expires_at,
            "sign_in_count": a.sign_in_count,
            "last_login_at": a.last_login_at,
            "failed_logins": a.failed_logins,
            "locked_until": a.locked_until,
        })
    });
    json!({
        "name": p.name,
        "email": p.email,
        "added_on": p.added_on,
        "customer": p.is_customer(),
        "customer_since": p.customer_since(),
        "subscriber": p.subscriber,
        // The free-text notes that came with the contact (import, seed);
        // the notes operators write are the `notes` list.
        "platform_notes": p.notes,
        "offers": p.offers.iter().map(|o| json!({
            "name": o.name,
            "products": o.products,
            "source": o.source,
            "granted_by": o.granted_by,
            "granted_at": o.granted_at,
        })).collect::<Vec<_>>(),
        "account": account,
        "open_reset_links": p.open_links.iter().map(|l| json!({
            "created_at": l.created_at,
            "expires_at": l.expires_at,
            "requested_by": l.requested_by,
        })).collect::<Vec<_>>(),
        "latest_mail": p.latest_mail.as_ref().map(|m| json!({
            "kind": m.kind,
            "state": m.state,
            "attempts": m.attempts,
            "created_at": m.created_at,
            "last_error": m.last_error,
        })),
    })
}

fn print_profile(p: &Profile) {
    let when = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map_or_else(
            || "-".to_owned(),
            |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
        )
    };
    outln!("name           {}", printable(&p.name));
    outln!("email          {}", printable(&p.email));
    outln!("added on       {}", when(Some(p.added_on)));
    outln!(
        "kind           {}{}",
        if p.is_customer() {
            "customer"
        } else {
            "contact"
        },
        if p.subscriber { ", subscriber" } else { "" }
    );
    if p.is_customer() {
        outln!("customer since {}", when(p.customer_since()));
    }
    for o in &p.offers {
        outln!(
            "offer          {} ({}, {} by {} on {})",
            printable(&o.name),
            printable(&o.products),
            o.source,
            printable(&o.granted_by),
            o.granted_at.format("%Y-%m-%d")
        );
    }
    if let Some(a) = &p.account {
        outln!(
            "password       {}{}",
            if a.password_set { "set" } else { "never set" },
            if a.must_change_password {
                ", must change at next sign-in"
            } else {
                ""
            }
        );
        outln!(
            "sign-ins       {} (last {})",
            a.sign_in_count,
            when(a.last_login_at)
        );
        if let Some(until) = a.locked_until {
            outln!("locked until   {}", when(Some(until)));
        }
    }
    outln!("open links     {}", p.open_links.len());
    if !p.notes.is_empty() {
        outln!("notes          {}", printable(&p.notes));
    }
    if let Some(m) = &p.latest_mail {
        outln!(
            "latest mail    {} {} ({} attempt(s))",
            printable(&m.kind),
            m.state,
            m.attempts
        );
    }
}
