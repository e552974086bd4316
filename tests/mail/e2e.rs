//! Desk and mail together, against a real SMTP server: `keydesk
//! reset-password EMAIL` with a `keydesk worker` beside it puts a
//! well-formed message with a working link into the server's capture; a
//! desk operation in the same process wakes the worker at once.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use keydesk::clock::Clock;
use keydesk::mail::queue::state;
use keydesk::mail::worker::Worker;

use crate::on_every_backend;
use crate::support::db::TestDb;
use crate::support::smtp::SmtpServer;
use crate::support::{db, mailbox, people, process, scan};

/// A child process killed on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn keydesk(home: &std::path::Path, url: &str, port: u16) -> Command {
    let mut cmd = process::keydesk(home);
    cmd.env("KEYDESK__DATABASE__URL", url)
        .env("KEYDESK__MAIL__TRANSPORT", "smtp")
        .env("KEYDESK__MAIL__SMTP__HOST", "127.0.0.1")
        .env("KEYDESK__MAIL__SMTP__PORT", port.to_string())
        .env("KEYDESK__MAIL__SMTP__TLS", "none")
        .env("KEYDESK__OUTBOX__POLL_INTERVAL", "100ms")
        .env("KEYDESK__SITE__BASE_URL", "https://courses.example.com")
        .env("KEYDESK__LOG__LEVEL", "warn");
    cmd
}

async fn reset_password_reaches_the_smtp_server_with_a_working_link(db: TestDb) {
    let server = SmtpServer::plain();
    let home = tempfile::tempdir().unwrap();
    people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;
    people::make_operator(&db.store, &keydesk::cli::os_user(), "agent").await;

    let _worker = Running(
        keydesk(home.path(), &db.url, server.port)
            .arg("worker")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start keydesk worker"),
    );
    let out = keydesk(home.path(), &db.url, server.port)
        .args(["reset-password", "ada@example.com"])
        .output()
        .expect("run keydesk reset-password");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let got = server.wait_for(1, Duration::from_secs(30));
    assert_eq!(got.len(), 1, "the reset email reached the relay");
    let mail = &got[0];
    assert_eq!(mail.rcpt_tos, vec!["ada@example.com".to_owned()]);
    assert_eq!(mail.mail_from, "support@example.com");
    for header in ["From", "To", "Subject", "Date", "Message-ID"] {
        assert!(mail.header(header).is_some(), "{header} is present");
    }
    let token = mailbox::token_in(&mail.raw);
    assert!(token.len() >= 43, "a 32-byte token: {token}");
    assert!(
        mailbox::mail_text(&mail.raw).contains(&format!(
            "https://courses.example.com/password/reset/{token}"
        )),
        "the link points at the site"
    );

    // The link works: the desk accepts it.
    let settings = db::settings_with(&db.url, home.path(), &[]);
    let desk = keydesk::desk::Desk::new(db.store.clone(), settings, Clock::system()).unwrap();
    let info = desk
        .inspect_reset_link(&token)
        .await
        .expect("the mailed link works");
    assert_eq!(info.email, "ada@example.com");

    let rows = mailbox::outbox_rows(&db.store).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, state::SENT);
    assert_eq!(rows[0].body, None, "the link does not outlive its delivery");
    assert!(
        scan::places_holding(&db.store, &token).await.is_empty(),
        "the token is nowhere in the store"
    );
}
on_every_backend!(
    reset_password_cli,
    reset_password_reaches_the_smtp_server_with_a_working_link
);

async fn reset_password_alone_delivers_and_says_so(db: TestDb) {
    let server = SmtpServer::plain();
    let home = tempfile::tempdir().unwrap();
    people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;
    people::make_operator(&db.store, &keydesk::cli::os_user(), "agent").await;
    // No worker anywhere: the command itself delivers.
    let out = keydesk(home.path(), &db.url, server.port)
        .args(["reset-password", "ada@example.com"])
        .output()
        .expect("run keydesk reset-password");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("reset email sent"), "{stdout}");
    assert_eq!(server.wait_for(1, Duration::from_secs(10)).len(), 1);

    // Relay gone: the email stays queued, the command says so and succeeds
    // (the link exists; a worker delivers the email later).
    drop(server);
    let out = keydesk(home.path(), &db.url, 9)
        .args(["reset-password", "--force", "ada@example.com"])
        .output()
        .expect("run keydesk reset-password");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("retrying"), "{stdout}");
}
on_every_backend!(
    reset_password_alone,
    reset_password_alone_delivers_and_says_so
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_operation_wakes_the_worker_in_its_process() {
    let db = db::fresh(db::Backend::Sqlite).await.unwrap();
    let server = SmtpServer::plain();
    let port = server.port.to_string();
    // With a 10-minute poll, only the desk's wake can deliver in time.
    let (desk, clock) = db::desk_with(
        &db,
        &[
            ("KEYDESK__MAIL__TRANSPORT", "smtp"),
            ("KEYDESK__MAIL__SMTP__HOST", "127.0.0.1"),
            ("KEYDESK__MAIL__SMTP__PORT", &port),
            ("KEYDESK__MAIL__SMTP__TLS", "none"),
            ("KEYDESK__OUTBOX__POLL_INTERVAL", "10m"),
        ],
    );
    let settings = db::settings_with(
        &db.url,
        &std::env::temp_dir(),
        &[
            ("KEYDESK__MAIL__TRANSPORT", "smtp"),
            ("KEYDESK__MAIL__SMTP__HOST", "127.0.0.1"),
            ("KEYDESK__MAIL__SMTP__PORT", &port),
            ("KEYDESK__MAIL__SMTP__TLS", "none"),
            ("KEYDESK__OUTBOX__POLL_INTERVAL", "10m"),
        ],
    );
    let agent = people::make_operator(&db.store, "agent1", "agent").await;
    people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;
    let worker = Worker::new(
        db.store.clone(),
        &settings,
        clock.clone(),
        desk.outbox_wake(),
    )
    .unwrap()
    .spawn();
    tokio::time::sleep(Duration::from_millis(300)).await;

    desk.send_reset_link(&agent, "ada@example.com", false)
        .await
        .unwrap();
    let got = server.wait_for(1, Duration::from_secs(20));
    assert_eq!(got.len(), 1, "delivered on the desk's wake, not the poll");
    let token = mailbox::token_in(&got[0].raw);
    desk.inspect_reset_link(&token)
        .await
        .expect("the mailed link works");
    worker.stop().await;
}
