//! A real SMTP server for the mail tests: aiosmtpd running
//! `tests/support/smtp_server.py` from the venv that
//! `tests/support/smtp-venv.sh` creates (the harness runs the script once
//! if the venv is missing; `.ci/run` runs it up front). Each server listens
//! on 127.0.0.1 on a free port, writes every accepted message into its own
//! capture folder, and is killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use super::tls::TlsFiles;

use super::process::free_port;

fn support_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support")
}

/// The venv's python, creating the venv on first use.
pub fn venv_python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let venv = std::env::var_os("KEYDESK_SMTP_VENV").map_or_else(
                || Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/.smtp-venv"),
                PathBuf::from,
            );
            let status = Command::new("bash")
                .arg(support_dir().join("smtp-venv.sh"))
                .env("KEYDESK_SMTP_VENV", &venv)
                .status()
                .expect("run tests/support/smtp-venv.sh");
            assert!(
                status.success(),
                "tests/support/smtp-venv.sh failed: the mail tests need aiosmtpd from PyPI in {}",
                venv.display()
            );
            venv.join("bin/python")
        })
        .clone()
}

/// A private CA and a relay certificate it signed for `127.0.0.1` and
/// `localhost`: what a private relay has, and what `mail.smtp.ca_file` is for.
pub fn self_signed() -> TlsFiles {
    super::tls::private_ca("localhost", "DNS:localhost,IP:127.0.0.1")
}

/// How the server behaves.
#[derive(Default, Clone)]
pub struct SmtpOptions {
    /// Listen here instead of a fresh free port.
    pub port: Option<u16>,
    /// Offer STARTTLS with this certificate and require it.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Require AUTH with this user and password.
    pub auth: Option<(String, String)>,
    /// 550 for recipients containing this.
    pub reject_rcpt: Option<String>,
    /// 451 for recipients containing this.
    pub tempfail_rcpt: Option<String>,
    /// Accept connections and never answer.
    pub hang: bool,
    /// Take the message after DATA and never answer (nor keep it).
    pub hang_after_data: bool,
    /// Wait this long before every reply.
    pub slow: Option<Duration>,
}

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct Captured {
    pub raw: String,
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    pub tls: bool,
    pub auth_user: Option<String>,
    pub path: PathBuf,
}

impl Captured {
    /// The first header with this name, unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self
            .raw
            .split("\r\n\r\n")
            .next()
            .unwrap_or_default()
            .replace("\r\n ", " ")
            .replace("\r\n\t", " ");
        head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }
}

/// A running aiosmtpd; killed on drop.
pub struct SmtpServer {
    child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    _capture: tempfile::TempDir,
}

impl SmtpServer {
    /// Starts a server and waits until its port accepts connections.
    pub fn start(opts: SmtpOptions) -> Self {
        let python = venv_python();
        let capture = tempfile::tempdir().expect("capture dir");
        let dir = capture.path().to_path_buf();
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(dir.join(sub)).expect("capture folders");
        }
        // A port chosen here can be taken, between choosing and binding, as
        // the local end of some outgoing connection; then the server cannot
        // bind and we try another. Readiness is the server's own "ready"
        // line, printed after it bound, never a probe connect (which can
        // meet a stranger, or even itself, on a loopback port).
        let mut tries = 0;
        let (child, port) = loop {
            tries += 1;
            let port = opts.port.unwrap_or_else(free_port);
            let mut cmd = Command::new(&python);
            cmd.arg(support_dir().join("smtp_server.py"))
                .arg("--port")
                .arg(port.to_string())
                .arg("--dir")
                .arg(&dir)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit());
            if let Some((cert, key)) = &opts.tls {
                cmd.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
            }
            if let Some((user, password)) = &opts.auth {
                cmd.arg("--auth").arg(format!("{user}:{password}"));
            }
            if let Some(text) = &opts.reject_rcpt {
                cmd.arg("--reject-rcpt").arg(text);
            }
            if let Some(text) = &opts.tempfail_rcpt {
                cmd.arg("--tempfail-rcpt").arg(text);
            }
            if opts.hang {
                cmd.arg("--hang");
            }
            if opts.hang_after_data {
                cmd.arg("--hang-after-data");
            }
            if let Some(delay) = opts.slow {
                cmd.arg("--slow").arg(format!("{:.3}", delay.as_secs_f64()));
            }
            let mut child = cmd.spawn().expect("start aiosmtpd");
            let stdout = child.stdout.take().expect("server stdout");
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                use std::io::BufRead;
                let mut lines = std::io::BufReader::new(stdout).lines();
                let ready = lines.next().and_then(Result::ok);
                let _ = tx.send(ready);
                // Keep draining so the server never blocks on a full pipe.
                for _ in lines {}
            });
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(Some(line)) if line.trim() == format!("ready {port}") => break (child, port),
                Ok(_) if opts.port.is_none() && tries < 5 => {
                    let _ = child.kill();
                    let _ = child.wait();
                }
                Ok(other) => {
                    let _ = child.kill();
                    panic!("aiosmtpd did not start on {port}: {other:?}");
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("aiosmtpd did not listen on {port} within 30 s");
                }
            }
        };
        Self {
            child: Some(child),
            port,
            dir,
            _capture: capture,
        }
    }

    /// A plain server on a fresh port.
    pub fn plain() -> Self {
        Self::start(SmtpOptions::default())
    }

    /// Kills the server now (the port then refuses connections).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// How many messages arrived so far (names only; cheap to poll).
    pub fn count(&self) -> usize {
        std::fs::read_dir(self.dir.join("new")).map_or(0, |entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .count()
        })
    }

    /// Every message received so far, in arrival order.
    pub fn messages(&self) -> Vec<Captured> {
        let new = self.dir.join("new");
        let mut names: Vec<PathBuf> = std::fs::read_dir(&new)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
            .into_iter()
            .map(|path| {
                let raw =
                    String::from_utf8_lossy(&std::fs::read(&path).expect("read .eml")).into_owned();
                let meta: serde_json::Value = serde_json::from_slice(
                    &std::fs::read(path.with_extension("json")).expect("read .json"),
                )
                .expect("parse .json");
                Captured {
                    raw,
                    mail_from: meta["mail_from"].as_str().unwrap_or_default().to_owned(),
                    rcpt_tos: meta["rcpt_tos"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default(),
                    tls: meta["tls"].as_bool().unwrap_or(false),
                    auth_user: meta["auth_user"].as_str().map(str::to_owned),
                    path,
                }
            })
            .collect()
    }

    /// Waits until at least `n` messages arrived (or `within` passed) and
    /// returns them all.
    pub fn wait_for(&self, n: usize, within: Duration) -> Vec<Captured> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.messages();
            if got.len() >= n || Instant::now() >= deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}
