//! The real `keydesk` binary in a real pseudo-terminal (portable-pty),
//! its screen read with a vt100 parser: search, profile, Reset Password
//! delivered to a real SMTP server (aiosmtpd), Change Password that then
//! authenticates through desk, the not-a-customer notice, and the terminal
//! restored after SIGHUP and after `q`. The walkthrough runs on every
//! backend (SQLite, PostgreSQL, MySQL/MariaDB).

mod common;
mod support;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keydesk::clock::Clock;
use keydesk::desk::{Desk, Identity};
use keydesk::settings::{Settings, Sources};
use portable_pty::{CommandBuilder, PtySize, native_pty_system};

/// The console running in a pty.
struct Console {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    parser: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
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
        let parser = Arc::new(Mutex::new(vt100::Parser::new(
            std::num::NonZeroU16::new(rows).unwrap(),
            std::num::NonZeroU16::new(cols).unwrap(),
            0,
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
            _master: pty.master,
        }
    }

    fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Waits until the screen shows every one of `texts`.
    fn wait_for(&self, texts: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if texts.iter().all(|t| screen.contains(t)) {
                return screen;
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
        std::thread::sleep(Duration::from_millis(60));
    }

    fn wait_exit(&mut self) -> portable_pty::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader thread take the last bytes.
                std::thread::sleep(Duration::from_millis(200));
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "keydesk did not exit; screen:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn raw(&self) -> String {
        String::from_utf8_lossy(&self.raw.lock().unwrap()).into_owned()
    }
}

/// A migrated store with a customer, a subscriber and 200 contacts, the
/// current OS user as admin, and the environment that points the binary
/// at it.
struct Fixture {
    desk: Desk,
    env: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

async fn fixture(db: &common::TestDb, smtp_port: Option<u16>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut env: Vec<(String, String)> = vec![
        ("KEYDESK__DATABASE__URL".into(), db.url.clone()),
        (
            "KEYDESK__LOG__FILE".into(),
            dir.path().join("keydesk.log").display().to_string(),
        ),
        (
            "KEYDESK__SITE__BASE_URL".into(),
            "http://127.0.0.1:9".into(),
        ),
        ("KEYDESK__PASSWORD__ARGON2__M_COST".into(), "8192".into()),
        ("KEYDESK__PASSWORD__ARGON2__T_COST".into(), "1".into()),
        (
            "XDG_DATA_HOME".into(),
            dir.path().join("data").display().to_string(),
        ),
        (
            "XDG_CONFIG_HOME".into(),
            dir.path().join("config").display().to_string(),
        ),
    ];
    match smtp_port {
        Some(port) => env.extend([
            ("KEYDESK__MAIL__TRANSPORT".into(), "smtp".into()),
            ("KEYDESK__MAIL__SMTP__HOST".into(), "127.0.0.1".into()),
            ("KEYDESK__MAIL__SMTP__PORT".into(), port.to_string()),
            ("KEYDESK__MAIL__SMTP__TLS".into(), "none".into()),
        ]),
        None => env.push((
            "KEYDESK__MAIL__FILE__DIR".into(),
            dir.path().join("mail").display().to_string(),
        )),
    }
    let settings = Settings::load(&Sources {
        file: None,
        skip_system_files: true,
        env: Some(env.iter().cloned().collect()),
        data_dir: Some(dir.path().join("data")),
    })
    .unwrap();
    let store = &db.store;
    common::make_customer(store, "Ada Lovelace", "ada@example.com").await;
    common::make_contact(store, "Cleo Park", "cleo@example.com").await;
    for i in 0..200 {
        common::make_contact(
            store,
            &format!("Person {i:03}"),
            &format!("p{i}@example.org"),
        )
        .await;
    }
    let desk = Desk::new(store.clone(), settings, Clock::system()).unwrap();
    desk.ensure_first_admin(&Identity::from_os().unwrap())
        .await
        .unwrap();
    Fixture {
        desk,
        env,
        _dir: dir,
    }
}

fn assert_restored(console: &Console) {
    let parser = console.parser.lock().unwrap();
    let screen = parser.screen();
    assert!(!screen.alternate_screen(), "still on the alternate screen");
    assert!(!screen.hide_cursor(), "the cursor is still hidden");
    drop(parser);
    let raw = console.raw();
    let tail = &raw[raw
        .rfind("\x1b[?1049h")
        .expect("entered the alternate screen")..];
    for seq in ["\x1b[?2004l", "\x1b[?1049l", "\x1b[?25h"] {
        assert!(tail.contains(seq), "{seq:?} missing after the console ran");
    }
}

on_every_backend!(
    find_a_customer_reset_change_and_hang_up,
    find_a_customer_reset_change_and_hang_up
);

async fn find_a_customer_reset_change_and_hang_up(db: common::TestDb) {
    let smtp = support::smtp::SmtpServer::plain();
    let fx = fixture(&db, Some(smtp.port)).await;
    let mut c = Console::start(&fx.env, 120, 40);
    c.wait_for(&["202 matches", "(admin)"]);

    // Search for a customer and open the profile.
    c.send("ada");
    c.wait_for(&["1 match", "Ada Lovelace", "ada@example.com"]);
    c.send("\r");
    c.wait_for(&["Customer since", "no login yet", "Course"]);

    // Reset Password: the platform's question, then the email at the relay.
    c.send("r");
    c.wait_for(&[
        "Send a password reset email to Ada Lovelace",
        "expires after 6 hours",
        "Send email",
        "Cancel",
    ]);
    c.send("\r");
    c.wait_for(&["Reset link for Ada Lovelace: email sent"]);
    let mail = smtp.wait_for(1, Duration::from_secs(10));
    assert_eq!(mail[0].rcpt_tos, ["ada@example.com"]);
    let body = mail[0].raw.replace("=\r\n", "");
    let start = body
        .find("http://127.0.0.1:9/password/reset/")
        .expect("the link is in the email");
    let token: String = body[start + "http://127.0.0.1:9/password/reset/".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let link = fx
        .desk
        .inspect_reset_link(&token)
        .await
        .expect("the mailed link works");
    assert_eq!(link.email, "ada@example.com");
    c.wait_for(&["reset email: sent"]);

    // More Actions, Change Password, typed, saved, and it signs in.
    c.send(".");
    c.wait_for(&[
        "More Actions",
        "Change Password",
        "Revoke reset links",
        "Unlock account",
        "Sign out everywhere",
        "Copy email",
    ]);
    c.send("c");
    c.wait_for(&["Temporary password", "Require a new password at next login"]);
    let password = "Violet-Tangerine-Harbor-4217";
    c.send(password);
    c.wait_for(&["Meets the policy"]);
    assert!(!c.screen().contains(password), "the field is masked");
    c.send("\r");
    c.wait_for(&["Password changed", password, "another channel"]);
    fx.desk
        .authenticate("ada@example.com", password, "pty-test")
        .await
        .expect("the new password authenticates through desk");
    assert!(
        fx.desk.inspect_reset_link(&token).await.is_err(),
        "the change revoked the link"
    );
    c.send("\x1b");

    // A non-customer gets the notice.
    c.send("/");
    c.send("\x15cleo");
    c.wait_for(&["1 match", "Cleo Park"]);
    c.send("\x1b");
    c.send("r");
    c.wait_for(&["not a customer yet", "granted one"]);
    c.send("\x1b");

    // The SSH link drops: SIGHUP, and the terminal is given back.
    let pid = c.child.process_id().expect("pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    c.wait_exit();
    assert_restored(&c);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quit_and_sigterm_restore_the_terminal_at_80x24() {
    let db = common::fresh(common::Backend::Sqlite)
        .await
        .expect("SQLite is always there");
    let fx = fixture(&db, None).await;
    let mut c = Console::start(&fx.env, 80, 24);
    c.wait_for(&["202 matches"]);
    c.send("\x1b");
    c.send("q");
    let status = c.wait_exit();
    assert!(status.success(), "{status:?}");
    assert_restored(&c);

    let mut c = Console::start(&fx.env, 80, 24);
    c.wait_for(&["202 matches"]);
    let pid = c.child.process_id().expect("pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    c.wait_exit();
    assert_restored(&c);
}
