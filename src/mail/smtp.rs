//! An SMTP client pool over lettre's SMTP connection, with Nagle's
//! algorithm off.
//!
//! Why not lettre's own pooled transport: it writes the message and then
//! the `.` terminator as two small writes before reading the reply, and
//! with Nagle on, the terminator waits for the server's delayed ACK: about
//! 40 ms per message on Linux, even on loopback. Opening the TCP socket
//! here lets us set `TCP_NODELAY`; lettre still speaks the protocol
//! (greeting, EHLO, STARTTLS, AUTH, MAIL/RCPT/DATA, dot-stuffing).
//!
//! A connection that saw any error, or whose send was cut off by the
//! deadline, is dropped, never reused, so a pooled connection is always
//! in step with its server. Implicit TLS (`tls = "tls"`, port 465) uses
//! lettre's own connect, which keeps Nagle on.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::Error as LettreError;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

/// How the connection is secured.
pub(crate) enum Security {
    /// Plain text.
    None,
    /// STARTTLS, required.
    Starttls(TlsParameters),
    /// TLS from the first byte.
    Wrapper(TlsParameters),
}

/// Why a send failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The TCP connection could not be made.
    Connect(std::io::Error),
    /// lettre reported an SMTP, TLS or network error.
    Smtp(LettreError),
}

/// Where and how to connect.
pub(crate) struct Relay {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub credentials: Option<Credentials>,
    pub timeout: Duration,
    pub max_idle: usize,
}

/// Idle connections are not kept longer than this (relays close them).
const IDLE_LIMIT: Duration = Duration::from_secs(60);

/// A pool of open connections to one relay.
pub(crate) struct Pool {
    relay: Relay,
    hello: ClientId,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl Pool {
    pub(crate) fn new(relay: Relay) -> Self {
        Self {
            relay,
            hello: ClientId::default(),
            idle: Mutex::new(Vec::new()),
        }
    }

    fn take_idle(&self) -> Vec<(AsyncSmtpConnection, Instant)> {
        match self.idle.lock() {
            Ok(mut idle) => std::mem::take(&mut *idle),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }

    /// A connection that answers: a pooled one that passes NOOP, or a new one.
    async fn checkout(&self) -> Result<AsyncSmtpConnection, Failure> {
        loop {
            let candidate = {
                let mut idle = match self.idle.lock() {
                    Ok(idle) => idle,
                    Err(poisoned) => poisoned.into_inner(),
                };
                idle.pop()
            };
            let Some((mut conn, since)) = candidate else {
                return self.connect().await;
            };
            if since.elapsed() < IDLE_LIMIT && conn.test_connected().await {
                return Ok(conn);
            }
            conn.abort().await;
        }
    }

    fn checkin(&self, conn: AsyncSmtpConnection) {
        if conn.has_broken() {
            return;
        }
        let mut idle = match self.idle.lock() {
            Ok(idle) => idle,
            Err(poisoned) => poisoned.into_inner(),
        };
        if idle.len() < self.relay.max_idle {
            idle.push((conn, Instant::now()));
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, Failure> {
        let r = &self.relay;
        let mut conn = match &r.security {
            Security::Wrapper(params) => AsyncSmtpConnection::connect_tokio1(
                (r.host.as_str(), r.port),
                Some(r.timeout),
                &self.hello,
                Some(params.clone()),
                None,
            )
            .await
            .map_err(Failure::Smtp)?,
            Security::None | Security::Starttls(_) => {
                let tcp = tokio::time::timeout(
                    r.timeout,
                    tokio::net::TcpStream::connect((r.host.as_str(), r.port)),
                )
                .await
                .map_err(|_| {
                    Failure::Connect(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "connection timed out",
                    ))
                })?
                .map_err(Failure::Connect)?;
                tcp.set_nodelay(true).map_err(Failure::Connect)?;
                let mut conn =
                    AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
                        .await
                        .map_err(Failure::Smtp)?;
                if let Security::Starttls(params) = &r.security {
                    // Required, never opportunistic: a relay that does not offer
                    // STARTTLS gets nothing, not a plain-text message.
                    conn.starttls(params.clone(), &self.hello)
                        .await
                        .map_err(Failure::Smtp)?;
                }
                conn
            }
        };
        if let Some(credentials) = &r.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(Failure::Smtp)?;
        }
        Ok(conn)
    }

    /// Sends one message. The caller bounds the time; if it gives up, the
    /// connection is dropped with this future and never reused.
    pub(crate) async fn send(&self, envelope: &Envelope, raw: &[u8]) -> Result<(), Failure> {
        let mut conn = self.checkout().await?;
        match conn.send(envelope, raw).await {
            Ok(_) => {
                self.checkin(conn);
                Ok(())
            }
            // lettre has already sent QUIT and marked the connection broken.
            Err(err) => Err(Failure::Smtp(err)),
        }
    }

    /// Opens a connection as a send would (greeting, EHLO, STARTTLS, AUTH)
    /// and says QUIT, sending nothing: `keydesk doctor`'s question.
    pub(crate) async fn probe(&self) -> Result<(), Failure> {
        let mut conn = self.connect().await?;
        let _ = conn.quit().await;
        Ok(())
    }

    /// Says QUIT on every idle connection.
    pub(crate) async fn shutdown(&self) {
        for (mut conn, _) in self.take_idle() {
            conn.abort().await;
        }
    }
}
