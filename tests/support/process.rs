//! The `keydesk` binary as a process: a command with a clean environment
//! (nothing read from the real user's folders), a run that feeds stdin,
//! a long-running subcommand (`serve`, `worker`) that logs to a file and is
//! killed when dropped, free ports to put servers on, and a wait until
//! a server listens.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// `keydesk` with an empty environment but `HOME=home`, XDG data and
/// config folders under it, and `PATH`.
pub fn keydesk(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keydesk"));
    cmd.env_clear()
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd
}

/// Runs `cmd` with `stdin` written to it (then closed) and returns what
/// it printed and how it ended.
pub fn run_with_stdin(cmd: &mut Command, stdin: Option<&str>) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run keydesk");
    let mut input = child.stdin.take().expect("piped stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).expect("write stdin");
    }
    drop(input);
    child.wait_with_output().expect("wait for keydesk")
}

/// A port nothing listens on right now.
///
/// Tests in one binary run as threads: a port handed to one test (say, a
/// relay that is started later, on purpose) is never handed to another,
/// even though nothing listens on it yet.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("bind a free port")
            .port();
        let mut given = GIVEN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Waits (30 s at most) until something accepts connections on
/// 127.0.0.1:`port`; `what` names the server on failure.
pub async fn wait_listening(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "{what} did not listen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A running `keydesk` subcommand.
pub struct Daemon {
    child: Child,
}

impl Daemon {
    /// Starts `keydesk ARGS` with `env` (its log file setting dropped, so
    /// it logs to stderr), writing stdout and stderr to `log`.
    pub fn start(args: &[&str], env: &[(String, String)], log: &Path) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_keydesk"));
        cmd.args(args);
        Self::spawn(cmd, env, log)
    }

    /// Starts `cmd` (keydesk, or a shell that `exec`s it) the same way.
    pub fn spawn(mut cmd: Command, env: &[(String, String)], log: &Path) -> Self {
        let log = std::fs::File::create(log).expect("create the log file");
        let child = cmd
            .envs(
                env.iter()
                    .filter(|(k, _)| k != "KEYDESK__LOG__FILE")
                    .cloned(),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log file"))
            .stderr(log)
            .spawn()
            .expect("start keydesk");
        Self { child }
    }

    /// Waits (20 s at most) until the log file `log` holds `text`;
    /// returns the log.
    pub fn wait_log(&mut self, log: &Path, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let seen = std::fs::read_to_string(log).unwrap_or_default();
            if seen.contains(text) {
                return seen;
            }
            assert!(self.alive(), "keydesk ended before {text:?}:\n{seen}");
            assert!(Instant::now() < deadline, "waited for {text:?}:\n{seen}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// For `serve`: waits until it says where it listens, and returns that
    /// `ADDRESS:PORT`.
    pub fn site_address(&mut self, log: &Path) -> String {
        const SAYS: &str = "customer site on http://";
        let seen = self.wait_log(log, SAYS);
        seen.split(SAYS)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .expect("an address after the marker")
            .to_owned()
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
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
