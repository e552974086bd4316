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
//! Writes go in multi-row `INSERT`s (see [`insert`]), one transaction per
//! batch, so a million contacts take well under a minute on SQLite. Every
//! contact's `updated_at` is the time its batch was written, as the search
//! index's writer contract asks (see `store::search`); `created_at` is
//! spread over the three years before the seed started.

mod insert;
pub mod people;

use std::time::{Duration, Instant};

use argon2::password_hash::PasswordHasher;
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{DateTime, TimeDelta, Utc};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use sea_orm::sea_query::{Alias, Expr, Func, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    Set, Value,
};

use crate::clock::Clock;
use crate::settings::Argon2Settings;
use crate::store::entity::{contact, offer};
use crate::store::{Store, StoreError, classify};
use insert::Rows;
use people::{People, WordLists};

/// The password every seeded customer with a password has. Demo data only.
pub const DEMO_PASSWORD: &str = "violet-harbor-lantern-42";

/// Contacts written per transaction.
const DEFAULT_BATCH: usize = 10_000;

const CONTACT_COLUMNS: &[&str] = &[
    "id",
    "name",
    "email",
    "name_lower",
    "email_lower",
    "subscribed",
    "tags",
    "notes",
    "created_at",
    "updated_at",
];
const GRANT_COLUMNS: &[&str] = &[
    "contact_id",
    "offer_id",
    "source",
    "granted_by",
    "granted_at",
];
const ACCOUNT_COLUMNS: &[&str] = &[
    "contact_id",
    "password_hash",
    "must_change_password",
    "password_changed_at",
    "temporary_expires_at",
    "sign_in_count",
    "last_login_at",
    "failed_logins",
    "failed_window_started_at",
    "locked_until",
    "created_at",
];

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
    /// The demo password could not be hashed.
    #[error("hashing the demo password: {0}")]
    Hash(String),
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
    /// Contacts per transaction.
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
/// (batches already committed stay).
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
    let offer_weights = people::Weighted::new(lists.offers.iter().map(|o| o.weight));

    let mut people = People::new(&lists, opts.seed);
    // A separate stream for everything but names and emails, so the people
    // stay the same when these proportions are tuned.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(opts.seed ^ 0x5eed_da7a_0000_0001);
    let mut report = SeedReport {
        offers: offer_ids.len(),
        ..SeedReport::default()
    };
    let batch = opts.batch.max(1) as u64;
    let mut next_id: i64 = 1;
    while report.contacts < opts.contacts {
        let n = batch.min(opts.contacts - report.contacts);
        let now = opts.clock.now();
        let mut contacts = Rows::new("contacts", CONTACT_COLUMNS);
        let mut grants = Rows::new("grants", GRANT_COLUMNS);
        let mut accounts = Rows::new("accounts", ACCOUNT_COLUMNS);
        for _ in 0..n {
            let id = next_id;
            next_id += 1;
            let person = people.next_person();
            let created = start - TimeDelta::seconds(rng.random_range(0..3 * 365 * 86_400));
            let subscribed = rng.random_bool(0.30);
            let (tags, notes) = extras(&mut rng, &lists);
            let name_lower = person.name.to_lowercase();
            let email_lower = person.email.to_lowercase();
            contacts.push([
                Value::BigInt(Some(id)),
                Value::String(Some(person.name)),
                Value::String(Some(person.email)),
                Value::String(Some(name_lower)),
                Value::String(Some(email_lower)),
                Value::Bool(Some(subscribed)),
                Value::String(Some(tags)),
                Value::String(Some(notes)),
                Value::ChronoDateTimeUtc(Some(created)),
                Value::ChronoDateTimeUtc(Some(now)),
            ]);
            report.contacts += 1;
            report.subscribers += u64::from(subscribed);
            if !rng.random_bool(0.40) {
                continue;
            }
            report.customers += 1;
            let held = match rng.random_range(0..100) {
                0..70 => 1,
                70..92 => 2,
                _ => 3,
            };
            let mut chosen: Vec<usize> = Vec::with_capacity(held);
            while chosen.len() < held.min(offer_ids.len()) {
                let pick = offer_weights.pick(&mut rng);
                if !chosen.contains(&pick) {
                    chosen.push(pick);
                }
            }
            let mut first_grant = start;
            for pick in chosen {
                let span = (start - created).num_seconds().max(1);
                let at = created + TimeDelta::seconds(rng.random_range(0..span));
                first_grant = first_grant.min(at);
                let (source, by) = if rng.random_bool(0.15) {
                    let admin = &lists.admins[rng.random_range(0..lists.admins.len())];
                    ("granted", admin.clone())
                } else {
                    ("purchased", String::new())
                };
                grants.push([
                    Value::BigInt(Some(id)),
                    Value::BigInt(Some(offer_ids[pick])),
                    Value::String(Some(source.to_owned())),
                    Value::String(Some(by)),
                    Value::ChronoDateTimeUtc(Some(at)),
                ]);
                report.grants += 1;
            }
            let account = account_row(&mut rng, id, first_grant, start, &hash);
            report.without_password += u64::from(account.never_set);
            report.locked += u64::from(account.locked);
            report.must_change += u64::from(account.must_change);
            accounts.push(account.values);
            report.accounts += 1;
        }
        let txn = store.begin_write().await?;
        contacts.flush(&txn).await?;
        grants.flush(&txn).await?;
        accounts.flush(&txn).await?;
        txn.commit().await?;
        progress(report.contacts);
    }
    if store.backend() == DbBackend::Postgres && report.contacts > 0 {
        // Explicit ids do not move the sequence; the next insert must not collide.
        db.execute_unprepared(
            "SELECT setval(pg_get_serial_sequence('contacts', 'id'), (SELECT MAX(id) FROM contacts))",
        )
        .await?;
    }
    report.elapsed = began.elapsed();
    Ok(report)
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

fn extras(rng: &mut Xoshiro256PlusPlus, lists: &WordLists) -> (String, String) {
    let tags = match rng.random_range(0..100) {
        0..8 => lists.tags[rng.random_range(0..lists.tags.len())].clone(),
        8..10 => {
            let a = rng.random_range(0..lists.tags.len());
            let b = (a + 1 + rng.random_range(0..lists.tags.len() - 1)) % lists.tags.len();
            format!("{},{}", lists.tags[a], lists.tags[b])
        }
        _ => String::new(),
    };
    let notes = if rng.random_bool(0.03) {
        lists.notes[rng.random_range(0..lists.notes.len())].clone()
    } else {
        String::new()
    };
    (tags, notes)
}

struct AccountRow {
    values: Vec<Value>,
    never_set: bool,
    locked: bool,
    must_change: bool,
}

fn account_row(
    rng: &mut Xoshiro256PlusPlus,
    contact_id: i64,
    created: DateTime<Utc>,
    now: DateTime<Utc>,
    hash: &str,
) -> AccountRow {
    let none_ts = || Value::ChronoDateTimeUtc(None);
    let ts = |at: DateTime<Utc>| Value::ChronoDateTimeUtc(Some(at));
    let span = (now - created).num_seconds().max(1);
    let never_set = rng.random_bool(0.15);
    let locked = !never_set && rng.random_bool(0.012);
    let must_change = !never_set && !locked && rng.random_bool(0.05);
    let (hash_value, changed_at, signins, last_login) = if never_set {
        (Value::String(None), none_ts(), 0, none_ts())
    } else {
        let changed = created + TimeDelta::seconds(rng.random_range(0..span));
        // Most people sign in a handful of times, a few very often.
        let signins: i32 = match rng.random_range(0..100) {
            0..10 => 0,
            10..70 => rng.random_range(1..12),
            70..95 => rng.random_range(12..80),
            _ => rng.random_range(80..600),
        };
        let last = if signins == 0 {
            none_ts()
        } else {
            let from = (now - changed).num_seconds().max(1);
            ts(changed + TimeDelta::seconds(rng.random_range(0..from)))
        };
        (
            Value::String(Some(hash.to_owned())),
            ts(changed),
            signins,
            last,
        )
    };
    let temporary = if must_change {
        ts(now + TimeDelta::minutes(rng.random_range(60..72 * 60)))
    } else {
        none_ts()
    };
    let (failed, window, locked_until) = if locked {
        (
            10,
            ts(now - TimeDelta::minutes(rng.random_range(1..15))),
            ts(now + TimeDelta::minutes(rng.random_range(60..48 * 60))),
        )
    } else {
        (
            if rng.random_bool(0.05) {
                rng.random_range(1..4)
            } else {
                0
            },
            none_ts(),
            none_ts(),
        )
    };
    AccountRow {
        values: vec![
            Value::BigInt(Some(contact_id)),
            hash_value,
            Value::Bool(Some(must_change)),
            changed_at,
            temporary,
            Value::Int(Some(signins)),
            last_login,
            Value::Int(Some(failed)),
            window,
            locked_until,
            ts(created),
        ],
        never_set,
        locked,
        must_change,
    }
}
