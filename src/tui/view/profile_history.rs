//! The profile's Notes and Email history sections, below its offers.

use ratatui::text::{Line, Span};

use super::format::date;
use crate::desk::email_history::SentMail;
use crate::mail::delivery_state::kind_label;
use crate::tui::app::App;
use crate::tui::profile_extra::NoteLine;

/// Appends the Notes section: newest first, author and time, each line.
pub fn push_notes<'a>(app: &'a App, notes: &'a [NoteLine], out: &mut Vec<Line<'a>>) {
    let t = &app.theme;
    out.push(Line::default());
    out.push(Line::from(Span::styled("Notes", t.accent)));
    if notes.is_empty() {
        out.push(Line::from(Span::styled("  none", t.muted)));
    }
    // One style for a whole note: over SSH each change of style costs bytes.
    for n in notes {
        out.push(Line::from(Span::styled(
            format!("  {}  {}", date(n.at), n.author),
            t.base,
        )));
        for l in &n.lines {
            out.push(Line::from(Span::styled(format!("    {l}"), t.base)));
        }
    }
}

/// Appends the Email history section of the contact with `email`:
/// newest first, one line a message.
pub fn push_history<'a>(app: &'a App, email: &str, mails: &'a [SentMail], out: &mut Vec<Line<'a>>) {
    let t = &app.theme;
    out.push(Line::default());
    out.push(Line::from(Span::styled("Email history", t.accent)));
    if mails.is_empty() {
        out.push(Line::from(Span::styled("  nothing sent", t.muted)));
    }
    for m in mails {
        let state_style = match m.state.as_str() {
            "sent" => t.success,
            "failed" | "expired" => t.alert,
            _ if m.attempts > 0 => t.warning,
            _ => t.base,
        };
        // Few style changes a line: over SSH each one costs bytes.
        let mut spans = vec![
            Span::styled(
                // The address only when it is not the contact's own (an
                // old one, after an email change).
                if m.recipient == email {
                    format!("  {}  {}  ", date(m.queued_at), kind_label(&m.kind))
                } else {
                    format!(
                        "  {}  {} to {}  ",
                        date(m.queued_at),
                        kind_label(&m.kind),
                        m.recipient
                    )
                },
                t.muted,
            ),
            Span::styled(m.state.as_str(), state_style),
        ];
        let mut tail = String::new();
        if let Some(sent) = m.sent_at {
            tail.push_str(&format!(" {}", date(sent)));
        }
        if m.attempts > 1 || (m.attempts > 0 && m.state != "sent") {
            tail.push_str(&format!(" · {} attempts", m.attempts));
        }
        if !m.last_error.is_empty() && m.state != "sent" {
            tail.push_str(&format!(" · {}", m.last_error));
        }
        if !tail.is_empty() {
            spans.push(Span::styled(tail, t.muted));
        }
        out.push(Line::from(spans));
    }
}
