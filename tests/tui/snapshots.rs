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

/// `f`, the offers arrive, Enter on the first line (Locked): the menu open.
fn locked_on(app: &mut App) {
    feed(app, key('f'));
    feed(
        app,
        Msg::OffersLoaded(Ok(vec![keydesk::desk::filters::OfferChoice {
            id: 1,
            name: "Rust Mastery".into(),
        }])),
    );
    feed(app, code(KeyCode::Enter));
}

/// The console with the Locked filter on (`f`, Enter on the first line):
/// three locked rows with their facts.
fn lockout_view(w: u16, h: u16) -> App {
    lockout_view_of(console(w, h))
}

fn lockout_view_of(mut app: App) -> App {
    use keydesk::desk::filters::Lockout;
    locked_on(&mut app);
    feed(&mut app, code(KeyCode::Esc));
    let ids: Vec<i64> = app.list.rows.iter().take(3).map(|r| r.id).collect();
    let generation = app.filters.generation;
    feed(
        &mut app,
        Msg::FilterSetLoaded {
            generation,
            result: Ok(Some(ids.iter().copied().collect())),
        },
    );
    let rows: Vec<_> = crate::support::console_fixture::rows()
        .into_iter()
        .filter(|r| ids.contains(&r.id))
        .collect();
    let generation = app.list.generation;
    feed(
        &mut app,
        Msg::SearchDone {
            generation,
            append: false,
            result: Ok(keydesk::store::contacts::SearchPage {
                total: keydesk::store::contacts::MatchCount::Exact(3),
                rows,
                next: None,
            }),
        },
    );
    let t0 = crate::support::console_fixture::t0();
    let facts = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let mins = 5 + 20 * i64::try_from(i).unwrap();
            (
                *id,
                Lockout {
                    began: t0 - chrono::TimeDelta::minutes(mins),
                    until: t0 + chrono::TimeDelta::minutes(15 - mins.min(14)),
                    failures: 10,
                    source: format!("203.0.113.{}", 7 + i),
                },
            )
        })
        .collect();
    feed(&mut app, Msg::LockoutsLoaded(Ok(facts)));
    app
}

#[test]
fn on_call_screens() {
    use keydesk::desk::bulk::{BulkAction, BulkPlan, BulkProgress, Skip};
    for (w, h) in [(80, 24), (120, 40)] {
        let mut app = console(w, h);
        locked_on(&mut app);
        snap!(format!("filter_menu_{w}x{h}"), app);

        let mut app = lockout_view(w, h);
        feed(&mut app, key(' '));
        snap!(format!("lockout_view_{w}x{h}"), app);

        let mut app = console(w, h);
        feed(&mut app, key(' '));
        feed(
            &mut app,
            Msg::BulkPlanned(Ok(BulkPlan {
                action: BulkAction::ResetPassword,
                act_on: (1..=47).collect(),
                skipped: vec![(48, Skip::NotACustomer), (49, Skip::Cooldown)],
            })),
        );
        for c in "47".chars() {
            feed(&mut app, key(c));
        }
        snap!(format!("bulk_confirm_{w}x{h}"), app);
        feed(&mut app, code(KeyCode::Enter));
        feed(&mut app, Msg::BulkStarted(3));
        feed(
            &mut app,
            Msg::BulkProgress(BulkProgress {
                job_id: 3,
                total: 47,
                done: 20,
                skipped: 1,
                failed: 0,
            }),
        );
        snap!(format!("bulk_running_{w}x{h}"), app);
    }
}

/// In mono (`NO_COLOR`) the on-call screens use no colour at all, and what
/// has the focus still stands out: the filter menu's line and the lockout
/// view's row are drawn reversed, a selected contact carries its mark.
#[test]
fn on_call_screens_in_mono() {
    use keydesk::tui::theme::Theme;
    use ratatui::style::{Color, Modifier};

    fn check(app: &mut App, what: &str) -> Vec<String> {
        let terminal = screen(app);
        let buffer = terminal.backend().buffer();
        let mut reversed = Vec::new();
        for y in 0..buffer.area.height {
            let mut line = String::new();
            for x in 0..buffer.area.width {
                let cell = &buffer[(x, y)];
                assert!(
                    matches!(cell.fg, Color::Reset) && matches!(cell.bg, Color::Reset),
                    "{what}: a colour at {x},{y} in mono"
                );
                if cell.modifier.contains(Modifier::REVERSED) {
                    line.push_str(cell.symbol());
                }
            }
            if !line.trim().is_empty() {
                reversed.push(line.trim().to_owned());
            }
        }
        reversed
    }

    for (w, h) in [(80, 24), (120, 40)] {
        let mut app = crate::support::console_fixture::console_with(w, h, Theme::mono());
        locked_on(&mut app);
        // Enter turned Locked on; the focus stays on its line.
        let reversed = check(&mut app, "filter menu");
        assert!(
            reversed.iter().any(|l| l.contains("Locked")),
            "{w}x{h}: the focused filter line is reversed: {reversed:?}"
        );

        let mut app = lockout_view_of(crate::support::console_fixture::console_with(
            w,
            h,
            Theme::mono(),
        ));
        // Space marks the row and moves on to the next.
        let marked = app.list.rows[app.list.selected].name.clone();
        feed(&mut app, key(' '));
        let focused = app.list.rows[app.list.selected].name.clone();
        let reversed = check(&mut app, "lockout view");
        assert!(
            reversed.iter().any(|l| l.contains(&focused))
                && !reversed.iter().any(|l| l.contains(&marked)),
            "{w}x{h}: only the focused row is reversed: {reversed:?}"
        );
        let terminal = screen(&mut app);
        let text = format!("{}", terminal.backend());
        assert!(
            text.lines().any(|l| l.contains(&format!("● {marked}"))),
            "{w}x{h}: the marked row carries its mark without colour:\n{text}"
        );
    }
}
