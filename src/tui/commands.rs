//! The commands a user can bind, and the screens (contexts) they apply
//! in: one table with each command's name (the key in `[ui.keys]`),
//! description, `dangerous` flag, contexts, default keys and footer label.
//! `keymap.rs` turns it into the effective key bindings.

/// Where the user is: decides which commands a key can mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    /// The contacts table has focus.
    List,
    /// The search box has focus (printable keys type).
    Search,
    /// The profile fills the screen (narrow terminals).
    Profile,
    /// A confirmation dialog.
    Confirm,
    /// The More Actions menu.
    Menu,
    /// The Change Password dialog (printable keys type).
    ChangePassword,
    /// A notice: not a customer, the new password, an outcome.
    Notice,
    /// The help screen.
    Help,
}

impl Context {
    /// Whether a text field has focus, so printable keys type into it.
    #[must_use]
    pub fn takes_text(self) -> bool {
        matches!(self, Self::Search | Self::ChangePassword)
    }
    /// The title the help screen gives this context.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::List => "Contacts",
            Self::Search => "Search box",
            Self::Profile => "Profile",
            Self::Confirm => "Confirmation",
            Self::Menu => "More Actions",
            Self::ChangePassword => "Change Password",
            Self::Notice => "Notice",
            Self::Help => "Help",
        }
    }
}

use crate::desk::Action;

/// Something a key can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Command {
    /// Leave keydesk.
    Quit,
    /// Focus the search box.
    Search,
    /// Move up one row or item.
    Up,
    /// Move down one row or item.
    Down,
    /// Move up a page.
    PageUp,
    /// Move down a page.
    PageDown,
    /// Go to the first row.
    Top,
    /// Go to the last loaded row (loading more).
    Bottom,
    /// Open the profile / choose the focused item.
    Open,
    /// Close the top dialog, leave the search box or the profile.
    Back,
    /// An action on the selected contact's account (Reset Password on
    /// the main screen, the others in More Actions): its name, title and
    /// role come from desk's vocabulary.
    Act(Action),
    /// Open More Actions.
    MoreActions,
    /// Cycle the kind filter.
    KindFilter,
    /// Show the keys of this screen.
    Help,
    /// Focus the next button or field.
    NextField,
    /// Focus the previous button or field.
    PrevField,
    /// Copy email, or the new password, to the clipboard (OSC 52).
    Copy,
    /// Generate a temporary password.
    Generate,
    /// Show or hide the typed password.
    ToggleShow,
    /// Toggle "require a new password at next login".
    ToggleRequire,
}

/// The fixed facts about a command.
#[derive(Debug, Clone, Copy)]
pub struct CommandInfo {
    /// Name in `[ui.keys]`.
    pub name: &'static str,
    /// What it does, as help shows it.
    pub description: &'static str,
    /// Changes a customer's account or sends mail.
    pub dangerous: bool,
    /// Screens where it applies.
    pub contexts: &'static [Context],
    /// Default keys, in the syntax of [`KeySpec::parse`].
    pub default_keys: &'static [&'static str],
    /// Label in the footer; `None` keeps it out of the footer.
    pub footer: Option<&'static str>,
}

use Context as C;

const BROWSE: &[Context] = &[C::List, C::Profile];
const MOVING: &[Context] = &[C::List, C::Search, C::Profile, C::Menu, C::Help];
const DIALOGS: &[Context] = &[C::Confirm, C::ChangePassword];

impl Command {
    /// Every command, in help order.
    pub const ALL: [Self; 24] = [
        Self::Search,
        Self::Up,
        Self::Down,
        Self::PageUp,
        Self::PageDown,
        Self::Top,
        Self::Bottom,
        Self::Open,
        Self::KindFilter,
        Self::Act(Action::SendResetLink),
        Self::MoreActions,
        Self::Act(Action::ChangePassword),
        Self::Act(Action::RevokeResetLinks),
        Self::Act(Action::Unlock),
        Self::Act(Action::SignOutEverywhere),
        Self::Copy,
        Self::Generate,
        Self::ToggleShow,
        Self::ToggleRequire,
        Self::NextField,
        Self::PrevField,
        Self::Back,
        Self::Help,
        Self::Quit,
    ];

    /// The table row for this command.
    #[must_use]
    #[allow(clippy::too_many_lines)]
    pub fn info(self) -> CommandInfo {
        let (name, description, dangerous, contexts, default_keys, footer): (
            &str,
            &str,
            bool,
            &[Context],
            &[&str],
            Option<&str>,
        ) = match self {
            Self::Quit => (
                "quit",
                "Quit keydesk",
                false,
                &[
                    C::List,
                    C::Search,
                    C::Profile,
                    C::Confirm,
                    C::Menu,
                    C::ChangePassword,
                    C::Notice,
                    C::Help,
                ],
                &["q", "ctrl-c"],
                Some("Quit"),
            ),
            Self::Search => (
                "search",
                "Search by name or email",
                false,
                BROWSE,
                &["/"],
                Some("Search"),
            ),
            Self::Up => ("up", "Move up", false, MOVING, &["k", "up"], None),
            Self::Down => (
                "down",
                "Move down",
                false,
                MOVING,
                &["j", "down"],
                Some("Move"),
            ),
            Self::PageUp => (
                "page_up",
                "Move up a page",
                false,
                &[C::List, C::Search, C::Profile, C::Help],
                &["pgup"],
                None,
            ),
            Self::PageDown => (
                "page_down",
                "Move down a page (loads more)",
                false,
                &[C::List, C::Search, C::Profile, C::Help],
                &["pgdn"],
                None,
            ),
            Self::Top => (
                "top",
                "First contact",
                false,
                &[C::List, C::Profile, C::Help],
                &["g", "home"],
                None,
            ),
            Self::Bottom => (
                "bottom",
                "Last loaded contact (loads more)",
                false,
                &[C::List, C::Profile, C::Help],
                &["G", "end"],
                None,
            ),
            Self::Open => (
                "open",
                "Open the profile / choose",
                false,
                &[
                    C::List,
                    C::Search,
                    C::Confirm,
                    C::Menu,
                    C::ChangePassword,
                    C::Notice,
                ],
                &["enter"],
                Some("Open"),
            ),
            Self::Back => (
                "back",
                "Close the dialog / back to the list",
                false,
                &[
                    C::List,
                    C::Search,
                    C::Profile,
                    C::Confirm,
                    C::Menu,
                    C::ChangePassword,
                    C::Notice,
                    C::Help,
                ],
                &["esc"],
                Some("Back"),
            ),
            Self::Act(a @ Action::SendResetLink) => (
                a.name(),
                "Reset Password: email a reset link",
                true,
                BROWSE,
                &["r"],
                Some("Reset Password"),
            ),
            Self::MoreActions => (
                "more_actions",
                "More Actions",
                false,
                BROWSE,
                &["."],
                Some("… More Actions"),
            ),
            Self::KindFilter => (
                "kind_filter",
                "Filter: All / Customers / Subscribers / Contacts",
                false,
                &[C::List, C::Search],
                &["tab"],
                Some("Filter"),
            ),
            Self::Help => (
                "help",
                "Keys of this screen",
                false,
                &[C::List, C::Profile, C::Menu, C::Notice, C::Help, C::Confirm],
                &["?"],
                Some("Help"),
            ),
            Self::NextField => (
                "next_field",
                "Next button or field",
                false,
                DIALOGS,
                &["tab", "right"],
                Some("Next"),
            ),
            Self::PrevField => (
                "prev_field",
                "Previous button or field",
                false,
                DIALOGS,
                &["backtab", "left"],
                None,
            ),
            // The other account actions live in More Actions, under their
            // desk title; one without a key here has none by default.
            Self::Act(a) => {
                let keys: &[&str] = match a {
                    Action::ChangePassword => &["c"],
                    Action::RevokeResetLinks => &["v"],
                    Action::Unlock => &["u"],
                    Action::SignOutEverywhere => &["o"],
                    _ => &[],
                };
                (a.name(), a.title(), true, &[C::Menu], keys, None)
            }
            Self::Copy => (
                "copy",
                "Copy to your clipboard (OSC 52)",
                false,
                &[C::Menu, C::Notice],
                &["y"],
                Some("Copy"),
            ),
            Self::Generate => (
                "generate",
                "Generate a temporary password",
                false,
                &[C::ChangePassword],
                &["ctrl-g"],
                Some("Generate"),
            ),
            Self::ToggleShow => (
                "toggle_show",
                "Show or hide the password",
                false,
                &[C::ChangePassword],
                &["ctrl-t"],
                Some("Show"),
            ),
            Self::ToggleRequire => (
                "toggle_require",
                "Require a new password at next login",
                false,
                &[C::ChangePassword],
                &["ctrl-r"],
                Some("Require change"),
            ),
        };
        CommandInfo {
            name,
            description,
            dangerous,
            contexts,
            default_keys,
            footer,
        }
    }

    /// The desk action it asks for, if it is one.
    #[must_use]
    pub fn action(self) -> Option<Action> {
        match self {
            Self::Act(action) => Some(action),
            _ => None,
        }
    }

    /// Finds a command by its settings name.
    #[must_use]
    pub fn by_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.info().name == name)
    }

    /// Whether it applies in `context`.
    #[must_use]
    pub fn applies_in(self, context: Context) -> bool {
        self.info().contexts.contains(&context)
    }
}
