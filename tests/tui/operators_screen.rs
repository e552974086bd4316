//! The Operators screen through the real binary in a pty at 80x24, on every backend: an
//! admin adds an operator with a role, gives them a key by bracketed
//! paste, is refused demoting the last admin (desk's rule, shown in the
//! form), removes the operator after a confirmation; the store and the
//! audit log hold each change. An agent gets the reason instead.

use keydesk::desk::Role;
use keydesk::desk::audit::AuditFilter;

use crate::on_every_backend;
use crate::support::console::{Console, console_env, populate};
use crate::support::{db, people};

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIRiO0rhQkRcaawNt0kPiVpQTGWs+afPwT2m++lZz0vB dana@laptop";

async fn operators_screen_walkthrough(db: db::TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let env = console_env(&db.url, dir.path());
    let desk = populate(&env, &dir.path().join("data")).await;
    let me = desk
        .operator(&keydesk::desk::Identity::from_os().unwrap())
        .await
        .unwrap();
    // Sorted before the OS user's name, whatever it is.
    let name = "aaa-dana";

    let mut c = Console::start(&env, 80, 24);
    c.wait_for(&["(admin)", "Ada Lovelace"]);
    c.esc();
    c.send("O");
    c.wait_for(&["Operators", "1 operator", "admin", "no SSH key"]);
    c.wait_for(&["a Add", "c Role"]);

    c.send("a");
    c.wait_for(&["Add operator", "Name"]);
    c.send(name);
    c.send("\t");
    c.send("\r");
    c.wait_for(&["2 operators", name, "agent", "added as agent"]);

    // Select the new operator (first by name) and paste a key.
    c.send("g");
    c.send("s");
    c.wait_for(&["Add SSH key", &format!("Paste {name}'s OpenSSH public key")]);
    c.send(&format!("\x1b[200~{KEY}\n\x1b[201~"));
    c.wait_for(&["dana@laptop"]);
    c.send("\r");
    c.wait_for(&["SHA256:", "Key SHA256:"]);

    // The last admin cannot be demoted: desk says so in the form.
    c.send("G");
    c.send("c");
    c.wait_for(&["Change role", &format!("The role of {}", me.name)]);
    c.send("\r");
    c.wait_for(&["is the last admin"]);
    c.send("\x1b");

    // Remove the new operator, after the question.
    c.send("g");
    c.send("d");
    c.wait_for(&[&format!("Remove operator {name}?")]);
    c.send("\r");
    c.wait_for(&["1 operator", "removed"]);
    assert!(!c.screen().contains("dana@laptop"));
    c.send("q");
    c.wait_exit();
    c.assert_restored();

    let ops = desk.list_operators(&me).await.unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].role, Role::Admin, "still an admin");
    assert!(
        desk.list_operator_keys(&me).await.unwrap().is_empty(),
        "the key went with them"
    );
    let audit = desk
        .audit(
            &me,
            &AuditFilter {
                action: Some("operators.".into()),
                ..AuditFilter::default()
            },
        )
        .await
        .unwrap();
    let seen: Vec<(&str, &str)> = audit
        .iter()
        .map(|e| (e.action.as_str(), e.outcome.as_str()))
        .collect();
    for want in [
        ("operators.add", "ok"),
        ("operators.add_key", "ok"),
        ("operators.add", "refused"),
        ("operators.remove", "ok"),
    ] {
        assert!(seen.contains(&want), "{want:?} in {seen:?}");
    }

    // An agent is told why instead.
    let other = people::make_operator(desk.store(), "zz-admin", "admin").await;
    desk.add_operator(&other, &me.name, Role::Agent)
        .await
        .unwrap();
    let mut c = Console::start(&env, 80, 24);
    c.wait_for(&["(agent)", "Ada Lovelace"]);
    c.esc();
    c.send("O");
    c.wait_for(&["needs the admin role", "you are an agent"]);
    c.send("\x1b");
    c.send("q");
    c.wait_exit();
}
on_every_backend!(operators_screen, operators_screen_walkthrough);
