//! The profile pane: who the contact is, their offers, the state of their
//! login, open reset links, the latest email, notes, the email history
//! and recent activity.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, Wrap};

use super::format::{ago, date, datetime, until};
use super::spinner;
use crate::desk::profile::{DeliveryState, kind_label};
use crate::tui::app::{App, Kind, PasswordState, ProfileView, Screen};
use crate::tui::theme::Theme;

/// Label column width.
const LABEL: usize = 16;

fn field<'a>(t: &Theme, label: &'a str, value: Vec<Span<'a>>) -> Line<'a> {
    let mut spans = vec![Span::styled(format!("{label:<LABEL$}"), t.muted)];
    spans.extend(value);
    Line::from(spans)
}

fn text(s: impl Into<String>, style: Style) -> Span<'static> {
    Span::styled(s.into(), style)
}

/// Draws the pane for the selected contact.
pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let full = app.screen == Screen::Profile && !app.is_wide();
    let mut title = vec![Span::styled(" Profile ", t.accent)];
    if app.profile.loading {
        title.push(Span::styled(format!("{} ", spinner(app)), t.muted));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .border_type(if full {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .title(Line::from(title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let selected = app.list.selected_row().map(|r| r.id);
    // While the next contact's profile loads (a few ms), the previous one
    // stays, under the spinner: no flash of "Loading…", and over SSH a
    // cursor move costs only the cells that really change.
    let view = app.profile.view.as_ref().filter(|v| {
        Some(v.target.contact_id) == selected || (app.profile.loading && selected.is_some())
    });
    let lines = if let Some(v) = view {
        lines(app, v)
    } else {
        let msg = if let Some(err) = &app.profile.error {
            text(format!("Cannot load the profile: {err}"), t.alert)
        } else if selected.is_none() {
            text("No contact selected.", t.muted)
        } else {
            text(format!("{} Loading…", spinner(app)), t.muted)
        };
        vec![Line::from(msg)]
    };
    frame.render_widget(
        Paragraph::new(lines)
            .style(t.base)
            .wrap(Wrap { trim: false })
            .scroll((app.profile.scroll, 0)),
        inner,
    );
}

fn lines<'a>(app: &'a App, v: &'a ProfileView) -> Vec<Line<'a>> {
    let t = &app.theme;
    let now = app.now;
    let kind = Kind::of(v.target.customer, v.subscriber);
    let mut badges = vec![
        Span::styled(v.target.name.as_str(), t.accent),
        Span::raw("  "),
        Span::styled(
            format!("[{}]", kind.label()),
            match kind {
                Kind::Customer => t.badge_customer,
                Kind::Subscriber => t.badge_subscriber,
                Kind::Contact => t.badge_contact,
            },
        ),
    ];
    if kind == Kind::Customer && v.subscriber {
        badges.push(Span::raw(" "));
        badges.push(Span::styled("[Subscriber]", t.badge_subscriber));
    }
    let mut out = vec![
        Line::from(badges),
        Line::from(Span::styled(v.target.email.as_str(), t.base)),
        Line::default(),
    ];

    out.push(field(t, "Added", vec![text(date(v.added), t.base)]));
    if let Some(since) = v.customer_since {
        out.push(field(t, "Customer since", vec![text(date(since), t.base)]));
    }
    if !v.tags.is_empty() {
        out.push(field(
            t,
            "Tags",
            vec![Span::styled(v.tags.as_str(), t.base)],
        ));
    }
    if !v.target.customer {
        out.push(Line::default());
        out.push(Line::from(Span::styled(
            "Not a customer: no offer, so no login. Reset Password and Change Password are for customers.",
            t.muted,
        )));
        if !v.notes.is_empty() {
            out.push(Line::default());
            out.push(field(
                t,
                "Platform notes",
                vec![Span::styled(v.notes.as_str(), t.base)],
            ));
        }
        super::profile_history::push_notes(app, &v.note_lines, &mut out);
        super::profile_history::push_history(app, &v.target.email, &v.history, &mut out);
        push_audit(app, v, &mut out);
        return out;
    }

    // The login.
    let password = match v.password {
        PasswordState::NoAccount => text("no login yet", t.muted),
        PasswordState::NeverSet => text("never set", t.warning),
        PasswordState::MustChange => text("must change at next login", t.warning),
        PasswordState::Set => text(
            v.password_changed_at.map_or_else(
                || "set".to_owned(),
                |at| format!("set, changed {}", ago(now, at)),
            ),
            t.base,
        ),
    };
    let mut pw = vec![password];
    if let Some(exp) = v.temporary_expires_at.filter(|e| *e > now) {
        pw.push(text(
            format!(" · temporary, expires {}", until(now, exp)),
            t.muted,
        ));
    }
    out.push(field(t, "Password", pw));
    if let Some(until_at) = v.locked_until.filter(|u| *u > now) {
        out.push(field(
            t,
            "Locked",
            vec![text(
                format!("until {} ({})", datetime(until_at), until(now, until_at)),
                t.alert,
            )],
        ));
    }
    let logins = match v.last_login_at {
        Some(at) => format!("{} · last {}", v.sign_in_count, ago(now, at)),
        None => format!("{} · never signed in", v.sign_in_count),
    };
    out.push(field(t, "Sign-ins", vec![text(logins, t.base)]));

    // Reset links and mail.
    if v.open_links.is_empty() {
        out.push(field(t, "Reset links", vec![text("none open", t.muted)]));
    } else {
        for (i, (created, expires)) in v.open_links.iter().enumerate() {
            out.push(field(
                t,
                if i == 0 { "Reset links" } else { "" },
                vec![text(
                    format!(
                        "sent {}, expires {}",
                        ago(now, *created),
                        until(now, *expires)
                    ),
                    t.base,
                )],
            ));
        }
    }
    if let Some(mail) = &v.mail {
        let state = mail.delivery(now);
        let style = match state {
            DeliveryState::Sent { .. } => t.success,
            DeliveryState::Failed { .. } | DeliveryState::Expired => t.alert,
            DeliveryState::Retrying { .. } => t.warning,
            _ => t.base,
        };
        out.push(field(
            t,
            "Latest email",
            vec![
                text(format!("{}: ", kind_label(&mail.kind)), t.muted),
                text(state.to_string(), style),
            ],
        ));
    }

    // Offers.
    out.push(Line::default());
    out.push(Line::from(Span::styled("Offers", t.accent)));
    for o in &v.offers {
        let how = if o.source == "granted" && !o.granted_by.is_empty() {
            format!("granted by {} {}", o.granted_by, date(o.granted_at))
        } else {
            format!("{} {}", o.source, date(o.granted_at))
        };
        let mut spans = vec![
            Span::raw("  "),
            Span::styled(o.name.as_str(), t.base),
            text(format!("  {how}"), t.muted),
        ];
        if !o.products.is_empty() {
            spans.push(text(format!("  ({})", o.products), t.muted));
        }
        out.push(Line::from(spans));
    }
    if !v.notes.is_empty() {
        out.push(Line::default());
        out.push(field(
            t,
            "Notes",
            vec![Span::styled(v.notes.as_str(), t.base)],
        ));
    }
    super::profile_history::push_notes(app, &v.note_lines, &mut out);
    super::profile_history::push_history(app, &v.target.email, &v.history, &mut out);
    push_audit(app, v, &mut out);
    out
}

fn push_audit<'a>(app: &'a App, v: &'a ProfileView, out: &mut Vec<Line<'a>>) {
    let t = &app.theme;
    out.push(Line::default());
    out.push(Line::from(Span::styled("Recent activity", t.accent)));
    if v.audit.is_empty() {
        out.push(Line::from(Span::styled("  nothing recorded", t.muted)));
    }
    for e in &v.audit {
        let outcome_style = if e.outcome == "ok" { t.muted } else { t.alert };
        out.push(Line::from(vec![
            text(format!("  {}  ", datetime(e.at)), t.muted),
            Span::styled(e.action.as_str(), t.base),
            text(format!("  {}", e.actor), t.muted),
            text(
                if e.outcome == "ok" {
                    String::new()
                } else {
                    format!("  {}", e.outcome)
                },
                outcome_style,
            ),
        ]));
    }
}
