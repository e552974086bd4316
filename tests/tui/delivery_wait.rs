//! What the console says about a reset email while the relay still holds
//! it: a real SMTP server (aiosmtpd) that takes the message after DATA and
//! never answers, the console's own worker and services on a real store.
//! A first attempt in flight reads "sending", never "will retry" with an
//! empty reason (the worker counts the attempt as it claims the row, so
//! `attempts > 0` alone does not mean a failure), and the status line's
//! counts agree: one queued, none retrying.

use std::time::Duration;

use keydesk::desk::Identity;
use keydesk::tui::msg::{ActionOutcome, Request};
use keydesk::tui::services::Services;

use crate::on_every_backend;
use crate::support::smtp::{SmtpOptions, SmtpServer};
use crate::support::{db, people};

on_every_backend!(
    first_send_held_by_the_relay,
    a_first_send_held_by_the_relay_reads_sending_not_retrying
);

async fn a_first_send_held_by_the_relay_reads_sending_not_retrying(db: db::TestDb) {
    let mut relay = SmtpServer::start(SmtpOptions {
        hang_after_data: true,
        ..SmtpOptions::default()
    });
    let port = relay.port.to_string();
    let (desk, _clock) = db::desk_with(
        &db,
        &[
            ("KEYDESK__MAIL__TRANSPORT", "smtp"),
            ("KEYDESK__MAIL__SMTP__HOST", "127.0.0.1"),
            ("KEYDESK__MAIL__SMTP__PORT", &port),
            ("KEYDESK__MAIL__SMTP__TLS", "none"),
            // The relay holds the message far longer than the console
            // waits (and a claim outlives two timeouts, as settings require).
            ("KEYDESK__MAIL__SMTP__TIMEOUT", "300s"),
            ("KEYDESK__OUTBOX__CLAIM_TIMEOUT", "600s"),
        ],
    );
    let me = people::os_user();
    people::make_operator(&db.store, &me, "admin").await;
    let ada = people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;
    let (worker, _label) = keydesk::tui::spawn_worker(&desk).expect("worker");
    let identity = Identity {
        name: me,
        source: "local".into(),
    };
    // A generous wait, so that a loaded machine still sees the worker's
    // claim (it is woken by the commit) long before the wait ends.
    let services =
        Services::new(desk.clone(), identity).with_delivery_wait(Duration::from_secs(15));

    let outcome = services
        .act(ada, Request::SendResetLink { force: false })
        .await;
    let ActionOutcome::Done(text) = outcome else {
        panic!("the link was not sent: {outcome:?}");
    };
    assert!(
        text.starts_with("Reset link for Ada Lovelace: email sending"),
        "{text}"
    );
    assert!(!text.contains("retry"), "{text}");
    let counts = desk.outbox_counts().await.expect("counts");
    assert_eq!((counts.queued, counts.retrying, counts.failed), (1, 0, 0));
    assert_eq!(relay.count(), 0, "the relay never acknowledged it");
    // The relay goes first, so that the held send fails now and the worker
    // stops at once instead of waiting out the timeout.
    relay.stop();
    worker.stop().await;
}
