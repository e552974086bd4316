//! The Operators screen: who may use keydesk, their roles and SSH key
//! fingerprints, the selected operator's facts on the frame's last line,
//! and the form open on it (add, change role, remove, add a key).

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Cell, Paragraph, Row, Table, TableState, Wrap};
use tui_input::Input;

use super::format::date;
use super::{centered, dialog_frame, spinner};
use crate::desk::Role;
use crate::tui::app::App;
use crate::tui::operators_state::{OperatorForm, OperatorsState, ROLES};

/// The line above the table.
pub fn draw_title_line(app: &App, frame: &mut Frame, area: Rect) {
    frame.render_widget(
        Paragraph::new(Span::styled(
            " Operators: who may use keydesk, with which role and SSH keys",
            app.theme.muted,
        )),
        area,
    );
}

/// The operators inside their frame, and the open form over them.
pub fn draw(app: &App, ops: &OperatorsState, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let focused = ops.form.is_none() && app.dialogs.is_empty();
    let n = ops.rows.len();
    let count = if ops.loading {
        format!(" {} {n} ", spinner(app))
    } else if n == 1 {
        " 1 operator ".to_owned()
    } else {
        format!(" {n} operators ")
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .title(Span::styled(" Operators ", t.accent))
        .title_top(Line::from(Span::styled(count, t.muted)).right_aligned());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height < 2 || inner.width == 0 {
        return;
    }
    let last_line = Rect {
        y: inner.bottom() - 1,
        height: 1,
        ..inner
    };
    let table_area = Rect {
        height: inner.height - 1,
        ..inner
    };
    let rows = ops.rows.iter().map(|r| {
        let keys = match r.keys.as_slice() {
            [] => Span::styled("no SSH key", t.muted),
            [one] => Span::raw(format!("{} {}", one.fingerprint, one.comment)),
            [first, rest @ ..] => {
                Span::raw(format!("{} (+{} more)", first.fingerprint, rest.len()))
            }
        };
        let role_style = if r.role == Role::Admin {
            t.warning
        } else {
            t.base
        };
        Row::new(vec![
            Cell::from(r.name.as_str()),
            Cell::from(Span::styled(r.role.as_str(), role_style)),
            Cell::from(keys),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Fill(1),
            Constraint::Length(6),
            Constraint::Fill(3),
        ],
    )
    .header(Row::new(vec!["Name", "Role", "SSH keys"]).style(t.muted.add_modifier(Modifier::BOLD)))
    .column_spacing(1)
    .style(t.base)
    .row_highlight_style(if focused {
        t.selection
    } else {
        t.selection.add_modifier(Modifier::DIM)
    });
    let mut state = TableState::default().with_selected(Some(ops.selected));
    frame.render_stateful_widget(table, table_area, &mut state);
    let facts = if let Some(err) = &ops.error {
        Span::styled(format!("Could not list the operators: {err}"), t.alert)
    } else if let Some(r) = ops.selected_row() {
        Span::styled(
            format!(
                "{}: added {} by {} · {} SSH key{}",
                r.name,
                date(r.created_at),
                r.created_by,
                r.keys.len(),
                if r.keys.len() == 1 { "" } else { "s" }
            ),
            t.muted,
        )
    } else {
        Span::raw("")
    };
    frame.render_widget(Paragraph::new(facts), last_line);
    if let Some(form) = &ops.form {
        draw_form(app, ops, form, frame, area);
    }
}

fn roles_line(app: &App, chosen: Role) -> Line<'static> {
    let mut spans = vec![Span::raw("Role  ")];
    for role in ROLES {
        let style = if role == chosen {
            app.theme.selection
        } else {
            app.theme.muted
        };
        let mark = if role == chosen { "●" } else { " " };
        spans.push(Span::styled(format!(" {mark}{} ", role.as_str()), style));
        spans.push(Span::raw(" "));
    }
    Line::from(spans)
}

fn input_line(app: &App, label: &str, input: &Input, width: usize) -> Line<'static> {
    let value = input.value();
    // The end of a long key is what the user just pasted or typed.
    let shown: String = if value.chars().count() > width {
        let skip = value.chars().count() - width;
        format!("…{}", value.chars().skip(skip + 1).collect::<String>())
    } else {
        value.to_owned()
    };
    Line::from(vec![
        Span::raw(label.to_owned()),
        Span::styled(format!("{shown:<width$}"), app.theme.input),
    ])
}

fn draw_form(app: &App, ops: &OperatorsState, form: &OperatorForm, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let rect = centered(area, 72, 7);
    let (title, alert) = match form {
        OperatorForm::Add { .. } => ("Add operator", false),
        OperatorForm::ChangeRole { .. } => ("Change role", true),
        OperatorForm::Remove { .. } => ("Remove operator", true),
        OperatorForm::AddKey { .. } => ("Add SSH key", false),
    };
    let inner = dialog_frame(app, frame, rect, title, alert);
    let field = usize::from(inner.width.saturating_sub(8));
    let mut lines = match form {
        OperatorForm::Add { name, role } => vec![
            input_line(app, "Name  ", name, field),
            roles_line(app, *role),
            Line::raw(""),
            Line::from(Span::styled(
                "The OS user name they sign in with. Tab: role · Enter: add",
                t.muted,
            )),
        ],
        OperatorForm::ChangeRole { name, role } => vec![
            Line::raw(format!("The role of {name}:")),
            roles_line(app, *role),
            Line::raw(""),
            Line::from(Span::styled("Tab: role · Enter: save · Esc: keep", t.muted)),
        ],
        OperatorForm::Remove { name } => vec![
            Line::raw(format!(
                "Remove operator {name}? Their SSH keys go with them."
            )),
            Line::raw(""),
            Line::from(Span::styled("Enter: remove · Esc: keep", t.muted)),
        ],
        OperatorForm::AddKey { name, key } => vec![
            Line::raw(format!(
                "Paste {name}'s OpenSSH public key (the .pub line):"
            )),
            input_line(app, "Key   ", key, field),
            Line::raw(""),
            Line::from(Span::styled(
                "ssh-ed25519 or ecdsa-sha2-nistp256/384/521 · Enter: add",
                t.muted,
            )),
        ],
    };
    if ops.running {
        lines.push(Line::from(Span::styled(
            format!("{} Saving…", spinner(app)),
            t.muted,
        )));
    } else if let Some(err) = &ops.form_error {
        lines.push(Line::from(Span::styled(err.clone(), t.alert)));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
    let cursor = match form {
        OperatorForm::Add { name, .. } => Some((0, name)),
        OperatorForm::AddKey { key, .. } => Some((1, key)),
        _ => None,
    };
    if let Some((row, input)) = cursor {
        let x = input.visual_cursor().min(field);
        let x = inner.x + 6 + u16::try_from(x).unwrap_or(0);
        frame.set_cursor_position((x.min(inner.right().saturating_sub(1)), inner.y + row));
    }
}
