//! More Actions: every item shown, disabled ones with the reason.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{centered, dialog_frame};
use crate::tui::app::App;
use crate::tui::dialogs::Menu;

/// Draws the menu.
pub fn draw(app: &App, m: &Menu, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let width = 60.min(area.width.saturating_sub(2)).max(20);
    let height = u16::try_from(m.items.len()).unwrap_or(8) + 4;
    let outer = centered(area, width, height);
    let inner = dialog_frame(app, frame, outer, "More Actions", false);
    let mut lines = vec![Line::from(Span::styled(
        format!(" {} <{}>", m.target.name, m.target.email),
        t.muted,
    ))];
    lines.push(Line::default());
    for (i, item) in m.items.iter().enumerate() {
        let key = app.keymap.first_key(item.command);
        let selected = i == m.selected;
        let (label_style, key_style) = match (&item.disabled, selected) {
            (_, true) => (t.focused, t.focused),
            (Some(_), false) => (t.disabled, t.disabled),
            (None, false) => (t.base, t.key),
        };
        let mut spans = vec![
            Span::styled(format!(" {key:>3} "), key_style),
            Span::styled(format!(" {} ", item.label), label_style),
        ];
        if let Some(why) = &item.disabled {
            spans.push(Span::styled(format!(" — {}", why.short()), t.disabled));
        }
        lines.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(lines).style(t.base), inner);
}
