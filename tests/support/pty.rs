//! The real `keydesk` binary in a real pseudo-terminal (portable-pty), its
//! screen read with a vt100 parser, for the fault tests: signals, an
//! injected panic, resizes and outages. The pty's termios tell whether
//! raw mode is on; the raw output tells which modes were switched off.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keydesk::clock::Clock;
use keydesk::desk::{Desk, Identity};
use keydesk::settings::{Settings, Sources};
use keydesk::store::Store;
use portable_pty::{CommandBuilder, PtySize, native_pty_system};

/// The console running in a pty.
pub struct Console {
    pub child: Box<dyn portable_pty::Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    parser: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    master: Box<dyn portable_pty::MasterPty + Send>,
}

fn size(cols: u16, rows: u16) -> PtySize {
    PtySize {
        rows,
        cols,
        pixel_width: 0,
        pixel_height: 0,
    }
}

impl Console {
    /// Starts `keydesk` (no arguments) with `env` at `cols` x `rows`.
    pub fn start(env: &[(String, String)], cols: u16, rows: u16) -> Self {
        Self::start_command(
            CommandBuilder::new(env!("CARGO_BIN_EXE_keydesk")),
            env,
            cols,
            rows,
        )
    }

    /// Starts `cmd` (e.g. `keydesk demo`, or keydesk through a shell that
    /// sets its umask) with `env` at `cols` x `rows`.
    pub fn start_command(
        mut cmd: CommandBuilder,
        env: &[(String, String)],
        cols: u16,
        rows: u16,
    ) -> Self {
        let pty = native_pty_system()
            .openpty(size(cols, rows))
            .expect("open a pty");
        cmd.env("TERM", "xterm-256color");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pty.slave.spawn_command(cmd).expect("start keydesk");
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().expect("pty reader");
        let writer = pty.master.take_writer().expect("pty writer");
        let parser = Arc::new(Mutex::new(vt100::Parser::new(
            std::num::NonZeroU16::new(rows).expect("rows"),
            std::num::NonZeroU16::new(cols).expect("cols"),
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
            master: pty.master,
        }
    }

    /// The screen's text.
    pub fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Waits (up to `within`) until the screen shows every one of `texts`.
    pub fn wait_within(&self, texts: &[&str], within: Duration) -> String {
        let deadline = Instant::now() + within;
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

    /// Waits up to 20 s until the screen shows every one of `texts`.
    pub fn wait_for(&self, texts: &[&str]) -> String {
        self.wait_within(texts, Duration::from_secs(20))
    }

    /// Types `keys`.
    pub fn send(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
        std::thread::sleep(Duration::from_millis(60));
    }

    /// Presses Esc in the search box and waits until the footer offers
    /// the list's keys (it starts with `/ Search`). A key typed before the
    /// console read the Esc would reach it in the same read and be taken,
    /// as a terminal means it, for one Alt-key.
    pub fn esc(&mut self) {
        self.send("\x1b");
        self.wait_for(&["/ Search"]);
    }

    /// Resizes the pty (the kernel sends SIGWINCH) and the parser with it.
    pub fn resize(&mut self, cols: u16, rows: u16) {
        self.master
            .resize(size(cols, rows))
            .expect("resize the pty");
        self.parser.lock().unwrap().screen_mut().set_size(
            std::num::NonZeroU16::new(rows).expect("rows"),
            std::num::NonZeroU16::new(cols).expect("cols"),
        );
    }

    /// Whether the pty is in raw mode (no canonical input, no echo).
    pub fn raw_mode(&self) -> bool {
        let termios = self.master.get_termios().expect("read the pty's termios");
        let lflag = termios.local_flags.bits();
        lflag & (nix::libc::ICANON | nix::libc::ECHO) == 0
    }

    /// The process id.
    pub fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(i32::try_from(self.child.process_id().expect("pid")).unwrap())
    }

    /// Sends a signal.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(self.pid(), signal).expect("signal keydesk");
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Waits for the process to end (15 s at most).
    pub fn wait_exit(&mut self) -> portable_pty::ExitStatus {
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

    /// Everything the console wrote, lossily decoded.
    pub fn raw(&self) -> String {
        String::from_utf8_lossy(&self.raw.lock().unwrap()).into_owned()
    }

    /// The terminal is back as it was: main screen, cursor shown,
    /// bracketed paste off, raw mode off.
    pub fn assert_restored(&self) {
        let parser = self.parser.lock().unwrap();
        let screen = parser.screen();
        assert!(!screen.alternate_screen(), "still on the alternate screen");
        assert!(!screen.hide_cursor(), "the cursor is still hidden");
        drop(parser);
        let raw = self.raw();
        let tail = &raw[raw
            .rfind("\x1b[?1049h")
            .expect("entered the alternate screen")..];
        for seq in ["\x1b[?2004l", "\x1b[?1049l", "\x1b[?25h"] {
            assert!(tail.contains(seq), "{seq:?} missing after the console ran");
        }
        assert!(!self.raw_mode(), "raw mode is still on");
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if self.alive() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The environment that points the binary at `url`, logging into `dir`.
pub fn console_env(url: &str, dir: &std::path::Path) -> Vec<(String, String)> {
    vec![
        ("KEYDESK__DATABASE__URL".into(), url.to_owned()),
        (
            "KEYDESK__LOG__FILE".into(),
            dir.join("keydesk.log").display().to_string(),
        ),
        (
            "KEYDESK__SITE__BASE_URL".into(),
            "http://127.0.0.1:9".into(),
        ),
        ("KEYDESK__PASSWORD__ARGON2__M_COST".into(), "8192".into()),
        ("KEYDESK__PASSWORD__ARGON2__T_COST".into(), "1".into()),
        (
            "KEYDESK__MAIL__FILE__DIR".into(),
            dir.join("mail").display().to_string(),
        ),
        (
            "XDG_DATA_HOME".into(),
            dir.join("data").display().to_string(),
        ),
        (
            "XDG_CONFIG_HOME".into(),
            dir.join("config").display().to_string(),
        ),
    ]
}

/// Migrates the store named by `env`, adds two customers (Ada Lovelace,
/// Bob Marsh), a non-customer (Cleo Park) and 200 other contacts, makes
/// the current OS user an admin, and returns a desk over it.
pub async fn populate(env: &[(String, String)], data_dir: &std::path::Path) -> Desk {
    let settings = Settings::load(&Sources {
        file: None,
        skip_system_files: true,
        env: Some(env.iter().cloned().collect()),
        data_dir: Some(data_dir.to_path_buf()),
    })
    .expect("settings");
    let store = Store::connect(&settings.database).await.expect("connect");
    store.migrate().await.expect("migrate");
    let now = "2025-01-02 10:00:00+00:00";
    let mut sql = format!(
        "INSERT INTO offers(name, products, created_at) VALUES ('Rust Mastery', 'Course: Rust', '{now}');
         INSERT INTO contacts(name,email,name_lower,email_lower,subscribed,tags,notes,created_at,updated_at) VALUES
           ('Ada Lovelace','ada@example.com','ada lovelace','ada@example.com',true,'','','{now}','{now}'),
           ('Bob Marsh','bob@example.com','bob marsh','bob@example.com',true,'','','{now}','{now}'),
           ('Cleo Park','cleo@example.com','cleo park','cleo@example.com',true,'','','{now}','{now}');
         INSERT INTO grants(contact_id, offer_id, source, granted_by, granted_at)
           SELECT id, (SELECT id FROM offers LIMIT 1), 'purchased', '', '{now}' FROM contacts
           WHERE email IN ('ada@example.com', 'bob@example.com');"
    );
    for i in 0..200 {
        sql.push_str(&format!(
            "INSERT INTO contacts(name,email,name_lower,email_lower,subscribed,tags,notes,created_at,updated_at)
             VALUES ('Person {i:03}','p{i}@example.org','person {i:03}','p{i}@example.org',false,'','','{now}','{now}');"
        ));
    }
    keydesk::store::execute_raw(store.conn(), &sql)
        .await
        .expect("populate");
    let desk = Desk::new(store, settings, Clock::system()).expect("desk");
    desk.ensure_first_admin(&Identity::from_os().expect("os identity"))
        .await
        .expect("first admin");
    desk
}

/// What a finished (or interrupted) reset left in the store: the number of
/// reset links, of queued reset mails, and of `reset_link.sent` audit
/// events. A whole transaction moves all three together.
pub async fn reset_footprint(store: &Store) -> (i64, i64, i64) {
    use sea_orm::{ConnectionTrait, Statement};
    let count = |sql: &'static str| async move {
        store
            .conn()
            .query_one_raw(Statement::from_string(store.backend(), sql))
            .await
            .expect("count")
            .expect("a row")
            .try_get::<i64>("", "n")
            .expect("n")
    };
    (
        count("SELECT COUNT(*) AS n FROM reset_links").await,
        count("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'reset_link'").await,
        count("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'reset_link.sent'").await,
    )
}
