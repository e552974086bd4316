//! Browsing: who may read contacts and profiles through keydesk.
//!
//! Whether the person at the keyboard may read contacts at all is desk's
//! rule like every other: any operator may browse; an OS user who is not
//! an operator sees nothing. The search types are the store's, re-exported
//! here so that front ends name only desk; the console keeps a
//! [`Searcher`] (its in-memory index) from [`Desk::start_searcher`], the
//! command line's `contacts search` reads through [`Desk::search_contacts`].

use super::action::Action;
use super::error::DeskError;
use super::roles::{self, Identity, Operator};
use super::{ContactRef, Desk};
pub use crate::store::contacts::{
    ContactRow, Cursor, KindFilter, MatchCount, PAGE_SIZE, SearchPage, SearchQuery,
};
use crate::store::entity::contact;
pub use crate::store::search::Searcher;

impl Desk {
    /// The operator `identity` is, if they may browse contacts (every
    /// role may).
    ///
    /// # Errors
    /// [`DeskError::UnknownOperator`] (with the command that adds them),
    /// or [`DeskError::Unavailable`] when the store is down.
    pub async fn may_browse(&self, identity: &Identity) -> Result<Operator, DeskError> {
        let op = self.operator(identity).await?;
        roles::require(self.store().conn(), &op, Action::Browse).await?;
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
        let allowed = roles::require(self.store().conn(), op, Action::Browse).await;
        self.audited(op, Action::Browse, None, allowed).await?;
        let searcher = Searcher::new(
            self.store().clone(),
            &self.settings().search,
            self.clock().clone(),
        );
        Ok(searcher.search(query).await?)
    }

    /// A searcher over this desk's store that loads the in-memory index
    /// in the background (SQL answers meanwhile); one per process, shared
    /// by its consoles. Must be called inside a tokio runtime.
    #[must_use]
    pub fn start_searcher(&self) -> Searcher {
        Searcher::start(
            self.store().clone(),
            &self.settings().search,
            self.clock().clone(),
        )
    }

    /// The contact `who` names, for an operator who may browse (a refusal
    /// is audited): the opening of every reader about one contact.
    pub(crate) async fn browse_contact(
        &self,
        op: &Operator,
        who: ContactRef<'_>,
    ) -> Result<contact::Model, DeskError> {
        self.check_browse(op, who).await?;
        super::find_contact(self.store().conn(), who, false).await
    }

    /// Whether `op` may read about `who` (every role may); a refusal is
    /// audited.
    pub(crate) async fn check_browse(
        &self,
        op: &Operator,
        who: ContactRef<'_>,
    ) -> Result<(), DeskError> {
        let allowed = roles::require(self.store().conn(), op, Action::Browse).await;
        self.audited(op, Action::Browse, Some(who), allowed).await
    }
}
