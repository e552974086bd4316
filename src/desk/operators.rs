//! The operators table: resolving an identity to an operator, the first
//! admin, adding, changing and removing operators (admins only), and the
//! list. The role check itself is in `roles`.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};

use super::Desk;
pub use super::action::{Action, Role};
use super::audit::{self, Actor, Event};
use super::error::DeskError;
use super::operation::Done;
pub use super::roles::{Identity, Operator, source_from_env};
use super::roles::{check, require, role_of};
use crate::store::entity::operator;

/// An operators-table row, for `keydesk operators list`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OperatorEntry {
    /// OS user name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// When added.
    pub created_at: DateTime<Utc>,
    /// Who added them.
    pub created_by: String,
}

impl Desk {
    /// Whether `op` (with the role they were resolved with) may do
    /// `action`; front ends use it to show an item disabled with the reason.
    /// Operations check again against the store.
    ///
    /// # Errors
    /// [`DeskError::NotAllowed`] naming the role needed.
    pub fn allowed(&self, op: &Operator, action: Action) -> Result<(), DeskError> {
        check(op.role, action)
    }

    /// Resolves an identity to an operator.
    ///
    /// # Errors
    /// [`DeskError::UnknownOperator`] with the command an admin runs to add
    /// them; [`DeskError::Unavailable`] when the store is down.
    pub async fn operator(&self, identity: &Identity) -> Result<Operator, DeskError> {
        match role_of(self.store.conn(), &identity.name).await? {
            Some(role) => Ok(Operator {
                name: identity.name.clone(),
                source: identity.source.clone(),
                role,
            }),
            None => Err(DeskError::UnknownOperator {
                name: identity.name.clone(),
            }),
        }
    }

    /// On a store with no operators at all, makes `identity` the first
    /// admin and returns a message saying so; otherwise does nothing and
    /// returns `None`. `keydesk migrate` and the demo call it.
    ///
    /// # Errors
    /// A store failure.
    pub async fn ensure_first_admin(
        &self,
        identity: &Identity,
    ) -> Result<Option<String>, DeskError> {
        let claimed = self
            .in_write(move |txn, now| async move {
                let txn = &*txn;
                if super::store_keys::get(txn, super::store_keys::FIRST_ADMIN)
                    .await?
                    .is_some()
                    || operator::Entity::find().count(txn).await? > 0
                {
                    return Ok(false);
                }
                // Two claims on an empty store both see no operator; only one can
                // write this name, the other fails on the unique index and, run
                // again, finds the claim.
                super::store_keys::claim(txn, super::store_keys::FIRST_ADMIN, &identity.name, now)
                    .await?;
                operator::ActiveModel {
                    name: Set(identity.name.clone()),
                    role: Set(Role::Admin.as_str().to_owned()),
                    created_at: Set(now),
                    created_by: Set("keydesk (first operator)".to_owned()),
                    ..Default::default()
                }
                .insert(txn)
                .await?;
                audit::write(
                    txn,
                    now,
                    &Actor::system(&identity.source),
                    Event::ok("operators.first_admin", None)
                        .detail("operator", identity.name.as_str())
                        .detail("role", Role::Admin.as_str()),
                )
                .await?;
                Ok(true)
            })
            .await?;
        if !claimed {
            return Ok(None);
        }
        tracing::info!(operator = ?identity.name, "first operator made admin");
        Ok(Some(format!(
            "{} is the first keydesk operator and is now an admin. \
             Add others with `keydesk operators add NAME --role agent`.",
            identity.name
        )))
    }

    /// Adds an operator, or changes the role of an existing one (admins only).
    ///
    /// # Errors
    /// [`DeskError::NotAllowed`] for non-admins; [`DeskError::Conflict`]
    /// when it would leave no admin.
    pub async fn add_operator(
        &self,
        op: &Operator,
        name: &str,
        role: Role,
    ) -> Result<(), DeskError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
            return Err(DeskError::Conflict(format!(
                "{name:?} is not a valid OS user name"
            )));
        }
        self.operate(op, Action::AddOperator, None, move |txn, now| async move {
            let txn = &*txn;
            let existing = operator::Entity::find()
                .filter(operator::Column::Name.eq(name))
                .one(txn)
                .await?;
            let previous = existing.as_ref().map(|row| row.role.clone());
            match existing {
                Some(row) => {
                    if row.role == Role::Admin.as_str() && role != Role::Admin {
                        ensure_another_admin(txn, name).await?;
                    }
                    let mut row: operator::ActiveModel = row.into();
                    row.role = Set(role.as_str().to_owned());
                    row.update(txn).await?;
                }
                None => {
                    operator::ActiveModel {
                        name: Set(name.to_owned()),
                        role: Set(role.as_str().to_owned()),
                        created_at: Set(now),
                        created_by: Set(op.name.clone()),
                        ..Default::default()
                    }
                    .insert(txn)
                    .await?;
                }
            }
            let mut event = Event::ok(Action::AddOperator.audit_name(), None)
                .detail("operator", name)
                .detail("role", role.as_str());
            if let Some(previous) = previous {
                event = event.detail("previous_role", previous);
            }
            Ok(Done::new((), event))
        })
        .await?;
        tracing::info!(by = ?op.name, operator = ?name, role = %role, "operator added");
        Ok(())
    }

    /// Removes an operator (admins only); the last admin cannot be removed.
    ///
    /// # Errors
    /// [`DeskError::NotFound`], [`DeskError::NotAllowed`], [`DeskError::Conflict`].
    pub async fn remove_operator(&self, op: &Operator, name: &str) -> Result<(), DeskError> {
        let name = name.trim();
        self.operate(op, Action::RemoveOperator, None, move |txn, _| async move {
            let txn = &*txn;
            let row = operator::Entity::find()
                .filter(operator::Column::Name.eq(name))
                .one(txn)
                .await?
                .ok_or_else(|| DeskError::NotFound(format!("no operator is named {name}")))?;
            if row.role == Role::Admin.as_str() {
                ensure_another_admin(txn, name).await?;
            }
            operator::Entity::delete_by_id(row.id).exec(txn).await?;
            let event = Event::ok(Action::RemoveOperator.audit_name(), None)
                .detail("operator", name)
                .detail("role", row.role);
            Ok(Done::new((), event))
        })
        .await?;
        tracing::info!(by = ?op.name, operator = ?name, "operator removed");
        Ok(())
    }

    /// Every operator, by name (any role may look).
    ///
    /// # Errors
    /// [`DeskError::UnknownOperator`] or a store failure.
    pub async fn list_operators(&self, op: &Operator) -> Result<Vec<OperatorEntry>, DeskError> {
        let db = self.store.conn();
        require(db, op, Action::Browse).await?;
        let rows = operator::Entity::find()
            .order_by_asc(operator::Column::Name)
            .all(db)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                Some(OperatorEntry {
                    role: r.role.parse().ok()?,
                    name: r.name,
                    created_at: r.created_at,
                    created_by: r.created_by,
                })
            })
            .collect())
    }
}

async fn ensure_another_admin(txn: &impl ConnectionTrait, except: &str) -> Result<(), DeskError> {
    let others = operator::Entity::find()
        .filter(operator::Column::Role.eq(Role::Admin.as_str()))
        .filter(operator::Column::Name.ne(except))
        .count(txn)
        .await?;
    if others == 0 {
        return Err(DeskError::Conflict(format!(
            "{except} is the last admin; make another operator admin first"
        )));
    }
    Ok(())
}
