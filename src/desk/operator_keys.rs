//! SSH public keys that sign operators in to `keydesk ssh-serve`.
//!
//! A key belongs to exactly one operator (its SHA-256 fingerprint is
//! unique), so the key alone says who is at the keyboard: `ssh-serve`
//! asks [`Desk::operator_by_key`] and every audit row of the session
//! names that operator. Keys go with their operator (the foreign key
//! cascades). Only algorithms the server verifies are accepted: Ed25519
//! and ECDSA (RSA is left out with russh's `rsa` feature).

use chrono::{DateTime, Utc};
use russh::keys::{Algorithm, HashAlg, PublicKey};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, Set,
};

use super::Desk;
use super::action::Action;
use super::audit::Event;
use super::error::DeskError;
use super::operation::Done;
use super::roles::{self, Identity, Operator, role_of};
use crate::store::entity::{operator, operator_key};

/// Why a public key's text was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyTextError {
    /// Nothing but blank lines and comments.
    #[error("no public key found (expected one line like `ssh-ed25519 AAAA... user@host`)")]
    Empty,
    /// A private key was given where the public one belongs.
    #[error("this is a private key; give the public one (the .pub file) instead")]
    Private,
    /// More than one key.
    #[error("{0} keys found; add one key at a time")]
    Several(usize),
    /// Not an OpenSSH public key line.
    #[error("not an OpenSSH public key: {0}")]
    Unreadable(String),
    /// A key type ssh-serve cannot verify.
    #[error("{0} keys are not accepted; use an ssh-ed25519 or ecdsa-sha2-nistp256/384/521 key")]
    Unsupported(String),
}

/// A key as `operators list` shows it (never the key material itself).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OperatorKey {
    /// The operator it signs in as.
    pub operator: String,
    /// `SHA256:...`
    pub fingerprint: String,
    /// `ssh-ed25519`, ...
    pub algorithm: String,
    /// The key's comment.
    pub comment: String,
    /// When added.
    pub created_at: DateTime<Utc>,
    /// Who added it.
    pub created_by: String,
}

/// The `SHA256:...` fingerprint of a key, as `ssh-keygen -l` prints it.
#[must_use]
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// Reads one OpenSSH public key (a `.pub` file or an `authorized_keys`
/// line without options). Blank lines and `#` comments are skipped.
///
/// # Errors
/// [`KeyTextError`] saying what is wrong with the text.
pub fn parse_public_key(text: &str) -> Result<PublicKey, KeyTextError> {
    if text.contains("PRIVATE KEY-----") {
        return Err(KeyTextError::Private);
    }
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let line = match lines.as_slice() {
        [] => return Err(KeyTextError::Empty),
        [one] => *one,
        many => return Err(KeyTextError::Several(many.len())),
    };
    let key = PublicKey::from_openssh(line).map_err(|e| {
        // The parser's message names the problem, never the key bytes.
        KeyTextError::Unreadable(e.to_string())
    })?;
    match key.algorithm() {
        Algorithm::Ed25519 | Algorithm::Ecdsa { .. } => Ok(key),
        other => Err(KeyTextError::Unsupported(other.as_str().to_owned())),
    }
}

/// Comments are shown in terminals: control characters never get in.
fn clean_comment(comment: &str) -> String {
    comment
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect()
}

/// The operator named `name`, if there is one.
async fn operator_named(
    txn: &DatabaseTransaction,
    name: &str,
) -> Result<Option<operator::Model>, DeskError> {
    Ok(operator::Entity::find()
        .filter(operator::Column::Name.eq(name))
        .one(txn)
        .await?)
}

impl Desk {
    /// Gives operator `name` a public key to sign in to `ssh-serve` with
    /// (admins only). Returns the key as listed.
    ///
    /// # Errors
    /// [`DeskError::NotAllowed`] for non-admins; [`DeskError::NotFound`]
    /// when `name` is not an operator; [`DeskError::Conflict`] when the
    /// key already belongs to someone.
    pub async fn add_operator_key(
        &self,
        op: &Operator,
        name: &str,
        key: &PublicKey,
    ) -> Result<OperatorKey, DeskError> {
        let name = name.trim();
        let fingerprint = fingerprint(key);
        let mut bare = key.clone();
        bare.set_comment("");
        let material = bare
            .to_openssh()
            .map_err(|e| DeskError::Internal(format!("encoding a public key: {e}")))?;
        let comment = clean_comment(key.comment().as_str_lossy());
        let algorithm = key.algorithm().as_str().to_owned();
        let (fp, alg, material, note) = (&fingerprint, &algorithm, &material, &comment);
        let created_at = self
            .operate(op, Action::AddOperatorKey, None, move |txn, now| async move {
                let txn = &*txn;
                let owner = operator_named(txn, name).await?.ok_or_else(|| {
                    DeskError::NotFound(format!(
                        "no operator is named {name}; add them first with `keydesk operators add {name} --role agent`"
                    ))
                })?;
                if let Some(existing) = operator_key::Entity::find()
                    .filter(operator_key::Column::Fingerprint.eq(fp.as_str()))
                    .one(txn)
                    .await?
                {
                    let holder = operator::Entity::find_by_id(existing.operator_id)
                        .one(txn)
                        .await?
                        .map_or_else(|| "another operator".to_owned(), |o| o.name);
                    return Err(DeskError::Conflict(format!(
                        "the key {fp} already belongs to {holder}"
                    )));
                }
                operator_key::ActiveModel {
                    operator_id: Set(owner.id),
                    fingerprint: Set(fp.clone()),
                    algorithm: Set(alg.clone()),
                    public_key: Set(material.trim().to_owned()),
                    comment: Set(note.clone()),
                    created_at: Set(now),
                    created_by: Set(op.name.clone()),
                    ..Default::default()
                }
                .insert(txn)
                .await?;
                let event = Event::ok(Action::AddOperatorKey.audit_name(), None)
                    .detail("operator", name)
                    .detail("fingerprint", fp.as_str())
                    .detail("algorithm", alg.as_str());
                Ok(Done::new(now, event))
            })
            .await?;
        tracing::info!(by = ?op.name, operator = ?name, %fingerprint, "operator key added");
        Ok(OperatorKey {
            operator: name.to_owned(),
            fingerprint,
            algorithm,
            comment,
            created_at,
            created_by: op.name.clone(),
        })
    }

    /// Removes operator `name`'s key with this fingerprint, or all their
    /// keys when `fingerprint` is `None` (admins only). Returns how many.
    ///
    /// # Errors
    /// [`DeskError::NotAllowed`]; [`DeskError::NotFound`] for an unknown
    /// operator or a fingerprint they do not hold.
    pub async fn remove_operator_keys(
        &self,
        op: &Operator,
        name: &str,
        fingerprint: Option<&str>,
    ) -> Result<u64, DeskError> {
        let name = name.trim();
        let removed = self
            .operate(
                op,
                Action::RemoveOperatorKeys,
                None,
                move |txn, _| async move {
                    let txn = &*txn;
                    let owner = operator_named(txn, name).await?.ok_or_else(|| {
                        DeskError::NotFound(format!("no operator is named {name}"))
                    })?;
                    let mut delete = operator_key::Entity::delete_many()
                        .filter(operator_key::Column::OperatorId.eq(owner.id));
                    if let Some(fp) = fingerprint {
                        delete = delete.filter(operator_key::Column::Fingerprint.eq(fp.trim()));
                    }
                    let removed = delete.exec(txn).await?.rows_affected;
                    if removed == 0 {
                        return Err(DeskError::NotFound(match fingerprint {
                            Some(fp) => format!("{name} holds no key {}", clean_comment(fp)),
                            None => format!("{name} holds no keys"),
                        }));
                    }
                    let mut event = Event::ok(Action::RemoveOperatorKeys.audit_name(), None)
                        .detail("operator", name)
                        .detail("removed", removed);
                    if let Some(fp) = fingerprint {
                        event = event.detail("fingerprint", clean_comment(fp));
                    }
                    Ok(Done::new(removed, event))
                },
            )
            .await?;
        tracing::info!(by = ?op.name, operator = ?name, removed, "operator keys removed");
        Ok(removed)
    }

    /// Every operator key, by operator then date (any role may look).
    ///
    /// # Errors
    /// [`DeskError::UnknownOperator`] or a store failure.
    pub async fn list_operator_keys(&self, op: &Operator) -> Result<Vec<OperatorKey>, DeskError> {
        let db = self.store.conn();
        roles::require(db, op, Action::Browse).await?;
        let owners: std::collections::HashMap<i64, String> = operator::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|o| (o.id, o.name))
            .collect();
        let rows = operator_key::Entity::find()
            .order_by_asc(operator_key::Column::CreatedAt)
            .order_by_asc(operator_key::Column::Id)
            .all(db)
            .await?;
        let mut keys: Vec<OperatorKey> = rows
            .into_iter()
            .filter_map(|k| {
                Some(OperatorKey {
                    operator: owners.get(&k.operator_id)?.clone(),
                    fingerprint: k.fingerprint,
                    algorithm: k.algorithm,
                    comment: k.comment,
                    created_at: k.created_at,
                    created_by: k.created_by,
                })
            })
            .collect();
        keys.sort_by(|a, b| a.operator.cmp(&b.operator));
        Ok(keys)
    }

    /// The operator a verified SSH key signs in as, connecting from
    /// `source`; `None` for a key nobody holds (or whose operator has no
    /// valid role). `ssh-serve` calls this after russh checked the
    /// signature, so holding the key is proven.
    ///
    /// # Errors
    /// A store failure.
    pub async fn operator_by_key(
        &self,
        key: &PublicKey,
        source: &str,
    ) -> Result<Option<Operator>, DeskError> {
        let db = self.store.conn();
        let fp = fingerprint(key);
        let Some(row) = operator_key::Entity::find()
            .filter(operator_key::Column::Fingerprint.eq(fp.as_str()))
            .one(db)
            .await?
        else {
            return Ok(None);
        };
        // The stored key must be the very key offered, not only share
        // its fingerprint.
        let mut bare = key.clone();
        bare.set_comment("");
        let offered = bare.to_openssh().unwrap_or_default();
        if offered.trim() != row.public_key {
            return Ok(None);
        }
        let Some(owner) = operator::Entity::find_by_id(row.operator_id)
            .one(db)
            .await?
        else {
            return Ok(None);
        };
        let identity = Identity {
            name: owner.name,
            source: source.to_owned(),
        };
        Ok(role_of(db, &identity.name).await?.map(|role| Operator {
            name: identity.name,
            source: identity.source,
            role,
        }))
    }

    /// Whether anyone at all holds a key (ssh-serve warns at start when
    /// nobody could sign in).
    ///
    /// # Errors
    /// A store failure.
    pub async fn any_operator_keys(&self) -> Result<bool, DeskError> {
        Ok(operator_key::Entity::find()
            .one(self.store.conn())
            .await?
            .is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIRiO0rhQkRcaawNt0kPiVpQTGWs+afPwT2m++lZz0vB ada@laptop";

    #[test]
    fn one_ed25519_line_parses_with_comments_and_blanks_around() {
        let key = parse_public_key(&format!("# Ada's laptop\n\n{ED}\n")).unwrap();
        assert_eq!(key.algorithm(), Algorithm::Ed25519);
        assert!(fingerprint(&key).starts_with("SHA256:"));
    }

    #[test]
    fn bad_text_gets_a_clear_refusal() {
        assert_eq!(parse_public_key(" \n# nothing\n"), Err(KeyTextError::Empty));
        assert_eq!(
            parse_public_key(&format!("{ED}\n{ED}")),
            Err(KeyTextError::Several(2))
        );
        assert!(matches!(
            parse_public_key("ssh-ed25519 not-base64"),
            Err(KeyTextError::Unreadable(_))
        ));
        assert_eq!(
            parse_public_key("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n"),
            Err(KeyTextError::Private)
        );
    }

    #[test]
    fn comments_lose_control_characters() {
        assert_eq!(clean_comment("ada\u{1b}]0;x\u{7}@box"), "ada]0;x@box");
    }
}
