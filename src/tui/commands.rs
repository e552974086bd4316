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
    /// The offer picker of Grant Offer / Revoke Offer (printable keys type).
    OfferPicker,
    /// Edit contact (printable keys type).
    EditContact,
    /// Notes (printable keys type into the note).
    Notes,
    /// The filter menu (printable keys find an offer).
    Filters,
    /// The confirmation of a bulk action (digits type the count).
    BulkConfirm,
    /// The Audit screen's table.
    Audit,
    /// The Audit screen's filter box (printable keys type).
    AuditSearch,
    /// The Operators screen's table.
    Operators,
    /// A form on the Operators screen (printable keys type).
    OperatorForm,
}

impl Context {
    /// Whether a text field has focus, so printable keys type into it.
    #[must_use]
    pub fn takes_text(self) -> bool {
        matches!(
            self,
            Self::Search
                | Self::ChangePassword
                | Self::OfferPicker
                | Self::EditContact
                | Self::Notes
                | Self::Filters
                | Self::BulkConfirm
                | Self::AuditSearch
                | Self::OperatorForm
        )
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
            Self::OfferPicker => "Offer picker",
            Self::EditContact => "Edit contact",
            Self::Notes => "Notes",
            Self::Filters => "Filters",
            Self::BulkConfirm => "Bulk action",
            Self::Audit => "Audit log",
            Self::AuditSearch => "Audit filter",
            Self::Operators => "Operators",
            Self::OperatorForm => "Operator form",
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
    /// Notes (`n` on a profile).
    Notes,
    /// Save the note (in Notes).
    Save,
    /// Open the filter menu.
    Filters,
    /// Clear every filter.
    ClearFilters,
    /// Select or unselect the highlighted contact (or filter).
    Select,
    /// Select everything matching the search and the filters.
    SelectAll,
    /// Cancel the running bulk action.
    CancelJob,
    /// Open the Audit screen.
    Audit,
    /// Open the Operators screen.
    Operators,
    /// Change the selected operator's role.
    ChangeRole,
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
const MOVING: &[Context] = &[
    C::List,
    C::Audit,
    C::Operators,
    C::Search,
    C::Profile,
    C::Menu,
    C::Help,
    C::Filters,
    C::OfferPicker,
    C::Notes,
];
const DIALOGS: &[Context] = &[
    C::Confirm,
    C::OperatorForm,
    C::ChangePassword,
    C::BulkConfirm,
    C::EditContact,
    C::Notes,
];
/// Everywhere: quitting and closing work on every screen.
const EVERYWHERE: &[Context] = &[
    C::List,
    C::Search,
    C::Profile,
    C::Confirm,
    C::Menu,
    C::ChangePassword,
    C::Notice,
    C::Help,
    C::Filters,
    C::BulkConfirm,
    C::OfferPicker,
    C::EditContact,
    C::Notes,
    C::Audit,
    C::AuditSearch,
    C::Operators,
    C::OperatorForm,
];
/// The screens that move through a table a page at a time.
const PAGED: &[Context] = &[C::List, C::Profile, C::Help, C::Audit, C::Operators];

impl Command {
    /// Every command, in help order.
    pub const ALL: [Self; 42] = [
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
        Self::Act(Action::EditContact),
        Self::Notes,
        Self::Act(Action::ChangePassword),
        Self::Act(Action::RevokeResetLinks),
        Self::Act(Action::Unlock),
        Self::Act(Action::SignOutEverywhere),
        Self::Act(Action::GrantOffer),
        Self::Act(Action::RevokeOffer),
        Self::Act(Action::ResendWelcome),
        Self::Copy,
        Self::Save,
        Self::Act(Action::DeleteNote),
        Self::Generate,
        Self::ToggleShow,
        Self::ToggleRequire,
        Self::NextField,
        Self::PrevField,
        Self::Back,
        Self::Help,
        Self::Quit,
        // The on-call keys come last, so the footer of an 80-column
        // terminal keeps the everyday ones; `?` lists them all.
        Self::Filters,
        Self::ClearFilters,
        Self::Select,
        Self::SelectAll,
        Self::CancelJob,
        Self::Audit,
        Self::Operators,
        Self::Act(Action::AddOperator),
        Self::ChangeRole,
        Self::Act(Action::RemoveOperator),
        Self::Act(Action::AddOperatorKey),
    ];

    /// The table row for this command.
    #[must_use]
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
                EVERYWHERE,
                &["q", "ctrl-c"],
                Some("Quit"),
            ),
            Self::Search => (
                "search",
                "Search by name or email (Audit: filter)",
                false,
                &[C::List, C::Profile, C::Audit],
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
                &[C::List, C::Search, C::Profile, C::Help, C::Audit],
                &["pgup"],
                None,
            ),
            Self::PageDown => (
                "page_down",
                "Move down a page (loads more)",
                false,
                &[C::List, C::Search, C::Profile, C::Help, C::Audit],
                &["pgdn"],
                None,
            ),
            Self::Top => ("top", "First row", false, PAGED, &["g", "home"], None),
            Self::Bottom => (
                "bottom",
                "Last loaded row (loads more)",
                false,
                PAGED,
                &["G", "end"],
                None,
            ),
            Self::Open => (
                "open",
                "Open the profile / choose",
                false,
                &[
                    C::List,
                    C::Audit,
                    C::AuditSearch,
                    C::OperatorForm,
                    C::Search,
                    C::Confirm,
                    C::Menu,
                    C::ChangePassword,
                    C::Notice,
                    C::OfferPicker,
                    C::EditContact,
                    C::Notes,
                    C::Filters,
                    C::BulkConfirm,
                ],
                &["enter"],
                Some("Open"),
            ),
            Self::Back => (
                "back",
                "Close the dialog / clear the selection / back to the list",
                false,
                EVERYWHERE,
                &["esc"],
                Some("Back"),
            ),
            Self::Act(a @ Action::SendResetLink) => (
                a.name(),
                "Reset Password: email a reset link (to the selection, if any)",
                true,
                &[C::List, C::Profile, C::Menu],
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
                &[
                    C::List,
                    C::Profile,
                    C::Menu,
                    C::Notice,
                    C::Help,
                    C::Confirm,
                    C::Audit,
                    C::Operators,
                ],
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
            // desk title, unless they have a screen of their own; one
            // without a key here has none by default.
            Self::Act(a) => {
                let (description, contexts, keys, footer): (
                    &str,
                    &[Context],
                    &[&str],
                    Option<&str>,
                ) = match a {
                    Action::ChangePassword => (a.title(), &[C::Menu], &["c"], None),
                    Action::RevokeResetLinks => (a.title(), &[C::Menu], &["v"], None),
                    Action::Unlock => (a.title(), &[C::Menu], &["u"], None),
                    Action::SignOutEverywhere => (a.title(), &[C::Menu], &["o"], None),
                    Action::EditContact => (
                        "Edit contact: name and email (admins)",
                        BROWSE,
                        &["e"],
                        Some("Edit"),
                    ),
                    Action::GrantOffer => (
                        "Grant Offer (admins): a new Customer gets a welcome email",
                        &[C::Menu],
                        &["a"],
                        None,
                    ),
                    Action::RevokeOffer => (
                        "Revoke Offer (admins): with the last one the login ends",
                        &[C::Menu],
                        &["d"],
                        None,
                    ),
                    Action::ResendWelcome => (
                        "Resend welcome email (a customer who never set a password)",
                        &[C::Menu],
                        &["w"],
                        None,
                    ),
                    Action::AddOperator => (
                        "Add an operator: name and role (admins)",
                        &[C::Operators],
                        &["a"],
                        Some("Add"),
                    ),
                    Action::RemoveOperator => (
                        "Remove the operator (admins; never the last admin)",
                        &[C::Operators],
                        &["d", "delete"],
                        Some("Remove"),
                    ),
                    Action::AddOperatorKey => (
                        "Add an SSH key: paste an OpenSSH public key line (admins)",
                        &[C::Operators],
                        &["s"],
                        Some("Add key"),
                    ),
                    Action::DeleteNote => (
                        "Delete the selected note (its author or an admin)",
                        &[C::Notes],
                        &["delete"],
                        Some("Delete"),
                    ),
                    _ => (a.title(), &[C::Menu], &[], None),
                };
                (a.name(), description, true, contexts, keys, footer)
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
            Self::Notes => (
                "notes",
                "Notes: write a note, or delete one",
                false,
                BROWSE,
                &["n"],
                Some("Notes"),
            ),
            Self::Save => (
                "save",
                "Save the note",
                false,
                &[C::Notes],
                &["ctrl-s"],
                Some("Save"),
            ),
            Self::Filters => (
                "filters",
                "Filters: Locked, Open reset link, Must change password, …, Holds offer X",
                false,
                BROWSE,
                &["f"],
                Some("Filters"),
            ),
            Self::ClearFilters => (
                "clear_filters",
                "Clear every filter",
                false,
                BROWSE,
                &["F"],
                Some("Clear filters"),
            ),
            Self::Select => (
                "select",
                "Select or unselect the contact",
                false,
                &[C::List],
                &["space"],
                Some("Select"),
            ),
            Self::SelectAll => (
                "select_all",
                "Select everything matching the search and filters",
                false,
                &[C::List],
                &["V"],
                Some("Select all"),
            ),
            Self::CancelJob => (
                "cancel_job",
                "Cancel the running bulk action",
                false,
                BROWSE,
                &["x"],
                Some("Cancel job"),
            ),
            Self::Audit => (
                "audit",
                "Audit log: who did what (admins: everyone; others: their own)",
                false,
                &[C::List, C::Profile, C::Operators],
                &["A"],
                Some("Audit"),
            ),
            Self::Operators => (
                "operators",
                "Operators: roles and SSH keys (admins)",
                false,
                &[C::List, C::Profile, C::Audit],
                &["O"],
                Some("Operators"),
            ),
            Self::ChangeRole => (
                "change_role",
                "Change the operator's role (admins; never the last admin's)",
                true,
                &[C::Operators],
                &["c"],
                Some("Role"),
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
