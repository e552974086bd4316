//! The long-running commands: `serve`, `worker` and `ssh-serve`. Each
//! runs until SIGTERM or Ctrl-C, logs at `log.level`, and serves
//! `/healthz`, `/readyz` and `/metrics` on `diag.listen` when it is set.

use color_eyre::eyre::{Result, WrapErr};

use super::{EX_CONFIG, Failure, open_store};
use crate::desk::Desk;
use crate::settings::Settings;
use crate::store::Store;

/// A desk for a service. Desk refuses only settings it cannot use (the
/// pepper file, the mail templates, the argon2 parameters): a bad
/// setting, so exit 78 and no restart loop.
pub(super) fn service_desk(store: Store, settings: Settings) -> Result<Desk> {
    Desk::new(store, settings, crate::clock::Clock::system())
        .map_err(|e| Failure::new(EX_CONFIG, format!("settings: {e}")).into())
}

/// Starts the diagnostics endpoint when `diag.listen` is set.
async fn diag(settings: &Settings, store: &Store) -> Result<Option<crate::diag::DiagServer>> {
    Ok(crate::diag::start(&settings.diag.listen, store.clone()).await?)
}

/// `keydesk serve`: the customer site on `site.listen` and the outbox
/// worker, in one process, until SIGTERM or Ctrl-C; then the requests in
/// flight finish and the worker stops after its current message.
pub(super) async fn serve_site(settings: Settings) -> Result<i32> {
    let store = open_store(&settings).await?;
    let listen = settings.site.listen.clone();
    let base_url = settings.site.base_url.clone();
    let clock = crate::clock::Clock::system();
    let desk = service_desk(store.clone(), settings.clone())?;
    // The desk wakes this worker after every commit that queues mail.
    let worker =
        crate::mail::worker::Worker::new(store.clone(), &settings, clock, desk.outbox_wake())?;
    let transport = worker.transport_label().to_owned();
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .wrap_err_with(|| format!("binding site.listen {listen}"))?;
    let _diag = diag(&settings, &store).await?;
    let worker = worker.spawn();
    // Listening for SIGTERM before saying it is ready.
    let stop = crate::mail::admin::stop_signal();
    tracing::info!(
        "customer site on http://{} (links use {base_url}); mail via {transport}",
        listener.local_addr()?
    );
    let served = crate::site::serve(desk, listener, stop).await;
    worker.stop().await;
    served?;
    Ok(0)
}

/// `keydesk worker`: the outbox worker alone.
pub(super) async fn worker(settings: Settings) -> Result<i32> {
    let store = open_store(&settings).await?;
    let _diag = diag(&settings, &store).await?;
    crate::mail::admin::run_worker(store, &settings).await?;
    Ok(0)
}

/// `keydesk ssh-serve`: the console over SSH until SIGTERM or Ctrl-C.
pub(super) async fn serve_ssh(settings: Settings) -> Result<i32> {
    let store = open_store(&settings).await?;
    let _diag = diag(&settings, &store).await?;
    let desk = service_desk(store, settings)?;
    crate::ssh::serve(desk, crate::mail::admin::stop_signal()).await?;
    Ok(0)
}

/// A command is a short-lived process with no worker of its own: after
/// queueing mail it makes one bounded delivery pass, so the usual path to
/// the inbox needs no `keydesk worker`, then says where the email stands.
/// A failure here loses nothing: the row stays queued for any worker.
pub(super) async fn deliver_now(desk: &Desk, contact_id: i64) -> String {
    let settings = desk.settings();
    let pass = match desk.outbox_worker() {
        Ok(worker) => {
            let limit = settings.mail.smtp.timeout + std::time::Duration::from_secs(2);
            match tokio::time::timeout(limit, worker.deliver_due()).await {
                Ok(Ok(_)) => None,
                Ok(Err(err)) => Some(err.to_string()),
                Err(_) => Some("delivery is taking longer than expected".to_owned()),
            }
        }
        Err(err) => Some(err.to_string()),
    };
    let state = crate::mail::queue::latest_for_contact(desk.store().conn(), contact_id)
        .await
        .ok()
        .flatten()
        .map(|row| crate::mail::delivery_state::describe_delivery(&row, desk.clock().now()));
    match (state, pass) {
        (Some(state), None) => state,
        (Some(state), Some(problem)) => {
            format!("{state} ({problem}; `keydesk worker` or `keydesk serve` will retry)")
        }
        (None, Some(problem)) => {
            format!("email queued ({problem}; `keydesk worker` or `keydesk serve` will retry)")
        }
        (None, None) => "email queued".to_owned(),
    }
}
