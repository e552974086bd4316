//! The search line and the contacts table.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Cell, Paragraph, Row as TableRow, Table};

use super::format::{date, thousands};
use super::rows::{mark, render_rows};
use super::spinner;
use crate::desk::{KindFilter, MatchCount};
use crate::tui::app::{App, Focus, Kind};

const FILTERS: [KindFilter; 4] = [
    KindFilter::All,
    KindFilter::Customers,
    KindFilter::Subscribers,
    KindFilter::Neither,
];

/// `Search: [text]   All  Customers  Subscribers  Contacts`
pub fn draw_search_line(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let filters_width: u16 = FILTERS
        .iter()
        .map(|f| u16::try_from(f.label().len()).unwrap_or(u16::MAX) + 3)
        .sum::<u16>();
    // The filters keep their width at the right; the box takes the rest.
    let filters_width = filters_width.min(area.width.saturating_sub(16));
    let filters = Rect {
        x: area.right().saturating_sub(filters_width),
        width: filters_width,
        ..area
    };
    let label = Rect {
        width: 8.min(area.width),
        ..area
    };
    let input = Rect {
        x: label.right(),
        width: filters.x.saturating_sub(label.right()).saturating_sub(1),
        ..area
    };
    let focused = app.focus == Focus::Search
        && app.dialogs.is_empty()
        && app.context() == crate::tui::keymap::Context::Search;
    frame.render_widget(
        Paragraph::new(Span::styled(
            " Search ",
            if focused { t.accent } else { t.muted },
        )),
        label,
    );
    let width = usize::from(input.width.saturating_sub(1));
    let scroll = app.search.visual_scroll(width);
    let style = if focused { t.input } else { t.base };
    let text = if app.search.value().is_empty() && !focused {
        Span::styled(
            format!(
                "{} to search",
                app.keymap.first_key(crate::tui::keymap::Command::Search)
            ),
            t.muted,
        )
    } else {
        Span::styled(app.search.value(), style)
    };
    frame.render_widget(
        Paragraph::new(Line::from(text)).scroll((0, u16::try_from(scroll).unwrap_or(0))),
        input,
    );
    if focused {
        let x = app.search.visual_cursor().saturating_sub(scroll);
        let x = input
            .x
            .saturating_add(u16::try_from(x).unwrap_or(u16::MAX))
            .min(input.right().saturating_sub(1));
        frame.set_cursor_position((x, input.y));
    }
    let mut spans = vec![Span::raw(" ")];
    for f in FILTERS {
        let style = if f == app.kind { t.selection } else { t.muted };
        spans.push(Span::styled(format!(" {} ", f.label()), style));
        spans.push(Span::raw(" "));
    }
    spans.pop();
    frame.render_widget(Paragraph::new(Line::from(spans)), filters);
}

fn count_text(app: &App) -> String {
    let n = match app.list.total {
        Some(MatchCount::Exact(n)) => thousands(n),
        Some(MatchCount::Estimate(n)) => format!("about {}", thousands(n)),
        None => "…".into(),
    };
    let word = if app.list.total.is_some_and(|t| t.value() == 1) {
        "match"
    } else {
        "matches"
    };
    if app.list.loading || app.list.loading_more.is_some() {
        format!(" {} {n} {word} ", spinner(app))
    } else {
        format!(" {n} {word} ")
    }
}

/// " Contacts · Locked, Holds Course · 3 selected ": the active filters
/// and the selection (the match count is on the right).
fn title(app: &App) -> String {
    let mut title = " Contacts ".to_owned();
    if !app.filters.active.is_empty() {
        let names: Vec<String> = app
            .filters
            .active
            .iter()
            .map(|f| app.filters.label(*f))
            .collect();
        title.push_str(&format!("· {} ", names.join(", ")));
    }
    if !app.selection.is_empty() {
        title.push_str(&format!(
            "· {} selected ",
            thousands(app.selection.len() as u64)
        ));
    }
    title
}

/// The contacts table inside its frame.
pub fn draw_table(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let focused = app.focus == Focus::List && app.dialogs.is_empty();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .title(Span::styled(title(app), t.accent))
        .title_top(Line::from(Span::styled(count_text(app), t.muted)).right_aligned());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    if app.list.rows.is_empty() {
        let text = if let Some(err) = &app.list.error {
            Line::from(Span::styled(format!("Search failed: {err}"), t.alert))
        } else if app.list.loading || app.list.total.is_none() {
            Line::from(Span::styled(
                format!("{} Searching…", spinner(app)),
                t.muted,
            ))
        } else if app.search.value().is_empty() {
            Line::from(Span::styled(
                format!("No {} yet.", app.kind.label().to_lowercase()),
                t.muted,
            ))
        } else {
            Line::from(Span::styled(
                format!(
                    "No contact matches “{}” in {}.",
                    app.search.value(),
                    app.kind.label()
                ),
                t.muted,
            ))
        };
        frame.render_widget(Paragraph::new(text), inner);
        return;
    }
    if app.filters.lockout_view() {
        super::lockout::draw(app, frame, inner, focused);
        return;
    }
    let show_added = inner.width >= 70;
    // The mark column appears with the first selected contact.
    let marks = !app.selection.is_empty();
    let mut widths = vec![
        Constraint::Fill(3),
        Constraint::Fill(4),
        Constraint::Length(13),
    ];
    let mut header = vec![Cell::from("Name"), Cell::from("Email"), Cell::from("Kind")];
    if show_added {
        widths.push(Constraint::Length(10));
        header.push(Cell::from("Added"));
    }
    if marks {
        widths.insert(0, Constraint::Length(1));
        header.insert(0, Cell::from(""));
    }
    let visible = usize::from(inner.height.saturating_sub(1));
    let end = (app.list.offset + visible).min(app.list.rows.len());
    let rows = app.list.rows[app.list.offset.min(end)..end]
        .iter()
        .map(|r| {
            let kind = r.kind();
            let badge_style = match kind {
                Kind::Customer => t.badge_customer,
                Kind::Subscriber => t.badge_subscriber,
                Kind::Contact => t.badge_contact,
            };
            let mut cells = vec![
                Cell::from(r.name.as_str()),
                Cell::from(r.email.as_str()),
                Cell::from(if kind == Kind::Customer && r.subscriber {
                    // Customer and subscriber at once, as the dashboard shows both.
                    Line::from(vec![
                        Span::styled(kind.label(), badge_style),
                        Span::styled(" +sub", t.badge_subscriber),
                    ])
                } else {
                    Line::from(Span::styled(kind.label(), badge_style))
                }),
            ];
            if show_added {
                cells.push(Cell::from(Span::styled(date(r.created_at), t.muted)));
            }
            if marks {
                cells.insert(0, mark(app, r.id));
            }
            TableRow::new(cells)
        });
    let table = Table::new(rows, widths)
        .header(TableRow::new(header).style(t.muted.add_modifier(Modifier::BOLD)))
        .column_spacing(1);
    render_rows(app, frame, inner, table, focused);
}
