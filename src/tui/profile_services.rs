//! The profile's actions as the console runs them through desk: grant and
//! revoke an offer, resend the welcome email, edit the contact, add and
//! delete a note; each answers one line for the status bar.

use super::msg::Request;
use super::sanitize::clean;
use crate::desk::contact_edit::ContactEdit;
use crate::desk::{Desk, DeskError, Operator};

/// Runs one of the profile's actions on contact `contact_id` (whose
/// sanitised name is `name`) and says what it did.
///
/// # Errors
/// Desk's refusal or failure.
pub async fn act(
    desk: &Desk,
    op: &Operator,
    contact_id: i64,
    name: &str,
    request: Request,
) -> Result<String, DeskError> {
    match request {
        Request::GrantOffer { offer } => {
            let g = desk.grant_offer(op, contact_id, &offer, true).await?;
            let offer = clean(&g.offer);
            Ok(match (&g.welcome, g.restored_login) {
                (Some(w), _) => format!(
                    "{offer} granted to {name}; welcome email queued for {}",
                    clean(&w.recipient)
                ),
                (None, true) => {
                    format!("{offer} granted to {name}; their login works again")
                }
                (None, false) => format!("{offer} granted to {name}"),
            })
        }
        Request::RevokeOffer { offer } => {
            let r = desk.revoke_offer(op, contact_id, &offer).await?;
            let offer = clean(&r.offer);
            Ok(if r.still_customer {
                format!("{offer} revoked from {name}")
            } else {
                format!(
                    "{offer} revoked from {name}: no offer left, {} session(s) ended, {} link(s) revoked",
                    r.sessions_ended, r.links_revoked
                )
            })
        }
        Request::ResendWelcome => {
            let w = desk.resend_welcome(op, contact_id).await?;
            Ok(format!(
                "Welcome email for {name} queued to {}",
                clean(&w.recipient)
            ))
        }
        Request::EditContact {
            name: new_name,
            email: new_email,
        } => {
            let e = desk
                .edit_contact(
                    op,
                    contact_id,
                    &ContactEdit {
                        name: new_name,
                        email: new_email,
                    },
                )
                .await?;
            Ok(format!(
                "{name} edited: now {} <{}>{}",
                clean(&e.name),
                clean(&e.email),
                if e.notices > 0 {
                    "; both addresses get a notice"
                } else {
                    ""
                }
            ))
        }
        Request::AddNote { text } => {
            desk.add_note(op, contact_id, &text).await?;
            Ok(format!("Note added to {name}"))
        }
        Request::DeleteNote { id, .. } => {
            desk.delete_note(op, id).await?;
            Ok(format!("Note deleted from {name}"))
        }
        // The account actions are the caller's own.
        _ => Err(DeskError::Internal("not a profile action".into())),
    }
}
