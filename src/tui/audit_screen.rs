//! The Audit screen's update steps: open and close it, type in its filter
//! box, move, open the contact of a row, take loaded rows in and ask for
//! the newer ones every refresh. Which rows an operator may see is desk's
//! rule (`Desk::audit`); this only shows what desk returns.

use ratatui::crossterm::event::{Event, KeyEvent};
use tui_input::backend::crossterm::to_input_request;
use tui_input::{Input, InputRequest};

use super::app::{App, Focus, Level, Screen};
use super::audit_state::{AUDIT_CHROME_ROWS, AUDIT_PAGE, AuditRow, AuditState};
use super::keymap::{Command, Context, KeySpec};
use super::msg::{Cmd, TaskError};
use super::sanitize::clean;
use crate::desk::KindFilter;
use crate::desk::audit::AuditEntry;

/// Rows kept while new ones arrive live (older ones drop off the end).
const MAX_ROWS: usize = 5 * AUDIT_PAGE;

/// Opens the Audit screen and loads the newest rows.
pub fn open(app: &mut App) -> Vec<Cmd> {
    app.operators = None;
    app.audit = Some(AuditState::default());
    reload(app)
}

/// A new list for what the filter box says (older answers are dropped).
fn reload(app: &mut App) -> Vec<Cmd> {
    let Some(audit) = app.audit.as_mut() else {
        return Vec::new();
    };
    audit.generation += 1;
    audit.loading = true;
    audit.refreshing = false;
    app.dirty = true;
    vec![Cmd::LoadAudit {
        generation: audit.generation,
        filter: audit.query(),
    }]
}

/// Table rows that fit on screen.
#[must_use]
pub fn visible_rows(app: &App) -> usize {
    usize::from(app.size.1.saturating_sub(AUDIT_CHROME_ROWS)).max(1)
}

/// A key while the Audit screen is open (and no dialog is).
pub fn on_key(
    app: &mut App,
    context: Context,
    key: KeyEvent,
    command: Option<Command>,
) -> Vec<Cmd> {
    app.dirty = true;
    if context == Context::AuditSearch {
        return on_filter_key(app, key, command);
    }
    let page = visible_rows(app);
    let selected = app.audit.as_ref().map_or(0, |a| a.selected);
    match command {
        Some(Command::Search) => {
            if let Some(audit) = app.audit.as_mut() {
                audit.typing = true;
            }
            Vec::new()
        }
        Some(Command::Up) => select(app, selected.saturating_sub(1)),
        Some(Command::Down) => select(app, selected.saturating_add(1)),
        Some(Command::PageUp) => select(app, selected.saturating_sub(page)),
        Some(Command::PageDown) => select(app, selected.saturating_add(page)),
        Some(Command::Top) => select(app, 0),
        Some(Command::Bottom) => select(app, usize::MAX),
        Some(Command::Open) => open_contact(app),
        Some(Command::Back) => {
            app.audit = None;
            Vec::new()
        }
        Some(Command::Help) => app.open_help(Context::Audit),
        _ => Vec::new(),
    }
}

fn on_filter_key(app: &mut App, key: KeyEvent, command: Option<Command>) -> Vec<Cmd> {
    let Some(audit) = app.audit.as_mut() else {
        return Vec::new();
    };
    if matches!(command, Some(Command::Back | Command::Open)) {
        // The filter stays; the keys go back to the table.
        audit.typing = false;
        return Vec::new();
    }
    let spec = KeySpec::from_event(&key);
    if audit.filter.value().is_empty() && app.keymap.keys(Command::Search).contains(&spec) {
        // As in the contacts' search box: `/` in an empty box is no slash.
        return Vec::new();
    }
    match to_input_request(&Event::Key(key)) {
        Some(request) => edit_filter(app, request),
        None => Vec::new(),
    }
}

fn edit_filter(app: &mut App, request: InputRequest) -> Vec<Cmd> {
    let Some(audit) = app.audit.as_mut() else {
        return Vec::new();
    };
    let before = audit.query();
    audit.filter.handle(request);
    // A space or a half-typed `op:` asks desk nothing new.
    if audit.query() == before {
        return Vec::new();
    }
    reload(app)
}

/// Pasted text (one clean line) into the filter box.
pub fn paste(app: &mut App, line: &str) -> Vec<Cmd> {
    let Some(audit) = app.audit.as_mut() else {
        return Vec::new();
    };
    for c in line.chars() {
        audit.filter.handle(InputRequest::InsertChar(c));
    }
    reload(app)
}

fn select(app: &mut App, index: usize) -> Vec<Cmd> {
    let visible = visible_rows(app);
    if let Some(audit) = app.audit.as_mut() {
        audit.selected = index.min(audit.rows.len().saturating_sub(1));
        keep_visible(audit, visible);
    }
    Vec::new()
}

/// Scrolls so the selected row is on screen (after a move or a resize).
pub fn keep_selection_visible(app: &mut App) {
    let visible = visible_rows(app);
    if let Some(audit) = app.audit.as_mut() {
        keep_visible(audit, visible);
    }
}

fn keep_visible(audit: &mut AuditState, visible: usize) {
    if audit.selected < audit.offset {
        audit.offset = audit.selected;
    } else if audit.selected >= audit.offset + visible {
        audit.offset = audit.selected + 1 - visible;
    }
    audit.offset = audit.offset.min(audit.rows.len().saturating_sub(visible));
}

/// Enter on a row: the contact it concerns, selected in the list with its
/// profile shown. The search is set to its email and the kind and filters
/// are cleared, so the list holds it.
fn open_contact(app: &mut App) -> Vec<Cmd> {
    let Some(row) = app.audit.as_ref().and_then(AuditState::selected_row) else {
        app.say(Level::Info, "No audit row selected");
        return Vec::new();
    };
    let (Some(id), Some(email)) = (row.contact_id, row.contact.clone()) else {
        app.say(Level::Info, "This row concerns no contact");
        return Vec::new();
    };
    app.audit = None;
    app.search = Input::new(email.clone());
    app.kind = KindFilter::All;
    app.focus = Focus::List;
    app.list.want = Some(id);
    if !app.filters.active.is_empty() {
        // A filter could hide the contact; its answer, if on its way, is dropped.
        app.filters.active.clear();
        app.filters.generation += 1;
        app.filters.set = None;
        app.filters.loading = false;
        app.filters.lockouts.clear();
    }
    if !app.is_wide() {
        app.screen = Screen::Profile;
        app.profile.scroll = 0;
    }
    app.say(Level::Info, &format!("{email}, from the audit log"));
    vec![app.start_search(), app.reload_profile(id)]
}

/// Rows arrived: a new list, or the rows newer than those shown.
pub fn on_loaded(
    app: &mut App,
    generation: u64,
    newer: bool,
    result: Result<Vec<AuditEntry>, TaskError>,
) -> Vec<Cmd> {
    let visible = visible_rows(app);
    let Some(audit) = app.audit.as_mut() else {
        return Vec::new();
    };
    if generation != audit.generation {
        // An answer to an older filter never overwrites a newer one.
        return Vec::new();
    }
    audit.loading = false;
    audit.refreshing = false;
    app.dirty = true;
    let entries = match result {
        Ok(entries) => entries,
        Err(err) => {
            let text = match &err {
                TaskError::Unavailable(reason) => {
                    app.status.db_down = Some(clean(reason));
                    format!("The database is unreachable: {reason}")
                }
                TaskError::Other(text) => text.clone(),
            };
            audit.error = Some(clean(&text));
            return Vec::new();
        }
    };
    audit.error = None;
    let rows: Vec<AuditRow> = entries.iter().map(AuditRow::from_desk).collect();
    // A full page of newer rows may not be all of them: rather than leave
    // a hole between them and the rows shown, show the newest page alone.
    if !newer || rows.len() >= AUDIT_PAGE {
        audit.rows = rows;
        audit.selected = 0;
        audit.offset = 0;
        return Vec::new();
    }
    if rows.is_empty() {
        return Vec::new();
    }
    let added = rows.len();
    // Someone at the top watches new rows come in; anyone further down
    // keeps the row they are reading.
    if audit.selected > 0 {
        audit.selected += added;
        audit.offset += added;
    }
    let mut merged = rows;
    merged.append(&mut audit.rows);
    merged.truncate(MAX_ROWS);
    audit.rows = merged;
    audit.selected = audit.selected.min(audit.rows.len().saturating_sub(1));
    keep_visible(audit, visible);
    Vec::new()
}

/// The periodic refresh: rows newer than the newest shown (or the list
/// again after a failure).
pub fn on_tick(app: &mut App) -> Option<Cmd> {
    let audit = app.audit.as_mut()?;
    if audit.loading || audit.refreshing {
        return None;
    }
    let mut filter = audit.query();
    match audit.rows.first() {
        Some(newest) if audit.error.is_none() => filter.after_id = Some(newest.id),
        // Nothing shown yet, or a failure: the whole list again.
        _ => audit.generation += 1,
    }
    audit.refreshing = true;
    Some(Cmd::LoadAudit {
        generation: audit.generation,
        filter,
    })
}
