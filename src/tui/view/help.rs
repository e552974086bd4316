//! `?`: every key of the screen below, from the same table as the footer.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{centered, dialog_frame};
use crate::tui::app::App;
use crate::tui::dialogs::Help;
use crate::tui::keymap::Context;

/// The help lines for a context (also used by tests).
#[must_use]
pub fn help_lines(app: &App, context: Context) -> Vec<Line<'static>> {
    let t = &app.theme;
    let mut lines = Vec::new();
    if context == Context::Search {
        lines.push(Line::from(Span::styled(
            "Type to search names and emails; the list follows each key.",
            t.muted,
        )));
        lines.push(Line::from(Span::styled(
            "Line editing: ← → Home End, Backspace, Ctrl-W word, Ctrl-U line.",
            t.muted,
        )));
        lines.push(Line::default());
    }
    let rows: Vec<(String, &str, bool)> = app
        .keymap
        .commands_in(context)
        .map(|c| {
            (
                app.keymap.keys_text(c),
                c.info().description,
                c.info().dangerous,
            )
        })
        .collect();
    let key_width = rows
        .iter()
        .map(|(k, _, _)| k.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    for (keys, description, dangerous) in rows {
        let mut spans = vec![
            Span::styled(format!(" {keys:<key_width$}  "), t.key),
            Span::styled(description.to_owned(), t.base),
        ];
        if dangerous {
            spans.push(Span::styled("  (changes the account)", t.warning));
        }
        lines.push(Line::from(spans));
    }
    lines
}

/// Draws help over the screen.
pub fn draw(app: &App, h: Help, frame: &mut Frame, area: Rect) {
    let lines = help_lines(app, h.context);
    let height = u16::try_from(lines.len()).unwrap_or(40) + 3;
    let outer = centered(area, 72.min(area.width.saturating_sub(2)).max(20), height);
    let inner = dialog_frame(
        app,
        frame,
        outer,
        &format!("Help: {}", h.context.title()),
        false,
    );
    let mut lines = lines;
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        " Esc closes this help.",
        app.theme.muted,
    )));
    frame.render_widget(Paragraph::new(lines).scroll((h.scroll, 0)), inner);
}
