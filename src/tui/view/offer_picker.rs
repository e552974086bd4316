//! Grant Offer / Revoke Offer: the typed part of a name, then the
//! matching offers with the highlighted one.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::edit_contact::input_field;
use super::{centered, dialog_frame, spinner};
use crate::tui::app::App;
use crate::tui::offer_picker::OfferPicker;

/// Offer lines shown at most.
const SHOWN: usize = 8;

/// Draws the picker.
pub fn draw(app: &App, p: &OfferPicker, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let width = 64.min(area.width.saturating_sub(2)).max(24);
    let height = u16::try_from(SHOWN).unwrap_or(8) + 6;
    let outer = centered(area, width, height);
    let inner = dialog_frame(app, frame, outer, p.purpose.title(), false);
    let inner = inner.inner(ratatui::layout::Margin::new(1, 0));
    let [who, label, field, list, hint] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    frame.render_widget(
        Paragraph::new(Span::styled(
            format!("{} <{}>", p.target.name, p.target.email),
            t.muted,
        )),
        who,
    );
    frame.render_widget(
        Paragraph::new(Span::styled("Type part of the offer's name", t.base)),
        label,
    );
    input_field(app, frame, field, &p.input, true);
    let matching = p.matching();
    let mut lines = Vec::new();
    if let Some(err) = &p.error {
        lines.push(Line::from(Span::styled(err.as_str(), t.alert)));
    } else if p.choices.is_none() {
        lines.push(Line::from(Span::styled(
            format!("{} loading offers…", spinner(app)),
            t.muted,
        )));
    } else if matching.is_empty() {
        lines.push(Line::from(Span::styled("No offer matches", t.muted)));
    }
    // Keep the highlight in view when there are more matches than lines.
    let first = p.selected.saturating_sub(SHOWN - 1);
    for (i, choice) in matching.iter().enumerate().skip(first).take(SHOWN) {
        let style = if i == p.selected { t.focused } else { t.base };
        let mut spans = vec![Span::styled(format!(" {} ", choice.name), style)];
        if !choice.products.is_empty() && choice.products != choice.name {
            spans.push(Span::styled(format!(" {}", choice.products), t.muted));
        }
        lines.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(lines), list);
    frame.render_widget(
        Paragraph::new(Span::styled(
            format!(
                "{} of {} offer(s) · Enter picks · Esc cancels",
                matching.len(),
                p.choices.as_ref().map_or(0, Vec::len)
            ),
            t.muted,
        )),
        hint,
    );
}
