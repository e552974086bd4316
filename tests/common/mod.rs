//! Shared test harness: a fresh, migrated store on each backend.
//!
//! SQLite is a file in a temp dir. PostgreSQL and MariaDB get a database of
//! their own per test (`kdt_<random>`), on the servers named by
//! `KEYDESK_TEST_POSTGRES_URL` and `KEYDESK_TEST_MYSQL_URL` (defaults:
//! 127.0.0.1, trust / root without password). When a server cannot be
//! reached the test says SKIPPED on stderr and passes, unless
//! `KEYDESK_REQUIRE_BACKENDS=1` (set by `.ci/run`), where it fails.

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

fn required() -> bool {
    std::env::var("KEYDESK_REQUIRE_BACKENDS").is_ok_and(|v| v == "1")
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
                        "{backend:?} is required (KEYDESK_REQUIRE_BACKENDS=1) but unreachable at {server}: {err}"
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
