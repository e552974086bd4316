//! The customer site over real HTTP on 127.0.0.1, against a real store on
//! SQLite, PostgreSQL and MariaDB: the pages, headers, Log in and its
//! refusals, CSRF, Forgot Password, the hashing bound, base paths and
//! branding. The password pages are in `site_password_pages.rs`.

use std::time::Duration;

use crate::on_every_backend;
use crate::support::db::TestDb;
use crate::support::site::{
    Client, PW, PW2, Page, TestSite, assert_security_headers, session_cookie,
};
use crate::support::{db, mailbox, people};

// ---------------------------------------------------------------------------

async fn pages_carry_labels_headers_and_no_store(db: TestDb) {
    let site = TestSite::start(db, &[]).await;
    let c = site.client();
    let login = c.get("/login").await;
    assert_eq!(login.status, 200);
    assert_security_headers(&login);
    assert_eq!(login.header("cache-control"), Some("no-store"));
    for label in [
        ">Log in</h1>",
        ">Email</label>",
        ">Password</label>",
        ">Log in</button>",
        ">Forgot Password</a>",
    ] {
        assert!(login.body.contains(label), "login page lacks {label}");
    }
    assert!(login.body.contains("Test Courses"), "site name shown");
    let csrf_cookie = login
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("kd_csrf="))
        .expect("csrf cookie set on first visit");
    assert!(csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Lax"));
    assert!(!csrf_cookie.contains("Secure"), "http base_url: no Secure");
    // The nonce is kept: a second visit sets no new cookie.
    assert!(c.get("/login").await.set_cookies().is_empty());

    let forgot = c.get("/password/forgot").await;
    assert_eq!(forgot.status, 200);
    assert_eq!(forgot.h1(), "Forgot Password");
    assert!(forgot.body.contains(">Email</label>"));
    assert_security_headers(&forgot);

    let css = c.get("/site.css").await;
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
    assert_eq!(css.header("cache-control"), Some("public, max-age=3600"));
    assert_security_headers(&css);

    let missing = c.get("/nowhere").await;
    assert_eq!(missing.status, 404);
    assert_security_headers(&missing);
    assert_eq!(missing.h1(), "Page not found");

    // Without a session, account pages send the visitor to log in.
    for path in ["/account", "/password/new", "/"] {
        let page = c.get(path).await;
        assert_eq!(page.status, 303, "{path}");
        assert!(page.location().ends_with("/login") || page.location().ends_with("/account"));
    }
    site.stop().await;
}
on_every_backend!(
    pages_carry_labels_headers_and_no_store_on,
    pages_carry_labels_headers_and_no_store
);

async fn login_account_and_logout(db: TestDb) {
    let site = TestSite::start(db, &[]).await;
    site.customer("Ada Lovelace", "ada@example.com", Some(PW))
        .await;
    let c = site.client();
    let done = c.login("ADA@example.com", PW).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location(), "/account");
    let cookie = session_cookie(&done).expect("session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/")
    );
    assert!(!cookie.contains("Max-Age"), "a browser-session cookie");
    let account = c.get("/account").await;
    assert_eq!(account.status, 200);
    assert_eq!(account.header("cache-control"), Some("no-store"));
    for label in [
        ">Current password</label>",
        ">New password</label>",
        ">Confirm new password</label>",
        ">Sign out everywhere</button>",
        ">Log out</button>",
        "ada@example.com",
        "(this device)",
        "site-test&#x2f;1",
    ] {
        assert!(account.body.contains(label), "account page lacks {label}");
    }
    let out = c.submit("/account", "/logout", &[]).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location(), "/login?notice=signed_out");
    assert!(
        out.set_cookies()
            .iter()
            .any(|c| c.starts_with("kd_session=;") && c.contains("Max-Age=0"))
    );
    assert_eq!(c.get("/account").await.location(), "/login");
    assert!(
        c.get("/login?notice=signed_out")
            .await
            .body
            .contains("You are logged out.")
    );
    site.stop().await;
}
on_every_backend!(login_account_and_logout_on, login_account_and_logout);

async fn wrong_password_and_unknown_email_read_the_same(db: TestDb) {
    let site = TestSite::start(db, &[]).await;
    site.customer("Ada", "ada@example.com", Some(PW)).await;
    site.customer("Nopass", "nopass@example.com", None).await;
    site.non_customer("Bob", "bob@example.com").await;
    let c = site.client();
    let mut mains = Vec::new();
    for email in [
        "ada@example.com",
        "nobody@example.com",
        "bob@example.com",
        "nopass@example.com",
    ] {
        let page = c.login(email, "Wrong-Password-123456").await;
        assert_eq!(page.status, 422, "{email}");
        assert!(page.body.contains("The email or password is not correct."));
        assert!(session_cookie(&page).is_none());
        // The form keeps the email typed; otherwise the pages are one.
        mains.push(
            page.main()
                .replace(email, "EMAIL")
                .replace(&page.csrf(), "TOKEN"),
        );
    }
    assert!(mains.windows(2).all(|w| w[0] == w[1]), "{mains:#?}");
    site.stop().await;
}
on_every_backend!(
    wrong_password_and_unknown_email_read_the_same_on,
    wrong_password_and_unknown_email_read_the_same
);

async fn a_locked_account_says_try_later_or_forgot_password(db: TestDb) {
    let site = TestSite::start(db, &[("KEYDESK__LOGIN__MAX_FAILURES", "3")]).await;
    site.customer("Ada", "ada@example.com", Some(PW)).await;
    let c = site.client();
    for _ in 0..2 {
        assert!(
            c.login("ada@example.com", "nope-nope-nope-1")
                .await
                .body
                .contains("not correct")
        );
    }
    let locked = c.login("ada@example.com", "nope-nope-nope-1").await;
    assert_eq!(locked.status, 422);
    assert!(locked.body.contains("locked"), "{}", locked.main());
    assert!(locked.body.contains("Forgot Password"));
    // The right password does not get in while locked.
    let still = c.login("ada@example.com", PW).await;
    assert_eq!(still.status, 422);
    assert!(still.body.contains("locked"));
    // After the lockout the right password works.
    site.clock.advance(Duration::from_secs(16 * 60));
    assert_eq!(c.login("ada@example.com", PW).await.status, 303);
    site.stop().await;
}
on_every_backend!(
    a_locked_account_says_try_later_or_forgot_password_on,
    a_locked_account_says_try_later_or_forgot_password
);

async fn forms_without_a_good_csrf_token_are_refused(db: TestDb) {
    let site = TestSite::start(db, &[]).await;
    site.customer("Ada", "ada@example.com", Some(PW)).await;
    let c = site.client();
    assert_eq!(c.login("ada@example.com", PW).await.status, 303);
    let account = c.get("/account").await;
    let good = account.csrf();
    site.desk
        .request_reset("ada@example.com", "test")
        .await
        .expect("link");
    let link = site
        .last_link("ada@example.com")
        .await
        .expect("link mailed");
    let reset_path = link.strip_prefix(&site.url).unwrap().to_owned();
    let posts: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "/login",
            vec![("email", "ada@example.com"), ("password", PW)],
        ),
        ("/password/forgot", vec![("email", "ada@example.com")]),
        (
            &reset_path,
            vec![("new_password", PW2), ("confirm_password", PW2)],
        ),
        (
            "/account/password",
            vec![
                ("current_password", PW),
                ("new_password", PW2),
                ("confirm_password", PW2),
            ],
        ),
        (
            "/password/new",
            vec![
                ("current_password", PW),
                ("new_password", PW2),
                ("confirm_password", PW2),
            ],
        ),
        ("/account/sessions/1/end", vec![]),
        ("/account/sign-out-everywhere", vec![]),
        ("/logout", vec![]),
    ];
    let outbox_before = site.outbox_count("ada@example.com", "reset_link").await;
    for (path, fields) in &posts {
        // Missing token.
        let page = c.post(path, fields).await;
        assert_eq!(page.status, 403, "{path} without a token");
        assert_eq!(page.h1(), "This form has expired");
        assert_security_headers(&page);
        // A wrong token.
        let mut wrong = fields.clone();
        wrong.push(("csrf", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
        assert_eq!(
            c.post(path, &wrong).await.status,
            403,
            "{path} with a wrong token"
        );
    }
    // A token from another browser (another nonce) does not work here.
    let other = site.client();
    let foreign = other.get("/password/forgot").await.csrf();
    assert_eq!(
        c.post(
            "/password/forgot",
            &[("csrf", &foreign), ("email", "ada@example.com")]
        )
        .await
        .status,
        403
    );
    // Nothing happened: still signed in, password unchanged, link unused, no mail.
    assert_eq!(c.get("/account").await.status, 200);
    assert_eq!(
        site.outbox_count("ada@example.com", "reset_link").await,
        outbox_before
    );
    assert_eq!(c.get(&reset_path).await.status, 200, "the link still works");
    // And the good token does work.
    assert_eq!(c.post("/logout", &[("csrf", &good)]).await.status, 303);
    let fresh = site.client();
    assert_eq!(fresh.login("ada@example.com", PW).await.status, 303);
    site.stop().await;
}
on_every_backend!(
    forms_without_a_good_csrf_token_are_refused_on,
    forms_without_a_good_csrf_token_are_refused
);

async fn a_token_is_bound_to_the_session(db: TestDb) {
    let site = TestSite::start(db, &[]).await;
    site.customer("Ada", "ada@example.com", Some(PW)).await;
    let c = site.client();
    let anonymous_token = c.get("/login").await.csrf();
    assert_eq!(c.login("ada@example.com", PW).await.status, 303);
    // The token minted before sign-in is not good for the session's forms.
    let page = c
        .post(
            "/account/sign-out-everywhere",
            &[("csrf", &anonymous_token)],
        )
        .await;
    assert_eq!(page.status, 403);
    assert_eq!(c.get("/account").await.status, 200);
    site.stop().await;
}
on_every_backend!(
    a_token_is_bound_to_the_session_on,
    a_token_is_bound_to_the_session
);

/// Everything but the `Date` header, as comparable text.
fn comparable(page: &Page) -> (u16, Vec<(String, String)>, String) {
    let mut headers: Vec<(String, String)> = page
        .headers
        .iter()
        .filter(|(k, _)| k.as_str() != "date")
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("?").to_owned()))
        .collect();
    headers.sort();
    (page.status, headers, page.body.clone())
}

async fn forgot_password_answers_identically(db: TestDb) {
    let site = TestSite::start(db, &[]).await;
    site.customer("Ada", "ada@example.com", Some(PW)).await;
    site.non_customer("Bob", "bob@example.com").await;
    let c = site.client();
    let mut answers = Vec::new();
    for email in ["ada@example.com", "bob@example.com", "nobody@example.com"] {
        let form = c.get("/password/forgot").await;
        let page = c
            .post(
                "/password/forgot",
                &[("csrf", &form.csrf()), ("email", email)],
            )
            .await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains(
            "If that email belongs to an account, a reset link is on its way. Check your spam folder if it does not arrive."
        ));
        assert_security_headers(&page);
        answers.push(comparable(&page));
    }
    assert_eq!(answers[0], answers[1], "customer vs non-customer");
    assert_eq!(answers[0], answers[2], "customer vs unknown");
    // Only the customer got mail.
    assert_eq!(site.outbox_count("ada@example.com", "reset_link").await, 1);
    assert_eq!(site.outbox_count("bob@example.com", "reset_link").await, 0);
    assert_eq!(
        site.outbox_count("nobody@example.com", "reset_link").await,
        0
    );
    site.stop().await;
}
on_every_backend!(
    forgot_password_answers_identically_on,
    forgot_password_answers_identically
);

async fn forgot_password_rate_limit_shows_the_same_answer(db: TestDb) {
    let site = TestSite::start(
        db,
        &[
            ("KEYDESK__FORGOT__PER_EMAIL", "1"),
            ("KEYDESK__FORGOT__PER_CLIENT", "3"),
            ("KEYDESK__RESET__RESEND_COOLDOWN", "1s"),
        ],
    )
    .await;
    site.customer("Ada", "ada@example.com", Some(PW)).await;
    let c = site.client();
    let ask = async |email: &str| {
        let form = c.get("/password/forgot").await;
        c.post(
            "/password/forgot",
            &[("csrf", &form.csrf()), ("email", email)],
        )
        .await
    };
    let first = ask("ada@example.com").await;
    site.clock.advance(Duration::from_secs(5));
    let limited = ask("ada@example.com").await;
    assert_eq!(
        comparable(&first),
        comparable(&limited),
        "a limited request reads the same"
    );
    assert_eq!(
        site.outbox_count("ada@example.com", "reset_link").await,
        1,
        "but sends nothing"
    );
    // Per client: the third and later requests from this address are limited too.
    ask("x1@example.com").await;
    let over = ask("x2@example.com").await;
    assert_eq!(comparable(&first), comparable(&over));
    site.stop().await;
}
on_every_backend!(
    forgot_password_rate_limit_shows_the_same_answer_on,
    forgot_password_rate_limit_shows_the_same_answer
);

async fn a_login_flood_gets_429_not_memory(db: TestDb) {
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
        let c: Client = site.client();
        tasks.push(tokio::spawn(
            async move { c.login("ada@example.com", PW).await },
        ));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        let page = t.await.unwrap();
        if page.status == 429 {
            assert!(page.header("retry-after").is_some());
            assert_eq!(page.h1(), "Too many requests at once");
        }
        statuses.push(page.status);
    }
    assert!(statuses.contains(&303), "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 303 || *s == 429),
        "{statuses:?}"
    );
    site.stop().await;
}
on_every_backend!(
    a_login_flood_gets_429_not_memory_on,
    a_login_flood_gets_429_not_memory
);

async fn a_base_path_prefixes_links_cookies_and_routes(db: TestDb) {
    let site = TestSite::start_at(db, "/help", &[]).await;
    site.customer("Ada", "ada@example.com", Some(PW)).await;
    let c = site.client();
    let login = c.get("/login").await;
    assert_eq!(login.status, 200);
    assert!(login.body.contains("action=\"/help/login\""));
    assert!(login.body.contains("href=\"/help/site.css\""));
    assert!(login.set_cookies()[0].contains("Path=/help"));
    let done = c.login("ada@example.com", PW).await;
    assert_eq!(done.location(), "/help/account");
    assert_eq!(c.get("/account").await.status, 200);
    site.desk
        .request_reset("ada@example.com", "t")
        .await
        .unwrap();
    let link = site.last_link("ada@example.com").await.unwrap();
    assert!(link.starts_with(&format!("{}/", site.url)), "{link}");
    assert_eq!(c.get(&link).await.status, 200);
    // Outside the base path: nothing.
    let root = reqwest::get(site.url.replace("/help", "/login"))
        .await
        .unwrap();
    assert_eq!(root.status(), 404);
    site.stop().await;
}
on_every_backend!(
    a_base_path_prefixes_links_cookies_and_routes_on,
    a_base_path_prefixes_links_cookies_and_routes
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_site_sets_secure_cookies_and_ignores_the_host_header() {
    let Some(db) = db::fresh(db::Backend::Sqlite).await else {
        return;
    };
    // Serve on 127.0.0.1 but claim an https public address.
    let site = TestSite::start_public(db, "https://courses.example.com", &[]).await;
    let store = site.store().clone();
    people::make_customer_at(&store, "Ada", "ada@example.com", chrono::Utc::now()).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http
        .get(format!("{}/login", site.url))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    let cookie = page
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("; Secure"), "{cookie}");
    let nonce = cookie.split(';').next().unwrap().to_owned();
    let body = page.text().await.unwrap();
    assert!(!body.contains("evil.example"));
    let token = Page {
        status: 200,
        headers: Default::default(),
        body,
    }
    .csrf();
    let posted = http
        .post(format!("{}/password/forgot", site.url))
        .header("host", "evil.example")
        .header("cookie", nonce)
        .form(&[("csrf", token.as_str()), ("email", "ada@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    let body = mailbox::newest_body(&store, "ada@example.com", "reset_link")
        .await
        .unwrap();
    assert!(
        body.contains("https://courses.example.com/"),
        "link from site.base_url"
    );
    assert!(!body.contains("evil.example"));
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_can_rebrand_and_translate_the_pages() {
    let Some(db) = db::fresh(db::Backend::Sqlite).await else {
        return;
    };
    let templates = tempfile::tempdir().unwrap();
    std::fs::write(
        templates.path().join("forgot.html"),
        "<h1>Mot de passe oublié</h1><form method=\"post\" action=\"{{ site.base }}/password/forgot\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{{ csrf }}\">\
         <label for=\"email\">Adresse e-mail</label><input id=\"email\" name=\"email\" type=\"email\"></form>",
    )
    .unwrap();
    std::fs::write(templates.path().join("lang"), "fr").unwrap();
    let dir = templates.path().to_str().unwrap().to_owned();
    let site = TestSite::start(
        db,
        &[
            ("KEYDESK__SITE__TEMPLATES_DIR", dir.as_str()),
            ("KEYDESK__SITE__NAME", "Académie <Lumière>"),
            (
                "KEYDESK__SITE__LOGO_URL",
                "https://cdn.example.com/logo.png",
            ),
        ],
    )
    .await;
    let c = site.client();
    let page = c.get("/password/forgot").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.h1(), "Mot de passe oublié");
    assert!(page.body.contains("<html lang=\"fr\">"));
    assert!(
        page.body.contains("Académie &lt;Lumière&gt;"),
        "name escaped"
    );
    assert!(
        page.body
            .contains("src=\"https:&#x2f;&#x2f;cdn.example.com&#x2f;logo.png\"")
    );
    // Pages without an override keep the built-in text.
    assert_eq!(c.get("/login").await.h1(), "Log in");
    // The overridden form still works (CSRF and all).
    let sent = c.forgot("x@example.com").await;
    assert_eq!(sent.status, 200);
    site.stop().await;
}
