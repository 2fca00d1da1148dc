//! Which version of a file on disk (or of a caller-supplied source) an index describes.

use std::fs::{File, Metadata};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::{Error, ErrorKind, Result};

/// What identifies one version of a file on disk: a change of any field means re-index. A
/// caller-supplied source has the source form ([`FileIdentity::of_source`]): its identity
/// string's hash in place of the inode, device 0 and no modification time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileIdentity {
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i128,
}

/// The device number of a caller-supplied source's identity (no real device has it).
const SOURCE_DEV: u64 = u64::MAX;

impl FileIdentity {
    /// Stats `path` (one `stat` call). Missing files and directories are `Io` errors.
    pub fn of(path: &Path) -> Result<FileIdentity> {
        let md = std::fs::metadata(path).map_err(|e| Error::new(ErrorKind::Io, format!("{}: {e}", path.display())))?;
        FileIdentity::of_metadata(&md, path)
    }

    /// Stats an open file (one `fstat` call): the version its descriptor reads, whatever is at
    /// `path` now (`path` names it in errors).
    pub fn of_file(file: &File, path: &Path) -> Result<FileIdentity> {
        let md = file.metadata().map_err(|e| Error::new(ErrorKind::Io, format!("{}: {e}", path.display())))?;
        FileIdentity::of_metadata(&md, path)
    }

    /// The identity of a caller-supplied source: its identity string (which the caller changes
    /// when the bytes change, e.g. URL + ETag) and its size. Two sources with the same string and
    /// size are the same version; the registry keys them by the string itself as well.
    pub fn of_source(identity: &str, size: u64) -> FileIdentity {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        identity.hash(&mut h);
        FileIdentity { dev: SOURCE_DEV, ino: h.finish(), size, mtime_ns: 0 }
    }

    /// True for the identity of a caller-supplied source.
    pub fn is_source(&self) -> bool {
        self.dev == SOURCE_DEV && self.mtime_ns == 0
    }

    fn of_metadata(md: &Metadata, path: &Path) -> Result<FileIdentity> {
        if md.is_dir() {
            return Err(Error::new(ErrorKind::Io, format!("{}: is a directory", path.display())));
        }
        if !md.is_file() {
            return Err(Error::new(ErrorKind::Io, format!("{}: not a regular file", path.display())));
        }
        Ok(FileIdentity {
            dev: md.dev(),
            ino: md.ino(),
            size: md.len(),
            mtime_ns: md.mtime() as i128 * 1_000_000_000 + md.mtime_nsec() as i128,
        })
    }
}
