//! ASVS V14.4 (HTTP security headers) over real HTTP against the real
//! router: every kind of response the site can give (pages, the
//! stylesheet, redirects, 403, 404, 405, 413, 415, 400, 429) carries a
//! Content-Type with a charset, the content security policy, `nosniff`,
//! `Referrer-Policy`, `X-Frame-Options` and `frame-ancestors`; an https
//! site adds `Strict-Transport-Security` to every response.

use crate::support::db;
use crate::support::site::{PW, Page, TestSite};

/// The headers V14.4.1, .3, .4, .6 and .7 ask of every response.
fn assert_headers(what: &str, page: &Page) {
    let csp = page
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no CSP"));
    for part in [
        "default-src 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(part), "{what}: CSP {csp} lacks {part}");
    }
    // The only script is the site's own file (/site.js: Show/Hide and the
    // strength meter); no inline code, no other origin may be allowed.
    assert!(
        csp.contains("script-src 'self';") && !csp.contains("script-src 'self' "),
        "{what}: {csp}"
    );
    assert!(!csp.contains("unsafe-"), "{what}: {csp}");
    assert_eq!(
        page.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(
        page.header("referrer-policy"),
        Some("no-referrer"),
        "{what}"
    );
    assert_eq!(page.header("x-frame-options"), Some("DENY"), "{what}");
    let content_type = page
        .header("content-type")
        .unwrap_or_else(|| panic!("{what}: no Content-Type"));
    if content_type.starts_with("text/") {
        assert!(
            content_type.ends_with("; charset=utf-8"),
            "{what}: {content_type}"
        );
    }
    // The content is what the header says.
    if content_type.starts_with("text/html") {
        assert!(
            page.body.starts_with("<!doctype html>"),
            "{what}: {}",
            page.body
        );
    }
}

/// Raw requests the cookie-keeping client does not make.
async fn raw(site: &TestSite, method: &str, path: &str, content_type: &str, body: String) -> Page {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = http
        .request(method.parse().unwrap(), format!("{}{path}", site.url))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    Page {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_has_the_security_headers_and_a_charset() {
    let Some(db) = db::fresh(db::Backend::Sqlite).await else {
        return;
    };
    let site = TestSite::start(db, &[]).await;
    let c = site.client();
    let form = "application/x-www-form-urlencoded";
    let cases: Vec<(&str, u16, Page)> = vec![
        ("login page", 200, c.get("/login").await),
        ("forgot page", 200, c.get("/password/forgot").await),
        ("stylesheet", 200, c.get("/site.css").await),
        ("redirect to log in", 303, c.get("/account").await),
        ("root redirect", 303, c.get("/").await),
        ("unknown page", 404, c.get("/nowhere").await),
        ("dot folder", 404, c.get("/.git/config").await),
        ("unknown link", 404, c.get("/password/reset/AAAA").await),
        (
            "form without CSRF token",
            403,
            c.post("/login", &[("email", "a@b.c"), ("password", "x")])
                .await,
        ),
        (
            "wrong method",
            405,
            raw(&site, "DELETE", "/login", form, String::new()).await,
        ),
        (
            "wrong method on a POST route",
            405,
            raw(&site, "GET", "/logout", form, String::new()).await,
        ),
        (
            "not a form",
            415,
            raw(&site, "POST", "/login", "application/json", "{}".into()).await,
        ),
        (
            "oversized form",
            413,
            raw(&site, "POST", "/login", form, "a=".repeat(10_000)).await,
        ),
        (
            "session id that is not a number",
            400,
            raw(
                &site,
                "POST",
                "/account/sessions/x/end",
                form,
                "csrf=".into(),
            )
            .await,
        ),
    ];
    for (what, status, page) in &cases {
        assert_eq!(page.status, *status, "{what}: {}", page.body);
        assert_headers(what, page);
        if *status == 405 {
            assert_eq!(page.h1(), "Page not found", "{what}");
        }
    }
    // Plain http: no HSTS (a browser ignores it there anyway).
    assert!(cases[0].2.header("strict-transport-security").is_none());
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_site_answers_429_with_the_same_headers() {
    let Some(db) = db::fresh(db::Backend::Sqlite).await else {
        return;
    };
    // Real argon2 cost, one hashing slot, a queue timeout shorter than a hash.
    let site = TestSite::start(
        db,
        &[
            ("KEYDESK__PASSWORD__ARGON2__M_COST", "19456"),
            ("KEYDESK__PASSWORD__ARGON2__T_COST", "2"),
            ("KEYDESK__SITE__MAX_CONCURRENT_HASHES", "1"),
            ("KEYDESK__SITE__HASH_QUEUE_TIMEOUT", "5ms"),
        ],
    )
    .await;
    site.customer("Ada", "ada@example.com", Some(PW)).await;
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let c = site.client();
        tasks.push(tokio::spawn(
            async move { c.login("ada@example.com", PW).await },
        ));
    }
    let mut busy = 0;
    for t in tasks {
        let page = t.await.unwrap();
        assert_headers(&format!("login answered {}", page.status), &page);
        if page.status == 429 {
            busy += 1;
            assert!(page.header("retry-after").is_some());
        }
    }
    assert!(busy > 0, "the flood was never refused");
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_site_sends_hsts_on_every_response() {
    let Some(db) = db::fresh(db::Backend::Sqlite).await else {
        return;
    };
    // Served on 127.0.0.1 behind an https public address.
    let site = TestSite::start_public(db, "https://courses.example.com", &[]).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (method, path, status) in [
        ("GET", "/login", 200),
        ("GET", "/account", 303),
        ("GET", "/nowhere", 404),
        ("DELETE", "/login", 405),
        ("POST", "/login", 403),
        ("GET", "/site.css", 200),
    ] {
        let response = http
            .request(method.parse().unwrap(), format!("{}{path}", site.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("email=a")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
        assert_eq!(
            response
                .headers()
                .get("strict-transport-security")
                .and_then(|v| v.to_str().ok()),
            Some(keydesk::site::headers::HSTS),
            "{method} {path}"
        );
    }
    site.stop().await;
}
