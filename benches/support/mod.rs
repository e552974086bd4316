//! The million-contact SQLite store the console benchmarks share:
//! `target/bench-data/tui-1m.db` (or `KEYDESK_BENCH_SQLITE`), seeded once
//! with `KEYDESK_BENCH_CONTACTS` contacts (default 1,000,000) if empty.

#![allow(dead_code, reason = "each bench uses only part of what is shared here")]

pub mod quantile;

use keydesk::seed::{SeedOptions, seed};
use keydesk::settings::{Settings, Sources};
use keydesk::store::Store;

/// How many contacts the store holds.
pub fn contacts() -> u64 {
    std::env::var("KEYDESK_BENCH_CONTACTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// The store's database URL.
pub fn store_url() -> String {
    let n = contacts();
    let path = std::env::var("KEYDESK_BENCH_SQLITE").unwrap_or_else(|_| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
        keydesk::files::private_dir_all(&dir).expect("bench dir");
        dir.join(if n == 1_000_000 {
            "tui-1m.db".to_owned()
        } else {
            format!("tui-{n}.db")
        })
        .display()
        .to_string()
    });
    format!("sqlite://{path}?mode=rwc")
}

/// Settings for `url`, with nothing read from the machine.
pub fn settings(url: &str) -> Settings {
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

/// The migrated store at `url`, seeded if it is empty.
pub async fn seeded_store(settings: &Settings) -> Store {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let store = Store::connect(&settings.database).await.expect("connect");
    store.migrate().await.expect("migrate");
    let count = || async {
        keydesk::store::entity::contact::Entity::find()
            .count(store.conn())
            .await
            .expect("count")
    };
    if count().await == 0 {
        eprintln!("bench data: seeding {} contacts (once)...", contacts());
        seed(&store, &SeedOptions::new(contacts(), 1), |_| {})
            .await
            .expect("seed");
    }
    eprintln!("bench data: {} contacts", count().await);
    store
}

/// Makes `name` a viewer unless it is an operator already: only operators
/// may browse contacts.
pub async fn ensure_viewer(store: &Store, name: &str) {
    use keydesk::store::entity::operator;
    use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
    let known = operator::Entity::find()
        .filter(operator::Column::Name.eq(name))
        .one(store.conn())
        .await
        .expect("find operator");
    if known.is_none() {
        operator::ActiveModel {
            name: Set(name.to_owned()),
            role: Set("viewer".into()),
            created_at: Set(chrono::Utc::now()),
            created_by: Set("bench".into()),
            ..Default::default()
        }
        .insert(store.conn())
        .await
        .expect("bench operator");
    }
}

/// The release `keydesk` binary as a user starts the console, on `url`,
/// with its log, mail, data and config in `dir`.
pub fn console_command(url: &str, dir: &std::path::Path) -> portable_pty::CommandBuilder {
    let mut cmd = portable_pty::CommandBuilder::new(env!("CARGO_BIN_EXE_keydesk"));
    cmd.env("TERM", "xterm-256color");
    cmd.env("KEYDESK__DATABASE__URL", url);
    cmd.env("KEYDESK__LOG__FILE", dir.join("keydesk.log"));
    cmd.env("KEYDESK__MAIL__FILE__DIR", dir.join("mail"));
    cmd.env("XDG_DATA_HOME", dir.join("data"));
    cmd.env("XDG_CONFIG_HOME", dir.join("config"));
    cmd
}
