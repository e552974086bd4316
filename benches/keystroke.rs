//! Keystroke to frame measured from outside, as the scale issue's table
//! was: the real `keydesk` binary in a pseudo-terminal (200x50) on a big
//! store, typing queries one key at a time. Each key is timed from its
//! write to the frame that shows that query's results (the search box
//! holds the query and the match count is drawn without the spinner).
//! Also: spawn to first results, and the memory of a first and a second
//! console (resident, and private: what a further console adds, the
//! mapped index file's pages being shared).
//!
//! Data: the console benches' store (`support::store_url()`, or any
//! database at `KEYDESK_BENCH_URL`, e.g. a PostgreSQL one), seeded once if
//! empty. The index file is built once before the consoles start, at the
//! store's default place or `KEYDESK_BENCH_INDEX`.
//!
//! Run: `cargo bench --bench keystroke` (no criterion groups: the figures
//! are medians and percentiles of individually timed keys, printed at the end).
//! Each query is typed three times; `KEYDESK_BENCH_ROUNDS` sets how many
//! (a shape's p95 over three keys of one letter is their max).

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod support;
use support::quantile::quantile;

use portable_pty::{Child, MasterPty, PtySize, native_pty_system};

/// Query shapes: one letter, common names, rare substrings, email
/// domains, no match.
const QUERIES: &[(&str, &str)] = &[
    ("one letter", "e"),
    ("common name", "anna"),
    ("common name", "müller"),
    ("common fragment", "son"),
    ("email domain", "gmail.com"),
    ("email domain", "@seznam.cz"),
    ("rare substring", "zbyněk"),
    ("rare substring", "ørsted"),
    ("no match", "zqxjv"),
];

const ROWS: u16 = 50;
const COLS: u16 = 200;

struct Console {
    child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    chunks: mpsc::Receiver<(Vec<u8>, Instant)>,
    screen: vt100::Parser,
    _master: Box<dyn MasterPty + Send>,
}

fn index_file() -> Option<String> {
    std::env::var("KEYDESK_BENCH_INDEX").ok()
}

fn spawn(url: &str, dir: &std::path::Path) -> (Console, Instant) {
    let pty = native_pty_system()
        .openpty(PtySize {
            rows: ROWS,
            cols: COLS,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("pty");
    let mut cmd = support::console_command(url, dir);
    if let Some(file) = index_file() {
        cmd.env("KEYDESK__SEARCH__INDEX_FILE", file);
    }
    let started = Instant::now();
    let child = pty.slave.spawn_command(cmd).expect("spawn keydesk");
    drop(pty.slave);
    let mut reader = pty.master.try_clone_reader().expect("reader");
    let writer = pty.master.take_writer().expect("writer");
    let (tx, chunks) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send((buf[..n].to_vec(), Instant::now())).is_err() {
                break;
            }
        }
    });
    (
        Console {
            child,
            writer,
            chunks,
            screen: vt100::Parser::new(
                std::num::NonZero::new(ROWS).expect("rows"),
                std::num::NonZero::new(COLS).expect("cols"),
                0,
            ),
            _master: pty.master,
        },
        started,
    )
}

/// Whether the screen shows the results of `query`: the search box holds
/// exactly it, and the count is drawn without the spinner.
fn shows_results(screen: &vt100::Screen, query: &str) -> bool {
    let text = screen.contents();
    let search = text
        .lines()
        .find_map(|l| l.split_once(" Search ").map(|(_, rest)| rest.to_owned()));
    let typed = search.is_some_and(|rest| {
        // Unfocused and empty, the box shows its hint instead.
        (query.is_empty() && rest.starts_with("/ to search"))
            || rest
                .strip_prefix(query)
                .is_some_and(|after| after.is_empty() || after.starts_with(' '))
    });
    let counted = text.lines().any(|l| {
        l.contains("Contacts")
            && l.contains("match")
            && !keydesk::tui::view::SPINNER.iter().any(|s| l.contains(s))
    });
    typed && counted
}

impl Console {
    /// Feeds output until `done` holds; when it does, the arrival time
    /// of the chunk that made it so.
    fn wait(&mut self, done: impl Fn(&vt100::Screen) -> bool) -> Instant {
        loop {
            let (bytes, at) = self
                .chunks
                .recv_timeout(Duration::from_secs(60))
                .expect("the console answered within 60 s");
            self.screen.process(&bytes);
            if done(self.screen.screen()) {
                return at;
            }
        }
    }

    fn key(&mut self, bytes: &[u8]) -> Instant {
        self.writer.write_all(bytes).expect("write to the console");
        self.writer.flush().expect("flush");
        Instant::now()
    }

    fn memory(&self) -> (u64, u64) {
        let pid = self.child.process_id().expect("pid");
        let rollup =
            std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        let kib = |field: &str| -> u64 {
            rollup
                .lines()
                .filter(|l| l.starts_with(field))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum()
        };
        (kib("Rss:"), kib("Private_Clean:") + kib("Private_Dirty:"))
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    quantile(sorted, p).unwrap_or(Duration::ZERO)
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn mib(kib: u64) -> String {
    format!("{:.0}", kib as f64 / 1024.0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list`: nothing criterion-shaped here
    }
    let url = std::env::var("KEYDESK_BENCH_URL").unwrap_or_else(|_| support::store_url());
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = support::settings(&url);
    if let Some(file) = index_file() {
        settings.search.index_file = file;
    } else if settings.search.index_file.is_empty() || !url.starts_with("sqlite:") {
        // Where the console (data dir in the temp folder) will look.
        settings.search.index_file =
            keydesk::settings::index_file_for(&url, &dir.path().join("data").join("keydesk"))
                .map(|p| p.display().to_string())
                .unwrap_or_default();
    }
    rt.block_on(async {
        let store = support::seeded_store(&settings).await;
        let me = keydesk::desk::Identity::from_os().expect("OS user");
        support::ensure_viewer(&store, &me.name).await;
        let searcher = keydesk::store::search::Searcher::new(
            store,
            &settings.search,
            keydesk::clock::Clock::system(),
        );
        let began = Instant::now();
        searcher.load().await.expect("index");
        eprintln!(
            "index file {} ready in {:.1}s",
            settings.search.index_file,
            began.elapsed().as_secs_f64()
        );
    });

    let (mut first, started) = spawn(&url, dir.path());
    let launched = first.wait(|s| shows_results(s, "")) - started;
    // Let the console map the index and settle.
    std::thread::sleep(Duration::from_secs(2));
    first.key(b"/");
    let mut per_shape: Vec<(&str, &str, Vec<Duration>)> = Vec::new();
    let mut all = Vec::new();
    // Every key with the query it completed, to name the slow ones.
    let mut keys: Vec<(Duration, String)> = Vec::new();
    let rounds = if std::env::args().any(|a| a == "--quick") {
        1
    } else {
        std::env::var("KEYDESK_BENCH_ROUNDS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(3)
    };
    for _ in 0..rounds {
        for (shape, query) in QUERIES {
            let mut times = Vec::new();
            let mut typed = String::new();
            for ch in query.chars() {
                typed.push(ch);
                let mut bytes = [0u8; 4];
                let sent = first.key(ch.encode_utf8(&mut bytes).as_bytes());
                let at = first.wait(|s| shows_results(s, &typed));
                times.push(at - sent);
                keys.push((at - sent, typed.clone()));
            }
            all.extend(times.iter().copied());
            match per_shape.iter_mut().find(|(_, q, _)| q == query) {
                Some((.., t)) => t.extend(times),
                None => per_shape.push((shape, query, times)),
            }
            for _ in query.chars() {
                first.key(b"\x7f");
            }
            first.wait(|s| shows_results(s, ""));
        }
    }
    let (first_rss, first_private) = first.memory();
    let (mut second, started) = spawn(&url, dir.path());
    let second_launch = second.wait(|s| shows_results(s, "")) - started;
    std::thread::sleep(Duration::from_secs(2));
    second.key(b"/");
    for (_, query) in QUERIES {
        second.key(query.as_bytes());
        second.wait(|s| shows_results(s, query));
        for _ in query.chars() {
            second.key(b"\x7f");
        }
        second.wait(|s| shows_results(s, ""));
    }
    let (second_rss, second_private) = second.memory();

    println!();
    println!("| shape | query | keys | median ms | p95 ms | max ms |");
    println!("|---|---|---:|---:|---:|---:|");
    for (shape, query, mut times) in per_shape {
        times.sort();
        println!(
            "| {shape} | {query} | {} | {} | {} | {} |",
            times.len(),
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.95)),
            ms(*times.last().unwrap_or(&Duration::ZERO))
        );
    }
    all.sort();
    println!(
        "all keys ({}): median {} ms, p95 {} ms, max {} ms",
        all.len(),
        ms(percentile(&all, 0.5)),
        ms(percentile(&all, 0.95)),
        ms(*all.last().unwrap_or(&Duration::ZERO))
    );
    keys.sort_by_key(|k| std::cmp::Reverse(k.0));
    let slowest: Vec<String> = keys
        .iter()
        .take(12)
        .map(|(t, q)| format!("{q:?} {}", ms(*t)))
        .collect();
    println!("slowest keys (query so far, ms): {}", slowest.join(", "));
    println!(
        "spawn to first results: first console {} ms, second {} ms",
        ms(launched),
        ms(second_launch)
    );
    println!(
        "memory: first console {} MiB resident ({} MiB private); second console {} MiB resident ({} MiB private)",
        mib(first_rss),
        mib(first_private),
        mib(second_rss),
        mib(second_private)
    );
}
