//! Keys on the top dialog: help, notices, the confirmation, More Actions
//! and Change Password. Pure, like `update`, which routes keys here.

use ratatui::crossterm::event::{Event, KeyCode, KeyEvent};
use tui_input::backend::crossterm::to_input_request;

use super::app::{App, Level, Target};
use super::dialogs::{ChangePassword, Confirm, CpField, Dialog, Disabled, Notice};
use super::keymap::{Command, Context};
use super::msg::{Cmd, Request};
use super::oncall;
use crate::desk::Action;
use crate::settings::Secret;

/// Handles a key on the top dialog. Returns the commands to run.
pub fn on_key(app: &mut App, key: KeyEvent, command: Option<Command>) -> Vec<Cmd> {
    let Some(top) = app.dialogs.last_mut() else {
        return Vec::new();
    };
    app.dirty = true;
    match top {
        Dialog::Help(help) => {
            match command {
                Some(Command::Back | Command::Help) => {
                    app.dialogs.pop();
                }
                Some(Command::Down) => help.scroll = help.scroll.saturating_add(1),
                Some(Command::Up) => help.scroll = help.scroll.saturating_sub(1),
                Some(Command::PageDown) => help.scroll = help.scroll.saturating_add(10),
                Some(Command::PageUp) => help.scroll = help.scroll.saturating_sub(10),
                Some(Command::Top) => help.scroll = 0,
                _ => {}
            }
            Vec::new()
        }
        Dialog::Notice(notice) => match command {
            Some(Command::Back | Command::Open) => {
                app.dialogs.pop();
                Vec::new()
            }
            Some(Command::Copy) => {
                if let Notice::PasswordSet {
                    password, copied, ..
                } = notice
                {
                    *copied = true;
                    let secret = password.clone();
                    app.say(
                        Level::Success,
                        "Copied the password to your clipboard (OSC 52)",
                    );
                    vec![Cmd::Copy(secret)]
                } else {
                    Vec::new()
                }
            }
            Some(Command::Help) => app.open_help(Context::Notice),
            _ => Vec::new(),
        },
        Dialog::Confirm(confirm) => {
            if confirm.running {
                // While it runs only Esc (hide) is honoured; the action still completes.
                return Vec::new();
            }
            match command {
                Some(Command::Back) => {
                    app.dialogs.pop();
                    Vec::new()
                }
                Some(Command::NextField | Command::PrevField) => {
                    confirm.on_confirm = !confirm.on_confirm;
                    Vec::new()
                }
                Some(Command::Open) if !confirm.on_confirm => {
                    app.dialogs.pop();
                    Vec::new()
                }
                Some(Command::Open) => {
                    confirm.running = true;
                    confirm.error = None;
                    vec![Cmd::Act {
                        contact_id: confirm.target.contact_id,
                        action: confirm.action.clone(),
                    }]
                }
                Some(Command::Help) => app.open_help(Context::Confirm),
                _ => Vec::new(),
            }
        }
        Dialog::Menu(menu) => {
            let chosen = match command {
                Some(Command::Back) => {
                    app.dialogs.pop();
                    return Vec::new();
                }
                Some(Command::Down) => {
                    menu.selected = (menu.selected + 1) % menu.items.len().max(1);
                    return Vec::new();
                }
                Some(Command::Up) => {
                    menu.selected =
                        (menu.selected + menu.items.len().max(1) - 1) % menu.items.len().max(1);
                    return Vec::new();
                }
                Some(Command::Help) => return app.open_help(Context::Menu),
                Some(Command::Open) => menu.items.get(menu.selected).map(|i| i.command),
                Some(c) if menu.items.iter().any(|i| i.command == c) => Some(c),
                _ => None,
            };
            match chosen {
                Some(c) => choose_menu_item(app, c),
                None => Vec::new(),
            }
        }
        Dialog::ChangePassword(_) => change_password_key(app, key, command),
        Dialog::OfferPicker(_) => super::profile_keys::offer_picker_key(app, key, command),
        Dialog::EditContact(_) => super::profile_keys::edit_key(app, key, command),
        Dialog::Notes(_) => super::profile_keys::notes_key(app, key, command),
        Dialog::Filters(_) => {
            oncall::filter_menu_key(app, to_input_request(&Event::Key(key)), command)
        }
        Dialog::BulkMenu(_) => oncall::bulk_menu_key(app, command),
        Dialog::BulkConfirm(_) => {
            oncall::bulk_confirm_key(app, to_input_request(&Event::Key(key)), command)
        }
    }
}

fn choose_menu_item(app: &mut App, command: Command) -> Vec<Cmd> {
    let Some(Dialog::Menu(menu)) = app.dialogs.last() else {
        return Vec::new();
    };
    let target = menu.target.clone();
    let disabled = menu
        .items
        .iter()
        .find(|i| i.command == command)
        .and_then(|i| i.disabled.clone());
    app.dialogs.pop();
    match disabled {
        Some(Disabled::NotACustomer) => {
            let asked = command.action().map_or("", Action::title);
            app.dialogs
                .push(Dialog::Notice(Notice::NotACustomer { target, asked }));
            return Vec::new();
        }
        Some(Disabled::Reason(reason)) => {
            app.say(Level::Warning, &format!("Not available: {reason}"));
            return Vec::new();
        }
        None => {}
    }
    match command {
        Command::Act(Action::ChangePassword) => {
            app.dialogs
                .push(Dialog::ChangePassword(ChangePassword::new(target)));
            Vec::new()
        }
        Command::Act(Action::RevokeResetLinks) => {
            push_confirm(app, target, Request::RevokeResetLinks)
        }
        Command::Act(Action::Unlock) => push_confirm(app, target, Request::Unlock),
        Command::Act(Action::SignOutEverywhere) => {
            push_confirm(app, target, Request::SignOutEverywhere)
        }
        Command::Act(Action::ResendWelcome) => push_confirm(app, target, Request::ResendWelcome),
        Command::Act(Action::GrantOffer | Action::RevokeOffer) => {
            super::profile_keys::open_picker(app, target, command)
        }
        Command::Copy => {
            app.say(
                Level::Success,
                &format!("Copied {} to your clipboard (OSC 52)", target.email),
            );
            vec![Cmd::Copy(Secret::new(target.email))]
        }
        _ => Vec::new(),
    }
}

fn push_confirm(app: &mut App, target: Target, action: Request) -> Vec<Cmd> {
    app.dialogs
        .push(Dialog::Confirm(Confirm::for_menu(target, action)));
    Vec::new()
}

fn change_password_key(app: &mut App, key: KeyEvent, command: Option<Command>) -> Vec<Cmd> {
    let Some(Dialog::ChangePassword(cp)) = app.dialogs.last_mut() else {
        return Vec::new();
    };
    if cp.running {
        return Vec::new();
    }
    // Editing keys belong to the password field when it has focus.
    let input_first = cp.focus == CpField::Password
        && match command {
            Some(
                Command::Quit
                | Command::Back
                | Command::Open
                | Command::Generate
                | Command::ToggleShow
                | Command::ToggleRequire,
            ) => false,
            // Left and Right move the caret inside the field; Tab leaves it.
            Some(Command::NextField | Command::PrevField) => {
                !matches!(key.code, KeyCode::Tab | KeyCode::BackTab)
            }
            _ => true,
        };
    if input_first && let Some(request) = to_input_request(&Event::Key(key)) {
        if cp.input.handle(request).is_some_and(|r| r.value) {
            cp.generated = false;
            return password_changed(app);
        }
        return Vec::new();
    }
    match command {
        Some(Command::Back) => {
            app.dialogs.pop();
            Vec::new()
        }
        Some(Command::NextField) => {
            cp.focus = cp.focus.next();
            Vec::new()
        }
        Some(Command::PrevField) => {
            cp.focus = cp.focus.prev();
            Vec::new()
        }
        Some(Command::ToggleShow) => {
            cp.show = !cp.show;
            Vec::new()
        }
        Some(Command::ToggleRequire) => {
            cp.require_change = !cp.require_change;
            Vec::new()
        }
        Some(Command::Generate) => vec![Cmd::GeneratePassword],
        Some(Command::Open) => match cp.focus {
            CpField::Require => {
                cp.require_change = !cp.require_change;
                Vec::new()
            }
            CpField::Cancel => {
                app.dialogs.pop();
                Vec::new()
            }
            CpField::Password | CpField::Save => save(app),
        },
        None if cp.focus == CpField::Require && key.code == KeyCode::Char(' ') => {
            cp.require_change = !cp.require_change;
            Vec::new()
        }
        _ => Vec::new(),
    }
}

fn save(app: &mut App) -> Vec<Cmd> {
    let Some(Dialog::ChangePassword(cp)) = app.dialogs.last_mut() else {
        return Vec::new();
    };
    if cp.input.value().is_empty() {
        cp.error = Some("Type a password or press Ctrl-G to generate one".into());
        return Vec::new();
    }
    if cp.generated && !cp.require_change {
        cp.error =
            Some("A generated password is temporary: keep \"must change at next login\" on".into());
        return Vec::new();
    }
    if !cp.can_save() {
        cp.error = Some(match &cp.feedback {
            Some(f) if !f.ok => "The password does not meet the policy yet".into(),
            _ => "Checking the password…".into(),
        });
        return Vec::new();
    }
    cp.running = true;
    cp.error = None;
    vec![Cmd::Act {
        contact_id: cp.target.contact_id,
        action: Request::ChangePassword {
            password: Secret::new(cp.input.value()),
            require_change: cp.require_change,
        },
    }]
}

/// The password text changed: ask for a fresh policy check.
pub fn password_changed(app: &mut App) -> Vec<Cmd> {
    app.check_generation += 1;
    let generation = app.check_generation;
    let Some(Dialog::ChangePassword(cp)) = app.dialogs.last_mut() else {
        return Vec::new();
    };
    cp.generation = generation;
    cp.error = None;
    if cp.input.value().is_empty() {
        cp.feedback = None;
        return Vec::new();
    }
    vec![Cmd::CheckPassword {
        generation,
        password: Secret::new(cp.input.value()),
        context: vec![cp.target.name.clone(), cp.target.email.clone()],
    }]
}
