//! Build script: what `keydesk --version` says (the git commit and the
//! build date) and, with the `deb-assets` feature (`cargo deb`), the man
//! pages and shell completions the package ships, generated from the clap
//! definitions in `src/cli/args.rs`.
//!
//! Without the feature it uses only `std`, so normal builds stay fast. The
//! commit is "unknown" when there is no git repository (a source tarball)
//! or no `git`; the date is `SOURCE_DATE_EPOCH` when set (reproducible
//! builds), otherwise the time the script ran.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=KEYDESK_GIT_COMMIT={commit}");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
        });
    let date = civil_date(epoch);
    println!("cargo:rustc-env=KEYDESK_BUILD_DATE={date}");
    watch_git_head();

    #[cfg(feature = "deb-assets")]
    assets::write(&format!(
        "{} (commit {commit}, built {date})",
        std::env::var("CARGO_PKG_VERSION").unwrap_or_default()
    ));
}

/// Runs git in the package's folder; `None` when it fails or is missing.
fn git(args: &[&str]) -> Option<String> {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")?;
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// Re-runs this script when HEAD moves (a commit, a checkout), so the
/// commit in `--version` is never stale; a worktree's git dir is found
/// through git itself.
fn watch_git_head() {
    let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]) else {
        return;
    };
    let git_dir = PathBuf::from(git_dir);
    println!("cargo:rerun-if-changed={}", git_dir.join("HEAD").display());
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        let common = git(&["rev-parse", "--git-common-dir"])
            .map(PathBuf::from)
            .map_or_else(|| git_dir.clone(), |c| absolute(&c));
        for file in [common.join(&branch), common.join("packed-refs")] {
            if file.exists() {
                println!("cargo:rerun-if-changed={}", file.display());
            }
        }
    }
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    let base = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(PathBuf::new, PathBuf::from);
    base.join(path)
}

/// `YYYY-MM-DD` (UTC) of a Unix time: Howard Hinnant's days-to-civil.
fn civil_date(epoch: i64) -> String {
    let z = epoch.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The clap definitions, compiled here as in the binary.
#[cfg(feature = "deb-assets")]
#[allow(
    dead_code,
    reason = "build.rs reads only the clap definitions, which may use all of them"
)]
#[path = "src/cli/args.rs"]
mod args;

/// `args.rs` names the crate root's `VERSION`; the real one is set on the
/// command below.
#[cfg(feature = "deb-assets")]
const VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(feature = "deb-assets")]
mod assets {
    //! Man pages and completions into `target/<profile>/assets`, where the
    //! package metadata in Cargo.toml picks them up.

    use std::path::PathBuf;

    use clap::CommandFactory;

    /// Writes every page and script; a failure stops the build (a package
    /// without its man pages is not complete).
    pub fn write(version: &str) {
        println!("cargo:rerun-if-changed=src/cli/args.rs");
        let out = profile_dir().join("assets");
        let man = out.join("man");
        let completions = out.join("completions");
        for dir in [&man, &completions] {
            std::fs::create_dir_all(dir).expect("create the assets folder");
        }
        // clap takes a `&'static str` here (its `string` feature is off);
        // a build script lives for one run, so the leak is harmless.
        let version: &'static str = Box::leak(version.to_owned().into_boxed_str());
        let cmd = super::args::Cli::command().version(version);
        clap_mangen::generate_to(cmd.clone(), &man).expect("write the man pages");
        // Debian policy wants man pages gzipped, and cargo-deb compresses
        // only assets it did not build: `gzip -n` (no name, no time keeps
        // the package reproducible) is on every machine that builds a .deb.
        for page in std::fs::read_dir(&man).expect("read the man folder") {
            let page = page.expect("a man page").path();
            if page.extension().is_some_and(|e| e == "1") {
                let zipped = std::process::Command::new("gzip")
                    .args(["-9", "-n", "-f"])
                    .arg(&page)
                    .status()
                    .expect("run gzip");
                assert!(zipped.success(), "gzip {}", page.display());
            }
        }
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
        ] {
            clap_complete::generate_to(shell, &mut cmd.clone(), "keydesk", &completions)
                .expect("write a completion script");
        }
    }

    /// `target/<profile>`: three levels above this script's `OUT_DIR`
    /// (`target/<profile>/build/keydesk-HASH/out`).
    fn profile_dir() -> PathBuf {
        let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
        out.ancestors()
            .nth(3)
            .map(std::path::Path::to_path_buf)
            .expect("OUT_DIR is target/<profile>/build/<pkg>/out")
    }
}
