//! Two `keydesk worker` processes on one store deliver 500 queued messages
//! to a real SMTP server, none twice, on PostgreSQL, MariaDB and SQLite.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keydesk::clock::Clock;
use keydesk::mail::queue::{kind, state};
use keydesk::store::entity::outbox;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::on_every_backend;
use crate::support::db::TestDb;
use crate::support::outbox::{message, queued};
use crate::support::smtp::SmtpServer;
use crate::support::{db, process};

const MESSAGES: usize = 500;

/// Worker processes, stopped (SIGTERM, then SIGKILL) when dropped.
struct Workers(Vec<Child>);

impl Workers {
    fn terminate(&mut self) -> Vec<bool> {
        let mut clean = Vec::new();
        for child in &mut self.0 {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            let status = loop {
                if let Ok(Some(status)) = child.try_wait() {
                    break Some(status);
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    break child.wait().ok();
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            clean.push(status.is_some_and(|s| s.success()));
        }
        self.0.clear();
        clean
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn two_worker_processes_deliver_each_message_once(db: TestDb) {
    let server = SmtpServer::plain();
    let home = tempfile::tempdir().unwrap();
    let mut workers = Workers(Vec::new());
    let mut logs = Vec::new();
    for n in 0..2 {
        let log = home.path().join(format!("worker{n}.log"));
        let file = std::fs::File::create(&log).unwrap();
        logs.push(log);
        let child = process::keydesk(home.path())
            .arg("worker")
            .env("KEYDESK__DATABASE__URL", &db.url)
            .env("KEYDESK__MAIL__TRANSPORT", "smtp")
            .env("KEYDESK__MAIL__SMTP__HOST", "127.0.0.1")
            .env("KEYDESK__MAIL__SMTP__PORT", server.port.to_string())
            .env("KEYDESK__MAIL__SMTP__TLS", "none")
            .env("KEYDESK__OUTBOX__POLL_INTERVAL", "100ms")
            // Throughput, not pacing, is measured here (see rate.rs).
            .env("KEYDESK__MAIL__MAX_PER_MINUTE", "1000000")
            .env("KEYDESK__LOG__LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .spawn()
            .expect("start keydesk worker");
        workers.0.push(child);
    }

    // Queue everything at once, as a burst of desk operations would.
    let now = Clock::system().now();
    let rows: Vec<outbox::ActiveModel> = (0..MESSAGES)
        .map(|i| {
            let to = format!("customer{i}@example.com");
            let body = message(
                &to,
                &format!("burst-{i:04}"),
                "Your password was changed.\n",
            );
            queued(&to, kind::PASSWORD_CHANGED, None, body, now)
        })
        .collect();
    for chunk in rows.chunks(100) {
        outbox::Entity::insert_many(chunk.to_vec())
            .exec(db.store.conn())
            .await
            .expect("queue a burst");
    }

    let sent = || async {
        outbox::Entity::find()
            .filter(outbox::Column::State.eq(state::SENT))
            .count(db.store.conn())
            .await
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(240);
    while sent().await < MESSAGES as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let clean = workers.terminate();
    assert_eq!(
        clean,
        vec![true, true],
        "both workers stop cleanly on SIGTERM"
    );

    let got = server.wait_for(MESSAGES, Duration::from_secs(10));
    let mut by_subject: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_id: BTreeMap<String, usize> = BTreeMap::new();
    for m in &got {
        *by_subject
            .entry(m.header("Subject").unwrap_or_default())
            .or_default() += 1;
        *by_id
            .entry(m.header("Message-ID").unwrap_or_default())
            .or_default() += 1;
    }
    let twice: Vec<_> = by_subject.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
    assert_eq!(got.len(), MESSAGES, "every message arrived exactly once");
    assert_eq!(by_subject.len(), MESSAGES);
    assert_eq!(by_id.len(), MESSAGES, "distinct Message-IDs");

    let all = outbox::Entity::find().all(db.store.conn()).await.unwrap();
    assert_eq!(all.len(), MESSAGES);
    for r in &all {
        assert_eq!(r.state, state::SENT, "row {}", r.id);
        assert_eq!(r.attempts, 1, "row {}: one attempt", r.id);
        assert_eq!(r.body, None, "row {}", r.id);
    }

    let delivered: Vec<usize> = logs
        .iter()
        .map(|log| {
            std::fs::read_to_string(log)
                .unwrap()
                .lines()
                .filter(|l| l.contains("email delivered"))
                .count()
        })
        .collect();
    assert_eq!(
        delivered.iter().sum::<usize>(),
        MESSAGES,
        "logs: {delivered:?}"
    );
    eprintln!("{:?}: worker deliveries {delivered:?}", db.backend);
    if db.backend != db::Backend::Sqlite {
        assert!(
            delivered.iter().all(|n| *n > 0),
            "both workers took part: {delivered:?}"
        );
    }
    for log in &logs {
        let text = std::fs::read_to_string(log).unwrap();
        assert!(
            !text.contains("Body of") && !text.contains("Your password was changed"),
            "no body in the log"
        );
        assert!(!text.contains("ERROR"), "{text}");
    }
}
on_every_backend!(two_workers, two_worker_processes_deliver_each_message_once);
