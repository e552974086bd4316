//! ASVS V5 (validation, sanitization and encoding): hostile values from
//! a contact record, a form or a header are HTML-escaped in the site's
//! pages and keep their Unicode; mail to a hostile name cannot gain a
//! header and a template expression in a name stays text; every query
//! binds its values (SQL in a search, an email or a name matches
//! literally and breaks nothing); bad input gets a clear refusal, never a
//! 500, and duplicate or extra fields are not silently used.

use keydesk::desk::DeskError;
use keydesk::store::contacts::{SearchQuery, search_sql};

use crate::on_every_backend;
use crate::support::db::TestDb;
use crate::support::site::{PW, PW2, TestSite, session_cookie};
use crate::support::{db, mailbox, people, scan, site};

const SCRIPT: &str = "<script>alert(1)</script>";

async fn hostile_values_are_escaped_in_pages_and_keep_their_unicode(db: TestDb) {
    let site = TestSite::start(db, &[]).await;
    site.customer(
        &format!("{SCRIPT} ねこ O'Hara {{{{ 7*7 }}}}"),
        "o'hara@example.com",
        Some(PW),
    )
    .await;
    site.customer("ねこ", "ねこ@example.jp", Some(PW2)).await;
    let c = site.client();

    // Reflected: the email typed into Log in comes back escaped.
    let typed = format!("\"><{SCRIPT}{{{{7*7}}}}@example.com");
    let page = c.login(&typed, "Wrong-Password-123456").await;
    assert_eq!(page.status, 422);
    assert!(!page.body.contains(SCRIPT), "{}", page.body);
    assert!(!page.body.contains("\"><"), "{}", page.body);
    assert!(
        page.body
            .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;")
    );
    assert!(
        page.body.contains("{{7*7}}"),
        "a template expression stays text"
    );

    // Stored: a user agent shown in the session list, and an address with
    // an apostrophe on the reset page.
    let hostile_ua = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("<img src=x onerror=alert(1)>")
        .build()
        .unwrap();
    let login = hostile_ua
        .get(format!("{}/login", site.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = site::Page {
        status: 200,
        headers: Default::default(),
        body: login,
    }
    .csrf();
    let done = hostile_ua
        .post(format!("{}/login", site.url))
        .form(&[
            ("csrf", token.as_str()),
            ("email", "o'hara@example.com"),
            ("password", PW),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status().as_u16(), 303);
    let account = hostile_ua
        .get(format!("{}/account", site.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!account.contains("<img src=x"), "{account}");
    assert!(
        account.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{account}"
    );
    assert!(account.contains("o&#x27;hara@example.com"), "{account}");
    assert!(!account.contains("o'hara@example.com"), "{account}");

    let forgot = c.forgot("o'hara@example.com").await;
    assert_eq!(forgot.status, 200);
    let link = site.last_link("o'hara@example.com").await.expect("a link");
    let reset = c.get(&link).await;
    assert_eq!(reset.status, 200);
    assert!(reset.body.contains("o&#x27;hara@example.com"));
    assert!(!reset.body.contains("o'hara"));

    // Unicode comes back as it went in.
    let neko = site.client();
    assert_eq!(neko.login("ねこ@example.jp", PW2).await.status, 303);
    let page = neko.get("/account").await;
    assert!(page.body.contains("ねこ@example.jp"), "{}", page.body);
    assert!(
        page.header("content-type")
            .unwrap()
            .ends_with("charset=utf-8")
    );
    site.stop().await;
}
on_every_backend!(
    escaping,
    hostile_values_are_escaped_in_pages_and_keep_their_unicode
);

async fn mail_to_a_hostile_contact_gains_no_header_and_runs_no_template(db: TestDb) {
    let (desk, _clock) = db::desk(&db);
    let agent = people::make_operator(&db.store, "alex", "agent").await;
    let name = "Eve\r\nBcc: spy@evil.example\r\nX-Injected: yes\nねこ {{ 7*7 }} {% raw %} %s%n{0}";
    people::make_customer(&db.store, name, "eve@example.com").await;
    desk.send_reset_link(&agent, "eve@example.com", false)
        .await
        .expect("a hostile name still gets its mail");
    let rows = mailbox::outbox_rows(&db.store).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].recipient, "eve@example.com");
    let formatted = rows[0].body.clone().expect("queued body");
    let head = formatted
        .split("\r\n\r\n")
        .next()
        .expect("a header block")
        .to_owned();
    for line in head.split("\r\n") {
        let lower = line.to_ascii_lowercase();
        assert!(
            !lower.starts_with("bcc:") && !lower.starts_with("x-injected:"),
            "injected header {line:?}"
        );
    }
    let message = mail_parser::MessageParser::default()
        .parse(formatted.as_bytes())
        .unwrap();
    assert!(message.bcc().is_none());
    assert!(message.header("X-Injected").is_none());
    let to: Vec<_> = message.to().unwrap().iter().collect();
    assert_eq!(to.len(), 1);
    assert_eq!(to[0].address(), Some("eve@example.com"));
    let shown = to[0].name().unwrap_or_default();
    assert!(shown.contains("ねこ"), "{shown}");
    assert!(!shown.contains('\n') && !shown.contains('\r'));
    let text = mailbox::mail_text(&formatted);
    assert!(
        text.contains("{{ 7*7 }}"),
        "the name is text, not a template"
    );
    assert!(!text.contains("Eve 49") && !text.contains(" 49 "), "{text}");
}
on_every_backend!(
    mail_headers,
    mail_to_a_hostile_contact_gains_no_header_and_runs_no_template
);

async fn every_query_binds_its_values(db: TestDb) {
    let (desk, _clock) = db::desk(&db);
    people::make_customer(
        &db.store,
        "Robert'); DROP TABLE contacts;--",
        "bobby@example.com",
    )
    .await;
    people::make_customer(&db.store, "Ada 100% Lovelace_", "ada@example.com").await;
    let conn = db.store.conn();
    let search = |text: &str| SearchQuery {
        text: text.to_owned(),
        ..Default::default()
    };
    let names = |page: keydesk::store::contacts::SearchPage| {
        page.rows.into_iter().map(|r| r.name).collect::<Vec<_>>()
    };
    assert_eq!(
        names(
            search_sql(conn, &search("'); DROP TABLE contacts;--"))
                .await
                .unwrap()
        ),
        vec!["Robert'); DROP TABLE contacts;--".to_owned()]
    );
    assert!(
        names(search_sql(conn, &search("' OR '1'='1")).await.unwrap()).is_empty(),
        "a quote is matched, not executed"
    );
    // LIKE's wildcards match themselves.
    assert_eq!(
        names(search_sql(conn, &search("100%")).await.unwrap()),
        vec!["Ada 100% Lovelace_".to_owned()]
    );
    assert!(names(search_sql(conn, &search("%")).await.unwrap()).len() == 1);
    assert!(names(search_sql(conn, &search("_")).await.unwrap()).len() == 1);

    // Sign-in and Forgot Password with injected emails: plain refusals.
    for email in [
        "' OR '1'='1",
        "bobby@example.com' --",
        "bobby@example.com\"; DROP TABLE accounts; --",
    ] {
        assert!(matches!(
            desk.authenticate(email, PW, "198.51.100.1").await,
            Err(DeskError::BadCredentials)
        ));
        desk.request_reset(email, "198.51.100.1")
            .await
            .expect("same answer as for anyone");
    }
    assert_eq!(scan::count_rows(&db.store, "contacts").await, 2);
    assert_eq!(scan::count_rows(&db.store, "reset_links").await, 0);
    assert_eq!(scan::count_rows(&db.store, "outbox").await, 0);
}
on_every_backend!(sql, every_query_binds_its_values);

async fn a_hostile_name_in_an_audit_row_stays_one_json_string(db: TestDb) {
    let (desk, _clock) = db::desk(&db);
    let agent = people::make_operator(&db.store, "alex", "agent").await;
    let name = "Mallory\", \"reason\": \"ok\", \"x\": {\"\t</script>";
    people::make_contact(&db.store, name, "mallory@example.com").await;
    // Not a customer: the refusal (which names the contact) is audited.
    assert!(matches!(
        desk.send_reset_link(&agent, "mallory@example.com", false)
            .await,
        Err(DeskError::NotACustomer { .. })
    ));
    let rows = desk.audit(&agent, &Default::default()).await.unwrap();
    let refused = rows
        .iter()
        .find(|e| e.outcome == "refused")
        .expect("the refusal is audited");
    let detail = refused.detail.as_object().expect("a JSON object");
    let keys: Vec<&str> = detail.keys().map(String::as_str).collect();
    assert_eq!(keys, vec!["message", "reason"], "no key was injected");
    assert_eq!(detail["reason"], "not_a_customer");
    assert!(
        detail["message"].as_str().unwrap().contains(name),
        "the name is kept whole, as one string"
    );
}
on_every_backend!(
    audit_json,
    a_hostile_name_in_an_audit_row_stays_one_json_string
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_refusal_never_a_crash() {
    let Some(db) = db::fresh(db::Backend::Sqlite).await else {
        return;
    };
    let site = TestSite::start(db, &[]).await;
    site.customer("Ada", "ada@example.com", Some(PW)).await;
    let c = site.client();

    // Oversized, control characters, invalid UTF-8: refused like any
    // wrong sign-in.
    for email in [
        "a".repeat(5000),
        "ada@example.com\u{0}".to_owned(),
        "ada@example.com\r\nX: y".to_owned(),
    ] {
        let page = c.login(&email, PW).await;
        assert_eq!(page.status, 422, "{:?}", &email[..20.min(email.len())]);
        assert!(page.body.contains("The email or password is not correct."));
        assert!(session_cookie(&page).is_none());
    }
    let token = c.get("/login").await.csrf();
    let bad_utf8 = c
        .post_raw(
            "/login",
            format!("csrf={token}&email=%FF%FE%FD&password=x").into_bytes(),
        )
        .await;
    assert!(
        [400, 422].contains(&bad_utf8.status),
        "{}: {}",
        bad_utf8.status,
        bad_utf8.body
    );

    // Duplicated fields (parameter pollution) are refused, not resolved
    // silently to one of the values.
    for body in [
        format!("csrf={token}&csrf=forged&email=ada%40example.com&password={PW}"),
        format!("csrf={token}&email=eve%40example.com&email=ada%40example.com&password={PW}"),
    ] {
        let page = c.post_raw("/login", body.into_bytes()).await;
        assert!(
            page.status == 422 || page.status == 400 || page.status == 403,
            "{}: {}",
            page.status,
            page.body
        );
        assert!(session_cookie(&page).is_none());
    }

    // A session id past i64 is a 400, not an overflow.
    let page = c
        .post_raw(
            "/account/sessions/99999999999999999999999/end",
            format!("csrf={token}").into_bytes(),
        )
        .await;
    assert_eq!(page.status, 400);

    // A password longer than the policy allows: the reason, not a crash.
    assert_eq!(c.login("ada@example.com", PW).await.status, 303);
    let long = "correct horse ".repeat(10);
    let page = c
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", PW),
                ("new_password", long.as_str()),
                ("confirm_password", long.as_str()),
            ],
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(
        page.body.contains("Use at most 128 characters."),
        "{}",
        page.body
    );

    // Unknown notices show nothing; no parameter names a redirect target.
    let page = c.get(&format!("/login?notice={SCRIPT}")).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains(SCRIPT));
    let other = site.client();
    let done = other
        .submit(
            "/login?next=https://evil.example/",
            "/login?next=https://evil.example/",
            &[
                ("email", "ada@example.com"),
                ("password", PW),
                ("next", "https://evil.example/"),
                ("redirect", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(done.status, 303);
    assert_eq!(done.location(), "/account");
    site.stop().await;
}
