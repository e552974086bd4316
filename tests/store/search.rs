//! Contact search: the in-memory index answers exactly as SQL does (same
//! pages, same order, same counts) on every backend, keeps up with changes
//! written to the store, and never matches across a field boundary.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use keydesk::clock::Clock;
use keydesk::seed::{SeedOptions, seed};
use keydesk::settings::SearchSettings;
use keydesk::store::contacts::{self, Cursor, KindFilter, MatchCount, SearchPage, SearchQuery};
use keydesk::store::entity::{contact, grant, offer};
use keydesk::store::search::{CENSUS_IDS, IndexStatus, RefreshOutcome, Searcher};
use keydesk::store::search_index::{IndexEntry, SearchIndex, Tuning};
use proptest::prelude::*;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};

use crate::on_every_backend;
use crate::support::db::TestDb;

const KINDS: [KindFilter; 4] = [
    KindFilter::All,
    KindFilter::Customers,
    KindFilter::Subscribers,
    KindFilter::Neither,
];

fn settings(memory_index: bool, refresh_interval: Duration) -> SearchSettings {
    SearchSettings {
        memory_index,
        refresh_interval,
        index_file: String::new(),
    }
}

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).unwrap()
}

async fn add_contact(
    conn: &impl ConnectionTrait,
    name: &str,
    email: &str,
    subscribed: bool,
    now: DateTime<Utc>,
) -> i64 {
    contact::ActiveModel::new_contact(name, email, subscribed, now)
        .insert(conn)
        .await
        .expect("insert contact")
        .id
}

async fn any_offer(conn: &impl ConnectionTrait) -> i64 {
    if let Some(o) = offer::Entity::find().one(conn).await.unwrap() {
        return o.id;
    }
    offer::ActiveModel {
        name: Set("Test Offer".into()),
        products: Set("Test".into()),
        created_at: Set(at()),
        ..Default::default()
    }
    .insert(conn)
    .await
    .unwrap()
    .id
}

/// Grants an offer, bumping the contact's `updated_at` as writers must.
async fn add_grant(conn: &impl ConnectionTrait, contact_id: i64, now: DateTime<Utc>) {
    let offer_id = any_offer(conn).await;
    grant::ActiveModel {
        contact_id: Set(contact_id),
        offer_id: Set(offer_id),
        source: Set("granted".into()),
        granted_by: Set("test".into()),
        granted_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await
    .unwrap();
    contact::ActiveModel {
        id: Set(contact_id),
        updated_at: Set(now),
        ..Default::default()
    }
    .update(conn)
    .await
    .unwrap();
}

/// Contacts that probe the edges: wildcards, a backslash, non-ASCII,
/// equal names (ties broken by id), and neighbours whose fields would
/// spell a match only across a separator.
const CRAFTED: &[(&str, &str, bool, bool)] = &[
    ("100% Real_Name", "percent@example.com", false, true),
    ("Under_Score", "under_score@example.com", true, false),
    ("Back\\Slash", "back\\slash@example.com", false, false),
    ("Zoë O'Brien", "zoe.obrien@example.ie", true, true),
    ("ΣΩΚΡΑΤΗΣ Παππάς", "sokratis@example.gr", false, true),
    ("Łukasz Żółć", "lukasz@example.pl", true, false),
    ("İbrahim Yılmaz", "ibrahim@example.com.tr", false, false),
    ("foo", "bar@example.com", false, false),
    ("aaa1", "zz@q.qq", false, false),
    ("aaa2", "yy@q.qq", true, false),
    ("Ctrl\u{1f}Char", "ctrl@example.com", false, false),
    ("Same Name", "same1@example.com", false, false),
    ("Same Name", "same2@example.com", true, true),
    ("same name", "same3@example.com", false, false),
];

async fn crafted_store(db: &TestDb, seeded: u64) {
    if seeded > 0 {
        let mut opts = SeedOptions::new(seeded, 7);
        opts.clock = Clock::fixed(at());
        seed(&db.store, &opts, |_| {}).await.expect("seed");
    }
    let conn = db.store.conn();
    for (name, email, subscribed, customer) in CRAFTED {
        let id = add_contact(conn, name, email, *subscribed, at()).await;
        if *customer {
            add_grant(conn, id, at()).await;
        }
    }
}

fn query(text: &str, kind: KindFilter, after: Option<Cursor>, limit: usize) -> SearchQuery {
    SearchQuery {
        text: text.to_owned(),
        kind,
        after,
        limit,
        only: None,
    }
}

fn ids(page: &SearchPage) -> Vec<i64> {
    page.rows.iter().map(|r| r.id).collect()
}

/// Walks up to `pages` pages on both paths and asserts they agree.
async fn assert_same_pages(
    db: &TestDb,
    searcher: &Searcher,
    text: &str,
    kind: KindFilter,
    limit: usize,
    pages: usize,
) {
    let (mut sql_after, mut index_after) = (None, None);
    for page_no in 0..pages {
        let sql = contacts::search_sql(
            db.store.conn(),
            &query(text, kind, sql_after.clone(), limit),
        )
        .await
        .expect("sql search");
        let idx = searcher
            .search(&query(text, kind, index_after.clone(), limit))
            .await
            .expect("index search");
        let what = format!(
            "{:?} {text:?} {kind:?} limit {limit} page {page_no}",
            db.backend
        );
        assert_eq!(ids(&idx), ids(&sql), "ids for {what}");
        assert_eq!(idx.total, sql.total, "count for {what}");
        assert_eq!(
            idx.next.as_ref().map(|c| c.id),
            sql.next.as_ref().map(|c| c.id),
            "next page for {what}"
        );
        if sql.next.is_none() {
            break;
        }
        sql_after = sql.next;
        index_after = idx.next;
    }
}

async fn index_and_sql_return_the_same_pages(db: TestDb) {
    // More than one load chunk (4096 contacts).
    crafted_store(&db, 4_500).await;
    let searcher = Searcher::new(
        db.store.clone(),
        &settings(true, Duration::from_secs(2)),
        Clock::fixed(at()),
    );
    assert_eq!(searcher.status(), IndexStatus::Loading);
    let loaded = searcher.load().await.expect("load");
    assert!(
        matches!(loaded, RefreshOutcome::Loaded { contacts, .. } if contacts == 4_500 + CRAFTED.len())
    );
    assert!(matches!(searcher.status(), IndexStatus::Ready { contacts, .. } if contacts == 4_514));

    let texts = [
        "",
        "a",
        "e",
        "son",
        "an",
        "%",
        "_",
        "\\",
        "o'b",
        "zoë",
        "ZOË",
        "σωκ",
        "παππάς",
        "ς",
        "łuk",
        "İb",
        "ı",
        "ß",
        "@example",
        "example.com",
        "100%",
        "real_n",
        "same name",
        "  SON  ",
        "q.qq",
        "q.qqaaa2",
        "fooBAR",
        "foo\u{1f}bar",
        "ctrl\u{1f}char",
        "nomatchxyz",
    ];
    for text in texts {
        for kind in KINDS {
            assert_same_pages(&db, &searcher, text, kind, 50, 3).await;
        }
    }
    // Small pages, all the way through.
    for text in ["same name", "q.qq", "son", "@example"] {
        assert_same_pages(&db, &searcher, text, KindFilter::All, 3, 1_000).await;
    }
    // A match across two fields or two records is no match.
    for text in ["foobar", "q.qqaaa2", "zz@q.qqaaa2"] {
        let page = searcher
            .search(&query(text, KindFilter::All, None, 50))
            .await
            .unwrap();
        assert!(page.rows.is_empty(), "{text} spans a separator");
        assert_eq!(page.total, MatchCount::Exact(0));
    }
    let both = searcher
        .search(&query("q.qq", KindFilter::All, None, 50))
        .await
        .unwrap();
    assert_eq!(both.rows.len(), 2);
    // Each row says who it is, read in one statement with its grants.
    for (name, email, subscribed, customer) in CRAFTED {
        let email_lower = email.to_lowercase();
        let page = searcher
            .search(&query(email, KindFilter::All, None, 50))
            .await
            .unwrap();
        let row = page
            .rows
            .iter()
            .find(|r| r.email.to_lowercase() == email_lower)
            .unwrap_or_else(|| panic!("{email} is found"));
        assert_eq!(
            (row.name.as_str(), row.customer, row.subscriber),
            (*name, *customer, *subscribed),
            "{:?}: the row of {email}",
            db.backend
        );
    }
}
on_every_backend!(index_matches_sql, index_and_sql_return_the_same_pages);

async fn found(searcher: &Searcher, text: &str, kind: KindFilter) -> Vec<String> {
    searcher
        .search(&query(text, kind, None, 50))
        .await
        .expect("search")
        .rows
        .into_iter()
        .map(|r| r.email)
        .collect()
}

/// A searcher polling every 100 ms on `clock`, its index loaded.
async fn loaded_searcher(db: &TestDb, clock: &Clock) -> Searcher {
    let searcher = Searcher::new(
        db.store.clone(),
        &settings(true, Duration::from_millis(100)),
        clock.clone(),
    );
    searcher.load().await.unwrap();
    searcher
}

/// Polls a second apart until one reloads the whole index: how many it
/// took, or `None` after `most`.
async fn polls_until_reloaded(searcher: &Searcher, clock: &Clock, most: u32) -> Option<u32> {
    for polls in 1..=most {
        clock.advance(Duration::from_secs(1));
        match searcher.refresh().await.unwrap() {
            RefreshOutcome::Loaded { .. } => return Some(polls),
            // Reloads are not run back to back; wait out the gap.
            RefreshOutcome::Deferred => tokio::time::sleep(Duration::from_millis(100)).await,
            _ => {}
        }
    }
    None
}

async fn changes_show_up_after_a_refresh(db: TestDb) {
    crafted_store(&db, 300).await;
    let clock = Clock::fixed(at());
    let searcher = loaded_searcher(&db, &clock).await;
    let conn = db.store.conn();
    assert_eq!(searcher.refresh().await.unwrap(), RefreshOutcome::Unchanged);

    clock.advance(Duration::from_secs(5));
    let id = add_contact(
        conn,
        "Quentin Newcomer",
        "quentin@newcomer.example",
        false,
        clock.now(),
    )
    .await;
    assert!(
        found(&searcher, "newcomer", KindFilter::All)
            .await
            .is_empty(),
        "not yet in the index"
    );
    assert_eq!(
        searcher.refresh().await.unwrap(),
        RefreshOutcome::Patched { changed: 1 }
    );
    assert_eq!(
        found(&searcher, "newcomer", KindFilter::All).await,
        vec!["quentin@newcomer.example"]
    );
    assert!(
        found(&searcher, "newcomer", KindFilter::Customers)
            .await
            .is_empty()
    );
    // Seen again by the overlapping next poll, but not applied twice.
    assert_eq!(searcher.refresh().await.unwrap(), RefreshOutcome::Unchanged);

    // A grant makes a customer (the writer bumps updated_at).
    clock.advance(Duration::from_secs(5));
    add_grant(conn, id, clock.now()).await;
    searcher.refresh().await.unwrap();
    assert_eq!(
        found(&searcher, "newcomer", KindFilter::Customers).await,
        vec!["quentin@newcomer.example"]
    );

    // A rename: found by the new name only.
    clock.advance(Duration::from_secs(5));
    contact::ActiveModel {
        id: Set(id),
        name: Set("Quentin Renamed".into()),
        name_lower: Set("quentin renamed".into()),
        updated_at: Set(clock.now()),
        ..Default::default()
    }
    .update(conn)
    .await
    .unwrap();
    searcher.refresh().await.unwrap();
    assert_eq!(
        found(&searcher, "renamed", KindFilter::All).await,
        vec!["quentin@newcomer.example"]
    );
    assert!(
        found(&searcher, "quentin newcomer", KindFilter::All)
            .await
            .is_empty()
    );

    // A contact deleted, and one written without bumping updated_at (a
    // contract breach): both caught by the census.
    contact::Entity::delete_by_id(id).exec(conn).await.unwrap();
    add_contact(
        conn,
        "Old Timer",
        "old.timer@example.com",
        false,
        at() - chrono::TimeDelta::days(400),
    )
    .await;
    assert!(
        polls_until_reloaded(&searcher, &clock, 100).await.is_some(),
        "the census reloads the index"
    );
    assert!(
        found(&searcher, "renamed", KindFilter::All)
            .await
            .is_empty()
    );
    assert_eq!(
        found(&searcher, "old timer", KindFilter::All).await,
        vec!["old.timer@example.com"]
    );
    assert_same_pages(&db, &searcher, "e", KindFilter::All, 50, 20).await;
}
on_every_backend!(refresh, changes_show_up_after_a_refresh);

/// Each poll counts one slice of ids; a deletion far up the ids, which
/// leaves the highest id alone, is caught when the sweep reaches its slice.
async fn a_deletion_far_up_the_ids_is_caught_by_the_census(db: TestDb) {
    crafted_store(&db, 50).await;
    let conn = db.store.conn();
    let insert_at = |id: i64, name: &'static str, email: &'static str| async move {
        let mut row = contact::ActiveModel::new_contact(name, email, false, at());
        row.id = Set(id);
        row.insert(conn).await.expect("insert contact");
    };
    let far = 5 * CENSUS_IDS + 7;
    insert_at(far, "Faraway Deleted", "faraway@example.com").await;
    insert_at(12 * CENSUS_IDS, "Topmost Kept", "topmost@example.com").await;
    let clock = Clock::fixed(at());
    let searcher = loaded_searcher(&db, &clock).await;
    assert_eq!(
        found(&searcher, "faraway", KindFilter::All).await,
        vec!["faraway@example.com"]
    );
    contact::Entity::delete_by_id(far).exec(conn).await.unwrap();
    let polls = polls_until_reloaded(&searcher, &clock, 60)
        .await
        .expect("the census sweep finds the deletion");
    // Slices 0 to 4 hold nothing changed: the sixth poll is the first
    // that can see it.
    assert!(polls >= 6, "caught after {polls} polls");
    // The deleted one gone, the rest still there.
    let after = (
        found(&searcher, "faraway", KindFilter::All).await,
        found(&searcher, "topmost", KindFilter::All).await,
    );
    assert_eq!(after, (vec![], vec!["topmost@example.com".to_owned()]));
}
on_every_backend!(
    census_sweep,
    a_deletion_far_up_the_ids_is_caught_by_the_census
);

async fn the_background_task_picks_up_changes(db: TestDb) {
    crafted_store(&db, 100).await;
    let searcher = Searcher::start(
        db.store.clone(),
        &settings(true, Duration::from_millis(100)),
        Clock::system(),
    );
    // SQL answers until the index is there.
    assert!(
        !found(&searcher, "same name", KindFilter::All)
            .await
            .is_empty()
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while searcher.index().is_none() {
        assert!(std::time::Instant::now() < deadline, "index never loaded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    add_contact(
        db.store.conn(),
        "Late Arrival",
        "late@arrival.example",
        true,
        Utc::now(),
    )
    .await;
    loop {
        let in_index = searcher
            .index()
            .and_then(|i| i.search("late@arrival", KindFilter::All, None, 10))
            .is_some_and(|hits| hits.ids.len() == 1);
        if in_index {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "change never reached the index"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        found(&searcher, "late@arrival", KindFilter::Subscribers).await,
        vec!["late@arrival.example"]
    );
}
on_every_backend!(background, the_background_task_picks_up_changes);

async fn turning_the_index_off_leaves_sql(db: TestDb) {
    crafted_store(&db, 0).await;
    let searcher = Searcher::start(
        db.store.clone(),
        &settings(false, Duration::from_millis(50)),
        Clock::system(),
    );
    assert_eq!(searcher.status(), IndexStatus::Off);
    assert_eq!(searcher.refresh().await.unwrap(), RefreshOutcome::Off);
    assert_eq!(searcher.load().await.unwrap(), RefreshOutcome::Off);
    assert!(searcher.index().is_none());
    assert_eq!(
        found(&searcher, "same name", KindFilter::All).await.len(),
        3
    );
}
on_every_backend!(index_off, turning_the_index_off_leaves_sql);

// ---- The index alone ----

fn entry(id: i64, name: &str, email: &str, customer: bool, subscriber: bool) -> IndexEntry {
    IndexEntry {
        id,
        name_lower: name.to_owned(),
        email_lower: email.to_owned(),
        customer,
        subscriber,
    }
}

#[test]
fn a_match_spanning_a_separator_is_not_a_match() {
    let index = SearchIndex::build(vec![
        entry(1, "foo", "bar@x.com", false, false),
        entry(2, "x\nline", "y\u{1f}sep@x.com", true, false),
        entry(3, "zed", "zed@x.com", false, true),
    ])
    .unwrap();
    for needle in ["foobar", "comx", "com\nx", "x.comzed", "x\nline"] {
        let hits = index.search(needle, KindFilter::All, None, 10);
        assert!(hits.is_none_or(|h| h.ids.is_empty()), "{needle:?}");
    }
    assert!(
        index
            .search("a\u{1f}b", KindFilter::All, None, 10)
            .is_none(),
        "control characters go to SQL"
    );
    assert_eq!(
        index
            .search("x.com", KindFilter::All, None, 10)
            .unwrap()
            .total,
        MatchCount::Exact(3)
    );
    assert_eq!(
        index
            .search("line", KindFilter::Customers, None, 10)
            .unwrap()
            .ids,
        vec![2]
    );
    assert_eq!(
        index
            .search("", KindFilter::Subscribers, None, 10)
            .unwrap()
            .ids,
        vec![3]
    );
}

#[test]
fn dense_queries_are_estimated_and_pages_stay_exact() {
    let entries: Vec<IndexEntry> = (0..20_000)
        .map(|i| {
            let name = if i % 3 == 0 {
                format!("anna {i:05}")
            } else {
                format!("bob {i:05}")
            };
            entry(
                i,
                &name,
                &format!("user{i}@mail.example"),
                i % 2 == 0,
                i % 5 == 0,
            )
        })
        .collect();
    let exact = SearchIndex::build(entries.clone()).unwrap();
    let tuned = SearchIndex::build(entries).unwrap().with_tuning(Tuning {
        estimate_above: 1_000,
        small: 0,
        threads: 2,
        ..Tuning::default()
    });
    // "anna" is a third of the records: estimated, within a few percent.
    let sure = exact.search("anna", KindFilter::All, None, 50).unwrap();
    let quick = tuned.search("anna", KindFilter::All, None, 50).unwrap();
    assert_eq!(sure.total, MatchCount::Exact(6_667));
    let MatchCount::Estimate(n) = quick.total else {
        panic!("dense is estimated: {:?}", quick.total)
    };
    assert!((6_000..7_400).contains(&n), "estimate {n}");
    assert_eq!(quick.ids, sure.ids);
    assert_eq!(quick.next, sure.next);
    // Rare needles stay exact, split over threads.
    let rare = tuned
        .search("user1234@", KindFilter::All, None, 50)
        .unwrap();
    assert_eq!(rare.total, MatchCount::Exact(1));
    assert_eq!(rare.ids, vec![1234]);
    let paged = tuned
        .search("anna", KindFilter::Customers, sure.next.as_ref(), 50)
        .unwrap();
    let paged_exact = exact
        .search("anna", KindFilter::Customers, sure.next.as_ref(), 50)
        .unwrap();
    assert_eq!(paged.ids, paged_exact.ids);
    // Threads split the scan: the same answer with one or two.
    let one = SearchIndex::clone(&tuned).with_tuning(Tuning {
        estimate_above: u64::MAX,
        small: 0,
        threads: 1,
        ..Tuning::default()
    });
    let two = SearchIndex::clone(&tuned).with_tuning(Tuning {
        estimate_above: u64::MAX,
        small: 0,
        threads: 2,
        ..Tuning::default()
    });
    for needle in ["anna", "9@", "bob 1", "zzz"] {
        assert_eq!(
            one.search(needle, KindFilter::Neither, None, 50),
            two.search(needle, KindFilter::Neither, None, 50)
        );
    }
}

#[test]
fn a_count_that_would_scan_many_blocks_is_estimated_only_from_a_sharp_sample() {
    // Every other contact holds "half"; one in 64 holds "rare". Both sit in
    // many blocks, so an exact count of either scans most of the index.
    let entries: Vec<IndexEntry> = (0..100_000)
        .map(|i| {
            let email = if i % 2 == 0 {
                format!("half{i}@a.example")
            } else if i % 64 == 1 {
                format!("rare{i}@b.example")
            } else {
                format!("x{i}@c.example")
            };
            entry(i, &format!("n{i:06}"), &email, i % 3 == 0, false)
        })
        .collect();
    let built = SearchIndex::build(entries).unwrap();
    let exact = SearchIndex::clone(&built).with_tuning(Tuning {
        estimate_above: u64::MAX,
        estimate_scans_above: u64::MAX,
        small: 0,
        ..Tuning::default()
    });
    let thrifty = SearchIndex::clone(&built).with_tuning(Tuning {
        estimate_above: u64::MAX,
        estimate_scans_above: 1_000,
        small: 0,
        ..Tuning::default()
    });
    let sure = exact.search("half", KindFilter::All, None, 50).unwrap();
    assert_eq!(sure.total, MatchCount::Exact(50_000));
    let quick = thrifty.search("half", KindFilter::All, None, 50).unwrap();
    let MatchCount::Estimate(n) = quick.total else {
        panic!(
            "a sharp sample over many blocks is an estimate: {:?}",
            quick.total
        )
    };
    assert!((47_500..=52_500).contains(&n), "estimate {n}");
    assert_eq!(quick.ids, sure.ids, "the page stays exact");
    assert_eq!(quick.next, sure.next);
    // The kind filter's share is projected too (a third are customers).
    let MatchCount::Estimate(customers) = thrifty
        .search("half", KindFilter::Customers, None, 50)
        .unwrap()
        .total
    else {
        panic!("estimated")
    };
    assert!(
        (15_800..=17_500).contains(&customers),
        "estimate {customers}"
    );
    // Too few hits in the sample to project: counted exactly all the same.
    let rare = thrifty.search("rare", KindFilter::All, None, 50).unwrap();
    assert_eq!(rare.total, MatchCount::Exact(1_563));
    assert_eq!(
        rare,
        exact.search("rare", KindFilter::All, None, 50).unwrap()
    );
    // The default scans a hundred thousand records rather than estimate.
    let default = SearchIndex::clone(&built).with_tuning(Tuning {
        estimate_above: u64::MAX,
        small: 0,
        ..Tuning::default()
    });
    assert_eq!(
        default
            .search("half", KindFilter::All, None, 50)
            .unwrap()
            .total,
        MatchCount::Exact(50_000)
    );
}

// ---- Property: the index equals a naive filter ----

const ALPHABET: &[char] = &['a', 'b', 'é', 'ß', 'σ', 'ς', '%', '_', '\\', ' ', '@', '.'];

fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(ALPHABET), 0..max)
        .prop_map(|chars| chars.into_iter().collect())
}

fn entries() -> impl Strategy<Value = Vec<IndexEntry>> {
    proptest::collection::vec((text(6), text(6), any::<bool>(), any::<bool>()), 0..40).prop_map(
        |rows| {
            rows.into_iter()
                .enumerate()
                .map(|(i, (name, email, customer, subscriber))| {
                    entry(
                        i64::try_from(i).unwrap() * 3 + 1,
                        &name,
                        &email,
                        customer,
                        subscriber,
                    )
                })
                .collect()
        },
    )
}

fn kind() -> impl Strategy<Value = KindFilter> {
    proptest::sample::select(KINDS.to_vec())
}

/// Every page in order, by brute force.
fn naive_pages(
    entries: &[IndexEntry],
    needle: &str,
    kind: KindFilter,
    limit: usize,
) -> (Vec<Vec<i64>>, u64) {
    let mut matching: Vec<&IndexEntry> = entries
        .iter()
        .filter(|e| e.name_lower.contains(needle) || e.email_lower.contains(needle))
        .filter(|e| kind.admits(e.customer, e.subscriber))
        .collect();
    matching.sort_by(|a, b| {
        a.name_lower
            .as_bytes()
            .cmp(b.name_lower.as_bytes())
            .then(a.id.cmp(&b.id))
    });
    let ids: Vec<i64> = matching.iter().map(|e| e.id).collect();
    let pages = ids.chunks(limit).map(<[i64]>::to_vec).collect();
    (pages, ids.len() as u64)
}

fn index_pages(
    index: &SearchIndex,
    needle: &str,
    kind: KindFilter,
    limit: usize,
) -> (Vec<Vec<i64>>, u64) {
    let mut pages = Vec::new();
    let mut after = None;
    let mut total = 0;
    loop {
        let hits = index
            .search(needle, kind, after.as_ref(), limit)
            .expect("supported needle");
        total = total.max(hits.total.value());
        if !hits.ids.is_empty() {
            pages.push(hits.ids);
        }
        match hits.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    (pages, total)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn index_pages_equal_a_naive_filter(
        entries in entries(),
        needle in text(3),
        kind in kind(),
        limit in 1usize..6,
        threads in 1usize..4,
    ) {
        let index = SearchIndex::build(entries.clone()).unwrap()
            .with_tuning(Tuning { estimate_above: u64::MAX, small: 0, threads, ..Tuning::default() });
        prop_assert_eq!(index_pages(&index, &needle, kind, limit), naive_pages(&entries, &needle, kind, limit));
    }

    #[test]
    fn applying_changes_equals_rebuilding(
        base in entries(),
        changed in proptest::collection::vec((0usize..60, text(6), text(6), any::<bool>(), any::<bool>()), 0..10),
        removed in proptest::collection::vec(0usize..60, 0..5),
    ) {
        let index = SearchIndex::build(base.clone()).unwrap();
        let changes: Vec<IndexEntry> = changed
            .into_iter()
            .map(|(slot, name, email, c, s)| entry(i64::try_from(slot).unwrap() * 2 + 1, &name, &email, c, s))
            .collect();
        let removed: Vec<i64> = removed.into_iter().map(|slot| i64::try_from(slot).unwrap() * 2 + 1).collect();
        // The expected contents: base, minus removed, then changes written over.
        let mut expected: std::collections::BTreeMap<i64, IndexEntry> =
            base.into_iter().map(|e| (e.id, e)).collect();
        for id in &removed {
            expected.remove(id);
        }
        for change in &changes {
            expected.insert(change.id, change.clone());
        }
        let before: Vec<IndexEntry> = (0..index.len()).filter_map(|i| index.entry(i)).collect();
        let patched = match index.apply(changes.clone(), &removed).unwrap() {
            Some(next) => next,
            None => index.clone(),
        };
        let rebuilt = SearchIndex::build(expected.into_values().collect()).unwrap();
        let got: Vec<IndexEntry> = (0..patched.len()).filter_map(|i| patched.entry(i)).collect();
        let want: Vec<IndexEntry> = (0..rebuilt.len()).filter_map(|i| rebuilt.entry(i)).collect();
        prop_assert_eq!(&got, &want);
        // "Nothing changed" is only said when nothing did.
        if index.apply(changes, &removed).unwrap().is_none() {
            prop_assert_eq!(before, want);
        }
        for kind in KINDS {
            prop_assert_eq!(patched.total(kind), rebuilt.total(kind));
        }
    }
}

/// `n` seeded people (seed `seed`) as index entries: a third customers,
/// a quarter subscribers.
fn seeded_entries(seed: u64, n: i64) -> Vec<IndexEntry> {
    use keydesk::seed::people::{People, WordLists};
    let lists = WordLists::builtin().unwrap();
    let mut people = People::new(&lists, seed);
    (0..n)
        .map(|i| {
            let p = people.next_person();
            entry(
                i,
                &p.name.to_lowercase(),
                &p.email.to_lowercase(),
                i % 3 == 0,
                i % 4 == 0,
            )
        })
        .collect()
}

#[test]
fn the_block_filter_never_hides_a_match() {
    let entries = seeded_entries(3, 30_000);
    let index = SearchIndex::build(entries.clone())
        .unwrap()
        .with_tuning(Tuning {
            estimate_above: u64::MAX,
            small: 0,
            threads: 2,
            ..Tuning::default()
        });
    // Needles cut from real records, at every length: the gram table
    // answers one and two bytes, the trigram filter three and more.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        usize::try_from(state % n as u64).unwrap()
    };
    for _ in 0..300 {
        let e = &entries[next(entries.len())];
        let field: Vec<char> = if next(2) == 0 {
            e.name_lower.chars().collect()
        } else {
            e.email_lower.chars().collect()
        };
        let len = 1 + next(8);
        if field.len() < len {
            continue;
        }
        let at = next(field.len() - len + 1);
        let needle: String = field[at..at + len].iter().collect();
        let kind = KINDS[next(4)];
        let want = entries
            .iter()
            .filter(|x| x.name_lower.contains(&needle) || x.email_lower.contains(&needle))
            .filter(|x| kind.admits(x.customer, x.subscriber))
            .count() as u64;
        let hits = index.search(&needle, kind, None, 50).unwrap();
        assert_eq!(hits.total, MatchCount::Exact(want), "{needle:?} {kind:?}");
        if kind.admits(e.customer, e.subscriber) && want <= 50 {
            assert!(hits.ids.contains(&e.id), "{needle:?} finds its own record");
        }
    }
}

#[test]
fn short_needles_are_counted_exactly_and_paged_through_every_block() {
    use keydesk::store::search_index::LiveIndex;
    let mut entries = seeded_entries(5, 30_000);
    // A needle held by a handful of records scattered over the sort order.
    for i in (0..30_000usize).step_by(4_999) {
        entries[i].name_lower.push_str(" qq");
    }
    let index = SearchIndex::build(entries.clone()).unwrap();
    // One- and two-byte needles: common, rare, non-ASCII, absent.
    let needles = ["a", "q", "qq", "ø", "é", "zb", "@", ".", "xj", "~", "ß"];
    for needle in needles {
        for kind in KINDS {
            for limit in [7, 50] {
                assert_eq!(
                    index_pages(&index, needle, kind, limit),
                    naive_pages(&entries, needle, kind, limit),
                    "{needle:?} {kind:?} {limit}"
                );
            }
            // Exact however dense, as the table knows.
            let hits = index.search(needle, kind, None, 50).unwrap();
            assert!(matches!(hits.total, MatchCount::Exact(_)), "{needle:?}");
        }
    }
    // Rows replaced by a delta leave the base's table counts: the live
    // index subtracts them.
    let changed: Vec<IndexEntry> = (0..30_000)
        .step_by(97)
        .map(|i| {
            entry(
                i,
                &format!("renamed {i}"),
                "moved@example.org",
                i % 2 == 0,
                false,
            )
        })
        .collect();
    let live = LiveIndex::new(index)
        .with_changes(changed.clone(), &[5, 6])
        .unwrap()
        .unwrap();
    let mut now: std::collections::BTreeMap<i64, IndexEntry> =
        entries.into_iter().map(|e| (e.id, e)).collect();
    now.remove(&5);
    now.remove(&6);
    for c in changed {
        now.insert(c.id, c);
    }
    let now: Vec<IndexEntry> = now.into_values().collect();
    for needle in needles {
        for kind in KINDS {
            let (want, count) = naive_pages(&now, needle, kind, 50);
            let hits = live.search(needle, kind, None, 50).unwrap();
            assert_eq!(hits.total, MatchCount::Exact(count), "{needle:?} {kind:?}");
            assert_eq!(
                hits.ids,
                want.first().cloned().unwrap_or_default(),
                "{needle:?} {kind:?}"
            );
        }
    }
}
