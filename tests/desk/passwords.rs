//! Passwords on every backend: DESIGN.md rules 3 (any password change
//! revokes every link and session) and 5 (argon2id, re-hash on parameter
//! change, policy, temporary passwords), sign-in lockout, site sessions.

use std::time::Duration;

use keydesk::desk::error::exit;
use keydesk::desk::{Desk, DeskError, LinkProblem};
use keydesk::store::entity::account;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::on_every_backend;
use crate::support::db::TestDb;
use crate::support::{db, mailbox, people, scan};

const FIRST: &str = "correct horse battery staple 42";
const SECOND: &str = "violet lantern orbit meadow 77";
const THIRD: &str = "quiet copper falcon harbor 19";
const CLIENT: &str = "198.51.100.7";

async fn account_of(db: &TestDb, contact_id: i64) -> account::Model {
    account::Entity::find()
        .filter(account::Column::ContactId.eq(contact_id))
        .one(db.store.conn())
        .await
        .unwrap()
        .expect("account exists")
}

/// A customer with a known password (set by an admin, no change required).
async fn customer_with_password(db: &TestDb, desk: &Desk, email: &str) -> i64 {
    let admin = people::make_operator(&db.store, &format!("admin-{email}"), "admin").await;
    let id = people::make_customer(&db.store, "Ada Lovelace", email).await;
    desk.change_password(&admin, email, FIRST, false)
        .await
        .unwrap();
    id
}

async fn every_password_change_revokes_links_and_sessions(db: TestDb) {
    let (desk, clock) = db::desk(&db);
    let agent = people::make_operator(&db.store, "agent1", "agent").await;
    let admin = people::make_operator(&db.store, "admin1", "admin").await;
    let id = customer_with_password(&db, &desk, "ada@example.com").await;
    let account_id = account_of(&db, id).await.id;

    // 1. An admin sets the password.
    let s1 = desk.start_session(account_id, CLIENT).await.unwrap();
    let s2 = desk.start_session(account_id, "203.0.113.5").await.unwrap();
    desk.send_reset_link(&agent, "ada@example.com", false)
        .await
        .unwrap();
    let link = mailbox::token_mailed_to(&db.store, "ada@example.com").await;
    let set = desk
        .change_password(&admin, "ada@example.com", SECOND, false)
        .await
        .unwrap();
    assert_eq!((set.links_revoked, set.sessions_ended), (1, 2));
    for s in [&s1, &s2] {
        assert!(matches!(
            desk.session_from_cookie(s).await,
            Err(DeskError::SessionEnded)
        ));
    }
    assert!(matches!(
        desk.redeem_reset(&link, THIRD).await,
        Err(DeskError::InvalidLink(LinkProblem::Revoked))
    ));

    // 2. The customer uses a reset link.
    let s3 = desk.start_session(account_id, CLIENT).await.unwrap();
    clock.advance(Duration::from_secs(61));
    desk.send_reset_link(&agent, "ada@example.com", false)
        .await
        .unwrap();
    let link = mailbox::token_mailed_to(&db.store, "ada@example.com").await;
    let redeemed = desk.redeem_reset(&link, THIRD).await.unwrap();
    assert_eq!(redeemed.email, "ada@example.com");
    assert!(matches!(
        desk.session_from_cookie(&s3).await,
        Err(DeskError::SessionEnded)
    ));
    desk.authenticate("ada@example.com", THIRD, CLIENT)
        .await
        .expect("the new password works");

    // 3. The customer changes it in account settings.
    let s4 = desk.start_session(account_id, CLIENT).await.unwrap();
    let s5 = desk.start_session(account_id, "203.0.113.5").await.unwrap();
    clock.advance(Duration::from_secs(61));
    desk.send_reset_link(&agent, "ada@example.com", false)
        .await
        .unwrap();
    let link = mailbox::token_mailed_to(&db.store, "ada@example.com").await;
    let changed = desk.change_own_password(&s4, THIRD, FIRST).await.unwrap();
    assert_eq!(changed.sessions_ended, 2);
    for s in [&s4, &s5] {
        assert!(matches!(
            desk.session_from_cookie(s).await,
            Err(DeskError::SessionEnded)
        ));
    }
    assert!(matches!(
        desk.redeem_reset(&link, SECOND).await,
        Err(DeskError::InvalidLink(LinkProblem::Revoked))
    ));
    let here = desk.session_from_cookie(&changed.session).await.unwrap();
    assert_eq!(here.email, "ada@example.com");
    assert!(matches!(
        desk.authenticate("ada@example.com", THIRD, CLIENT).await,
        Err(DeskError::BadCredentials)
    ));
    desk.authenticate("ada@example.com", FIRST, CLIENT)
        .await
        .unwrap();

    // Each change queued a notice, and none holds a password.
    let notices: Vec<_> = mailbox::outbox_rows(&db.store)
        .await
        .into_iter()
        .filter(|r| r.kind == "password_changed")
        .collect();
    assert_eq!(notices.len(), 4, "initial set + the three changes");
    for notice in &notices {
        let text = mailbox::mail_text(notice.body.as_deref().unwrap());
        for pw in [FIRST, SECOND, THIRD] {
            assert!(!text.contains(pw));
        }
    }
}
on_every_backend!(
    changes_revoke_everything,
    every_password_change_revokes_links_and_sessions
);

async fn passwords_are_argon2id_and_rehashed_when_parameters_change(db: TestDb) {
    let (desk, clock) = db::desk(&db);
    let id = customer_with_password(&db, &desk, "ada@example.com").await;
    let stored = account_of(&db, id).await.password_hash.unwrap();
    assert!(
        stored.starts_with("$argon2id$v=19$m=8192,t=1,p=1$"),
        "{stored}"
    );

    // The operator raises the cost: the next sign-in re-hashes.
    let settings = db::settings_with(
        &db.url,
        &std::env::temp_dir(),
        &[("KEYDESK__PASSWORD__ARGON2__T_COST", "2")],
    );
    let stronger = Desk::new(db.store.clone(), settings, clock.clone()).unwrap();
    let signed = stronger
        .authenticate("ada@example.com", FIRST, CLIENT)
        .await
        .unwrap();
    assert!(signed.rehashed);
    let rehashed = account_of(&db, id).await.password_hash.unwrap();
    assert!(
        rehashed.starts_with("$argon2id$v=19$m=8192,t=2,p=1$"),
        "{rehashed}"
    );
    let again = stronger
        .authenticate("ada@example.com", FIRST, CLIENT)
        .await
        .unwrap();
    assert!(!again.rehashed, "only once");
    assert_eq!(account_of(&db, id).await.sign_in_count, 2);
    // The old parameters still verify, and move the hash back.
    assert!(
        desk.authenticate("ada@example.com", FIRST, CLIENT)
            .await
            .unwrap()
            .rehashed
    );
}
on_every_backend!(
    argon2id_rehash,
    passwords_are_argon2id_and_rehashed_when_parameters_change
);

async fn the_policy_refuses_with_a_line_to_act_on(db: TestDb) {
    let (desk, _clock) = db::desk(&db);
    let admin = people::make_operator(&db.store, "admin1", "admin").await;
    let agent = people::make_operator(&db.store, "agent1", "agent").await;
    let id = people::make_customer(&db.store, "Grace Hopper", "grace@example.com").await;
    for (weak, says) in [
        ("Short1!", "at least 12"),
        ("grace@example.com-2026", "email"),
        ("hopper-and-some-more-words", "name"),
        ("password1234", "commonly used"),
        ("Course Platform 2026!", "site"),
        (&"x".repeat(129), "at most 128"),
    ] {
        let err = desk
            .change_password(&admin, "grace@example.com", weak, true)
            .await
            .unwrap_err();
        assert!(matches!(err, DeskError::Policy(_)), "{weak}: {err}");
        assert!(err.to_string().contains(says), "{weak}: {err}");
        assert!(!err.to_string().contains('\n'), "one line: {err}");
        assert_eq!(err.exit_code(), exit::POLICY);
    }
    assert!(
        account::Entity::find()
            .filter(account::Column::ContactId.eq(id))
            .one(db.store.conn())
            .await
            .unwrap()
            .is_none_or(|a| a.password_hash.is_none()),
        "nothing was set"
    );
    // A refused link redemption leaves the link usable.
    desk.send_reset_link(&agent, "grace@example.com", false)
        .await
        .unwrap();
    let link = mailbox::token_mailed_to(&db.store, "grace@example.com").await;
    assert!(matches!(
        desk.redeem_reset(&link, "password1234").await,
        Err(DeskError::Policy(_))
    ));
    desk.redeem_reset(&link, FIRST).await.unwrap();

    // Refusals are audited, without the password.
    let audit = desk.audit(&admin, &Default::default()).await.unwrap();
    let refused = audit
        .iter()
        .filter(|e| e.action == "password.changed" && e.outcome == "refused")
        .count();
    assert_eq!(refused, 6);
    assert!(
        scan::places_holding(&db.store, "password1234")
            .await
            .is_empty()
    );

    // Generated temporary passwords always pass.
    for _ in 0..20 {
        let temp = desk.generate_temporary_password().unwrap();
        desk.policy()
            .check(
                &temp,
                &keydesk::desk::PolicyContext {
                    email: "grace@example.com",
                    name: "Grace Hopper",
                    site_name: "Course Platform",
                },
            )
            .unwrap();
    }
    let temp = desk.generate_temporary_password().unwrap();
    desk.change_password(&admin, "grace@example.com", &temp, true)
        .await
        .unwrap();
}
on_every_backend!(policy, the_policy_refuses_with_a_line_to_act_on);

async fn a_temporary_password_must_be_changed_and_expires(db: TestDb) {
    let (desk, clock) = db::desk(&db);
    let admin = people::make_operator(&db.store, "admin1", "admin").await;
    let id = people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;
    let set = desk
        .change_password(&admin, "ada@example.com", FIRST, true)
        .await
        .unwrap();
    assert_eq!(
        set.temporary_expires_at,
        Some(people::t0() + chrono::TimeDelta::hours(72))
    );
    let signed = desk
        .authenticate("ada@example.com", FIRST, CLIENT)
        .await
        .unwrap();
    assert!(signed.must_change_password);
    clock.advance(Duration::from_secs(72 * 3600 - 60));
    assert!(
        desk.authenticate("ada@example.com", FIRST, CLIENT)
            .await
            .unwrap()
            .must_change_password
    );
    clock.advance(Duration::from_secs(60));
    let err = desk
        .authenticate("ada@example.com", FIRST, CLIENT)
        .await
        .unwrap_err();
    assert!(matches!(err, DeskError::TemporaryExpired), "{err}");
    assert!(err.to_string().contains("Forgot Password"), "{err}");
    assert_eq!(err.exit_code(), exit::SIGN_IN);

    // A fresh temporary password, changed by the customer: no longer required.
    desk.change_password(&admin, "ada@example.com", SECOND, true)
        .await
        .unwrap();
    let signed = desk
        .authenticate("ada@example.com", SECOND, CLIENT)
        .await
        .unwrap();
    let session = desk.start_session(signed.account_id, CLIENT).await.unwrap();
    assert!(
        desk.session_from_cookie(&session)
            .await
            .unwrap()
            .must_change_password
    );
    let changed = desk
        .change_own_password(&session, SECOND, THIRD)
        .await
        .unwrap();
    let account = account_of(&db, id).await;
    assert!(!account.must_change_password && account.temporary_expires_at.is_none());
    assert!(
        !desk
            .session_from_cookie(&changed.session)
            .await
            .unwrap()
            .must_change_password
    );

    // --no-require-change: not temporary.
    let set = desk
        .change_password(&admin, "ada@example.com", FIRST, false)
        .await
        .unwrap();
    assert_eq!(set.temporary_expires_at, None);
    assert!(
        !desk
            .authenticate("ada@example.com", FIRST, CLIENT)
            .await
            .unwrap()
            .must_change_password
    );
}
on_every_backend!(
    temporary_passwords,
    a_temporary_password_must_be_changed_and_expires
);

async fn failed_sign_ins_lock_the_account_for_a_while(db: TestDb) {
    let (desk, clock) = db::desk(&db);
    let admin = people::make_operator(&db.store, "admin1", "admin").await;
    let id = customer_with_password(&db, &desk, "ada@example.com").await;
    for _ in 0..9 {
        assert!(matches!(
            desk.authenticate("ada@example.com", "wrong guess", CLIENT)
                .await,
            Err(DeskError::BadCredentials)
        ));
    }
    let err = desk
        .authenticate("ada@example.com", "wrong guess", CLIENT)
        .await
        .unwrap_err();
    let until = people::t0() + chrono::TimeDelta::minutes(15);
    assert!(
        matches!(err, DeskError::Locked { until: u } if u == until),
        "{err}"
    );
    assert!(
        matches!(
            desk.authenticate("ada@example.com", FIRST, CLIENT).await,
            Err(DeskError::Locked { .. })
        ),
        "even the right password waits"
    );
    clock.advance(Duration::from_secs(15 * 60));
    desk.authenticate("ada@example.com", FIRST, CLIENT)
        .await
        .expect("the lock ends by itself");

    // Failures spread wider than the window never lock.
    for _ in 0..9 {
        let _ = desk.authenticate("ada@example.com", "nope", CLIENT).await;
    }
    clock.advance(Duration::from_secs(16 * 60));
    for _ in 0..9 {
        assert!(matches!(
            desk.authenticate("ada@example.com", "nope", CLIENT).await,
            Err(DeskError::BadCredentials)
        ));
    }
    // An admin unlocks.
    let _ = desk.authenticate("ada@example.com", "nope", CLIENT).await;
    assert!(matches!(
        desk.authenticate("ada@example.com", FIRST, CLIENT).await,
        Err(DeskError::Locked { .. })
    ));
    assert!(desk.unlock(&admin, "ada@example.com").await.unwrap());
    desk.authenticate("ada@example.com", FIRST, CLIENT)
        .await
        .unwrap();
    assert!(!desk.unlock(&admin, "ada@example.com").await.unwrap());

    let audit = desk
        .audit(
            &admin,
            &keydesk::desk::audit::AuditFilter {
                contact_email: Some("ada@example.com".into()),
                limit: 500,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == "account.locked")
            .count(),
        2
    );
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == "account.unlocked")
            .count(),
        2
    );
    assert_eq!(account_of(&db, id).await.sign_in_count, 2);

    // Unknown emails and customers without a password: the same answer, no row.
    let before = scan::count_rows(&db.store, "audit_events").await;
    people::make_customer(&db.store, "No Password", "nopw@example.com").await;
    for email in ["nobody@example.com", "nopw@example.com"] {
        assert!(matches!(
            desk.authenticate(email, FIRST, CLIENT).await,
            Err(DeskError::BadCredentials)
        ));
    }
    assert_eq!(scan::count_rows(&db.store, "audit_events").await, before);
}
on_every_backend!(lockout, failed_sign_ins_lock_the_account_for_a_while);

async fn sessions_end_when_idle_or_too_old_or_signed_out(db: TestDb) {
    let (desk, clock) = db::desk(&db);
    let admin = people::make_operator(&db.store, "admin1", "admin").await;
    let id = customer_with_password(&db, &desk, "ada@example.com").await;
    let account_id = account_of(&db, id).await.id;

    // Idle: 30 minutes without a request.
    let s = desk.start_session(account_id, CLIENT).await.unwrap();
    clock.advance(Duration::from_secs(29 * 60));
    desk.session_from_cookie(&s).await.expect("still active");
    clock.advance(Duration::from_secs(29 * 60));
    desk.session_from_cookie(&s)
        .await
        .expect("touched 29 minutes ago");
    clock.advance(Duration::from_secs(30 * 60));
    assert!(matches!(
        desk.session_from_cookie(&s).await,
        Err(DeskError::SessionEnded)
    ));

    // Absolute: 12 hours however active.
    let s = desk.start_session(account_id, CLIENT).await.unwrap();
    for _ in 0..35 {
        clock.advance(Duration::from_secs(20 * 60));
        desk.session_from_cookie(&s).await.unwrap();
    }
    clock.advance(Duration::from_secs(20 * 60));
    assert!(matches!(
        desk.session_from_cookie(&s).await,
        Err(DeskError::SessionEnded)
    ));

    // Sign out, list, sign out everywhere.
    let a = desk.start_session(account_id, CLIENT).await.unwrap();
    let b = desk.start_session(account_id, "203.0.113.5").await.unwrap();
    assert_eq!(desk.list_sessions(account_id).await.unwrap().len(), 2);
    desk.end_session(&a).await.unwrap();
    assert!(desk.session_from_cookie(&a).await.is_err());
    assert_eq!(desk.list_sessions(account_id).await.unwrap().len(), 1);
    assert_eq!(
        desk.sign_out_everywhere(&admin, "ada@example.com")
            .await
            .unwrap(),
        1
    );
    assert!(desk.session_from_cookie(&b).await.is_err());
    assert!(desk.session_from_cookie("garbage").await.is_err());
}
on_every_backend!(sessions, sessions_end_when_idle_or_too_old_or_signed_out);
