//! The schema: migrations apply on every backend, emails are unique
//! ignoring case, foreign keys hold.

use chrono::Utc;
use keydesk::store::StoreError;
use keydesk::store::entity::{contact, grant};
use sea_orm::{ActiveModelTrait, Set};

use crate::on_every_backend;
use crate::support::db::{Backend, TestDb, fresh_url, settings_for};

fn new_contact(name: &str, email: &str) -> contact::ActiveModel {
    contact::ActiveModel::new_contact(name, email, false, Utc::now())
}

async fn migrations_are_idempotent_and_email_is_unique_ignoring_case(db: TestDb) {
    db.store.migrate().await.expect("second migrate is a no-op");
    let conn = db.store.conn();
    new_contact("Ada Lovelace", "Ada@Example.com")
        .insert(conn)
        .await
        .expect("insert");
    let err = new_contact("Other Ada", "ada@example.COM")
        .insert(conn)
        .await
        .expect_err("same email, other case");
    assert!(
        matches!(keydesk::store::classify(err), StoreError::Duplicate(_)),
        "a duplicate is reported as such"
    );
}
on_every_backend!(
    email_unique,
    migrations_are_idempotent_and_email_is_unique_ignoring_case
);

async fn grants_need_a_real_contact_and_offer(db: TestDb) {
    let conn = db.store.conn();
    let bad = grant::ActiveModel {
        contact_id: Set(999_999),
        offer_id: Set(999_999),
        source: Set("granted".into()),
        granted_by: Set("test".into()),
        granted_at: Set(Utc::now()),
        ..Default::default()
    };
    assert!(bad.insert(conn).await.is_err(), "foreign keys are enforced");
}
on_every_backend!(foreign_keys, grants_need_a_real_contact_and_offer);

async fn timestamps_round_trip_exactly(db: TestDb) {
    let clock = keydesk::clock::Clock::system();
    let at = clock.now();
    let mut c = new_contact("Time Keeper", "time@example.com");
    c.created_at = Set(at);
    let saved = c.insert(db.store.conn()).await.unwrap();
    let back = keydesk::store::contacts::by_email(db.store.conn(), "TIME@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.id, saved.id);
    assert_eq!(
        back.created_at, at,
        "microsecond timestamps survive the backend"
    );
}
on_every_backend!(timestamps, timestamps_round_trip_exactly);

/// `status` on an empty database (no migration table: everything pending)
/// and once migrated (nothing pending), on `backend`.
async fn status_sees_the_migration_table_or_its_absence(backend: Backend) {
    let Some((url, dir)) = fresh_url(backend).await else {
        return;
    };
    let data = tempfile::tempdir().expect("temp dir");
    let settings = settings_for(&url, data.path());
    let store = keydesk::store::Store::connect(&settings.database)
        .await
        .expect("connect");
    let known = keydesk::store::schema::known();
    let empty = keydesk::store::schema::status(store.conn())
        .await
        .expect("status of an empty database");
    assert_eq!(
        empty.pending, known,
        "an empty database has everything pending"
    );
    assert!(empty.applied.is_empty() && empty.unknown.is_empty());
    store.migrate().await.expect("migrate");
    let migrated = keydesk::store::schema::status(store.conn())
        .await
        .expect("status once migrated");
    assert!(migrated.pending.is_empty(), "{:?}", migrated.pending);
    assert_eq!(migrated.applied.len(), known.len());
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_on_sqlite() {
    status_sees_the_migration_table_or_its_absence(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_on_postgres() {
    status_sees_the_migration_table_or_its_absence(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_on_mysql() {
    status_sees_the_migration_table_or_its_absence(Backend::MySql).await;
}
