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
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, Set,
};

use super::action::Action;
use super::audit::Event;
use super::error::DeskError;
use super::operation::Done;
use super::roles::Operator;
use super::{ContactRef, Desk, tokens};
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
        self.in_write(move |txn, now| async move {
            let txn = &*txn;
            insert(txn, account_id, client, now, self.session_absolute()).await
        })
        .await
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
        let hash = &tokens::sha256_hex(raw);
        self.in_write(move |txn, now| async move {
            let txn = &*txn;
            session::Entity::update_many()
                .col_expr(session::Column::RevokedAt, Expr::value(Some(now)))
                .filter(session::Column::IdSha256.eq(hash.as_str()))
                .filter(session::Column::RevokedAt.is_null())
                .exec(txn)
                .await?;
            Ok(())
        })
        .await
    }

    /// Ends every site session of a customer (admins only); returns how
    /// many were open.
    ///
    /// # Errors
    /// [`DeskError::NotAllowed`], [`DeskError::NotFound`],
    /// [`DeskError::NotACustomer`], or a store failure.
    pub async fn sign_out_everywhere(
        &self,
        op: &Operator,
        who: impl Into<ContactRef<'_>>,
    ) -> Result<u64, DeskError> {
        let who = who.into();
        let (contact, ended) = self
            .operate(
                op,
                Action::SignOutEverywhere,
                Some(who),
                move |txn, now| async move {
                    let customer = super::lock_customer(&*txn, who).await?;
                    self.sign_out_step(&txn, &customer, now).await
                },
            )
            .await?;
        tracing::info!(by = ?op.name, contact, ended, "signed out everywhere");
        Ok(ended)
    }

    /// What [`Desk::sign_out_everywhere`] does to one customer, locked in
    /// `txn`, and the record of it: also each contact's step of a bulk
    /// sign-out. Answers the contact and how many sessions ended.
    pub(crate) async fn sign_out_step(
        &self,
        txn: &DatabaseTransaction,
        customer: &super::Customer,
        now: DateTime<Utc>,
    ) -> Result<Done<(i64, u64)>, DeskError> {
        let ended = match &customer.account {
            Some(account) => revoke_all(txn, account.id, now, self.session_idle()).await?,
            None => 0,
        };
        let event = Event::ok(
            Action::SignOutEverywhere.audit_name(),
            Some(customer.contact.id),
        )
        .detail("sessions_ended", ended);
        Ok(Done::new((customer.contact.id, ended), event))
    }
}
