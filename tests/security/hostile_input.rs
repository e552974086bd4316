//! Hostile contact data and hostile tokens against the real site and the
//! real mail path, on a real SQLite store served over real HTTP:
//!
//! - a reset mail to a contact whose name holds ANSI and OSC sequences,
//!   bidi overrides, zero-width characters, CR/LF or 10,000 characters
//!   parses (mail-parser) to exactly the expected headers, one recipient,
//!   a one-line display name with none of those characters;
//! - the pages that show a customer's email escape it and isolate it in
//!   `<bdi>`, so a bidi override cannot reorder the page around it;
//! - every token that is not a live link of ours (wrong length, wrong
//!   alphabet, a session id, someone else's shape, path tricks) gets the
//!   very page an unknown token gets; used, revoked and expired links are
//!   refused and change nothing; a link acts only on its own account.

use std::collections::BTreeSet;
use std::time::Duration;

use mail_parser::MessageParser;

use crate::support::hostile::is_hostile_char;
use crate::support::site::{PW, PW2, TestSite};
use crate::support::{db, mailbox, scan, site};

/// Names a contact might hold when the data came from somewhere hostile.
fn hostile_names() -> Vec<(&'static str, String)> {
    vec![
        ("ansi", "Eve\x1b[2J\x1b[31mRED\x1b[0m\x1b[H".into()),
        ("osc52", "Mallory\x1b]52;c;ZXZpbA==\x07 Copy".into()),
        ("title", "Tess\x1b]0;pwned\x07\x1b]2;pwned\x1b\\".into()),
        (
            "bidi",
            "Admin\u{202e}gnp.exe\u{202c} \u{2067}Iso\u{2069}".into(),
        ),
        (
            "zero-width",
            "pay\u{200b}pal\u{feff}\u{2060}\u{200d}".into(),
        ),
        (
            "crlf",
            "Eve\r\nBcc: victim@evil.example\r\nX-Injected: yes".into(),
        ),
        ("lone cr", "Eve\rTo: other@evil.example".into()),
        ("nul del c1", "Nul\0Del\x7fCsi\u{9b}2J".into()),
        ("html", "<script>alert(1)</script> & \"Co\"".into()),
        ("long", "A".repeat(10_000)),
        ("long mixed", "\u{202e}\x1b[1m\r\n".repeat(2_000)),
    ]
}

/// The top-level header names of a formatted message, in order.
fn header_names(formatted: &str) -> Vec<String> {
    let message = MessageParser::default()
        .parse(formatted.as_bytes())
        .expect("the message parses");
    message
        .headers()
        .iter()
        .map(|h| h.name().to_ascii_lowercase())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_mail_to_a_hostile_name_has_exactly_the_expected_headers() {
    let Some(db) = db::fresh(db::Backend::Sqlite).await else {
        return;
    };
    let site = TestSite::start(db, &[]).await;
    let op = site.admin().await;
    let expected: BTreeSet<String> = [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
    ]
    .map(str::to_owned)
    .into();
    for (i, (label, name)) in hostile_names().into_iter().enumerate() {
        let email = format!("hostile{i}@example.com");
        site.customer(&name, &email, None).await;
        site.desk
            .send_reset_link(&op, &email, false)
            .await
            .unwrap_or_else(|e| panic!("{label}: the reset link was refused: {e}"));
        let rows = mailbox::outbox_rows(site.store()).await;
        let row = rows
            .iter()
            .rev()
            .find(|r| r.recipient == email)
            .unwrap_or_else(|| panic!("{label}: no mail queued"));
        let formatted = row.body.clone().expect("queued mail has a body");

        let head = formatted.split("\r\n\r\n").next().unwrap();
        assert!(head.is_ascii(), "{label}: a header is not 7-bit");
        for line in head.split("\r\n") {
            assert!(
                line.len() <= 998,
                "{label}: a header line of {} bytes",
                line.len()
            );
        }
        let names = header_names(&formatted);
        let distinct: BTreeSet<String> = names.iter().cloned().collect();
        assert_eq!(distinct, expected, "{label}: headers {names:?}");
        assert_eq!(
            names.len(),
            expected.len(),
            "{label}: a header twice: {names:?}"
        );

        let message = MessageParser::default()
            .parse(formatted.as_bytes())
            .unwrap();
        let to: Vec<_> = message.to().unwrap().iter().collect();
        assert_eq!(to.len(), 1, "{label}: one recipient");
        assert_eq!(to[0].address(), Some(email.as_str()), "{label}");
        let shown = to[0].name().unwrap_or_default();
        assert!(
            !shown.chars().any(is_hostile_char),
            "{label}: the display name keeps {shown:?}"
        );
        assert!(
            shown.chars().count() <= 200,
            "{label}: a name of {} chars",
            shown.chars().count()
        );
        assert!(message.bcc().is_none() && message.cc().is_none(), "{label}");
        assert!(message.header("X-Injected").is_none(), "{label}");

        // The bodies greet the same cleaned name; the HTML one isolates it.
        let text = message.body_text(0).unwrap();
        let html = message.body_html(0).unwrap();
        for body in [&text, &html] {
            assert!(
                !body
                    .chars()
                    .any(|c| is_hostile_char(c) && c != '\n' && c != '\r' && c != '\t'),
                "{label}: a body keeps a hostile character"
            );
        }
        assert!(!html.contains("<script>"), "{label}: {html}");
        if !shown.is_empty() {
            assert!(
                html.contains("<bdi>"),
                "{label}: the name is not isolated: {html}"
            );
        }
        // And the link still works.
        let link = mailbox::token_in(&formatted);
        site.desk
            .inspect_reset_link(&link)
            .await
            .unwrap_or_else(|e| panic!("{label}: the mailed link does not work: {e}"));
    }
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_stored_email_gets_a_clean_mail_or_nothing_at_all() {
    let Some(db) = db::fresh(db::Backend::Sqlite).await else {
        return;
    };
    let site = TestSite::start(db, &[]).await;
    let op = site.admin().await;
    // Stored as is (a platform sync, not import, could write these).
    let emails = [
        "eve@example.com\r\nBcc: victim@evil.example",
        "eve@example.com\nX-Injected: yes",
        "eve\x1b]52;c;QQ==\x07@example.com",
        "\"eve\r\nbcc: x@evil.example\"@example.com",
        "eve@example.com, victim@evil.example",
        "Eve <eve@example.com>",
        "moc.live\u{202e}@example.com",
    ];
    for (i, email) in emails.iter().enumerate() {
        site.customer(&format!("Stored {i}"), email, None).await;
        let queued_before = mailbox::outbox_rows(site.store()).await.len();
        let links_before = scan::count_rows(site.store(), "reset_links").await;
        match site.desk.send_reset_link(&op, email, false).await {
            Ok(_) => {
                eprintln!("{email:?}: sent, clean headers");
                let rows = mailbox::outbox_rows(site.store()).await;
                assert_eq!(rows.len(), queued_before + 1, "{email:?}");
                let formatted = rows.last().unwrap().body.clone().unwrap();
                let message = MessageParser::default()
                    .parse(formatted.as_bytes())
                    .unwrap();
                let to: Vec<_> = message.to().unwrap().iter().collect();
                assert_eq!(to.len(), 1, "{email:?}: one recipient");
                assert!(
                    message.bcc().is_none() && message.cc().is_none(),
                    "{email:?}"
                );
                assert!(message.header("X-Injected").is_none(), "{email:?}");
                assert_eq!(header_names(&formatted).len(), 7, "{email:?}");
            }
            Err(err) => {
                eprintln!("{email:?}: refused ({err})");
                // Refused whole: no mail queued, no link stored.
                assert_eq!(
                    mailbox::outbox_rows(site.store()).await.len(),
                    queued_before,
                    "{email:?}: {err}"
                );
                assert_eq!(
                    scan::count_rows(site.store(), "reset_links").await,
                    links_before,
                    "{email:?}: {err}"
                );
            }
        }
    }
    site.stop().await;
}

/// Undoes minijinja's HTML escaping, for comparing what a browser shows.
fn unescape(html: &str) -> String {
    html.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

/// The text of each `<bdi>` element in `html`.
fn isolated(html: &str) -> Vec<String> {
    html.split("<bdi>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</bdi>").map(|(inner, _)| unescape(inner)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_escape_and_isolate_a_hostile_email() {
    let Some(db) = db::fresh(db::Backend::Sqlite).await else {
        return;
    };
    let site = TestSite::start(db, &[]).await;
    let op = site.admin().await;
    // Addresses that would reorder or break a page if shown raw; those
    // import refuses (the bidi one: no mail can reach it) are skipped.
    let candidates = [
        "moc.live\u{202e}@example.com",
        "\"<b>x</b>\"@example.com",
        "a\u{200b}b@example.com",
        "o'brien&co@example.com",
    ];
    let mut shown = 0;
    for (i, email) in candidates.iter().enumerate() {
        // Only what import would store (and mail can reach) is shown.
        if keydesk::import::check_email(email).is_err() {
            continue;
        }
        shown += 1;
        site.customer(&format!("Hostile {i}"), email, Some(PW))
            .await;
        site.desk
            .send_reset_link(&op, email, false)
            .await
            .unwrap_or_else(|e| panic!("{email:?}: {e}"));
        let link = site.last_link(email).await.expect("link mailed");
        let page = site.client().get(&link).await;
        assert_eq!(page.status, 200, "{email:?}");
        assert!(
            isolated(page.main()).iter().any(|t| t == email),
            "{email:?} is not escaped and isolated on the reset page:\n{}",
            page.main()
        );
        assert!(!page.body.contains("<b>x</b>"), "{email:?}: raw HTML");

        let c = site.client();
        assert_eq!(c.login(email, PW).await.status, 303, "{email:?} logs in");
        let account = c.get("/account").await;
        assert_eq!(account.status, 200);
        assert!(
            isolated(account.main()).iter().any(|t| t == email),
            "{email:?} is not escaped and isolated on the account page:\n{}",
            account.main()
        );
        assert!(!account.body.contains("<b>x</b>"), "{email:?}: raw HTML");
    }
    assert!(
        shown >= 2,
        "too few hostile addresses accepted to test: {shown}"
    );
    site.stop().await;
}

/// The `<main>` of a page with its CSRF value blanked, for comparing answers.
fn answer(page: &site::Page) -> (u16, String) {
    let main = page.main().to_owned();
    let main = match main.find("name=\"csrf\" value=\"") {
        Some(at) => {
            let start = at + "name=\"csrf\" value=\"".len();
            let end = start + main[start..].find('"').unwrap_or(0);
            format!("{}{}", &main[..start], &main[end..])
        }
        None => main,
    };
    (page.status, main)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_token_that_is_not_a_live_link_gets_the_unknown_answer() {
    let Some(db) = db::fresh(db::Backend::Sqlite).await else {
        return;
    };
    let site = TestSite::start(db, &[]).await;
    let op = site.admin().await;
    let a = site.customer("Ada", "ada@example.com", Some(PW)).await;
    site.customer("Bo", "bo@example.com", Some(PW)).await;
    site.desk
        .send_reset_link(&op, "ada@example.com", false)
        .await
        .unwrap();
    let link = site.last_link("ada@example.com").await.unwrap();
    let (base, valid) = link.rsplit_once('/').unwrap();
    let base = base.to_owned();
    assert_eq!(valid.len(), 43);
    let account_a = scan::count_rows(site.store(), "accounts").await;
    assert!(account_a >= 1);
    let session = site
        .desk
        .start_session(
            {
                use keydesk::store::entity::account;
                use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
                account::Entity::find()
                    .filter(account::Column::ContactId.eq(a))
                    .one(site.store().conn())
                    .await
                    .unwrap()
                    .unwrap()
                    .id
            },
            "10.0.0.1",
        )
        .await
        .unwrap();

    let c = site.client();
    let unknown = answer(&c.get(&format!("{base}/{}", "A".repeat(43))).await);
    assert_eq!(unknown.0, 404);
    let mut flipped = valid.to_owned().into_bytes();
    flipped[42] = if flipped[42] == b'A' { b'B' } else { b'A' };
    let tries: Vec<(&str, String)> = vec![
        ("one short", valid[..42].to_owned()),
        ("one long", format!("{valid}A")),
        ("doubled", format!("{valid}{valid}")),
        ("empty-ish", "-".into()),
        ("10,000 characters", "A".repeat(10_000)),
        ("standard base64 alphabet", format!("{}+%2F", &valid[..41])),
        ("padding", format!("{}=", &valid[..42])),
        ("a dot", format!("{}.", &valid[..42])),
        ("non-ASCII", format!("{}%C3%A9", &valid[..42])),
        ("percent-encoded slash", format!("{}%2F", &valid[..42])),
        ("NUL", format!("{}%00", &valid[..42])),
        (
            "last character changed",
            String::from_utf8(flipped).unwrap(),
        ),
        ("upper-cased", valid.to_ascii_uppercase()),
        ("a session id", session.clone()),
        (
            "the stored digest",
            keydesk::desk::tokens::sha256_hex(valid),
        ),
        ("path traversal", "..%2F..%2Fetc%2Fpasswd".into()),
    ];
    for (what, token) in &tries {
        if token == valid {
            continue;
        }
        let got = answer(&c.get(&format!("{base}/{token}")).await);
        assert_eq!(got, unknown, "GET with {what} answers differently");
        let csrf = c.get("/login").await.csrf();
        let posted = c
            .post(
                &format!("{base}/{token}"),
                &[
                    ("csrf", &csrf),
                    ("new_password", PW2),
                    ("confirm_password", PW2),
                ],
            )
            .await;
        assert_eq!(posted.status, 404, "POST with {what}");
        assert_eq!(
            answer(&posted).1,
            unknown.1,
            "POST with {what} answers differently"
        );
    }
    // Nothing above changed anyone's password.
    assert_eq!(c.login("ada@example.com", PW).await.status, 303);
    assert_eq!(site.client().login("bo@example.com", PW).await.status, 303);

    // A link acts only on its own account, whoever is signed in.
    let signed_in_as_bo = site.client();
    assert_eq!(
        signed_in_as_bo.login("bo@example.com", PW).await.status,
        303
    );
    let form = signed_in_as_bo.get(&link).await;
    assert_eq!(form.status, 200);
    assert!(form.main().contains("ada@example.com") && !form.main().contains("bo@example.com"));
    let done = signed_in_as_bo
        .post(
            &link,
            &[
                ("csrf", &form.csrf()),
                ("new_password", PW2),
                ("confirm_password", PW2),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        site.client().login("bo@example.com", PW).await.status,
        303,
        "Bo's password is Bo's"
    );
    assert_eq!(
        site.client().login("ada@example.com", PW2).await.status,
        303,
        "Ada's changed"
    );

    // Used, revoked and expired links are refused and change nothing.
    let used = c.get(&link).await;
    assert_eq!(used.status, 410);
    site.desk
        .send_reset_link(&op, "bo@example.com", false)
        .await
        .unwrap();
    let first = site.last_link("bo@example.com").await.unwrap();
    site.desk
        .send_reset_link(&op, "bo@example.com", true)
        .await
        .unwrap();
    let second = site.last_link("bo@example.com").await.unwrap();
    site.clock.advance(Duration::from_secs(6 * 3600 + 1));
    for (what, dead) in [("used", &link), ("revoked", &first), ("expired", &second)] {
        let page = c.get(dead).await;
        assert_eq!(page.status, 410, "{what}");
        assert!(
            page.main().contains("/password/forgot"),
            "{what}: offers a new link"
        );
        let csrf = c.get("/login").await.csrf();
        let posted = c
            .post(
                dead,
                &[
                    ("csrf", &csrf),
                    ("new_password", "never used pw 77 violet"),
                    ("confirm_password", "never used pw 77 violet"),
                ],
            )
            .await;
        assert_eq!(posted.status, 410, "{what}");
    }
    assert_eq!(site.client().login("bo@example.com", PW).await.status, 303);
    assert_eq!(
        site.client().login("ada@example.com", PW2).await.status,
        303
    );
    site.stop().await;
}
