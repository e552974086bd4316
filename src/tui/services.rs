//! The console's port to desk: search, profiles, outbox counts, the
//! operator, and the account actions, all as desk's read models and
//! operations (the console names no store type). The runtime calls these
//! from spawned tasks; `update` never sees them.

use std::collections::HashMap;
use std::time::Duration;

use super::msg::{
    ActionOutcome, OperatorChange, OperatorListing, OperatorView, OutboxCounts, PolicyFeedback,
    Request, TaskError,
};
use super::sanitize::clean;
use crate::clock::Clock;
use crate::desk::audit::{AuditEntry, AuditFilter};
use crate::desk::bulk::{BulkAction, BulkPlan, BulkProgress, BulkSummary};
use crate::desk::filters::{Filter, IdSet, Lockout, OfferChoice};
use crate::desk::reset_links::LinkSent;
use crate::desk::{
    DeliveryState, Desk, DeskError, Identity, Operator, PolicyContext, Profile, SearchPage,
    SearchQuery, Searcher,
};
use crate::settings::{Secret, Settings};

/// How long Reset Password waits for the outbox worker's first attempt,
/// so the agent reads "sent" or "queued: why" instead of just "queued".
pub const DELIVERY_WAIT: Duration = Duration::from_secs(3);

/// What the console calls; cheap to clone into tasks.
#[derive(Clone, Debug)]
pub struct Services {
    desk: Desk,
    identity: Identity,
    searcher: Searcher,
    delivery_wait: Duration,
}

impl Services {
    /// Services over a desk, for the operator with this OS identity. The
    /// in-memory search index starts loading in the background (SQL
    /// answers meanwhile); must be called inside a tokio runtime.
    #[must_use]
    pub fn new(desk: Desk, identity: Identity) -> Self {
        let searcher = desk.start_searcher();
        Self::with_searcher(desk, identity, searcher)
    }

    /// Services with a given searcher (tests, benchmarks).
    #[must_use]
    pub fn with_searcher(desk: Desk, identity: Identity, searcher: Searcher) -> Self {
        Self {
            desk,
            identity,
            searcher,
            delivery_wait: DELIVERY_WAIT,
        }
    }

    /// The same services waiting up to `wait` for a reset email's first
    /// attempt (tests on a loaded machine).
    #[must_use]
    pub fn with_delivery_wait(mut self, wait: Duration) -> Self {
        self.delivery_wait = wait;
        self
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

    /// One page of contacts, for an operator.
    ///
    /// # Errors
    /// When the person at the keyboard is not an operator, or the
    /// database fails.
    pub async fn search(&self, query: &SearchQuery) -> Result<SearchPage, TaskError> {
        self.may_browse().await?;
        Ok(self.searcher.search(query).await.map_err(DeskError::from)?)
    }

    /// Desk's answer to whether the person at the keyboard may browse
    /// (any operator may); a non-operator is told how to be added.
    async fn may_browse(&self) -> Result<(), TaskError> {
        self.desk.may_browse(&self.identity).await?;
        Ok(())
    }

    /// A contact's profile, for an operator.
    ///
    /// # Errors
    /// When the person at the keyboard is not an operator, the database
    /// fails or the contact is gone.
    pub async fn profile(&self, contact_id: i64) -> Result<Profile, TaskError> {
        let op = self.desk.may_browse(&self.identity).await?;
        Ok(self.desk.contact_profile(&op, contact_id).await?)
    }

    /// Every operator with their keys (any operator may look; the console
    /// shows the screen to admins).
    ///
    /// # Errors
    /// When the person at the keyboard is not an operator or the database fails.
    pub async fn operators(&self) -> Result<Vec<OperatorListing>, TaskError> {
        let op = self.desk.may_browse(&self.identity).await?;
        let operators = self.desk.list_operators(&op).await?;
        let keys = self.desk.list_operator_keys(&op).await?;
        Ok(operators
            .into_iter()
            .map(|operator| OperatorListing {
                keys: keys
                    .iter()
                    .filter(|k| k.operator == operator.name)
                    .cloned()
                    .collect(),
                operator,
            })
            .collect())
    }

    /// Changes the operators table through the same desk calls as
    /// `keydesk operators`; desk checks the role and the last-admin rule.
    ///
    /// # Errors
    /// Desk's refusal, a key that does not parse, or a database failure.
    pub async fn change_operator(&self, change: OperatorChange) -> Result<String, TaskError> {
        let op = self.desk.operator(&self.identity).await?;
        Ok(match change {
            OperatorChange::Add { name, role } => {
                self.desk.add_operator(&op, &name, role).await?;
                format!("{} added as {role}", name.trim())
            }
            OperatorChange::SetRole { name, role } => {
                self.desk.add_operator(&op, &name, role).await?;
                format!("{} is now {role}", name.trim())
            }
            OperatorChange::Remove { name } => {
                self.desk.remove_operator(&op, &name).await?;
                format!("{} removed", name.trim())
            }
            OperatorChange::AddKey { name, key } => {
                let key = crate::desk::operator_keys::parse_public_key(&key)
                    .map_err(|e| TaskError::Other(e.to_string()))?;
                let added = self.desk.add_operator_key(&op, &name, &key).await?;
                format!("Key {} added for {}", added.fingerprint, added.operator)
            }
        })
    }

    /// Audit rows for the Audit screen; desk decides which the operator
    /// may see.
    ///
    /// # Errors
    /// When the person at the keyboard is not an operator, the database
    /// fails or the filter names an unknown contact.
    pub async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, TaskError> {
        let op = self.desk.may_browse(&self.identity).await?;
        Ok(self.desk.audit(&op, filter).await?)
    }

    /// Outbox counts for the status line.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn outbox_counts(&self) -> Result<OutboxCounts, DeskError> {
        self.desk.outbox_counts().await
    }

    /// Whether the database answers.
    ///
    /// # Errors
    /// When it does not.
    pub async fn ping(&self) -> Result<(), DeskError> {
        self.desk.ping().await
    }

    /// The operator at the keyboard, as desk resolves them; `role` is
    /// `None` for an OS user who is not an operator.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn operator(&self) -> Result<OperatorView, DeskError> {
        match self.desk.operator(&self.identity).await {
            Ok(op) => Ok(OperatorView {
                name: op.name,
                role: Some(op.role),
            }),
            Err(DeskError::UnknownOperator { name }) => Ok(OperatorView { name, role: None }),
            Err(other) => Err(other),
        }
    }

    /// Performs an account action through desk, as the operator at the
    /// keyboard (resolved again now: desk checks the role in the store).
    pub async fn act(&self, contact_id: i64, action: Request) -> ActionOutcome {
        match self.act_inner(contact_id, action).await {
            Ok(done) => ActionOutcome::Done(done),
            Err(err) => outcome_of(err),
        }
    }

    async fn act_inner(&self, contact_id: i64, action: Request) -> Result<String, DeskError> {
        let op: Operator = self.desk.operator(&self.identity).await?;
        // The name for the message, as stored now (the console's state holds
        // only sanitised text); the action itself goes by id.
        let name = clean(&self.desk.contact_profile(&op, contact_id).await?.name);
        match action {
            Request::SendResetLink { force } => {
                let sent = self.desk.send_reset_link(&op, contact_id, force).await?;
                let delivery = self.await_delivery(&op, &sent).await;
                Ok(format!("Reset link for {name}: {delivery}"))
            }
            Request::ChangePassword {
                password,
                require_change,
            } => {
                let set = self
                    .desk
                    .change_password(&op, contact_id, password.expose(), require_change)
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
            Request::RevokeResetLinks => {
                let n = self.desk.revoke_reset_links(&op, contact_id).await?;
                Ok(format!("Revoked {n} reset link(s) of {name}"))
            }
            Request::Unlock => Ok(if self.desk.unlock(&op, contact_id).await? {
                format!("Unlocked the account of {name}")
            } else {
                format!("The account of {name} was not locked")
            }),
            Request::SignOutEverywhere => {
                let n = self.desk.sign_out_everywhere(&op, contact_id).await?;
                Ok(format!("Signed {name} out of {n} session(s)"))
            }
            other => super::profile_services::act(&self.desk, &op, contact_id, &name, other).await,
        }
    }

    /// The offer picker's offers: with `held` those the contact holds
    /// (Revoke Offer), otherwise those they do not (Grant Offer), as desk
    /// answers now (not as an older profile on screen showed it).
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
            .map_err(TaskError::from)?;
        let all = self.desk.list_offers(&op).await.map_err(TaskError::from)?;
        let profile = self.profile(contact_id).await?;
        Ok(all
            .into_iter()
            .filter(|o| profile.offers.iter().any(|h| h.name == o.name) == held)
            .collect())
    }

    /// Waits for the outbox worker's first attempt at the mail for this
    /// link, at most [`DELIVERY_WAIT`] (unless set otherwise), and says how it went: sent, failed,
    /// queued for a retry with the reason, or still on its way. Desk's one
    /// reading of the outbox decides: a first attempt in flight is
    /// "sending", never "will retry".
    async fn await_delivery(&self, op: &Operator, sent: &LinkSent) -> String {
        let deadline = tokio::time::Instant::now() + self.delivery_wait;
        loop {
            let state = match self.desk.link_mail(op, sent.link_id).await {
                Ok(mail) => mail.map(|m| m.delivery(self.clock().now())),
                Err(_) => return "email queued".into(),
            };
            match state.unwrap_or(DeliveryState::Queued) {
                DeliveryState::Sent { .. } => {
                    return format!("email sent to {}", clean(&sent.recipient));
                }
                DeliveryState::Failed { error } => {
                    return format!("email failed: {}", clean(&error));
                }
                DeliveryState::Retrying { error, .. } => {
                    return format!("email queued, will retry: {}", clean(&error));
                }
                DeliveryState::Expired => return "email not sent: the link expired".into(),
                state if tokio::time::Instant::now() >= deadline => {
                    return match state {
                        DeliveryState::Sending { .. } => {
                            "email sending; the mail server has not answered yet".into()
                        }
                        _ => "email queued; the outbox worker has not sent it yet".into(),
                    };
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Desk's answer to a call made as the operator at the keyboard
    /// (resolved again now: desk checks the role in the store).
    async fn as_operator(&self) -> Result<Operator, TaskError> {
        self.desk
            .operator(&self.identity)
            .await
            .map_err(TaskError::from)
    }

    /// The contacts the filters admit (`None`: no filter).
    ///
    /// # Errors
    /// A refusal or a store failure.
    pub async fn filter_set(&self, filters: &[Filter]) -> Result<Option<IdSet>, TaskError> {
        let op = self.as_operator().await?;
        self.desk
            .filter_set(&op, filters)
            .await
            .map_err(TaskError::from)
    }

    /// The offers, for Holds offer X.
    ///
    /// # Errors
    /// A refusal or a store failure.
    pub async fn offers(&self) -> Result<Vec<OfferChoice>, TaskError> {
        let op = self.as_operator().await?;
        self.desk.offer_choices(&op).await.map_err(TaskError::from)
    }

    /// The lockout view's facts for these contacts.
    ///
    /// # Errors
    /// A refusal or a store failure.
    pub async fn lockouts(&self, ids: &[i64]) -> Result<HashMap<i64, Lockout>, TaskError> {
        let op = self.as_operator().await?;
        self.desk.lockouts(&op, ids).await.map_err(TaskError::from)
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
            .map_err(TaskError::from)
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
        let job = self
            .desk
            .start_bulk(&op, plan)
            .await
            .map_err(TaskError::from)?;
        started(job);
        self.desk
            .run_bulk(&op, job, progress)
            .await
            .map_err(TaskError::from)
    }

    /// Cancels a bulk job.
    ///
    /// # Errors
    /// A refusal or a store failure.
    pub async fn cancel_bulk(&self, job: i64) -> Result<BulkSummary, TaskError> {
        let op = self.as_operator().await?;
        self.desk
            .cancel_bulk(&op, job)
            .await
            .map_err(TaskError::from)
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
