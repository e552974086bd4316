//! Transports: hand one rendered message to an SMTP relay, a folder of
//! `.eml` files, or the local MTA, and sort every failure into
//! *temporary* (try again later) or *permanent* (the server said no).
//!
//! The message arrives already rendered (RFC 5322 bytes); the envelope is
//! built from `mail.from` and the row's bare recipient address, never from
//! the headers, so a header cannot redirect a message.

use std::path::PathBuf;
use std::time::Duration;

use lettre::address::{Address, Envelope};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSendmailTransport, AsyncTransport, Tokio1Executor};

use super::smtp::{self as pool, Failure, Relay, Security};

use crate::settings::{MailSettings, MailTransport, SmtpSettings, SmtpTls};

/// Why a transport could not be set up from the settings.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// `mail.smtp.ca_file` cannot be read or holds no certificate.
    #[error("mail.smtp.ca_file {path}: {problem}")]
    CaFile {
        /// The file named.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// `mail.from` is not a mailbox (settings normally catch this first).
    #[error("mail.from {0:?} is not a mailbox")]
    From(String),
    /// The `.eml` folder cannot be created.
    #[error("mail.file.dir {path}: {source}")]
    FileDir {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// lettre refused the TLS parameters.
    #[error("mail.smtp TLS setup for {host}: {problem}")]
    Tls {
        /// The relay host.
        host: String,
        /// lettre's reason.
        problem: String,
    },
}

/// A delivery that did not happen, sorted for the retry policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth another try later: connection refused, timeout, a 4xx reply,
    /// a TLS or AUTH problem an operator can fix.
    #[error("{0}")]
    Temporary(String),
    /// The server refused this message for good (5xx), or the address is
    /// unusable. Retrying would not help.
    #[error("{0}")]
    Permanent(String),
    /// No answer within the deadline. Temporary; the connection it used is
    /// in an unknown state and must not be reused.
    #[error("{0}")]
    TimedOut(String),
}

impl SendError {
    /// Whether retrying cannot help.
    #[must_use]
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Permanent(_))
    }

    /// The reason in words, as stored in `outbox.last_error`.
    #[must_use]
    pub fn reason(&self) -> &str {
        match self {
            Self::Temporary(r) | Self::Permanent(r) | Self::TimedOut(r) => r,
        }
    }
}

/// SMTP reply codes that mean "your credentials" rather than "this
/// message": an operator fixes the password and the queue drains, so these
/// are retried instead of failing every queued message.
const AUTH_CODES: [u16; 4] = [530, 534, 535, 538];

enum Kind {
    Smtp(pool::Pool),
    File(AsyncFileTransport<Tokio1Executor>),
    Sendmail(AsyncSendmailTransport<Tokio1Executor>),
}

/// One configured way out. Cheap to clone (the SMTP pool is shared).
pub struct Transport {
    kind: Kind,
    /// The longest one message may take, connection included.
    deadline: Duration,
    /// `smtp 127.0.0.1:25 (starttls)`, for errors and status lines.
    label: String,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the credentials: only the label.
        f.debug_struct("Transport")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// Builds the transport that `mail.transport` names. Nothing connects
    /// yet: the first send opens the first connection.
    ///
    /// # Errors
    /// A [`SetupError`] naming the setting at fault.
    pub fn from_settings(mail: &MailSettings) -> Result<Self, SetupError> {
        let deadline = mail.smtp.timeout;
        match mail.transport {
            MailTransport::Smtp => smtp(&mail.smtp),
            MailTransport::File => {
                let dir = PathBuf::from(&mail.file.dir);
                // Owner-only: each .eml file holds a live reset link.
                crate::files::private_dir_all(&dir).map_err(|source| SetupError::FileDir {
                    path: dir.clone(),
                    source,
                })?;
                Ok(Self {
                    kind: Kind::File(AsyncFileTransport::new(&dir)),
                    deadline,
                    label: format!("file {}", dir.display()),
                })
            }
            MailTransport::Sendmail => Ok(Self {
                kind: Kind::Sendmail(AsyncSendmailTransport::new_with_command(
                    &mail.sendmail.command,
                )),
                deadline,
                label: format!("sendmail {}", mail.sendmail.command),
            }),
        }
    }

    /// `smtp HOST:PORT (tls)`, `file DIR` or `sendmail COMMAND`.
    #[must_use]
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Whether this transport talks to an SMTP relay.
    #[must_use]
    pub fn is_smtp(&self) -> bool {
        matches!(self.kind, Kind::Smtp(_))
    }

    /// Sends one rendered message, within the configured deadline.
    ///
    /// # Errors
    /// A [`SendError`] saying whether a retry can help.
    pub async fn send(&self, envelope: &Envelope, raw: &[u8]) -> Result<(), SendError> {
        let attempt = async {
            match &self.kind {
                Kind::Smtp(p) => p.send(envelope, raw).await.map_err(|e| match e {
                    Failure::Smtp(err) => classify_smtp(&err, &self.label),
                    Failure::Connect(io) => classify_io(&io, &self.label),
                }),
                Kind::File(t) => t.send_raw(envelope, raw).await.map(drop).map_err(|e| {
                    SendError::Temporary(format!("cannot write to {}: {}", self.label, chain(&e)))
                }),
                // sendmail reports only "it failed" and its stderr, not whether
                // the failure is final, so every failure is retried.
                Kind::Sendmail(t) => t.send_raw(envelope, raw).await.map_err(|e| {
                    SendError::Temporary(format!("{} failed: {}", self.label, chain(&e).trim()))
                }),
            }
        };
        self.within_deadline(attempt).await
    }

    /// Runs `attempt` within `mail.smtp.timeout`. lettre bounds only the
    /// TCP connect; a relay that accepts and then never answers would hold
    /// the message (or the probe) for ever without this.
    async fn within_deadline(
        &self,
        attempt: impl std::future::Future<Output = Result<(), SendError>>,
    ) -> Result<(), SendError> {
        tokio::time::timeout(self.deadline, attempt)
            .await
            .unwrap_or_else(|_| {
                Err(SendError::TimedOut(format!(
                    "no answer from {} within {}",
                    self.label,
                    humantime::format_duration(self.deadline)
                )))
            })
    }

    /// Asks the relay what a send would (connect, EHLO, STARTTLS and AUTH
    /// as configured), within the deadline, and sends nothing. Only SMTP
    /// has a peer to ask; the others answer `Ok` at once.
    ///
    /// # Errors
    /// A [`SendError`] with the relay's or the network's answer.
    pub async fn probe(&self) -> Result<(), SendError> {
        let Kind::Smtp(p) = &self.kind else {
            return Ok(());
        };
        let attempt = async {
            p.probe().await.map_err(|e| match e {
                Failure::Smtp(err) => classify_smtp(&err, &self.label),
                Failure::Connect(io) => classify_io(&io, &self.label),
            })
        };
        self.within_deadline(attempt).await
    }

    /// Closes pooled connections politely (bounded: a relay that stopped
    /// answering does not hold up a shutdown).
    pub async fn shutdown(&self) {
        if let Kind::Smtp(p) = &self.kind {
            let _ = tokio::time::timeout(self.deadline, p.shutdown()).await;
        }
    }
}

fn smtp(s: &SmtpSettings) -> Result<Transport, SetupError> {
    let params = || -> Result<TlsParameters, SetupError> {
        let mut builder = TlsParameters::builder(s.host.clone());
        if !s.ca_file.is_empty() {
            builder = builder.add_root_certificate(ca_certificate(&s.ca_file)?);
        }
        builder.build_rustls().map_err(|e| SetupError::Tls {
            host: s.host.clone(),
            problem: chain(&e),
        })
    };
    let (security, mode) = match s.tls {
        SmtpTls::None => (Security::None, "plain"),
        SmtpTls::Starttls => (Security::Starttls(params()?), "starttls"),
        SmtpTls::Tls => (Security::Wrapper(params()?), "tls"),
    };
    let credentials = (!s.user.is_empty())
        .then(|| Credentials::new(s.user.clone(), s.password.expose().to_owned()));
    let relay = Relay {
        host: s.host.clone(),
        port: s.port,
        security,
        credentials,
        timeout: s.timeout,
        max_idle: usize::try_from(s.pool_size).unwrap_or(1),
    };
    Ok(Transport {
        kind: Kind::Smtp(pool::Pool::new(relay)),
        deadline: s.timeout,
        label: format!("smtp {}:{} ({mode})", s.host, s.port),
    })
}

fn ca_certificate(path: &str) -> Result<Certificate, SetupError> {
    let bad = |problem: String| SetupError::CaFile {
        path: path.into(),
        problem,
    };
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    // lettre accepts a file with no certificate in it and then fails every
    // handshake with "unknown issuer"; say so at start-up instead.
    if !pem
        .windows(b"-----BEGIN CERTIFICATE-----".len())
        .any(|w| w == b"-----BEGIN CERTIFICATE-----")
    {
        return Err(bad("holds no PEM certificate".into()));
    }
    Certificate::from_pem(&pem).map_err(|e| bad(chain(&e)))
}

/// The envelope for one outbox row: from `mail.from`'s address to the
/// row's bare recipient.
///
/// # Errors
/// [`SendError::Permanent`] when the recipient is not an address.
pub fn envelope(from: &Address, recipient: &str) -> Result<Envelope, SendError> {
    let to: Address = recipient
        .trim()
        .parse()
        .map_err(|e| SendError::Permanent(format!("bad recipient address {recipient:?}: {e}")))?;
    Envelope::new(Some(from.clone()), vec![to])
        .map_err(|e| SendError::Permanent(format!("bad envelope: {e}")))
}

/// The envelope sender: the address part of `mail.from`.
///
/// # Errors
/// [`SetupError::From`] when `mail.from` is not a mailbox.
pub fn sender(mail: &MailSettings) -> Result<Address, SetupError> {
    mail.from
        .parse::<Mailbox>()
        .map(|m| m.email)
        .map_err(|_| SetupError::From(mail.from.clone()))
}

/// Sorts an SMTP error: 5xx is permanent (except AUTH codes), everything
/// else (4xx, refused, reset, timeout, TLS) is temporary.
fn classify_smtp(err: &lettre::transport::smtp::Error, target: &str) -> SendError {
    if let Some(code) = err.status() {
        let number = u16::from(code);
        let reply = std::error::Error::source(err)
            .map(ToString::to_string)
            .unwrap_or_default();
        let text = format!("{number} {}", reply.trim()).trim().to_owned();
        return if err.is_permanent() && !AUTH_CODES.contains(&number) {
            SendError::Permanent(text)
        } else {
            SendError::Temporary(text)
        };
    }
    if let Some(io) = io_source(err) {
        return classify_io(io, target);
    }
    if err.is_tls() {
        return SendError::Temporary(format!("TLS with {target} failed: {}", chain(err)));
    }
    SendError::Temporary(format!("{target}: {}", chain(err)))
}

/// Sorts a socket-level failure: always temporary, said plainly.
fn classify_io(io: &std::io::Error, target: &str) -> SendError {
    use std::io::ErrorKind as K;
    {
        let what = match io.kind() {
            K::ConnectionRefused => "connection refused".to_owned(),
            K::TimedOut => "timed out connecting".to_owned(),
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
                "connection dropped".to_owned()
            }
            // rustls reports handshake failures as InvalidData.
            K::InvalidData => {
                let hint = if io.to_string().contains("UnknownIssuer") {
                    "; is the relay's CA in mail.smtp.ca_file?"
                } else {
                    ""
                };
                return SendError::Temporary(format!(
                    "TLS handshake with {target} failed: {io}{hint}"
                ));
            }
            _ => io.to_string(),
        };
        SendError::Temporary(format!("{what} ({target})"))
    }
}

fn io_source<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        source = e.source();
    }
    None
}

/// An error and its causes on one line.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_recipient_is_permanent() {
        let from: Address = "support@example.com".parse().unwrap();
        let err = envelope(&from, "not an address").unwrap_err();
        assert!(err.is_permanent(), "{err}");
        assert!(envelope(&from, "ada@example.com").is_ok());
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_refused_up_front() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "hello").unwrap();
        let err = ca_certificate(path.to_str().unwrap()).unwrap_err();
        assert!(err.to_string().contains("no PEM certificate"), "{err}");
        let err = ca_certificate("/nonexistent/ca.pem").unwrap_err();
        assert!(err.to_string().contains("mail.smtp.ca_file"), "{err}");
    }
}
