//! Issue 17 at scale, on PostgreSQL: a bulk Reset Password of 10,000
//! customers planned, started and run through desk, then delivered to a
//! real SMTP server by two outbox workers sharing `mail.max_per_minute`
//! under a clock the test moves a minute at a time. No minute carries
//! more than the limit (by the passes and by the store's `sent_at`), and
//! every customer receives exactly one message.
//!
//! It prints what it measured (`--nocapture` shows it): making the
//! customers, planning, running the job, and delivering. Nothing is
//! asserted about speed; the figures are for the closing note.
//!
//! Part of `cargo test`: `cargo test --test mail bulk_10k -- --nocapture`
//! shows the figures.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keydesk::desk::bulk::BulkAction;
use keydesk::mail::queue::{kind, state};
use keydesk::mail::worker::{Pass, Worker};
use keydesk::store::entity::outbox;
use sea_orm::EntityTrait;
use tokio::sync::Notify;

use crate::support::db::{self, TestDb};
use crate::support::outbox::smtp_settings;
use crate::support::people;
use crate::support::smtp::SmtpServer;

const CUSTOMERS: usize = 10_000;
/// Five full minutes for the whole bulk.
const LIMIT: u32 = 2_000;

/// Both workers deliver at the same moment, each until it is throttled
/// or finds nothing due.
async fn both(a: &Worker, b: &Worker) -> (Pass, Pass) {
    let (pa, pb) = tokio::time::timeout(Duration::from_secs(300), async {
        tokio::join!(a.deliver_due(), b.deliver_due())
    })
    .await
    .expect("the passes finish");
    (pa.expect("store works"), pb.expect("store works"))
}

fn per_second(n: usize, took: Duration) -> f64 {
    #[expect(
        clippy::cast_precision_loss,
        reason = "a count far below 2^52, printed as a rate"
    )]
    let n = n as f64;
    n / took.as_secs_f64()
}

async fn ten_thousand_resets_leave_at_the_rate_limit_each_exactly_once(db: TestDb) {
    let began = Instant::now();
    let server = SmtpServer::plain();
    let (desk, clock) = db::desk(&db);
    let agent = people::make_operator(&db.store, "agent1", "agent").await;

    // 1. The customers, in one transaction.
    let t = Instant::now();
    let wanted: Vec<(String, String)> = (0..CUSTOMERS)
        .map(|i| (format!("Bulk {i:05}"), format!("bulk{i:05}@example.com")))
        .collect();
    let ids = people::make_customers(&db.store, &wanted).await;
    let making = t.elapsed();
    assert_eq!(ids.len(), CUSTOMERS);

    // 2. Plan, start and run the job: it queues a reset mail per customer.
    let t = Instant::now();
    let plan = desk
        .plan_bulk(&agent, BulkAction::ResetPassword, &ids)
        .await
        .unwrap();
    let planning = t.elapsed();
    assert_eq!(plan.act_on.len(), CUSTOMERS, "{:?}", &plan.skipped[..]);
    assert!(plan.skipped.is_empty());
    let t = Instant::now();
    let job = desk.start_bulk(&agent, &plan).await.unwrap();
    let starting = t.elapsed();
    let t = Instant::now();
    let summary = desk.run_bulk(&agent, job, |_| {}).await.unwrap();
    let running = t.elapsed();
    assert_eq!(summary.done, CUSTOMERS as u64, "{summary:?}");
    assert!(summary.skipped.is_empty() && summary.failed.is_empty() && !summary.cancelled);
    let queued = outbox::Entity::find().all(db.store.conn()).await.unwrap();
    assert_eq!(queued.len(), CUSTOMERS);
    assert!(
        queued
            .iter()
            .all(|r| r.kind == kind::RESET_LINK && r.state == state::QUEUED)
    );
    drop(queued);

    // 3. Two workers, one limit, a minute at a time.
    let mut settings = smtp_settings(
        &db::settings_for(&db.url, &std::env::temp_dir()),
        server.port,
    );
    settings.mail.max_per_minute = LIMIT;
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
    let start = clock.now();
    let mut delivered = 0;
    let mut rounds = Vec::new();
    let mut delivering = Duration::ZERO;
    while delivered < CUSTOMERS {
        assert!(rounds.len() < 10, "stuck after {delivered}: {rounds:?}");
        let mut this_minute = 0;
        let mut passes = 0;
        loop {
            let t = Instant::now();
            let (pa, pb) = both(&a, &b).await;
            delivering += t.elapsed();
            passes += 1;
            for p in [pa, pb] {
                assert_eq!(
                    (p.retried, p.failed, p.expired, p.lost_leases),
                    (0, 0, 0, 0),
                    "{p:?}"
                );
            }
            this_minute += pa.sent + pb.sent;
            let drained = delivered + this_minute == CUSTOMERS;
            if drained || (pa.throttled_until.is_some() && pb.throttled_until.is_some()) {
                break;
            }
            assert!(passes < 5, "the workers neither finish nor stop");
        }
        assert!(
            this_minute <= LIMIT as usize,
            "minute {}: {this_minute} sent",
            rounds.len()
        );
        delivered += this_minute;
        rounds.push(this_minute);
        clock.advance(Duration::from_secs(60));
    }
    assert_eq!(
        rounds,
        vec![LIMIT as usize; CUSTOMERS / LIMIT as usize],
        "each minute sends the whole limit"
    );

    // 4. At the relay: every customer once.
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.count() < CUSTOMERS && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let got = server.messages();
    assert_eq!(got.len(), CUSTOMERS, "every message arrived, none twice");
    let mut per_recipient: BTreeMap<String, usize> = BTreeMap::new();
    for m in &got {
        assert_eq!(m.rcpt_tos.len(), 1, "{:?}", m.rcpt_tos);
        *per_recipient.entry(m.rcpt_tos[0].clone()).or_default() += 1;
    }
    let twice: Vec<_> = per_recipient.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "more than once: {twice:?}");
    let expected: Vec<String> = wanted.iter().map(|(_, e)| e.clone()).collect();
    let mut received: Vec<String> = per_recipient.into_keys().collect();
    received.sort();
    assert_eq!(received, expected, "exactly the customers");

    // And by the store's own record.
    let rows = outbox::Entity::find().all(db.store.conn()).await.unwrap();
    assert_eq!(rows.len(), CUSTOMERS);
    assert!(
        rows.iter()
            .all(|r| r.state == state::SENT && r.body.is_none())
    );
    let mut per_minute: BTreeMap<i64, u32> = BTreeMap::new();
    for r in &rows {
        let at = r.sent_at.expect("sent_at");
        *per_minute.entry((at - start).num_minutes()).or_default() += 1;
    }
    assert!(
        per_minute.values().all(|n| *n <= LIMIT),
        "per minute: {per_minute:?}"
    );

    eprintln!(
        "bulk_10k on {:?}: {CUSTOMERS} customers, mail.max_per_minute = {LIMIT}, two workers, smtp pool_size = {}",
        db.backend, settings.mail.smtp.pool_size
    );
    eprintln!(
        "  make customers (one transaction): {:.2} s",
        making.as_secs_f64()
    );
    eprintln!(
        "  plan_bulk:                        {:.2} s",
        planning.as_secs_f64()
    );
    eprintln!(
        "  start_bulk:                       {:.2} s",
        starting.as_secs_f64()
    );
    eprintln!(
        "  run_bulk (queue {CUSTOMERS} resets):      {:.2} s = {:.0} contacts/s",
        running.as_secs_f64(),
        per_second(CUSTOMERS, running)
    );
    eprintln!(
        "  deliver over real SMTP:           {:.2} s = {:.0} messages/s, in {} simulated minutes {rounds:?}",
        delivering.as_secs_f64(),
        per_second(CUSTOMERS, delivering),
        rounds.len()
    );
    eprintln!(
        "  whole test:                       {:.2} s",
        began.elapsed().as_secs_f64()
    );
}

// PostgreSQL only: the issue asks for it there. Commits do not wait for
// fsync in this database (see `fresh_postgres_without_commit_wait`): with
// the wait the test took 8 minutes here (each of 20,000 commits ~20 ms of
// disk), which is the disk's figure, not keydesk's; the rate-limit and
// exactly-once assertions are the same either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    if let Some(db) = db::fresh_postgres_without_commit_wait().await {
        ten_thousand_resets_leave_at_the_rate_limit_each_exactly_once(db).await;
    }
}
