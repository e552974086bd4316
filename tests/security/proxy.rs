//! `keydesk serve` behind a real reverse proxy: Debian's nginx terminating
//! TLS for `desk.test` with a certificate from a private CA, dialling the
//! site from its own address (127.0.0.9, the one `site.trusted_proxies`
//! lists) and appending the client to `X-Forwarded-For`.
//!
//! - Headless Chromium signs in through it: `__Host-` cookies over https,
//!   and HSTS (a later `http://` address is upgraded by the browser itself).
//! - Failed sign-ins from one client address (127.0.0.1, each forging an
//!   `X-Forwarded-For` of its own) get 429 once `login.per_client` is
//!   reached, while another customer through the same proxy from another
//!   address (127.0.0.2) signs in.
//! - The audit rows, the log and the sessions list show both real
//!   addresses and never the proxy's.
//! - A client that connects to `serve` directly (127.0.0.3) and sends
//!   `X-Forwarded-For` is counted by its own address.
//! - A request the proxy took over plain http is sent to https.
//!
//! nginx comes from Debian (`apt-get install nginx-light`; `scripts/test`
//! installs it), Chromium as for the other browser tests; `curl` and
//! `openssl` are the other clients.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::browser::{Browser, browser_available};
use crate::support::people::make_customer;
use crate::support::process::{Daemon, free_port};
use crate::support::tls::{TlsFiles, private_ca};
use keydesk::clock::Clock;
use keydesk::desk::audit::AuditFilter;
use keydesk::desk::{Desk, Identity};
use keydesk::store::Store;

const PW: &str = "Gentle-Harbour-Lantern-42";
const HOST: &str = "desk.test";
/// The proxy's own address, the only trusted one.
const PROXY: &str = "127.0.0.9";
/// Failed sign-ins one client address may make (`login.per_client`).
const PER_CLIENT: usize = 5;

fn nginx_binary() -> Option<&'static str> {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

/// Whether nginx is installed; missing, the test fails with how to
/// install it, unless `KEYDESK_REQUIRE_BACKENDS=0` asks to skip it.
fn nginx_available() -> bool {
    if nginx_binary().is_some() {
        return true;
    }
    assert!(
        std::env::var("KEYDESK_REQUIRE_BACKENDS").as_deref() == Ok("0"),
        "nginx is missing: apt-get install -y nginx-light (scripts/test does), or set KEYDESK_REQUIRE_BACKENDS=0 to skip the proxy test"
    );
    eprintln!("SKIPPED: nginx missing (apt-get install -y nginx-light)");
    false
}

/// nginx in the foreground: https on `https_port`, plain http on
/// `http_port`, both to the site on `upstream`.
struct Nginx {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Nginx {
    fn start(tls: &TlsFiles, https_port: u16, http_port: u16, upstream: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let location = format!(
            "location / {{
                proxy_pass http://{upstream};
                proxy_bind {PROXY};
                proxy_set_header Host $host:$server_port;
                proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                proxy_set_header X-Forwarded-Proto $scheme;
            }}"
        );
        let conf = format!(
            "daemon off;
            worker_processes 1;
            pid {d}/nginx.pid;
            error_log stderr warn;
            events {{ worker_connections 256; }}
            http {{
                access_log off;
                client_body_temp_path {d}/body;
                proxy_temp_path {d}/proxy;
                fastcgi_temp_path {d}/fastcgi;
                uwsgi_temp_path {d}/uwsgi;
                scgi_temp_path {d}/scgi;
                server {{
                    listen 127.0.0.1:{https_port} ssl;
                    server_name {HOST};
                    ssl_certificate {cert};
                    ssl_certificate_key {key};
                    {location}
                }}
                server {{
                    listen 127.0.0.1:{http_port};
                    server_name {HOST};
                    {location}
                }}
            }}",
            cert = tls.cert.display(),
            key = tls.key.display(),
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        let log = std::fs::File::create(dir.path().join("nginx.log")).unwrap();
        let child = Command::new(nginx_binary().unwrap())
            .args(["-e", "stderr", "-p"])
            .arg(dir.path())
            .arg("-c")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start nginx");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", https_port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, _dir: dir }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers before it goes (SIGKILL
        // would leave them behind).
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let pid = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP answer.
struct Answer {
    status: u16,
    headers: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    /// The CSRF token of the page's form.
    fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").expect("a form");
        let rest = &self.body[at + 19..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

/// `curl` from one local address, keeping cookies, trusting the private CA
/// and sending `desk.test` to 127.0.0.1.
struct Curl {
    from: &'static str,
    dir: tempfile::TempDir,
    ca: PathBuf,
    resolve: Vec<String>,
}

impl Curl {
    fn new(from: &'static str, ca: &Path, ports: &[u16]) -> Self {
        Self {
            from,
            dir: tempfile::tempdir().unwrap(),
            ca: ca.to_owned(),
            resolve: ports
                .iter()
                .map(|p| format!("{HOST}:{p}:127.0.0.1"))
                .collect(),
        }
    }

    fn send(&self, url: &str, form: &[(&str, &str)], headers: &[String]) -> Answer {
        let d = self.dir.path();
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-S", "--interface", self.from, "--cacert"])
            .arg(&self.ca)
            .arg("-c")
            .arg(d.join("jar"))
            .arg("-b")
            .arg(d.join("jar"))
            .arg("-D")
            .arg(d.join("headers"))
            .arg("-o")
            .arg(d.join("body"))
            .args(["-w", "%{http_code}"]);
        for r in &self.resolve {
            cmd.args(["--resolve", r]);
        }
        for h in headers {
            cmd.args(["-H", h]);
        }
        for (k, v) in form {
            cmd.args(["--data-urlencode", &format!("{k}={v}")]);
        }
        let out = cmd.arg(url).output().expect("run curl");
        assert!(
            out.status.success(),
            "curl {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Answer {
            status: String::from_utf8_lossy(&out.stdout).parse().unwrap(),
            headers: std::fs::read_to_string(d.join("headers")).unwrap_or_default(),
            body: std::fs::read_to_string(d.join("body")).unwrap_or_default(),
        }
    }

    /// Opens the login page, then signs in as `email` with `password`,
    /// sending `headers` with the form.
    fn sign_in(&self, site: &str, email: &str, password: &str, headers: &[String]) -> Answer {
        let page = self.send(&format!("{site}/login"), &[], &[]);
        assert_eq!(page.status, 200, "{}", page.body);
        self.send(
            &format!("{site}/login"),
            &[
                ("csrf", &page.csrf()),
                ("email", email),
                ("password", password),
            ],
            headers,
        )
    }
}

/// The base64 SHA-256 of the certificate's public key: what Chromium is
/// told to accept for `desk.test` (its own trust store is not touched).
fn spki_hash(cert: &Path) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg("openssl x509 -in \"$0\" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | openssl base64 -A")
        .arg(cert)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The store behind the site, with three customers who have passwords.
async fn store(dir: &Path, env: &[(String, String)]) -> Desk {
    let settings = keydesk::settings::Settings::load(&keydesk::settings::Sources {
        file: None,
        skip_system_files: true,
        env: Some(env.iter().cloned().collect()),
        data_dir: Some(dir.to_path_buf()),
    })
    .unwrap();
    let store = Store::connect(&settings.database).await.unwrap();
    store.migrate().await.unwrap();
    let desk = Desk::new(store.clone(), settings, Clock::system()).unwrap();
    let me = Identity::from_os().unwrap();
    desk.ensure_first_admin(&me).await.unwrap();
    let admin = desk.operator(&me).await.unwrap();
    for (name, email) in [
        ("Ada Lovelace", "ada@example.com"),
        ("Bob Marsh", "bob@example.com"),
        ("Cleo Park", "cleo@example.com"),
    ] {
        make_customer(&store, name, email).await;
        desk.change_password(&admin, email, PW, false)
            .await
            .unwrap();
    }
    desk
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_tls_proxy_limits_and_audit_see_each_real_client() {
    if !nginx_available() || !browser_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tls = private_ca(HOST, &format!("DNS:{HOST}"));
    let (https_port, http_port) = (free_port(), free_port());
    let site = format!("https://{HOST}:{https_port}");
    let env: Vec<(String, String)> = [
        (
            "KEYDESK__DATABASE__URL",
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("keydesk.db").display()
            ),
        ),
        ("KEYDESK__SITE__LISTEN", "127.0.0.1:0".into()),
        ("KEYDESK__SITE__BASE_URL", site.clone()),
        ("KEYDESK__SITE__TRUSTED_PROXIES", PROXY.into()),
        ("KEYDESK__LOGIN__PER_CLIENT", PER_CLIENT.to_string()),
        ("KEYDESK__PASSWORD__ARGON2__M_COST", "8192".into()),
        ("KEYDESK__PASSWORD__ARGON2__T_COST", "1".into()),
        ("KEYDESK__MAIL__TRANSPORT", "file".into()),
        (
            "KEYDESK__MAIL__FILE__DIR",
            dir.path().join("mail").display().to_string(),
        ),
        (
            "XDG_DATA_HOME",
            dir.path().join("data").display().to_string(),
        ),
        (
            "XDG_CONFIG_HOME",
            dir.path().join("config").display().to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let desk = store(dir.path(), &env).await;
    let log = dir.path().join("serve.log");
    let mut serve = Daemon::start(&["serve"], &env, &log);
    let direct = serve.site_address(&log);
    let _nginx = Nginx::start(&tls, https_port, http_port, &direct);

    // 1. Headless Chromium signs in through the proxy.
    let b = Browser::start_with(&[
        format!("--host-resolver-rules=MAP {HOST} 127.0.0.1"),
        format!(
            "--ignore-certificate-errors-spki-list={}",
            spki_hash(&tls.cert)
        ),
        // Only HSTS may upgrade http:// below, not the browser's own habit.
        "--disable-features=PasswordLeakDetection,Translate,HttpsUpgrades".into(),
    ])
    .await;
    b.go(&format!("{site}/login")).await;
    b.fill("Email", "ada@example.com").await;
    b.fill("Password", PW).await;
    b.press("Log in").await;
    assert_eq!(b.h1().await, "Account settings");
    b.saw("signed in through the proxy").await;
    let cookies = b.client.get_all_cookies().await.unwrap();
    let session = cookies
        .iter()
        .find(|c| c.name() == "__Host-kd_session")
        .unwrap_or_else(|| panic!("no __Host-kd_session in {cookies:?}"));
    assert_eq!(session.secure(), Some(true));
    assert_eq!(session.path(), Some("/"));
    // HSTS: the browser itself turns http:// into https:// for desk.test
    // (nginx's TLS port would refuse plain http with a 400).
    b.go(&format!("http://{HOST}:{https_port}/account")).await;
    assert_eq!(b.url().await, format!("{site}/account"));
    assert_eq!(b.h1().await, "Account settings");
    b.close().await;

    let ada_direct_check = Curl::new("127.0.0.1", &tls.ca, &[https_port, http_port]);
    let page = ada_direct_check.send(&format!("{site}/login"), &[], &[]);
    assert!(
        page.header("strict-transport-security")
            .is_some_and(|v| v.contains("max-age=")),
        "{}",
        page.headers
    );
    // Plain http through the proxy is sent to https.
    let plain = ada_direct_check.send(&format!("http://{HOST}:{http_port}/login?x=1"), &[], &[]);
    assert_eq!(plain.status, 308, "{}", plain.headers);
    assert_eq!(
        plain.header("location").as_deref(),
        Some(format!("{site}/login?x=1").as_str())
    );

    // 2. Failed sign-ins from 127.0.0.1, each forging its own address.
    let flooder = Curl::new("127.0.0.1", &tls.ca, &[https_port]);
    let mut statuses = Vec::new();
    for i in 0..=PER_CLIENT {
        let forged = vec![format!("X-Forwarded-For: 198.51.100.{i}")];
        statuses.push(
            flooder
                .sign_in(&site, "cleo@example.com", "wrong-password-1234", &forged)
                .status,
        );
    }
    let mut expected = vec![422; PER_CLIENT];
    expected.push(429);
    assert_eq!(statuses, expected);
    // Another customer, through the same proxy, from 127.0.0.2.
    let bob = Curl::new("127.0.0.2", &tls.ca, &[https_port]);
    let signed = bob.sign_in(&site, "bob@example.com", PW, &[]);
    assert_eq!(signed.status, 303, "{}", signed.body);
    assert_eq!(signed.header("location").as_deref(), Some("/account"));
    let account = bob.send(&format!("{site}/account"), &[], &[]);
    assert!(
        account.body.contains("127.0.0.2"),
        "the sessions list shows bob's address"
    );
    assert!(!account.body.contains(PROXY), "{}", account.body);

    // 3. Directly to `serve` from 127.0.0.3 with a forged X-Forwarded-For:
    // counted as 127.0.0.3 every time.
    let sneaky = Curl::new("127.0.0.3", &tls.ca, &[]);
    let mut statuses = Vec::new();
    for i in 0..=PER_CLIENT {
        let forged = vec![format!("X-Forwarded-For: 203.0.113.{i}")];
        let url = format!("http://{direct}");
        statuses.push(
            sneaky
                .sign_in(&url, "cleo@example.com", "wrong-password-1234", &forged)
                .status,
        );
    }
    assert_eq!(
        statuses, expected,
        "the direct client is limited by its own address"
    );

    // 4. The audit trail, the log and the sessions list name real clients.
    let admin = desk.operator(&Identity::from_os().unwrap()).await.unwrap();
    let rows = desk
        .audit(
            &admin,
            &AuditFilter {
                contact_email: None,
                limit: 200,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let sources = |action: &str, outcome: &str, who: &str| -> Vec<String> {
        rows.iter()
            .filter(|r| r.action == action && r.outcome == outcome && r.actor == who)
            .map(|r| r.source.clone())
            .collect()
    };
    assert_eq!(sources("login", "ok", "ada@example.com"), ["127.0.0.1"]);
    assert_eq!(sources("login", "ok", "bob@example.com"), ["127.0.0.2"]);
    let mut failed = sources("login", "refused", "cleo@example.com");
    failed.sort();
    let mut want = vec!["127.0.0.1".to_owned(); PER_CLIENT];
    want.extend(vec!["127.0.0.3".to_owned(); PER_CLIENT]);
    assert_eq!(failed, want);
    assert!(rows.iter().all(|r| r.source != PROXY), "{rows:#?}");
    let out = Command::new(env!("CARGO_BIN_EXE_keydesk"))
        .args(["sessions", "bob@example.com"])
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains("127.0.0.2"),
        "{listed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let logged = |ip: &str| {
        text.contains(&format!("client={ip}")) || text.contains(&format!("client=\"{ip}\""))
    };
    assert!(logged("127.0.0.1") && logged("127.0.0.3"), "{text}");
    for absent in [PROXY, "198.51.100.", "203.0.113."] {
        assert!(!text.contains(absent), "{absent} in the log:\n{text}");
    }
    serve.terminate();
}
