//! Shared test harness: a fresh, migrated store on each backend.
//!
//! SQLite is a file in a temp dir. PostgreSQL and MariaDB get a database of
//! their own per test (`kdt_<random>`), on the servers named by
//! `KEYDESK_TEST_POSTGRES_URL` and `KEYDESK_TEST_MYSQL_URL` (defaults:
//! 127.0.0.1, trust / root without password). Every backend is required:
//! a server that cannot be reached fails the test with what to do. Only
//! `KEYDESK_REQUIRE_BACKENDS=0`, asked for by name, lets such a test say
//! SKIPPED on stderr and pass instead.

#![allow(dead_code)]

use keydesk::settings::{Settings, Sources};
use keydesk::store::Store;
use sea_orm::{ConnectionTrait, Database};

/// The three backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

/// A migrated store that lives as long as this value.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
}

fn server_url(backend: Backend) -> String {
    match backend {
        Backend::Postgres => std::env::var("KEYDESK_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into()),
        Backend::MySql => std::env::var("KEYDESK_TEST_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into()),
        Backend::Sqlite => String::new(),
    }
}

/// Whether a missing backend fails the test (the default) rather than
/// skipping it (`KEYDESK_REQUIRE_BACKENDS=0`).
pub fn required() -> bool {
    std::env::var("KEYDESK_REQUIRE_BACKENDS").as_deref() != Ok("0")
}

fn unique_name() -> String {
    use rand::RngExt;
    let n: u64 = rand::rng().random();
    format!("kdt_{n:016x}")
}

/// Test settings: defaults, no system files, the given database URL,
/// argon2 at its minimum cost so tests stay fast.
pub fn settings_for(url: &str, data_dir: &std::path::Path) -> Settings {
    let mut env = std::collections::BTreeMap::new();
    env.insert("KEYDESK__DATABASE__URL".to_owned(), url.to_owned());
    Settings::load(&Sources {
        file: None,
        skip_system_files: true,
        env: Some(env),
        data_dir: Some(data_dir.to_path_buf()),
    })
    .expect("test settings load")
}

/// An empty database URL on `backend`, or `None` (skipped) when its
/// server is unreachable and backends are not required.
pub async fn fresh_url(backend: Backend) -> Option<(String, Option<tempfile::TempDir>)> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("keydesk.db").display()
            );
            Some((url, Some(dir)))
        }
        Backend::Postgres | Backend::MySql => {
            let server = server_url(backend);
            let admin = match Database::connect(format!(
                "{server}/{}",
                if backend == Backend::Postgres {
                    "postgres"
                } else {
                    "mysql"
                }
            ))
            .await
            {
                Ok(db) => db,
                Err(err) => {
                    assert!(
                        !required(),
                        "{backend:?} is unreachable at {server}: {err}. Start it (.ci/run does), or set KEYDESK_REQUIRE_BACKENDS=0 to skip the tests that need it"
                    );
                    eprintln!("SKIPPED: {backend:?} unreachable at {server}: {err}");
                    return None;
                }
            };
            let name = unique_name();
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            let _ = admin.close().await;
            Some((format!("{server}/{name}"), None))
        }
    }
}

/// A fresh migrated store on `backend`, or `None` when skipped.
pub async fn fresh(backend: Backend) -> Option<TestDb> {
    let (url, dir) = fresh_url(backend).await?;
    let tmp = std::env::temp_dir();
    let settings = settings_for(&url, dir.as_ref().map_or(tmp.as_path(), |d| d.path()));
    let store = Store::connect(&settings.database)
        .await
        .expect("connect test store");
    store.migrate().await.expect("migrate test store");
    Some(TestDb {
        store,
        url,
        backend,
        _dir: dir,
    })
}

/// Runs the same async test body on SQLite, PostgreSQL and MariaDB, as
/// three tests named after the backend.
#[macro_export]
macro_rules! on_every_backend {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(db) = $crate::common::fresh($crate::common::Backend::Sqlite).await {
                    $body(db).await;
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = $crate::common::fresh($crate::common::Backend::Postgres).await {
                    $body(db).await;
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                if let Some(db) = $crate::common::fresh($crate::common::Backend::MySql).await {
                    $body(db).await;
                }
            }
        }
    };
}

// ---------------------------------------------------------------------------
// Desk helpers (added by desk-core): customers, operators, a desk over a
// test store, reading mail bodies, scanning the store for secrets.

/// Settings for `url` with extra `KEYDESK__...` overrides; argon2 at its
/// cheapest accepted cost (m=8192 KiB, t=1) unless overridden.
pub fn settings_with(url: &str, data_dir: &std::path::Path, extra: &[(&str, &str)]) -> Settings {
    let mut env = std::collections::BTreeMap::new();
    env.insert("KEYDESK__DATABASE__URL".to_owned(), url.to_owned());
    env.insert(
        "KEYDESK__PASSWORD__ARGON2__M_COST".to_owned(),
        "8192".to_owned(),
    );
    env.insert(
        "KEYDESK__PASSWORD__ARGON2__T_COST".to_owned(),
        "1".to_owned(),
    );
    // Tests that measure Forgot Password's floor set it themselves.
    env.insert("KEYDESK__FORGOT__MIN_DURATION".to_owned(), "0s".to_owned());
    for (k, v) in extra {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    Settings::load(&Sources {
        file: None,
        skip_system_files: true,
        env: Some(env),
        data_dir: Some(data_dir.to_path_buf()),
    })
    .expect("test settings load")
}

/// 2026-03-01 09:00 UTC: where test clocks start.
pub fn t0() -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc
        .with_ymd_and_hms(2026, 3, 1, 9, 0, 0)
        .single()
        .expect("valid date")
}

/// A desk over the test store with a fixed clock at [`t0`].
pub fn desk(db: &TestDb) -> (keydesk::desk::Desk, keydesk::clock::Clock) {
    desk_with(db, &[])
}

/// Like [`desk`] with settings overrides.
pub fn desk_with(
    db: &TestDb,
    extra: &[(&str, &str)],
) -> (keydesk::desk::Desk, keydesk::clock::Clock) {
    let clock = keydesk::clock::Clock::fixed(t0());
    let settings = settings_with(&db.url, &std::env::temp_dir(), extra);
    let desk = keydesk::desk::Desk::new(db.store.clone(), settings, clock.clone()).expect("desk");
    (desk, clock)
}

/// A contact (not a customer).
pub async fn make_contact(store: &Store, name: &str, email: &str) -> i64 {
    use sea_orm::ActiveModelTrait;
    keydesk::store::entity::contact::ActiveModel::new_contact(name, email, false, t0())
        .insert(store.conn())
        .await
        .expect("insert contact")
        .id
}

/// A customer: a contact with a grant of the offer "Course" (created once).
pub async fn make_customer(store: &Store, name: &str, email: &str) -> i64 {
    use keydesk::store::entity::{grant, offer};
    use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
    let id = make_contact(store, name, email).await;
    let offer_id = match offer::Entity::find()
        .filter(offer::Column::Name.eq("Course"))
        .one(store.conn())
        .await
        .expect("find offer")
    {
        Some(o) => o.id,
        None => {
            offer::ActiveModel {
                name: Set("Course".into()),
                products: Set("Course".into()),
                created_at: Set(t0()),
                ..Default::default()
            }
            .insert(store.conn())
            .await
            .expect("insert offer")
            .id
        }
    };
    grant::ActiveModel {
        contact_id: Set(id),
        offer_id: Set(offer_id),
        source: Set("granted".into()),
        granted_by: Set("test".into()),
        granted_at: Set(t0()),
        ..Default::default()
    }
    .insert(store.conn())
    .await
    .expect("insert grant");
    id
}

/// Puts an operator row straight into the store (tests of roles start
/// from a known table; `operators add` is tested through the desk).
pub async fn make_operator(store: &Store, name: &str, role: &str) -> keydesk::desk::Operator {
    use keydesk::store::entity::operator;
    use sea_orm::{ActiveModelTrait, Set};
    operator::ActiveModel {
        name: Set(name.to_owned()),
        role: Set(role.to_owned()),
        created_at: Set(t0()),
        created_by: Set("test".into()),
        ..Default::default()
    }
    .insert(store.conn())
    .await
    .expect("insert operator");
    keydesk::desk::Operator {
        name: name.to_owned(),
        source: "test".to_owned(),
        role: role.parse().expect("role"),
    }
}

/// The outbox rows, oldest first.
pub async fn outbox_rows(store: &Store) -> Vec<keydesk::store::entity::outbox::Model> {
    use keydesk::store::entity::outbox;
    use sea_orm::{EntityTrait, QueryOrder};
    outbox::Entity::find()
        .order_by_asc(outbox::Column::Id)
        .all(store.conn())
        .await
        .expect("outbox")
}

/// The decoded text and HTML parts of an RFC 5322 message, joined: what
/// a mail client shows, whatever the transfer encoding.
pub fn mail_text(formatted: &str) -> String {
    let Some(msg) = mail_parser::MessageParser::default().parse(formatted.as_bytes()) else {
        return String::new();
    };
    let mut out = String::new();
    for i in 0..msg.text_body.len() {
        if let Some(text) = msg.body_text(i) {
            out.push_str(&text);
            out.push('\n');
        }
    }
    for i in 0..msg.html_body.len() {
        if let Some(html) = msg.body_html(i) {
            out.push_str(&html);
            out.push('\n');
        }
    }
    out
}

/// The reset token carried by the newest reset mail to `email`.
pub async fn token_mailed_to(store: &Store, email: &str) -> String {
    let rows = outbox_rows(store).await;
    let row = rows
        .iter()
        .rev()
        .find(|r| r.kind == "reset_link" && r.recipient.eq_ignore_ascii_case(email))
        .expect("a reset mail was queued");
    token_in(row.body.as_deref().expect("queued mail has a body"))
}

/// The token in a reset mail body.
pub fn token_in(formatted: &str) -> String {
    let text = mail_text(formatted);
    let at = text
        .find(keydesk::desk::reset_links::RESET_PATH)
        .expect("the mail carries a reset link");
    text[at + keydesk::desk::reset_links::RESET_PATH.len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// Every place (`table.column`) in the store whose text holds `secret`.
/// Queued outbox bodies are decoded first, so encoding cannot hide it.
pub async fn places_holding(store: &Store, secret: &str) -> Vec<String> {
    use keydesk::store::entity::*;
    use sea_orm::EntityTrait;
    let conn = store.conn();
    let mut found = Vec::new();
    let mut scan = |table: &str, rows: Vec<serde_json::Value>| {
        for row in rows {
            if let serde_json::Value::Object(map) = row {
                for (column, value) in map {
                    if let serde_json::Value::String(text) = value {
                        let decoded = if column == "body" {
                            mail_text(&text)
                        } else {
                            String::new()
                        };
                        if text.contains(secret) || decoded.contains(secret) {
                            found.push(format!("{table}.{column}"));
                        }
                    }
                }
            }
        }
    };
    scan(
        "contacts",
        contact::Entity::find()
            .into_json()
            .all(conn)
            .await
            .expect("scan"),
    );
    scan(
        "offers",
        offer::Entity::find()
            .into_json()
            .all(conn)
            .await
            .expect("scan"),
    );
    scan(
        "grants",
        grant::Entity::find()
            .into_json()
            .all(conn)
            .await
            .expect("scan"),
    );
    scan(
        "accounts",
        account::Entity::find()
            .into_json()
            .all(conn)
            .await
            .expect("scan"),
    );
    scan(
        "reset_links",
        reset_link::Entity::find()
            .into_json()
            .all(conn)
            .await
            .expect("scan"),
    );
    scan(
        "sessions",
        session::Entity::find()
            .into_json()
            .all(conn)
            .await
            .expect("scan"),
    );
    scan(
        "operators",
        operator::Entity::find()
            .into_json()
            .all(conn)
            .await
            .expect("scan"),
    );
    scan(
        "audit_events",
        audit_event::Entity::find()
            .into_json()
            .all(conn)
            .await
            .expect("scan"),
    );
    scan(
        "outbox",
        outbox::Entity::find()
            .into_json()
            .all(conn)
            .await
            .expect("scan"),
    );
    scan(
        "throttles",
        throttle::Entity::find()
            .into_json()
            .all(conn)
            .await
            .expect("scan"),
    );
    found
}

/// Rows in a table, by raw SQL (works whatever the entity says).
pub async fn count_rows(store: &Store, table: &str) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let backend = store.backend();
    let row = store
        .conn()
        .query_one_raw(Statement::from_string(
            backend,
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .expect("count")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("n")
}
