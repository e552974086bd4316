//! A database outage is reported as such (DeskError::Unavailable, exit
//! code 10), nothing is half-done, and the desk works again when the
//! database comes back.

use std::time::Duration;

use keydesk::desk::DeskError;
use keydesk::desk::error::exit;
use sea_orm::{ConnectionTrait, Database};

use crate::support::{db, mailbox, people, process, scan};

/// PostgreSQL: every connection of the test database is cut and new ones
/// are refused, then allowed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_reported_and_survived() {
    let Some(db) = db::fresh(db::Backend::Postgres).await else {
        return;
    };
    let (desk, _clock) = db::desk_with(&db, &[("KEYDESK__DATABASE__CONNECT_TIMEOUT", "2s")]);
    let agent = people::make_operator(&db.store, "agent1", "agent").await;
    people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;
    let name = db.url.rsplit('/').next().unwrap().to_owned();
    let server = db.url.rsplit_once('/').unwrap().0.to_owned();
    let admin = Database::connect(format!("{server}/postgres"))
        .await
        .unwrap();
    let cut = |allow: bool| {
        let admin = admin.clone();
        let name = name.clone();
        async move {
            admin
                .execute_unprepared(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS {allow}"))
                .await
                .unwrap();
            if !allow {
                admin
                    .execute_unprepared(&format!(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
                    ))
                    .await
                    .unwrap();
            }
        }
    };

    cut(false).await;
    let err = desk
        .send_reset_link(&agent, "ada@example.com", false)
        .await
        .unwrap_err();
    assert!(matches!(err, DeskError::Unavailable(_)), "{err}");
    assert_eq!(err.exit_code(), exit::UNAVAILABLE);
    assert!(err.to_string().contains("nothing was changed"), "{err}");

    cut(true).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    desk.send_reset_link(&agent, "ada@example.com", false)
        .await
        .expect("works again once the database is back");
    assert_eq!(scan::count_rows(&db.store, "reset_links").await, 1);
    assert_eq!(mailbox::outbox_rows(&db.store).await.len(), 1);
}

/// The command line says so with exit code 10 when the server is down.
#[test]
fn the_cli_reports_an_unreachable_database_with_its_own_code() {
    let home = tempfile::tempdir().unwrap();
    for url in [
        "postgres://postgres@127.0.0.1:1/kd",
        "mysql://root@127.0.0.1:1/kd",
    ] {
        let out = process::keydesk(home.path())
            .args(["reset-password", "ada@example.com"])
            .env("KEYDESK__DATABASE__URL", url)
            .env("KEYDESK__DATABASE__CONNECT_TIMEOUT", "1s")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(exit::UNAVAILABLE), "{url}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("database is unavailable"), "{stderr}");
    }
}
