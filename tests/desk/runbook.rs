//! The runbook commands of the real binary on every backend:
//! `reset-password --from FILE` with a file mixing customers, a contact,
//! an unknown address and malformed lines; `unlock --from -` (stdin);
//! `unlock --all-locked [--since]`; `sign-out --from FILE`. Each prints
//! done, skipped with reasons and failed, and exits 0 only when nothing
//! failed.

use chrono::{TimeDelta, Utc};
use keydesk::desk::error::exit;
use keydesk::store::entity::{audit_event, outbox};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::bulk::lock;
use crate::on_every_backend;
use crate::support::db::TestDb;
use crate::support::people;
use crate::support::process::{self, run_with_stdin};

fn keydesk(
    db: &TestDb,
    home: &std::path::Path,
    args: &[&str],
    stdin: Option<&str>,
) -> (i32, String, String) {
    let out = run_with_stdin(
        process::keydesk(home)
            .args(args)
            .env("KEYDESK__DATABASE__URL", &db.url)
            .env("KEYDESK__LOG__LEVEL", "warn"),
        stdin,
    );
    (
        out.status.code().expect("exited"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The rows of `action` that record it done (a refusal shares the name).
async fn count(db: &TestDb, action: &str) -> usize {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq(action))
        .filter(audit_event::Column::Outcome.eq("ok"))
        .all(db.store.conn())
        .await
        .unwrap()
        .len()
}

async fn runbooks_report_done_skipped_and_failed(db: TestDb) {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let ada = people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;
    let bob = people::make_customer(&db.store, "Bob Babbage", "bob@example.com").await;
    let eve = people::make_customer(&db.store, "Eve Early", "eve@example.com").await;
    people::make_contact(&db.store, "Sam Subscriber", "sam@example.com").await;
    // The OS user becomes the first admin.
    let (code, _, err) = keydesk(&db, home, &["migrate"], None);
    assert_eq!(code, 0, "{err}");

    let file = home.join("compromised.txt");
    std::fs::write(
        &file,
        "# from the platform\nada@example.com\nBOB@example.com\n\nsam@example.com\nnobody@example.com\nnot an address\nada@example.com\n",
    )
    .unwrap();
    let (code, out, err) = keydesk(
        &db,
        home,
        &["reset-password", "--from", file.to_str().unwrap()],
        None,
    );
    assert_eq!(
        code,
        exit::BULK_FAILED,
        "a malformed line fails: {out}{err}"
    );
    assert!(
        out.contains("Reset Password: 2 done, 2 skipped, 1 failed"),
        "{out}"
    );
    assert!(out.contains("1 skipped: not a customer"), "{out}");
    assert!(
        out.contains("skipped\tsam@example.com\tnot a customer"),
        "{out}"
    );
    assert!(
        out.contains("skipped\tnobody@example.com\tno contact has the email"),
        "{out}"
    );
    assert!(out.contains("failed\tline 7\t"), "{out}");
    let mails = outbox::Entity::find().all(db.store.conn()).await.unwrap();
    let mut to: Vec<_> = mails.iter().map(|m| m.recipient.clone()).collect();
    to.sort();
    assert_eq!(to, vec!["ada@example.com", "bob@example.com"], "each once");
    assert_eq!(count(&db, "reset_link.sent").await, 2);
    assert_eq!(count(&db, "bulk.finished").await, 1);

    // Again at once: both within the resend cooldown, nothing failed.
    std::fs::write(&file, "ada@example.com\nbob@example.com\n").unwrap();
    let (code, out, _) = keydesk(
        &db,
        home,
        &["reset-password", "--from", file.to_str().unwrap()],
        None,
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 done, 2 skipped, 0 failed"), "{out}");
    assert!(
        out.contains("2 skipped: within the resend cooldown"),
        "{out}"
    );

    // Unlock from stdin: one locked, one not.
    let later = Utc::now() + TimeDelta::minutes(30);
    lock(&db, ada, later).await;
    lock(&db, bob, later).await;
    let (code, out, _) = keydesk(
        &db,
        home,
        &["unlock", "--from", "-"],
        Some("ada@example.com\neve@example.com\n"),
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Unlock: 1 done, 1 skipped, 0 failed"), "{out}");
    assert!(out.contains("not locked"), "{out}");
    let _ = eve;

    // Every lock that began within the last hour: Bob's.
    let (code, out, _) = keydesk(
        &db,
        home,
        &["unlock", "--all-locked", "--since", "1h"],
        None,
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Unlock: 1 done, 0 skipped, 0 failed"), "{out}");
    let (code, out, _) = keydesk(&db, home, &["unlock", "--all-locked"], None);
    assert_eq!(code, 0);
    assert!(
        out.contains("Unlock: 0 done"),
        "nobody is locked now: {out}"
    );
    let (code, _, err) = keydesk(
        &db,
        home,
        &["unlock", "--all-locked", "--since", "soon"],
        None,
    );
    assert_eq!(code, exit::USAGE, "{err}");
    assert!(err.contains("--since"), "{err}");

    let (code, out, _) = keydesk(
        &db,
        home,
        &["sign-out", "--from", "-"],
        Some("ada@example.com\nbob@example.com\neve@example.com\n"),
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Sign out everywhere: 3 done"), "{out}");
    assert_eq!(count(&db, "sessions.sign_out_everywhere").await, 3);

    let (code, _, err) = keydesk(&db, home, &["unlock", "--from", "/no/such/file"], None);
    assert_eq!(code, exit::USAGE);
    assert!(err.contains("cannot read /no/such/file"), "{err}");
}
on_every_backend!(runbooks, runbooks_report_done_skipped_and_failed);
