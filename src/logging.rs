//! Logging: `tracing` to stderr or a file, as text or JSON lines, in UTC.
//!
//! The console owns the terminal, so it logs to a file (`log.file`, or
//! `<data dir>/keydesk.log`); other commands log to stderr. No secret is
//! ever passed to a log macro. Each record is exactly one line: whatever a
//! value holds (a newline, a carriage return, an escape sequence from an
//! email address or user agent), the writer ([`OneLine`]) escapes every
//! control character but the record's own final newline, so a crafted
//! value cannot forge a log line in either format. Timestamps are RFC 3339
//! in UTC (`...Z`). Security-relevant events carry an `event` field
//! (`login.failed`, `login.throttled`, `csrf.refused`, ...) and the client
//! address.

use std::path::PathBuf;
use std::sync::OnceLock;

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

use crate::settings::{LogFormat, LogSettings};

/// Where a command's log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// Standard error (commands, servers).
    Stderr,
    /// A file (the console, which owns the terminal).
    File,
}

/// Why logging could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// `log.level` is not a valid filter.
    #[error("settings: `log.level` {0:?} is not a valid filter: {1}")]
    Filter(String, String),
    /// The log file cannot be opened.
    #[error("cannot open the log file {0}: {1}")]
    File(PathBuf, std::io::Error),
}

/// The format of this process's stderr lines, set once the settings (or
/// at least `log.format`) are known; text until then.
static STDERR_FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Sets the format [`say`] writes in (the first call wins).
pub fn set_stderr_format(format: LogFormat) {
    let _ = STDERR_FORMAT.set(format);
}

/// How bad a message for the person or unit reading stderr is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Worth knowing (a notice, a skipped row).
    Info,
    /// Something went wrong but the command went on.
    Warn,
    /// The command failed.
    Error,
}

/// Writes one message for a person on stderr: the text as given, one line
/// (control characters escaped, no colour), or, with `log.format =
/// "json"`, one JSON object like the log records (`timestamp`, `level`,
/// `message`, `target`), so that every stderr line of a unit is JSON.
pub fn say(severity: Severity, message: &str) {
    let line = match STDERR_FORMAT.get().copied().unwrap_or(LogFormat::Text) {
        LogFormat::Text => format!("{}\n", message.trim_end_matches('\n')),
        LogFormat::Json => {
            let level = match severity {
                Severity::Info => "INFO",
                Severity::Warn => "WARN",
                Severity::Error => "ERROR",
            };
            let object = serde_json::json!({
                "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "level": level,
                "message": message.strip_prefix("keydesk: ").unwrap_or(message).trim_end(),
                "target": "keydesk",
            });
            format!("{object}\n")
        }
    };
    let mut stderr = std::io::stderr().lock();
    // Nothing is left to tell when stderr itself is gone.
    let _ = stderr.write_all(one_line(line.as_bytes()).as_bytes());
    let _ = stderr.flush();
}

/// Installs the global subscriber. Calling it twice is harmless (the
/// second call keeps the first subscriber).
///
/// # Errors
/// A bad filter or an unwritable log file.
pub fn init(
    settings: &LogSettings,
    data_dir: &std::path::Path,
    destination: Destination,
) -> Result<(), LoggingError> {
    let writer = match destination {
        Destination::Stderr if settings.file.is_empty() => BoxMakeWriter::new(std::io::stderr),
        _ => {
            let path = if settings.file.is_empty() {
                data_dir.join("keydesk.log")
            } else {
                PathBuf::from(&settings.file)
            };
            if let Some(dir) = path.parent() {
                crate::files::private_dir_all(dir)
                    .map_err(|e| LoggingError::File(path.clone(), e))?;
            }
            // Owner-only (ASVS V7.3.3): the log names clients and actions.
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| LoggingError::File(path.clone(), e))?;
            BoxMakeWriter::new(std::sync::Mutex::new(file))
        }
    };
    let _ = tracing::subscriber::set_global_default(subscriber(settings, writer)?);
    set_stderr_format(settings.format);
    Ok(())
}

/// The subscriber [`init`] installs, writing to `writer`: the level
/// filter, text or JSON, no colour codes, UTC timestamps, one line per
/// record. Tests install it over a buffer to read what would be logged.
///
/// # Errors
/// A bad `log.level` filter.
pub fn subscriber(
    settings: &LogSettings,
    writer: BoxMakeWriter,
) -> Result<Box<dyn tracing::Subscriber + Send + Sync>, LoggingError> {
    let filter = EnvFilter::try_new(&settings.level)
        .map_err(|e| LoggingError::Filter(settings.level.clone(), e.to_string()))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(OneLineWriter(writer))
        .with_ansi(false)
        // RFC 3339 in UTC, whatever the machine's time zone.
        .with_timer(tracing_subscriber::fmt::time::SystemTime);
    Ok(match settings.format {
        LogFormat::Json => Box::new(builder.json().flatten_event(true).finish()),
        LogFormat::Text => Box::new(builder.finish()),
    })
}

/// Makes [`OneLine`] writers around another maker's writers.
pub struct OneLineWriter<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for OneLineWriter<M> {
    type Writer = OneLine<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        OneLine(self.0.make_writer())
    }
}

/// A writer that keeps each record on one line. The formatter hands it a
/// whole record per write, ending in a newline; every other control
/// character (and the Unicode line and paragraph separators) is written
/// as its escape (`\n`, `\r`, `\u{1b}`), so nothing inside a record can
/// start a new one.
pub struct OneLine<W>(W);

impl<W: Write> Write for OneLine<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write_all(one_line(buf).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// The text of `buf` with every control character escaped except one
/// final newline.
#[must_use]
pub fn one_line(buf: &[u8]) -> String {
    let text = String::from_utf8_lossy(buf);
    let (body, end) = match text.strip_suffix('\n') {
        Some(body) => (body, "\n"),
        None => (&*text, ""),
    };
    let mut out = String::with_capacity(text.len() + 8);
    for c in body.chars() {
        if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push_str(end);
    out
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn only_the_final_newline_survives() {
        assert_eq!(one_line(b"a\nb\r\x1b[2Jc\n"), "a\\nb\\r\\u{1b}[2Jc\n");
        assert_eq!(one_line("x\u{2028}y".as_bytes()), "x\\u{2028}y");
        assert_eq!(one_line(b"plain\n"), "plain\n");
    }
}
