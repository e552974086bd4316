//! Browsing: who may read contacts and profiles through keydesk.
//!
//! The console's list and profile read the store directly (the search
//! index lives in the console), but whether the person at the keyboard
//! may read them at all is desk's rule like every other: any operator
//! may browse; an OS user who is not an operator sees nothing. The
//! command line's `contacts search` and `contacts show` read through
//! [`Desk::search_contacts`] and [`Desk::contact_profile`], which check the
//! same rule (a refusal is audited, as everywhere).

use super::Desk;
use super::error::DeskError;
use super::operators::{self, Action, Identity, Operator};
use crate::store::contacts::{self, Profile, SearchPage, SearchQuery};
use crate::store::search::Searcher;

impl Desk {
    /// The operator `identity` is, if they may browse contacts (every
    /// role may).
    ///
    /// # Errors
    /// [`DeskError::UnknownOperator`] (with the command that adds them),
    /// or [`DeskError::Unavailable`] when the store is down.
    pub async fn may_browse(&self, identity: &Identity) -> Result<Operator, DeskError> {
        let op = self.operator(identity).await?;
        operators::require(self.store().conn(), &op, Action::Browse).await?;
        Ok(op)
    }

    /// One page of contacts matching `query`, for an operator (any role).
    /// A one-off search: SQL answers (no in-memory index is loaded).
    ///
    /// # Errors
    /// [`DeskError::UnknownOperator`] or a store failure.
    pub async fn search_contacts(
        &self,
        op: &Operator,
        query: &SearchQuery,
    ) -> Result<SearchPage, DeskError> {
        let allowed = operators::require(self.store().conn(), op, Action::Browse).await;
        self.audit_refusal(op, Action::Browse, None, &allowed).await;
        allowed?;
        let searcher = Searcher::new(
            self.store().clone(),
            &self.settings().search,
            self.clock().clone(),
        );
        Ok(searcher.search(query).await?)
    }

    /// The profile of the contact with this email (any case), for an
    /// operator (any role).
    ///
    /// # Errors
    /// [`DeskError::NotFound`], [`DeskError::UnknownOperator`] or a store failure.
    pub async fn contact_profile(&self, op: &Operator, email: &str) -> Result<Profile, DeskError> {
        let contact = self.browse_contact(op, email).await?;
        Ok(contacts::profile(self.store().conn(), contact.id, self.clock().now()).await?)
    }

    /// The contact with this email, for an operator who may browse (a
    /// refusal is audited): the opening of every reader about one contact.
    pub(crate) async fn browse_contact(
        &self,
        op: &Operator,
        email: &str,
    ) -> Result<crate::store::entity::contact::Model, DeskError> {
        let db = self.store().conn();
        let allowed = operators::require(db, op, Action::Browse).await;
        self.audit_refusal(op, Action::Browse, Some(email), &allowed)
            .await;
        allowed?;
        contacts::by_email(db, email)
            .await?
            .ok_or_else(|| super::audit::not_found(email))
    }
}
