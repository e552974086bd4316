//! DESIGN.md rule 6 on every backend: after every kind of operation, no
//! password, token or session id is in any column of any table (the one
//! exception: a queued reset mail carries its link until the worker sends
//! it and clears the body), in any audit row, or in any log line.

use std::time::Duration;

use crate::on_every_backend;
use crate::support::db::TestDb;
use crate::support::{db, logs, mailbox, people, scan};

async fn no_secret_is_stored_audited_or_logged(db: TestDb) {
    let log = logs::captured();
    let (desk, clock) = db::desk(&db);
    let agent = people::make_operator(&db.store, "agent1", "agent").await;
    let admin = people::make_operator(&db.store, "admin1", "admin").await;
    people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;
    let mut passwords = vec![
        "violet lantern orbit meadow 77".to_owned(),
        "quiet copper falcon harbor 19".to_owned(),
        "wrong guess that is long enough".to_owned(),
        "Short1".to_owned(), // refused by the policy
    ];
    let mut tokens = Vec::new();

    // Agent link, redeemed.
    desk.send_reset_link(&agent, "ada@example.com", false)
        .await
        .unwrap();
    tokens.push(mailbox::token_mailed_to(&db.store, "ada@example.com").await);
    assert!(desk.redeem_reset(&tokens[0], &passwords[3]).await.is_err());
    desk.redeem_reset(&tokens[0], &passwords[0]).await.unwrap();
    // Admin sets a generated temporary password.
    let temporary = desk.generate_temporary_password().unwrap();
    assert!(
        desk.change_password(&admin, "ada@example.com", &passwords[3], true)
            .await
            .is_err()
    );
    desk.change_password(&admin, "ada@example.com", &temporary, true)
        .await
        .unwrap();
    passwords.push(temporary.clone());
    // The customer signs in (and fails once), then changes it.
    assert!(
        desk.authenticate("ada@example.com", &passwords[2], "198.51.100.7")
            .await
            .is_err()
    );
    let signed = desk
        .authenticate("ada@example.com", &temporary, "198.51.100.7")
        .await
        .unwrap();
    let session = desk
        .start_session(signed.account_id, "198.51.100.7")
        .await
        .unwrap();
    let changed = desk
        .change_own_password(&session, &temporary, &passwords[1])
        .await
        .unwrap();
    // Forgot Password, for the customer and for nobody.
    clock.advance(Duration::from_secs(120));
    desk.request_reset("ada@example.com", "198.51.100.7")
        .await
        .unwrap();
    desk.request_reset("nobody@example.com", "198.51.100.7")
        .await
        .unwrap();
    tokens.push(mailbox::token_mailed_to(&db.store, "ada@example.com").await);
    desk.revoke_reset_links(&agent, "ada@example.com")
        .await
        .unwrap();

    for password in &passwords {
        assert_eq!(
            scan::places_holding(&db.store, password).await,
            Vec::<String>::new(),
            "a password is stored somewhere"
        );
    }
    for session in [&session, &changed.session] {
        assert_eq!(
            scan::places_holding(&db.store, session).await,
            Vec::<String>::new(),
            "a session id is stored somewhere"
        );
    }
    for token in &tokens {
        assert_eq!(
            scan::places_holding(&db.store, token).await,
            vec!["outbox.body".to_owned()],
            "a token is stored outside its queued mail"
        );
    }
    // That mail is queued (the worker clears the body once it is sent).
    let carrying: Vec<_> = mailbox::outbox_rows(&db.store)
        .await
        .into_iter()
        .filter(|r| {
            r.body
                .as_deref()
                .is_some_and(|b| tokens.iter().any(|t| mailbox::mail_text(b).contains(t)))
        })
        .collect();
    assert_eq!(carrying.len(), 2);
    assert!(
        carrying
            .iter()
            .all(|r| r.kind == "reset_link" && r.state == "queued")
    );

    let log = String::from_utf8_lossy(&log.bytes()).into_owned();
    assert!(log.contains("reset link sent"), "logging was captured");
    for secret in passwords
        .iter()
        .chain(&tokens)
        .chain([&session, &changed.session])
    {
        assert!(!log.contains(secret.as_str()), "a secret was logged");
    }
}
on_every_backend!(nothing_secret, no_secret_is_stored_audited_or_logged);
