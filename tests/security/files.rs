//! Secrets at rest: under the usual umask 022, nothing keydesk creates
//! (the store and its -wal and -shm, `.eml` files of the file transport,
//! the host key, the log, the demo's store and mail) is readable by other
//! accounts, and its folders are owner-only; a pepper or host key that
//! others can read stops keydesk with the file and the fix named; a store
//! file others can read is tightened with a warning.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::support::process::Daemon;
use crate::support::pty::Terminal;
use portable_pty::CommandBuilder;

/// Runs keydesk through `sh` after `umask 022`, as a shell of a typical
/// account would start it.
const UNDER_UMASK_022: &str = "umask 022 && exec \"$0\" \"$@\"";

fn keydesk(args: &[&str]) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", UNDER_UMASK_022, env!("CARGO_BIN_EXE_keydesk")])
        .args(args);
    cmd
}

/// A place shaped like a home folder others may look into (0755), where
/// keydesk keeps its data under `XDG_DATA_HOME`, with every default path.
struct LooseHome {
    _dir: tempfile::TempDir,
    root: PathBuf,
    env: Vec<(String, String)>,
}

impl LooseHome {
    fn new(extra: &[(&str, String)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("home");
        std::fs::create_dir(&root).unwrap();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut env = vec![
            (
                "XDG_DATA_HOME".to_owned(),
                root.join("share").display().to_string(),
            ),
            (
                "XDG_CONFIG_HOME".to_owned(),
                root.join("config").display().to_string(),
            ),
            ("KEYDESK__SITE__LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
            ("KEYDESK__SSH__LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
            (
                "KEYDESK__PASSWORD__ARGON2__M_COST".to_owned(),
                "8192".to_owned(),
            ),
            (
                "KEYDESK__PASSWORD__ARGON2__T_COST".to_owned(),
                "1".to_owned(),
            ),
        ];
        for (k, v) in extra {
            env.push(((*k).to_owned(), v.clone()));
        }
        Self {
            _dir: dir,
            root,
            env,
        }
    }

    /// keydesk's data dir (the default for the store, mail, host key, log).
    fn data(&self) -> PathBuf {
        self.root.join("share/keydesk")
    }

    fn run(&self, args: &[&str]) -> Output {
        keydesk(args)
            .envs(self.env.iter().cloned())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "keydesk {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Starts a long-running command under umask 022, its output in a log
    /// beside the data; returns it and the log's path.
    fn spawn(&self, args: &[&str]) -> (Daemon, PathBuf) {
        let log = self.root.join(format!("{}.out", args.join("-")));
        (Daemon::spawn(keydesk(args), &self.env, &log), log)
    }

    /// `ssh-serve`, once it has its host key.
    fn ssh_serve(&self) -> Daemon {
        let (mut daemon, log) = self.spawn(&["ssh-serve"]);
        daemon.wait_log(&log, "host key");
        daemon
    }
}

/// Every file and folder under `dir` with its mode; fails on any that
/// group or others may use at all.
fn assert_owner_only(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut open = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            open.push(format!("{} {mode:04o}", d.display()));
        }
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else {
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    open.push(format!("{} {mode:04o}", path.display()));
                }
                found.push(path);
            }
        }
    }
    assert!(
        open.is_empty(),
        "readable by other accounts:\n{}",
        open.join("\n")
    );
    found
}

fn names(found: &[PathBuf], root: &Path) -> Vec<String> {
    let mut names: Vec<String> = found
        .iter()
        .map(|p| p.strip_prefix(root).unwrap().display().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn nothing_keydesk_creates_is_readable_by_others_under_umask_022() {
    let home = LooseHome::new(&[]);
    let data = home.data();

    // The demo: its store, its mail folder, the console's log.
    let mut demo = CommandBuilder::new("sh");
    demo.args([
        "-c",
        UNDER_UMASK_022,
        env!("CARGO_BIN_EXE_keydesk"),
        "demo",
        "--contacts",
        "30",
    ]);
    for (k, v) in &home.env {
        demo.env(k, v);
    }
    let mut console = Terminal::start(demo, 120, 40);
    console.wait_within(&["matches"], Duration::from_secs(120));
    // Esc leaves the search box (the footer then offers `/ Search`), q quits.
    console.send("\x1b");
    console.wait_for(&["/ Search"]);
    console.send("q");
    assert!(console.wait_exit().success(), "{}", console.screen());

    // The default store, a customer, and a reset sent with the file transport.
    home.ok(&["migrate"]);
    let csv = home.root.join("people.csv");
    std::fs::write(
        &csv,
        "name,email,subscribed,offers\nAda Lovelace,ada@example.com,yes,Rust\n",
    )
    .unwrap();
    home.ok(&["import", &csv.display().to_string()]);
    let sent = home.ok(&["reset-password", "ada@example.com"]);
    assert!(
        String::from_utf8_lossy(&sent.stdout).contains("ada@example.com"),
        "{}",
        String::from_utf8_lossy(&sent.stdout)
    );

    // The site, while it runs (the -wal and -shm files exist only then).
    let (mut serve, log) = home.spawn(&["serve"]);
    let address = serve.site_address(&log);
    let page = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("http://{address}/login"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&page.stdout), "200");
    let running = names(&assert_owner_only(&home.root.join("share")), &data);
    for file in ["keydesk.db", "keydesk.db-wal", "keydesk.db-shm"] {
        assert!(running.contains(&file.to_owned()), "{file} in {running:?}");
    }
    assert!(serve.terminate().success());

    // The SSH server: its host key.
    let ssh = home.ssh_serve();
    assert!(ssh.terminate().success());

    let all = names(&assert_owner_only(&home.root.join("share")), &data);
    for file in [
        "keydesk.db",
        "keydesk.log",
        "ssh_host_ed25519_key",
        "demo/keydesk.db",
    ] {
        assert!(all.contains(&file.to_owned()), "{file} in {all:?}");
    }
    assert!(
        all.iter()
            .any(|f| f.starts_with("mail/") && f.ends_with(".eml")),
        "a reset mail in {all:?}"
    );
    assert!(data.join("demo/mail").is_dir());
}

#[test]
fn a_pepper_or_host_key_others_can_read_stops_keydesk_and_an_open_store_is_tightened() {
    let dir = tempfile::tempdir().unwrap();
    let pepper = dir.path().join("pepper");
    std::fs::write(&pepper, "7f3c9e21b84d4a6f95d0c2e1a3b7f608\n").unwrap();
    std::fs::set_permissions(&pepper, std::fs::Permissions::from_mode(0o640)).unwrap();
    let home = LooseHome::new(&[(
        "KEYDESK__PASSWORD__PEPPER_FILE",
        pepper.display().to_string(),
    )]);

    // A group-readable pepper: `serve` will not start, and says why and how.
    let out = home.run(&["serve"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("password.pepper_file"), "{err}");
    assert!(err.contains("0640"), "{err}");
    assert!(
        err.contains(&format!("chmod 600 {}", pepper.display())),
        "{err}"
    );
    // Owner-only, it is used.
    std::fs::set_permissions(&pepper, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (mut serve, log) = home.spawn(&["serve"]);
    serve.site_address(&log);
    assert!(serve.terminate().success());

    // A host key others can read: `ssh-serve` refuses it the same way.
    let key = home.data().join("ssh_host_ed25519_key");
    let ssh = home.ssh_serve();
    assert!(ssh.terminate().success());
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = home.run(&["ssh-serve"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ssh.host_key"), "{err}");
    assert!(
        err.contains(&format!("chmod 600 {}", key.display())),
        "{err}"
    );

    // A store file others can read (an older keydesk, a copy by hand):
    // a warning, and it is 0600 after.
    let store = home.data().join("keydesk.db");
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = home.ok(&["migrate"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("readable by other accounts"), "{err}");
    assert!(err.contains(&store.display().to_string()), "{err}");
    let mode = std::fs::metadata(&store).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}
