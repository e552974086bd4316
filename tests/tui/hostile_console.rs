//! Hostile contact data in the console: names, emails, offers and notes
//! holding ANSI and OSC sequences (title, OSC 52 clipboard), bidi
//! overrides, zero-width characters, CR/LF and 10,000 characters.
//!
//! Drawn into ratatui's `TestBackend`, no cell holds a control, bidi or
//! zero-width character and every contact stays on its own row. Run in the
//! real binary in a pseudo-terminal, read by a vt100 parser that records
//! what the output asks of the terminal: no title change, no clipboard
//! write, no bell, the header on the first row, the footer on the last,
//! and each hostile contact on one row beside its email.

use std::time::Duration;

use keydesk::desk::profile::HeldOffer;
use keydesk::desk::{ContactRow, Profile};
use keydesk::tui::app::App;
use keydesk::tui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::KeyCode;

use crate::support::console::{Console, console_env, open_desk};
use crate::support::console_fixture::{Fixture, code, key, t0};
use crate::support::hostile::is_hostile_char;
use crate::support::people;

/// (name, email) pairs; the emails are plain so a row can be found by them.
fn hostile() -> Vec<(String, String)> {
    [
        "Eve\x1b]0;pwned\x07\x1b]2;pwned\x1b\\Title",
        "Mallory\x1b]52;c;ZXZpbA==\x07Clip",
        "Ansi\x1b[2J\x1b[H\x1b[31mRed\x1b[0m\x1b[10;10H",
        "Bidi\u{202e}gnp.exe\u{202c}\u{2067}x\u{2069}",
        "Zero\u{200b}\u{200c}\u{200d}\u{2060}\u{feff}Width",
        "Crlf\r\nSecond line\rCarriage",
        "C1\u{9b}2J\u{9d}0;t\u{9c}Del\x7f",
    ]
    .iter()
    .enumerate()
    .map(|(i, n)| ((*n).to_owned(), format!("hostile{i}@example.com")))
    .chain([
        ("L".repeat(10_000), "hostilelong@example.com".to_owned()),
        (
            "\u{202e}\x1b[1m\r\n".repeat(2_000),
            "hostilemix@example.com".to_owned(),
        ),
        (
            "Hostile Email".to_owned(),
            "eve\x1b]52;c;QQ==\x07\u{202e}\x1b]0;pwned\x07@example.com\r\nBcc: x".to_owned(),
        ),
    ])
    .collect()
}

/// The list pane of a screen row: up to where two frames meet (the
/// profile pane beside it shows the selected contact's email again).
fn list_pane(line: &str) -> &str {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let bar = |c: char| matches!(c, '│' | '┃');
    chars
        .windows(2)
        .find(|w| bar(w[0].1) && bar(w[1].1))
        .map_or(line, |w| &line[..w[0].0])
}

// ------------------------------------------------------ TestBackend ----

fn rows() -> Vec<ContactRow> {
    hostile()
        .into_iter()
        .enumerate()
        .map(|(i, (name, email))| ContactRow {
            id: i64::try_from(i).unwrap() + 1,
            name_lower: name.to_lowercase(),
            name,
            email,
            customer: true,
            subscriber: i % 2 == 0,
            created_at: t0(),
        })
        .collect()
}

fn profile(r: &ContactRow) -> Profile {
    Profile {
        contact_id: r.id,
        name: r.name.clone(),
        email: r.email.clone(),
        added_on: t0(),
        updated_at: t0(),
        subscriber: r.subscriber,
        tags: r.name.clone(),
        notes: format!("{}\n{}", r.name, r.name),
        offers: vec![HeldOffer {
            name: r.name.clone(),
            products: r.name.clone(),
            source: "granted".into(),
            granted_by: r.name.clone(),
            granted_at: t0(),
        }],
        account: None,
        open_links: Vec::new(),
        latest_mail: None,
        activity: Vec::new(),
        // Notes and the email history repeat the hostile name too.
        notes_written: vec![keydesk::desk::notes::NoteEntry {
            id: 1,
            author: r.name.clone(),
            created_at: r.created_at,
            text: format!("{}\n{}", r.name, r.email),
        }],
        email_history: vec![keydesk::desk::email_history::SentMail {
            id: 1,
            kind: r.name.clone(),
            recipient: r.email.clone(),
            queued_at: r.created_at,
            sent_at: None,
            state: "failed".into(),
            attempts: 3,
            last_error: r.name.clone(),
        }],
    }
}

/// The hostile contacts, each with a profile that repeats its name.
fn fixture() -> Fixture {
    Fixture {
        row_of: Box::new(|id| rows().into_iter().find(|r| r.id == id)),
        profile_of: profile,
    }
}

fn console(fixture: &Fixture, w: u16, h: u16) -> App {
    let rows = rows();
    let total = rows.len() as u64;
    fixture.open(w, h, Theme::mono(), rows, total, None)
}

/// The screen's lines, after checking every cell.
fn draw(app: &mut App, what: &str) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(app.size.0, app.size.1)).unwrap();
    terminal.draw(|f| keydesk::tui::view::draw(app, f)).unwrap();
    let buffer = terminal.backend().buffer().clone();
    let mut lines = Vec::new();
    for y in 0..buffer.area.height {
        let mut line = String::new();
        for x in 0..buffer.area.width {
            let symbol = buffer[(x, y)].symbol();
            assert!(
                !symbol.chars().any(is_hostile_char),
                "{what}: cell ({x},{y}) holds {symbol:?}"
            );
            line.push_str(symbol);
        }
        lines.push(line);
    }
    lines
}

#[test]
fn hostile_text_draws_inert_and_in_place_at_every_size() {
    let fixture = fixture();
    for (w, h) in [(80, 24), (120, 40), (200, 50)] {
        let mut app = console(&fixture, w, h);
        let lines = draw(&mut app, &format!("list {w}x{h}"));
        // Each contact that fits is on exactly one row, beside its email.
        let visible = usize::from(h).saturating_sub(8).min(hostile().len());
        for (name, email) in hostile().into_iter().take(visible) {
            if email.chars().any(is_hostile_char) {
                continue;
            }
            // The list row (the profile pane beside it shows the email alone).
            let rows: Vec<&str> = lines
                .iter()
                .map(|l| list_pane(l))
                .filter(|l| l.contains(&email))
                .collect();
            assert_eq!(
                rows.len(),
                1,
                "{w}x{h}: {email} on {} rows:\n{}",
                rows.len(),
                lines.join("\n")
            );
            let start: String = keydesk::tui::sanitize::clean(&name)
                .chars()
                .take(3)
                .collect();
            assert!(
                rows[0].contains(&start),
                "{w}x{h}: {email} row: {}",
                rows[0]
            );
        }
        // Every hostile contact's profile and the Reset Password dialog.
        for i in 0..hostile().len() {
            let mut app = console(&fixture, w, h);
            for _ in 0..i {
                fixture.feed(&mut app, code(KeyCode::Down));
            }
            fixture.feed(&mut app, code(KeyCode::Enter));
            draw(&mut app, &format!("profile {i} {w}x{h}"));
            fixture.feed(&mut app, key('r'));
            let lines = draw(&mut app, &format!("reset dialog {i} {w}x{h}"));
            assert!(
                lines
                    .iter()
                    .any(|l| l.contains("Send a password reset email to")),
                "{w}x{h}: no reset dialog for contact {i}:\n{}",
                lines.join("\n")
            );
        }
    }
}

/// Notes on every hostile contact at 80x24 and 120x40: their hostile
/// notes, and what an agent types or pastes (control characters, bidi
/// overrides, zero-width characters, 10,000 characters), draw inert; the
/// editor takes at most 2,000 characters and says so.
#[test]
fn hostile_notes_draw_inert_and_stop_at_the_limit() {
    let fixture = fixture();
    let pasted = format!(
        "Paste\x1b[2J\x1b]0;pwned\x07\u{202e}gnp.exe\u{200b}\r\n{}",
        "N".repeat(10_000)
    );
    for (w, h) in [(80, 24), (120, 40)] {
        for i in 0..hostile().len() {
            let mut app = console(&fixture, w, h);
            for _ in 0..i {
                fixture.feed(&mut app, code(KeyCode::Down));
            }
            fixture.feed(&mut app, key('n'));
            let lines = draw(&mut app, &format!("notes {i} {w}x{h}"));
            assert!(
                lines.iter().any(|l| l.contains("Enter new line")),
                "{w}x{h}: no Notes for contact {i}:\n{}",
                lines.join("\n")
            );
            fixture.feed(&mut app, key('\u{202e}'));
            fixture.feed(&mut app, key('\u{200b}'));
            fixture.feed(&mut app, keydesk::tui::msg::Msg::Paste(pasted.clone()));
            let lines = draw(&mut app, &format!("notes typed {i} {w}x{h}"));
            assert!(
                lines
                    .iter()
                    .any(|l| l.contains("A note holds at most 2000 characters")),
                "{w}x{h}: the limit is not said:\n{}",
                lines.join("\n")
            );
            assert!(
                lines.iter().any(|l| l.contains("▏Paste[2J]0;pwnedgnp.exe")),
                "{w}x{h}: the pasted line is not shown sanitised:\n{}",
                lines.join("\n")
            );
        }
    }
}

// -------------------------------------------------------------- pty ----

/// What the output asked of the terminal beyond drawing.
#[derive(Default)]
struct Requests {
    titles: Vec<Vec<u8>>,
    clipboard: Vec<Vec<u8>>,
    bells: usize,
    unknown_osc: Vec<String>,
    /// Characters the terminal could not print (and did not advance for).
    unprintable: Vec<char>,
}

#[derive(Default)]
struct Recorder(Requests);

impl vt100::Callbacks for Recorder {
    fn audible_bell(&mut self, _: &mut vt100::Screen) {
        self.0.bells += 1;
    }
    fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
        self.0.titles.push(title.to_vec());
    }
    fn set_window_icon_name(&mut self, _: &mut vt100::Screen, name: &[u8]) {
        self.0.titles.push(name.to_vec());
    }
    fn copy_to_clipboard(&mut self, _: &mut vt100::Screen, _ty: &[u8], data: &[u8]) {
        self.0.clipboard.push(data.to_vec());
    }
    fn unhandled_char(&mut self, _: &mut vt100::Screen, c: char) {
        self.0.unprintable.push(c);
    }
    fn unhandled_osc(&mut self, _: &mut vt100::Screen, params: &[&[u8]]) {
        let text = params
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect::<Vec<_>>()
            .join(";");
        self.0.unknown_osc.push(text);
    }
}

/// Nothing but drawing was asked of the terminal.
fn assert_inert(c: &Console<Recorder>, when: &str) {
    let parser = c.parser();
    let requests = &parser.callbacks().0;
    assert!(
        requests.titles.is_empty(),
        "{when}: title set to {:?}",
        requests.titles
    );
    assert!(
        requests.clipboard.is_empty(),
        "{when}: clipboard written {:?}",
        requests.clipboard
    );
    assert_eq!(requests.bells, 0, "{when}: the bell rang");
    assert!(
        requests.unknown_osc.is_empty(),
        "{when}: OSC {:?}",
        requests.unknown_osc
    );
    drop(parser);
    let raw = c.raw_bytes();
    for seq in [
        &b"\x1b]52"[..],
        b"\x1b]0;",
        b"\x1b]2;",
        b"\x9d",
        b"pwned\x07",
    ] {
        assert!(
            !raw.windows(seq.len()).any(|w| w == seq),
            "{when}: the output holds {seq:?}"
        );
    }
}

/// A SQLite store holding the hostile contacts as customers, the OS user
/// its first admin; returns the console's environment.
async fn store_env(dir: &std::path::Path) -> Vec<(String, String)> {
    let url = format!("sqlite://{}?mode=rwc", dir.join("keydesk.db").display());
    let env = console_env(&url, dir);
    let desk = open_desk(&env, &dir.join("data")).await;
    for (name, email) in hostile() {
        people::make_customer(desk.store(), &name, &email).await;
    }
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_console_shows_hostile_names_without_obeying_them() {
    let dir = tempfile::tempdir().unwrap();
    let env = store_env(dir.path()).await;
    let (cols, rows) = (100u16, 30u16);
    let mut c = Console::start_with(&env, cols, rows, Recorder::default());
    // One write, one read: an Esc followed at once by a key is an Alt-key.
    c.pause = Duration::from_millis(80);
    let lines = c.wait_lines(&["10 matches", "hostile0@example.com", "Hostile Email"]);
    assert_inert(&c, "the list");
    let check_layout = |lines: &[String], when: &str| {
        assert_eq!(lines.len(), usize::from(rows), "{when}");
        assert!(
            lines[0].contains("Search"),
            "{when}: header row is {:?}",
            lines[0]
        );
        let last = lines.last().unwrap();
        assert!(
            last.contains("(admin)"),
            "{when}: footer row is {last:?}\n{}",
            lines.join("\n")
        );
    };
    check_layout(&lines, "the list");
    for (name, email) in hostile() {
        if email.chars().any(is_hostile_char) {
            continue;
        }
        // The list row (the profile pane beside it shows the email alone).
        let on: Vec<&str> = lines
            .iter()
            .map(|l| list_pane(l))
            .filter(|l| l.contains(&email[..email.len().min(19)]))
            .collect();
        assert_eq!(
            on.len(),
            1,
            "{email} is on {} rows:\n{}",
            on.len(),
            lines.join("\n")
        );
        let start: String = keydesk::tui::sanitize::clean(&name)
            .chars()
            .take(3)
            .collect();
        assert!(on[0].contains(&start), "{email}'s row: {:?}", on[0]);
    }
    let on: Vec<&str> = lines
        .iter()
        .map(|l| list_pane(l))
        .filter(|l| l.contains("Hostile Email"))
        .collect();
    assert_eq!(
        on.len(),
        1,
        "the hostile email's row:\n{}",
        lines.join("\n")
    );
    assert!(on[0].contains("eve␛]52"), "{:?}", on[0]);
    // Open each hostile profile in turn, and the Reset Password dialog.
    for i in 0..hostile().len() {
        c.send("\r");
        std::thread::sleep(Duration::from_millis(150));
        c.send("r");
        let lines = c.wait_lines(&["Send a password reset email to"]);
        check_layout(&lines, &format!("reset dialog {i}"));
        c.send("\x1b");
        c.send("\x1b");
        c.send("j");
    }
    let lines = c.lines();
    check_layout(&lines, "after every profile");
    assert_inert(&c, "after every profile");
    c.send("q");
    c.wait_exit();
    assert_inert(&c, "after quitting");
}
