//! One batch of seeded rows: contacts with their grants and accounts,
//! generated from the seed in the same order every time.

use chrono::{DateTime, TimeDelta, Utc};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use sea_orm::Value;

use super::SeedReport;
use super::people::{People, Weighted, WordLists};
use crate::clock::Clock;
use crate::store::bulk::postgres::UnsupportedValue;
use crate::store::bulk::rows::Rows;
use crate::store::bulk::{CONTACT_COLUMNS, GRANT_COLUMNS};

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

/// What to generate.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) total: u64,
    pub(crate) batch: u64,
    pub(crate) seed: u64,
    /// When the seed started: `created_at` goes back three years from here.
    pub(crate) start: DateTime<Utc>,
    /// Gives each batch its `updated_at`.
    pub(crate) clock: Clock,
    pub(crate) offer_ids: Vec<i64>,
    pub(crate) hash: String,
}

/// Rows for one transaction, and what they hold.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) contacts: Rows,
    pub(crate) grants: Rows,
    pub(crate) accounts: Rows,
    pub(crate) tally: SeedReport,
}

impl Batch {
    /// Turns every table's rows into `COPY` text.
    pub(crate) fn encode_copy(&mut self) -> Result<(), UnsupportedValue> {
        self.contacts.encode_copy()?;
        self.grants.encode_copy()?;
        self.accounts.encode_copy()
    }
}

/// Makes batches until the plan's total is reached.
pub(crate) struct Generator<'a> {
    lists: &'a WordLists,
    plan: &'a Plan,
    people: People<'a>,
    /// Everything but names and emails comes from this second stream, so
    /// the people stay the same when these proportions are tuned.
    rng: Xoshiro256PlusPlus,
    offer_weights: Weighted,
    next_id: i64,
    made: u64,
}

impl<'a> Generator<'a> {
    pub(crate) fn new(lists: &'a WordLists, plan: &'a Plan) -> Self {
        Self {
            lists,
            plan,
            people: People::new(lists, plan.seed),
            rng: Xoshiro256PlusPlus::seed_from_u64(plan.seed ^ 0x5eed_da7a_0000_0001),
            offer_weights: Weighted::new(lists.offers.iter().map(|o| o.weight)),
            next_id: 1,
            made: 0,
        }
    }

    pub(crate) fn next_batch(&mut self) -> Option<Batch> {
        if self.made >= self.plan.total {
            return None;
        }
        let n = self.plan.batch.min(self.plan.total - self.made);
        let now = self.plan.clock.now();
        let mut batch = Batch {
            contacts: Rows::new("contacts", CONTACT_COLUMNS),
            grants: Rows::new("grants", GRANT_COLUMNS),
            accounts: Rows::new("accounts", ACCOUNT_COLUMNS),
            tally: SeedReport::default(),
        };
        for _ in 0..n {
            self.contact(&mut batch, now);
        }
        self.made += n;
        Some(batch)
    }

    fn contact(&mut self, batch: &mut Batch, now: DateTime<Utc>) {
        let (lists, plan) = (self.lists, self.plan);
        let rng = &mut self.rng;
        let id = self.next_id;
        self.next_id += 1;
        let person = self.people.next_person();
        let start = plan.start;
        let created = start - TimeDelta::seconds(rng.random_range(0..3 * 365 * 86_400));
        let subscribed = rng.random_bool(0.30);
        let (tags, notes) = extras(rng, lists);
        let name_lower = person.name.to_lowercase();
        let email_lower = person.email.to_lowercase();
        batch.contacts.push([
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
        let tally = &mut batch.tally;
        tally.contacts += 1;
        tally.subscribers += u64::from(subscribed);
        if !rng.random_bool(0.40) {
            return;
        }
        tally.customers += 1;
        let held = match rng.random_range(0..100) {
            0..70 => 1,
            70..92 => 2,
            _ => 3,
        };
        let mut chosen: Vec<usize> = Vec::with_capacity(held);
        while chosen.len() < held.min(plan.offer_ids.len()) {
            let pick = self.offer_weights.pick(rng);
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
            batch.grants.push([
                Value::BigInt(Some(id)),
                Value::BigInt(Some(plan.offer_ids[pick])),
                Value::String(Some(source.to_owned())),
                Value::String(Some(by)),
                Value::ChronoDateTimeUtc(Some(at)),
            ]);
            tally.grants += 1;
        }
        let account = account_row(rng, id, first_grant, start, &plan.hash);
        tally.without_password += u64::from(account.never_set);
        tally.locked += u64::from(account.locked);
        tally.must_change += u64::from(account.must_change);
        batch.accounts.push(account.values);
        tally.accounts += 1;
    }
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
