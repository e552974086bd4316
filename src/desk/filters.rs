//! The on-call filters beside the text search and the kind filter:
//! Locked, Open reset link, Must change password, Temporary password
//! expired, Never signed in, Holds offer X. Each is a set of contact ids
//! read with one indexed query; the console asks for the set when a filter
//! changes and again on its refresh tick, and hands it to the search,
//! whose index tests each record against it (so a filtered search is the
//! same scan as a plain one). And the lockout view: for locked contacts,
//! when the lock began, the failed attempts and the last source address.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::Desk;
use super::action::Action;
use super::error::DeskError;
use super::roles::{self, Operator};
use crate::clock::delta;
use crate::store::entity::{account, audit_event, grant, offer, reset_link};
pub use crate::store::id_set::IdSet;

/// How many ids one `IN (...)` list holds.
const CHUNK: usize = 500;

/// One filter. Several combine: a contact must pass every one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Filter {
    /// Locked after failed sign-ins, now.
    Locked,
    /// Holds a reset link that still works.
    OpenResetLink,
    /// Must choose a new password at the next sign-in.
    MustChangePassword,
    /// A temporary password that ran out before it was changed.
    TemporaryExpired,
    /// A customer who never signed in.
    NeverSignedIn,
    /// Holds this offer (by id).
    HoldsOffer(i64),
}

impl Filter {
    /// The fixed filters, in menu order (Holds offer X follows, per offer).
    pub const FIXED: [Self; 5] = [
        Self::Locked,
        Self::OpenResetLink,
        Self::MustChangePassword,
        Self::TemporaryExpired,
        Self::NeverSignedIn,
    ];

    /// The name the menu and the list title give it (an offer's own name
    /// is added by the caller).
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Locked => "Locked",
            Self::OpenResetLink => "Open reset link",
            Self::MustChangePassword => "Must change password",
            Self::TemporaryExpired => "Temporary password expired",
            Self::NeverSignedIn => "Never signed in",
            Self::HoldsOffer(_) => "Holds offer",
        }
    }
}

/// An offer, for picking Holds offer X by typing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferChoice {
    /// Its id.
    pub id: i64,
    /// Its title.
    pub name: String,
}

/// One row of the lockout view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lockout {
    /// When the lock began.
    pub began: DateTime<Utc>,
    /// When it ends.
    pub until: DateTime<Utc>,
    /// Failed sign-ins that set it.
    pub failures: i64,
    /// The client address of the sign-in that set it.
    pub source: String,
}

impl Desk {
    /// The contacts that pass every filter (any operator). An empty list
    /// of filters gives `None`: no narrowing.
    ///
    /// # Errors
    /// A role refusal or a store failure.
    pub async fn filter_set(
        &self,
        op: &Operator,
        filters: &[Filter],
    ) -> Result<Option<IdSet>, DeskError> {
        roles::require(self.store.conn(), op, Action::Browse).await?;
        let mut out: Option<IdSet> = None;
        for filter in filters {
            let set = self.one_filter(*filter).await?;
            out = Some(match out {
                Some(prev) => prev.intersect(&set),
                None => set,
            });
        }
        Ok(out)
    }

    async fn one_filter(&self, filter: Filter) -> Result<IdSet, DeskError> {
        let db = self.store.conn();
        let now = self.clock.now();
        let accounts = || {
            account::Entity::find()
                .select_only()
                .column(account::Column::ContactId)
        };
        let ids: Vec<i64> = match filter {
            Filter::Locked => {
                accounts()
                    .filter(account::Column::LockedUntil.gt(now))
                    .into_tuple()
                    .all(db)
                    .await?
            }
            Filter::MustChangePassword => {
                accounts()
                    .filter(account::Column::MustChangePassword.eq(true))
                    .filter(account::Column::PasswordHash.is_not_null())
                    .into_tuple()
                    .all(db)
                    .await?
            }
            Filter::TemporaryExpired => {
                accounts()
                    .filter(account::Column::MustChangePassword.eq(true))
                    .filter(account::Column::TemporaryExpiresAt.lte(now))
                    .into_tuple()
                    .all(db)
                    .await?
            }
            Filter::OpenResetLink => {
                let open: Vec<i64> = reset_link::Entity::find()
                    .select_only()
                    .column(reset_link::Column::AccountId)
                    .filter(reset_link::Column::UsedAt.is_null())
                    .filter(reset_link::Column::RevokedAt.is_null())
                    .filter(reset_link::Column::ExpiresAt.gt(now))
                    .into_tuple()
                    .all(db)
                    .await?;
                let mut ids = Vec::new();
                for chunk in open.chunks(CHUNK) {
                    ids.extend(
                        accounts()
                            .filter(account::Column::Id.is_in(chunk.to_vec()))
                            .into_tuple::<i64>()
                            .all(db)
                            .await?,
                    );
                }
                ids
            }
            Filter::NeverSignedIn => {
                let signed_in: IdSet = accounts()
                    .filter(account::Column::SignInCount.gt(0))
                    .into_tuple::<i64>()
                    .all(db)
                    .await?
                    .into_iter()
                    .collect();
                let customers: Vec<i64> = grant::Entity::find()
                    .select_only()
                    .column(grant::Column::ContactId)
                    .into_tuple()
                    .all(db)
                    .await?;
                customers
                    .into_iter()
                    .filter(|id| !signed_in.contains(*id))
                    .collect()
            }
            Filter::HoldsOffer(offer_id) => {
                grant::Entity::find()
                    .select_only()
                    .column(grant::Column::ContactId)
                    .filter(grant::Column::OfferId.eq(offer_id))
                    .into_tuple()
                    .all(db)
                    .await?
            }
        };
        Ok(ids.into_iter().collect())
    }

    /// Every offer, by name, for Holds offer X (any operator).
    ///
    /// # Errors
    /// A role refusal or a store failure.
    pub async fn offer_choices(&self, op: &Operator) -> Result<Vec<OfferChoice>, DeskError> {
        let db = self.store.conn();
        roles::require(db, op, Action::Browse).await?;
        Ok(offer::Entity::find()
            .order_by_asc(offer::Column::Name)
            .all(db)
            .await?
            .into_iter()
            .map(|o| OfferChoice {
                id: o.id,
                name: o.name,
            })
            .collect())
    }

    /// The lockout view's facts for these contacts: those locked now, with
    /// when the lock began, how many failures set it and from where.
    ///
    /// # Errors
    /// A role refusal or a store failure.
    pub async fn lockouts(
        &self,
        op: &Operator,
        contact_ids: &[i64],
    ) -> Result<HashMap<i64, Lockout>, DeskError> {
        let db = self.store.conn();
        roles::require(db, op, Action::Browse).await?;
        let now = self.clock.now();
        let lockout = delta(self.settings.login.lockout);
        let mut out = HashMap::new();
        for chunk in contact_ids.chunks(CHUNK) {
            let locked: Vec<(i64, DateTime<Utc>)> = account::Entity::find()
                .select_only()
                .column(account::Column::ContactId)
                .column(account::Column::LockedUntil)
                .filter(account::Column::ContactId.is_in(chunk.to_vec()))
                .filter(account::Column::LockedUntil.gt(now))
                .into_tuple()
                .all(db)
                .await?;
            if locked.is_empty() {
                continue;
            }
            // The newest lock event of each: who failed, how often, from where.
            let events = audit_event::Entity::find()
                .filter(audit_event::Column::Action.eq("account.locked"))
                .filter(
                    audit_event::Column::ContactId
                        .is_in(locked.iter().map(|(id, _)| *id).collect::<Vec<_>>()),
                )
                .filter(audit_event::Column::At.gte(now - lockout * 2))
                .order_by_desc(audit_event::Column::Id)
                .all(db)
                .await?;
            for (id, until) in locked {
                let event = events.iter().find(|e| e.contact_id == Some(id));
                let failures = event
                    .and_then(|e| serde_json::from_str::<serde_json::Value>(&e.detail).ok())
                    .and_then(|d| d.get("failures").and_then(serde_json::Value::as_i64))
                    .unwrap_or(0);
                out.insert(
                    id,
                    Lockout {
                        began: event.map_or(until - lockout, |e| e.at),
                        until,
                        failures,
                        source: event.map(|e| e.source.clone()).unwrap_or_default(),
                    },
                );
            }
        }
        Ok(out)
    }
}
