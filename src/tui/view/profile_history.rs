//! The profile's Notes and Email history sections, below its offers.

use ratatui::text::{Line, Span};

use super::format::datetime;
use crate::desk::email_history::SentMail;
use crate::mail::delivery_state::kind_label;
use crate::tui::app::App;
use crate::tui::profile_extra::NoteLine;

/// Appends the Notes section: newest first, author and time, each line.
pub fn push_notes<'a>(app: &'a App, notes: &'a [NoteLine], out: &mut Vec<Line<'a>>) {
    let t = &app.theme;
    out.push(Line::default());
    out.push(Line::from(vec![
        Span::styled("Notes", t.accent),
        Span::styled(
            format!(
                "  {} add or delete",
                app.keymap.first_key(crate::tui::keymap::Command::Notes)
            ),
            t.muted,
        ),
    ]));
    if notes.is_empty() {
        out.push(Line::from(Span::styled("  none", t.muted)));
    }
    for n in notes {
        out.push(Line::from(Span::styled(
            format!("  {}  {}", datetime(n.at), n.author),
            t.muted,
        )));
        for l in &n.lines {
            out.push(Line::from(Span::styled(format!("    {l}"), t.base)));
        }
    }
}

/// Appends the Email history section: newest first, one line a message.
pub fn push_history<'a>(app: &'a App, mails: &'a [SentMail], out: &mut Vec<Line<'a>>) {
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
        let mut spans = vec![
            Span::styled(format!("  {}  ", datetime(m.queued_at)), t.muted),
            Span::styled(kind_label(&m.kind), t.base),
            Span::styled(format!("  {}  ", m.recipient), t.muted),
            Span::styled(m.state.as_str(), state_style),
        ];
        if let Some(sent) = m.sent_at {
            spans.push(Span::styled(format!(" {}", datetime(sent)), t.muted));
        }
        if m.attempts > 1 || (m.attempts > 0 && m.state != "sent") {
            spans.push(Span::styled(format!(" · {} attempts", m.attempts), t.muted));
        }
        if !m.last_error.is_empty() && m.state != "sent" {
            spans.push(Span::styled(format!(" · {}", m.last_error), t.alert));
        }
        out.push(Line::from(spans));
    }
}
