//! The console's port to the rest of keydesk: search, profiles, outbox
//! counts, the operator, and the account actions. The runtime calls these
//! from spawned tasks; `update` never sees them.
//!
//! Search goes through [`Services::search`] so switching from the SQL path
//! to the in-memory `Searcher` is one line.

use std::sync::Arc;

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use super::msg::{Action, ActionOutcome, OperatorView, OutboxCounts, PolicyFeedback};
use crate::clock::Clock;
use crate::settings::{Secret, Settings};
use crate::store::contacts::{self, Profile, SearchPage, SearchQuery};
use crate::store::entity::{operator, outbox};
use crate::store::{Store, StoreError};

/// What the console calls; cheap to clone into tasks.
#[derive(Clone, Debug)]
pub struct Services {
    store: Store,
    clock: Clock,
    settings: Arc<Settings>,
    os_user: String,
}

impl Services {
    /// Services over a store, as the OS user `os_user`.
    #[must_use]
    pub fn new(store: Store, clock: Clock, settings: Arc<Settings>, os_user: String) -> Self {
        Self {
            store,
            clock,
            settings,
            os_user,
        }
    }

    /// The clock everything uses.
    #[must_use]
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The settings.
    #[must_use]
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// One page of contacts.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn search(&self, query: &SearchQuery) -> Result<SearchPage, StoreError> {
        contacts::search_sql(self.store.conn(), query).await
    }

    /// A contact's profile.
    ///
    /// # Errors
    /// When the database fails or the contact is gone.
    pub async fn profile(&self, contact_id: i64) -> Result<Profile, StoreError> {
        contacts::profile(self.store.conn(), contact_id, self.clock.now()).await
    }

    /// Outbox counts for the status line.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let db = self.store.conn();
        let queued = outbox::Entity::find()
            .filter(outbox::Column::State.is_in(["queued", "sending"]))
            .filter(outbox::Column::Attempts.eq(0))
            .count(db)
            .await?;
        let retrying = outbox::Entity::find()
            .filter(outbox::Column::State.is_in(["queued", "sending"]))
            .filter(outbox::Column::Attempts.gt(0))
            .count(db)
            .await?;
        let failed = outbox::Entity::find()
            .filter(outbox::Column::State.eq("failed"))
            .count(db)
            .await?;
        Ok(OutboxCounts {
            queued,
            retrying,
            failed,
        })
    }

    /// Whether the database answers.
    ///
    /// # Errors
    /// When it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }

    /// The operator at the keyboard: the OS user and their role.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn operator(&self) -> Result<OperatorView, StoreError> {
        let row = operator::Entity::find()
            .filter(operator::Column::Name.eq(self.os_user.as_str()))
            .one(self.store.conn())
            .await?;
        Ok(OperatorView {
            name: self.os_user.clone(),
            role: row.map_or_else(|| "not an operator".to_owned(), |r| r.role),
        })
    }

    /// Performs an account action through desk.
    pub async fn act(&self, contact_id: i64, action: Action) -> ActionOutcome {
        let _ = (contact_id, &action);
        ActionOutcome::Failed(
            "account actions are not connected in this build (desk is not merged yet)".into(),
        )
    }

    /// A temporary password from the OS CSPRNG.
    #[must_use]
    pub fn generate_password(&self) -> Secret {
        use rand::RngExt;
        // No look-alike characters: the agent may read it out on the phone.
        const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
        let mut rng = rand::rng();
        let groups: Vec<String> = (0..4)
            .map(|_| {
                (0..5)
                    .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
                    .collect()
            })
            .collect();
        Secret::new(groups.join("-"))
    }

    /// Checks a password against the policy.
    #[must_use]
    pub fn check_password(&self, password: &Secret, context: &[String]) -> PolicyFeedback {
        let p = &self.settings.password;
        let text = password.expose();
        let len = text.chars().count();
        let mut problems = Vec::new();
        if len < p.min_length {
            problems.push(format!(
                "At least {} characters ({len} so far)",
                p.min_length
            ));
        }
        if len > p.max_length {
            problems.push(format!("At most {} characters", p.max_length));
        }
        let lower = text.to_lowercase();
        for c in context {
            let c = c.to_lowercase();
            let local = c.split('@').next().unwrap_or_default();
            if local.len() >= 4 && lower.contains(local) {
                problems.push("Must not contain the customer's name or email".into());
                break;
            }
        }
        let inputs: Vec<&str> = context.iter().map(String::as_str).collect();
        let strength = u8::from(zxcvbn::zxcvbn(text, &inputs).score());
        if problems.is_empty() && strength < p.min_strength {
            problems.push(format!(
                "Too easy to guess (strength {strength}/4, needs {})",
                p.min_strength
            ));
        }
        PolicyFeedback {
            ok: problems.is_empty(),
            problems,
            strength: Some(strength),
        }
    }
}
