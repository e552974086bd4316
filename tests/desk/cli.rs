//! The real binary against a seeded store on every backend: every
//! customer-access command, its output and its exit code.

use std::process::Output;

use keydesk::desk::error::exit;

use crate::on_every_backend;
use crate::support::db::TestDb;
use crate::support::process::{self, run_with_stdin};
use crate::support::{db, people};

pub(crate) fn keydesk(
    db: &TestDb,
    home: &std::path::Path,
    args: &[&str],
    stdin: Option<&str>,
) -> Output {
    run_with_stdin(
        process::keydesk(home)
            .args(args)
            .env("KEYDESK__DATABASE__URL", &db.url)
            .env("KEYDESK__PASSWORD__ARGON2__M_COST", "8192")
            .env("KEYDESK__PASSWORD__ARGON2__T_COST", "1")
            .env("KEYDESK__LOG__LEVEL", "warn"),
        stdin,
    )
}

pub(crate) fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

pub(crate) fn code(out: &Output) -> i32 {
    out.status.code().expect("exited")
}

async fn every_command_works_from_the_shell(db: TestDb) {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let me = people::os_user();
    people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;
    people::make_contact(&db.store, "Sam Subscriber", "sam@example.com").await;

    // The account that migrates an empty store becomes its first admin.
    let out = keydesk(&db, home, &["migrate"], None);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!(
            "{me} is the first keydesk operator and is now an admin"
        )),
        "{}",
        text(&out.stdout)
    );
    let out = keydesk(&db, home, &["migrate"], None);
    assert!(!text(&out.stdout).contains("first keydesk operator"));

    // reset-password
    let out = keydesk(&db, home, &["reset-password", "ada@example.com"], None);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("reset link for ada@example.com works until"),
        "{}",
        text(&out.stdout)
    );
    let out = keydesk(&db, home, &["reset-password", "ada@example.com"], None);
    assert_eq!(code(&out), exit::RATE_LIMITED, "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("force"), "{}", text(&out.stderr));
    let out = keydesk(
        &db,
        home,
        &["reset-password", "ada@example.com", "--force"],
        None,
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("revoked 1 older link"));
    let out = keydesk(&db, home, &["reset-password", "sam@example.com"], None);
    assert_eq!(code(&out), exit::NOT_A_CUSTOMER);
    assert!(text(&out.stderr).contains("granted access to an offer"));
    let out = keydesk(&db, home, &["reset-password", "nobody@example.com"], None);
    assert_eq!(code(&out), exit::NOT_FOUND);

    // change-password --generate: the password alone on stdout, once.
    let out = keydesk(
        &db,
        home,
        &["change-password", "ada@example.com", "--generate"],
        None,
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let password = text(&out.stdout).trim().to_owned();
    assert_eq!(text(&out.stdout).lines().count(), 1);
    assert!(text(&out.stderr).contains("must be changed at the next sign-in"));
    assert!(!text(&out.stderr).contains(&password));
    // A desk on the same store, on the same (system) clock as the binary.
    let desk = keydesk::desk::Desk::new(
        db.store.clone(),
        db::settings_with(&db.url, home, &[]),
        keydesk::clock::Clock::system(),
    )
    .unwrap();
    let signed = desk
        .authenticate("ada@example.com", &password, "test")
        .await
        .expect("the generated password works");
    assert!(signed.must_change_password);

    // change-password --password-stdin
    let out = keydesk(
        &db,
        home,
        &["change-password", "ada@example.com", "--password-stdin"],
        Some("password1234\n"),
    );
    assert_eq!(code(&out), exit::POLICY, "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("commonly used"));
    let out = keydesk(
        &db,
        home,
        &[
            "change-password",
            "ada@example.com",
            "--password-stdin",
            "--no-require-change",
        ],
        Some("violet lantern orbit meadow 77\n"),
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("violet"));
    let signed = desk
        .authenticate("ada@example.com", "violet lantern orbit meadow 77", "test")
        .await
        .unwrap();
    assert!(!signed.must_change_password);
    let out = keydesk(&db, home, &["change-password", "ada@example.com"], None);
    assert_eq!(
        code(&out),
        exit::USAGE,
        "one of --generate / --password-stdin"
    );

    // unlock, sign-out
    let out = keydesk(&db, home, &["unlock", "ada@example.com"], None);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let session = desk.start_session(signed.account_id, "test").await.unwrap();
    let out = keydesk(&db, home, &["sign-out", "ada@example.com"], None);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("ended 1 site session"));
    assert!(desk.session_from_cookie(&session).await.is_err());

    // audit
    let out = keydesk(
        &db,
        home,
        &["audit", "--contact", "ada@example.com", "--json"],
        None,
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let entries: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let actions: Vec<(&str, bool)> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["outcome"].as_str() == Some("ok"),
            )
        })
        .collect();
    // One name per action, whatever the outcome: a success and a refusal
    // of the same action share it.
    for action in [
        ("reset_link.sent", true),
        ("reset_link.sent", false),
        ("password.changed", true),
        ("password.changed", false),
        ("account.unlocked", true),
        ("sessions.sign_out_everywhere", true),
    ] {
        assert!(actions.contains(&action), "{action:?} in {actions:?}");
    }
    assert!(entries[0]["source"].as_str().unwrap().starts_with("local"));
    let out = keydesk(&db, home, &["audit", "--limit", "3"], None);
    assert_eq!(text(&out.stdout).lines().count(), 3);
    assert!(text(&out.stdout).contains(&me));
    assert!(
        !text(&out.stdout).contains(&password),
        "no secret in the audit"
    );

    // operators
    let out = keydesk(
        &db,
        home,
        &["operators", "add", "bob", "--role", "viewer"],
        None,
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let out = keydesk(&db, home, &["operators", "list"], None);
    assert!(text(&out.stdout).contains("bob") && text(&out.stdout).contains("viewer"));
    let out = keydesk(
        &db,
        home,
        &["operators", "add", "bob", "--role", "wizard"],
        None,
    );
    assert_eq!(code(&out), exit::USAGE);
    let out = keydesk(&db, home, &["operators", "remove", &me], None);
    assert_eq!(code(&out), exit::CONFLICT, "{}", text(&out.stderr));
    let out = keydesk(
        &db,
        home,
        &["operators", "add", "bob", "--role", "admin"],
        None,
    );
    assert_eq!(code(&out), 0);
    let out = keydesk(
        &db,
        home,
        &["operators", "add", &me, "--role", "viewer"],
        None,
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let out = keydesk(
        &db,
        home,
        &["reset-password", "ada@example.com", "--force"],
        None,
    );
    assert_eq!(code(&out), exit::NOT_ALLOWED, "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("agent"), "{}", text(&out.stderr));
    let out = keydesk(&db, home, &["operators", "remove", "bob"], None);
    assert_eq!(code(&out), exit::NOT_ALLOWED);

    // An unknown operator is told what an admin runs.
    let bob = keydesk::desk::Operator {
        name: "bob".into(),
        source: "test".into(),
        role: keydesk::desk::Role::Admin,
    };
    desk.remove_operator(&bob, &me).await.unwrap();
    let out = keydesk(&db, home, &["unlock", "ada@example.com"], None);
    assert_eq!(code(&out), exit::NOT_ALLOWED);
    assert!(
        text(&out.stderr).contains(&format!("keydesk operators add {me} --role agent")),
        "{}",
        text(&out.stderr)
    );

    // The exit codes are documented.
    let out = keydesk(&db, home, &["reset-password", "--help"], None);
    assert!(
        text(&out.stdout).contains("Exit codes:") && text(&out.stdout).contains("not a customer")
    );
}
on_every_backend!(cli, every_command_works_from_the_shell);
