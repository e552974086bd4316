//! `keydesk ssh-serve`: the console over SSH, served by keydesk itself, so
//! an agent needs no account or shell on the jump box.
//!
//! russh (with ring; no OpenSSL, no aws-lc) listens on `ssh.listen` with an
//! Ed25519 host key kept in the data dir ([`host_key`]). Operators sign in
//! with a public key registered by `keydesk operators add-key`; the key
//! decides the operator, so every audit row of the session names them,
//! with the client's address as the source ([`handler`]). Each pty session
//! runs its own console ([`session`]): the same runtime as the local
//! terminal, with keys parsed from the channel's bytes ([`input`]).
//!
//! Hardened as OpenSSH is: only strong algorithms ([`algorithms`]), and
//! before authentication a gate on new connections per address and on
//! unauthenticated ones ([`preauth`]) in the accept loop ([`accept`]),
//! with `ssh.login_grace` to finish signing in.

pub mod accept;
pub mod algorithms;
pub mod handler;
pub mod host_key;
pub mod input;
pub mod preauth;
pub mod session;
pub mod throttle;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use russh::MethodKind;
use tokio::sync::watch;

use crate::desk::Desk;

/// How long stopping waits for sessions to restore their clients' terminals.
pub const DRAIN: Duration = Duration::from_secs(3);

/// What can stop `ssh-serve` from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The host key could not be read or made.
    #[error(transparent)]
    HostKey(#[from] host_key::HostKeyError),
    /// The mail transport could not be set up.
    #[error("mail transport: {0}")]
    Mail(#[from] crate::mail::transport::SetupError),
    /// The address could not be bound.
    #[error("binding ssh.listen {listen}: {source}")]
    Bind {
        /// `ssh.listen`.
        listen: String,
        /// Why.
        source: std::io::Error,
    },
    /// The listener failed.
    #[error("ssh server: {0}")]
    Io(#[from] std::io::Error),
}

/// How long connection tasks may take to go once told to.
const CLOSE_DRAIN: Duration = Duration::from_secs(3);

/// The russh settings: the algorithms of [`algorithms`], public keys only,
/// the host key, Nagle off (each keystroke's frame goes out at once),
/// keepalives to notice dead clients, and silent connections dropped after
/// the idle time (unauthenticated ones much sooner: [`accept`]).
fn config(key: russh::keys::PrivateKey, idle: Duration) -> russh::server::Config {
    let mut methods = russh::MethodSet::empty();
    methods.push(MethodKind::PublicKey);
    russh::server::Config {
        server_id: russh::SshId::Standard("SSH-2.0-keydesk".into()),
        methods,
        keys: vec![key],
        auth_rejection_time: Duration::from_millis(500),
        // OpenSSH's opening "none" probe is answered at once.
        auth_rejection_time_initial: Some(Duration::ZERO),
        max_auth_attempts: 6,
        inactivity_timeout: Some(idle + Duration::from_secs(60)),
        keepalive_interval: Some(Duration::from_secs(30)),
        keepalive_max: 3,
        nodelay: true,
        preferred: algorithms::preferred(),
        ..Default::default()
    }
}

/// Serves the console on `ssh.listen` until `shutdown` resolves, then asks
/// every session to end (restoring its client's terminal) and stops.
/// Prints the bound address and the host key's fingerprint first.
///
/// # Errors
/// [`ServeError`] when the host key, the mail transport or the address
/// cannot be had.
pub async fn serve(desk: Desk, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
    let settings = desk.settings().clone();
    let key_path = host_key::path(&settings.ssh.host_key, &settings.data_dir);
    let (key, generated) = host_key::load_or_generate(&key_path)?;
    let fingerprint = host_key::fingerprint(&key);
    let (worker, transport_label) = crate::tui::spawn_worker(&desk)?;
    let listener = tokio::net::TcpListener::bind(&settings.ssh.listen)
        .await
        .map_err(|source| ServeError::Bind {
            listen: settings.ssh.listen.clone(),
            source,
        })?;
    let address = listener.local_addr()?;
    println!(
        "keydesk ssh-serve on {address}\nhost key {fingerprint} (ed25519, {}{})",
        key_path.display(),
        if generated { ", generated now" } else { "" }
    );
    if !matches!(desk.any_operator_keys().await, Ok(true)) {
        println!(
            "no operator has a key yet: add one with `keydesk operators add-key NAME --file KEY.pub`"
        );
    }
    tracing::info!(%address, %fingerprint, "ssh-serve listening");

    let (stop_tx, stopping) = watch::channel(false);
    let (close_tx, close) = watch::channel(false);
    let active = Arc::new(AtomicUsize::new(0));
    let state = handler::ServerState {
        shared: session::Shared {
            searcher: desk.start_searcher(),
            desk,
            transport_label,
            idle_timeout: settings.ssh.idle_timeout,
            max_session: settings.ssh.max_session,
            active: Arc::clone(&active),
            stopping,
        },
        throttle: Arc::new(throttle::AuthThrottle::new()),
    };
    let ssh = &settings.ssh;
    let accept = accept::Accept {
        config: Arc::new(config(key, ssh.idle_timeout)),
        state,
        gate: preauth::Gate::new(preauth::Limits {
            per_address_rate: ssh.per_address_rate,
            max_startups_per_address: ssh.max_startups_per_address,
            max_startups: ssh.max_startups,
        }),
        login_grace: ssh.login_grace,
        close,
    };
    let served = accept::run(&listener, accept, shutdown).await;
    drop(listener);
    // Sessions restore their clients' terminals and close their channels.
    let _ = stop_tx.send(true);
    let deadline = tokio::time::Instant::now() + DRAIN;
    while active.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Then every connection still open is disconnected.
    let _ = close_tx.send(true);
    let result = match served {
        Ok(mut tasks) => {
            let _ = tokio::time::timeout(CLOSE_DRAIN, async {
                while tasks.join_next().await.is_some() {}
            })
            .await;
            Ok(())
        }
        Err(err) => Err(ServeError::from(err)),
    };
    worker.stop().await;
    tracing::info!("ssh-serve stopped");
    result
}
