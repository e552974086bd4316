//! The footer (key hints from the binding table) and the status line
//! (operator, backend, mail transport, outbox, the last message).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::tui::app::{App, Level};
use crate::tui::keymap::{Command, Context};

/// The hints of the current context: `key label` pairs, in table order,
/// cut to the width.
pub fn draw_footer(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let context = app.context();
    let mut spans = Vec::new();
    let mut used = 0usize;
    let width = usize::from(area.width);
    for command in app.keymap.commands_in(context) {
        let Some(label) = footer_label(app, command) else {
            continue;
        };
        // Only keys that work here: in the search box `j` or `q` type text.
        let Some(key) = app.keymap.first_key_in(context, command) else {
            continue;
        };
        let key = if command == Command::Down {
            // Up and down share one hint.
            match app.keymap.first_key_in(context, Command::Up) {
                Some(up) => format!("{key}/{up}"),
                None => key,
            }
        } else {
            key
        };
        let cost = key.chars().count() + label.chars().count() + 3;
        if used + cost > width {
            break;
        }
        used += cost;
        let label_style = if command.info().dangerous {
            t.warning
        } else {
            t.muted
        };
        spans.push(Span::raw(" "));
        spans.push(Span::styled(key, t.key));
        spans.push(Span::styled(format!(" {label} "), label_style));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// A command's footer label on the current screen (`None`: not shown).
fn footer_label(app: &App, command: Command) -> Option<&'static str> {
    use crate::tui::dialogs::{Dialog, Notice};
    let label = command.info().footer?;
    match (app.context(), command) {
        (Context::Audit, Command::Search) => return Some("Filter"),
        (Context::Audit, Command::Open) => return Some("Open contact"),
        (Context::AuditSearch, Command::Open) => return Some("Done"),
        (Context::OperatorForm, Command::Open) => return Some("Save"),
        (Context::OperatorForm, Command::NextField) => {
            use crate::tui::operators_state::OperatorForm;
            let form = app.operators.as_ref().and_then(|o| o.form.as_ref());
            return matches!(
                form,
                Some(OperatorForm::Add { .. } | OperatorForm::ChangeRole { .. })
            )
            .then_some("Role");
        }
        _ => {}
    }
    match (app.dialogs.last(), command) {
        (Some(Dialog::ChangePassword(_)), Command::Open) => Some("Save"),
        (
            Some(
                Dialog::Confirm(_) | Dialog::Menu(_) | Dialog::BulkMenu(_) | Dialog::BulkConfirm(_),
            ),
            Command::Open,
        ) => Some("Choose"),
        (Some(Dialog::Filters(_)), Command::Open) => Some("On/off"),
        (Some(Dialog::Notice(_)), Command::Open) => Some("Close"),
        (Some(Dialog::Notice(n)), Command::Copy) => {
            matches!(n, Notice::PasswordSet { .. }).then_some(label)
        }
        _ => Some(label),
    }
}

/// `ops (admin) │ sqlite │ mail: file │ outbox: 2 queued, 1 failing │ message`
pub fn draw_status(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let s = &app.status;
    let sep = || Span::styled(" │ ", t.border);
    let mut spans = vec![Span::raw(" ")];
    match &s.operator {
        Some(op) => match op.role {
            Some(role) => spans.push(Span::styled(format!("{} ({role})", op.name), t.base)),
            None => spans.push(Span::styled(
                format!("{} (not an operator)", op.name),
                t.alert,
            )),
        },
        None => spans.push(Span::styled("operator …", t.muted)),
    }
    spans.push(sep());
    // When they would not all fit, a job's progress and the last message
    // need the room more than the backend and the transport (`keydesk
    // config` names them).
    let wanted = |text: Option<String>| text.map_or(0, |t| t.chars().count() + 3);
    let room_for_all = 40
        + app.config.backend.len()
        + app.config.transport.len()
        + app.config.site.as_ref().map_or(0, String::len)
        + wanted(app.job.as_ref().map(|job| job_text(app, job)))
        + wanted(s.message.as_ref().map(|(_, text)| text.clone()));
    let tight =
        room_for_all > usize::from(area.width) && (app.job.is_some() || s.message.is_some());
    if !tight {
        spans.push(Span::styled(app.config.backend.as_str(), t.muted));
        spans.push(sep());
        spans.push(Span::styled(
            format!("mail: {}", app.config.transport),
            t.muted,
        ));
        spans.push(sep());
        if let Some(site) = &app.config.site {
            spans.push(Span::styled(format!("site: {site}"), t.muted));
            spans.push(sep());
        }
    }
    match s.outbox {
        Some(o) => {
            let mut parts = Vec::new();
            if o.queued > 0 {
                parts.push(format!("{} queued", o.queued));
            }
            if o.retrying > 0 {
                parts.push(format!("{} retrying", o.retrying));
            }
            if o.failed > 0 {
                parts.push(format!("{} failed", o.failed));
            }
            let style = if o.failed > 0 {
                t.alert
            } else if o.retrying > 0 {
                t.warning
            } else {
                t.muted
            };
            let text = if parts.is_empty() {
                "outbox empty".to_owned()
            } else {
                format!("outbox: {}", parts.join(", "))
            };
            spans.push(Span::styled(text, style));
        }
        None => spans.push(Span::styled("outbox …", t.muted)),
    }
    if let Some(job) = &app.job {
        spans.push(sep());
        spans.push(Span::styled(job_text(app, job), t.accent));
    }
    if let Some(reason) = &s.db_down {
        spans.push(sep());
        spans.push(Span::styled(
            format!("database unavailable, retrying ({reason})"),
            t.alert,
        ));
    } else if let Some((level, text)) = &s.message {
        spans.push(sep());
        let style = match level {
            Level::Success => t.success,
            Level::Info => t.base,
            Level::Warning => t.warning,
            Level::Error => t.alert,
        };
        spans.push(Span::styled(text.as_str(), style));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// `Reset [====  ] 23/47 · x cancels`: a running bulk job, short enough
/// for 80 columns.
fn job_text(app: &App, job: &crate::tui::oncall_state::JobView) -> String {
    const WIDTH: u64 = 8;
    let p = job.progress;
    let total = p.total.max(1);
    const WIDTH_CELLS: usize = 8;
    let filled = usize::try_from(p.handled().min(total) * WIDTH / total).unwrap_or(WIDTH_CELLS);
    let bar = format!("{}{}", "=".repeat(filled), " ".repeat(WIDTH_CELLS - filled));
    let tail = if job.cancelling {
        "cancelling…".to_owned()
    } else {
        format!("{} cancels", app.keymap.first_key(Command::CancelJob))
    };
    format!(
        "{} [{bar}] {}/{} · {tail}",
        job.action.short(),
        p.handled(),
        p.total
    )
}
