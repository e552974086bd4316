//! `keydesk serve`, the real binary: the site answers on `site.listen`,
//! the outbox worker in the same process delivers the mail a Forgot
//! Password request queued, and SIGTERM stops both cleanly (exit 0).

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::site::Client;
use crate::support::{db, mailbox, people, process};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_the_site_and_the_worker_until_sigterm() {
    let db = db::fresh(db::Backend::Sqlite).await.expect("sqlite");
    people::make_customer_at(&db.store, "Ada", "ada@example.com", chrono::Utc::now()).await;
    let home = tempfile::tempdir().unwrap();
    let mail_dir = home.path().join("mail");
    let port = process::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = tokio::process::Command::from(process::keydesk(home.path()))
        .arg("serve")
        .env("KEYDESK__DATABASE__URL", &db.url)
        .env("KEYDESK__SITE__LISTEN", format!("127.0.0.1:{port}"))
        .env("KEYDESK__SITE__BASE_URL", &base)
        .env("KEYDESK__MAIL__TRANSPORT", "file")
        .env("KEYDESK__MAIL__FILE__DIR", &mail_dir)
        .env("KEYDESK__FORGOT__MIN_DURATION", "0s")
        .env("KEYDESK__LOG__LEVEL", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start keydesk serve");
    process::wait_listening(port, "keydesk serve").await;
    let c = Client::new(&base);
    let login = c.get("/login").await;
    assert_eq!(login.status, 200);
    assert_eq!(login.h1(), "Log in");
    let sent = c.forgot("ada@example.com").await;
    assert_eq!(sent.status, 200);
    // The worker in the same process writes the message at once.
    let deadline = Instant::now() + Duration::from_secs(30);
    let eml = loop {
        let found = std::fs::read_dir(&mail_dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.path())
                    .find(|p| p.extension().is_some_and(|x| x == "eml"))
            })
            .ok()
            .flatten();
        if let Some(path) = found {
            break std::fs::read_to_string(path).unwrap();
        }
        assert!(Instant::now() < deadline, "no .eml was delivered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let text = mail_parser::MessageParser::default()
        .parse(eml.as_bytes())
        .and_then(|m| m.body_text(0).map(std::borrow::Cow::into_owned))
        .expect("a text body");
    let link = mailbox::find_link(&text, &format!("{base}/password/reset/"))
        .expect("the link points at this site's reset page");
    assert_eq!(c.get(&link).await.status, 200, "the delivered link opens");

    let pid = child.id().expect("pid");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("serve stops on SIGTERM")
        .unwrap();
    assert!(status.success(), "exit status {status}");
}
