//! Customer site sessions.
//!
//! A session id is a token like a reset link's (32 random bytes,
//! base64url); the cookie carries it and the database keeps only its
//! SHA-256. A session ends when revoked, after `site.session_idle` without
//! a request, or `site.session_absolute` after sign-in, whichever comes
//! first. Any password change ends every session of that customer.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use super::audit::{self, Actor, Event};
use super::error::DeskError;
use super::operators::{self, Action, Operator};
use super::{Desk, retry, tokens};
use crate::clock::delta;
use crate::store::entity::{account, contact, session};

/// A live session, as the site needs it for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteSession {
    /// The session row.
    pub session_id: i64,
    /// The account signed in.
    pub account_id: i64,
    /// Its contact.
    pub contact_id: i64,
    /// The customer's email.
    pub email: String,
    /// The customer's name.
    pub name: String,
    /// The customer must set a new password before anything else.
    pub must_change_password: bool,
    /// Signed in at.
    pub created_at: DateTime<Utc>,
    /// Ends at the latest at.
    pub expires_at: DateTime<Utc>,
}

/// A session in the customer's "where you are signed in" list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    /// The session row.
    pub id: i64,
    /// Signed in at.
    pub created_at: DateTime<Utc>,
    /// Last request.
    pub last_seen_at: DateTime<Utc>,
    /// Client address and user agent.
    pub client: String,
}

/// `last_seen_at` is written at most this often, so that reading pages
/// does not turn every request into a write.
const TOUCH_EVERY: TimeDelta = TimeDelta::seconds(60);

/// Ends every live session of an account; returns how many. Sessions
/// already over by age or idleness are dead already and left as they are.
pub(crate) async fn revoke_all(
    db: &impl ConnectionTrait,
    account_id: i64,
    now: DateTime<Utc>,
    idle: TimeDelta,
) -> Result<u64, DeskError> {
    let result = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(Some(now)))
        .filter(session::Column::AccountId.eq(account_id))
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now))
        .filter(session::Column::LastSeenAt.gt(now - idle))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Creates a session row; returns the raw id for the cookie.
pub(crate) async fn insert(
    db: &impl ConnectionTrait,
    account_id: i64,
    client: &str,
    now: DateTime<Utc>,
    absolute: TimeDelta,
) -> Result<String, DeskError> {
    let minted = tokens::mint()?;
    session::ActiveModel {
        account_id: Set(account_id),
        id_sha256: Set(minted.sha256),
        created_at: Set(now),
        last_seen_at: Set(now),
        expires_at: Set(now + absolute),
        revoked_at: Set(None),
        client: Set(client.chars().take(400).collect()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(minted.raw)
}

impl Desk {
    /// Starts a site session for an account after a successful
    /// [`Desk::authenticate`]; returns the raw session id for the cookie
    /// (never stored, never logged).
    ///
    /// # Errors
    /// A store failure.
    pub async fn start_session(&self, account_id: i64, client: &str) -> Result<String, DeskError> {
        retry!(self.start_session_once(account_id, client))
    }

    async fn start_session_once(&self, account_id: i64, client: &str) -> Result<String, DeskError> {
        let now = self.clock.now();
        let txn = self.store.begin_write().await?;
        let raw = insert(&txn, account_id, client, now, self.session_absolute()).await?;
        txn.commit().await?;
        Ok(raw)
    }

    pub(crate) fn session_idle(&self) -> TimeDelta {
        delta(self.settings.site.session_idle)
    }

    fn session_absolute(&self) -> TimeDelta {
        delta(self.settings.site.session_absolute)
    }

    /// The live session a cookie names, touching its last-seen time.
    ///
    /// # Errors
    /// [`DeskError::SessionEnded`] when it is unknown, revoked, idle past
    /// `site.session_idle` or older than `site.session_absolute`.
    pub async fn session_from_cookie(&self, raw: &str) -> Result<SiteSession, DeskError> {
        if !tokens::well_formed(raw) {
            return Err(DeskError::SessionEnded);
        }
        let now = self.clock.now();
        let db = self.store.conn();
        let row = session::Entity::find()
            .filter(session::Column::IdSha256.eq(tokens::sha256_hex(raw)))
            .one(db)
            .await?
            .ok_or(DeskError::SessionEnded)?;
        let idle = delta(self.settings.site.session_idle);
        if row.revoked_at.is_some() || now >= row.expires_at || now >= row.last_seen_at + idle {
            return Err(DeskError::SessionEnded);
        }
        let account = account::Entity::find_by_id(row.account_id)
            .one(db)
            .await?
            .ok_or(DeskError::SessionEnded)?;
        let contact = contact::Entity::find_by_id(account.contact_id)
            .one(db)
            .await?
            .ok_or(DeskError::SessionEnded)?;
        if now - row.last_seen_at >= TOUCH_EVERY {
            // A conditional update: a session revoked meanwhile stays revoked.
            let txn = self.store.begin_write().await?;
            let touched = session::Entity::update_many()
                .col_expr(session::Column::LastSeenAt, Expr::value(now))
                .filter(session::Column::Id.eq(row.id))
                .filter(session::Column::RevokedAt.is_null())
                .exec(&txn)
                .await?;
            txn.commit().await?;
            if touched.rows_affected == 0 {
                return Err(DeskError::SessionEnded);
            }
        }
        Ok(SiteSession {
            session_id: row.id,
            account_id: account.id,
            contact_id: contact.id,
            email: contact.email,
            name: contact.name,
            must_change_password: account.must_change_password,
            created_at: row.created_at,
            expires_at: row.expires_at,
        })
    }

    /// The account's live sessions, newest first.
    ///
    /// # Errors
    /// A store failure.
    pub async fn list_sessions(&self, account_id: i64) -> Result<Vec<SessionSummary>, DeskError> {
        let now = self.clock.now();
        let idle = delta(self.settings.site.session_idle);
        let rows = session::Entity::find()
            .filter(session::Column::AccountId.eq(account_id))
            .filter(session::Column::RevokedAt.is_null())
            .filter(session::Column::ExpiresAt.gt(now))
            .order_by_desc(session::Column::Id)
            .all(self.store.conn())
            .await?;
        Ok(rows
            .into_iter()
            .filter(|r| now < r.last_seen_at + idle)
            .map(|r| SessionSummary {
                id: r.id,
                created_at: r.created_at,
                last_seen_at: r.last_seen_at,
                client: r.client,
            })
            .collect())
    }

    /// Ends the session a cookie names (sign out). Unknown ids are ignored.
    ///
    /// # Errors
    /// A store failure.
    pub async fn end_session(&self, raw: &str) -> Result<(), DeskError> {
        if !tokens::well_formed(raw) {
            return Ok(());
        }
        let hash = tokens::sha256_hex(raw);
        retry!(self.end_session_once(&hash))
    }

    async fn end_session_once(&self, hash: &str) -> Result<(), DeskError> {
        let now = self.clock.now();
        let txn = self.store.begin_write().await?;
        session::Entity::update_many()
            .col_expr(session::Column::RevokedAt, Expr::value(Some(now)))
            .filter(session::Column::IdSha256.eq(hash))
            .filter(session::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Ends every site session of a customer (admins only); returns how
    /// many were open.
    ///
    /// # Errors
    /// [`DeskError::NotAllowed`], [`DeskError::NotFound`],
    /// [`DeskError::NotACustomer`], or a store failure.
    pub async fn sign_out_everywhere(&self, op: &Operator, email: &str) -> Result<u64, DeskError> {
        let result = retry!(self.sign_out_everywhere_once(op, email));
        self.audit_refusal(op, Action::SignOutEverywhere, Some(email), &result)
            .await;
        result
    }

    async fn sign_out_everywhere_once(&self, op: &Operator, email: &str) -> Result<u64, DeskError> {
        let txn = self.store.begin_write().await?;
        operators::require(&txn, op, Action::SignOutEverywhere).await?;
        let customer = super::lock_customer(&txn, email).await?;
        let ended = self.sign_out_in(&txn, op, &customer, None).await?;
        txn.commit().await?;
        Ok(ended)
    }

    /// The body of [`Desk::sign_out_everywhere`] inside the caller's
    /// transaction, the role checked and the customer locked; `job` names
    /// the bulk job it is part of, for the audit row.
    pub(crate) async fn sign_out_in(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        op: &Operator,
        customer: &super::Customer,
        job: Option<i64>,
    ) -> Result<u64, DeskError> {
        let now = self.clock.now();
        let ended = match &customer.account {
            Some(account) => revoke_all(txn, account.id, now, self.session_idle()).await?,
            None => 0,
        };
        audit::write(
            txn,
            now,
            &Actor::operator(op),
            audit::in_job(
                Event::ok("sessions.sign_out_everywhere", Some(customer.contact.id))
                    .detail("sessions_ended", ended),
                job,
            ),
        )
        .await?;
        tracing::info!(by = ?op.name, contact = customer.contact.id, ended, "signed out everywhere");
        Ok(ended)
    }
}
