//! The console's on-call parts: filters beside the search (and the lockout
//! view they open), the selection, and bulk actions run as a background
//! job. State, and the `update` steps for them; pure like `update`, which
//! routes here. Desk decides everything: who is skipped and why, the
//! roles, each contact's transaction; the console shows and asks.

use std::collections::HashMap;
use std::sync::Arc;

use tui_input::{Input, InputRequest};

use super::app::{App, Level};
use super::dialogs::Dialog;
use super::keymap::Command;
use super::msg::{Cmd, TaskError};
use super::oncall_state::{
    BulkConfirm, BulkMenu, FilterMenu, JobView, bulk_command, skipped_words,
};
use super::sanitize::clean;
use crate::desk::SearchQuery;
use crate::desk::bulk::{BulkAction, BulkPlan, BulkProgress, BulkSummary};
use crate::desk::filters::{Filter, IdSet, Lockout};

/// Opens the filter menu (and asks for the offers the first time).
pub fn open_filters(app: &mut App) -> Vec<Cmd> {
    app.dialogs.push(Dialog::Filters(FilterMenu::default()));
    if app.filters.offers.is_empty() {
        vec![Cmd::LoadOffers]
    } else {
        Vec::new()
    }
}

/// A key on the filter menu.
pub fn filter_menu_key(
    app: &mut App,
    request: Option<InputRequest>,
    command: Option<Command>,
) -> Vec<Cmd> {
    let Some(Dialog::Filters(menu)) = app.dialogs.last_mut() else {
        return Vec::new();
    };
    let count = menu.items(&app.filters).len().max(1);
    match command {
        Some(Command::Back) => {
            app.dialogs.pop();
            Vec::new()
        }
        Some(Command::Down) => {
            menu.selected = (menu.selected + 1) % count;
            Vec::new()
        }
        Some(Command::Up) => {
            menu.selected = (menu.selected + count - 1) % count;
            Vec::new()
        }
        Some(Command::Open) => {
            let Some(filter) = menu.items(&app.filters).get(menu.selected).copied() else {
                return Vec::new();
            };
            toggle_filter(app, filter)
        }
        _ => {
            if let Some(request) = request
                && menu.query.handle(request).is_some_and(|r| r.value)
            {
                // Typing finds an offer: highlight the first one found.
                menu.selected = Filter::FIXED.len();
            }
            Vec::new()
        }
    }
}

/// Turns a filter on or off and asks for the new set.
pub fn toggle_filter(app: &mut App, filter: Filter) -> Vec<Cmd> {
    if let Some(at) = app.filters.active.iter().position(|f| *f == filter) {
        app.filters.active.remove(at);
    } else {
        app.filters.active.push(filter);
    }
    reload_filters(app)
}

/// Clears every filter.
pub fn clear_filters(app: &mut App) -> Vec<Cmd> {
    if app.filters.active.is_empty() {
        app.say(Level::Info, "No filter is on");
        return Vec::new();
    }
    app.filters.active.clear();
    reload_filters(app)
}

/// Asks for the set the active filters admit; with none, searches at once.
pub fn reload_filters(app: &mut App) -> Vec<Cmd> {
    app.filters.generation += 1;
    app.dirty = true;
    if app.filters.active.is_empty() {
        app.filters.set = None;
        app.filters.loading = false;
        app.filters.lockouts.clear();
        return vec![app.start_search()];
    }
    app.filters.loading = true;
    vec![Cmd::LoadFilterSet {
        generation: app.filters.generation,
        filters: app.filters.active.clone(),
    }]
}

/// The set arrived: search again within it.
pub fn on_filter_set(
    app: &mut App,
    generation: u64,
    result: Result<Option<IdSet>, TaskError>,
) -> Vec<Cmd> {
    if generation != app.filters.generation {
        return Vec::new();
    }
    app.filters.loading = false;
    app.dirty = true;
    match result {
        Ok(set) => {
            let set = set.map(Arc::new);
            // A refresh that changed nothing does not search again.
            if set == app.filters.set && !app.list.loading {
                return Vec::new();
            }
            app.filters.set = set;
            vec![app.start_search()]
        }
        Err(err) => {
            app.say(Level::Error, &format!("Filters: {}", task_text(&err)));
            Vec::new()
        }
    }
}

/// After a new page: the lockout view needs its facts.
pub fn after_search(app: &App) -> Option<Cmd> {
    if !app.filters.lockout_view() || app.list.rows.is_empty() {
        return None;
    }
    Some(Cmd::LoadLockouts(
        app.list.rows.iter().map(|r| r.id).collect(),
    ))
}

/// The lockout facts arrived: newest lock first.
pub fn on_lockouts<S: std::hash::BuildHasher>(
    app: &mut App,
    result: Result<HashMap<i64, Lockout, S>, TaskError>,
) {
    app.dirty = true;
    let Ok(found) = result else { return };
    app.filters.lockouts = found
        .into_iter()
        .map(|(id, l)| {
            let source = clean(&l.source);
            (id, Lockout { source, ..l })
        })
        .collect();
    let keep = app.list.selected_row().map(|r| r.id);
    let lockouts = &app.filters.lockouts;
    app.list
        .rows
        .sort_by_key(|r| std::cmp::Reverse(lockouts.get(&r.id).map(|l| l.began)));
    if let Some(id) = keep {
        app.list.selected = app.list.rows.iter().position(|r| r.id == id).unwrap_or(0);
    }
}

/// Space: the highlighted contact in or out of the selection, then down.
pub fn toggle_selected(app: &mut App) {
    let Some(id) = app.list.selected_row().map(|r| r.id) else {
        return;
    };
    if app.selection.contains(id) {
        app.selection.remove(id);
    } else {
        app.selection.insert(id);
    }
    app.list.selected = (app.list.selected + 1).min(app.list.rows.len().saturating_sub(1));
    app.dirty = true;
}

/// `V`: everything the search and the filters match.
pub fn select_all(app: &mut App) -> Vec<Cmd> {
    app.say(Level::Info, "Selecting every match…");
    vec![Cmd::SelectAll(SearchQuery {
        text: app.search.value().to_owned(),
        kind: app.kind,
        after: None,
        limit: 1000,
        only: app.filters.set.clone(),
    })]
}

/// The matches arrived: they are the selection.
pub fn on_all_matching(app: &mut App, result: Result<Vec<i64>, TaskError>) {
    match result {
        Ok(ids) => {
            app.selection = ids.into_iter().collect();
            let n = app.selection.len();
            app.say(
                Level::Info,
                &format!("{n} selected (every match); Esc clears"),
            );
        }
        Err(err) => app.say(Level::Error, &format!("Select all: {}", task_text(&err))),
    }
}

/// The selected ids, in the order listed where loaded.
#[must_use]
pub fn selected_ids(app: &App) -> Vec<i64> {
    app.selection.iter().collect()
}

/// More Actions with a selection: the bulk actions, each checked against
/// the operator's role (desk checks again).
pub fn open_bulk_menu(app: &mut App) {
    let role = app.status.operator.as_ref().and_then(|o| o.role);
    let items = BulkAction::ALL
        .into_iter()
        .map(|action| {
            let needed = action.action().needed_role();
            let why = match (app.status.operator.as_ref(), role) {
                (Some(_), None) => Some("you are not a keydesk operator".to_owned()),
                (_, Some(role)) if role < needed => {
                    Some(format!("needs the {needed} role (you are {role})"))
                }
                _ => None,
            };
            (action, why)
        })
        .collect::<Vec<_>>();
    let selected = items.iter().position(|(_, why)| why.is_none()).unwrap_or(0);
    app.dialogs.push(Dialog::BulkMenu(BulkMenu {
        count: app.selection.len(),
        items,
        selected,
    }));
}

/// A key on the bulk menu.
pub fn bulk_menu_key(app: &mut App, command: Option<Command>) -> Vec<Cmd> {
    let Some(Dialog::BulkMenu(menu)) = app.dialogs.last_mut() else {
        return Vec::new();
    };
    let n = menu.items.len().max(1);
    let chosen = match command {
        Some(Command::Back) => {
            app.dialogs.pop();
            return Vec::new();
        }
        Some(Command::Down) => {
            menu.selected = (menu.selected + 1) % n;
            return Vec::new();
        }
        Some(Command::Up) => {
            menu.selected = (menu.selected + n - 1) % n;
            return Vec::new();
        }
        Some(Command::Open) => menu.items.get(menu.selected).cloned(),
        Some(c) => menu
            .items
            .iter()
            .find(|(a, _)| bulk_command(*a) == c)
            .cloned(),
        None => None,
    };
    let Some((action, why)) = chosen else {
        return Vec::new();
    };
    app.dialogs.pop();
    if let Some(why) = why {
        app.say(Level::Warning, &format!("Not available: {why}"));
        return Vec::new();
    }
    plan(app, action)
}

/// Asks desk who the action would reach among the selection.
pub fn plan(app: &mut App, action: BulkAction) -> Vec<Cmd> {
    if app.job.is_some() {
        app.say(
            Level::Warning,
            "A bulk action is running; wait for it or cancel it first",
        );
        return Vec::new();
    }
    app.say(
        Level::Info,
        &format!("{}: checking the selection…", action.title()),
    );
    vec![Cmd::PlanBulk {
        action,
        contact_ids: selected_ids(app),
    }]
}

/// Desk's plan arrived: confirm it.
pub fn on_planned(app: &mut App, result: Result<BulkPlan, TaskError>) {
    app.dirty = true;
    match result {
        Ok(plan) if plan.act_on.is_empty() => {
            let why = skipped_words(&plan.skipped);
            app.say(
                Level::Warning,
                &format!("{}: nobody to act on ({why})", plan.action.title()),
            );
        }
        Ok(plan) => {
            let need_typed = plan.act_on.len() > app.config.bulk_confirm_over as usize;
            app.status.message = None;
            app.dialogs.push(Dialog::BulkConfirm(BulkConfirm {
                plan,
                typed: Input::default(),
                need_typed,
                on_confirm: true,
                error: None,
            }));
        }
        Err(err) => app.say(Level::Error, &task_text(&err)),
    }
}

/// A key on the bulk confirmation.
pub fn bulk_confirm_key(
    app: &mut App,
    request: Option<InputRequest>,
    command: Option<Command>,
) -> Vec<Cmd> {
    let Some(Dialog::BulkConfirm(confirm)) = app.dialogs.last_mut() else {
        return Vec::new();
    };
    match command {
        Some(Command::Back) => {
            app.dialogs.pop();
            Vec::new()
        }
        Some(Command::NextField | Command::PrevField) if !confirm.need_typed => {
            confirm.on_confirm = !confirm.on_confirm;
            Vec::new()
        }
        Some(Command::Open) if !confirm.on_confirm => {
            app.dialogs.pop();
            Vec::new()
        }
        Some(Command::Open) => {
            let n = confirm.plan.act_on.len();
            if confirm.need_typed && confirm.typed.value().trim() != n.to_string() {
                confirm.error = Some(format!("Type {n} to confirm"));
                return Vec::new();
            }
            let plan = confirm.plan.clone();
            app.dialogs.pop();
            app.job = Some(JobView {
                action: plan.action,
                job_id: None,
                progress: BulkProgress {
                    total: plan.act_on.len() as u64,
                    ..BulkProgress::default()
                },
                cancelling: false,
            });
            app.selection = IdSet::default();
            vec![Cmd::RunBulk(plan)]
        }
        _ => {
            if confirm.need_typed
                && let Some(request) = request
            {
                // Only digits make a count.
                let digit = !matches!(request, InputRequest::InsertChar(c) if !c.is_ascii_digit());
                if digit && confirm.typed.handle(request).is_some() {
                    confirm.error = None;
                }
            }
            Vec::new()
        }
    }
}

/// `x`: cancel the running job.
pub fn cancel_job(app: &mut App) -> Vec<Cmd> {
    match &mut app.job {
        Some(job) if !job.cancelling => {
            if let Some(id) = job.job_id {
                job.cancelling = true;
                app.say(Level::Info, "Cancelling after the current contact…");
                vec![Cmd::CancelBulk(id)]
            } else {
                app.say(
                    Level::Info,
                    "The job is starting; press x again in a moment",
                );
                Vec::new()
            }
        }
        Some(_) => Vec::new(),
        None => {
            app.say(Level::Info, "No bulk action is running");
            Vec::new()
        }
    }
}

/// The job ended: say how, and show the list as it is now.
pub fn on_done(app: &mut App, result: Result<BulkSummary, TaskError>) -> Vec<Cmd> {
    let action = app.job.map(|j| j.action);
    app.job = None;
    match result {
        Ok(s) => {
            let skipped = skipped_words(&s.skipped);
            let mut text = format!(
                "{}: {} done, {} skipped{}{}, {} failed",
                s.action.title(),
                s.done,
                s.skipped.len(),
                if skipped.is_empty() { "" } else { " (" },
                if skipped.is_empty() {
                    String::new()
                } else {
                    format!("{skipped})")
                },
                s.failed.len()
            );
            if s.cancelled {
                text = format!("Cancelled, {} not reached. {text}", s.not_reached);
            }
            let level = if s.failed.is_empty() {
                Level::Success
            } else {
                Level::Warning
            };
            app.say(level, &text);
        }
        Err(err) => app.say(
            Level::Error,
            &format!(
                "{}: {} (the job is kept; what was done stays done)",
                action.map_or("Bulk action", BulkAction::title),
                task_text(&err)
            ),
        ),
    }
    let mut cmds = vec![Cmd::RefreshStatus];
    if app.filters.active.is_empty() {
        cmds.push(app.start_search());
    } else {
        cmds.extend(reload_filters(app));
    }
    cmds
}

fn task_text(err: &TaskError) -> String {
    match err {
        TaskError::Unavailable(e) => format!("the database is unavailable ({})", clean(e)),
        TaskError::Other(e) => clean(e),
    }
}
