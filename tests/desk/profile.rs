//! The profile's actions on every backend: grant and revoke offers (the
//! welcome email and its link, the login ending with the last offer and
//! coming back with a new one), resend the welcome email, edit a contact
//! (both notices, the old link dead), notes, the email history; each role
//! and each refusal audited; hostile names, emails and notes.

use std::time::Duration;

use keydesk::desk::audit::{AuditEntry, AuditFilter};
use keydesk::desk::contact_edit::ContactEdit;
use keydesk::desk::error::exit;
use keydesk::desk::{Desk, DeskError, LinkProblem, Operator, Role};
use keydesk::store::entity::{account, grant};
use sea_orm::EntityTrait;

use crate::on_every_backend;
use crate::support::db::TestDb;
use crate::support::{db, mailbox, people, scan};

const PW: &str = "correct horse battery staple 42";

async fn audit_of(desk: &Desk, op: &Operator, email: &str) -> Vec<AuditEntry> {
    desk.audit(
        op,
        &AuditFilter {
            contact_email: Some(email.to_owned()),
            limit: 100,
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

/// The token of the newest welcome mail to `email`.
async fn welcome_token(db: &TestDb, email: &str) -> String {
    let rows = mailbox::outbox_rows(&db.store).await;
    let row = rows
        .iter()
        .rev()
        .find(|r| r.kind == "welcome" && r.recipient == email)
        .expect("a welcome mail was queued");
    mailbox::token_in(row.body.as_deref().expect("queued mail has a body"))
}

/// An offer row named "Course" (held by someone else) and a plain contact.
async fn course_and_jane(db: &TestDb) {
    people::make_customer(&db.store, "Other Customer", "other@example.com").await;
    people::make_contact(&db.store, "Jane Roe", "jane@example.com").await;
}

async fn a_grant_makes_a_customer_whose_welcome_link_sets_her_first_password(db: TestDb) {
    let (desk, clock) = db::desk(&db);
    let admin = people::make_operator(&db.store, "root-ann", "admin").await;
    course_and_jane(&db).await;
    clock.advance(Duration::from_secs(60));

    let granted = desk
        .grant_offer(&admin, "JANE@example.com", "cour", true)
        .await
        .unwrap();
    assert_eq!(granted.offer, "Course");
    assert!(granted.became_customer && !granted.restored_login);
    let welcome = granted.welcome.expect("a welcome mail");
    assert_eq!(welcome.recipient, "jane@example.com");
    assert_eq!(
        welcome.expires_at,
        clock.now() + chrono::TimeDelta::hours(72)
    );

    let grants = grant::Entity::find().all(db.store.conn()).await.unwrap();
    let jane_grant = grants.iter().find(|g| g.granted_by == "root-ann").unwrap();
    assert_eq!(jane_grant.source, "granted");
    let profile = desk
        .contact_profile(&admin, "jane@example.com")
        .await
        .unwrap();
    assert!(profile.is_customer());
    assert_eq!(
        profile.updated_at,
        clock.now(),
        "the grant bumps updated_at"
    );
    let account = profile.account.expect("an account");
    assert!(!account.password_set, "no password until she sets one");

    // The welcome link is a reset link: the same page, single use.
    let token = welcome_token(&db, "jane@example.com").await;
    let info = desk.inspect_reset_link(&token).await.unwrap();
    assert_eq!(info.email, "jane@example.com");
    clock.advance(Duration::from_secs(71 * 3600));
    desk.redeem_reset(&token, PW).await.expect("works at 71h");
    let err = desk.redeem_reset(&token, PW).await.unwrap_err();
    assert!(
        matches!(err, DeskError::InvalidLink(LinkProblem::Used)),
        "{err}"
    );
    desk.authenticate("jane@example.com", PW, "test")
        .await
        .expect("she signs in");

    let rows = audit_of(&desk, &admin, "jane@example.com").await;
    let grant_row = rows.iter().find(|e| e.action == "offer.grant").unwrap();
    assert_eq!(grant_row.outcome, "ok");
    assert_eq!(grant_row.actor, "root-ann");
    assert_eq!(grant_row.detail["became_customer"], true);
    assert_eq!(grant_row.detail["welcome"], true);
    assert_eq!(
        scan::places_holding(&db.store, &token).await,
        ["outbox.body"],
        "only the queued mail holds the token (its body goes once sent)"
    );
}
on_every_backend!(
    grant_and_welcome,
    a_grant_makes_a_customer_whose_welcome_link_sets_her_first_password
);

async fn a_welcome_link_dies_at_its_ttl_and_when_a_newer_one_is_sent(db: TestDb) {
    let (desk, clock) = db::desk_with(&db, &[("KEYDESK__RESET__WELCOME_TTL", "2h")]);
    let admin = people::make_operator(&db.store, "root-ann", "admin").await;
    let agent = people::make_operator(&db.store, "alex", "agent").await;
    course_and_jane(&db).await;

    let granted = desk
        .grant_offer(&admin, "jane@example.com", "Course", true)
        .await
        .unwrap();
    assert_eq!(
        granted.welcome.unwrap().expires_at,
        people::t0() + chrono::TimeDelta::hours(2)
    );
    let first = welcome_token(&db, "jane@example.com").await;
    let again = desk
        .resend_welcome(&agent, "jane@example.com")
        .await
        .unwrap();
    let second = welcome_token(&db, "jane@example.com").await;
    assert_ne!(first, second);
    let err = desk.inspect_reset_link(&first).await.unwrap_err();
    assert!(
        matches!(err, DeskError::InvalidLink(LinkProblem::Revoked)),
        "{err}"
    );
    // A reset link sent meanwhile replaces the welcome link too.
    desk.send_reset_link(&agent, "jane@example.com", true)
        .await
        .unwrap();
    let err = desk.inspect_reset_link(&second).await.unwrap_err();
    assert!(
        matches!(err, DeskError::InvalidLink(LinkProblem::Revoked)),
        "{err}"
    );
    let third = desk
        .resend_welcome(&agent, "jane@example.com")
        .await
        .unwrap();
    assert!(third.link_id > again.link_id);
    let token = welcome_token(&db, "jane@example.com").await;
    clock.advance(Duration::from_secs(2 * 3600));
    let err = desk.redeem_reset(&token, PW).await.unwrap_err();
    assert!(
        matches!(err, DeskError::InvalidLink(LinkProblem::Expired)),
        "{err}"
    );

    // Once she has a password, resending is refused (a reset link is the way).
    desk.resend_welcome(&agent, "jane@example.com")
        .await
        .unwrap();
    let token = welcome_token(&db, "jane@example.com").await;
    desk.redeem_reset(&token, PW).await.unwrap();
    let err = desk
        .resend_welcome(&agent, "jane@example.com")
        .await
        .unwrap_err();
    assert!(matches!(err, DeskError::Conflict(_)), "{err}");
    assert!(err.to_string().contains("reset link"), "{err}");
    let refused = audit_of(&desk, &admin, "jane@example.com").await;
    assert!(
        refused
            .iter()
            .any(|e| e.action == "welcome.resend" && e.outcome == "refused")
    );
    // Not for a contact who is no customer.
    people::make_contact(&db.store, "Plain Contact", "plain@example.com").await;
    let err = desk
        .resend_welcome(&agent, "plain@example.com")
        .await
        .unwrap_err();
    assert!(matches!(err, DeskError::NotACustomer { .. }), "{err}");
}
on_every_backend!(
    welcome_link_rules,
    a_welcome_link_dies_at_its_ttl_and_when_a_newer_one_is_sent
);

async fn without_welcome_no_mail_goes_and_a_second_grant_sends_none(db: TestDb) {
    let (desk, _clock) = db::desk(&db);
    let admin = people::make_operator(&db.store, "root-ann", "admin").await;
    course_and_jane(&db).await;
    people::grant(
        &db.store,
        people::make_contact(&db.store, "Someone", "someone@example.com").await,
        &people::RUST_MASTERY,
        people::t0(),
    )
    .await;

    let granted = desk
        .grant_offer(&admin, "jane@example.com", "Course", false)
        .await
        .unwrap();
    assert!(granted.became_customer && granted.welcome.is_none());
    let second = desk
        .grant_offer(&admin, "jane@example.com", "rust", true)
        .await
        .unwrap();
    assert!(!second.became_customer && second.welcome.is_none());
    assert!(
        mailbox::outbox_rows(&db.store)
            .await
            .iter()
            .all(|r| r.recipient != "jane@example.com")
    );
    let err = desk
        .grant_offer(&admin, "jane@example.com", "course", true)
        .await
        .unwrap_err();
    assert!(matches!(err, DeskError::Conflict(_)), "already held: {err}");
    let err = desk
        .grant_offer(&admin, "jane@example.com", "nothing like it", true)
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), exit::NOT_FOUND, "{err}");
    let err = desk
        .grant_offer(&admin, "jane@example.com", "s", true)
        .await
        .unwrap_err();
    assert!(
        matches!(err, DeskError::Invalid(_)),
        "two offers match: {err}"
    );
    let offers = desk.list_offers(&admin).await.unwrap();
    let names: Vec<&str> = offers.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["Course", "Rust Mastery"]);
    assert_eq!(offers[0].holders, 2);
}
on_every_backend!(
    grant_without_welcome,
    without_welcome_no_mail_goes_and_a_second_grant_sends_none
);

async fn revoking_the_last_offer_ends_the_login_and_a_new_grant_restores_it(db: TestDb) {
    let (desk, _clock) = db::desk(&db);
    let admin = people::make_operator(&db.store, "root-ann", "admin").await;
    course_and_jane(&db).await;
    desk.grant_offer(&admin, "jane@example.com", "Course", true)
        .await
        .unwrap();
    desk.redeem_reset(&welcome_token(&db, "jane@example.com").await, PW)
        .await
        .unwrap();
    let signed = desk
        .authenticate("jane@example.com", PW, "test")
        .await
        .unwrap();
    let cookie = desk.start_session(signed.account_id, "test").await.unwrap();
    desk.session_from_cookie(&cookie).await.expect("signed in");
    desk.send_reset_link(&admin, "jane@example.com", true)
        .await
        .unwrap();
    let open = mailbox::token_mailed_to(&db.store, "jane@example.com").await;

    let revoked = desk
        .revoke_offer(&admin, "jane@example.com", "cou")
        .await
        .unwrap();
    assert!(!revoked.still_customer);
    assert_eq!((revoked.sessions_ended, revoked.links_revoked), (1, 1));
    assert!(
        desk.session_from_cookie(&cookie).await.is_err(),
        "session gone"
    );
    assert!(desk.inspect_reset_link(&open).await.is_err(), "link gone");
    let right = desk
        .authenticate("jane@example.com", PW, "test")
        .await
        .unwrap_err();
    let wrong = desk
        .authenticate("jane@example.com", "not her password at all", "test")
        .await
        .unwrap_err();
    let unknown = desk
        .authenticate("nobody@example.com", PW, "test")
        .await
        .unwrap_err();
    assert!(matches!(right, DeskError::BadCredentials), "{right}");
    assert_eq!(right.to_string(), unknown.to_string());
    assert_eq!(right.exit_code(), wrong.exit_code());
    let err = desk
        .revoke_offer(&admin, "jane@example.com", "Course")
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), exit::NOT_FOUND, "{err}");

    let again = desk
        .grant_offer(&admin, "jane@example.com", "Course", true)
        .await
        .unwrap();
    assert!(again.became_customer && again.restored_login);
    assert!(
        again.welcome.is_none(),
        "her old password works: no welcome"
    );
    desk.authenticate("jane@example.com", PW, "test")
        .await
        .expect("the old password works again");
    let rows = audit_of(&desk, &admin, "jane@example.com").await;
    let revoke = rows.iter().find(|e| e.action == "offer.revoke").unwrap();
    assert_eq!(revoke.detail["sessions_ended"], 1);
    assert_eq!(revoke.detail["still_customer"], false);
}
on_every_backend!(
    revoke_last_offer,
    revoking_the_last_offer_ends_the_login_and_a_new_grant_restores_it
);

async fn an_email_change_tells_both_addresses_and_kills_the_old_link(db: TestDb) {
    let (desk, clock) = db::desk(&db);
    let admin = people::make_operator(&db.store, "root-ann", "admin").await;
    people::make_customer(&db.store, "Jane Roe", "jane@example.com").await;
    people::make_contact(&db.store, "Taken", "taken@example.com").await;
    desk.send_reset_link(&admin, "jane@example.com", false)
        .await
        .unwrap();
    let old_link = mailbox::token_mailed_to(&db.store, "jane@example.com").await;
    clock.advance(Duration::from_secs(90));

    let edited = desk
        .edit_contact(
            &admin,
            "Jane@Example.com",
            &ContactEdit {
                name: Some("Jane Q. Roe".into()),
                email: Some("jane.roe@newmail.example.org".into()),
            },
        )
        .await
        .unwrap();
    assert!(edited.email_changed);
    assert_eq!((edited.links_revoked, edited.notices), (1, 2));
    let err = desk.inspect_reset_link(&old_link).await.unwrap_err();
    assert!(
        matches!(err, DeskError::InvalidLink(LinkProblem::Revoked)),
        "{err}"
    );
    let to_old = mailbox::newest_body(&db.store, "jane@example.com", "email_changed_old")
        .await
        .expect("notice to the old address");
    assert!(to_old.contains("j***@n***.org"), "{to_old}");
    assert!(!to_old.contains("newmail"), "{to_old}");
    let to_new = mailbox::newest_body(
        &db.store,
        "jane.roe@newmail.example.org",
        "email_changed_new",
    )
    .await
    .expect("notice to the new address");
    assert!(to_new.contains("Sign in with it"), "{to_new}");

    // The next reset goes to the new address; the old one is unknown.
    let sent = desk
        .send_reset_link(&admin, "JANE.ROE@newmail.example.org", false)
        .await
        .unwrap();
    assert_eq!(sent.recipient, "jane.roe@newmail.example.org");
    let err = desk
        .send_reset_link(&admin, "jane@example.com", true)
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), exit::NOT_FOUND);
    let profile = desk
        .contact_profile(&admin, "jane.roe@newmail.example.org")
        .await
        .unwrap();
    assert_eq!(profile.name, "Jane Q. Roe");
    assert_eq!(profile.updated_at, clock.now());

    let rows = audit_of(&desk, &admin, "jane.roe@newmail.example.org").await;
    let edit = rows.iter().find(|e| e.action == "contact.edit").unwrap();
    assert_eq!(edit.detail["old_email"], "jane@example.com");
    assert_eq!(edit.detail["new_email"], "jane.roe@newmail.example.org");
    assert_eq!(edit.detail["old_name"], "Jane Roe");

    // The email history: newest first, kinds and states, never a body or link.
    let history = desk
        .email_history(&admin, "jane.roe@newmail.example.org")
        .await
        .unwrap();
    let kinds: Vec<&str> = history.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "reset_link",
            "email_changed_new",
            "email_changed_old",
            "reset_link"
        ]
    );
    assert!(
        history
            .iter()
            .all(|m| m.state == "queued" && m.attempts == 0)
    );
    let shown = serde_json::to_string(&history).unwrap();
    assert!(!shown.contains(&old_link), "no link in the history");
    assert!(!shown.contains("/password/reset/"), "{shown}");

    // Unique without regard to case; a change to the same values is refused.
    let err = desk
        .edit_contact(
            &admin,
            "jane.roe@newmail.example.org",
            &ContactEdit {
                email: Some("TAKEN@example.com".into()),
                name: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, DeskError::Conflict(_)), "{err}");
    let err = desk
        .edit_contact(
            &admin,
            "jane.roe@newmail.example.org",
            &ContactEdit {
                name: Some("Jane Q. Roe".into()),
                email: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), exit::INVALID, "{err}");
    let refusals = audit_of(&desk, &admin, "jane.roe@newmail.example.org")
        .await
        .into_iter()
        .filter(|e| e.action == "contact.edit" && e.outcome == "refused")
        .count();
    assert_eq!(refusals, 2);
}
on_every_backend!(
    edit_email,
    an_email_change_tells_both_addresses_and_kills_the_old_link
);

async fn hostile_names_emails_and_notes_are_refused_or_kept_harmless(db: TestDb) {
    let (desk, _clock) = db::desk(&db);
    let admin = people::make_operator(&db.store, "root-ann", "admin").await;
    people::make_contact(&db.store, "Jane Roe", "jane@example.com").await;
    let long = "x".repeat(10_000);
    for (name, email) in [
        (Some("Jane\u{1b}]0;pwned\u{7}"), None),
        (Some("Jane\r\nBcc: evil@example.com"), None),
        (Some(long.as_str()), None),
        (None, Some("jane\u{202e}@example.com")),
        (None, Some("jane@exa\u{1b}mple.com")),
        (None, Some("not an email")),
        (None, Some(long.as_str())),
        (None, Some("jane@example.com\r\nBcc: x@evil.example")),
    ] {
        let err = desk
            .edit_contact(
                &admin,
                "jane@example.com",
                &ContactEdit {
                    name: name.map(str::to_owned),
                    email: email.map(str::to_owned),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.exit_code(), exit::INVALID, "{name:?} {email:?}: {err}");
        assert!(err.to_string().len() < 600, "the message stays short");
    }
    let profile = desk
        .contact_profile(&admin, "jane@example.com")
        .await
        .unwrap();
    assert_eq!(profile.name, "Jane Roe", "nothing was changed");
    // A right-to-left name is a name: kept, shown sanitised.
    desk.edit_contact(
        &admin,
        "jane@example.com",
        &ContactEdit {
            name: Some("\u{202e}eoR enaJ".into()),
            email: None,
        },
    )
    .await
    .unwrap();

    let err = desk
        .add_note(&admin, "jane@example.com", &long)
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), exit::INVALID);
    assert!(err.to_string().contains("2000"), "{err}");
    let hostile = "line one\r\n\u{1b}[2J\u{202e}line two";
    let note = desk
        .add_note(&admin, "jane@example.com", hostile)
        .await
        .unwrap();
    assert_eq!(
        note.text, "line one\n\u{1b}[2J\u{202e}line two",
        "kept as written"
    );
    assert_eq!(
        desk.list_notes(&admin, "jane@example.com")
            .await
            .unwrap()
            .len(),
        1,
        "the refused note was not stored"
    );
}
on_every_backend!(
    hostile_profile_input,
    hostile_names_emails_and_notes_are_refused_or_kept_harmless
);

async fn notes_are_newest_first_and_deleted_by_their_author_or_an_admin(db: TestDb) {
    let (desk, clock) = db::desk(&db);
    let admin = people::make_operator(&db.store, "root-ann", "admin").await;
    let alex = people::make_operator(&db.store, "alex", "agent").await;
    let bea = people::make_operator(&db.store, "bea", "agent").await;
    let vera = people::make_operator(&db.store, "vera", "viewer").await;
    people::make_contact(&db.store, "Jane Roe", "jane@example.com").await;

    let first = desk
        .add_note(
            &alex,
            "jane@example.com",
            "Called about the invoice.\nWill call back.",
        )
        .await
        .unwrap();
    clock.advance(Duration::from_secs(60));
    let second = desk
        .add_note(&bea, "jane@example.com", "Bought it on the other shop.")
        .await
        .unwrap();
    let list = desk.list_notes(&vera, "jane@example.com").await.unwrap();
    assert_eq!(
        list.iter().map(|n| n.id).collect::<Vec<_>>(),
        [second.id, first.id]
    );
    assert_eq!(list[1].author, "alex");
    assert_eq!(list[1].text, "Called about the invoice.\nWill call back.");
    assert_eq!(
        list[0].created_at,
        people::t0() + chrono::TimeDelta::minutes(1)
    );

    let err = desk
        .add_note(&vera, "jane@example.com", "viewers do not write")
        .await
        .unwrap_err();
    assert!(matches!(err, DeskError::NotAllowed { .. }), "{err}");
    let err = desk.delete_note(&bea, first.id).await.unwrap_err();
    assert!(
        matches!(
            err,
            DeskError::NotAllowed {
                needed_role: Role::Admin,
                ..
            }
        ),
        "someone else's note: {err}"
    );
    desk.delete_note(&alex, first.id).await.expect("the author");
    desk.delete_note(&admin, second.id).await.expect("an admin");
    let err = desk.delete_note(&admin, second.id).await.unwrap_err();
    assert_eq!(err.exit_code(), exit::NOT_FOUND);
    assert!(
        desk.list_notes(&vera, "jane@example.com")
            .await
            .unwrap()
            .is_empty()
    );

    let rows = audit_of(&desk, &admin, "jane@example.com").await;
    let count = |action: &str, outcome: &str| {
        rows.iter()
            .filter(|e| e.action == action && e.outcome == outcome)
            .count()
    };
    assert_eq!(count("note.add", "ok"), 2);
    assert_eq!(count("note.add", "denied"), 1);
    assert_eq!(count("note.delete", "ok"), 2);
    assert_eq!(count("note.delete", "denied"), 1);
}
on_every_backend!(
    notes,
    notes_are_newest_first_and_deleted_by_their_author_or_an_admin
);

async fn each_role_does_exactly_its_share_of_the_profile(db: TestDb) {
    let (desk, _clock) = db::desk(&db);
    let vera = people::make_operator(&db.store, "vera", "viewer").await;
    let alex = people::make_operator(&db.store, "alex", "agent").await;
    let admin = people::make_operator(&db.store, "root-ann", "admin").await;
    course_and_jane(&db).await;
    people::make_customer(&db.store, "Welcome Pending", "pending@example.com").await;
    let edit = ContactEdit {
        name: Some("New Name".into()),
        email: None,
    };

    for op in [&vera, &alex] {
        let denials = [
            desk.edit_contact(op, "jane@example.com", &edit).await.err(),
            desk.grant_offer(op, "jane@example.com", "Course", true)
                .await
                .err(),
            desk.revoke_offer(op, "other@example.com", "Course")
                .await
                .err(),
        ];
        for denial in denials {
            assert!(
                matches!(
                    denial,
                    Some(DeskError::NotAllowed {
                        needed_role: Role::Admin,
                        ..
                    })
                ),
                "{}: {denial:?}",
                op.name
            );
        }
    }
    let viewer_denials = [
        desk.add_note(&vera, "jane@example.com", "x").await.err(),
        desk.resend_welcome(&vera, "pending@example.com")
            .await
            .err(),
    ];
    for denial in viewer_denials {
        assert!(
            matches!(
                denial,
                Some(DeskError::NotAllowed {
                    needed_role: Role::Agent,
                    ..
                })
            ),
            "{denial:?}"
        );
    }
    // Viewers see all of it.
    desk.list_offers(&vera).await.unwrap();
    desk.list_notes(&vera, "jane@example.com").await.unwrap();
    desk.email_history(&vera, "jane@example.com").await.unwrap();
    // Agents add notes and resend welcome emails; admins all of it.
    desk.add_note(&alex, "jane@example.com", "ok")
        .await
        .unwrap();
    desk.resend_welcome(&alex, "pending@example.com")
        .await
        .unwrap();
    desk.edit_contact(&admin, "jane@example.com", &edit)
        .await
        .unwrap();
    desk.grant_offer(&admin, "jane@example.com", "Course", false)
        .await
        .unwrap();
    desk.revoke_offer(&admin, "jane@example.com", "Course")
        .await
        .unwrap();

    let all = desk
        .audit(
            &admin,
            &AuditFilter {
                contact_email: None,
                limit: 200,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    for (action, denied) in [
        ("contact.edit", 2),
        ("offer.grant", 2),
        ("offer.revoke", 2),
        ("note.add", 1),
        ("welcome.resend", 1),
    ] {
        let rows: Vec<&AuditEntry> = all.iter().filter(|e| e.action == action).collect();
        assert_eq!(
            rows.iter().filter(|e| e.outcome == "denied").count(),
            denied,
            "{action}"
        );
        assert_eq!(
            rows.iter().filter(|e| e.outcome == "ok").count(),
            1,
            "{action}"
        );
    }
    let accounts = account::Entity::find().all(db.store.conn()).await.unwrap();
    assert_eq!(accounts.len(), 1, "only the resent welcome made an account");
}
on_every_backend!(
    profile_roles,
    each_role_does_exactly_its_share_of_the_profile
);
