//! On-call walkthroughs of the real binary in a pty: three customers
//! locked through the real site are found with the Locked filter, their
//! sources shown, and unlocked with one confirm; 50 resets go out through
//! a real SMTP server, each exactly once, the progress reaching the end;
//! a bulk of 500 cancelled midway keeps what it did, queues nothing more,
//! and after a restart nothing is sent twice.

use std::collections::BTreeMap;
use std::time::Duration;

use keydesk::desk::filters::Filter;
use keydesk::store::entity::{audit_event, outbox};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::on_every_backend;
use crate::support::console::{Console, console_env};
use crate::support::site::{PW, TestSite};
use crate::support::smtp::SmtpServer;
use crate::support::{db, people};

/// A real SMTP server, the console's environment mailing to it (with
/// `extra` settings), the OS user as admin, and `n` customers named
/// `{name} 000`... with emails `{name}0@example.com`... (lowercase).
async fn mailing(
    db: &db::TestDb,
    name: &str,
    n: usize,
    extra: &[(&str, &str)],
) -> (SmtpServer, Vec<(String, String)>, tempfile::TempDir) {
    let smtp = SmtpServer::plain();
    let dir = tempfile::tempdir().unwrap();
    let mut env = console_env(&db.url, dir.path());
    env.extend([
        ("KEYDESK__MAIL__TRANSPORT".into(), "smtp".into()),
        ("KEYDESK__MAIL__SMTP__HOST".into(), "127.0.0.1".into()),
        ("KEYDESK__MAIL__SMTP__PORT".into(), smtp.port.to_string()),
        ("KEYDESK__MAIL__SMTP__TLS".into(), "none".into()),
    ]);
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    crate::support::console::open_desk(&env, &dir.path().join("data")).await;
    let lower = name.to_lowercase();
    for i in 0..n {
        people::make_customer(
            &db.store,
            &format!("{name} {i:03}"),
            &format!("{lower}{i}@example.com"),
        )
        .await;
    }
    (smtp, env, dir)
}

async fn rows(store: &keydesk::store::Store, action: &str) -> Vec<audit_event::Model> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq(action))
        .all(store.conn())
        .await
        .unwrap()
}

async fn locked_through_the_site_found_and_unlocked_at_once(db: db::TestDb) {
    let url = db.url.clone();
    let site = TestSite::start(db, &[("KEYDESK__LOGIN__MAX_FAILURES", "3")]).await;
    let people = [
        ("Lena Locked", "lena@example.com"),
        ("Lars Locked", "lars@example.com"),
        ("Lia Locked", "lia@example.com"),
    ];
    for (name, email) in people {
        site.customer(name, email, Some(PW)).await;
    }
    site.customer("Otto Open", "otto@example.com", Some(PW))
        .await;
    let client = site.client();
    for (_, email) in people {
        for _ in 0..3 {
            client.login(email, "Wrong-Password-123456").await;
        }
    }
    client
        .login("otto@example.com", "Wrong-Password-123456")
        .await;
    assert_eq!(rows(site.store(), "account.locked").await.len(), 3);
    people::make_operator(site.store(), &people::os_user(), "admin").await;

    let dir = tempfile::tempdir().unwrap();
    let env = console_env(&url, dir.path());
    let mut c = Console::start(&env, 120, 40);
    c.wait_for(&["(admin)", "Otto Open"]);
    c.esc();
    c.send("f");
    c.wait_for(&["Filters", "Locked", "Never signed in", "Holds Course"]);
    c.send("\r");
    c.send("\x1b");
    c.wait_for(&[
        "Contacts · Locked",
        "3 matches",
        "Locked since",
        "Fails",
        "127.0.0.1",
        "Lena Locked",
        "Lars Locked",
        "Lia Locked",
    ]);
    assert!(!c.screen().contains("Otto Open"), "not locked, not listed");
    c.send("V");
    c.wait_for(&["3 selected"]);
    c.send(".");
    c.wait_for(&["Bulk actions", "Unlock", "Sign out everywhere"]);
    c.send("u");
    c.wait_for(&["Unlock the accounts of 3 contacts?", "[ Unlock ]"]);
    c.send("\r");
    c.wait_for(&["Unlock: 3 done, 0 skipped, 0 failed", "0 matches"]);
    let op = site.admin().await;
    let left = site
        .desk
        .filter_set(&op, &[Filter::Locked])
        .await
        .unwrap()
        .unwrap();
    assert!(left.is_empty(), "nobody is locked now");
    let unlocked = rows(site.store(), "account.unlocked").await;
    assert_eq!(unlocked.len(), 3);
    assert!(unlocked.iter().all(|r| r.detail.contains("bulk_job")));
    assert_eq!(rows(site.store(), "bulk.finished").await.len(), 1);
    c.send("q");
    c.wait_exit();
    c.assert_restored();
    site.stop().await;
}
on_every_backend!(
    lockout_view,
    locked_through_the_site_found_and_unlocked_at_once
);

/// Subjects the SMTP server got, with how often each.
fn received(smtp: &SmtpServer, n: usize) -> BTreeMap<String, usize> {
    let mut by_to = BTreeMap::new();
    for m in smtp.wait_for(n, Duration::from_secs(60)) {
        *by_to.entry(m.rcpt_tos.join(",")).or_default() += 1;
    }
    by_to
}

async fn fifty_resets_each_arrive_once(db: db::TestDb) {
    let (smtp, env, _dir) = mailing(&db, "Wave", 50, &[]).await;
    let mut c = Console::start(&env, 80, 24);
    c.wait_for(&["(admin)"]);
    c.send("wave");
    c.wait_for(&["50 matches"]);
    c.esc();
    c.send("V");
    c.wait_for(&["50 selected"]);
    c.send("r");
    c.wait_for(&["Send a password reset email to 50", "Type 50 to confirm"]);
    c.send("50\r");
    c.wait_within(
        &["Reset Password: 50 done, 0 skipped, 0 failed"],
        Duration::from_secs(60),
    );
    let got = received(&smtp, 50);
    assert_eq!(got.len(), 50, "every customer got one: {got:?}");
    assert!(got.values().all(|n| *n == 1), "none twice: {got:?}");
    c.send("q");
    c.wait_exit();
}
on_every_backend!(fifty_resets, fifty_resets_each_arrive_once);

/// Contacts in the cancelled bulk (the screen says 5,000).
const MANY: usize = 5_000;

async fn a_cancelled_bulk_sends_nothing_twice_after_a_restart(db: db::TestDb) {
    // The drain after the restart is timed by the relay, not the limit.
    let limit = [("KEYDESK__MAIL__MAX_PER_MINUTE", "100000")];
    // Enough contacts that the job is still running when `x` arrives: on a
    // quick store a 500-contact job once finished between the progress
    // showing 20 and the key (CI, SQLite); on an idle machine 27 to 50
    // are done by then.
    let (smtp, env, _dir) = mailing(&db, "Many", MANY, &limit).await;
    let mut c = Console::start(&env, 120, 40);
    c.wait_for(&["(admin)"]);
    c.send("many");
    c.wait_for(&["5,000 matches"]);
    c.esc();
    c.send("V");
    c.wait_for(&["5,000 selected"]);
    c.send("r");
    c.wait_for(&[&format!("Type {MANY} to confirm")]);
    c.send(&format!("{MANY}\r"));
    c.wait_until("the job to pass 20 contacts", |t| {
        progress(&t.screen()).is_some_and(|n| n >= 20)
    });
    // The console stays usable while the job runs.
    c.send("j");
    c.send("x");
    c.wait_within(&["Cancelled,", "not reached."], Duration::from_secs(30));
    let queued = outbox::Entity::find().all(db.store.conn()).await.unwrap();
    let done = queued.len();
    assert!((20..MANY).contains(&done), "cancelled midway: {done}");
    assert_eq!(
        rows(&db.store, "reset_link.sent").await.len(),
        done,
        "all audited"
    );
    assert_eq!(rows(&db.store, "bulk.cancelled").await.len(), 1);
    c.send("q");
    c.wait_exit();

    // A new console: the outbox drains, nothing more is queued or sent twice.
    let mut c = Console::start(&env, 120, 40);
    c.wait_for(&["(admin)"]);
    let got = received(&smtp, done);
    assert_eq!(got.len(), done);
    assert!(got.values().all(|n| *n == 1), "none twice");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        smtp.count(),
        done,
        "nothing after the restart beyond the queue"
    );
    assert_eq!(
        outbox::Entity::find()
            .all(db.store.conn())
            .await
            .unwrap()
            .len(),
        done
    );
    // The search box has the focus: Ctrl-C, not q.
    c.send("\x03");
    c.wait_exit();
}
on_every_backend!(
    cancel_and_restart,
    a_cancelled_bulk_sends_nothing_twice_after_a_restart
);

/// The handled count in the status line's `Reset [===  ] 23/500`.
fn progress(screen: &str) -> Option<u64> {
    let bar = screen.find("Reset [")?;
    let at = bar + screen[bar..].find("] ")?;
    let rest = &screen[at + 2..];
    let end = rest.find('/')?;
    rest[..end].trim().parse().ok()
}
