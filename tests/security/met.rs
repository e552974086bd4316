//! ASVS requirements of V2 and V3 that the code already met without a
//! test of their own: a session id planted in a browser before sign-in
//! is ended and replaced (V3.2.1, session fixation), and a customer's
//! password never expires nor is checked against their history (V2.1.10).

use std::time::Duration;

use crate::on_every_backend;
use crate::support::db::TestDb;
use crate::support::site::{PW, PW2, TestSite, session_cookie};
use crate::support::{db, people, site};

fn value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_planted_before_sign_in_is_ended_and_replaced() {
    let Some(db) = db::fresh(db::Backend::Sqlite).await else {
        return;
    };
    let site = TestSite::start(db, &[]).await;
    site.customer("Eve", "eve@example.com", Some(PW2)).await;
    site.customer("Ada", "ada@example.com", Some(PW)).await;
    // Eve signs in and plants her session id in a shared browser.
    let eve = site.client();
    let planted = value(&session_cookie(&eve.login("eve@example.com", PW2).await).unwrap());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = http
        .get(format!("{}/login", site.url))
        .header("cookie", format!("kd_session={planted}"))
        .send()
        .await
        .unwrap();
    let nonce = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("kd_csrf="))
        .map(value)
        .unwrap();
    let token = site::Page {
        status: 200,
        headers: Default::default(),
        body: login.text().await.unwrap(),
    }
    .csrf();
    // Ada signs in in that browser.
    let done = http
        .post(format!("{}/login", site.url))
        .header("cookie", format!("kd_session={planted}; kd_csrf={nonce}"))
        .form(&[
            ("csrf", token.as_str()),
            ("email", "ada@example.com"),
            ("password", PW),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status().as_u16(), 303);
    let fresh = done
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("kd_session="))
        .map(value)
        .expect("a new session id");
    assert_ne!(fresh, planted, "sign-in mints a new id");
    assert_eq!(fresh.len(), 43);
    // The planted id no longer opens anything.
    assert!(site.desk.session_from_cookie(&planted).await.is_err());
    let me = site.desk.session_from_cookie(&fresh).await.unwrap();
    assert_eq!(me.email, "ada@example.com");
    site.stop().await;
}

async fn passwords_never_expire_and_history_is_not_checked(db: TestDb) {
    let (desk, clock) = db::desk(&db);
    let admin = people::make_operator(&db.store, "root-ann", "admin").await;
    people::make_customer(&db.store, "Ada", "ada@example.com").await;
    desk.change_password(&admin, "ada@example.com", PW, false)
        .await
        .unwrap();
    // Two years on, the password still works, with nothing to rotate.
    clock.advance(Duration::from_secs(2 * 366 * 24 * 3600));
    let signed = desk
        .authenticate("ada@example.com", PW, "198.51.100.1")
        .await
        .unwrap();
    assert!(!signed.must_change_password);
    // A change, then back to the old password: no history rule.
    let session = desk
        .start_session(signed.account_id, "198.51.100.1")
        .await
        .unwrap();
    let changed = desk.change_own_password(&session, PW, PW2).await.unwrap();
    desk.change_own_password(&changed.session, PW2, PW)
        .await
        .expect("an earlier password may be chosen again");
}
on_every_backend!(
    no_rotation,
    passwords_never_expire_and_history_is_not_checked
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_site_at_the_root_uses_host_prefixed_cookies() {
    let Some(db) = db::fresh(db::Backend::Sqlite).await else {
        return;
    };
    // Served on 127.0.0.1 behind an https public address at the root.
    let site = TestSite::start_public(db, "https://courses.example.com", &[]).await;
    site.customer("Ada", "ada@example.com", Some(PW)).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |path: &str| format!("{}{path}", site.url);
    let set_cookies = |r: &reqwest::Response| -> Vec<String> {
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    };
    let login = http.get(url("/login")).send().await.unwrap();
    let csrf_cookie = set_cookies(&login)
        .into_iter()
        .find(|c| c.starts_with("__Host-kd_csrf="))
        .expect("a __Host- CSRF cookie");
    assert!(csrf_cookie.contains("; Path=/;") && csrf_cookie.ends_with("; Secure"));
    assert!(!csrf_cookie.to_ascii_lowercase().contains("domain="));
    let nonce = value(&csrf_cookie);
    let token = site::Page {
        status: 200,
        headers: Default::default(),
        body: login.text().await.unwrap(),
    }
    .csrf();
    let done = http
        .post(url("/login"))
        .header("cookie", format!("__Host-kd_csrf={nonce}"))
        .form(&[
            ("csrf", token.as_str()),
            ("email", "ada@example.com"),
            ("password", PW),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status().as_u16(), 303);
    let session_cookie = set_cookies(&done)
        .into_iter()
        .find(|c| c.starts_with("__Host-kd_session="))
        .expect("a __Host- session cookie");
    assert!(session_cookie.contains("; Path=/;") && session_cookie.ends_with("; Secure"));
    let session = value(&session_cookie);
    let account = http
        .get(url("/account"))
        .header("cookie", format!("__Host-kd_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(account.status().as_u16(), 200);
    // The unprefixed name, as a sibling or plain-http page could set it,
    // is not read.
    let plain = http
        .get(url("/account"))
        .header("cookie", format!("kd_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status().as_u16(), 303);
    site.stop().await;
}
