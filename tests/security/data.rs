//! ASVS V8 (data protection) on every backend, through the real site and
//! the real outbox worker: a customer's whole journey (log in, Forgot
//! Password, the mailed link, a new password, a change, log out) leaves
//! passwords nowhere and tokens and session ids only as SHA-256 digests
//! in the store, the audit rows and the logs; the mail body is gone once
//! delivered; no page with a form or a session is cached; nothing
//! sensitive rides in a URL but the reset token in its own path; cookies
//! hold only random ids; forms name their fields for password managers;
//! a logged-out cookie opens nothing.

use std::time::Duration;

use keydesk::desk::tokens::sha256_hex;
use keydesk::store::entity::{reset_link, session};
use sea_orm::EntityTrait;

use crate::on_every_backend;
use crate::support::db::TestDb;
use crate::support::site::{PW, PW2, PW3, Page, TestSite, session_cookie};
use crate::support::{db, logs, mailbox, people, scan};

/// The value of a `name=value; ...` Set-Cookie.
fn cookie_value(set_cookie: &str) -> String {
    let pair = set_cookie.split(';').next().unwrap_or_default();
    pair.split_once('=')
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default()
}

/// Checks one response: cache policy, where it redirects, what it sets.
fn check_response(what: &str, page: &Page, reset_token: Option<&str>) {
    assert_eq!(page.header("cache-control"), Some("no-store"), "{what}");
    if let Some(location) = page.header("location") {
        for secret in [PW, PW2, PW3, "ada@example.com", "ada%40example.com"] {
            assert!(!location.contains(secret), "{what}: {location}");
        }
        if let Some(token) = reset_token {
            assert!(!location.contains(token), "{what}: {location}");
        }
    }
    for set in page.set_cookies() {
        let name = set.split('=').next().unwrap_or_default();
        assert!(["kd_session", "kd_csrf"].contains(&name), "{what}: {set}");
        let value = cookie_value(&set);
        assert!(
            value.is_empty()
                || (value.len() == 43
                    && value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')),
            "{what}: a cookie holds only a random id: {set}"
        );
        assert!(set.contains("HttpOnly"), "{what}: {set}");
    }
}

/// Every form posts; password fields say what they hold; nothing blocks
/// paste or password managers.
fn check_forms(what: &str, page: &Page) {
    let body = &page.body;
    for form in body.split("<form").skip(1) {
        let tag = &form[..form.find('>').unwrap_or(form.len())];
        assert!(tag.contains("method=\"post\""), "{what}: <form{tag}>");
    }
    for input in body.split("<input").skip(1) {
        let tag = &input[..input.find('>').unwrap_or(input.len())];
        if tag.contains("type=\"password\"") {
            assert!(
                tag.contains("autocomplete=\"current-password\"")
                    || tag.contains("autocomplete=\"new-password\""),
                "{what}: <input{tag}>"
            );
        }
        if tag.contains("type=\"email\"") {
            assert!(tag.contains("autocomplete=\"username\""), "{what}");
        }
    }
    for blocked in ["onpaste", "oncopy", "autocomplete=\"off\""] {
        assert!(!body.contains(blocked), "{what}: {blocked}");
    }
    // The one script is the site's own file, never inline code.
    for script in body.split("<script").skip(1) {
        assert!(
            script.starts_with(" src=\"") && script.contains("/site.js\""),
            "{what}: <script{script}"
        );
    }
}

async fn eml_with_link(dir: &std::path::Path) -> String {
    for _ in 0..200 {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p: &std::path::PathBuf| p.extension().is_some_and(|x| x == "eml"));
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        for file in files.iter().rev() {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            if mailbox::mail_text(&text).contains(keydesk::desk::reset_links::RESET_PATH) {
                return text;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no reset mail was delivered");
}

async fn a_customer_journey_leaves_secrets_only_as_digests(db: TestDb) {
    let log = logs::captured();
    let mail_dir = tempfile::tempdir().unwrap();
    let dir = mail_dir.path().to_str().unwrap().to_owned();
    let site = TestSite::start(
        db,
        &[
            ("KEYDESK__MAIL__TRANSPORT", "file"),
            ("KEYDESK__MAIL__FILE__DIR", dir.as_str()),
        ],
    )
    .await;
    let worker = keydesk::mail::worker::Worker::new(
        site.db.store.clone(),
        site.desk.settings(),
        site.clock.clone(),
        site.desk.outbox_wake(),
    )
    .unwrap()
    .spawn();
    site.customer("Ada Lovelace", "ada@example.com", Some(PW))
        .await;
    let c = site.client();
    let mut sessions = Vec::new();

    // Log in: the cookie's id is stored only as its digest.
    let login_page = c.get("/login").await;
    check_response("login page", &login_page, None);
    check_forms("login page", &login_page);
    let done = c.login("ada@example.com", PW).await;
    check_response("login", &done, None);
    let raw = cookie_value(&session_cookie(&done).expect("session cookie"));
    let rows = session::Entity::find()
        .all(site.store().conn())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id_sha256, sha256_hex(&raw));
    sessions.push(raw);
    let account = c.get("/account").await;
    check_response("account page", &account, None);
    check_forms("account page", &account);
    let out = c.submit("/account", "/logout", &[]).await;
    check_response("logout", &out, None);
    // The logged-out id opens nothing, even replayed by hand.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let replayed = http
        .get(format!("{}/account", site.url))
        .header("cookie", format!("kd_session={}", sessions[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status().as_u16(), 303);

    // Forgot Password: the link is mailed; the store keeps its digest and,
    // once delivered, nothing else.
    let forgot = c.get("/password/forgot").await;
    check_response("forgot page", &forgot, None);
    check_forms("forgot page", &forgot);
    let asked = c.forgot("ada@example.com").await;
    check_response("forgot", &asked, None);
    let mail = eml_with_link(mail_dir.path()).await;
    let token = mailbox::token_in(&mail);
    let links = reset_link::Entity::find()
        .all(site.store().conn())
        .await
        .unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].token_sha256, sha256_hex(&token));
    for _ in 0..200 {
        if scan::places_holding(site.store(), &token).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        scan::places_holding(site.store(), &token).await,
        Vec::<String>::new(),
        "the delivered mail's body is cleared"
    );

    // The link's page and its form.
    let path = format!("{}{token}", keydesk::site::RESET_PATH);
    let reset = c.get(&path).await;
    assert_eq!(reset.status, 200);
    check_response("reset page", &reset, Some(&token));
    check_forms("reset page", &reset);
    let set = c
        .submit(
            &path,
            &path,
            &[("new_password", PW2), ("confirm_password", PW2)],
        )
        .await;
    assert_eq!(set.status, 303, "{}", set.body);
    check_response("reset", &set, Some(&token));
    let used = c.get(&path).await;
    check_response("used link", &used, Some(&token));

    // A change from account settings.
    let again = c.login("ada@example.com", PW2).await;
    check_response("login again", &again, None);
    sessions.push(cookie_value(&session_cookie(&again).unwrap()));
    let changed = c
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", PW2),
                ("new_password", PW3),
                ("confirm_password", PW3),
            ],
        )
        .await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    check_response("change", &changed, None);
    sessions.push(cookie_value(&session_cookie(&changed).unwrap()));
    let wrong = c
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
    check_response("refused change", &wrong, None);
    assert_eq!(wrong.status, 422);
    let missing = c.get("/nowhere").await;
    check_response("404", &missing, None);

    // Digests only: no password, token or session id in any table
    // (audit rows included), and none in any log line.
    for secret in [PW, PW2, PW3, token.as_str()]
        .into_iter()
        .chain(sessions.iter().map(String::as_str))
    {
        assert_eq!(
            scan::places_holding(site.store(), secret).await,
            Vec::<String>::new(),
            "a secret is stored"
        );
    }
    worker.stop().await;
    site.stop().await;
    let log = String::from_utf8_lossy(&log.bytes()).into_owned();
    assert!(!log.trim().is_empty(), "logging was captured");
    for secret in [PW, PW2, PW3, token.as_str()]
        .into_iter()
        .chain(sessions.iter().map(String::as_str))
    {
        assert!(!log.contains(secret), "a secret was logged");
    }
    // Logs name a customer by contact id, never by address (V7.1.2).
    assert!(
        !log.contains("ada@example.com"),
        "an email address was logged"
    );
}
on_every_backend!(journey, a_customer_journey_leaves_secrets_only_as_digests);

async fn ended_sessions_and_old_counters_are_purged(db: TestDb) {
    let (desk, clock) = db::desk(&db);
    let admin = people::make_operator(&db.store, "root-ann", "admin").await;
    people::make_customer(&db.store, "Ada", "ada@example.com").await;
    desk.change_password(&admin, "ada@example.com", PW, false)
        .await
        .unwrap();
    let account = desk
        .authenticate("ada@example.com", PW, "198.51.100.1")
        .await
        .unwrap()
        .account_id;
    // Day 0: one session signed out, one left to expire; a Forgot
    // Password request starts rate-limit windows.
    let signed_out = desk
        .start_session(account, "198.51.100.1 · a")
        .await
        .unwrap();
    desk.end_session(&signed_out).await.unwrap();
    desk.start_session(account, "198.51.100.1 · b")
        .await
        .unwrap();
    desk.request_reset("ada@example.com", "198.51.100.1")
        .await
        .unwrap();
    assert!(scan::count_rows(&db.store, "throttles").await > 0);
    // Day 31: a session just ended and a live one stay; new windows stay.
    clock.advance(Duration::from_secs(31 * 24 * 3600));
    let recent = desk
        .start_session(account, "198.51.100.2 · c")
        .await
        .unwrap();
    desk.end_session(&recent).await.unwrap();
    let live = desk
        .start_session(account, "198.51.100.2 · d")
        .await
        .unwrap();
    let before = scan::count_rows(&db.store, "throttles").await;
    desk.request_reset("ada@example.com", "198.51.100.2")
        .await
        .unwrap();
    let fresh_windows = scan::count_rows(&db.store, "throttles").await - before;
    assert!(fresh_windows > 0);

    let purged = desk.purge_stale().await.unwrap();
    assert_eq!(purged.sessions, 2, "the two day-0 sessions");
    assert!(purged.throttles > 0, "the day-0 windows");
    let windows = keydesk::store::entity::throttle::Entity::find()
        .all(db.store.conn())
        .await
        .unwrap();
    assert!(i64::try_from(windows.len()).unwrap() >= fresh_windows);
    assert!(
        windows.iter().all(|w| w.window_started_at == clock.now()),
        "only this month's windows are left"
    );
    let left: Vec<String> = session::Entity::find()
        .all(db.store.conn())
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.client)
        .collect();
    assert_eq!(left.len(), 2);
    assert!(
        left.iter().all(|c| c.starts_with("198.51.100.2")),
        "{left:?}"
    );
    assert_eq!(
        desk.session_from_cookie(&live).await.unwrap().account_id,
        account
    );
    // Nothing more to do the second time.
    assert_eq!(
        desk.purge_stale().await.unwrap(),
        keydesk::desk::retention::Purged::default()
    );
}
on_every_backend!(retention, ended_sessions_and_old_counters_are_purged);

#[test]
fn password_forms_and_hashing_copies_are_wiped() {
    // The site's password forms wipe their fields when dropped, so a
    // password does not linger in freed memory after the request.
    fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    wiped_on_drop::<keydesk::site::login::LoginForm>();
    wiped_on_drop::<keydesk::site::account::ChangeForm>();
    wiped_on_drop::<keydesk::site::reset::ResetForm>();
    // What desk hands the hashing threads is a `Zeroizing` copy: wiping
    // it leaves nothing of the password.
    let mut copy = zeroize::Zeroizing::new(PW.to_owned());
    zeroize::Zeroize::zeroize(&mut *copy);
    assert!(copy.is_empty());
}
