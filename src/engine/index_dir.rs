//! The index directory (`hls_config_set_index_dir`): where the index of every opened file is
//! persisted, and read back by later opens in any process with the same directory.
//!
//! One file per media file and settings: `<xxh3 of the path>-<xxh3 of the settings>.hlsidx`.
//! It is used only when the media file's device, inode, size, modification time and a hash of
//! its first and last 4 KiB are those it was written for (else it is stale, and rewritten). A
//! new index is written to a temporary file beside it and renamed over it, so a reader sees the
//! old file or the new one, never a part; two writers racing leave one of their (equal) files.
//! The file is mapped, not read: opening costs a few system calls and the decoding of the
//! serialized part, whatever the size of the sample tables. Index files are only ever replaced
//! by a rename, never written in place (a mapped file truncated under a reader would fault).
//!
//! The directory is created when first written to. Any failure to read or write is logged and
//! the media is indexed (or stays indexed) in memory: a read-only or full directory (or one that
//! cannot be created) costs only the persisting.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::index::persist::{self, IndexKey, Rejected};
use crate::model::config::Config;
use crate::model::identity::FileIdentity;
use crate::model::media_index::MediaIndex;
use crate::model::segment::SharedBytes;

/// Bytes hashed at each end of the media file (its container header: `ftyp`/`moov` or the EBML
/// header and SeekHead at the start; a trailing `moov`, Cues or tags at the end).
const HEAD_BYTES: u64 = 4096;

/// Which library writes and reads index files: its version and a hash of the sources it was
/// built from, so that an index file written by another build (whose indexing may differ) is
/// stale, and rewritten.
const LIBRARY: &str = concat!(env!("CARGO_PKG_VERSION"), "+", env!("LIBHLS_SOURCE_HASH"));

/// Counters of the stats call.
#[derive(Default)]
pub struct IndexDirCounters {
    /// Opens served from an index file.
    pub hits: AtomicU64,
    /// Opens that found no usable index file (and indexed the media).
    pub misses: AtomicU64,
    /// Index files written.
    pub writes: AtomicU64,
    /// Index files found but not used: stale (the media changed), truncated, damaged or of
    /// another version. Each is rewritten.
    pub rewrites: AtomicU64,
    /// Index files that could not be written (read-only or full directory).
    pub write_failures: AtomicU64,
}

/// The index directory of a context.
pub struct IndexDir {
    dir: PathBuf,
    settings: String,
    settings_hash: u64,
    /// Counters for the stats call.
    pub counters: IndexDirCounters,
    /// A write failure was logged at warning level (later ones are logged at debug level).
    warned: AtomicBool,
}

/// Where an opened media's index came from, for the info JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IndexOrigin {
    /// No index directory.
    Memory,
    /// Read from this index file.
    Disk(PathBuf),
    /// Built from the media and written to this index file.
    Written(PathBuf),
    /// Built from the media; the index file could not be written.
    NotWritten(PathBuf),
}

impl IndexOrigin {
    /// The index file, if the media has one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            IndexOrigin::Memory => None,
            IndexOrigin::Disk(p) | IndexOrigin::Written(p) | IndexOrigin::NotWritten(p) => Some(p),
        }
    }
}

/// What looking for an index file found.
pub enum Lookup {
    /// A usable index.
    Hit(Box<MediaIndex>, PathBuf),
    /// None: index the media, then [`IndexDir::store`] to this file.
    Miss(PathBuf),
}

/// `xxh3-64` of the first and last [`HEAD_BYTES`] of a file of `size` bytes.
fn head_hash(path: &Path, size: u64) -> std::io::Result<u64> {
    let f = File::open(path)?;
    let n = size.min(HEAD_BYTES) as usize;
    let mut buf = vec![0u8; 2 * n];
    f.read_exact_at(&mut buf[..n], 0)?;
    f.read_exact_at(&mut buf[n..], size - n as u64)?;
    Ok(xxhash_rust::xxh3::xxh3_64(&buf))
}

fn hash_str(s: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(s)
}

/// Maps `file` read-only.
fn map(file: &File) -> std::io::Result<SharedBytes> {
    // SAFETY: index files are only ever replaced by a rename, never written or truncated in
    // place (this module writes a new file and renames it over the old one), so the mapped
    // inode's bytes do not change while they are mapped. Every byte is checked (checksums,
    // bounds) before it is trusted.
    #[allow(unsafe_code)]
    let m = unsafe { memmap2::Mmap::map(file) }?;
    Ok(Arc::new(m))
}

impl IndexDir {
    /// The index directory of `cfg`, if it has one.
    pub fn of(cfg: &Config) -> Option<IndexDir> {
        let dir = cfg.index_dir.clone()?;
        let settings = cfg.index_settings();
        Some(IndexDir {
            dir,
            settings_hash: hash_str(settings.as_bytes()),
            settings,
            counters: IndexDirCounters::default(),
            warned: AtomicBool::new(false),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The index file of the media file `path`.
    pub fn file_for(&self, path: &Path) -> PathBuf {
        use std::os::unix::ffi::OsStrExt;
        let name = format!("{:016x}-{:016x}.hlsidx", hash_str(path.as_os_str().as_bytes()), self.settings_hash);
        self.dir.join(name)
    }

    fn key(&self, path: &Path, identity: FileIdentity) -> std::io::Result<IndexKey> {
        Ok(IndexKey {
            identity,
            head_hash: head_hash(path, identity.size)?,
            settings: self.settings.clone(),
            library: LIBRARY.to_string(),
            path: path.to_path_buf(),
        })
    }

    /// The persisted index of `path` (whose identity is `identity`), when there is a usable one.
    pub fn lookup(&self, path: &Path, identity: FileIdentity) -> Lookup {
        let file = self.file_for(path);
        match self.read(&file, path, identity) {
            Ok(index) => {
                self.counters.hits.fetch_add(1, Ordering::Relaxed);
                log::debug!("{}: index read from {}", path.display(), file.display());
                Lookup::Hit(Box::new(index), file)
            }
            Err(why) => {
                self.counters.misses.fetch_add(1, Ordering::Relaxed);
                if let Some(why) = why {
                    self.counters.rewrites.fetch_add(1, Ordering::Relaxed);
                    log::info!("{}: index file {} not used ({why}); indexing again", path.display(), file.display());
                }
                Lookup::Miss(file)
            }
        }
    }

    /// The index in `file` if it describes this version of `path`; `Err(None)`: there is no
    /// index file; `Err(Some(why))`: there is one, and it is not used.
    fn read(&self, file: &Path, path: &Path, identity: FileIdentity) -> Result<MediaIndex, Option<String>> {
        let f = match File::open(file) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(None),
            Err(e) => return Err(Some(e.to_string())),
        };
        let bytes = map(&f).map_err(|e| Some(e.to_string()))?;
        let (key, index) = persist::decode_shared(bytes).map_err(|e: Rejected| Some(e.to_string()))?;
        let want = self.key(path, identity).map_err(|e| Some(format!("reading the media file: {e}")))?;
        if key != want {
            return Err(Some("stale: written for another version of the file, settings or library".into()));
        }
        Ok(index)
    }

    /// Writes the index of `path` to `file` (a temporary file renamed over it). Failures are
    /// logged; the index stays in memory either way.
    pub fn store(&self, file: &Path, path: &Path, index: &MediaIndex) -> bool {
        match self.write(file, path, index) {
            Ok(()) => {
                self.counters.writes.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(e) => {
                self.counters.write_failures.fetch_add(1, Ordering::Relaxed);
                let msg = format!(
                    "index dir {}: cannot persist the index of {} ({e}); it stays in memory",
                    self.dir.display(),
                    path.display()
                );
                if self.warned.swap(true, Ordering::Relaxed) {
                    log::debug!("{msg}");
                } else {
                    log::warn!("{msg}");
                }
                false
            }
        }
    }

    fn write(&self, file: &Path, path: &Path, index: &MediaIndex) -> std::result::Result<(), String> {
        let key = self.key(path, index.identity).map_err(|e| format!("reading the media file: {e}"))?;
        let bytes = persist::encode(&key, index).map_err(|e| e.message)?;
        let name = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        // Unique in the process, not only in this context: contexts of one process on one
        // directory must never share a temporary name (one would remove the other's file).
        static SERIAL: AtomicU64 = AtomicU64::new(0);
        let tmp =
            self.dir.join(format!(".{name}.{}.{}.tmp", std::process::id(), SERIAL.fetch_add(1, Ordering::Relaxed)));
        let result = (|| {
            std::fs::create_dir_all(&self.dir)?;
            let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            f.write_all(&bytes)?;
            drop(f);
            std::fs::rename(&tmp, file)
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.to_string());
        }
        Ok(())
    }

    /// Removes an index file found damaged while serving (the next open indexes again).
    pub fn discard(&self, file: &Path) {
        log::warn!("index file {} is damaged; removed, the next open indexes again", file.display());
        self.counters.rewrites.fetch_add(1, Ordering::Relaxed);
        let _ = std::fs::remove_file(file);
    }
}
