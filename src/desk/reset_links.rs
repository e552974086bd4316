//! Reset links: sent by an agent, requested through Forgot Password,
//! redeemed on the site, revoked.
//!
//! A link carries a token from [`super::tokens`]; the database keeps its
//! SHA-256 only, and a presented token is found by hashing it and looking
//! the hash up. A link works once, until `reset.link_ttl` after it was
//! made (at exactly the TTL it no longer works), and only while it is the
//! newest: sending a link revokes the account's older unused ones, and
//! any password change revokes them all.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use super::action::Action;
use super::audit::{self, Actor, Event};
use super::error::{DeskError, HumanDuration, LinkProblem};
use super::operation::{Done, Mail, record};
use super::outbox::Kind;
use super::roles::Operator;
use super::{
    ContactRef, Customer, Desk, ensure_account, lock_customer, lock_customer_by_id, sessions,
    throttle, tokens,
};
use crate::clock::delta;
use crate::store::entity::{account, contact, reset_link};

/// The path of the reset page under `site.base_url`; the token follows it.
pub const RESET_PATH: &str = "/password/reset/";

/// The link a customer receives for `token`.
#[must_use]
pub fn link_for(base_url: &str, token: &str) -> String {
    format!("{}{RESET_PATH}{token}", base_url.trim_end_matches('/'))
}

/// What an agent learns after sending a link (never the link itself: it
/// goes to the customer's mailbox only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSent {
    /// The contact.
    pub contact_id: i64,
    /// The address the mail is queued for.
    pub recipient: String,
    /// The new link's row.
    pub link_id: i64,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// Older unused links this one replaced.
    pub revoked_older: u64,
}

/// The answer to every Forgot Password request that is not rate-limited,
/// whether or not the email belongs to a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForgotAccepted;

/// A link as the reset page shows it before the customer chooses a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// The customer's email.
    pub email: String,
    /// The customer's name.
    pub name: String,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
    /// It came in a welcome email (the customer's first password), not
    /// as a password reset.
    pub welcome: bool,
}

/// What a redeemed link did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redeemed {
    /// The contact whose password was set.
    pub contact_id: i64,
    /// Their email (for the "now sign in" page).
    pub email: String,
}

/// A link just written, and the mail that carries it.
struct Issued {
    link: reset_link::Model,
    revoked_older: u64,
    mail: Mail,
}

/// Time left in the resend cooldown, if the account's newest link is
/// younger than `cooldown`.
async fn cooldown_left(
    db: &impl ConnectionTrait,
    account_id: i64,
    now: DateTime<Utc>,
    cooldown: Duration,
) -> Result<Option<Duration>, DeskError> {
    let newest = reset_link::Entity::find()
        .filter(reset_link::Column::AccountId.eq(account_id))
        .order_by_desc(reset_link::Column::CreatedAt)
        .order_by_desc(reset_link::Column::Id)
        .limit(1)
        .one(db)
        .await?;
    Ok(newest.and_then(|link| {
        let ends = link.created_at + delta(cooldown);
        (ends > now).then(|| (ends - now).to_std().unwrap_or_default())
    }))
}

/// Revokes every open link of an account (optionally sparing one);
/// returns how many.
pub(crate) async fn revoke_open(
    db: &impl ConnectionTrait,
    account_id: i64,
    now: DateTime<Utc>,
    except: Option<i64>,
) -> Result<u64, DeskError> {
    let mut update = reset_link::Entity::update_many()
        .col_expr(reset_link::Column::RevokedAt, Expr::value(Some(now)))
        .filter(reset_link::Column::AccountId.eq(account_id))
        .filter(reset_link::Column::UsedAt.is_null())
        .filter(reset_link::Column::RevokedAt.is_null());
    if let Some(id) = except {
        update = update.filter(reset_link::Column::Id.ne(id));
    }
    Ok(update.exec(db).await?.rows_affected)
}

/// Why a link row cannot be used now, if it cannot.
fn problem(link: &reset_link::Model, now: DateTime<Utc>) -> Option<LinkProblem> {
    if link.used_at.is_some() {
        Some(LinkProblem::Used)
    } else if link.revoked_at.is_some() {
        Some(LinkProblem::Revoked)
    } else if now >= link.expires_at {
        Some(LinkProblem::Expired)
    } else {
        None
    }
}

impl Desk {
    /// Emails a customer a fresh reset link (agents and admins). Refused
    /// within `reset.resend_cooldown` of the previous link unless `force`.
    /// The link, the revocation of older ones, the queued mail and the
    /// audit event commit together.
    ///
    /// # Errors
    /// [`DeskError::NotAllowed`], [`DeskError::NotFound`],
    /// [`DeskError::NotACustomer`], [`DeskError::Cooldown`], or a store failure.
    pub async fn send_reset_link(
        &self,
        op: &Operator,
        who: impl Into<ContactRef<'_>>,
        force: bool,
    ) -> Result<LinkSent, DeskError> {
        let who = who.into();
        let result = self
            .operate(
                op,
                Action::SendResetLink,
                Some(who),
                move |txn, now| async move {
                    let customer = lock_customer(&*txn, who).await?;
                    self.reset_link_step(&txn, op, customer, force, now).await
                },
            )
            .await;
        match &result {
            Ok(sent) => {
                crate::diag::metrics::metrics()
                    .reset_links_sent
                    .with_label_values(&["agent"])
                    .inc();
                tracing::info!(by = ?op.name, contact = sent.contact_id, link = sent.link_id, "reset link sent");
            }
            Err(err) => tracing::info!(by = ?op.name, refusal = err.kind(), "reset link not sent"),
        }
        result
    }

    /// What [`Desk::send_reset_link`] does for one customer, locked in
    /// `txn`, and the record of it: also each contact's step of a bulk
    /// reset. Refuses within the cooldown before writing anything.
    pub(crate) async fn reset_link_step(
        &self,
        txn: &DatabaseTransaction,
        op: &Operator,
        mut customer: Customer,
        force: bool,
        now: DateTime<Utc>,
    ) -> Result<Done<LinkSent>, DeskError> {
        let account = ensure_account(txn, &mut customer, now).await?;
        let cooldown = self.settings.reset.resend_cooldown;
        if let Some(remaining) = cooldown_left(txn, account.id, now, cooldown).await?
            && !force
        {
            return Err(DeskError::Cooldown {
                remaining,
                cooldown: HumanDuration(cooldown),
            });
        }
        let issued = self.issue(txn, &customer, &account, &op.name, now).await?;
        let event = Event::ok(
            Action::SendResetLink.audit_name(),
            Some(customer.contact.id),
        )
        .detail("link_id", issued.link.id)
        .detail("expires_at", issued.link.expires_at.to_rfc3339())
        .detail("revoked_older", issued.revoked_older)
        .detail("forced", force);
        let sent = LinkSent {
            contact_id: customer.contact.id,
            recipient: customer.contact.email,
            link_id: issued.link.id,
            expires_at: issued.link.expires_at,
            revoked_older: issued.revoked_older,
        };
        Ok(Done::new(sent, event).mail(issued.mail))
    }

    /// Revokes the account's open links, writes a new one and composes its
    /// mail. The caller audits and queues it.
    async fn issue(
        &self,
        db: &impl ConnectionTrait,
        customer: &Customer,
        account: &account::Model,
        requested_by: &str,
        now: DateTime<Utc>,
    ) -> Result<Issued, DeskError> {
        let (link, revoked_older, url) = self
            .new_link(db, account, requested_by, self.settings.reset.link_ttl, now)
            .await?;
        let composed = self
            .composer
            .reset_link(
                &Self::recipient(&customer.contact),
                &url,
                link.expires_at,
                now,
            )
            .map_err(|e| DeskError::Internal(format!("composing the reset mail: {e}")))?;
        let mail = Mail {
            kind: Kind::ResetLink,
            contact_id: customer.contact.id,
            recipient: customer.contact.email.clone(),
            reset_link_id: Some(link.id),
            composed,
        };
        Ok(Issued {
            link,
            revoked_older,
            mail,
        })
    }

    /// Revokes the account's open links and writes a new one that works for
    /// `ttl`: the one-live-link rule every link (reset or welcome) follows.
    /// Returns the row, how many older links it replaced, and its address
    /// (a secret: it goes into the mail and nowhere else).
    pub(crate) async fn new_link(
        &self,
        db: &impl ConnectionTrait,
        account: &account::Model,
        requested_by: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<(reset_link::Model, u64, String), DeskError> {
        let revoked_older = revoke_open(db, account.id, now, None).await?;
        let minted = tokens::mint()?;
        let expires_at = now + delta(ttl);
        let link = reset_link::ActiveModel {
            account_id: Set(account.id),
            token_sha256: Set(minted.sha256),
            created_at: Set(now),
            expires_at: Set(expires_at),
            used_at: Set(None),
            revoked_at: Set(None),
            requested_by: Set(requested_by.chars().take(200).collect()),
            ..Default::default()
        }
        .insert(db)
        .await?;
        let url = link_for(&self.settings.site.base_url, &minted.raw);
        Ok((link, revoked_older, url))
    }

    /// Revokes every open reset link of a customer (agents and admins);
    /// returns how many were open.
    ///
    /// # Errors
    /// [`DeskError::NotAllowed`], [`DeskError::NotFound`],
    /// [`DeskError::NotACustomer`], or a store failure.
    pub async fn revoke_reset_links(
        &self,
        op: &Operator,
        who: impl Into<ContactRef<'_>>,
    ) -> Result<u64, DeskError> {
        let who = who.into();
        let (contact, revoked) = self
            .operate(
                op,
                Action::RevokeResetLinks,
                Some(who),
                move |txn, now| async move {
                    let txn = &*txn;
                    let customer = lock_customer(txn, who).await?;
                    let revoked = match &customer.account {
                        Some(account) => revoke_open(txn, account.id, now, None).await?,
                        None => 0,
                    };
                    let event = Event::ok(
                        Action::RevokeResetLinks.audit_name(),
                        Some(customer.contact.id),
                    )
                    .detail("revoked", revoked);
                    Ok(Done::new((customer.contact.id, revoked), event))
                },
            )
            .await?;
        tracing::info!(by = ?op.name, contact, revoked, "reset links revoked");
        Ok(revoked)
    }

    /// Forgot Password. Answers [`ForgotAccepted`] whether or not `email`
    /// belongs to a customer, and takes at least `forgot.min_duration`
    /// either way. Counts against `forgot.per_email` and
    /// `forgot.per_client` per `forgot.window` (hashed keys in
    /// `throttles`). A known customer gets a link and its mail exactly as
    /// [`Desk::send_reset_link`] would send them (requested by `customer`),
    /// except that within the resend cooldown nothing new is sent and the
    /// answer stays the same. An unknown email leaves no audit row, only a
    /// counter (`forgot:unknown`).
    ///
    /// # Errors
    /// [`DeskError::RateLimited`] (the same for known and unknown emails),
    /// [`DeskError::Unavailable`].
    pub async fn request_reset(
        &self,
        email: &str,
        client: &str,
    ) -> Result<ForgotAccepted, DeskError> {
        let started = Instant::now();
        let result = self
            .retrying(|| self.request_reset_attempt(email, client))
            .await;
        let result = match result {
            Ok(queued) => {
                if queued {
                    self.wake_outbox();
                }
                Ok(ForgotAccepted)
            }
            Err(err @ (DeskError::RateLimited { .. } | DeskError::Unavailable(_))) => Err(err),
            Err(err) => {
                // Anything else is ours, not the requester's; answering
                // differently would tell them something about the address.
                tracing::warn!(error = %err, "forgot password request failed");
                Ok(ForgotAccepted)
            }
        };
        let floor = self.settings.forgot.min_duration;
        let spent = started.elapsed();
        if spent < floor {
            tokio::time::sleep(floor.saturating_sub(spent)).await;
        }
        result
    }

    /// One run of Forgot Password's transaction, which may commit a
    /// refusal (the counts stand) or nothing at all, so it is not a
    /// [`Desk::transact`] step; `Ok(true)` when mail was queued.
    async fn request_reset_attempt(&self, email: &str, client: &str) -> Result<bool, DeskError> {
        let now = self.clock.now();
        let forgot = &self.settings.forgot;
        let txn = self.store.begin_write().await?;
        let by_email = throttle::hit(
            &txn,
            &throttle::bucket("forgot:email", email),
            forgot.per_email,
            forgot.window,
            now,
        )
        .await?;
        let by_client = throttle::hit(
            &txn,
            &throttle::bucket("forgot:client", client),
            forgot.per_client,
            forgot.window,
            now,
        )
        .await?;
        if !by_email.allowed || !by_client.allowed {
            let mut retry_after = Duration::ZERO;
            for hit in [by_email, by_client] {
                if !hit.allowed {
                    retry_after = retry_after.max(hit.retry_after);
                }
            }
            // The counts stand even though the request is refused.
            txn.commit().await?;
            tracing::info!(
                event = "forgot.throttled",
                client = ?client,
                by_email = !by_email.allowed,
                by_client = !by_client.allowed,
                "Forgot Password request refused by a rate limit"
            );
            return Err(DeskError::RateLimited { retry_after });
        }
        let customer = if email.trim().len() > 320 {
            None
        } else {
            match lock_customer(&txn, ContactRef::Email(email)).await {
                Ok(customer) => Some(customer),
                Err(DeskError::NotFound(_) | DeskError::NotACustomer { .. }) => None,
                Err(err) => return Err(err),
            }
        };
        let Some(mut customer) = customer else {
            throttle::hit(&txn, "forgot:unknown", u32::MAX, forgot.window, now).await?;
            txn.commit().await?;
            return Ok(false);
        };
        let actor = Actor::customer(&customer.contact.email, client);
        let account = ensure_account(&txn, &mut customer, now).await?;
        let cooldown = self.settings.reset.resend_cooldown;
        if let Some(remaining) = cooldown_left(&txn, account.id, now, cooldown).await? {
            audit::write(
                &txn,
                now,
                &actor,
                Event::new("reset_link.requested", "refused", Some(customer.contact.id))
                    .detail("reason", "cooldown")
                    .detail(
                        "remaining_ms",
                        u64::try_from(remaining.as_millis()).unwrap_or(u64::MAX),
                    ),
            )
            .await?;
            txn.commit().await?;
            return Ok(false);
        }
        let issued = self
            .issue(&txn, &customer, &account, "customer", now)
            .await?;
        let event = Event::ok("reset_link.requested", Some(customer.contact.id))
            .detail("link_id", issued.link.id)
            .detail("expires_at", issued.link.expires_at.to_rfc3339())
            .detail("revoked_older", issued.revoked_older);
        record(
            &txn,
            now,
            &actor,
            Done::new((), event).mail(issued.mail),
            None,
        )
        .await?;
        txn.commit().await?;
        crate::diag::metrics::metrics()
            .reset_links_sent
            .with_label_values(&["forgot"])
            .inc();
        Ok(true)
    }

    /// What the reset page shows before the customer picks a password.
    ///
    /// # Errors
    /// [`DeskError::InvalidLink`] saying why the link cannot be used.
    pub async fn inspect_reset_link(&self, token: &str) -> Result<LinkInfo, DeskError> {
        let now = self.clock.now();
        let db = self.store.conn();
        let link = find_link(db, token).await?;
        if let Some(problem) = problem(&link, now) {
            return Err(DeskError::InvalidLink(problem));
        }
        let contact = contact_of_account(db, link.account_id).await?;
        let welcome = crate::store::entity::outbox::Entity::find()
            .filter(crate::store::entity::outbox::Column::ResetLinkId.eq(link.id))
            .filter(
                crate::store::entity::outbox::Column::Kind.eq(crate::mail::queue::kind::WELCOME),
            )
            .one(db)
            .await?
            .is_some();
        Ok(LinkInfo {
            email: contact.email,
            name: contact.name,
            expires_at: link.expires_at,
            welcome,
        })
    }

    /// Sets a new password through a reset link: only an unused, unexpired,
    /// unrevoked link works. Marks it used, revokes the account's other
    /// links and every site session, clears `must_change_password` and any
    /// lock, and queues the "password changed" notice, in one transaction.
    /// It does not sign the customer in.
    ///
    /// # Errors
    /// [`DeskError::InvalidLink`], [`DeskError::Policy`], or a store failure.
    pub async fn redeem_reset(
        &self,
        token: &str,
        new_password: &str,
    ) -> Result<Redeemed, DeskError> {
        self.redeem_reset_from(token, new_password, "reset link")
            .await
    }

    /// [`Desk::redeem_reset`] for a request from `client` (the site passes
    /// the client address), which the audit row records as the source. A
    /// link that cannot be used is logged with the client address.
    ///
    /// # Errors
    /// As [`Desk::redeem_reset`].
    pub async fn redeem_reset_from(
        &self,
        token: &str,
        new_password: &str,
        client: &str,
    ) -> Result<Redeemed, DeskError> {
        let result = self.redeem_reset_checked(token, new_password, client).await;
        if let Err(DeskError::InvalidLink(problem)) = &result {
            tracing::info!(
                event = "reset_link.refused",
                client = ?client,
                problem = ?problem,
                "a reset link that cannot be used was presented"
            );
        }
        result
    }

    async fn redeem_reset_checked(
        &self,
        token: &str,
        new_password: &str,
        client: &str,
    ) -> Result<Redeemed, DeskError> {
        let link = find_link(self.store.conn(), token).await?;
        if let Some(problem) = problem(&link, self.clock.now()) {
            return Err(DeskError::InvalidLink(problem));
        }
        let contact = contact_of_account(self.store.conn(), link.account_id).await?;
        self.check_policy(new_password, &contact)?;
        let phc = self.hash_password(new_password).await?;
        let actor = Actor::customer(&contact.email, client);
        let (phc, link, contact) = (&phc, &link, &contact);
        let redeemed = self
            .transact(&actor, move |txn, now| async move {
                let txn = &*txn;
                let customer = lock_customer_by_id(txn, contact.id).await?;
                // Read again under the lock: another redeem may have won the race.
                let link = reset_link::Entity::find_by_id(link.id)
                    .lock_exclusive()
                    .one(txn)
                    .await?
                    .ok_or(DeskError::InvalidLink(LinkProblem::Unknown))?;
                if let Some(problem) = problem(&link, now) {
                    return Err(DeskError::InvalidLink(problem));
                }
                let account = customer
                    .account
                    .clone()
                    .filter(|a| a.id == link.account_id)
                    .ok_or(DeskError::InvalidLink(LinkProblem::Revoked))?;
                let mut used: reset_link::ActiveModel = link.clone().into();
                used.used_at = Set(Some(now));
                used.update(txn).await?;
                let revoked_links = revoke_open(txn, account.id, now, Some(link.id)).await?;
                let ended_sessions =
                    sessions::revoke_all(txn, account.id, now, self.session_idle()).await?;
                let mut row: account::ActiveModel = account.into();
                row.password_hash = Set(Some(phc.clone()));
                row.must_change_password = Set(false);
                row.temporary_expires_at = Set(None);
                row.password_changed_at = Set(Some(now));
                row.failed_logins = Set(0);
                row.failed_window_started_at = Set(None);
                row.locked_until = Set(None);
                row.update(txn).await?;
                let event = Event::ok("password.reset_by_link", Some(customer.contact.id))
                    .detail("link_id", link.id)
                    .detail("links_revoked", revoked_links)
                    .detail("sessions_ended", ended_sessions);
                let mail = self.password_notice(&customer, now, false)?;
                let redeemed = Redeemed {
                    contact_id: customer.contact.id,
                    email: customer.contact.email,
                };
                Ok(Done::new(redeemed, event).mail(mail))
            })
            .await?;
        tracing::info!(
            contact = redeemed.contact_id,
            link = link.id,
            "password set through a reset link"
        );
        Ok(redeemed)
    }
}

/// The link row a presented token names.
async fn find_link(db: &impl ConnectionTrait, token: &str) -> Result<reset_link::Model, DeskError> {
    let Some(lookup) = link_lookup(token) else {
        return Err(DeskError::InvalidLink(LinkProblem::Unknown));
    };
    lookup
        .one(db)
        .await?
        .ok_or(DeskError::InvalidLink(LinkProblem::Unknown))
}

/// The query for the link a presented token names, or `None` when the
/// token does not have the shape of one we mint. It selects by the
/// token's SHA-256 digest alone, bound as a parameter: the database
/// compares fixed-length digests through its unique index, and no code of
/// ours ever compares the secret itself (so no early exit on a matching
/// prefix of the secret can be timed).
fn link_lookup(token: &str) -> Option<sea_orm::Select<reset_link::Entity>> {
    let token = token.trim();
    if !tokens::well_formed(token) {
        return None;
    }
    Some(
        reset_link::Entity::find()
            .filter(reset_link::Column::TokenSha256.eq(tokens::sha256_hex(token))),
    )
}

async fn contact_of_account(
    db: &impl ConnectionTrait,
    account_id: i64,
) -> Result<contact::Model, DeskError> {
    let account = account::Entity::find_by_id(account_id)
        .one(db)
        .await?
        .ok_or(DeskError::InvalidLink(LinkProblem::Unknown))?;
    contact::Entity::find_by_id(account.contact_id)
        .one(db)
        .await?
        .ok_or(DeskError::InvalidLink(LinkProblem::Unknown))
}

#[cfg(test)]
mod lookup_tests {
    use sea_orm::{DbBackend, QueryTrait};

    use super::*;

    #[test]
    fn a_link_is_looked_up_by_the_digest_alone_bound_as_a_parameter() {
        let minted = tokens::mint().unwrap();
        for backend in [DbBackend::Sqlite, DbBackend::Postgres, DbBackend::MySql] {
            let statement = link_lookup(&minted.raw).unwrap().build(backend);
            assert!(!statement.sql.contains(&minted.raw), "{}", statement.sql);
            assert!(!statement.sql.contains(&minted.sha256), "{}", statement.sql);
            assert!(statement.sql.contains("token_sha256"), "{}", statement.sql);
            let values = format!("{:?}", statement.values);
            assert!(values.contains(&minted.sha256), "{values}");
            assert!(!values.contains(&minted.raw), "{values}");
            assert_eq!(statement.values.map_or(0, |v| v.0.len()), 1);
        }
    }

    #[test]
    fn a_token_not_of_our_shape_is_never_looked_up() {
        let minted = tokens::mint().unwrap();
        for bad in [
            "",
            &minted.raw[..42],
            &format!("{}A", minted.raw),
            &format!("{}+", &minted.raw[..42]),
            &minted.sha256,
        ] {
            assert!(link_lookup(bad).is_none(), "{bad:?}");
        }
        // Surrounding whitespace (a pasted link) is forgiven.
        assert!(link_lookup(&format!(" {}\n", minted.raw)).is_some());
    }
}
