//! Below the minimum size the console says so instead of drawing a
//! broken layout; it draws something sensible at any size, 1x1 included.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::tui::app::{App, MIN_COLS, MIN_ROWS};

/// Draws the notice.
pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let lines = vec![
        Line::from(Span::styled("Terminal too small", t.alert)),
        Line::from(Span::styled(
            format!(
                "{}x{}; keydesk needs {MIN_COLS}x{MIN_ROWS}.",
                area.width, area.height
            ),
            t.base,
        )),
        Line::from(Span::styled(
            "Enlarge the window, or press q to quit.",
            t.muted,
        )),
    ];
    let height = u16::try_from(lines.len()).unwrap_or(3);
    let y = area.y + area.height.saturating_sub(height) / 2;
    let inner = Rect {
        y,
        height: area.bottom().saturating_sub(y),
        ..area
    };
    frame.render_widget(
        Paragraph::new(lines).centered().wrap(Wrap { trim: true }),
        inner,
    );
}
