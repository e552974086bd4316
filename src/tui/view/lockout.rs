//! The lockout view: with the Locked filter on, the list shows per row
//! when the lock began, the failed attempts and the last source address,
//! newest lock first (the rows are sorted when the facts arrive).

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Modifier;
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row as TableRow, Table};

use super::format::{ago, datetime};
use super::rows::{mark, render_rows};
use crate::tui::app::App;

/// Draws the lockout table inside the list's frame.
pub fn draw(app: &App, frame: &mut Frame, inner: Rect, focused: bool) {
    let t = &app.theme;
    let wide = inner.width >= 90;
    let marks = !app.selection.is_empty();
    let mut widths = vec![
        Constraint::Fill(3),
        Constraint::Length(if wide { 16 } else { 12 }),
        Constraint::Length(5),
        Constraint::Fill(2),
    ];
    let mut header = vec![
        Cell::from("Name"),
        Cell::from("Locked since"),
        Cell::from("Fails"),
        Cell::from("Last source"),
    ];
    if wide {
        widths.insert(1, Constraint::Fill(3));
        header.insert(1, Cell::from("Email"));
    }
    if marks {
        widths.insert(0, Constraint::Length(1));
        header.insert(0, Cell::from(""));
    }
    let visible = usize::from(inner.height.saturating_sub(1));
    let end = (app.list.offset + visible).min(app.list.rows.len());
    let rows = app.list.rows[app.list.offset.min(end)..end]
        .iter()
        .map(|r| {
            let facts = app.filters.lockouts.get(&r.id);
            let since = facts.map_or_else(
                || "…".to_owned(),
                |l| {
                    if wide {
                        datetime(l.began)
                    } else {
                        ago(app.now, l.began)
                    }
                },
            );
            let mut cells = vec![
                Cell::from(r.name.as_str()),
                Cell::from(Span::styled(since, t.warning)),
                Cell::from(facts.map_or_else(String::new, |l| l.failures.to_string())),
                Cell::from(Span::styled(
                    facts.map_or_else(String::new, |l| l.source.clone()),
                    t.muted,
                )),
            ];
            if wide {
                cells.insert(1, Cell::from(r.email.as_str()));
            }
            if marks {
                cells.insert(0, mark(app, r.id));
            }
            TableRow::new(cells)
        });
    let table = Table::new(rows, widths)
        .header(TableRow::new(header).style(t.muted.add_modifier(Modifier::BOLD)))
        .column_spacing(1);
    render_rows(app, frame, inner, table, focused);
}
