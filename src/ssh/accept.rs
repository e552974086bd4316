//! The accept loop of `ssh-serve`: each new connection passes the
//! [`preauth`](super::preauth) gate before russh writes a byte or does any
//! key exchange; one refused is closed at once, unanswered. An admitted
//! connection that has not authenticated within `ssh.login_grace` is
//! disconnected (one that sends nothing at all is simply closed).

use std::sync::Arc;
use std::time::Duration;

use russh::Disconnect;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::handler::{Connection, ServerState};
use super::preauth::{Gate, Refusal};

/// How often refusals at the gate are summed up in the log (one line per
/// refused connection would let a flood fill the disk).
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// How long a disconnected connection may take to go.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// What every connection task needs.
#[derive(Clone)]
pub struct Accept {
    /// russh's settings (algorithms, keys, timeouts).
    pub config: Arc<russh::server::Config>,
    /// Shared with every connection handler.
    pub state: ServerState,
    /// The limits before authentication.
    pub gate: Arc<Gate>,
    /// `ssh.login_grace`.
    pub login_grace: Duration,
    /// Becomes `true` when every connection must go.
    pub close: watch::Receiver<bool>,
}

/// Refusals at the gate since the last log line.
#[derive(Debug, Default)]
struct Refused {
    rate: u64,
    address: u64,
    total: u64,
    since: Option<Instant>,
}

impl Refused {
    fn count(&mut self, why: Refusal, peer: std::net::SocketAddr) {
        tracing::debug!(%peer, limit = why.setting(), "ssh connection refused before key exchange");
        match why {
            Refusal::Rate => self.rate += 1,
            Refusal::AddressStartups => self.address += 1,
            Refusal::Startups => self.total += 1,
        }
        let since = *self.since.get_or_insert_with(Instant::now);
        if since.elapsed() >= REPORT_EVERY {
            self.report();
        }
    }

    fn report(&mut self) {
        if self.rate + self.address + self.total > 0 {
            tracing::warn!(
                per_address_rate = self.rate,
                max_startups_per_address = self.address,
                max_startups = self.total,
                "ssh connections closed before key exchange, by the limit that refused them"
            );
        }
        *self = Self::default();
    }
}

/// Accepts connections on `listener` until `stop` resolves; every
/// connection task is then left to end when `accept.close` turns `true`,
/// and awaited a short while.
///
/// # Errors
/// The listener's I/O error.
pub async fn run(
    listener: &TcpListener,
    accept: Accept,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<JoinSet<()>> {
    tokio::pin!(stop);
    let mut tasks = JoinSet::new();
    let mut refused = Refused::default();
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                // Out of descriptors and the like: wait, keep serving.
                Err(err) if is_transient(&err) => {
                    tracing::warn!(error = %err, "ssh accept failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                Err(err) => return Err(err),
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
        };
        match accept
            .gate
            .admit(peer.ip().to_canonical(), std::time::Instant::now())
        {
            Ok(startup) => {
                let accept = accept.clone();
                tasks.spawn(async move { connection(accept, stream, peer, startup).await });
            }
            // Dropping the stream closes it: no banner, no key exchange.
            Err(why) => refused.count(why, peer),
        }
    }
    refused.report();
    Ok(tasks)
}

/// Errors `accept` can recover from by waiting.
fn is_transient(err: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        err.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted
    ) || matches!(err.raw_os_error(), Some(23 | 24))
}

/// One connection: russh's session, bounded by `ssh.login_grace` until it
/// authenticates, and by `accept.close` after.
async fn connection(
    accept: Accept,
    stream: TcpStream,
    peer: std::net::SocketAddr,
    startup: super::preauth::Startup,
) {
    if let Err(err) = stream.set_nodelay(accept.config.nodelay) {
        tracing::debug!(error = %err, "set_nodelay failed");
    }
    // A second handle on the socket: shutting it down ends russh's reads
    // and writes at once, whatever state its session is in (a disconnect
    // message waits behind an unfinished key exchange).
    let (stream, socket) = match detachable(stream) {
        Ok(pair) => pair,
        Err(err) => {
            tracing::debug!(%peer, error = %err, "cannot take a handle on the socket");
            return;
        }
    };
    serve_connection(accept, stream, peer, startup).await;
    let _ = socket.shutdown(std::net::Shutdown::Both);
}

/// Resolves when every connection must go (or the server is gone).
async fn closing(close: &mut watch::Receiver<bool>) {
    let _ = close.wait_for(|c| *c).await;
}

/// `stream`, and a duplicate of its socket to shut it down with.
fn detachable(stream: TcpStream) -> std::io::Result<(TcpStream, std::net::TcpStream)> {
    let std_stream = stream.into_std()?;
    let socket = std_stream.try_clone()?;
    Ok((TcpStream::from_std(std_stream)?, socket))
}

/// Runs the session until it ends, the grace passes unauthenticated, or
/// the server closes every connection; the caller then shuts the socket.
async fn serve_connection(
    accept: Accept,
    stream: TcpStream,
    peer: std::net::SocketAddr,
    startup: super::preauth::Startup,
) {
    let mut authenticated = startup.watch();
    let mut close = accept.close.clone();
    let deadline = Instant::now() + accept.login_grace;
    let handler = Connection::new(accept.state.clone(), Some(peer), startup);
    let session = tokio::select! {
        started = russh::server::run_stream(Arc::clone(&accept.config), stream, handler) => match started {
            Ok(session) => session,
            Err(err) => {
                tracing::debug!(%peer, error = %err, "ssh connection ended before key exchange");
                return;
            }
        },
        // Nothing (or no SSH identification) within the grace.
        () = tokio::time::sleep_until(deadline) => {
            tracing::info!(%peer, "ssh connection closed: not authenticated within ssh.login_grace");
            return;
        }
        () = closing(&mut close) => return,
    };
    let handle = session.handle();
    tokio::pin!(session);
    let grace_over = async {
        tokio::time::sleep_until(deadline).await;
        if *authenticated.borrow_and_update() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        ended = &mut session => {
            if let Err(err) = ended {
                // Clients that go away mid-handshake land here; nothing to act on.
                tracing::debug!(%peer, error = %err, "ssh connection ended with an error");
            }
        }
        // As OpenSSH's LoginGraceTime: closed without more ado.
        () = grace_over => {
            tracing::info!(%peer, "ssh connection closed: not authenticated within ssh.login_grace");
        }
        () = closing(&mut close) => {
            let _ = handle
                .disconnect(Disconnect::ByApplication, "keydesk ssh-serve is stopping".into(), String::new())
                .await;
            let _ = tokio::time::timeout(CLOSE_WAIT, &mut session).await;
        }
    }
}
