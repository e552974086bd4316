//! The delivery worker: claims due outbox rows, sends them, records the
//! outcome, and sleeps until woken, until the next row is due, or until
//! `outbox.poll_interval` has passed.
//!
//! It runs inside every long-lived keydesk process and on its own
//! (`keydesk worker`); several may share one PostgreSQL or MariaDB store
//! (see [`super::queue`] for how a claim keeps them from sending a message
//! twice). A dead relay or a dead database never ends it: it logs, waits
//! and tries again.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::Address;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::backoff;
use super::queue::{self, Lease};
use super::transport::{self, SendError, SetupError, Transport};
use crate::clock::{Clock, delta};
use crate::settings::{MailSettings, OutboxSettings, Settings};
use crate::store::entity::outbox;
use crate::store::{Store, StoreError};

/// What one pass over the due rows did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Delivered.
    pub sent: usize,
    /// Failed temporarily and scheduled again.
    pub retried: usize,
    /// Refused for good, or out of attempts.
    pub failed: usize,
    /// Not sent because the reset link died first.
    pub expired: usize,
    /// Outcomes not recorded because another worker took the row over.
    pub lost_leases: usize,
    /// `mail.max_per_minute` was reached: nothing more goes out before then.
    pub throttled_until: Option<DateTime<Utc>>,
}

impl Pass {
    fn add(&mut self, other: Self) {
        self.sent += other.sent;
        self.retried += other.retried;
        self.failed += other.failed;
        self.expired += other.expired;
        self.lost_leases += other.lost_leases;
        self.throttled_until = other.throttled_until.or(self.throttled_until);
    }

    /// Whether anything was claimed at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        Self {
            throttled_until: None,
            ..*self
        } == Self::default()
    }
}

/// The delivery worker. Build it with [`Worker::new`], then either
/// [`Worker::run`] it (or [`Worker::spawn`] it) or call
/// [`Worker::deliver_due`] for one pass.
pub struct Worker {
    store: Store,
    clock: Clock,
    wake: Arc<Notify>,
    mail: MailSettings,
    outbox: OutboxSettings,
    from: Address,
    transport: Arc<Transport>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("transport", &self.transport.label())
            .finish_non_exhaustive()
    }
}

/// A running worker; stop it with [`WorkerHandle::stop`].
#[derive(Debug)]
pub struct WorkerHandle {
    stop: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl WorkerHandle {
    /// Asks the worker to stop after the message it is sending, and waits.
    pub async fn stop(self) {
        self.stop.notify_one();
        if let Err(err) = self.task.await {
            tracing::error!(%err, "the mail worker task ended abnormally");
        }
    }
}

impl Worker {
    /// A worker over `store`, sending with the transport `settings` name.
    /// `wake` is the desk's notifier: `notify_one()` after queueing a
    /// message makes the worker look at once. Build it inside the Tokio
    /// runtime that will run it (lettre's SMTP pool keeps a task there).
    ///
    /// # Errors
    /// A [`SetupError`] when the transport cannot be built (bad CA file,
    /// unwritable mail folder, bad `mail.from`).
    pub fn new(
        store: Store,
        settings: &Settings,
        clock: Clock,
        wake: Arc<Notify>,
    ) -> Result<Self, SetupError> {
        Ok(Self {
            transport: Arc::new(Transport::from_settings(&settings.mail)?),
            from: transport::sender(&settings.mail)?,
            store,
            clock,
            wake,
            mail: settings.mail.clone(),
            outbox: settings.outbox.clone(),
        })
    }

    /// The transport's label, e.g. `smtp relay:587 (starttls)`.
    #[must_use]
    pub fn transport_label(&self) -> &str {
        self.transport.label()
    }

    /// How many rows one claim takes: as many as can be sent at once.
    fn batch(&self) -> usize {
        if self.transport.is_smtp() {
            usize::try_from(self.mail.smtp.pool_size)
                .unwrap_or(1)
                .max(1)
        } else {
            4
        }
    }

    /// Delivers every row due now, claim by claim, until none is left.
    ///
    /// # Errors
    /// When the store fails; what was already recorded stays recorded.
    pub async fn deliver_due(&self) -> Result<Pass, StoreError> {
        let mut total = Pass::default();
        loop {
            let pass = self.deliver_batch().await?;
            total.add(pass);
            if pass.is_empty() {
                return Ok(total);
            }
        }
    }

    /// Claims one batch and delivers it.
    async fn deliver_batch(&self) -> Result<Pass, StoreError> {
        let now = self.clock.now();
        let lease_until = now + delta(self.outbox.claim_timeout);
        let claim = queue::claim_at_rate(
            &self.store,
            now,
            lease_until,
            self.batch() as u64,
            Some(self.mail.max_per_minute),
        )
        .await?;
        let mut pass = Pass {
            expired: claim.expired.len(),
            throttled_until: claim.throttled_until,
            ..Pass::default()
        };
        for _ in &claim.expired {
            count_delivery("expired");
        }
        for id in &claim.expired {
            tracing::info!(outbox = id, "reset email not sent: its link died first");
        }
        let mut sends = JoinSet::new();
        for row in claim.rows {
            let transport = Arc::clone(&self.transport);
            let from = self.from.clone();
            sends.spawn(async move {
                let timer = crate::diag::metrics::metrics()
                    .delivery_seconds
                    .start_timer();
                let outcome = send_row(&transport, &from, &row).await;
                timer.observe_duration();
                (row, outcome)
            });
        }
        // Every send finishes before anything is recorded: a store error while
        // recording must not cancel a send half-way through its conversation.
        let mut outcomes = Vec::new();
        while let Some(joined) = sends.join_next().await {
            match joined {
                Ok(done) => outcomes.push(done),
                // A panic in a send: the lease runs out and the row is claimed again.
                Err(err) => tracing::error!(%err, "a send task failed"),
            }
        }
        let mut first_error = None;
        for (row, outcome) in outcomes {
            match self.record(&row, outcome).await {
                Ok(recorded) => pass.add(recorded),
                Err(err) => {
                    first_error.get_or_insert(err);
                }
            }
        }
        match first_error {
            Some(err) => Err(err),
            None => Ok(pass),
        }
    }

    /// Writes the outcome of one send.
    async fn record(
        &self,
        row: &outbox::Model,
        outcome: Result<(), SendError>,
    ) -> Result<Pass, StoreError> {
        let Some(until) = row.claimed_until else {
            return Ok(Pass::default());
        };
        let lease = Lease { id: row.id, until };
        let db = self.store.conn();
        let mut pass = Pass::default();
        let kept = match outcome {
            Ok(()) => {
                tracing::info!(outbox = row.id, kind = ?row.kind, attempt = row.attempts, via = %self.transport.label(), "email delivered");
                pass.sent = 1;
                count_delivery("sent");
                let now = self.clock.now();
                persist(|| queue::mark_sent(db, lease, now)).await?
            }
            Err(SendError::Permanent(reason)) => {
                tracing::warn!(outbox = row.id, kind = ?row.kind, reason = ?reason, "email refused for good");
                pass.failed = 1;
                count_delivery("failed");
                persist(|| queue::mark_failed(db, lease, &reason)).await?
            }
            Err(SendError::Temporary(reason) | SendError::TimedOut(reason)) => {
                let attempts = u32::try_from(row.attempts).unwrap_or(u32::MAX);
                if attempts >= self.outbox.max_attempts {
                    tracing::warn!(outbox = row.id, kind = ?row.kind, attempts, reason = ?reason, "email given up after the last attempt");
                    pass.failed = 1;
                    count_delivery("failed");
                    let reason = format!("gave up after {attempts} attempts: {reason}");
                    persist(|| queue::mark_failed(db, lease, &reason)).await?
                } else {
                    let wait = backoff::delay(&self.outbox, attempts);
                    tracing::info!(outbox = row.id, kind = ?row.kind, attempts, reason = ?reason, retry_in = %humantime::format_duration(Duration::from_secs(wait.as_secs())), "email delivery failed; will retry");
                    pass.retried = 1;
                    count_delivery("retry");
                    let next_at = self.clock.now() + delta(wait);
                    persist(|| queue::mark_retry(db, lease, next_at, &reason)).await?
                }
            }
        };
        if !kept {
            tracing::warn!(
                outbox = row.id,
                "the claim ran out before the outcome was recorded; another worker has the row"
            );
            return Ok(Pass {
                lost_leases: 1,
                ..Pass::default()
            });
        }
        Ok(pass)
    }

    /// How long to sleep: until the next row is due, at most
    /// `poll_interval`, at least a moment (a clock skew between processes
    /// must not make it spin).
    async fn idle_for(&self) -> Duration {
        let poll = self.outbox.poll_interval;
        match queue::next_due(self.store.conn()).await {
            Ok(Some(at)) => (at - self.clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .clamp(Duration::from_millis(20), poll),
            Ok(None) => poll,
            Err(_) => poll,
        }
    }

    /// Delivers until `shutdown` completes: every due row, then a wait for
    /// the wake notifier, the next due time or the poll interval. A store
    /// or relay failure is logged and retried; it never ends the loop. A
    /// message being sent when `shutdown` fires is finished first.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = pin!(shutdown);
        let wake = Arc::clone(&self.wake);
        let mut store_down = false;
        tracing::info!(via = %self.transport.label(), max_per_minute = self.mail.max_per_minute, "mail worker started");
        loop {
            let mut throttled_until = None;
            // Registered before looking, so a wake that lands while this pass
            // runs is not lost even if the desk uses notify_waiters.
            let mut notified = pin!(wake.notified());
            notified.as_mut().enable();
            loop {
                let stop_now = tokio::select! {
                    biased;
                    () = &mut shutdown => true,
                    () = std::future::ready(()) => false,
                };
                if stop_now {
                    self.transport.shutdown().await;
                    tracing::info!("mail worker stopped");
                    return;
                }
                match self.deliver_batch().await {
                    Ok(pass) => {
                        store_down = false;
                        throttled_until = pass.throttled_until;
                        if pass.is_empty() || throttled_until.is_some() {
                            break;
                        }
                    }
                    Err(err) => {
                        if !store_down {
                            tracing::warn!(%err, "mail worker cannot read the outbox; will keep trying");
                        }
                        store_down = true;
                        break;
                    }
                }
            }
            let idle = if store_down {
                self.outbox.poll_interval
            } else if let Some(until) = throttled_until {
                // The rate limit, not the queue, decides when to look again.
                (until - self.clock.now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .clamp(Duration::from_millis(20), self.outbox.poll_interval)
            } else {
                self.idle_for().await
            };
            tokio::select! {
                biased;
                () = &mut shutdown => {
                    self.transport.shutdown().await;
                    tracing::info!("mail worker stopped");
                    return;
                }
                () = notified => {}
                () = tokio::time::sleep(idle) => {}
            }
        }
    }

    /// Runs the worker in a task until [`WorkerHandle::stop`].
    #[must_use]
    pub fn spawn(self) -> WorkerHandle {
        let stop = Arc::new(Notify::new());
        let signal = Arc::clone(&stop);
        let task = tokio::spawn(self.run(async move { signal.notified().await }));
        WorkerHandle { stop, task }
    }
}

/// Runs a store write, retrying for a while when the database is
/// unavailable: an outcome that is not recorded means the message is sent
/// again once its lease runs out.
async fn persist<F, Fut>(mut write: F) -> Result<bool, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, StoreError>>,
{
    let mut pause = Duration::from_millis(100);
    for _ in 0..8 {
        match write().await {
            Err(StoreError::Unavailable(err)) => {
                tracing::warn!(%err, "cannot record a delivery outcome yet; retrying");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            done => return done,
        }
    }
    write().await
}

async fn send_row(
    transport: &Transport,
    from: &Address,
    row: &outbox::Model,
) -> Result<(), SendError> {
    let Some(body) = row.body.as_deref() else {
        return Err(SendError::Permanent(
            "the message has no body (it was cleared)".into(),
        ));
    };
    let envelope = transport::envelope(from, &row.recipient)?;
    transport.send(&envelope, body.as_bytes()).await
}

/// Counts one delivery outcome for `/metrics`, before it is recorded in
/// the store, so a scrape that sees the row's new state sees the count.
fn count_delivery(result: &str) {
    crate::diag::metrics::metrics()
        .deliveries
        .with_label_values(&[result])
        .inc();
}
