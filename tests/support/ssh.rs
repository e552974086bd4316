//! The real `keydesk ssh-serve` binary driven by the real OpenSSH client:
//! a seeded SQLite store with operators and their keys (made by
//! `ssh-keygen`, added through `keydesk operators add-key`), the server as
//! a child process, and `ssh -tt` clients in their own pty
//! ([`super::pty`]) whose screens a vt100 parser reads.

use std::io::{BufRead, BufReader};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keydesk::desk::{Desk, Identity, Operator};
use portable_pty::CommandBuilder;

use super::console::{console_env, open_desk, seed_people};
use super::people;
use super::process::run_with_stdin;
use super::pty::Terminal;

/// A seeded store, its settings as environment, and operators' key files.
pub struct Fixture {
    /// A desk over the store, as the OS user's first admin sees it.
    pub desk: Desk,
    /// The environment that points `keydesk` at the store.
    pub env: Vec<(String, String)>,
    /// The store, the log, the keys.
    pub dir: tempfile::TempDir,
}

impl Fixture {
    /// A file in the fixture's folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("keydesk.log")).unwrap_or_default()
    }

    /// Runs `keydesk ARGS` against this store as the OS user (the first admin).
    pub fn keydesk(&self, args: &[&str], stdin: Option<&str>) -> std::process::Output {
        run_with_stdin(
            Command::new(env!("CARGO_BIN_EXE_keydesk"))
                .args(args)
                .envs(self.env.iter().cloned()),
            stdin,
        )
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
            .operator(&Identity::from_os().expect("os identity"))
            .await
            .expect("the OS user is an operator")
    }
}

/// A migrated SQLite store with Ada (a customer of "Rust Mastery"), Cleo
/// and 200 others;
/// the OS user is the first admin. `extra` env entries go last.
pub async fn fixture(extra: &[(&str, &str)]) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("keydesk.db").display()
    );
    let host_key = dir.path().join("host_ed25519_key").display().to_string();
    let mut env = console_env(&url, dir.path());
    env.extend([
        ("KEYDESK__LOG__LEVEL".into(), "info".into()),
        ("KEYDESK__MAIL__TRANSPORT".into(), "file".into()),
        ("KEYDESK__SSH__LISTEN".into(), "127.0.0.1:0".into()),
        ("KEYDESK__SSH__HOST_KEY".into(), host_key),
    ]);
    for (k, v) in extra {
        env.push(((*k).to_owned(), (*v).to_owned()));
    }
    let desk = open_desk(&env, &dir.path().join("data")).await;
    seed_people(
        desk.store(),
        &people::RUST_MASTERY,
        &[("Ada Lovelace", "ada@example.com")],
    )
    .await;
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
            while out.read_line(&mut sink).is_ok_and(|n| n > 0) {
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
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("pid"));
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

/// An `ssh -tt` client in its own pty; the [`Terminal`] methods read and
/// drive it.
pub struct Client {
    term: Terminal,
}

impl Client {
    /// `ssh -tt ... 127.0.0.1` at `cols`x`rows`, with `extra` options first.
    pub fn start(port: u16, key: &Path, cols: u16, rows: u16, extra: &[&str]) -> Self {
        let mut cmd = CommandBuilder::new("ssh");
        cmd.arg("-tt");
        for a in extra {
            cmd.arg(a);
        }
        for a in ssh_args(port, key) {
            cmd.arg(a);
        }
        cmd.arg("127.0.0.1");
        Self {
            term: Terminal::start(cmd, cols, rows),
        }
    }

    /// Esc out of whatever is open, then `q`, until ssh exits.
    pub fn quit(&mut self) -> portable_pty::ExitStatus {
        for _ in 0..4 {
            self.send("\x1b");
            self.send("q");
            std::thread::sleep(Duration::from_millis(300));
            if !self.alive() {
                break;
            }
        }
        self.wait_exit()
    }

    /// The client's terminal is back to normal: main screen, cursor shown,
    /// and the sequences that undo console mode came after entering it.
    pub fn assert_restored(&self) {
        self.assert_screen_restored();
    }
}

impl Deref for Client {
    type Target = Terminal;
    fn deref(&self) -> &Terminal {
        &self.term
    }
}

impl DerefMut for Client {
    fn deref_mut(&mut self) -> &mut Terminal {
        &mut self.term
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
