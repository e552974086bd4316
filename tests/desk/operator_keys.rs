//! Operator SSH keys on every backend: an admin adds and removes them,
//! a key belongs to one operator, lookups give the operator with the
//! client's address as source, and keys go with their operator. Each
//! change is audited.

use keydesk::desk::DeskError;
use keydesk::desk::error::exit;
use keydesk::desk::operator_keys::{KeyTextError, fingerprint, parse_public_key};

use crate::on_every_backend;
use crate::support::db::TestDb;
use crate::support::{db, people, scan};

const ADA: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIRiO0rhQkRcaawNt0kPiVpQTGWs+afPwT2m++lZz0vB ada@laptop";
const BOB: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBI94JV1aevoN31NJ7UrVyefhrSodrCoxHcFHEeE9vIhudvxl8swaAKZFxvwMK33cTQiirgZ6E41RIEs8N+mqGiY= bob@box";
const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDtSrfe27kGlxsnL6ckDT55X7oxIJQwhltqL6XkdWCClQeQXnAq5PEThVqWD0o1mQ3PfCuEcUWNyihUwdlrbxSLTDoBgVQel/hqrfv1cHgeqne9CL/9y1PWknO/6G2QcPHDtcLFukCh+XMw6kSN6w8KzA7HLJ+y8373X/bh3HL7zQ== root@vm";

async fn keys_belong_to_one_operator_and_go_with_them(db: TestDb) {
    let (desk, _clock) = db::desk(&db);
    let admin = people::make_operator(&db.store, "root-ann", "admin").await;
    let agent = people::make_operator(&db.store, "alex", "agent").await;
    people::make_operator(&db.store, "bea", "viewer").await;
    let ada = parse_public_key(ADA).unwrap();
    let bob = parse_public_key(BOB).unwrap();

    // Only admins add keys.
    let err = desk
        .add_operator_key(&agent, "alex", &ada)
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), exit::NOT_ALLOWED, "{err}");
    // Only to operators that exist.
    let err = desk
        .add_operator_key(&admin, "nobody", &ada)
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), exit::NOT_FOUND, "{err}");
    assert!(err.to_string().contains("operators add nobody"), "{err}");

    let added = desk.add_operator_key(&admin, "alex", &ada).await.unwrap();
    assert_eq!(added.fingerprint, fingerprint(&ada));
    assert_eq!(added.algorithm, "ssh-ed25519");
    assert_eq!(added.comment, "ada@laptop");
    desk.add_operator_key(&admin, "bea", &bob).await.unwrap();
    // One key, one operator.
    let err = desk
        .add_operator_key(&admin, "bea", &ada)
        .await
        .unwrap_err();
    assert!(matches!(err, DeskError::Conflict(_)), "{err}");
    assert!(err.to_string().contains("alex"), "{err}");

    let op = desk
        .operator_by_key(&ada, "ssh 192.0.2.7:50000")
        .await
        .unwrap()
        .expect("the key signs in as alex");
    assert_eq!(op.name, "alex");
    assert_eq!(op.source, "ssh 192.0.2.7:50000");
    assert_eq!(op.role.as_str(), "agent");
    let listed = desk.list_operator_keys(&agent).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].operator, "alex");
    assert_eq!(listed[1].operator, "bea");

    // Removing one key by fingerprint; an unknown fingerprint is not found.
    let err = desk
        .remove_operator_keys(&admin, "bea", Some("SHA256:nope"))
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), exit::NOT_FOUND);
    assert_eq!(
        desk.remove_operator_keys(&admin, "bea", Some(&fingerprint(&bob)))
            .await
            .unwrap(),
        1
    );
    assert!(desk.operator_by_key(&bob, "ssh x").await.unwrap().is_none());

    // Removing the operator removes their keys.
    desk.remove_operator(&admin, "alex").await.unwrap();
    assert!(desk.operator_by_key(&ada, "ssh x").await.unwrap().is_none());
    assert_eq!(scan::count_rows(&db.store, "operator_keys").await, 0);

    let audit = desk.audit(&admin, &Default::default()).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert!(actions.contains(&"operators.add_key"), "{actions:?}");
    assert!(actions.contains(&"operators.remove_key"), "{actions:?}");
    let added_row = audit
        .iter()
        .find(|e| e.action == "operators.add_key" && e.outcome == "ok")
        .unwrap();
    assert!(
        added_row.detail.to_string().contains("SHA256:"),
        "{}",
        added_row.detail
    );
}
on_every_backend!(keys, keys_belong_to_one_operator_and_go_with_them);

#[test]
fn key_text_is_checked_before_anything_is_stored() {
    assert!(parse_public_key(BOB).is_ok(), "ECDSA keys are accepted");
    assert!(matches!(
        parse_public_key(RSA),
        Err(KeyTextError::Unsupported(_))
    ));
    assert_eq!(parse_public_key(""), Err(KeyTextError::Empty));
}
