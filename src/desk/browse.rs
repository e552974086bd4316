//! Browsing: who may read contacts and profiles through keydesk.
//!
//! The console's list and profile read the store directly (the search
//! index lives in the console), but whether the person at the keyboard
//! may read them at all is desk's rule like every other: any operator
//! may browse; an OS user who is not an operator sees nothing.

use super::Desk;
use super::error::DeskError;
use super::operators::{self, Action, Identity, Operator};

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
}
