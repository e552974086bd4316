//! Dialogs as values: each carries what it is about (the contact, the
//! pending action) so confirming performs exactly what was shown. The
//! keys of the top dialog are handled here; `update` routes them.

use ratatui::crossterm::event::{Event, KeyCode, KeyEvent};
use tui_input::Input;
use tui_input::backend::crossterm::to_input_request;

use super::app::{App, Level, ProfileView, Target};
use super::keymap::{Command, Context};
use super::msg::{Action, Cmd, OperatorView, PolicyFeedback};
use crate::settings::Secret;

/// An open dialog.
#[derive(Debug, Clone)]
pub enum Dialog {
    /// "Are you sure?" with the pending action as a value.
    Confirm(Confirm),
    /// More Actions.
    Menu(Menu),
    /// Change Password.
    ChangePassword(ChangePassword),
    /// A notice.
    Notice(Notice),
    /// Keys of the screen below.
    Help(Help),
}

impl Dialog {
    /// Where its keys go.
    #[must_use]
    pub fn context(&self) -> Context {
        match self {
            Self::Confirm(_) => Context::Confirm,
            Self::Menu(_) => Context::Menu,
            Self::ChangePassword(_) => Context::ChangePassword,
            Self::Notice(_) => Context::Notice,
            Self::Help(_) => Context::Help,
        }
    }
    /// Whether it waits on a task.
    #[must_use]
    pub fn running(&self) -> bool {
        match self {
            Self::Confirm(c) => c.running,
            Self::ChangePassword(c) => c.running,
            _ => false,
        }
    }
}

/// The confirmation dialog.
#[derive(Debug, Clone)]
pub struct Confirm {
    /// Whom it is about.
    pub target: Target,
    /// What confirming does.
    pub action: Action,
    /// The question, ready to show (sanitised parts only).
    pub question: String,
    /// The confirm button's label ("Send email").
    pub confirm_label: &'static str,
    /// Focus is on the confirm button (else on Cancel).
    pub on_confirm: bool,
    /// The action runs.
    pub running: bool,
}

impl Confirm {
    /// The Reset Password confirmation, exactly as the platform words it.
    #[must_use]
    pub fn reset(target: Target, ttl_words: &str, force: bool) -> Self {
        let question = if force {
            format!(
                "A reset link was sent to {} <{}> moments ago. Send another? The older link stops working; the new one expires after {ttl_words}.",
                target.name, target.email
            )
        } else {
            format!(
                "Send a password reset email to {} <{}>? The link expires after {ttl_words}.",
                target.name, target.email
            )
        };
        Self {
            target,
            action: Action::SendResetLink { force },
            question,
            confirm_label: if force { "Send anyway" } else { "Send email" },
            on_confirm: true,
            running: false,
        }
    }

    /// The confirmation for a menu action.
    #[must_use]
    pub fn for_menu(target: Target, action: Action) -> Self {
        let (question, label) = match &action {
            Action::RevokeLinks => (
                format!(
                    "Revoke every open reset link of {} <{}>? Links already mailed stop working.",
                    target.name, target.email
                ),
                "Revoke",
            ),
            Action::Unlock => (
                format!(
                    "Unlock the account of {} <{}>? They can sign in again at once.",
                    target.name, target.email
                ),
                "Unlock",
            ),
            Action::SignOut => (
                format!(
                    "Sign {} <{}> out of every session on the site?",
                    target.name, target.email
                ),
                "Sign out",
            ),
            _ => (String::new(), "OK"),
        };
        Self {
            target,
            action,
            question,
            confirm_label: label,
            on_confirm: true,
            running: false,
        }
    }
}

/// Why a menu item cannot be chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disabled {
    /// The contact has no offer, so no login.
    NotACustomer,
    /// Any other reason, in words.
    Reason(String),
}

impl Disabled {
    /// The reason in a few words, for the menu line.
    #[must_use]
    pub fn short(&self) -> &str {
        match self {
            Self::NotACustomer => "not a customer",
            Self::Reason(r) => r,
        }
    }
}

/// One line of More Actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuItem {
    /// The command it runs (its key comes from the keymap).
    pub command: Command,
    /// The label, as the platform spells it.
    pub label: &'static str,
    /// Set when it cannot be chosen now.
    pub disabled: Option<Disabled>,
}

/// More Actions.
#[derive(Debug, Clone)]
pub struct Menu {
    /// Whom it is about.
    pub target: Target,
    /// The items, in the platform's order.
    pub items: Vec<MenuItem>,
    /// The highlighted item.
    pub selected: usize,
}

/// The desk action behind a console command, if it is one.
#[must_use]
pub fn desk_action(command: Command) -> Option<crate::desk::Action> {
    use crate::desk::Action as A;
    match command {
        Command::ResetPassword => Some(A::SendResetLink),
        Command::ChangePassword => Some(A::ChangePassword),
        Command::RevokeLinks => Some(A::RevokeResetLinks),
        Command::Unlock => Some(A::Unlock),
        Command::SignOut => Some(A::SignOutEverywhere),
        _ => None,
    }
}

/// Whether a command is available for this contact, and if not, why.
/// The role rule is desk's own ([`crate::desk::Action::needed_role`]);
/// desk checks again when the action runs. While the operator is not yet
/// known nothing is disabled for the role.
#[must_use]
pub fn availability(
    operator: Option<&OperatorView>,
    command: Command,
    target: &Target,
    profile: Option<&ProfileView>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Disabled> {
    let action = desk_action(command)?;
    if !target.customer {
        return Some(Disabled::NotACustomer);
    }
    if let Some(op) = operator {
        let needed = action.needed_role();
        match op.role {
            None => return Some(Disabled::Reason("you are not a keydesk operator".into())),
            Some(role) if role < needed => {
                return Some(Disabled::Reason(format!(
                    "needs the {needed} role (you are {role})"
                )));
            }
            Some(_) => {}
        }
    }
    let profile = profile.filter(|p| p.target.contact_id == target.contact_id)?;
    match command {
        Command::RevokeLinks if profile.open_links.is_empty() => {
            Some(Disabled::Reason("no open reset links".into()))
        }
        Command::Unlock if !profile.locked_at(now) => {
            Some(Disabled::Reason("the account is not locked".into()))
        }
        _ => None,
    }
}

impl Menu {
    /// The menu for a contact, with each item's availability.
    #[must_use]
    pub fn new(app: &App, target: Target) -> Self {
        let operator = app.status.operator.as_ref();
        let profile = app.target_profile();
        let items = [
            (Command::ChangePassword, "Change Password"),
            (Command::RevokeLinks, "Revoke reset links"),
            (Command::Unlock, "Unlock account"),
            (Command::SignOut, "Sign out everywhere"),
            (Command::Copy, "Copy email"),
        ]
        .into_iter()
        .map(|(command, label)| MenuItem {
            command,
            label,
            disabled: availability(operator, command, &target, profile, app.now),
        })
        .collect::<Vec<_>>();
        let selected = items.iter().position(|i| i.disabled.is_none()).unwrap_or(0);
        Self {
            target,
            items,
            selected,
        }
    }
}

/// The fields of Change Password, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpField {
    /// The password input.
    Password,
    /// The "require a new password" checkbox.
    Require,
    /// Save.
    Save,
    /// Cancel.
    Cancel,
}

impl CpField {
    fn next(self) -> Self {
        match self {
            Self::Password => Self::Require,
            Self::Require => Self::Save,
            Self::Save => Self::Cancel,
            Self::Cancel => Self::Password,
        }
    }
    fn prev(self) -> Self {
        match self {
            Self::Password => Self::Cancel,
            Self::Require => Self::Password,
            Self::Save => Self::Require,
            Self::Cancel => Self::Save,
        }
    }
}

/// The Change Password dialog.
#[derive(Debug, Clone)]
pub struct ChangePassword {
    /// Whom it is about.
    pub target: Target,
    /// The typed password.
    pub input: Input,
    /// Show it in clear.
    pub show: bool,
    /// Require a new password at next login (on by default).
    pub require_change: bool,
    /// The focused field.
    pub focus: CpField,
    /// Policy feedback for the current text.
    pub feedback: Option<PolicyFeedback>,
    /// The generation of the newest check.
    pub generation: u64,
    /// Saving.
    pub running: bool,
    /// Why the last save failed.
    pub error: Option<String>,
}

impl ChangePassword {
    /// An empty dialog for a customer.
    #[must_use]
    pub fn new(target: Target) -> Self {
        Self {
            target,
            input: Input::default(),
            show: false,
            require_change: true,
            focus: CpField::Password,
            feedback: None,
            generation: 0,
            running: false,
            error: None,
        }
    }

    /// Whether Save would be accepted now.
    #[must_use]
    pub fn can_save(&self) -> bool {
        !self.running
            && !self.input.value().is_empty()
            && self.feedback.as_ref().is_some_and(|f| f.ok)
    }
}

/// What a notice is about.
#[derive(Debug, Clone)]
pub enum Notice {
    /// The contact is not a customer; explains what makes one.
    NotACustomer {
        /// Who.
        target: Target,
        /// What was asked for ("Reset Password", "Change Password").
        asked: &'static str,
    },
    /// A password was set; shown once.
    PasswordSet {
        /// For whom.
        target: Target,
        /// The password, shown once.
        password: Secret,
        /// Must change at next login.
        require_change: bool,
        /// Copied with OSC 52 already.
        copied: bool,
    },
    /// Any other message.
    Message {
        /// How serious.
        level: Level,
        /// Title.
        title: String,
        /// Text, sanitised.
        text: String,
    },
}

/// The help screen.
#[derive(Debug, Clone, Copy)]
pub struct Help {
    /// Whose keys it lists.
    pub context: Context,
    /// Lines scrolled.
    pub scroll: u16,
}

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
            Some(Command::Help) => open_help(app, Context::Notice),
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
                    vec![Cmd::Act {
                        contact_id: confirm.target.contact_id,
                        action: confirm.action.clone(),
                    }]
                }
                Some(Command::Help) => open_help(app, Context::Confirm),
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
                Some(Command::Help) => return open_help(app, Context::Menu),
                Some(Command::Open) => menu.items.get(menu.selected).map(|i| i.command),
                Some(
                    c @ (Command::ChangePassword
                    | Command::RevokeLinks
                    | Command::Unlock
                    | Command::SignOut
                    | Command::Copy),
                ) => Some(c),
                _ => None,
            };
            match chosen {
                Some(c) => choose_menu_item(app, c),
                None => Vec::new(),
            }
        }
        Dialog::ChangePassword(_) => change_password_key(app, key, command),
    }
}

/// Opens help for a context over whatever is open.
pub fn open_help(app: &mut App, context: Context) -> Vec<Cmd> {
    app.dialogs.push(Dialog::Help(Help { context, scroll: 0 }));
    app.dirty = true;
    Vec::new()
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
            let asked = match command {
                Command::ChangePassword => "Change Password",
                Command::RevokeLinks => "Revoke reset links",
                Command::Unlock => "Unlock account",
                _ => "Sign out everywhere",
            };
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
        Command::ChangePassword => {
            app.dialogs
                .push(Dialog::ChangePassword(ChangePassword::new(target)));
            Vec::new()
        }
        Command::RevokeLinks => push_confirm(app, target, Action::RevokeLinks),
        Command::Unlock => push_confirm(app, target, Action::Unlock),
        Command::SignOut => push_confirm(app, target, Action::SignOut),
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

fn push_confirm(app: &mut App, target: Target, action: Action) -> Vec<Cmd> {
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
    if input_first {
        if let Some(request) = to_input_request(&Event::Key(key)) {
            if cp.input.handle(request).is_some_and(|r| r.value) {
                return password_changed(app);
            }
            return Vec::new();
        }
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
        action: Action::ChangePassword {
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
