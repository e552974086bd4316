//! A fresh, migrated store on each backend, its settings, and a desk over
//! it at a fixed time.
//!
//! SQLite is a file in a temp dir. PostgreSQL and MariaDB get a database of
//! their own per test (`kdt_<random>`), on the servers named by
//! `KEYDESK_TEST_POSTGRES_URL` and `KEYDESK_TEST_MYSQL_URL` (defaults:
//! 127.0.0.1, trust / root without password). Every backend is required:
//! a server that cannot be reached fails the test with what to do. Only
//! `KEYDESK_REQUIRE_BACKENDS=0`, asked for by name, lets such a test say
//! SKIPPED on stderr and pass instead.

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

/// Settings from the built-in defaults and `env` (`KEYDESK__...` values)
/// alone: no system or user files are read.
pub fn settings_from(
    env: impl IntoIterator<Item = (String, String)>,
    data_dir: &std::path::Path,
) -> Settings {
    Settings::load(&Sources {
        file: None,
        skip_system_files: true,
        env: Some(env.into_iter().collect()),
        data_dir: Some(data_dir.to_path_buf()),
    })
    .expect("test settings load")
}

/// Test settings: defaults, no system files, the given database URL.
pub fn settings_for(url: &str, data_dir: &std::path::Path) -> Settings {
    settings_from(
        [("KEYDESK__DATABASE__URL".to_owned(), url.to_owned())],
        data_dir,
    )
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
    open_fresh(backend, url, dir).await
}

/// [`fresh`] on PostgreSQL with `synchronous_commit` off for this test
/// database alone: a commit does not wait for the disk. For load tests
/// whose subject is not surviving a crash (every commit still happens, in
/// order; only the wait for fsync goes).
pub async fn fresh_postgres_without_commit_wait() -> Option<TestDb> {
    let (url, dir) = fresh_url(Backend::Postgres).await?;
    let name = url.rsplit('/').next().expect("a database name").to_owned();
    let conn = Database::connect(&url)
        .await
        .expect("connect to the test database");
    conn.execute_unprepared(&format!(
        "ALTER DATABASE {name} SET synchronous_commit = off"
    ))
    .await
    .expect("set synchronous_commit for the test database");
    let _ = conn.close().await;
    open_fresh(Backend::Postgres, url, dir).await
}

async fn open_fresh(
    backend: Backend,
    url: String,
    dir: Option<tempfile::TempDir>,
) -> Option<TestDb> {
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
                if let Some(db) =
                    $crate::support::db::fresh($crate::support::db::Backend::Sqlite).await
                {
                    $body(db).await;
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) =
                    $crate::support::db::fresh($crate::support::db::Backend::Postgres).await
                {
                    $body(db).await;
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                if let Some(db) =
                    $crate::support::db::fresh($crate::support::db::Backend::MySql).await
                {
                    $body(db).await;
                }
            }
        }
    };
}

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
    settings_from(env, data_dir)
}

/// A desk over the test store with a fixed clock at [`super::people::t0`].
pub fn desk(db: &TestDb) -> (keydesk::desk::Desk, keydesk::clock::Clock) {
    desk_with(db, &[])
}

/// Like [`desk`] with settings overrides.
pub fn desk_with(
    db: &TestDb,
    extra: &[(&str, &str)],
) -> (keydesk::desk::Desk, keydesk::clock::Clock) {
    let clock = keydesk::clock::Clock::fixed(super::people::t0());
    let settings = settings_with(&db.url, &std::env::temp_dir(), extra);
    let desk = keydesk::desk::Desk::new(db.store.clone(), settings, clock.clone()).expect("desk");
    (desk, clock)
}
