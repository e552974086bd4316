//! ASVS V2.2.1 and the site's CSRF secret with several `keydesk serve`
//! processes on one PostgreSQL store: two real `serve` processes, one
//! database. The sign-in limits (per account and per client address), the
//! Forgot Password limit and the CSRF key are in the store, so what one
//! process counted or signed holds on the other.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::support::site::{Client, PW};
use crate::support::{db, people, process, scan};

/// A running `keydesk serve` whose log goes to a file.
struct Serve {
    child: tokio::process::Child,
    base: String,
    log: PathBuf,
}

async fn serve(db_url: &str, home: &Path, name: &str, extra: &[(&str, &str)]) -> Serve {
    let port = process::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log = home.join(format!("{name}.log"));
    let mut cmd = tokio::process::Command::from(process::keydesk(home));
    cmd.arg("serve")
        .env("KEYDESK__DATABASE__URL", db_url)
        .env("KEYDESK__SITE__LISTEN", format!("127.0.0.1:{port}"))
        .env("KEYDESK__SITE__BASE_URL", &base)
        .env("KEYDESK__MAIL__TRANSPORT", "file")
        .env(
            "KEYDESK__MAIL__FILE__DIR",
            home.join(format!("{name}-mail")),
        )
        .env("KEYDESK__FORGOT__MIN_DURATION", "0s")
        .env("KEYDESK__PASSWORD__ARGON2__M_COST", "8192")
        .env("KEYDESK__PASSWORD__ARGON2__T_COST", "1")
        .env("KEYDESK__LOG__LEVEL", "info")
        .env("KEYDESK__LOG__FILE", &log);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start keydesk serve");
    process::wait_listening(port, "keydesk serve").await;
    Serve { child, base, log }
}

impl Serve {
    async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await;
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A customer with a known password, set through desk by an admin.
async fn customer(db: &db::TestDb, name: &str, email: &str) {
    people::make_customer(&db.store, name, email).await;
    let admin = people::make_operator(&db.store, &format!("admin-{name}"), "admin").await;
    let (desk, _) = db::desk(db);
    desk.change_password(&admin, email, PW, false)
        .await
        .expect("password set");
}

/// POSTs the login form, with a token from `from`'s page, to `to`.
async fn login_via(c: &Client, from: &Serve, to: &Serve, email: &str, password: &str) -> u16 {
    let token = c.get(&format!("{}/login", from.base)).await.csrf();
    c.post(
        &format!("{}/login", to.base),
        &[("csrf", &token), ("email", email), ("password", password)],
    )
    .await
    .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_processes_share_limits_and_csrf_secret() {
    let Some(db) = db::fresh(db::Backend::Postgres).await else {
        return;
    };
    customer(&db, "Ada", "ada@example.com").await;
    customer(&db, "Bob", "bob@example.com").await;
    let home = tempfile::tempdir().unwrap();
    let limits = [
        ("KEYDESK__LOGIN__MAX_FAILURES", "3"),
        ("KEYDESK__LOGIN__PER_CLIENT", "6"),
        ("KEYDESK__FORGOT__PER_EMAIL", "2"),
        ("KEYDESK__RESET__RESEND_COOLDOWN", "0s"),
    ];
    let a = serve(&db.url, home.path(), "a", &limits).await;
    let mut json = limits.to_vec();
    json.push(("KEYDESK__LOG__FORMAT", "json"));
    let b = serve(&db.url, home.path(), "b", &json).await;

    // The CSRF secret is the store's: a form from A is accepted by B and
    // the other way round (a per-process key would give 403 here).
    let c = Client::new(&a.base);
    assert_eq!(
        login_via(&c, &a, &b, "bob@example.com", PW).await,
        303,
        "B accepts A's form"
    );
    let c2 = Client::new(&b.base);
    assert_eq!(login_via(&c2, &b, &a, "bob@example.com", PW).await, 303);

    // Per account: 3 failures lock Ada, whichever process saw them.
    let attacker = Client::new(&a.base);
    assert_eq!(
        login_via(&attacker, &a, &a, "ada@example.com", "wrong-1-password").await,
        422
    );
    assert_eq!(
        login_via(&attacker, &a, &b, "ada@example.com", "wrong-2-password").await,
        422
    );
    let third = attacker
        .post(
            &format!("{}/login", a.base),
            &[
                (
                    "csrf",
                    &attacker.get(&format!("{}/login", b.base)).await.csrf(),
                ),
                ("email", "ada@example.com"),
                ("password", "wrong-3-password"),
            ],
        )
        .await;
    assert_eq!(third.status, 422);
    assert!(third.body.contains("locked"), "the third failure locks");
    // Locked on B too, even with the right password (4th client failure).
    let locked = Client::new(&b.base);
    let page = locked
        .submit(
            "/login",
            "/login",
            &[("email", "ada@example.com"), ("password", PW)],
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("locked"));

    // Per client address: 6 failures from 127.0.0.1 in the window, across
    // both processes and any emails; the 7th attempt is refused before
    // any password check, on either process, even for Bob's right password.
    assert_eq!(
        login_via(&attacker, &b, &b, "nobody@example.com", "wrong-5-password").await,
        422
    );
    assert_eq!(
        login_via(&attacker, &b, &a, "bob@example.com", "wrong-6-password").await,
        422
    );
    for (from, to) in [(&a, &b), (&b, &a)] {
        let status = login_via(&attacker, from, to, "bob@example.com", PW).await;
        assert_eq!(status, 429, "the client address is over its limit");
    }

    // Forgot Password, 2 per email per window across both processes: the
    // third request looks the same but sends nothing.
    for s in [&a, &b, &a] {
        let page = Client::new(&s.base).forgot("bob@example.com").await;
        assert_eq!(page.status, 200);
    }
    let requested = scan::count_rows(&db.store, "outbox").await;
    let bob_links: i64 = {
        use sea_orm::{ConnectionTrait, Statement};
        let row = db
            .store
            .conn()
            .query_one_raw(Statement::from_string(
                db.store.conn().get_database_backend(),
                "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'reset_link.requested'",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get("", "n").unwrap()
    };
    assert_eq!(
        bob_links, 2,
        "the third Forgot Password request was throttled"
    );
    assert!(requested >= 2);

    // Both logs are the owner's alone, and name the refusals with the
    // client address, never a password.
    for s in [&a, &b] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&s.log).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "log file mode {mode:o}");
    }
    let (log_a, log_b) = (a.log(), b.log());
    let both = format!("{log_a}{log_b}");
    assert!(both.contains("login.throttled"), "{both}");
    assert!(both.contains("login.failed"));
    assert!(both.contains("forgot.throttled"));
    assert!(both.contains("127.0.0.1"));
    for secret in [PW, "wrong-1-password", "wrong-6-password"] {
        assert!(!both.contains(secret), "a password reached a log");
    }
    for line in log_b.lines() {
        let value: serde_json::Value = serde_json::from_str(line).expect("B logs JSON lines");
        let at = value["timestamp"].as_str().expect("a timestamp");
        assert!(at.ends_with('Z'), "UTC timestamps: {at}");
    }
    a.stop().await;
    b.stop().await;
}
