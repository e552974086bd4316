//! Desk to inbox: from `Desk::send_reset_link` (token, outbox row and audit
//! event in one transaction, then the wake) to the message lying in a real
//! SMTP server's capture folder, with the worker in the same process.

// The tests' own support pieces (tests/support); the bench uses part of each.
#[expect(dead_code, reason = "the bench uses part of the tests' support")]
#[path = "../tests/support/db.rs"]
mod db;
#[expect(dead_code, reason = "the bench uses part of the tests' support")]
#[path = "../tests/support/people.rs"]
mod people;
#[expect(dead_code, reason = "the bench uses part of the tests' support")]
#[path = "../tests/support/process.rs"]
mod process;
#[expect(dead_code, reason = "the bench uses part of the tests' support")]
#[path = "../tests/support/smtp.rs"]
mod smtp;
#[expect(dead_code, reason = "the bench uses part of the tests' support")]
#[path = "../tests/support/tls.rs"]
mod tls;

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use keydesk::mail::worker::Worker;

fn desk_to_capture(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = smtp::SmtpServer::plain();
    let port = server.port.to_string();
    let mut group = c.benchmark_group("mail_e2e");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(10));
    for backend in [db::Backend::Sqlite, db::Backend::Postgres] {
        let Some(db) = rt.block_on(db::fresh(backend)) else {
            continue;
        };
        let extra = [
            ("KEYDESK__MAIL__TRANSPORT", "smtp"),
            ("KEYDESK__MAIL__SMTP__HOST", "127.0.0.1"),
            ("KEYDESK__MAIL__SMTP__PORT", port.as_str()),
            ("KEYDESK__MAIL__SMTP__TLS", "none"),
            ("KEYDESK__OUTBOX__POLL_INTERVAL", "10m"),
            // Every iteration sends again at once.
            ("KEYDESK__RESET__RESEND_COOLDOWN", "0s"),
        ];
        let settings = db::settings_with(&db.url, &std::env::temp_dir(), &extra);
        let desk = keydesk::desk::Desk::new(
            db.store.clone(),
            settings.clone(),
            keydesk::clock::Clock::system(),
        )
        .expect("desk");
        let (agent, handle) = rt.block_on(async {
            let agent = people::make_operator(&db.store, "agent1", "agent").await;
            people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;
            let handle = Worker::new(
                db.store.clone(),
                &settings,
                keydesk::clock::Clock::system(),
                desk.outbox_wake(),
            )
            .expect("worker")
            .spawn();
            (agent, handle)
        });
        group.bench_function(format!("send_reset_link_to_capture/{backend:?}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let before = server.count();
                    let started = Instant::now();
                    rt.block_on(desk.send_reset_link(&agent, "ada@example.com", true))
                        .expect("send a reset link");
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

criterion_group!(benches, desk_to_capture);
criterion_main!(benches);
