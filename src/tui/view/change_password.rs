//! Change Password: a masked field, live policy feedback, the
//! require-change checkbox, Save and Cancel.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::confirm::{button, height_of};
use super::{centered, dialog_frame, spinner};
use crate::tui::app::App;
use crate::tui::dialogs::{ChangePassword, CpField};
use crate::tui::keymap::Command;

/// Draws the dialog.
pub fn draw(app: &App, c: &ChangePassword, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let width = 68.min(area.width.saturating_sub(2)).max(24);
    let value = c.input.value();
    // Live feedback.
    let mut lines = Vec::new();
    match (&c.feedback, value.is_empty()) {
        (_, true) => lines.push(Line::from(Span::styled(
            format!(
                "At least {} characters; {} generates one.",
                app.config.min_password_length,
                app.keymap.first_key(Command::Generate)
            ),
            t.muted,
        ))),
        (None, false) => lines.push(Line::from(Span::styled(
            format!("{} checking…", spinner(app)),
            t.muted,
        ))),
        (Some(f), false) if f.ok => {
            let strength = f
                .strength
                .map(|s| format!(" (strength {s}/4)"))
                .unwrap_or_default();
            lines.push(Line::from(Span::styled(
                format!("✓ Meets the policy{strength}"),
                t.success,
            )));
        }
        (Some(f), false) => {
            for p in &f.problems {
                lines.push(Line::from(Span::styled(format!("✗ {p}"), t.alert)));
            }
        }
    }
    if let Some(err) = &c.error {
        lines.push(Line::from(Span::styled(err.as_str(), t.alert)));
    }
    let feedback_text = Paragraph::new(lines).wrap(Wrap { trim: true });
    let feedback_height = height_of(&feedback_text, width.saturating_sub(4)).max(1);
    let outer = centered(area, width, feedback_height + 9);
    let inner = dialog_frame(app, frame, outer, "Change Password", false);
    let inner = inner.inner(ratatui::layout::Margin::new(1, 0));
    let [who, label, field, feedback, require, hints, buttons] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    frame.render_widget(
        Paragraph::new(Span::styled(
            format!("{} <{}>", c.target.name, c.target.email),
            t.muted,
        )),
        who,
    );
    frame.render_widget(
        Paragraph::new(Span::styled("Temporary password", t.base)),
        label,
    );

    // The field: masked unless shown; the caret follows the input.
    let focused = c.focus == CpField::Password;
    let shown: String = if c.show {
        value.to_owned()
    } else {
        "•".repeat(value.chars().count())
    };
    let inner_width = usize::from(field.width.saturating_sub(2));
    let scroll = c.input.visual_scroll(inner_width);
    let box_style = if focused {
        t.input.patch(t.accent)
    } else {
        t.input
    };
    let skip: String = shown.chars().skip(scroll).collect();
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("▏", if focused { t.accent } else { t.border }),
            Span::styled(skip, box_style),
        ])),
        field,
    );
    if focused && !c.running {
        // With masking every char is one cell wide; shown text uses the input's own width.
        let caret = if c.show {
            c.input.visual_cursor()
        } else {
            c.input.cursor()
        };
        let x = field.x + 1 + u16::try_from(caret.saturating_sub(scroll)).unwrap_or(0);
        frame.set_cursor_position((x.min(field.right().saturating_sub(1)), field.y));
    }

    frame.render_widget(feedback_text, feedback);

    let check = if c.require_change { "[x]" } else { "[ ]" };
    let require_style = if c.focus == CpField::Require {
        t.focused
    } else {
        t.base
    };
    frame.render_widget(
        Paragraph::new(Span::styled(
            format!("{check} Require a new password at next login"),
            require_style,
        )),
        require,
    );
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(app.keymap.first_key(Command::Generate), t.key),
            Span::styled(" generate  ", t.muted),
            Span::styled(app.keymap.first_key(Command::ToggleShow), t.key),
            Span::styled(if c.show { " hide  " } else { " show  " }, t.muted),
            Span::styled(app.keymap.first_key(Command::NextField), t.key),
            Span::styled(" next field", t.muted),
        ])),
        hints,
    );
    let line = if c.running {
        Line::from(Span::styled(format!("{} Saving…", spinner(app)), t.muted))
    } else {
        Line::from(vec![
            button(app, "Save", c.focus == CpField::Save),
            Span::raw("  "),
            button(app, "Cancel", c.focus == CpField::Cancel),
        ])
    };
    frame.render_widget(Paragraph::new(line).right_aligned(), buttons);
}
