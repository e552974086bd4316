//! Typed settings, layered with `config`: the built-in defaults
//! (`config/default.toml`, compiled in), `/etc/keydesk/config.toml`, the
//! user's config dir, `--config FILE`, then `KEYDESK__SECTION__KEY`
//! environment variables. Later layers only override earlier ones.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use config::{Config, Environment, File, FileFormat};

use serde::{Deserialize, Serialize, Serializer};

mod inspect;
mod security;
mod shape;

pub use inspect::{peek_log_format, setting_keys};

/// The compiled-in defaults; every key is documented there.
pub const DEFAULTS: &str = include_str!("../config/default.toml");

/// Why the settings could not be loaded. Each message names the key and,
/// where known, the file or variable it came from.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The `config` crate could not read or convert a value.
    #[error("settings: {0}")]
    Load(#[from] config::ConfigError),
    /// A value parsed but is not acceptable.
    #[error("settings: `{key}` {problem} (set in {origin})")]
    Invalid {
        /// Dotted key, e.g. `password.min_length`.
        key: String,
        /// What is wrong with it, in words.
        problem: String,
        /// The file or environment variable the value came from.
        origin: String,
    },
    /// A `..._file` secret could not be read.
    #[error("settings: `{key}` names {path}, which cannot be read: {source} (set in {origin})")]
    SecretFile {
        /// The `..._file` key.
        key: String,
        /// The file or environment variable the key was set in.
        origin: String,
        /// The file named.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A secret string: never printed, never serialised in clear.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret itself, for the one place that must use it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Whether no secret is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "\"<redacted>\""
        })
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if self.0.is_empty() { "" } else { "<redacted>" })
    }
}

/// All of keydesk's settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where the data lives.
    pub database: DatabaseSettings,
    /// How mail leaves.
    pub mail: MailSettings,
    /// The delivery worker.
    pub outbox: OutboxSettings,
    /// The customer site.
    pub site: SiteSettings,
    /// Reset links.
    pub reset: ResetSettings,
    /// Forgot Password rate limits.
    pub forgot: ForgotSettings,
    /// Login lockout.
    pub login: LoginSettings,
    /// Password policy and hashing.
    pub password: PasswordSettings,
    /// Contact search.
    pub search: SearchSettings,
    /// The console.
    pub ui: UiSettings,
    /// The SSH front end.
    pub ssh: SshSettings,
    /// Logging.
    pub log: LogSettings,
    /// The diagnostics endpoint.
    pub diag: DiagSettings,
    /// Bulk actions from the console and the command line.
    pub bulk: BulkSettings,
    /// The data dir every default path is under (not a setting: the OS's, or a test's).
    #[serde(skip)]
    pub data_dir: PathBuf,
}

/// `[database]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// Connection URL; filled in with the data-dir SQLite file when empty.
    #[serde(serialize_with = "serialize_redacted_url")]
    pub url: String,
    /// File to read the URL from.
    pub url_file: String,
    /// Pool size for client-server backends.
    pub max_connections: u32,
    /// Connect timeout.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// SQLite busy timeout.
    #[serde(with = "humantime_serde")]
    pub busy_timeout: Duration,
    /// Apply pending migrations at start (false: only `keydesk migrate` does).
    pub auto_migrate: bool,
}

/// `[diag]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DiagSettings {
    /// Bind address for /healthz, /readyz, /metrics; empty = off.
    pub listen: String,
}

/// `mail.transport`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    /// `.eml` files in a folder.
    File,
    /// An SMTP relay.
    Smtp,
    /// The local MTA.
    Sendmail,
}

/// `mail.smtp.tls`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text (only for a relay on the same host).
    None,
    /// STARTTLS required.
    Starttls,
    /// TLS from the first byte.
    Tls,
}

/// `[mail]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    /// Which transport delivers.
    pub transport: MailTransport,
    /// Sender mailbox.
    pub from: String,
    /// Optional Reply-To mailbox.
    pub reply_to: String,
    /// Template override folder.
    pub templates_dir: String,
    /// `[mail.file]`
    pub file: MailFileSettings,
    /// `[mail.smtp]`
    pub smtp: SmtpSettings,
    /// `[mail.sendmail]`
    pub sendmail: SendmailSettings,
    /// The outbox never sends faster than this, summed over every worker
    /// on the store (a bulk of 10,000 must not flood the relay).
    pub max_per_minute: u32,
}

/// `[mail.file]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MailFileSettings {
    /// Output folder; filled in with `<data dir>/mail` when empty.
    pub dir: String,
}

/// `[mail.smtp]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    /// Relay host.
    pub host: String,
    /// Relay port.
    pub port: u16,
    /// TLS mode.
    pub tls: SmtpTls,
    /// AUTH user.
    pub user: String,
    /// AUTH password (or from `password_file`).
    pub password: Secret,
    /// File holding the AUTH password.
    pub password_file: String,
    /// Extra CA certificate.
    pub ca_file: String,
    /// Connect and command timeout.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Pooled connections.
    pub pool_size: u32,
}

/// `[mail.sendmail]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SendmailSettings {
    /// The command.
    pub command: String,
}

/// `[outbox]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxSettings {
    /// Idle poll interval.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// First retry delay.
    #[serde(with = "humantime_serde")]
    pub backoff_base: Duration,
    /// Longest retry delay.
    #[serde(with = "humantime_serde")]
    pub backoff_max: Duration,
    /// Attempts before giving up.
    pub max_attempts: u32,
    /// Claim lease.
    #[serde(with = "humantime_serde")]
    pub claim_timeout: Duration,
}

/// `[site]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSettings {
    /// Public base URL for links.
    pub base_url: String,
    /// Bind address.
    pub listen: String,
    /// Site name.
    pub name: String,
    /// Logo URL.
    pub logo_url: String,
    /// Template override folder.
    pub templates_dir: String,
    /// Idle session timeout.
    #[serde(with = "humantime_serde")]
    pub session_idle: Duration,
    /// Absolute session timeout.
    #[serde(with = "humantime_serde")]
    pub session_absolute: Duration,
    /// Concurrent argon2 computations.
    pub max_concurrent_hashes: usize,
    /// Wait for a hashing slot before 429.
    #[serde(with = "humantime_serde")]
    pub hash_queue_timeout: Duration,
    /// Hashing requests one client address may have at once (0: no limit).
    pub max_hashes_per_client: usize,
    /// Reverse proxies whose forwarding headers are believed: addresses
    /// or CIDR blocks, separated by commas or spaces (empty: none).
    pub trusted_proxies: String,
    /// Which forwarding header the trusted proxies maintain.
    pub proxy_header: ProxyHeader,
}

/// `site.proxy_header`: the header a trusted proxy sets. Only that one is
/// read: a proxy that maintains one passes the other through as the
/// client sent it, so reading both would let a client pick its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProxyHeader {
    /// `X-Forwarded-For` and `X-Forwarded-Proto` (Caddy, nginx, most
    /// load balancers).
    XForwardedFor,
    /// RFC 7239 `Forwarded` (`for=` and `proto=`).
    Forwarded,
}

/// `[reset]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ResetSettings {
    /// Link lifetime.
    #[serde(with = "humantime_serde")]
    pub link_ttl: Duration,
    /// Resend cooldown.
    #[serde(with = "humantime_serde")]
    pub resend_cooldown: Duration,
    /// Lifetime of the set-password link in a welcome email.
    #[serde(with = "humantime_serde")]
    pub welcome_ttl: Duration,
}

/// `[forgot]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ForgotSettings {
    /// Requests per email per window.
    pub per_email: u32,
    /// Requests per client address per window.
    pub per_client: u32,
    /// The counting window.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// The least time every answer takes, so timing reveals nothing.
    #[serde(with = "humantime_serde")]
    pub min_duration: Duration,
}

/// `[login]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LoginSettings {
    /// Failures that lock.
    pub max_failures: u32,
    /// Failure counting window.
    #[serde(with = "humantime_serde")]
    pub failure_window: Duration,
    /// Lock duration.
    #[serde(with = "humantime_serde")]
    pub lockout: Duration,
    /// Failed sign-ins allowed per client address per `client_window`,
    /// whichever accounts they try (counted in the store).
    pub per_client: u32,
    /// The window `per_client` counts over.
    #[serde(with = "humantime_serde")]
    pub client_window: Duration,
}

/// `[password]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordSettings {
    /// Minimum length in characters.
    pub min_length: usize,
    /// Maximum length in characters.
    pub max_length: usize,
    /// Minimum zxcvbn score.
    pub min_strength: u8,
    /// Temporary password lifetime.
    #[serde(with = "humantime_serde")]
    pub temporary_ttl: Duration,
    /// A file holding a secret mixed into every new password hash (argon2's
    /// secret key, a "pepper"), kept outside the database; empty for none.
    #[serde(default)]
    pub pepper_file: String,
    /// `[password.argon2]`
    pub argon2: Argon2Settings,
}

/// `[password.argon2]`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Argon2Settings {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

/// `[search]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSettings {
    /// Use the in-memory index.
    pub memory_index: bool,
    /// How often to pick up other processes' changes.
    #[serde(with = "humantime_serde")]
    pub refresh_interval: Duration,
    /// The index file every keydesk process on this host maps; empty in
    /// the file means derived from the store (see [`index_file_for`]),
    /// empty after resolving means none (each process builds its own).
    pub index_file: String,
}

/// The file behind a `sqlite://` URL, if it names one.
#[must_use]
pub fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| path.to_owned())
}

/// Where a store's index file goes by default: beside a SQLite store
/// (`keydesk.db.search-index`), or in `<data dir>/search/` named after a
/// server store's host, port and database. `None` for an in-memory store.
#[must_use]
pub fn index_file_for(url: &str, data_dir: &Path) -> Option<PathBuf> {
    if url.starts_with("sqlite:") {
        if url.contains("mode=memory") {
            return None;
        }
        let path = sqlite_path(url)?;
        let mut name = PathBuf::from(path).into_os_string();
        name.push(".search-index");
        return Some(PathBuf::from(name));
    }
    let (scheme, rest) = url.split_once("://")?;
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, db) = rest.split_once('/').unwrap_or((rest, ""));
    // Credentials never become part of a file name.
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let clean: String = format!("{scheme}-{host}-{db}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Some(data_dir.join("search").join(format!("{clean}.index")))
}

/// `ui.theme`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ThemeName {
    /// 256-colour default.
    Default,
    /// The 16 ANSI colours only.
    Ansi16,
    /// No colour at all.
    Mono,
}

/// `[bulk]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BulkSettings {
    /// A bulk action on more contacts than this needs the count typed back.
    pub confirm_over: u32,
}

/// `[ui]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UiSettings {
    /// Theme.
    pub theme: ThemeName,
    /// Key overrides: command name to key.
    #[serde(default)]
    pub keys: BTreeMap<String, String>,
}

/// `[ssh]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SshSettings {
    /// Bind address.
    pub listen: String,
    /// Idle timeout.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Maximum session length.
    #[serde(with = "humantime_serde")]
    pub max_session: Duration,
    /// Host key path.
    pub host_key: String,
    /// An unauthenticated connection is closed after this.
    #[serde(with = "humantime_serde")]
    pub login_grace: Duration,
    /// New connections a second from one address.
    pub per_address_rate: u32,
    /// Unauthenticated connections from one address at once.
    pub max_startups_per_address: usize,
    /// Unauthenticated connections in all at once.
    pub max_startups: usize,
}

/// `log.format`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}

/// `[log]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// Filter.
    pub level: String,
    /// Format.
    pub format: LogFormat,
    /// File.
    pub file: String,
}

/// Where settings come from; tests inject their own environment.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    /// `--config FILE`.
    pub file: Option<PathBuf>,
    /// Skip `/etc` and the user's config dir (tests).
    pub skip_system_files: bool,
    /// Environment to read instead of the process's (tests).
    pub env: Option<BTreeMap<String, String>>,
    /// Data dir override (tests); otherwise the user's data dir.
    pub data_dir: Option<PathBuf>,
}

impl Settings {
    /// Loads the layered settings and checks every value.
    ///
    /// # Errors
    /// A [`SettingsError`] naming the key and its origin.
    pub fn load(sources: &Sources) -> Result<Self, SettingsError> {
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        if !sources.skip_system_files {
            builder = builder
                .add_source(File::from(Path::new("/etc/keydesk/config.toml")).required(false));
            if let Some(dirs) = project_dirs() {
                builder = builder
                    .add_source(File::from(dirs.config_dir().join("config.toml")).required(false));
            }
        }
        if let Some(file) = &sources.file {
            builder = builder.add_source(File::from(file.as_path()).format(FileFormat::Toml));
        }
        let mut env = Environment::with_prefix("KEYDESK")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true);
        if let Some(map) = &sources.env {
            env = env.source(Some(map.clone().into_iter().collect()));
        }
        let config = builder.add_source(env).build()?;
        let origin = |key: &str| origin_of(sources, key);
        shape::check(&config, &origin)?;
        let mut settings: Settings = config
            .try_deserialize()
            .map_err(|e| with_origin(e, &origin))?;
        let data_dir = sources.data_dir.clone().unwrap_or_else(default_data_dir);
        settings.resolve(&data_dir, &|key| origin_of(sources, key))?;
        settings.data_dir = data_dir;
        Ok(settings)
    }

    /// Fills in derived defaults, reads `..._file` secrets, checks ranges.
    fn resolve(
        &mut self,
        data_dir: &Path,
        origin: &dyn Fn(&str) -> String,
    ) -> Result<(), SettingsError> {
        let invalid = |key: &str, problem: String| SettingsError::Invalid {
            key: key.to_owned(),
            problem,
            origin: origin(key),
        };
        // A rule between two keys names the one the user set (the other
        // may still be the default), so the message points where to look.
        let blame = |first: &'static str, second: &'static str| -> &'static str {
            let defaulted = |key: &str| origin(key) == DEFAULT_ORIGIN;
            if defaulted(first) && !defaulted(second) {
                second
            } else {
                first
            }
        };
        if !self.database.url_file.is_empty() {
            self.database.url = read_secret_file(
                "database.url_file",
                &self.database.url_file,
                &origin("database.url_file"),
            )?;
        }
        if self.database.url.is_empty() {
            self.database.url = format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("keydesk.db").display()
            );
        }
        let url = &self.database.url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://")
            || url.starts_with("mysql://")
            || url.starts_with("mariadb://"))
        {
            return Err(invalid(
                "database.url",
                "must start with sqlite:, postgres:// or mysql://".into(),
            ));
        }
        if self.database.max_connections == 0 {
            return Err(invalid(
                "database.max_connections",
                "must be at least 1".into(),
            ));
        }
        if self.mail.file.dir.is_empty() {
            self.mail.file.dir = data_dir.join("mail").display().to_string();
        }
        if self.search.index_file.is_empty() {
            self.search.index_file = index_file_for(&self.database.url, data_dir)
                .map(|p| p.display().to_string())
                .unwrap_or_default();
        }
        if !self.mail.smtp.password_file.is_empty() {
            self.mail.smtp.password = Secret::new(read_secret_file(
                "mail.smtp.password_file",
                &self.mail.smtp.password_file,
                &origin("mail.smtp.password_file"),
            )?);
        }
        if self.mail.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(invalid(
                "mail.from",
                format!(
                    "{:?} is not a mailbox like \"Support <support@example.com>\"",
                    self.mail.from
                ),
            ));
        }
        if !self.mail.reply_to.is_empty()
            && self
                .mail
                .reply_to
                .parse::<lettre::message::Mailbox>()
                .is_err()
        {
            return Err(invalid(
                "mail.reply_to",
                format!("{:?} is not a mailbox", self.mail.reply_to),
            ));
        }
        if self.mail.smtp.port == 0 {
            return Err(invalid("mail.smtp.port", "must be 1 to 65535".into()));
        }
        if self.mail.smtp.pool_size == 0 {
            return Err(invalid("mail.smtp.pool_size", "must be at least 1".into()));
        }
        if self.mail.max_per_minute == 0 {
            return Err(invalid("mail.max_per_minute", "must be at least 1".into()));
        }
        if self.outbox.max_attempts == 0 {
            return Err(invalid("outbox.max_attempts", "must be at least 1".into()));
        }
        if self.mail.smtp.timeout.is_zero() {
            return Err(invalid("mail.smtp.timeout", "must be above zero".into()));
        }
        // A send may take up to mail.smtp.timeout; a shorter lease would let a
        // second worker take the message mid-send and deliver it twice.
        if self.outbox.claim_timeout < self.mail.smtp.timeout * 2 {
            return Err(invalid(
                blame("outbox.claim_timeout", "mail.smtp.timeout"),
                format!(
                    "does not fit: outbox.claim_timeout ({}) must be at least twice mail.smtp.timeout ({})",
                    humantime::format_duration(self.outbox.claim_timeout),
                    humantime::format_duration(self.mail.smtp.timeout)
                ),
            ));
        }
        if self.outbox.poll_interval < Duration::from_millis(10) {
            return Err(invalid(
                "outbox.poll_interval",
                "must be at least 10ms".into(),
            ));
        }
        if self.outbox.backoff_base.is_zero() {
            return Err(invalid("outbox.backoff_base", "must be above zero".into()));
        }
        if self.outbox.backoff_base > self.outbox.backoff_max {
            return Err(invalid(
                blame("outbox.backoff_base", "outbox.backoff_max"),
                "does not fit: outbox.backoff_base must be at most outbox.backoff_max".into(),
            ));
        }
        let base = self.site.base_url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://"))
            || base.contains(char::is_whitespace)
        {
            return Err(invalid(
                "site.base_url",
                format!("{base:?} must be an http:// or https:// address"),
            ));
        }
        self.site.base_url = base;
        for key in ["site.listen", "ssh.listen"] {
            let value = if key == "site.listen" {
                &self.site.listen
            } else {
                &self.ssh.listen
            };
            if value.parse::<SocketAddr>().is_err() {
                return Err(invalid(
                    key,
                    format!("{value:?} is not an address:port like 127.0.0.1:8080"),
                ));
            }
        }
        if !self.diag.listen.is_empty() && self.diag.listen.parse::<SocketAddr>().is_err() {
            return Err(invalid(
                "diag.listen",
                format!(
                    "{:?} is not an address:port like 127.0.0.1:9101 (or empty for off)",
                    self.diag.listen
                ),
            ));
        }
        if self.site.max_concurrent_hashes == 0 {
            return Err(invalid(
                "site.max_concurrent_hashes",
                "must be at least 1".into(),
            ));
        }
        if self.reset.link_ttl < Duration::from_secs(60)
            || self.reset.link_ttl > Duration::from_secs(7 * 24 * 3600)
        {
            return Err(invalid(
                "reset.link_ttl",
                "must be between 1m and 7d".into(),
            ));
        }
        if self.reset.welcome_ttl < Duration::from_secs(60)
            || self.reset.welcome_ttl > Duration::from_secs(30 * 24 * 3600)
        {
            return Err(invalid(
                "reset.welcome_ttl",
                "must be between 1m and 30d".into(),
            ));
        }
        if self.forgot.per_email == 0 {
            return Err(invalid("forgot.per_email", "must be at least 1".into()));
        }
        if self.forgot.per_client == 0 {
            return Err(invalid("forgot.per_client", "must be at least 1".into()));
        }
        if self.forgot.min_duration > Duration::from_secs(5) {
            return Err(invalid("forgot.min_duration", "must be at most 5s".into()));
        }
        if self.login.max_failures == 0 {
            return Err(invalid("login.max_failures", "must be at least 1".into()));
        }
        if self.login.per_client == 0 {
            return Err(invalid("login.per_client", "must be at least 1".into()));
        }
        if self.login.client_window.is_zero() {
            return Err(invalid(
                "login.client_window",
                "must be longer than 0s".into(),
            ));
        }
        let p = &self.password;
        if !(8..=128).contains(&p.min_length) {
            return Err(invalid(
                "password.min_length",
                format!("{} is out of range (8 to 128)", p.min_length),
            ));
        }
        if p.max_length < 64 || p.max_length > 1024 || p.max_length < p.min_length {
            return Err(invalid(
                if p.max_length < p.min_length {
                    blame("password.max_length", "password.min_length")
                } else {
                    "password.max_length"
                },
                format!(
                    "{} is out of range (64 to 1024, and at least password.min_length)",
                    p.max_length
                ),
            ));
        }
        if p.min_strength > 4 {
            return Err(invalid(
                "password.min_strength",
                format!("{} is out of range (0 to 4)", p.min_strength),
            ));
        }
        let a = p.argon2;
        if a.t_cost < argon2::Params::MIN_T_COST {
            return Err(invalid(
                "password.argon2.t_cost",
                format!("{} is out of range (at least 1)", a.t_cost),
            ));
        }
        if a.p_cost < argon2::Params::MIN_P_COST || a.p_cost > argon2::Params::MAX_P_COST {
            return Err(invalid(
                "password.argon2.p_cost",
                format!(
                    "{} is out of range (1 to {})",
                    a.p_cost,
                    argon2::Params::MAX_P_COST
                ),
            ));
        }
        if argon2::Params::new(a.m_cost, a.t_cost, a.p_cost, None).is_err() || a.m_cost < 8192 {
            return Err(invalid(
                blame("password.argon2.m_cost", "password.argon2.p_cost"),
                format!(
                    "{} is out of range (at least 8192 KiB, and at least 8 KiB for each of password.argon2.p_cost's lanes)",
                    a.m_cost
                ),
            ));
        }
        security::check(self, &invalid)?;
        if self.search.refresh_interval < Duration::from_millis(100) {
            return Err(invalid(
                "search.refresh_interval",
                "must be at least 100ms".into(),
            ));
        }
        Ok(())
    }

    /// The settings as TOML with every secret redacted.
    ///
    /// # Errors
    /// Only if serialisation fails, which would be a bug.
    pub fn to_redacted_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string_pretty(self)
    }
}

/// The OS-conventional directories for keydesk.
#[must_use]
pub fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "keydesk")
}

/// The user's data dir (`~/.local/share/keydesk`), or `./keydesk-data`
/// when the OS has no home for it.
#[must_use]
pub fn default_data_dir() -> PathBuf {
    project_dirs().map_or_else(
        || PathBuf::from("keydesk-data"),
        |d| d.data_dir().to_path_buf(),
    )
}

fn read_secret_file(key: &str, path: &str, origin: &str) -> Result<String, SettingsError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim_end_matches(['\r', '\n']).to_owned())
        .map_err(|source| SettingsError::SecretFile {
            key: key.to_owned(),
            origin: origin.to_owned(),
            path: path.into(),
            source,
        })
}

/// A conversion error that names a key gets the layer it came from (the
/// `config` crate says only "the environment", or nothing, for values that
/// fail a custom parse such as a duration).
fn with_origin(err: config::ConfigError, origin: &dyn Fn(&str) -> String) -> SettingsError {
    match err {
        config::ConfigError::Type {
            unexpected,
            expected,
            key: Some(key),
            ..
        } => SettingsError::Invalid {
            problem: format!("is {unexpected}, which is not {expected}"),
            origin: origin(&key),
            key,
        },
        config::ConfigError::At {
            error,
            key: Some(key),
            ..
        } => SettingsError::Invalid {
            problem: format!("cannot be used: {error}"),
            origin: origin(&key),
            key,
        },
        other => SettingsError::Load(other),
    }
}

/// Names the layer a key's value came from: the last one that sets it
/// (a file, an environment variable, or [`DEFAULT_ORIGIN`]).
#[must_use]
pub fn origin_of(sources: &Sources, key: &str) -> String {
    let var = format!("KEYDESK__{}", key.replace('.', "__").to_uppercase());
    let in_env = match &sources.env {
        Some(map) => map.contains_key(&var),
        None => std::env::var_os(&var).is_some(),
    };
    if in_env {
        return format!("environment variable {var}");
    }
    let mut files: Vec<PathBuf> = Vec::new();
    if !sources.skip_system_files {
        files.push(PathBuf::from("/etc/keydesk/config.toml"));
        if let Some(dirs) = project_dirs() {
            files.push(dirs.config_dir().join("config.toml"));
        }
    }
    files.extend(sources.file.clone());
    for file in files.iter().rev() {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let Ok(table) = text.parse::<toml::Table>() else {
            continue;
        };
        let mut value: Option<&toml::Value> = None;
        let mut current = &table;
        for (i, part) in key.split('.').enumerate() {
            match current.get(part) {
                Some(toml::Value::Table(t)) if i + 1 < key.split('.').count() => current = t,
                Some(v) => value = Some(v),
                None => break,
            }
        }
        if value.is_some() {
            return file.display().to_string();
        }
    }
    DEFAULT_ORIGIN.to_owned()
}

/// What [`origin_of`] says of a key no file or variable sets.
pub const DEFAULT_ORIGIN: &str = "the built-in defaults";

/// Hides the password of a `scheme://user:password@host/...` URL.
#[must_use]
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:<redacted>@{host}"),
        None => url.to_owned(),
    }
}

fn serialize_redacted_url<S: Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&redact_url(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(env: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        Settings::load(&Sources {
            file: None,
            skip_system_files: true,
            env: Some(
                env.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            data_dir: Some(PathBuf::from("/tmp/kd-test-data")),
        })
    }

    #[test]
    fn defaults_load_and_fill_in_the_data_dir() {
        let s = load(&[]).unwrap();
        assert_eq!(
            s.database.url,
            "sqlite:///tmp/kd-test-data/keydesk.db?mode=rwc"
        );
        assert_eq!(s.mail.file.dir, "/tmp/kd-test-data/mail");
        assert_eq!(s.reset.link_ttl, Duration::from_secs(6 * 3600));
        assert_eq!(s.reset.welcome_ttl, Duration::from_secs(72 * 3600));
        assert_eq!(s.mail.transport, MailTransport::File);
        assert_eq!(s.password.min_length, 12);
    }

    #[test]
    fn environment_overrides_nested_keys() {
        let s = load(&[
            ("KEYDESK__MAIL__SMTP__HOST", "relay.example"),
            ("KEYDESK__MAIL__SMTP__PORT", "2525"),
            ("KEYDESK__RESET__LINK_TTL", "2h"),
        ])
        .unwrap();
        assert_eq!(s.mail.smtp.host, "relay.example");
        assert_eq!(s.mail.smtp.port, 2525);
        assert_eq!(s.reset.link_ttl, Duration::from_secs(7200));
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let err = load(&[("KEYDESK__PASSWORD__MIN_LENGTH", "3")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("password.min_length"), "{err}");
        assert!(err.contains("KEYDESK__PASSWORD__MIN_LENGTH"), "{err}");
        let err = load(&[("KEYDESK__MAIL__SMTP__PORT", "seventy")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("port"), "{err}");
        let err = load(&[("KEYDESK__MAIL__TRANSPORT", "pigeon")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("transport") || err.contains("pigeon"), "{err}");
    }

    #[test]
    fn a_bad_value_in_a_file_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keydesk.toml");
        std::fs::write(&path, "[site]\nbase_url = \"ftp://nope\"\n").unwrap();
        let err = Settings::load(&Sources {
            file: Some(path.clone()),
            skip_system_files: true,
            env: Some(BTreeMap::new()),
            data_dir: None,
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("site.base_url") && err.contains(&path.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn the_claim_lease_must_outlast_a_send() {
        let err = load(&[
            ("KEYDESK__MAIL__SMTP__TIMEOUT", "90s"),
            ("KEYDESK__OUTBOX__CLAIM_TIMEOUT", "2m"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("outbox.claim_timeout") && err.contains("1m 30s"),
            "{err}"
        );
        assert!(load(&[("KEYDESK__OUTBOX__CLAIM_TIMEOUT", "20s")]).is_ok());
    }

    #[test]
    fn secrets_never_print() {
        let mut s = load(&[("KEYDESK__MAIL__SMTP__PASSWORD", "hunter2-very-secret")]).unwrap();
        s.database.url = "postgres://kd:pw-secret@db/kd".into();
        let shown = s.to_redacted_toml().unwrap();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("pw-secret"), "{shown}");
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
