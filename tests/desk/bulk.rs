//! Bulk jobs on every backend: the plan names who is skipped and why; a
//! job acts on each contact once with its own audit row and one summary
//! row; a cancel stops it between two contacts with what was done kept;
//! a job killed midway and run again never acts on anyone twice; the
//! filters and the lockout view read the store's own facts.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use keydesk::desk::bulk::{BulkAction, Skip, by_reason, job_state};
use keydesk::desk::filters::Filter;
use keydesk::store::entity::{account, audit_event, bulk_job, outbox};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use crate::on_every_backend;
use crate::support::db::{self, TestDb};
use crate::support::people;

async fn customers(db: &TestDb, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            people::make_customer(
                &db.store,
                &format!("Bulk {i:03}"),
                &format!("bulk{i}@example.com"),
            )
            .await,
        );
    }
    ids
}

/// The rows of `action` with `outcome` (a refusal shares the action's name).
async fn audit_rows_with(db: &TestDb, action: &str, outcome: &str) -> Vec<audit_event::Model> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq(action))
        .filter(audit_event::Column::Outcome.eq(outcome))
        .all(db.store.conn())
        .await
        .unwrap()
}

async fn reset_mail_per_contact(db: &TestDb) -> BTreeMap<i64, usize> {
    let mut out = BTreeMap::new();
    for row in outbox::Entity::find().all(db.store.conn()).await.unwrap() {
        *out.entry(row.contact_id.unwrap()).or_default() += 1;
    }
    out
}

/// Locks a customer's account until `until` (made if they have none).
pub(crate) async fn lock(db: &TestDb, contact_id: i64, until: chrono::DateTime<chrono::Utc>) {
    use sea_orm::sea_query::Expr;
    let updated = account::Entity::update_many()
        .col_expr(account::Column::LockedUntil, Expr::value(Some(until)))
        .filter(account::Column::ContactId.eq(contact_id))
        .exec(db.store.conn())
        .await
        .unwrap();
    if updated.rows_affected > 0 {
        return;
    }
    account::ActiveModel {
        contact_id: Set(contact_id),
        password_hash: Set(None),
        must_change_password: Set(false),
        password_changed_at: Set(None),
        temporary_expires_at: Set(None),
        sign_in_count: Set(0),
        last_login_at: Set(None),
        failed_logins: Set(0),
        failed_window_started_at: Set(None),
        locked_until: Set(Some(until)),
        created_at: Set(people::t0()),
        ..Default::default()
    }
    .insert(db.store.conn())
    .await
    .unwrap();
}

async fn a_bulk_reset_plans_skips_and_audits_each_contact_once(db: TestDb) {
    let (desk, _clock) = db::desk(&db);
    let agent = people::make_operator(&db.store, "agent1", "agent").await;
    let ids = customers(&db, 12).await;
    let plain = people::make_contact(&db.store, "Sam Subscriber", "sam@example.com").await;
    // A link moments ago: within the resend cooldown.
    desk.send_reset_link(&agent, "bulk0@example.com", false)
        .await
        .unwrap();
    let mut asked = ids.clone();
    asked.push(plain);
    asked.push(ids[3]); // twice: acted on once
    asked.push(999_999); // deleted meanwhile

    let plan = desk
        .plan_bulk(&agent, BulkAction::ResetPassword, &asked)
        .await
        .unwrap();
    assert_eq!(plan.act_on.len(), 11);
    assert!(!plan.act_on.contains(&ids[0]));
    let reasons = by_reason(&plan.skipped);
    assert_eq!(reasons.get(&Skip::Cooldown), Some(&1));
    assert_eq!(reasons.get(&Skip::NotACustomer), Some(&1));
    assert_eq!(reasons.get(&Skip::NotFound), Some(&1));

    let job = desk.start_bulk(&agent, &plan).await.unwrap();
    let seen = Arc::new(AtomicU64::new(0));
    let last = Arc::clone(&seen);
    let summary = desk
        .run_bulk(&agent, job, move |p| {
            last.store(p.handled(), Ordering::SeqCst);
        })
        .await
        .unwrap();
    assert_eq!(
        seen.load(Ordering::SeqCst),
        11,
        "the progress reaches the end"
    );
    assert_eq!(summary.done, 11);
    assert!(summary.failed.is_empty() && !summary.cancelled);
    assert_eq!(by_reason(&summary.skipped).get(&Skip::Cooldown), Some(&1));

    let mails = reset_mail_per_contact(&db).await;
    assert_eq!(mails.len(), 12, "eleven new mails and the earlier one");
    assert!(mails.values().all(|n| *n == 1), "{mails:?}");
    let sent = audit_rows_with(&db, "reset_link.sent", "ok").await;
    let in_job: Vec<_> = sent
        .iter()
        .filter(|r| r.detail.contains(&format!("\"bulk_job\":{job}")))
        .collect();
    assert_eq!(
        in_job.len(),
        11,
        "one audit row per contact, naming the job"
    );
    let refused = audit_rows_with(&db, "reset_link.sent", "refused").await;
    assert_eq!(refused.len(), 2, "the skipped contacts have their rows too");
    assert!(refused.iter().all(|r| r.outcome == "refused"));
    let finished = audit_rows_with(&db, "bulk.finished", "ok").await;
    assert_eq!(finished.len(), 1, "one summary row");
    assert!(
        finished[0].detail.contains("\"done\":11"),
        "{}",
        finished[0].detail
    );

    // Running a finished job again does nothing.
    let again = desk.run_bulk(&agent, job, |_| {}).await.unwrap();
    assert_eq!(again.done, 11);
    assert_eq!(reset_mail_per_contact(&db).await.len(), 12);
}
on_every_backend!(
    bulk_reset,
    a_bulk_reset_plans_skips_and_audits_each_contact_once
);

/// A job running in a task that stops after its `hold_at`-th contact
/// until released, so a test acts on it mid-job however fast the machine
/// runs the rest.
struct Held {
    runner:
        tokio::task::JoinHandle<Result<keydesk::desk::bulk::BulkSummary, keydesk::desk::DeskError>>,
    reached: tokio::sync::watch::Receiver<bool>,
    release: std::sync::mpsc::Sender<()>,
}

fn run_held(
    desk: &keydesk::desk::Desk,
    op: &keydesk::desk::Operator,
    job: i64,
    hold_at: u64,
) -> Held {
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let wait = std::sync::Mutex::new(wait);
    let (at_hold, reached) = tokio::sync::watch::channel(false);
    let (desk, op) = (desk.clone(), op.clone());
    let runner = tokio::spawn(async move {
        desk.run_bulk(&op, job, move |p| {
            if p.handled() == hold_at {
                let _ = at_hold.send(true);
                // Blocks this worker thread only: its queued tasks (the
                // store's among them) move to another one meanwhile.
                tokio::task::block_in_place(|| {
                    let _ = wait
                        .lock()
                        .unwrap()
                        .recv_timeout(std::time::Duration::from_secs(30));
                });
            }
        })
        .await
    });
    Held {
        runner,
        reached,
        release,
    }
}

async fn a_cancel_keeps_what_was_done_and_queues_nothing_more(db: TestDb) {
    let (desk, _clock) = db::desk(&db);
    let agent = people::make_operator(&db.store, "agent1", "agent").await;
    let ids = customers(&db, 40).await;
    let plan = desk
        .plan_bulk(&agent, BulkAction::ResetPassword, &ids)
        .await
        .unwrap();
    let job = desk.start_bulk(&agent, &plan).await.unwrap();
    let mut held = run_held(&desk, &agent, job, 10);
    held.reached.wait_for(|r| *r).await.unwrap();
    let cancelled = desk.cancel_bulk(&agent, job).await.unwrap();
    held.release.send(()).unwrap();
    let summary = held.runner.await.unwrap().unwrap();
    assert!(summary.cancelled && cancelled.cancelled);
    assert!(summary.done >= 10 && summary.done < 40, "{summary:?}");
    assert_eq!(summary.done + summary.not_reached, 40);
    let mails = reset_mail_per_contact(&db).await;
    assert_eq!(
        mails.len() as u64,
        summary.done,
        "nothing queued after the cancel"
    );
    assert_eq!(
        audit_rows_with(&db, "reset_link.sent", "ok").await.len() as u64,
        summary.done,
        "what was done stays audited"
    );
    let rows = audit_rows_with(&db, "bulk.cancelled", "ok").await;
    assert_eq!(rows.len(), 1);
    assert!(
        rows[0]
            .detail
            .contains(&format!("\"done\":{}", summary.done))
    );

    // A cancelled job cannot be started again, nor cancelled twice.
    let again = desk.run_bulk(&agent, job, |_| {}).await.unwrap();
    assert_eq!(again.done, summary.done);
    assert_eq!(reset_mail_per_contact(&db).await.len() as u64, summary.done);
    assert!(desk.cancel_bulk(&agent, job).await.is_err());
}
on_every_backend!(
    bulk_cancel,
    a_cancel_keeps_what_was_done_and_queues_nothing_more
);

async fn a_job_killed_midway_resumes_without_acting_twice(db: TestDb) {
    let (desk, _clock) = db::desk(&db);
    let agent = people::make_operator(&db.store, "agent1", "agent").await;
    let ids = customers(&db, 30).await;
    let plan = desk
        .plan_bulk(&agent, BulkAction::ResetPassword, &ids)
        .await
        .unwrap();
    let job = desk.start_bulk(&agent, &plan).await.unwrap();
    let mut held = run_held(&desk, &agent, job, 8);
    held.reached.wait_for(|r| *r).await.unwrap();
    // The process dies: the task is dropped at its next await.
    held.runner.abort();
    held.release.send(()).unwrap();
    let _ = held.runner.await;
    let stored = bulk_job::Entity::find_by_id(job)
        .one(db.store.conn())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, job_state::RUNNING, "waiting to be resumed");
    assert_eq!(desk.running_bulk_jobs(&agent).await.unwrap().len(), 1);

    // A new process (a new desk over the same store) runs it again.
    let (again, _) = db::desk(&db);
    let summary = again.run_bulk(&agent, job, |_| {}).await.unwrap();
    assert_eq!(summary.done, 30);
    let mails = reset_mail_per_contact(&db).await;
    assert_eq!(mails.len(), 30);
    assert!(mails.values().all(|n| *n == 1), "nobody twice: {mails:?}");
    assert_eq!(
        audit_rows_with(&db, "reset_link.sent", "ok").await.len(),
        30
    );
}
on_every_backend!(
    bulk_resume,
    a_job_killed_midway_resumes_without_acting_twice
);

async fn unlock_skips_the_unlocked_and_filters_find_the_locked(db: TestDb) {
    let (desk, clock) = db::desk(&db);
    let admin = people::make_operator(&db.store, "root1", "admin").await;
    let ids = customers(&db, 5).await;
    let later = clock.now() + chrono::TimeDelta::minutes(10);
    lock(&db, ids[1], later).await;
    lock(&db, ids[3], later).await;
    // A lock that ended already is no lock.
    lock(&db, ids[4], clock.now() - chrono::TimeDelta::minutes(1)).await;

    let locked = desk
        .filter_set(&admin, &[Filter::Locked])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(locked.iter().collect::<Vec<_>>(), vec![ids[1], ids[3]]);
    let listed = desk.locked_contacts(&admin, None).await.unwrap();
    assert_eq!(listed.len(), 2);
    let views = desk.lockouts(&admin, &ids).await.unwrap();
    assert_eq!(views.len(), 2);
    assert_eq!(views[&ids[1]].until, later);

    let plan = desk
        .plan_bulk(&admin, BulkAction::Unlock, &ids)
        .await
        .unwrap();
    assert_eq!(plan.act_on, vec![ids[1], ids[3]]);
    assert_eq!(by_reason(&plan.skipped).get(&Skip::NotLocked), Some(&3));
    let job = desk.start_bulk(&admin, &plan).await.unwrap();
    let summary = desk.run_bulk(&admin, job, |_| {}).await.unwrap();
    assert_eq!(summary.done, 2);
    assert!(
        desk.filter_set(&admin, &[Filter::Locked])
            .await
            .unwrap()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        audit_rows_with(&db, "account.unlocked", "ok").await.len(),
        2
    );

    // An agent may not plan an unlock at all.
    let agent = people::make_operator(&db.store, "agent1", "agent").await;
    assert!(
        desk.plan_bulk(&agent, BulkAction::Unlock, &ids)
            .await
            .is_err()
    );
}
on_every_backend!(
    bulk_unlock,
    unlock_skips_the_unlocked_and_filters_find_the_locked
);
