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

/// Lines `paragraph` takes at `width`, exactly as ratatui wraps it.
#[must_use]
pub fn height_of(paragraph: &Paragraph<'_>, width: u16) -> u16 {
    u16::try_from(paragraph.line_count(width)).unwrap_or(u16::MAX)
}

/// Draws the dialog.
pub fn draw(app: &App, c: &Confirm, frame: &mut Frame, area: Rect) {
    let width = 64.min(area.width.saturating_sub(2)).max(20);
    let question = Paragraph::new(c.question.as_str())
        .style(app.theme.base)
        .wrap(Wrap { trim: true });
    let error = c.error.as_deref().map(|text| {
        Paragraph::new(text)
            .style(app.theme.alert)
            .wrap(Wrap { trim: true })
    });
    let error_height = error
        .as_ref()
        .map_or(0, |e| height_of(e, width.saturating_sub(4)));
    let height = height_of(&question, width.saturating_sub(4)) + 4 + error_height;
    let outer = centered(area, width, height);
    let inner = dialog_frame(app, frame, outer, c.action.action().title(), false);
    let [question_area, error_area, _, buttons] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(error_height),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner.inner(ratatui::layout::Margin::new(1, 0)));
    frame.render_widget(question, question_area);
    if let Some(error) = error {
        frame.render_widget(error, error_area);
    }
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
