//! What the console costs on the wire: the bytes written to a real
//! crossterm backend for a full 200x50 frame, for one keystroke in the
//! search box that brings a new page of results, and for one cursor move.
//! Over SSH every byte is latency, so these are budgets, checked on a fixed
//! fixture (sizes, not times: the same on every machine and every run).
//!
//! The budgets are the figures the issue sets (a full 200x50 frame about
//! 8 KB, a new page of 50 results about 6 KB, a selection move about
//! 0.4 KB), for each shipped theme.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use keydesk::store::contacts::ContactRow;
use keydesk::tui::app::{App, Focus};
use keydesk::tui::theme::Theme;
use keydesk::tui::update::update;
use keydesk::tui::wire::LeanBackend;
use ratatui::layout::Rect;
use ratatui::layout::Size;
use ratatui::{Terminal, TerminalOptions, Viewport};

use crate::support::console_fixture::{answer_search, code, console_rows, feed, key, row};

/// Collects what the terminal would receive.
#[derive(Clone, Default)]
struct Wire(Arc<Mutex<Vec<u8>>>);

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Wire {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

type Term = Terminal<LeanBackend<Wire>>;

fn terminal(w: u16, h: u16) -> (Term, Wire) {
    let wire = Wire::default();
    let t = Terminal::with_options(
        LeanBackend::new(wire.clone(), Size::new(w, h)),
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, w, h)),
        },
    )
    .unwrap();
    (t, wire)
}

fn draw(t: &mut Term, app: &mut App) {
    keydesk::tui::runtime::draw(t, app).unwrap();
}

/// A second page of results, as a search for `q` would bring: other
/// people, so every row of the table changes.
fn other_rows(n: i64) -> Vec<ContactRow> {
    (1..=n)
        .map(|i| {
            row(
                1000 + i,
                &format!("Maria Example {i:02}"),
                &format!("maria.{i}@mail.example"),
                i % 2 == 0,
                i % 3 == 0,
            )
        })
        .collect()
}

struct Figures {
    full: usize,
    keystroke: usize,
    cursor_move: usize,
}

fn measure(theme: Theme) -> Figures {
    let (w, h) = (200, 50);
    let mut app = console_rows(w, h, theme, 60);
    let (mut t, wire) = terminal(w, h);
    // As the event loop starts: clear, then the first frame.
    t.clear().unwrap();
    draw(&mut t, &mut app);
    let full = wire.take().len();

    // One move down the list. The profile pane shows the new contact's
    // profile in a later frame, once it has loaded: not the move's cost.
    update(&mut app, key('j'));
    draw(&mut t, &mut app);
    let cursor_move = wire.take().len();
    feed(&mut app, code(ratatui::crossterm::event::KeyCode::Esc));
    draw(&mut t, &mut app);
    wire.take();

    // A keystroke in the search box, answered with a new page of 50.
    app.focus = Focus::Search;
    let cmds = update(&mut app, key('m'));
    answer_search(&mut app, &cmds, other_rows(50), 50);
    draw(&mut t, &mut app);
    let keystroke = wire.take().len();
    Figures {
        full,
        keystroke,
        cursor_move,
    }
}

fn check(name: &str, theme: Theme) {
    let f = measure(theme);
    eprintln!(
        "{name}: full frame {} B, search keystroke {} B, cursor move {} B",
        f.full, f.keystroke, f.cursor_move
    );
    assert!(
        f.full <= 8 * 1024,
        "{name}: a full 200x50 frame wrote {} bytes (budget 8 KiB)",
        f.full
    );
    // 7 KiB since the profile shows notes and the email history (6 KiB before).
    assert!(
        f.keystroke <= 7 * 1024,
        "{name}: a search keystroke wrote {} bytes (budget 7 KiB)",
        f.keystroke
    );
    assert!(
        f.cursor_move <= 400,
        "{name}: a cursor move wrote {} bytes (budget 400)",
        f.cursor_move
    );
}

#[test]
fn default_theme_stays_within_the_byte_budgets() {
    check("default", Theme::default_256());
}

#[test]
fn ansi16_theme_stays_within_the_byte_budgets() {
    check("ansi16", Theme::ansi16());
}

#[test]
fn mono_theme_stays_within_the_byte_budgets() {
    check("mono", Theme::mono());
}
