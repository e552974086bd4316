//! One SQLite file, four processes writing at once: two consoles (real
//! binaries in ptys) sending reset links, a `keydesk worker` delivering
//! them, `keydesk serve` taking Forgot Password requests and failed
//! logins from a client, and a 20,000-row `keydesk import` in between. Every reset is done and said so; no "database is
//! locked" reaches a user: not on either screen, not in an HTTP response,
//! not in any process's log.

use std::time::{Duration, Instant};

use crate::support::console::{Console, add_site, console_env, populate, reset_footprint};
use crate::support::process::Daemon;
use crate::support::{mailbox, process, site};

const PER_CONSOLE: usize = 10;

fn name(n: usize) -> String {
    format!("Cust {n:02}")
}

fn email(n: usize) -> String {
    format!("cust{n:02}@example.com")
}

/// Sends reset links to customers `from..from + PER_CONSOLE` from this console.
fn reset_each(c: &mut Console, from: usize) {
    c.wait_for(&["(admin)"]);
    for n in from..from + PER_CONSOLE {
        c.send("/");
        c.send(&format!("\x15{}", name(n)));
        // The email is only in the list (the name is in the search box too).
        c.wait_for(&["1 match", &email(n)]);
        c.esc();
        c.send("r");
        c.wait_for(&[&format!("Send a password reset email to {}", name(n))]);
        c.send("\r");
        c.wait_within(
            &[&format!("Reset link for {}:", name(n))],
            Duration::from_secs(40),
        );
        assert!(
            !c.screen().contains("Send email"),
            "the dialog closed when the reset was done:\n{}",
            c.screen()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consoles_a_worker_and_the_site_share_one_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("keydesk.db").display()
    );
    let mut env = console_env(&url, dir.path());
    let (port, base) = add_site(&mut env, dir.path());
    env.push((
        "KEYDESK__OUTBOX__POLL_INTERVAL".to_owned(),
        "100ms".to_owned(),
    ));
    let desk = populate(&env, &dir.path().join("data")).await;
    let now = "2025-01-02 10:00:00+00:00";
    let mut sql = String::new();
    for n in 0..2 * PER_CONSOLE {
        sql.push_str(&format!(
            "INSERT INTO contacts(name,email,name_lower,email_lower,subscribed,tags,notes,created_at,updated_at)
             VALUES ('{name}','{email}','{lower}','{email}',false,'','','{now}','{now}');
             INSERT INTO grants(contact_id, offer_id, source, granted_by, granted_at)
             SELECT id, (SELECT id FROM offers LIMIT 1), 'granted', 'test', '{now}' FROM contacts WHERE email = '{email}';",
            name = name(n),
            email = email(n),
            lower = name(n).to_lowercase(),
        ));
    }
    keydesk::store::execute_raw(desk.store().conn(), &sql)
        .await
        .unwrap();

    let worker = Daemon::start(&["worker"], &env, &dir.path().join("worker.log"));
    let serve = Daemon::start(&["serve"], &env, &dir.path().join("serve.log"));
    process::wait_listening(port, "keydesk serve").await;

    // The site's visitors write too: Forgot Password (throttle counts, links,
    // mail) and failed logins (failure counts), until the consoles finish.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let visitors = {
        let (base, done) = (base.clone(), done.clone());
        tokio::spawn(async move {
            let mut pages = Vec::new();
            let mut n = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let c = site::Client::new(&base);
                // Not the consoles' customers: a link from Forgot Password
                // would put them within the resend cooldown.
                let who = ["ada@example.com", "bob@example.com", "nobody@example.com"][n % 3];
                pages.push(c.forgot(who).await);
                pages.push(c.login(who, "not-the-password-1234").await);
                n += 1;
            }
            pages
        })
    };

    // And an import of 20,000 contacts, one long write transaction, lands
    // in the middle of it all.
    let csv = dir.path().join("contacts.csv");
    let mut rows = String::from("name,email,subscribed\n");
    for n in 0..20_000 {
        rows.push_str(&format!("Imported {n},imported{n}@example.net,no\n"));
    }
    std::fs::write(&csv, rows).unwrap();
    let import = {
        let (env, csv, log) = (env.clone(), csv.clone(), dir.path().join("import.log"));
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(2));
            let started = Instant::now();
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_keydesk"))
                .arg("import")
                .arg(&csv)
                .envs(
                    env.iter()
                        .filter(|(k, _)| k != "KEYDESK__LOG__FILE")
                        .cloned(),
                )
                .output()
                .expect("run keydesk import");
            std::fs::write(&log, &out.stderr).unwrap();
            eprintln!("import of 20,000 rows took {:?}", started.elapsed());
            out
        })
    };

    let consoles: Vec<_> = [0, PER_CONSOLE]
        .into_iter()
        .map(|from| {
            let env = env.clone();
            std::thread::spawn(move || {
                let mut c = Console::start(&env, 120, 40);
                reset_each(&mut c, from);
                // Esc on the list clears the status line. Wait for that before
                // `q`: sent at once, the two keys can reach the console in one
                // read, which a terminal takes for Alt-q.
                c.send("\x1b");
                c.wait_until("Esc cleared the status line", |t| {
                    !t.screen().contains("Reset link for")
                });
                c.send("q");
                assert!(c.wait_exit().success());
                c.raw()
            })
        })
        .collect();
    let mut screens = Vec::new();
    for c in consoles {
        screens.push(c.join().expect("a console run"));
    }
    let imported = import.join().expect("the import ran");
    assert!(
        imported.status.success(),
        "import: {}",
        String::from_utf8_lossy(&imported.stderr)
    );
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let pages = visitors.await.unwrap();

    // Everything the consoles asked for happened once.
    // (Forgot Password adds links and mails of its own, audited otherwise.)
    let (links, mails, audits) = reset_footprint(desk.store()).await;
    assert_eq!(
        audits,
        i64::try_from(2 * PER_CONSOLE).unwrap(),
        "each console reset once"
    );
    assert_eq!(links, mails, "every link has its mail");
    for raw in &screens {
        assert!(
            !raw.to_lowercase().contains("locked"),
            "a console showed a lock error"
        );
    }
    assert!(!pages.is_empty());
    for page in &pages {
        assert!(page.status < 500, "HTTP {}: {}", page.status, page.main());
        assert!(!page.body.to_lowercase().contains("database is locked"));
    }
    // The worker delivers everything that was queued.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows = mailbox::outbox_rows(desk.store()).await;
        if rows.iter().all(|r| r.state == "sent") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "undelivered: {:?}",
            rows.iter()
                .map(|r| (&r.state, &r.last_error))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for daemon in [worker, serve] {
        assert!(daemon.terminate().success(), "stops cleanly on SIGTERM");
    }
    for log in ["keydesk.log", "worker.log", "serve.log", "import.log"] {
        let text = std::fs::read_to_string(dir.path().join(log)).unwrap_or_default();
        assert!(!text.contains("database is locked"), "{log}:\n{text}");
        assert!(!text.contains("ERROR"), "{log}:\n{text}");
    }
}
