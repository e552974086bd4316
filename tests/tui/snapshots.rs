//! The console's screens as insta snapshots of ratatui's TestBackend, at
//! 80x24 (profile replaces the list) and 120x40 (side by side), plus the
//! small-terminal notice. Create or update them locally with
//! `INSTA_UPDATE=always cargo test --test tui snapshots::` (insta never
//! writes snapshots when CI=true).

use keydesk::tui::app::App;
use keydesk::tui::msg::{Msg, PolicyFeedback};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::KeyCode;

use crate::support::console_fixture::{code, console, feed, key};

fn screen(app: &mut App) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(app.size.0, app.size.1)).unwrap();
    terminal.draw(|f| keydesk::tui::view::draw(app, f)).unwrap();
    terminal
}

macro_rules! snap {
    ($name:expr, $app:expr) => {{
        let terminal = screen(&mut $app);
        insta::assert_snapshot!($name, terminal.backend());
    }};
}

#[test]
fn list() {
    let mut narrow = console(80, 24);
    snap!("list_80x24", narrow);
    let mut wide = console(120, 40);
    snap!("list_120x40", wide);
}

#[test]
fn profile_pane() {
    let mut narrow = console(80, 24);
    feed(&mut narrow, code(KeyCode::Enter));
    snap!("profile_80x24", narrow);
    let mut wide = console(120, 40);
    feed(&mut wide, key('j'));
    snap!("profile_120x40", wide);
}

#[test]
fn reset_password_confirmation() {
    for (w, h) in [(80, 24), (120, 40)] {
        let mut app = console(w, h);
        feed(&mut app, key('r'));
        snap!(format!("confirm_reset_{w}x{h}"), app);
    }
}

#[test]
fn more_actions_menu() {
    for (w, h) in [(80, 24), (120, 40)] {
        let mut app = console(w, h);
        feed(&mut app, key('.'));
        snap!(format!("menu_{w}x{h}"), app);
    }
}

#[test]
fn change_password_dialog() {
    for (w, h) in [(80, 24), (120, 40)] {
        let mut app = console(w, h);
        feed(&mut app, key('.'));
        feed(&mut app, key('c'));
        for c in "hunter2".chars() {
            feed(&mut app, key(c));
        }
        let generation = app.check_generation;
        feed(
            &mut app,
            Msg::PolicyChecked {
                generation,
                feedback: PolicyFeedback {
                    ok: false,
                    problems: vec![
                        "Use at least 12 characters.".into(),
                        "This password is too easy to guess.".into(),
                    ],
                    strength: None,
                },
            },
        );
        snap!(format!("change_password_{w}x{h}"), app);
    }
}

#[test]
fn help_screen() {
    for (w, h) in [(80, 24), (120, 40)] {
        let mut app = console(w, h);
        feed(&mut app, key('?'));
        snap!(format!("help_{w}x{h}"), app);
    }
}

#[test]
fn not_a_customer_notice() {
    for (w, h) in [(80, 24), (120, 40)] {
        let mut app = console(w, h);
        feed(&mut app, key('j'));
        feed(&mut app, key('j'));
        feed(&mut app, key('r'));
        snap!(format!("not_a_customer_{w}x{h}"), app);
    }
}

#[test]
fn small_terminal_notice() {
    let mut app = console(50, 12);
    snap!("too_small_50x12", app);
}

#[test]
fn every_size_draws_without_panicking() {
    // Resizing at any moment, to any size, with any dialog open.
    for opener in [None, Some('r'), Some('.'), Some('?')] {
        let mut app = console(120, 40);
        if let Some(c) = opener {
            feed(&mut app, key(c));
        }
        for (w, h) in [
            (1, 1),
            (2, 1),
            (1, 2),
            (10, 3),
            (59, 15),
            (60, 16),
            (61, 17),
            (99, 30),
            (100, 30),
            (250, 80),
            (80, 24),
        ] {
            feed(&mut app, Msg::Resize(w, h));
            screen(&mut app);
        }
    }
}
