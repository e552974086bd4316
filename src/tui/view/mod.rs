//! Drawing: a pure function of the state, `draw(&App, &mut Frame)`, one
//! file per view. No I/O and nothing slow: text was sanitised when it
//! entered the state; here it is only laid out.

mod audit;
mod bulk_confirm;
mod bulk_menu;
mod change_password;
mod confirm;
mod edit_contact;
mod filter_menu;
pub mod format;
mod help;
mod list;
mod lockout;
mod menu;
mod notes;
mod notice;
mod offer_picker;
mod operators;
mod profile;
mod profile_history;
mod rows;
mod status;
mod too_small;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Block, Borders, Clear};

use super::app::{App, Screen};
use super::dialogs::Dialog;

/// Spinner frames (braille, one cell wide).
pub const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// Draws the whole console.
///
/// # Panics
/// Only when a test arms the `panic-in-view` fault (debug builds).
pub fn draw(app: &App, frame: &mut Frame) {
    // Test hook (debug builds only, see tui/fault.rs).
    assert!(
        !(app.dialogs.iter().any(Dialog::running)
            && super::fault::armed(super::fault::PANIC_IN_VIEW)),
        "injected by KEYDESK_FAULT=panic-in-view while an action runs"
    );
    let area = frame.area();
    if app.too_small() {
        too_small::draw(app, frame, area);
        return;
    }
    let [search, body, footer, status_line] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    if let Some(ops) = &app.operators {
        operators::draw_title_line(app, frame, search);
        operators::draw(app, ops, frame, body);
    } else if let Some(audit) = &app.audit {
        audit::draw_filter_line(app, audit, frame, search);
        audit::draw_table(app, audit, frame, body);
    } else {
        list::draw_search_line(app, frame, search);
    }
    if app.audit.is_some() || app.operators.is_some() {
        // A screen of its own covers the list and the profile.
    } else if app.is_wide() {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                .areas(body);
        list::draw_table(app, frame, left);
        profile::draw(app, frame, right);
    } else if app.screen == Screen::Profile {
        profile::draw(app, frame, body);
    } else {
        list::draw_table(app, frame, body);
    }
    status::draw_footer(app, frame, footer);
    status::draw_status(app, frame, status_line);
    for dialog in &app.dialogs {
        match dialog {
            Dialog::Confirm(c) => confirm::draw(app, c, frame, area),
            Dialog::Menu(m) => menu::draw(app, m, frame, area),
            Dialog::ChangePassword(c) => change_password::draw(app, c, frame, area),
            Dialog::Notice(n) => notice::draw(app, n, frame, area),
            Dialog::Help(h) => help::draw(app, *h, frame, area),
            Dialog::OfferPicker(p) => offer_picker::draw(app, p, frame, area),
            Dialog::EditContact(d) => edit_contact::draw(app, d, frame, area),
            Dialog::Notes(e) => notes::draw(app, e, frame, area),
            Dialog::Filters(m) => filter_menu::draw(app, m, frame, area),
            Dialog::BulkMenu(m) => bulk_menu::draw(app, m, frame, area),
            Dialog::BulkConfirm(c) => bulk_confirm::draw(app, c, frame, area),
        }
    }
}

/// The spinner's current frame.
#[must_use]
pub fn spinner(app: &App) -> &'static str {
    SPINNER[app.spinner % SPINNER.len()]
}

/// A centred rectangle of at most `width` x `height` inside `area`.
#[must_use]
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

/// Clears `area` and draws a dialog frame titled `title`; returns the inside.
pub fn dialog_frame(app: &App, frame: &mut Frame, area: Rect, title: &str, alert: bool) -> Rect {
    frame.render_widget(Clear, area);
    let style = if alert {
        app.theme.alert
    } else {
        app.theme.accent
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(style)
        .title(format!(" {title} "))
        .title_style(style)
        .style(app.theme.base);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    inner
}
