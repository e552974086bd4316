//! The outbox on every backend: leases (a dead worker's row is taken over,
//! a late worker cannot overwrite the new owner), the file and sendmail
//! transports, and the `keydesk outbox` commands of the real binary.

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use keydesk::clock::Clock;
use keydesk::mail::queue::{self, Lease, state};
use keydesk::mail::worker::{Pass, Worker};
use keydesk::settings::{MailTransport, Settings};
use tokio::sync::Notify;

use crate::on_every_backend;
use crate::support::db::TestDb;
use crate::support::outbox::{queue, row};
use crate::support::{db, process};

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T10:00:00.250000Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn settings(db: &TestDb, dir: &Path) -> Settings {
    db::settings_for(&db.url, dir)
}

async fn a_dead_workers_claim_is_taken_over_and_its_late_outcome_ignored(db: TestDb) {
    let conn = db.store.conn();
    let clock = Clock::fixed(start());
    let now = clock.now();
    let m = queue(conn, "ada@example.com", "lease-1", now).await;
    let lease_a = now + TimeDelta::seconds(120);
    let a = queue::claim(&db.store, now, lease_a, 10).await.unwrap();
    assert_eq!(a.rows.len(), 1);
    assert_eq!(a.rows[0].attempts, 1);
    assert_eq!(a.rows[0].claimed_until, Some(lease_a));

    // While the lease holds, nobody else gets the row.
    let b = queue::claim(&db.store, now + TimeDelta::seconds(119), lease_a, 10)
        .await
        .unwrap();
    assert!(b.rows.is_empty(), "a held lease is not claimable");
    assert_eq!(queue::next_due(conn).await.unwrap(), Some(lease_a));

    // Worker A dies; once the lease runs out, B takes the row.
    let later = now + TimeDelta::seconds(121);
    let lease_b = later + TimeDelta::seconds(120);
    let b = queue::claim(&db.store, later, lease_b, 10).await.unwrap();
    assert_eq!(b.rows.len(), 1);
    assert_eq!(b.rows[0].id, m.id);
    assert_eq!(b.rows[0].attempts, 2, "the dead worker's attempt counts");

    // A wakes up late: its outcome is not recorded over B's claim.
    let stale = Lease {
        id: m.id,
        until: lease_a,
    };
    assert!(!queue::mark_sent(conn, stale, later).await.unwrap());
    assert_eq!(row(conn, m.id).await.state, state::SENDING);
    let current = Lease {
        id: m.id,
        until: lease_b,
    };
    assert!(queue::mark_sent(conn, current, later).await.unwrap());
    let r = row(conn, m.id).await;
    assert_eq!(r.state, state::SENT);
    assert_eq!(r.body, None);
    assert_eq!(queue::next_due(conn).await.unwrap(), None);
}
on_every_backend!(
    leases,
    a_dead_workers_claim_is_taken_over_and_its_late_outcome_ignored
);

async fn due_rows_are_claimed_in_order_and_only_when_due(db: TestDb) {
    let conn = db.store.conn();
    let now = start();
    // Sub-second differences matter: SQLite compares these as text.
    let first = queue(
        conn,
        "a@example.com",
        "order-1",
        now - TimeDelta::milliseconds(1),
    )
    .await;
    let second = queue(conn, "b@example.com", "order-2", now).await;
    let later = queue(
        conn,
        "c@example.com",
        "order-3",
        now + TimeDelta::microseconds(1),
    )
    .await;
    let lease = now + TimeDelta::seconds(60);
    let got = queue::claim(&db.store, now, lease, 1).await.unwrap();
    assert_eq!(
        got.rows.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![first.id]
    );
    let got = queue::claim(&db.store, now, lease, 10).await.unwrap();
    assert_eq!(
        got.rows.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![second.id]
    );
    assert_eq!(
        queue::next_due(conn).await.unwrap(),
        Some(later.next_attempt_at)
    );
    let counts = queue::counts(conn).await.unwrap();
    assert_eq!((counts.queued, counts.retrying, counts.failed), (3, 0, 0));
}
on_every_backend!(claim_order, due_rows_are_claimed_in_order_and_only_when_due);

async fn the_file_transport_writes_one_eml_per_message(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(&db, dir.path());
    s.mail.transport = MailTransport::File;
    s.mail.file.dir = dir.path().join("outgoing").display().to_string();
    let clock = Clock::fixed(start());
    let conn = db.store.conn();
    let a = queue(conn, "ada@example.com", "file-1", clock.now()).await;
    let b = queue(conn, "bob@example.com", "file-2", clock.now()).await;
    let w = Worker::new(db.store.clone(), &s, clock.clone(), Arc::new(Notify::new())).unwrap();
    assert_eq!(w.transport_label(), format!("file {}", s.mail.file.dir));
    assert_eq!(
        w.deliver_due().await.unwrap(),
        Pass {
            sent: 2,
            ..Pass::default()
        }
    );
    let mut files: Vec<String> = std::fs::read_dir(&s.mail.file.dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    files.sort();
    let mut bodies = vec![a.body.clone().unwrap(), b.body.clone().unwrap()];
    bodies.sort();
    assert_eq!(files, bodies, "each .eml holds the message as queued");
    for id in [a.id, b.id] {
        let r = row(conn, id).await;
        assert_eq!(r.state, state::SENT);
        assert_eq!(r.body, None);
    }
    assert!(w.deliver_due().await.unwrap().is_empty());
}
on_every_backend!(
    file_transport,
    the_file_transport_writes_one_eml_per_message
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sendmail_transport_hands_the_message_to_the_command() {
    let db = db::fresh(db::Backend::Sqlite).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("fake-sendmail");
    let spool = dir.path().join("spool");
    std::fs::create_dir(&spool).unwrap();
    // A stand-in MTA: records its arguments and the message; refuses
    // "busy" recipients with EX_TEMPFAIL like a real sendmail would.
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nn=$(date +%s%N)\ncat > {spool}/$n.tmp\n\
             case \"$*\" in *busy*) rm {spool}/$n.tmp; echo 'queue full, try later' >&2; exit 75;; esac\n\
             echo \"$@\" > {spool}/$n.args\nmv {spool}/$n.tmp {spool}/$n.eml\n",
            spool = spool.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut s = settings(&db, dir.path());
    s.mail.transport = MailTransport::Sendmail;
    s.mail.sendmail.command = script.display().to_string();
    let clock = Clock::fixed(start());
    let conn = db.store.conn();
    let ok = queue(conn, "ada@example.com", "sendmail-1", clock.now()).await;
    let busy = queue(conn, "busy@example.com", "sendmail-2", clock.now()).await;
    let w = Worker::new(db.store.clone(), &s, clock.clone(), Arc::new(Notify::new())).unwrap();
    let done = w.deliver_due().await.unwrap();
    assert_eq!((done.sent, done.retried), (1, 1));

    let mut args = Vec::new();
    let mut emls = Vec::new();
    for entry in std::fs::read_dir(&spool).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if path.extension().is_some_and(|x| x == "args") {
            args.push(text);
        } else {
            emls.push(text);
        }
    }
    assert_eq!(
        args,
        vec!["-i -f support@example.com -- ada@example.com\n".to_owned()]
    );
    assert_eq!(emls, vec![ok.body.clone().unwrap()]);
    let r = row(conn, busy.id).await;
    assert_eq!(r.state, state::QUEUED);
    assert!(
        r.last_error.contains("queue full, try later"),
        "{}",
        r.last_error
    );
    assert_eq!(row(conn, ok.id).await.body, None);
}

fn keydesk(home: &Path, url: &str, args: &[&str]) -> Output {
    process::keydesk(home)
        .args(args)
        .env("KEYDESK__DATABASE__URL", url)
        .env("KEYDESK__LOG__LEVEL", "warn")
        .output()
        .expect("run keydesk")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keydesk_outbox_lists_without_bodies_and_retries_failed_messages() {
    let db = db::fresh(db::Backend::Sqlite).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let conn = db.store.conn();
    let now = Clock::system().now();
    let sent = queue(conn, "sent@example.com", "cli-sent", now).await;
    let failed = queue(conn, "gone@example.com", "cli-failed", now).await;
    let lease = now + TimeDelta::seconds(60);
    let claimed = queue::claim(&db.store, now, lease, 10).await.unwrap();
    assert_eq!(claimed.rows.len(), 2);
    let l = |id| Lease { id, until: lease };
    assert!(queue::mark_sent(conn, l(sent.id), now).await.unwrap());
    assert!(
        queue::mark_failed(
            conn,
            l(failed.id),
            "550 5.1.1 <gone@example.com>: User unknown"
        )
        .await
        .unwrap()
    );

    let out = keydesk(home.path(), &db.url, &["outbox"]);
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        listed.contains("sent@example.com") && listed.contains("gone@example.com"),
        "{listed}"
    );
    assert!(listed.contains("failed: 550 5.1.1"), "{listed}");
    assert!(!listed.contains("Body of"), "never the body: {listed}");

    let out = keydesk(home.path(), &db.url, &["outbox", "--failed"]);
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(listed.contains("gone@example.com"), "{listed}");
    assert!(!listed.contains("sent@example.com"), "{listed}");

    // A sent message cannot be retried; a failed one can.
    let out = keydesk(
        home.path(),
        &db.url,
        &["outbox", "retry", &sent.id.to_string()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not failed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = keydesk(home.path(), &db.url, &["outbox", "retry", "999999"]);
    assert_eq!(out.status.code(), Some(1));

    let out = keydesk(
        home.path(),
        &db.url,
        &["outbox", "retry", &failed.id.to_string()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("queued again"));
    let r = row(conn, failed.id).await;
    assert_eq!(
        (r.state.as_str(), r.attempts, r.last_error.as_str()),
        (state::QUEUED, 0, "")
    );
    assert!(r.body.is_some());
    assert!(r.next_attempt_at <= Clock::system().now() + TimeDelta::seconds(1));
    // Wait for the retried row to be due by the system clock, then claim it.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let again = queue::claim(&db.store, Clock::system().now(), lease, 10)
        .await
        .unwrap();
    assert_eq!(again.rows.len(), 1);
}
