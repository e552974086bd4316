//! The command line as an operator and a script meet it.

use sea_orm::{ConnectionTrait, Database, Statement};
use sea_orm_migration::MigratorTrait;

use crate::support::home::Home;
use keydesk::store::migration::Migrator;

const ESC: char = '\u{1b}';

#[test]
fn commands_print_no_info_lines_unless_asked() {
    let home = Home::new();
    let url = home.sqlite_url();
    let db = [("KEYDESK__DATABASE__URL", url.as_str())];
    // The first command on an empty store applies every migration.
    let first = home.run(&["operators", "list"], &db);
    assert_eq!(first.code(), 6, "not an operator yet: {}", first.stderr());
    assert!(!first.stderr().contains("INFO"), "{}", first.stderr());
    assert_eq!(first.stderr().lines().count(), 1, "{}", first.stderr());
    let migrate = home.run(&["migrate"], &db);
    migrate.ok();
    assert_eq!(migrate.stderr(), "", "migrate is quiet");

    // Asked for: -v, or log.level set in a file or the environment.
    let fresh = Home::new();
    let url = fresh.sqlite_url();
    let v = fresh.run(
        &["-v", "migrate"],
        &[("KEYDESK__DATABASE__URL", url.as_str())],
    );
    v.ok();
    assert!(
        v.stderr().contains(" INFO "),
        "-v shows INFO lines: {}",
        v.stderr()
    );
    let fresh = Home::new();
    let url = fresh.sqlite_url();
    let level = fresh.run(
        &["migrate"],
        &[
            ("KEYDESK__DATABASE__URL", url.as_str()),
            ("KEYDESK__LOG__LEVEL", "info"),
        ],
    );
    level.ok();
    assert!(level.stderr().contains(" INFO "), "{}", level.stderr());
}

#[test]
fn a_bad_setting_exits_78_with_one_plain_line() {
    let home = Home::new();
    for args in [
        &["operators", "list"][..],
        &["serve"],
        &["worker"],
        &["doctor"],
    ] {
        let out = home.run(
            args,
            &[("KEYDESK__PASSWORD__MIN_LENGTH", "3"), ("NO_COLOR", "1")],
        );
        assert_eq!(out.code(), 78, "{args:?}: {}", out.stderr());
        if args != ["doctor"] {
            let err = out.stderr();
            assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err:?}");
            assert!(
                err.starts_with("keydesk: settings: `password.min_length`"),
                "{err}"
            );
            assert!(
                err.contains("KEYDESK__PASSWORD__MIN_LENGTH"),
                "names the origin: {err}"
            );
            assert!(!err.contains(ESC), "no escape codes: {err:?}");
        }
    }
    // A file: the message names it.
    let file = home.path().join("bad.toml");
    std::fs::write(&file, "[diag]\nlisten = \"not an address\"\n").unwrap();
    let out = home.run(&["--config", file.to_str().unwrap(), "worker"], &[]);
    assert_eq!(out.code(), 78);
    assert!(
        out.stderr().contains("diag.listen") && out.stderr().contains("bad.toml"),
        "{}",
        out.stderr()
    );
}

#[test]
fn with_json_logs_every_stderr_line_is_json() {
    let json = [("KEYDESK__LOG__FORMAT", "json")];
    let every_line_json = |text: &str| {
        assert!(!text.trim().is_empty(), "something was written");
        for line in text.lines() {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
            assert!(v["level"].is_string() && v["message"].is_string(), "{line}");
        }
    };
    let home = Home::new();
    // A bad setting.
    let bad = home.run(&["worker"], &[json[0], ("KEYDESK__MAIL__SMTP__PORT", "0")]);
    assert_eq!(bad.code(), 78);
    every_line_json(&bad.stderr());
    assert!(bad.stderr().contains("mail.smtp.port"), "{}", bad.stderr());
    // Log records (-v) and a command's own messages.
    let url = home.sqlite_url();
    let db = ("KEYDESK__DATABASE__URL", url.as_str());
    let v = home.run(&["-v", "migrate"], &[json[0], db]);
    v.ok();
    every_line_json(&v.stderr());
    let refused = home.run(&["reset-password", "nobody@example.com"], &[json[0], db]);
    assert_eq!(refused.code(), 3, "{}", refused.stderr());
    every_line_json(&refused.stderr());
    // A usage error too.
    let usage = home.run(&["contacts", "search", "x", "--kind", "martians"], &json);
    assert_eq!(usage.code(), 2);
    every_line_json(&usage.stderr());
}

#[test]
fn version_names_the_version_the_commit_and_the_build_date() {
    let out = Home::new().run(&["--version"], &[]);
    let line = out.ok();
    let rest = line
        .trim()
        .strip_prefix(&format!("keydesk {} (commit ", env!("CARGO_PKG_VERSION")))
        .unwrap_or_else(|| panic!("{line}"));
    let (commit, date) = rest
        .strip_suffix(')')
        .and_then(|r| r.split_once(", built "))
        .unwrap_or_else(|| panic!("{line}"));
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{line}"
    );
    assert!(
        chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok(),
        "{line}"
    );
}

#[test]
fn completions_are_scripts_for_each_shell() {
    let home = Home::new();
    // Even with a broken config: completion needs none.
    let broken = [("KEYDESK__MAIL__TRANSPORT", "pigeon")];
    let bash = home.run(&["completions", "bash"], &broken).ok();
    let script = home.path().join("keydesk.bash");
    std::fs::write(&script, &bash).unwrap();
    let parsed = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .status()
        .unwrap();
    assert!(parsed.success(), "bash parses it");
    for word in ["doctor", "backup", "contacts", "completions"] {
        assert!(bash.contains(word), "{word}");
    }
    assert!(
        home.run(&["completions", "zsh"], &[])
            .ok()
            .starts_with("#compdef keydesk")
    );
    assert!(
        home.run(&["completions", "fish"], &[])
            .ok()
            .contains("complete -c keydesk")
    );
    assert_eq!(home.run(&["completions", "tcsh"], &[]).code(), 2);
}

/// A SQLite store migrated up to all but its last migration: the test's
/// way to leave one pending without shipping a fake migration.
async fn store_with_one_pending(home: &Home) -> String {
    let url = home.sqlite_url();
    let db = Database::connect(&url).await.unwrap();
    let all = Migrator::migrations().len();
    Migrator::up(&db, Some(u32::try_from(all - 1).unwrap()))
        .await
        .unwrap();
    db.close().await.unwrap();
    keydesk::store::schema::known().last().cloned().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_status_and_auto_migrate_off_with_a_migration_left_pending() {
    let home = Home::new();
    let last = store_with_one_pending(&home).await;
    let url = home.sqlite_url();
    let db = ("KEYDESK__DATABASE__URL", url.as_str());
    let off = ("KEYDESK__DATABASE__AUTO_MIGRATE", "false");

    let text = home.run(&["migrate", "--status"], &[db]).ok();
    assert!(text.contains(&format!("pending  {last}")), "{text}");
    assert!(
        text.contains("applied  m20261128_000001_create_tables"),
        "{text}"
    );
    let json = home.run(&["migrate", "--status", "--json"], &[db]).json();
    assert_eq!(json["pending"], serde_json::json!([last]), "{json}");
    assert_eq!(json["known_version"], serde_json::json!(last));

    // auto_migrate = false: every command but `migrate` refuses, exit 12.
    for args in [
        &["operators", "list"][..],
        &["outbox"],
        &["worker"],
        &["serve"],
        &["backup", "x.db"],
    ] {
        let out = home.run(args, &[db, off]);
        assert_eq!(out.code(), 12, "{args:?}: {}", out.stderr());
        assert!(
            out.stderr().contains("keydesk migrate") && out.stderr().contains(&last),
            "{}",
            out.stderr()
        );
    }
    let json = home
        .run(&["migrate", "--status", "--json"], &[db, off])
        .json();
    assert_eq!(
        json["pending"],
        serde_json::json!([last]),
        "nothing was applied"
    );

    // `keydesk migrate` applies it; then the others run.
    home.run(&["migrate"], &[db, off]).ok();
    let json = home
        .run(&["migrate", "--status", "--json"], &[db, off])
        .json();
    assert_eq!(json["pending"], serde_json::json!([]), "{json}");
    home.run(&["operators", "list"], &[db, off]).ok();

    // auto_migrate on (the default): a command applies it itself.
    let home = Home::new();
    store_with_one_pending(&home).await;
    let url = home.sqlite_url();
    let out = home.run(
        &["migrate", "--status", "--json"],
        &[("KEYDESK__DATABASE__URL", url.as_str())],
    );
    assert_eq!(out.json()["pending"].as_array().map(Vec::len), Some(1));
    let listed = home.run(
        &["operators", "list"],
        &[("KEYDESK__DATABASE__URL", url.as_str())],
    );
    assert_eq!(
        listed.code(),
        6,
        "ran (no operator yet): {}",
        listed.stderr()
    );
    let out = home.run(
        &["migrate", "--status", "--json"],
        &[("KEYDESK__DATABASE__URL", url.as_str())],
    );
    assert_eq!(out.json()["pending"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_newer_than_this_keydesk_is_refused_naming_both_versions() {
    let home = Home::new();
    let url = home.sqlite_url();
    let db = ("KEYDESK__DATABASE__URL", url.as_str());
    home.run(&["migrate"], &[db]).ok();
    let conn = Database::connect(&url).await.unwrap();
    conn.execute_raw(Statement::from_string(
        conn.get_database_backend(),
        "INSERT INTO seaql_migrations(version, applied_at) VALUES ('m20990101_000001_from_the_future', 0)",
    ))
    .await
    .unwrap();
    conn.close().await.unwrap();
    let known = keydesk::store::schema::known().last().cloned().unwrap();
    for args in [&["operators", "list"][..], &["migrate"], &["worker"]] {
        let out = home.run(args, &[db]);
        assert_eq!(out.code(), 13, "{args:?}: {}", out.stderr());
        let err = out.stderr();
        assert!(
            err.contains("m20990101_000001_from_the_future") && err.contains(&known),
            "names both versions: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_outputs_and_contacts_through_desk() {
    let home = Home::new();
    let url = home.sqlite_url();
    let db = ("KEYDESK__DATABASE__URL", url.as_str());
    home.run(&["migrate"], &[db]).ok();
    let me = keydesk::cli::os_user();
    let store = keydesk::store::Store::connect(
        &crate::support::db::settings_for(&url, home.path()).database,
    )
    .await
    .unwrap();
    crate::support::people::make_customer(&store, "Ada Lovelace", "ada@example.com").await;
    crate::support::people::make_contact(&store, "Cleo Park", "cleo@example.com").await;

    let ops = home.run(&["operators", "list", "--json"], &[db]).json();
    let mine = ops
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == me.as_str())
        .cloned();
    assert_eq!(
        mine.map(|o| o["role"].clone()),
        Some(serde_json::json!("admin")),
        "{ops}"
    );
    assert_eq!(
        home.run(&["outbox", "--json"], &[db]).json(),
        serde_json::json!([])
    );
    home.run(&["reset-password", "ada@example.com"], &[db]).ok();
    let outbox = home.run(&["outbox", "--json"], &[db]).json();
    assert_eq!(outbox[0]["kind"], "reset_link", "{outbox}");
    assert_eq!(outbox[0]["recipient"], "ada@example.com");
    assert!(
        !outbox.to_string().contains("/reset/"),
        "never the link: {outbox}"
    );
    assert_eq!(
        home.run(&["sessions", "ada@example.com", "--json"], &[db])
            .json(),
        serde_json::json!([])
    );

    let found = home
        .run(
            &["contacts", "search", "ADA", "--kind", "customers", "--json"],
            &[db],
        )
        .json();
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["contacts"][0]["email"], "ada@example.com");
    let none = home
        .run(
            &[
                "contacts",
                "search",
                "cleo",
                "--kind",
                "customers",
                "--json",
            ],
            &[db],
        )
        .json();
    assert_eq!(none["total"], 0, "{none}");
    let text = home.run(&["contacts", "search", "park"], &[db]).ok();
    assert!(text.contains("Cleo Park\tcleo@example.com"), "{text}");
    let shown = home
        .run(&["contacts", "show", "Ada@Example.com", "--json"], &[db])
        .json();
    assert_eq!(shown["customer"], true, "{shown}");
    assert_eq!(shown["open_reset_links"].as_array().map(Vec::len), Some(1));
    assert!(!shown.to_string().contains("token"), "no secret: {shown}");
    let missing = home.run(&["contacts", "show", "nobody@example.com"], &[db]);
    assert_eq!(missing.code(), 3, "{}", missing.stderr());

    // Viewers and up: a viewer reads; a non-operator is refused (exit 6).
    crate::support::people::make_operator(&store, "someone-else", "admin").await;
    keydesk::store::execute_raw(
        store.conn(),
        &format!("UPDATE operators SET role = 'viewer' WHERE name = '{me}'"),
    )
    .await
    .unwrap();
    let viewed = home
        .run(&["contacts", "show", "ada@example.com"], &[db])
        .ok();
    assert!(
        viewed.contains("Ada Lovelace") && viewed.contains("customer"),
        "{viewed}"
    );
    assert_eq!(
        home.run(&["reset-password", "ada@example.com"], &[db])
            .code(),
        6
    );
    keydesk::store::execute_raw(
        store.conn(),
        &format!("DELETE FROM operators WHERE name = '{me}'"),
    )
    .await
    .unwrap();
    let refused = home.run(&["contacts", "search", "ada"], &[db]);
    assert_eq!(refused.code(), 6, "{}", refused.stderr());
    assert!(
        refused.stderr().contains("keydesk operators add"),
        "{}",
        refused.stderr()
    );
}
