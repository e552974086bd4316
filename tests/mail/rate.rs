//! `mail.max_per_minute`: two workers on one store, a real SMTP server and
//! a clock the test moves. Together they never send more than the limit in
//! any minute, every message arrives exactly once, and a worker that finds
//! the budget spent says when it comes back.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use keydesk::clock::Clock;
use keydesk::mail::queue::{self, Lease, state};
use keydesk::mail::worker::{Pass, Worker};
use keydesk::store::entity::outbox;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tokio::sync::Notify;

use crate::on_every_backend;
use crate::support::db::{self, TestDb};
use crate::support::outbox::{queue, smtp_settings};
use crate::support::smtp::SmtpServer;

const LIMIT: u32 = 20;
const MESSAGES: usize = 50;

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// Both workers take one pass each at the same moment.
async fn both(a: &Worker, b: &Worker) -> (Pass, Pass) {
    let (pa, pb) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(a.deliver_due(), b.deliver_due())
    })
    .await
    .expect("the passes finish");
    (pa.expect("store works"), pb.expect("store works"))
}

async fn two_workers_share_one_rate_limit(db: TestDb) {
    let server = SmtpServer::plain();
    let mut settings = smtp_settings(
        &db::settings_for(&db.url, &std::env::temp_dir()),
        server.port,
    );
    settings.mail.max_per_minute = LIMIT;
    let clock = Clock::fixed(start());
    for i in 0..MESSAGES {
        queue(
            db.store.conn(),
            &format!("customer{i}@example.com"),
            &format!("rate-{i:03}"),
            clock.now(),
        )
        .await;
    }
    let worker = || {
        Worker::new(
            db.store.clone(),
            &settings,
            clock.clone(),
            Arc::new(Notify::new()),
        )
        .expect("worker")
    };
    let (a, b) = (worker(), worker());

    // Minute one: the two together send exactly the limit, then stop.
    let (pa, pb) = both(&a, &b).await;
    assert_eq!(pa.sent + pb.sent, LIMIT as usize, "{pa:?} {pb:?}");
    let until = pa.throttled_until.or(pb.throttled_until);
    assert_eq!(
        until,
        Some(start() + TimeDelta::seconds(60)),
        "the budget comes back when the first send leaves the window"
    );
    assert_eq!(
        server
            .wait_for(LIMIT as usize, Duration::from_secs(10))
            .len(),
        LIMIT as usize
    );

    // Half a minute on: still nothing.
    clock.advance(Duration::from_secs(30));
    let (pa, pb) = both(&a, &b).await;
    assert_eq!(
        pa.sent + pb.sent,
        0,
        "within the minute nothing more leaves"
    );

    // A minute after the first sends: the next twenty, then the last ten.
    clock.advance(Duration::from_secs(30));
    let (pa, pb) = both(&a, &b).await;
    assert_eq!(pa.sent + pb.sent, LIMIT as usize);
    clock.advance(Duration::from_secs(60));
    let (pa, pb) = both(&a, &b).await;
    assert_eq!(pa.sent + pb.sent, MESSAGES - 2 * LIMIT as usize);

    let got = server.wait_for(MESSAGES, Duration::from_secs(10));
    let mut by_subject: BTreeMap<String, usize> = BTreeMap::new();
    for m in &got {
        *by_subject
            .entry(m.header("Subject").unwrap_or_default())
            .or_default() += 1;
    }
    assert_eq!(got.len(), MESSAGES, "every message arrived");
    assert!(
        by_subject.values().all(|n| *n == 1),
        "each exactly once: {by_subject:?}"
    );
    let rows = outbox::Entity::find().all(db.store.conn()).await.unwrap();
    assert!(rows.iter().all(|r| r.state == state::SENT));
    // No minute holds more than the limit, by the store's own record.
    let mut per_minute: BTreeMap<i64, u32> = BTreeMap::new();
    for r in &rows {
        let at = r.sent_at.expect("sent_at");
        *per_minute.entry((at - start()).num_minutes()).or_default() += 1;
    }
    assert!(
        per_minute.values().all(|n| *n <= LIMIT),
        "per minute: {per_minute:?}"
    );
}
mod shared_limit {
    use super::two_workers_share_one_rate_limit as body;
    use crate::support::db::{Backend, fresh};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        if let Some(db) = fresh(Backend::Sqlite).await {
            body(db).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(db) = fresh(Backend::Postgres).await {
            body(db).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql() {
        if let Some(db) = fresh(Backend::MySql).await {
            body(db).await;
        }
    }
}

/// Issue 17: a send recorded (`sending` to `sent`) by one worker while
/// another counts the budget is counted once, never missed. The budget is
/// full (the limit is in flight) and one task records those sends and
/// puts them back in flight, over and over, while claims count: none may
/// find room.
async fn a_send_recorded_while_the_budget_is_counted_still_counts(db: TestDb) {
    const CLAIMS: usize = 300;
    let now = start();
    let lease_until = now + TimeDelta::minutes(5);
    for i in 0..LIMIT as usize + 5 {
        queue(
            db.store.conn(),
            &format!("customer{i}@example.com"),
            &format!("race-{i:03}"),
            now,
        )
        .await;
    }
    let full = queue::claim_at_rate(&db.store, now, lease_until, 100, Some(LIMIT))
        .await
        .unwrap();
    assert_eq!(full.rows.len(), LIMIT as usize);
    let leases: Vec<Lease> = full
        .rows
        .iter()
        .map(|r| Lease {
            id: r.id,
            until: lease_until,
        })
        .collect();

    let stop = Arc::new(AtomicBool::new(false));
    let recorder = {
        let store = db.store.clone();
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            let mut flips = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                for lease in &leases {
                    assert!(queue::mark_sent(store.conn(), *lease, now).await.unwrap());
                    // Back in flight under the same lease: never sent twice
                    // by anyone, and the budget stays exactly full.
                    outbox::Entity::update_many()
                        .col_expr(outbox::Column::State, Expr::value(state::SENDING))
                        .col_expr(outbox::Column::ClaimedUntil, Expr::value(Some(lease.until)))
                        .col_expr(
                            outbox::Column::SentAt,
                            Expr::value(Option::<DateTime<Utc>>::None),
                        )
                        .filter(outbox::Column::Id.eq(lease.id))
                        .exec(store.conn())
                        .await
                        .unwrap();
                    flips += 1;
                }
            }
            flips
        })
    };
    let mut overdrawn = Vec::new();
    for _ in 0..CLAIMS {
        let claim = queue::claim_at_rate(&db.store, now, lease_until, 100, Some(LIMIT))
            .await
            .unwrap();
        if !claim.rows.is_empty() || claim.throttled_until.is_none() {
            overdrawn.push(claim.rows.len());
        }
    }
    stop.store(true, Ordering::Relaxed);
    let flips = recorder.await.unwrap();
    assert!(flips > 0, "the recorder ran");
    assert!(
        overdrawn.is_empty(),
        "{} of {CLAIMS} claims found room in a full budget (claimed {overdrawn:?})",
        overdrawn.len()
    );
}
on_every_backend!(
    recorded_while_counting,
    a_send_recorded_while_the_budget_is_counted_still_counts
);
