//! Tests for mail composition: parse-level checks of lettre's output with an
//! independent parser (mail-parser), header injection, template overrides.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{TimeDelta, TimeZone};
use mail_parser::{MessageParser, MimeHeaders};

use super::*;
use crate::settings::Sources;

const BASE: &str = "https://courses.example.com";
const TOKEN_LINK: &str =
    "https://courses.example.com/password/reset/q3Zk9_Vw-4tXbN2mPzL8yR0cHs6uJdE1fGaT7oWiKQe";

fn settings(env: &[(&str, &str)]) -> Settings {
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    map.insert("KEYDESK__SITE__BASE_URL".into(), BASE.into());
    map.insert("KEYDESK__SITE__NAME".into(), "Course Platform".into());
    for (k, v) in env {
        map.insert((*k).to_owned(), (*v).to_owned());
    }
    Settings::load(&Sources {
        file: None,
        skip_system_files: true,
        env: Some(map),
        data_dir: Some(PathBuf::from("/tmp/kd-compose-tests")),
    })
    .unwrap()
}

pub(crate) fn composer() -> Composer {
    Composer::new(&settings(&[])).unwrap()
}

pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 3, 12, 30, 0).unwrap()
}

pub(crate) fn maria() -> Recipient {
    Recipient {
        name: "Maria Garcia".into(),
        email: "maria.garcia@example.com".into(),
    }
}

fn reset_for(to: &Recipient) -> Composed {
    composer()
        .reset_link(to, TOKEN_LINK, now() + TimeDelta::hours(6), now())
        .unwrap()
}

/// The top-level header block, unfolded: one entry per header line.
fn header_lines(formatted: &str) -> Vec<String> {
    let head = formatted.split("\r\n\r\n").next().unwrap();
    let mut lines: Vec<String> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            lines.last_mut().unwrap().push_str(line);
        } else {
            lines.push(line.to_owned());
        }
    }
    lines
}

fn count_header(formatted: &str, name: &str) -> usize {
    let prefix = format!("{}:", name.to_ascii_lowercase());
    header_lines(formatted)
        .iter()
        .filter(|l| l.to_ascii_lowercase().starts_with(&prefix))
        .count()
}

#[test]
fn a_reset_message_has_each_header_once_and_both_parts() {
    let composed = reset_for(&maria());
    let f = &composed.formatted;
    for name in [
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "MIME-Version",
        "Content-Type",
    ] {
        assert_eq!(count_header(f, name), 1, "{name} in\n{f}");
    }
    assert_eq!(count_header(f, "Reply-To"), 0);
    assert_eq!(count_header(f, "Bcc"), 0);
    assert!(f.is_ascii(), "the formatted message is 7-bit clean");
    assert_eq!(composed.recipient, "maria.garcia@example.com");
    assert_eq!(composed.subject, "Reset your Course Platform password");

    let msg = MessageParser::default().parse(f.as_bytes()).unwrap();
    assert_eq!(msg.subject(), Some("Reset your Course Platform password"));
    let from = msg.from().unwrap().first().unwrap();
    assert_eq!(from.name(), Some("Support"));
    assert_eq!(from.address(), Some("support@example.com"));
    let to = msg.to().unwrap().first().unwrap();
    assert_eq!(to.name(), Some("Maria Garcia"));
    assert_eq!(to.address(), Some("maria.garcia@example.com"));
    assert_eq!(msg.to().unwrap().iter().count(), 1);
    assert_eq!(msg.date().unwrap().to_timestamp(), now().timestamp());
    assert!(msg.message_id().is_some_and(|id| id.contains('@')));
    let ct = msg.content_type().unwrap();
    assert_eq!(ct.ctype(), "multipart");
    assert_eq!(ct.subtype(), Some("alternative"));
    assert_eq!(msg.text_body_count(), 1);
    assert_eq!(msg.html_body_count(), 1);
}

#[test]
fn the_link_the_expiry_and_the_advice_are_in_both_parts() {
    let composed = reset_for(&maria());
    let msg = MessageParser::default()
        .parse(composed.formatted.as_bytes())
        .unwrap();
    let text = msg.body_text(0).unwrap();
    let html = msg.body_html(0).unwrap();
    for (part, body) in [("text", &text), ("html", &html)] {
        assert!(body.contains(TOKEN_LINK), "{part}:\n{body}");
        assert!(
            body.replace("<bdi>", "")
                .replace("</bdi>", "")
                .contains("Hello Maria Garcia,"),
            "{part}:\n{body}"
        );
        assert!(body.contains("in 6 hours"), "{part}:\n{body}");
        assert!(
            body.contains("3 March 2025 at 18:30 UTC"),
            "{part}:\n{body}"
        );
        assert!(body.contains("Course Platform"), "{part}:\n{body}");
        assert!(
            body.contains("Ignore this email: your password stays the same"),
            "{part}:\n{body}"
        );
    }
    assert!(html.contains(&format!("href=\"{TOKEN_LINK}\"")), "{html}");
    // The text part is plain text, not HTML.
    assert!(!text.contains('<'), "{text}");
}

#[test]
fn a_non_ascii_name_is_encoded_in_to_and_decodes_back() {
    let to = Recipient {
        name: "Zoë Ångström-Łukasz 東京".into(),
        email: "zoe@example.com".into(),
    };
    let composed = reset_for(&to);
    let to_line = header_lines(&composed.formatted)
        .into_iter()
        .find(|l| l.starts_with("To:"))
        .unwrap();
    assert!(to_line.is_ascii());
    assert!(
        to_line.to_ascii_lowercase().contains("=?utf-8?"),
        "{to_line}"
    );
    assert!(to_line.ends_with("<zoe@example.com>"), "{to_line}");
    let msg = MessageParser::default()
        .parse(composed.formatted.as_bytes())
        .unwrap();
    assert_eq!(
        msg.to().unwrap().first().unwrap().name(),
        Some("Zoë Ångström-Łukasz 東京")
    );
    let text = msg.body_text(0).unwrap();
    assert!(text.contains("Hello Zoë Ångström-Łukasz 東京,"), "{text}");
}

const INJECTION: &str = "Eve\r\nBcc: victim@evil.example\r\nX-Injected: yes";

fn assert_no_injection(formatted: &str) {
    for line in header_lines(formatted) {
        let lower = line.to_ascii_lowercase();
        assert!(
            !lower.starts_with("bcc:") && !lower.starts_with("x-injected:"),
            "injected header line {line:?} in\n{formatted}"
        );
    }
    let msg = MessageParser::default()
        .parse(formatted.as_bytes())
        .unwrap();
    assert!(msg.bcc().is_none());
    assert!(msg.header("X-Injected").is_none());
    assert_eq!(msg.to().unwrap().iter().count(), 1);
}

#[test]
fn cr_lf_in_a_display_name_cannot_inject_a_header() {
    let to = Recipient {
        name: INJECTION.into(),
        email: "eve@example.com".into(),
    };
    let composed = reset_for(&to);
    assert_no_injection(&composed.formatted);
    let msg = MessageParser::default()
        .parse(composed.formatted.as_bytes())
        .unwrap();
    let to = msg.to().unwrap().first().unwrap();
    assert_eq!(to.address(), Some("eve@example.com"));
    assert_eq!(
        to.name(),
        Some("Eve Bcc: victim@evil.example X-Injected: yes")
    );
    assert_eq!(count_header(&composed.formatted, "To"), 1);
}

#[test]
fn lettre_alone_panics_on_cr_lf_in_a_name_which_is_why_names_are_cleaned_first() {
    // lettre 0.11.23's `Mailbox` Display returns fmt::Error on CR/LF, and its
    // header code turns that into a panic (`to_string`). Injection-safe, but
    // a crash: so the composer reduces every name to one line first.
    let built = std::panic::catch_unwind(|| {
        let mailbox = Mailbox::new(
            Some(INJECTION.to_owned()),
            "eve@example.com".parse().unwrap(),
        );
        let message = Message::builder()
            .from("Support <support@example.com>".parse().unwrap())
            .to(mailbox)
            .subject("Hello")
            .body(String::from("body"))
            .unwrap();
        String::from_utf8(message.formatted()).unwrap()
    });
    if let Ok(formatted) = built {
        // A later lettre that encodes instead of panicking must still be safe.
        assert_no_injection(&formatted);
    }
    let cleaned = one_line(INJECTION);
    assert!(!cleaned.contains(['\r', '\n']), "{cleaned:?}");
}

#[test]
fn lettre_alone_encodes_cr_lf_in_a_subject() {
    let message = Message::builder()
        .from("Support <support@example.com>".parse().unwrap())
        .to("eve@example.com".parse().unwrap())
        .subject("Hello\r\nBcc: victim@evil.example\r\nX-Injected: yes")
        .body(String::from("body"))
        .unwrap();
    let formatted = String::from_utf8(message.formatted()).unwrap();
    assert_no_injection(&formatted);
}

#[test]
fn a_configured_sender_name_with_a_line_break_is_cleaned_not_fatal() {
    let mailbox = parse_mailbox(
        "mail.from",
        "\"Support\r\nBcc: x@evil.example\" <support@example.com>",
    );
    if let Ok(mailbox) = mailbox {
        assert!(!mailbox.name.unwrap_or_default().contains(['\r', '\n']));
    }
}

#[test]
fn cr_lf_in_the_site_name_cannot_inject_into_the_subject() {
    let composer = Composer::new(&settings(&[(
        "KEYDESK__SITE__NAME",
        "Evil\r\nBcc: victim@evil.example",
    )]))
    .unwrap();
    let composed = composer.password_changed(&maria(), now(), false).unwrap();
    assert_no_injection(&composed.formatted);
    assert_eq!(
        composed.subject,
        "Your Evil Bcc: victim@evil.example password was changed"
    );
}

#[test]
fn html_in_a_name_is_escaped_in_the_html_part() {
    let to = Recipient {
        name: "<script>alert(1)</script> & Co".into(),
        email: "x@example.com".into(),
    };
    let composed = reset_for(&to);
    let msg = MessageParser::default()
        .parse(composed.formatted.as_bytes())
        .unwrap();
    let html = msg.body_html(0).unwrap();
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");
    assert!(html.contains("&amp; Co"), "{html}");
}

#[test]
fn reply_to_is_set_once_when_configured_and_support_uses_it() {
    let composer = Composer::new(&settings(&[(
        "KEYDESK__MAIL__REPLY_TO",
        "Help Desk <help@courses.example.com>",
    )]))
    .unwrap();
    let composed = composer.password_changed(&maria(), now(), false).unwrap();
    assert_eq!(count_header(&composed.formatted, "Reply-To"), 1);
    let msg = MessageParser::default()
        .parse(composed.formatted.as_bytes())
        .unwrap();
    let reply_to = msg.reply_to().unwrap().first().unwrap();
    assert_eq!(reply_to.address(), Some("help@courses.example.com"));
    assert!(
        msg.body_text(0)
            .unwrap()
            .contains("help@courses.example.com")
    );
}

#[test]
fn the_password_changed_notice_says_when_who_and_what_to_do() {
    let composer = composer();
    for by_staff in [true, false] {
        let composed = composer
            .password_changed(&maria(), now(), by_staff)
            .unwrap();
        assert_eq!(
            composed.subject,
            "Your Course Platform password was changed"
        );
        let msg = MessageParser::default()
            .parse(composed.formatted.as_bytes())
            .unwrap();
        assert_eq!(msg.date().unwrap().to_timestamp(), now().timestamp());
        let text = msg.body_text(0).unwrap();
        let html = msg.body_html(0).unwrap();
        for (part, body) in [("text", &text), ("html", &html)] {
            assert!(
                body.replace("<bdi>", "")
                    .replace("</bdi>", "")
                    .contains("Hello Maria Garcia,"),
                "{part}:\n{body}"
            );
            assert!(
                body.contains("3 March 2025 at 12:30 UTC"),
                "{part}:\n{body}"
            );
            assert!(
                body.contains(&format!("{BASE}/password/forgot")),
                "{part}:\n{body}"
            );
            assert!(body.contains("Forgot Password"), "{part}:\n{body}");
            assert!(body.contains("support@example.com"), "{part}:\n{body}");
            assert_eq!(
                body.contains("support staff"),
                by_staff,
                "{part} by_staff={by_staff}:\n{body}"
            );
        }
    }
}

#[test]
fn an_override_folder_replaces_only_the_templates_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("reset_link.txt"),
        "OVERRIDDEN for {{ name }}: {{ link }} ({{ expires_in }})\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("reset_link.subject.txt"),
        "{{ site_name }}: your reset link",
    )
    .unwrap();
    let composer = Composer::new(&settings(&[(
        "KEYDESK__MAIL__TEMPLATES_DIR",
        dir.path().to_str().unwrap(),
    )]))
    .unwrap();
    let composed = composer
        .reset_link(&maria(), TOKEN_LINK, now() + TimeDelta::hours(6), now())
        .unwrap();
    assert_eq!(composed.subject, "Course Platform: your reset link");
    let msg = MessageParser::default()
        .parse(composed.formatted.as_bytes())
        .unwrap();
    assert_eq!(
        msg.body_text(0).unwrap().trim_end(),
        format!("OVERRIDDEN for Maria Garcia: {TOKEN_LINK} (in 6 hours)")
    );
    // The HTML part is still the built-in one.
    assert!(msg.body_html(0).unwrap().contains("Choose a new password"));
}

#[test]
fn a_broken_override_is_a_clear_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("password_changed.html");
    std::fs::write(&path, "<p>{% if by_staff %}unclosed\n").unwrap();
    let err = Composer::new(&settings(&[(
        "KEYDESK__MAIL__TEMPLATES_DIR",
        dir.path().to_str().unwrap(),
    )]))
    .unwrap_err();
    assert!(matches!(err, ComposeError::Template { .. }), "{err:?}");
    let shown = err.to_string();
    assert!(shown.contains(&path.display().to_string()), "{shown}");

    // A misspelt variable is caught at load time too, not at send time.
    std::fs::remove_file(&path).unwrap();
    let path = dir.path().join("reset_link.txt");
    std::fs::write(&path, "Open {{ lnik }}\n").unwrap();
    let err = Composer::new(&settings(&[(
        "KEYDESK__MAIL__TEMPLATES_DIR",
        dir.path().to_str().unwrap(),
    )]))
    .unwrap_err();
    let shown = err.to_string();
    assert!(shown.contains(&path.display().to_string()), "{shown}");
    assert!(shown.contains("undefined"), "{shown}");
}

#[test]
fn a_missing_templates_dir_is_an_error() {
    let err = Composer::new(&settings(&[(
        "KEYDESK__MAIL__TEMPLATES_DIR",
        "/nonexistent/keydesk-templates",
    )]))
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("mail.templates_dir /nonexistent/keydesk-templates"),
        "{err}"
    );
}

#[test]
fn bad_input_is_refused_clearly() {
    let composer = composer();
    let bad = Recipient {
        name: "Nobody".into(),
        email: "not an address".into(),
    };
    let err = composer
        .reset_link(&bad, TOKEN_LINK, now() + TimeDelta::hours(6), now())
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("recipient \"not an address\" is not a valid email address"),
        "{err}"
    );
    let err = composer
        .password_changed(
            &Recipient {
                name: String::new(),
                email: "a@b@c".into(),
            },
            now(),
            false,
        )
        .unwrap_err();
    assert!(matches!(err, ComposeError::BadAddress { .. }), "{err}");

    // Links come from site.base_url only, and never appear in an error.
    for link in [
        "https://evil.example/password/reset/abc",
        "https://courses.example.com.evil.example/password/reset/abc",
        "https://courses.example.com/password/reset/a b",
    ] {
        let err = composer
            .reset_link(&maria(), link, now() + TimeDelta::hours(6), now())
            .unwrap_err();
        assert!(matches!(err, ComposeError::ForeignLink { .. }), "{err}");
        assert!(!err.to_string().contains(link));
    }
    let err = composer
        .reset_link(&maria(), TOKEN_LINK, now(), now())
        .unwrap_err();
    assert!(matches!(err, ComposeError::AlreadyExpired { .. }), "{err}");
}

#[test]
fn an_empty_name_gets_a_plain_greeting_and_a_bare_to() {
    let to = Recipient {
        name: " \r\n ".into(),
        email: "anon@example.com".into(),
    };
    let composed = reset_for(&to);
    let to_line = header_lines(&composed.formatted)
        .into_iter()
        .find(|l| l.starts_with("To:"))
        .unwrap();
    assert_eq!(to_line, "To: anon@example.com");
    let msg = MessageParser::default()
        .parse(composed.formatted.as_bytes())
        .unwrap();
    assert!(msg.body_text(0).unwrap().starts_with("Hello,"));
}

#[test]
fn expiry_reads_in_words() {
    let cases = [
        (TimeDelta::hours(6), "in 6 hours"),
        (TimeDelta::hours(1), "in 1 hour"),
        (TimeDelta::minutes(90), "in 1 hour and 30 minutes"),
        (TimeDelta::minutes(45), "in 45 minutes"),
        (TimeDelta::hours(26), "in 1 day and 2 hours"),
        (TimeDelta::days(7), "in 7 days"),
        (TimeDelta::days(1) + TimeDelta::minutes(5), "in 1 day"),
        (TimeDelta::hours(6) - TimeDelta::seconds(1), "in 6 hours"),
        (TimeDelta::seconds(10), "in less than a minute"),
    ];
    for (delta, words) in cases {
        assert_eq!(in_words(delta), words, "{delta}");
    }
}

#[test]
fn composer_is_clone_send_sync() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<Composer>();
}

#[test]
fn a_display_name_loses_what_reorders_or_hides_text_and_is_capped() {
    assert_eq!(display_name("Admin\u{202e}gnp.exe\u{202c}"), "Admingnp.exe");
    assert_eq!(display_name("pay\u{200b}pal\u{feff}"), "paypal");
    assert_eq!(display_name("Eve\x1b]52;c;QQ==\x07 X"), "Eve ]52;c;QQ== X");
    assert_eq!(display_name("مريم \u{2067}x\u{2069}"), "مريم x");
    let long = display_name(&"A".repeat(10_000));
    assert_eq!(long.chars().count(), MAX_NAME_CHARS);
    assert!(long.ends_with('…'));
    assert_eq!(
        display_name(&"b".repeat(MAX_NAME_CHARS)).chars().count(),
        MAX_NAME_CHARS
    );
}

#[test]
fn the_html_part_isolates_the_name() {
    let to = Recipient {
        name: "\u{5e9}\u{5dc}\u{5d5}\u{5dd} Levi".into(),
        email: "x@example.com".into(),
    };
    let composed = reset_for(&to);
    let msg = MessageParser::default()
        .parse(composed.formatted.as_bytes())
        .unwrap();
    let html = msg.body_html(0).unwrap();
    assert!(
        html.contains("Hello <bdi>\u{5e9}\u{5dc}\u{5d5}\u{5dd} Levi</bdi>,"),
        "{html}"
    );
}

#[test]
fn an_address_lettre_parses_but_cannot_envelope_is_not_mailable() {
    // lettre parses a quoted local part, then cannot read it back from the
    // formatted header to build the envelope.
    let quoted = "\"<b>x</b>\"@example.com";
    assert!(quoted.parse::<Address>().is_ok());
    assert!(mailable(quoted).unwrap_err().contains("cannot be mailed"));
    assert!(matches!(
        composer().reset_link(
            &Recipient {
                name: "Q".into(),
                email: quoted.into()
            },
            TOKEN_LINK,
            now() + TimeDelta::hours(6),
            now()
        ),
        Err(ComposeError::BadAddress {
            what: "recipient",
            ..
        })
    ));
    assert!(mailable("o'brien&co@example.com").is_ok());
    assert!(mailable("moc.live\u{202e}@example.com").is_ok());
}
