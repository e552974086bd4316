//! `keydesk seed`: realistic bulk demo data, deterministic for a seed.
//!
//! People come from [`people`] (names in many languages, emails derived
//! from them). Around them: about 40% customers holding one to three of
//! the demo offers (purchased, or granted by a named admin), 30%
//! subscribers (independently, so the two overlap), and an `accounts` row
//! for every customer. Customers share one argon2id hash of
//! [`DEMO_PASSWORD`], computed once (hashing a million passwords would take
//! hours); about 15% never set a password, about 1% are locked, a few must
//! change their password at next login.
//!
//! Seeding fills an **empty** store: when contacts exist it refuses with
//! [`SeedError::NotEmpty`] rather than mixing demo people into real ones.
//! Contacts get explicit ids from 1 (so grants and accounts can point at
//! them without a round trip); PostgreSQL's sequence is moved past them.
//!
//! Writes go in multi-row `INSERT`s, or by `COPY` on PostgreSQL, all in
//! one transaction with the secondary indexes (and on PostgreSQL the
//! foreign keys) dropped for the load and built once at the end
//! ([`crate::store::bulk`]): the store is seeded whole or
//! not at all, and ten million contacts write a few times the final store
//! size rather than dozens. Every contact's `updated_at` is the time its
//! batch was written, as the search index's writer contract asks (see
//! `store::search`); `created_at` is spread over the three years before
//! the seed started.

mod batch;
pub mod people;

use std::time::{Duration, Instant};

use argon2::password_hash::PasswordHasher;
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::{Alias, Expr, Func, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, Set,
};

use crate::clock::Clock;
use crate::settings::Argon2Settings;
use crate::store::bulk::Load;
use crate::store::bulk::postgres::UnsupportedValue;
use crate::store::entity::{contact, offer};
use crate::store::{Store, StoreError, classify};
use batch::{Batch, Generator, Plan};
use people::WordLists;

/// The password every seeded customer with a password has. Demo data only.
pub const DEMO_PASSWORD: &str = "violet-harbor-lantern-42";

/// Contacts generated and written per batch.
const DEFAULT_BATCH: usize = 10_000;

/// The tables a seed writes.
const TABLES: [&str; 3] = ["contacts", "grants", "accounts"];

/// What can go wrong while seeding.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The store already has contacts.
    #[error(
        "the store already holds {0} contacts; `seed` fills an empty store only (point database.url at a new database)"
    )]
    NotEmpty(u64),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The built-in word lists are malformed.
    #[error("demo word lists: {0}")]
    WordLists(String),
    /// A generated row cannot be sent as it is.
    #[error(transparent)]
    Encode(#[from] UnsupportedValue),
    /// The demo password could not be hashed.
    #[error("hashing the demo password: {0}")]
    Hash(String),
}

impl SeedReport {
    fn add(&mut self, other: &Self) {
        self.contacts += other.contacts;
        self.customers += other.customers;
        self.subscribers += other.subscribers;
        self.grants += other.grants;
        self.accounts += other.accounts;
        self.without_password += other.without_password;
        self.locked += other.locked;
        self.must_change += other.must_change;
    }
}

impl From<DbErr> for SeedError {
    fn from(err: DbErr) -> Self {
        Self::Store(classify(err))
    }
}

/// What to seed.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    /// How many contacts.
    pub contacts: u64,
    /// The same seed gives the same people.
    pub seed: u64,
    /// Where "now" comes from (a fixed clock makes every timestamp repeatable too).
    pub clock: Clock,
    /// The password customers' hash is made from.
    pub password: String,
    /// argon2id cost of that hash (match `password.argon2` so logins do not re-hash).
    pub argon2: Argon2Settings,
    /// Contacts per batch.
    pub batch: usize,
}

impl SeedOptions {
    /// `contacts` people from `seed`, with the system clock, [`DEMO_PASSWORD`]
    /// and OWASP argon2id parameters (m=19456, t=2, p=1).
    #[must_use]
    pub fn new(contacts: u64, seed: u64) -> Self {
        Self {
            contacts,
            seed,
            clock: Clock::system(),
            password: DEMO_PASSWORD.to_owned(),
            argon2: Argon2Settings {
                m_cost: Params::DEFAULT_M_COST,
                t_cost: Params::DEFAULT_T_COST,
                p_cost: Params::DEFAULT_P_COST,
            },
            batch: DEFAULT_BATCH,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// Contacts written.
    pub contacts: u64,
    /// Of them, customers (one or more grants).
    pub customers: u64,
    /// Of them, subscribers.
    pub subscribers: u64,
    /// Grants written.
    pub grants: u64,
    /// Accounts written (one per customer).
    pub accounts: u64,
    /// Accounts whose password was never set.
    pub without_password: u64,
    /// Accounts locked at seeding time.
    pub locked: u64,
    /// Accounts that must change their password at next login.
    pub must_change: u64,
    /// Offers in the store.
    pub offers: usize,
    /// Wall time.
    pub elapsed: Duration,
}

/// Seeds an empty store; `progress` is called with the number of
/// contacts written so far after each batch.
///
/// # Errors
/// [`SeedError::NotEmpty`] when contacts exist; a store error otherwise
/// (nothing is written then).
pub async fn seed(
    store: &Store,
    opts: &SeedOptions,
    progress: impl Fn(u64),
) -> Result<SeedReport, SeedError> {
    let began = Instant::now();
    let db = store.conn();
    let existing = count_contacts(db).await?;
    if existing > 0 {
        return Err(SeedError::NotEmpty(existing));
    }
    let lists = WordLists::builtin()?;
    let hash = hash_once(&opts.password, opts.argon2).await?;
    let start = opts.clock.now();
    let offer_ids = ensure_offers(store, &lists, start).await?;
    let mut report = SeedReport {
        offers: offer_ids.len(),
        ..SeedReport::default()
    };
    // Generating runs on its own thread, one batch ahead of the writes.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(2);
    let plan = Plan {
        total: opts.contacts,
        batch: opts.batch.max(1) as u64,
        seed: opts.seed,
        start,
        clock: opts.clock.clone(),
        offer_ids,
        hash,
    };
    let copy = store.backend() == DbBackend::Postgres;
    let producer = tokio::task::spawn_blocking(move || -> Result<(), UnsupportedValue> {
        let mut generator = Generator::new(&lists, &plan);
        while let Some(mut batch) = generator.next_batch() {
            if copy {
                batch.encode_copy()?;
            }
            if tx.blocking_send(batch).is_err() {
                break; // the writer stopped on an error
            }
        }
        Ok(())
    });
    let written = write(store, &mut rx, opts.contacts, &mut report, &progress).await;
    // Dropping the receiver first lets a producer blocked on a full channel end.
    drop(rx);
    let generated = producer
        .await
        .map_err(|e| SeedError::WordLists(format!("the generator stopped: {e}")))?;
    generated?;
    written?;
    if store.backend() == DbBackend::Postgres && report.contacts > 0 {
        // Fresh statistics, so the planner does not treat the tables as empty
        // until autovacuum comes round.
        db.execute_unprepared("ANALYZE contacts, grants, accounts")
            .await?;
    }
    report.elapsed = began.elapsed();
    Ok(report)
}

/// Writes the batches in one load (see [`crate::store::bulk::Load`]).
async fn write(
    store: &Store,
    rx: &mut tokio::sync::mpsc::Receiver<Batch>,
    total: u64,
    report: &mut SeedReport,
    progress: &impl Fn(u64),
) -> Result<(), SeedError> {
    let mut load = Load::begin(store, &TABLES).await?;
    while let Some(mut batch) = rx.recv().await {
        load.write(&mut batch.contacts).await?;
        load.write(&mut batch.grants).await?;
        load.write(&mut batch.accounts).await?;
        report.add(&batch.tally);
        progress(report.contacts);
    }
    complete(report, total)?;
    // Explicit ids do not move PostgreSQL's sequence.
    load.sync_sequence("contacts").await?;
    load.commit(store).await?;
    Ok(())
}

/// Refuses to commit when the generator stopped short (it failed; its
/// error is the one reported).
fn complete(report: &SeedReport, total: u64) -> Result<(), SeedError> {
    if report.contacts == total {
        Ok(())
    } else {
        Err(SeedError::WordLists(format!(
            "the generator stopped after {} of {total} contacts",
            report.contacts
        )))
    }
}

async fn count_contacts(db: &impl ConnectionTrait) -> Result<u64, SeedError> {
    let mut q = Query::select();
    q.from(contact::Entity)
        .expr_as(Func::count(Expr::col(contact::Column::Id)), Alias::new("n"));
    let n = db
        .query_one(&q)
        .await?
        .map(|row| row.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

async fn hash_once(password: &str, cost: Argon2Settings) -> Result<String, SeedError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let params = Params::new(cost.m_cost, cost.t_cost, cost.p_cost, None)
            .map_err(|e| SeedError::Hash(e.to_string()))?;
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| SeedError::Hash(e.to_string()))
    })
    .await
    .map_err(|e| SeedError::Hash(e.to_string()))?
}

/// Creates the demo offers that do not exist yet; their ids in list order.
async fn ensure_offers(
    store: &Store,
    lists: &WordLists,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, SeedError> {
    let txn = store.begin_write().await?;
    let mut ids = Vec::with_capacity(lists.offers.len());
    for spec in &lists.offers {
        let found = offer::Entity::find()
            .filter(offer::Column::Name.eq(spec.name.as_str()))
            .one(&txn)
            .await?;
        let id = match found {
            Some(o) => o.id,
            None => {
                offer::ActiveModel {
                    name: Set(spec.name.clone()),
                    products: Set(spec.products.clone()),
                    created_at: Set(now - TimeDelta::days(3 * 365 + 30)),
                    ..Default::default()
                }
                .insert(&txn)
                .await?
                .id
            }
        };
        ids.push(id);
    }
    txn.commit().await?;
    Ok(ids)
}
