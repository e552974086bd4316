//! Contact search at a million contacts (or ten): the index (first page
//! of 50 plus its match count, rows loaded from the store) against the
//! plain SQL `LIKE` baseline, on SQLite and PostgreSQL, for every kind of
//! query the console sees (plain, and narrowed by a filter's id set); and
//! the index file's full build time, the time
//! a further process takes to map it, and the memory that process adds.
//!
//! Data: 1,000,000 seeded contacts (seed 1), cached between runs in
//! `target/bench-data/search-1m.db` (`KEYDESK_BENCH_DATA` moves the
//! folder) and in the PostgreSQL database `keydesk_bench`
//! (`KEYDESK_BENCH_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432`); each is reused when it already
//! holds exactly that many contacts. `KEYDESK_BENCH_CONTACTS` changes the
//! size (another file / database name); the seeding time is printed when
//! it seeds. The index files go in the same folder. The SQL `LIKE`
//! baseline runs up to a million contacts (seconds a query beyond);
//! `KEYDESK_BENCH_SQL=1` or `0` forces it on or off.
//!
//! Engines: `index` is `Searcher::search` as the console calls it (ids from
//! the index, then the page's rows by primary key from the store);
//! `index-only` is the index lookup alone; `sql-like` is
//! `contacts::search_sql`, the plain `LIKE '%q%'` baseline.
//!
//! Besides criterion's own report, a summary table is printed at the end
//! with the median and 95th percentile of individually timed runs
//! (criterion reports means and medians of batches, not a p95).
//!
//! Run: `cargo bench --bench search` (add `-- --quick` for a shorter run).

#[path = "support/quantile.rs"]
mod quantile;
use quantile::quantile;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use keydesk::clock::Clock;
use keydesk::seed::{SeedOptions, seed};
use keydesk::settings::{Settings, Sources};
use keydesk::store::Store;
use keydesk::store::contacts::{self, KindFilter, MatchCount, SearchQuery};
use keydesk::store::id_set::IdSet;
use keydesk::store::search::Searcher;
use keydesk::store::search_index::LiveIndex;
use sea_orm::{ConnectionTrait, Database, EntityTrait};
use tokio::runtime::Runtime;

fn contacts_wanted() -> u64 {
    std::env::var("KEYDESK_BENCH_CONTACTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn settings(url: &str) -> Settings {
    let mut env = std::collections::BTreeMap::new();
    env.insert("KEYDESK__DATABASE__URL".to_owned(), url.to_owned());
    Settings::load(&Sources {
        file: None,
        skip_system_files: true,
        env: Some(env),
        data_dir: Some(std::env::temp_dir()),
    })
    .expect("bench settings")
}

async fn count(store: &Store) -> u64 {
    use sea_orm::PaginatorTrait;
    keydesk::store::entity::contact::Entity::find()
        .count(store.conn())
        .await
        .expect("count contacts")
}

async fn open_seeded(url: &str, n: u64) -> Store {
    let store = Store::connect(&settings(url).database)
        .await
        .expect("connect bench store");
    store.migrate().await.expect("migrate bench store");
    let have = count(&store).await;
    if have == n {
        eprintln!("bench data: reusing {n} contacts at {url}");
        return store;
    }
    assert!(
        have == 0,
        "{url} holds {have} contacts, not {n}; delete it to reseed"
    );
    eprintln!("bench data: seeding {n} contacts into {url} (once)...");
    let report = seed(&store, &SeedOptions::new(n, 1), |_| {})
        .await
        .expect("seed bench store");
    eprintln!(
        "bench data: seeded {n} contacts in {:.1}s",
        report.elapsed.as_secs_f64()
    );
    store
}

fn data_dir() -> std::path::PathBuf {
    let dir = std::env::var_os("KEYDESK_BENCH_DATA").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data"),
        std::path::PathBuf::from,
    );
    keydesk::files::private_dir_all(&dir).expect("bench data dir");
    dir
}

fn suffix(n: u64) -> String {
    if n == 1_000_000 {
        "1m".to_owned()
    } else {
        n.to_string()
    }
}

async fn sqlite_store(n: u64) -> Store {
    let path = data_dir().join(format!("search-{}.db", suffix(n)));
    open_seeded(&format!("sqlite://{}?mode=rwc", path.display()), n).await
}

async fn postgres_store(n: u64) -> Option<Store> {
    let server = std::env::var("KEYDESK_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let name = if n == 1_000_000 {
        "keydesk_bench".to_owned()
    } else {
        format!("keydesk_bench_{n}")
    };
    let admin = match Database::connect(format!("{server}/postgres")).await {
        Ok(db) => db,
        Err(err) => {
            eprintln!("bench: PostgreSQL unreachable at {server} ({err}); skipping it");
            return None;
        }
    };
    let exists = admin
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!("SELECT 1 AS one FROM pg_database WHERE datname = '{name}'"),
        ))
        .await
        .expect("look for the bench database")
        .is_some();
    if !exists {
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create the bench database");
    }
    let _ = admin.close().await;
    Some(open_seeded(&format!("{server}/{name}"), n).await)
}

/// One kind of query the console sees.
struct Case {
    label: &'static str,
    query: SearchQuery,
}

async fn cases(store: &Store) -> Vec<Case> {
    let n = i64::try_from(count(store).await).unwrap_or(i64::MAX);
    // An address that exists, from the middle of the data.
    let some = keydesk::store::entity::contact::Entity::find_by_id(500_000.min(n / 2))
        .one(store.conn())
        .await
        .expect("read a contact")
        .expect("the contact exists");
    let q = |text: &str, kind: KindFilter| SearchQuery {
        text: text.to_owned(),
        kind,
        after: None,
        limit: 50,
        only: None,
    };
    vec![
        Case {
            label: "exact email",
            query: q(&some.email, KindFilter::All),
        },
        Case {
            label: "fragment 'son'",
            query: q("son", KindFilter::All),
        },
        Case {
            label: "name prefix 'ander'",
            query: q("ander", KindFilter::All),
        },
        Case {
            label: "non-ASCII 'müller'",
            query: q("müller", KindFilter::All),
        },
        Case {
            label: "big domain 'gmail.com'",
            query: q("gmail.com", KindFilter::All),
        },
        Case {
            label: "small domain '@seznam.cz'",
            query: q("@seznam.cz", KindFilter::All),
        },
        Case {
            label: "1 char 'e'",
            query: q("e", KindFilter::All),
        },
        Case {
            label: "2 chars 'an'",
            query: q("an", KindFilter::All),
        },
        Case {
            label: "no match 'zqxj'",
            query: q("zqxj", KindFilter::All),
        },
        Case {
            label: "empty (everyone)",
            query: q("", KindFilter::All),
        },
        Case {
            label: "'son', customers",
            query: q("son", KindFilter::Customers),
        },
        // The console's filters (Locked, Holds offer X, ...): the same
        // searches narrowed to an id set, as small and as large as they come.
        Case {
            label: "'son', filter 0.1%",
            query: within(q("son", KindFilter::All), every(1000, n)),
        },
        Case {
            label: "'an', filter 10%",
            query: within(q("an", KindFilter::All), every(10, n)),
        },
        Case {
            label: "empty, filter 0.1%",
            query: within(q("", KindFilter::All), every(1000, n)),
        },
        Case {
            label: "empty, filter 10%",
            query: within(q("", KindFilter::All), every(10, n)),
        },
    ]
}

/// Every `step`th contact id up to `n`: a filter's set.
fn every(step: usize, n: i64) -> Arc<IdSet> {
    Arc::new((1..=n).step_by(step).collect())
}

fn within(query: SearchQuery, set: Arc<IdSet>) -> SearchQuery {
    SearchQuery {
        only: Some(set),
        ..query
    }
}

/// The index alone, narrowed like `Searcher::search` narrows it.
fn index_only(index: &LiveIndex, query: &SearchQuery) -> MatchCount {
    index
        .search_with(&query.needle(), query.kind, None, 50, query.only.as_deref())
        .expect("supported")
        .total
}

fn quick() -> bool {
    std::env::args().any(|a| a == "--quick")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    quantile(sorted, p).unwrap_or(Duration::ZERO)
}

struct Row {
    backend: &'static str,
    case: &'static str,
    engine: &'static str,
    median: Duration,
    p95: Duration,
    total: MatchCount,
    runs: usize,
}

fn time_runs(
    rt: &Runtime,
    runs: usize,
    mut f: impl FnMut() -> MatchCount,
) -> (Duration, Duration, MatchCount) {
    let mut total = f(); // warm
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let at = Instant::now();
            total = f();
            at.elapsed()
        })
        .collect();
    let _ = rt;
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.95), total)
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let n = contacts_wanted();
    let mut backends: Vec<(&'static str, Store)> = vec![("sqlite", rt.block_on(sqlite_store(n)))];
    if let Some(pg) = rt.block_on(postgres_store(n)) {
        backends.push(("postgres", pg));
    }

    let mut searchers = Vec::new();
    for (name, store) in &backends {
        let mut search = settings("sqlite::memory:").search;
        search.index_file = data_dir()
            .join(format!("search-{}-{name}.index", suffix(n)))
            .display()
            .to_string();
        // The full build: read every contact, sort, write and map the file.
        let builder = Searcher::new(store.clone(), &search, Clock::system());
        let began = Instant::now();
        rt.block_on(builder.rebuild()).expect("build the index");
        let built = began.elapsed();
        let file_bytes = builder.index().expect("index built").base().image_bytes();
        drop(builder);
        // Further processes: each maps the file and catches up with the
        // store. The first may read again what was seeded within the file's
        // change margin (and then restamps or rebuilds the file); the
        // second is what every later console pays.
        let mut kept = None;
        for which in ["a further searcher", "the next one"] {
            let rss_before = rss_bytes();
            let searcher = Searcher::new(store.clone(), &search, Clock::system());
            let began = Instant::now();
            rt.block_on(searcher.load()).expect("map the index");
            let mapped = began.elapsed();
            let index = searcher.index().expect("index loaded");
            eprintln!(
                "{name}: index of {} contacts built in {:.2}s ({:.0} MiB file); {which} mapped it in {} ms, holding {:.1} MiB of its own, resident memory grew {:.1} MiB",
                index.len(),
                built.as_secs_f64(),
                file_bytes as f64 / f64::from(1 << 20),
                mapped.as_millis(),
                index.memory_bytes() as f64 / f64::from(1 << 20),
                (rss_bytes().saturating_sub(rss_before)) as f64 / f64::from(1 << 20),
            );
            kept = Some((searcher, index));
        }
        let (searcher, index) = kept.expect("two rounds ran");
        // The build alone, without the database read.
        let entries: Vec<_> = (0..index.len())
            .filter_map(|i| index.base().entry(i))
            .collect();
        let began = Instant::now();
        let rebuilt = keydesk::store::search_index::SearchIndex::build(entries).expect("build");
        eprintln!(
            "{name}: building the index from {} entries in memory: {:.0} ms",
            rebuilt.len(),
            began.elapsed().as_secs_f64() * 1000.0
        );
        drop(rebuilt);
        searchers.push((*name, store.clone(), searcher, rt.block_on(cases(store))));
    }
    let with_sql = std::env::var("KEYDESK_BENCH_SQL").map_or(n <= 1_000_000, |v| v != "0");

    let mut criterion = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_millis(500));
    for (name, store, searcher, cases) in &searchers {
        let mut group = criterion.benchmark_group(format!("{name}/index"));
        group.measurement_time(Duration::from_secs(2));
        for case in cases {
            group.bench_function(case.label, |b| {
                b.iter(|| rt.block_on(searcher.search(&case.query)).expect("search"));
            });
        }
        group.finish();
        let index = searcher.index().expect("index loaded");
        let mut group = criterion.benchmark_group(format!("{name}/index-only"));
        group.measurement_time(Duration::from_secs(2));
        for case in cases {
            group.bench_function(case.label, |b| {
                b.iter(|| index_only(&index, &case.query));
            });
        }
        group.finish();
        if !with_sql {
            continue;
        }
        let mut group = criterion.benchmark_group(format!("{name}/sql-like"));
        group
            .sample_size(10)
            .measurement_time(Duration::from_secs(3));
        for case in cases {
            group.bench_function(case.label, |b| {
                b.iter(|| {
                    rt.block_on(contacts::search_sql(store.conn(), &case.query))
                        .expect("search")
                });
            });
        }
        group.finish();
    }
    criterion.final_summary();

    let (index_runs, sql_runs) = if quick() { (60, 5) } else { (300, 21) };
    let mut rows = Vec::new();
    for (name, store, searcher, cases) in &searchers {
        for case in cases {
            let (median, p95, total) = time_runs(&rt, index_runs, || {
                rt.block_on(searcher.search(&case.query))
                    .expect("search")
                    .total
            });
            rows.push(Row {
                backend: name,
                case: case.label,
                engine: "index",
                median,
                p95,
                total,
                runs: index_runs,
            });
            let index = searcher.index().expect("index loaded");
            let (median, p95, total) =
                time_runs(&rt, index_runs, || index_only(&index, &case.query));
            rows.push(Row {
                backend: name,
                case: case.label,
                engine: "index alone",
                median,
                p95,
                total,
                runs: index_runs,
            });
            if !with_sql {
                continue;
            }
            let (median, p95, total) = time_runs(&rt, sql_runs, || {
                rt.block_on(contacts::search_sql(store.conn(), &case.query))
                    .expect("search")
                    .total
            });
            rows.push(Row {
                backend: name,
                case: case.label,
                engine: "sql LIKE",
                median,
                p95,
                total,
                runs: sql_runs,
            });
        }
    }
    println!();
    println!("| backend | query | engine | median ms | p95 ms | matches | runs |");
    println!("|---|---|---|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.backend,
            r.case,
            r.engine,
            ms(r.median),
            ms(r.p95),
            r.total,
            r.runs
        );
    }
    for (name, ..) in &searchers {
        let mut all: Vec<Duration> = Vec::new();
        let worst = rows
            .iter()
            .filter(|r| r.backend == *name && r.engine == "index")
            .map(|r| {
                all.push(r.median);
                r.p95
            })
            .max()
            .unwrap_or_default();
        all.sort();
        println!(
            "{name}: index, worst p95 over all queries {} ms; median of the per-query medians {} ms",
            ms(worst),
            ms(percentile(&all, 0.5))
        );
    }
}
