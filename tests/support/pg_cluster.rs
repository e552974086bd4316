//! A private PostgreSQL cluster for tests that stop and start the server
//! (never the shared one on 5432): `initdb` into a temp dir, `pg_ctl` on a
//! free port, trust authentication, fsync off. initdb refuses to run as
//! root, so as root the cluster runs as the `postgres` OS user through
//! `runuser`. Stopped (immediately) when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where Debian puts PostgreSQL 15's server programs.
pub const BIN: &str = "/usr/lib/postgresql/15/bin";

/// A running private cluster.
pub struct Cluster {
    pub port: u16,
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

fn as_server_user(program: &str, args: &[&str]) -> Command {
    let program = Path::new(BIN).join(program);
    if nix::unistd::Uid::effective().is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program).args(args);
        cmd
    } else {
        let mut cmd = Command::new(program);
        cmd.args(args);
        cmd
    }
}

fn run(mut cmd: Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Cluster {
    /// A new cluster, started; `None` (skipped, with a note) when the
    /// PostgreSQL 15 programs are not installed and the tests were told to
    /// skip missing backends (`KEYDESK_REQUIRE_BACKENDS=0`); otherwise
    /// their absence fails the test, as a missing backend does.
    pub fn start() -> Option<Self> {
        if !Path::new(BIN).join("initdb").exists() {
            assert!(
                std::env::var("KEYDESK_REQUIRE_BACKENDS").as_deref() == Ok("0"),
                "PostgreSQL 15 server programs are required in {BIN} (apt-get install postgresql-15), or set KEYDESK_REQUIRE_BACKENDS=0 to skip"
            );
            eprintln!("SKIPPED: no PostgreSQL 15 programs in {BIN}");
            return None;
        }
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().to_path_buf();
        if nix::unistd::Uid::effective().is_root() {
            let user = nix::unistd::User::from_name("postgres")
                .expect("look up the postgres user")
                .expect("a postgres OS user (initdb will not run as root)");
            std::os::unix::fs::chown(&dir, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
                .expect("give the cluster dir to postgres");
        }
        let data = dir.join("data");
        run(
            as_server_user(
                "initdb",
                &[
                    "-D",
                    data.to_str().unwrap(),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ],
            ),
            "initdb",
        );
        let port = super::process::free_port();
        let cluster = Self {
            port,
            dir,
            _tmp: tmp,
        };
        cluster.up();
        Some(cluster)
    }

    /// The server URL (no database), for `postgres://.../DB`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    /// Starts the server and waits until it accepts connections.
    pub fn up(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off",
            self.port,
            self.dir.display()
        );
        run(
            as_server_user(
                "pg_ctl",
                &[
                    "-D",
                    self.dir.join("data").to_str().unwrap(),
                    "-o",
                    &options,
                    "-l",
                    self.dir.join("server.log").to_str().unwrap(),
                    "-w",
                    "-t",
                    "30",
                    "start",
                ],
            ),
            "pg_ctl start",
        );
    }

    /// Stops the server (fast: every connection is cut) and waits.
    pub fn down(&self) {
        run(
            as_server_user(
                "pg_ctl",
                &[
                    "-D",
                    self.dir.join("data").to_str().unwrap(),
                    "-m",
                    "fast",
                    "-w",
                    "-t",
                    "30",
                    "stop",
                ],
            ),
            "pg_ctl stop",
        );
    }

    /// Creates a database and returns its URL.
    pub async fn database(&self, name: &str) -> String {
        use sea_orm::{ConnectionTrait, Database};
        let admin = Database::connect(format!("{}/postgres", self.url()))
            .await
            .expect("connect to the private cluster");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create database");
        let _ = admin.close().await;
        format!("{}/{name}", self.url())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_server_user(
            "pg_ctl",
            &[
                "-D",
                self.dir.join("data").to_str().unwrap_or_default(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        )
        .output();
    }
}
