//! Bulk loading: `seed` and `import` of N contacts into a new, empty store
//! on SQLite and PostgreSQL, as the scale issue asks (each within five
//! minutes at ten million, writing at most three times the final store).
//!
//! For each: wall time, bytes the machine wrote to its disks meanwhile
//! (`/sys/block/*/stat` around a `sync`: the store's writes wherever they
//! happen, the server's included, but also anything else the machine
//! wrote, so run it on a quiet machine), the store's size after, and the
//! ratio of the two. The CSV imported is N people from the seed's word
//! lists (seed 2, so other people than the seeded ones), a third of them
//! holding an offer.
//!
//! Run: `cargo bench --bench bulk` (1,000,000 contacts);
//! `KEYDESK_BENCH_CONTACTS=10000000` for ten million, with
//! `KEYDESK_BENCH_DATA` on a disk with room (about 20 GB). PostgreSQL at
//! `KEYDESK_BENCH_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432`)
//! gets two databases, `keydesk_bulk_seed` and `keydesk_bulk_import`,
//! dropped and made again each run; it is skipped when unreachable.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use keydesk::clock::Clock;
use keydesk::seed::people::{People, WordLists};
use keydesk::seed::{SeedOptions, seed};
use keydesk::store::Store;
use sea_orm::{ConnectionTrait, Database};

mod support;
use support::settings;

fn data_dir() -> PathBuf {
    let dir = std::env::var_os("KEYDESK_BENCH_DATA").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data"),
        PathBuf::from,
    );
    keydesk::files::private_dir_all(&dir).expect("bench data dir");
    dir
}

/// Bytes written to the machine's block devices so far (sectors of 512
/// bytes, field 7 of `/sys/block/<dev>/stat`), after flushing what the
/// page cache still holds.
fn disk_written() -> u64 {
    let _ = std::process::Command::new("sync").status();
    let mut sectors = 0u64;
    for entry in std::fs::read_dir("/sys/block")
        .expect("/sys/block")
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("loop") || name.starts_with("ram") || name.starts_with("zram") {
            continue;
        }
        if let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) {
            sectors += stat
                .split_whitespace()
                .nth(6)
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    sectors * 512
}

/// Writes `n` people (seed 2) as an import CSV; a third hold an offer.
fn write_csv(path: &Path, n: u64) {
    let lists = WordLists::builtin().expect("word lists");
    let mut people = People::new(&lists, 2);
    let file = std::fs::File::create(path).expect("create csv");
    let mut out = csv::Writer::from_writer(std::io::BufWriter::new(file));
    out.write_record(["name", "email", "subscribed", "offers"])
        .expect("header");
    for i in 0..n {
        let person = people.next_person();
        let subscribed = if i % 3 == 1 { "yes" } else { "no" };
        let offer = match i % 6 {
            0 => "Bulk Course",
            3 => "Bulk Course;Second Course",
            _ => "",
        };
        out.write_record([
            person.name.as_str(),
            person.email.as_str(),
            subscribed,
            offer,
        ])
        .expect("row");
    }
    out.flush().expect("flush csv");
}

fn sqlite_size(path: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            std::fs::metadata(name).map_or(0, |m| m.len())
        })
        .sum()
}

fn fresh_sqlite(path: &Path) -> String {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(name);
    }
    format!("sqlite://{}?mode=rwc", path.display())
}

/// A new, empty PostgreSQL database `name`, or None when the server is down.
async fn fresh_postgres(server: &str, name: &str) -> Option<String> {
    let admin = match Database::connect(format!("{server}/postgres")).await {
        Ok(db) => db,
        Err(err) => {
            eprintln!("bench: PostgreSQL unreachable at {server} ({err}); skipping it");
            return None;
        }
    };
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
        .await
        .expect("drop bench database");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create bench database");
    let _ = admin.close().await;
    Some(format!("{server}/{name}"))
}

async fn postgres_size(store: &Store) -> u64 {
    let row = store
        .conn()
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT pg_database_size(current_database()) AS size",
        ))
        .await
        .expect("database size")
        .expect("a row");
    u64::try_from(row.try_get::<i64>("", "size").expect("size")).unwrap_or(0)
}

async fn open(url: &str) -> Store {
    let store = Store::connect(&settings(url).database)
        .await
        .expect("connect bench store");
    store.migrate().await.expect("migrate bench store");
    store
}

async fn size_of(store: &Store, sqlite: Option<&Path>) -> u64 {
    match sqlite {
        Some(path) => sqlite_size(path),
        None => postgres_size(store).await,
    }
}

struct Line {
    backend: &'static str,
    what: &'static str,
    seconds: f64,
    written: u64,
    size: u64,
}

async fn run_seed(backend: &'static str, url: &str, sqlite: Option<&Path>, n: u64) -> Line {
    let store = open(url).await;
    let before = disk_written();
    let began = Instant::now();
    seed(&store, &SeedOptions::new(n, 1), |_| {})
        .await
        .expect("seed");
    let seconds = began.elapsed().as_secs_f64();
    let written = disk_written() - before;
    let size = size_of(&store, sqlite).await;
    Line {
        backend,
        what: "seed",
        seconds,
        written,
        size,
    }
}

async fn run_import(backend: &'static str, url: &str, sqlite: Option<&Path>, csv: &Path) -> Line {
    let store = open(url).await;
    let before = disk_written();
    let began = Instant::now();
    let input = std::io::BufReader::new(std::fs::File::open(csv).expect("open csv"));
    let report = keydesk::import::import(
        &store,
        input,
        false,
        "bench",
        Clock::system().now(),
        &|_| {},
    )
    .await
    .expect("import");
    let seconds = began.elapsed().as_secs_f64();
    let written = disk_written() - before;
    assert!(report.errors.is_empty(), "{:?}", &report.errors[..1]);
    let size = size_of(&store, sqlite).await;
    Line {
        backend,
        what: "import",
        seconds,
        written,
        size,
    }
}

fn main() {
    let n = support::contacts();
    let dir = data_dir();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let csv = dir.join(format!("bulk-{n}.csv"));
    if !csv.exists() {
        eprintln!("bench data: writing {n} people to {}", csv.display());
        write_csv(&csv, n);
    }
    let server = std::env::var("KEYDESK_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let mut lines = Vec::new();
    rt.block_on(async {
        let path = dir.join("bulk-seed.db");
        let url = fresh_sqlite(&path);
        lines.push(run_seed("sqlite", &url, Some(&path), n).await);
        let _ = fresh_sqlite(&path);
        let path = dir.join("bulk-import.db");
        let url = fresh_sqlite(&path);
        lines.push(run_import("sqlite", &url, Some(&path), &csv).await);
        let _ = fresh_sqlite(&path);
        if let Some(url) = fresh_postgres(&server, "keydesk_bulk_seed").await {
            lines.push(run_seed("postgres", &url, None, n).await);
        }
        if let Some(url) = fresh_postgres(&server, "keydesk_bulk_import").await {
            lines.push(run_import("postgres", &url, None, &csv).await);
        }
    });
    let mib = |b: u64| b as f64 / f64::from(1 << 20);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "\n{n} contacts into an empty store\n\n| backend | what | s | written MiB | store MiB | written / store |\n|---|---|---|---|---|---|"
    );
    for l in &lines {
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {:.0} | {:.0} | {:.2} |",
            l.backend,
            l.what,
            l.seconds,
            mib(l.written),
            mib(l.size),
            l.written as f64 / l.size.max(1) as f64
        );
    }
}
