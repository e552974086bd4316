//! `keydesk ssh-serve` against the real OpenSSH client: a registered key
//! reaches the console, searches and sends a reset (the audit row names
//! the key's operator and the client's address); unknown keys, passwords,
//! exec, subsystems and forwarding are refused; window changes reach the
//! console; two sessions of different sizes stay apart; killing a client
//! ends its session; the idle timeout ends a session and gives the
//! terminal back.

use std::time::Duration;

use keydesk::desk::audit::AuditFilter;

use crate::support::ssh::{Client, Server, fixture, ssh_output, wait_log};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_key_reaches_the_console_searches_and_sends_a_reset() {
    let fx = fixture(&[]).await;
    let key = fx.operator_with_key("ann", "agent");
    let list = fx.keydesk(&["operators", "list"], None);
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.contains("ann") && list.contains("key SHA256:"),
        "{list}"
    );
    let server = Server::start(&fx);
    assert!(
        server.banner.contains("host key SHA256:"),
        "{}",
        server.banner
    );

    let mut c = Client::start(server.port, &key, 120, 40, &[]);
    c.wait_for(&["202 matches", "ann", "(agent)"]);
    c.send("ada");
    c.wait_for(&["1 match", "Ada Lovelace", "ada@example.com"]);
    c.send("\r");
    c.wait_for(&["Customer since", "Rust Mastery"]);
    c.send("r");
    c.wait_for(&["Send a password reset email to Ada Lovelace", "Send email"]);
    c.send("\r");
    c.wait_for(&["Reset link for Ada Lovelace"]);

    let admin = fx.admin().await;
    let rows = fx
        .desk
        .audit(
            &admin,
            &AuditFilter {
                contact_email: Some("ada@example.com".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let sent = rows
        .iter()
        .find(|r| r.action.starts_with("reset_link") && r.outcome == "ok")
        .unwrap_or_else(|| panic!("no reset row in {rows:#?}"));
    assert_eq!(sent.actor, "ann");
    assert!(sent.source.starts_with("ssh 127.0.0.1:"), "{}", sent.source);

    // Copy email: the OSC 52 sequence travels to the agent's own terminal.
    c.send(".");
    c.wait_for(&["More Actions", "Copy email"]);
    c.send("y");
    c.wait_until("the OSC 52 copy", |c| {
        c.raw().contains("\x1b]52;c;YWRhQGV4YW1wbGUuY29t\x1b\\")
    });

    // The Audit screen over SSH: the agent's own rows, with the SSH source;
    // the Operators screen tells an agent the role it needs.
    c.send("\x1b");
    c.wait_until("the More Actions menu closed", |c| {
        !c.screen().contains("Copy email")
    });
    c.send("A");
    c.wait_for(&[
        "Audit log · your own actions",
        "reset_link.sent",
        "from ssh 127.0.0.1:",
    ]);
    c.send("O");
    c.wait_for(&[
        "Managing operators needs the admin role",
        "you are an agent",
    ]);
    c.send("\x1b");
    c.send("\x1b");
    c.wait_for(&["Ada Lovelace", "Customer since"]);

    // q quits: the client's terminal is given back and ssh exits 0.
    let status = c.quit();
    assert!(status.success(), "{status:?}");
    c.assert_restored();
    wait_log(&fx, "reason=\"quit\"", 1);
    // The host key was written once and is reused on the next start.
    let first = server.banner.clone();
    assert!(server.stop().success());
    let again = Server::start(&fx);
    let fp = |b: &str| {
        b.lines()
            .find(|l| l.starts_with("host key"))
            .unwrap()
            .split_whitespace()
            .nth(2)
            .unwrap()
            .to_owned()
    };
    assert_eq!(fp(&first), fp(&again.banner));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_keys_passwords_exec_subsystems_and_forwarding_are_refused() {
    let fx = fixture(&[]).await;
    let key = fx.operator_with_key("ann", "agent");
    let stranger = fx.keygen("stranger");
    let server = Server::start(&fx);

    let (code, out) = ssh_output(server.port, &stranger, &[], &[]);
    assert_eq!(code, 255, "{out}");
    assert!(out.contains("Permission denied (publickey)"), "{out}");

    // Asking for a password gets nowhere: only publickey is offered.
    let (code, out) = ssh_output(
        server.port,
        &stranger,
        &[
            "-o",
            "PreferredAuthentications=password,keyboard-interactive",
            "-o",
            "PubkeyAuthentication=no",
        ],
        &[],
    );
    assert_eq!(code, 255, "{out}");
    assert!(out.contains("Permission denied (publickey)"), "{out}");

    // An allowed key running a command is refused.
    let (code, out) = ssh_output(server.port, &key, &[], &["cat", "/etc/passwd"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("runs only the console"), "{out}");
    assert!(!out.contains("root:"), "{out}");

    // So is a subsystem (sftp).
    let (code, out) = ssh_output(server.port, &key, &["-s"], &["sftp"]);
    assert_ne!(code, 0, "{out}");

    // And remote port forwarding.
    let (code, out) = ssh_output(
        server.port,
        &key,
        &[
            "-N",
            "-o",
            "ExitOnForwardFailure=yes",
            "-R",
            "0:127.0.0.1:9",
        ],
        &[],
    );
    assert_ne!(code, 0, "{out}");
    assert!(out.to_lowercase().contains("forward"), "{out}");

    // Without a terminal there is no console either.
    let (code, out) = ssh_output(server.port, &key, &["-T"], &[]);
    assert_ne!(code, 0, "{out}");

    let log = fx.log();
    assert!(log.contains("ssh sign-in refused"), "{log}");
    assert!(log.contains("ssh exec request refused"), "{log}");
    assert!(!log.contains("/etc/passwd"), "commands are not logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_password_attempt_is_refused_and_repeated_failures_are_slowed() {
    let fx = fixture(&[]).await;
    let server = Server::start(&fx);
    let addr = ("127.0.0.1", server.port);
    let config = std::sync::Arc::new(russh::client::Config::default());

    struct Trusting;
    impl russh::client::Handler for Trusting {
        type Error = russh::Error;
        async fn check_server_key(
            &mut self,
            _key: &russh::keys::PublicKeyOrCertificate,
        ) -> Result<bool, Self::Error> {
            Ok(true)
        }
    }

    let mut timings = Vec::new();
    for _ in 0..8 {
        let mut session = russh::client::connect(config.clone(), addr, Trusting)
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let result = session
            .authenticate_password("ann", "correct horse battery staple")
            .await
            .unwrap();
        timings.push(started.elapsed());
        assert!(!result.success(), "a password signed in");
    }
    // The first attempts take the constant rejection time; later ones wait longer.
    assert!(
        timings[7] > timings[0] + Duration::from_millis(400),
        "{timings:?}"
    );
    let log = fx.log();
    assert!(log.contains("method=\"password\""), "{log}");
    assert!(
        !log.contains("correct horse"),
        "the password is never logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resize_reaches_the_console_and_two_sessions_stay_apart() {
    let fx = fixture(&[]).await;
    let ann = fx.operator_with_key("ann", "agent");
    let bob = fx.operator_with_key("bob", "viewer");
    let server = Server::start(&fx);

    let mut small = Client::start(server.port, &ann, 80, 24, &[]);
    let mut large = Client::start(server.port, &bob, 150, 50, &["-o", "SetEnv=NO_COLOR=1"]);
    small.wait_for(&["202 matches", "ann"]);
    large.wait_for(&["202 matches", "bob", "(viewer)"]);
    // Each draws to its own last row.
    small.wait_until("the footer on row 24", |c| !c.row(23).trim().is_empty());
    large.wait_until("the footer on row 50", |c| !c.row(49).trim().is_empty());

    // Typing (here a bracketed paste) in one session changes only that one.
    large.send("\x1b[200~cleo\x1b[201~");
    large.wait_for(&["1 match", "Cleo Park"]);
    small.send("ada");
    small.wait_for(&["1 match", "Ada Lovelace"]);
    let big = large.screen();
    assert!(
        big.contains("Cleo Park") && !big.contains("Ada Lovelace"),
        "{big}"
    );
    assert!(!small.screen().contains("Cleo Park"));

    // NO_COLOR from the session's environment: no colours in that session.
    assert!(!large.raw().contains("38;5;"), "colour codes with NO_COLOR");
    assert!(
        small.raw().contains("38;5;"),
        "the 256-colour theme for xterm-256color"
    );

    // A window change reaches the console: it redraws to the new last row.
    small.resize(130, 45);
    small.wait_until("the footer on row 45", |c| !c.row(44).trim().is_empty());
    small.wait_for(&["Ada Lovelace"]);
    assert!(
        !large.row(49).trim().is_empty(),
        "the other session kept its size"
    );

    small.quit();
    large.quit();
    small.assert_restored();
    large.assert_restored();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_client_ends_its_session_and_frees_it() {
    let fx = fixture(&[]).await;
    let key = fx.operator_with_key("ann", "agent");
    let server = Server::start(&fx);
    let mut first = Client::start(server.port, &key, 100, 30, &[]);
    let second = Client::start(server.port, &key, 100, 30, &[]);
    first.wait_for(&["202 matches"]);
    second.wait_for(&["202 matches"]);
    wait_log(&fx, "ssh session started", 2);

    first.child.kill().unwrap();
    first.wait_exit();
    let log = wait_log(&fx, "ssh session ended", 1);
    assert!(log.contains("active=1"), "one session left:\n{log}");
    // The other session goes on.
    let mut second = second;
    second.send("cleo");
    second.wait_for(&["1 match", "Cleo Park"]);
    second.child.kill().unwrap();
    second.wait_exit();
    let log = wait_log(&fx, "ssh session ended", 2);
    assert!(log.contains("active=0"), "every session freed:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idle_timeout_ends_the_session_and_restores_the_terminal() {
    let fx = fixture(&[("KEYDESK__SSH__IDLE_TIMEOUT", "2s")]).await;
    let key = fx.operator_with_key("ann", "agent");
    let server = Server::start(&fx);
    let mut c = Client::start(server.port, &key, 100, 30, &[]);
    c.wait_for(&["202 matches"]);
    let status = c.wait_exit();
    assert!(status.success(), "{status:?}");
    c.assert_restored();
    assert!(c.screen().contains("idle"), "{}", c.screen());
    wait_log(&fx, "reason=\"idle\"", 1);
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_server_restores_every_client_terminal() {
    let fx = fixture(&[]).await;
    let key = fx.operator_with_key("ann", "agent");
    let server = Server::start(&fx);
    let mut a = Client::start(server.port, &key, 90, 30, &[]);
    let mut b = Client::start(server.port, &key, 120, 40, &[]);
    a.wait_for(&["202 matches"]);
    b.wait_for(&["202 matches"]);
    assert!(server.stop().success());
    for c in [&mut a, &mut b] {
        c.wait_exit();
        c.assert_restored();
        assert!(c.screen().contains("server is stopping"), "{}", c.screen());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_key_reads_stdin_refuses_bad_text_and_remove_key_takes_it_away() {
    let fx = fixture(&[]).await;
    let out = fx.keydesk(&["operators", "add", "ann", "--role", "agent"], None);
    assert!(out.status.success());
    let key = fx.keygen("ann_key");
    let public = std::fs::read_to_string(format!("{}.pub", key.display())).unwrap();

    // Bad input: exit 2, a clear message, nothing stored.
    let private = std::fs::read_to_string(&key).unwrap();
    let out = fx.keydesk(&["operators", "add-key", "ann", "-"], Some(&private));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("private key"), "{err}");
    assert!(
        !err.contains("PRIVATE"),
        "the key text is not echoed: {err}"
    );
    let out = fx.keydesk(
        &["operators", "add-key", "ann", "--file", "/nonexistent.pub"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let out = fx.keydesk(&["operators", "add-key", "ann"], None);
    assert_eq!(out.status.code(), Some(2), "a source is required");

    let out = fx.keydesk(&["operators", "add-key", "ann", "-"], Some(&public));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    let fp = said
        .split_whitespace()
        .find(|w| w.starts_with("SHA256:"))
        .unwrap()
        .to_owned();
    let list = fx.keydesk(&["operators", "list"], None);
    assert!(String::from_utf8_lossy(&list.stdout).contains(&fp));

    // The same key again is a conflict.
    let out = fx.keydesk(&["operators", "add-key", "ann", "-"], Some(&public));
    assert_eq!(out.status.code(), Some(11));

    let server = Server::start(&fx);
    let mut c = Client::start(server.port, &key, 100, 30, &[]);
    c.wait_for(&["202 matches", "ann"]);
    c.quit();

    let out = fx.keydesk(&["operators", "remove-key", "ann", &fp], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, out) = crate::support::ssh::ssh_output(server.port, &key, &[], &[]);
    assert_eq!(code, 255, "a removed key no longer signs in: {out}");
    let list = fx.keydesk(&["operators", "list"], None);
    assert!(!String::from_utf8_lossy(&list.stdout).contains(&fp));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_maximum_session_length_ends_even_a_busy_session() {
    let fx = fixture(&[("KEYDESK__SSH__MAX_SESSION", "3s")]).await;
    let key = fx.operator_with_key("ann", "agent");
    let server = Server::start(&fx);
    let mut c = Client::start(server.port, &key, 100, 30, &[]);
    c.wait_for(&["202 matches"]);
    // Typing keeps it from being idle; the maximum length ends it anyway.
    let started = std::time::Instant::now();
    while c.child.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(20), "never ended");
        c.send("\x1b[B");
        std::thread::sleep(Duration::from_millis(200));
    }
    c.wait_exit();
    c.assert_restored();
    assert!(c.screen().contains("maximum length"), "{}", c.screen());
    wait_log(&fx, "reason=\"max_session\"", 1);
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_as_soon_as_it_says_it_is_ready_stops_it_cleanly() {
    // The signal handlers exist before the banner: a supervisor that stops
    // the server right after it started gets a clean exit, never a kill.
    let fx = fixture(&[]).await;
    for _ in 0..3 {
        let server = Server::start(&fx);
        assert!(server.stop().success());
    }
}
