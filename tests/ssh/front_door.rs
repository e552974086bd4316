//! The hardened SSH front door of `keydesk ssh-serve`, tried with the real
//! OpenSSH client and raw sockets: only the algorithms of
//! `src/ssh/algorithms.rs` are offered and a client restricted to a removed
//! one is refused while the default client gets in; a flood of new
//! connections from one address reaches no key exchange beyond the limits
//! while an agent from another address signs in; a connection that does
//! not authenticate is closed after `ssh.login_grace`; a refused key is
//! logged with the address and its fingerprint.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::ssh::{Client, Server, fixture, ssh_output, wait_log};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The name-lists of the server's KEXINIT, read from a raw connection:
/// what any client (or auditor) is offered.
async fn server_kexinit(port: u16) -> Vec<Vec<String>> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(b"SSH-2.0-keydesk_test_probe\r\n")
        .await
        .unwrap();
    // The identification line, then one binary packet.
    let mut line = Vec::new();
    while !line.ends_with(b"\n") {
        line.push(s.read_u8().await.unwrap());
    }
    assert!(line.starts_with(b"SSH-2.0-keydesk"), "{line:?}");
    let len = s.read_u32().await.unwrap() as usize;
    let mut packet = vec![0; len];
    s.read_exact(&mut packet).await.unwrap();
    let padding = packet[0] as usize;
    let payload = &packet[1..len - padding];
    assert_eq!(payload[0], 20, "SSH_MSG_KEXINIT");
    let mut at = 17; // message number and the 16-byte cookie
    let mut lists = Vec::new();
    for _ in 0..10 {
        let n = u32::from_be_bytes(payload[at..at + 4].try_into().unwrap()) as usize;
        at += 4;
        let text = std::str::from_utf8(&payload[at..at + n]).unwrap();
        at += n;
        lists.push(
            text.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        );
    }
    lists
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_hardened_algorithms_are_offered_and_a_weaker_client_is_refused() {
    // Many clients in a row from one address: above the default rate.
    let fx = fixture(&[("KEYDESK__SSH__PER_ADDRESS_RATE", "100")]).await;
    let key = fx.operator_with_key("ann", "agent");
    let server = Server::start(&fx);

    let lists = server_kexinit(server.port).await;
    let want = |names: &[&str]| names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        lists[0],
        want(&[
            "mlkem768x25519-sha256",
            "curve25519-sha256",
            "curve25519-sha256@libssh.org",
            "ext-info-s",
            "kex-strict-s-v00@openssh.com",
        ]),
        "key exchange"
    );
    assert_eq!(lists[1], want(&["ssh-ed25519"]), "host key");
    let ciphers = want(&[
        "chacha20-poly1305@openssh.com",
        "aes256-gcm@openssh.com",
        "aes128-gcm@openssh.com",
        "aes256-ctr",
        "aes192-ctr",
        "aes128-ctr",
    ]);
    assert_eq!(lists[2], ciphers);
    assert_eq!(lists[3], ciphers);
    let macs = want(&[
        "hmac-sha2-512-etm@openssh.com",
        "hmac-sha2-256-etm@openssh.com",
    ]);
    assert_eq!(lists[4], macs);
    assert_eq!(lists[5], macs);
    assert_eq!(lists[6], want(&["none"]), "compression");
    assert_eq!(lists[7], want(&["none"]));

    // The real client, restricted to what was removed, is refused before
    // any authentication.
    for (options, says) in [
        (
            &["-o", "KexAlgorithms=diffie-hellman-group14-sha256"][..],
            "no matching key exchange method",
        ),
        (
            &[
                "-o",
                "KexAlgorithms=diffie-hellman-group-exchange-sha256,ecdh-sha2-nistp256",
            ][..],
            "no matching key exchange method",
        ),
        // The MAC is used only with a cipher that needs one.
        (
            &["-o", "Ciphers=aes128-ctr", "-o", "MACs=hmac-sha2-256"][..],
            "no matching MAC",
        ),
        (
            &[
                "-o",
                "Ciphers=aes256-ctr",
                "-o",
                "MACs=hmac-sha2-512,hmac-sha1",
            ][..],
            "no matching MAC",
        ),
        (
            &["-o", "Ciphers=aes128-cbc,3des-cbc"][..],
            "no matching cipher",
        ),
        (
            &["-o", "HostKeyAlgorithms=ecdsa-sha2-nistp256,rsa-sha2-512"][..],
            "no matching host key type",
        ),
    ] {
        let mut args = vec!["-o", "LogLevel=INFO"];
        args.extend_from_slice(options);
        let (code, text) = ssh_output(server.port, &key, &args, &["true"]);
        assert_eq!(code, 255, "{options:?} got in: {text}");
        assert!(text.contains(says), "{options:?}: {text}");
    }
    // `MACs=hmac-sha2-256` alone: the client picks chacha20-poly1305,
    // which carries its own authentication, so no MAC is used at all.
    let (_, text) = ssh_output(
        server.port,
        &key,
        &["-v", "-o", "MACs=hmac-sha2-256"],
        &["true"],
    );
    assert!(
        text.contains("cipher: chacha20-poly1305@openssh.com MAC: <implicit>"),
        "{text}"
    );

    // The default client gets in (and is told this server runs only the
    // console), over curve25519: this OpenSSH predates ML-KEM.
    let (code, text) = ssh_output(server.port, &key, &["-v"], &["true"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("runs only the console"), "{text}");
    assert!(
        text.contains("kex: algorithm: curve25519-sha256")
            || text.contains("kex: algorithm: mlkem768x25519-sha256"),
        "{text}"
    );
    assert!(
        text.contains("kex: host key algorithm: ssh-ed25519"),
        "{text}"
    );
    wait_log(&fx, "ssh sign-in", 2);
    drop(server);
}

/// Opens a connection from `from` and reports whether the server's
/// identification arrived (the connection reached key exchange) before the
/// server closed it or `wait` passed. The socket is returned, still open.
async fn probe(from: &str, port: u16, wait: Duration) -> (bool, Option<TcpStream>) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let Ok(mut stream) = socket
        .connect(format!("127.0.0.1:{port}").parse().unwrap())
        .await
    else {
        return (false, None);
    };
    let mut buf = [0u8; 64];
    match tokio::time::timeout(wait, stream.read(&mut buf)).await {
        Ok(Ok(n)) if n > 0 => (buf[..n].starts_with(b"SSH-2.0-keydesk"), Some(stream)),
        _ => (false, Some(stream)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_address_is_held_back_while_an_agent_from_another_signs_in() {
    // The defaults: 5 new connections a second and 3 unauthenticated at
    // once from one address, 30 in all.
    let fx = fixture(&[]).await;
    let key = fx.operator_with_key("ann", "agent");
    let server = Server::start(&fx);
    let port = server.port;

    // 100 connection attempts in one second from 127.0.0.1, each held
    // open without a word, so none ever authenticates.
    let flood = tokio::spawn(async move {
        let mut attempts = Vec::new();
        let started = Instant::now();
        for i in 0..100u32 {
            tokio::time::sleep_until((started + Duration::from_millis(u64::from(i) * 10)).into())
                .await;
            attempts.push(tokio::spawn(probe(
                "127.0.0.1",
                port,
                Duration::from_secs(3),
            )));
        }
        let mut answered = 0;
        let mut held = Vec::new();
        for a in attempts {
            let (banner, stream) = a.await.unwrap();
            answered += usize::from(banner);
            held.push(stream);
        }
        (answered, held, started.elapsed())
    });
    // Meanwhile an agent connects from 127.0.0.2 and signs in.
    let agent = tokio::task::spawn_blocking(move || {
        let mut c = Client::start(port, &key, 100, 30, &["-b", "127.0.0.2"]);
        c.wait_for(&["202 matches", "ann"]);
        c.send("cleo");
        c.wait_for(&["1 match", "Cleo Park"]);
        c.quit();
    });
    let (answered, held, took) = flood.await.unwrap();
    agent.await.unwrap();
    assert!(
        (1..=3).contains(&answered),
        "{answered} of 100 held connections reached key exchange (the cap is 3)"
    );
    drop(held);

    // The rate alone: 100 attempts that close at once, in one second.
    let started = Instant::now();
    let mut answered = 0;
    for i in 0..100u32 {
        tokio::time::sleep_until((started + Duration::from_millis(u64::from(i) * 10)).into()).await;
        let (banner, stream) = probe("127.0.0.1", port, Duration::from_millis(500)).await;
        answered += usize::from(banner);
        drop(stream);
    }
    let secs = started.elapsed().as_secs_f64();
    // A bucket of 5, refilled at 5 a second.
    let refill = Duration::from_secs_f64(5.0 * secs);
    let allowed =
        5 + usize::try_from(refill.as_secs() + u64::from(refill.subsec_nanos() > 0)).unwrap();
    assert!(
        (1..=allowed).contains(&answered),
        "{answered} of 100 reached key exchange in {secs:.1} s (allowed {allowed}); the held flood took {took:?}"
    );

    let admin = fx.admin().await;
    let rows = fx
        .desk
        .audit(&admin, &keydesk::desk::audit::AuditFilter::default())
        .await
        .unwrap();
    let start = rows
        .iter()
        .find(|r| r.action == "console.start")
        .unwrap_or_else(|| panic!("no console.start in {rows:#?}"));
    assert!(
        start.source.starts_with("ssh 127.0.0.2:"),
        "{}",
        start.source
    );
    assert!(server.stop().success());
    let log = wait_log(&fx, "closed before key exchange", 1);
    assert!(log.contains("per_address_rate="), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_does_not_authenticate_is_closed_after_the_login_grace() {
    // Long enough for the agent's own sign-in on a loaded machine.
    let fx = fixture(&[("KEYDESK__SSH__LOGIN_GRACE", "4s")]).await;
    let key = fx.operator_with_key("ann", "agent");
    let server = Server::start(&fx);
    let port = server.port;

    // Reads until the server closes; returns how long that took.
    async fn closed_after(mut s: TcpStream, opened: Instant) -> Duration {
        let mut buf = [0u8; 4096];
        let deadline = opened + Duration::from_secs(20);
        loop {
            let read = tokio::time::timeout_at(deadline.into(), s.read(&mut buf))
                .await
                .expect("the server kept the connection open for 20 s");
            if matches!(read, Ok(0) | Err(_)) {
                return opened.elapsed();
            }
        }
    }
    // One that sends nothing at all.
    let opened = Instant::now();
    let silent = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let silent = tokio::spawn(closed_after(silent, opened));
    // One that says hello and then nothing (key exchange never finishes).
    let opened = Instant::now();
    let mut hello = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    hello.write_all(b"SSH-2.0-slow_client\r\n").await.unwrap();
    let hello = tokio::spawn(closed_after(hello, opened));
    // An agent who signed in stays past the grace.
    let agent = tokio::task::spawn_blocking(move || {
        let mut c = Client::start(port, &key, 100, 30, &[]);
        c.wait_for(&["202 matches"]);
        std::thread::sleep(Duration::from_secs(5));
        c.send("cleo");
        c.wait_for(&["1 match", "Cleo Park"]);
        c.quit()
    });
    for (what, waited) in [
        ("silent", silent.await.unwrap()),
        ("hello", hello.await.unwrap()),
    ] {
        assert!(
            waited >= Duration::from_millis(3900),
            "the {what} connection was closed before the grace: {waited:?}"
        );
    }
    assert!(agent.await.unwrap().success());
    wait_log(&fx, "not authenticated within ssh.login_grace", 2);
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_is_logged_with_the_address_and_its_fingerprint() {
    let fx = fixture(&[]).await;
    let _ann = fx.operator_with_key("ann", "agent");
    let stranger = fx.keygen("stranger_key");
    let fingerprint = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(format!("{}.pub", stranger.display()))
        .output()
        .unwrap();
    let fingerprint = String::from_utf8_lossy(&fingerprint.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned();
    assert!(fingerprint.starts_with("SHA256:"), "{fingerprint}");
    let server = Server::start(&fx);
    let (code, _) = ssh_output(server.port, &stranger, &["-b", "127.0.0.2"], &["true"]);
    assert_eq!(code, 255);
    let log = wait_log(&fx, "ssh sign-in refused", 1);
    let line = log
        .lines()
        .find(|l| l.contains("ssh sign-in refused"))
        .unwrap();
    assert!(line.contains(&format!("key={fingerprint}")), "{line}");
    assert!(line.contains("ssh 127.0.0.2:"), "{line}");
    drop(server);
}
