//! The host's index file and the live delta: a mapped file answers
//! exactly as a plain scan does, including after changes, removals, a fold
//! and a rebuild while searches run; a corrupt or cut-off file is refused
//! and rebuilt; processes sharing the file while another rebuilds it never
//! see a torn or stale-beyond-3-s answer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use keydesk::clock::Clock;
use keydesk::seed::{SeedOptions, seed};
use keydesk::settings::SearchSettings;
use keydesk::store::contacts::{KindFilter, SearchQuery};
use keydesk::store::entity::contact;
use keydesk::store::id_set::IdSet;
use keydesk::store::search::{IndexStatus, RefreshOutcome, Searcher};
use keydesk::store::search_index::{
    ImageError, IndexEntry, IndexError, LiveIndex, RowFilter, SearchIndex, Tuning,
};
use proptest::prelude::*;
use sea_orm::ActiveModelTrait;

use crate::on_every_backend;
use crate::support::db::TestDb;

const KINDS: [KindFilter; 4] = [
    KindFilter::All,
    KindFilter::Customers,
    KindFilter::Subscribers,
    KindFilter::Neither,
];

fn with_file(path: &Path, refresh: Duration) -> SearchSettings {
    SearchSettings {
        memory_index: true,
        refresh_interval: refresh,
        index_file: path.display().to_string(),
    }
}

fn query(text: &str) -> SearchQuery {
    SearchQuery {
        text: text.into(),
        kind: KindFilter::All,
        after: None,
        limit: 50,
        only: None,
    }
}

fn entry(id: i64, name: &str, email: &str, customer: bool, subscriber: bool) -> IndexEntry {
    IndexEntry {
        id,
        name_lower: name.to_owned(),
        email_lower: email.to_owned(),
        customer,
        subscriber,
    }
}

// ---- Property: the live index (base + delta) equals a plain scan ----

/// Unicode (with case pairs that fold differently), punctuation, LIKE's
/// wildcards and the layout's separators.
const ALPHABET: &[char] = &[
    'a', 'b', 'é', 'ß', 'σ', 'ς', 'İ', 'ı', '%', '_', '\\', ' ', '@', '.', '\n', '😀',
];

fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(ALPHABET), 0..max)
        .prop_map(|chars| chars.into_iter().collect::<String>().to_lowercase())
}

type Row = (usize, String, String, bool, bool);

fn rows(max: usize) -> impl Strategy<Value = Vec<Row>> {
    proptest::collection::vec(
        (0usize..60, text(6), text(6), any::<bool>(), any::<bool>()),
        0..max,
    )
}

/// The plain scan: every match in `(name_lower, id)` order, as SQL orders.
fn naive(
    all: &BTreeMap<i64, IndexEntry>,
    needle: &str,
    kind: KindFilter,
    only: &dyn Fn(i64) -> bool,
) -> Vec<i64> {
    // The index stores '\n' as a stand-in byte and never matches a control
    // character; compare on what it stores.
    let clean = |s: &str| s.replace('\n', "\u{1a}");
    let mut matching: Vec<(String, i64)> = all
        .values()
        .filter(|e| clean(&e.name_lower).contains(needle) || clean(&e.email_lower).contains(needle))
        .filter(|e| kind.admits(e.customer, e.subscriber) && only(e.id))
        .map(|e| (clean(&e.name_lower), e.id))
        .collect();
    matching.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()).then(a.1.cmp(&b.1)));
    matching.into_iter().map(|(_, id)| id).collect()
}

/// Every page, following cursors, and the largest count reported.
fn paged(
    search: &dyn Fn(
        Option<&keydesk::store::contacts::Cursor>,
    ) -> keydesk::store::search_index::IndexHits,
) -> (Vec<i64>, u64) {
    let (mut ids, mut total, mut after) = (Vec::new(), 0, None);
    loop {
        let hits = search(after.as_ref());
        total = total.max(hits.total.value());
        ids.extend(hits.ids);
        match hits.next {
            Some(next) => after = Some(next),
            None => return (ids, total),
        }
    }
}

/// Exact counts; `walk_sets` as given (0: filters scan, 1: they always
/// walk their set, 64: the default's choice).
fn exact(walk_sets: usize) -> Tuning {
    Tuning {
        estimate_above: u64::MAX,
        estimate_scans_above: u64::MAX,
        small: 0,
        threads: 2,
        walk_sets,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn the_live_index_equals_a_plain_scan_through_changes_and_a_file(
        base in rows(40),
        batches in proptest::collection::vec((rows(8), proptest::collection::vec(0usize..60, 0..4)), 0..4),
        needle in text(3),
        kind in proptest::sample::select(KINDS.to_vec()),
        limit in 1usize..6,
        only in proptest::option::of(proptest::collection::btree_set(0usize..64, 0..40)),
        walk_sets in proptest::sample::select(vec![0usize, 1, 64]),
        sparse in any::<bool>(),
        census in (0i64..100_200, 0i64..100_200),
    ) {
        prop_assume!(SearchIndex::supports(&needle));
        // Sparse ids (far above the records' count) leave the index without
        // its by-id table, so filters must scan.
        let first = if sparse { 100_000 } else { 0 };
        let id_of = |slot: usize| first + i64::try_from(slot).unwrap() * 2 + 1;
        let to_entry = |(slot, name, email, c, s): Row| entry(id_of(slot), &name, &email, c, s);
        let mut all: BTreeMap<i64, IndexEntry> =
            base.into_iter().map(to_entry).map(|e| (e.id, e)).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        // The base goes through a file and back, as processes share it.
        let built = SearchIndex::build(all.values().cloned().collect()).unwrap();
        std::fs::write(&path, built.image()).unwrap();
        let mapped = SearchIndex::open(&path).unwrap().unwrap().with_tuning(exact(walk_sets));
        prop_assert!(mapped.file_id().is_some());
        let mut live = LiveIndex::new(mapped);
        for (changed, removed) in batches {
            let changes: Vec<IndexEntry> = changed.into_iter().map(to_entry).collect();
            let removed: Vec<i64> = removed.into_iter().map(id_of).collect();
            for id in &removed {
                all.remove(id);
            }
            for c in &changes {
                all.insert(c.id, c.clone());
            }
            if let Some(next) = live.with_changes(changes, &removed).unwrap() {
                live = next;
            }
        }
        // A filter's set: ids held, removed, never held, and past the highest.
        let set: Option<IdSet> = only.map(|slots| slots.into_iter().map(|s| first + i64::try_from(s).unwrap() * 2 + 1).collect());
        let want = naive(&all, &needle, kind, &|id| set.as_ref().is_none_or(|s| s.contains(id)));
        prop_assert_eq!(live.len(), all.len());
        // The census's count of an id range, through base, delta and hidden rows.
        let ids = census.0.min(census.1)..census.0.max(census.1);
        prop_assert_eq!(live.count_ids(ids.clone()), all.keys().filter(|id| ids.contains(id)).count() as u64);
        let got = paged(&|after| live.search_with(&needle, kind, after, limit, set.as_ref()).unwrap());
        prop_assert_eq!(&got.0, &want);
        prop_assert_eq!(got.1, want.len() as u64);
        // Folded into one index (what the next file holds): the same answers.
        let folded = live.fold(None).unwrap().with_tuning(exact(walk_sets));
        let rows = set.as_ref().map(RowFilter::only).unwrap_or_default();
        let got = paged(&|after| folded.search_with(&needle, kind, after, limit, &rows).unwrap());
        prop_assert_eq!(&got.0, &want);
        prop_assert_eq!(got.1, want.len() as u64);
    }
}

// ---- A corrupt or cut-off file is refused, never searched ----

fn sample_index() -> SearchIndex {
    SearchIndex::build(
        (0..500)
            .map(|i| {
                entry(
                    i,
                    &format!("person {i}"),
                    &format!("p{i}@example.com"),
                    i % 2 == 0,
                    i % 3 == 0,
                )
            })
            .collect(),
    )
    .unwrap()
}

/// Writes bytes as a new file renamed into place (never in place: a test
/// process may have the old one mapped).
fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("test-tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Why `bytes`, written as the index file at `path`, are refused.
fn refused(path: &Path, bytes: &[u8]) -> ImageError {
    replace(path, bytes);
    match SearchIndex::open(path) {
        Ok(Err(IndexError::Image(why))) => why,
        Ok(Ok(_)) => panic!("a bad file was accepted"),
        other => panic!("unexpected: {other:?}"),
    }
}

#[test]
fn a_flipped_byte_or_a_cut_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let good = sample_index().image().to_vec();
    replace(&path, &good);
    assert_eq!(SearchIndex::open(&path).unwrap().unwrap().len(), 500);
    let refused = |bytes: &[u8]| refused(&path, bytes);
    // Every region: header, ids, offsets, filter, text.
    for at in [40, 200, good.len() / 3, good.len() / 2, good.len() - 20] {
        let mut bad = good.clone();
        bad[at] ^= 0x40;
        assert_eq!(refused(&bad), ImageError::Checksum, "byte {at}");
    }
    assert!(matches!(
        refused(&good[..good.len() - 8]),
        ImageError::Length { .. }
    ));
    assert!(matches!(refused(&good[..100]), ImageError::Length { .. }));
    let mut other = good.clone();
    other[..8].copy_from_slice(b"NOTANIDX");
    assert!(matches!(refused(&other), ImageError::Format(_)));
}

/// Writes the checksum an image's header holds (word 3, xxh3-64 of
/// everything from byte 32), as a writer with a bug would.
fn reseal(image: &mut [u8]) {
    let sum = xxhash_rust::xxh3::xxh3_64(&image[32..]);
    image[24..32].copy_from_slice(&sum.to_ne_bytes());
}

#[test]
fn a_file_of_another_version_or_with_a_bad_slot_or_count_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let good = sample_index().image().to_vec();
    let refused = |bytes: &[u8]| refused(&path, bytes);
    // Version 1 files (no by-id table) are rebuilt, not misread.
    let mut old = good.clone();
    old[8..16].copy_from_slice(&1u64.to_ne_bytes());
    assert_eq!(refused(&old), ImageError::Format("other version"));
    // Sections of 500 records: header 144, ranks 256, ids 500 x 8, offsets
    // 501 x 4 padded to 8; then the by-id table, slot 0 first. A slot naming
    // record 10,000 would send a filter past the end; the checksum is right.
    let by_id = (144 + 256 + 500 * 8 + 501 * 4usize).next_multiple_of(8);
    let mut bad = good.clone();
    bad[by_id..by_id + 4].copy_from_slice(&10_000u32.to_ne_bytes());
    reseal(&mut bad);
    assert!(matches!(refused(&bad), ImageError::Layout(_)));
    // The same slot naming a record that exists is accepted: the offset is right.
    let mut fine = good.clone();
    fine[by_id..by_id + 4].copy_from_slice(&499u32.to_ne_bytes());
    reseal(&mut fine);
    replace(&path, &fine);
    assert!(matches!(SearchIndex::open(&path), Ok(Ok(_))));

    // Then the gram table: 500 slots of the by-id table before it, and
    // 65,792 row numbers, then four counts a row. A slot naming a row past
    // the last, or a count above the records, is refused: both are trusted.
    let slots = by_id + 500 * 4;
    let row_of = |image: &[u8], slot: usize| {
        u32::from_ne_bytes(
            image[slots + slot * 4..slots + slot * 4 + 4]
                .try_into()
                .unwrap(),
        )
    };
    let e = 65_536 + usize::from(b'e');
    assert_ne!(
        row_of(&good, e),
        u32::MAX,
        "every sample record holds an 'e'"
    );
    let mut bad = good.clone();
    bad[slots + e * 4..slots + e * 4 + 4].copy_from_slice(&70_000u32.to_ne_bytes());
    reseal(&mut bad);
    assert!(matches!(refused(&bad), ImageError::Layout(_)));
    let counts = slots + 65_792 * 4;
    let mut bad = good.clone();
    let at = counts + row_of(&good, e) as usize * 16;
    bad[at..at + 4].copy_from_slice(&501u32.to_ne_bytes());
    reseal(&mut bad);
    assert!(matches!(refused(&bad), ImageError::Layout(_)));
}

async fn seeded(db: &TestDb, contacts: u64) {
    let mut opts = SeedOptions::new(contacts, 11);
    opts.clock = Clock::system();
    seed(&db.store, &opts, |_| {}).await.expect("seed");
}

async fn index_answers_as_sql(searcher: &Searcher, db: &TestDb) {
    for text in ["an", "son", "@example", "zzzzq", "e"] {
        let q = query(text);
        let got = searcher.search(&q).await.unwrap();
        let sql = keydesk::store::contacts::search_sql(db.store.conn(), &q)
            .await
            .unwrap();
        let ids = |p: &keydesk::store::contacts::SearchPage| {
            p.rows.iter().map(|r| r.id).collect::<Vec<_>>()
        };
        assert_eq!(ids(&got), ids(&sql), "{text:?}");
    }
}

async fn damaged_files_are_rebuilt(db: TestDb) {
    seeded(&db, 3_000).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("search.index");
    let settings = with_file(&path, Duration::from_secs(3600));
    let first = Searcher::new(db.store.clone(), &settings, Clock::system());
    assert!(matches!(
        first.load().await.unwrap(),
        RefreshOutcome::Loaded {
            contacts: 3_000,
            ..
        }
    ));
    assert!(matches!(first.status(), IndexStatus::Ready { mapped_bytes, .. } if mapped_bytes > 0));
    let good = std::fs::read(&path).unwrap();
    assert_eq!(SearchIndex::open(&path).unwrap().unwrap().len(), 3_000);

    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 1;
    for damaged in [flipped, good[..good.len() / 2].to_vec(), Vec::new()] {
        replace(&path, &damaged);
        let next = Searcher::new(db.store.clone(), &settings, Clock::system());
        assert!(matches!(
            next.load().await.unwrap(),
            RefreshOutcome::Loaded {
                contacts: 3_000,
                ..
            }
        ));
        // Rebuilt on disk, and what is searched is the rebuilt one.
        let again = SearchIndex::open(&path).unwrap().unwrap();
        assert_eq!(again.len(), 3_000);
        assert_eq!(next.index().unwrap().base().file_id(), again.file_id());
        index_answers_as_sql(&next, &db).await;
    }
}
on_every_backend!(damaged, damaged_files_are_rebuilt);

// ---- A second process maps the file rather than building its own ----

/// `contacts` seeded, then the index file built by a first searcher: the
/// file's folder (removed when dropped), the file, settings naming it, and
/// that searcher.
async fn seeded_with_file(
    db: &TestDb,
    contacts: u64,
) -> (tempfile::TempDir, PathBuf, SearchSettings, Searcher) {
    seeded(db, contacts).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("search.index");
    let settings = with_file(&path, Duration::from_secs(3600));
    let first = Searcher::new(db.store.clone(), &settings, Clock::system());
    first.load().await.unwrap();
    (dir, path, settings, first)
}

async fn a_second_searcher_maps_the_file_and_catches_up(db: TestDb) {
    // Fewer than RESTAMP_AT: re-reading them is cheaper than a new file.
    let (_dir, path, settings, first) = seeded_with_file(&db, 1_000).await;
    let built = std::fs::metadata(&path).unwrap().modified().unwrap();
    // Written after the file: the next process must find it.
    contact::ActiveModel::new_contact("Zebulon Quist", "zq@late.example", false, Utc::now())
        .insert(db.store.conn())
        .await
        .unwrap();
    let second = Searcher::new(db.store.clone(), &settings, Clock::system());
    assert!(matches!(
        second.load().await.unwrap(),
        RefreshOutcome::Loaded {
            contacts: 1_001,
            ..
        }
    ));
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        built,
        "not rebuilt"
    );
    let live = second.index().unwrap();
    assert_eq!(
        live.base().file_id(),
        first.index().unwrap().base().file_id()
    );
    assert_eq!(live.changed(), 1);
    let page = second.search(&query("zebulon")).await.unwrap();
    assert_eq!(page.rows.len(), 1);
    index_answers_as_sql(&second, &db).await;
}
on_every_backend!(shared_file, a_second_searcher_maps_the_file_and_catches_up);

/// A file written just after a bulk write holds rows inside its change
/// margin: the first process to map it reads them all (none changed) and
/// writes the file again with its own watermark, so the processes after
/// it read nothing (before, every console on the host read them again).
async fn a_catch_up_of_many_unchanged_rows_restamps_the_file(db: TestDb) {
    let (_dir, path, settings, _first) = seeded_with_file(&db, 3_000).await;
    let built = SearchIndex::open(&path).unwrap().unwrap();
    let built_at = built.watermark().unwrap();
    drop(built);
    // A minute later by this process's clock: all 3,000 are within the
    // margin before the file's watermark, so they are read again.
    let later = Clock::fixed(Utc::now() + chrono::Duration::seconds(60));
    let second = Searcher::new(db.store.clone(), &settings, later.clone());
    assert!(matches!(
        second.load().await.unwrap(),
        RefreshOutcome::Loaded {
            contacts: 3_000,
            ..
        }
    ));
    let restamped = SearchIndex::open(&path).unwrap().unwrap();
    let stamp = restamped.watermark().unwrap();
    assert!(
        stamp >= built_at + chrono::Duration::seconds(55),
        "the file keeps {built_at}, not the second reader's {stamp}"
    );
    assert_eq!(restamped.len(), 3_000);
    assert_eq!(second.index().unwrap().changed(), 0);
    // Ten seconds on, a third process reads nothing and leaves the file.
    let third_clock = Clock::fixed(later.now() + chrono::Duration::seconds(10));
    let third = Searcher::new(db.store.clone(), &settings, third_clock);
    third.load().await.unwrap();
    assert_eq!(
        SearchIndex::open(&path).unwrap().unwrap().watermark(),
        Some(stamp),
        "the third process wrote the file again"
    );
    index_answers_as_sql(&third, &db).await;
}
on_every_backend!(restamp, a_catch_up_of_many_unchanged_rows_restamps_the_file);

// ---- Rebuilds while searches run ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_during_rebuilds_always_answer_whole() {
    let db = crate::support::db::fresh(crate::support::db::Backend::Sqlite)
        .await
        .unwrap();
    seeded(&db, 5_000).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("search.index");
    let settings = with_file(&path, Duration::from_secs(3600));
    let reader = Searcher::new(db.store.clone(), &settings, Clock::system());
    reader.load().await.unwrap();
    let mut want = Vec::new();
    for text in ["an", "son", "@example", "e"] {
        want.push((text, reader.search(&query(text)).await.unwrap()));
    }
    let rebuilder = Searcher::new(db.store.clone(), &settings, Clock::system());
    let rebuilding = tokio::spawn(async move {
        for _ in 0..5 {
            rebuilder.rebuild().await.unwrap();
        }
    });
    let mut remaps = 0;
    while !rebuilding.is_finished() {
        let before = reader.index().unwrap().base().file_id();
        reader.refresh().await.unwrap();
        remaps += usize::from(reader.index().unwrap().base().file_id() != before);
        for (text, page) in &want {
            let got = reader.search(&query(text)).await.unwrap();
            assert_eq!(got.rows, page.rows, "{text:?}");
            assert_eq!(got.total, page.total, "{text:?}");
        }
    }
    rebuilding.await.unwrap();
    reader.refresh().await.unwrap();
    assert_eq!(
        reader.index().unwrap().base().file_id(),
        SearchIndex::open(&path).unwrap().unwrap().file_id()
    );
    assert!(remaps >= 1, "the reader followed at least one rebuild");
}

// ---- Processes: two readers while a third rebuilds ----

const CHILD: &str = "KEYDESK_TEST_INDEX_CHILD";

/// Runs this test binary's `child_process` as another process.
fn child(role: &str, url: &str, path: &Path, markers: usize) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "index_file::child_process",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(
            CHILD,
            format!("{role}\t{url}\t{}\t{markers}", path.display()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Not a test of its own: the body of the reader and rebuilder processes
/// that `processes_share_the_file_while_one_rebuilds` starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "started as a child process by processes_share_the_file_while_one_rebuilds"]
async fn child_process() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let parts: Vec<&str> = spec.split('\t').collect();
    let (role, url, path, markers) = (
        parts[0],
        parts[1],
        PathBuf::from(parts[2]),
        parts[3].parse::<usize>().unwrap(),
    );
    let settings = crate::support::db::settings_for(url, path.parent().unwrap());
    let store = keydesk::store::Store::connect(&settings.database)
        .await
        .unwrap();
    let search = with_file(&path, Duration::from_millis(500));
    if role == "rebuilder" {
        let searcher = Searcher::new(store, &search, Clock::system());
        for _ in 0..6 {
            searcher.rebuild().await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        println!("done");
        return;
    }
    let searcher = Searcher::start(store.clone(), &search, Clock::system());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = 0;
    let fixed = query("an");
    let sql = keydesk::store::contacts::search_sql(store.conn(), &fixed)
        .await
        .unwrap();
    while seen < markers && Instant::now() < deadline {
        // The seeded contacts do not change: any torn image would show here.
        let page = searcher.search(&fixed).await.unwrap();
        assert_eq!(page.rows, sql.rows, "a reader saw a different page");
        let found = searcher.search(&query("zzmarker")).await.unwrap();
        let n = found.rows.len();
        while seen < n {
            println!("seen {seen} {}", Utc::now().timestamp_millis());
            seen += 1;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_share_the_file_while_one_rebuilds() {
    let db = crate::support::db::fresh(crate::support::db::Backend::Sqlite)
        .await
        .unwrap();
    seeded(&db, 20_000).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("search.index");
    Searcher::new(
        db.store.clone(),
        &with_file(&path, Duration::from_secs(60)),
        Clock::system(),
    )
    .load()
    .await
    .unwrap();
    const MARKERS: usize = 6;
    let readers = [
        child("reader", &db.url, &path, MARKERS),
        child("reader", &db.url, &path, MARKERS),
    ];
    tokio::time::sleep(Duration::from_millis(700)).await;
    let rebuilder = child("rebuilder", &db.url, &path, MARKERS);
    let mut written = Vec::new();
    for k in 0..MARKERS {
        tokio::time::sleep(Duration::from_millis(600)).await;
        contact::ActiveModel::new_contact(
            &format!("Zzmarker {k}"),
            &format!("m{k}@marker.example"),
            false,
            Utc::now(),
        )
        .insert(db.store.conn())
        .await
        .unwrap();
        written.push(Utc::now().timestamp_millis());
    }
    let rebuilt = rebuilder.wait_with_output().unwrap();
    assert!(rebuilt.status.success());
    for reader in readers {
        let out = reader.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a reader failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let lines = String::from_utf8_lossy(&out.stdout).into_owned();
        let seen: Vec<i64> = lines
            .lines()
            // The harness may print its own words before ours on a line.
            .filter_map(|l| l.split("seen ").nth(1))
            .map(|l| l.split(' ').nth(1).unwrap().parse().unwrap())
            .collect();
        assert_eq!(
            seen.len(),
            MARKERS,
            "every marker reached the reader: {lines}"
        );
        for (k, at) in seen.iter().enumerate() {
            let lag = at - written[k];
            assert!(lag <= 3_000, "marker {k} took {lag} ms to reach a reader");
        }
    }
}

// ---- A file that cannot be written leaves each process its own index ----

#[tokio::test]
async fn an_unwritable_index_file_falls_back_to_memory() {
    let db = crate::support::db::fresh(crate::support::db::Backend::Sqlite)
        .await
        .unwrap();
    seeded(&db, 500).await;
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-folder");
    std::fs::write(&blocker, b"").unwrap();
    let settings = with_file(&blocker.join("search.index"), Duration::from_secs(3600));
    let searcher = Searcher::new(db.store.clone(), &settings, Clock::system());
    assert!(matches!(
        searcher.load().await.unwrap(),
        RefreshOutcome::Loaded { contacts: 500, .. }
    ));
    assert!(
        matches!(searcher.status(), IndexStatus::Ready { mapped_bytes: 0, memory_bytes, .. } if memory_bytes > 0)
    );
    index_answers_as_sql(&searcher, &db).await;
}
