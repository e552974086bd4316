//! The customer's whole path in a real headless Chromium, driven over
//! WebDriver (chromedriver) with fantoccini, against the real site on
//! 127.0.0.1 and a real store (SQLite and PostgreSQL):
//!
//! 1. Forgot Password from the login page; desk queues the mail, the
//!    outbox worker running beside the site (as in `keydesk serve`)
//!    delivers it to a real SMTP server (aiosmtpd); the link in the
//!    received message is opened; a weak password is refused
//!    with the policy's reasons; a good one is set; the customer logs in.
//! 2. The used link shows "already used" and offers a new one.
//! 3. The password is changed in account settings; the customer logs out
//!    and in again with it.
//! 4. An admin sets a temporary password; logging in with it leads to the
//!    forced change before anything else.
//!
//! Chromium and chromedriver come from Debian (`apt-get install chromium
//! chromium-driver`; `.ci/run` installs them). The test fails when they are
//! missing. What the browser saw is printed (`--nocapture` shows it).

use std::time::{Duration, Instant};

use fantoccini::Locator;
use serde_json::json;

use crate::support::browser::{Browser, browser_available};
use crate::support::site::TestSite;
use crate::support::smtp::SmtpServer;
use crate::support::{db, mailbox};

const PW1: &str = "Gentle-Harbour-Lantern-42";
const PW2: &str = "Quiet-Meadow-Compass-77";
const PW3: &str = "Silver-Orchard-Ribbon-19";

/// One browser at a time: two Chromiums on two cores only slow each other.
static BROWSER_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The reset link in the `nth` reset message the SMTP server received for
/// `email`, waiting for it to arrive.
async fn mailed_link(smtp: &SmtpServer, site: &TestSite, email: &str, nth: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let texts: Vec<String> = smtp
            .messages()
            .into_iter()
            .filter(|m| m.rcpt_tos.iter().any(|r| r == email))
            .filter_map(|m| {
                let parsed = mail_parser::MessageParser::default().parse(m.raw.as_bytes())?;
                parsed.body_text(0).map(std::borrow::Cow::into_owned)
            })
            .filter(|text| text.contains(&format!("{}/", site.url)))
            .collect();
        if texts.len() >= nth {
            return mailbox::find_link(&texts[nth - 1], &format!("{}/", site.url))
                .expect("a link to the site");
        }
        assert!(
            Instant::now() < deadline,
            "no reset email reached the SMTP server"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn whole_path(db: db::TestDb) {
    let _one = BROWSER_LOCK.lock().await;
    let backend = db.backend;
    let smtp = SmtpServer::plain();
    let site = TestSite::start_mailing(db, smtp.port, &[]).await;
    let email = "ada@example.com";
    site.customer("Ada Lovelace", email, None).await;
    let b = Browser::start().await;
    println!("[browser] backend {backend:?}, site {}", site.url);

    // Phone-sized and styled: the stylesheet loads under the CSP.
    b.client.set_window_size(390, 844).await.expect("resize");
    b.go(&format!("{}/login", site.url)).await;
    assert_eq!(b.h1().await, "Log in");
    b.saw("login page").await;
    let main = b.client.find(Locator::Css("main")).await.unwrap();
    assert_eq!(
        main.css_value("border-top-style").await.unwrap(),
        "solid",
        "site.css applied"
    );
    let fits = b
        .client
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth;",
            vec![],
        )
        .await
        .expect("measure");
    assert_eq!(fits, json!(true), "no sideways scrolling on a phone");
    b.client.set_window_size(1024, 800).await.expect("resize");

    // 1. Forgot Password.
    b.follow("Forgot Password").await;
    assert_eq!(b.h1().await, "Forgot Password");
    b.fill("Email", email).await;
    b.press("Send reset link").await;
    let said = b.saw("forgot password sent").await;
    assert!(said.contains(
        "If that email belongs to an account, a reset link is on its way. Check your spam folder if it does not arrive."
    ));
    let link = mailed_link(&smtp, &site, email, 1).await;
    assert!(link.starts_with(&site.url), "{link}");
    println!(
        "[browser] the SMTP server received the reset email; link path {}",
        link.trim_start_matches(&site.url)
            .split('/')
            .take(3)
            .collect::<Vec<_>>()
            .join("/")
    );

    b.go(&link).await;
    assert_eq!(b.h1().await, "Set a new password");
    b.saw("reset link opened").await;
    // A weak password: the policy's reasons.
    b.fill("New password", "password1234").await;
    b.fill("Confirm new password", "password1234").await;
    b.press("Set password").await;
    let refused = b.saw("weak password refused").await;
    assert!(
        refused.contains("That password cannot be used"),
        "{refused}"
    );
    b.fill("New password", PW1).await;
    b.fill("Confirm new password", PW1).await;
    b.press("Set password").await;
    assert_eq!(b.h1().await, "Log in", "asked to log in, not signed in");
    let said = b.saw("after reset").await;
    assert!(said.contains("Your new password is set."));
    b.fill("Email", email).await;
    b.fill("Password", PW1).await;
    b.press("Log in").await;
    assert_eq!(b.h1().await, "Account settings");
    let said = b.saw("logged in").await;
    assert!(said.contains(email));

    // 2. The used link.
    b.go(&link).await;
    assert_eq!(b.h1().await, "This link was already used");
    b.saw("used link").await;
    b.follow("Send me a new link").await;
    assert_eq!(b.h1().await, "Forgot Password");

    // 3. Change the password in account settings, log out, log in with it.
    b.go(&format!("{}/account", site.url)).await;
    b.fill("Current password", PW1).await;
    b.fill("New password", PW2).await;
    b.fill("Confirm new password", PW2).await;
    b.press("Change password").await;
    assert_eq!(b.h1().await, "Account settings");
    let said = b.saw("password changed").await;
    assert!(said.contains("Your password was changed."), "{said}");
    b.press("Log out").await;
    assert!(b.saw("logged out").await.contains("You are logged out."));
    b.fill("Email", email).await;
    b.fill("Password", PW1).await;
    b.press("Log in").await;
    assert!(
        b.saw("old password refused")
            .await
            .contains("The email or password is not correct.")
    );
    b.fill("Password", PW2).await;
    // The keyboard alone: Enter in the password field submits.
    b.field("Password")
        .await
        .send_keys("\u{E007}")
        .await
        .expect("enter");
    b.client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::XPath(
            "//h1[normalize-space(.)='Account settings']",
        ))
        .await
        .expect("logged in with Enter");
    b.saw("logged in with the new password").await;

    // 4. An admin sets a temporary password; it must be changed first.
    let op = site.admin().await;
    let temporary = site.desk.generate_temporary_password().expect("temporary");
    site.desk
        .change_password(&op, email, &temporary, true)
        .await
        .expect("admin sets a temporary password");
    b.go(&format!("{}/account", site.url)).await;
    assert_eq!(
        b.h1().await,
        "Log in",
        "the admin's change ended the session"
    );
    b.saw("session ended by the admin's change").await;
    b.fill("Email", email).await;
    b.fill("Password", &temporary).await;
    b.press("Log in").await;
    assert_eq!(b.h1().await, "Choose a new password");
    b.saw("forced change").await;
    b.go(&format!("{}/account", site.url)).await;
    assert_eq!(b.h1().await, "Choose a new password", "nothing else first");
    b.fill("Current password", &temporary).await;
    b.fill("New password", PW3).await;
    b.fill("Confirm new password", PW3).await;
    b.press("Set password").await;
    assert_eq!(b.h1().await, "Account settings");
    assert!(
        b.saw("own password set")
            .await
            .contains("Your new password is set.")
    );
    b.press("Sign out everywhere").await;
    assert_eq!(b.h1().await, "Log in");
    b.saw("signed out everywhere").await;

    b.close().await;
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_path_in_chromium_on_sqlite() {
    if !browser_available() {
        return;
    }
    let db = db::fresh(db::Backend::Sqlite).await.expect("sqlite");
    whole_path(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_path_in_chromium_on_postgres() {
    if !browser_available() {
        return;
    }
    if let Some(db) = db::fresh(db::Backend::Postgres).await {
        whole_path(db).await;
    }
}
