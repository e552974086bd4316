//! Owner-only files: everything keydesk writes is for the account that runs
//! it alone, whatever umask it was started with.
//!
//! The store holds password hashes and the audit log, `.eml` files of the
//! `file` transport hold live reset links, the host key and the pepper are
//! secrets: under the usual umask 022 they would be readable by every other
//! account on a jump box. So:
//! - [`restrict_umask`] runs first in `main`: every file the process or a
//!   crate it uses (sqlx, lettre, the log writer) creates is 0600, every
//!   folder 0700;
//! - [`private_dir_all`] and the store's own file creation use those modes
//!   explicitly too, so a library caller that kept a loose umask gets the
//!   same result;
//! - [`refuse_if_open`] stops keydesk from using a secret (the SSH host
//!   key, the pepper) that other accounts can read, as OpenSSH refuses such
//!   a private key, naming the file and the fix;
//! - [`tighten_if_open`] narrows a store file that others can read (made by
//!   an older keydesk or by hand) and returns what it was, for a warning.

use std::fs::{DirBuilder, Permissions};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The permission bits of group and others.
const OTHERS: u32 = 0o077;

/// Mode of every file keydesk creates.
pub const FILE_MODE: u32 = 0o600;

/// Mode of every folder keydesk creates.
pub const DIR_MODE: u32 = 0o700;

/// A secret file that other accounts can open.
#[derive(Debug, thiserror::Error)]
pub enum FileModeError {
    /// Group or others have some permission on the file.
    #[error(
        "{what} {path} is open to other accounts (permissions {mode:04o}); \
         keydesk will not use a secret others can read: run `chmod 600 {path}`"
    )]
    TooOpen {
        /// The setting or role of the file, e.g. `password.pepper_file`.
        what: String,
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file's permissions could not be read.
    #[error("{what} {path}: {source}")]
    Io {
        /// The setting or role of the file.
        what: String,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Makes every file and folder this process creates from now on private
/// to its owner (umask 077). Called first in `main`, before any thread or
/// file exists.
pub fn restrict_umask() {
    use nix::sys::stat::{Mode, umask};
    let _previous = umask(Mode::from_bits_truncate(OTHERS));
}

/// Creates `dir` and any missing parents with mode 0700 (folders that
/// already exist are left as they are).
///
/// # Errors
/// The I/O error of the folder that could not be made.
pub fn private_dir_all(dir: &Path) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Creates `path` empty with mode 0600 when it does not exist yet, so that
/// whatever later opens it (SQLite, which gives its -wal and -shm files the
/// main file's mode) starts owner-only. An existing file is left alone.
///
/// # Errors
/// An I/O error other than the file already existing.
pub fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// The permission bits of `path` (`None` when it does not exist).
///
/// # Errors
/// An I/O error other than the file not existing.
pub fn mode_of(path: &Path) -> std::io::Result<Option<u32>> {
    match std::fs::metadata(path) {
        Ok(meta) => Ok(Some(meta.permissions().mode() & 0o7777)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Refuses a secret file that group or others have any permission on.
/// `what` names it in the message (the setting, or "SSH host key").
///
/// # Errors
/// [`FileModeError::TooOpen`] with the fix, or [`FileModeError::Io`].
pub fn refuse_if_open(what: &str, path: &Path) -> Result<(), FileModeError> {
    let meta = std::fs::metadata(path).map_err(|source| FileModeError::Io {
        what: what.to_owned(),
        path: path.to_owned(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & OTHERS == 0 {
        Ok(())
    } else {
        Err(FileModeError::TooOpen {
            what: what.to_owned(),
            path: path.to_owned(),
            mode,
        })
    }
}

/// Narrows `path` to 0600 when group or others have any permission on it.
/// Returns the mode it had when it was changed, `None` when it was already
/// private or does not exist.
///
/// # Errors
/// The I/O error of reading or changing the mode.
pub fn tighten_if_open(path: &Path) -> std::io::Result<Option<u32>> {
    match mode_of(path)? {
        Some(mode) if mode & OTHERS != 0 => {
            std::fs::set_permissions(path, Permissions::from_mode(FILE_MODE))?;
            Ok(Some(mode))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_secret_is_refused_with_the_fix_and_a_private_one_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pepper");
        std::fs::write(&path, "0123456789abcdef").unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o640)).unwrap();
        let err = refuse_if_open("password.pepper_file", &path)
            .unwrap_err()
            .to_string();
        assert!(err.contains("password.pepper_file"), "{err}");
        assert!(err.contains("0640"), "{err}");
        assert!(
            err.contains(&format!("chmod 600 {}", path.display())),
            "{err}"
        );
        std::fs::set_permissions(&path, Permissions::from_mode(0o600)).unwrap();
        refuse_if_open("password.pepper_file", &path).unwrap();
        // Write or execute for others is refused too, as OpenSSH does.
        std::fs::set_permissions(&path, Permissions::from_mode(0o602)).unwrap();
        assert!(refuse_if_open("x", &path).is_err());
    }

    #[test]
    fn an_open_store_file_is_tightened_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keydesk.db");
        std::fs::write(&path, "").unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        assert_eq!(tighten_if_open(&path).unwrap(), Some(0o644));
        assert_eq!(mode_of(&path).unwrap(), Some(0o600));
        assert_eq!(tighten_if_open(&path).unwrap(), None);
        assert_eq!(tighten_if_open(&dir.path().join("absent")).unwrap(), None);
    }

    #[test]
    fn created_files_and_folders_are_owner_only_whatever_the_umask() {
        // The test process keeps its own umask (022 usually): the explicit
        // modes must hold regardless.
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b/c");
        private_dir_all(&deep).unwrap();
        for d in [dir.path().join("a"), dir.path().join("a/b"), deep.clone()] {
            assert_eq!(mode_of(&d).unwrap(), Some(DIR_MODE), "{}", d.display());
        }
        let file = deep.join("store.db");
        create_private(&file).unwrap();
        assert_eq!(mode_of(&file).unwrap(), Some(FILE_MODE));
        std::fs::write(&file, "kept").unwrap();
        create_private(&file).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "kept");
    }
}
