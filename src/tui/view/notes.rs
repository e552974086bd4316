//! Notes: the note being written (several lines, with its length), Save,
//! then the contact's notes newest first, then Close.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::confirm::button;
use super::{centered, dialog_frame, spinner};
use crate::tui::app::App;
use crate::tui::note_editor::{MAX_CHARS, NoteEditor, NoteField, NoteLine};
use crate::tui::sanitize::clean;

/// Draws the dialog over the contact's notes (the loaded profile's,
/// newest first), or says they are on their way.
pub fn draw(app: &App, e: &NoteEditor, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let notes: &[NoteLine] = app
        .profile_of(e.target.contact_id)
        .filter(|_| !e.loading)
        .map_or(&[], |p| p.note_lines.as_slice());
    let width = 76.min(area.width.saturating_sub(2)).max(24);
    let height = 22.min(area.height.saturating_sub(2)).max(12);
    let outer = centered(area, width, height);
    let inner = dialog_frame(app, frame, outer, "Notes", false);
    let inner = inner.inner(ratatui::layout::Margin::new(1, 0));
    let [who, editor, save, list, close] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(5),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    frame.render_widget(
        Paragraph::new(Span::styled(
            format!("{} <{}>", e.target.name, e.target.email),
            t.muted,
        )),
        who,
    );

    // The editor shows its last lines, so the caret line is always in view.
    let focused = e.focus == NoteField::Text;
    let rows = usize::from(editor.height);
    // What is typed or pasted is drawn sanitised too (a bidi override or
    // a zero-width character is kept in the note, never sent to the screen).
    let cleaned: Vec<String> = e.text.split('\n').map(clean).collect();
    let mut text_lines: Vec<&str> = cleaned.iter().map(String::as_str).collect();
    let first = text_lines.len().saturating_sub(rows);
    text_lines.drain(..first);
    let bar = Span::styled("▏", if focused { t.accent } else { t.border });
    let shown: Vec<Line> = if e.text.is_empty() && !focused {
        vec![Line::from(vec![bar, Span::styled("New note", t.muted)])]
    } else {
        text_lines
            .iter()
            .map(|l| Line::from(vec![bar.clone(), Span::styled(*l, t.input)]))
            .collect()
    };
    frame.render_widget(Paragraph::new(shown), editor);
    if focused && !e.running {
        let last = text_lines.last().copied().unwrap_or_default();
        let col = u16::try_from(unicode_width::UnicodeWidthStr::width(last)).unwrap_or(0);
        let y = editor.y + u16::try_from(text_lines.len().saturating_sub(1)).unwrap_or(0);
        frame.set_cursor_position((
            (editor.x + 1 + col).min(editor.right().saturating_sub(1)),
            y,
        ));
    }

    let status = match (&e.error, e.running) {
        (_, true) => Span::styled(format!("{} Saving…", spinner(app)), t.muted),
        (Some(err), false) => Span::styled(err.as_str(), t.alert),
        (None, false) => Span::styled(
            format!("{}/{MAX_CHARS} · Enter new line · Ctrl-S save", e.count()),
            t.muted,
        ),
    };
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            status,
            Span::raw("  "),
            button(app, "Save", e.focus == NoteField::Save),
        ])),
        save,
    );

    let mut lines = Vec::new();
    if e.loading {
        lines.push(Line::from(Span::styled(
            format!("{} loading notes…", spinner(app)),
            t.muted,
        )));
    } else if notes.is_empty() {
        lines.push(Line::from(Span::styled("No notes yet", t.muted)));
    }
    let list_focused = e.focus == NoteField::List;
    for (i, note) in notes.iter().enumerate() {
        let selected = list_focused && i == e.selected;
        lines.push(Line::from(vec![
            Span::styled(
                format!("{} {} ", note.at.format("%Y-%m-%d %H:%M"), note.author),
                if selected { t.focused } else { t.muted },
            ),
            Span::styled(if selected { " Delete removes it" } else { "" }, t.muted),
        ]));
        for l in &note.lines {
            lines.push(Line::from(Span::styled(format!("  {l}"), t.base)));
        }
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), list);
    frame.render_widget(
        Paragraph::new(button(app, "Close", e.focus == NoteField::Close)).right_aligned(),
        close,
    );
}
