//! The on-call parts' state: the filters in force, the running bulk job,
//! and the filter, bulk-menu and bulk-confirm dialogs. Plain data that
//! `app` and `dialogs` hold; `oncall` changes it.

use std::collections::HashMap;
use std::sync::Arc;

use tui_input::Input;

use super::keymap::Command;
use crate::desk::bulk::{BulkAction, BulkPlan, BulkProgress, by_reason};
use crate::desk::filters::{Filter, IdSet, Lockout, OfferChoice};

/// The page size while the lockout view is open: every locked contact on
/// one page, so "newest first" holds over the whole list.
pub const LOCKOUT_PAGE: usize = 1000;

/// The filters in force and what they admit.
#[derive(Debug, Clone, Default)]
pub struct FilterState {
    /// Active filters; a contact must pass all.
    pub active: Vec<Filter>,
    /// Offers by id, names sanitised (loaded when the menu first opens).
    pub offers: Vec<OfferChoice>,
    /// What the search is narrowed to; `None` with no filter.
    pub set: Option<Arc<IdSet>>,
    /// The newest set asked for.
    pub generation: u64,
    /// A set is on its way.
    pub loading: bool,
    /// The lockout view's facts, by contact.
    pub lockouts: HashMap<i64, Lockout>,
}

impl FilterState {
    /// A filter's name as the menu and the list title show it.
    #[must_use]
    pub fn label(&self, filter: Filter) -> String {
        match filter {
            Filter::HoldsOffer(id) => {
                let name = self
                    .offers
                    .iter()
                    .find(|o| o.id == id)
                    .map_or_else(|| format!("offer {id}"), |o| o.name.clone());
                format!("Holds {name}")
            }
            other => other.label().to_owned(),
        }
    }

    /// Whether the lockout view is on (the Locked filter is active).
    #[must_use]
    pub fn lockout_view(&self) -> bool {
        self.active.contains(&Filter::Locked)
    }
}

/// The running bulk job, for the status line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobView {
    /// What it does.
    pub action: BulkAction,
    /// Its id, once stored.
    pub job_id: Option<i64>,
    /// Where it stands.
    pub progress: BulkProgress,
    /// `x` was pressed; the cancel is on its way.
    pub cancelling: bool,
}

/// The filter menu: the fixed filters, then offers matching what is typed.
#[derive(Debug, Clone, Default)]
pub struct FilterMenu {
    /// Typed text that narrows the offers.
    pub query: Input,
    /// The highlighted line.
    pub selected: usize,
}

impl FilterMenu {
    /// The menu's lines: every fixed filter, then the offers whose name
    /// holds the typed text.
    #[must_use]
    pub fn items(&self, state: &FilterState) -> Vec<Filter> {
        let needle = self.query.value().trim().to_lowercase();
        Filter::FIXED
            .into_iter()
            .chain(
                state
                    .offers
                    .iter()
                    .filter(|o| o.name.to_lowercase().contains(&needle))
                    .map(|o| Filter::HoldsOffer(o.id)),
            )
            .collect()
    }
}

/// With a selection, More Actions offers the bulk actions.
#[derive(Debug, Clone)]
pub struct BulkMenu {
    /// Contacts selected.
    pub count: usize,
    /// The actions, each with why it cannot be chosen, if it cannot.
    pub items: Vec<(BulkAction, Option<String>)>,
    /// The highlighted item.
    pub selected: usize,
}

/// The confirmation of a bulk action: how many get it, how many are
/// skipped and why; above `bulk.confirm_over` the count typed back.
#[derive(Debug, Clone)]
pub struct BulkConfirm {
    /// Desk's plan.
    pub plan: BulkPlan,
    /// The typed count.
    pub typed: Input,
    /// Whether the count must be typed.
    pub need_typed: bool,
    /// Focus on the confirm button (else Cancel).
    pub on_confirm: bool,
    /// What is wrong with the last try.
    pub error: Option<String>,
}

impl BulkConfirm {
    /// The question, in words.
    #[must_use]
    pub fn question(&self, link_ttl: &str) -> String {
        let n = self.plan.act_on.len();
        let whom = if n == 1 {
            "1 contact".to_owned()
        } else {
            format!("{n} contacts")
        };
        let what = match self.plan.action {
            BulkAction::ResetPassword => format!(
                "Send a password reset email to {whom}? Each link expires after {link_ttl}; mail leaves at the outbox's rate limit."
            ),
            BulkAction::Unlock => format!("Unlock the accounts of {whom}?"),
            BulkAction::SignOut => {
                format!("Sign {whom} out of every session on the site?")
            }
        };
        let skipped = skipped_words(&self.plan.skipped);
        if skipped.is_empty() {
            what
        } else {
            format!("{what} Skipped: {skipped}.")
        }
    }
}

/// "2 not a customer, 1 within the resend cooldown".
#[must_use]
pub fn skipped_words(skipped: &[(i64, crate::desk::bulk::Skip)]) -> String {
    by_reason(skipped)
        .into_iter()
        .map(|(why, n)| format!("{n} {}", why.words()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The menu command that means a bulk action.
#[must_use]
pub fn bulk_command(action: BulkAction) -> Command {
    Command::Act(action.action())
}
