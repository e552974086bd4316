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
        let log = std::fs::File::create(log).expect("create the log file");
        let child = Command::new(env!("CARGO_BIN_EXE_keydesk"))
            .args(args)
            .envs(
                env.iter()
                    .filter(|(k, _)| k != "KEYDESK__LOG__FILE")
                    .cloned(),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start keydesk");
        Self { child }
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
