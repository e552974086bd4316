//! The console under faults, as the real binary in a real pty: killed by
//! SIGHUP or SIGTERM while a Reset Password runs, or by a panic injected
//! in the view (`KEYDESK_FAULT=panic-in-view`, a debug-build test hook,
//! see src/tui/fault.rs); each time the terminal is given back (main
//! screen, cursor shown, bracketed paste and raw mode off) and the reset's
//! transaction is whole or absent. And a burst of resizes to 1x1, 20x5 and
//! 300x100 neither panics nor stops it answering.

use std::time::Duration;

use nix::sys::signal::Signal;
use sea_orm::{ConnectionTrait, Statement};

use crate::support::console::{Console, console_env, populate, reset_footprint};

struct Fixture {
    desk: keydesk::desk::Desk,
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("keydesk.db").display()
    );
    let env = console_env(&url, dir.path());
    let desk = populate(&env, &dir.path().join("data")).await;
    Fixture { desk, env, dir }
}

/// Opens Ada's profile and confirms Reset Password; returns at once,
/// while the action may still be running.
fn confirm_reset_for_ada(c: &mut Console) {
    c.wait_for(&["203 matches", "(admin)"]);
    c.send("ada");
    c.wait_for(&["1 match", "Ada Lovelace"]);
    c.send("\r");
    c.wait_for(&["Customer since"]);
    c.send("r");
    c.wait_for(&["Send a password reset email to Ada Lovelace", "Send email"]);
    c.send("\r");
}

/// The store after an interrupted reset, against its footprint `before`
/// the console started: the new link, its mail and its audit event are
/// all there or none is, the file is intact, and the write lock is free
/// (a new reset goes through at once).
async fn assert_whole(fx: &Fixture, before: (i64, i64, i64)) {
    let (links, mails, audits) = reset_footprint(fx.desk.store()).await;
    let added = (links - before.0, mails - before.1, audits - before.2);
    assert!(
        added.0 == added.1 && added.1 == added.2 && added.0 <= 1,
        "half-done reset: {} links, {} mails, {} audit events added",
        added.0,
        added.1,
        added.2
    );
    let store = fx.desk.store();
    let check: String = store
        .conn()
        .query_one_raw(Statement::from_string(
            store.backend(),
            "PRAGMA integrity_check",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "integrity_check")
        .unwrap();
    assert_eq!(check, "ok");
    let me = fx
        .desk
        .operator(&keydesk::desk::Identity::from_os().unwrap())
        .await
        .unwrap();
    tokio::time::timeout(
        Duration::from_secs(5),
        fx.desk.send_reset_link(&me, "ada@example.com", true),
    )
    .await
    .expect("no lock left behind")
    .expect("a new reset works");
    assert_eq!(
        reset_footprint(fx.desk.store()).await,
        (links + 1, mails + 1, audits + 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_the_view_restores_the_terminal_and_half_does_nothing() {
    let fx = fixture().await;
    let before = reset_footprint(fx.desk.store()).await;
    let mut env = fx.env.clone();
    env.push(("KEYDESK_FAULT".into(), "panic-in-view".into()));
    let mut c = Console::start(&env, 120, 40);
    c.wait_for(&["203 matches"]);
    assert!(c.raw_mode(), "the console runs in raw mode");
    confirm_reset_for_ada(&mut c);
    let status = c.wait_exit();
    assert!(!status.success(), "the injected panic ends the process");
    c.assert_restored();
    let raw = c.raw();
    let after = &raw[raw.rfind("\x1b[?1049l").expect("left the alternate screen")..];
    assert!(
        after.contains("panic-in-view"),
        "the report is printed after the terminal was restored:\n{after}"
    );
    assert_whole(&fx, before).await;

    // The next console starts normally on the same store.
    let mut c = Console::start(&fx.env, 120, 40);
    c.wait_for(&["203 matches", "(admin)"]);
    c.esc();
    c.send("q");
    assert!(c.wait_exit().success());
    c.assert_restored();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_and_sigterm_during_a_reset_restore_and_half_do_nothing() {
    let fx = fixture().await;
    for signal in [Signal::SIGHUP, Signal::SIGTERM] {
        // Each round starts from what the last one (and its check) left.
        let before = reset_footprint(fx.desk.store()).await;
        let mut c = Console::start(&fx.env, 100, 30);
        confirm_reset_for_ada(&mut c);
        c.signal(signal);
        c.wait_exit();
        c.assert_restored();
        assert_whole(&fx, before).await;
    }
    let _ = &fx.dir;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resizes_to_1x1_20x5_and_300x100_in_quick_succession() {
    let fx = fixture().await;
    let mut c = Console::start(&fx.env, 120, 40);
    c.wait_for(&["203 matches", "(admin)"]);
    for _ in 0..5 {
        for (cols, rows) in [(1, 1), (20, 5), (300, 100)] {
            c.resize(cols, rows);
        }
    }
    c.resize(1, 1);
    c.resize(20, 5);
    std::thread::sleep(Duration::from_millis(300));
    assert!(c.alive(), "keydesk survived the resizes");
    c.wait_for(&["small"]);
    c.resize(300, 100);
    c.wait_for(&["203 matches", "(admin)"]);
    // It still answers: a search at the new size.
    c.send("bob");
    c.wait_for(&["1 match", "Bob Marsh"]);
    c.resize(80, 24);
    c.wait_for(&["1 match", "Bob Marsh"]);
    c.esc();
    c.send("q");
    assert!(c.wait_exit().success());
    c.assert_restored();
    let log = std::fs::read_to_string(fx.dir.path().join("keydesk.log")).unwrap_or_default();
    assert!(!log.contains("panic"), "{log}");
}
