//! `keydesk import`: valid files land whole, invalid ones write nothing
//! unless asked, duplicates against the store are caught, on every backend.

use keydesk::clock::Clock;
use keydesk::import::{ImportError, import};
use keydesk::store::contacts::{KindFilter, SearchQuery, search_sql};
use keydesk::store::entity::{audit_event, contact};
use sea_orm::{EntityTrait, PaginatorTrait};

use crate::on_every_backend;
use crate::support::db::TestDb;

async fn count(db: &TestDb) -> u64 {
    contact::Entity::find()
        .count(db.store.conn())
        .await
        .unwrap()
}

async fn imports_all_or_nothing(db: TestDb) {
    let now = Clock::system().now();
    let good = "name,email,subscribed,offers\nÅsa Öberg,asa@example.se,yes,Photo 101\nBo Li,bo@example.cn,no,\n";
    let report = import(&db.store, good.as_bytes(), false, "tester", now, &|_| {})
        .await
        .unwrap();
    assert_eq!(report.written, 2);
    assert_eq!(count(&db).await, 2);
    let customers = search_sql(
        db.store.conn(),
        &SearchQuery {
            kind: KindFilter::Customers,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(customers.rows.len(), 1);
    assert_eq!(customers.rows[0].email, "asa@example.se");
    assert!(customers.rows[0].subscriber);

    // One bad row (and one already in the store): nothing written.
    let mixed = "name,email\nCy Ng,cy@example.com\nBad,not an email\nAsa Again,ASA@example.se\n";
    match import(&db.store, mixed.as_bytes(), false, "tester", now, &|_| {}).await {
        Err(ImportError::Invalid(errors)) => {
            let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
            assert_eq!(lines, vec![3, 4], "{errors:?}");
            assert!(errors[1].reason.contains("already in the store"));
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(count(&db).await, 2, "nothing written");

    // With skip_invalid, the good row lands and the rest are reported.
    let report = import(&db.store, mixed.as_bytes(), true, "tester", now, &|_| {})
        .await
        .unwrap();
    assert_eq!(report.written, 1);
    assert_eq!(report.errors.len(), 2);
    assert_eq!(count(&db).await, 3);
    let audits = audit_event::Entity::find()
        .count(db.store.conn())
        .await
        .unwrap();
    assert_eq!(audits, 2, "one audit event per import that wrote");
}
on_every_backend!(all_or_nothing, imports_all_or_nothing);
