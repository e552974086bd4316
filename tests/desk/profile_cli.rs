//! The profile commands of the real binary on every backend: `offers list |
//! grant | revoke`, `contacts edit`, `notes add | list | delete`, and the
//! notes and email history in `contacts show --json`; their exit codes.

use keydesk::desk::error::exit;
use serde_json::Value;

use super::cli::{code, keydesk, text};
use crate::on_every_backend;
use crate::support::db::TestDb;
use crate::support::people;

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
}

async fn the_profile_commands_work_from_the_shell(db: TestDb) {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let run = |args: &[&str], stdin: Option<&str>| keydesk(&db, home, args, stdin);
    people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;
    people::make_contact(&db.store, "Jane Roe", "jane@example.com").await;
    let out = run(&["migrate"], None);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));

    let out = run(&["offers", "list", "--json"], None);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(json(&out)[0]["name"], "Course");
    assert_eq!(json(&out)[0]["holders"], 1);

    let out = run(&["offers", "grant", "jane@example.com", "cour"], None);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("jane@example.com now holds Course and is a Customer"),
        "{said}"
    );
    assert!(
        said.contains("welcome email for jane@example.com"),
        "{said}"
    );
    let out = run(&["offers", "grant", "jane@example.com", "Course"], None);
    assert_eq!(code(&out), exit::CONFLICT, "{}", text(&out.stderr));

    let out = run(
        &[
            "contacts",
            "edit",
            "jane@example.com",
            "--email",
            "not an email",
        ],
        None,
    );
    assert_eq!(code(&out), exit::INVALID, "{}", text(&out.stderr));
    let out = run(&["contacts", "edit", "jane@example.com"], None);
    assert_eq!(code(&out), exit::INVALID, "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("nothing to change"));
    let out = run(
        &[
            "contacts",
            "edit",
            "jane@example.com",
            "--email",
            "jane@new.example.net",
            "--name",
            "Jane Q. Roe",
        ],
        None,
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("is now Jane Q. Roe <jane@new.example.net>"),
        "{}",
        text(&out.stdout)
    );

    let out = run(
        &["notes", "add", "jane@new.example.net", "-"],
        Some("She bought it elsewhere.\nGranted Course.\n"),
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let out = run(
        &["notes", "add", "jane@new.example.net", "Second note"],
        None,
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let long = "y".repeat(10_000);
    let out = run(&["notes", "add", "jane@new.example.net", "-"], Some(&long));
    assert_eq!(code(&out), exit::INVALID, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("a note holds at most 2000 characters"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["notes", "list", "jane@new.example.net", "--json"], None);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let notes = json(&out);
    assert_eq!(notes.as_array().unwrap().len(), 2);
    assert_eq!(notes[0]["text"], "Second note");
    assert_eq!(
        notes[1]["text"],
        "She bought it elsewhere.\nGranted Course."
    );
    assert_eq!(notes[1]["author"], people::os_user());
    let first_id = notes[1]["id"].as_i64().unwrap().to_string();
    let out = run(&["notes", "list", "jane@new.example.net"], None);
    assert!(
        text(&out.stdout).contains("    Granted Course."),
        "{}",
        text(&out.stdout)
    );
    let out = run(&["notes", "delete", &first_id], None);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let out = run(&["notes", "delete", &first_id], None);
    assert_eq!(code(&out), exit::NOT_FOUND, "{}", text(&out.stderr));

    let out = run(
        &["contacts", "show", "jane@new.example.net", "--json"],
        None,
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let shown = json(&out);
    assert_eq!(shown["notes"].as_array().unwrap().len(), 1);
    let kinds: Vec<&str> = shown["email_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["email_changed_new", "email_changed_old", "welcome"]);
    let raw = text(&out.stdout);
    assert!(
        !raw.contains("/password/reset/"),
        "no link in the profile: {raw}"
    );
    assert!(!raw.contains("\"body\""), "{raw}");

    let out = run(
        &["offers", "revoke", "jane@new.example.net", "Course"],
        None,
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("not a Customer any more"),
        "{}",
        text(&out.stdout)
    );
    let out = run(
        &["offers", "revoke", "jane@new.example.net", "Course"],
        None,
    );
    assert_eq!(code(&out), exit::NOT_FOUND, "{}", text(&out.stderr));
}
on_every_backend!(profile_commands, the_profile_commands_work_from_the_shell);
