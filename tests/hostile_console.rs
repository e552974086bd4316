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

mod common;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use keydesk::clock::Clock;
use keydesk::desk::{Desk, Identity};
use keydesk::settings::{Settings, Sources};
use keydesk::store::Store;
use keydesk::store::contacts::{ContactRow, HeldOffer, MatchCount, Profile, SearchPage};
use keydesk::store::entity::contact;
use keydesk::tui::app::{App, UiConfig};
use keydesk::tui::keymap::Keymap;
use keydesk::tui::msg::{Cmd, Msg, OperatorView};
use keydesk::tui::theme::Theme;
use keydesk::tui::update::{init, update};
use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

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

fn forbidden(c: char) -> bool {
    c.is_control()
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
        || ('\u{200b}'..='\u{200f}').contains(&c)
        || c == '\u{feff}'
        || c == '\u{2060}'
}

// ------------------------------------------------------ TestBackend ----

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0).unwrap()
}

fn rows() -> Vec<ContactRow> {
    hostile()
        .into_iter()
        .enumerate()
        .map(|(i, (name, email))| ContactRow {
            id: i as i64 + 1,
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
        contact: contact::Model {
            id: r.id,
            name: r.name.clone(),
            email: r.email.clone(),
            name_lower: r.name_lower.clone(),
            email_lower: r.email.clone(),
            subscribed: r.subscriber,
            tags: r.name.clone(),
            notes: format!("{}\n{}", r.name, r.name),
            created_at: t0(),
            updated_at: t0(),
        },
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
        audit: Vec::new(),
    }
}

fn feed(app: &mut App, msg: Msg) {
    for cmd in update(app, msg) {
        if let Cmd::LoadProfile {
            generation,
            contact_id,
        } = cmd
        {
            let r = rows().into_iter().find(|r| r.id == contact_id).unwrap();
            feed(
                app,
                Msg::ProfileLoaded {
                    generation,
                    result: Ok(Box::new(profile(&r))),
                },
            );
        }
    }
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn console(w: u16, h: u16) -> App {
    let mut app = App::new(
        UiConfig::default(),
        Keymap::defaults(),
        Theme::mono(),
        (w, h),
        t0(),
    );
    let generation = init(&mut app)
        .iter()
        .find_map(|c| match c {
            Cmd::Search { generation, .. } => Some(*generation),
            _ => None,
        })
        .unwrap();
    feed(
        &mut app,
        Msg::SearchDone {
            generation,
            append: false,
            result: Ok(SearchPage {
                total: MatchCount::Exact(rows().len() as u64),
                next: None,
                rows: rows(),
            }),
        },
    );
    feed(
        &mut app,
        Msg::OperatorResolved(Ok(OperatorView {
            name: "sam".into(),
            role: Some(keydesk::desk::Role::Admin),
        })),
    );
    feed(&mut app, key(KeyCode::Esc));
    app
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
                !symbol.chars().any(forbidden),
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
    for (w, h) in [(80, 24), (120, 40), (200, 50)] {
        let mut app = console(w, h);
        let lines = draw(&mut app, &format!("list {w}x{h}"));
        // Each contact that fits is on exactly one row, beside its email.
        let visible = usize::from(h).saturating_sub(8).min(hostile().len());
        for (name, email) in hostile().into_iter().take(visible) {
            if email.chars().any(forbidden) {
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
            let mut app = console(w, h);
            for _ in 0..i {
                feed(&mut app, key(KeyCode::Down));
            }
            feed(&mut app, key(KeyCode::Enter));
            draw(&mut app, &format!("profile {i} {w}x{h}"));
            feed(
                &mut app,
                Msg::Key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::NONE)),
            );
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

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Requests>>);

impl vt100::Callbacks for Recorder {
    fn audible_bell(&mut self, _: &mut vt100::Screen) {
        self.0.lock().unwrap().bells += 1;
    }
    fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
        self.0.lock().unwrap().titles.push(title.to_vec());
    }
    fn set_window_icon_name(&mut self, _: &mut vt100::Screen, name: &[u8]) {
        self.0.lock().unwrap().titles.push(name.to_vec());
    }
    fn copy_to_clipboard(&mut self, _: &mut vt100::Screen, _ty: &[u8], data: &[u8]) {
        self.0.lock().unwrap().clipboard.push(data.to_vec());
    }
    fn unhandled_char(&mut self, _: &mut vt100::Screen, c: char) {
        self.0.lock().unwrap().unprintable.push(c);
    }
    fn unhandled_osc(&mut self, _: &mut vt100::Screen, params: &[&[u8]]) {
        let text = params
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect::<Vec<_>>()
            .join(";");
        self.0.lock().unwrap().unknown_osc.push(text);
    }
}

struct Console {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    parser: Arc<Mutex<vt100::Parser<Recorder>>>,
    raw: Arc<Mutex<Vec<u8>>>,
    requests: Recorder,
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Console {
    fn start(env: &[(String, String)], cols: u16, rows: u16) -> Self {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pty");
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_keydesk"));
        cmd.env("TERM", "xterm-256color");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pty.slave.spawn_command(cmd).expect("start keydesk");
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().expect("pty reader");
        let writer = pty.master.take_writer().expect("pty writer");
        let requests = Recorder::default();
        let parser = Arc::new(Mutex::new(vt100::Parser::new_with_callbacks(
            std::num::NonZeroU16::new(rows).unwrap(),
            std::num::NonZeroU16::new(cols).unwrap(),
            0,
            requests.clone(),
        )));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let (p, r) = (Arc::clone(&parser), Arc::clone(&raw));
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                p.lock().unwrap().process(&buf[..n]);
                r.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Self {
            child,
            writer,
            parser,
            raw,
            requests,
            _master: pty.master,
        }
    }

    fn lines(&self) -> Vec<String> {
        let parser = self.parser.lock().unwrap();
        let (_, cols) = parser.screen().size();
        parser.screen().rows(0, cols.into()).collect()
    }

    fn wait_for(&self, texts: &[&str]) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let lines = self.lines();
            let screen = lines.join("\n");
            if texts.iter().all(|t| screen.contains(t)) {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {texts:?}; the screen shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn send(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
        std::thread::sleep(Duration::from_millis(80));
    }

    fn wait_exit(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "keydesk did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    /// Nothing but drawing was asked of the terminal.
    fn assert_inert(&self, when: &str) {
        let requests = self.requests.0.lock().unwrap();
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
        drop(requests);
        let raw = self.raw.lock().unwrap();
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
}

async fn fixture(dir: &std::path::Path) -> Vec<(String, String)> {
    let url = format!("sqlite://{}?mode=rwc", dir.join("keydesk.db").display());
    let env: Vec<(String, String)> = vec![
        ("KEYDESK__DATABASE__URL".into(), url),
        (
            "KEYDESK__LOG__FILE".into(),
            dir.join("keydesk.log").display().to_string(),
        ),
        (
            "KEYDESK__SITE__BASE_URL".into(),
            "http://127.0.0.1:9".into(),
        ),
        (
            "KEYDESK__MAIL__FILE__DIR".into(),
            dir.join("mail").display().to_string(),
        ),
        ("KEYDESK__PASSWORD__ARGON2__M_COST".into(), "8192".into()),
        ("KEYDESK__PASSWORD__ARGON2__T_COST".into(), "1".into()),
        (
            "XDG_DATA_HOME".into(),
            dir.join("data").display().to_string(),
        ),
        (
            "XDG_CONFIG_HOME".into(),
            dir.join("config").display().to_string(),
        ),
    ];
    let settings = Settings::load(&Sources {
        file: None,
        skip_system_files: true,
        env: Some(env.iter().cloned().collect()),
        data_dir: Some(dir.join("data")),
    })
    .unwrap();
    let store = Store::connect(&settings.database).await.unwrap();
    store.migrate().await.unwrap();
    for (name, email) in hostile() {
        common::make_customer(&store, &name, &email).await;
    }
    let desk = Desk::new(store, settings, Clock::system()).unwrap();
    desk.ensure_first_admin(&Identity::from_os().unwrap())
        .await
        .unwrap();
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_console_shows_hostile_names_without_obeying_them() {
    let dir = tempfile::tempdir().unwrap();
    let env = fixture(dir.path()).await;
    let (cols, rows) = (100u16, 30u16);
    let mut c = Console::start(&env, cols, rows);
    let lines = c.wait_for(&["10 matches", "hostile0@example.com", "Hostile Email"]);
    c.assert_inert("the list");
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
        if email.chars().any(forbidden) {
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
        let lines = c.wait_for(&["Send a password reset email to"]);
        check_layout(&lines, &format!("reset dialog {i}"));
        c.send("\x1b");
        c.send("\x1b");
        c.send("j");
    }
    let lines = c.lines();
    check_layout(&lines, "after every profile");
    c.assert_inert("after every profile");
    c.send("q");
    c.wait_exit();
    c.assert_inert("after quitting");
}
