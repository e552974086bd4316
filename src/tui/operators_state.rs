//! The Operators screen's state: the operators with their roles and key
//! fingerprints (sanitised), the selection, and the one form open on it
//! (add, change role, remove, add a key). Plain data that `app` holds;
//! `operators_screen` changes it.

use chrono::{DateTime, Utc};
use tui_input::Input;

use super::sanitize::clean;
use crate::desk::Role;
use crate::desk::operator_keys::OperatorKey;
use crate::desk::operators::OperatorEntry;

/// One key, as listed (never the key material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLine {
    /// `SHA256:...`
    pub fingerprint: String,
    /// The key's comment.
    pub comment: String,
}

/// One operator, safe to draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorRow {
    /// OS user name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// When added.
    pub created_at: DateTime<Utc>,
    /// Who added them.
    pub created_by: String,
    /// Their SSH keys.
    pub keys: Vec<KeyLine>,
}

impl OperatorRow {
    /// Sanitises an operator and picks their keys out of `keys`.
    #[must_use]
    pub fn from_desk(entry: &OperatorEntry, keys: &[OperatorKey]) -> Self {
        Self {
            name: clean(&entry.name),
            role: entry.role,
            created_at: entry.created_at,
            created_by: clean(&entry.created_by),
            keys: keys
                .iter()
                .filter(|k| k.operator == entry.name)
                .map(|k| KeyLine {
                    fingerprint: clean(&k.fingerprint),
                    comment: clean(&k.comment),
                })
                .collect(),
        }
    }
}

/// The form open on the screen.
#[derive(Debug, Clone)]
pub enum OperatorForm {
    /// Add an operator: a name and a role.
    Add {
        /// The OS user name being typed.
        name: Input,
        /// The role chosen (Tab changes it).
        role: Role,
    },
    /// Change an operator's role.
    ChangeRole {
        /// Whose.
        name: String,
        /// The role chosen (Tab changes it).
        role: Role,
    },
    /// Remove an operator (a confirmation).
    Remove {
        /// Whom.
        name: String,
    },
    /// Give an operator an SSH key, pasted or typed as one line.
    AddKey {
        /// Whose.
        name: String,
        /// The OpenSSH public key line.
        key: Input,
    },
}

/// The Operators screen.
#[derive(Debug, Clone, Default)]
pub struct OperatorsState {
    /// Operators by name.
    pub rows: Vec<OperatorRow>,
    /// Selected row index.
    pub selected: usize,
    /// The newest load asked for.
    pub generation: u64,
    /// A load is on its way.
    pub loading: bool,
    /// The last load failed with this (sanitised) text.
    pub error: Option<String>,
    /// The open form, if any.
    pub form: Option<OperatorForm>,
    /// The form's change is on its way to desk.
    pub running: bool,
    /// Desk refused the form's change (sanitised): shown in the form.
    pub form_error: Option<String>,
}

impl OperatorsState {
    /// The selected operator, if any.
    #[must_use]
    pub fn selected_row(&self) -> Option<&OperatorRow> {
        self.rows.get(self.selected)
    }
}

/// The roles in the order Tab goes through them.
pub const ROLES: [Role; 3] = [Role::Viewer, Role::Agent, Role::Admin];

/// The role after (or before) `role`, round the three.
#[must_use]
pub fn cycle(role: Role, forward: bool) -> Role {
    let i = ROLES.iter().position(|r| *r == role).unwrap_or(0);
    let next = if forward { i + 1 } else { i + ROLES.len() - 1 };
    ROLES[next % ROLES.len()]
}
