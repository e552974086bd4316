//! Who is at the keyboard and what their role lets them do: the
//! operator's identity, and the role check every operation makes against
//! the store (never against what a front end claims).
//!
//! The operator is the OS account of the process's *real* uid (not `$USER`,
//! which anyone can set), with the source taken from `SSH_CONNECTION` or
//! `SSH_CLIENT` when keydesk runs in an SSH session. Roles live in the
//! `operators` table and are read again inside every operation, so a role
//! taken away takes effect at once, even in a console left open.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::action::{Action, Role};
use super::error::DeskError;
use crate::store::entity::operator;

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

pub(crate) fn check(role: Role, action: Action) -> Result<(), DeskError> {
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
            Action::AddOperator,
            Action::RemoveOperator,
            Action::AddOperatorKey,
            Action::RemoveOperatorKeys,
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
}
