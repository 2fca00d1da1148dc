//! Which version of a file on disk an index describes.

use serde::{Deserialize, Serialize};
use std::fs::{File, Metadata};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::{Error, ErrorKind, Result};

/// What identifies one version of a file on disk: a change of any field means re-index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
