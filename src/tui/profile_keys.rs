//! Keys on the profile's own dialogs: the offer picker (Grant Offer,
//! Revoke Offer), Edit contact and Notes. Pure, like `update`, which
//! routes keys here; what they ask desk for goes out as a [`Cmd`].

use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use tui_input::backend::crossterm::to_input_request;

use super::app::{App, Level, Target};
use super::contact_form::{EditContact, EditField};
use super::dialogs::{Confirm, Dialog};
use super::keymap::{Command, Context};
use super::msg::{Cmd, Request, TaskError};
use super::note_editor::{NoteEditor, NoteField};
use super::offer_picker::{OfferChoice, OfferPicker, PickFor};
use super::sanitize::clean;
use crate::desk::Action;

/// A key on the offer picker.
pub fn offer_picker_key(app: &mut App, key: KeyEvent, command: Option<Command>) -> Vec<Cmd> {
    let Some(Dialog::OfferPicker(picker)) = app.dialogs.last_mut() else {
        return Vec::new();
    };
    match command {
        Some(Command::Back) => {
            app.dialogs.pop();
        }
        Some(Command::Down) => picker.step(1),
        Some(Command::Up) => picker.step(-1),
        Some(Command::Help) => return app.open_help(Context::OfferPicker),
        Some(Command::Open) => {
            let Some(offer) = picker.picked().map(|c| c.name.clone()) else {
                return Vec::new();
            };
            let target = picker.target.clone();
            let request = match picker.purpose {
                PickFor::Grant => Request::GrantOffer { offer },
                PickFor::Revoke => Request::RevokeOffer { offer },
            };
            app.dialogs.pop();
            app.dialogs
                .push(Dialog::Confirm(Confirm::for_menu(target, request)));
        }
        _ => {
            if let Some(request) = to_input_request(&Event::Key(key))
                && picker.input.handle(request).is_some_and(|r| r.value)
            {
                picker.text_changed();
            }
        }
    }
    Vec::new()
}

/// A key on Edit contact.
pub fn edit_key(app: &mut App, key: KeyEvent, command: Option<Command>) -> Vec<Cmd> {
    let Some(Dialog::EditContact(form)) = app.dialogs.last_mut() else {
        return Vec::new();
    };
    if form.loading {
        // Nothing to edit until the current values are in.
        match command {
            Some(Command::Back) => {
                app.dialogs.pop();
            }
            Some(Command::Help) => return app.open_help(Context::EditContact),
            _ => {}
        }
        return Vec::new();
    }
    let in_field = form.focused_input().is_some();
    // Editing keys belong to the focused field; Tab, Enter and Esc do not.
    let typing = in_field
        && !matches!(command, Some(Command::Back | Command::Open | Command::Help))
        && !matches!(key.code, KeyCode::Tab | KeyCode::BackTab);
    if typing {
        if let Some(request) = to_input_request(&Event::Key(key))
            && let Some(input) = form.focused_input()
        {
            input.handle(request);
            form.error = None;
        }
        return Vec::new();
    }
    match command {
        Some(Command::Back) => {
            app.dialogs.pop();
        }
        Some(Command::NextField) => form.focus = form.focus.next(),
        Some(Command::PrevField) => form.focus = form.focus.prev(),
        Some(Command::Help) => return app.open_help(Context::EditContact),
        Some(Command::Open) if form.focus == EditField::Cancel => {
            app.dialogs.pop();
        }
        Some(Command::Open) => return save_edit(app),
        _ => {}
    }
    Vec::new()
}

/// Save on Edit contact: nothing changed is said in the dialog; a change
/// goes to a confirmation that shows the old and the new values.
fn save_edit(app: &mut App) -> Vec<Cmd> {
    let Some(Dialog::EditContact(form)) = app.dialogs.last_mut() else {
        return Vec::new();
    };
    let Some((name, email)) = form.changes() else {
        form.error = Some("Nothing changed yet".into());
        return Vec::new();
    };
    let form: EditContact = form.clone();
    app.dialogs.pop();
    app.dialogs.push(Dialog::Confirm(Confirm::for_menu(
        form.target,
        Request::EditContact { name, email },
    )));
    Vec::new()
}

/// A key on Notes.
pub fn notes_key(app: &mut App, key: KeyEvent, command: Option<Command>) -> Vec<Cmd> {
    let Some(Dialog::Notes(editor)) = app.dialogs.last() else {
        return Vec::new();
    };
    let notes: Vec<(i64, String)> = app
        .profile_of(editor.target.contact_id)
        .filter(|_| !editor.loading)
        .map(|p| {
            p.note_lines
                .iter()
                .map(|n| (n.id, n.author.clone()))
                .collect()
        })
        .unwrap_or_default();
    let Some(Dialog::Notes(editor)) = app.dialogs.last_mut() else {
        return Vec::new();
    };
    if editor.running {
        return Vec::new();
    }
    match command {
        Some(Command::Back) => {
            app.dialogs.pop();
            return Vec::new();
        }
        Some(Command::Save) => return save_note(app),
        Some(Command::Help) => return app.open_help(Context::Notes),
        _ => {}
    }
    if matches!(key.code, KeyCode::Tab) {
        editor.focus = editor.focus.next();
        return Vec::new();
    }
    if matches!(key.code, KeyCode::BackTab) {
        editor.focus = editor.focus.prev();
        return Vec::new();
    }
    match editor.focus {
        NoteField::Text => match key.code {
            KeyCode::Enter => editor.type_char('\n'),
            KeyCode::Backspace => editor.backspace(),
            KeyCode::Char(c)
                if !key
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
            {
                editor.type_char(c);
            }
            _ => {}
        },
        NoteField::Save if matches!(command, Some(Command::Open)) => return save_note(app),
        NoteField::Close if matches!(command, Some(Command::Open)) => {
            app.dialogs.pop();
        }
        NoteField::List => match command {
            Some(Command::Down) => {
                editor.selected = (editor.selected + 1).min(notes.len().saturating_sub(1));
            }
            Some(Command::Up) => editor.selected = editor.selected.saturating_sub(1),
            Some(Command::Act(Action::DeleteNote)) => {
                if let Some((id, author)) = notes.get(editor.selected).cloned() {
                    let target = editor.target.clone();
                    app.dialogs.push(Dialog::Confirm(Confirm::for_menu(
                        target,
                        Request::DeleteNote { id, author },
                    )));
                }
            }
            _ => {}
        },
        _ => {}
    }
    Vec::new()
}

fn save_note(app: &mut App) -> Vec<Cmd> {
    let Some(Dialog::Notes(editor)) = app.dialogs.last_mut() else {
        return Vec::new();
    };
    if editor.text.trim().is_empty() {
        editor.error = Some("Write the note first".into());
        return Vec::new();
    }
    editor.running = true;
    editor.error = None;
    vec![Cmd::Act {
        contact_id: editor.target.contact_id,
        action: Request::AddNote {
            text: editor.text.clone(),
        },
    }]
}

/// Opens the offer picker and asks desk for its offers: Grant lists
/// every offer the contact does not hold, Revoke the ones they hold.
pub fn open_picker(app: &mut App, target: Target, command: Command) -> Vec<Cmd> {
    let contact_id = target.contact_id;
    let purpose = if command == Command::Act(Action::RevokeOffer) {
        PickFor::Revoke
    } else {
        PickFor::Grant
    };
    app.dialogs
        .push(Dialog::OfferPicker(OfferPicker::new(target, purpose, None)));
    vec![Cmd::LoadPickerOffers {
        contact_id,
        held: purpose == PickFor::Revoke,
    }]
}

/// The offers arrived for the picker (desk's answer for this contact:
/// for Grant those they do not hold, for Revoke those they hold).
pub fn offers_loaded(
    app: &mut App,
    contact_id: i64,
    result: Result<Vec<crate::desk::offers::OfferEntry>, TaskError>,
) -> Vec<Cmd> {
    let Some(Dialog::OfferPicker(picker)) = app.dialogs.last_mut() else {
        return Vec::new();
    };
    if picker.target.contact_id != contact_id {
        return Vec::new();
    }
    app.dirty = true;
    match result {
        Ok(offers) => {
            picker.choices = Some(
                offers
                    .iter()
                    .map(|o| OfferChoice {
                        name: clean(&o.name),
                        products: clean(&o.products),
                    })
                    .collect(),
            );
        }
        Err(TaskError::Unavailable(e) | TaskError::Other(e)) => {
            picker.choices = Some(Vec::new());
            picker.error = Some(format!("Cannot load the offers: {}", clean(&e)));
        }
    }
    Vec::new()
}

/// `e` on a profile: Edit contact, if desk's role rule allows it. From
/// the list, where the profile is not on screen, the form waits for the
/// contact's current name and email.
pub fn open_edit(app: &mut App) -> Vec<Cmd> {
    open_if_allowed(app, Command::Act(Action::EditContact), |target, loading| {
        Dialog::EditContact(if loading {
            EditContact::loading(target)
        } else {
            EditContact::new(target)
        })
    })
}

/// `n` on a profile: Notes. From the list, where the profile is not on
/// screen, the notes are loaded through desk and the dialog says so until
/// they arrive.
pub fn open_notes(app: &mut App) -> Vec<Cmd> {
    open_if_allowed(app, Command::Notes, |target, loading| {
        let mut editor = NoteEditor::new(target);
        editor.loading = loading;
        Dialog::Notes(editor)
    })
}

fn open_if_allowed(
    app: &mut App,
    command: Command,
    dialog: impl FnOnce(Target, bool) -> Dialog,
) -> Vec<Cmd> {
    let Some(target) = app.target() else {
        app.say(Level::Info, "No contact selected");
        return Vec::new();
    };
    // Viewers may read notes: the dialog opens, and desk refuses a save.
    let disabled = super::dialogs::availability(
        app.status.operator.as_ref(),
        command,
        &target,
        app.target_profile(),
        app.now,
    );
    app.dirty = true;
    if let Some(why) = disabled.filter(|_| command != Command::Notes) {
        app.say(Level::Warning, &format!("Not available: {}", why.short()));
        return Vec::new();
    }
    let (loading, load) = current_profile(app, target.contact_id);
    app.dialogs.push(dialog(target, loading));
    load.into_iter().collect()
}

/// Whether the profile of `contact_id` must still arrive before a dialog
/// can show it, and the load to start for it. One on screen is current
/// (the tick refreshes it); one that is not may be old, or another
/// contact's, so it is loaded again through desk.
fn current_profile(app: &mut App, contact_id: i64) -> (bool, Option<Cmd>) {
    let loading_it = app.profile.loading && app.profile.contact_id == Some(contact_id);
    if app.profile_visible() && (loading_it || app.profile_of(contact_id).is_some()) {
        return (loading_it && app.profile_of(contact_id).is_none(), None);
    }
    (true, Some(app.reload_profile(contact_id)))
}

/// A profile load answered (`Ok`) or failed (`Err`, its text) for
/// `contact_id`: the dialogs that waited for it show it.
pub fn profile_arrived(app: &mut App, contact_id: i64, result: Result<(), &str>) {
    let current = app.profile_of(contact_id).map(|p| p.target.clone());
    for dialog in &mut app.dialogs {
        match dialog {
            Dialog::Notes(n) if n.loading && n.target.contact_id == contact_id => {
                n.loading = false;
                match (&result, &current) {
                    (Ok(()), Some(target)) => n.target = target.clone(),
                    (Err(e), _) => n.error = Some(format!("Cannot load the notes: {e}")),
                    (Ok(()), None) => {}
                }
            }
            Dialog::EditContact(f) if f.loading && f.target.contact_id == contact_id => {
                match (&result, &current) {
                    (Ok(()), Some(target)) => *f = EditContact::new(target.clone()),
                    (Err(e), _) => f.error = Some(format!("Cannot load the contact: {e}")),
                    (Ok(()), None) => {}
                }
            }
            _ => {}
        }
    }
}
