//! `keydesk doctor`: checks a configuration before the first agent logs
//! in, and on any day after, without changing anything or sending mail.
//!
//! Each check is one line, `ok`, `warn` or `fail`, with the fix when it
//! is not ok; the command exits 0 only when none fails. The checks
//! themselves live in [`checks`]; this file holds the report and its two
//! renderings (text lines, or one JSON object with `--json`).

mod checks;

use serde::Serialize;

use crate::settings::{DEFAULT_ORIGIN, Settings, Sources};

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Fine.
    Ok,
    /// Works, but worth fixing.
    Warn,
    /// Will not work, or is unsafe.
    Fail,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warn => "warn",
            Self::Fail => "fail",
        }
    }
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked: `settings`, `store`, `mail`, `site.base_url`,
    /// `ssh host key`, `pepper`, `data dir`, `clock`.
    pub name: &'static str,
    /// The verdict.
    pub status: Status,
    /// What was found.
    pub message: String,
    /// What to do about it; empty when ok.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fix: String,
}

impl Check {
    fn ok(name: &'static str, message: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Ok,
            message: message.into(),
            fix: String::new(),
        }
    }

    fn warn(name: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Warn,
            message: message.into(),
            fix: fix.into(),
        }
    }

    fn fail(name: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Fail,
            message: message.into(),
            fix: fix.into(),
        }
    }

    /// `ok    store: ...`, with `; fix: ...` when there is one, on one line.
    #[must_use]
    pub fn line(&self) -> String {
        let mut line = format!("{:<5} {}: {}", self.status.label(), self.name, self.message);
        if !self.fix.is_empty() {
            line.push_str("; fix: ");
            line.push_str(&self.fix);
        }
        line.replace(['\n', '\r'], " ")
    }
}

/// A setting set outside the built-in defaults, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// Dotted key.
    pub key: String,
    /// The file or environment variable that set it.
    pub origin: String,
}

/// Everything `doctor` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Whether no check failed.
    pub ok: bool,
    /// Each check, in the order run.
    pub checks: Vec<Check>,
    /// The settings not left at their defaults, with where each was set.
    pub settings: Vec<Origin>,
}

impl Report {
    fn new(checks: Vec<Check>, settings: Vec<Origin>) -> Self {
        Self {
            ok: checks.iter().all(|c| c.status != Status::Fail),
            checks,
            settings,
        }
    }

    /// The text form: one line per check.
    #[must_use]
    pub fn text(&self) -> String {
        let mut out = String::new();
        for check in &self.checks {
            out.push_str(&check.line());
            out.push('\n');
        }
        out
    }

    /// The check named `name`, if it ran.
    #[must_use]
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
}

/// The settings keys set by a file or a variable, with where.
#[must_use]
pub fn origins(sources: &Sources) -> Vec<Origin> {
    crate::settings::setting_keys()
        .into_iter()
        .filter_map(|key| {
            let origin = crate::settings::origin_of(sources, &key);
            (origin != DEFAULT_ORIGIN).then_some(Origin { key, origin })
        })
        .collect()
}

/// Runs every check against loaded settings.
pub async fn run(settings: &Settings, sources: &Sources) -> Report {
    let set = origins(sources);
    let mut checks = vec![checks::settings(&set)];
    let (store_checks, store) = checks::store(settings).await;
    checks.extend(store_checks);
    checks.push(checks::mail(settings).await);
    checks.push(checks::base_url(&settings.site.base_url));
    checks.push(checks::host_key(settings));
    checks.push(checks::pepper(&settings.password.pepper_file));
    checks.push(checks::data_dir(settings));
    checks.push(checks::clock(store.as_ref()).await);
    if let Some(store) = store {
        let _ = store.conn().clone().close().await;
    }
    Report::new(checks, set)
}

/// The report when the settings themselves do not load: one failing
/// check naming the key and where it was set.
#[must_use]
pub fn settings_failed(error: &str, sources: &Sources) -> Report {
    Report::new(
        vec![Check::fail(
            "settings",
            error.strip_prefix("settings: ").unwrap_or(error),
            "correct the value named above, then run `keydesk doctor` again",
        )],
        origins(sources),
    )
}
