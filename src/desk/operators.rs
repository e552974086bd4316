//! Who is at the keyboard and what they may do.
//!
//! The operator is the OS account of the process's *real* uid (not `$USER`,
//! which anyone can set), with the source taken from `SSH_CONNECTION` or
//! `SSH_CLIENT` when keydesk runs in an SSH session. Roles live in the
//! `operators` table and are read again inside every operation, so a role
//! taken away takes effect at once, even in a console left open.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set, TransactionTrait,
};

use super::audit::{self, Actor, Event};
use super::error::DeskError;
use super::{Desk, retry};
use crate::store::entity::operator;

/// An operator's role. Each role may do everything the one before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Browses contacts, profiles and the audit log.
    Viewer,
    /// Also sends and revokes reset links.
    Agent,
    /// Also changes passwords, unlocks, signs customers out, manages operators.
    Admin,
}

impl Role {
    /// The name stored and typed: `viewer`, `agent`, `admin`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Agent => "agent",
            Self::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "viewer" => Ok(Self::Viewer),
            "agent" => Ok(Self::Agent),
            "admin" => Ok(Self::Admin),
            other => Err(format!(
                "{other:?} is not a role; use viewer, agent or admin"
            )),
        }
    }
}

/// Something an operator may try; each needs a least [`Role`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// See contacts, profiles, the audit log, the operator list.
    Browse,
    /// Email a customer a reset link.
    SendResetLink,
    /// Cancel a customer's open reset links.
    RevokeResetLinks,
    /// Set a customer's (temporary) password.
    ChangePassword,
    /// Lift a lock left by failed sign-ins.
    Unlock,
    /// End every site session of a customer.
    SignOutEverywhere,
    /// Add, change or remove operators.
    ManageOperators,
    /// Change a contact's name or email.
    EditContact,
    /// Give a contact access to an offer.
    GrantOffer,
    /// Take an offer away from a contact.
    RevokeOffer,
    /// Send a new welcome email to a customer who never set a password.
    ResendWelcome,
    /// Write a note on a contact.
    AddNote,
    /// Delete a note (one's own; an admin's any).
    DeleteNote,
}

impl Action {
    /// The least role that may do this.
    #[must_use]
    pub fn needed_role(self) -> Role {
        match self {
            Self::Browse => Role::Viewer,
            Self::SendResetLink
            | Self::RevokeResetLinks
            | Self::ResendWelcome
            | Self::AddNote
            | Self::DeleteNote => Role::Agent,
            Self::ChangePassword
            | Self::Unlock
            | Self::SignOutEverywhere
            | Self::ManageOperators
            | Self::EditContact
            | Self::GrantOffer
            | Self::RevokeOffer => Role::Admin,
        }
    }

    /// The audit action name used when this is denied.
    #[must_use]
    pub fn audit_name(self) -> &'static str {
        match self {
            Self::Browse => "browse",
            Self::SendResetLink => "reset_link.send",
            Self::RevokeResetLinks => "reset_link.revoke",
            Self::ChangePassword => "password.change",
            Self::Unlock => "account.unlock",
            Self::SignOutEverywhere => "sessions.sign_out_everywhere",
            Self::ManageOperators => "operators.manage",
            Self::EditContact => "contact.edit",
            Self::GrantOffer => "offer.grant",
            Self::RevokeOffer => "offer.revoke",
            Self::ResendWelcome => "welcome.resend",
            Self::AddNote => "note.add",
            Self::DeleteNote => "note.delete",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Browse => "Browsing",
            Self::SendResetLink => "Sending a reset link",
            Self::RevokeResetLinks => "Revoking reset links",
            Self::ChangePassword => "Changing a password",
            Self::Unlock => "Unlocking an account",
            Self::SignOutEverywhere => "Signing a customer out everywhere",
            Self::ManageOperators => "Managing operators",
            Self::EditContact => "Editing a contact",
            Self::GrantOffer => "Granting an offer",
            Self::RevokeOffer => "Revoking an offer",
            Self::ResendWelcome => "Resending a welcome email",
            Self::AddNote => "Adding a note",
            Self::DeleteNote => "Deleting a note",
        })
    }
}

/// Who the OS says is running keydesk, before the operators table is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// OS user name of the real uid.
    pub name: String,
    /// `ssh 203.0.113.9:51234` in an SSH session, `local` otherwise.
    pub source: String,
}

impl Identity {
    /// The identity of this process: the real uid's account name, and the
    /// SSH client when there is one.
    ///
    /// # Errors
    /// [`DeskError::Internal`] when the uid has no account name.
    pub fn from_os() -> Result<Self, DeskError> {
        let uid = nix::unistd::getuid();
        let user = nix::unistd::User::from_uid(uid)
            .map_err(|e| DeskError::Internal(format!("looking up uid {uid}: {e}")))?
            .ok_or_else(|| DeskError::Internal(format!("uid {uid} has no account name")))?;
        Ok(Self {
            name: user.name,
            source: source_from_env(
                std::env::var("SSH_CONNECTION").ok().as_deref(),
                std::env::var("SSH_CLIENT").ok().as_deref(),
            ),
        })
    }
}

/// Where the operator connects from: `ssh ADDRESS:PORT` from `SSH_CONNECTION`
/// (`client port server port`) or `SSH_CLIENT` (`client port server-port`),
/// or `local`.
#[must_use]
pub fn source_from_env(ssh_connection: Option<&str>, ssh_client: Option<&str>) -> String {
    for var in [ssh_connection, ssh_client].into_iter().flatten() {
        let mut parts = var.split_whitespace();
        if let (Some(addr), Some(port)) = (parts.next(), parts.next()) {
            // Only characters an address or port can hold reach the audit log.
            let clean = |s: &str| {
                s.chars()
                    .filter(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '%'))
                    .take(64)
                    .collect::<String>()
            };
            return format!("ssh {}:{}", clean(addr), clean(port));
        }
    }
    "local".to_owned()
}

/// A known operator: identity plus the role they had when resolved.
/// Operations check the role again in the store, so this is for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// OS user name.
    pub name: String,
    /// SSH client or `local`.
    pub source: String,
    /// The role at the time of resolving.
    pub role: Role,
}

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

/// Reads a name's role inside a transaction (or on the connection).
pub(crate) async fn role_of(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<Role>, DeskError> {
    let row = operator::Entity::find()
        .filter(operator::Column::Name.eq(name))
        .one(db)
        .await?;
    Ok(row.and_then(|r| r.role.parse().ok()))
}

/// Fails unless `op` currently holds a role that allows `action`.
pub(crate) async fn require(
    db: &impl ConnectionTrait,
    op: &Operator,
    action: Action,
) -> Result<(), DeskError> {
    match role_of(db, &op.name).await? {
        None => Err(DeskError::UnknownOperator {
            name: op.name.clone(),
        }),
        Some(role) => check(role, action),
    }
}

fn check(role: Role, action: Action) -> Result<(), DeskError> {
    let needed_role = action.needed_role();
    if role >= needed_role {
        Ok(())
    } else {
        Err(DeskError::NotAllowed {
            action,
            needed_role,
        })
    }
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
        retry!(self.ensure_first_admin_once(identity))
    }

    async fn ensure_first_admin_once(
        &self,
        identity: &Identity,
    ) -> Result<Option<String>, DeskError> {
        let now = self.clock.now();
        let txn = self.store.begin_write().await?;
        if super::store_keys::get(&txn, super::store_keys::FIRST_ADMIN)
            .await?
            .is_some()
            || operator::Entity::find().count(&txn).await? > 0
        {
            return Ok(None);
        }
        // Two claims on an empty store both see no operator; only one can
        // write this name, the other fails on the unique index and, run
        // again, finds the claim.
        super::store_keys::claim(&txn, super::store_keys::FIRST_ADMIN, &identity.name, now).await?;
        operator::ActiveModel {
            name: Set(identity.name.clone()),
            role: Set(Role::Admin.as_str().to_owned()),
            created_at: Set(now),
            created_by: Set("keydesk (first operator)".to_owned()),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        audit::write(
            &txn,
            now,
            &Actor::system(&identity.source),
            Event::ok("operators.first_admin", None)
                .detail("operator", identity.name.as_str())
                .detail("role", Role::Admin.as_str()),
        )
        .await?;
        txn.commit().await?;
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
        let result = retry!(self.add_operator_once(op, name, role));
        self.audit_refusal(op, Action::ManageOperators, None, &result)
            .await;
        result
    }

    async fn add_operator_once(
        &self,
        op: &Operator,
        name: &str,
        role: Role,
    ) -> Result<(), DeskError> {
        let now = self.clock.now();
        let txn = self.store.begin_write().await?;
        require(&txn, op, Action::ManageOperators).await?;
        let existing = operator::Entity::find()
            .filter(operator::Column::Name.eq(name))
            .one(&txn)
            .await?;
        let previous = existing.as_ref().map(|row| row.role.clone());
        match existing {
            Some(row) => {
                if row.role == Role::Admin.as_str() && role != Role::Admin {
                    ensure_another_admin(&txn, name).await?;
                }
                let mut row: operator::ActiveModel = row.into();
                row.role = Set(role.as_str().to_owned());
                row.update(&txn).await?;
            }
            None => {
                operator::ActiveModel {
                    name: Set(name.to_owned()),
                    role: Set(role.as_str().to_owned()),
                    created_at: Set(now),
                    created_by: Set(op.name.clone()),
                    ..Default::default()
                }
                .insert(&txn)
                .await?;
            }
        }
        let mut event = Event::ok("operators.add", None)
            .detail("operator", name)
            .detail("role", role.as_str());
        if let Some(previous) = previous {
            event = event.detail("previous_role", previous);
        }
        audit::write(&txn, now, &Actor::operator(op), event).await?;
        txn.commit().await?;
        tracing::info!(by = ?op.name, operator = ?name, role = %role, "operator added");
        Ok(())
    }

    /// Removes an operator (admins only); the last admin cannot be removed.
    ///
    /// # Errors
    /// [`DeskError::NotFound`], [`DeskError::NotAllowed`], [`DeskError::Conflict`].
    pub async fn remove_operator(&self, op: &Operator, name: &str) -> Result<(), DeskError> {
        let result = retry!(self.remove_operator_once(op, name.trim()));
        self.audit_refusal(op, Action::ManageOperators, None, &result)
            .await;
        result
    }

    async fn remove_operator_once(&self, op: &Operator, name: &str) -> Result<(), DeskError> {
        let now = self.clock.now();
        let txn = self.store.begin_write().await?;
        require(&txn, op, Action::ManageOperators).await?;
        let row = operator::Entity::find()
            .filter(operator::Column::Name.eq(name))
            .one(&txn)
            .await?
            .ok_or_else(|| DeskError::NotFound(format!("no operator is named {name}")))?;
        if row.role == Role::Admin.as_str() {
            ensure_another_admin(&txn, name).await?;
        }
        let role = row.role.clone();
        operator::Entity::delete_by_id(row.id).exec(&txn).await?;
        audit::write(
            &txn,
            now,
            &Actor::operator(op),
            Event::ok("operators.remove", None)
                .detail("operator", name)
                .detail("role", role),
        )
        .await?;
        txn.commit().await?;
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

async fn ensure_another_admin(
    txn: &(impl ConnectionTrait + TransactionTrait),
    except: &str,
) -> Result<(), DeskError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_actions_need_the_right_one() {
        assert!(check(Role::Viewer, Action::Browse).is_ok());
        assert!(check(Role::Viewer, Action::SendResetLink).is_err());
        assert!(check(Role::Agent, Action::SendResetLink).is_ok());
        assert!(check(Role::Agent, Action::RevokeResetLinks).is_ok());
        for admin_only in [
            Action::ChangePassword,
            Action::Unlock,
            Action::SignOutEverywhere,
            Action::ManageOperators,
        ] {
            assert!(check(Role::Agent, admin_only).is_err());
            assert!(check(Role::Admin, admin_only).is_ok());
        }
    }

    #[test]
    fn the_ssh_source_is_parsed_and_cleaned() {
        assert_eq!(
            source_from_env(Some("203.0.113.9 51234 10.0.0.1 22"), None),
            "ssh 203.0.113.9:51234"
        );
        assert_eq!(
            source_from_env(None, Some("2001:db8::1 40000 22")),
            "ssh 2001:db8::1:40000"
        );
        assert_eq!(
            source_from_env(Some("1.2.3.4\u{1b}[2J 5"), None),
            "ssh 1.2.3.42:5"
        );
        assert_eq!(source_from_env(None, None), "local");
    }

    #[test]
    fn roles_parse() {
        assert_eq!("Admin".parse::<Role>(), Ok(Role::Admin));
        assert!("root".parse::<Role>().is_err());
    }
}
