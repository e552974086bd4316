//! `keydesk doctor`: a good setup passes; a closed relay port, a
//! world-readable pepper and an unreachable store each fail by name.

use std::os::unix::fs::PermissionsExt;

use crate::support::home::{Home, Ran};
use crate::support::process::free_port;
use crate::support::smtp::{SmtpOptions, SmtpServer, TlsFiles, self_signed};

/// A good setup: a migrated SQLite store, an SMTP relay that requires
/// STARTTLS and AUTH (trusted through mail.smtp.ca_file), an owner-only
/// pepper, an owner-only data dir.
struct Setup {
    home: Home,
    env: Vec<(String, String)>,
    pepper: std::path::PathBuf,
    _relay: SmtpServer,
    _tls: TlsFiles,
}

impl Setup {
    fn new() -> Self {
        let home = Home::new();
        let tls = self_signed();
        let relay = SmtpServer::start(SmtpOptions {
            tls: Some((tls.cert.clone(), tls.key.clone())),
            auth: Some(("desk".into(), "relay-secret".into())),
            ..SmtpOptions::default()
        });
        let pepper = home.path().join("pepper");
        std::fs::write(&pepper, [7u8; 32]).unwrap();
        std::fs::set_permissions(&pepper, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::create_dir_all(home.data_dir()).unwrap();
        std::fs::set_permissions(home.data_dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let env = vec![
            ("KEYDESK__DATABASE__URL".to_owned(), home.sqlite_url()),
            ("KEYDESK__MAIL__TRANSPORT".into(), "smtp".into()),
            ("KEYDESK__MAIL__SMTP__HOST".into(), "localhost".into()),
            ("KEYDESK__MAIL__SMTP__PORT".into(), relay.port.to_string()),
            ("KEYDESK__MAIL__SMTP__TLS".into(), "starttls".into()),
            ("KEYDESK__MAIL__SMTP__USER".into(), "desk".into()),
            (
                "KEYDESK__MAIL__SMTP__PASSWORD".into(),
                "relay-secret".into(),
            ),
            (
                "KEYDESK__MAIL__SMTP__CA_FILE".into(),
                tls.ca.display().to_string(),
            ),
            (
                "KEYDESK__PASSWORD__PEPPER_FILE".into(),
                pepper.display().to_string(),
            ),
        ];
        let setup = Self {
            home,
            env,
            pepper,
            _relay: relay,
            _tls: tls,
        };
        setup.doctor(&["migrate"], &[]).ok();
        setup
    }

    fn doctor(&self, args: &[&str], extra: &[(&str, &str)]) -> Ran {
        let mut env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        env.extend_from_slice(extra);
        self.home.run(args, &env)
    }
}

fn line<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find(|l| l[5..].starts_with(&format!(" {name}: ")))
        .unwrap_or_else(|| panic!("no {name} line in:\n{out}"))
}

#[test]
fn a_good_setup_passes() {
    let setup = Setup::new();
    let ran = setup.doctor(&["doctor"], &[]);
    let out = ran.ok();
    for name in [
        "settings",
        "store",
        "schema",
        "mail",
        "site.base_url",
        "pepper",
        "data dir",
        "clock",
    ] {
        assert!(line(&out, name).starts_with("ok "), "{name}:\n{out}");
    }
    assert!(
        line(&out, "mail").contains("EHLO, STARTTLS and AUTH accepted"),
        "{out}"
    );
    assert!(
        line(&out, "settings")
            .contains("mail.smtp.port (environment variable KEYDESK__MAIL__SMTP__PORT)"),
        "names where each setting came from:\n{out}"
    );
    // Without ssh-serve the host key is not made yet: a warning, not a failure.
    assert!(line(&out, "ssh host key").starts_with("warn "), "{out}");
    assert!(!out.contains("relay-secret"), "no secret printed");
    let json = setup.doctor(&["doctor", "--json"], &[]).json();
    assert_eq!(json["ok"], true, "{json}");
    assert!(
        json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] != "fail")
    );
    assert!(
        json["settings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["key"] == "mail.smtp.host"),
        "{json}"
    );
    assert_eq!(ran.stderr(), "", "quiet");
}

#[test]
fn a_closed_relay_port_fails_the_mail_check() {
    let setup = Setup::new();
    let closed = free_port().to_string();
    let ran = setup.doctor(&["doctor"], &[("KEYDESK__MAIL__SMTP__PORT", &closed)]);
    assert_eq!(ran.code(), 1, "{}", ran.stdout());
    let out = ran.stdout();
    assert!(line(&out, "mail").starts_with("fail "), "{out}");
    assert!(line(&out, "mail").contains("fix: "), "{out}");
    assert!(
        line(&out, "store").starts_with("ok "),
        "only mail fails:\n{out}"
    );
    let json = setup.doctor(
        &["doctor", "--json"],
        &[("KEYDESK__MAIL__SMTP__PORT", &closed)],
    );
    assert_eq!(json.code(), 1);
    let json: serde_json::Value = serde_json::from_str(&json.stdout()).unwrap();
    assert_eq!(json["ok"], false);
    let mail = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "mail")
        .unwrap();
    assert_eq!(mail["status"], "fail", "{json}");
}

#[test]
fn a_world_readable_pepper_fails_the_pepper_check() {
    let setup = Setup::new();
    std::fs::set_permissions(&setup.pepper, std::fs::Permissions::from_mode(0o644)).unwrap();
    let ran = setup.doctor(&["doctor"], &[]);
    assert_eq!(ran.code(), 1);
    let out = ran.stdout();
    assert!(line(&out, "pepper").starts_with("fail "), "{out}");
    assert!(line(&out, "pepper").contains("chmod 600"), "{out}");
    assert!(line(&out, "mail").starts_with("ok "), "{out}");
}

#[test]
fn an_unreachable_store_fails_the_store_check() {
    let setup = Setup::new();
    let url = format!("postgres://postgres@127.0.0.1:{}/keydesk", free_port());
    let ran = setup.doctor(
        &["doctor"],
        &[
            ("KEYDESK__DATABASE__URL", &url),
            ("KEYDESK__DATABASE__CONNECT_TIMEOUT", "2s"),
        ],
    );
    assert_eq!(ran.code(), 1);
    let out = ran.stdout();
    assert!(line(&out, "store").starts_with("fail "), "{out}");
    assert!(
        line(&out, "store").contains("cannot reach postgres://"),
        "{out}"
    );
    assert!(line(&out, "mail").starts_with("ok "), "{out}");
}

#[test]
fn a_bad_setting_is_the_failing_settings_check() {
    let setup = Setup::new();
    let ran = setup.doctor(
        &["doctor", "--json"],
        &[("KEYDESK__SITE__BASE_URL", "ftp://x")],
    );
    assert_eq!(ran.code(), 78);
    let json: serde_json::Value = serde_json::from_str(&ran.stdout()).unwrap();
    assert_eq!(json["checks"][0]["name"], "settings");
    assert_eq!(json["checks"][0]["status"], "fail");
    assert!(
        json["checks"][0]["message"]
            .as_str()
            .unwrap()
            .contains("site.base_url")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_store_is_checked_with_its_clock() {
    use crate::support::db::{Backend, fresh};
    for backend in [Backend::Postgres, Backend::MySql] {
        let Some(db) = fresh(backend).await else {
            continue;
        };
        let home = Home::new();
        let out = home
            .run(
                &["doctor"],
                &[
                    ("KEYDESK__DATABASE__URL", &db.url),
                    ("KEYDESK__MAIL__FILE__DIR", "/tmp"),
                ],
            )
            .ok();
        assert!(
            line(&out, "store").starts_with("ok "),
            "{backend:?}:\n{out}"
        );
        assert!(
            line(&out, "schema").contains("none pending"),
            "{backend:?}:\n{out}"
        );
        let clock = line(&out, "clock");
        assert!(
            clock.starts_with("ok ") && clock.contains("the database's clock is "),
            "{backend:?}: {clock}"
        );
    }
}
