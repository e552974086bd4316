//! Rate-limit counters in the `throttles` table, so that every process
//! sharing the store (several sites, workers, jump boxes) counts together.
//!
//! A bucket is a fixed window: the first hit starts it, hits inside it
//! count, the first hit after it ends starts a new one. Bucket keys hold
//! the SHA-256 of an email or client address, never the address itself.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
};

use super::error::DeskError;
use super::tokens::sha256_hex;
use crate::clock::delta;
use crate::store::entity::throttle;

/// The state of a bucket after a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Hits in the current window, this one included.
    pub hits: u32,
    /// Whether this hit is within the limit.
    pub allowed: bool,
    /// Time until the window ends.
    pub retry_after: Duration,
}

/// The key of a bucket: a purpose and the hash of what is counted.
#[must_use]
pub fn bucket(purpose: &str, subject: &str) -> String {
    format!("{purpose}:{}", sha256_hex(&subject.trim().to_lowercase()))
}

/// Counts one hit in `bucket` and says whether it is within `limit` per
/// `window`. Runs inside the caller's write transaction; the bucket row is
/// locked (PostgreSQL, MySQL) or the whole file is (SQLite), so
/// concurrent hits never lose a count. A first insert that loses a race
/// surfaces as a duplicate key, which the caller's retry handles.
pub(crate) async fn hit(
    db: &impl ConnectionTrait,
    bucket: &str,
    limit: u32,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<Hit, DeskError> {
    let row = throttle::Entity::find()
        .filter(throttle::Column::Bucket.eq(bucket))
        .lock_exclusive()
        .one(db)
        .await?;
    let window_delta = delta(window);
    let (started, hits) = match row {
        Some(row) if row.window_started_at + window_delta > now => {
            let hits = row.hits.saturating_add(1);
            let started = row.window_started_at;
            let mut row: throttle::ActiveModel = row.into();
            row.hits = Set(hits);
            row.update(db).await?;
            (started, hits)
        }
        Some(row) => {
            let mut row: throttle::ActiveModel = row.into();
            row.window_started_at = Set(now);
            row.hits = Set(1);
            row.update(db).await?;
            (now, 1)
        }
        None => {
            throttle::ActiveModel {
                bucket: Set(bucket.to_owned()),
                window_started_at: Set(now),
                hits: Set(1),
                ..Default::default()
            }
            .insert(db)
            .await?;
            (now, 1)
        }
    };
    let hits = u32::try_from(hits).unwrap_or(u32::MAX);
    let retry_after = (started + window_delta - now).to_std().unwrap_or_default();
    Ok(Hit {
        hits,
        allowed: hits <= limit,
        retry_after,
    })
}

/// Whether `bucket` has already reached `limit` in its current window,
/// without counting a hit: the time until the window ends if so. Used
/// where only failures count (sign-in), so the check is a read and the
/// failure is counted afterwards with [`hit`].
pub(crate) async fn exhausted(
    db: &impl ConnectionTrait,
    bucket: &str,
    limit: u32,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<Option<Duration>, DeskError> {
    let row = throttle::Entity::find()
        .filter(throttle::Column::Bucket.eq(bucket))
        .one(db)
        .await?;
    let window_delta = delta(window);
    Ok(row
        .filter(|row| row.window_started_at + window_delta > now)
        .filter(|row| u32::try_from(row.hits).unwrap_or(u32::MAX) >= limit)
        .map(|row| {
            (row.window_started_at + window_delta - now)
                .to_std()
                .unwrap_or_default()
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_never_hold_the_raw_subject() {
        let key = bucket("forgot:email", " Ada@Example.com ");
        assert!(!key.to_lowercase().contains("ada"));
        assert_eq!(key, bucket("forgot:email", "ada@example.com"));
        assert!(key.starts_with("forgot:email:"));
    }
}
