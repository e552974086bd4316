//! The real `keydesk` binary in a real pseudo-terminal (portable-pty),
//! its screen read with a vt100 parser: search, profile, Reset Password
//! delivered to a real SMTP server (aiosmtpd), Change Password that then
//! authenticates through desk, the not-a-customer notice, and the terminal
//! restored after SIGHUP and after `q`. The walkthrough runs on every
//! backend (SQLite, PostgreSQL, MySQL/MariaDB).

use std::time::Duration;

use keydesk::desk::Desk;

use crate::on_every_backend;
use crate::support::console::{Console, console_env, open_desk, seed_people};
use crate::support::{db, people};

/// A migrated store with a customer, a non-customer and 200 contacts, the
/// current OS user as admin, and the environment that points the binary
/// at it (mailing over SMTP to `smtp_port` when given, else into a folder).
struct Fixture {
    desk: Desk,
    env: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

async fn fixture(db: &db::TestDb, smtp_port: Option<u16>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut env = console_env(&db.url, dir.path());
    if let Some(port) = smtp_port {
        env.extend([
            ("KEYDESK__MAIL__TRANSPORT".into(), "smtp".into()),
            ("KEYDESK__MAIL__SMTP__HOST".into(), "127.0.0.1".into()),
            ("KEYDESK__MAIL__SMTP__PORT".into(), port.to_string()),
            ("KEYDESK__MAIL__SMTP__TLS".into(), "none".into()),
        ]);
    }
    let desk = open_desk(&env, &dir.path().join("data")).await;
    seed_people(
        &db.store,
        &people::COURSE,
        &[("Ada Lovelace", "ada@example.com")],
    )
    .await;
    Fixture {
        desk,
        env,
        _dir: dir,
    }
}

on_every_backend!(
    find_a_customer_reset_change_and_hang_up,
    find_a_customer_reset_change_and_hang_up
);

async fn find_a_customer_reset_change_and_hang_up(db: db::TestDb) {
    let smtp = crate::support::smtp::SmtpServer::plain();
    let fx = fixture(&db, Some(smtp.port)).await;
    let mut c = Console::start(&fx.env, 120, 40);
    c.wait_for(&["202 matches", "(admin)"]);

    // Search for a customer and open the profile.
    c.send("ada");
    c.wait_for(&["1 match", "Ada Lovelace", "ada@example.com"]);
    c.send("\r");
    c.wait_for(&["Customer since", "no login yet", "Course"]);

    // Reset Password: the platform's question, then the email at the relay.
    c.send("r");
    c.wait_for(&[
        "Send a password reset email to Ada Lovelace",
        "expires after 6 hours",
        "Send email",
        "Cancel",
    ]);
    c.send("\r");
    // The console waits a few seconds for the worker's first attempt, then
    // says where the email stands: "sent" on an idle machine, "queued" or
    // "sending" on a loaded one. The real condition is the mail at the
    // relay and the profile showing it sent, each with a generous deadline.
    c.wait_for(&["Reset link for Ada Lovelace: email "]);
    let mail = smtp.wait_for(1, Duration::from_secs(60));
    assert_eq!(mail[0].rcpt_tos, ["ada@example.com"]);
    let body = mail[0].raw.replace("=\r\n", "");
    let start = body
        .find("http://127.0.0.1:9/password/reset/")
        .expect("the link is in the email");
    let token: String = body[start + "http://127.0.0.1:9/password/reset/".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let link = fx
        .desk
        .inspect_reset_link(&token)
        .await
        .expect("the mailed link works");
    assert_eq!(link.email, "ada@example.com");
    c.wait_within(&["reset email: sent"], Duration::from_secs(60));

    // More Actions, Change Password, typed, saved, and it signs in.
    c.send(".");
    c.wait_for(&[
        "More Actions",
        "Change Password",
        "Revoke reset links",
        "Unlock account",
        "Sign out everywhere",
        "Copy email",
    ]);
    c.send("c");
    c.wait_for(&["Temporary password", "Require a new password at next login"]);
    let password = "Violet-Tangerine-Harbor-4217";
    c.send(password);
    c.wait_for(&["Meets the policy"]);
    assert!(!c.screen().contains(password), "the field is masked");
    c.send("\r");
    c.wait_for(&["Password changed", password, "another channel"]);
    fx.desk
        .authenticate("ada@example.com", password, "pty-test")
        .await
        .expect("the new password authenticates through desk");
    assert!(
        fx.desk.inspect_reset_link(&token).await.is_err(),
        "the change revoked the link"
    );
    c.send("\x1b");

    // A non-customer gets the notice.
    c.send("/");
    c.send("\x15cleo");
    c.wait_for(&["1 match", "Cleo Park"]);
    c.send("\x1b");
    c.send("r");
    c.wait_for(&["not a customer yet", "granted one"]);
    c.send("\x1b");

    // The SSH link drops: SIGHUP, and the terminal is given back.
    c.signal(nix::sys::signal::Signal::SIGHUP);
    c.wait_exit();
    c.assert_restored();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quit_and_sigterm_restore_the_terminal_at_80x24() {
    let db = db::fresh(db::Backend::Sqlite)
        .await
        .expect("SQLite is always there");
    let fx = fixture(&db, None).await;
    let mut c = Console::start(&fx.env, 80, 24);
    c.wait_for(&["202 matches"]);
    c.send("\x1b");
    c.send("q");
    let status = c.wait_exit();
    assert!(status.success(), "{status:?}");
    c.assert_restored();

    let mut c = Console::start(&fx.env, 80, 24);
    c.wait_for(&["202 matches"]);
    c.signal(nix::sys::signal::Signal::SIGTERM);
    c.wait_exit();
    c.assert_restored();
}
