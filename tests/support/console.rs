//! The real `keydesk` console in a real pseudo-terminal ([`super::pty`]),
//! and the store it browses: the environment that points the binary at a
//! store and a temp dir, the store migrated with the OS user as its first
//! admin, the usual people (customers, a non-customer, 200 others), and
//! what a reset left behind. The pty's termios tell whether raw mode is
//! on; the raw output tells which modes were switched off.

use std::ops::{Deref, DerefMut};
use std::path::Path;

use keydesk::clock::Clock;
use keydesk::desk::{Desk, Identity};
use keydesk::store::Store;
use portable_pty::CommandBuilder;

use super::pty::Terminal;
use super::{db, people};

/// The console running in a pty; the [`Terminal`] methods read and drive it.
pub struct Console<C: vt100::Callbacks + Send + 'static = ()> {
    term: Terminal<C>,
}

fn command(env: &[(String, String)]) -> CommandBuilder {
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_keydesk"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

impl Console<()> {
    /// Starts `keydesk` (no arguments) with `env` at `cols` x `rows`.
    pub fn start(env: &[(String, String)], cols: u16, rows: u16) -> Self {
        Self {
            term: Terminal::start(command(env), cols, rows),
        }
    }
}

impl<C: vt100::Callbacks + Send + 'static> Console<C> {
    /// Starts `keydesk` with `env`, its output parsed with `callbacks`.
    pub fn start_with(env: &[(String, String)], cols: u16, rows: u16, callbacks: C) -> Self {
        Self {
            term: Terminal::start_with(command(env), cols, rows, callbacks),
        }
    }

    /// Presses Esc in the search box and waits until the footer offers
    /// the list's keys (it starts with `/ Search`). A key typed before the
    /// console read the Esc would reach it in the same read and be taken,
    /// as a terminal means it, for one Alt-key.
    pub fn esc(&mut self) {
        self.send("\x1b");
        self.wait_for(&["/ Search"]);
    }

    /// The terminal is back as it was: main screen, cursor shown,
    /// bracketed paste off, raw mode off.
    pub fn assert_restored(&self) {
        self.assert_screen_restored();
        assert!(!self.raw_mode(), "raw mode is still on");
    }
}

impl<C: vt100::Callbacks + Send + 'static> Deref for Console<C> {
    type Target = Terminal<C>;
    fn deref(&self) -> &Terminal<C> {
        &self.term
    }
}

impl<C: vt100::Callbacks + Send + 'static> DerefMut for Console<C> {
    fn deref_mut(&mut self) -> &mut Terminal<C> {
        &mut self.term
    }
}

/// The environment that points the binary at `url`, logging into `dir`,
/// mailing into `dir/mail`, with nothing read from the user's folders.
pub fn console_env(url: &str, dir: &Path) -> Vec<(String, String)> {
    let path = |name: &str| dir.join(name).display().to_string();
    vec![
        ("KEYDESK__DATABASE__URL".into(), url.to_owned()),
        ("KEYDESK__LOG__FILE".into(), path("keydesk.log")),
        (
            "KEYDESK__SITE__BASE_URL".into(),
            "http://127.0.0.1:9".into(),
        ),
        ("KEYDESK__PASSWORD__ARGON2__M_COST".into(), "8192".into()),
        ("KEYDESK__PASSWORD__ARGON2__T_COST".into(), "1".into()),
        ("KEYDESK__MAIL__FILE__DIR".into(), path("mail")),
        ("XDG_DATA_HOME".into(), path("data")),
        ("XDG_CONFIG_HOME".into(), path("config")),
    ]
}

/// Adds to a console's `env` what `keydesk serve` beside it needs: a free
/// port to listen on, no Forgot Password floor, `HOME` and `PATH`; returns
/// the site's port and address (`http://127.0.0.1:PORT`).
pub fn add_site(env: &mut Vec<(String, String)>, home: &Path) -> (u16, String) {
    let port = super::process::free_port();
    env.extend([
        (
            "KEYDESK__SITE__LISTEN".to_owned(),
            format!("127.0.0.1:{port}"),
        ),
        ("KEYDESK__FORGOT__MIN_DURATION".to_owned(), "0s".to_owned()),
        ("HOME".to_owned(), home.display().to_string()),
        ("PATH".to_owned(), std::env::var("PATH").unwrap_or_default()),
    ]);
    (port, format!("http://127.0.0.1:{port}"))
}

/// Migrates the store named by `env` and returns a desk over it (system
/// clock) with the current OS user as its first admin.
pub async fn open_desk(env: &[(String, String)], data_dir: &Path) -> Desk {
    let settings = db::settings_from(env.iter().cloned(), data_dir);
    let store = Store::connect(&settings.database).await.expect("connect");
    store.migrate().await.expect("migrate");
    let desk = Desk::new(store, settings, Clock::system()).expect("desk");
    desk.ensure_first_admin(&Identity::from_os().expect("os identity"))
        .await
        .expect("first admin");
    desk
}

/// The people the console tests browse: `customers` (name, email) holding
/// `offer`, the non-customer Cleo Park, and `Person 000` to `Person 199`.
pub async fn seed_people(store: &Store, offer: &people::Offer, customers: &[(&str, &str)]) {
    for (name, email) in customers {
        let id = people::make_contact(store, name, email).await;
        people::grant(store, id, offer, people::t0()).await;
    }
    people::make_contact(store, "Cleo Park", "cleo@example.com").await;
    for i in 0..200 {
        people::make_contact(
            store,
            &format!("Person {i:03}"),
            &format!("p{i}@example.org"),
        )
        .await;
    }
}

/// Migrates the store named by `env`, adds two customers (Ada Lovelace,
/// Bob Marsh, holding "Rust Mastery"), a non-customer (Cleo Park) and 200 other contacts, makes
/// the current OS user an admin, and returns a desk over it.
pub async fn populate(env: &[(String, String)], data_dir: &Path) -> Desk {
    let desk = open_desk(env, data_dir).await;
    seed_people(
        desk.store(),
        &people::RUST_MASTERY,
        &[
            ("Ada Lovelace", "ada@example.com"),
            ("Bob Marsh", "bob@example.com"),
        ],
    )
    .await;
    desk
}

/// What a finished (or interrupted) reset left in the store: the number of
/// reset links, of queued reset mails, and of `reset_link.sent` audit
/// events. A whole transaction moves all three together.
pub async fn reset_footprint(store: &Store) -> (i64, i64, i64) {
    use sea_orm::{ConnectionTrait, Statement};
    let count = |sql: &'static str| async move {
        store
            .conn()
            .query_one_raw(Statement::from_string(store.backend(), sql))
            .await
            .expect("count")
            .expect("a row")
            .try_get::<i64>("", "n")
            .expect("n")
    };
    (
        count("SELECT COUNT(*) AS n FROM reset_links").await,
        count("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'reset_link'").await,
        count("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'reset_link.sent' AND outcome = 'ok'").await,
    )
}
