//! `update(&mut App, Msg) -> Vec<Cmd>`: the only place the state changes.
//! Pure: no I/O, no clock, no randomness; everything slow is a [`Cmd`]
//! whose result comes back as a [`Msg`]. Tested as plain functions.

use chrono::{DateTime, Utc};
use ratatui::crossterm::event::{Event, KeyEvent, KeyEventKind};
use tui_input::InputRequest;
use tui_input::backend::crossterm::to_input_request;

use super::app::{App, Focus, Level, PREFETCH_ROWS, ProfileView, Row, Screen};
use super::dialog_keys;
use super::dialogs::{Confirm, CpField, Dialog, Disabled, Menu, Notice, availability};
use super::keymap::{Command, Context, KeySpec};
use super::msg::{Cmd, Msg, TaskError};
use super::oncall;
use super::sanitize::clean;
use crate::desk::{Action, SearchPage};

/// How often the status line (outbox counts) and the open profile refresh.
pub const REFRESH_SECS: i64 = 5;

/// The commands to run when the console opens: the first search and the
/// status.
pub fn init(app: &mut App) -> Vec<Cmd> {
    let mut cmds = vec![app.start_search()];
    cmds.push(Cmd::RefreshStatus);
    app.status.refreshed_at = Some(app.now);
    cmds
}

/// Applies one message; returns the work to start.
pub fn update(app: &mut App, msg: Msg) -> Vec<Cmd> {
    match msg {
        Msg::Key(key) => on_key(app, key),
        Msg::Paste(text) => on_paste(app, &text),
        Msg::Resize(w, h) => {
            app.size = (w, h);
            app.dirty = true;
            keep_selection_visible(app);
            super::audit_screen::keep_selection_visible(app);
            let mut cmds = Vec::new();
            cmds.extend(load_profile_if_visible(app));
            cmds.extend(maybe_prefetch(app));
            cmds
        }
        Msg::Tick(now) => on_tick(app, now),
        Msg::SearchDone {
            generation,
            append,
            result,
        } => on_search_done(app, generation, append, result),
        Msg::ProfileLoaded { generation, result } => {
            if generation != app.profile.generation {
                return Vec::new();
            }
            app.profile.loading = false;
            app.dirty = true;
            match result {
                Ok(profile) => {
                    let view = ProfileView::from_desk(&profile);
                    if app.profile.view.as_ref().map(|v| v.target.contact_id)
                        != Some(view.target.contact_id)
                    {
                        app.profile.scroll = 0;
                    }
                    let id = view.target.contact_id;
                    app.profile.view = Some(view);
                    app.profile.error = None;
                    db_is_back(app);
                    super::profile_keys::profile_arrived(app, id, Ok(()));
                }
                Err(err) => {
                    task_failed(app, &err, |app, text| app.profile.error = Some(text));
                    if let Some(id) = app.profile.contact_id {
                        let text = clean(match &err {
                            TaskError::Unavailable(t) | TaskError::Other(t) => t,
                        });
                        super::profile_keys::profile_arrived(app, id, Err(&text));
                    }
                }
            }
            Vec::new()
        }
        Msg::ActionDone {
            contact_id,
            action,
            outcome,
        } => super::update_actions::on_action_done(app, contact_id, action, outcome),
        Msg::PasswordGenerated(Err(reason)) => {
            app.say(
                Level::Error,
                &format!("Could not generate a password: {reason}"),
            );
            Vec::new()
        }
        Msg::PasswordGenerated(Ok(secret)) => {
            if let Some(Dialog::ChangePassword(cp)) = app.dialogs.last_mut() {
                cp.input = tui_input::Input::new(secret.expose().to_owned());
                cp.generated = true;
                cp.require_change = true;
                // A generated password is shown so the agent can read it out.
                cp.show = true;
                cp.focus = CpField::Password;
                app.dirty = true;
                return dialog_keys::password_changed(app);
            }
            Vec::new()
        }
        Msg::PolicyChecked {
            generation,
            feedback,
        } => {
            if let Some(Dialog::ChangePassword(cp)) = app.dialogs.last_mut()
                && cp.generation == generation
            {
                cp.feedback = Some(feedback);
                app.dirty = true;
            }
            Vec::new()
        }
        Msg::StatusLoaded(result) => {
            app.dirty = true;
            match result {
                Ok(counts) => {
                    app.status.outbox = Some(counts);
                    db_is_back(app)
                }
                Err(err) => {
                    task_failed(app, &err, |_, _| {});
                    Vec::new()
                }
            }
        }
        Msg::OperatorResolved(result) => {
            app.dirty = true;
            match result {
                Ok(op) => {
                    app.status.operator = Some(super::msg::OperatorView {
                        name: clean(&op.name),
                        role: op.role,
                    });
                }
                Err(err) => task_failed(app, &err, |app, text| app.say(Level::Error, &text)),
            }
            Vec::new()
        }
        Msg::PickerOffersLoaded { contact_id, result } => {
            super::profile_keys::offers_loaded(app, contact_id, result)
        }
        Msg::Pinged(result) => match result {
            Ok(()) => db_is_back(app),
            Err(err) => {
                task_failed(app, &err, |_, _| {});
                Vec::new()
            }
        },
        Msg::FilterSetLoaded { generation, result } => {
            oncall::on_filter_set(app, generation, result)
        }
        Msg::OffersLoaded(result) => {
            if let Ok(offers) = result {
                app.filters.offers = offers
                    .into_iter()
                    .map(|o| crate::desk::filters::OfferChoice {
                        name: clean(&o.name),
                        ..o
                    })
                    .collect();
                app.dirty = true;
            }
            Vec::new()
        }
        Msg::LockoutsLoaded(result) => {
            oncall::on_lockouts(app, result);
            Vec::new()
        }
        Msg::AllMatching(result) => {
            oncall::on_all_matching(app, result);
            Vec::new()
        }
        Msg::BulkPlanned(result) => {
            oncall::on_planned(app, result);
            Vec::new()
        }
        Msg::BulkStarted(id) => {
            if let Some(job) = &mut app.job {
                job.job_id = Some(id);
                app.dirty = true;
            }
            Vec::new()
        }
        Msg::BulkProgress(progress) => {
            if let Some(job) = &mut app.job {
                job.progress = progress;
                app.dirty = true;
            }
            Vec::new()
        }
        Msg::BulkDone(result) => oncall::on_done(app, result),
        Msg::OperatorsLoaded { generation, result } => {
            super::operators_screen::on_loaded(app, generation, result)
        }
        Msg::OperatorChanged(result) => super::operators_screen::on_changed(app, result),
        Msg::AuditLoaded {
            generation,
            newer,
            result,
        } => super::audit_screen::on_loaded(app, generation, newer, result),
    }
}

fn on_key(app: &mut App, key: KeyEvent) -> Vec<Cmd> {
    if !matches!(key.kind, KeyEventKind::Press | KeyEventKind::Repeat) {
        return Vec::new();
    }
    let context = app.context();
    let command = app.keymap.lookup(context, KeySpec::from_event(&key));
    if command == Some(Command::Quit) {
        app.quit = true;
        return Vec::new();
    }
    if app.too_small() && app.dialogs.is_empty() {
        // Nothing to act on that the user can see; only quitting works.
        return Vec::new();
    }
    if !app.dialogs.is_empty() {
        return dialog_keys::on_key(app, key, command);
    }
    // One screen to the other: both step files stay free of each other.
    match (context, command) {
        (Context::Operators, Some(Command::Audit)) => return super::audit_screen::open(app),
        (Context::Audit, Some(Command::Operators)) => return super::operators_screen::open(app),
        _ => {}
    }
    if app.operators.is_some() {
        return super::operators_screen::on_key(app, context, key, command);
    }
    if app.audit.is_some() {
        return super::audit_screen::on_key(app, context, key, command);
    }
    if context == Context::Search {
        let spec = KeySpec::from_event(&key);
        if app.search.value().is_empty() && app.keymap.keys(Command::Search).contains(&spec) {
            // The search key pressed in an empty box (a new user pressing `/`
            // first, as the README says) means "search", never a slash.
            return Vec::new();
        }
        let typed = match command {
            // These leave the box or move in the list even while typing.
            Some(
                Command::Back
                | Command::Open
                | Command::Up
                | Command::Down
                | Command::PageUp
                | Command::PageDown
                | Command::KindFilter,
            ) => None,
            _ => to_input_request(&Event::Key(key)),
        };
        if let Some(request) = typed {
            return edit_search(app, request);
        }
    }
    match command {
        Some(c) => on_command(app, context, c),
        None => Vec::new(),
    }
}

fn edit_search(app: &mut App, request: InputRequest) -> Vec<Cmd> {
    match app.search.handle(request) {
        Some(changed) if changed.value => {
            app.dirty = true;
            vec![app.start_search()]
        }
        Some(_) => {
            app.dirty = true;
            Vec::new()
        }
        None => Vec::new(),
    }
}

fn on_command(app: &mut App, context: Context, command: Command) -> Vec<Cmd> {
    app.dirty = true;
    let page = app.visible_rows();
    let profile_page = i32::try_from(page).unwrap_or(i32::MAX / 2);
    let in_profile = context == Context::Profile;
    match command {
        Command::Quit => {
            app.quit = true;
            Vec::new()
        }
        Command::Search => {
            app.focus = Focus::Search;
            app.screen = Screen::List;
            Vec::new()
        }
        Command::Up if in_profile => scroll_profile(app, -1),
        Command::Down if in_profile => scroll_profile(app, 1),
        Command::PageUp if in_profile => scroll_profile(app, -profile_page),
        Command::PageDown if in_profile => scroll_profile(app, profile_page),
        Command::Top if in_profile => scroll_profile(app, i32::MIN / 2),
        Command::Bottom if in_profile => scroll_profile(app, i32::MAX / 2),
        Command::Up => select(app, app.list.selected.saturating_sub(1)),
        Command::Down => select(app, app.list.selected.saturating_add(1)),
        Command::PageUp => select(app, app.list.selected.saturating_sub(page)),
        Command::PageDown => select(app, app.list.selected.saturating_add(page)),
        Command::Top => select(app, 0),
        Command::Bottom => select(app, app.list.rows.len().saturating_sub(1)),
        Command::Open => {
            app.focus = Focus::List;
            if !app.is_wide() && app.list.selected_row().is_some() {
                app.screen = Screen::Profile;
                app.profile.scroll = 0;
            }
            load_profile_if_visible(app).into_iter().collect()
        }
        Command::Back if context == Context::List && !app.selection.is_empty() => {
            app.selection = crate::desk::filters::IdSet::default();
            app.say(Level::Info, "Selection cleared");
            Vec::new()
        }
        Command::Back => {
            match context {
                Context::Search => app.focus = Focus::List,
                Context::Profile => app.screen = Screen::List,
                _ => app.status.message = None,
            }
            Vec::new()
        }
        Command::KindFilter => {
            app.kind = app.kind.next();
            vec![app.start_search()]
        }
        Command::Help => app.open_help(context),
        Command::Act(Action::SendResetLink) if !app.selection.is_empty() => {
            oncall::plan(app, crate::desk::bulk::BulkAction::ResetPassword)
        }
        Command::MoreActions if !app.selection.is_empty() => {
            oncall::open_bulk_menu(app);
            Vec::new()
        }
        Command::Filters => oncall::open_filters(app),
        Command::ClearFilters => oncall::clear_filters(app),
        Command::Select => {
            oncall::toggle_selected(app);
            keep_selection_visible(app);
            load_profile_if_visible(app).into_iter().collect()
        }
        Command::SelectAll => oncall::select_all(app),
        Command::CancelJob => oncall::cancel_job(app),
        Command::Audit => super::audit_screen::open(app),
        Command::Operators => super::operators_screen::open(app),
        Command::Act(Action::SendResetLink) => {
            let Some(target) = app.target() else {
                app.say(Level::Info, "No contact selected");
                return Vec::new();
            };
            match availability(
                app.status.operator.as_ref(),
                Command::Act(Action::SendResetLink),
                &target,
                app.target_profile(),
                app.now,
            ) {
                Some(Disabled::NotACustomer) => {
                    app.dialogs.push(Dialog::Notice(Notice::NotACustomer {
                        target,
                        asked: "Reset Password",
                    }));
                }
                Some(Disabled::Reason(reason)) => {
                    app.dialogs.push(Dialog::Notice(Notice::Message {
                        level: Level::Warning,
                        title: "Reset Password".into(),
                        text: format!("Not available: {reason}."),
                    }));
                }
                None => {
                    let ttl = app.link_ttl_text();
                    app.dialogs
                        .push(Dialog::Confirm(Confirm::reset(target, &ttl, false)));
                }
            }
            Vec::new()
        }
        Command::Act(Action::EditContact) => super::profile_keys::open_edit(app),
        Command::Notes => super::profile_keys::open_notes(app),
        Command::MoreActions => {
            match app.target() {
                Some(target) => {
                    let menu = Menu::new(
                        target,
                        app.status.operator.as_ref(),
                        app.target_profile(),
                        app.now,
                    );
                    app.dialogs.push(Dialog::Menu(menu));
                }
                None => app.say(Level::Info, "No contact selected"),
            }
            Vec::new()
        }
        _ => Vec::new(),
    }
}

fn scroll_profile(app: &mut App, by: i32) -> Vec<Cmd> {
    let now = i32::from(app.profile.scroll);
    app.profile.scroll = u16::try_from(now.saturating_add(by).clamp(0, 500)).unwrap_or(0);
    Vec::new()
}

/// Moves the selection (clamped); loads the profile and further pages as needed.
fn select(app: &mut App, index: usize) -> Vec<Cmd> {
    let last = app.list.rows.len().saturating_sub(1);
    let index = index.min(last);
    let changed = index != app.list.selected;
    app.list.selected = index;
    keep_selection_visible(app);
    let mut cmds = Vec::new();
    if changed {
        cmds.extend(load_profile_if_visible(app));
    }
    cmds.extend(maybe_prefetch(app));
    cmds
}

fn keep_selection_visible(app: &mut App) {
    let visible = app.visible_rows();
    let list = &mut app.list;
    if list.selected < list.offset {
        list.offset = list.selected;
    } else if list.selected >= list.offset + visible {
        list.offset = list.selected + 1 - visible;
    }
    // After a resize or a shorter result, do not leave blank rows below.
    let max_offset = list.rows.len().saturating_sub(visible);
    list.offset = list.offset.min(max_offset);
}

/// Asks for the next page when the selection nears the end of what is loaded.
fn maybe_prefetch(app: &mut App) -> Option<Cmd> {
    let list = &app.list;
    let next = list.next.clone()?;
    if list.loading || list.loading_more.is_some() {
        return None;
    }
    if list.selected + app.visible_rows() + PREFETCH_ROWS < list.rows.len() {
        return None;
    }
    app.list.loading_more = Some(next.clone());
    Some(Cmd::Search {
        generation: app.list.generation,
        query: app.query(Some(next)),
        append: true,
    })
}

fn load_profile_if_visible(app: &mut App) -> Option<Cmd> {
    if !app.profile_visible() {
        return None;
    }
    let id = app.list.selected_row()?.id;
    if app.profile.contact_id == Some(id) && (app.profile.loading || app.profile.view.is_some()) {
        return None;
    }
    Some(app.reload_profile(id))
}

fn on_search_done(
    app: &mut App,
    generation: u64,
    append: bool,
    result: Result<SearchPage, TaskError>,
) -> Vec<Cmd> {
    if generation != app.list.generation {
        // An older answer never overwrites a newer one.
        return Vec::new();
    }
    app.dirty = true;
    let page = match result {
        Ok(page) => page,
        Err(err) => {
            app.list.stale |= !append;
            app.list.loading = false;
            app.list.loading_more = None;
            task_failed(app, &err, |app, text| app.list.error = Some(text));
            return Vec::new();
        }
    };
    let mut cmds = db_is_back(app);
    let rows = page.rows.iter().map(Row::from_store);
    if append {
        app.list.rows.extend(rows);
        app.list.loading_more = None;
    } else {
        let keep = app
            .list
            .want
            .take()
            .or_else(|| app.list.selected_row().map(|r| r.id));
        app.list.rows = rows.collect();
        app.list.selected = keep
            .and_then(|id| app.list.rows.iter().position(|r| r.id == id))
            .unwrap_or(0);
        app.list.loading = false;
        app.list.total = Some(page.total);
    }
    app.list.next = page.next;
    app.list.error = None;
    if !append {
        app.list.stale = false;
    }
    keep_selection_visible(app);
    if !append {
        let shown = app.profile.contact_id;
        let selected = app.list.selected_row().map(|r| r.id);
        if selected.is_none() {
            app.profile.contact_id = None;
            app.profile.view = None;
            if app.screen == Screen::Profile {
                app.screen = Screen::List;
            }
        } else if selected != shown {
            cmds.extend(load_profile_if_visible(app));
        }
    }
    cmds.extend(maybe_prefetch(app));
    cmds.extend(oncall::after_search(app));
    cmds
}

fn on_tick(app: &mut App, now: DateTime<Utc>) -> Vec<Cmd> {
    let minute_changed = now.timestamp() / 60 != app.now.timestamp() / 60;
    app.now = now;
    if app.busy() {
        app.spinner = app.spinner.wrapping_add(1);
        app.dirty = true;
    }
    if minute_changed {
        // "time left" and "retrying in" texts change by the minute.
        app.dirty = true;
    }
    let due = app
        .status
        .refreshed_at
        .is_none_or(|at| (now - at).num_seconds() >= REFRESH_SECS);
    if !due {
        return Vec::new();
    }
    app.status.refreshed_at = Some(now);
    if app.status.db_down.is_some() {
        return vec![Cmd::Ping];
    }
    let mut cmds = vec![Cmd::RefreshStatus];
    cmds.extend(super::audit_screen::on_tick(app));
    // The filters' sets follow the store (a new lock, a link used).
    if !app.filters.active.is_empty() && !app.filters.loading {
        app.filters.loading = true;
        cmds.push(Cmd::LoadFilterSet {
            generation: app.filters.generation,
            filters: app.filters.active.clone(),
        });
    }
    // Keep the open profile current (mail delivery, links expiring), but
    // never start a reload while one is on its way.
    if app.profile_visible()
        && !app.profile.loading
        && let Some(id) = app.profile.contact_id
    {
        cmds.push(app.reload_profile(id));
    }
    cmds
}

/// Records a task failure: an unreachable database is shown in the status
/// line (what is on screen stays); anything else goes to `other`.
fn task_failed(app: &mut App, err: &TaskError, other: impl FnOnce(&mut App, String)) {
    app.dirty = true;
    match err {
        TaskError::Unavailable(reason) => {
            app.status.db_down = Some(clean(reason));
        }
        TaskError::Other(text) => other(app, clean(text)),
    }
}

/// The database answered: clear the outage, and redo what it interrupted.
fn db_is_back(app: &mut App) -> Vec<Cmd> {
    if app.status.db_down.take().is_none() {
        return Vec::new();
    }
    app.say(Level::Success, "The database is reachable again");
    let mut cmds = Vec::new();
    if app.list.stale || app.list.error.is_some() || app.list.loading || app.list.rows.is_empty() {
        cmds.push(app.start_search());
    }
    if let Some(id) = app.profile.contact_id
        && app.profile_visible()
    {
        cmds.push(app.reload_profile(id));
    }
    cmds
}

fn on_paste(app: &mut App, text: &str) -> Vec<Cmd> {
    // A note takes a paste of several lines (controls dropped, at most
    // the note's length).
    if let Some(Dialog::Notes(n)) = app.dialogs.last_mut()
        && n.focus == super::note_editor::NoteField::Text
        && !n.running
    {
        n.paste(text);
        app.dirty = true;
        return Vec::new();
    }
    // A public key may come as a file's lines (a comment, a wrapped key).
    if app.dialogs.is_empty() && app.context() == Context::OperatorForm {
        return super::operators_screen::paste(app, text);
    }
    // A paste is typed text: one line, no control characters.
    let line = super::sanitize::pasted_line(text);
    let line = line.as_str();
    if line.is_empty() {
        return Vec::new();
    }
    let context = app.context();
    match app.dialogs.last_mut() {
        Some(Dialog::ChangePassword(cp)) if cp.focus == CpField::Password && !cp.running => {
            for c in line.chars() {
                cp.input.handle(InputRequest::InsertChar(c));
            }
            app.dirty = true;
            dialog_keys::password_changed(app)
        }
        Some(_) => Vec::new(),
        None if context == Context::AuditSearch => super::audit_screen::paste(app, line),
        None if context == Context::Search => {
            for c in line.chars() {
                app.search.handle(InputRequest::InsertChar(c));
            }
            app.dirty = true;
            vec![app.start_search()]
        }
        None => Vec::new(),
    }
}
