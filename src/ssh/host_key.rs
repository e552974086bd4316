//! The server's host key: an Ed25519 key read from `ssh.host_key` (or
//! `<data dir>/ssh_host_ed25519_key`), generated there on first start with
//! mode 0600 and reused after, so clients see the same fingerprint. A key
//! file that other accounts can read is refused, as OpenSSH refuses one:
//! whoever reads it can pose as this server.

use std::io::Write;
use std::path::{Path, PathBuf};

use russh::keys::ssh_key::LineEnding;
use russh::keys::{Algorithm, HashAlg, PrivateKey};

/// Why the host key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum HostKeyError {
    /// Reading or writing the file failed.
    #[error("host key {path}: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// Other accounts can read the file.
    #[error(transparent)]
    TooOpen(#[from] crate::files::FileModeError),
    /// The file is not an unencrypted OpenSSH private key.
    #[error("host key {path}: {message}")]
    Invalid {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

/// The host key file for these settings.
#[must_use]
pub fn path(configured: &str, data_dir: &Path) -> PathBuf {
    if configured.trim().is_empty() {
        data_dir.join("ssh_host_ed25519_key")
    } else {
        PathBuf::from(configured)
    }
}

/// Reads the host key at `path`, or makes a new Ed25519 key there when
/// no file exists. Returns the key and whether it was just generated.
///
/// # Errors
/// [`HostKeyError`] naming the file.
pub fn load_or_generate(path: &Path) -> Result<(PrivateKey, bool), HostKeyError> {
    let io = |source| HostKeyError::Io {
        path: path.to_owned(),
        source,
    };
    let invalid = |message: String| HostKeyError::Invalid {
        path: path.to_owned(),
        message,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            crate::files::refuse_if_open("ssh.host_key", path)?;
            let key =
                PrivateKey::from_openssh(text.as_bytes()).map_err(|e| invalid(e.to_string()))?;
            if key.is_encrypted() {
                return Err(invalid("encrypted host keys are not supported".into()));
            }
            Ok((key, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519)
                .map_err(|e| invalid(e.to_string()))?;
            key.set_comment("keydesk ssh-serve");
            let text = key
                .to_openssh(LineEnding::LF)
                .map_err(|e| invalid(e.to_string()))?;
            if let Some(dir) = path.parent() {
                crate::files::private_dir_all(dir).map_err(io)?;
            }
            write_private(path, text.as_bytes()).map_err(io)?;
            Ok((key, true))
        }
        Err(e) => Err(io(e)),
    }
}

/// Creates the file readable by its owner only; never overwrites.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// The `SHA256:...` fingerprint clients are shown.
#[must_use]
pub fn fingerprint(key: &PrivateKey) -> String {
    key.public_key().fingerprint(HashAlg::Sha256).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_then_reused_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = path("", dir.path());
        let (first, made) = load_or_generate(&p).unwrap();
        assert!(made);
        assert_eq!(first.algorithm(), Algorithm::Ed25519);
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, made) = load_or_generate(&p).unwrap();
        assert!(!made);
        assert_eq!(fingerprint(&first), fingerprint(&again));
    }

    #[test]
    fn a_key_others_can_read_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = path("", dir.path());
        load_or_generate(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_generate(&p).unwrap_err().to_string();
        assert!(err.contains("ssh.host_key"), "{err}");
        assert!(err.contains(&format!("chmod 600 {}", p.display())), "{err}");
    }

    #[test]
    fn a_broken_file_is_a_clear_error_and_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("key");
        std::fs::write(&p, "not a key").unwrap();
        let err = load_or_generate(&p).unwrap_err().to_string();
        assert!(err.contains("key"), "{err}");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "not a key");
    }
}
