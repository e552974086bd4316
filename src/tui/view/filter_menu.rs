//! The filter menu (`f`): the fixed filters, then the offers whose name
//! holds what is typed; a mark on each active one.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{centered, dialog_frame};
use crate::tui::app::App;
use crate::tui::keymap::Command;
use crate::tui::oncall_state::FilterMenu;

/// Offers listed at most (typing narrows them).
const OFFERS_SHOWN: usize = 8;

/// Draws the menu.
pub fn draw(app: &App, m: &FilterMenu, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let items = m.items(&app.filters);
    let shown = items.len().min(5 + OFFERS_SHOWN);
    let width = 60.min(area.width.saturating_sub(2)).max(20);
    let height = u16::try_from(shown).unwrap_or(13) + 6;
    let outer = centered(area, width, height);
    let inner = dialog_frame(app, frame, outer, "Filters", false);
    let mut lines = vec![Line::from(vec![
        Span::styled(" Holds offer: ", t.muted),
        Span::styled(
            if m.query.value().is_empty() {
                "type to find an offer".to_owned()
            } else {
                m.query.value().to_owned()
            },
            if m.query.value().is_empty() {
                t.muted
            } else {
                t.input
            },
        ),
    ])];
    lines.push(Line::default());
    // Keep the highlighted line in view.
    let first = m.selected.saturating_sub(shown.saturating_sub(1));
    for (i, filter) in items.iter().enumerate().skip(first).take(shown) {
        let on = app.filters.active.contains(filter);
        let style = if i == m.selected { t.focused } else { t.base };
        lines.push(Line::from(vec![
            Span::styled(if on { " [x] " } else { " [ ] " }, style),
            Span::styled(app.filters.label(*filter), style),
        ]));
    }
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        format!(
            " {} turns on/off · {} clears all · {} closes",
            app.keymap.first_key(Command::Open),
            app.keymap.first_key(Command::ClearFilters),
            app.keymap.first_key(Command::Back)
        ),
        t.muted,
    )));
    frame.render_widget(Paragraph::new(lines).style(t.base), inner);
}
