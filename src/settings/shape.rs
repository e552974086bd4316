//! Checks the merged settings against the shape of the compiled defaults
//! before they are converted: every key must be one the defaults know, and
//! its value of the same kind (an integer where the default is an integer,
//! and so on). The `config` crate alone would round `1.5` to `1`, read
//! `true` as `1`, and name neither the variable nor the file of a value
//! that fails to convert; this check does, for every key, including keys
//! added later (the list comes from `config/default.toml`).

use config::{Config, Value, ValueKind};

use super::{DEFAULTS, SettingsError};

/// The kind a key's default has, which its value must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Integer,
    Boolean,
    /// A map setting such as `[ui.keys]`: any keys, text values.
    Map,
}

impl Kind {
    fn of(value: &toml::Value) -> Option<Self> {
        match value {
            toml::Value::String(_) => Some(Self::Text),
            toml::Value::Integer(_) => Some(Self::Integer),
            toml::Value::Boolean(_) => Some(Self::Boolean),
            toml::Value::Table(_) => Some(Self::Map),
            _ => None,
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Integer => "a whole number",
            Self::Boolean => "true or false",
            Self::Map => "a table of text values",
        }
    }

    /// Whether a merged value fits. Text keys take any scalar, because an
    /// environment value that looks like a number arrives as one.
    fn admits(self, kind: &ValueKind) -> bool {
        match (self, kind) {
            (Self::Text, k) => !matches!(k, ValueKind::Table(_) | ValueKind::Array(_)),
            (
                Self::Integer,
                ValueKind::I64(_) | ValueKind::I128(_) | ValueKind::U64(_) | ValueKind::U128(_),
            ) => true,
            (Self::Integer, ValueKind::String(s)) => s.trim().parse::<i128>().is_ok(),
            (Self::Boolean, ValueKind::Boolean(_)) => true,
            (Self::Boolean, ValueKind::String(s)) => {
                matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "false")
            }
            (Self::Map, ValueKind::Table(t)) => t.values().all(|v| Self::Text.admits(&v.kind)),
            _ => false,
        }
    }
}

/// What kind a value is, in words, for the message.
fn found(kind: &ValueKind) -> String {
    match kind {
        ValueKind::Nil => "nothing".into(),
        ValueKind::Boolean(b) => format!("the boolean {b}"),
        ValueKind::I64(_) | ValueKind::I128(_) | ValueKind::U64(_) | ValueKind::U128(_) => {
            "a number".into()
        }
        ValueKind::Float(f) => format!("the fraction {f}"),
        ValueKind::String(s) => format!("the text {s:?}"),
        ValueKind::Table(_) => "a table".into(),
        ValueKind::Array(_) => "a list".into(),
    }
}

/// Checks every key of `config` against the defaults' shape.
///
/// # Errors
/// [`SettingsError::Invalid`] for the first unknown key or value of the
/// wrong kind, naming the key and (through `origin`) where it was set.
pub(super) fn check(config: &Config, origin: &dyn Fn(&str) -> String) -> Result<(), SettingsError> {
    let defaults: toml::Table = DEFAULTS
        .parse()
        .map_err(|e| config::ConfigError::Message(format!("the built-in defaults: {e}")))?;
    let merged: config::Map<String, Value> = config.clone().try_deserialize()?;
    walk("", &merged, &defaults, origin)
}

fn walk(
    prefix: &str,
    merged: &config::Map<String, Value>,
    defaults: &toml::Table,
    origin: &dyn Fn(&str) -> String,
) -> Result<(), SettingsError> {
    // Sorted, so the first problem reported is the same every run.
    let mut names: Vec<&String> = merged.keys().collect();
    names.sort();
    for name in names {
        let value = &merged[name];
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        let invalid = |problem: String| SettingsError::Invalid {
            key: key.clone(),
            problem,
            origin: origin(&key),
        };
        let Some(default) = defaults.get(name.as_str()) else {
            return Err(invalid("is not a setting keydesk knows".into()));
        };
        match (default, &value.kind) {
            (toml::Value::Table(section), ValueKind::Table(inner)) if !section.is_empty() => {
                walk(&key, inner, section, origin)?;
            }
            (toml::Value::Table(section), kind) if !section.is_empty() => {
                return Err(invalid(format!(
                    "must be a section of settings, not {}",
                    found(kind)
                )));
            }
            (default, kind) => {
                let Some(want) = Kind::of(default) else {
                    continue;
                };
                if !want.admits(kind) {
                    return Err(invalid(format!(
                        "must be {}, not {}",
                        want.expected(),
                        found(kind)
                    )));
                }
            }
        }
    }
    Ok(())
}
