//! The outbox as a queue: claim due rows, record what became of them,
//! list them for operators, queue a failed one again.
//!
//! A claim is one short write transaction: pick due rows (`FOR UPDATE SKIP
//! LOCKED` on PostgreSQL and MariaDB, the `BEGIN IMMEDIATE` write lock on
//! SQLite), set them `sending` with a lease (`claimed_until`), commit. The
//! message is sent outside any transaction, then the outcome is written
//! only if the lease is still ours, so a worker that outlived its lease
//! cannot overwrite the worker that took over. A lease that runs out (the
//! worker died) makes the row claimable again.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::Condition;
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, IsolationLevel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionOptions,
    TransactionTrait,
};

use crate::store::entity::{outbox, reset_link, throttle};
use crate::store::{Store, StoreError};

/// The values of `outbox.state`.
pub mod state {
    /// Waiting for its `next_attempt_at`.
    pub const QUEUED: &str = "queued";
    /// Claimed by a worker until `claimed_until`.
    pub const SENDING: &str = "sending";
    /// Delivered; the body is gone.
    pub const SENT: &str = "sent";
    /// Refused for good or out of attempts; the body is kept for `outbox retry`.
    pub const FAILED: &str = "failed";
    /// Its reset link died before it could be delivered; never sent.
    pub const EXPIRED: &str = "expired";
}

/// The values of `outbox.kind`.
pub mod kind {
    /// A password reset email carrying a link.
    pub const RESET_LINK: &str = "reset_link";
    /// A notice that the password was changed.
    pub const PASSWORD_CHANGED: &str = "password_changed";
    /// A welcome email carrying a set-password link.
    pub const WELCOME: &str = "welcome";
    /// To the old address: the login email was changed.
    pub const EMAIL_CHANGED_OLD: &str = "email_changed_old";
    /// To the new address: this is now the login email.
    pub const EMAIL_CHANGED_NEW: &str = "email_changed_new";
}

/// What one claim took.
#[derive(Debug, Default)]
pub struct Claim {
    /// Rows now `sending` under this worker's lease, to be sent.
    pub rows: Vec<outbox::Model>,
    /// Rows marked `expired` instead, because their reset link died.
    pub expired: Vec<i64>,
    /// The rate limit left no room: nothing may be claimed before then.
    pub throttled_until: Option<DateTime<Utc>>,
}

/// The `throttles` row every claiming worker locks while it counts the
/// last minute's sends, so two workers never spend the same budget.
pub const RATE_BUCKET: &str = "outbox:send_rate";

/// The window `mail.max_per_minute` counts over.
const RATE_WINDOW: TimeDelta = TimeDelta::seconds(60);

/// A lease: the row and the `claimed_until` this worker wrote. An outcome
/// is recorded only while both still match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// The outbox row.
    pub id: i64,
    /// Its `claimed_until` as claimed.
    pub until: DateTime<Utc>,
}

/// The reason stored on a reset email whose link died before delivery.
pub const LINK_DEAD: &str = "not sent: the reset link expired, was used or was revoked first";

async fn begin_claim(store: &Store) -> Result<DatabaseTransaction, StoreError> {
    if store.backend() == DbBackend::Sqlite {
        return store.begin_write().await;
    }
    // READ COMMITTED keeps MariaDB from taking gap locks that would make two
    // claiming workers wait on each other; PostgreSQL already uses it.
    let options = TransactionOptions {
        isolation_level: Some(IsolationLevel::ReadCommitted),
        access_mode: None,
        sqlite_transaction_mode: None,
    };
    Ok(store.conn().begin_with_options(options).await?)
}

fn due(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(
            Condition::all()
                .add(outbox::Column::State.eq(state::QUEUED))
                .add(outbox::Column::NextAttemptAt.lte(now)),
        )
        .add(
            Condition::all()
                .add(outbox::Column::State.eq(state::SENDING))
                .add(outbox::Column::ClaimedUntil.lte(now)),
        )
}

/// Claims up to `limit` due rows until `lease_until`, with no rate limit.
/// See [`claim_at_rate`].
///
/// # Errors
/// When the store fails; nothing is claimed then.
pub async fn claim(
    store: &Store,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u64,
) -> Result<Claim, StoreError> {
    claim_at_rate(store, now, lease_until, limit, None).await
}

/// Claims up to `limit` due rows until `lease_until`, and with
/// `per_minute` no more than leaves room for: messages sent in the last
/// minute plus those being sent now never exceed it, summed over every
/// worker on the store (they take turns on the [`RATE_BUCKET`] row).
/// Reset emails whose link has expired, been used or been revoked are
/// marked `expired` (body cleared) in the same transaction instead of
/// being claimed.
///
/// # Errors
/// When the store fails; nothing is claimed then.
pub async fn claim_at_rate(
    store: &Store,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u64,
    per_minute: Option<u32>,
) -> Result<Claim, StoreError> {
    let txn = begin_claim(store).await?;
    let limit = match per_minute {
        Some(per_minute) => match room(&txn, now, per_minute).await? {
            Room::Free(n) => Ord::min(limit, n),
            Room::FullUntil(at) => {
                txn.commit().await?;
                return Ok(Claim {
                    throttled_until: Some(at),
                    ..Claim::default()
                });
            }
        },
        None => limit,
    };
    let picked = outbox::Entity::find()
        .filter(due(now))
        .order_by_asc(outbox::Column::NextAttemptAt)
        .order_by_asc(outbox::Column::Id)
        .limit(limit)
        // SQLite ignores the lock clause; BEGIN IMMEDIATE already excludes other writers.
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .all(&txn)
        .await?;
    if picked.is_empty() {
        txn.commit().await?;
        return Ok(Claim::default());
    }

    let link_ids: Vec<i64> = picked.iter().filter_map(|r| r.reset_link_id).collect();
    let live_links: Vec<i64> = if link_ids.is_empty() {
        Vec::new()
    } else {
        reset_link::Entity::find()
            .filter(reset_link::Column::Id.is_in(link_ids))
            .filter(reset_link::Column::ExpiresAt.gt(now))
            .filter(reset_link::Column::UsedAt.is_null())
            .filter(reset_link::Column::RevokedAt.is_null())
            .all(&txn)
            .await?
            .into_iter()
            .map(|l| l.id)
            .collect()
    };
    let (mut rows, dead): (Vec<_>, Vec<_>) = picked
        .into_iter()
        .partition(|r| r.reset_link_id.is_none_or(|id| live_links.contains(&id)));
    let expired: Vec<i64> = dead.iter().map(|r| r.id).collect();

    if !expired.is_empty() {
        outbox::Entity::update_many()
            .col_expr(outbox::Column::State, Expr::value(state::EXPIRED))
            .col_expr(outbox::Column::Body, Expr::value(Option::<String>::None))
            .col_expr(
                outbox::Column::ClaimedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(outbox::Column::LastError, Expr::value(LINK_DEAD))
            .filter(outbox::Column::Id.is_in(expired.clone()))
            .exec(&txn)
            .await?;
    }
    if !rows.is_empty() {
        outbox::Entity::update_many()
            .col_expr(outbox::Column::State, Expr::value(state::SENDING))
            .col_expr(outbox::Column::ClaimedUntil, Expr::value(lease_until))
            .col_expr(
                outbox::Column::Attempts,
                Expr::col(outbox::Column::Attempts).add(1),
            )
            .filter(outbox::Column::Id.is_in(rows.iter().map(|r| r.id).collect::<Vec<_>>()))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    for row in &mut rows {
        state::SENDING.clone_into(&mut row.state);
        row.claimed_until = Some(lease_until);
        row.attempts += 1;
    }
    Ok(Claim {
        rows,
        expired,
        throttled_until: None,
    })
}

/// How much of the rate limit is left now.
enum Room {
    /// This many more may be claimed.
    Free(u64),
    /// None until then.
    FullUntil(DateTime<Utc>),
}

/// Locks the rate row (made on first use) and counts what the last
/// minute used: rows sent in it and rows being sent now.
async fn room(
    txn: &DatabaseTransaction,
    now: DateTime<Utc>,
    per_minute: u32,
) -> Result<Room, StoreError> {
    throttle::Entity::insert(throttle::ActiveModel {
        bucket: Set(RATE_BUCKET.to_owned()),
        window_started_at: Set(now),
        hits: Set(0),
        ..Default::default()
    })
    // An upsert that changes the window start, so the row exists and is
    // this transaction's on every backend (MySQL has no DO NOTHING).
    .on_conflict(
        OnConflict::column(throttle::Column::Bucket)
            .update_column(throttle::Column::WindowStartedAt)
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    throttle::Entity::find()
        .filter(throttle::Column::Bucket.eq(RATE_BUCKET))
        .lock_exclusive()
        .one(txn)
        .await?;
    let since = now - RATE_WINDOW;
    let recent = || {
        outbox::Entity::find()
            .filter(outbox::Column::State.eq(state::SENT))
            .filter(outbox::Column::SentAt.gt(since))
    };
    // One statement, so one snapshot: under READ COMMITTED two counts missed
    // a send another worker recorded (sending to sent) between them, and the
    // limit was overdrawn by one (issue 17).
    let used = outbox::Entity::find()
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(outbox::Column::State.eq(state::SENT))
                        .add(outbox::Column::SentAt.gt(since)),
                )
                .add(
                    Condition::all()
                        .add(outbox::Column::State.eq(state::SENDING))
                        .add(outbox::Column::ClaimedUntil.gt(now)),
                ),
        )
        .count(txn)
        .await?;
    let free = u64::from(per_minute).saturating_sub(used);
    if free > 0 {
        return Ok(Room::Free(free));
    }
    // Room comes back when the oldest send of the window leaves it; if
    // the window is full of sends still under way, look again shortly.
    let oldest = recent()
        .select_only()
        .column(outbox::Column::SentAt)
        .order_by_asc(outbox::Column::SentAt)
        .into_tuple::<Option<DateTime<Utc>>>()
        .one(txn)
        .await?
        .flatten();
    let pace = RATE_WINDOW / i32::try_from(per_minute).unwrap_or(i32::MAX);
    Ok(Room::FullUntil(oldest.map_or(now + pace, |at| {
        Ord::max(at + RATE_WINDOW, now + TimeDelta::milliseconds(20))
    })))
}

async fn settle(
    db: &impl ConnectionTrait,
    lease: Lease,
    update: sea_orm::UpdateMany<outbox::Entity>,
) -> Result<bool, StoreError> {
    let done = update
        .col_expr(
            outbox::Column::ClaimedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(outbox::Column::Id.eq(lease.id))
        .filter(outbox::Column::State.eq(state::SENDING))
        .filter(outbox::Column::ClaimedUntil.eq(lease.until))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Records a delivery: `sent`, `sent_at`, and the body cleared so the link
/// does not outlive its delivery in the store. Returns false when the lease
/// was lost (another worker took the row over).
///
/// # Errors
/// When the store fails.
pub async fn mark_sent(
    db: &impl ConnectionTrait,
    lease: Lease,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let update = outbox::Entity::update_many()
        .col_expr(outbox::Column::State, Expr::value(state::SENT))
        .col_expr(outbox::Column::SentAt, Expr::value(Some(now)))
        .col_expr(outbox::Column::Body, Expr::value(Option::<String>::None))
        .col_expr(outbox::Column::LastError, Expr::value(""));
    settle(db, lease, update).await
}

/// Records a temporary failure: back to `queued`, due at `next_at`.
///
/// # Errors
/// When the store fails.
pub async fn mark_retry(
    db: &impl ConnectionTrait,
    lease: Lease,
    next_at: DateTime<Utc>,
    error: &str,
) -> Result<bool, StoreError> {
    let update = outbox::Entity::update_many()
        .col_expr(outbox::Column::State, Expr::value(state::QUEUED))
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(next_at))
        .col_expr(outbox::Column::LastError, Expr::value(clip(error)));
    settle(db, lease, update).await
}

/// Records a permanent failure (or the last allowed attempt): `failed`
/// with the server's reply. The body stays so `outbox retry` can send it.
///
/// # Errors
/// When the store fails.
pub async fn mark_failed(
    db: &impl ConnectionTrait,
    lease: Lease,
    error: &str,
) -> Result<bool, StoreError> {
    let update = outbox::Entity::update_many()
        .col_expr(outbox::Column::State, Expr::value(state::FAILED))
        .col_expr(outbox::Column::LastError, Expr::value(clip(error)));
    settle(db, lease, update).await
}

/// A server reply can be long; keep the row small and the UI readable.
fn clip(error: &str) -> String {
    const MAX: usize = 500;
    if error.len() <= MAX {
        return error.to_owned();
    }
    let mut end = MAX;
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &error[..end])
}

/// When the worker next has something to do: the earliest queued row's
/// due time or the earliest lease to run out.
///
/// # Errors
/// When the store fails.
pub async fn next_due(db: &impl ConnectionTrait) -> Result<Option<DateTime<Utc>>, StoreError> {
    let queued = outbox::Entity::find()
        .filter(outbox::Column::State.eq(state::QUEUED))
        .order_by_asc(outbox::Column::NextAttemptAt)
        .one(db)
        .await?
        .map(|r| r.next_attempt_at);
    let lease = outbox::Entity::find()
        .filter(outbox::Column::State.eq(state::SENDING))
        .order_by_asc(outbox::Column::ClaimedUntil)
        .one(db)
        .await?
        .and_then(|r| r.claimed_until);
    Ok(match (queued, lease) {
        (Some(a), Some(b)) => Some(Ord::min(a, b)),
        (a, b) => a.or(b),
    })
}

/// Rows for `keydesk outbox`, newest first, without their bodies.
///
/// # Errors
/// When the store fails.
pub async fn list(
    db: &impl ConnectionTrait,
    failed_only: bool,
    limit: u64,
) -> Result<Vec<outbox::Model>, StoreError> {
    let mut query = outbox::Entity::find();
    if failed_only {
        query = query.filter(outbox::Column::State.eq(state::FAILED));
    }
    let rows = query
        .order_by_desc(outbox::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(without_body).collect())
}

/// The latest email queued for a contact, without its body: what a
/// profile shows as "reset email queued, retrying in 2 min: ...".
///
/// # Errors
/// When the store fails.
pub async fn latest_for_contact(
    db: &impl ConnectionTrait,
    contact_id: i64,
) -> Result<Option<outbox::Model>, StoreError> {
    Ok(outbox::Entity::find()
        .filter(outbox::Column::ContactId.eq(contact_id))
        .order_by_desc(outbox::Column::Id)
        .one(db)
        .await?
        .map(without_body))
}

/// The newest message carrying reset link `link_id`, without its body.
///
/// # Errors
/// When the store fails.
pub async fn latest_for_link(
    db: &impl ConnectionTrait,
    link_id: i64,
) -> Result<Option<outbox::Model>, StoreError> {
    Ok(outbox::Entity::find()
        .filter(outbox::Column::ResetLinkId.eq(link_id))
        .order_by_desc(outbox::Column::Id)
        .one(db)
        .await?
        .map(without_body))
}

/// One row by id, without its body.
///
/// # Errors
/// When the store fails.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Option<outbox::Model>, StoreError> {
    Ok(outbox::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(without_body))
}

fn without_body(mut row: outbox::Model) -> outbox::Model {
    row.body = None;
    row
}

/// How the outbox stands, for a status line ("2 queued, 1 failing").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Waiting or being sent, never failed yet.
    pub queued: u64,
    /// Waiting for a retry after at least one temporary failure.
    pub retrying: u64,
    /// Given up on; needs `keydesk outbox retry`.
    pub failed: u64,
}

/// Counts the outbox by state.
///
/// # Errors
/// When the store fails.
pub async fn counts(db: &impl ConnectionTrait) -> Result<Counts, StoreError> {
    let pending = || {
        outbox::Entity::find().filter(outbox::Column::State.is_in([state::QUEUED, state::SENDING]))
    };
    let retrying = pending()
        .filter(outbox::Column::LastError.ne(""))
        .count(db)
        .await?;
    let all_pending = pending().count(db).await?;
    let failed = outbox::Entity::find()
        .filter(outbox::Column::State.eq(state::FAILED))
        .count(db)
        .await?;
    Ok(Counts {
        queued: all_pending.saturating_sub(retrying),
        retrying,
        failed,
    })
}

/// Rows by state (`queued`, `sending`, `sent`, `failed`, `expired`), for
/// `/metrics`.
///
/// # Errors
/// When the store fails.
pub async fn count_by_state(db: &impl ConnectionTrait) -> Result<Vec<(String, u64)>, StoreError> {
    let rows: Vec<(String, i64)> = outbox::Entity::find()
        .select_only()
        .column(outbox::Column::State)
        .column_as(Expr::col(outbox::Column::Id).count(), "n")
        .group_by(outbox::Column::State)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(state, n)| (state, u64::try_from(n).unwrap_or(0)))
        .collect())
}

/// When the oldest message still waiting to go out (queued or being
/// sent) was queued, for `/metrics`; `None` when none waits.
///
/// # Errors
/// When the store fails.
pub async fn oldest_waiting(
    db: &impl ConnectionTrait,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(outbox::Entity::find()
        .select_only()
        .column(outbox::Column::CreatedAt)
        .filter(outbox::Column::State.is_in([state::QUEUED, state::SENDING]))
        .order_by_asc(outbox::Column::CreatedAt)
        .into_tuple::<DateTime<Utc>>()
        .one(db)
        .await?)
}

/// Why `outbox retry` refused.
#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    /// No such row.
    #[error("outbox message {0} does not exist")]
    NotFound(i64),
    /// Only failed messages are queued again.
    #[error("outbox message {id} is {state}, not failed; only failed messages can be retried")]
    NotFailed {
        /// The row.
        id: i64,
        /// Its state.
        state: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Queues a failed message again, due now, with a fresh attempt count and
/// no error (the CLI prints the old one first).
/// A reset email whose link has died since is then marked expired by the
/// worker rather than sent.
///
/// # Errors
/// [`RetryError`] when the row is missing or not failed.
pub async fn retry(store: &Store, id: i64, now: DateTime<Utc>) -> Result<(), RetryError> {
    let txn = store.begin_write().await?;
    let row = outbox::Entity::find_by_id(id)
        .one(&txn)
        .await
        .map_err(StoreError::from)?
        .ok_or(RetryError::NotFound(id))?;
    if row.state != state::FAILED || row.body.is_none() {
        return Err(RetryError::NotFailed {
            id,
            state: row.state,
        });
    }
    outbox::Entity::update_many()
        .col_expr(outbox::Column::State, Expr::value(state::QUEUED))
        .col_expr(outbox::Column::Attempts, Expr::value(0))
        .col_expr(outbox::Column::LastError, Expr::value(""))
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(now))
        .col_expr(
            outbox::Column::ClaimedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::State.eq(state::FAILED))
        .exec(&txn)
        .await
        .map_err(StoreError::from)?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok(())
}
