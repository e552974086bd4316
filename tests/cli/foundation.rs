//! The real binary: `config`, `migrate`, `import`, and bad settings.

use std::process::{Command, Output};

use crate::support::process;

fn keydesk(home: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = process::keydesk(home);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run keydesk")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

#[test]
fn config_prints_effective_settings_with_secrets_redacted() {
    let home = tempfile::tempdir().unwrap();
    let out = keydesk(
        home.path(),
        &["config"],
        &[
            ("KEYDESK__MAIL__SMTP__PASSWORD", "s3cret-pass"),
            (
                "KEYDESK__DATABASE__URL",
                "postgres://kd:db-pass@127.0.0.1/kd",
            ),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("[mail.smtp]") && shown.contains("<redacted>"),
        "{shown}"
    );
    assert!(
        !shown.contains("s3cret-pass") && !shown.contains("db-pass"),
        "{shown}"
    );
}

#[test]
fn a_config_file_layer_overrides_defaults_and_env_overrides_the_file() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("kd.toml");
    std::fs::write(
        &file,
        "[site]\nname = \"From File\"\n[reset]\nlink_ttl = \"2h\"\n",
    )
    .unwrap();
    let out = keydesk(
        home.path(),
        &["--config", file.to_str().unwrap(), "config"],
        &[("KEYDESK__RESET__LINK_TTL", "3h")],
    );
    let shown = text(&out.stdout);
    assert!(shown.contains("name = \"From File\""), "{shown}");
    assert!(shown.contains("link_ttl = \"3h\""), "{shown}");
}

#[test]
fn a_user_config_dir_file_is_read() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("config/keydesk")).unwrap();
    std::fs::write(
        home.path().join("config/keydesk/config.toml"),
        "[site]\nname = \"User Dir\"\n",
    )
    .unwrap();
    let out = keydesk(home.path(), &["config"], &[]);
    assert!(
        text(&out.stdout).contains("name = \"User Dir\""),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_bad_value_fails_with_the_key_and_its_origin() {
    let home = tempfile::tempdir().unwrap();
    let out = keydesk(
        home.path(),
        &["config"],
        &[("KEYDESK__MAIL__TRANSPORT", "pigeon")],
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("transport") && err.contains("pigeon"), "{err}");

    let out = keydesk(
        home.path(),
        &["config"],
        &[("KEYDESK__SITE__LISTEN", "not-an-address")],
    );
    let err = text(&out.stderr);
    assert!(
        err.contains("site.listen") && err.contains("KEYDESK__SITE__LISTEN"),
        "{err}"
    );
}

#[test]
fn migrate_creates_the_default_sqlite_store_in_the_data_dir() {
    let home = tempfile::tempdir().unwrap();
    let out = keydesk(home.path(), &["migrate"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(home.path().join("data/keydesk/keydesk.db").exists());
}

#[test]
fn import_reports_bad_rows_by_line_and_writes_nothing() {
    let home = tempfile::tempdir().unwrap();
    let csv = home.path().join("people.csv");
    std::fs::write(&csv, "name,email\nAda,ada@example.com\nBad,nope\n").unwrap();
    let out = keydesk(home.path(), &["import", csv.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(65), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("line 3"),
        "{}",
        text(&out.stderr)
    );

    let out = keydesk(
        home.path(),
        &["import", "--skip-invalid", csv.to_str().unwrap()],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("imported 1 contact(s); skipped 1"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_reader_that_went_away_ends_the_command_quietly() {
    // `keydesk config | head -1`: the pipe's reading end is closed before
    // keydesk writes, so its first write fails with EPIPE.
    let home = tempfile::tempdir().unwrap();
    let (read_end, write_end) = nix::unistd::pipe().unwrap();
    drop(read_end);
    let out = Command::new(env!("CARGO_BIN_EXE_keydesk"))
        .arg("config")
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_DATA_HOME", home.path().join("data"))
        .stdout(std::process::Stdio::from(write_end))
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}
