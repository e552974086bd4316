//! Helpers for driving the real `keydesk ssh-serve` binary with the real
//! OpenSSH client: a seeded SQLite store with operators and their keys
//! (made by `ssh-keygen`, added through `keydesk operators add-key`), the
//! server as a child process, and `ssh -tt` clients in their own pty whose
//! screens a vt100 parser reads.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keydesk::clock::Clock;
use keydesk::desk::{Desk, Identity, Operator};
use keydesk::settings::{Settings, Sources};
use keydesk::store::Store;
use portable_pty::{CommandBuilder, PtySize, native_pty_system};

/// A seeded store, its settings as environment, and operators' key files.
pub struct Fixture {
    pub desk: Desk,
    pub env: Vec<(String, String)>,
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("keydesk.log")).unwrap_or_default()
    }

    /// Runs `keydesk ARGS` against this store as the OS user (the first admin).
    pub fn keydesk(&self, args: &[&str], stdin: Option<&str>) -> std::process::Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_keydesk"));
        cmd.args(args)
            .envs(self.env.iter().cloned())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run keydesk");
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    }

    /// Makes an Ed25519 key pair with ssh-keygen; returns the private key's path.
    pub fn keygen(&self, name: &str) -> PathBuf {
        let key = self.path(name);
        let status = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C"])
            .arg(format!("{name}@test"))
            .arg("-f")
            .arg(&key)
            .status()
            .expect("ssh-keygen");
        assert!(status.success());
        key
    }

    /// Adds operator `name` with `role` and a fresh key; returns the key.
    pub fn operator_with_key(&self, name: &str, role: &str) -> PathBuf {
        let out = self.keydesk(&["operators", "add", name, "--role", role], None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let key = self.keygen(&format!("{name}_key"));
        let public = format!("{}.pub", key.display());
        let out = self.keydesk(&["operators", "add-key", name, "--file", &public], None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        key
    }

    /// The admin the tests read the audit log as.
    pub async fn admin(&self) -> Operator {
        self.desk
            .operator(&Identity::from_os().unwrap())
            .await
            .unwrap()
    }
}

/// A migrated SQLite store with Ada (a customer), Cleo and 200 others;
/// the OS user is the first admin. `extra` env entries go last.
pub async fn fixture(extra: &[(&str, &str)]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("keydesk.db").display()
    );
    let p = |name: &str| dir.path().join(name).display().to_string();
    let mut env: Vec<(String, String)> = vec![
        ("KEYDESK__DATABASE__URL".into(), url),
        ("KEYDESK__LOG__FILE".into(), p("keydesk.log")),
        ("KEYDESK__LOG__LEVEL".into(), "info".into()),
        (
            "KEYDESK__SITE__BASE_URL".into(),
            "http://127.0.0.1:9".into(),
        ),
        ("KEYDESK__PASSWORD__ARGON2__M_COST".into(), "8192".into()),
        ("KEYDESK__PASSWORD__ARGON2__T_COST".into(), "1".into()),
        ("KEYDESK__MAIL__TRANSPORT".into(), "file".into()),
        ("KEYDESK__MAIL__FILE__DIR".into(), p("mail")),
        ("KEYDESK__SSH__LISTEN".into(), "127.0.0.1:0".into()),
        ("KEYDESK__SSH__HOST_KEY".into(), p("host_ed25519_key")),
        ("XDG_DATA_HOME".into(), p("data")),
        ("XDG_CONFIG_HOME".into(), p("config")),
    ];
    for (k, v) in extra {
        env.push(((*k).to_owned(), (*v).to_owned()));
    }
    let settings = Settings::load(&Sources {
        file: None,
        skip_system_files: true,
        env: Some(env.iter().cloned().collect()),
        data_dir: Some(dir.path().join("data")),
    })
    .unwrap();
    let store = Store::connect(&settings.database).await.unwrap();
    store.migrate().await.unwrap();
    let now = "2025-01-02 10:00:00+00:00";
    let mut sql = format!(
        "INSERT INTO offers(name, products, created_at) VALUES ('Rust Mastery', 'Course: Rust', '{now}');
         INSERT INTO contacts(name,email,name_lower,email_lower,subscribed,tags,notes,created_at,updated_at) VALUES
           ('Ada Lovelace','ada@example.com','ada lovelace','ada@example.com',1,'','','{now}','{now}'),
           ('Cleo Park','cleo@example.com','cleo park','cleo@example.com',1,'','','{now}','{now}');
         INSERT INTO grants(contact_id, offer_id, source, granted_by, granted_at) VALUES (1,1,'purchased','','{now}');"
    );
    for i in 0..200 {
        sql.push_str(&format!(
            "INSERT INTO contacts(name,email,name_lower,email_lower,subscribed,tags,notes,created_at,updated_at)
             VALUES ('Person {i:03}','p{i}@example.org','person {i:03}','p{i}@example.org',0,'','','{now}','{now}');"
        ));
    }
    keydesk::store::execute_raw(store.conn(), &sql)
        .await
        .unwrap();
    let desk = Desk::new(store, settings, Clock::system()).unwrap();
    desk.ensure_first_admin(&Identity::from_os().unwrap())
        .await
        .unwrap();
    Fixture { desk, env, dir }
}

/// `keydesk ssh-serve` running as a child process.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub banner: String,
}

impl Server {
    /// Starts the server and reads its address and host key from stdout.
    pub fn start(fx: &Fixture) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_keydesk"))
            .arg("ssh-serve")
            .envs(fx.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start keydesk ssh-serve");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut banner = String::new();
        let mut line = String::new();
        let mut port = None;
        while port.is_none() || !banner.contains("host key") {
            line.clear();
            let n = out.read_line(&mut line).unwrap();
            assert!(n > 0, "ssh-serve ended early; it printed:\n{banner}");
            banner.push_str(&line);
            if let Some(addr) = line.trim().strip_prefix("keydesk ssh-serve on ") {
                port = addr.rsplit(':').next().and_then(|p| p.parse().ok());
            }
        }
        // Keep draining stdout so the server never blocks on it.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while out.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        Self {
            child,
            port: port.unwrap(),
            banner,
        }
    }

    /// SIGTERM, then wait.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "ssh-serve did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The common OpenSSH options: no config files, no agent, no host key
/// prompts, only the given key.
pub fn ssh_args(port: u16, key: &Path) -> Vec<String> {
    [
        "-F",
        "/dev/null",
        "-p",
        &port.to_string(),
        "-i",
        &key.display().to_string(),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "IdentityAgent=none",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "LogLevel=ERROR",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

/// An `ssh -tt` client in its own pty, its screen read by vt100.
pub struct Client {
    pub child: Box<dyn portable_pty::Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    pub parser: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Client {
    /// `ssh -tt ... 127.0.0.1` at `cols`x`rows`, with `extra` options first.
    pub fn start(port: u16, key: &Path, cols: u16, rows: u16, extra: &[&str]) -> Self {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pty");
        let mut cmd = CommandBuilder::new("ssh");
        cmd.arg("-tt");
        for a in extra {
            cmd.arg(a);
        }
        for a in ssh_args(port, key) {
            cmd.arg(a);
        }
        cmd.arg("127.0.0.1");
        cmd.env("TERM", "xterm-256color");
        let child = pty.slave.spawn_command(cmd).expect("start ssh");
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
            master: pty.master,
        }
    }

    pub fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Row `n` of the screen as text.
    pub fn row(&self, n: u16) -> String {
        let parser = self.parser.lock().unwrap();
        let (_, cols) = parser.screen().size();
        parser
            .screen()
            .rows(0, cols.get())
            .nth(n as usize)
            .unwrap_or_default()
    }

    /// Waits until the screen shows every one of `texts`.
    pub fn wait_for(&self, texts: &[&str]) -> String {
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

    /// Waits until `check` holds for the client.
    pub fn wait_until(&self, what: &str, check: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !check(self) {
            assert!(
                Instant::now() < deadline,
                "waited for {what}; the screen shows:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn send(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
        std::thread::sleep(Duration::from_millis(60));
    }

    /// Resizes the client's terminal (ssh sends a window change) and the
    /// screen model with it.
    pub fn resize(&self, cols: u16, rows: u16) {
        self.parser.lock().unwrap().screen_mut().set_size(
            std::num::NonZeroU16::new(rows).unwrap(),
            std::num::NonZeroU16::new(cols).unwrap(),
        );
        self.master
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
    }

    /// Esc out of whatever is open, then `q`, until ssh exits.
    pub fn quit(&mut self) -> portable_pty::ExitStatus {
        for _ in 0..4 {
            self.send("\x1b");
            self.send("q");
            std::thread::sleep(Duration::from_millis(300));
            if self.child.try_wait().unwrap().is_some() {
                break;
            }
        }
        self.wait_exit()
    }

    pub fn wait_exit(&mut self) -> portable_pty::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(200));
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "ssh did not exit; screen:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn raw(&self) -> String {
        String::from_utf8_lossy(&self.raw.lock().unwrap()).into_owned()
    }

    /// The client's terminal is back to normal: main screen, cursor shown,
    /// and the sequences that undo console mode came after entering it.
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
    }
}

/// Runs plain `ssh` (no pty) with `extra` options and a remote command;
/// returns (exit code, stdout + stderr).
pub fn ssh_output(port: u16, key: &Path, extra: &[&str], remote: &[&str]) -> (i32, String) {
    let mut cmd = Command::new("ssh");
    cmd.args(extra)
        .args(ssh_args(port, key))
        .arg("127.0.0.1")
        .args(remote);
    let out = cmd.stdin(Stdio::null()).output().expect("run ssh");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// Polls the fixture's log until it holds `text` `count` times.
pub fn wait_log(fx: &Fixture, text: &str, count: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = fx.log();
        if log.matches(text).count() >= count {
            return log;
        }
        assert!(
            Instant::now() < deadline,
            "waited for {count}x {text:?} in the log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
