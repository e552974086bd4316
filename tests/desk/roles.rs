//! Roles on every backend: DESIGN.md rule 7 (checked in desk: viewer
//! browses, agent also sends and revokes links, admin also changes
//! passwords, unlocks, signs out, manages operators), denials audited,
//! unknown operators told how to be added, the first admin.

use keydesk::desk::error::exit;
use keydesk::desk::{Action, DeskError, Identity, Role};

use crate::on_every_backend;
use crate::support::db::TestDb;
use crate::support::{db, people, scan};

const PW: &str = "correct horse battery staple 42";

async fn each_role_may_do_exactly_its_share(db: TestDb) {
    let (desk, clock) = db::desk(&db);
    let viewer = people::make_operator(&db.store, "vera", "viewer").await;
    let agent = people::make_operator(&db.store, "alex", "agent").await;
    let admin = people::make_operator(&db.store, "root-ann", "admin").await;
    people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;

    // viewer: browse only.
    desk.audit(&viewer, &Default::default()).await.unwrap();
    desk.list_operators(&viewer).await.unwrap();
    let denials = [
        desk.send_reset_link(&viewer, "ada@example.com", false)
            .await
            .err(),
        desk.revoke_reset_links(&viewer, "ada@example.com")
            .await
            .err(),
        desk.change_password(&viewer, "ada@example.com", PW, true)
            .await
            .err(),
        desk.unlock(&viewer, "ada@example.com").await.err(),
        desk.sign_out_everywhere(&viewer, "ada@example.com")
            .await
            .err(),
        desk.add_operator(&viewer, "eve", Role::Admin).await.err(),
    ];
    for (denial, needed) in denials.iter().zip([
        Role::Agent,
        Role::Agent,
        Role::Admin,
        Role::Admin,
        Role::Admin,
        Role::Admin,
    ]) {
        match denial {
            Some(err @ DeskError::NotAllowed { needed_role, .. }) => {
                assert_eq!(*needed_role, needed, "{err}");
                assert_eq!(err.exit_code(), exit::NOT_ALLOWED);
                assert!(err.to_string().contains(needed.as_str()), "{err}");
            }
            other => panic!("viewer should be denied, got {other:?}"),
        }
    }
    assert_eq!(scan::count_rows(&db.store, "reset_links").await, 0);
    assert_eq!(scan::count_rows(&db.store, "outbox").await, 0);

    // agent: also links.
    desk.send_reset_link(&agent, "ada@example.com", false)
        .await
        .unwrap();
    desk.revoke_reset_links(&agent, "ada@example.com")
        .await
        .unwrap();
    for err in [
        desk.change_password(&agent, "ada@example.com", PW, true)
            .await
            .err(),
        desk.unlock(&agent, "ada@example.com").await.err(),
        desk.sign_out_everywhere(&agent, "ada@example.com")
            .await
            .err(),
        desk.remove_operator(&agent, "vera").await.err(),
    ] {
        assert!(
            matches!(
                err,
                Some(DeskError::NotAllowed {
                    needed_role: Role::Admin,
                    ..
                })
            ),
            "{err:?}"
        );
    }

    // admin: everything.
    clock.advance(std::time::Duration::from_secs(61));
    desk.send_reset_link(&admin, "ada@example.com", false)
        .await
        .unwrap();
    desk.change_password(&admin, "ada@example.com", PW, true)
        .await
        .unwrap();
    desk.unlock(&admin, "ada@example.com").await.unwrap();
    desk.sign_out_everywhere(&admin, "ada@example.com")
        .await
        .unwrap();
    desk.add_operator(&admin, "eve", Role::Viewer)
        .await
        .unwrap();

    // Every denial is in the audit log, as denied (an admin reads them
    // all; the viewer only their own).
    let own = desk.audit(&viewer, &Default::default()).await.unwrap();
    assert!(own.iter().all(|e| e.actor == "vera"), "{own:?}");
    let audit = desk.audit(&admin, &Default::default()).await.unwrap();
    let denied: Vec<_> = audit.iter().filter(|e| e.outcome == "denied").collect();
    assert_eq!(denied.len(), 10, "{denied:?}");
    assert!(
        denied
            .iter()
            .all(|e| e.actor == "vera" || e.actor == "alex")
    );
    assert!(
        denied
            .iter()
            .any(|e| e.action == "password.changed"
                && e.contact.as_deref() == Some("ada@example.com"))
    );

    // Front ends can ask before offering an action.
    assert!(desk.allowed(&viewer, Action::Browse).is_ok());
    assert!(desk.allowed(&viewer, Action::SendResetLink).is_err());
    assert!(desk.allowed(&agent, Action::SendResetLink).is_ok());
    assert!(desk.allowed(&agent, Action::Unlock).is_err());
    assert!(desk.allowed(&admin, Action::AddOperator).is_ok());
}
on_every_backend!(role_matrix, each_role_may_do_exactly_its_share);

async fn roles_are_read_from_the_store_at_each_operation(db: TestDb) {
    let (desk, _clock) = db::desk(&db);
    let admin = people::make_operator(&db.store, "root-ann", "admin").await;
    let stale = people::make_operator(&db.store, "alex", "admin").await;
    people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;
    desk.add_operator(&admin, "alex", Role::Viewer)
        .await
        .unwrap();
    // `stale` still says admin; the store says viewer.
    assert_eq!(stale.role, Role::Admin);
    assert!(matches!(
        desk.send_reset_link(&stale, "ada@example.com", false).await,
        Err(DeskError::NotAllowed { .. })
    ));
    desk.remove_operator(&admin, "alex").await.unwrap();
    let err = desk
        .send_reset_link(&stale, "ada@example.com", false)
        .await
        .unwrap_err();
    assert!(matches!(err, DeskError::UnknownOperator { .. }), "{err}");
}
on_every_backend!(fresh_roles, roles_are_read_from_the_store_at_each_operation);

async fn unknown_operators_are_told_how_to_be_added(db: TestDb) {
    let (desk, _clock) = db::desk(&db);
    people::make_operator(&db.store, "root-ann", "admin").await;
    let err = desk
        .operator(&Identity {
            name: "mallory".into(),
            source: "ssh 203.0.113.9:5555".into(),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, DeskError::UnknownOperator { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("keydesk operators add mallory --role agent"),
        "{err}"
    );
    assert_eq!(err.exit_code(), exit::NOT_ALLOWED);
}
on_every_backend!(unknown_operator, unknown_operators_are_told_how_to_be_added);

async fn the_first_operator_becomes_admin_and_the_last_admin_stays(db: TestDb) {
    let (desk, _clock) = db::desk(&db);
    let me = Identity {
        name: "ops-lead".into(),
        source: "local".into(),
    };
    let told = desk.ensure_first_admin(&me).await.unwrap();
    let told = told.expect("told they are the first admin");
    assert!(
        told.contains("ops-lead") && told.contains("admin"),
        "{told}"
    );
    assert_eq!(
        desk.ensure_first_admin(&Identity {
            name: "someone-else".into(),
            source: "local".into()
        })
        .await
        .unwrap(),
        None,
        "only on an empty table"
    );
    let lead = desk.operator(&me).await.unwrap();
    assert_eq!(lead.role, Role::Admin);

    desk.add_operator(&lead, "alex", Role::Agent).await.unwrap();
    let list = desk.list_operators(&lead).await.unwrap();
    let names: Vec<_> = list.iter().map(|o| (o.name.as_str(), o.role)).collect();
    assert_eq!(
        names,
        vec![("alex", Role::Agent), ("ops-lead", Role::Admin)]
    );
    assert_eq!(list[0].created_by, "ops-lead");

    for err in [
        desk.remove_operator(&lead, "ops-lead").await.unwrap_err(),
        desk.add_operator(&lead, "ops-lead", Role::Viewer)
            .await
            .unwrap_err(),
    ] {
        assert!(matches!(err, DeskError::Conflict(_)), "{err}");
        assert!(err.to_string().contains("last admin"), "{err}");
        assert_eq!(err.exit_code(), exit::CONFLICT);
    }
    let err = desk.remove_operator(&lead, "nobody").await.unwrap_err();
    assert_eq!(err.exit_code(), exit::NOT_FOUND);
    desk.add_operator(&lead, "alex", Role::Admin).await.unwrap();
    desk.remove_operator(&lead, "ops-lead")
        .await
        .expect("another admin exists now");
}
on_every_backend!(
    first_admin,
    the_first_operator_becomes_admin_and_the_last_admin_stays
);
