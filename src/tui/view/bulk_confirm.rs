//! The confirmation of a bulk action: how many get it, how many are
//! skipped and why, and above `bulk.confirm_over` the count typed back.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::confirm::{button, height_of};
use super::{centered, dialog_frame};
use crate::tui::app::App;
use crate::tui::oncall_state::BulkConfirm;

/// Draws the dialog.
pub fn draw(app: &App, c: &BulkConfirm, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let width = 64.min(area.width.saturating_sub(2)).max(20);
    let question = Paragraph::new(c.question(&app.link_ttl_text()))
        .style(t.base)
        .wrap(Wrap { trim: true });
    let error = c.error.as_deref().map(|text| {
        Paragraph::new(text)
            .style(t.alert)
            .wrap(Wrap { trim: true })
    });
    let error_height = error
        .as_ref()
        .map_or(0, |e| height_of(e, width.saturating_sub(4)));
    let typed_height = if c.need_typed { 2 } else { 0 };
    let height = height_of(&question, width.saturating_sub(4)) + 4 + error_height + typed_height;
    let outer = centered(area, width, height);
    let inner = dialog_frame(app, frame, outer, c.plan.action.title(), true);
    let [question_area, typed_area, error_area, _, buttons] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(typed_height),
        Constraint::Length(error_height),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner.inner(ratatui::layout::Margin::new(1, 0)));
    frame.render_widget(question, question_area);
    if c.need_typed {
        let n = c.plan.act_on.len();
        let label = format!("Type {n} to confirm: ");
        let x = typed_area.x + u16::try_from(label.chars().count()).unwrap_or(0);
        frame.render_widget(
            Paragraph::new(vec![
                Line::default(),
                Line::from(vec![
                    Span::styled(label, t.warning),
                    Span::styled(format!("{:<8}", c.typed.value()), t.input),
                ]),
            ]),
            typed_area,
        );
        let cursor = u16::try_from(c.typed.visual_cursor()).unwrap_or(0);
        frame.set_cursor_position((
            (x + cursor).min(typed_area.right().saturating_sub(1)),
            typed_area.y + 1,
        ));
    }
    if let Some(error) = error {
        frame.render_widget(error, error_area);
    }
    let line = Line::from(vec![
        button(app, c.plan.action.title(), c.on_confirm),
        Span::raw("  "),
        button(app, "Cancel", !c.on_confirm),
    ]);
    frame.render_widget(Paragraph::new(line).right_aligned(), buttons);
}
