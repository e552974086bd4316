//! A customer's site sessions as staff see them: the list (where and when
//! they signed in) and ending one of them. Ending all of them is
//! [`Desk::sign_out_everywhere`].

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::action::Action;
use super::audit::Event;
use super::error::DeskError;
use super::operation::Done;
use super::roles::{self, Operator};
use super::sessions::SessionSummary;
use super::{ContactRef, Desk, find_customer, lock_customer};
use crate::store::entity::session;

impl Desk {
    /// The customer's live site sessions, newest first (any operator).
    ///
    /// # Errors
    /// [`DeskError::UnknownOperator`], [`DeskError::NotFound`],
    /// [`DeskError::NotACustomer`], or a store failure.
    pub async fn customer_sessions(
        &self,
        op: &Operator,
        email: &str,
    ) -> Result<Vec<SessionSummary>, DeskError> {
        let db = self.store.conn();
        roles::require(db, op, Action::Browse).await?;
        let customer = find_customer(db, ContactRef::Email(email), false).await?;
        match customer.account {
            Some(account) => self.list_sessions(account.id).await,
            None => Ok(Vec::new()),
        }
    }

    /// Ends one site session of a customer (admins only, like signing
    /// them out everywhere). Returns whether a live session was ended; an
    /// id that is not this customer's, or already over, changes nothing.
    ///
    /// # Errors
    /// [`DeskError::NotAllowed`], [`DeskError::NotFound`],
    /// [`DeskError::NotACustomer`], or a store failure.
    pub async fn end_customer_session(
        &self,
        op: &Operator,
        email: &str,
        session_id: i64,
    ) -> Result<bool, DeskError> {
        let (contact, ended) = self
            .operate(
                op,
                Action::EndSession,
                Some(ContactRef::Email(email)),
                move |txn, now| async move {
                    let txn = &*txn;
                    let customer = lock_customer(txn, ContactRef::Email(email)).await?;
                    let ended = match &customer.account {
                        Some(account) => {
                            session::Entity::update_many()
                                .col_expr(session::Column::RevokedAt, Expr::value(Some(now)))
                                .filter(session::Column::Id.eq(session_id))
                                // Only this customer's sessions: an id is not a capability.
                                .filter(session::Column::AccountId.eq(account.id))
                                .filter(session::Column::RevokedAt.is_null())
                                .filter(session::Column::ExpiresAt.gt(now))
                                .exec(txn)
                                .await?
                                .rows_affected
                                > 0
                        }
                        None => false,
                    };
                    let event =
                        Event::ok(Action::EndSession.audit_name(), Some(customer.contact.id))
                            .detail("session_id", session_id)
                            .detail("ended", ended);
                    Ok(Done::new((customer.contact.id, ended), event))
                },
            )
            .await?;
        tracing::info!(by = ?op.name, contact, session_id, ended, "customer session ended by staff");
        Ok(ended)
    }
}
