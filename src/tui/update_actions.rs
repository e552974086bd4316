//! What the console does when an account action finishes: close or
//! update the dialog that started it, say what happened, refresh.

use super::app::{App, Level};
use super::dialogs::{Confirm, Dialog, Notice};
use super::msg::{ActionOutcome, Cmd};
use super::sanitize::clean;
use crate::desk::Action;

/// What a dialog says when its action met a database outage.
pub const UNAVAILABLE_NOTHING_CHANGED: &str =
    "The database is unavailable; nothing was changed. Try again.";

/// Applies the outcome of an action on `contact_id`.
pub fn on_action_done(
    app: &mut App,
    contact_id: i64,
    action: Action,
    outcome: ActionOutcome,
) -> Vec<Cmd> {
    app.dirty = true;
    // The dialog that started it, if it is still the top one.
    let from_dialog = match app.dialogs.last() {
        Some(Dialog::Confirm(c)) => c.running && c.target.contact_id == contact_id,
        Some(Dialog::ChangePassword(c)) => c.running && c.target.contact_id == contact_id,
        Some(Dialog::Notes(n)) => n.running && n.target.contact_id == contact_id,
        _ => false,
    };
    let target = match app.dialogs.last() {
        Some(Dialog::Confirm(c)) if from_dialog => Some(c.target.clone()),
        Some(Dialog::ChangePassword(c)) if from_dialog => Some(c.target.clone()),
        Some(Dialog::Notes(n)) if from_dialog => Some(n.target.clone()),
        _ => None,
    };
    // A note written in Notes: the dialog stays open, empty, for the next.
    if let Some(Dialog::Notes(n)) = app.dialogs.last_mut()
        && from_dialog
    {
        n.running = false;
        match &outcome {
            ActionOutcome::Done(_) => n.text.clear(),
            ActionOutcome::NotAllowed(reason) | ActionOutcome::Failed(reason) => {
                n.error = Some(clean(reason));
            }
            ActionOutcome::Unavailable(_) => n.error = Some(UNAVAILABLE_NOTHING_CHANGED.into()),
            _ => {}
        }
        if let ActionOutcome::Done(text) = &outcome {
            app.say(Level::Success, text);
        }
        let mut cmds = vec![Cmd::RefreshStatus];
        if app.profile.contact_id == Some(contact_id) {
            cmds.push(app.reload_profile(contact_id));
        }
        return cmds;
    }
    let mut cmds = vec![Cmd::RefreshStatus];
    // Notes under a confirmation (a note deleted) show the profile too.
    let notes_open = app
        .dialogs
        .iter()
        .any(|d| matches!(d, Dialog::Notes(n) if n.target.contact_id == contact_id));
    if app.profile.contact_id == Some(contact_id) && (app.profile_visible() || notes_open) {
        cmds.push(app.reload_profile(contact_id));
    }
    // An edited name or email shows in the list row (and the next Edit
    // contact from the list starts from it).
    if action == Action::EditContact && matches!(outcome, ActionOutcome::Done(_)) {
        cmds.push(app.start_search());
    }
    let name = target
        .as_ref()
        .map_or_else(|| format!("contact {contact_id}"), |t| t.name.clone());
    match outcome {
        ActionOutcome::Done(text) => {
            if action == Action::ChangePassword && from_dialog {
                if let Some(Dialog::ChangePassword(cp)) = app.dialogs.pop() {
                    app.dialogs.push(Dialog::Notice(Notice::PasswordSet {
                        target: cp.target,
                        password: crate::settings::Secret::new(cp.input.value()),
                        require_change: cp.require_change,
                        copied: false,
                    }));
                }
            } else if from_dialog {
                app.dialogs.pop();
            }
            app.say(Level::Success, &text);
        }
        ActionOutcome::Cooldown { remaining_secs } => {
            if from_dialog {
                app.dialogs.pop();
            }
            if let Some(target) = target {
                let ttl = app.link_ttl_text();
                app.dialogs
                    .push(Dialog::Confirm(Confirm::reset(target, &ttl, true)));
            }
            app.say(
                Level::Warning,
                &format!("A link was sent to {name} moments ago; without forcing, the next one can go in {remaining_secs} s"),
            );
        }
        ActionOutcome::NotACustomer => {
            if from_dialog {
                app.dialogs.pop();
            }
            if let Some(target) = target {
                let asked = action.title();
                app.dialogs
                    .push(Dialog::Notice(Notice::NotACustomer { target, asked }));
            }
        }
        ActionOutcome::Policy(problems) => {
            if let Some(Dialog::ChangePassword(cp)) = app.dialogs.last_mut()
                && from_dialog
            {
                cp.running = false;
                cp.feedback = Some(super::msg::PolicyFeedback {
                    ok: false,
                    problems: problems.iter().map(|p| clean(p)).collect(),
                    strength: None,
                });
                cp.error = Some("The password does not meet the policy".into());
            }
        }
        ActionOutcome::NotAllowed(reason) | ActionOutcome::Failed(reason) => {
            if from_dialog {
                app.dialogs.pop();
            }
            app.dialogs.push(Dialog::Notice(Notice::Message {
                level: Level::Error,
                title: action.title().into(),
                text: clean(&reason),
            }));
            app.say(
                Level::Error,
                &format!("{} failed: {reason}", action.title()),
            );
        }
        ActionOutcome::Unavailable(reason) => {
            if from_dialog {
                // Keep the dialog so the agent can try again once the store is back.
                match app.dialogs.last_mut() {
                    Some(Dialog::Confirm(c)) => {
                        c.running = false;
                        // The status line shows the outage; the dialog says
                        // what became of this action.
                        c.error = Some(UNAVAILABLE_NOTHING_CHANGED.into());
                    }
                    Some(Dialog::ChangePassword(c)) => {
                        c.running = false;
                        c.error = Some(UNAVAILABLE_NOTHING_CHANGED.into());
                    }
                    _ => {}
                }
            }
            app.status.db_down = Some(clean(&reason));
            app.say(
                Level::Error,
                &format!(
                    "{}: the database is unavailable; nothing was changed",
                    action.title()
                ),
            );
        }
    }
    cmds
}
