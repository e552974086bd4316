//! Agents send reset links while the relay is down, then hangs in the
//! middle of the conversation (it takes the message after DATA and never
//! answers), then comes back slow but working. Every email whose link is
//! still live when the relay returns is delivered exactly once; every
//! email whose link died first (expired, or revoked by a newer send) is
//! marked expired and never sent.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use keydesk::desk::{Desk, Operator};
use keydesk::mail::queue::state;
use keydesk::mail::worker::{Pass, Worker};
use keydesk::store::entity::reset_link;
use sea_orm::EntityTrait;
use tokio::sync::Notify;

use crate::support::process::free_port;
use crate::support::smtp::{SmtpOptions, SmtpServer};
use crate::support::{db, mailbox, people};

/// A pass with a deadline, so a hang fails the test instead of stalling it.
async fn pass(w: &Worker) -> Pass {
    tokio::time::timeout(Duration::from_secs(60), w.deliver_due())
        .await
        .expect("a delivery pass finishes")
        .expect("the store works")
}

fn customer(n: usize) -> String {
    format!("c{n}@example.com")
}

/// Four agents send to `who` at once (agent n to the n-th, forced when
/// `force`), while a delivery pass runs beside them.
async fn agents_send(
    desk: &Desk,
    agents: &[Operator],
    worker: &Worker,
    who: &[usize],
    force: bool,
) -> Pass {
    let sends = who.iter().enumerate().map(|(i, n)| {
        let (desk, agent, email) = (desk.clone(), agents[i % agents.len()].clone(), customer(*n));
        tokio::spawn(async move { desk.send_reset_link(&agent, &email, force).await })
    });
    let sends: Vec<_> = sends.collect();
    let during = pass(worker).await;
    for send in sends {
        send.await
            .unwrap()
            .expect("the send is accepted whatever the relay does");
    }
    during
}

fn relay(port: u16, opts: SmtpOptions) -> SmtpServer {
    SmtpServer::start(SmtpOptions {
        port: Some(port),
        ..opts
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_links_survive_a_relay_that_is_down_hangs_after_data_and_is_slow() {
    let db = db::fresh(db::Backend::Sqlite).await.unwrap();
    let port = free_port();
    let port_text = port.to_string();
    let (desk, clock) = db::desk_with(
        &db,
        &[
            ("KEYDESK__MAIL__TRANSPORT", "smtp"),
            ("KEYDESK__MAIL__SMTP__HOST", "127.0.0.1"),
            ("KEYDESK__MAIL__SMTP__PORT", &port_text),
            ("KEYDESK__MAIL__SMTP__TLS", "none"),
            ("KEYDESK__MAIL__SMTP__TIMEOUT", "3s"),
        ],
    );
    let mut agents = Vec::new();
    for n in 0..4 {
        agents.push(people::make_operator(&db.store, &format!("agent{n}"), "agent").await);
    }
    for n in 0..12 {
        people::make_customer(&db.store, &format!("Customer {n}"), &customer(n)).await;
    }
    let worker = Worker::new(
        db.store.clone(),
        desk.settings(),
        clock.clone(),
        Arc::new(Notify::new()),
    )
    .unwrap();

    // Down: nothing listens. Four links go out; all four mails wait.
    let p = agents_send(&desk, &agents, &worker, &[0, 1, 2, 3], false).await;
    let p2 = pass(&worker).await;
    assert_eq!(p.sent + p2.sent, 0);
    assert_eq!(p.retried + p2.retried, 4, "{p:?} {p2:?}");

    // Two hours later the relay answers but hangs after DATA: it takes
    // each message and never acknowledges it. Every attempt times out.
    clock.advance(Duration::from_secs(2 * 3600));
    let mut hung = relay(
        port,
        SmtpOptions {
            hang_after_data: true,
            ..SmtpOptions::default()
        },
    );
    let p = agents_send(&desk, &agents, &worker, &[4, 5, 6, 7], false).await;
    let p2 = pass(&worker).await;
    assert_eq!(p.sent + p2.sent, 0);
    assert_eq!(p.retried + p2.retried, 8, "{p:?} {p2:?}");
    let timed_out = mailbox::outbox_rows(&db.store)
        .await
        .into_iter()
        .filter(|r| r.last_error.contains("no answer"))
        .count();
    assert!(timed_out >= 4, "the hangs are recorded as timeouts");
    assert_eq!(
        hung.count(),
        0,
        "an unacknowledged message is not delivered"
    );

    // Four hours on: the links of c0..c3 (sent at the start) expire; c5
    // gets a newer link, which revokes the one its waiting mail carries.
    clock.advance(Duration::from_secs(4 * 3600 + 60));
    hung.stop();
    let slow = relay(
        port,
        SmtpOptions {
            slow: Some(Duration::from_millis(200)),
            ..SmtpOptions::default()
        },
    );
    // The relay is back, slow. c5's resend commits before the worker looks
    // (otherwise the worker may fairly deliver the old mail while its link
    // is still live); then four new links go out while the worker delivers.
    desk.send_reset_link(&agents[0], &customer(5), true)
        .await
        .expect("the resend is accepted");
    let p = pass(&worker).await;
    let p2 = agents_send(&desk, &agents, &worker, &[8, 9, 10, 11], false).await;
    let mut total = Pass::default();
    for step in [p, p2, pass(&worker).await] {
        total.sent += step.sent;
        total.expired += step.expired;
        total.failed += step.failed;
    }
    // Everything that is still due gets another go, however many passes.
    for _ in 0..5 {
        clock.advance(Duration::from_secs(3600));
        let step = pass(&worker).await;
        total.sent += step.sent;
        total.expired += step.expired;
        total.failed += step.failed;
    }
    assert_eq!(total.failed, 0);
    assert_eq!(total.expired, 5, "c0..c3 expired, c5's first link revoked");
    assert_eq!(total.sent, 8, "c4, c5 (new), c6, c7, c8..c11");

    // Exactly once each, and c5's mail carries its live link.
    let got = slow.wait_for(8, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    let got_after = slow.messages();
    assert_eq!(got.len(), got_after.len(), "nothing arrives late");
    let mut per: HashMap<String, usize> = HashMap::new();
    for m in &got_after {
        for r in &m.rcpt_tos {
            *per.entry(r.clone()).or_default() += 1;
        }
    }
    for n in [4, 5, 6, 7, 8, 9, 10, 11] {
        assert_eq!(
            per.get(&customer(n)),
            Some(&1),
            "{} delivered once",
            customer(n)
        );
    }
    for n in 0..4 {
        assert_eq!(
            per.get(&customer(n)),
            None,
            "{}: its link expired first",
            customer(n)
        );
    }
    let c5 = got_after
        .iter()
        .find(|m| m.rcpt_tos == [customer(5)])
        .expect("c5's mail");
    let token = mailbox::token_in(&c5.raw);
    desk.inspect_reset_link(&token)
        .await
        .expect("c5's delivered mail carries its live link");

    // The outbox agrees: 8 sent without bodies, 5 expired without bodies.
    let rows = mailbox::outbox_rows(&db.store).await;
    assert_eq!(rows.len(), 13);
    for r in &rows {
        assert!(
            r.body.is_none(),
            "{}: {} keeps a body",
            r.recipient,
            r.state
        );
        assert!(
            r.state == state::SENT || r.state == state::EXPIRED,
            "{}: {}",
            r.recipient,
            r.state
        );
    }
    let expired: Vec<&str> = rows
        .iter()
        .filter(|r| r.state == state::EXPIRED)
        .map(|r| r.recipient.as_str())
        .collect();
    assert_eq!(expired.len(), 5);
    assert_eq!(
        reset_link::Entity::find()
            .all(db.store.conn())
            .await
            .unwrap()
            .len(),
        13
    );
}
