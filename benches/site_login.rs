//! Logins per second through the customer site versus raw argon2id
//! throughput, measured in one run, and the server's resident memory
//! while a flood of logins waits.
//!
//! Run: `cargo bench --bench site_login` (prints a table; no criterion:
//! the figure is a rate over a fixed window, not a per-iteration time).
//!
//! 1. Raw: desk's own `Hasher` (pooled memory, OWASP parameters)
//!    verifying for a fixed time on one thread a core, and on as many
//!    threads as the site hashes at once; the better figure is the
//!    ceiling for logins.
//! 2. Site: the real `keydesk serve` binary as a child process on
//!    127.0.0.1 over SQLite, default `[site]` settings; a small load
//!    generator here keeps `CONNS` keep-alive connections posting the
//!    login form (valid CSRF token, 32 customers) for `WINDOW`, and
//!    counts the 303s to `/account`.
//! 3. Flood: `FLOOD` connections post a login at once; the server's
//!    VmRSS/VmHWM are sampled from /proc while they wait, and the
//!    answers counted (303 or 429, nothing else).
//!
//! Raw and site windows alternate (`SITE_BENCH_ROUNDS`, 3 by default) so
//! that other load on the machine hits both alike; the table gives the
//! medians. Each is also given per CPU-second (raw: this process; site:
//! the server plus the load generator), a ratio that other work on a
//! shared machine does not distort: it says how much of the CPU a login
//! spends outside argon2.
//!
//! Environment knobs: `SITE_BENCH_CONNS`, `SITE_BENCH_SECS`,
//! `SITE_BENCH_FLOOD`, `SITE_BENCH_DB` (a database URL instead of SQLite),
//! `SITE_BENCH_SLOTS` (`site.max_concurrent_hashes`).

#[path = "support/quantile.rs"]
mod quantile;
use quantile::quantile;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use keydesk::clock::Clock;
use keydesk::desk::{Desk, Hasher, Identity};
use keydesk::settings::{Settings, Sources};
use keydesk::store::Store;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const PASSWORD: &str = "Gentle-Harbour-Lantern-42";
const CUSTOMERS: usize = 32;

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing
    // useful either way. Only run the measurement when asked to bench.
    if !std::env::args().any(|a| a == "--bench") {
        println!("site_login: run with `cargo bench --bench site_login`");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = std::env::var("SITE_BENCH_DB").unwrap_or_else(|_| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        )
    });
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let slots = knob("SITE_BENCH_SLOTS", 0);
    let mut env = BTreeMap::from([
        ("KEYDESK__DATABASE__URL".to_owned(), url.clone()),
        (
            "KEYDESK__SITE__LISTEN".to_owned(),
            format!("127.0.0.1:{port}"),
        ),
        ("KEYDESK__SITE__BASE_URL".to_owned(), base.clone()),
        ("KEYDESK__LOG__LEVEL".to_owned(), "warn".to_owned()),
        (
            "KEYDESK__MAIL__FILE__DIR".to_owned(),
            dir.path().join("mail").display().to_string(),
        ),
    ]);
    if slots > 0 {
        env.insert(
            "KEYDESK__SITE__MAX_CONCURRENT_HASHES".to_owned(),
            slots.to_string(),
        );
    }
    let settings = Settings::load(&Sources {
        file: None,
        skip_system_files: true,
        env: Some(env.clone()),
        data_dir: Some(dir.path().to_path_buf()),
    })
    .expect("settings");
    let store = Store::connect(&settings.database).await.expect("store");
    store.migrate().await.expect("migrate");
    let emails = seed(&store, &settings).await;

    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let window = Duration::from_secs(knob("SITE_BENCH_SECS", 10));
    println!(
        "site_login: {cores} cores, argon2 m={} t={} p={}, site.max_concurrent_hashes={}, store {}",
        settings.password.argon2.m_cost,
        settings.password.argon2.t_cost,
        settings.password.argon2.p_cost,
        settings.site.max_concurrent_hashes,
        store.backend_name()
    );

    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_keydesk"))
        .arg("serve")
        .env_clear()
        .envs(&env)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start keydesk serve");
    let pid = server.id().expect("server pid");
    wait_for(port).await;
    let (nonce, token) = csrf_pair(port).await;
    let idle_rss = rss_kib(pid);
    let conns = usize::try_from(knob("SITE_BENCH_CONNS", 8)).unwrap_or(8);
    let load_before = load_average();

    // Warm up (pools, pages, argon2 buffers), then alternate raw and site
    // windows so that whatever else the machine does hits both alike.
    load(port, &nonce, &token, &emails, conns, Duration::from_secs(2)).await;
    let rounds = knob("SITE_BENCH_ROUNDS", 3);
    let mut ratios = Vec::new();
    let mut cpu_ratios = Vec::new();
    let mut raws = Vec::new();
    let mut raw_cpus = Vec::new();
    let mut rates = Vec::new();
    let mut rate_cpus = Vec::new();
    let mut site = Tally::default();
    for round in 1..=rounds {
        // The machine's ceiling: one thread a core, and as many threads as
        // the site hashes at once (which wins a bigger share of a busy
        // machine); the better of the two is the bar.
        let slots = settings.site.max_concurrent_hashes;
        let raw_cores = raw_argon2(&settings, cores, window / 2);
        let raw_slots = raw_argon2(&settings, slots.max(1), window / 2);
        let raw = raw_cores.per_wall.max(raw_slots.per_wall);
        let raw_cpu = raw_cores.per_cpu.max(raw_slots.per_cpu);
        // Site CPU: the server's and the load generator's (this process),
        // both of which a quiet two-core machine would have to carry.
        let (server_before, self_before) = (cpu_seconds("/proc/{pid}/stat", pid), self_cpu());
        let tally = load(port, &nonce, &token, &emails, conns, window).await;
        let cpu = cpu_seconds("/proc/{pid}/stat", pid) - server_before + self_cpu() - self_before;
        let rate = tally.ok as f64 / tally.elapsed.as_secs_f64();
        let rate_cpu = tally.ok as f64 / cpu.max(0.01);
        println!(
            "round {round}: raw {:.1}/s wall, {:.1}/cpu-s on {cores} threads; {:.1}/s, {:.1}/cpu-s on {slots}; \
             site {rate:.1}/s wall ({:.0}%), {rate_cpu:.1}/cpu-s ({:.0}%); {} x 429, {} other",
            raw_cores.per_wall,
            raw_cores.per_cpu,
            raw_slots.per_wall,
            raw_slots.per_cpu,
            100.0 * rate / raw,
            100.0 * rate_cpu / raw_cpu,
            tally.busy,
            tally.other
        );
        ratios.push(rate / raw);
        cpu_ratios.push(rate_cpu / raw_cpu);
        raws.push(raw);
        raw_cpus.push(raw_cpu);
        rates.push(rate);
        rate_cpus.push(rate_cpu);
        site.merge(tally);
    }
    let busy_rss = rss_kib(pid);

    let flood_n = usize::try_from(knob("SITE_BENCH_FLOOD", 3000)).unwrap_or(3000);
    let flood = flood(port, pid, &nonce, &token, &emails, flood_n).await;
    let load_after = load_average();

    let _ = server.kill().await;

    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| raw argon2id verify, desk's Hasher, best of {cores} or {} threads (median of {rounds}) | {:.1} /s |",
        settings.site.max_concurrent_hashes,
        median(&raws)
    );
    println!(
        "| successful logins through the site, {conns} connections (median of {rounds}) | {:.1} /s |",
        median(&rates)
    );
    println!(
        "| site / raw, wall clock, median of the per-round ratios | {:.0}% |",
        100.0 * median(&ratios)
    );
    println!(
        "| raw argon2id per CPU-second / site logins per CPU-second (server + load generator) | {:.1} / {:.1} |",
        median(&raw_cpus),
        median(&rate_cpus)
    );
    println!(
        "| site / raw, per CPU-second, median of the per-round ratios | {:.0}% |",
        100.0 * median(&cpu_ratios)
    );
    println!(
        "| login latency p50 / p99 | {:.0} ms / {:.0} ms |",
        site.p(0.50),
        site.p(0.99)
    );
    println!(
        "| other answers during the windows | {} x 429, {} other, {} errors |",
        site.busy, site.other, site.errors
    );
    println!(
        "| server RSS idle / after the windows | {} MiB / {} MiB |",
        idle_rss / 1024,
        busy_rss / 1024
    );
    println!(
        "| flood: {} logins at once | {} x 303, {} x 429, {} other, {} errors, in {:.1} s |",
        flood_n,
        flood.ok,
        flood.busy,
        flood.other,
        flood.errors,
        flood.elapsed.as_secs_f64()
    );
    println!(
        "| server RSS during the flood: max sampled / VmHWM | {} MiB / {} MiB |",
        flood.max_rss / 1024,
        flood.hwm / 1024
    );
    println!("| machine load average before / after | {load_before} / {load_after} |");
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// The 1-minute load average, as text.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default()
}

/// `CUSTOMERS` customers with a permanent password; returns their emails.
async fn seed(store: &Store, settings: &Settings) -> Vec<String> {
    use keydesk::store::entity::{contact, grant, offer};
    use sea_orm::{ActiveModelTrait, Set};
    let now = chrono::Utc::now();
    let offer_id = offer::ActiveModel {
        name: Set("Course".into()),
        products: Set("Course".into()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(store.conn())
    .await
    .expect("offer")
    .id;
    let desk = Desk::new(store.clone(), settings.clone(), Clock::system()).expect("desk");
    let identity = Identity {
        name: "bench".into(),
        source: "bench".into(),
    };
    desk.ensure_first_admin(&identity).await.expect("admin");
    let op = desk.operator(&identity).await.expect("operator");
    let mut emails = Vec::new();
    for i in 0..CUSTOMERS {
        let email = format!("customer{i}@example.com");
        let id = contact::ActiveModel {
            name: Set(format!("Customer {i}")),
            email: Set(email.clone()),
            name_lower: Set(format!("customer {i}")),
            email_lower: Set(email.clone()),
            subscribed: Set(false),
            tags: Set(String::new()),
            notes: Set(String::new()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(store.conn())
        .await
        .expect("contact")
        .id;
        grant::ActiveModel {
            contact_id: Set(id),
            offer_id: Set(offer_id),
            source: Set("granted".into()),
            granted_by: Set("bench".into()),
            granted_at: Set(now),
            ..Default::default()
        }
        .insert(store.conn())
        .await
        .expect("grant");
        desk.change_password(&op, &email, PASSWORD, false)
            .await
            .expect("password");
        emails.push(email);
    }
    emails
}

/// A rate by the wall clock and by CPU time spent.
struct Rate {
    per_wall: f64,
    per_cpu: f64,
}

/// Verifications on `threads` threads for `window`: per second, and per
/// CPU-second this process spent (which other load on the machine does
/// not dilute).
fn raw_argon2(settings: &Settings, threads: usize, window: Duration) -> Rate {
    // One pooled buffer a thread, as desk sizes its pool to its slots.
    let hasher = Hasher::with_pool_capacity(settings.password.argon2, threads).expect("hasher");
    let phc = hasher.hash(PASSWORD).expect("hash");
    let count = AtomicU64::new(0);
    let cpu_before = self_cpu();
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while start.elapsed() < window {
                    assert_eq!(hasher.verify(PASSWORD, &phc).ok(), Some(true));
                    count.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let n = count.load(Ordering::Relaxed) as f64;
    Rate {
        per_wall: n / start.elapsed().as_secs_f64(),
        per_cpu: n / (self_cpu() - cpu_before).max(0.01),
    }
}

/// User + system CPU seconds of a process, from `/proc/PID/stat` (in
/// USER_HZ ticks, 100 a second on Linux).
fn cpu_seconds(template: &str, pid: u32) -> f64 {
    let path = template.replace("{pid}", &pid.to_string());
    std::fs::read_to_string(path)
        .ok()
        .and_then(|stat| {
            // Fields after the command name, which may hold spaces: `) S ppid ...`.
            let rest = &stat[stat.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / 100.0)
        })
        .unwrap_or(0.0)
}

fn self_cpu() -> f64 {
    cpu_seconds("/proc/self/stat", 0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

async fn wait_for(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "the site did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// VmRSS (or another /proc status field) of a process, in KiB.
fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn rss_kib(pid: u32) -> u64 {
    proc_status_kib(pid, "VmRSS:")
}

/// One HTTP/1.1 exchange on a keep-alive connection: status, the
/// `Set-Cookie` and `Location` headers, and the body.
struct Answer {
    status: u16,
    location: String,
    set_cookie: Vec<String>,
    body: String,
}

async fn exchange(conn: &mut BufReader<TcpStream>, request: &[u8]) -> std::io::Result<Answer> {
    conn.get_mut().write_all(request).await?;
    let mut line = String::new();
    conn.read_line(&mut line).await?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut length = 0usize;
    let mut location = String::new();
    let mut set_cookie = Vec::new();
    loop {
        line.clear();
        conn.read_line(&mut line).await?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse().unwrap_or(0),
                "location" => location = value.to_owned(),
                "set-cookie" => set_cookie.push(value.to_owned()),
                _ => {}
            }
        }
    }
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body).await?;
    Ok(Answer {
        status,
        location,
        set_cookie,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

async fn connect(port: u16) -> std::io::Result<BufReader<TcpStream>> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    Ok(BufReader::new(stream))
}

/// A CSRF nonce cookie and the matching anonymous form token. The token is
/// bound to the nonce (and no session), so every connection can use it.
async fn csrf_pair(port: u16) -> (String, String) {
    let mut conn = connect(port).await.expect("connect");
    let page = exchange(&mut conn, b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("GET /login");
    let nonce = page
        .set_cookie
        .iter()
        .find_map(|c| c.strip_prefix("kd_csrf="))
        .and_then(|c| c.split(';').next())
        .expect("csrf cookie")
        .to_owned();
    let marker = "name=\"csrf\" value=\"";
    let at = page.body.find(marker).expect("csrf field") + marker.len();
    let token = page.body[at..].split('"').next().expect("token").to_owned();
    (nonce, token)
}

fn login_request(nonce: &str, token: &str, email: &str) -> Vec<u8> {
    let body = format!(
        "csrf={token}&email={}&password={PASSWORD}",
        email.replace('@', "%40")
    );
    format!(
        "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Cookie: kd_csrf={nonce}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[derive(Default)]
struct Tally {
    ok: u64,
    busy: u64,
    other: u64,
    errors: u64,
    latencies_ms: Vec<f64>,
    elapsed: Duration,
    max_rss: u64,
    hwm: u64,
}

impl Tally {
    fn count(&mut self, answer: &std::io::Result<Answer>) {
        match answer {
            Ok(a) if a.status == 303 && a.location == "/account" => self.ok += 1,
            Ok(a) if a.status == 429 => self.busy += 1,
            Ok(_) => self.other += 1,
            Err(_) => self.errors += 1,
        }
    }

    fn merge(&mut self, other: Tally) {
        self.ok += other.ok;
        self.busy += other.busy;
        self.other += other.other;
        self.errors += other.errors;
        self.latencies_ms.extend(other.latencies_ms);
    }

    fn p(&self, q: f64) -> f64 {
        let mut v = self.latencies_ms.clone();
        v.sort_by(f64::total_cmp);
        quantile(&v, q).unwrap_or(0.0)
    }
}

/// `conns` connections posting logins back to back for `window`.
async fn load(
    port: u16,
    nonce: &str,
    token: &str,
    emails: &[String],
    conns: usize,
    window: Duration,
) -> Tally {
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..conns {
        let request = login_request(nonce, token, &emails[i % emails.len()]);
        let stop = Arc::clone(&stop);
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let Ok(mut conn) = connect(port).await else {
                tally.errors += 1;
                return tally;
            };
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                let answer = exchange(&mut conn, &request).await;
                tally
                    .latencies_ms
                    .push(sent.elapsed().as_secs_f64() * 1000.0);
                tally.count(&answer);
                if answer.is_err() {
                    match connect(port).await {
                        Ok(c) => conn = c,
                        Err(_) => break,
                    }
                }
            }
            tally
        }));
    }
    tokio::time::sleep(window).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = Tally::default();
    for t in tasks {
        if let Ok(tally) = t.await {
            total.merge(tally);
        }
    }
    // Requests in flight at the stop finished after the window; count the
    // real elapsed time so the rate is not inflated.
    total.elapsed = start.elapsed();
    total
}

/// `n` connections each posting one login at once; samples the server's
/// memory while they wait.
async fn flood(
    port: u16,
    pid: u32,
    nonce: &str,
    token: &str,
    emails: &[String],
    n: usize,
) -> Tally {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..n {
        let request = login_request(nonce, token, &emails[i % emails.len()]);
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            match connect(port).await {
                Ok(mut conn) => {
                    let answer = exchange(&mut conn, &request).await;
                    tally.count(&answer);
                }
                Err(_) => tally.errors += 1,
            }
            tally
        }));
    }
    let max_rss = Arc::new(AtomicU64::new(0));
    let sampler = {
        let max_rss = Arc::clone(&max_rss);
        tokio::spawn(async move {
            // Bounded: the flood ends well within a minute.
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                max_rss.fetch_max(rss_kib(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let mut total = Tally::default();
    for t in tasks {
        if let Ok(tally) = t.await {
            total.merge(tally);
        }
    }
    total.elapsed = start.elapsed();
    sampler.abort();
    total.hwm = proc_status_kib(pid, "VmHWM:");
    total.max_rss = max_rss.load(Ordering::Relaxed);
    total
}
