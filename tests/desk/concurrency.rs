//! Concurrency on every backend: 50 simultaneous operations on one
//! customer leave exactly one live link, and every one of them is either
//! done and audited or clearly refused (and audited); no count is lost.

use keydesk::desk::DeskError;
use keydesk::store::entity::{audit_event, reset_link, throttle};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::on_every_backend;
use crate::support::db::TestDb;
use crate::support::{db, mailbox, people};

const N: usize = 50;

async fn live_links(db: &TestDb) -> usize {
    reset_link::Entity::find()
        .filter(reset_link::Column::UsedAt.is_null())
        .filter(reset_link::Column::RevokedAt.is_null())
        .all(db.store.conn())
        .await
        .unwrap()
        .len()
}

async fn audit_rows(db: &TestDb, action: &str, outcome: &str) -> usize {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq(action))
        .filter(audit_event::Column::Outcome.eq(outcome))
        .all(db.store.conn())
        .await
        .unwrap()
        .len()
}

async fn fifty_simultaneous_sends_leave_one_live_link(db: TestDb) {
    let (desk, _clock) = db::desk(&db);
    let agent = people::make_operator(&db.store, "agent1", "agent").await;
    people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;

    // Without --force: one is sent, the others meet the cooldown.
    let mut tasks = Vec::new();
    for _ in 0..N {
        let (desk, agent) = (desk.clone(), agent.clone());
        tasks.push(tokio::spawn(async move {
            desk.send_reset_link(&agent, "ada@example.com", false).await
        }));
    }
    let mut sent = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => sent += 1,
            Err(DeskError::Cooldown { .. }) => {}
            Err(other) => panic!("not a clear refusal: {other}"),
        }
    }
    assert_eq!(sent, 1);
    assert_eq!(live_links(&db).await, 1);
    assert_eq!(audit_rows(&db, "reset_link.sent", "ok").await, 1);
    assert_eq!(audit_rows(&db, "reset_link.sent", "refused").await, N - 1);
    assert_eq!(mailbox::outbox_rows(&db.store).await.len(), 1);

    // With --force: all are sent, each revoking the one before.
    let mut tasks = Vec::new();
    for _ in 0..N {
        let (desk, agent) = (desk.clone(), agent.clone());
        tasks.push(tokio::spawn(async move {
            desk.send_reset_link(&agent, "ada@example.com", true).await
        }));
    }
    let mut forced = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => forced += 1,
            Err(other) => panic!("forced sends are never refused: {other}"),
        }
    }
    assert_eq!(forced, N);
    assert_eq!(live_links(&db).await, 1, "exactly one live link");
    assert_eq!(audit_rows(&db, "reset_link.sent", "ok").await, N + 1);
    assert_eq!(mailbox::outbox_rows(&db.store).await.len(), N + 1);
    // The live link is the one the newest mail carries.
    let token = mailbox::token_mailed_to(&db.store, "ada@example.com").await;
    let live = reset_link::Entity::find()
        .filter(reset_link::Column::UsedAt.is_null())
        .filter(reset_link::Column::RevokedAt.is_null())
        .one(db.store.conn())
        .await
        .unwrap()
        .unwrap();
    let newest_mail = mailbox::outbox_rows(&db.store)
        .await
        .into_iter()
        .filter(|r| r.reset_link_id == Some(live.id))
        .count();
    assert_eq!(newest_mail, 1);
    let _ = token;
}
on_every_backend!(fifty_sends, fifty_simultaneous_sends_leave_one_live_link);

async fn fifty_simultaneous_forgot_requests_lose_no_count(db: TestDb) {
    let (desk, _clock) = db::desk_with(&db, &[("KEYDESK__FORGOT__PER_EMAIL", "5")]);
    people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;
    let mut tasks = Vec::new();
    for i in 0..N {
        let desk = desk.clone();
        tasks.push(tokio::spawn(async move {
            desk.request_reset("ada@example.com", &format!("10.1.0.{i}"))
                .await
        }));
    }
    let (mut accepted, mut limited) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => accepted += 1,
            Err(DeskError::RateLimited { .. }) => limited += 1,
            Err(other) => panic!("not a clear answer: {other}"),
        }
    }
    assert_eq!((accepted, limited), (5, N - 5));
    let bucket = keydesk::desk::throttle::bucket("forgot:email", "ada@example.com");
    let row = throttle::Entity::find()
        .filter(throttle::Column::Bucket.eq(bucket))
        .one(db.store.conn())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.hits, i32::try_from(N).unwrap(), "every hit counted");
    assert_eq!(live_links(&db).await, 1);
    assert_eq!(mailbox::outbox_rows(&db.store).await.len(), 1);
}
on_every_backend!(
    fifty_forgot,
    fifty_simultaneous_forgot_requests_lose_no_count
);
