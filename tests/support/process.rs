//! A long-running `keydesk` process (`serve`, `worker`) for tests that
//! start it beside others: its stderr goes to a log file, and it is
//! killed when dropped, so a failing test leaves no process behind.

#![allow(dead_code)]

use std::process::{Child, Command, ExitStatus, Stdio};

/// A running `keydesk` subcommand.
pub struct Daemon {
    child: Child,
}

impl Daemon {
    /// Starts `keydesk ARGS` with `env` (its log file setting dropped, so
    /// it logs to stderr), writing stderr to `log`.
    pub fn start(args: &[&str], env: &[(String, String)], log: &std::path::Path) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_keydesk"));
        cmd.args(args);
        Self::spawn(cmd, env, log)
    }

    /// Starts `cmd` (keydesk, or a shell that `exec`s it) the same way.
    pub fn spawn(mut cmd: Command, env: &[(String, String)], log: &std::path::Path) -> Self {
        let log = std::fs::File::create(log).expect("create the log file");
        let child = cmd
            .envs(
                env.iter()
                    .filter(|(k, _)| k != "KEYDESK__LOG__FILE")
                    .cloned(),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start keydesk");
        Self { child }
    }

    /// For `serve`: waits until it says where it listens, and returns that
    /// `ADDRESS:PORT`.
    pub fn site_address(&mut self, log: &std::path::Path) -> String {
        const SAYS: &str = "customer site on http://";
        let seen = self.wait_log(log, SAYS);
        seen.split(SAYS)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .expect("an address after the marker")
            .to_owned()
    }

    /// Waits (20 s at most) until the log file `log` holds `text`;
    /// returns the log.
    pub fn wait_log(&mut self, log: &std::path::Path, text: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let seen = std::fs::read_to_string(log).unwrap_or_default();
            if seen.contains(text) {
                return seen;
            }
            assert!(self.alive(), "keydesk ended before {text:?}:\n{seen}");
            assert!(
                std::time::Instant::now() < deadline,
                "waited for {text:?}:\n{seen}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Whether it still runs.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// SIGTERM, then waits for it to exit.
    pub fn terminate(mut self) -> ExitStatus {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("pid"));
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        self.child.wait().expect("wait for keydesk")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.alive() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
