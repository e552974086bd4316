//! The use cases and the rules: passwords, reset links, sessions, roles,
//! audit. Front ends (console, site, command line) call these; only `desk`
//! decides.
//!
//! Every operation that writes is one transaction (`Store::begin_write`,
//! `BEGIN IMMEDIATE` on SQLite) holding its changes, its audit event and
//! its outbox rows, so they commit together or not at all. Operations on a
//! customer first lock that contact's row (`SELECT ... FOR UPDATE` on
//! PostgreSQL and MySQL; SQLite's write lock covers the file), so that
//! concurrent operations on one customer run one after the other. A
//! transaction that loses a race (deadlock, serialization failure, a key
//! taken meanwhile) is run again a few times before the error is reported.
//! Each operation checks the operator's role itself, against the store.

pub mod accounts;
pub mod action;
pub mod audit;
pub mod browse;
pub mod bulk;
pub mod console_sessions;
pub mod contact_edit;
mod customer_sessions;
pub mod email_history;
pub mod error;
pub mod filters;
mod login_limit;
pub mod notes;
pub mod offers;
mod operation;
pub mod operator_keys;
pub mod operators;
mod outbox;
mod own_sessions;
pub mod password;
pub mod profile;
pub mod reset_links;
pub mod retention;
pub mod roles;
pub mod sessions;
mod store_keys;
pub mod throttle;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
};
use tokio::sync::{Notify, Semaphore};

pub use action::{Action, Role};
pub use browse::{
    ContactRow, Cursor, KindFilter, MatchCount, PAGE_SIZE, SearchPage, SearchQuery, Searcher,
};
pub use console_sessions::{ConsoleEnd, ConsoleSession, ConsoleVia};
pub use error::{DeskError, LinkProblem};
pub use operation::MAX_RETRIES;
pub use password::{Hasher, PasswordPolicy, PolicyContext, PolicyRefusal};
pub use profile::{DeliveryState, MailStatus, OutboxCounts, Profile};
pub use roles::{Identity, Operator};

use crate::clock::Clock;
use crate::mail::compose::{Composer, Recipient};
use crate::settings::Settings;
use crate::store::Store;
use crate::store::entity::{account, contact, grant};

/// The desk: every rule, over one store. Cheap to clone (everything inside
/// is shared), `Send + Sync`, and every operation's future is `Send`, so
/// front ends can run operations in tasks.
#[derive(Clone)]
pub struct Desk {
    store: Store,
    settings: Arc<Settings>,
    clock: Clock,
    hasher: Hasher,
    policy: Arc<PasswordPolicy>,
    composer: Arc<Composer>,
    outbox_wake: Arc<Notify>,
    hash_slots: Arc<Semaphore>,
}

impl std::fmt::Debug for Desk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desk")
            .field("store", &self.store.backend_name())
            .finish_non_exhaustive()
    }
}

impl Desk {
    /// A desk over `store`, with the rules `settings` describe and time
    /// from `clock`.
    ///
    /// # Errors
    /// [`DeskError::Internal`] when the argon2 parameters or the mail
    /// templates (built-in or from `mail.templates_dir`) are unusable.
    pub fn new(
        store: Store,
        settings: impl Into<Arc<Settings>>,
        clock: Clock,
    ) -> Result<Self, DeskError> {
        let settings: Arc<Settings> = settings.into();
        // One pooled buffer per hashing slot: with fewer, the slots beyond
        // the pool allocate 19 MiB per hash and the allocator keeps the
        // freed memory per thread (hundreds of MiB resident under load).
        let hasher = Hasher::with_pool_capacity(
            settings.password.argon2,
            settings.site.max_concurrent_hashes.max(1),
        )
        .map_err(|e| DeskError::Internal(e.to_string()))?;
        let hasher = match settings.password.pepper_file.as_str() {
            "" => hasher,
            path => {
                // A pepper others can read protects nothing: refused, as a key is.
                crate::files::refuse_if_open("password.pepper_file", std::path::Path::new(path))
                    .map_err(|e| DeskError::Internal(e.to_string()))?;
                let pepper = std::fs::read(path).map_err(|e| {
                    DeskError::Internal(format!("password.pepper_file {path}: {e}"))
                })?;
                // A trailing newline from an editor is not part of the secret.
                let pepper = pepper.trim_ascii_end();
                hasher.with_pepper(pepper).map_err(|e| {
                    DeskError::Internal(format!(
                        "password.pepper_file {path}: {e} (it must hold at least 16 bytes)"
                    ))
                })?
            }
        };
        let composer = Composer::new(&settings)
            .map_err(|e| DeskError::Internal(format!("mail templates: {e}")))?;
        Ok(Self {
            store,
            policy: Arc::new(PasswordPolicy::from_settings(&settings.password)),
            hash_slots: Arc::new(Semaphore::new(settings.site.max_concurrent_hashes.max(1))),
            settings,
            clock,
            hasher,
            composer: Arc::new(composer),
            outbox_wake: Arc::new(Notify::new()),
        })
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A short name of the store's backend for status lines: `sqlite`,
    /// `postgres`, `mysql`.
    #[must_use]
    pub fn backend_name(&self) -> &'static str {
        self.store.backend_name()
    }

    /// An outbox delivery worker over this desk's store, woken by its
    /// commits (a console or `ssh-serve` runs one in-process).
    ///
    /// # Errors
    /// When the mail transport cannot be set up from the settings.
    pub fn outbox_worker(
        &self,
    ) -> Result<crate::mail::worker::Worker, crate::mail::transport::SetupError> {
        crate::mail::worker::Worker::new(
            self.store.clone(),
            &self.settings,
            self.clock.clone(),
            self.outbox_wake(),
        )
    }

    /// The settings.
    #[must_use]
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The clock every rule reads.
    #[must_use]
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Notified after every commit that queued mail, so an outbox worker in
    /// the same process delivers at once instead of at its next poll.
    #[must_use]
    pub fn outbox_wake(&self) -> Arc<Notify> {
        Arc::clone(&self.outbox_wake)
    }

    /// The password policy in force.
    #[must_use]
    pub fn policy(&self) -> &PasswordPolicy {
        &self.policy
    }

    /// Runs CPU-bound hashing work off the async threads, at most
    /// `site.max_concurrent_hashes` at once; a caller that cannot get a
    /// slot within `site.hash_queue_timeout` is told to retry.
    async fn hashing<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Hasher) -> T + Send + 'static,
    ) -> Result<T, DeskError> {
        let wait = self.settings.site.hash_queue_timeout;
        let permit = tokio::time::timeout(wait, Arc::clone(&self.hash_slots).acquire_owned())
            .await
            .map_err(|_| DeskError::RateLimited {
                retry_after: Duration::from_secs(1),
            })?
            .map_err(|_| DeskError::Internal("the hashing slots were closed".into()))?;
        let hasher = self.hasher.clone();
        let out = tokio::task::spawn_blocking(move || {
            let out = work(&hasher);
            drop(permit);
            out
        })
        .await
        .map_err(|e| DeskError::Internal(format!("hashing task failed: {e}")))?;
        Ok(out)
    }

    /// Hashes a password that already passed the policy.
    async fn hash_password(&self, password: &str) -> Result<String, DeskError> {
        // The copy for the hashing thread is wiped when the hash is done.
        let password = zeroize::Zeroizing::new(password.to_owned());
        self.hashing(move |h| h.hash(&password))
            .await?
            .map_err(|e| DeskError::Internal(e.to_string()))
    }

    /// Checks a new password against the policy for this contact.
    fn check_policy(&self, password: &str, contact: &contact::Model) -> Result<(), DeskError> {
        let ctx = PolicyContext {
            email: &contact.email,
            name: &contact.name,
            site_name: &self.settings.site.name,
        };
        self.policy.check(password, &ctx).map_err(DeskError::Policy)
    }

    fn recipient(contact: &contact::Model) -> Recipient {
        Recipient {
            name: contact.name.clone(),
            email: contact.email.clone(),
        }
    }

    /// Tells an in-process outbox worker that mail is waiting.
    fn wake_outbox(&self) {
        self.outbox_wake.notify_one();
    }
}

/// Which contact an operation is about: by email, in any case (the
/// command line, the site), or by id (the console, which holds ids and
/// only sanitised text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactRef<'a> {
    /// The contact with this email, compared case-insensitively.
    Email(&'a str),
    /// The contact with this id.
    Id(i64),
}

impl<'a> From<&'a str> for ContactRef<'a> {
    fn from(email: &'a str) -> Self {
        Self::Email(email)
    }
}

impl<'a> From<&'a String> for ContactRef<'a> {
    fn from(email: &'a String) -> Self {
        Self::Email(email)
    }
}

impl<'a> From<&&'a str> for ContactRef<'a> {
    fn from(email: &&'a str) -> Self {
        Self::Email(email)
    }
}

impl From<i64> for ContactRef<'_> {
    fn from(id: i64) -> Self {
        Self::Id(id)
    }
}

/// A customer as a write transaction holds them: the contact row, locked,
/// and the account if one exists yet.
#[derive(Debug, Clone)]
pub(crate) struct Customer {
    pub contact: contact::Model,
    pub account: Option<account::Model>,
}

/// Locks the contact `who` names for the rest of the transaction and
/// checks that it is a customer. This is the first statement of a
/// per-customer transaction, so that on MySQL every later plain read sees
/// what the previous holder of the lock committed.
pub(crate) async fn lock_customer(
    db: &impl ConnectionTrait,
    who: ContactRef<'_>,
) -> Result<Customer, DeskError> {
    find_customer(db, who, true).await
}

/// Locks the contact with this email (any case), customer or not, for the
/// rest of the transaction.
pub(crate) async fn lock_contact(
    db: &impl ConnectionTrait,
    who: ContactRef<'_>,
) -> Result<contact::Model, DeskError> {
    find_contact(db, who, true).await
}

/// Marks a contact changed now, so that every console's search index picks
/// the change up (`contacts.updated_at` drives its refresh).
pub(crate) async fn touch_contact(
    db: &impl ConnectionTrait,
    contact_id: i64,
    now: DateTime<Utc>,
) -> Result<(), DeskError> {
    contact::Entity::update_many()
        .col_expr(
            contact::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(contact::Column::Id.eq(contact_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Like [`lock_customer`], by contact id.
pub(crate) async fn lock_customer_by_id(
    db: &impl ConnectionTrait,
    contact_id: i64,
) -> Result<Customer, DeskError> {
    find_customer(db, ContactRef::Id(contact_id), true).await
}

/// The customer `who` names, locked or not (a plain read before a
/// transaction, e.g. to check a policy before hashing).
pub(crate) async fn find_customer(
    db: &impl ConnectionTrait,
    who: ContactRef<'_>,
    lock: bool,
) -> Result<Customer, DeskError> {
    let contact = find_contact(db, who, lock).await?;
    customer_of(db, contact).await
}

/// The contact `who` names, locked for the rest of the transaction when
/// `lock`, customer or not.
pub(crate) async fn find_contact(
    db: &impl ConnectionTrait,
    who: ContactRef<'_>,
    lock: bool,
) -> Result<contact::Model, DeskError> {
    let mut query = match who {
        ContactRef::Email(email) => contact::Entity::find()
            .filter(contact::Column::EmailLower.eq(email.trim().to_lowercase())),
        ContactRef::Id(id) => contact::Entity::find_by_id(id),
    };
    if lock {
        query = query.lock_exclusive();
    }
    query.one(db).await?.ok_or_else(|| match who {
        ContactRef::Email(email) => audit::not_found(email),
        ContactRef::Id(id) => DeskError::NotFound(format!("contact {id} no longer exists")),
    })
}

/// The customer with this contact id, locked or not.
pub(crate) async fn find_customer_by_id(
    db: &impl ConnectionTrait,
    contact_id: i64,
    lock: bool,
) -> Result<Customer, DeskError> {
    find_customer(db, ContactRef::Id(contact_id), lock).await
}

async fn customer_of(
    db: &impl ConnectionTrait,
    contact: contact::Model,
) -> Result<Customer, DeskError> {
    let has_grant = grant::Entity::find()
        .filter(grant::Column::ContactId.eq(contact.id))
        .one(db)
        .await?
        .is_some();
    if !has_grant {
        return Err(DeskError::NotACustomer { name: contact.name });
    }
    let account = account::Entity::find()
        .filter(account::Column::ContactId.eq(contact.id))
        .one(db)
        .await?;
    Ok(Customer { contact, account })
}

/// The customer's account, created (with no password) if they have none
/// yet: a customer's login exists from their first grant, the row from
/// the first time keydesk needs it.
pub(crate) async fn ensure_account(
    db: &impl ConnectionTrait,
    customer: &mut Customer,
    now: DateTime<Utc>,
) -> Result<account::Model, DeskError> {
    if let Some(account) = &customer.account {
        return Ok(account.clone());
    }
    let account = account::ActiveModel {
        contact_id: Set(customer.contact.id),
        password_hash: Set(None),
        must_change_password: Set(false),
        password_changed_at: Set(None),
        temporary_expires_at: Set(None),
        sign_in_count: Set(0),
        last_login_at: Set(None),
        failed_logins: Set(0),
        failed_window_started_at: Set(None),
        locked_until: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    customer.account = Some(account.clone());
    Ok(account)
}

#[cfg(test)]
mod send_check {
    //! Front ends run operations in spawned tasks; their futures must be `Send`.
    use super::*;

    fn is_send<T: Send>(_: &T) {}

    #[expect(dead_code, reason = "never run: that it compiles is the check")]
    fn operation_futures_are_send(desk: &Desk, op: &Operator) {
        is_send(&desk.send_reset_link(op, "a@b.c", false));
        is_send(&desk.change_password(op, "a@b.c", "x", true));
        is_send(&desk.request_reset("a@b.c", "client"));
        is_send(&desk.redeem_reset("t", "p"));
        is_send(&desk.authenticate("a@b.c", "p", "client"));
        is_send(&desk.change_own_password("s", "c", "n"));
        is_send(&desk.unlock(op, "a@b.c"));
        is_send(&desk.sign_out_everywhere(op, "a@b.c"));
        is_send(&desk.revoke_reset_links(op, "a@b.c"));
        is_send(&desk.session_from_cookie("s"));
        is_send(&desk.audit(op, &audit::AuditFilter::default()));
    }
}
