//! The confirmation dialog: the question, then the confirm button and Cancel.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{centered, dialog_frame, spinner};
use crate::tui::app::App;
use crate::tui::dialogs::Confirm;

/// A button as `[ Label ]`, styled focused or not.
pub fn button<'a>(app: &App, label: &'a str, focused: bool) -> Span<'a> {
    Span::styled(
        format!("[ {label} ]"),
        if focused {
            app.theme.focused
        } else {
            app.theme.base
        },
    )
}

/// Lines a text needs at `width` when wrapped on words (a close estimate).
pub fn wrapped_height(text: &str, width: u16) -> u16 {
    let width = usize::from(width.max(1));
    let mut lines = 0usize;
    for para in text.split('\n') {
        let mut col = 0usize;
        let mut n = 1usize;
        for word in para.split(' ') {
            let w = unicode_width::UnicodeWidthStr::width(word);
            if col > 0 && col + 1 + w > width {
                n += 1 + w / width;
                col = w % width;
            } else {
                col += w + usize::from(col > 0);
            }
        }
        lines += n;
    }
    u16::try_from(lines).unwrap_or(u16::MAX)
}

/// Draws the dialog.
pub fn draw(app: &App, c: &Confirm, frame: &mut Frame, area: Rect) {
    let width = 64.min(area.width.saturating_sub(2)).max(20);
    let text_height = wrapped_height(&c.question, width.saturating_sub(4));
    let height = text_height + 5;
    let outer = centered(area, width, height);
    let inner = dialog_frame(app, frame, outer, c.action.noun(), false);
    let [question, _, buttons] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner.inner(ratatui::layout::Margin::new(1, 0)));
    frame.render_widget(
        Paragraph::new(c.question.as_str())
            .style(app.theme.base)
            .wrap(Wrap { trim: true }),
        question,
    );
    let line = if c.running {
        Line::from(Span::styled(
            format!("{} Working…", spinner(app)),
            app.theme.muted,
        ))
    } else {
        Line::from(vec![
            button(app, c.confirm_label, c.on_confirm),
            Span::raw("  "),
            button(app, "Cancel", !c.on_confirm),
        ])
    };
    frame.render_widget(Paragraph::new(line).right_aligned(), buttons);
}
