//! The vocabulary of operator actions: one payload-free kind per thing an
//! operator may try, with everything every front end and the audit log
//! say about it. The console's commands and menus, desk's role checks,
//! refusals and audit rows all derive from [`Action`]; a new action is one
//! variant here plus its operation.
//!
//! Pure data: no I/O, so `error` and every front end can name it without
//! depending on code that runs SQL.

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// See contacts, profiles, the audit log, the operator list.
    Browse,
    /// Email a customer a reset link.
    SendResetLink,
    /// Set a customer's (temporary) password.
    ChangePassword,
    /// Cancel a customer's open reset links.
    RevokeResetLinks,
    /// Lift a lock left by failed sign-ins.
    Unlock,
    /// End every site session of a customer.
    SignOutEverywhere,
    /// End one site session of a customer.
    EndSession,
    /// Add an operator or change their role.
    AddOperator,
    /// Remove an operator.
    RemoveOperator,
    /// Give an operator an SSH key.
    AddOperatorKey,
    /// Take an operator's SSH keys away.
    RemoveOperatorKeys,
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

/// The facts about one action.
struct Facts {
    role: Role,
    name: &'static str,
    title: &'static str,
    doing: &'static str,
    audit: &'static str,
}

impl Action {
    /// Every action.
    pub const ALL: [Self; 17] = [
        Self::Browse,
        Self::SendResetLink,
        Self::ChangePassword,
        Self::RevokeResetLinks,
        Self::Unlock,
        Self::SignOutEverywhere,
        Self::EndSession,
        Self::AddOperator,
        Self::RemoveOperator,
        Self::AddOperatorKey,
        Self::RemoveOperatorKeys,
        Self::EditContact,
        Self::GrantOffer,
        Self::RevokeOffer,
        Self::ResendWelcome,
        Self::AddNote,
        Self::DeleteNote,
    ];

    const fn facts(self) -> Facts {
        let (role, name, title, doing, audit) = match self {
            Self::Browse => (Role::Viewer, "browse", "Browse", "Browsing", "browse"),
            Self::SendResetLink => (
                Role::Agent,
                "reset_password",
                "Reset Password",
                "Sending a reset link",
                "reset_link.sent",
            ),
            Self::ChangePassword => (
                Role::Admin,
                "change_password",
                "Change Password",
                "Changing a password",
                "password.changed",
            ),
            Self::RevokeResetLinks => (
                Role::Agent,
                "revoke_links",
                "Revoke reset links",
                "Revoking reset links",
                "reset_link.revoked",
            ),
            Self::Unlock => (
                Role::Admin,
                "unlock",
                "Unlock account",
                "Unlocking an account",
                "account.unlocked",
            ),
            Self::SignOutEverywhere => (
                Role::Admin,
                "sign_out",
                "Sign out everywhere",
                "Signing a customer out everywhere",
                "sessions.sign_out_everywhere",
            ),
            Self::EndSession => (
                Role::Admin,
                "end_session",
                "End session",
                "Ending a customer's session",
                "sessions.end_one",
            ),
            Self::AddOperator => (
                Role::Admin,
                "add_operator",
                "Add operator",
                "Managing operators",
                "operators.add",
            ),
            Self::RemoveOperator => (
                Role::Admin,
                "remove_operator",
                "Remove operator",
                "Managing operators",
                "operators.remove",
            ),
            Self::AddOperatorKey => (
                Role::Admin,
                "add_operator_key",
                "Add operator key",
                "Managing operators",
                "operators.add_key",
            ),
            Self::RemoveOperatorKeys => (
                Role::Admin,
                "remove_operator_key",
                "Remove operator key",
                "Managing operators",
                "operators.remove_key",
            ),
            Self::EditContact => (
                Role::Admin,
                "edit_contact",
                "Edit contact",
                "Editing a contact",
                "contact.edit",
            ),
            Self::GrantOffer => (
                Role::Admin,
                "grant_offer",
                "Grant Offer",
                "Granting an offer",
                "offer.grant",
            ),
            Self::RevokeOffer => (
                Role::Admin,
                "revoke_offer",
                "Revoke Offer",
                "Revoking an offer",
                "offer.revoke",
            ),
            Self::ResendWelcome => (
                Role::Agent,
                "resend_welcome",
                "Resend welcome email",
                "Resending a welcome email",
                "welcome.resend",
            ),
            Self::AddNote => (
                Role::Agent,
                "add_note",
                "Add note",
                "Adding a note",
                "note.add",
            ),
            Self::DeleteNote => (
                Role::Agent,
                "delete_note",
                "Delete note",
                "Deleting a note",
                "note.delete",
            ),
        };
        Facts {
            role,
            name,
            title,
            doing,
            audit,
        }
    }

    /// The least role that may do this.
    #[must_use]
    pub const fn needed_role(self) -> Role {
        self.facts().role
    }

    /// The stable name: the console command's name in `[ui.keys]`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        self.facts().name
    }

    /// The title menus, dialogs and messages show ("Reset Password").
    #[must_use]
    pub const fn title(self) -> &'static str {
        self.facts().title
    }

    /// The audit log's name for it, whatever the outcome (`ok`, `denied`
    /// or `refused` is the row's outcome).
    #[must_use]
    pub const fn audit_name(self) -> &'static str {
        self.facts().audit
    }
}

impl std::fmt::Display for Action {
    /// What a refusal says was attempted ("Sending a reset link").
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.facts().doing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_audit_names_are_unique() {
        let mut names: Vec<_> = Action::ALL.iter().map(|a| a.name()).collect();
        let mut audit: Vec<_> = Action::ALL.iter().map(|a| a.audit_name()).collect();
        names.sort_unstable();
        names.dedup();
        audit.sort_unstable();
        audit.dedup();
        assert_eq!(names.len(), Action::ALL.len());
        assert_eq!(audit.len(), Action::ALL.len());
    }

    #[test]
    fn roles_parse() {
        assert_eq!("Admin".parse::<Role>(), Ok(Role::Admin));
        assert!("root".parse::<Role>().is_err());
    }
}
