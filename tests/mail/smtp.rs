//! Delivery over SMTP to a real server (aiosmtpd, see tests/support/smtp.rs):
//! plain, STARTTLS with a private CA, AUTH, a server that is down and
//! comes back, a 5xx rejection, a 4xx that runs out of attempts, a server
//! that accepts and then hangs, and the wake-up path.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use keydesk::clock::Clock;
use keydesk::mail::delivery_state::describe_delivery;
use keydesk::mail::queue::{kind, state};
use keydesk::mail::worker::{Pass, Worker};
use keydesk::settings::{Secret, Settings, SmtpTls};
use keydesk::store::Store;
use tokio::sync::Notify;

use crate::support::db;
use crate::support::outbox::{queue, queue_row, row, smtp_settings};
use crate::support::process::free_port;
use crate::support::smtp::{SmtpOptions, SmtpServer, self_signed};

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A fresh SQLite store and settings pointed at `port`.
async fn setup(port: u16) -> (db::TestDb, Settings) {
    let db = db::fresh(db::Backend::Sqlite)
        .await
        .expect("sqlite is always there");
    let base = db::settings_for(&db.url, &std::env::temp_dir());
    (db, smtp_settings(&base, port))
}

fn worker(store: &Store, settings: &Settings, clock: &Clock) -> Worker {
    Worker::new(
        store.clone(),
        settings,
        clock.clone(),
        Arc::new(Notify::new()),
    )
    .expect("worker builds")
}

/// A deadline around a pass, so a hang fails the test instead of stalling it.
async fn pass(w: &Worker) -> Pass {
    tokio::time::timeout(Duration::from_secs(60), w.deliver_due())
        .await
        .expect("a delivery pass finishes")
        .expect("the store works")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_delivery_sends_once_and_clears_the_body() {
    let server = SmtpServer::plain();
    let (db, settings) = setup(server.port).await;
    let clock = Clock::fixed(start());
    let queued = queue(db.store.conn(), "ada@example.com", "plain-1", clock.now()).await;
    let body = queued.body.clone().unwrap();

    let w = worker(&db.store, &settings, &clock);
    assert_eq!(
        pass(&w).await,
        Pass {
            sent: 1,
            ..Pass::default()
        }
    );
    let got = server.wait_for(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].mail_from, "support@example.com");
    assert_eq!(got[0].rcpt_tos, vec!["ada@example.com".to_owned()]);
    assert_eq!(got[0].header("Subject").as_deref(), Some("plain-1"));
    assert_eq!(
        got[0].raw.trim_end(),
        body.trim_end(),
        "the stored message arrives byte for byte"
    );
    assert!(!got[0].tls);

    let after = row(db.store.conn(), queued.id).await;
    assert_eq!(after.state, state::SENT);
    assert_eq!(after.sent_at, Some(clock.now()));
    assert_eq!(after.body, None, "the body is cleared once sent");
    assert_eq!(after.attempts, 1);
    assert_eq!(after.claimed_until, None);

    assert!(pass(&w).await.is_empty(), "nothing is sent twice");
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_required_by_the_server_works_with_the_ca_file() {
    let tls = self_signed();
    let server = SmtpServer::start(SmtpOptions {
        tls: Some((tls.cert.clone(), tls.key.clone())),
        ..SmtpOptions::default()
    });
    let (db, mut settings) = setup(server.port).await;
    let clock = Clock::fixed(start());

    // Without trusting the private CA, the handshake fails: retried, not lost.
    settings.mail.smtp.tls = SmtpTls::Starttls;
    let untrusted = queue(db.store.conn(), "ada@example.com", "tls-1", clock.now()).await;
    let w = worker(&db.store, &settings, &clock);
    assert_eq!(pass(&w).await.retried, 1);
    let r = row(db.store.conn(), untrusted.id).await;
    assert_eq!(r.state, state::QUEUED);
    assert!(r.last_error.contains("TLS"), "{}", r.last_error);
    assert!(server.messages().is_empty());

    // A plain-text client is refused by this server: retried too.
    settings.mail.smtp.tls = SmtpTls::None;
    clock.advance(Duration::from_secs(3600));
    let plain = worker(&db.store, &settings, &clock);
    assert_eq!(pass(&plain).await.retried, 1);
    let r = row(db.store.conn(), untrusted.id).await;
    assert!(
        r.last_error.contains("530") || r.last_error.to_lowercase().contains("starttls"),
        "{}",
        r.last_error
    );
    assert_eq!(r.state, state::QUEUED, "a STARTTLS demand is not permanent");

    // With the CA file: delivered over TLS.
    settings.mail.smtp.tls = SmtpTls::Starttls;
    settings.mail.smtp.ca_file = tls.ca.display().to_string();
    clock.advance(Duration::from_secs(3600));
    let trusted = worker(&db.store, &settings, &clock);
    assert_eq!(pass(&trusted).await.sent, 1);
    let got = server.wait_for(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1);
    assert!(got[0].tls, "the message travelled over TLS");
    assert_eq!(got[0].header("Subject").as_deref(), Some("tls-1"));

    // STARTTLS is required, not opportunistic: a relay that does not offer
    // it gets nothing in plain text.
    let plain_relay = SmtpServer::plain();
    settings.mail.smtp.port = plain_relay.port;
    let downgraded = queue(db.store.conn(), "ada@example.com", "tls-2", clock.now()).await;
    let strict = worker(&db.store, &settings, &clock);
    assert_eq!(pass(&strict).await.retried, 1);
    let r = row(db.store.conn(), downgraded.id).await;
    assert!(r.last_error.contains("STARTTLS"), "{}", r.last_error);
    assert!(plain_relay.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_with_a_password_file_and_a_wrong_password_is_retried() {
    let server = SmtpServer::start(SmtpOptions {
        auth: Some(("relayuser".into(), "s3cret-relay-pass".into())),
        ..SmtpOptions::default()
    });
    let (db, mut settings) = setup(server.port).await;
    let clock = Clock::fixed(start());
    let queued = queue(db.store.conn(), "ada@example.com", "auth-1", clock.now()).await;

    // No credentials: the server demands AUTH (530); kept for a retry.
    let w = worker(&db.store, &settings, &clock);
    assert_eq!(pass(&w).await.retried, 1);
    assert!(
        row(db.store.conn(), queued.id)
            .await
            .last_error
            .starts_with("530"),
        "{}",
        row(db.store.conn(), queued.id).await.last_error
    );

    // A wrong password: 535, retried (an operator fixes the setting).
    settings.mail.smtp.user = "relayuser".into();
    settings.mail.smtp.password = Secret::new("wrong");
    clock.advance(Duration::from_secs(3600));
    let wrong = worker(&db.store, &settings, &clock);
    assert_eq!(pass(&wrong).await.retried, 1);
    let r = row(db.store.conn(), queued.id).await;
    assert!(r.last_error.starts_with("535"), "{}", r.last_error);
    assert_eq!(r.state, state::QUEUED);
    assert!(
        !r.last_error.contains("wrong"),
        "the password is never stored"
    );

    // The right password, read from mail.smtp.password_file through Settings.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("smtp-password");
    std::fs::write(&file, "s3cret-relay-pass\n").unwrap();
    let mut env = std::collections::BTreeMap::new();
    env.insert("KEYDESK__DATABASE__URL".into(), db.url.clone());
    env.insert("KEYDESK__MAIL__SMTP__USER".into(), "relayuser".into());
    env.insert(
        "KEYDESK__MAIL__SMTP__PASSWORD_FILE".into(),
        file.display().to_string(),
    );
    let loaded = Settings::load(&keydesk::settings::Sources {
        skip_system_files: true,
        env: Some(env),
        data_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    })
    .unwrap();
    let settings = smtp_settings(&loaded, server.port);
    clock.advance(Duration::from_secs(3600));
    let right = worker(&db.store, &settings, &clock);
    assert_eq!(pass(&right).await.sent, 1);
    let got = server.wait_for(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].auth_user.as_deref(), Some("relayuser"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_is_down_gets_the_message_once_it_is_up() {
    let port = free_port();
    let (db, settings) = setup(port).await;
    let clock = Clock::fixed(start());
    let queued = queue(db.store.conn(), "ada@example.com", "down-1", clock.now()).await;

    let w = worker(&db.store, &settings, &clock);
    assert_eq!(pass(&w).await.retried, 1);
    let r = row(db.store.conn(), queued.id).await;
    assert_eq!(r.state, state::QUEUED);
    assert!(
        r.last_error.contains("connection refused"),
        "{}",
        r.last_error
    );
    assert!(
        r.next_attempt_at >= clock.now() + TimeDelta::seconds(15)
            && r.next_attempt_at <= clock.now() + TimeDelta::seconds(30),
        "first retry within [base/2, base]: {}",
        r.next_attempt_at
    );
    assert!(r.body.is_some(), "nothing is lost while the relay is down");
    let said = describe_delivery(&r, clock.now());
    assert!(
        said.starts_with("password-changed notice queued, retrying in ")
            && said.contains("connection refused"),
        "{said}"
    );

    // Not due yet: nothing happens, even once the server is up.
    let server = SmtpServer::start(SmtpOptions {
        port: Some(port),
        ..SmtpOptions::default()
    });
    assert!(pass(&w).await.is_empty());
    assert!(server.messages().is_empty());

    clock.advance(Duration::from_secs(31));
    assert_eq!(pass(&w).await.sent, 1);
    assert_eq!(server.wait_for(1, Duration::from_secs(10)).len(), 1);
    let r = row(db.store.conn(), queued.id).await;
    assert_eq!(r.state, state::SENT);
    assert_eq!(r.attempts, 2);
    assert_eq!(r.last_error, "");

    clock.advance(Duration::from_secs(3600));
    assert!(pass(&w).await.is_empty());
    assert_eq!(server.messages().len(), 1, "sent exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_recipient_fails_for_good_with_the_server_reply() {
    let server = SmtpServer::start(SmtpOptions {
        reject_rcpt: Some("nobody".into()),
        ..SmtpOptions::default()
    });
    let (db, settings) = setup(server.port).await;
    let clock = Clock::fixed(start());
    let bad = queue(
        db.store.conn(),
        "nobody@example.com",
        "reject-1",
        clock.now(),
    )
    .await;
    let good = queue(db.store.conn(), "ada@example.com", "reject-2", clock.now()).await;
    let unusable = queue(db.store.conn(), "ada@example.com", "reject-3", clock.now()).await;
    // An address the envelope cannot carry: refused before any connection.
    keydesk::store::execute_raw(
        db.store.conn(),
        &format!(
            "UPDATE outbox SET recipient = 'not an address' WHERE id = {}",
            unusable.id
        ),
    )
    .await
    .unwrap();

    let w = worker(&db.store, &settings, &clock);
    let done = pass(&w).await;
    assert_eq!((done.sent, done.failed, done.retried), (1, 2, 0));
    let r = row(db.store.conn(), bad.id).await;
    assert_eq!(r.state, state::FAILED);
    assert!(r.last_error.starts_with("550"), "{}", r.last_error);
    assert!(r.last_error.contains("User unknown"), "{}", r.last_error);
    assert!(
        r.body.is_some(),
        "a failed message keeps its body for `outbox retry`"
    );
    let r = row(db.store.conn(), unusable.id).await;
    assert_eq!(r.state, state::FAILED);
    assert!(r.last_error.contains("bad recipient"), "{}", r.last_error);
    assert_eq!(row(db.store.conn(), good.id).await.state, state::SENT);

    clock.advance(Duration::from_secs(7 * 24 * 3600));
    assert!(pass(&w).await.is_empty(), "a failed message is not retried");
    let got = server.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("Subject").as_deref(), Some("reject-2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4xx_is_retried_with_growing_delays_until_max_attempts() {
    let server = SmtpServer::start(SmtpOptions {
        tempfail_rcpt: Some("busy".into()),
        ..SmtpOptions::default()
    });
    let (db, mut settings) = setup(server.port).await;
    settings.outbox.max_attempts = 4;
    let clock = Clock::fixed(start());
    let queued = queue(db.store.conn(), "busy@example.com", "busy-1", clock.now()).await;
    let w = worker(&db.store, &settings, &clock);
    let mut waits = Vec::new();
    for attempt in 1..=3 {
        assert_eq!(pass(&w).await.retried, 1, "attempt {attempt}");
        let r = row(db.store.conn(), queued.id).await;
        assert_eq!(r.attempts, attempt);
        assert!(r.last_error.starts_with("451"), "{}", r.last_error);
        let wait = (r.next_attempt_at - clock.now()).to_std().unwrap();
        let top = settings.outbox.backoff_base * 2u32.pow(u32::try_from(attempt - 1).unwrap());
        assert!(
            wait >= top / 2 && wait <= top,
            "attempt {attempt}: {wait:?}"
        );
        waits.push(wait);
        clock.advance(wait);
    }
    assert!(waits[2] > waits[0], "delays grow: {waits:?}");
    assert_eq!(pass(&w).await.failed, 1);
    let r = row(db.store.conn(), queued.id).await;
    assert_eq!(r.state, state::FAILED);
    assert!(
        r.last_error.starts_with("gave up after 4 attempts: 451"),
        "{}",
        r.last_error
    );
    assert!(server.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_accepts_and_hangs_times_out_and_is_retried() {
    let hung = SmtpServer::start(SmtpOptions {
        hang: true,
        ..SmtpOptions::default()
    });
    let (db, mut settings) = setup(hung.port).await;
    settings.mail.smtp.timeout = Duration::from_secs(1);
    let clock = Clock::fixed(start());
    let queued = queue(db.store.conn(), "ada@example.com", "hang-1", clock.now()).await;
    let w = worker(&db.store, &settings, &clock);
    assert_eq!(pass(&w).await.retried, 1);
    let r = row(db.store.conn(), queued.id).await;
    assert_eq!(r.state, state::QUEUED);
    assert!(r.last_error.contains("no answer"), "{}", r.last_error);
    assert_eq!(r.claimed_until, None, "the claim is released");

    // The same worker recovers once a working relay answers on that port.
    let mut hung = hung;
    let port = hung.port;
    hung.stop();
    let server = SmtpServer::start(SmtpOptions {
        port: Some(port),
        ..SmtpOptions::default()
    });
    clock.advance(Duration::from_secs(60));
    assert_eq!(pass(&w).await.sent, 1);
    assert_eq!(server.wait_for(1, Duration::from_secs(10)).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wake_delivers_at_once_without_waiting_for_the_poll() {
    let server = SmtpServer::plain();
    let (db, mut settings) = setup(server.port).await;
    // A poll this long means only the wake can deliver within the test.
    settings.outbox.poll_interval = Duration::from_secs(600);
    let wake = Arc::new(Notify::new());
    let w = Worker::new(
        db.store.clone(),
        &settings,
        Clock::system(),
        Arc::clone(&wake),
    )
    .unwrap();
    let handle = w.spawn();
    // Let the worker finish its first (empty) pass and go to sleep.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for n in 1..=3 {
        queue(
            db.store.conn(),
            "ada@example.com",
            &format!("wake-{n}"),
            Clock::system().now(),
        )
        .await;
        wake.notify_one();
        let got = server.wait_for(n, Duration::from_secs(20));
        assert_eq!(got.len(), n, "message {n} arrived after the wake");
    }
    // notify_waiters (no stored permit) works too.
    queue(
        db.store.conn(),
        "ada@example.com",
        "wake-4",
        Clock::system().now(),
    )
    .await;
    wake.notify_waiters();
    assert_eq!(server.wait_for(4, Duration::from_secs(20)).len(), 4);
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_emails_with_dead_links_are_expired_not_sent() {
    use crate::support::outbox::{LinkState, reset_link};
    let server = SmtpServer::plain();
    let (db, settings) = setup(server.port).await;
    let clock = Clock::fixed(start());
    let now = clock.now();
    let conn = db.store.conn();
    let mut ids = Vec::new();
    for (n, how) in [
        LinkState::Live,
        LinkState::Expired,
        LinkState::Used,
        LinkState::Revoked,
    ]
    .into_iter()
    .enumerate()
    {
        let email = format!("customer{n}@example.com");
        let link = reset_link(conn, &email, how, now).await;
        let r = queue_row(
            conn,
            &email,
            &format!("reset-{how:?}"),
            kind::RESET_LINK,
            Some(link.id),
            now,
        )
        .await;
        ids.push((how, r.id));
    }
    let w = worker(&db.store, &settings, &clock);
    let done = pass(&w).await;
    assert_eq!((done.sent, done.expired), (1, 3));
    for (how, id) in ids {
        let r = row(conn, id).await;
        if let LinkState::Live = how {
            assert_eq!(r.state, state::SENT);
        } else {
            assert_eq!(r.state, state::EXPIRED, "{how:?}");
            assert_eq!(r.body, None, "{how:?}: the dead link's body is cleared");
            assert_eq!(r.attempts, 0, "{how:?}: never attempted");
            assert!(
                describe_delivery(&r, now).contains("expired"),
                "{}",
                describe_delivery(&r, now)
            );
        }
    }
    let got = server.wait_for(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("Subject").as_deref(), Some("reset-Live"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_that_expires_while_the_relay_is_down_is_never_sent() {
    use crate::support::outbox::{LinkState, reset_link};
    let port = free_port();
    let (db, settings) = setup(port).await;
    let clock = Clock::fixed(start());
    let conn = db.store.conn();
    let link = reset_link(conn, "late@example.com", LinkState::Live, clock.now()).await;
    let queued = queue_row(
        conn,
        "late@example.com",
        "late-1",
        kind::RESET_LINK,
        Some(link.id),
        clock.now(),
    )
    .await;
    let w = worker(&db.store, &settings, &clock);
    assert_eq!(pass(&w).await.retried, 1);
    let server = SmtpServer::start(SmtpOptions {
        port: Some(port),
        ..SmtpOptions::default()
    });
    clock.advance(Duration::from_secs(6 * 3600));
    assert_eq!(pass(&w).await.expired, 1);
    let r = row(conn, queued.id).await;
    assert_eq!(r.state, state::EXPIRED);
    assert_eq!(r.body, None);
    assert!(server.messages().is_empty());
}
