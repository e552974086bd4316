//! The Operators screen's update steps: open it (admins; anyone else is
//! told why), move, open the forms (add, change role, remove, add a key),
//! type or paste into them, send the change to desk and show its answer.
//! Desk decides: the role check and the last-admin rule are its own, and
//! a refusal is shown in the form.

use ratatui::crossterm::event::{Event, KeyEvent};
use tui_input::backend::crossterm::to_input_request;
use tui_input::{Input, InputRequest};

use super::app::{App, Level};
use super::dialogs::{Dialog, Notice};
use super::keymap::{Command, Context};
use super::msg::{Cmd, OperatorChange, OperatorListing, TaskError};
use super::operators_state::{OperatorForm, OperatorRow, OperatorsState, cycle};
use super::sanitize::{clean, pasted_line};
use crate::desk::{Action, Role};

/// Opens the Operators screen for an admin; anyone else gets the reason
/// (the role desk's vocabulary says managing operators needs).
pub fn open(app: &mut App) -> Vec<Cmd> {
    let needed = Action::AddOperator.needed_role();
    let role = app.status.operator.as_ref().and_then(|o| o.role);
    if role.is_none_or(|r| r < needed) {
        let you = role.map_or_else(|| "not an operator".to_owned(), |r| format!("an {r}"));
        let you = if role == Some(Role::Viewer) {
            "a viewer".to_owned()
        } else {
            you
        };
        app.dialogs.push(Dialog::Notice(Notice::Message {
            level: Level::Warning,
            title: "Operators".into(),
            text: format!(
                "Managing operators needs the {needed} role; you are {you}. \
                 Ask an admin to change your role."
            ),
        }));
        app.dirty = true;
        return Vec::new();
    }
    app.audit = None;
    app.operators = Some(OperatorsState::default());
    reload(app)
}

fn reload(app: &mut App) -> Vec<Cmd> {
    let Some(ops) = app.operators.as_mut() else {
        return Vec::new();
    };
    ops.generation += 1;
    ops.loading = true;
    app.dirty = true;
    vec![Cmd::LoadOperators {
        generation: ops.generation,
    }]
}

/// A key while the Operators screen is open (and no dialog is).
pub fn on_key(
    app: &mut App,
    context: Context,
    key: KeyEvent,
    command: Option<Command>,
) -> Vec<Cmd> {
    app.dirty = true;
    if context == Context::OperatorForm {
        return on_form_key(app, key, command);
    }
    let Some(ops) = app.operators.as_mut() else {
        return Vec::new();
    };
    let last = ops.rows.len().saturating_sub(1);
    let selected = ops.selected_row().cloned();
    let mut open_form = |form: OperatorForm| {
        ops.form = Some(form);
        ops.form_error = None;
        Vec::new()
    };
    match command {
        Some(Command::Up) => {
            ops.selected = ops.selected.saturating_sub(1);
            Vec::new()
        }
        Some(Command::Down) => {
            ops.selected = (ops.selected + 1).min(last);
            Vec::new()
        }
        Some(Command::Top) => {
            ops.selected = 0;
            Vec::new()
        }
        Some(Command::Bottom) => {
            ops.selected = last;
            Vec::new()
        }
        Some(Command::Act(Action::AddOperator)) => open_form(OperatorForm::Add {
            name: Input::default(),
            role: Role::Viewer,
        }),
        Some(Command::ChangeRole) => match selected {
            Some(row) => open_form(OperatorForm::ChangeRole {
                name: row.name,
                role: cycle(row.role, true),
            }),
            None => Vec::new(),
        },
        Some(Command::Act(Action::RemoveOperator)) => match selected {
            Some(row) => open_form(OperatorForm::Remove { name: row.name }),
            None => Vec::new(),
        },
        Some(Command::Act(Action::AddOperatorKey)) => match selected {
            Some(row) => open_form(OperatorForm::AddKey {
                name: row.name,
                key: Input::default(),
            }),
            None => Vec::new(),
        },
        Some(Command::Back) => {
            app.operators = None;
            Vec::new()
        }
        Some(Command::Help) => app.open_help(Context::Operators),
        _ => Vec::new(),
    }
}

fn on_form_key(app: &mut App, key: KeyEvent, command: Option<Command>) -> Vec<Cmd> {
    let Some(ops) = app.operators.as_mut() else {
        return Vec::new();
    };
    let Some(form) = ops.form.as_mut() else {
        return Vec::new();
    };
    match command {
        Some(Command::Back) => {
            ops.form = None;
            ops.form_error = None;
            Vec::new()
        }
        Some(c @ (Command::NextField | Command::PrevField)) => {
            if let OperatorForm::Add { role, .. } | OperatorForm::ChangeRole { role, .. } = form {
                *role = cycle(*role, c == Command::NextField);
            }
            Vec::new()
        }
        Some(Command::Open) => submit(app),
        _ => {
            let input = match form {
                OperatorForm::Add { name, .. } => name,
                OperatorForm::AddKey { key, .. } => key,
                _ => return Vec::new(),
            };
            if let Some(request) = to_input_request(&Event::Key(key)) {
                input.handle(request);
                ops.form_error = None;
            }
            Vec::new()
        }
    }
}

/// Pasted text into the form's text field: an SSH key arrives this way
/// (bracketed paste), often as a `.pub` or `authorized_keys` file's
/// lines, see [`key_from_paste`]; a name as one line.
pub fn paste(app: &mut App, text: &str) -> Vec<Cmd> {
    let Some(ops) = app.operators.as_mut() else {
        return Vec::new();
    };
    let (input, line) = match ops.form.as_mut() {
        Some(OperatorForm::Add { name, .. }) => (name, pasted_line(text)),
        Some(OperatorForm::AddKey { key, .. }) => (key, key_from_paste(text)),
        _ => return Vec::new(),
    };
    for c in line.chars() {
        input.handle(InputRequest::InsertChar(c));
    }
    ops.form_error = None;
    app.dirty = true;
    Vec::new()
}

/// The first public key in pasted lines: `#` comment lines and blank
/// lines are skipped, and lines after the key that do not begin a key
/// of their own are the key wrapped by a terminal, joined back without a
/// space (a key's base64 holds none). Only the first key is taken.
fn key_from_paste(text: &str) -> String {
    const KEY_TYPES: [&str; 3] = ["ssh-", "ecdsa-", "sk-"];
    let mut lines = text
        .lines()
        .map(pasted_line)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let Some(mut key) = lines.next() else {
        return String::new();
    };
    for line in lines {
        if KEY_TYPES.iter().any(|t| line.starts_with(t)) {
            break;
        }
        key.push_str(&line);
    }
    key
}

fn submit(app: &mut App) -> Vec<Cmd> {
    let Some(ops) = app.operators.as_mut() else {
        return Vec::new();
    };
    if ops.running {
        return Vec::new();
    }
    let change = match ops.form.as_ref() {
        Some(OperatorForm::Add { name, role }) => OperatorChange::Add {
            name: name.value().trim().to_owned(),
            role: *role,
        },
        Some(OperatorForm::ChangeRole { name, role }) => OperatorChange::SetRole {
            name: name.clone(),
            role: *role,
        },
        Some(OperatorForm::Remove { name }) => OperatorChange::Remove { name: name.clone() },
        Some(OperatorForm::AddKey { name, key }) => OperatorChange::AddKey {
            name: name.clone(),
            key: key.value().to_owned(),
        },
        None => return Vec::new(),
    };
    let empty = match &change {
        OperatorChange::Add { name, .. } => name.is_empty().then_some("Type the OS user name"),
        OperatorChange::AddKey { key, .. } => key
            .trim()
            .is_empty()
            .then_some("Paste the public key (one line: ssh-ed25519 AAAA... user@host)"),
        _ => None,
    };
    if let Some(hint) = empty {
        ops.form_error = Some(hint.to_owned());
        return Vec::new();
    }
    ops.running = true;
    ops.form_error = None;
    vec![Cmd::ChangeOperator(change)]
}

/// The operators arrived.
pub fn on_loaded(
    app: &mut App,
    generation: u64,
    result: Result<Vec<OperatorListing>, TaskError>,
) -> Vec<Cmd> {
    let Some(ops) = app.operators.as_mut() else {
        return Vec::new();
    };
    if generation != ops.generation {
        return Vec::new();
    }
    ops.loading = false;
    app.dirty = true;
    match result {
        Ok(list) => {
            let keep = ops.selected_row().map(|r| r.name.clone());
            ops.rows = list
                .iter()
                .map(|l| OperatorRow::from_desk(&l.operator, &l.keys))
                .collect();
            ops.selected = keep
                .and_then(|name| ops.rows.iter().position(|r| r.name == name))
                .unwrap_or(0)
                .min(ops.rows.len().saturating_sub(1));
            ops.error = None;
        }
        Err(TaskError::Unavailable(text) | TaskError::Other(text)) => {
            ops.error = Some(clean(&text));
        }
    }
    Vec::new()
}

/// A change ended: done closes the form and reloads; a refusal stays in
/// the form with desk's reason.
pub fn on_changed(app: &mut App, result: Result<String, TaskError>) -> Vec<Cmd> {
    let Some(ops) = app.operators.as_mut() else {
        // The screen was closed meanwhile: the status line still tells.
        match result {
            Ok(text) => app.say(Level::Success, &text),
            Err(TaskError::Unavailable(text) | TaskError::Other(text)) => {
                app.say(Level::Error, &text);
            }
        }
        return Vec::new();
    };
    ops.running = false;
    match result {
        Ok(text) => {
            ops.form = None;
            ops.form_error = None;
            app.say(Level::Success, &text);
            reload(app)
        }
        Err(TaskError::Unavailable(text) | TaskError::Other(text)) => {
            ops.form_error = Some(clean(&text));
            app.dirty = true;
            Vec::new()
        }
    }
}
