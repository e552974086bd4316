//! Edit contact: the name and email fields, Save and Cancel.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use tui_input::Input;

use super::confirm::button;
use super::{centered, dialog_frame};
use crate::tui::app::App;
use crate::tui::contact_form::{EditContact, EditField};

/// A one-line text field with its caret when focused (shared by the
/// dialogs that take text).
pub fn input_field(app: &App, frame: &mut Frame, area: Rect, input: &Input, focused: bool) {
    let t = &app.theme;
    let inner_width = usize::from(area.width.saturating_sub(2));
    let scroll = input.visual_scroll(inner_width);
    let shown: String = input.value().chars().skip(scroll).collect();
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("▏", if focused { t.accent } else { t.border }),
            Span::styled(
                shown,
                if focused {
                    t.input.patch(t.accent)
                } else {
                    t.input
                },
            ),
        ])),
        area,
    );
    if focused {
        let x =
            area.x + 1 + u16::try_from(input.visual_cursor().saturating_sub(scroll)).unwrap_or(0);
        frame.set_cursor_position((x.min(area.right().saturating_sub(1)), area.y));
    }
}

/// Draws the dialog.
pub fn draw(app: &App, d: &EditContact, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let width = 68.min(area.width.saturating_sub(2)).max(24);
    let outer = centered(area, width, 11);
    let inner = dialog_frame(app, frame, outer, "Edit contact", false);
    let inner = inner.inner(ratatui::layout::Margin::new(1, 0));
    let [who, name_label, name, email_label, email, note, buttons] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    frame.render_widget(
        Paragraph::new(Span::styled(
            format!("{} <{}>", d.target.name, d.target.email),
            t.muted,
        )),
        who,
    );
    frame.render_widget(Paragraph::new(Span::styled("Name", t.base)), name_label);
    input_field(
        app,
        frame,
        name,
        &d.name,
        !d.loading && d.focus == EditField::Name,
    );
    frame.render_widget(Paragraph::new(Span::styled("Email", t.base)), email_label);
    input_field(app, frame, email, &d.email, d.focus == EditField::Email);
    let note_line = match &d.error {
        Some(err) => Span::styled(err.as_str(), t.alert),
        None if d.loading => Span::styled(
            format!(
                "{} loading the current name and email…",
                super::spinner(app)
            ),
            t.muted,
        ),
        None if d.target.customer => Span::styled(
            "A new email is the login: open reset links stop working.",
            t.muted,
        ),
        None => Span::raw(""),
    };
    frame.render_widget(Paragraph::new(note_line), note);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            button(app, "Save", d.focus == EditField::Save),
            Span::raw("  "),
            button(app, "Cancel", d.focus == EditField::Cancel),
        ]))
        .right_aligned(),
        buttons,
    );
}
