//! A read-only memory map of a file that its writers only ever replace by
//! rename, never change in place: keydesk's search index file.
//!
//! This crate exists to hold the one `unsafe` call keydesk needs
//! ([`memmap2::Mmap::map`]) so that the `keydesk` crate itself can forbid
//! unsafe code. Every process on a host maps the same file, so the kernel's
//! page cache holds one copy for all of them.

use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Which file a path named when it was opened: device and inode. A
/// writer that renames a new file into place gives the path a new
/// identity, which is how readers notice they should map it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
}

impl FileId {
    /// The identity of the file `path` names now; `None` when there is none.
    ///
    /// # Errors
    /// When `path` cannot be examined for another reason than absence.
    pub fn of_path(path: &Path) -> io::Result<Option<Self>> {
        match std::fs::metadata(path) {
            Ok(meta) => Ok(Some(Self::of(&meta))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// A whole file mapped read-only.
#[derive(Debug)]
pub struct MappedFile {
    map: memmap2::Mmap,
    id: FileId,
}

impl MappedFile {
    /// Maps the file `path` names, read-only.
    ///
    /// # Errors
    /// When the file cannot be opened or mapped, or is empty (an empty
    /// mapping is not allowed, and no valid index is empty).
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if meta.len() == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the file is empty",
            ));
        }
        // SAFETY: `Mmap::map` is unsafe because the mapped bytes would change
        // (or vanish, raising SIGBUS) if anyone wrote to or truncated the file
        // while it is mapped. keydesk never does: an index file is written
        // whole under a temporary name, fsynced, and then renamed over the
        // old one, so a file that has its final name is never opened for
        // writing again; a rename leaves existing mappings on the old inode
        // untouched. The files are owner-only (0600 in a 0700 folder), so no
        // other account can write them either. Content is still never
        // trusted: readers check length and checksum before using it.
        // Populated: the reader's checksum touches every page at once, and
        // filling the page tables in one call beats a fault per page
        // (opening and checking a 720 MiB index: 120 to 360 ms before,
        // 105 to 220 ms populated, three runs each).
        let map = unsafe { memmap2::MmapOptions::new().populate().map(&file)? };
        Ok(Self {
            map,
            id: FileId::of(&meta),
        })
    }

    /// The mapped bytes. The mapping starts on a page boundary, so any
    /// offset that is a multiple of 8 is 8-byte aligned.
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// Which file was mapped.
    #[must_use]
    pub fn id(&self) -> FileId {
        self.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_file_keeps_its_mapping_and_the_path_gets_a_new_identity() {
        let dir = std::env::temp_dir().join(format!("mapped-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("index");
        std::fs::write(&path, b"first").unwrap();
        let first = MappedFile::open(&path).unwrap();
        assert_eq!(FileId::of_path(&path).unwrap(), Some(first.id()));
        let tmp = dir.join("index.tmp");
        std::fs::write(&tmp, b"second!").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        assert_eq!(first.bytes(), b"first");
        assert_ne!(FileId::of_path(&path).unwrap(), Some(first.id()));
        assert_eq!(MappedFile::open(&path).unwrap().bytes(), b"second!");
        std::fs::write(&tmp, b"").unwrap();
        assert!(MappedFile::open(&tmp).is_err());
        assert_eq!(FileId::of_path(&dir.join("absent")).unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
