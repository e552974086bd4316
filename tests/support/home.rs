//! A home for one test of the real binary: its own data and config
//! folders and SQLite store, runs of `keydesk` with exit code and output
//! at hand, and a wait for an HTTP status (the diag endpoint, the site).

use std::path::{Path, PathBuf};
use std::process::Output;

/// A home for one test: its data dir, config dir and SQLite store.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// keydesk's data dir under this home (`XDG_DATA_HOME/keydesk`).
    pub fn data_dir(&self) -> PathBuf {
        self.path().join("data/keydesk")
    }

    /// A SQLite store URL in this home.
    pub fn sqlite_url(&self) -> String {
        format!(
            "sqlite://{}?mode=rwc",
            self.path().join("keydesk.db").display()
        )
    }

    /// The environment every run gets: this home, cheap argon2, no
    /// system or user config files of the machine.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("HOME".into(), self.path().display().to_string()),
            (
                "XDG_DATA_HOME".into(),
                self.path().join("data").display().to_string(),
            ),
            (
                "XDG_CONFIG_HOME".into(),
                self.path().join("config").display().to_string(),
            ),
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
            ("KEYDESK__PASSWORD__ARGON2__M_COST".into(), "8192".into()),
            ("KEYDESK__PASSWORD__ARGON2__T_COST".into(), "1".into()),
            (
                "KEYDESK__MAIL__FILE__DIR".into(),
                self.path().join("mail").display().to_string(),
            ),
        ]
    }

    /// Runs `keydesk ARGS` with [`Home::env`] plus `extra`.
    pub fn run(&self, args: &[&str], extra: &[(&str, &str)]) -> Ran {
        let mut cmd = super::process::keydesk(self.path());
        cmd.args(args).envs(self.env());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        Ran(cmd.output().expect("run keydesk"))
    }
}

/// What one run did.
pub struct Ran(pub Output);

impl Ran {
    pub fn code(&self) -> i32 {
        self.0.status.code().expect("exited, not killed")
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    /// Asserts exit 0 and returns stdout.
    pub fn ok(&self) -> String {
        assert_eq!(
            self.code(),
            0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self.stdout()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok()).expect("stdout is JSON")
    }
}

/// Waits until `url` answers with `status` (polling), or panics after `within`.
pub async fn wait_for_status(url: &str, status: u16, within: std::time::Duration) -> String {
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Ok(response) = client.get(url).send().await
            && response.status().as_u16() == status
        {
            return response.text().await.unwrap_or_default();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{url} did not answer {status} within {within:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
