//! The console's whole state. Views read it; only `update` changes it.
//! Text from the database is stored already sanitised (see `sanitize`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use tui_input::Input;

use super::keymap::{Context, Keymap};
pub use super::msg::Level;
use super::msg::{Cmd, OperatorView, OutboxCounts};
pub use super::profile_view::{AuditLine, OfferLine, PasswordState, ProfileView, Target};
use super::sanitize::clean;
use super::theme::Theme;
use crate::desk::{ContactRow, Cursor, KindFilter, MatchCount};

/// Below this width the profile replaces the list instead of sitting beside it.
pub const WIDE_MIN_COLS: u16 = 100;
/// Below this size the console only says the terminal is too small.
pub const MIN_COLS: u16 = 60;
/// See [`MIN_COLS`].
pub const MIN_ROWS: u16 = 16;
/// Rows that are not table rows: search line, frame (2), table header,
/// footer, status line.
pub const CHROME_ROWS: u16 = 6;
/// Fetch the next page when the selection comes this close to the end.
pub const PREFETCH_ROWS: usize = 10;

/// Settings the console needs, resolved once.
#[derive(Debug, Clone)]
pub struct UiConfig {
    /// Reset link lifetime, for the confirmation text.
    pub link_ttl: Duration,
    /// Shortest password the policy accepts (for the dialog's hint).
    pub min_password_length: usize,
    /// How long an unused temporary password works (`password.temporary_ttl`).
    pub temporary_ttl: Duration,
    /// `sqlite`, `postgres`, `mysql`.
    pub backend: String,
    /// `file`, `smtp`, `sendmail`.
    pub transport: String,
    /// Where the customer site this process serves listens (the demo).
    pub site: Option<String>,
    /// A bulk action on more contacts needs the count typed back (`bulk.confirm_over`).
    pub bulk_confirm_over: u32,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            link_ttl: Duration::from_secs(6 * 3600),
            min_password_length: 12,
            temporary_ttl: Duration::from_secs(72 * 3600),
            backend: "sqlite".into(),
            transport: "file".into(),
            site: None,
            bulk_confirm_over: 20,
        }
    }
}

/// Which text field or table has focus on the main screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    /// The search box.
    Search,
    /// The contacts table.
    #[default]
    List,
}

/// What fills the main area on a narrow terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Screen {
    /// The list.
    #[default]
    List,
    /// The profile of the selected contact.
    Profile,
}

/// A contact's badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Holds an offer (and maybe subscribed).
    Customer,
    /// Subscribed, no offer.
    Subscriber,
    /// Neither.
    Contact,
}

impl Kind {
    /// From the two flags.
    #[must_use]
    pub fn of(customer: bool, subscriber: bool) -> Self {
        if customer {
            Self::Customer
        } else if subscriber {
            Self::Subscriber
        } else {
            Self::Contact
        }
    }
    /// The badge text.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Customer => "Customer",
            Self::Subscriber => "Subscriber",
            Self::Contact => "Contact",
        }
    }
}

/// A list row, sanitised for the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Contact id.
    pub id: i64,
    /// Name, safe to draw.
    pub name: String,
    /// Email, safe to draw.
    pub email: String,
    /// Holds an offer.
    pub customer: bool,
    /// Subscribed to marketing.
    pub subscriber: bool,
    /// Added on.
    pub created_at: DateTime<Utc>,
}

impl Row {
    /// Sanitises a row from the store.
    #[must_use]
    pub fn from_store(row: &ContactRow) -> Self {
        Self {
            id: row.id,
            name: clean(&row.name),
            email: clean(&row.email),
            customer: row.customer,
            subscriber: row.subscriber,
            created_at: row.created_at,
        }
    }
    /// Its badge.
    #[must_use]
    pub fn kind(&self) -> Kind {
        Kind::of(self.customer, self.subscriber)
    }
    /// The contact as dialogs name it.
    #[must_use]
    pub fn target(&self) -> Target {
        Target {
            contact_id: self.id,
            name: self.name.clone(),
            email: self.email.clone(),
            customer: self.customer,
        }
    }
}

/// The contacts list.
#[derive(Debug, Clone, Default)]
pub struct ListState {
    /// Rows loaded so far, in order.
    pub rows: Vec<Row>,
    /// Matches in all pages, once known.
    pub total: Option<MatchCount>,
    /// Where the next page starts, if there is one.
    pub next: Option<Cursor>,
    /// Selected row index.
    pub selected: usize,
    /// First row on screen.
    pub offset: usize,
    /// The newest search asked for.
    pub generation: u64,
    /// A new result is on its way.
    pub loading: bool,
    /// A further page is on its way (for this cursor).
    pub loading_more: Option<Cursor>,
    /// The last search failed with this (sanitised) text.
    pub error: Option<String>,
    /// The rows shown do not answer the newest search (it failed); redo it
    /// when the database is back.
    pub stale: bool,
    /// Select this contact when the next result arrives (opened from the
    /// Audit screen).
    pub want: Option<i64>,
}

impl ListState {
    /// The selected row, if any.
    #[must_use]
    pub fn selected_row(&self) -> Option<&Row> {
        self.rows.get(self.selected)
    }
}

/// The profile pane's state.
#[derive(Debug, Clone, Default)]
pub struct ProfilePane {
    /// The contact shown (or being loaded).
    pub contact_id: Option<i64>,
    /// What is shown; kept while a newer one loads.
    pub view: Option<ProfileView>,
    /// The newest load asked for.
    pub generation: u64,
    /// A load is on its way.
    pub loading: bool,
    /// The last load failed with this text.
    pub error: Option<String>,
    /// Lines scrolled (narrow layout).
    pub scroll: u16,
}

/// The status line.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// Who is at the keyboard.
    pub operator: Option<OperatorView>,
    /// Outbox counts, once known.
    pub outbox: Option<OutboxCounts>,
    /// The last message, sanitised.
    pub message: Option<(Level, String)>,
    /// The database is unreachable (with the reason, sanitised).
    pub db_down: Option<String>,
    /// When the status was last refreshed.
    pub refreshed_at: Option<DateTime<Utc>>,
}

/// The console's state.
#[derive(Debug)]
pub struct App {
    /// Settings it needs.
    pub config: UiConfig,
    /// Effective key bindings.
    pub keymap: Keymap,
    /// Styles by role.
    pub theme: Theme,
    /// Terminal size (columns, rows).
    pub size: (u16, u16),
    /// Now, as of the last tick.
    pub now: DateTime<Utc>,
    /// Focus on the main screen.
    pub focus: Focus,
    /// What fills a narrow terminal.
    pub screen: Screen,
    /// The search box.
    pub search: Input,
    /// The kind filter.
    pub kind: KindFilter,
    /// The list.
    pub list: ListState,
    /// The profile.
    pub profile: ProfilePane,
    /// Open dialogs, the top one last.
    pub dialogs: Vec<super::dialogs::Dialog>,
    /// The status line.
    pub status: Status,
    /// Spinner frame, advanced by ticks while something runs.
    pub spinner: usize,
    /// Something changed since the last draw.
    pub dirty: bool,
    /// The user asked to quit.
    pub quit: bool,
    /// The last generation of a password check.
    pub check_generation: u64,
    /// The on-call filters.
    pub filters: super::oncall_state::FilterState,
    /// Contacts selected for a bulk action.
    pub selection: crate::desk::filters::IdSet,
    /// The running bulk job.
    pub job: Option<super::oncall_state::JobView>,
    /// The Audit screen, while it is open (it covers the list).
    pub audit: Option<super::audit_state::AuditState>,
    /// The Operators screen, while it is open (it covers the list).
    pub operators: Option<super::operators_state::OperatorsState>,
}

impl App {
    /// Starts a new search for what the box, the kind and the filters ask
    /// (a newer search supersedes an older one).
    pub fn start_search(&mut self) -> Cmd {
        self.list.generation += 1;
        self.list.loading = true;
        self.list.loading_more = None;
        self.dirty = true;
        Cmd::Search {
            generation: self.list.generation,
            query: self.query(None),
            append: false,
        }
    }

    /// The search the box, the kind and the filters ask for, from `after`.
    #[must_use]
    pub fn query(&self, after: Option<crate::desk::Cursor>) -> crate::desk::SearchQuery {
        crate::desk::SearchQuery {
            text: self.search.value().to_owned(),
            kind: self.kind,
            after,
            // The lockout view sorts by when the lock began: one page holds all.
            limit: if self.filters.lockout_view() {
                super::oncall_state::LOCKOUT_PAGE
            } else {
                self.page_rows()
            },
            only: self.filters.set.clone(),
        }
    }

    /// Opens the help screen on the keys of `context`.
    pub fn open_help(&mut self, context: Context) -> Vec<Cmd> {
        self.dialogs
            .push(super::dialogs::Dialog::Help(super::dialogs::Help {
                context,
                scroll: 0,
            }));
        self.dirty = true;
        Vec::new()
    }

    /// Starts loading the profile of `contact_id` (a newer load
    /// supersedes an older one).
    pub fn reload_profile(&mut self, contact_id: i64) -> Cmd {
        self.profile.generation += 1;
        self.profile.contact_id = Some(contact_id);
        self.profile.loading = true;
        self.dirty = true;
        Cmd::LoadProfile {
            generation: self.profile.generation,
            contact_id,
        }
    }

    /// A fresh console at `size`, at time `now`.
    #[must_use]
    pub fn new(
        config: UiConfig,
        keymap: Keymap,
        theme: Theme,
        size: (u16, u16),
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            config,
            keymap,
            theme,
            size,
            now,
            focus: Focus::Search,
            screen: Screen::List,
            search: Input::default(),
            kind: KindFilter::All,
            list: ListState::default(),
            profile: ProfilePane::default(),
            dialogs: Vec::new(),
            status: Status::default(),
            spinner: 0,
            dirty: true,
            quit: false,
            check_generation: 0,
            filters: super::oncall_state::FilterState::default(),
            selection: crate::desk::filters::IdSet::default(),
            job: None,
            audit: None,
            operators: None,
        }
    }

    /// Whether list and profile sit side by side.
    #[must_use]
    pub fn is_wide(&self) -> bool {
        self.size.0 >= WIDE_MIN_COLS
    }

    /// Whether the terminal is below the minimum size.
    #[must_use]
    pub fn too_small(&self) -> bool {
        self.size.0 < MIN_COLS || self.size.1 < MIN_ROWS
    }

    /// Whether the profile is on screen.
    #[must_use]
    pub fn profile_visible(&self) -> bool {
        !self.too_small() && (self.is_wide() || self.screen == Screen::Profile)
    }

    /// Table rows that fit on screen.
    #[must_use]
    pub fn visible_rows(&self) -> usize {
        usize::from(self.size.1.saturating_sub(CHROME_ROWS)).max(1)
    }

    /// Rows a page asks for: the store's page, or on a screen taller than
    /// that, the screen and the prefetch margin and one, so that a new
    /// query's first page does not at once ask for the next (a second
    /// search per key while typing).
    #[must_use]
    pub fn page_rows(&self) -> usize {
        (self.visible_rows() + PREFETCH_ROWS + 1).max(crate::desk::PAGE_SIZE)
    }

    /// Where keys go now.
    #[must_use]
    pub fn context(&self) -> Context {
        if let Some(top) = self.dialogs.last() {
            return top.context();
        }
        if let Some(operators) = &self.operators {
            return if operators.form.is_some() {
                Context::OperatorForm
            } else {
                Context::Operators
            };
        }
        if let Some(audit) = &self.audit {
            return if audit.typing {
                Context::AuditSearch
            } else {
                Context::Audit
            };
        }
        if !self.is_wide() && self.screen == Screen::Profile {
            return Context::Profile;
        }
        match self.focus {
            Focus::Search => Context::Search,
            Focus::List => Context::List,
        }
    }

    /// The contact actions apply to: the selected one (or the open profile).
    #[must_use]
    pub fn target(&self) -> Option<Target> {
        if let Some(view) = &self.profile.view
            && Some(view.target.contact_id) == self.list.selected_row().map(|r| r.id)
        {
            return Some(view.target.clone());
        }
        self.list.selected_row().map(Row::target)
    }

    /// The loaded profile of the target, if it is loaded.
    #[must_use]
    pub fn target_profile(&self) -> Option<&ProfileView> {
        let id = self.list.selected_row()?.id;
        self.profile
            .view
            .as_ref()
            .filter(|v| v.target.contact_id == id)
    }

    /// The loaded profile of `contact_id`, if it is the one loaded (it
    /// may be old when the profile is not on screen: nothing refreshes it).
    #[must_use]
    pub fn profile_of(&self, contact_id: i64) -> Option<&ProfileView> {
        self.profile
            .view
            .as_ref()
            .filter(|v| v.target.contact_id == contact_id)
    }

    /// Whether a task the user waits for is running (drives the spinner).
    #[must_use]
    pub fn busy(&self) -> bool {
        self.list.loading
            || self.profile.loading
            || self.audit.as_ref().is_some_and(|a| a.loading)
            || self
                .operators
                .as_ref()
                .is_some_and(|o| o.loading || o.running)
            || self.job.is_some()
            || self.dialogs.iter().any(super::dialogs::Dialog::running)
    }

    /// "6 hours", "90 minutes": the link lifetime in words.
    #[must_use]
    pub fn link_ttl_text(&self) -> String {
        duration_words(self.config.link_ttl)
    }

    /// "3 days": how long an unused temporary password works, in words.
    #[must_use]
    pub fn temporary_ttl_text(&self) -> String {
        duration_words(self.config.temporary_ttl)
    }

    /// Sets the status message (sanitised).
    pub fn say(&mut self, level: Level, text: &str) {
        self.status.message = Some((level, clean(text)));
        self.dirty = true;
    }
}

/// A duration in words as the confirmation text uses it.
#[must_use]
pub fn duration_words(d: Duration) -> String {
    let secs = d.as_secs();
    let plural = |n: u64, unit: &str| {
        if n == 1 {
            format!("1 {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    if secs >= 86_400 && secs.is_multiple_of(86_400) {
        plural(secs / 86_400, "day")
    } else if secs >= 3600 && secs.is_multiple_of(3600) {
        plural(secs / 3600, "hour")
    } else if secs >= 60 && secs.is_multiple_of(60) {
        plural(secs / 60, "minute")
    } else {
        plural(secs, "second")
    }
}
