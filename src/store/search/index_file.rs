//! The host's index file: written by whichever process rebuilds it,
//! mapped read-only by every keydesk process on the host.
//!
//! A writer takes `<file>.lock` (an advisory `flock`, released by the
//! kernel if the writer dies), writes the whole image to `<file>.tmp-<pid>`,
//! fsyncs it, renames it over `<file>` and fsyncs the folder. So a file
//! with the final name is always complete and never written again; readers
//! that mapped the old one keep a valid mapping, and notice the new one by
//! its inode ([`IndexFile::current`]). What a reader maps is still checked
//! (length, checksum, layout) before it is searched: a corrupt or cut-off
//! file is refused and rebuilt.
//!
//! The file holds every contact's name and email, so it is owner-only like
//! the store.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use mapped_file::FileId;

use crate::store::search_index::{IndexError, SearchIndex};

/// What a look at the index file found.
#[derive(Debug)]
pub(super) enum Opened {
    /// There is no file yet.
    Missing,
    /// There is one, and it must not be used (the reason).
    Refused(IndexError),
    /// A valid index, mapped.
    Ready(Box<SearchIndex>),
}

/// Holds the build lock until dropped.
#[derive(Debug)]
pub(super) struct BuildLock(#[expect(dead_code, reason = "held for its lock")] File);

/// Where the host's index file is.
#[derive(Debug, Clone)]
pub(super) struct IndexFile {
    path: PathBuf,
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

impl IndexFile {
    pub(super) fn new(path: PathBuf) -> Self {
        Self { path }
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Which file the path names now.
    pub(super) fn current(&self) -> std::io::Result<Option<FileId>> {
        FileId::of_path(&self.path)
    }

    /// Maps and checks the file.
    ///
    /// # Errors
    /// When it exists but cannot be read or mapped.
    pub(super) fn open(&self) -> std::io::Result<Opened> {
        match SearchIndex::open(&self.path) {
            Ok(Ok(index)) => Ok(Opened::Ready(Box::new(index))),
            Ok(Err(refused)) => Ok(Opened::Refused(refused)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Opened::Missing),
            // Empty: a file cut off at zero bytes is as corrupt as any other.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Ok(Opened::Refused(
                IndexError::Image(crate::store::search_index::ImageError::Length {
                    expected: 1,
                    actual: 0,
                }),
            )),
            Err(e) => Err(e),
        }
    }

    fn lock_file(&self) -> std::io::Result<File> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::files::private_dir_all(dir)?;
        }
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(with_suffix(&self.path, ".lock"))
    }

    /// Takes the build lock, waiting for another builder to finish.
    /// Blocks: call from a blocking task.
    pub(super) fn lock(&self) -> std::io::Result<BuildLock> {
        let file = self.lock_file()?;
        file.lock()?;
        Ok(BuildLock(file))
    }

    /// Takes the build lock if nobody holds it.
    pub(super) fn try_lock(&self) -> std::io::Result<Option<BuildLock>> {
        let file = self.lock_file()?;
        match file.try_lock() {
            Ok(()) => Ok(Some(BuildLock(file))),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }

    /// Writes `index` as the new file (temporary name, fsync, rename,
    /// folder fsync) and maps it back. Blocks: call from a blocking task.
    pub(super) fn write(&self, _lock: &BuildLock, index: &SearchIndex) -> std::io::Result<Opened> {
        let tmp = with_suffix(&self.path, &format!(".tmp-{}", std::process::id()));
        // A leftover from a builder of this pid that died mid-write.
        let _ = std::fs::remove_file(&tmp);
        let written: std::io::Result<()> = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(index.image())?;
            file.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                File::open(dir)?.sync_all()?;
            }
            Ok(())
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written?;
        self.open()
    }
}
