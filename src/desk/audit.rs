//! The audit log: who did what to whom, from where, and how it ended.
//!
//! Rows are written inside the operation's own transaction, so an action
//! and its record commit together. A refused or denied action is recorded
//! too, in a transaction of its own, because the action's was rolled back.
//! `detail` is a small JSON object of plain facts (counts, flags, names of
//! rules); it never holds a password, token or link.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::{Map, Value};

use super::action::{Action, Role};
use super::error::DeskError;
use super::roles::{self, Operator};
use super::{ContactRef, Desk};
use crate::store::contacts;
use crate::store::entity::{audit_event, contact};

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `operator`, `customer` or `system`.
    pub kind: &'static str,
    /// Operator name, customer email, or `keydesk`.
    pub name: String,
    /// SSH client, client address, or `local`.
    pub source: String,
}

impl Actor {
    /// An operator at a console or shell.
    #[must_use]
    pub fn operator(op: &Operator) -> Self {
        Self {
            kind: "operator",
            name: op.name.clone(),
            source: op.source.clone(),
        }
    }
    /// A customer on the site.
    #[must_use]
    pub fn customer(email: &str, client: &str) -> Self {
        Self {
            kind: "customer",
            name: email.to_owned(),
            source: client.to_owned(),
        }
    }
    /// keydesk itself.
    #[must_use]
    pub fn system(source: &str) -> Self {
        Self {
            kind: "system",
            name: "keydesk".to_owned(),
            source: source.to_owned(),
        }
    }
}

/// One event to record.
#[derive(Debug, Clone)]
pub struct Event {
    action: &'static str,
    outcome: &'static str,
    contact_id: Option<i64>,
    detail: Map<String, Value>,
}

impl Event {
    /// A successful action.
    #[must_use]
    pub fn ok(action: &'static str, contact_id: Option<i64>) -> Self {
        Self::new(action, "ok", contact_id)
    }

    /// An action with the given outcome: `ok`, `denied` (role) or `refused` (a rule).
    #[must_use]
    pub fn new(action: &'static str, outcome: &'static str, contact_id: Option<i64>) -> Self {
        Self {
            action,
            outcome,
            contact_id,
            detail: Map::new(),
        }
    }

    /// Adds a plain fact. Never pass a secret.
    #[must_use]
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.detail.insert(key.to_owned(), value.into());
        self
    }
}

/// The event with the bulk job it was part of, if any.
#[must_use]
pub(crate) fn in_job(event: Event, job: Option<i64>) -> Event {
    match job {
        Some(id) => event.detail("bulk_job", id),
        None => event,
    }
}

/// Appends an event (inside the caller's transaction).
pub(crate) async fn write(
    db: &impl ConnectionTrait,
    at: DateTime<Utc>,
    actor: &Actor,
    event: Event,
) -> Result<(), DeskError> {
    audit_event::ActiveModel {
        at: Set(at),
        actor: Set(truncate(&actor.name, 320)),
        actor_kind: Set(actor.kind.to_owned()),
        source: Set(truncate(&actor.source, 200)),
        action: Set(event.action.to_owned()),
        outcome: Set(event.outcome.to_owned()),
        contact_id: Set(event.contact_id),
        detail: Set(Value::Object(event.detail).to_string()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// One audit row as shown to operators.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditEntry {
    /// Row id (increasing).
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Operator name, customer email or `keydesk`.
    pub actor: String,
    /// `operator`, `customer` or `system`.
    pub actor_kind: String,
    /// SSH client, client address or `local`.
    pub source: String,
    /// What, e.g. `reset_link.sent`.
    pub action: String,
    /// `ok`, `denied` or `refused`.
    pub outcome: String,
    /// The contact's email, when the event concerns one.
    pub contact: Option<String>,
    /// The contact's id, when the event concerns one (a console opens it).
    pub contact_id: Option<i64>,
    /// Plain facts.
    pub detail: Value,
}

/// Which audit rows to list. Every filter given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only events about this contact (email, any case).
    pub contact_email: Option<String>,
    /// Only events whose actor, source, action, outcome or detail contains
    /// this text (any case).
    pub text: Option<String>,
    /// Only events by an actor whose name starts with this (operator
    /// name, customer email; any case).
    pub operator: Option<String>,
    /// Only events whose action starts with this (`reset_link` matches
    /// `reset_link.sent` and `reset_link.revoked`; any case).
    pub action: Option<String>,
    /// Only events newer than this row id (a live view's refresh).
    pub after_id: Option<i64>,
    /// At most this many, newest first; `0` means 50.
    pub limit: u64,
}

/// `%needle%` for LIKE, lower-cased, with `%`, `_` and `\` escaped.
fn like(needle: &str, prefix_only: bool) -> String {
    let mut out = String::new();
    if !prefix_only {
        out.push('%');
    }
    for ch in needle.trim().to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

/// `lower(column) LIKE pattern ESCAPE '\'`.
fn lower_like(column: audit_event::Column, pattern: String) -> SimpleExpr {
    Expr::expr(Func::lower(Expr::col(column))).like(LikeExpr::new(pattern).escape('\\'))
}

impl Desk {
    /// The newest audit events matching `filter`, newest first. Admins
    /// see every row; other operators only their own actions (a viewer
    /// or agent has no business reading what colleagues did).
    ///
    /// # Errors
    /// [`DeskError::NotFound`] for an unknown contact email,
    /// [`DeskError::UnknownOperator`], or a store failure.
    pub async fn audit(
        &self,
        op: &Operator,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditEntry>, DeskError> {
        let db = self.store.conn();
        roles::require(db, op, Action::Browse).await?;
        let mut query = audit_event::Entity::find().order_by_desc(audit_event::Column::Id);
        // The role as the store has it now, not as the console resolved it.
        let role = roles::role_of(db, &op.name).await?;
        if role != Some(Role::Admin) {
            query = query
                .filter(audit_event::Column::ActorKind.eq("operator"))
                .filter(audit_event::Column::Actor.eq(op.name.as_str()));
        }
        if let Some(after) = filter.after_id {
            query = query.filter(audit_event::Column::Id.gt(after));
        }
        if let Some(name) = filter.operator.as_deref().filter(|s| !s.trim().is_empty()) {
            query = query.filter(lower_like(audit_event::Column::Actor, like(name, true)));
        }
        if let Some(action) = filter.action.as_deref().filter(|s| !s.trim().is_empty()) {
            query = query.filter(lower_like(audit_event::Column::Action, like(action, true)));
        }
        if let Some(text) = filter.text.as_deref().filter(|s| !s.trim().is_empty()) {
            let pattern = like(text, false);
            query = query.filter(
                Condition::any()
                    .add(lower_like(audit_event::Column::Actor, pattern.clone()))
                    .add(lower_like(audit_event::Column::Source, pattern.clone()))
                    .add(lower_like(audit_event::Column::Action, pattern.clone()))
                    .add(lower_like(audit_event::Column::Outcome, pattern.clone()))
                    .add(lower_like(audit_event::Column::Detail, pattern)),
            );
        }
        if let Some(email) = &filter.contact_email {
            let contact = contacts::by_email(db, email)
                .await?
                .ok_or_else(|| not_found(email))?;
            query = query.filter(audit_event::Column::ContactId.eq(contact.id));
        }
        let limit = if filter.limit == 0 { 50 } else { filter.limit };
        let rows = query.limit(limit).all(db).await?;
        let mut ids: Vec<i64> = rows.iter().filter_map(|r| r.contact_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let emails: std::collections::HashMap<i64, String> = if ids.is_empty() {
            std::collections::HashMap::new()
        } else {
            contact::Entity::find()
                .filter(contact::Column::Id.is_in(ids))
                .all(db)
                .await?
                .into_iter()
                .map(|c| (c.id, c.email))
                .collect()
        };
        Ok(rows
            .into_iter()
            .map(|r| AuditEntry {
                contact: r.contact_id.and_then(|id| emails.get(&id).cloned()),
                contact_id: r.contact_id,
                detail: serde_json::from_str(&r.detail).unwrap_or(Value::String(r.detail)),
                id: r.id,
                at: r.at,
                actor: r.actor,
                actor_kind: r.actor_kind,
                source: r.source,
                action: r.action,
                outcome: r.outcome,
            })
            .collect())
    }

    /// Records a refused or denied operator action in a transaction of its
    /// own (the action's transaction was rolled back). Outcomes that are
    /// not refusals (success, outages) record nothing here. A failure to
    /// record is logged, never hides the refusal itself.
    pub(crate) async fn audit_refusal<T>(
        &self,
        op: &Operator,
        action: Action,
        contact: Option<ContactRef<'_>>,
        result: &Result<T, DeskError>,
    ) {
        let Err(err) = result else { return };
        let outcome = match err {
            DeskError::NotAllowed { .. } | DeskError::UnknownOperator { .. } => "denied",
            DeskError::NotACustomer { .. }
            | DeskError::Cooldown { .. }
            | DeskError::Policy(_)
            | DeskError::Invalid(_)
            | DeskError::Conflict(_) => "refused",
            _ => return,
        };
        if let Err(e) = self.write_refusal(op, action, contact, outcome, err).await {
            tracing::warn!(error = %e, action = action.audit_name(), "could not audit a refusal");
        }
    }

    async fn write_refusal(
        &self,
        op: &Operator,
        action: Action,
        contact: Option<ContactRef<'_>>,
        outcome: &'static str,
        err: &DeskError,
    ) -> Result<(), DeskError> {
        let txn = self.store.begin_write().await?;
        let contact_id = match contact {
            Some(ContactRef::Email(email)) => contacts::by_email(&txn, email).await?.map(|c| c.id),
            Some(ContactRef::Id(id)) => contact::Entity::find_by_id(id)
                .one(&txn)
                .await?
                .map(|c| c.id),
            None => None,
        };
        let mut event = Event::new(action.audit_name(), outcome, contact_id)
            .detail("reason", err.kind())
            .detail("message", err.to_string());
        if let DeskError::Cooldown { remaining, .. } = err {
            event = event.detail(
                "remaining_ms",
                u64::try_from(remaining.as_millis()).unwrap_or(u64::MAX),
            );
        }
        write(&txn, self.clock.now(), &Actor::operator(op), event).await?;
        txn.commit().await?;
        Ok(())
    }
}

pub(crate) fn not_found(email: &str) -> DeskError {
    DeskError::NotFound(format!("no contact has the email {}", email.trim()))
}
