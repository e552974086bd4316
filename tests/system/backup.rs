//! `keydesk backup FILE` on a SQLite store that a running `serve` and a
//! running `worker` keep writing to; the copy restores into a store where
//! a customer signs in with her password on the real site.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::home::{Home, wait_for_status};
use crate::support::process::Daemon;
use crate::support::process::free_port;
use crate::support::site::{Client, PW};

fn site_env(home: &Home, url: &str, port: u16) -> Vec<(String, String)> {
    let mut env = home.env();
    env.extend([
        ("KEYDESK__DATABASE__URL".to_owned(), url.to_owned()),
        ("KEYDESK__SITE__LISTEN".into(), format!("127.0.0.1:{port}")),
        (
            "KEYDESK__SITE__BASE_URL".into(),
            format!("http://127.0.0.1:{port}"),
        ),
        ("KEYDESK__FORGOT__MIN_DURATION".into(), "0s".into()),
        ("KEYDESK__FORGOT__PER_EMAIL".into(), "1000".into()),
        ("KEYDESK__FORGOT__PER_CLIENT".into(), "1000".into()),
    ]);
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_restores_and_the_customer_signs_in() {
    let home = Home::new();
    let url = home.sqlite_url();
    home.run(&["migrate"], &[("KEYDESK__DATABASE__URL", &url)])
        .ok();
    let settings = crate::support::db::settings_with(&url, home.path(), &[]);
    let store = keydesk::store::Store::connect(&settings.database)
        .await
        .unwrap();
    let admin = crate::support::people::make_operator(&store, "backup-admin", "admin").await;
    crate::support::people::make_customer(&store, "Ada Lovelace", "ada@example.com").await;
    for i in 0..20 {
        crate::support::people::make_customer(
            &store,
            &format!("Other {i}"),
            &format!("o{i}@example.com"),
        )
        .await;
    }
    let desk =
        keydesk::desk::Desk::new(store.clone(), settings, keydesk::clock::Clock::system()).unwrap();
    desk.change_password(&admin, "ada@example.com", PW, false)
        .await
        .unwrap();

    let port = free_port();
    let env = site_env(&home, &url, port);
    let serve = Daemon::start(&["serve"], &env, &home.path().join("serve.log"));
    let worker = Daemon::start(&["worker"], &env, &home.path().join("worker.log"));
    let base = format!("http://127.0.0.1:{port}");
    wait_for_status(&format!("{base}/login"), 200, Duration::from_secs(30)).await;

    // Load while the backup runs: Forgot Password requests queue mail that
    // both workers deliver, each a write transaction on the same file.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let load = {
        let (stop, done, base) = (Arc::clone(&stop), Arc::clone(&done), base.clone());
        tokio::spawn(async move {
            let site = Client::new(&base);
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let email = format!("o{}@example.com", i % 20);
                let page = site
                    .submit(
                        "/password/forgot",
                        "/password/forgot",
                        &[("email", email.as_str())],
                    )
                    .await;
                assert_eq!(page.status, 200);
                done.fetch_add(1, Ordering::SeqCst);
                i += 1;
            }
        })
    };
    while done.load(Ordering::SeqCst) < 5 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let copy = home.path().join("backup/keydesk-copy.db");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    let ran = {
        let (home_env, url, copy) = (home.env(), url.clone(), copy.clone());
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_keydesk"))
                .args(["backup", copy.to_str().unwrap()])
                .env_clear()
                .envs(home_env)
                .env("KEYDESK__DATABASE__URL", url)
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    };
    let during = done.load(Ordering::SeqCst);
    // Writes go on after it, too.
    while done.load(Ordering::SeqCst) < during + 5 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::SeqCst);
    load.await.unwrap();
    assert!(
        ran.status.success(),
        "{}{}",
        String::from_utf8_lossy(&ran.stdout),
        String::from_utf8_lossy(&ran.stderr)
    );
    assert!(String::from_utf8_lossy(&ran.stdout).contains("backup written to"));
    assert_eq!(
        std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(serve.terminate().success());
    assert!(worker.terminate().success());

    // Never over an existing file.
    let again = home.run(
        &["backup", copy.to_str().unwrap()],
        &[("KEYDESK__DATABASE__URL", &url)],
    );
    assert_eq!(again.code(), 1);
    assert!(
        again.stderr().contains("exists already"),
        "{}",
        again.stderr()
    );

    // Restore: the copy is the store of a new host.
    let restored = Home::new();
    std::fs::copy(&copy, restored.path().join("keydesk.db")).unwrap();
    let restored_url = restored.sqlite_url();
    let port = free_port();
    let env = site_env(&restored, &restored_url, port);
    let serve = Daemon::start(&["serve"], &env, &restored.path().join("serve.log"));
    let base = format!("http://127.0.0.1:{port}");
    wait_for_status(&format!("{base}/login"), 200, Duration::from_secs(30)).await;
    let site = Client::new(&base);
    let signed_in = site.login("ada@example.com", PW).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.main());
    assert_eq!(signed_in.location(), "/account");
    assert_eq!(site.get("/account").await.status, 200);
    assert!(serve.terminate().success());
}
