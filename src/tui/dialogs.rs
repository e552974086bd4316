//! Dialogs as values: each carries what it is about (the contact, the
//! pending action) so confirming performs exactly what was shown. The
//! keys of the top dialog are handled here; `update` routes them.

use tui_input::Input;

use super::keymap::{Command, Context};
use super::msg::{Level, OperatorView, PolicyFeedback, Request};
use super::profile_view::{ProfileView, Target};
use super::sanitize::clean;
use crate::desk::Action;
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
    /// Grant Offer / Revoke Offer: pick an offer.
    OfferPicker(super::offer_picker::OfferPicker),
    /// Edit contact.
    EditContact(super::contact_form::EditContact),
    /// Notes.
    Notes(super::note_editor::NoteEditor),
    /// The filter menu.
    Filters(super::oncall_state::FilterMenu),
    /// More Actions with a selection: the bulk actions.
    BulkMenu(super::oncall_state::BulkMenu),
    /// The confirmation of a bulk action.
    BulkConfirm(super::oncall_state::BulkConfirm),
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
            Self::OfferPicker(_) => Context::OfferPicker,
            Self::EditContact(_) => Context::EditContact,
            Self::Notes(_) => Context::Notes,
            Self::Filters(_) => Context::Filters,
            Self::BulkMenu(_) => Context::Menu,
            Self::BulkConfirm(_) => Context::BulkConfirm,
        }
    }
    /// Whether it waits on a task.
    #[must_use]
    pub fn running(&self) -> bool {
        match self {
            Self::Confirm(c) => c.running,
            Self::ChangePassword(c) => c.running,
            Self::Notes(n) => n.running,
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
    pub action: Request,
    /// The question, ready to show (sanitised parts only).
    pub question: String,
    /// The confirm button's label ("Send email").
    pub confirm_label: &'static str,
    /// Focus is on the confirm button (else on Cancel).
    pub on_confirm: bool,
    /// The action runs.
    pub running: bool,
    /// Why the last try did not go through (the database was down), shown
    /// above the buttons until the agent tries again.
    pub error: Option<String>,
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
            action: Request::SendResetLink { force },
            question,
            confirm_label: if force { "Send anyway" } else { "Send email" },
            on_confirm: true,
            running: false,
            error: None,
        }
    }

    /// The confirmation for a menu action.
    #[must_use]
    pub fn for_menu(target: Target, action: Request) -> Self {
        let who = format!("{} <{}>", target.name, target.email);
        let (question, label) = match &action {
            Request::RevokeResetLinks => (
                format!(
                    "Revoke every open reset link of {} <{}>? Links already mailed stop working.",
                    target.name, target.email
                ),
                "Revoke",
            ),
            Request::Unlock => (
                format!(
                    "Unlock the account of {} <{}>? They can sign in again at once.",
                    target.name, target.email
                ),
                "Unlock",
            ),
            Request::SignOutEverywhere => (
                format!(
                    "Sign {} <{}> out of every session on the site?",
                    target.name, target.email
                ),
                "Sign out",
            ),
            Request::GrantOffer { offer } => (
                if target.customer {
                    format!("Grant {offer} to {who}?")
                } else {
                    format!(
                        "Grant {offer} to {who}? They become a Customer and get a welcome email with a link to set a password."
                    )
                },
                "Grant",
            ),
            Request::RevokeOffer { offer } => (
                format!(
                    "Revoke {offer} from {who}? With their last offer they are no longer a Customer: their site sessions end and they cannot sign in."
                ),
                "Revoke",
            ),
            Request::ResendWelcome => (
                format!(
                    "Send {who} a new welcome email? The link in the previous one stops working."
                ),
                "Send email",
            ),
            Request::EditContact { name, email } => {
                let new_name = name.as_deref().map_or_else(|| target.name.clone(), clean);
                let new_email = email.as_deref().map_or_else(|| target.email.clone(), clean);
                let mut q = format!("Change {who} to {new_name} <{new_email}>?");
                if email.is_some() && target.customer {
                    q.push_str(" The new email becomes the login: open reset links stop working, and the old and new addresses each get a notice.");
                }
                (q, "Save")
            }
            Request::DeleteNote { author, .. } => {
                (format!("Delete the note by {author} on {who}?"), "Delete")
            }
            // Reset Password and Change Password have dialogs of their own.
            Request::SendResetLink { .. }
            | Request::ChangePassword { .. }
            | Request::AddNote { .. } => (String::new(), "OK"),
        };
        Self {
            target,
            action,
            question,
            confirm_label: label,
            on_confirm: true,
            running: false,
            error: None,
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

/// Whether a command is available for this contact, and if not, why.
/// The role rule is desk's own ([`Action::needed_role`]);
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
    // Notes opens on the profile; writing one is what needs the role.
    let action = match command {
        Command::Notes => Action::AddNote,
        other => other.action()?,
    };
    // Granting an offer, editing and notes are for every contact.
    let for_customers = !matches!(
        action,
        Action::GrantOffer | Action::EditContact | Action::AddNote
    );
    if for_customers && !target.customer {
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
        Command::Act(Action::RevokeResetLinks) if profile.open_links.is_empty() => {
            Some(Disabled::Reason("no open reset links".into()))
        }
        Command::Act(Action::Unlock) if !profile.locked_at(now) => {
            Some(Disabled::Reason("the account is not locked".into()))
        }
        Command::Act(Action::ResendWelcome)
            if profile.password != super::profile_view::PasswordState::NeverSet
                && profile.password != super::profile_view::PasswordState::NoAccount =>
        {
            Some(Disabled::Reason("a password is set".into()))
        }
        _ => None,
    }
}

impl Menu {
    /// The menu for a contact, with each item's availability for
    /// `operator` given what `profile` shows at `now`.
    #[must_use]
    pub fn new(
        target: Target,
        operator: Option<&OperatorView>,
        profile: Option<&ProfileView>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        let actions = [
            Action::ChangePassword,
            Action::RevokeResetLinks,
            Action::Unlock,
            Action::SignOutEverywhere,
            Action::GrantOffer,
            Action::RevokeOffer,
            Action::ResendWelcome,
        ];
        let items = actions
            .into_iter()
            .map(|a| (Command::Act(a), a.title()))
            .chain([(Command::Copy, "Copy email")])
            .map(|(command, label)| MenuItem {
                command,
                label,
                disabled: availability(operator, command, &target, profile, now),
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
    /// The next field in Tab order.
    #[must_use]
    pub fn next(self) -> Self {
        match self {
            Self::Password => Self::Require,
            Self::Require => Self::Save,
            Self::Save => Self::Cancel,
            Self::Cancel => Self::Password,
        }
    }
    /// The previous field in Tab order.
    #[must_use]
    pub fn prev(self) -> Self {
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
    /// The text is a generated password, unedited. It may only be set as
    /// a temporary one (ASVS V2.3.1: a system-made secret never becomes the
    /// long-term password).
    pub generated: bool,
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
            generated: false,
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
