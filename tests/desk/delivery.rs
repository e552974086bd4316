//! The desk and the outbox worker together, on every backend: the worker
//! wakes on the desk's notifier, the customer receives a working link,
//! and once the mail is sent the token is nowhere in the store
//! (DESIGN.md rule 6, "not left in the outbox after delivery").

use std::time::Duration;

use keydesk::mail::worker::Worker;

use crate::on_every_backend;
use crate::support::db::TestDb;
use crate::support::{db, mailbox, people, scan};

fn eml_files(dir: &std::path::Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .map(|e| std::fs::read_to_string(e.path()).unwrap())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

async fn a_sent_link_works_and_leaves_no_token_behind(db: TestDb) {
    let mail_dir = tempfile::tempdir().unwrap();
    let dir = mail_dir.path().to_str().unwrap().to_owned();
    let extra = [
        ("KEYDESK__MAIL__TRANSPORT", "file"),
        ("KEYDESK__MAIL__FILE__DIR", dir.as_str()),
        // Only the desk's wake-up can make the worker look in time.
        ("KEYDESK__OUTBOX__POLL_INTERVAL", "1h"),
    ];
    let (desk, clock) = db::desk_with(&db, &extra);
    let settings = db::settings_with(&db.url, &std::env::temp_dir(), &extra);
    let worker = Worker::new(
        db.store.clone(),
        &settings,
        clock.clone(),
        desk.outbox_wake(),
    )
    .unwrap();
    let handle = worker.spawn();

    let agent = people::make_operator(&db.store, "agent1", "agent").await;
    people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;
    desk.send_reset_link(&agent, "ada@example.com", false)
        .await
        .unwrap();
    let mut delivered = Vec::new();
    for _ in 0..100 {
        delivered = eml_files(mail_dir.path());
        if !delivered.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(delivered.len(), 1, "the worker woke and delivered");
    let token = mailbox::token_in(&delivered[0]);
    // Let the worker record the outcome (the file is written first).
    for _ in 0..100 {
        if mailbox::outbox_rows(&db.store).await[0].state == "sent" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let row = &mailbox::outbox_rows(&db.store).await[0];
    assert_eq!(row.state, "sent");
    assert_eq!(row.body, None, "the body is cleared once sent");
    assert_eq!(
        scan::places_holding(&db.store, &token).await,
        Vec::<String>::new(),
        "no token anywhere once delivered"
    );

    desk.redeem_reset(&token, "correct horse battery staple 42")
        .await
        .expect("the delivered link works");
    for _ in 0..100 {
        if eml_files(mail_dir.path()).len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mails = eml_files(mail_dir.path());
    assert_eq!(mails.len(), 2, "the password-changed notice went out too");
    assert!(
        mails
            .iter()
            .all(|m| !m.contains("correct horse battery staple 42"))
    );
    handle.stop().await;
}
on_every_backend!(delivered, a_sent_link_works_and_leaves_no_token_behind);
