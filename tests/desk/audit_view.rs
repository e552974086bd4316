//! The audit listing the console's Audit screen shows, on every backend:
//! admins see every row, other operators only their own actions; the
//! text, operator, action and contact filters combine; `after_id` gives
//! only the rows a live view has not shown yet.

use keydesk::desk::Role;
use keydesk::desk::audit::{AuditEntry, AuditFilter};

use crate::on_every_backend;
use crate::support::db::TestDb;
use crate::support::{db, people};

fn actions(rows: &[AuditEntry]) -> Vec<(String, String)> {
    rows.iter()
        .map(|e| (e.actor.clone(), e.action.clone()))
        .collect()
}

async fn admins_see_all_others_their_own_and_filters_combine(db: TestDb) {
    let (desk, _clock) = db::desk(&db);
    let admin = people::make_operator(&db.store, "root-ann", "admin").await;
    let agent = people::make_operator(&db.store, "alex", "agent").await;
    let ada = people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;
    people::make_customer(&db.store, "Bob Percent_100", "bob@example.com").await;

    desk.add_operator(&admin, "bea", Role::Viewer)
        .await
        .unwrap();
    desk.send_reset_link(&agent, "ada@example.com", false)
        .await
        .unwrap();
    desk.send_reset_link(&agent, "bob@example.com", false)
        .await
        .unwrap();
    // A refusal is the agent's own action too.
    desk.add_operator(&agent, "eve", Role::Admin)
        .await
        .unwrap_err();

    let all = desk.audit(&admin, &AuditFilter::default()).await.unwrap();
    assert_eq!(
        actions(&all),
        vec![
            ("alex".into(), "operators.add".into()),
            ("alex".into(), "reset_link.sent".into()),
            ("alex".into(), "reset_link.sent".into()),
            ("root-ann".into(), "operators.add".into()),
        ],
        "admins see every row, newest first"
    );
    assert!(all.windows(2).all(|w| w[0].id > w[1].id));
    assert_eq!(all[2].contact_id, Some(ada));
    assert_eq!(all[2].contact.as_deref(), Some("ada@example.com"));

    // The agent sees only what the agent did; a viewer who did nothing, nothing.
    let own = desk.audit(&agent, &AuditFilter::default()).await.unwrap();
    assert_eq!(own.len(), 3, "{own:?}");
    assert!(own.iter().all(|e| e.actor == "alex"));
    let bea = desk
        .operator(&keydesk::desk::Identity {
            name: "bea".into(),
            source: "local".into(),
        })
        .await
        .unwrap();
    assert!(
        desk.audit(&bea, &AuditFilter::default())
            .await
            .unwrap()
            .is_empty()
    );

    let by = |f: AuditFilter| {
        let desk = desk.clone();
        let admin = admin.clone();
        async move { desk.audit(&admin, &f).await.unwrap() }
    };
    // Operator: a prefix of the actor's name, any case.
    let rows = by(AuditFilter {
        operator: Some("ROOT".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(
        actions(&rows),
        vec![("root-ann".into(), "operators.add".into())]
    );
    // Action: a prefix of the action.
    let rows = by(AuditFilter {
        action: Some("reset_link".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(rows.len(), 2);
    // Text: anywhere in actor, source, action, outcome or detail; LIKE's
    // wildcards are plain characters.
    let rows = by(AuditFilter {
        text: Some("DENIED".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(
        actions(&rows),
        vec![("alex".into(), "operators.add".into())]
    );
    let rows = by(AuditFilter {
        text: Some("%".into()),
        ..Default::default()
    })
    .await;
    assert!(rows.is_empty(), "{rows:?}");
    let rows = by(AuditFilter {
        text: Some("bea".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(
        actions(&rows),
        vec![("root-ann".into(), "operators.add".into())]
    );
    // Contact, combined with the others.
    let rows = by(AuditFilter {
        contact_email: Some("ADA@example.com".into()),
        operator: Some("alex".into()),
        action: Some("reset".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].contact_id, Some(ada));
    let rows = by(AuditFilter {
        contact_email: Some("ada@example.com".into()),
        operator: Some("root".into()),
        ..Default::default()
    })
    .await;
    assert!(rows.is_empty());

    // Live refresh: only rows newer than the newest shown, still filtered
    // by who may see them.
    let newest = all[0].id;
    assert!(
        by(AuditFilter {
            after_id: Some(newest),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    desk.remove_operator(&admin, "bea").await.unwrap();
    let fresh = by(AuditFilter {
        after_id: Some(newest),
        ..Default::default()
    })
    .await;
    assert_eq!(
        actions(&fresh),
        vec![("root-ann".into(), "operators.remove".into())]
    );
    let own_fresh = desk
        .audit(
            &agent,
            &AuditFilter {
                after_id: Some(newest),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(own_fresh.is_empty(), "an agent never sees an admin's row");
}
on_every_backend!(
    audit_view,
    admins_see_all_others_their_own_and_filters_combine
);
