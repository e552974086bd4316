//! ASVS V7.1 and V7.3: the real subscriber (`keydesk::logging::subscriber`,
//! what `init` installs), writing into a buffer. Records are one line each
//! whatever a value holds (a forged line in an email, a client address or a
//! plain Display value cannot start a new record), timestamps are UTC,
//! JSON lines parse, no password reaches the log, and the site's refusals
//! (bad CSRF, failed sign-in, unusable reset link) are logged with the
//! client address.

use keydesk::settings::{LogFormat, LogSettings};
use tracing_subscriber::fmt::writer::BoxMakeWriter;

use crate::support::logs::Buffer;
use crate::support::site::{PW, TestSite};
use crate::support::{db, people};

fn install(format: LogFormat) -> (Buffer, tracing::subscriber::DefaultGuard) {
    let buffer = Buffer::default();
    let sink = buffer.clone();
    let settings = LogSettings {
        level: "info".into(),
        format,
        file: String::new(),
    };
    let subscriber =
        keydesk::logging::subscriber(&settings, BoxMakeWriter::new(move || sink.clone()))
            .expect("subscriber");
    (buffer, tracing::subscriber::set_default(subscriber))
}

const FORGED: &str = "2026-01-01T00:00:00.000000Z  INFO keydesk: customer signed in contact=1";

/// The first field of a text record is its RFC 3339 UTC timestamp.
fn assert_text_record(line: &str) {
    let stamp = line.split_whitespace().next().unwrap_or_default();
    let at = chrono::DateTime::parse_from_rfc3339(stamp)
        .unwrap_or_else(|e| panic!("line does not start with a timestamp ({e}): {line:?}"));
    assert_eq!(at.offset().local_minus_utc(), 0, "UTC: {line}");
    assert!(stamp.ends_with('Z'), "{stamp}");
    assert_ne!(line, FORGED);
}

async fn log_hostile_values(db: &db::TestDb) {
    tracing::info!(event = "probe", value = %format!("ok\n{FORGED}\r\x1b[2J"), "display value");
    tracing::info!(event = "probe", value = ?format!("ok\n{FORGED}"), "debug value");
    people::make_customer(&db.store, "Ada", "ada@example.com").await;
    let (desk, _) = db::desk(db);
    let admin = people::make_operator(&db.store, "admin1", "admin").await;
    desk.change_password(&admin, "ada@example.com", PW, false)
        .await
        .unwrap();
    // A failed sign-in with a hostile client string and a wrong password.
    let _ = desk
        .authenticate(
            "ada@example.com",
            "Wrong-Password-Zebra-91",
            &format!("203.0.113.9\n{FORGED}"),
        )
        .await
        .unwrap_err();
    let _ = desk
        .authenticate(&format!("x@example.com\n{FORGED}"), PW, "203.0.113.9")
        .await
        .unwrap_err();
}

#[tokio::test]
async fn text_records_stay_one_line_each_in_utc_without_secrets() {
    let db = db::fresh(db::Backend::Sqlite).await.unwrap();
    let (buffer, _guard) = install(LogFormat::Text);
    log_hostile_values(&db).await;
    let text = buffer.text();
    assert!(text.contains("event=\"probe\"") || text.contains("event=probe"));
    assert!(text.contains("login.failed"), "{text}");
    assert!(text.contains("203.0.113.9"), "{text}");
    for line in text.lines() {
        assert_text_record(line);
        assert!(!line.contains('\r') && !line.contains('\x1b'), "{line:?}");
    }
    assert!(
        text.contains("\\u{1b}[2J"),
        "escape sequences are written escaped"
    );
    for secret in [PW, "Wrong-Password-Zebra-91"] {
        assert!(!text.contains(secret), "a password reached the log");
    }
}

#[tokio::test]
async fn json_records_parse_one_per_line_in_utc() {
    let db = db::fresh(db::Backend::Sqlite).await.unwrap();
    let (buffer, _guard) = install(LogFormat::Json);
    log_hostile_values(&db).await;
    let text = buffer.text();
    let mut events = Vec::new();
    for line in text.lines() {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let at = value["timestamp"].as_str().expect("timestamp");
        assert!(
            chrono::DateTime::parse_from_rfc3339(at).is_ok() && at.ends_with('Z'),
            "{at}"
        );
        if let Some(event) = value["event"].as_str() {
            events.push(event.to_owned());
        }
    }
    assert_eq!(
        events.iter().filter(|e| *e == "login.failed").count(),
        2,
        "{text}"
    );
    let probe: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "probe")
        .collect();
    assert!(
        probe[0]["value"]
            .as_str()
            .unwrap()
            .contains(&format!("ok\n{FORGED}")),
        "the value survives intact inside the JSON string"
    );
    assert!(!text.contains(PW) && !text.contains("Wrong-Password-Zebra-91"));
}

#[tokio::test]
async fn site_refusals_are_logged_with_the_client_address() {
    let db = db::fresh(db::Backend::Sqlite).await.unwrap();
    let (buffer, _guard) = install(LogFormat::Text);
    let site = TestSite::start(db, &[]).await;
    site.customer("Ada", "ada@example.com", Some(PW)).await;
    let c = site.client();
    // A form without its CSRF token.
    let refused = c
        .post("/login", &[("email", "ada@example.com"), ("password", PW)])
        .await;
    assert_eq!(refused.status, 403);
    // A failed sign-in.
    assert_eq!(
        c.login("ada@example.com", "Wrong-Password-Zebra-91")
            .await
            .status,
        422
    );
    // A reset link that does not exist.
    let bad = format!("/password/reset/{}", "A".repeat(43));
    assert_eq!(c.get(&bad).await.status, 404);
    site.stop().await;
    let text = buffer.text();
    for event in ["csrf.refused", "login.failed", "reset_link.refused"] {
        let line = text
            .lines()
            .find(|l| l.contains(event))
            .unwrap_or_else(|| panic!("no {event} record in:\n{text}"));
        assert!(line.contains("127.0.0.1"), "{line}");
    }
    assert!(!text.contains(PW) && !text.contains("Wrong-Password-Zebra-91"));
    assert!(
        !text.contains(&"A".repeat(43)),
        "the presented token is not logged"
    );
}

#[tokio::test]
async fn a_panicking_handler_gets_the_generic_page_and_the_server_goes_on() {
    let (buffer, _guard) = install(LogFormat::Text);
    let app = axum::Router::new()
        .route(
            "/boom",
            axum::routing::get(|| async {
                panic!("secret detail 4f1e");
                #[expect(
                    unreachable_code,
                    reason = "the handler's type needs a body after the panic"
                )]
                ""
            }),
        )
        .route("/ok", axum::routing::get(|| async { "fine" }))
        .layer(axum::middleware::from_fn(
            keydesk::site::last_resort::catch_panic,
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::new();
    let boom = http
        .get(format!("http://{addr}/boom"))
        .send()
        .await
        .unwrap();
    assert_eq!(boom.status().as_u16(), 500);
    let body = boom.text().await.unwrap();
    assert!(body.contains("Something went wrong"), "{body}");
    assert!(!body.contains("4f1e"), "no panic detail for the visitor");
    let ok = http.get(format!("http://{addr}/ok")).send().await.unwrap();
    assert_eq!(ok.text().await.unwrap(), "fine");
    assert!(buffer.text().contains("a site request panicked"));
    server.abort();
}
