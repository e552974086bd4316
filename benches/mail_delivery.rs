//! Delivery latency: from queueing an outbox row and waking the worker (what
//! a desk operation does at commit) to the message lying in a real SMTP
//! server's capture folder. aiosmtpd runs as in the tests
//! (tests/support/smtp-venv.sh); the store is SQLite, and PostgreSQL when
//! it answers on 127.0.0.1:5432.

// The tests' own support pieces (tests/support); the bench uses part of each.
#[expect(dead_code, reason = "the bench uses part of the tests' support")]
#[path = "../tests/support/outbox.rs"]
mod outbox;
#[expect(dead_code, reason = "the bench uses part of the tests' support")]
#[path = "../tests/support/process.rs"]
mod process;
#[expect(dead_code, reason = "the bench uses part of the tests' support")]
#[path = "../tests/support/smtp.rs"]
mod smtp;
#[expect(dead_code, reason = "the bench uses part of the tests' support")]
#[path = "../tests/support/tls.rs"]
mod tls;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use keydesk::clock::Clock;
use keydesk::mail::worker::Worker;
use keydesk::settings::{Settings, Sources};
use keydesk::store::Store;
use sea_orm::{ConnectionTrait, Database};
use tokio::sync::Notify;

fn settings(url: &str, data_dir: &std::path::Path, port: u16) -> Settings {
    let mut env = std::collections::BTreeMap::new();
    env.insert("KEYDESK__DATABASE__URL".to_owned(), url.to_owned());
    let base = Settings::load(&Sources {
        file: None,
        skip_system_files: true,
        env: Some(env),
        data_dir: Some(data_dir.to_path_buf()),
    })
    .expect("settings");
    let mut s = outbox::smtp_settings(&base, port);
    // Only the wake can make delivery fast; the poll is out of the picture.
    s.outbox.poll_interval = Duration::from_secs(600);
    s
}

async fn postgres_url() -> Option<String> {
    let server = std::env::var("KEYDESK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let admin = Database::connect(format!("{server}/postgres")).await.ok()?;
    let name = format!("kdb_mail_{}", std::process::id());
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
        .await
        .ok()?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .ok()?;
    Some(format!("{server}/{name}"))
}

fn latency(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = smtp::SmtpServer::plain();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut backends = vec![(
        "sqlite",
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        ),
    )];
    if let Some(url) = rt.block_on(postgres_url()) {
        backends.push(("postgres", url));
    } else {
        eprintln!("postgres unreachable: measuring SQLite only");
    }
    let mut group = c.benchmark_group("mail_delivery");
    group.sample_size(40);
    group.measurement_time(Duration::from_secs(10));
    for (name, url) in backends {
        let s = settings(&url, dir.path(), server.port);
        let store = rt.block_on(async {
            let store = Store::connect(&s.database).await.expect("connect");
            store.migrate().await.expect("migrate");
            store
        });
        let wake = Arc::new(Notify::new());
        let handle = rt.block_on(async {
            Worker::new(store.clone(), &s, Clock::system(), Arc::clone(&wake))
                .expect("worker")
                .spawn()
        });
        let mut n = 0usize;
        group.bench_function(format!("queue_and_wake_to_capture/{name}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let before = server.count();
                    n += 1;
                    let started = Instant::now();
                    rt.block_on(async {
                        outbox::queue(
                            store.conn(),
                            "ada@example.com",
                            &format!("bench-{name}-{n}"),
                            Clock::system().now(),
                        )
                        .await;
                        wake.notify_one();
                    });
                    // Poll the capture folder finely; the server renames each
                    // message into new/ only once it is complete.
                    let deadline = started + Duration::from_secs(30);
                    while server.count() <= before {
                        assert!(Instant::now() < deadline, "no delivery within 30 s");
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    total += started.elapsed();
                }
                total
            });
        });
        rt.block_on(handle.stop());
    }
    group.finish();
}

criterion_group!(benches, latency);
criterion_main!(benches);
