//! `keydesk seed`: deterministic, realistic, consistent, on every backend.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use argon2::password_hash::PasswordVerifier;
use argon2::password_hash::phc::PasswordHash;
use chrono::{TimeDelta, TimeZone, Utc};
use keydesk::clock::Clock;
use keydesk::seed::people::{People, WordLists};
use keydesk::seed::{DEMO_PASSWORD, SeedError, SeedOptions, seed};
use keydesk::store::entity::{account, contact, grant, offer};
use sea_orm::{ActiveModelTrait, EntityTrait, QueryOrder};

use crate::on_every_backend;
use crate::support::db;
use crate::support::db::TestDb;

const N: u64 = 3_000;

fn options() -> SeedOptions {
    let mut opts = SeedOptions::new(N, 42);
    opts.clock = Clock::fixed(Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).unwrap());
    // Several batches, so batching and the per-statement split are exercised.
    opts.batch = 700;
    opts
}

fn share(part: u64, whole: u64) -> f64 {
    part as f64 / whole as f64
}

/// Secondary index names on the seeded tables, from the catalogue.
pub(crate) async fn index_names(db: &TestDb) -> Vec<String> {
    use sea_orm::{ConnectionTrait, Statement};
    let sql = match db.store.backend() {
        sea_orm::DbBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('contacts', 'grants', 'accounts') ORDER BY name"
        }
        sea_orm::DbBackend::Postgres => {
            "SELECT indexname AS name FROM pg_indexes WHERE tablename IN ('contacts', 'grants', 'accounts') ORDER BY indexname"
        }
        _ => {
            "SELECT DISTINCT index_name AS name FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name IN ('contacts', 'grants', 'accounts') ORDER BY index_name"
        }
    };
    let conn = db.store.conn();
    let rows = conn
        .query_all_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .collect()
}

/// Foreign keys on the seeded tables (PostgreSQL drops them for the load;
/// elsewhere they are part of the table and this is empty).
pub(crate) async fn foreign_keys(db: &TestDb) -> Vec<String> {
    use sea_orm::{ConnectionTrait, Statement};
    if db.store.backend() != sea_orm::DbBackend::Postgres {
        return Vec::new();
    }
    let conn = db.store.conn();
    let rows = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT conname || ' ' || pg_get_constraintdef(oid) AS def FROM pg_constraint \
             WHERE contype = 'f' AND conrelid::regclass::text IN ('contacts', 'grants', 'accounts') \
             ORDER BY conname",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<String>("", "def").unwrap())
        .collect()
}

async fn seeding_is_deterministic_realistic_and_consistent(db: TestDb) {
    let opts = options();
    let now = opts.clock.now();
    let indexes = index_names(&db).await;
    let keys = foreign_keys(&db).await;
    if db.store.backend() == sea_orm::DbBackend::Postgres {
        assert_eq!(keys.len(), 3, "{keys:?}");
    }
    assert!(
        indexes.iter().any(|n| n == "ux_contacts_email_lower"),
        "{indexes:?}"
    );
    let calls = Mutex::new(Vec::new());
    let report = seed(&db.store, &opts, |n| calls.lock().unwrap().push(n))
        .await
        .expect("seed");
    let calls = calls.into_inner().unwrap();
    assert_eq!(
        calls,
        vec![700, 1400, 2100, 2800, 3000],
        "progress after each batch"
    );
    assert_eq!(report.contacts, N);
    // Dropped for the load, built again after the rows.
    assert_eq!(index_names(&db).await, indexes);
    assert_eq!(foreign_keys(&db).await, keys);
    if let Some(path) = db.url.strip_prefix("sqlite://") {
        // The load's WAL is given back once it is in the database.
        let wal = format!("{}-wal", path.split('?').next().unwrap());
        let len = std::fs::metadata(&wal).map_or(0, |m| m.len());
        assert_eq!(len, 0, "{wal} keeps {len} bytes after the seed");
    }

    let conn = db.store.conn();
    let contacts = contact::Entity::find()
        .order_by_asc(contact::Column::Id)
        .all(conn)
        .await
        .unwrap();
    let grants = grant::Entity::find().all(conn).await.unwrap();
    let accounts = account::Entity::find().all(conn).await.unwrap();
    let offers = offer::Entity::find().all(conn).await.unwrap();
    assert_eq!(contacts.len() as u64, N);
    assert!(offers.len() >= 10, "about ten offers");

    // Lowercase forms, unique emails, timestamps in range.
    let mut emails = HashSet::new();
    for c in &contacts {
        assert_eq!(c.name_lower, c.name.to_lowercase());
        assert_eq!(c.email_lower, c.email.to_lowercase());
        assert!(
            emails.insert(c.email_lower.clone()),
            "duplicate {}",
            c.email
        );
        let (local, domain) = c.email_lower.split_once('@').expect("an @");
        assert!(local.is_ascii() && !local.is_empty() && domain.contains('.'));
        assert!(c.created_at <= now && c.created_at >= now - TimeDelta::days(3 * 365 + 1));
        assert_eq!(
            c.updated_at, now,
            "updated_at is the write time (search contract)"
        );
    }
    let non_ascii = contacts.iter().filter(|c| !c.name.is_ascii()).count();
    assert!(
        non_ascii > (N / 10) as usize,
        "only {non_ascii} non-ASCII names"
    );
    let scripts: [(&str, std::ops::RangeInclusive<char>); 5] = [
        ("Greek", '\u{370}'..='\u{3ff}'),
        ("Cyrillic", '\u{400}'..='\u{4ff}'),
        ("CJK", '\u{4e00}'..='\u{9fff}'),
        ("Arabic", '\u{600}'..='\u{6ff}'),
        ("Latin with accents", '\u{c0}'..='\u{17f}'),
    ];
    for (script, range) in scripts {
        assert!(
            contacts
                .iter()
                .any(|c| c.name.chars().any(|ch| range.contains(&ch))),
            "no {script} name"
        );
    }
    let domains: HashSet<&str> = contacts
        .iter()
        .filter_map(|c| c.email_lower.split_once('@').map(|(_, d)| d))
        .collect();
    assert!(domains.len() > 200, "only {} domains", domains.len());

    // Customers, subscribers and accounts in the proportions asked for.
    let customers: HashSet<i64> = grants.iter().map(|g| g.contact_id).collect();
    assert_eq!(customers.len() as u64, report.customers);
    let customer_share = share(report.customers, N);
    assert!(
        (0.35..0.45).contains(&customer_share),
        "customers {customer_share}"
    );
    let subscribers = contacts.iter().filter(|c| c.subscribed).count() as u64;
    assert_eq!(subscribers, report.subscribers);
    let subscriber_share = share(subscribers, N);
    assert!(
        (0.25..0.35).contains(&subscriber_share),
        "subscribers {subscriber_share}"
    );
    assert!(
        contacts
            .iter()
            .any(|c| c.subscribed && customers.contains(&c.id)),
        "customers and subscribers overlap"
    );
    let mut per_contact: HashMap<i64, usize> = HashMap::new();
    for g in &grants {
        *per_contact.entry(g.contact_id).or_default() += 1;
        match g.source.as_str() {
            "purchased" => assert!(g.granted_by.is_empty()),
            "granted" => assert!(!g.granted_by.is_empty(), "a grant names its admin"),
            other => panic!("unknown source {other}"),
        }
    }
    assert!(per_contact.values().all(|n| (1..=3).contains(n)));
    assert!(per_contact.values().any(|n| *n > 1));
    assert!(grants.iter().any(|g| g.source == "granted"));

    let with_account: HashSet<i64> = accounts.iter().map(|a| a.contact_id).collect();
    assert_eq!(
        with_account, customers,
        "every customer, and only customers, has an account"
    );
    let never_set = accounts
        .iter()
        .filter(|a| a.password_hash.is_none())
        .count() as u64;
    assert_eq!(never_set, report.without_password);
    let never_share = share(never_set, accounts.len() as u64);
    assert!(
        (0.10..0.20).contains(&never_share),
        "never set {never_share}"
    );
    let locked = accounts
        .iter()
        .filter(|a| a.locked_until.is_some_and(|t| t > now))
        .count();
    assert!(
        locked > 0 && (locked as f64) < 0.04 * accounts.len() as f64,
        "locked {locked}"
    );
    assert!(accounts.iter().any(|a| a.must_change_password));

    // One hash, made once, of the demo password with OWASP parameters.
    let hashes: HashSet<&str> = accounts
        .iter()
        .filter_map(|a| a.password_hash.as_deref())
        .collect();
    assert_eq!(hashes.len(), 1, "one shared hash");
    let hash = hashes.into_iter().next().unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    let parsed = PasswordHash::new(hash).unwrap();
    assert!(
        argon2::Argon2::default()
            .verify_password(DEMO_PASSWORD.as_bytes(), &parsed)
            .is_ok()
    );

    // The same seed on another store gives the same people.
    let other = db::fresh(db.backend).await.expect("second store");
    seed(&other.store, &opts, |_| {}).await.expect("seed again");
    let again = contact::Entity::find()
        .order_by_asc(contact::Column::Id)
        .all(other.store.conn())
        .await
        .unwrap();
    let people = |cs: &[contact::Model]| -> Vec<(i64, String, String, bool)> {
        cs.iter()
            .map(|c| (c.id, c.name.clone(), c.email.clone(), c.subscribed))
            .collect()
    };
    assert_eq!(people(&contacts), people(&again), "same seed, same people");

    // A seeded store is not seeded twice, and takes new contacts normally.
    let err = seed(&db.store, &opts, |_| {}).await.expect_err("not empty");
    assert!(matches!(err, SeedError::NotEmpty(n) if n == N), "{err}");
    assert!(err.to_string().contains("empty store"));
    let added =
        contact::ActiveModel::new_contact("After Seed", "after.seed@example.com", false, now)
            .insert(conn)
            .await
            .expect("insert after seeding (the id sequence moved past the seeded ids)");
    assert!(added.id > i64::try_from(N).unwrap());
}
on_every_backend!(seed_data, seeding_is_deterministic_realistic_and_consistent);

#[test]
fn another_seed_gives_other_people() {
    let lists = WordLists::builtin().unwrap();
    let take = |seed: u64| {
        let mut people = People::new(&lists, seed);
        (0..200).map(|_| people.next_person()).collect::<Vec<_>>()
    };
    assert_eq!(take(5), take(5));
    let (a, b) = (take(5), take(6));
    let same = a.iter().zip(&b).filter(|(x, y)| x == y).count();
    assert!(same < 10, "{same} of 200 people identical across seeds");
}

#[test]
fn emails_stay_unique_at_scale() {
    let lists = WordLists::builtin().unwrap();
    let mut people = People::new(&lists, 9);
    let mut seen = HashSet::new();
    for _ in 0..200_000 {
        let p = people.next_person();
        assert!(seen.insert(p.email.to_lowercase()), "duplicate {}", p.email);
    }
}

/// A PostgreSQL load whose rows break a foreign key fails when the key is
/// added back, and leaves the store as it was: no rows, every index and
/// key in place.
async fn a_failed_copy_load_keeps_nothing_and_restores_the_keys(db: TestDb) {
    use keydesk::store::bulk::postgres::{CopyLoad, encode_row};
    use sea_orm::Value;
    let indexes = index_names(&db).await;
    let keys = foreign_keys(&db).await;
    let mut load = CopyLoad::begin(&db.store, &["contacts", "grants"])
        .await
        .expect("begin");
    assert_eq!(
        load.deferred(),
        4 + 2,
        "four indexes, the two keys of grants"
    );
    let at = Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).unwrap();
    let mut contacts = Vec::new();
    encode_row(
        &mut contacts,
        &[
            Value::BigInt(Some(1)),
            Value::String(Some("Tab\tName".into())),
            Value::String(Some("a@example.com".into())),
            Value::String(Some("tab\tname".into())),
            Value::String(Some("a@example.com".into())),
            Value::Bool(Some(false)),
            Value::String(Some(String::new())),
            Value::String(Some(String::new())),
            Value::ChronoDateTimeUtc(Some(at)),
            Value::ChronoDateTimeUtc(Some(at)),
        ],
    )
    .unwrap();
    let columns = keydesk::store::bulk::CONTACT_COLUMNS;
    assert_eq!(load.copy("contacts", columns, &contacts).await.unwrap(), 1);
    // A grant of a contact and an offer that do not exist.
    let mut grants = Vec::new();
    encode_row(
        &mut grants,
        &[
            Value::BigInt(Some(999)),
            Value::BigInt(Some(999)),
            Value::String(Some("granted".into())),
            Value::String(Some("admin".into())),
            Value::ChronoDateTimeUtc(Some(at)),
        ],
    )
    .unwrap();
    let grant_columns = keydesk::store::bulk::GRANT_COLUMNS;
    assert_eq!(
        load.copy("grants", grant_columns, &grants).await.unwrap(),
        1
    );
    let err = load
        .commit()
        .await
        .expect_err("the dangling grant is refused");
    assert!(err.to_string().contains("foreign key"), "{err}");

    let conn = db.store.conn();
    assert!(contact::Entity::find().all(conn).await.unwrap().is_empty());
    assert!(grant::Entity::find().all(conn).await.unwrap().is_empty());
    assert_eq!(index_names(&db).await, indexes);
    assert_eq!(foreign_keys(&db).await, keys);

    // And a load that is fine commits its rows, names with a tab intact.
    let mut load = CopyLoad::begin(&db.store, &["contacts"]).await.unwrap();
    load.copy("contacts", columns, &contacts).await.unwrap();
    load.commit().await.unwrap();
    let saved = contact::Entity::find().all(conn).await.unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].name, "Tab\tName");
    assert_eq!(saved[0].created_at, at);
    assert_eq!(index_names(&db).await, indexes);
    assert_eq!(foreign_keys(&db).await, keys);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_copy_load_postgres() {
    if let Some(db) = db::fresh(db::Backend::Postgres).await {
        a_failed_copy_load_keeps_nothing_and_restores_the_keys(db).await;
    }
}
