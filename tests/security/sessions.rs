//! ASVS V3 (session management) and the first-admin claim: staff see a
//! customer's sessions and end one (desk and `keydesk sessions` /
//! `keydesk sign-out EMAIL --session ID`), a replayed cookie is dead after
//! log out, a new sign-in or a password change, and two first-admin
//! claims on an empty store make one admin.

use std::process::{Output, Stdio};

use keydesk::desk::{DeskError, Identity};

use crate::on_every_backend;
use crate::support::db::TestDb;
use crate::support::site::{Client, PW, PW2, TestSite, session_cookie};
use crate::support::{db, people, process, scan};

const CLIENT: &str = "198.51.100.7";

async fn with_password(db: &TestDb, email: &str) {
    let admin = people::make_operator(&db.store, &format!("setter-{email}"), "admin").await;
    let (desk, _) = db::desk(db);
    desk.change_password(&admin, email, PW, false)
        .await
        .unwrap();
}

async fn staff_see_and_end_one_customer_session(db: TestDb) {
    let (desk, _clock) = db::desk(&db);
    people::make_customer(&db.store, "Ada", "ada@example.com").await;
    people::make_customer(&db.store, "Bob", "bob@example.com").await;
    with_password(&db, "ada@example.com").await;
    with_password(&db, "bob@example.com").await;
    let admin = people::make_operator(&db.store, "admin1", "admin").await;
    let viewer = people::make_operator(&db.store, "viewer1", "viewer").await;
    let ada = desk
        .authenticate("ada@example.com", PW, CLIENT)
        .await
        .unwrap();
    let phone = desk
        .start_session(ada.account_id, "198.51.100.7 · phone")
        .await
        .unwrap();
    let laptop = desk
        .start_session(ada.account_id, "203.0.113.5 · laptop")
        .await
        .unwrap();
    let bob = desk
        .authenticate("bob@example.com", PW, CLIENT)
        .await
        .unwrap();
    let bobs = desk.start_session(bob.account_id, "bob").await.unwrap();
    let bobs_id = desk.session_from_cookie(&bobs).await.unwrap().session_id;

    // Any operator sees where Ada is signed in, newest first.
    let list = desk
        .customer_sessions(&viewer, "ada@example.com")
        .await
        .unwrap();
    let clients: Vec<_> = list.iter().map(|s| s.client.as_str()).collect();
    assert_eq!(
        clients,
        vec!["203.0.113.5 · laptop", "198.51.100.7 · phone"]
    );
    let laptop_id = list[0].id;

    // A viewer may not end one; the denial is audited.
    let err = desk
        .end_customer_session(&viewer, "ada@example.com", laptop_id)
        .await
        .unwrap_err();
    assert!(matches!(err, DeskError::NotAllowed { .. }), "{err}");
    let audit = desk
        .audit(
            &admin,
            &keydesk::desk::audit::AuditFilter {
                contact_email: Some("ada@example.com".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.actor == "viewer1" && e.outcome == "denied"),
        "{audit:?}"
    );

    // Bob's session cannot be ended through Ada's email.
    assert!(
        !desk
            .end_customer_session(&admin, "ada@example.com", bobs_id)
            .await
            .unwrap()
    );
    assert!(desk.session_from_cookie(&bobs).await.is_ok());

    // The admin ends the laptop only; the phone stays signed in.
    assert!(
        desk.end_customer_session(&admin, "ada@example.com", laptop_id)
            .await
            .unwrap()
    );
    assert!(matches!(
        desk.session_from_cookie(&laptop).await,
        Err(DeskError::SessionEnded)
    ));
    assert!(desk.session_from_cookie(&phone).await.is_ok());
    assert!(
        !desk
            .end_customer_session(&admin, "ada@example.com", laptop_id)
            .await
            .unwrap(),
        "already ended"
    );
    let audit = desk
        .audit(
            &admin,
            &keydesk::desk::audit::AuditFilter {
                contact_email: Some("ada@example.com".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "sessions.end_one" && e.actor == "admin1" && e.outcome == "ok")
    );
    assert_eq!(
        desk.customer_sessions(&admin, "ada@example.com")
            .await
            .unwrap()
            .len(),
        1
    );
}
on_every_backend!(staff_end_one, staff_see_and_end_one_customer_session);

async fn two_first_admin_claims_make_one_admin(db: TestDb) {
    // Sixteen claimants, each with its own connection pool like a process
    // of its own, released at once on an empty store.
    let claimants = 16;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(claimants));
    let mut tasks = Vec::new();
    for i in 0..claimants {
        let settings = db::settings_with(&db.url, &std::env::temp_dir(), &[]);
        let store = keydesk::store::Store::connect(&settings.database)
            .await
            .unwrap();
        // Connected before the start, so that all claims meet in the store.
        store.ping().await.unwrap();
        let desk =
            keydesk::desk::Desk::new(store, settings, keydesk::clock::Clock::fixed(people::t0()))
                .unwrap();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            desk.ensure_first_admin(&Identity {
                name: format!("claimant-{i}"),
                source: "local".into(),
            })
            .await
        }));
    }
    let mut told = 0;
    for task in tasks {
        if task.await.unwrap().expect("a claim never errors").is_some() {
            told += 1;
        }
    }
    assert_eq!(told, 1, "exactly one claimant is told they are admin");
    assert_eq!(scan::count_rows(&db.store, "operators").await, 1);
    // Later claims, even by a new name, change nothing.
    let (desk, _) = db::desk(&db);
    assert_eq!(
        desk.ensure_first_admin(&Identity {
            name: "late".into(),
            source: "local".into()
        })
        .await
        .unwrap(),
        None
    );
    assert_eq!(scan::count_rows(&db.store, "operators").await, 1);
}
on_every_backend!(first_admin_race, two_first_admin_claims_make_one_admin);

/// A client that sends exactly this session cookie (a replayed copy).
async fn replay(site: &TestSite, cookie: &str) -> u16 {
    let raw = cookie.split(';').next().unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    http.get(format!("{}/account", site.url))
        .header("cookie", raw)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn replayed_cookies_are_dead_after_logout_login_and_password_change(db: TestDb) {
    let site = TestSite::start(db, &[]).await;
    site.customer("Ada", "ada@example.com", Some(PW)).await;
    let laptop = site.client();
    let first = session_cookie(&laptop.login("ada@example.com", PW).await).unwrap();
    assert_eq!(replay(&site, &first).await, 200);
    // Signing in again on the same browser gives a new id; the old one ends.
    let second = session_cookie(&laptop.login("ada@example.com", PW).await).unwrap();
    assert_ne!(first, second, "a new session id at every sign-in");
    assert_eq!(replay(&site, &first).await, 303);
    assert_eq!(replay(&site, &second).await, 200);
    // Log out: the server forgets the id, not only the browser.
    laptop.submit("/account", "/logout", &[]).await;
    assert_eq!(replay(&site, &second).await, 303);

    // A password change on one device ends the other device's session.
    let phone = Client::new(&site.url);
    let phone_cookie = session_cookie(&phone.login("ada@example.com", PW).await).unwrap();
    let desk_cookie = session_cookie(&laptop.login("ada@example.com", PW).await).unwrap();
    let changed = laptop
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", PW),
                ("new_password", PW2),
                ("confirm_password", PW2),
            ],
        )
        .await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    let renewed = session_cookie(&changed).expect("this device gets a fresh session");
    assert_eq!(replay(&site, &phone_cookie).await, 303);
    assert_eq!(replay(&site, &desk_cookie).await, 303);
    assert_eq!(replay(&site, &renewed).await, 200);
    site.stop().await;
}
on_every_backend!(
    replayed_cookies,
    replayed_cookies_are_dead_after_logout_login_and_password_change
);

fn keydesk(db: &TestDb, home: &std::path::Path, args: &[&str]) -> Output {
    process::keydesk(home)
        .args(args)
        .env("KEYDESK__DATABASE__URL", &db.url)
        .env("KEYDESK__PASSWORD__ARGON2__M_COST", "8192")
        .env("KEYDESK__PASSWORD__ARGON2__T_COST", "1")
        .env("KEYDESK__LOG__LEVEL", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("run keydesk")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_lists_and_ends_one_session_and_shows_temporary_expiry() {
    let db = db::fresh(db::Backend::Sqlite).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    people::make_customer(&db.store, "Ada", "ada@example.com").await;
    people::make_operator(&db.store, &people::os_user(), "admin").await;

    // A generated password is always temporary (ASVS V2.3.1).
    let out = keydesk(
        &db,
        home.path(),
        &[
            "change-password",
            "ada@example.com",
            "--generate",
            "--no-require-change",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");

    // change-password --generate: the expiry is on stderr, the password
    // alone on stdout.
    let out = keydesk(
        &db,
        home.path(),
        &["change-password", "ada@example.com", "--generate"],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(
        note.contains("must be changed at the next sign-in and stops working at"),
        "{note}"
    );
    let password = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    // The binary reads the system clock; so must the sessions made here.
    let settings = db::settings_with(&db.url, home.path(), &[]);
    let desk =
        keydesk::desk::Desk::new(db.store.clone(), settings, keydesk::clock::Clock::system())
            .unwrap();
    let ada = desk
        .authenticate("ada@example.com", &password, CLIENT)
        .await
        .unwrap();
    assert!(ada.must_change_password);
    let one = desk
        .start_session(ada.account_id, "198.51.100.7 · one")
        .await
        .unwrap();
    let two = desk
        .start_session(ada.account_id, "198.51.100.8 · two")
        .await
        .unwrap();
    let two_id = desk.session_from_cookie(&two).await.unwrap().session_id;

    let out = keydesk(&db, home.path(), &["sessions", "ada@example.com"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("198.51.100.7 · one") && listed.contains("198.51.100.8 · two"));
    assert!(listed.starts_with(&format!("{two_id}\t")), "{listed}");

    let id = two_id.to_string();
    let out = keydesk(
        &db,
        home.path(),
        &["sign-out", "ada@example.com", "--session", &id],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("ended site session {id}")));
    assert!(desk.session_from_cookie(&two).await.is_err());
    assert!(desk.session_from_cookie(&one).await.is_ok());
}
