//! More Actions with a selection: the bulk actions, disabled ones with the
//! reason.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{centered, dialog_frame};
use crate::tui::app::App;
use crate::tui::oncall_state::{BulkMenu, bulk_command};

/// Draws the menu.
pub fn draw(app: &App, m: &BulkMenu, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let width = 60.min(area.width.saturating_sub(2)).max(20);
    let height = u16::try_from(m.items.len()).unwrap_or(3) + 4;
    let outer = centered(area, width, height);
    let inner = dialog_frame(app, frame, outer, "Bulk actions", false);
    let mut lines = vec![Line::from(Span::styled(
        format!(" {} selected contacts", m.count),
        t.muted,
    ))];
    lines.push(Line::default());
    for (i, (action, why)) in m.items.iter().enumerate() {
        let key = app.keymap.first_key(bulk_command(*action));
        let (label_style, key_style) = match (why, i == m.selected) {
            (_, true) => (t.focused, t.focused),
            (Some(_), false) => (t.disabled, t.disabled),
            (None, false) => (t.base, t.key),
        };
        let mut spans = vec![
            Span::styled(format!(" {key:>3} "), key_style),
            Span::styled(format!(" {} ", action.title()), label_style),
        ];
        if let Some(why) = why {
            spans.push(Span::styled(format!(" — {why}"), t.disabled));
        }
        lines.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(lines).style(t.base), inner);
}
