//! Retention: rows that only held personal data for a purpose that has
//! passed are deleted on a schedule (ASVS V8.3.8).
//!
//! - A site session that ended (signed out, revoked, past its absolute
//!   lifetime, or idle) keeps the customer's client address and user
//!   agent; it is deleted [`ENDED_SESSION_RETENTION`] after it ended, long
//!   enough for a customer or support to look into a recent sign-in.
//! - A rate-limit bucket holds a digest and a count; it is deleted once
//!   its window is long over ([`STALE_THROTTLE_AFTER`], far beyond any
//!   window the settings allow in practice).
//!
//! Audit rows are kept: they are the record. Mail bodies are already
//! cleared at delivery. `keydesk serve` runs [`Desk::purge_stale`] hourly.

use chrono::TimeDelta;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};

use super::Desk;
use super::error::DeskError;
use crate::store::entity::{session, throttle};

/// How long an ended session's row is kept.
pub const ENDED_SESSION_RETENTION: TimeDelta = TimeDelta::days(30);

/// How old a rate-limit window must be before its row goes.
pub const STALE_THROTTLE_AFTER: TimeDelta = TimeDelta::days(7);

/// What one purge deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Session rows.
    pub sessions: u64,
    /// Rate-limit rows.
    pub throttles: u64,
}

impl Desk {
    /// Deletes ended sessions older than [`ENDED_SESSION_RETENTION`] and
    /// rate-limit rows older than [`STALE_THROTTLE_AFTER`].
    ///
    /// # Errors
    /// A store failure (nothing is half-deleted: one transaction).
    pub async fn purge_stale(&self) -> Result<Purged, DeskError> {
        let now = self.clock().now();
        let cutoff = now - ENDED_SESSION_RETENTION;
        // Ended long ago by any of the ways a session ends; a live
        // session is never older than the idle timeout since its last use.
        let idle = self.session_idle();
        let ended = Condition::any()
            .add(session::Column::RevokedAt.lt(cutoff))
            .add(session::Column::ExpiresAt.lt(cutoff))
            .add(session::Column::LastSeenAt.lt(cutoff - idle));
        let txn = self.store().begin_write().await?;
        let sessions = session::Entity::delete_many()
            .filter(ended)
            .exec(&txn)
            .await?
            .rows_affected;
        let throttles = throttle::Entity::delete_many()
            .filter(throttle::Column::WindowStartedAt.lt(now - STALE_THROTTLE_AFTER))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        if sessions + throttles > 0 {
            tracing::info!(sessions, throttles, "purged rows past their retention");
        }
        Ok(Purged {
            sessions,
            throttles,
        })
    }
}
