//! The diagnostics endpoint on `diag.listen` (empty = off), served by
//! `serve`, `worker` and `ssh-serve` beside their real work:
//!
//! - `/healthz`: 200 while the process runs (a liveness probe);
//! - `/readyz`: 200 only when the store answers and its schema is what
//!   this keydesk expects, else 503 with one line saying why; asked
//!   afresh each time, so it recovers by itself when the store does;
//! - `/metrics`: [`metrics::Metrics`] in the Prometheus text format.
//!
//! It answers on its own address so that a firewall can keep it for the
//! monitoring network; it shows no customer data.

pub mod metrics;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::store::Store;

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
#[error("binding diag.listen {listen}: {source}")]
pub struct DiagError {
    /// The address asked for.
    pub listen: String,
    /// Why binding failed.
    pub source: std::io::Error,
}

/// The running endpoint; dropping it stops it.
#[derive(Debug)]
pub struct DiagServer {
    address: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl DiagServer {
    /// The address it answers on.
    #[must_use]
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

impl Drop for DiagServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `listen` now (so a taken port stops the command at start) and
/// serves the endpoint in a task; `None` when `listen` is empty.
///
/// # Errors
/// [`DiagError`] when the address cannot be bound.
pub async fn start(listen: &str, store: Store) -> Result<Option<DiagServer>, DiagError> {
    if listen.is_empty() {
        return Ok(None);
    }
    let bind_error = |source| DiagError {
        listen: listen.to_owned(),
        source,
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(bind_error)?;
    let address = listener.local_addr().map_err(bind_error)?;
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_page))
        .with_state(store);
    tracing::info!(%address, "diagnostics on /healthz, /readyz, /metrics");
    let task = tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            tracing::warn!(error = %err, "the diagnostics endpoint stopped");
        }
    });
    Ok(Some(DiagServer { address, task }))
}

/// Whether this process can serve: the store answers and its schema is
/// current; otherwise the one-line reason.
///
/// # Errors
/// The reason, in words.
pub async fn readiness(store: &Store) -> Result<(), String> {
    store.ping().await.map_err(|e| format!("store: {e}"))?;
    let status = crate::store::schema::status(store.conn())
        .await
        .map_err(|e| format!("store: {e}"))?;
    match status.problem() {
        Some(problem) => Err(format!("schema: {problem}")),
        None => Ok(()),
    }
}

async fn readyz(State(store): State<Store>) -> Response {
    match readiness(&store).await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", reason.replace(['\n', '\r'], " ")),
        )
            .into_response(),
    }
}

async fn metrics_page(State(store): State<Store>) -> Response {
    let m = metrics::metrics();
    // The outbox is shared by every process on the store: read it now. If
    // the store is down the last values stay, and /readyz says why.
    let db = store.conn();
    match (
        crate::mail::queue::count_by_state(db).await,
        crate::mail::queue::oldest_waiting(db).await,
    ) {
        (Ok(counts), Ok(oldest)) => {
            let age = oldest.map_or(0.0, |at| {
                (chrono::Utc::now() - at).num_milliseconds() as f64 / 1000.0
            });
            m.observe_outbox(&counts, age);
        }
        (Err(err), _) | (_, Err(err)) => {
            tracing::debug!(error = %err, "outbox metrics not refreshed");
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        m.render(),
    )
        .into_response()
}
