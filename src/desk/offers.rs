//! Offers: listing them, granting one to a contact (which makes a contact
//! a Customer, with a welcome email whose link sets the first password),
//! revoking one (the last one ends the login), and resending the welcome
//! email to a customer who never set a password.
//!
//! The welcome link is a reset link (same table, page and rules: one live
//! link per account, single use, revoked by later links) that lasts
//! `reset.welcome_ttl`. Revoking the last offer keeps the account row, so
//! that granting again restores the login with its old password; meanwhile
//! sign-in finds no customer and answers as for a wrong password.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, ModelTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Set,
};

use super::action::Action;
use super::audit::Event;
use super::error::DeskError;
use super::operation::Done;
use super::outbox::{self, Kind};
use super::reset_links::revoke_open;
use super::roles::{self, Operator};
use super::{
    ContactRef, Customer, Desk, ensure_account, lock_contact, lock_customer, sessions,
    touch_contact,
};
use crate::store::entity::{account, contact, grant, offer};

/// An offer as listed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OfferEntry {
    /// Key.
    pub id: i64,
    /// Title.
    pub name: String,
    /// Products it gives access to, comma-separated.
    pub products: String,
    /// Contacts holding it.
    pub holders: u64,
}

/// The welcome email an operation queued (never its link).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WelcomeSent {
    /// The address it is queued for.
    pub recipient: String,
    /// The link's row.
    pub link_id: i64,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

/// What a grant did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    /// The contact.
    pub contact_id: i64,
    /// The offer's title.
    pub offer: String,
    /// The contact was not a Customer before.
    pub became_customer: bool,
    /// The contact had set a password before their last offer went; it
    /// works again.
    pub restored_login: bool,
    /// The welcome email, when one was queued.
    pub welcome: Option<WelcomeSent>,
}

/// What a revocation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// The contact.
    pub contact_id: i64,
    /// The offer's title.
    pub offer: String,
    /// The contact still holds another offer.
    pub still_customer: bool,
    /// Reset and welcome links that were open and are now revoked.
    pub links_revoked: u64,
    /// Site sessions that were open and are now ended.
    pub sessions_ended: u64,
}

/// The one offer `query` names: the offer with exactly that title (any
/// case), else the only one whose title contains it. Offers are few (a
/// platform's catalogue), so they are matched here rather than in SQL,
/// where case folding differs between backends.
fn pick<'a>(offers: &'a [offer::Model], query: &str) -> Result<&'a offer::Model, DeskError> {
    let needle = query.trim().to_lowercase();
    if needle.is_empty() {
        return Err(DeskError::Invalid("type part of an offer's name".into()));
    }
    if let Some(exact) = offers.iter().find(|o| o.name.to_lowercase() == needle) {
        return Ok(exact);
    }
    let matching: Vec<&offer::Model> = offers
        .iter()
        .filter(|o| o.name.to_lowercase().contains(&needle))
        .collect();
    match matching.as_slice() {
        [one] => Ok(one),
        [] => Err(DeskError::NotFound(format!(
            "no offer's name contains {:?}; `keydesk offers list` shows them",
            query.trim()
        ))),
        many => Err(DeskError::Invalid(format!(
            "{} offers match {:?} ({}); type more of the name",
            many.len(),
            query.trim(),
            many.iter()
                .take(5)
                .map(|o| o.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

async fn all_offers(db: &impl ConnectionTrait) -> Result<Vec<offer::Model>, DeskError> {
    Ok(offer::Entity::find()
        .order_by_asc(offer::Column::Name)
        .all(db)
        .await?)
}

impl Desk {
    /// Every offer, by name, with how many contacts hold it (any role).
    ///
    /// # Errors
    /// [`DeskError::UnknownOperator`] or a store failure.
    pub async fn list_offers(&self, op: &Operator) -> Result<Vec<OfferEntry>, DeskError> {
        let db = self.store.conn();
        let allowed = roles::require(db, op, Action::Browse).await;
        self.audit_refusal(op, Action::Browse, None, &allowed).await;
        allowed?;
        let mut out = Vec::new();
        for o in all_offers(db).await? {
            let holders = grant::Entity::find()
                .filter(grant::Column::OfferId.eq(o.id))
                .count(db)
                .await?;
            out.push(OfferEntry {
                id: o.id,
                name: o.name,
                products: o.products,
                holders,
            });
        }
        Ok(out)
    }

    /// Grants the offer `offer` names (see [`pick`]: its title, or a unique
    /// part of it) to the contact with `email` (admins). A contact who was
    /// not a Customer becomes one: their account is created without a
    /// password and, unless `welcome` is false, a welcome email with a
    /// set-password link is queued. An account that had a password before
    /// its last offer went is restored as it was (no welcome email).
    ///
    /// # Errors
    /// [`DeskError::NotAllowed`], [`DeskError::NotFound`] (contact or
    /// offer), [`DeskError::Invalid`] (several offers match),
    /// [`DeskError::Conflict`] (already held), or a store failure.
    pub async fn grant_offer(
        &self,
        op: &Operator,
        who: impl Into<ContactRef<'_>>,
        offer: &str,
        welcome: bool,
    ) -> Result<Granted, DeskError> {
        let who = who.into();
        let result = self
            .operate(
                op,
                Action::GrantOffer,
                Some(who),
                move |txn, now| async move {
                    self.grant_offer_step(&txn, now, op, who, offer, welcome)
                        .await
                },
            )
            .await;
        if let Ok(granted) = &result {
            if granted.welcome.is_some() {
                self.wake_outbox();
            }
            tracing::info!(by = ?op.name, contact = granted.contact_id, became_customer = granted.became_customer, "offer granted");
        }
        result
    }

    async fn grant_offer_step(
        &self,
        txn: &DatabaseTransaction,
        now: DateTime<Utc>,
        op: &Operator,
        who: ContactRef<'_>,
        query: &str,
        welcome: bool,
    ) -> Result<Done<Granted>, DeskError> {
        let contact = lock_contact(txn, who).await?;
        let offers = all_offers(txn).await?;
        let offer = pick(&offers, query)?;
        let held = grant::Entity::find()
            .filter(grant::Column::ContactId.eq(contact.id))
            .all(txn)
            .await?;
        if held.iter().any(|g| g.offer_id == offer.id) {
            return Err(DeskError::Conflict(format!(
                "{} already holds {}",
                contact.email, offer.name
            )));
        }
        let became_customer = held.is_empty();
        grant::ActiveModel {
            contact_id: Set(contact.id),
            offer_id: Set(offer.id),
            source: Set("granted".to_owned()),
            granted_by: Set(op.name.chars().take(200).collect()),
            granted_at: Set(now),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        touch_contact(txn, contact.id, now).await?;
        let mut customer = Customer {
            account: account::Entity::find()
                .filter(account::Column::ContactId.eq(contact.id))
                .one(txn)
                .await?,
            contact,
        };
        let restored_login = became_customer
            && customer
                .account
                .as_ref()
                .is_some_and(|a| a.password_hash.is_some());
        let welcome = if became_customer && welcome && !restored_login {
            Some(
                self.queue_welcome(txn, &mut customer, &offer.name, &op.name, now)
                    .await?,
            )
        } else {
            None
        };
        let mut event = Event::ok(Action::GrantOffer.audit_name(), Some(customer.contact.id))
            .detail("offer_id", offer.id)
            .detail("offer", offer.name.clone())
            .detail("became_customer", became_customer)
            .detail("restored_login", restored_login)
            .detail("welcome", welcome.is_some());
        if let Some(sent) = &welcome {
            event = event
                .detail("link_id", sent.link_id)
                .detail("expires_at", sent.expires_at.to_rfc3339());
        }
        let event = event;
        Ok(Done::new(
            Granted {
                contact_id: customer.contact.id,
                offer: offer.name.clone(),
                became_customer,
                restored_login,
                welcome,
            },
            event,
        ))
    }

    /// Writes a welcome link (revoking the account's older ones) and queues
    /// its mail. The caller audits.
    async fn queue_welcome(
        &self,
        db: &impl ConnectionTrait,
        customer: &mut Customer,
        offer: &str,
        requested_by: &str,
        now: DateTime<Utc>,
    ) -> Result<WelcomeSent, DeskError> {
        let account = ensure_account(db, customer, now).await?;
        let (link, _, url) = self
            .new_link(
                db,
                &account,
                requested_by,
                self.settings.reset.welcome_ttl,
                now,
            )
            .await?;
        let composed = self
            .composer
            .welcome(
                &Self::recipient(&customer.contact),
                offer,
                &url,
                link.expires_at,
                now,
            )
            .map_err(|e| DeskError::Internal(format!("composing the welcome mail: {e}")))?;
        outbox::queue(
            db,
            Kind::Welcome,
            &customer.contact.email,
            customer.contact.id,
            Some(link.id),
            composed,
            now,
        )
        .await?;
        Ok(WelcomeSent {
            recipient: customer.contact.email.clone(),
            link_id: link.id,
            expires_at: link.expires_at,
        })
    }

    /// Takes the offer `offer` names from the contact with `email`
    /// (admins). When it was their last, they are no longer a Customer:
    /// every open link is revoked and every site session ended, and
    /// sign-in answers as for a wrong password. The account row stays, so
    /// a later grant restores the login.
    ///
    /// # Errors
    /// [`DeskError::NotAllowed`], [`DeskError::NotFound`] (contact, offer,
    /// or an offer the contact does not hold), [`DeskError::Invalid`]
    /// (several offers match), or a store failure.
    pub async fn revoke_offer(
        &self,
        op: &Operator,
        who: impl Into<ContactRef<'_>>,
        offer: &str,
    ) -> Result<Revoked, DeskError> {
        let who = who.into();
        let result = self
            .operate(
                op,
                Action::RevokeOffer,
                Some(who),
                move |txn, now| async move { self.revoke_offer_step(&txn, now, who, offer).await },
            )
            .await;
        if let Ok(revoked) = &result {
            tracing::info!(by = ?op.name, contact = revoked.contact_id, still_customer = revoked.still_customer, "offer revoked");
        }
        result
    }

    async fn revoke_offer_step(
        &self,
        txn: &DatabaseTransaction,
        now: DateTime<Utc>,
        who: ContactRef<'_>,
        query: &str,
    ) -> Result<Done<Revoked>, DeskError> {
        let contact = lock_contact(txn, who).await?;
        let held = grant::Entity::find()
            .filter(grant::Column::ContactId.eq(contact.id))
            .all(txn)
            .await?;
        // Only the contact's own offers are candidates, so a part of a name
        // that is unique among them is enough.
        let held_offers = offer::Entity::find()
            .filter(offer::Column::Id.is_in(held.iter().map(|g| g.offer_id)))
            .all(txn)
            .await?;
        let offer = pick(&held_offers, query).map_err(|err| match err {
            DeskError::NotFound(_) => DeskError::NotFound(format!(
                "{} holds no offer whose name contains {:?}",
                contact.email,
                query.trim()
            )),
            other => other,
        })?;
        let Some(row) = held.iter().find(|g| g.offer_id == offer.id) else {
            return Err(DeskError::NotFound(format!(
                "{} does not hold {}",
                contact.email, offer.name
            )));
        };
        row.clone().delete(txn).await?;
        touch_contact(txn, contact.id, now).await?;
        let still_customer = held.len() > 1;
        let (mut links_revoked, mut sessions_ended) = (0, 0);
        if !still_customer
            && let Some(account) = account::Entity::find()
                .filter(account::Column::ContactId.eq(contact.id))
                .one(txn)
                .await?
        {
            links_revoked = revoke_open(txn, account.id, now, None).await?;
            sessions_ended =
                sessions::revoke_all(txn, account.id, now, self.session_idle()).await?;
        }
        let event = Event::ok(Action::RevokeOffer.audit_name(), Some(contact.id))
            .detail("offer_id", offer.id)
            .detail("offer", offer.name.clone())
            .detail("granted_by", row.granted_by.clone())
            .detail("source", row.source.clone())
            .detail("still_customer", still_customer)
            .detail("links_revoked", links_revoked)
            .detail("sessions_ended", sessions_ended);
        Ok(Done::new(
            Revoked {
                contact_id: contact.id,
                offer: offer.name.clone(),
                still_customer,
                links_revoked,
                sessions_ended,
            },
            event,
        ))
    }

    /// Sends a customer who never set a password a new welcome email
    /// (agents and admins); its link replaces any open one.
    ///
    /// # Errors
    /// [`DeskError::NotAllowed`], [`DeskError::NotFound`],
    /// [`DeskError::NotACustomer`], [`DeskError::Conflict`] (a password is
    /// set: send a reset link instead), or a store failure.
    pub async fn resend_welcome(
        &self,
        op: &Operator,
        who: impl Into<ContactRef<'_>>,
    ) -> Result<WelcomeSent, DeskError> {
        let who = who.into();
        let result = self
            .operate(
                op,
                Action::ResendWelcome,
                Some(who),
                move |txn, now| async move { self.resend_welcome_step(&txn, now, op, who).await },
            )
            .await;
        if let Ok(sent) = &result {
            self.wake_outbox();
            tracing::info!(by = ?op.name, link = sent.link_id, "welcome email sent again");
        }
        result
    }

    async fn resend_welcome_step(
        &self,
        txn: &DatabaseTransaction,
        now: DateTime<Utc>,
        op: &Operator,
        who: ContactRef<'_>,
    ) -> Result<Done<WelcomeSent>, DeskError> {
        let mut customer = lock_customer(txn, who).await?;
        if customer
            .account
            .as_ref()
            .is_some_and(|a| a.password_hash.is_some())
        {
            return Err(DeskError::Conflict(format!(
                "{} has already set a password; send a reset link instead",
                customer.contact.email
            )));
        }
        let newest_offer = newest_offer_name(txn, &customer.contact).await?;
        let sent = self
            .queue_welcome(txn, &mut customer, &newest_offer, &op.name, now)
            .await?;
        let event = Event::ok(
            Action::ResendWelcome.audit_name(),
            Some(customer.contact.id),
        )
        .detail("link_id", sent.link_id)
        .detail("expires_at", sent.expires_at.to_rfc3339());
        Ok(Done::new(sent, event))
    }
}

/// The title of the offer most recently granted to a contact, for the
/// welcome email's wording.
async fn newest_offer_name(
    db: &impl ConnectionTrait,
    contact: &contact::Model,
) -> Result<String, DeskError> {
    let Some(newest) = grant::Entity::find()
        .filter(grant::Column::ContactId.eq(contact.id))
        .order_by_desc(grant::Column::GrantedAt)
        .one(db)
        .await?
    else {
        return Ok(String::new());
    };
    Ok(offer::Entity::find_by_id(newest.offer_id)
        .one(db)
        .await?
        .map(|o| o.name)
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(id: i64, name: &str) -> offer::Model {
        offer::Model {
            id,
            name: name.to_owned(),
            products: String::new(),
            created_at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    #[test]
    fn an_exact_name_wins_over_a_part_and_a_unique_part_is_enough() {
        let offers = [
            offer(1, "Rust Basics"),
            offer(2, "Rust Basics Plus"),
            offer(3, "Go Deep"),
        ];
        assert_eq!(pick(&offers, "rust basics").unwrap().id, 1);
        assert_eq!(pick(&offers, "plus").unwrap().id, 2);
        assert_eq!(pick(&offers, " GO ").unwrap().id, 3);
        assert!(
            matches!(pick(&offers, "rust"), Err(DeskError::Invalid(m)) if m.contains("2 offers"))
        );
        assert!(matches!(
            pick(&offers, "python"),
            Err(DeskError::NotFound(_))
        ));
        assert!(matches!(pick(&offers, "  "), Err(DeskError::Invalid(_))));
    }
}
