//! The sign-in audit: every console session, over `ssh-serve` and on the
//! local terminal, leaves a `console.start` row (operator, client address,
//! key fingerprint for SSH) and a `console.end` row (why, and how long),
//! as `keydesk audit --json` shows them, for each way a session ends
//! (and a console that panics: `failed`).

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::console::{Console, console_env, populate};
use crate::support::ssh::{Client, Fixture, Server, fixture, wait_log};
use nix::sys::signal::Signal;
use serde_json::Value;

/// The console rows of `keydesk audit --json`, oldest first.
fn console_rows(run: impl Fn(&[&str]) -> std::process::Output) -> Vec<Value> {
    let out = run(&["audit", "--json", "--limit", "500"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).expect("audit --json");
    let mut rows: Vec<Value> = rows
        .into_iter()
        .filter(|r| {
            r["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("console."))
        })
        .collect();
    rows.reverse();
    rows
}

/// Start and end row of each session id, in the order sessions started.
fn sessions(rows: &[Value]) -> Vec<(Value, Value)> {
    let mut ends: HashMap<String, Value> = HashMap::new();
    for r in rows.iter().filter(|r| r["action"] == "console.end") {
        let id = r["detail"]["session"].as_str().unwrap().to_owned();
        assert!(ends.insert(id, r.clone()).is_none(), "two ends: {r}");
    }
    rows.iter()
        .filter(|r| r["action"] == "console.start")
        .map(|start| {
            let id = start["detail"]["session"].as_str().unwrap();
            let end = ends
                .remove(id)
                .unwrap_or_else(|| panic!("session {id} has no end row in {rows:#?}"));
            (start.clone(), end)
        })
        .collect()
}

fn key_fingerprint(key: &std::path::Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(format!("{}.pub", key.display()))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned()
}

/// Waits until the audit holds `n` ended console sessions.
fn wait_ended(fx: &Fixture, n: usize) -> Vec<(Value, Value)> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rows = console_rows(|args| fx.keydesk(args, None));
        let ended = rows.iter().filter(|r| r["action"] == "console.end").count();
        if ended >= n {
            return sessions(&rows);
        }
        assert!(Instant::now() < deadline, "{ended} of {n} ended: {rows:#?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ssh_session_is_audited_from_start_to_each_way_of_ending() {
    let fx = fixture(&[
        ("KEYDESK__SSH__IDLE_TIMEOUT", "3s"),
        ("KEYDESK__SSH__MAX_SESSION", "8s"),
    ])
    .await;
    let ann = fx.operator_with_key("ann", "agent");
    let bea = fx.operator_with_key("bea", "admin");
    let server = Server::start(&fx);
    let port = server.port;

    // Quit.
    let mut quitter = Client::start(port, &ann, 100, 30, &[]);
    quitter.wait_for(&["202 matches"]);
    assert!(quitter.quit().success());
    // Dropped: the client goes away.
    let mut dropped = Client::start(port, &bea, 100, 30, &["-b", "127.0.0.2"]);
    dropped.wait_for(&["202 matches"]);
    dropped.child.kill().unwrap();
    dropped.wait_exit();
    // Idle: no key for ssh.idle_timeout.
    let mut idle = Client::start(port, &ann, 100, 30, &[]);
    idle.wait_for(&["202 matches"]);
    idle.wait_exit();
    wait_ended(&fx, 3);
    // Maximum length: busy, but past ssh.max_session.
    let mut busy = Client::start(port, &ann, 100, 30, &[]);
    busy.wait_for(&["202 matches"]);
    let started = Instant::now();
    while busy.child.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(30), "never ended");
        busy.send("\x1b[B");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Server stop: one session open when ssh-serve gets SIGTERM.
    let mut last = Client::start(port, &bea, 100, 30, &[]);
    last.wait_for(&["202 matches"]);
    wait_log(&fx, "ssh session started", 5);
    assert!(server.stop().success());
    last.wait_exit();

    let all = wait_ended(&fx, 5);
    assert_eq!(all.len(), 5, "{all:#?}");
    let ann_key = key_fingerprint(&ann);
    let bea_key = key_fingerprint(&bea);
    let expected = [
        ("ann", &ann_key, "127.0.0.1", "quit"),
        ("bea", &bea_key, "127.0.0.2", "dropped"),
        ("ann", &ann_key, "127.0.0.1", "idle"),
        ("ann", &ann_key, "127.0.0.1", "max_session"),
        ("bea", &bea_key, "127.0.0.1", "server_stop"),
    ];
    for ((start, end), (who, key, from, reason)) in all.iter().zip(expected) {
        assert_eq!(start["actor"], who, "{start}");
        assert_eq!(start["actor_kind"], "operator");
        assert_eq!(start["detail"]["via"], "ssh");
        assert_eq!(
            start["detail"]["key"].as_str(),
            Some(key.as_str()),
            "{start}"
        );
        let role = if who == "ann" { "agent" } else { "admin" };
        assert_eq!(start["detail"]["role"], role, "{start}");
        let source = start["source"].as_str().unwrap();
        assert!(source.starts_with(&format!("ssh {from}:")), "{start}");
        assert_eq!(end["source"], start["source"], "{end}");
        assert_eq!(end["actor"], who);
        assert_eq!(end["detail"]["reason"], reason, "{end}");
        assert!(
            end["detail"]["duration_secs"].as_i64().unwrap() >= 0,
            "{end}"
        );
    }
    let secs = |i: usize| all[i].1["detail"]["duration_secs"].as_i64().unwrap();
    assert!(secs(2) >= 2, "idle after 3 s: {}", all[2].1);
    assert!(secs(3) >= 7, "ended at the 8 s maximum: {}", all[3].1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_local_console_is_audited_quit_hangup_terminate_and_panic() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("keydesk.db").display()
    );
    let env = console_env(&url, dir.path());
    populate(&env, &dir.path().join("data")).await;
    let identity = keydesk::desk::Identity::from_os().unwrap();

    // q quits.
    let mut c = Console::start(&env, 100, 30);
    c.wait_for(&["203 matches"]);
    c.esc();
    c.send("q");
    assert!(c.wait_exit().success());
    // SIGHUP: the terminal (or the SSH link of an OpenSSH login) dropped.
    let mut c = Console::start(&env, 100, 30);
    c.wait_for(&["203 matches"]);
    c.signal(Signal::SIGHUP);
    c.wait_exit();
    // SIGTERM: keydesk was stopped.
    let mut c = Console::start(&env, 100, 30);
    c.wait_for(&["203 matches"]);
    c.signal(Signal::SIGTERM);
    c.wait_exit();

    // A panic inside the console (the debug builds' injected fault).
    let mut faulty = env.clone();
    faulty.push(("KEYDESK_FAULT".into(), "panic-in-view".into()));
    let mut c = Console::start(&faulty, 120, 40);
    c.wait_for(&["203 matches"]);
    c.send("ada");
    c.wait_for(&["1 match", "Ada Lovelace"]);
    c.send("\r");
    c.wait_for(&["Customer since"]);
    c.send("r");
    c.wait_for(&["Send a password reset email to Ada Lovelace"]);
    c.send("\r");
    assert!(
        !c.wait_exit().success(),
        "the injected panic ends the process"
    );

    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_keydesk"))
            .args(args)
            .envs(env.iter().cloned())
            .output()
            .unwrap()
    };
    let all = sessions(&console_rows(run));
    let reasons: Vec<&str> = all
        .iter()
        .map(|(_, end)| end["detail"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        ["quit", "dropped", "server_stop", "failed"],
        "{all:#?}"
    );
    for (start, end) in &all {
        assert_eq!(start["actor"], identity.name.as_str());
        assert_eq!(start["source"], identity.source.as_str());
        assert_eq!(start["detail"]["via"], "local");
        assert_eq!(start["detail"]["role"], "admin");
        assert!(start["detail"].get("key").is_none(), "{start}");
        assert_eq!(end["source"], start["source"]);
        assert!(end["detail"]["duration_secs"].as_i64().is_some(), "{end}");
    }
}
