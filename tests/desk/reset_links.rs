//! Reset links on every backend: DESIGN.md rules 1 (one transaction) and
//! 2 (32 CSPRNG bytes, hash only, once, 6 hours, newest only), the resend
//! cooldown, and who gets a link at all.

use std::time::Duration;

use base64::Engine;
use keydesk::desk::error::exit;
use keydesk::desk::{DeskError, LinkProblem};
use keydesk::store::entity::{account, reset_link};
use sea_orm::{ConnectionTrait, EntityTrait};

use crate::on_every_backend;
use crate::support::db::TestDb;
use crate::support::{db, mailbox, people, scan};

const STRONG: &str = "correct horse battery staple 42";

async fn links(db: &TestDb) -> Vec<reset_link::Model> {
    reset_link::Entity::find()
        .all(db.store.conn())
        .await
        .unwrap()
}

async fn a_link_works_at_5h59m_and_not_at_6h00m(db: TestDb) {
    let (desk, clock) = db::desk(&db);
    let agent = people::make_operator(&db.store, "agent1", "agent").await;
    people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;
    people::make_customer(&db.store, "Grace Hopper", "grace@example.com").await;

    let sent = desk
        .send_reset_link(&agent, "ADA@example.com", false)
        .await
        .unwrap();
    assert_eq!(sent.expires_at, people::t0() + chrono::TimeDelta::hours(6));
    let ada = mailbox::token_mailed_to(&db.store, "ada@example.com").await;
    desk.send_reset_link(&agent, "grace@example.com", false)
        .await
        .unwrap();
    let grace = mailbox::token_mailed_to(&db.store, "grace@example.com").await;

    clock.advance(Duration::from_secs(5 * 3600 + 59 * 60));
    let info = desk.inspect_reset_link(&ada).await.unwrap();
    assert_eq!(info.email, "ada@example.com");
    desk.redeem_reset(&grace, STRONG)
        .await
        .expect("works at 5h59m");

    clock.advance(Duration::from_secs(60));
    let err = desk.inspect_reset_link(&ada).await.unwrap_err();
    assert!(
        matches!(err, DeskError::InvalidLink(LinkProblem::Expired)),
        "{err}"
    );
    let err = desk.redeem_reset(&ada, STRONG).await.unwrap_err();
    assert!(
        matches!(err, DeskError::InvalidLink(LinkProblem::Expired)),
        "not at 6h00m: {err}"
    );
    assert_eq!(err.exit_code(), exit::INVALID_LINK);
    assert!(err.to_string().contains("expired"), "{err}");

    // And a link works once.
    let err = desk.redeem_reset(&grace, STRONG).await.unwrap_err();
    assert!(
        matches!(err, DeskError::InvalidLink(LinkProblem::Used)),
        "{err}"
    );
}
on_every_backend!(link_ttl_boundary, a_link_works_at_5h59m_and_not_at_6h00m);

async fn tokens_are_32_random_bytes_and_only_their_hash_is_stored(db: TestDb) {
    let (desk, _clock) = db::desk(&db);
    let agent = people::make_operator(&db.store, "agent1", "agent").await;
    people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;
    let sent = desk
        .send_reset_link(&agent, "ada@example.com", false)
        .await
        .unwrap();
    let token = mailbox::token_mailed_to(&db.store, "ada@example.com").await;
    assert_eq!(token.len(), 43, "{token}");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&token)
        .expect("base64url without padding");
    assert_eq!(bytes.len(), 32);

    let rows = links(&db).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id, sent.link_id);
    assert_eq!(
        rows[0].token_sha256,
        keydesk::desk::tokens::sha256_hex(&token)
    );
    assert_eq!(rows[0].requested_by, "agent1");
    // Only the queued mail holds the token (the worker clears it once sent).
    assert_eq!(
        scan::places_holding(&db.store, &token).await,
        vec!["outbox.body".to_owned()]
    );
    let outbox = mailbox::outbox_rows(&db.store).await;
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].kind, "reset_link");
    assert_eq!(outbox[0].recipient, "ada@example.com");
    assert_eq!(outbox[0].reset_link_id, Some(sent.link_id));
    assert_eq!(outbox[0].state, "queued");
    assert_eq!(outbox[0].attempts, 0);
    assert_eq!(outbox[0].next_attempt_at, people::t0());

    // Another link: other random bytes.
    let (desk2, clock2) = db::desk(&db);
    clock2.advance(Duration::from_secs(120));
    desk2
        .send_reset_link(&agent, "ada@example.com", false)
        .await
        .unwrap();
    let second = mailbox::token_mailed_to(&db.store, "ada@example.com").await;
    assert_ne!(token, second);
    drop(desk);
}
on_every_backend!(
    token_format,
    tokens_are_32_random_bytes_and_only_their_hash_is_stored
);

async fn a_new_link_revokes_the_older_unused_ones(db: TestDb) {
    let (desk, clock) = db::desk(&db);
    let agent = people::make_operator(&db.store, "agent1", "agent").await;
    people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;
    desk.send_reset_link(&agent, "ada@example.com", false)
        .await
        .unwrap();
    let first = mailbox::token_mailed_to(&db.store, "ada@example.com").await;
    clock.advance(Duration::from_secs(61));
    let sent = desk
        .send_reset_link(&agent, "ada@example.com", false)
        .await
        .unwrap();
    assert_eq!(sent.revoked_older, 1);
    let second = mailbox::token_mailed_to(&db.store, "ada@example.com").await;
    let err = desk.redeem_reset(&first, STRONG).await.unwrap_err();
    assert!(
        matches!(err, DeskError::InvalidLink(LinkProblem::Revoked)),
        "{err}"
    );
    let live = links(&db)
        .await
        .into_iter()
        .filter(|l| l.revoked_at.is_none() && l.used_at.is_none())
        .count();
    assert_eq!(live, 1);
    desk.redeem_reset(&second, STRONG).await.unwrap();

    // An agent can also revoke links outright.
    clock.advance(Duration::from_secs(61));
    desk.send_reset_link(&agent, "ada@example.com", false)
        .await
        .unwrap();
    let third = mailbox::token_mailed_to(&db.store, "ada@example.com").await;
    assert_eq!(
        desk.revoke_reset_links(&agent, "ada@example.com")
            .await
            .unwrap(),
        1
    );
    let err = desk.redeem_reset(&third, STRONG).await.unwrap_err();
    assert!(
        matches!(err, DeskError::InvalidLink(LinkProblem::Revoked)),
        "{err}"
    );
    let err = desk
        .redeem_reset("not-a-token-at-all", STRONG)
        .await
        .unwrap_err();
    assert!(
        matches!(err, DeskError::InvalidLink(LinkProblem::Unknown)),
        "{err}"
    );
}
on_every_backend!(
    new_link_revokes_old,
    a_new_link_revokes_the_older_unused_ones
);

async fn a_second_send_within_the_cooldown_is_refused_unless_forced(db: TestDb) {
    let (desk, clock) = db::desk(&db);
    let agent = people::make_operator(&db.store, "agent1", "agent").await;
    people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;
    desk.send_reset_link(&agent, "ada@example.com", false)
        .await
        .unwrap();
    clock.advance(Duration::from_secs(20));
    let err = desk
        .send_reset_link(&agent, "ada@example.com", false)
        .await
        .unwrap_err();
    match &err {
        DeskError::Cooldown { remaining, .. } => assert_eq!(*remaining, Duration::from_secs(40)),
        other => panic!("expected a cooldown, got {other}"),
    }
    assert!(err.to_string().contains("40s"), "{err}");
    assert!(err.to_string().contains("force"), "{err}");
    assert_eq!(err.exit_code(), exit::RATE_LIMITED);
    assert_eq!(links(&db).await.len(), 1, "nothing was written");

    let forced = desk
        .send_reset_link(&agent, "ada@example.com", true)
        .await
        .unwrap();
    assert_eq!(forced.revoked_older, 1);
    clock.advance(Duration::from_secs(60));
    desk.send_reset_link(&agent, "ada@example.com", false)
        .await
        .expect("after the cooldown");

    let audit = desk.audit(&agent, &Default::default()).await.unwrap();
    let refused: Vec<_> = audit.iter().filter(|e| e.outcome == "refused").collect();
    assert_eq!(refused.len(), 1, "{audit:?}");
    assert_eq!(refused[0].action, "reset_link.sent");
    assert_eq!(refused[0].detail["reason"], "cooldown");
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == "reset_link.sent" && e.outcome == "ok")
            .count(),
        3
    );
}
on_every_backend!(
    resend_cooldown,
    a_second_send_within_the_cooldown_is_refused_unless_forced
);

async fn only_customers_get_links(db: TestDb) {
    let (desk, _clock) = db::desk(&db);
    let agent = people::make_operator(&db.store, "agent1", "agent").await;
    people::make_contact(&db.store, "Sam Subscriber", "sam@example.com").await;
    let err = desk
        .send_reset_link(&agent, "sam@example.com", false)
        .await
        .unwrap_err();
    assert!(matches!(err, DeskError::NotACustomer { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("Sam Subscriber") && text.contains("granted access to an offer"),
        "{text}"
    );
    assert_eq!(err.exit_code(), exit::NOT_A_CUSTOMER);

    let err = desk
        .send_reset_link(&agent, "nobody@example.com", false)
        .await
        .unwrap_err();
    assert!(matches!(err, DeskError::NotFound(_)), "{err}");
    assert!(err.to_string().contains("nobody@example.com"), "{err}");
    assert_eq!(err.exit_code(), exit::NOT_FOUND);
    assert!(links(&db).await.is_empty());
    assert!(mailbox::outbox_rows(&db.store).await.is_empty());
}
on_every_backend!(customers_only, only_customers_get_links);

/// Breaks the outbox table, so the last write of a transaction fails.
async fn break_outbox(db: &TestDb, broken: bool) {
    let (from, to) = if broken {
        ("outbox", "outbox_gone")
    } else {
        ("outbox_gone", "outbox")
    };
    db.store
        .conn()
        .execute_unprepared(&format!("ALTER TABLE {from} RENAME TO {to}"))
        .await
        .unwrap();
}

async fn the_link_the_mail_and_the_audit_commit_together_or_not_at_all(db: TestDb) {
    let (desk, _clock) = db::desk(&db);
    let agent = people::make_operator(&db.store, "agent1", "agent").await;
    let admin = people::make_operator(&db.store, "admin1", "admin").await;
    people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;
    people::make_customer(&db.store, "Grace Hopper", "grace@example.com").await;
    desk.send_reset_link(&agent, "ada@example.com", false)
        .await
        .unwrap();
    let token = mailbox::token_mailed_to(&db.store, "ada@example.com").await;
    let audit_before = scan::count_rows(&db.store, "audit_events").await;
    assert_eq!(audit_before, 1);

    break_outbox(&db, true).await;
    // Each of these writes its changes and its audit row, then fails on the
    // outbox insert: nothing may remain.
    let err = desk
        .send_reset_link(&agent, "ada@example.com", true)
        .await
        .unwrap_err();
    assert!(matches!(err, DeskError::Store(_)), "{err}");
    desk.send_reset_link(&agent, "grace@example.com", false)
        .await
        .unwrap_err();
    desk.change_password(&admin, "ada@example.com", STRONG, true)
        .await
        .unwrap_err();
    desk.redeem_reset(&token, STRONG).await.unwrap_err();
    desk.request_reset("grace@example.com", "198.51.100.7")
        .await
        .expect("forgot password answers the same even when it failed");
    break_outbox(&db, false).await;

    let rows = links(&db).await;
    assert_eq!(rows.len(), 1, "no new link persisted");
    assert!(
        rows[0].revoked_at.is_none() && rows[0].used_at.is_none(),
        "the old link was neither revoked nor used"
    );
    assert_eq!(
        scan::count_rows(&db.store, "audit_events").await,
        audit_before,
        "no audit row persisted"
    );
    assert_eq!(mailbox::outbox_rows(&db.store).await.len(), 1);
    let accounts = account::Entity::find().all(db.store.conn()).await.unwrap();
    assert_eq!(accounts.len(), 1, "grace's account was not created either");
    assert!(accounts[0].password_hash.is_none(), "no password was set");

    // The store still works, and the old link too.
    desk.redeem_reset(&token, STRONG).await.unwrap();
}
on_every_backend!(
    one_transaction,
    the_link_the_mail_and_the_audit_commit_together_or_not_at_all
);
