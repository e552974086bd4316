//! Notices: not a customer (what makes one), the new password (shown
//! once), and plain messages.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::confirm::{button, height_of};
use super::{centered, dialog_frame};
use crate::tui::app::{App, Level};
use crate::tui::dialogs::Notice;
use crate::tui::keymap::Command;

/// The explanation for a contact who is not a customer, as the platform's
/// help page gives it.
#[must_use]
pub fn not_a_customer_text(name: &str, email: &str, asked: &str) -> String {
    format!(
        "{name} <{email}> is not a customer yet, so {asked} is not available.\n\n\
         Reset Password and Change Password exist only for customers: contacts who have \
         bought an offer or been granted one. The offer gives them a login, and so a \
         password. Contacts and subscribers without an offer have no login to reset.\n\n\
         To make them a customer, grant them an offer on the platform (or they buy one); \
         then both actions appear here."
    )
}

/// Draws the notice.
pub fn draw(app: &App, n: &Notice, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let width = 66.min(area.width.saturating_sub(2)).max(20);
    // Paragraphs, each wrapped on its own; "" is a blank line.
    let (title, paras, alert): (&str, Vec<(String, _)>, bool) = match n {
        Notice::NotACustomer { target, asked } => {
            let text = not_a_customer_text(&target.name, &target.email, asked);
            (
                "Not a customer",
                text.split('\n').map(|p| (p.to_owned(), t.base)).collect(),
                false,
            )
        }
        Notice::PasswordSet {
            target,
            password,
            require_change,
            ..
        } => (
            "Password changed",
            vec![
                (
                    format!(
                        "The temporary password for {} <{}> is set. It is shown only this once:",
                        target.name, target.email
                    ),
                    t.base,
                ),
                (String::new(), t.base),
                (format!("    {}", password.expose()), t.accent),
                (String::new(), t.base),
                (
                    format!(
                        "Give it to the customer through another channel (phone, chat), never by email to the same address.{}",
                        if *require_change {
                            format!(
                                " They must choose a new password at next login; unused, this one stops working after {}.",
                                app.temporary_ttl_text()
                            )
                        } else {
                            String::new()
                        }
                    ),
                    t.base,
                ),
            ],
            false,
        ),
        Notice::Message { level, title, text } => (
            title.as_str(),
            vec![(
                text.clone(),
                match level {
                    Level::Error => t.alert,
                    Level::Warning => t.warning,
                    Level::Success => t.success,
                    Level::Info => t.base,
                },
            )],
            *level == Level::Error,
        ),
    };
    let lines: Vec<Line> = paras
        .into_iter()
        .map(|(p, style)| Line::from(Span::styled(p, style)))
        .collect();
    let body = Paragraph::new(lines).wrap(Wrap { trim: false });
    let outer = centered(area, width, height_of(&body, width.saturating_sub(4)) + 4);
    let inner = dialog_frame(app, frame, outer, title, alert);
    let [text_area, _, buttons] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner.inner(ratatui::layout::Margin::new(1, 0)));
    frame.render_widget(body, text_area);
    let line = match n {
        Notice::PasswordSet { copied, .. } => Line::from(vec![
            Span::styled(app.keymap.first_key(Command::Copy), t.key),
            Span::styled(
                if *copied {
                    " copied  "
                } else {
                    " copy to your clipboard  "
                },
                t.muted,
            ),
            button(app, "Close", true),
        ]),
        _ => Line::from(button(app, "OK", true)),
    };
    frame.render_widget(Paragraph::new(line).right_aligned(), buttons);
}
