//! The console's speed where a user feels it, at a million contacts on
//! SQLite:
//!
//! - keystroke to frame: a key in the search box goes through `update`,
//!   the search task (in-memory index, rows from SQLite), `update` again,
//!   and a drawn frame (what the event loop does, minus waiting);
//! - launch to first frame: services (index loading starts), the first
//!   search (answered by SQL while the index loads) and the first frame;
//! - bytes written to the terminal at 200x50 for one keystroke in the
//!   search box, one cursor move, and a full frame;
//! - resident memory once the index is loaded.
//!
//! Data: `target/bench-data/tui-1m.db` (or `KEYDESK_BENCH_SQLITE`), seeded
//! once with `KEYDESK_BENCH_CONTACTS` contacts (default 1,000,000) if empty.
//! A summary with median and p95 is printed at the end.
//!
//! Run: `cargo bench --bench tui` (add `-- --quick` for a shorter run).

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod support;
use support::quantile::quantile;

use criterion::Criterion;
use keydesk::clock::Clock;
use keydesk::desk::{Desk, Identity};
use keydesk::tui::app::App;
use keydesk::tui::msg::{Cmd, Msg};
use keydesk::tui::services::Services;
use keydesk::tui::update::{init, update};
use keydesk::tui::wire::LeanBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::layout::Size;
use ratatui::{Terminal, TerminalOptions, Viewport};
use tokio::runtime::Runtime;

/// Counts what the terminal would receive.
#[derive(Clone, Default)]
struct Counter(Arc<Mutex<usize>>);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        *self.0.lock().unwrap() += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Counter {
    fn take(&self) -> usize {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

async fn desk() -> Desk {
    let settings = support::settings(&support::store_url());
    let store = support::seeded_store(&settings).await;
    support::ensure_viewer(&store, &identity().name).await;
    Desk::new(store, settings, Clock::system()).expect("desk")
}

fn identity() -> Identity {
    Identity {
        name: "bench".into(),
        source: "local".into(),
    }
}

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

/// Runs the commands a message produced that the frame depends on
/// (searches, profile loads), feeding the answers back, like the loop.
async fn settle(app: &mut App, services: &Services, cmds: Vec<Cmd>) {
    let mut queue = cmds;
    while let Some(cmd) = queue.pop() {
        let msg = match cmd {
            Cmd::Search {
                generation,
                query,
                append,
            } => Msg::SearchDone {
                generation,
                append,
                result: services.search(&query).await,
            },
            Cmd::LoadProfile {
                generation,
                contact_id,
            } => Msg::ProfileLoaded {
                generation,
                result: services.profile(contact_id).await.map(Box::new),
            },
            _ => continue,
        };
        queue.extend(update(app, msg));
    }
}

type Term = Terminal<LeanBackend<Counter>>;

fn terminal(w: u16, h: u16) -> (Term, Counter) {
    let counter = Counter::default();
    let t = Terminal::with_options(
        LeanBackend::new(counter.clone(), Size::new(w, h)),
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, w, h)),
        },
    )
    .unwrap();
    (t, counter)
}

fn frame(t: &mut Term, app: &mut App) {
    keydesk::tui::runtime::draw(t, app).unwrap();
}

fn percentile(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    quantile(&v, p).unwrap_or(Duration::ZERO)
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn benches(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    // The searcher's refresh task needs the runtime's context.
    let _context = rt.enter();
    let desk = rt.block_on(desk());
    let rss_before = rss_mib();

    // A console with its index loaded, at 200x50.
    let services = Services::new(desk.clone(), identity());
    rt.block_on(async {
        services.searcher().load().await.expect("load index");
    });
    let rss_loaded = rss_mib();
    // Launch: as the event loop does, the first frame is drawn at once
    // (the list says "Searching…"); the first results follow.
    let mut launches = Vec::new();
    let mut first_frames = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let services = Services::new(desk.clone(), identity());
        let mut app = keydesk::tui::new_app(&desk, (200, 50), false).unwrap();
        let cmds = init(&mut app);
        let (mut t, _) = terminal(200, 50);
        frame(&mut t, &mut app);
        first_frames.push(started.elapsed());
        rt.block_on(settle(&mut app, &services, cmds));
        frame(&mut t, &mut app);
        launches.push(started.elapsed());
        drop(services);
    }

    let mut app = keydesk::tui::new_app(&desk, (200, 50), false).unwrap();
    let (mut t, counter) = terminal(200, 50);
    rt.block_on(async {
        let cmds = init(&mut app);
        settle(&mut app, &services, cmds).await;
    });
    frame(&mut t, &mut app);
    let full_frame = counter.take();

    // Bytes: one keystroke in the search box (new results) and one move.
    let mut keystroke_bytes = Vec::new();
    let mut move_bytes = Vec::new();
    let mut latencies = Vec::new();
    let words = [
        "m", "ma", "mar", "mari", "maria", "mar", "an", "ann", "anna", "s", "sm", "smi", "smit",
        "smith", "gmail",
    ];
    for (i, w) in words.iter().cycle().take(60).enumerate() {
        // Type the word's last letter after setting the box to its prefix.
        app.search = tui_input::Input::new(w[..w.len() - 1].to_owned());
        app.focus = keydesk::tui::app::Focus::Search;
        let last = w.chars().last().unwrap();
        let started = Instant::now();
        let cmds = update(&mut app, key(last));
        rt.block_on(settle(&mut app, &services, cmds));
        frame(&mut t, &mut app);
        latencies.push(started.elapsed());
        keystroke_bytes.push(counter.take());
        if i % 3 == 0 {
            update(
                &mut app,
                Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)),
            );
            frame(&mut t, &mut app);
            counter.take();
            let cmds = update(&mut app, key('j'));
            // A move loads the new profile: count the move's frame alone,
            // then the profile's.
            frame(&mut t, &mut app);
            move_bytes.push(counter.take());
            rt.block_on(settle(&mut app, &services, cmds));
            frame(&mut t, &mut app);
            counter.take();
        }
    }

    let mut group = c.benchmark_group("tui");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(8));
    group.bench_function("keystroke_to_frame_1m_sqlite", |b| {
        let mut n = 0usize;
        b.iter(|| {
            let w = words[n % words.len()];
            n += 1;
            app.search = tui_input::Input::new(w[..w.len() - 1].to_owned());
            app.focus = keydesk::tui::app::Focus::Search;
            let cmds = update(&mut app, key(w.chars().last().unwrap()));
            rt.block_on(settle(&mut app, &services, cmds));
            frame(&mut t, &mut app);
        });
    });
    group.bench_function("cursor_move_frame", |b| {
        update(
            &mut app,
            Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)),
        );
        b.iter(|| {
            update(&mut app, key('j'));
            frame(&mut t, &mut app);
        });
    });
    group.finish();

    let median = |v: &[usize]| {
        let mut v = v.to_vec();
        v.sort_unstable();
        v[v.len() / 2]
    };
    eprintln!("\n== tui figures (1M contacts, SQLite, 200x50) ==");
    eprintln!(
        "launch to first frame: median {:?}, max {:?}",
        percentile(first_frames.clone(), 0.5),
        percentile(first_frames, 1.0)
    );
    eprintln!(
        "launch to first results on screen: median {:?}, max {:?}",
        percentile(launches.clone(), 0.5),
        percentile(launches, 1.0)
    );
    eprintln!(
        "keystroke to frame: median {:?}, p95 {:?} ({} keystrokes)",
        percentile(latencies.clone(), 0.5),
        percentile(latencies.clone(), 0.95),
        latencies.len()
    );
    eprintln!(
        "bytes: full frame {full_frame}; keystroke median {} max {}; cursor move median {} max {}",
        median(&keystroke_bytes),
        keystroke_bytes.iter().max().unwrap(),
        median(&move_bytes),
        move_bytes.iter().max().unwrap()
    );
    eprintln!(
        "resident memory: {rss_before:.0} MiB before the index, {rss_loaded:.0} MiB with it loaded"
    );
}

criterion::criterion_group!(tui_benches, benches);
criterion::criterion_main!(tui_benches);
