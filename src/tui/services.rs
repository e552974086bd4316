//! The console's port to the rest of keydesk: search, profiles, outbox
//! counts, the operator, and the account actions. The runtime calls these
//! from spawned tasks; `update` never sees them.
//!
//! Search goes through [`Services::search`] so switching from the SQL path
//! to the in-memory `Searcher` is one line.

use std::collections::HashMap;
use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use super::msg::{Action, ActionOutcome, OperatorView, OutboxCounts, PolicyFeedback, TaskError};
use crate::clock::Clock;
use crate::desk::bulk::{BulkAction, BulkPlan, BulkProgress, BulkSummary};
use crate::desk::filters::{Filter, IdSet, Lockout, OfferChoice};
use crate::desk::{Desk, DeskError, Identity, Operator, PolicyContext};
use crate::settings::{Secret, Settings};
use crate::store::contacts::{self, Profile, SearchPage, SearchQuery};
use crate::store::entity::{contact, outbox};
use crate::store::search::Searcher;
use crate::store::{Store, StoreError};

/// How long Reset Password waits for the outbox worker's first attempt,
/// so the agent reads "sent" or "queued: why" instead of just "queued".
pub const DELIVERY_WAIT: Duration = Duration::from_secs(3);

/// What the console calls; cheap to clone into tasks.
#[derive(Clone, Debug)]
pub struct Services {
    desk: Desk,
    identity: Identity,
    searcher: Searcher,
}

impl Services {
    /// Services over a desk, for the operator with this OS identity. The
    /// in-memory search index starts loading in the background (SQL
    /// answers meanwhile); must be called inside a tokio runtime.
    #[must_use]
    pub fn new(desk: Desk, identity: Identity) -> Self {
        let searcher = Searcher::start(
            desk.store().clone(),
            &desk.settings().search,
            desk.clock().clone(),
        );
        Self::with_searcher(desk, identity, searcher)
    }

    /// Services with a given searcher (tests, benchmarks).
    #[must_use]
    pub fn with_searcher(desk: Desk, identity: Identity, searcher: Searcher) -> Self {
        Self {
            desk,
            identity,
            searcher,
        }
    }

    /// The searcher.
    #[must_use]
    pub fn searcher(&self) -> &Searcher {
        &self.searcher
    }

    /// The desk.
    #[must_use]
    pub fn desk(&self) -> &Desk {
        &self.desk
    }

    /// The clock everything uses.
    #[must_use]
    pub fn clock(&self) -> &Clock {
        self.desk.clock()
    }

    /// The settings.
    #[must_use]
    pub fn settings(&self) -> &Settings {
        self.desk.settings()
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Store {
        self.desk.store()
    }

    /// One page of contacts, for an operator.
    ///
    /// # Errors
    /// When the person at the keyboard is not an operator, or the
    /// database fails.
    pub async fn search(&self, query: &SearchQuery) -> Result<SearchPage, TaskError> {
        self.may_browse().await?;
        Ok(self.searcher.search(query).await?)
    }

    /// Desk's answer to whether the person at the keyboard may browse
    /// (any operator may); a non-operator is told how to be added.
    async fn may_browse(&self) -> Result<(), TaskError> {
        match self.desk.may_browse(&self.identity).await {
            Ok(_) => Ok(()),
            Err(DeskError::Unavailable(e)) => Err(TaskError::Unavailable(e)),
            Err(other) => Err(TaskError::Other(other.to_string())),
        }
    }

    /// A contact's profile, for an operator.
    ///
    /// # Errors
    /// When the person at the keyboard is not an operator, the database
    /// fails or the contact is gone.
    pub async fn profile(&self, contact_id: i64) -> Result<Profile, TaskError> {
        self.may_browse().await?;
        Ok(contacts::profile(self.store().conn(), contact_id, self.clock().now()).await?)
    }

    /// Outbox counts for the status line.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let db = self.store().conn();
        let queued = outbox::Entity::find()
            .filter(outbox::Column::State.is_in(["queued", "sending"]))
            .filter(outbox::Column::Attempts.eq(0))
            .count(db)
            .await?;
        let retrying = outbox::Entity::find()
            .filter(outbox::Column::State.is_in(["queued", "sending"]))
            .filter(outbox::Column::Attempts.gt(0))
            .count(db)
            .await?;
        let failed = outbox::Entity::find()
            .filter(outbox::Column::State.eq("failed"))
            .count(db)
            .await?;
        Ok(OutboxCounts {
            queued,
            retrying,
            failed,
        })
    }

    /// Whether the database answers.
    ///
    /// # Errors
    /// When it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.store().ping().await
    }

    /// The operator at the keyboard, as desk resolves them; `role` is
    /// `None` for an OS user who is not an operator.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn operator(&self) -> Result<OperatorView, StoreError> {
        match self.desk.operator(&self.identity).await {
            Ok(op) => Ok(OperatorView {
                name: op.name,
                role: Some(op.role),
            }),
            Err(DeskError::UnknownOperator { name }) => Ok(OperatorView { name, role: None }),
            Err(DeskError::Unavailable(e)) => Err(StoreError::Unavailable(e)),
            Err(other) => Err(StoreError::NotFound(other.to_string())),
        }
    }

    /// Performs an account action through desk, as the operator at the
    /// keyboard (resolved again now: desk checks the role in the store).
    pub async fn act(&self, contact_id: i64, action: Action) -> ActionOutcome {
        match self.act_inner(contact_id, action).await {
            Ok(done) => ActionOutcome::Done(done),
            Err(err) => outcome_of(err),
        }
    }

    async fn act_inner(&self, contact_id: i64, action: Action) -> Result<String, DeskError> {
        let op: Operator = self.desk.operator(&self.identity).await?;
        // Desk works by email; the console's state holds only sanitised
        // text, so the stored address is read here.
        let contact = contact::Entity::find_by_id(contact_id)
            .one(self.store().conn())
            .await
            .map_err(|e| DeskError::from(StoreError::from(e)))?
            .ok_or_else(|| DeskError::NotFound(format!("contact {contact_id} no longer exists")))?;
        let email = contact.email.as_str();
        let name = super::sanitize::clean(&contact.name);
        match action {
            Action::SendResetLink { force } => {
                let sent = self.desk.send_reset_link(&op, email, force).await?;
                let delivery = self.await_delivery(sent.link_id).await;
                Ok(format!("Reset link for {name}: {delivery}"))
            }
            Action::ChangePassword {
                password,
                require_change,
            } => {
                let set = self
                    .desk
                    .change_password(&op, email, password.expose(), require_change)
                    .await?;
                let expiry = set.temporary_expires_at.map_or_else(String::new, |at| {
                    format!(
                        "; temporary, stops working at {} unless changed",
                        at.format("%Y-%m-%d %H:%M UTC")
                    )
                });
                Ok(format!(
                    "Password changed for {name}; {} reset link(s) revoked, {} session(s) ended{expiry}",
                    set.links_revoked, set.sessions_ended
                ))
            }
            Action::RevokeLinks => {
                let n = self.desk.revoke_reset_links(&op, email).await?;
                Ok(format!("Revoked {n} reset link(s) of {name}"))
            }
            Action::Unlock => Ok(if self.desk.unlock(&op, email).await? {
                format!("Unlocked the account of {name}")
            } else {
                format!("The account of {name} was not locked")
            }),
            Action::SignOut => {
                let n = self.desk.sign_out_everywhere(&op, email).await?;
                Ok(format!("Signed {name} out of {n} session(s)"))
            }
            other => super::profile_services::act(&self.desk, &op, email, &name, other).await,
        }
    }

    /// The offer picker's offers: every offer, or with `held` only those
    /// the contact holds.
    ///
    /// # Errors
    /// When the person at the keyboard is not an operator or the database fails.
    pub async fn picker_offers(
        &self,
        contact_id: i64,
        held: bool,
    ) -> Result<Vec<crate::desk::offers::OfferEntry>, TaskError> {
        let op = self
            .desk
            .operator(&self.identity)
            .await
            .map_err(super::profile_services::task_error)?;
        let all = self
            .desk
            .list_offers(&op)
            .await
            .map_err(super::profile_services::task_error)?;
        if !held {
            return Ok(all);
        }
        let profile = self.profile(contact_id).await?;
        Ok(all
            .into_iter()
            .filter(|o| profile.offers.iter().any(|h| h.name == o.name))
            .collect())
    }

    /// Waits briefly for the outbox worker's first attempt at the mail for
    /// this link and says how it went: sent, or queued with the reason.
    async fn await_delivery(&self, link_id: i64) -> String {
        let deadline = tokio::time::Instant::now() + DELIVERY_WAIT;
        loop {
            let row = outbox::Entity::find()
                .filter(outbox::Column::ResetLinkId.eq(link_id))
                .order_by_desc(outbox::Column::Id)
                .one(self.store().conn())
                .await;
            match row {
                Ok(Some(m)) if m.state == "sent" => {
                    return format!("email sent to {}", super::sanitize::clean(&m.recipient));
                }
                Ok(Some(m)) if m.state == "failed" => {
                    return format!("email failed: {}", super::sanitize::clean(&m.last_error));
                }
                // Back in the queue after a failed attempt (a row being
                // sent right now is waited for like a queued one).
                Ok(Some(m)) if m.attempts > 0 && m.state == "queued" => {
                    return format!(
                        "email queued, will retry: {}",
                        super::sanitize::clean(&m.last_error)
                    );
                }
                Ok(_) if tokio::time::Instant::now() >= deadline => {
                    return "email queued; the outbox worker has not sent it yet".into();
                }
                Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(_) => return "email queued".into(),
            }
        }
    }

    /// Desk's answer to a call made as the operator at the keyboard
    /// (resolved again now: desk checks the role in the store).
    async fn as_operator(&self) -> Result<Operator, TaskError> {
        self.desk.operator(&self.identity).await.map_err(task_error)
    }

    /// The contacts the filters admit (`None`: no filter).
    ///
    /// # Errors
    /// A refusal or a store failure.
    pub async fn filter_set(&self, filters: &[Filter]) -> Result<Option<IdSet>, TaskError> {
        let op = self.as_operator().await?;
        self.desk.filter_set(&op, filters).await.map_err(task_error)
    }

    /// The offers, for Holds offer X.
    ///
    /// # Errors
    /// A refusal or a store failure.
    pub async fn offers(&self) -> Result<Vec<OfferChoice>, TaskError> {
        let op = self.as_operator().await?;
        self.desk.offer_choices(&op).await.map_err(task_error)
    }

    /// The lockout view's facts for these contacts.
    ///
    /// # Errors
    /// A refusal or a store failure.
    pub async fn lockouts(&self, ids: &[i64]) -> Result<HashMap<i64, Lockout>, TaskError> {
        let op = self.as_operator().await?;
        self.desk.lockouts(&op, ids).await.map_err(task_error)
    }

    /// Every contact a search matches, page by page through the same
    /// search the list uses.
    ///
    /// # Errors
    /// A refusal or a store failure.
    pub async fn all_matching(&self, query: SearchQuery) -> Result<Vec<i64>, TaskError> {
        let mut query = query;
        let mut ids = Vec::new();
        loop {
            let page = self.search(&query).await?;
            ids.extend(page.rows.iter().map(|r| r.id));
            match page.next {
                Some(next) => query.after = Some(next),
                None => return Ok(ids),
            }
        }
    }

    /// Who a bulk action would reach, and who it would skip and why.
    ///
    /// # Errors
    /// A refusal or a store failure.
    pub async fn plan_bulk(&self, action: BulkAction, ids: &[i64]) -> Result<BulkPlan, TaskError> {
        let op = self.as_operator().await?;
        self.desk
            .plan_bulk(&op, action, ids)
            .await
            .map_err(task_error)
    }

    /// Stores and runs a planned bulk job; `started` learns its id,
    /// `progress` each step.
    ///
    /// # Errors
    /// A refusal or a store failure (what was done stays done).
    pub async fn run_bulk(
        &self,
        plan: &BulkPlan,
        started: impl FnOnce(i64),
        progress: impl Fn(BulkProgress) + Send + Sync,
    ) -> Result<BulkSummary, TaskError> {
        let op = self.as_operator().await?;
        let job = self.desk.start_bulk(&op, plan).await.map_err(task_error)?;
        started(job);
        self.desk
            .run_bulk(&op, job, progress)
            .await
            .map_err(task_error)
    }

    /// Cancels a bulk job.
    ///
    /// # Errors
    /// A refusal or a store failure.
    pub async fn cancel_bulk(&self, job: i64) -> Result<BulkSummary, TaskError> {
        let op = self.as_operator().await?;
        self.desk.cancel_bulk(&op, job).await.map_err(task_error)
    }

    /// A temporary password that meets the policy.
    ///
    /// # Errors
    /// Only if the policy refuses every candidate (the settings' ranges
    /// make that impossible).
    pub fn generate_password(&self) -> Result<Secret, String> {
        self.desk
            .generate_temporary_password()
            .map(Secret::new)
            .map_err(|e| e.to_string())
    }

    /// Checks a password against desk's policy for this customer
    /// (`context` is their name and email).
    #[must_use]
    pub fn check_password(&self, password: &Secret, context: &[String]) -> PolicyFeedback {
        let ctx = PolicyContext {
            name: context.first().map_or("", String::as_str),
            email: context.get(1).map_or("", String::as_str),
            site_name: &self.settings().site.name,
        };
        match self.desk.policy().check(password.expose(), &ctx) {
            Ok(()) => PolicyFeedback {
                ok: true,
                problems: Vec::new(),
                strength: None,
            },
            Err(refusal) => PolicyFeedback {
                ok: false,
                problems: refusal.reasons,
                strength: None,
            },
        }
    }
}

/// A desk failure as a task's.
fn task_error(err: DeskError) -> TaskError {
    match err {
        DeskError::Unavailable(e) => TaskError::Unavailable(e),
        other => TaskError::Other(other.to_string()),
    }
}

/// Sorts a desk refusal into what the console shows.
fn outcome_of(err: DeskError) -> ActionOutcome {
    match err {
        DeskError::NotACustomer { .. } => ActionOutcome::NotACustomer,
        e @ (DeskError::NotAllowed { .. } | DeskError::UnknownOperator { .. }) => {
            ActionOutcome::NotAllowed(e.to_string())
        }
        DeskError::Policy(refusal) => ActionOutcome::Policy(refusal.reasons),
        DeskError::Cooldown { remaining, .. } => ActionOutcome::Cooldown {
            remaining_secs: remaining.as_secs().max(1),
        },
        DeskError::Unavailable(e) => ActionOutcome::Unavailable(e),
        other => ActionOutcome::Failed(other.to_string()),
    }
}
