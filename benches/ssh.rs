//! `keydesk ssh-serve` where an agent feels it, against the real binaries:
//!
//! - keystroke to frame: a cursor move (Down/Up) sent on an SSH channel
//!   until the first bytes of the redrawn frame come back, beside the
//!   same keystroke written to the local console in a pty;
//! - memory per session: the server's resident memory before and after
//!   opening 20 sessions (each past its first frame), divided by 20;
//! - 50 concurrent sessions: one keystroke in one session while 49 others
//!   are open, and a keystroke in all 50 at once until every frame is back.
//!
//! The store is the tests' small seeded SQLite store (202 contacts), so
//! the figures are the SSH and console path, not search. The client side
//! of the SSH figures is russh's client in this process (the OpenSSH
//! client adds its own pty). A summary with median and p95 is printed.
//!
//! Run: `cargo bench --bench ssh` (add `-- --quick` for a shorter run).

#[path = "support/quantile.rs"]
mod quantile;
use quantile::quantile;

// The tests' own support pieces (tests/support): the seeded store and the
// server, and what they are built on; the bench uses part of each.
#[expect(dead_code, reason = "the bench uses part of the tests' support")]
#[path = "../tests/support/console.rs"]
mod console;
#[expect(dead_code, reason = "the bench uses part of the tests' support")]
#[path = "../tests/support/db.rs"]
mod db;
#[expect(dead_code, reason = "the bench uses part of the tests' support")]
#[path = "../tests/support/people.rs"]
mod people;
#[expect(dead_code, reason = "the bench uses part of the tests' support")]
#[path = "../tests/support/process.rs"]
mod process;
#[expect(dead_code, reason = "the bench uses part of the tests' support")]
#[path = "../tests/support/pty.rs"]
mod pty;
#[expect(dead_code, reason = "the bench uses part of the tests' support")]
#[path = "../tests/support/ssh.rs"]
mod ssh_support;

use std::io::{Read, Write};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::Criterion;
use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use russh::ChannelMsg;
use russh::client::{self, Handle};
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg};
use tokio::runtime::Runtime;

const DOWN: &[u8] = b"\x1b[B";
const UP: &[u8] = b"\x1b[A";

struct Trusting;

impl client::Handler for Trusting {
    type Error = russh::Error;
    async fn check_server_key(
        &mut self,
        _key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

/// One signed-in SSH console session.
struct SshSession {
    _handle: Handle<Trusting>,
    channel: russh::Channel<client::Msg>,
    flip: bool,
}

impl SshSession {
    async fn open(port: u16, key: Arc<PrivateKey>, cols: u32, rows: u32) -> Self {
        let config = Arc::new(client::Config {
            nodelay: true,
            ..Default::default()
        });
        let mut handle = client::connect(config, ("127.0.0.1", port), Trusting)
            .await
            .expect("connect");
        let auth = handle
            .authenticate_publickey("bench", PrivateKeyWithHashAlg::new(key, None))
            .await
            .expect("authenticate");
        assert!(auth.success(), "the bench key was refused");
        let channel = handle.channel_open_session().await.expect("session");
        channel
            .request_pty(false, "xterm-256color", cols, rows, 0, 0, &[])
            .await
            .expect("pty");
        channel.request_shell(false).await.expect("shell");
        let mut session = Self {
            _handle: handle,
            channel,
            flip: false,
        };
        // Until the first search's result count is drawn.
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !String::from_utf8_lossy(&seen).contains("matches") {
            assert!(Instant::now() < deadline, "no first frame");
            if let Some(ChannelMsg::Data { data }) = session.channel.wait().await {
                seen.extend_from_slice(&data);
            }
        }
        session.drain().await;
        session
    }

    /// Reads whatever is already on its way (ticks, late frames).
    async fn drain(&mut self) {
        while let Ok(Some(_)) =
            tokio::time::timeout(Duration::from_millis(3), self.channel.wait()).await
        {}
    }

    /// Sends Down or Up (alternately) and waits for the frame's first bytes.
    async fn keystroke(&mut self) -> Duration {
        self.flip = !self.flip;
        let key = if self.flip { DOWN } else { UP };
        let started = Instant::now();
        self.channel.data(key).await.expect("send");
        loop {
            match self.channel.wait().await {
                Some(ChannelMsg::Data { .. }) => return started.elapsed(),
                Some(_) => {}
                None => panic!("the session closed"),
            }
        }
    }
}

/// The local console in a pty, for comparison.
struct LocalConsole {
    writer: Box<dyn Write + Send>,
    chunks: std_mpsc::Receiver<Vec<u8>>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
    flip: bool,
}

impl LocalConsole {
    fn start(env: &[(String, String)]) -> Self {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: 40,
                cols: 120,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_keydesk"));
        cmd.env("TERM", "xterm-256color");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pty.slave.spawn_command(cmd).unwrap();
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().unwrap();
        let writer = pty.master.take_writer().unwrap();
        let (tx, chunks) = std_mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 16384];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let console = Self {
            writer,
            chunks,
            child,
            _master: pty.master,
            flip: false,
        };
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !String::from_utf8_lossy(&seen).contains("matches") {
            assert!(Instant::now() < deadline, "no first local frame");
            if let Ok(chunk) = console.chunks.recv_timeout(Duration::from_millis(100)) {
                seen.extend_from_slice(&chunk);
            }
        }
        std::thread::sleep(Duration::from_millis(300));
        console.drain();
        console
    }

    fn drain(&self) {
        while self.chunks.recv_timeout(Duration::from_millis(3)).is_ok() {}
    }

    fn keystroke(&mut self) -> Duration {
        self.flip = !self.flip;
        let key = if self.flip { DOWN } else { UP };
        let started = Instant::now();
        self.writer.write_all(key).unwrap();
        self.writer.flush().unwrap();
        self.chunks.recv().expect("a frame");
        started.elapsed()
    }
}

impl Drop for LocalConsole {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[derive(Default)]
struct Samples(Mutex<Vec<(String, Duration)>>);

impl Samples {
    fn add(&self, name: &str, d: Duration) {
        self.0.lock().unwrap().push((name.to_owned(), d));
    }
    fn summary(&self, name: &str) -> String {
        let mut v: Vec<Duration> = self
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, d)| *d)
            .collect();
        if v.is_empty() {
            return format!("{name}: no samples");
        }
        v.sort();
        let pick = |q: f64| quantile(&v, q).unwrap_or_default();
        format!(
            "{name:<46} median {:>8.3} ms   p95 {:>8.3} ms   ({} samples)",
            pick(0.5).as_secs_f64() * 1e3,
            pick(0.95).as_secs_f64() * 1e3,
            v.len()
        )
    }
}

fn main() {
    let mut criterion = Criterion::default()
        .configure_from_args()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let rt = Runtime::new().unwrap();
    // Dozens of sessions from one address in a few seconds: the gate
    // before key exchange (tests/ssh/front_door.rs) is opened wide, as the
    // figures are about sessions, not about refusing a flood.
    let fx = rt.block_on(ssh_support::fixture(&[
        ("KEYDESK__SSH__PER_ADDRESS_RATE", "1000"),
        ("KEYDESK__SSH__MAX_STARTUPS_PER_ADDRESS", "100"),
        ("KEYDESK__SSH__MAX_STARTUPS", "100"),
    ]));
    let key_path = fx.operator_with_key("bench", "agent");
    let key = Arc::new(PrivateKey::read_openssh_file(&key_path).unwrap());
    let server = ssh_support::Server::start(&fx);
    let port = server.port;
    let samples = Samples::default();
    let mut notes = Vec::new();

    // Keystroke to frame: SSH beside the local console.
    let mut one = rt.block_on(SshSession::open(port, Arc::clone(&key), 120, 40));
    criterion.bench_function("ssh-serve: keystroke to frame (120x40)", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    one.drain().await;
                    let d = one.keystroke().await;
                    samples.add("ssh keystroke to frame", d);
                    total += d;
                }
                total
            })
        });
    });
    let mut local = LocalConsole::start(&fx.env);
    criterion.bench_function("local console: keystroke to frame (120x40)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                local.drain();
                let d = local.keystroke();
                samples.add("local keystroke to frame", d);
                total += d;
            }
            total
        });
    });
    drop(local);

    // Memory per session.
    let pid = server.child.id();
    rt.block_on(one.drain());
    std::thread::sleep(Duration::from_millis(500));
    let before = rss_kib(pid);
    let mut others = Vec::new();
    for _ in 0..20 {
        others.push(rt.block_on(SshSession::open(port, Arc::clone(&key), 120, 40)));
    }
    std::thread::sleep(Duration::from_millis(500));
    let after20 = rss_kib(pid);
    notes.push(format!(
        "server RSS: {before} KiB with 1 session, {after20} KiB with 21: {:.0} KiB per session",
        (after20.saturating_sub(before)) as f64 / 20.0
    ));

    // 50 sessions open at once.
    while others.len() < 49 {
        others.push(rt.block_on(SshSession::open(port, Arc::clone(&key), 120, 40)));
    }
    std::thread::sleep(Duration::from_millis(500));
    notes.push(format!("server RSS with 50 sessions: {} KiB", rss_kib(pid)));
    criterion.bench_function("ssh-serve: keystroke to frame, 50 sessions open", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    one.drain().await;
                    let d = one.keystroke().await;
                    samples.add("ssh keystroke, 49 others open", d);
                    total += d;
                }
                total
            })
        });
    });
    let mut all: Vec<SshSession> = std::iter::once(one).chain(others).collect();
    criterion.bench_function(
        "ssh-serve: a keystroke in each of 50 sessions at once",
        |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        for s in &mut all {
                            s.drain().await;
                        }
                        let started = Instant::now();
                        let each = futures_util::future::join_all(
                            all.iter_mut().map(SshSession::keystroke),
                        )
                        .await;
                        let d = started.elapsed();
                        for e in each {
                            samples.add("each of 50 simultaneous keystrokes", e);
                        }
                        samples.add("all 50 frames back", d);
                        total += d;
                    }
                    total
                })
            });
        },
    );
    drop(all);

    println!("\n== ssh-serve summary");
    for name in [
        "local keystroke to frame",
        "ssh keystroke to frame",
        "ssh keystroke, 49 others open",
        "each of 50 simultaneous keystrokes",
        "all 50 frames back",
    ] {
        println!("{}", samples.summary(name));
    }
    for note in notes {
        println!("{note}");
    }
    criterion.final_summary();
    drop(server);
}
