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

/// `rows` contacts named `bulk{i}`, every third holding an offer that
/// exists and every fifth also a new one; one name with a backslash and a
/// comma, one email (`boom@example.com`) when `boom`.
fn bulk_file(rows: usize, tag: &str, new_offer: &str, boom: bool) -> String {
    let mut file = String::from("name,email,subscribed,offers\n");
    for i in 0..rows {
        let name = match i {
            7 => "\"Back\\slash, Ünïcode\"".to_owned(),
            _ => format!("Bulk Person {i}"),
        };
        let email = if boom && i == rows - 10 {
            "boom@example.com".to_owned()
        } else {
            format!("{tag}{i}@example.com")
        };
        let offers = match (i % 3, i % 5) {
            (0, 0) => format!("Photo 101;{new_offer}"),
            (0, _) => "Photo 101".to_owned(),
            _ => String::new(),
        };
        let subscribed = if i % 2 == 0 { "yes" } else { "no" };
        file.push_str(&format!("{name},{email},{subscribed},{offers}\n"));
    }
    file
}

/// A trigger that refuses `boom@example.com`: a load that fails part way.
async fn refuse_boom(db: &TestDb) {
    use sea_orm::ConnectionTrait;
    let conn = db.store.conn();
    let statements: &[&str] = match db.store.backend() {
        sea_orm::DbBackend::Sqlite => &[
            "CREATE TRIGGER boom BEFORE INSERT ON contacts WHEN NEW.email = 'boom@example.com' \
             BEGIN SELECT RAISE(ABORT, 'boom'); END",
        ],
        sea_orm::DbBackend::Postgres => &[
            "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.email = 'boom@example.com' THEN RAISE EXCEPTION 'boom'; END IF; \
             RETURN NEW; END $$",
            "CREATE TRIGGER boom BEFORE INSERT ON contacts FOR EACH ROW EXECUTE FUNCTION boom()",
        ],
        _ => &[
            "CREATE TRIGGER boom BEFORE INSERT ON contacts FOR EACH ROW BEGIN \
             IF NEW.email = 'boom@example.com' THEN SIGNAL SQLSTATE '45000' \
             SET MESSAGE_TEXT = 'boom'; END IF; END",
        ],
    };
    for sql in statements {
        conn.execute_unprepared(sql).await.unwrap();
    }
}

/// An import at least as large as the store is loaded in bulk (indexes,
/// and on PostgreSQL keys, built after the rows; ids given by the import):
/// every row, grant and the audit event land, the store is whole after,
/// and a load that fails part way keeps nothing, not even its new offer.
async fn bulk_imports_land_whole_or_not_at_all(db: TestDb) {
    use keydesk::store::entity::{grant, offer};
    use sea_orm::{ActiveModelTrait, ColumnTrait, QueryFilter};
    let now = Clock::system().now();
    let small = "name,email,offers\nFirst One,first@example.com,Photo 101\n";
    import(&db.store, small.as_bytes(), false, "tester", now, &|_| {})
        .await
        .unwrap();
    let indexes = crate::seed::index_names(&db).await;
    let keys = crate::seed::foreign_keys(&db).await;

    const N: usize = 12_000;
    let file = bulk_file(N, "bulk", "Bulk Course", false);
    let report = import(&db.store, file.as_bytes(), false, "tester", now, &|_| {})
        .await
        .unwrap();
    assert_eq!(report.written, N as u64);
    assert_eq!(count(&db).await, N as u64 + 1);
    let conn = db.store.conn();
    let odd = contact::Entity::find()
        .filter(contact::Column::EmailLower.eq("bulk7@example.com"))
        .one(conn)
        .await
        .unwrap()
        .expect("row 7");
    assert_eq!(odd.name, "Back\\slash, Ünïcode");
    assert_eq!(odd.name_lower, "back\\slash, ünïcode");
    assert!(!odd.subscribed);
    let grants = grant::Entity::find().count(conn).await.unwrap();
    let expected = 1 + N.div_ceil(3) + N.div_ceil(15);
    assert_eq!(grants, expected as u64, "one grant per offer named");
    let offers: Vec<String> = offer::Entity::find()
        .all(conn)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(offers.len(), 2, "{offers:?}");
    assert!(offers.iter().any(|o| o == "Bulk Course"));
    assert_eq!(crate::seed::index_names(&db).await, indexes);
    assert_eq!(crate::seed::foreign_keys(&db).await, keys);
    let audits = audit_event::Entity::find().all(conn).await.unwrap();
    assert_eq!(audits.len(), 2);
    assert!(
        audits
            .iter()
            .any(|a| a.action == "contacts.imported"
                && a.detail.contains(&format!("\"written\":{N}")))
    );
    // Ordinary writes go on after it (PostgreSQL's sequence moved past the ids).
    contact::ActiveModel::new_contact("After Bulk", "after.bulk@example.com", false, now)
        .insert(conn)
        .await
        .expect("insert after a bulk import");
    // The lowercase-email index is back: a duplicate is refused.
    let dup = contact::ActiveModel::new_contact("Dup", "BULK8@example.com", false, now)
        .insert(conn)
        .await;
    assert!(dup.is_err(), "the unique email index was rebuilt");

    // A load that fails part way keeps nothing.
    refuse_boom(&db).await;
    let before = count(&db).await;
    let file = bulk_file(N + 500, "again", "Never Created", true);
    let err = import(&db.store, file.as_bytes(), false, "tester", now, &|_| {})
        .await
        .expect_err("the trigger refuses one row");
    assert!(err.to_string().contains("boom"), "{err}");
    assert_eq!(count(&db).await, before);
    assert_eq!(
        offer::Entity::find()
            .filter(offer::Column::Name.eq("Never Created"))
            .count(conn)
            .await
            .unwrap(),
        0,
        "the failed import's new offer is gone too"
    );
    assert_eq!(audit_event::Entity::find().count(conn).await.unwrap(), 2);
    assert_eq!(crate::seed::index_names(&db).await, indexes);
    assert_eq!(crate::seed::foreign_keys(&db).await, keys);
}
on_every_backend!(bulk, bulk_imports_land_whole_or_not_at_all);
