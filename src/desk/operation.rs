//! The shape every desk operation shares, written once: a write
//! transaction run again while it loses a race, the operator's role read
//! inside it, its audit event and its mail committed with its changes,
//! and a refusal audited on its own. An operation says only what is its
//! own (the rows it reads and writes, the event, the mail) as a closure
//! that returns the future of one run over the open transaction.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseTransaction;

use super::action::Action;
use super::audit::{self, Actor, Event};
use super::error::DeskError;
use super::outbox::{self, Kind};
use super::roles::{self, Operator};
use super::{ContactRef, Desk};
use crate::mail::compose::Composed;

/// The open transaction as an operation's step holds it.
pub(crate) type Txn = Arc<DatabaseTransaction>;

/// How many times a transaction that lost a race is run again.
pub const MAX_RETRIES: u32 = 5;

/// What one run of an operation's transaction produced: its answer, the
/// event that records it and the mail it sends, all committed together.
pub(crate) struct Done<T> {
    value: T,
    event: Event,
    mail: Option<Mail>,
}

/// One message to queue with the operation.
pub(crate) struct Mail {
    /// What it is.
    pub kind: Kind,
    /// The contact it goes to (a bare address in `recipient`).
    pub contact_id: i64,
    /// Their address.
    pub recipient: String,
    /// The reset link it carries, if any.
    pub reset_link_id: Option<i64>,
    /// The message.
    pub composed: Composed,
}

impl<T> Done<T> {
    /// An answer and the event that records it.
    pub(crate) fn new(value: T, event: Event) -> Self {
        Self {
            value,
            event,
            mail: None,
        }
    }

    /// Queues `mail` with the rest.
    pub(crate) fn mail(mut self, mail: Mail) -> Self {
        self.mail = Some(mail);
        self
    }
}

/// Writes `done`'s record in `txn`: its event as `actor` (naming bulk job
/// `job`, when it is part of one) and its mail; answers its value. The
/// caller commits, then wakes the outbox worker if mail was queued.
pub(crate) async fn record<T>(
    txn: &DatabaseTransaction,
    now: DateTime<Utc>,
    actor: &Actor,
    done: Done<T>,
    job: Option<i64>,
) -> Result<T, DeskError> {
    audit::write(txn, now, actor, audit::in_job(done.event, job)).await?;
    if let Some(mail) = done.mail {
        outbox::queue(
            txn,
            mail.kind,
            &mail.recipient,
            mail.contact_id,
            mail.reset_link_id,
            mail.composed,
            now,
        )
        .await?;
    }
    Ok(done.value)
}

/// The pause before retry `attempt`: growing, with jitter so that two
/// transactions that deadlocked do not meet again in lockstep.
fn retry_pause(attempt: u32) -> Duration {
    use rand::RngExt;
    let base = crate::store::RETRY_PAUSE * attempt;
    base + Duration::from_millis(rand::rng().random_range(0..20))
}

impl Desk {
    /// Runs `attempt` again while it fails with a transient error (see
    /// [`DeskError::is_transient`]), with a short growing pause.
    pub(crate) async fn retrying<T, Fut>(&self, attempt: impl Fn() -> Fut) -> Result<T, DeskError>
    where
        Fut: Future<Output = Result<T, DeskError>>,
    {
        let mut tries: u32 = 0;
        loop {
            match attempt().await {
                Err(err) if err.is_transient() && tries < MAX_RETRIES => {
                    tries += 1;
                    tracing::debug!(
                        attempt = tries,
                        kind = err.kind(),
                        "transaction lost a race; running it again"
                    );
                    tokio::time::sleep(retry_pause(tries)).await;
                }
                other => return other,
            }
        }
    }

    /// Runs `step` in a write transaction and commits, again while it
    /// loses a race. A step that fails rolls back. The step gets the
    /// transaction shared (`let txn = &*txn;` and on), so that its future
    /// borrows nothing from this call: operation futures stay `Send`.
    pub(crate) async fn in_write<T, Fut>(
        &self,
        step: impl Fn(Txn, DateTime<Utc>) -> Fut,
    ) -> Result<T, DeskError>
    where
        Fut: Future<Output = Result<T, DeskError>>,
    {
        let step = &step;
        self.retrying(move || async move {
            let now = self.clock.now();
            let txn = Arc::new(self.store.begin_write().await?);
            let value = step(Arc::clone(&txn), now).await?;
            let txn = Arc::try_unwrap(txn).map_err(|_| {
                DeskError::Internal("an operation kept its transaction past its end".into())
            })?;
            txn.commit().await?;
            Ok(value)
        })
        .await
    }

    /// [`Desk::in_write`] for an operation with a record: appends `step`'s
    /// event as `actor` and queues its mail before the commit, and wakes
    /// the outbox worker after it.
    pub(crate) async fn transact<T, Fut>(
        &self,
        actor: &Actor,
        step: impl Fn(Txn, DateTime<Utc>) -> Fut,
    ) -> Result<T, DeskError>
    where
        Fut: Future<Output = Result<Done<T>, DeskError>>,
    {
        let step = &step;
        let (value, queued) = self
            .in_write(move |txn, now| async move {
                let done = step(Arc::clone(&txn), now).await?;
                let queued = done.mail.is_some();
                let value = record(&txn, now, actor, done, None).await?;
                Ok((value, queued))
            })
            .await?;
        if queued {
            self.wake_outbox();
        }
        Ok(value)
    }

    /// An operator's operation: [`Desk::transact`] with `op`'s role for
    /// `action` read inside the transaction, and a refusal or denial
    /// audited under the action's name (about `contact`, when there is one).
    pub(crate) async fn operate<T, Fut>(
        &self,
        op: &Operator,
        action: Action,
        contact: Option<ContactRef<'_>>,
        step: impl Fn(Txn, DateTime<Utc>) -> Fut,
    ) -> Result<T, DeskError>
    where
        Fut: Future<Output = Result<Done<T>, DeskError>>,
    {
        let step = &step;
        let result = self
            .transact(&Actor::operator(op), move |txn, now| async move {
                roles::require(&*txn, op, action).await?;
                step(txn, now).await
            })
            .await;
        self.audited(op, action, contact, result).await
    }

    /// Passes `result` on, having audited it first if it is a refusal or
    /// a denial of `action` (for checks an operation makes before its
    /// transaction, such as a password policy before hashing).
    pub(crate) async fn audited<T>(
        &self,
        op: &Operator,
        action: Action,
        contact: Option<ContactRef<'_>>,
        result: Result<T, DeskError>,
    ) -> Result<T, DeskError> {
        self.audit_refusal(op, action, contact, &result).await;
        result
    }
}
