//! The profile's dialogs and sections as insta snapshots at 80x24 and
//! 120x40: Edit contact, the offer picker (Grant Offer with offers loaded
//! and narrowed, Revoke Offer), Notes with a note being written, and the
//! Notes and Email history sections of a profile. Create or update them
//! with `INSTA_UPDATE=always cargo test --test tui profile_snapshots::`.

use keydesk::desk::offers::OfferEntry;
use keydesk::tui::app::App;
use keydesk::tui::msg::Msg;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

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

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        feed(
            app,
            if c == '\n' {
                code(KeyCode::Enter)
            } else {
                key(c)
            },
        );
    }
}

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

fn offer(id: i64, name: &str, products: &str) -> OfferEntry {
    OfferEntry {
        id,
        name: name.into(),
        products: products.into(),
        holders: 3,
    }
}

#[test]
fn edit_contact_dialog() {
    for (w, h) in SIZES {
        let mut app = console(w, h);
        feed(&mut app, key('e'));
        feed(&mut app, code(KeyCode::Tab));
        typed(&mut app, ".uk");
        snap!(format!("edit_contact_{w}x{h}"), app);
    }
}

#[test]
fn grant_offer_picker() {
    for (w, h) in SIZES {
        let mut app = console(w, h);
        feed(&mut app, key('.'));
        feed(&mut app, key('a'));
        let contact_id = app.target().unwrap().contact_id;
        feed(
            &mut app,
            Msg::PickerOffersLoaded {
                contact_id,
                // Desk answers the offers she does not hold (she holds
                // Community and Rust Mastery).
                result: Ok(vec![
                    offer(2, "Go Deep", "Course: Go"),
                    offer(3, "Rust Basics", "Course: Rust"),
                ]),
            },
        );
        typed(&mut app, "ru");
        feed(&mut app, code(KeyCode::Down));
        snap!(format!("grant_offer_{w}x{h}"), app);
    }
}

#[test]
fn revoke_offer_picker() {
    for (w, h) in SIZES {
        let mut app = console(w, h);
        feed(&mut app, key('.'));
        feed(&mut app, key('d'));
        let contact_id = app.target().unwrap().contact_id;
        feed(
            &mut app,
            Msg::PickerOffersLoaded {
                contact_id,
                result: Ok(vec![
                    offer(1, "Rust Mastery", "Course: Rust"),
                    offer(2, "Community", ""),
                ]),
            },
        );
        snap!(format!("revoke_offer_{w}x{h}"), app);
    }
}

#[test]
fn notes_dialog() {
    for (w, h) in SIZES {
        let mut app = console(w, h);
        feed(&mut app, key('n'));
        typed(
            &mut app,
            "Called her about the invoice.\nWill call back \x1b[2J tomorrow.",
        );
        snap!(format!("notes_{w}x{h}"), app);
    }
}

/// Notes opened from the list at 80x24 (the profile not on screen) waits
/// for the contact's notes from desk and says so; then lists them.
#[test]
fn notes_from_the_list_load_first() {
    let mut app = console(80, 24);
    assert!(!app.profile_visible());
    let cmds = keydesk::tui::update::update(&mut app, key('n'));
    assert!(
        cmds.iter()
            .any(|c| matches!(c, keydesk::tui::msg::Cmd::LoadProfile { .. })),
        "Notes asks for the contact's notes: {cmds:?}"
    );
    snap!("notes_loading_80x24", app);
    let mut app = console(80, 24);
    feed(&mut app, key('n'));
    snap!("notes_loaded_80x24", app);
}

#[test]
fn profile_notes_and_email_history() {
    for (w, h) in SIZES {
        let mut app = console(w, h);
        if w < 100 {
            feed(&mut app, code(KeyCode::Enter));
        }
        // Scroll the profile to its last sections.
        for _ in 0..3 {
            feed(
                &mut app,
                Msg::Key(KeyEvent::new(KeyCode::PageDown, KeyModifiers::NONE)),
            );
        }
        snap!(format!("profile_history_{w}x{h}"), app);
    }
}
