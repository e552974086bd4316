//! The customer's own sessions, from account settings: sign out one of
//! them, or sign out everywhere. The session cookie proves who asks; an
//! ended, idle or expired session can do neither.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::audit::{self, Actor, Event};
use super::error::DeskError;
use super::operation::Done;
use super::{Desk, sessions};
use crate::store::entity::session;

impl Desk {
    /// Ends one of the signed-in customer's sessions (another device, or
    /// this one). Returns whether a live session was ended; a session id
    /// that is not theirs, or already ended, changes nothing.
    ///
    /// # Errors
    /// [`DeskError::SessionEnded`] when the cookie's session is not live,
    /// or a store failure.
    pub async fn end_own_session(&self, cookie: &str, session_id: i64) -> Result<bool, DeskError> {
        let me = self.session_from_cookie(cookie).await?;
        let me = &me;
        self.in_write(move |txn, now| async move {
            let txn = &*txn;
            let ended = session::Entity::update_many()
                .col_expr(session::Column::RevokedAt, Expr::value(Some(now)))
                .filter(session::Column::Id.eq(session_id))
                // Only the customer's own sessions: an id is not a capability.
                .filter(session::Column::AccountId.eq(me.account_id))
                .filter(session::Column::RevokedAt.is_null())
                .exec(txn)
                .await?
                .rows_affected;
            if ended > 0 {
                audit::write(
                    txn,
                    now,
                    &Actor::customer(&me.email, "site"),
                    Event::ok("sessions.end_own", Some(me.contact_id))
                        .detail("this_device", session_id == me.session_id),
                )
                .await?;
            }
            Ok(ended > 0)
        })
        .await
    }

    /// Ends every session of the signed-in customer, this one included;
    /// returns how many were open.
    ///
    /// # Errors
    /// [`DeskError::SessionEnded`] when the cookie's session is not live,
    /// or a store failure.
    pub async fn sign_out_everywhere_own(&self, cookie: &str) -> Result<u64, DeskError> {
        let me = self.session_from_cookie(cookie).await?;
        let actor = Actor::customer(&me.email, "site");
        let ended = self
            .transact(&actor, move |txn, now| async move {
                let txn = &*txn;
                let ended =
                    sessions::revoke_all(txn, me.account_id, now, self.session_idle()).await?;
                let event = Event::ok("sessions.sign_out_everywhere_own", Some(me.contact_id))
                    .detail("sessions_ended", ended);
                Ok(Done::new(ended, event))
            })
            .await?;
        tracing::info!(
            contact = me.contact_id,
            ended,
            "customer signed out everywhere"
        );
        Ok(ended)
    }
}
