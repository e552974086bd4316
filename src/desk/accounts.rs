//! Customer accounts: passwords set by an admin, sign-in with lockout,
//! the customer's own password change, unlocking.
//!
//! Hashing (argon2id) runs before the transaction opens, off the async
//! threads, so a write lock is never held for the length of a hash. The
//! transaction then checks that the account still holds the hash that was
//! verified; if it changed meanwhile the attempt is treated as failed.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, DatabaseTransaction, Set};

use super::action::Action;
use super::audit::{self, Actor, Event};
use super::error::DeskError;
use super::operation::{Done, Mail};
use super::outbox::Kind;
use super::reset_links::revoke_open;
use super::roles::{self, Operator};
use super::throttle;
use super::{
    ContactRef, Customer, Desk, ensure_account, find_customer, find_customer_by_id, lock_customer,
    lock_customer_by_id, sessions,
};
use crate::clock::delta;
use crate::store::contacts;
use crate::store::entity::account;

/// What an admin's password change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordSet {
    /// The contact.
    pub contact_id: i64,
    /// When the temporary password stops working unless changed (`None`
    /// when no change is required).
    pub temporary_expires_at: Option<DateTime<Utc>>,
    /// Reset links that were open and are now revoked.
    pub links_revoked: u64,
    /// Site sessions that were open and are now ended.
    pub sessions_ended: u64,
}

/// A successful sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    /// The account.
    pub account_id: i64,
    /// Its contact.
    pub contact_id: i64,
    /// The customer's email as stored.
    pub email: String,
    /// The customer's name.
    pub name: String,
    /// The customer must choose a new password before anything else.
    pub must_change_password: bool,
    /// The stored hash was made with older argon2 parameters and was
    /// replaced during this sign-in.
    pub rehashed: bool,
}

/// The customer changed their own password; the old sessions are gone and
/// this is the new one for the device they used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnPasswordChanged {
    /// Raw id of a fresh session (for the cookie; never stored).
    pub session: String,
    /// Other sessions that were ended.
    pub sessions_ended: u64,
}

impl Desk {
    /// A temporary password that is easy to read aloud and type, and
    /// always meets the password policy in force.
    ///
    /// # Errors
    /// Only when the policy refuses every candidate, which the settings'
    /// ranges make impossible; the refusal is returned.
    pub fn generate_temporary_password(&self) -> Result<String, DeskError> {
        let ctx = super::PolicyContext {
            email: "",
            name: "",
            site_name: &self.settings.site.name,
        };
        self.policy
            .temporary_password(&ctx)
            .map_err(DeskError::Policy)
    }

    /// Sets a customer's password (admins only): policy-checked,
    /// argon2id-hashed. Revokes every reset link and site session of the
    /// customer, clears any lock, and queues a "your password was changed"
    /// notice (which holds no password). With `require_change` the
    /// password is temporary: it must be changed at the next sign-in and
    /// stops working after `password.temporary_ttl`.
    ///
    /// # Errors
    /// [`DeskError::NotAllowed`], [`DeskError::NotFound`],
    /// [`DeskError::NotACustomer`], [`DeskError::Policy`], or a store failure.
    pub async fn change_password(
        &self,
        op: &Operator,
        who: impl Into<ContactRef<'_>>,
        temporary_password: &str,
        require_change: bool,
    ) -> Result<PasswordSet, DeskError> {
        let who = who.into();
        // Role, customer and policy first, so a refusal costs no hashing.
        let before = async {
            let db = self.store.conn();
            roles::require(db, op, Action::ChangePassword).await?;
            let contact = find_customer(db, who, false).await?.contact;
            self.check_policy(temporary_password, &contact)?;
            Ok((contact.id, self.hash_password(temporary_password).await?))
        };
        let (contact_id, phc) = self
            .audited(op, Action::ChangePassword, Some(who), before.await)
            .await?;
        let phc = &phc;
        let set = self
            .operate(
                op,
                Action::ChangePassword,
                Some(who),
                move |txn, now| async move {
                    let txn = &*txn;
                    let mut customer = lock_customer_by_id(txn, contact_id).await?;
                    let account = ensure_account(txn, &mut customer, now).await?;
                    let links_revoked = revoke_open(txn, account.id, now, None).await?;
                    let sessions_ended =
                        sessions::revoke_all(txn, account.id, now, self.session_idle()).await?;
                    let temporary_expires_at =
                        require_change.then(|| now + delta(self.settings.password.temporary_ttl));
                    let mut row: account::ActiveModel = account.into();
                    row.password_hash = Set(Some(phc.clone()));
                    row.must_change_password = Set(require_change);
                    row.temporary_expires_at = Set(temporary_expires_at);
                    row.password_changed_at = Set(Some(now));
                    row.failed_logins = Set(0);
                    row.failed_window_started_at = Set(None);
                    row.locked_until = Set(None);
                    row.update(txn).await?;
                    let event = Event::ok(Action::ChangePassword.audit_name(), Some(contact_id))
                        .detail("require_change", require_change)
                        .detail("links_revoked", links_revoked)
                        .detail("sessions_ended", sessions_ended);
                    let set = PasswordSet {
                        contact_id,
                        temporary_expires_at,
                        links_revoked,
                        sessions_ended,
                    };
                    Ok(Done::new(set, event).mail(self.password_notice(&customer, now, true)?))
                },
            )
            .await?;
        tracing::info!(by = ?op.name, contact = set.contact_id, require_change, "password changed by staff");
        Ok(set)
    }

    /// The "your password was changed" notice for `customer` (it holds no
    /// password); `by_staff` says who changed it.
    pub(super) fn password_notice(
        &self,
        customer: &super::Customer,
        now: DateTime<Utc>,
        by_staff: bool,
    ) -> Result<Mail, DeskError> {
        let composed = self
            .composer
            .password_changed(&Self::recipient(&customer.contact), now, by_staff)
            .map_err(|e| DeskError::Internal(format!("composing the notice: {e}")))?;
        Ok(Mail {
            kind: Kind::PasswordChanged,
            contact_id: customer.contact.id,
            recipient: customer.contact.email.clone(),
            reset_link_id: None,
            composed,
        })
    }

    /// Signs a customer in: argon2id verification (a dummy one for unknown
    /// emails, so timing tells nothing), failure counting with a temporary
    /// lock (`login.max_failures` within `login.failure_window` locks for
    /// `login.lockout`), re-hashing when the argon2 parameters changed, and
    /// the must-change flag. Does not start a session: see
    /// [`Desk::start_session`].
    ///
    /// # Errors
    /// [`DeskError::BadCredentials`] (unknown email or wrong password, never
    /// saying which), [`DeskError::Locked`], [`DeskError::TemporaryExpired`],
    /// [`DeskError::RateLimited`] when every hashing slot stays busy, or a
    /// store failure.
    ///
    /// Failed sign-ins are also counted per client address in the store
    /// (`login.per_client` per `login.client_window`); past the limit
    /// every attempt from that address is refused with
    /// [`DeskError::RateLimited`] before any password is checked.
    pub async fn authenticate(
        &self,
        email: &str,
        password: &str,
        client: &str,
    ) -> Result<SignIn, DeskError> {
        let bucket = throttle::bucket("login:client", client);
        if let Some(retry_after) = self.client_over_limit(&bucket).await? {
            tracing::warn!(
                event = "login.throttled",
                client = ?client,
                retry_after_secs = retry_after.as_secs(),
                "sign-in refused: too many failed sign-ins from this client address"
            );
            return Err(DeskError::RateLimited { retry_after });
        }
        let result = self.authenticate_checked(email, password, client).await;
        if let Err(
            err @ (DeskError::BadCredentials
            | DeskError::Locked { .. }
            | DeskError::TemporaryExpired),
        ) = &result
        {
            tracing::info!(
                event = "login.failed",
                client = ?client,
                reason = err.kind(),
                "sign-in refused"
            );
            self.count_client_failure(&bucket).await;
        }
        result
    }

    async fn authenticate_checked(
        &self,
        email: &str,
        password: &str,
        client: &str,
    ) -> Result<SignIn, DeskError> {
        let now = self.clock.now();
        let found = if email.trim().len() > 320 {
            None
        } else {
            contacts::customer_by_email(self.store.conn(), email).await?
        };
        let Some((contact, Some(account))) = found else {
            return self.refuse_unknown(password).await;
        };
        let Some(phc) = account.password_hash.clone() else {
            return self.refuse_unknown(password).await;
        };
        if let Some(until) = account.locked_until.filter(|until| *until > now) {
            return Err(DeskError::Locked { until });
        }
        let verified = self.verify(password, &phc).await?;
        if !verified {
            let result = self
                .retrying(|| self.record_failure(contact.id, &phc, client, "login"))
                .await;
            return Err(result.err().unwrap_or(DeskError::BadCredentials));
        }
        let new_phc = if self.hasher.needs_rehash(&phc) {
            Some(self.hash_password(password).await?)
        } else {
            None
        };
        // ASVS V2.1.7: a password the policy refuses today (found in the
        // common-password lists, or too weak since the policy was raised)
        // works this once, then must be replaced before anything else.
        let weak = self.check_policy(password, &contact).is_err();
        let result = self
            .retrying(|| self.record_sign_in(contact.id, &phc, new_phc.as_deref(), client, weak))
            .await;
        if let Ok(signed) = &result {
            tracing::info!(
                contact = signed.contact_id,
                rehashed = signed.rehashed,
                "customer signed in"
            );
        }
        result
    }

    /// Spends a verification's worth of time and refuses.
    async fn refuse_unknown<T>(&self, password: &str) -> Result<T, DeskError> {
        let password = zeroize::Zeroizing::new(password.to_owned());
        self.hashing(move |h| h.dummy_verify(&password)).await?;
        Err(DeskError::BadCredentials)
    }

    async fn verify(&self, password: &str, phc: &str) -> Result<bool, DeskError> {
        let (password, phc) = (zeroize::Zeroizing::new(password.to_owned()), phc.to_owned());
        match self.hashing(move |h| h.verify(&password, &phc)).await? {
            Ok(ok) => Ok(ok),
            Err(err) => {
                // A stored hash we cannot read must not lock the customer out
                // silently: log it (never the hash) and refuse this attempt.
                tracing::warn!(error = %err, "a stored password hash cannot be verified");
                Ok(false)
            }
        }
    }

    /// Counts a failed password; locks the account when the count reaches
    /// `login.max_failures` within `login.failure_window`. Always fails:
    /// [`DeskError::Locked`] when this failure locked the account,
    /// [`DeskError::BadCredentials`] otherwise.
    async fn record_failure(
        &self,
        contact_id: i64,
        verified_phc: &str,
        client: &str,
        action: &'static str,
    ) -> Result<(), DeskError> {
        let now = self.clock.now();
        let login = &self.settings.login;
        let txn = self.store.begin_write().await?;
        let customer = lock_customer_by_id(&txn, contact_id).await?;
        let Some(account) = customer.account else {
            return Err(DeskError::BadCredentials);
        };
        if account.password_hash.as_deref() != Some(verified_phc) {
            // The password changed meanwhile; this attempt tested an old one.
            return Err(DeskError::BadCredentials);
        }
        let window_open = account
            .failed_window_started_at
            .is_some_and(|start| start + delta(login.failure_window) > now);
        let (failures, window_start) = if window_open {
            (
                account.failed_logins.saturating_add(1),
                account.failed_window_started_at,
            )
        } else {
            (1, Some(now))
        };
        let locks = u32::try_from(failures).unwrap_or(u32::MAX) >= login.max_failures;
        let locked_until = locks.then(|| now + delta(login.lockout));
        let mut row: account::ActiveModel = account.into();
        row.failed_logins = Set(if locks { 0 } else { failures });
        row.failed_window_started_at = Set(if locks { None } else { window_start });
        if locks {
            row.locked_until = Set(locked_until);
        }
        row.update(&txn).await?;
        let actor = Actor::customer(&customer.contact.email, client);
        audit::write(
            &txn,
            now,
            &actor,
            Event::new(action, "refused", Some(customer.contact.id)).detail("failures", failures),
        )
        .await?;
        if let Some(until) = locked_until {
            audit::write(
                &txn,
                now,
                &actor,
                Event::ok("account.locked", Some(customer.contact.id))
                    .detail("until", until.to_rfc3339())
                    .detail("failures", failures),
            )
            .await?;
        }
        txn.commit().await?;
        match locked_until {
            Some(until) => {
                tracing::info!(
                    contact = customer.contact.id,
                    "account locked after failed sign-ins"
                );
                Err(DeskError::Locked { until })
            }
            None => Err(DeskError::BadCredentials),
        }
    }

    async fn record_sign_in(
        &self,
        contact_id: i64,
        verified_phc: &str,
        new_phc: Option<&str>,
        client: &str,
        weak: bool,
    ) -> Result<SignIn, DeskError> {
        let now = self.clock.now();
        let txn = self.store.begin_write().await?;
        let customer = lock_customer_by_id(&txn, contact_id).await?;
        let Some(account) = customer.account else {
            return Err(DeskError::BadCredentials);
        };
        if account.password_hash.as_deref() != Some(verified_phc) {
            return Err(DeskError::BadCredentials);
        }
        if let Some(until) = account.locked_until.filter(|until| *until > now) {
            return Err(DeskError::Locked { until });
        }
        let actor = Actor::customer(&customer.contact.email, client);
        if account.must_change_password && account.temporary_expires_at.is_some_and(|at| at <= now)
        {
            audit::write(
                &txn,
                now,
                &actor,
                Event::new("login", "refused", Some(customer.contact.id))
                    .detail("reason", "temporary_expired"),
            )
            .await?;
            txn.commit().await?;
            return Err(DeskError::TemporaryExpired);
        }
        let signed = SignIn {
            account_id: account.id,
            contact_id: customer.contact.id,
            email: customer.contact.email.clone(),
            name: customer.contact.name.clone(),
            must_change_password: account.must_change_password || weak,
            rehashed: new_phc.is_some(),
        };
        let mut row: account::ActiveModel = account.clone().into();
        row.sign_in_count = Set(account.sign_in_count.saturating_add(1));
        row.last_login_at = Set(Some(now));
        row.failed_logins = Set(0);
        row.failed_window_started_at = Set(None);
        row.locked_until = Set(None);
        if weak {
            row.must_change_password = Set(true);
        }
        if let Some(new_phc) = new_phc {
            row.password_hash = Set(Some(new_phc.to_owned()));
        }
        row.update(&txn).await?;
        audit::write(
            &txn,
            now,
            &actor,
            Event::ok("login", Some(customer.contact.id))
                .detail("must_change_password", signed.must_change_password)
                .detail("password_refused_by_policy", weak)
                .detail("rehashed", signed.rehashed),
        )
        .await?;
        txn.commit().await?;
        Ok(signed)
    }

    /// The customer changes their own password from account settings:
    /// the current one is verified (a wrong one counts as a failed
    /// sign-in), the new one policy-checked. Every reset link and every
    /// site session end, the notice is queued, and a fresh session for
    /// this device is returned.
    ///
    /// # Errors
    /// [`DeskError::SessionEnded`], [`DeskError::BadCredentials`],
    /// [`DeskError::Locked`], [`DeskError::Policy`], or a store failure.
    pub async fn change_own_password(
        &self,
        session: &str,
        current: &str,
        new: &str,
    ) -> Result<OwnPasswordChanged, DeskError> {
        let site = self.session_from_cookie(session).await?;
        let customer = find_customer_by_id(self.store.conn(), site.contact_id, false).await?;
        let account = customer.account.ok_or(DeskError::SessionEnded)?;
        let client = self.session_client(site.session_id).await?;
        if let Some(until) = account
            .locked_until
            .filter(|until| *until > self.clock.now())
        {
            return Err(DeskError::Locked { until });
        }
        let phc = account.password_hash.clone().unwrap_or_default();
        if phc.is_empty() || !self.verify(current, &phc).await? {
            if phc.is_empty() {
                return Err(DeskError::BadCredentials);
            }
            let result = self
                .retrying(|| {
                    self.record_failure(
                        customer.contact.id,
                        &phc,
                        &client,
                        "password.changed_by_customer",
                    )
                })
                .await;
            return Err(result.err().unwrap_or(DeskError::BadCredentials));
        }
        self.check_policy(new, &customer.contact)?;
        let new_phc = self.hash_password(new).await?;
        let contact_id = customer.contact.id;
        let actor = Actor::customer(&customer.contact.email, &client);
        let (phc, new_phc, client) = (&phc, &new_phc, &client);
        let changed = self
            .transact(&actor, move |txn, now| async move {
                let txn = &*txn;
                let customer = lock_customer_by_id(txn, contact_id).await?;
                let account = customer.account.clone().ok_or(DeskError::SessionEnded)?;
                if account.password_hash.as_deref() != Some(phc.as_str()) {
                    return Err(DeskError::BadCredentials);
                }
                let links_revoked = revoke_open(txn, account.id, now, None).await?;
                let sessions_ended =
                    sessions::revoke_all(txn, account.id, now, self.session_idle()).await?;
                let account_id = account.id;
                let mut row: account::ActiveModel = account.into();
                row.password_hash = Set(Some(new_phc.clone()));
                row.must_change_password = Set(false);
                row.temporary_expires_at = Set(None);
                row.password_changed_at = Set(Some(now));
                row.update(txn).await?;
                let session = sessions::insert(
                    txn,
                    account_id,
                    client,
                    now,
                    delta(self.settings.site.session_absolute),
                )
                .await?;
                let event = Event::ok("password.changed_by_customer", Some(contact_id))
                    .detail("links_revoked", links_revoked)
                    .detail("sessions_ended", sessions_ended);
                let changed = OwnPasswordChanged {
                    session,
                    sessions_ended,
                };
                Ok(Done::new(changed, event).mail(self.password_notice(&customer, now, false)?))
            })
            .await?;
        tracing::info!(contact = contact_id, "customer changed their password");
        Ok(changed)
    }

    async fn session_client(&self, session_id: i64) -> Result<String, DeskError> {
        use sea_orm::EntityTrait;
        Ok(
            crate::store::entity::session::Entity::find_by_id(session_id)
                .one(self.store.conn())
                .await?
                .map(|s| s.client)
                .unwrap_or_default(),
        )
    }

    /// Lifts a lock left by failed sign-ins and clears the failure count
    /// (admins only). Returns whether the account was locked.
    ///
    /// # Errors
    /// [`DeskError::NotAllowed`], [`DeskError::NotFound`],
    /// [`DeskError::NotACustomer`], or a store failure.
    pub async fn unlock(
        &self,
        op: &Operator,
        who: impl Into<ContactRef<'_>>,
    ) -> Result<bool, DeskError> {
        let who = who.into();
        let (contact, was_locked) = self
            .operate(op, Action::Unlock, Some(who), move |txn, now| async move {
                let customer = lock_customer(&*txn, who).await?;
                unlock_step(&txn, customer, now).await
            })
            .await?;
        tracing::info!(by = ?op.name, contact, was_locked, "account unlocked");
        Ok(was_locked)
    }
}

/// What [`Desk::unlock`] does to one customer, locked in `txn`, and the
/// record of it: also each contact's step of a bulk unlock. Answers the
/// contact and whether the account was locked.
pub(crate) async fn unlock_step(
    txn: &DatabaseTransaction,
    customer: Customer,
    now: DateTime<Utc>,
) -> Result<Done<(i64, bool)>, DeskError> {
    let was_locked = match customer.account {
        Some(account) => {
            let was_locked = account.locked_until.is_some_and(|until| until > now);
            let mut row: account::ActiveModel = account.into();
            row.locked_until = Set(None);
            row.failed_logins = Set(0);
            row.failed_window_started_at = Set(None);
            row.update(txn).await?;
            was_locked
        }
        None => false,
    };
    let event = Event::ok(Action::Unlock.audit_name(), Some(customer.contact.id))
        .detail("was_locked", was_locked);
    Ok(Done::new((customer.contact.id, was_locked), event))
}
