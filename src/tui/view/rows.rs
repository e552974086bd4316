//! What the contacts table and the lockout table share: the selection
//! mark of a row, and drawing the visible rows with the highlight and the
//! search error.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Paragraph, Table, TableState};

use crate::tui::app::{App, Focus};

/// The selection mark of a row: `●` when selected (`*` reads the same in mono).
pub fn mark(app: &App, id: i64) -> Cell<'static> {
    if app.selection.contains(id) {
        Cell::from(Span::styled("●", app.theme.accent))
    } else {
        Cell::from(" ")
    }
}

/// Draws a table of the visible rows with the highlight and the error line.
pub fn render_rows(app: &App, frame: &mut Frame, inner: Rect, table: Table<'_>, focused: bool) {
    let t = &app.theme;
    let table = table
        .style(t.base)
        .row_highlight_style(if focused || app.focus == Focus::Search {
            t.selection
        } else {
            t.selection.add_modifier(Modifier::DIM)
        });
    let mut state = TableState::default()
        .with_selected(Some(app.list.selected.saturating_sub(app.list.offset)));
    frame.render_stateful_widget(table, inner, &mut state);
    if let Some(err) = &app.list.error {
        let y = inner.bottom().saturating_sub(1);
        frame.render_widget(
            Paragraph::new(Span::styled(format!("Search failed: {err}"), t.alert))
                .style(Style::default()),
            Rect {
                y,
                height: 1,
                ..inner
            },
        );
    }
}
