//! Fuzz targets, as proptest properties (cargo-fuzz needs a nightly
//! compiler; these run on stable, in CI, for a bounded number of cases):
//!
//! - `csv_*`: the CSV importer on arbitrary bytes and on arbitrary rows:
//!   never panics; either a clean per-row error or a correct import, and
//!   nothing half-written;
//! - `reset_token_paths`: arbitrary path segments on the reset page over
//!   real HTTP: never a panic, never a 5xx, the same answer as an unknown
//!   token;
//! - `settings_*`: arbitrary TOML files and `KEYDESK__` values: never a
//!   panic, and an error names the key (or, for a file that is not TOML,
//!   the file);
//! - `search_*`: arbitrary query text (`%`, `_`, quotes, backslashes, NUL,
//!   odd Unicode) through the SQL search path on every backend: never a
//!   panic, the same contacts as a naive filter.
//!
//! Each target's case count is bounded so CI spends well under 30 s on it;
//! `KEYDESK_FUZZ_CASES=N` raises (or lowers) every target to N cases.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};

use keydesk::import::{ImportError, import, parse};
use keydesk::settings::{Settings, Sources};
use keydesk::store::contacts::{KindFilter, SearchQuery, search_sql};
use keydesk::store::entity::contact;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use sea_orm::{ActiveModelTrait, EntityTrait};

use crate::on_every_backend;
use crate::support::db::TestDb;
use crate::support::{db, people, site};

/// The case count for a target: its CI default, or `KEYDESK_FUZZ_CASES`.
fn cases(default: u32) -> u32 {
    std::env::var("KEYDESK_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn runner(default_cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases: cases(default_cases),
        failure_persistence: None,
        ..Config::default()
    })
}

/// Runs an async property on the current tokio runtime.
fn run_async<S, F>(default_cases: u32, strategy: &S, test: F)
where
    S: Strategy,
    S::Value: Clone + std::fmt::Debug,
    F: Fn(S::Value) -> Result<(), TestCaseError>,
{
    let mut runner = runner(default_cases);
    let result = tokio::task::block_in_place(|| runner.run(strategy, test));
    if let Err(err) = result {
        panic!("{err}");
    }
}

// ---------------------------------------------------------------- CSV ----

/// Text made of what breaks CSV and email parsers.
fn csv_text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just(",".to_owned()),
        Just("\"".to_owned()),
        Just("\n".to_owned()),
        Just("\r\n".to_owned()),
        Just("\r".to_owned()),
        Just(";".to_owned()),
        Just("@".to_owned()),
        Just(".".to_owned()),
        Just(" ".to_owned()),
        Just("\u{0}".to_owned()),
        Just("\u{1b}]52;c;QQ==\u{7}".to_owned()),
        Just("\u{202e}".to_owned()),
        Just("\u{feff}".to_owned()),
        Just("yes".to_owned()),
        Just("example.com".to_owned()),
        "[a-zA-Z0-9]{1,6}",
        "\\PC{1,3}",
    ];
    proptest::collection::vec(pieces, 0..12).prop_map(|p| p.concat())
}

fn csv_row() -> impl Strategy<Value = Vec<String>> {
    let email = prop_oneof![
        3 => "[a-z]{1,6}@[a-z]{1,5}\\.(com|org)",
        1 => csv_text(),
    ];
    (csv_text(), email, csv_text(), csv_text()).prop_map(|(n, e, s, o)| vec![n, e, s, o])
}

fn csv_file() -> impl Strategy<Value = String> {
    let header = prop_oneof![
        Just("name,email,subscribed,offers"),
        Just("name,email"),
        Just("email,name,offers"),
        Just("Name , EMAIL"),
        Just("name,email,age"),
        Just("who,where"),
        Just(""),
    ];
    (
        header,
        proptest::collection::vec(csv_row(), 0..8),
        any::<bool>(),
    )
        .prop_map(|(header, rows, quote)| {
            let width = header.split(',').count();
            let mut out = format!("{header}\n");
            for row in rows {
                let fields: Vec<String> = row
                    .into_iter()
                    .take(width)
                    .map(|f| {
                        if quote {
                            format!("\"{}\"", f.replace('"', "\"\""))
                        } else {
                            f
                        }
                    })
                    .collect();
                out.push_str(&fields.join(","));
                out.push('\n');
            }
            out
        })
}

#[test]
fn csv_parse_never_panics_on_arbitrary_bytes() {
    let mut runner = runner(2_000);
    runner
        .run(&proptest::collection::vec(any::<u8>(), 0..600), |bytes| {
            if let Ok((rows, errors)) = parse(bytes.as_slice(), &|_| {}) {
                for row in &rows {
                    prop_assert!(!row.name.is_empty() && !row.name.chars().any(char::is_control));
                    prop_assert!(keydesk::import::check_email(&row.email).is_ok());
                }
                let mut lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
                lines.extend(errors.iter().map(|e| e.line));
                prop_assert!(lines.iter().all(|&l| l >= 2), "a row on the header's line");
            }
            Ok(())
        })
        .unwrap();
}

async fn emails_in_store(db: &TestDb) -> BTreeSet<String> {
    contact::Entity::find()
        .all(db.store.conn())
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.email_lower)
        .collect()
}

async fn one_import(db: &TestDb, file: &str, skip_invalid: bool) -> Result<(), TestCaseError> {
    let before = emails_in_store(db).await;
    let parsed = parse(file.as_bytes(), &|_| {});
    let now = people::t0();
    let outcome = import(
        &db.store,
        file.as_bytes(),
        skip_invalid,
        "fuzz",
        now,
        &|_| {},
    )
    .await;
    let after = emails_in_store(db).await;
    match (&parsed, outcome) {
        (Err(_), Err(ImportError::Format(_))) => prop_assert_eq!(&after, &before),
        (Ok((rows, _)), Err(ImportError::Invalid(errors))) => {
            prop_assert!(!skip_invalid, "skip_invalid still refused everything");
            prop_assert!(!errors.is_empty());
            prop_assert!(errors.iter().all(|e| !e.reason.is_empty()));
            prop_assert_eq!(&after, &before, "nothing is written when a row is bad");
            let _ = rows;
        }
        (Ok((rows, _)), Ok(report)) => {
            // Exactly the good rows not already in the store were written.
            let fresh: BTreeSet<String> = rows
                .iter()
                .map(|r| r.email.to_lowercase())
                .filter(|e| !before.contains(e))
                .collect();
            prop_assert_eq!(report.written, fresh.len() as u64);
            let expected: BTreeSet<String> = before.union(&fresh).cloned().collect();
            prop_assert_eq!(&after, &expected);
            if !skip_invalid {
                prop_assert!(report.errors.is_empty());
            }
        }
        (parsed, outcome) => {
            return Err(TestCaseError::fail(format!(
                "parse said {:?} but import said {outcome:?}",
                parsed.as_ref().map(|(r, e)| (r.len(), e.len()))
            )));
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_import_is_whole_or_absent_on_arbitrary_rows() {
    let Some(db) = db::fresh(db::Backend::Sqlite).await else {
        return;
    };
    let handle = tokio::runtime::Handle::current();
    run_async(150, &(csv_file(), any::<bool>()), |(file, skip)| {
        handle.block_on(one_import(&db, &file, skip))
    });
}

// ------------------------------------------------------ reset tokens ----

/// Percent-encodes every byte that is not unreserved, so the whole string
/// arrives as one path segment.
fn segment(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn token_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_-]{40,46}",
        "[A-Za-z0-9+/=_-]{43}",
        "\\PC{0,60}",
        any::<String>(),
        Just(String::new()),
        Just("..".to_owned()),
        Just(".".to_owned()),
        "[A-Za-z0-9_-]{43}( |%20|\t|\u{0})",
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_token_paths_get_the_unknown_answer() {
    let Some(db) = db::fresh(db::Backend::Sqlite).await else {
        return;
    };
    let site = site::TestSite::start(db, &[]).await;
    site.customer("Ada", "ada@example.com", None).await;
    let op = site.admin().await;
    site.desk
        .send_reset_link(&op, "ada@example.com", false)
        .await
        .unwrap();
    let link = site.last_link("ada@example.com").await.unwrap();
    let (base, valid) = link.rsplit_once('/').unwrap();
    let (base, valid) = (base.to_owned(), valid.to_owned());
    let client = site.client();
    let unknown = client.get(&format!("{base}/{}", "A".repeat(43))).await;
    assert_eq!(unknown.status, 404);
    let unknown_main = unknown.main().to_owned();
    let handle = tokio::runtime::Handle::current();
    run_async(300, &token_like(), |token| {
        if token.trim() == valid {
            return Ok(());
        }
        let page = handle.block_on(client.get(&format!("{base}/{}", segment(&token))));
        prop_assert!(page.status < 500, "{} for {token:?}", page.status);
        // An empty segment is another route (the site's own 404), not a
        // token; so are "." and "..", which every URL parser (browsers
        // included, per the WHATWG URL standard) resolves away, encoded or not.
        if !matches!(token.as_str(), "" | "." | "..") {
            prop_assert_eq!(page.status, 404, "for {:?}", token);
            prop_assert_eq!(page.main(), unknown_main.as_str(), "for {:?}", token);
        }
        Ok(())
    });
    // The real link still works: nothing above used or broke it.
    assert!(site.desk.inspect_reset_link(&valid).await.is_ok());
    site.stop().await;
}

// ---------------------------------------------------------- settings ----

/// Every leaf key of the compiled defaults.
fn setting_keys() -> Vec<String> {
    keydesk::settings::setting_keys()
}

fn toml_value() -> impl Strategy<Value = toml::Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(toml::Value::Integer),
        (-1000i64..100_000).prop_map(toml::Value::Integer),
        any::<f64>()
            .prop_filter("TOML floats", |f| f.is_finite())
            .prop_map(toml::Value::Float),
        any::<bool>().prop_map(toml::Value::Boolean),
        "\\PC{0,20}".prop_map(toml::Value::String),
        "[0-9]{1,4}(ns|ms|s|m|h|d|w|y| parsecs)?".prop_map(toml::Value::String),
        any::<String>().prop_map(toml::Value::String),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(toml::Value::Array),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..3)
                .prop_map(|m| toml::Value::Table(m.into_iter().collect())),
        ]
    })
}

fn load(
    file: Option<std::path::PathBuf>,
    env: BTreeMap<String, String>,
) -> Result<Settings, String> {
    Settings::load(&Sources {
        file,
        skip_system_files: true,
        env: Some(env),
        data_dir: Some(std::env::temp_dir().join("kd-fuzz-settings")),
    })
    .map_err(|e| e.to_string())
}

#[test]
fn settings_from_an_arbitrary_file_never_panic_and_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keydesk.toml");
    let keys = setting_keys();
    let strategy = (
        proptest::sample::select(keys),
        toml_value(),
        proptest::option::of("[a-z_]{1,8}"),
    );
    let mut runner = runner(400);
    runner
        .run(&strategy, |(key, value, extra)| {
            let (section, name) = key.rsplit_once('.').unwrap();
            let name = extra.clone().unwrap_or_else(|| name.to_owned());
            let mut table = toml::Table::new();
            table.insert(name.clone(), value);
            let mut doc = toml::Table::new();
            let mut parts: Vec<&str> = section.split('.').collect();
            let mut inner = toml::Value::Table(table);
            while let Some(part) = parts.pop() {
                let mut t = toml::Table::new();
                t.insert(part.to_owned(), inner);
                inner = toml::Value::Table(t);
            }
            if let toml::Value::Table(t) = inner {
                doc = t;
            }
            std::fs::write(&path, toml::to_string(&doc).unwrap()).unwrap();
            if let Err(err) = load(Some(path.clone()), BTreeMap::new()) {
                let dotted = format!("{section}.{name}");
                prop_assert!(
                    err.contains(&dotted) || err.contains(&key),
                    "{dotted}: the error does not name the key: {err}"
                );
                prop_assert!(
                    err.contains(&path.display().to_string()),
                    "no file in: {err}"
                );
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn settings_from_arbitrary_text_never_panic_and_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keydesk.toml");
    let mut runner = runner(500);
    runner
        .run(
            &"\\PC{0,80}|(\\[[a-z.]{0,12}\\]\n[a-z_]{1,10} = \\PC{0,10}\n){1,3}",
            |text| {
                std::fs::write(&path, &text).unwrap();
                if let Err(err) = load(Some(path.clone()), BTreeMap::new()) {
                    prop_assert!(
                        err.contains(&path.display().to_string()) || err.contains("KEYDESK__"),
                        "neither the file nor a variable named: {err}"
                    );
                }
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn settings_from_arbitrary_environment_values_never_panic_and_name_the_variable() {
    let keys = setting_keys();
    let value = prop_oneof![
        "\\PC{0,24}",
        "-?[0-9]{1,22}(\\.[0-9]{1,3})?",
        "[0-9]{1,4}(ns|ms|s|m|h|d|w|y)",
        "(true|false|yes|no|on|off|TRUE|1|0)",
    ];
    let mut runner = runner(1_000);
    runner
        .run(&(proptest::sample::select(keys), value), |(key, value)| {
            let var = format!("KEYDESK__{}", key.replace('.', "__").to_uppercase());
            let env = BTreeMap::from([(var.clone(), value)]);
            if let Err(err) = load(None, env) {
                prop_assert!(
                    err.contains(&key),
                    "{key}: the error does not name the key: {err}"
                );
                prop_assert!(
                    err.contains(&var),
                    "{key}: the error does not name {var}: {err}"
                );
            }
            Ok(())
        })
        .unwrap();
}

// ------------------------------------------------------------ search ----

/// Characters that mean something to SQL, LIKE or case folding.
const NASTY: &[char] = &[
    'a', 'b', 'A', '%', '_', '\\', '\'', '"', ';', '-', '*', '[', ']', '^', ' ', '@', '.', 'é',
    'É', 'ß', 'σ', 'Σ', 'ς', 'İ', 'ﬀ', '\u{0}', '\u{1b}', '\u{202e}', '\u{200b}', '😀',
];

fn nasty(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(NASTY), 0..max)
        .prop_map(|c| c.into_iter().collect())
}

/// Every page of a search, followed by cursor.
async fn all_pages(db: &TestDb, text: &str) -> Result<Vec<i64>, String> {
    let mut ids = Vec::new();
    let mut after = None;
    loop {
        let page = search_sql(
            db.store.conn(),
            &SearchQuery {
                text: text.to_owned(),
                kind: KindFilter::All,
                after: after.clone(),
                limit: 7,
                only: None,
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        ids.extend(page.rows.iter().map(|r| r.id));
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(ids),
        }
    }
}

async fn search_matches_a_naive_filter(db: TestDb) {
    // PostgreSQL text cannot hold NUL; the store never holds one anywhere
    // (import refuses control characters), so names here have none.
    let names = proptest::collection::vec(nasty(8), 30..31);
    let mut seed_runner = TestRunner::deterministic();
    let names = names.new_tree(&mut seed_runner).unwrap().current();
    let counter = AtomicU64::new(0);
    let mut stored: Vec<(i64, String, String)> = Vec::new();
    for name in names {
        let name: String = name.chars().filter(|&c| c != '\u{0}').collect();
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let email = format!(
            "{}{n}@example.com",
            name.chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
        );
        let row = contact::ActiveModel::new_contact(&name, &email, false, people::t0())
            .insert(db.store.conn())
            .await
            .unwrap();
        stored.push((row.id, row.name_lower, row.email_lower));
    }
    let handle = tokio::runtime::Handle::current();
    run_async(120, &nasty(4), |text| {
        let needle = text.trim().to_lowercase();
        let mut expected: Vec<(String, i64)> = stored
            .iter()
            .filter(|(_, name, email)| {
                needle.is_empty() || name.contains(&needle) || email.contains(&needle)
            })
            .map(|(id, name, _)| (name.clone(), *id))
            .collect();
        expected.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()).then(a.1.cmp(&b.1)));
        let expected: BTreeSet<i64> = expected.into_iter().map(|(_, id)| id).collect();
        let found = handle.block_on(all_pages(&db, &text));
        let found = match found {
            Ok(ids) => ids,
            Err(err) => return Err(TestCaseError::fail(format!("{text:?}: {err}"))),
        };
        let found_set: BTreeSet<i64> = found.iter().copied().collect();
        prop_assert_eq!(found.len(), found_set.len(), "a row twice for {:?}", text);
        prop_assert_eq!(found_set, expected, "for {:?} ({:?})", text, db.backend);
        Ok(())
    });
}
on_every_backend!(search_text, search_matches_a_naive_filter);
