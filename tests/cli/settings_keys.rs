//! Every key of the compiled defaults (`config/default.toml`), given a value
//! of the wrong type and, where it has a range or a fixed form, a value out
//! of it, through a `--config` file and through a `KEYDESK__...` variable:
//! the load fails with a message naming the key and where the bad value
//! came from (the file's path, or the variable). The key list is read from
//! the defaults at run time, so a new key is covered without editing this
//! file; only the out-of-range table below is written by hand, and it is
//! checked against the defaults too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use keydesk::settings::{DEFAULTS, Settings, SettingsError, Sources};

/// Every leaf key of the defaults, dotted, with its default value. An
/// empty table (`[ui.keys]`) is a leaf too: it is a map setting.
fn leaves() -> Vec<(String, toml::Value)> {
    fn walk(prefix: &str, table: &toml::Table, out: &mut Vec<(String, toml::Value)>) {
        for (name, value) in table {
            let key = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            match value {
                toml::Value::Table(t) if !t.is_empty() => walk(&key, t, out),
                v => out.push((key, v.clone())),
            }
        }
    }
    let table: toml::Table = DEFAULTS.parse().expect("the defaults are TOML");
    let mut out = Vec::new();
    walk("", &table, &mut out);
    out
}

fn env_var(key: &str) -> String {
    format!("KEYDESK__{}", key.replace('.', "__").to_uppercase())
}

/// A TOML document setting `key` (dotted) to `value` (TOML source text).
fn toml_setting(key: &str, value: &str) -> String {
    let (section, name) = key.rsplit_once('.').expect("every key is in a section");
    format!("[{section}]\n{name} = {value}\n")
}

fn load_file(dir: &Path, key: &str, value: &str) -> (Result<Settings, SettingsError>, PathBuf) {
    let path = dir.join(format!("{}.toml", key.replace('.', "_")));
    std::fs::write(&path, toml_setting(key, value)).expect("write config");
    let loaded = Settings::load(&Sources {
        file: Some(path.clone()),
        skip_system_files: true,
        env: Some(BTreeMap::new()),
        data_dir: Some(dir.to_path_buf()),
    });
    (loaded, path)
}

fn load_env(dir: &Path, key: &str, value: &str) -> Result<Settings, SettingsError> {
    let mut env = BTreeMap::new();
    env.insert(env_var(key), value.to_owned());
    Settings::load(&Sources {
        file: None,
        skip_system_files: true,
        env: Some(env),
        data_dir: Some(dir.to_path_buf()),
    })
}

/// How a failed check reads, for the assertion messages.
fn describe(how: &str, key: &str, value: &str) -> String {
    format!("{key} = {value} ({how})")
}

/// The load must fail, naming `key` and `origin`; a miss is recorded.
fn refused(
    misses: &mut Vec<String>,
    result: Result<Settings, SettingsError>,
    key: &str,
    origin: &str,
    what: &str,
) {
    match result {
        Ok(_) => misses.push(format!("{what}: accepted")),
        Err(err) => {
            let full = err.to_string();
            let text = if full.len() > 400 {
                format!(
                    "{}…{}",
                    &full[..full.floor_char_boundary(200)],
                    &full[full.ceil_char_boundary(full.len() - 200)..]
                )
            } else {
                full.clone()
            };
            let text = if full.contains(key) && full.contains(origin) {
                full
            } else {
                text
            };
            if !text.contains(key) {
                misses.push(format!("{what}: the error does not name the key: {text}"));
            } else if !text.contains(origin) {
                misses.push(format!(
                    "{what}: the error does not name where the value came from ({origin}): {text}"
                ));
            }
        }
    }
}

fn assert_none(misses: &[String]) {
    assert!(
        misses.is_empty(),
        "{} misses:\n{}",
        misses.len(),
        misses.join("\n")
    );
}

/// Either accepted, or refused with the key and origin named.
fn accepted_or_named(
    misses: &mut Vec<String>,
    result: Result<Settings, SettingsError>,
    key: &str,
    origin: &str,
    what: &str,
) {
    if result.is_err() {
        refused(misses, result, key, origin, what);
    }
}

/// Values of the wrong type for a key whose default is `default`, as TOML
/// source (for a file) and as text (for a variable, where every value is
/// text: a string key has no wrong type there).
fn wrong_types(default: &toml::Value) -> (Vec<&'static str>, Vec<&'static str>) {
    match default {
        toml::Value::String(s) if humantime::parse_duration(s).is_ok() => (
            vec!["[1, 2]", "{ a = 1 }", "true", "90", "\"soon\""],
            vec!["soon", "[1, 2]", "12 parsecs"],
        ),
        toml::Value::String(_) => (vec!["[1, 2]", "{ a = 1 }"], vec![]),
        toml::Value::Integer(_) => (
            vec!["\"seventy\"", "1.5", "[1]", "{ a = 1 }"],
            vec!["seventy", "1.5", "[1]"],
        ),
        toml::Value::Boolean(_) => (vec!["\"maybe\"", "[true]", "{ a = 1 }"], vec!["maybe"]),
        toml::Value::Table(_) => (vec!["5", "\"text\"", "[1]"], vec!["5"]),
        other => panic!("a default of a kind this test does not know: {other:?}"),
    }
}

#[test]
fn every_key_refuses_a_wrong_type_by_name_and_origin() {
    let dir = tempfile::tempdir().unwrap();
    let mut misses = Vec::new();
    let keys = leaves();
    assert!(keys.len() > 50, "the defaults were read: {}", keys.len());
    for (key, default) in &keys {
        let (in_file, in_env) = wrong_types(default);
        for value in in_file {
            let (result, path) = load_file(dir.path(), key, value);
            let origin = path.display().to_string();
            refused(
                &mut misses,
                result,
                key,
                &origin,
                &describe("file", key, value),
            );
        }
        for value in in_env {
            let var = env_var(key);
            let result = load_env(dir.path(), key, value);
            refused(&mut misses, result, key, &var, &describe("env", key, value));
        }
    }
    assert_none(&misses);
}

/// Values that pass the type but not the range or the form, by key. Every
/// key here must exist in the defaults (a renamed key fails this test).
const OUT_OF_RANGE: &[(&str, &[&str])] = &[
    ("database.url", &["ftp://db.example/kd", "just text"]),
    ("database.max_connections", &["0", "-1", "4294967296"]),
    ("mail.transport", &["pigeon", ""]),
    ("mail.max_per_minute", &["0", "-1"]),
    ("bulk.confirm_over", &["-1", "4294967296"]),
    ("mail.from", &["nobody", "Support <not an address>"]),
    ("mail.reply_to", &["not an address"]),
    ("mail.smtp.port", &["0", "65536", "-25"]),
    ("mail.smtp.tls", &["maybe"]),
    ("mail.smtp.timeout", &["0s", "2h"]),
    ("mail.smtp.pool_size", &["0"]),
    ("outbox.poll_interval", &["0s", "1ms"]),
    ("outbox.backoff_base", &["0s", "2h"]),
    ("outbox.backoff_max", &["1s"]),
    ("outbox.max_attempts", &["0"]),
    ("outbox.claim_timeout", &["1s"]),
    (
        "site.base_url",
        &["ftp://x.example", "courses.example.com", "http://a b"],
    ),
    ("site.listen", &["nowhere", "127.0.0.1", "127.0.0.1:99999"]),
    ("site.max_concurrent_hashes", &["0"]),
    (
        "site.trusted_proxies",
        &["proxy.local", "10.0.0.0/33", "10.0.0.1, nonsense"],
    ),
    ("site.proxy_header", &["x-real-ip", ""]),
    ("reset.link_ttl", &["10s", "30d"]),
    ("forgot.per_email", &["0"]),
    ("forgot.per_client", &["0"]),
    ("forgot.min_duration", &["10s"]),
    ("login.max_failures", &["0"]),
    ("password.min_length", &["3", "500"]),
    ("password.max_length", &["10", "5000"]),
    ("password.min_strength", &["5", "256"]),
    ("password.argon2.m_cost", &["10", "0"]),
    ("password.argon2.t_cost", &["0"]),
    ("password.argon2.p_cost", &["0", "100000000"]),
    ("search.refresh_interval", &["1ms"]),
    ("ui.theme", &["neon"]),
    ("ssh.listen", &["nowhere"]),
    ("ssh.login_grace", &["0s", "500ms"]),
    ("ssh.per_address_rate", &["0", "1001"]),
    ("ssh.max_startups_per_address", &["0"]),
    ("ssh.max_startups", &["0"]),
    ("log.format", &["xml"]),
];

/// TOML source for a text value of a key whose default is `default`.
fn as_toml(default: &toml::Value, value: &str) -> String {
    match default {
        toml::Value::Integer(_) if value.parse::<i128>().is_ok() => value.to_owned(),
        _ => toml::Value::String(value.to_owned()).to_string(),
    }
}

#[test]
fn every_ranged_key_refuses_a_value_out_of_range_by_name_and_origin() {
    let dir = tempfile::tempdir().unwrap();
    let mut misses = Vec::new();
    let keys: BTreeMap<String, toml::Value> = leaves().into_iter().collect();
    for (key, values) in OUT_OF_RANGE {
        let default = keys
            .get(*key)
            .unwrap_or_else(|| panic!("{key} is not in config/default.toml any more"));
        for value in *values {
            let source = as_toml(default, value);
            // Integers too large for TOML's i64 are a parse error of the
            // file (naming the file and line), not of the key.
            if source.parse::<i64>().is_err() && source.parse::<i128>().is_ok() {
                continue;
            }
            let (result, path) = load_file(dir.path(), key, &source);
            let origin = path.display().to_string();
            refused(
                &mut misses,
                result,
                key,
                &origin,
                &describe("file", key, value),
            );
            let var = env_var(key);
            refused(
                &mut misses,
                load_env(dir.path(), key, value),
                key,
                &var,
                &describe("env", key, value),
            );
        }
    }
    assert_none(&misses);
}

/// For every key, values at the edges of what its type holds: each is
/// accepted, or refused with the key and origin named (never a panic, never
/// a message about some other key).
#[test]
fn every_key_names_itself_for_edge_values() {
    let dir = tempfile::tempdir().unwrap();
    let mut misses = Vec::new();
    for (key, default) in leaves() {
        let edges: Vec<String> = match &default {
            toml::Value::Integer(_) => ["0", "1", "-1", "255", "65535", "4294967295", "4294967296"]
                .map(str::to_owned)
                .to_vec(),
            toml::Value::String(s) if humantime::parse_duration(s).is_ok() => {
                ["0s", "1ns", "1ms", "1s", "59s", "1h", "8d", "100y"]
                    .map(str::to_owned)
                    .to_vec()
            }
            toml::Value::String(_) => [
                "",
                " ",
                "\u{1b}]52;c;ZXZpbA==\u{7}",
                "a\u{202e}b",
                "x\r\nBcc: evil@example.com",
                &"n".repeat(10_000),
            ]
            .map(std::borrow::ToOwned::to_owned)
            .to_vec(),
            toml::Value::Boolean(_) => ["true", "false", "1", "0"].map(str::to_owned).to_vec(),
            _ => continue,
        };
        for value in edges {
            let source = as_toml(&default, &value);
            let (result, path) = load_file(dir.path(), &key, &source);
            let origin = path.display().to_string();
            let short: String = value.chars().take(40).collect();
            accepted_or_named(
                &mut misses,
                result,
                &key,
                &origin,
                &describe("file", &key, &short),
            );
            // A variable cannot hold NUL and is read as text either way.
            let var = env_var(&key);
            accepted_or_named(
                &mut misses,
                load_env(dir.path(), &key, &value),
                &key,
                &var,
                &describe("env", &key, &short),
            );
        }
    }
    assert_none(&misses);
}

#[test]
fn an_unknown_key_is_named_with_its_origin() {
    let dir = tempfile::tempdir().unwrap();
    let mut misses = Vec::new();
    let (result, path) = load_file(dir.path(), "reset.link_tll", "\"6h\"");
    refused(
        &mut misses,
        result,
        "link_tll",
        &path.display().to_string(),
        "misspelt key in a file",
    );
    refused(
        &mut misses,
        load_env(dir.path(), "reset.link_tll", "6h"),
        "link_tll",
        "KEYDESK__RESET__LINK_TLL",
        "misspelt key in the environment",
    );
    assert_none(&misses);
}
