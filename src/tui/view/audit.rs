//! The Audit screen: the filter line in place of the search line, and the
//! audit rows newest first, with the selected row's source and facts on
//! the frame's last line.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Cell, Paragraph, Row, Table, TableState};

use super::spinner;
use crate::desk::Role;
use crate::tui::app::App;
use crate::tui::audit_state::AuditState;
use crate::tui::keymap::{Command, Context};

/// `Filter [text  op:NAME  action:NAME  contact:EMAIL]`
pub fn draw_filter_line(app: &App, audit: &AuditState, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let focused = audit.typing && app.context() == Context::AuditSearch;
    let label = Rect {
        width: 8.min(area.width),
        ..area
    };
    let input = Rect {
        x: label.right(),
        width: area.width.saturating_sub(label.width),
        ..area
    };
    frame.render_widget(
        Paragraph::new(Span::styled(
            " Filter ",
            if focused { t.accent } else { t.muted },
        )),
        label,
    );
    let width = usize::from(input.width.saturating_sub(1));
    let scroll = audit.filter.visual_scroll(width);
    let text = if audit.filter.value().is_empty() {
        let hint = if focused {
            "text  op:NAME  action:NAME  contact:EMAIL".to_owned()
        } else {
            format!(
                "{} to filter: text  op:NAME  action:NAME  contact:EMAIL",
                app.keymap.first_key(Command::Search)
            )
        };
        Span::styled(hint, t.muted)
    } else {
        Span::styled(audit.filter.value(), if focused { t.input } else { t.base })
    };
    frame.render_widget(
        Paragraph::new(Line::from(text)).scroll((0, u16::try_from(scroll).unwrap_or(0))),
        input,
    );
    if focused {
        let x = audit.filter.visual_cursor().saturating_sub(scroll);
        let x = input
            .x
            .saturating_add(u16::try_from(x).unwrap_or(u16::MAX))
            .min(input.right().saturating_sub(1));
        frame.set_cursor_position((x, input.y));
    }
}

/// The audit rows inside their frame.
pub fn draw_table(app: &App, audit: &AuditState, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let focused = !audit.typing && app.dialogs.is_empty();
    // Desk shows an admin every row and anyone else their own; the title
    // says which the reader is looking at.
    let whose = match app.status.operator.as_ref().and_then(|o| o.role) {
        Some(Role::Admin) => " Audit log ",
        _ => " Audit log · your own actions ",
    };
    let n = audit.rows.len();
    let rows = if n == 1 {
        "1 row".to_owned()
    } else {
        format!("{n} rows")
    };
    let count = if audit.loading {
        format!(" {} {rows} ", spinner(app))
    } else {
        format!(" {rows} · live ")
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .title(Span::styled(whose, t.accent))
        .title_top(Line::from(Span::styled(count, t.muted)).right_aligned());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height < 2 || inner.width == 0 {
        return;
    }
    let detail_line = Rect {
        y: inner.bottom() - 1,
        height: 1,
        ..inner
    };
    let table_area = Rect {
        height: inner.height - 1,
        ..inner
    };
    if let Some(err) = &audit.error {
        frame.render_widget(
            Paragraph::new(Span::styled(format!("Audit failed: {err}"), t.alert)),
            detail_line,
        );
    }
    if audit.rows.is_empty() {
        let text = if audit.loading {
            format!("{} Loading…", spinner(app))
        } else if audit.filter.value().trim().is_empty() {
            "No audit rows yet.".to_owned()
        } else {
            "No audit row matches the filter.".to_owned()
        };
        frame.render_widget(Paragraph::new(Span::styled(text, t.muted)), table_area);
        return;
    }
    let wide = inner.width >= 110;
    let mut widths = vec![
        Constraint::Length(if wide { 19 } else { 11 }),
        Constraint::Fill(2),
        Constraint::Fill(3),
        Constraint::Length(7),
        Constraint::Fill(3),
    ];
    let mut header = vec![
        Cell::from("When (UTC)"),
        Cell::from("Who"),
        Cell::from("Action"),
        Cell::from("Outcome"),
        Cell::from("Contact"),
    ];
    if wide {
        widths.push(Constraint::Fill(2));
        header.push(Cell::from("Source"));
    }
    let visible = usize::from(table_area.height.saturating_sub(1));
    let end = (audit.offset + visible).min(audit.rows.len());
    let rows = audit.rows[audit.offset.min(end)..end].iter().map(|r| {
        let when = if wide {
            r.at.format("%Y-%m-%d %H:%M:%S").to_string()
        } else {
            r.at.format("%m-%d %H:%M").to_string()
        };
        let outcome_style = match r.outcome.as_str() {
            "ok" => t.success,
            "denied" => t.alert,
            _ => t.warning,
        };
        let mut cells = vec![
            Cell::from(Span::styled(when, t.muted)),
            Cell::from(r.actor.as_str()),
            Cell::from(r.action.as_str()),
            Cell::from(Span::styled(r.outcome.as_str(), outcome_style)),
            Cell::from(r.contact.as_deref().unwrap_or("")),
        ];
        if wide {
            cells.push(Cell::from(Span::styled(r.source.as_str(), t.muted)));
        }
        Row::new(cells)
    });
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(t.muted.add_modifier(Modifier::BOLD)))
        .column_spacing(1)
        .style(t.base)
        .row_highlight_style(if focused {
            t.selection
        } else {
            t.selection.add_modifier(Modifier::DIM)
        });
    let mut state =
        TableState::default().with_selected(Some(audit.selected.saturating_sub(audit.offset)));
    frame.render_stateful_widget(table, table_area, &mut state);
    if audit.error.is_none()
        && let Some(row) = audit.selected_row()
    {
        let mut facts = format!("{} {} from {}", row.actor_kind, row.actor, row.source);
        if !row.detail.is_empty() {
            facts.push_str(" · ");
            facts.push_str(&row.detail);
        }
        frame.render_widget(Paragraph::new(Span::styled(facts, t.muted)), detail_line);
    }
}
