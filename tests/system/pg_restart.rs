//! PostgreSQL stopped and started under a running console (the real
//! binary in a pty) and a running `keydesk serve`, on a private cluster
//! (never the shared server). While it is down both say so and neither
//! crashes; a Reset Password tried in the console and a Forgot Password
//! tried on the site say they failed and leave nothing behind; once it is
//! up again both work without a restart.

use std::time::{Duration, Instant};

use crate::support::console::{Console, add_site, console_env, populate, reset_footprint};
use crate::support::pg_cluster::Cluster;
use crate::support::process::Daemon;
use crate::support::{mailbox, process, site};

async fn queued_for(store: &keydesk::store::Store, email: &str) -> usize {
    mailbox::outbox_rows(store)
        .await
        .into_iter()
        .filter(|r| r.recipient == email)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_and_the_site_ride_out_a_postgres_restart() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let url = cluster.database("keydesk").await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = console_env(&url, dir.path());
    let (port, base) = add_site(&mut env, dir.path());
    env.push((
        "KEYDESK__DATABASE__CONNECT_TIMEOUT".to_owned(),
        "2s".to_owned(),
    ));
    let desk = populate(&env, &dir.path().join("data")).await;

    let serve_log = dir.path().join("serve.log");
    let mut serve = Daemon::start(&["serve"], &env, &serve_log);
    process::wait_listening(port, "keydesk serve").await;
    let site = site::Client::new(&base);
    let forgot = |email: &'static str| {
        let site = &site;
        async move { site.forgot(email).await }
    };
    assert_eq!(forgot("nobody@example.com").await.status, 200);

    let mut c = Console::start(&env, 120, 40);
    c.wait_for(&["203 matches", "(admin)", "postgres"]);
    c.send("ada");
    c.wait_for(&["1 match", "Ada Lovelace"]);
    c.send("\r");
    c.wait_for(&["Customer since"]);

    // Down.
    cluster.down();
    let page = forgot("bob@example.com").await;
    assert_eq!(page.status, 503, "{}", page.main());
    assert!(page.header("retry-after").is_some());
    // The console notices by itself (its periodic status refresh fails).
    c.wait_within(&["database unavailable"], Duration::from_secs(30));
    c.send("r");
    c.wait_for(&["Send a password reset email to Ada Lovelace"]);
    c.send("\r");
    // The dialog says this reset failed; the status line, the outage.
    c.wait_within(
        &["database unavailable", "nothing was changed"],
        Duration::from_secs(30),
    );
    assert!(c.alive(), "the console is still running");
    assert!(serve.alive(), "serve is still running");

    // Up again: both recover by themselves.
    cluster.up();
    c.wait_within(&["reachable again"], Duration::from_secs(60));
    assert_eq!(
        reset_footprint(desk.store()).await,
        (0, 0, 0),
        "the failed reset left nothing"
    );
    assert_eq!(
        queued_for(desk.store(), "bob@example.com").await,
        0,
        "nor did the failed Forgot Password"
    );
    // The dialog stayed open for another try: Enter sends it now.
    c.wait_for(&["Send a password reset email to Ada Lovelace", "Send email"]);
    c.send("\r");
    c.wait_for(&["Reset link for Ada Lovelace:"]);
    assert_eq!(reset_footprint(desk.store()).await, (1, 1, 1));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page = forgot("bob@example.com").await;
        if page.status == 200 {
            break;
        }
        assert_eq!(page.status, 503, "{}", page.main());
        assert!(Instant::now() < deadline, "the site did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(queued_for(desk.store(), "bob@example.com").await, 1);
    assert!(serve.alive(), "serve is still running");

    c.esc();
    c.send("q");
    assert!(c.wait_exit().success());
    c.assert_restored();
    let status = serve.terminate();
    assert!(status.success(), "serve exits cleanly: {status}");
    let log = std::fs::read_to_string(&serve_log).unwrap_or_default();
    assert!(!log.contains("panicked"), "{log}");
}
