//! `/healthz`, `/readyz` and `/metrics` from the real services.

use std::time::Duration;

use crate::support::home::{Home, wait_for_status};
use crate::support::pg_cluster::Cluster;
use crate::support::process::Daemon;
use crate::support::process::free_port;

fn env_with(home: &Home, extra: &[(&str, String)]) -> Vec<(String, String)> {
    let mut env = home.env();
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_pass_promtool_and_count_what_happened() {
    let home = Home::new();
    let url = home.sqlite_url();
    let (site_port, diag_port, ssh_diag) = (free_port(), free_port(), free_port());
    let env = env_with(
        &home,
        &[
            ("KEYDESK__DATABASE__URL", url.clone()),
            ("KEYDESK__SITE__LISTEN", format!("127.0.0.1:{site_port}")),
            (
                "KEYDESK__SITE__BASE_URL",
                format!("http://127.0.0.1:{site_port}"),
            ),
            ("KEYDESK__DIAG__LISTEN", format!("127.0.0.1:{diag_port}")),
            ("KEYDESK__FORGOT__MIN_DURATION", "0s".into()),
        ],
    );
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    home.run(&["migrate"], &pairs).ok();
    let store = keydesk::store::Store::connect(
        &crate::support::db::settings_for(&url, home.path()).database,
    )
    .await
    .unwrap();
    crate::support::people::make_customer(&store, "Ada Lovelace", "ada@example.com").await;

    let serve = Daemon::start(&["serve"], &env, &home.path().join("serve.log"));
    let diag = format!("http://127.0.0.1:{diag_port}");
    assert_eq!(
        wait_for_status(&format!("{diag}/healthz"), 200, Duration::from_secs(30)).await,
        "ok\n"
    );
    assert_eq!(
        wait_for_status(&format!("{diag}/readyz"), 200, Duration::from_secs(30)).await,
        "ready\n"
    );
    wait_for_status(
        &format!("http://127.0.0.1:{site_port}/login"),
        200,
        Duration::from_secs(30),
    )
    .await;

    // What the serve process should count: a failed sign-in, a Forgot
    // Password that issues a link, and its delivery by serve's worker.
    let site = crate::support::site::Client::new(&format!("http://127.0.0.1:{site_port}"));
    assert_eq!(
        site.login("ada@example.com", "Wrong-Password-123456")
            .await
            .status,
        422
    );
    let page = site
        .submit(
            "/password/forgot",
            "/password/forgot",
            &[("email", "ada@example.com")],
        )
        .await;
    assert_eq!(page.status, 200);
    let text = metrics_once(&diag, "keydesk_outbox_messages{state=\"sent\"} 1").await;
    for expected in [
        "keydesk_mail_deliveries_total{result=\"sent\"} 1",
        "keydesk_mail_delivery_duration_seconds_count 1",
        "keydesk_site_logins_total{outcome=\"bad_credentials\"} 1",
        "keydesk_reset_links_sent_total{source=\"forgot\"} 1",
        "keydesk_outbox_messages{state=\"queued\"} 0",
        "keydesk_outbox_oldest_queued_age_seconds 0",
        "keydesk_ssh_sessions_open 0",
        "keydesk_search_duration_seconds_bucket",
        "keydesk_search_index_contacts",
        "keydesk_build_info{built=",
    ] {
        assert!(text.contains(expected), "{expected} missing:\n{text}");
    }
    promtool(&text);

    // ssh-serve serves its own, with the search index it loaded.
    let ssh_env = env_with(
        &home,
        &[
            ("KEYDESK__DATABASE__URL", url.clone()),
            ("KEYDESK__SSH__LISTEN", format!("127.0.0.1:{}", free_port())),
            ("KEYDESK__DIAG__LISTEN", format!("127.0.0.1:{ssh_diag}")),
        ],
    );
    let ssh = Daemon::start(&["ssh-serve"], &ssh_env, &home.path().join("ssh.log"));
    let diag = format!("http://127.0.0.1:{ssh_diag}");
    let text = metrics_once(&diag, "keydesk_search_index_contacts 1").await;
    promtool(&text);
    assert!(ssh.terminate().success());
    assert!(serve.terminate().success());
}

/// `/metrics` once it shows `line` (polling, at most 30 s).
async fn metrics_once(diag: &str, line: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = match reqwest::get(format!("{diag}/metrics")).await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains(line) {
            return text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {line} in:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `promtool check metrics` (Debian's prometheus package) on `text`.
fn promtool(text: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (apt-get install prometheus; scripts/test installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_a_postgres_restart_without_a_keydesk_restart() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let url = cluster.database("keydesk").await;
    let home = Home::new();
    let diag_port = free_port();
    let env = env_with(
        &home,
        &[
            ("KEYDESK__DATABASE__URL", url.clone()),
            ("KEYDESK__DATABASE__CONNECT_TIMEOUT", "2s".into()),
            ("KEYDESK__DIAG__LISTEN", format!("127.0.0.1:{diag_port}")),
        ],
    );
    let mut worker = Daemon::start(&["worker"], &env, &home.path().join("worker.log"));
    let diag = format!("http://127.0.0.1:{diag_port}");
    wait_for_status(&format!("{diag}/readyz"), 200, Duration::from_secs(30)).await;

    cluster.down();
    let reason = wait_for_status(&format!("{diag}/readyz"), 503, Duration::from_secs(30)).await;
    assert!(reason.starts_with("not ready: store: "), "{reason}");
    assert_eq!(reason.lines().count(), 1, "{reason}");
    assert_eq!(
        wait_for_status(&format!("{diag}/healthz"), 200, Duration::from_secs(5)).await,
        "ok\n",
        "the process itself is up"
    );
    assert!(worker.alive());

    cluster.up();
    wait_for_status(&format!("{diag}/readyz"), 200, Duration::from_secs(60)).await;
    assert!(worker.alive(), "recovered without a restart");
    assert!(worker.terminate().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_serve_counts_open_sessions_and_searches() {
    use crate::support::ssh::{Client, Server, fixture};
    let diag_port = free_port();
    let fx = fixture(&[("KEYDESK__DIAG__LISTEN", &format!("127.0.0.1:{diag_port}"))]).await;
    let key = fx.operator_with_key("ann", "agent");
    let server = Server::start(&fx);
    let diag = format!("http://127.0.0.1:{diag_port}");
    metrics_once(&diag, "keydesk_ssh_sessions_open 0").await;

    let mut c = Client::start(server.port, &key, 120, 40, &[]);
    c.wait_for(&["202 matches"]);
    c.send("ada");
    c.wait_for(&["1 match", "Ada Lovelace"]);
    let text = metrics_once(&diag, "keydesk_ssh_sessions_open 1").await;
    let searches: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("keydesk_search_duration_seconds_count "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        searches >= 2,
        "the list and the typed query went through the Searcher:\n{text}"
    );
    c.quit();
    let text = metrics_once(&diag, "keydesk_ssh_sessions_open 0").await;
    promtool(&text);
    server.stop();
}
