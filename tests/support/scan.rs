//! The store scanned whole: every place a secret is held, and row counts
//! by raw SQL.

use keydesk::store::Store;

use super::mailbox::mail_text;

/// Every place (`table.column`) in the store whose text holds `secret`.
/// Queued outbox bodies are decoded first, so encoding cannot hide it.
pub async fn places_holding(store: &Store, secret: &str) -> Vec<String> {
    use keydesk::store::entity::*;
    use sea_orm::EntityTrait;
    let conn = store.conn();
    let mut found = Vec::new();
    let mut scan = |table: &str, rows: Vec<serde_json::Value>| {
        for row in rows {
            if let serde_json::Value::Object(map) = row {
                for (column, value) in map {
                    if let serde_json::Value::String(text) = value {
                        let decoded = if column == "body" {
                            mail_text(&text)
                        } else {
                            String::new()
                        };
                        if text.contains(secret) || decoded.contains(secret) {
                            found.push(format!("{table}.{column}"));
                        }
                    }
                }
            }
        }
    };
    scan(
        "contacts",
        contact::Entity::find()
            .into_json()
            .all(conn)
            .await
            .expect("scan"),
    );
    scan(
        "notes",
        note::Entity::find()
            .into_json()
            .all(conn)
            .await
            .expect("scan"),
    );
    scan(
        "offers",
        offer::Entity::find()
            .into_json()
            .all(conn)
            .await
            .expect("scan"),
    );
    scan(
        "grants",
        grant::Entity::find()
            .into_json()
            .all(conn)
            .await
            .expect("scan"),
    );
    scan(
        "accounts",
        account::Entity::find()
            .into_json()
            .all(conn)
            .await
            .expect("scan"),
    );
    scan(
        "reset_links",
        reset_link::Entity::find()
            .into_json()
            .all(conn)
            .await
            .expect("scan"),
    );
    scan(
        "sessions",
        session::Entity::find()
            .into_json()
            .all(conn)
            .await
            .expect("scan"),
    );
    scan(
        "operators",
        operator::Entity::find()
            .into_json()
            .all(conn)
            .await
            .expect("scan"),
    );
    scan(
        "audit_events",
        audit_event::Entity::find()
            .into_json()
            .all(conn)
            .await
            .expect("scan"),
    );
    scan(
        "outbox",
        outbox::Entity::find()
            .into_json()
            .all(conn)
            .await
            .expect("scan"),
    );
    scan(
        "throttles",
        throttle::Entity::find()
            .into_json()
            .all(conn)
            .await
            .expect("scan"),
    );
    found
}

/// Rows in a table, by raw SQL (works whatever the entity says).
pub async fn count_rows(store: &Store, table: &str) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let backend = store.backend();
    let row = store
        .conn()
        .query_one_raw(Statement::from_string(
            backend,
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .expect("count")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("n")
}
