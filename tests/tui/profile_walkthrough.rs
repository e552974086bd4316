//! "She bought it elsewhere, give her access" and "she can't log in because
//! her email changed", end to end on every backend: the real `keydesk`
//! console in a pty, the real site (`keydesk serve`) in headless Chromium,
//! a real SMTP server. Grant an offer to a plain contact, the welcome email
//! arrives, its link sets her password, she signs in; edit her email, both
//! notices arrive, the old link is dead and the next reset goes to the new
//! address; revoke her last offer, her session is gone and sign-in is
//! refused like a wrong password; add a note and delete it.

use std::time::{Duration, Instant};

use crate::on_every_backend;
use crate::support::browser::{Browser, browser_available};
use crate::support::console::{Console, add_site, console_env, open_desk, seed_people};
use crate::support::process::{self, Daemon};
use crate::support::smtp::{Captured, SmtpServer};
use crate::support::{db, mailbox, people};

const PW: &str = "Gentle-Harbour-Lantern-42";

/// One browser at a time: two Chromiums on two cores only slow each other.
static BROWSER_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The decoded text of the first message to `to` whose text holds `holding`.
fn mail_to(smtp: &SmtpServer, to: &str, holding: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = smtp
            .messages()
            .into_iter()
            .filter(|m: &Captured| m.rcpt_tos.iter().any(|r| r == to))
            .map(|m| mailbox::mail_text(&m.raw))
            .find(|text| text.contains(holding));
        if let Some(text) = found {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "no mail to {to} holding {holding:?} reached the SMTP server"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn grant_edit_revoke_and_note(db: db::TestDb) {
    assert!(
        browser_available(),
        "the walkthrough needs chromium and chromium-driver"
    );
    let _one = BROWSER_LOCK.lock().await;
    let smtp = SmtpServer::plain();
    let dir = tempfile::tempdir().unwrap();
    let mut env = console_env(&db.url, dir.path());
    let (port, site) = add_site(&mut env, dir.path());
    env.retain(|(k, _)| k != "KEYDESK__SITE__BASE_URL");
    env.extend([
        ("KEYDESK__SITE__BASE_URL".to_owned(), site.clone()),
        ("KEYDESK__MAIL__TRANSPORT".into(), "smtp".into()),
        ("KEYDESK__MAIL__SMTP__HOST".into(), "127.0.0.1".into()),
        ("KEYDESK__MAIL__SMTP__PORT".into(), smtp.port.to_string()),
        ("KEYDESK__MAIL__SMTP__TLS".into(), "none".into()),
        // The welcome link counts for the resend cooldown like any link;
        // this walkthrough sends its resets at once.
        ("KEYDESK__RESET__RESEND_COOLDOWN".into(), "0s".into()),
    ]);
    let desk = open_desk(&env, &dir.path().join("data")).await;
    seed_people(
        desk.store(),
        &people::COURSE,
        &[("Ada Lovelace", "ada@example.com")],
    )
    .await;
    let serve = Daemon::start(&["serve"], &env, &dir.path().join("serve.log"));
    process::wait_listening(port, "keydesk serve").await;
    let b = Browser::start().await;
    let mut c = Console::start(&env, 120, 40);
    c.wait_for(&["202 matches", "(admin)"]);

    // Cleo is a plain contact: grant her the offer, by typing part of its name.
    c.send("cleo");
    c.wait_for(&["1 match", "Cleo Park"]);
    c.send("\r");
    c.wait_for(&["Not a customer"]);
    c.send(".");
    c.wait_for(&["More Actions", "Grant Offer", "Revoke Offer"]);
    c.send("a");
    c.wait_for(&[
        "Grant Offer",
        "Type part of the offer's name",
        "Course",
        "offer(s)",
    ]);
    c.send("cou");
    c.wait_for(&["1 of 1 offer(s)"]);
    c.send("\r");
    c.wait_for(&["Grant Course to Cleo Park", "welcome email"]);
    c.send("\r");
    c.wait_for(&["Course granted to Cleo Park"]);
    c.wait_for(&["Customer since", "never set", "granted by"]);

    // The welcome email reaches the relay; its link sets her password.
    let welcome = mail_to(&smtp, "cleo@example.com", "Set your password");
    let link = mailbox::find_link(&welcome, &format!("{site}/")).expect("a link to the site");
    b.go(&link).await;
    assert_eq!(
        b.h1().await,
        "Set your password",
        "a welcome link sets the first password"
    );
    b.fill("New password", PW).await;
    b.fill("Confirm new password", PW).await;
    b.press("Set password").await;
    assert_eq!(b.h1().await, "Log in");
    b.fill("Email", "cleo@example.com").await;
    b.fill("Password", PW).await;
    b.press("Log in").await;
    assert_eq!(b.h1().await, "Account settings");
    b.saw("signed in after the welcome email").await;

    // A reset link to her old address, then her email changes.
    c.send("r");
    c.wait_for(&["Send a password reset email to Cleo Park"]);
    c.send("\r");
    c.wait_for(&["Reset link for Cleo Park"]);
    let reset = mail_to(&smtp, "cleo@example.com", "reset the password");
    let old_link = mailbox::find_link(&reset, &format!("{site}/")).expect("reset link");
    c.send("e");
    c.wait_for(&["Edit contact", "Name", "Email"]);
    c.send("\t");
    c.send("\u{15}"); // Ctrl-U empties the field
    c.send("cleo.new@example.org\r");
    c.wait_for(&["cleo@example.com", "cleo.new@example.org", "notice"]);
    c.send("\r");
    c.wait_for(&["Cleo Park edited"]);
    let to_old = mail_to(&smtp, "cleo@example.com", "changed the login email");
    assert!(to_old.contains("c***@e***.org"), "{to_old}");
    mail_to(&smtp, "cleo.new@example.org", "Sign in with it");
    b.go(&old_link).await;
    assert_eq!(b.h1().await, "This link no longer works");
    c.send("r");
    c.wait_for(&["cleo.new@example.org"]);
    c.send("\r");
    c.wait_for(&["Reset link for Cleo Park"]);
    mail_to(&smtp, "cleo.new@example.org", "reset the password");

    // Revoke her last offer: the session ends, sign-in is refused.
    c.send(".");
    c.wait_for(&["Revoke Offer"]);
    c.send("d");
    c.wait_for(&["Revoke Offer", "Course", "1 of 1 offer(s)"]);
    c.send("\r");
    c.wait_for(&["Revoke Course from Cleo Park"]);
    c.send("\r");
    c.wait_for(&["Course revoked from Cleo Park"]);
    b.go(&format!("{site}/account")).await;
    assert_eq!(b.h1().await, "Log in", "her session is gone");
    b.fill("Email", "cleo.new@example.org").await;
    b.fill("Password", PW).await;
    b.press("Log in").await;
    assert!(
        b.saw("refused after the revoke")
            .await
            .contains("The email or password is not correct.")
    );

    // A note, several lines; then deleted.
    c.send("n");
    c.wait_for(&["Notes", "No notes yet"]);
    c.send("Bought it on the other shop.\rRevoked on request.");
    c.send("\u{13}"); // Ctrl-S saves
    c.wait_for(&["Note added", "Revoked on request."]);
    let notes = desk
        .list_notes(&open_admin(&desk).await, "cleo.new@example.org")
        .await
        .unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(
        notes[0].text,
        "Bought it on the other shop.\nRevoked on request."
    );
    c.send("\t\t"); // to the list
    c.send("\u{1b}[3~"); // Delete
    c.wait_for(&["Delete the note"]);
    c.send("\r");
    c.wait_for(&["Note deleted"]);
    assert!(
        desk.list_notes(&open_admin(&desk).await, "cleo.new@example.org")
            .await
            .unwrap()
            .is_empty()
    );

    // Every step is in the audit trail.
    let audit: Vec<String> = desk
        .audit(
            &open_admin(&desk).await,
            &keydesk::desk::audit::AuditFilter {
                contact_email: Some("cleo.new@example.org".into()),
                limit: 50,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.outcome == "ok" && e.actor_kind == "operator")
        .map(|e| e.action)
        .collect();
    for action in [
        "offer.grant",
        "contact.edit",
        "offer.revoke",
        "note.add",
        "note.delete",
    ] {
        assert!(audit.iter().any(|a| a == action), "{action} in {audit:?}");
    }
    c.esc(); // close Notes, where q would type
    c.send("q");
    c.wait_exit();
    b.close().await;
    serve.terminate();
}

async fn open_admin(desk: &keydesk::desk::Desk) -> keydesk::desk::Operator {
    desk.operator(&keydesk::desk::Identity::from_os().unwrap())
        .await
        .unwrap()
}

on_every_backend!(
    grant_edit_revoke_and_note_in_the_console,
    grant_edit_revoke_and_note
);
