//! A cold launch of the console as a user starts it: the real `keydesk`
//! binary in a pseudo-terminal on a million-contact SQLite store, timed
//! from spawning the process to the first frame on the screen (the
//! frame's title has arrived), and to the first results (the match count
//! is drawn). Process start, settings, connecting, the migration check and
//! the first search are all inside.
//!
//! Data: `target/bench-data/tui-1m.db` (or `KEYDESK_BENCH_SQLITE`), shared
//! with the `tui` bench and seeded once with `KEYDESK_BENCH_CONTACTS`
//! contacts (default 1,000,000) if empty.
//!
//! Run: `cargo bench --bench launch`.

use std::io::Read;
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod support;
use support::quantile::quantile;

use criterion::Criterion;
use portable_pty::{PtySize, native_pty_system};

/// Seeds the store once; the user running the bench may browse it.
fn prepare(url: &str) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let store = support::seeded_store(&support::settings(url)).await;
        let me = keydesk::desk::Identity::from_os().expect("OS user");
        support::ensure_viewer(&store, &me.name).await;
    });
}

/// One cold start: (spawn to first frame, spawn to first results).
fn launch(url: &str, dir: &std::path::Path) -> (Duration, Duration) {
    let pty = native_pty_system()
        .openpty(PtySize {
            rows: 50,
            cols: 200,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("pty");
    let cmd = support::console_command(url, dir);
    let started = Instant::now();
    let mut child = pty.slave.spawn_command(cmd).expect("spawn keydesk");
    drop(pty.slave);
    let mut reader = pty.master.try_clone_reader().expect("reader");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 16384];
        let (mut frame, mut results) = (false, false);
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&seen);
            if !frame && text.contains("Contacts") {
                frame = true;
                let _ = tx.send(("frame", Instant::now()));
            }
            if !results && text.contains("matches") {
                results = true;
                let _ = tx.send(("results", Instant::now()));
            }
        }
    });
    let (mut first_frame, mut first_results) = (None, None);
    while first_frame.is_none() || first_results.is_none() {
        let (what, at) = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the console drew its first frame and results within 30 s");
        match what {
            "frame" => first_frame = Some(at - started),
            _ => first_results = Some(at - started),
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    (
        first_frame.unwrap_or_default(),
        first_results.unwrap_or_default(),
    )
}

fn percentile(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    quantile(&v, p).unwrap_or(Duration::ZERO)
}

fn benches(c: &mut Criterion) {
    let url = support::store_url();
    prepare(&url);
    let dir = tempfile::tempdir().expect("temp dir");
    // Warm the page cache once, as a second launch on a jump box would be.
    launch(&url, dir.path());
    let mut frames = Vec::new();
    let mut results = Vec::new();
    let mut group = c.benchmark_group("launch");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("spawn_to_first_frame_1m_sqlite", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (frame, first) = launch(&url, dir.path());
                frames.push(frame);
                results.push(first);
                total += frame;
            }
            total
        });
    });
    group.finish();
    eprintln!(
        "\n== launch ({} contacts, SQLite, 200x50, {} launches) ==",
        support::contacts(),
        frames.len()
    );
    eprintln!(
        "spawn to first frame: median {:?}, p95 {:?}",
        percentile(frames.clone(), 0.5),
        percentile(frames, 0.95)
    );
    eprintln!(
        "spawn to first results: median {:?}, p95 {:?}",
        percentile(results.clone(), 0.5),
        percentile(results, 0.95)
    );
}

criterion::criterion_group!(launch_benches, benches);
criterion::criterion_main!(launch_benches);
