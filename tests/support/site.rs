//! The site under test: the real router served over real HTTP on
//! 127.0.0.1 against a real store (optionally with the outbox worker
//! beside it, as `keydesk serve` runs it), a cookie-keeping HTTP client,
//! customers and an admin made through the store and desk, and the reset
//! link read back from the outbox row desk queued.

use std::time::Duration;

use keydesk::clock::Clock;
use keydesk::desk::{Desk, Identity, Operator};
use keydesk::settings::Settings;
use keydesk::store::Store;
use reqwest::header::HeaderMap;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tokio::sync::oneshot;

use super::db::{self, TestDb};
use super::mailbox::{find_link, newest_body};
use super::people;

/// Settings for the test site: the test database, cheap argon2, no
/// Forgot Password floor, the given base URL and mail folder, the site
/// name "Test Courses", plus `extra` `KEYDESK__...` overrides.
pub fn settings(
    db_url: &str,
    base_url: &str,
    dir: &std::path::Path,
    extra: &[(&str, &str)],
) -> Settings {
    let mut all = vec![
        ("KEYDESK__SITE__BASE_URL", base_url),
        ("KEYDESK__SITE__NAME", "Test Courses"),
    ];
    all.extend_from_slice(extra);
    db::settings_with(db_url, dir, &all)
}

/// A running site.
pub struct TestSite {
    /// Where to connect: `http://127.0.0.1:PORT`, plus the base path for
    /// [`TestSite::start_at`].
    pub url: String,
    /// The desk behind it (same store, same clock).
    pub desk: Desk,
    /// The clock desk reads; tests move it forward.
    pub clock: Clock,
    /// The store.
    pub db: TestDb,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    worker: Option<keydesk::mail::worker::WorkerHandle>,
    _dir: tempfile::TempDir,
}

impl TestSite {
    /// Serves the site over `db` with settings overrides.
    pub async fn start(db: TestDb, extra: &[(&str, &str)]) -> Self {
        Self::start_at(db, "", extra).await
    }

    /// Serves the site with the outbox worker beside it in this process,
    /// as `keydesk serve` does, delivering over plain SMTP to
    /// 127.0.0.1:`smtp_port`.
    pub async fn start_mailing(db: TestDb, smtp_port: u16, extra: &[(&str, &str)]) -> Self {
        let port = smtp_port.to_string();
        let mut all = vec![
            ("KEYDESK__MAIL__TRANSPORT", "smtp"),
            ("KEYDESK__MAIL__SMTP__HOST", "127.0.0.1"),
            ("KEYDESK__MAIL__SMTP__PORT", port.as_str()),
            ("KEYDESK__MAIL__SMTP__TLS", "none"),
        ];
        all.extend_from_slice(extra);
        let mut site = Self::start_at(db, "", &all).await;
        let settings = site.desk.settings().clone();
        let worker = keydesk::mail::worker::Worker::new(
            site.db.store.clone(),
            &settings,
            site.clock.clone(),
            site.desk.outbox_wake(),
        )
        .expect("outbox worker");
        site.worker = Some(worker.spawn());
        site
    }

    /// Like [`TestSite::start`] with `site.base_url` ending in `path`.
    pub async fn start_at(db: TestDb, path: &str, extra: &[(&str, &str)]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}{path}", listener.local_addr().expect("addr"));
        Self::serve(db, listener, url.clone(), &url, extra)
    }

    /// Serves the site on 127.0.0.1 while `site.base_url` is `public`, as
    /// behind a proxy at another address (`url` is where to connect).
    pub async fn start_public(db: TestDb, public: &str, extra: &[(&str, &str)]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        Self::serve(db, listener, url, public, extra)
    }

    fn serve(
        db: TestDb,
        listener: tokio::net::TcpListener,
        url: String,
        base_url: &str,
        extra: &[(&str, &str)],
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let settings = settings(&db.url, base_url, dir.path(), extra);
        let clock = Clock::fixed(chrono::Utc::now());
        let desk = Desk::new(db.store.clone(), settings, clock.clone()).expect("desk");
        let (stop, stopped) = oneshot::channel::<()>();
        let served = desk.clone();
        let task = tokio::spawn(async move {
            keydesk::site::serve(served, listener, async {
                let _ = stopped.await;
            })
            .await
            .expect("site serves");
        });
        Self {
            url,
            desk,
            clock,
            db,
            stop: Some(stop),
            task: Some(task),
            worker: None,
            _dir: dir,
        }
    }

    /// A new browser-like client: its own cookies, no automatic redirects.
    pub fn client(&self) -> Client {
        Client::new(&self.url)
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.db.store
    }

    /// An admin operator (made the first admin on first use).
    pub async fn admin(&self) -> Operator {
        let identity = Identity {
            name: "site-test-admin".into(),
            source: "test".into(),
        };
        self.desk
            .ensure_first_admin(&identity)
            .await
            .expect("first admin");
        self.desk.operator(&identity).await.expect("operator")
    }

    /// A contact with a grant (a Customer); with `password`, set by an
    /// admin as a permanent password.
    pub async fn customer(&self, name: &str, email: &str, password: Option<&str>) -> i64 {
        let id = people::make_customer_at(self.store(), name, email, self.clock.now()).await;
        if let Some(password) = password {
            let op = self.admin().await;
            self.desk
                .change_password(&op, email, password, false)
                .await
                .expect("set password");
        }
        id
    }

    /// A contact who is not a customer.
    pub async fn non_customer(&self, name: &str, email: &str) -> i64 {
        people::make_contact_at(self.store(), name, email, self.clock.now()).await
    }

    /// The newest reset link mailed to `email`, read from the outbox row.
    pub async fn last_link(&self, email: &str) -> Option<String> {
        let body = newest_body(self.store(), email, "reset_link").await?;
        find_link(&body, &self.url)
    }

    /// The newest welcome link mailed to `email`, read from the outbox row.
    pub async fn last_welcome_link(&self, email: &str) -> Option<String> {
        let body = newest_body(self.store(), email, "welcome").await?;
        find_link(&body, &self.url)
    }

    /// How many outbox rows of `kind` were queued for `email`.
    pub async fn outbox_count(&self, email: &str, kind: &str) -> usize {
        use keydesk::store::entity::outbox;
        outbox::Entity::find()
            .filter(outbox::Column::Recipient.eq(email))
            .filter(outbox::Column::Kind.eq(kind))
            .all(self.store().conn())
            .await
            .expect("outbox")
            .len()
    }

    /// Stops the server (and the worker) and waits for them.
    pub async fn stop(mut self) {
        if let Some(worker) = self.worker.take() {
            worker.stop().await;
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

impl Drop for TestSite {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// One HTTP response, read whole.
#[derive(Debug, Clone)]
pub struct Page {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body text.
    pub body: String,
}

impl Page {
    /// The CSRF token of the first form on the page.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let at = self
            .body
            .find(marker)
            .unwrap_or_else(|| panic!("no CSRF field on the page:\n{}", self.body));
        let rest = &self.body[at + marker.len()..];
        rest[..rest.find('"').expect("end of value")].to_owned()
    }

    /// `Location`, for a redirect.
    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no Location (status {})", self.status))
    }

    /// One header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every `Set-Cookie` value.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// The `<main>` element's content (the page without the layout).
    pub fn main(&self) -> &str {
        let start = self.body.find("<main").unwrap_or(0);
        let end = self.body.find("</main>").unwrap_or(self.body.len());
        &self.body[start..end]
    }

    /// The `<h1>` text.
    pub fn h1(&self) -> String {
        let start = self.body.find("<h1>").map_or(0, |i| i + 4);
        let end = self.body[start..]
            .find("</h1>")
            .map_or(start, |i| start + i);
        self.body[start..end].to_owned()
    }
}

/// A cookie-keeping client that does not follow redirects.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    /// A client for the site at `base`.
    pub fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent("site-test/1")
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            base: base.to_owned(),
        }
    }

    /// An absolute URL for a path under the site (or an absolute URL as is).
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    async fn read(response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.expect("body");
        Page {
            status,
            headers,
            body,
        }
    }

    /// GET.
    pub async fn get(&self, path: &str) -> Page {
        Self::read(self.http.get(self.url(path)).send().await.expect("GET")).await
    }

    /// POST a form as is.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        Self::read(
            self.http
                .post(self.url(path))
                .form(fields)
                .send()
                .await
                .expect("POST"),
        )
        .await
    }

    /// POST a form body given byte for byte (duplicate fields, bad UTF-8).
    pub async fn post_raw(&self, path: &str, body: Vec<u8>) -> Page {
        Self::read(
            self.http
                .post(self.url(path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .expect("POST"),
        )
        .await
    }

    /// GET `page`, then POST `fields` plus the page's CSRF token to `action`.
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.get(page).await.csrf();
        let mut all: Vec<(&str, &str)> = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post(action, &all).await
    }

    /// Asks Forgot Password for a link to `email`; returns the response
    /// to the POST.
    pub async fn forgot(&self, email: &str) -> Page {
        self.submit("/password/forgot", "/password/forgot", &[("email", email)])
            .await
    }

    /// Logs in; returns the response to the POST.
    pub async fn login(&self, email: &str, password: &str) -> Page {
        self.submit(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await
    }
}

/// Passwords the policy accepts.
pub const PW: &str = "Gentle-Harbour-Lantern-42";
pub const PW2: &str = "Quiet-Meadow-Compass-77";
pub const PW3: &str = "Silver-Orchard-Ribbon-19";

/// The headers every response carries.
pub fn assert_security_headers(page: &Page) {
    let csp = page.header("content-security-policy").expect("CSP");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("form-action 'self'"), "{csp}");
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
}

/// The `kd_session` Set-Cookie of a response, if any.
pub fn session_cookie(page: &Page) -> Option<String> {
    page.set_cookies()
        .into_iter()
        .find(|c| c.starts_with("kd_session="))
}
