//! The Audit screen through the real binary in a pty at 80x24, on every backend: `A` shows
//! the newest rows, a row written meanwhile appears live, the filter box
//! narrows by operator, Enter opens the row's contact, Esc goes back; an
//! agent's console shows only the agent's own actions.

use keydesk::desk::Role;

use crate::on_every_backend;
use crate::support::console::{Console, console_env, populate};
use crate::support::{db, people};

async fn audit_screen_walkthrough(db: db::TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let env = console_env(&db.url, dir.path());
    let desk = populate(&env, &dir.path().join("data")).await;
    let me = desk
        .operator(&keydesk::desk::Identity::from_os().unwrap())
        .await
        .unwrap();
    let agent = people::make_operator(desk.store(), "alex", "agent").await;
    desk.send_reset_link(&agent, "ada@example.com", false)
        .await
        .unwrap();
    desk.add_operator(&me, "bea", Role::Viewer).await.unwrap();

    let mut c = Console::start(&env, 80, 24);
    c.wait_for(&["(admin)", "Ada Lovelace"]);
    c.esc();
    c.send("A");
    c.wait_for(&[
        "Audit log",
        "operators.add",
        "reset_link.sent",
        "ada@example.com",
        "alex",
        "operators.first_admin",
    ]);
    assert!(
        !c.screen().contains("your own actions"),
        "an admin sees all"
    );
    // The footer offers the screen's keys, `?` lists them.
    c.wait_for(&["/ Filter", "Enter Open contact", "Esc Back"]);

    // A row written by someone else while the screen is open appears live.
    desk.send_reset_link(&agent, "bob@example.com", false)
        .await
        .unwrap();
    c.wait_for(&["bob@example.com"]);

    // Filter by operator: the admin's rows go.
    c.send("/");
    c.send("op:alex");
    c.wait_until("only alex's rows", |t| {
        let s = t.screen();
        s.contains("bob@example.com") && !s.contains("operators.add") && s.contains("2 rows")
    });
    c.send("\x1b");
    // The second row (Ada's reset): Enter opens her profile.
    c.send("j");
    c.wait_for(&["alex from test"]);
    c.send("\r");
    c.wait_for(&["Ada Lovelace", "ada@example.com", "Rust Mastery"]);
    assert!(!c.screen().contains("Audit log"));
    // Back to the list: the search holds her email.
    c.send("\x1b");
    c.wait_for(&["Ada Lovelace", "1 match"]);
    c.send("q");
    c.wait_exit();
    c.assert_restored();

    // An agent at the console sees only the agent's own actions: the
    // operator added earlier and a reset now, not alex's, not the system's,
    // not the demotion another admin made.
    let other = people::make_operator(desk.store(), "zz-other", "admin").await;
    desk.add_operator(&other, &me.name, Role::Agent)
        .await
        .unwrap();
    let me_agent = keydesk::desk::Operator {
        role: Role::Agent,
        ..me.clone()
    };
    desk.send_reset_link(&me_agent, "ada@example.com", true)
        .await
        .unwrap();
    let mut c = Console::start(&env, 80, 24);
    c.wait_for(&["(agent)", "Ada Lovelace"]);
    c.esc();
    c.send("A");
    c.wait_for(&[
        "your own actions",
        "reset_link.sent",
        "operators.add",
        "console.start",
    ]);
    let screen = c.screen();
    assert!(!screen.contains("alex"), "{screen}");
    assert!(!screen.contains("zz-other"), "{screen}");
    assert!(!screen.contains("first_admin"), "{screen}");
    c.send("q");
    c.wait_exit();
}
on_every_backend!(audit_screen, audit_screen_walkthrough);
