//! Logging: `tracing` to stderr or a file, as text or JSON lines, in UTC.
//!
//! The console owns the terminal, so it logs to a file (`log.file`, or
//! `<data dir>/keydesk.log`); other commands log to stderr. No secret is
//! ever passed to a log macro; values that come from outside are logged
//! with `?` (Debug), which escapes newlines and control characters so a
//! crafted value cannot forge a log line.

use std::path::PathBuf;

use tracing_subscriber::EnvFilter;
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
    let filter = EnvFilter::try_new(&settings.level)
        .map_err(|e| LoggingError::Filter(settings.level.clone(), e.to_string()))?;
    let (writer, ansi) = match destination {
        Destination::Stderr if settings.file.is_empty() => {
            (BoxMakeWriter::new(std::io::stderr), false)
        }
        _ => {
            let path = if settings.file.is_empty() {
                data_dir.join("keydesk.log")
            } else {
                PathBuf::from(&settings.file)
            };
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| LoggingError::File(path.clone(), e))?;
            }
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| LoggingError::File(path.clone(), e))?;
            (BoxMakeWriter::new(std::sync::Mutex::new(file)), false)
        }
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    let _ = match settings.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    Ok(())
}
