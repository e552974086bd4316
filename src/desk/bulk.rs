//! Bulk actions: Reset Password, Unlock and Sign out everywhere over a
//! list of contacts, for on-call work (a wave of lockouts, a mail outage,
//! a list of compromised addresses).
//!
//! A job is planned first ([`Desk::plan_bulk`]: who gets the action, who
//! is skipped and why), then written to the store ([`Desk::start_bulk`]:
//! one `bulk_jobs` row, one `bulk_job_items` row per contact) and walked
//! ([`Desk::run_bulk`]). Each contact is one transaction holding the
//! action, its audit row, its outbox row and the item's new state, so a
//! job stopped anywhere (cancelled, the process killed) and run again acts
//! on nobody twice. Every item transaction first locks the job row, so a
//! cancel ([`Desk::cancel_bulk`]) takes effect between two contacts:
//! what was done stays done and audited, nothing more is queued. The job
//! gets one summary audit row when it finishes or is cancelled.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::accounts::unlock_step;
use super::action::Action;
use super::audit::{self, Actor, Event};
use super::error::DeskError;
use super::operation::record;
use super::roles::{self, Operator};
use super::{Desk, lock_customer_by_id};
use crate::clock::delta;
use crate::store::entity::{account, bulk_job, bulk_job_item, contact, grant, reset_link};

/// How many ids one `IN (...)` list holds (every backend accepts this many).
const CHUNK: usize = 500;

/// How many pending items the runner reads at a time.
const PAGE: u64 = 200;

/// The values of `bulk_jobs.state`.
pub mod job_state {
    /// Being walked, or stopped by a restart and waiting to be run again.
    pub const RUNNING: &str = "running";
    /// Stopped by an operator; the pending items stay pending for good.
    pub const CANCELLED: &str = "cancelled";
    /// Every item handled.
    pub const FINISHED: &str = "finished";
}

/// The values of `bulk_job_items.state`.
pub mod item_state {
    /// Not handled yet.
    pub const PENDING: &str = "pending";
    /// Acted on.
    pub const DONE: &str = "done";
    /// Left alone; `reason` says why.
    pub const SKIPPED: &str = "skipped";
    /// The action failed; `reason` holds the error.
    pub const FAILED: &str = "failed";
}

/// What a bulk job does to each contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkAction {
    /// Email a reset link (agents), respecting the resend cooldown.
    ResetPassword,
    /// Lift a login lock (admins).
    Unlock,
    /// End every site session (admins).
    SignOut,
}

impl BulkAction {
    /// Every bulk action.
    pub const ALL: [Self; 3] = [Self::ResetPassword, Self::Unlock, Self::SignOut];

    /// The name stored in `bulk_jobs.action`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ResetPassword => "reset_password",
            Self::Unlock => "unlock",
            Self::SignOut => "sign_out",
        }
    }

    /// From the stored name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// The operator action behind it (its role rule).
    #[must_use]
    pub fn action(self) -> Action {
        match self {
            Self::ResetPassword => Action::SendResetLink,
            Self::Unlock => Action::Unlock,
            Self::SignOut => Action::SignOutEverywhere,
        }
    }

    /// One word, for a status line: `Reset`, `Unlock`, `Sign out`.
    #[must_use]
    pub fn short(self) -> &'static str {
        match self {
            Self::ResetPassword => "Reset",
            Self::Unlock => "Unlock",
            Self::SignOut => "Sign out",
        }
    }

    /// As the console and the command line title it.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::ResetPassword => "Reset Password",
            Self::Unlock => "Unlock",
            Self::SignOut => "Sign out everywhere",
        }
    }
}

/// Why a contact is left out of a bulk action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Skip {
    /// No contact has this id (deleted meanwhile).
    NotFound,
    /// The contact holds no offer, so has no login.
    NotACustomer,
    /// A reset link went out within `reset.resend_cooldown`.
    Cooldown,
    /// Unlock: the account is not locked.
    NotLocked,
}

impl Skip {
    /// Every reason.
    pub const ALL: [Self; 4] = [
        Self::NotFound,
        Self::NotACustomer,
        Self::Cooldown,
        Self::NotLocked,
    ];

    /// The code stored in `bulk_job_items.reason` and the audit row.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::NotACustomer => "not_a_customer",
            Self::Cooldown => "cooldown",
            Self::NotLocked => "not_locked",
        }
    }

    /// In words, for a summary ("3 skipped: not a customer").
    #[must_use]
    pub fn words(self) -> &'static str {
        match self {
            Self::NotFound => "no such contact",
            Self::NotACustomer => "not a customer",
            Self::Cooldown => "within the resend cooldown",
            Self::NotLocked => "not locked",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }
}

/// Who a bulk action would act on and who it would skip, before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkPlan {
    /// The action.
    pub action: BulkAction,
    /// Contacts that get it, in the order given.
    pub act_on: Vec<i64>,
    /// Contacts left out, with the reason.
    pub skipped: Vec<(i64, Skip)>,
}

/// How many are skipped for each reason.
#[must_use]
pub fn by_reason(skipped: &[(i64, Skip)]) -> BTreeMap<Skip, u64> {
    let mut out = BTreeMap::new();
    for (_, why) in skipped {
        *out.entry(*why).or_default() += 1;
    }
    out
}

/// Where a running job stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BulkProgress {
    /// The job.
    pub job_id: i64,
    /// Contacts the job acts on (those skipped at planning not counted).
    pub total: u64,
    /// Acted on so far.
    pub done: u64,
    /// Skipped while running (e.g. unlocked meanwhile) so far.
    pub skipped: u64,
    /// Failed so far.
    pub failed: u64,
}

impl BulkProgress {
    /// Contacts handled one way or another.
    #[must_use]
    pub fn handled(&self) -> u64 {
        self.done + self.skipped + self.failed
    }
}

/// How a job ended (or stands, when cancelled).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BulkSummary {
    /// The job.
    pub job_id: i64,
    /// What it did.
    pub action: BulkAction,
    /// Acted on.
    pub done: u64,
    /// Left alone, with the reason (at planning and while running).
    pub skipped: Vec<(i64, Skip)>,
    /// Failed: contact id and the error.
    pub failed: Vec<(i64, String)>,
    /// Never handled because the job was cancelled.
    pub not_reached: u64,
    /// The job was cancelled.
    pub cancelled: bool,
}

/// A job as listed (e.g. one a restart interrupted).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BulkJobView {
    /// The job.
    pub id: i64,
    /// What it does.
    pub action: BulkAction,
    /// Who started it.
    pub operator: String,
    /// `running`, `cancelled`, `finished`.
    pub state: String,
    /// Contacts it acts on.
    pub total: u64,
    /// Handled so far.
    pub handled: u64,
    /// Started at.
    pub created_at: DateTime<Utc>,
}

/// What one item transaction did.
enum Item {
    Done,
    Skipped(Skip),
    /// Someone handled it already (a second runner).
    AlreadyHandled,
    /// The job is no longer running (cancelled).
    Stopped,
}

fn count(n: i32) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Desk {
    /// Who `action` would act on among `contact_ids` and who it would
    /// skip, and why. Reads only; the same rules apply again, contact by
    /// contact, when the job runs.
    ///
    /// # Errors
    /// [`DeskError::NotAllowed`] / [`DeskError::UnknownOperator`] when the
    /// operator may not do `action`, or a store failure.
    pub async fn plan_bulk(
        &self,
        op: &Operator,
        action: BulkAction,
        contact_ids: &[i64],
    ) -> Result<BulkPlan, DeskError> {
        let db = self.store.conn();
        roles::require(db, op, action.action()).await?;
        let now = self.clock.now();
        let mut seen = HashSet::new();
        let ids: Vec<i64> = contact_ids
            .iter()
            .copied()
            .filter(|id| seen.insert(*id))
            .collect();
        let mut skip: HashMap<i64, Skip> = HashMap::new();
        for chunk in ids.chunks(CHUNK) {
            let existing: HashSet<i64> = contact::Entity::find()
                .select_only()
                .column(contact::Column::Id)
                .filter(contact::Column::Id.is_in(chunk.to_vec()))
                .into_tuple::<i64>()
                .all(db)
                .await?
                .into_iter()
                .collect();
            let customers: HashSet<i64> = grant::Entity::find()
                .select_only()
                .column(grant::Column::ContactId)
                .filter(grant::Column::ContactId.is_in(chunk.to_vec()))
                .into_tuple::<i64>()
                .all(db)
                .await?
                .into_iter()
                .collect();
            let accounts = account::Entity::find()
                .filter(account::Column::ContactId.is_in(chunk.to_vec()))
                .all(db)
                .await?;
            let unavailable = match action {
                BulkAction::ResetPassword => self.in_cooldown(db, &accounts, now).await?,
                BulkAction::Unlock => {
                    let locked: HashSet<i64> = accounts
                        .iter()
                        .filter(|a| a.locked_until.is_some_and(|t| t > now))
                        .map(|a| a.contact_id)
                        .collect();
                    chunk
                        .iter()
                        .copied()
                        .filter(|id| !locked.contains(id))
                        .map(|id| (id, Skip::NotLocked))
                        .collect()
                }
                BulkAction::SignOut => HashMap::new(),
            };
            for id in chunk {
                let why = if !existing.contains(id) {
                    Some(Skip::NotFound)
                } else if !customers.contains(id) {
                    Some(Skip::NotACustomer)
                } else {
                    unavailable.get(id).copied()
                };
                if let Some(why) = why {
                    skip.insert(*id, why);
                }
            }
        }
        let (act_on, skipped): (Vec<i64>, Vec<i64>) =
            ids.into_iter().partition(|id| !skip.contains_key(id));
        Ok(BulkPlan {
            action,
            act_on,
            skipped: skipped.into_iter().map(|id| (id, skip[&id])).collect(),
        })
    }

    /// Contacts among these accounts whose newest link is within the
    /// resend cooldown.
    async fn in_cooldown(
        &self,
        db: &impl ConnectionTrait,
        accounts: &[account::Model],
        now: DateTime<Utc>,
    ) -> Result<HashMap<i64, Skip>, DeskError> {
        let contact_of: HashMap<i64, i64> = accounts.iter().map(|a| (a.id, a.contact_id)).collect();
        if contact_of.is_empty() {
            return Ok(HashMap::new());
        }
        let since = now - delta(self.settings.reset.resend_cooldown);
        Ok(reset_link::Entity::find()
            .select_only()
            .column(reset_link::Column::AccountId)
            .filter(reset_link::Column::AccountId.is_in(contact_of.keys().copied()))
            .filter(reset_link::Column::CreatedAt.gt(since))
            .into_tuple::<i64>()
            .all(db)
            .await?
            .into_iter()
            .filter_map(|account| contact_of.get(&account))
            .map(|id| (*id, Skip::Cooldown))
            .collect())
    }

    /// Writes a planned job to the store: the job, an item per contact,
    /// and for each contact skipped at planning its item and audit row.
    /// Run it with [`Desk::run_bulk`].
    ///
    /// # Errors
    /// [`DeskError::NotAllowed`] / [`DeskError::UnknownOperator`], or a
    /// store failure (then nothing is written).
    pub async fn start_bulk(&self, op: &Operator, plan: &BulkPlan) -> Result<i64, DeskError> {
        let now = self.clock.now();
        let txn = self.store.begin_write().await?;
        roles::require(&txn, op, plan.action.action()).await?;
        let recorded: Vec<&(i64, Skip)> = plan
            .skipped
            .iter()
            .filter(|(_, why)| *why != Skip::NotFound)
            .collect();
        let job = bulk_job::ActiveModel {
            action: Set(plan.action.as_str().to_owned()),
            operator: Set(op.name.chars().take(100).collect()),
            source: Set(op.source.chars().take(200).collect()),
            state: Set(job_state::RUNNING.to_owned()),
            total: Set(i32::try_from(plan.act_on.len()).unwrap_or(i32::MAX)),
            done: Set(0),
            skipped: Set(0),
            failed: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            finished_at: Set(None),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let item = |contact_id: i64, state: &str, reason: &str| bulk_job_item::ActiveModel {
            job_id: Set(job.id),
            contact_id: Set(contact_id),
            state: Set(state.to_owned()),
            reason: Set(reason.to_owned()),
            updated_at: Set(now),
            ..Default::default()
        };
        let items: Vec<_> = plan
            .act_on
            .iter()
            .map(|id| item(*id, item_state::PENDING, ""))
            .chain(
                recorded
                    .iter()
                    .map(|(id, why)| item(*id, item_state::SKIPPED, why.code())),
            )
            .collect();
        for chunk in items.chunks(CHUNK) {
            bulk_job_item::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&txn)
                .await?;
        }
        for (id, why) in recorded {
            self.audit_skip(&txn, op, plan.action, *id, *why, job.id, now)
                .await?;
        }
        txn.commit().await?;
        tracing::info!(by = ?op.name, job = job.id, action = plan.action.as_str(), contacts = plan.act_on.len(), "bulk job started");
        Ok(job.id)
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one audit row's facts, each its own column"
    )]
    async fn audit_skip(
        &self,
        txn: &DatabaseTransaction,
        op: &Operator,
        action: BulkAction,
        contact_id: i64,
        why: Skip,
        job: i64,
        now: DateTime<Utc>,
    ) -> Result<(), DeskError> {
        audit::write(
            txn,
            now,
            &Actor::operator(op),
            Event::new(action.action().audit_name(), "refused", Some(contact_id))
                .detail("reason", why.code())
                .detail("bulk_job", job),
        )
        .await
    }

    /// Walks a job's pending contacts, one transaction each, calling
    /// `progress` after each; returns when every contact is handled or
    /// the job was cancelled. Runs a job a restart interrupted the same
    /// way: handled contacts are never acted on again.
    ///
    /// # Errors
    /// [`DeskError::NotFound`] for an unknown job; a role taken away
    /// ([`DeskError::NotAllowed`]) or an unreachable store stops the walk
    /// with the job still running, to be run again.
    pub async fn run_bulk(
        &self,
        op: &Operator,
        job_id: i64,
        progress: impl Fn(BulkProgress) + Send + Sync,
    ) -> Result<BulkSummary, DeskError> {
        let job = self.bulk_job(job_id).await?;
        let action = BulkAction::from_name(&job.action)
            .ok_or_else(|| DeskError::Internal(format!("bulk job {job_id}: unknown action")))?;
        // The job row counts what the runner handled (skips at planning
        // live in their items only), so a resumed job goes on from there.
        let mut now = BulkProgress {
            job_id,
            total: count(job.total),
            done: count(job.done),
            skipped: count(job.skipped),
            failed: count(job.failed),
        };
        progress(now);
        loop {
            let pending = bulk_job_item::Entity::find()
                .filter(bulk_job_item::Column::JobId.eq(job_id))
                .filter(bulk_job_item::Column::State.eq(item_state::PENDING))
                .order_by_asc(bulk_job_item::Column::Id)
                .limit(PAGE)
                .all(self.store.conn())
                .await?;
            if pending.is_empty() {
                break;
            }
            for item in pending {
                match self
                    .retrying(|| self.bulk_item_once(op, job_id, action, &item))
                    .await
                {
                    Ok(Item::Done) => now.done += 1,
                    Ok(Item::Skipped(_)) => now.skipped += 1,
                    Ok(Item::AlreadyHandled) => {}
                    Ok(Item::Stopped) => return self.bulk_summary(job_id).await,
                    Err(
                        err @ (DeskError::Unavailable(_)
                        | DeskError::NotAllowed { .. }
                        | DeskError::UnknownOperator { .. }),
                    ) => return Err(err),
                    Err(err) => {
                        if self
                            .retrying(|| self.bulk_item_failed(op, job_id, action, &item, &err))
                            .await?
                        {
                            now.failed += 1;
                        }
                    }
                }
                progress(now);
            }
        }
        self.retrying(|| self.finish_bulk(op, job_id, action))
            .await?;
        self.bulk_summary(job_id).await
    }

    async fn bulk_job(&self, job_id: i64) -> Result<bulk_job::Model, DeskError> {
        bulk_job::Entity::find_by_id(job_id)
            .one(self.store.conn())
            .await?
            .ok_or_else(|| DeskError::NotFound(format!("there is no bulk job {job_id}")))
    }

    /// Locks the job row; `None` when it is no longer running.
    async fn lock_running_job(
        txn: &DatabaseTransaction,
        job_id: i64,
    ) -> Result<Option<bulk_job::Model>, DeskError> {
        Ok(bulk_job::Entity::find_by_id(job_id)
            .lock_exclusive()
            .one(txn)
            .await?
            .filter(|job| job.state == job_state::RUNNING))
    }

    async fn bulk_item_once(
        &self,
        op: &Operator,
        job_id: i64,
        action: BulkAction,
        item: &bulk_job_item::Model,
    ) -> Result<Item, DeskError> {
        let now = self.clock.now();
        let txn = self.store.begin_write().await?;
        roles::require(&txn, op, action.action()).await?;
        let actor = Actor::operator(op);
        let Some(job) = Self::lock_running_job(&txn, job_id).await? else {
            return Ok(Item::Stopped);
        };
        let current = bulk_job_item::Entity::find_by_id(item.id).one(&txn).await?;
        if current.is_none_or(|i| i.state != item_state::PENDING) {
            return Ok(Item::AlreadyHandled);
        }
        let outcome = match lock_customer_by_id(&txn, item.contact_id).await {
            Err(DeskError::NotACustomer { .. }) => Item::Skipped(Skip::NotACustomer),
            Err(DeskError::NotFound(_)) => Item::Skipped(Skip::NotFound),
            Err(err) => return Err(err),
            Ok(customer) => match action {
                BulkAction::ResetPassword => {
                    match self.reset_link_step(&txn, op, customer, false, now).await {
                        Ok(done) => {
                            record(&txn, now, &actor, done, Some(job_id)).await?;
                            Item::Done
                        }
                        Err(DeskError::Cooldown { .. }) => Item::Skipped(Skip::Cooldown),
                        Err(err) => return Err(err),
                    }
                }
                BulkAction::Unlock => {
                    let locked = customer
                        .account
                        .as_ref()
                        .is_some_and(|a| a.locked_until.is_some_and(|t| t > now));
                    if locked {
                        let done = unlock_step(&txn, customer, now).await?;
                        record(&txn, now, &actor, done, Some(job_id)).await?;
                        Item::Done
                    } else {
                        Item::Skipped(Skip::NotLocked)
                    }
                }
                BulkAction::SignOut => {
                    let done = self.sign_out_step(&txn, &customer, now).await?;
                    record(&txn, now, &actor, done, Some(job_id)).await?;
                    Item::Done
                }
            },
        };
        let (state, reason) = match &outcome {
            Item::Skipped(why) => {
                self.audit_skip(&txn, op, action, item.contact_id, *why, job_id, now)
                    .await?;
                (item_state::SKIPPED, why.code())
            }
            _ => (item_state::DONE, ""),
        };
        self.settle_item(&txn, &job, item.id, state, reason, now)
            .await?;
        txn.commit().await?;
        if matches!(outcome, Item::Done) && action == BulkAction::ResetPassword {
            self.wake_outbox();
        }
        Ok(outcome)
    }

    /// Records an item's end and counts it on the job (the job row is locked).
    async fn settle_item(
        &self,
        txn: &DatabaseTransaction,
        job: &bulk_job::Model,
        item_id: i64,
        state: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DeskError> {
        bulk_job_item::Entity::update_many()
            .col_expr(bulk_job_item::Column::State, Expr::value(state))
            .col_expr(
                bulk_job_item::Column::Reason,
                Expr::value(reason.chars().take(200).collect::<String>()),
            )
            .col_expr(bulk_job_item::Column::UpdatedAt, Expr::value(now))
            .filter(bulk_job_item::Column::Id.eq(item_id))
            .exec(txn)
            .await?;
        let mut row: bulk_job::ActiveModel = job.clone().into();
        match state {
            item_state::DONE => row.done = Set(job.done.saturating_add(1)),
            item_state::SKIPPED => row.skipped = Set(job.skipped.saturating_add(1)),
            _ => row.failed = Set(job.failed.saturating_add(1)),
        }
        row.updated_at = Set(now);
        row.update(txn).await?;
        Ok(())
    }

    /// Records a contact the action failed for, with an audit row; returns
    /// false when the job stopped or the item was handled meanwhile.
    async fn bulk_item_failed(
        &self,
        op: &Operator,
        job_id: i64,
        action: BulkAction,
        item: &bulk_job_item::Model,
        err: &DeskError,
    ) -> Result<bool, DeskError> {
        let now = self.clock.now();
        let txn = self.store.begin_write().await?;
        let Some(job) = Self::lock_running_job(&txn, job_id).await? else {
            return Ok(false);
        };
        audit::write(
            &txn,
            now,
            &Actor::operator(op),
            Event::new(
                action.action().audit_name(),
                "failed",
                Some(item.contact_id),
            )
            .detail("reason", err.kind())
            .detail("bulk_job", job_id),
        )
        .await?;
        self.settle_item(
            &txn,
            &job,
            item.id,
            item_state::FAILED,
            &err.to_string(),
            now,
        )
        .await?;
        txn.commit().await?;
        tracing::warn!(job = job_id, contact = item.contact_id, error = %err, "bulk action failed for a contact");
        Ok(true)
    }

    async fn finish_bulk(
        &self,
        op: &Operator,
        job_id: i64,
        action: BulkAction,
    ) -> Result<(), DeskError> {
        self.end_bulk(op, job_id, action, job_state::FINISHED, "bulk.finished")
            .await
            .map(|_| ())
    }

    /// Ends a running job as `state` with its one summary audit row;
    /// returns false when it was not running.
    async fn end_bulk(
        &self,
        op: &Operator,
        job_id: i64,
        action: BulkAction,
        state: &str,
        audit_action: &'static str,
    ) -> Result<bool, DeskError> {
        let now = self.clock.now();
        let txn = self.store.begin_write().await?;
        let Some(job) = Self::lock_running_job(&txn, job_id).await? else {
            return Ok(false);
        };
        let mut row: bulk_job::ActiveModel = job.clone().into();
        row.state = Set(state.to_owned());
        row.finished_at = Set(Some(now));
        row.updated_at = Set(now);
        row.update(&txn).await?;
        let skipped = bulk_job_item::Entity::find()
            .filter(bulk_job_item::Column::JobId.eq(job_id))
            .filter(bulk_job_item::Column::State.eq(item_state::SKIPPED))
            .count(&txn)
            .await?;
        audit::write(
            &txn,
            now,
            &Actor::operator(op),
            Event::ok(audit_action, None)
                .detail("bulk_job", job_id)
                .detail("action", action.as_str())
                .detail("total", job.total)
                .detail("done", job.done)
                .detail("skipped", skipped)
                .detail("failed", job.failed),
        )
        .await?;
        txn.commit().await?;
        tracing::info!(by = ?op.name, job = job_id, state, done = job.done, skipped, failed = job.failed, "bulk job ended");
        Ok(true)
    }

    /// Cancels a running job (whoever may do its action may cancel it):
    /// the contact being handled finishes, nothing further is done. The
    /// summary audit row records how far it got.
    ///
    /// # Errors
    /// [`DeskError::NotFound`], [`DeskError::Conflict`] when it is not
    /// running, a role refusal, or a store failure.
    pub async fn cancel_bulk(&self, op: &Operator, job_id: i64) -> Result<BulkSummary, DeskError> {
        let job = self.bulk_job(job_id).await?;
        let action = BulkAction::from_name(&job.action)
            .ok_or_else(|| DeskError::Internal(format!("bulk job {job_id}: unknown action")))?;
        roles::require(self.store.conn(), op, action.action()).await?;
        let ended = self
            .retrying(|| self.end_bulk(op, job_id, action, job_state::CANCELLED, "bulk.cancelled"))
            .await?;
        if !ended {
            return Err(DeskError::Conflict(format!(
                "bulk job {job_id} is not running"
            )));
        }
        self.bulk_summary(job_id).await
    }

    /// A job's summary from the store.
    ///
    /// # Errors
    /// [`DeskError::NotFound`] or a store failure.
    pub async fn bulk_summary(&self, job_id: i64) -> Result<BulkSummary, DeskError> {
        let job = self.bulk_job(job_id).await?;
        let action = BulkAction::from_name(&job.action)
            .ok_or_else(|| DeskError::Internal(format!("bulk job {job_id}: unknown action")))?;
        let items = bulk_job_item::Entity::find()
            .filter(bulk_job_item::Column::JobId.eq(job_id))
            .filter(bulk_job_item::Column::State.ne(item_state::DONE))
            .all(self.store.conn())
            .await?;
        let mut skipped = Vec::new();
        let mut failed = Vec::new();
        let mut not_reached = 0;
        for item in items {
            match item.state.as_str() {
                item_state::SKIPPED => {
                    let why = Skip::from_code(&item.reason).unwrap_or(Skip::NotFound);
                    skipped.push((item.contact_id, why));
                }
                item_state::FAILED => failed.push((item.contact_id, item.reason)),
                _ => not_reached += 1,
            }
        }
        Ok(BulkSummary {
            job_id,
            action,
            done: count(job.done),
            skipped,
            failed,
            not_reached,
            cancelled: job.state == job_state::CANCELLED,
        })
    }

    /// Jobs still running: in progress somewhere, or interrupted by a
    /// restart and waiting for [`Desk::run_bulk`] (any operator may list).
    ///
    /// # Errors
    /// A role refusal or a store failure.
    pub async fn running_bulk_jobs(&self, op: &Operator) -> Result<Vec<BulkJobView>, DeskError> {
        let db = self.store.conn();
        roles::require(db, op, Action::Browse).await?;
        let jobs = bulk_job::Entity::find()
            .filter(bulk_job::Column::State.eq(job_state::RUNNING))
            .order_by_asc(bulk_job::Column::Id)
            .all(db)
            .await?;
        Ok(jobs
            .into_iter()
            .filter_map(|job| {
                Some(BulkJobView {
                    id: job.id,
                    action: BulkAction::from_name(&job.action)?,
                    operator: job.operator,
                    state: job.state,
                    total: count(job.total),
                    handled: count(job.done) + count(job.skipped) + count(job.failed),
                    created_at: job.created_at,
                })
            })
            .collect())
    }

    /// Contacts whose account is locked now, newest lock first; with
    /// `since`, only locks that began within it.
    ///
    /// # Errors
    /// A role refusal or a store failure.
    pub async fn locked_contacts(
        &self,
        op: &Operator,
        since: Option<Duration>,
    ) -> Result<Vec<i64>, DeskError> {
        let db = self.store.conn();
        roles::require(db, op, Action::Browse).await?;
        let now = self.clock.now();
        // A lock lasts `login.lockout` from the failure that set it.
        let floor = since.map_or(now, |since| {
            (now - delta(since) + delta(self.settings.login.lockout)).max(now)
        });
        Ok(account::Entity::find()
            .select_only()
            .column(account::Column::ContactId)
            .filter(account::Column::LockedUntil.gt(floor))
            .order_by_desc(account::Column::LockedUntil)
            .into_tuple::<i64>()
            .all(db)
            .await?)
    }

    /// The contact ids of these emails (any case); emails no contact has
    /// are left out.
    ///
    /// # Errors
    /// A role refusal or a store failure.
    pub async fn contact_ids_by_email(
        &self,
        op: &Operator,
        emails: &[String],
    ) -> Result<HashMap<String, i64>, DeskError> {
        let db = self.store.conn();
        roles::require(db, op, Action::Browse).await?;
        let lower: Vec<String> = emails.iter().map(|e| e.trim().to_lowercase()).collect();
        let mut out = HashMap::new();
        for chunk in lower.chunks(CHUNK) {
            let rows: Vec<(i64, String)> = contact::Entity::find()
                .select_only()
                .column(contact::Column::Id)
                .column(contact::Column::EmailLower)
                .filter(contact::Column::EmailLower.is_in(chunk.to_vec()))
                .into_tuple()
                .all(db)
                .await?;
            out.extend(rows.into_iter().map(|(id, email)| (email, id)));
        }
        Ok(out)
    }
}
