//! The checks `keydesk doctor` runs. Each reads, connects or asks, and
//! changes nothing: no file is created, no migration applied, no mail
//! sent (the relay is asked EHLO, STARTTLS and AUTH, then QUIT).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::unistd::{AccessFlags, access};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::{Check, Origin};
use crate::settings::{MailTransport, Settings, SmtpTls, redact_url};
use crate::store::{Store, schema, sqlite_path};

/// The settings loaded; names how many keys were set, and where.
pub(super) fn settings(set: &[Origin]) -> Check {
    if set.is_empty() {
        return Check::ok("settings", "loaded; every key is at its built-in default");
    }
    let list: Vec<String> = set
        .iter()
        .map(|o| format!("{} ({})", o.key, o.origin))
        .collect();
    Check::ok(
        "settings",
        format!("loaded; set outside the defaults: {}", list.join(", ")),
    )
}

/// Whether the store answers, and where its schema stands: two checks,
/// `store` and `schema`, and the open store for the clock check.
pub(super) async fn store(settings: &Settings) -> (Vec<Check>, Option<Store>) {
    let url = &settings.database.url;
    let shown = redact_url(url);
    if let Some(path) = sqlite_path(url)
        && !Path::new(&path).exists()
    {
        // Connecting would create the file: say so instead.
        return (
            vec![Check::warn(
                "store",
                format!("no SQLite store at {path} yet"),
                "`keydesk migrate` creates it (and makes you its first admin)",
            )],
            None,
        );
    }
    let limit = settings.database.connect_timeout + Duration::from_secs(1);
    let connected = tokio::time::timeout(limit, Store::connect(&settings.database)).await;
    let store = match connected {
        Ok(Ok(store)) => store,
        Ok(Err(err)) => return (vec![unreachable(&shown, &err.to_string())], None),
        Err(_) => return (vec![unreachable(&shown, "no answer in time")], None),
    };
    if let Err(err) = store.ping().await {
        return (vec![unreachable(&shown, &err.to_string())], None);
    }
    let mut checks = vec![Check::ok(
        "store",
        format!("{shown} answers ({})", store.backend_name()),
    )];
    checks.push(match schema::status(store.conn()).await {
        Err(err) => Check::fail(
            "schema",
            format!("cannot read the migration records: {err}"),
            "check the database user's rights on the store",
        ),
        Ok(status) if !status.unknown.is_empty() => Check::fail(
            "schema",
            status.problem().unwrap_or_default(),
            "install the keydesk that migrated this store (or newer) on this host",
        ),
        Ok(status) if !status.pending.is_empty() => {
            let message = format!(
                "version {}; pending: {}",
                status.store_version().unwrap_or("none"),
                status.pending.join(", ")
            );
            if settings.database.auto_migrate {
                Check::warn(
                    "schema",
                    message,
                    "the next keydesk to start applies them; or run `keydesk migrate` now",
                )
            } else {
                Check::fail(
                    "schema",
                    message,
                    "run `keydesk migrate` (database.auto_migrate is false)",
                )
            }
        }
        Ok(status) => Check::ok(
            "schema",
            format!(
                "version {} ({} migrations applied, none pending)",
                status.store_version().unwrap_or("none"),
                status.applied.len()
            ),
        ),
    });
    (checks, Some(store))
}

fn unreachable(shown: &str, error: &str) -> Check {
    Check::fail(
        "store",
        format!("cannot reach {shown}: {error}"),
        "start the database server, or correct database.url",
    )
}

/// The mail transport: the folder for `file`, the command for
/// `sendmail`, the relay for `smtp`.
pub(super) async fn mail(settings: &Settings) -> Check {
    let mail = &settings.mail;
    match mail.transport {
        MailTransport::File => {
            let dir = Path::new(&mail.file.dir);
            if dir.is_dir() {
                if writable(dir) {
                    Check::ok(
                        "mail",
                        format!("file transport writes to {}", dir.display()),
                    )
                } else {
                    Check::fail(
                        "mail",
                        format!("{} is not writable by this user", dir.display()),
                        "give this user write access to mail.file.dir",
                    )
                }
            } else if nearest_existing(dir).is_some_and(|d| writable(&d)) {
                Check::warn(
                    "mail",
                    format!("{} does not exist yet", dir.display()),
                    "keydesk creates it at the first send; or create it now with mode 0700",
                )
            } else {
                Check::fail(
                    "mail",
                    format!("{} does not exist and cannot be created", dir.display()),
                    "create mail.file.dir, writable by the user keydesk runs as",
                )
            }
        }
        MailTransport::Sendmail => {
            let command = Path::new(&mail.sendmail.command);
            if access(command, AccessFlags::X_OK).is_ok() {
                Check::ok("mail", format!("sendmail command {}", command.display()))
            } else {
                Check::fail(
                    "mail",
                    format!("{} is not an executable command", command.display()),
                    "install a local MTA, or correct mail.sendmail.command",
                )
            }
        }
        MailTransport::Smtp => smtp(settings).await,
    }
}

async fn smtp(settings: &Settings) -> Check {
    let s = &settings.mail.smtp;
    let transport = match crate::mail::transport::Transport::from_settings(&settings.mail) {
        Ok(t) => t,
        Err(err) => {
            return Check::fail(
                "mail",
                err.to_string(),
                "correct the [mail.smtp] setting it names",
            );
        }
    };
    let steps = match (s.tls, s.user.is_empty()) {
        (SmtpTls::None, true) => "EHLO",
        (SmtpTls::None, false) => "EHLO and AUTH",
        (SmtpTls::Starttls, true) => "EHLO and STARTTLS",
        (SmtpTls::Starttls, false) => "EHLO, STARTTLS and AUTH",
        (SmtpTls::Tls, true) => "TLS and EHLO",
        (SmtpTls::Tls, false) => "TLS, EHLO and AUTH",
    };
    match transport.probe().await {
        Ok(()) if s.tls == SmtpTls::None && !is_loopback(&s.host) => Check::warn(
            "mail",
            format!("{}: {steps} accepted, in plain text", transport.label()),
            "set mail.smtp.tls = \"starttls\" (or \"tls\") for a relay on another host",
        ),
        Ok(()) => Check::ok("mail", format!("{}: {steps} accepted", transport.label())),
        Err(err) => Check::fail(
            "mail",
            err.reason().to_owned(),
            "check that the relay runs and that mail.smtp.host, port, tls, user and password are right",
        ),
    }
}

/// `site.base_url`: https, unless it points at this machine.
pub(super) fn base_url(url: &str) -> Check {
    let host = url
        .split_once("://")
        .map_or("", |(_, rest)| rest)
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = if let Some(bracketed) = host.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default()
    };
    if url.starts_with("https://") {
        Check::ok("site.base_url", format!("{url} (https)"))
    } else if is_loopback(host) {
        Check::ok(
            "site.base_url",
            format!("{url} (http on this machine only)"),
        )
    } else {
        Check::fail(
            "site.base_url",
            format!(
                "{url} is plain http on a public address: reset links would travel unencrypted"
            ),
            "serve the site behind TLS and set site.base_url to its https:// address",
        )
    }
}

/// The SSH host key `ssh-serve` uses.
pub(super) fn host_key(settings: &Settings) -> Check {
    let path = crate::ssh::host_key::path(&settings.ssh.host_key, &settings.data_dir);
    let meta = match std::fs::metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Check::warn(
                "ssh host key",
                format!("{} does not exist yet", path.display()),
                "`keydesk ssh-serve` generates it at its first start (ignore this without ssh-serve)",
            );
        }
        Err(e) => {
            return Check::fail(
                "ssh host key",
                format!("cannot read {}: {e}", path.display()),
                "give the user keydesk runs as read access to ssh.host_key",
            );
        }
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Check::fail(
            "ssh host key",
            format!("{} is readable by others (mode {mode:04o})", path.display()),
            format!("chmod 600 {}", path.display()),
        );
    }
    match std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|t| {
            russh::keys::PrivateKey::from_openssh(t.as_bytes()).map_err(|e| e.to_string())
        }) {
        Ok(key) => Check::ok(
            "ssh host key",
            format!(
                "{} ({}, owner-only)",
                path.display(),
                crate::ssh::host_key::fingerprint(&key)
            ),
        ),
        Err(e) => Check::fail(
            "ssh host key",
            format!(
                "{} is not a usable OpenSSH private key: {e}",
                path.display()
            ),
            "move it away; ssh-serve then generates a new one (tell agents the new fingerprint)",
        ),
    }
}

/// `password.pepper_file`: present, long enough, owner-only.
pub(super) fn pepper(file: &str) -> Check {
    if file.is_empty() {
        return Check::ok(
            "pepper",
            "none set (optional: password.pepper_file keeps a secret outside the database)",
        );
    }
    let path = Path::new(file);
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) => {
            return Check::fail(
                "pepper",
                format!("cannot read {file}: {e}"),
                "restore the pepper file from where it is kept (never from the database backup), or empty password.pepper_file",
            );
        }
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        let who = if mode & 0o007 != 0 {
            "every user"
        } else {
            "its group"
        };
        return Check::fail(
            "pepper",
            format!("{file} is readable by {who} (mode {mode:04o})"),
            format!("chmod 600 {file} (owner: the account keydesk runs as)"),
        );
    }
    if meta.len() < 16 {
        return Check::fail(
            "pepper",
            format!("{file} holds {} bytes; at least 16 are needed", meta.len()),
            format!("head -c 32 /dev/urandom > {file}, before any password is hashed with it"),
        );
    }
    Check::ok(
        "pepper",
        format!("{file} ({} bytes, owner-only)", meta.len()),
    )
}

/// The data dir and the store and log files in it: nothing readable or
/// writable by every user.
pub(super) fn data_dir(settings: &Settings) -> Check {
    let dir = &settings.data_dir;
    let Ok(meta) = std::fs::metadata(dir) else {
        return Check::warn(
            "data dir",
            format!("{} does not exist yet", dir.display()),
            "keydesk creates it at the first start; or create it now with mode 0700",
        );
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o002 != 0 {
        return Check::fail(
            "data dir",
            format!(
                "{} is writable by every user (mode {mode:04o})",
                dir.display()
            ),
            format!("chmod o-rwx {}", dir.display()),
        );
    }
    let mut files: Vec<PathBuf> = [
        "keydesk.db",
        "keydesk.db-wal",
        "keydesk.db-shm",
        "keydesk.log",
    ]
    .iter()
    .map(|f| dir.join(f))
    .collect();
    if let Some(db) = sqlite_path(&settings.database.url) {
        for suffix in ["", "-wal", "-shm"] {
            files.push(PathBuf::from(format!("{db}{suffix}")));
        }
    }
    if !settings.log.file.is_empty() {
        files.push(PathBuf::from(&settings.log.file));
    }
    files.sort();
    files.dedup();
    let open: Vec<String> = files
        .iter()
        .filter(|f| std::fs::metadata(f).is_ok_and(|m| m.permissions().mode() & 0o007 != 0))
        .map(|f| f.display().to_string())
        .collect();
    if !open.is_empty() {
        return Check::fail(
            "data dir",
            format!("readable by every user: {}", open.join(", ")),
            format!("chmod o-rwx {}", open.join(" ")),
        );
    }
    let owner = if meta.uid() == nix::unistd::geteuid().as_raw() {
        "owned by this user"
    } else {
        "owned by another user"
    };
    Check::ok(
        "data dir",
        format!(
            "{} (mode {mode:04o}, {owner}); store and log files closed to other users",
            dir.display()
        ),
    )
}

/// The database server's clock against this machine's: expiry times
/// written by one host are compared on another.
pub(super) async fn clock(store: Option<&Store>) -> Check {
    let Some(store) = store else {
        return Check::warn(
            "clock",
            "not compared: the store did not answer",
            "fix the store first",
        );
    };
    let sql = match store.backend() {
        DbBackend::Postgres => "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS TEXT)",
        DbBackend::MySql => "SELECT CAST(UNIX_TIMESTAMP(NOW(6)) AS CHAR)",
        _ => return Check::ok("clock", "SQLite runs on this machine's clock"),
    };
    let before = chrono::Utc::now();
    let answer = store
        .conn()
        .query_one_raw(Statement::from_string(store.backend(), sql))
        .await;
    let after = chrono::Utc::now();
    let theirs = match answer {
        Ok(Some(row)) => row
            .try_get_by_index::<String>(0)
            .ok()
            .and_then(|t| t.trim().parse::<f64>().ok()),
        _ => None,
    };
    let Some(theirs) = theirs else {
        return Check::warn(
            "clock",
            "the database did not say its time",
            "compare `date -u` here and on the database host by hand",
        );
    };
    // The middle of the round trip is when the server read its clock.
    let ours = (before.timestamp_micros() + after.timestamp_micros()) as f64 / 2e6;
    let skew = theirs - ours;
    let shown = format!("the database's clock is {skew:+.3}s from this machine's");
    if skew.abs() > 30.0 {
        Check::fail(
            "clock",
            shown,
            "run NTP (chrony or systemd-timesyncd) on both hosts",
        )
    } else if skew.abs() > 1.0 {
        Check::warn(
            "clock",
            shown,
            "run NTP (chrony or systemd-timesyncd) on both hosts",
        )
    } else {
        Check::ok("clock", shown)
    }
}

fn writable(path: &Path) -> bool {
    access(path, AccessFlags::W_OK).is_ok()
}

fn nearest_existing(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .find(|p| !p.as_os_str().is_empty() && p.exists())
        .map(Path::to_path_buf)
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    #[test]
    fn base_url_wants_https_unless_loopback() {
        assert_eq!(base_url("https://desk.example.com").status, Status::Ok);
        assert_eq!(base_url("http://127.0.0.1:8080").status, Status::Ok);
        assert_eq!(base_url("http://[::1]:8080/x").status, Status::Ok);
        assert_eq!(base_url("http://localhost").status, Status::Ok);
        assert_eq!(base_url("http://desk.example.com").status, Status::Fail);
        assert_eq!(base_url("http://10.0.0.5:8080").status, Status::Fail);
    }
}
