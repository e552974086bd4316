//! Reading the settings without loading them: every key keydesk knows
//! (for `keydesk doctor`, which names where each was set) and `log.format`
//! alone (so that even the error about a bad setting is written in the
//! format the operator asked for).

use config::{Config, Environment, File, FileFormat};

use super::{DEFAULTS, LogFormat, Sources, project_dirs};

/// Every setting's dotted key (`database.url`, `mail.smtp.host`, ...),
/// from `config/default.toml`, sorted.
#[must_use]
pub fn setting_keys() -> Vec<String> {
    fn walk(prefix: &str, table: &toml::Table, out: &mut Vec<String>) {
        for (name, value) in table {
            let key = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            match value {
                // A non-empty table is a section; an empty one (`[ui.keys]`) a map setting.
                toml::Value::Table(inner) if !inner.is_empty() => walk(&key, inner, out),
                _ => out.push(key),
            }
        }
    }
    let mut keys = Vec::new();
    if let Ok(table) = DEFAULTS.parse::<toml::Table>() {
        walk("", &table, &mut keys);
    }
    keys
}

/// `log.format` as the layers set it, without checking anything else;
/// text when it cannot be read.
#[must_use]
pub fn peek_log_format(sources: &Sources) -> LogFormat {
    let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
    if !sources.skip_system_files {
        builder = builder.add_source(
            File::from(std::path::Path::new("/etc/keydesk/config.toml")).required(false),
        );
        if let Some(dirs) = project_dirs() {
            builder = builder
                .add_source(File::from(dirs.config_dir().join("config.toml")).required(false));
        }
    }
    if let Some(file) = &sources.file {
        builder = builder.add_source(
            File::from(file.as_path())
                .format(FileFormat::Toml)
                .required(false),
        );
    }
    let mut env = Environment::with_prefix("KEYDESK")
        .prefix_separator("__")
        .separator("__");
    if let Some(map) = &sources.env {
        env = env.source(Some(map.clone().into_iter().collect()));
    }
    let format = builder
        .add_source(env)
        .build()
        .ok()
        .and_then(|c| c.get_string("log.format").ok());
    match format.as_deref().map(str::trim) {
        Some("json") => LogFormat::Json,
        _ => LogFormat::Text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cover_every_section() {
        let keys = setting_keys();
        for key in [
            "database.url",
            "database.auto_migrate",
            "mail.smtp.host",
            "diag.listen",
            "ui.keys",
        ] {
            assert!(keys.iter().any(|k| k == key), "{key} missing: {keys:?}");
        }
    }

    #[test]
    fn the_format_is_read_even_when_another_value_is_bad() {
        let env = [
            ("KEYDESK__LOG__FORMAT", "json"),
            ("KEYDESK__PASSWORD__MIN_LENGTH", "three"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let sources = Sources {
            skip_system_files: true,
            env: Some(env),
            ..Sources::default()
        };
        assert_eq!(peek_log_format(&sources), LogFormat::Json);
        assert_eq!(
            peek_log_format(&Sources {
                skip_system_files: true,
                env: Some(Default::default()),
                ..Sources::default()
            }),
            LogFormat::Text
        );
    }
}
