//! Positioned reads of a media's bytes: the one helper every reader of samples, boxes and blocks
//! uses, over a local file or a caller-supplied source.
//!
//! [`ByteSource`] is where a media's bytes come from: a local [`File`] (reads never move a shared
//! file position: `pread` on Unix, so one `File` serves concurrent readers) or a [`ReadAt`]
//! callback source (object stores, HTTP: `hls_open_source`). Reads of a callback source are
//! checked (a short read is accepted only at the end, a length past the buffer is refused),
//! split at the configured ceiling of one read, counted (per source, per thread: the engine
//! reports reads per open and per segment), and its first bytes are kept after the first read
//! that touches them (the headers every open and demuxer reads again), so an MP4's open costs
//! at most three reads. A failed read is remembered per thread ([`take_source_failure`]) so the
//! engine reports it as an I/O error with the caller's words, whatever parser saw it fail
//! (FFmpeg's included).
//!
//! [`read_exact_at`] fills a buffer, [`read_vec_at`] allocates one (with a length cap against
//! sizes read from damaged headers), and [`read_runs`] reads a list of byte ranges into one
//! buffer, with one call per run of contiguous ranges.

#![deny(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// A positioned, thread-safe reader of a caller's bytes (the Rust side of `HlsSource`).
pub trait ReadAt: Send + Sync {
    /// Reads up to `buf.len()` bytes at `pos` into `buf`; returns how many (fewer only at the
    /// end of the data). Called from any thread, concurrently.
    fn read_at(&self, pos: u64, buf: &mut [u8]) -> io::Result<usize>;
}

/// How many first bytes of a callback source are read at once and kept (the `ftyp`, a
/// faststart `moov`'s header or all of it, Matroska's EBML header, SeekHead and Tracks): every
/// open and every demuxer reads them again.
pub const SOURCE_HEAD_BYTES: usize = 512 << 10;

/// A caller-supplied source: the reader, its size and identity, and its counters.
pub struct CallbackSource {
    reader: Box<dyn ReadAt>,
    size: u64,
    identity: String,
    read_max: usize,
    head: OnceLock<Vec<u8>>,
    reads: AtomicU64,
    bytes: AtomicU64,
}

impl fmt::Debug for CallbackSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackSource").field("identity", &self.identity).field("size", &self.size).finish()
    }
}

impl CallbackSource {
    /// A source of `size` bytes named `identity`, read at most `read_max` bytes per call.
    pub fn new(reader: Box<dyn ReadAt>, size: u64, identity: String, read_max: usize) -> CallbackSource {
        CallbackSource {
            reader,
            size,
            identity,
            read_max: read_max.max(4096),
            head: OnceLock::new(),
            reads: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    /// The identity string (URL + ETag, say).
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Reads and bytes read from the caller so far.
    pub fn counters(&self) -> (u64, u64) {
        (self.reads.load(Ordering::Relaxed), self.bytes.load(Ordering::Relaxed))
    }

    /// One call of the caller's reader, checked and counted. `buf` is at most `read_max`.
    fn call(&self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len();
        self.reads.fetch_add(1, Ordering::Relaxed);
        THREAD_READS.with(|c| {
            let (r, b) = c.get();
            c.set((r + 1, b));
        });
        let n = match self.reader.read_at(pos, buf) {
            Ok(n) => n,
            Err(e) => return Err(self.failed(format!("read of {want} bytes at offset {pos} failed: {e}"))),
        };
        if n > want {
            return Err(
                self.failed(format!("read of {want} bytes at offset {pos} returned {n} (more than asked: refused)"))
            );
        }
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        THREAD_READS.with(|c| {
            let (r, b) = c.get();
            c.set((r, b + n as u64));
        });
        if n < want && pos + (n as u64) < self.size {
            return Err(self.failed(format!(
                "read of {want} bytes at offset {pos} returned {n}, short of the end ({} bytes): refused",
                self.size
            )));
        }
        Ok(n)
    }

    fn failed(&self, what: String) -> io::Error {
        let msg = format!("source {}: {what}", self.identity);
        SOURCE_FAILURE.with(|f| *f.borrow_mut() = Some(msg.clone()));
        io::Error::other(msg)
    }

    /// Fills `buf` from `pos`: from the kept head when it lies inside it, else in calls of at
    /// most `read_max` bytes. Fails at the end of the data.
    fn read_exact(&self, pos: u64, buf: &mut [u8]) -> io::Result<()> {
        let end = pos.checked_add(buf.len() as u64).filter(|&e| e <= self.size).ok_or_else(|| {
            io::Error::new(io::ErrorKind::UnexpectedEof, format!("read past the end of the source at byte {pos}"))
        })?;
        let head_len = (SOURCE_HEAD_BYTES as u64).min(self.size);
        if end <= head_len {
            let head = match self.head.get() {
                Some(h) => h,
                None => {
                    let mut h = vec![0u8; head_len as usize];
                    self.fill(0, &mut h)?;
                    // Another thread may have set it meanwhile: either copy is the same bytes.
                    self.head.get_or_init(|| h)
                }
            };
            buf.copy_from_slice(&head[pos as usize..end as usize]);
            return Ok(());
        }
        self.fill(pos, buf)
    }

    fn fill(&self, pos: u64, buf: &mut [u8]) -> io::Result<()> {
        let mut done = 0;
        while done < buf.len() {
            let n = (buf.len() - done).min(self.read_max);
            let got = self.call(pos + done as u64, &mut buf[done..done + n])?;
            if got < n {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the source ends at byte {}", pos + (done + got) as u64),
                ));
            }
            done += n;
        }
        Ok(())
    }

    /// Up to `buf.len()` bytes at `pos` (fewer only at the end): FFmpeg's reads.
    pub fn read_some(&self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
        if pos >= self.size {
            return Ok(0);
        }
        let n = (buf.len() as u64).min(self.size - pos) as usize;
        self.read_exact(pos, &mut buf[..n])?;
        Ok(n)
    }
}

thread_local! {
    /// Reads and bytes of callback sources made by this thread.
    static THREAD_READS: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    /// The last failed read of a callback source on this thread, not yet reported.
    static SOURCE_FAILURE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Reads and bytes of callback sources made by the calling thread so far (the difference
/// around an open or a segment is what it cost).
pub fn thread_reads() -> (u64, u64) {
    THREAD_READS.with(Cell::get)
}

/// Credits to the calling thread reads of callback sources made for it on other threads
/// (`reads`, `bytes`, as [`thread_reads`] counted them there), and the last failure one of them
/// met (as [`take_source_failure`] gave it there), so the work's cost and errors are reported
/// as if it had read them itself.
pub fn credit_thread_reads(reads: (u64, u64), failure: Option<String>) {
    THREAD_READS.with(|c| {
        let (r, b) = c.get();
        c.set((r + reads.0, b + reads.1));
    });
    if let Some(f) = failure {
        SOURCE_FAILURE.with(|x| *x.borrow_mut() = Some(f));
    }
}

/// The last failure of a callback source read on this thread since the previous call, if any.
pub fn take_source_failure() -> Option<String> {
    SOURCE_FAILURE.with(|f| f.borrow_mut().take())
}

/// Where a media's bytes come from: a local file (with its path, which FFmpeg opens by name) or
/// a caller-supplied source.
#[derive(Clone, Debug)]
pub enum ByteSource {
    /// A local file, opened.
    File {
        /// The open file.
        file: Arc<File>,
        /// Its path.
        path: PathBuf,
    },
    /// A caller-supplied source.
    Callback(Arc<CallbackSource>),
    /// Bytes of another source read ahead (a Matroska segment's clusters, shared by its tracks'
    /// block walks); reads outside them go to that source.
    Window(Arc<Window>),
}

/// Bytes of a source read ahead in one read, and the source.
#[derive(Debug)]
pub struct Window {
    /// Where the bytes start.
    pub pos: u64,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The source they were read from.
    pub inner: ByteSource,
}

impl Window {
    /// Reads `len` bytes of `src` at `pos` (fewer at the end of `size`) in one read.
    pub fn read(src: &ByteSource, pos: u64, len: u64, size: u64) -> io::Result<Window> {
        let len = len.min(size.saturating_sub(pos));
        let mut bytes = vec![0u8; usize::try_from(len).map_err(|_| io::Error::other("window too large"))?];
        read_exact_at(src, pos, &mut bytes)?;
        Ok(Window { pos, bytes, inner: src.clone() })
    }

    /// True when the window holds `pos..pos + len`.
    pub fn covers(&self, pos: u64, len: u64) -> bool {
        pos >= self.pos && pos.saturating_add(len) <= self.pos + self.bytes.len() as u64
    }
}

impl ByteSource {
    /// Opens the local file at `path`.
    pub fn open_file(path: &Path) -> io::Result<ByteSource> {
        Ok(ByteSource::File { file: Arc::new(File::open(path)?), path: path.to_path_buf() })
    }

    /// A local file already open (`path` names it).
    pub fn from_file(file: File, path: &Path) -> ByteSource {
        ByteSource::File { file: Arc::new(file), path: path.to_path_buf() }
    }

    /// The open file, for a local file.
    pub fn file(&self) -> Option<&Arc<File>> {
        match self {
            ByteSource::File { file, .. } => Some(file),
            ByteSource::Callback(_) => None,
            ByteSource::Window(w) => w.inner.file(),
        }
    }

    /// True for a caller-supplied source.
    pub fn is_callback(&self) -> bool {
        match self {
            ByteSource::File { .. } => false,
            ByteSource::Callback(_) => true,
            ByteSource::Window(w) => w.inner.is_callback(),
        }
    }
}

/// Bytes of a caller-supplied source read ahead in one read, for a handful of small reads close
/// to one another that a parser is about to make (the first samples of every track of an MP4).
#[derive(Debug, Default)]
pub struct Prefetch {
    pos: u64,
    bytes: Vec<u8>,
}

impl Prefetch {
    /// For a caller-supplied source, the span of `ranges` (`(pos, len)`) in one read when it
    /// is at most `max_span` bytes; empty for a local file (reads are cheap) or a failed read
    /// (the reads that follow report it).
    pub fn span(src: &ByteSource, ranges: &[(u64, u64)], max_span: u64) -> Prefetch {
        let (Some(lo), Some(hi)) =
            (ranges.iter().map(|r| r.0).min(), ranges.iter().map(|r| r.0.saturating_add(r.1)).max())
        else {
            return Prefetch::default();
        };
        if !src.is_callback() || hi - lo > max_span || hi <= lo {
            return Prefetch::default();
        }
        let mut bytes = vec![0u8; (hi - lo) as usize];
        match read_exact_at(src, lo, &mut bytes) {
            Ok(()) => Prefetch { pos: lo, bytes },
            Err(_) => {
                take_source_failure();
                Prefetch::default()
            }
        }
    }

    /// The `len` bytes at `pos`, if they were read ahead.
    pub fn get(&self, pos: u64, len: usize) -> Option<&[u8]> {
        let from = usize::try_from(pos.checked_sub(self.pos)?).ok()?;
        self.bytes.get(from..from.checked_add(len)?)
    }
}

/// Fills `buf` with the bytes of `src` at `pos`; fails when the data ends first.
pub fn read_exact_at(src: &ByteSource, pos: u64, buf: &mut [u8]) -> io::Result<()> {
    match src {
        ByteSource::File { file, .. } => file_read_exact_at(file, pos, buf),
        ByteSource::Callback(c) => c.read_exact(pos, buf),
        ByteSource::Window(w) if w.covers(pos, buf.len() as u64) => {
            let from = (pos - w.pos) as usize;
            buf.copy_from_slice(&w.bytes[from..from + buf.len()]);
            Ok(())
        }
        ByteSource::Window(w) => read_exact_at(&w.inner, pos, buf),
    }
}

/// Fills `buf` with the bytes of `file` at `pos`; fails when the file ends first.
#[cfg(unix)]
fn file_read_exact_at(file: &File, pos: u64, buf: &mut [u8]) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    #[cfg(any(test, feature = "fault-injection"))]
    if let Some(injected) = fault::take(file, buf) {
        return injected;
    }
    file.read_exact_at(buf, pos)
}

/// Test-only fault injection (the `fault-injection` feature): the Nth positioned read of one
/// file (by device and inode) from the moment a fault is armed fails, or returns short (half
/// the bytes, then the end of the file), as a failing disk or a file cut meanwhile would.
#[cfg(any(test, feature = "fault-injection"))]
pub mod fault {
    use std::fs::File;
    use std::io;
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;

    use parking_lot::Mutex;

    /// What the faulty read does.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Fault {
        /// Fails with an I/O error (EIO).
        Fail,
        /// Fills half the buffer, then reports the end of the file.
        Short,
    }

    struct Armed {
        dev: u64,
        ino: u64,
        /// Reads of the file still to pass before the faulty one.
        pass: u64,
        fault: Fault,
    }

    static ARMED: Mutex<Vec<Armed>> = Mutex::new(Vec::new());
    static INJECTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

    /// Arms a fault: after `pass` more positioned reads of the file at `path`, the next one
    /// does `fault`, once. Faults of other files stay armed.
    pub fn arm(path: &Path, pass: u64, fault: Fault) -> io::Result<()> {
        let m = std::fs::metadata(path)?;
        let mut armed = ARMED.lock();
        armed.retain(|a| (a.dev, a.ino) != (m.dev(), m.ino()));
        armed.push(Armed { dev: m.dev(), ino: m.ino(), pass, fault });
        Ok(())
    }

    /// Disarms the fault of the file at `path`; true when it had not fired.
    pub fn disarm(path: &Path) -> bool {
        let Ok(m) = std::fs::metadata(path) else { return false };
        let mut armed = ARMED.lock();
        let before = armed.len();
        armed.retain(|a| (a.dev, a.ino) != (m.dev(), m.ino()));
        armed.len() != before
    }

    /// Faults injected so far (all files).
    pub fn injected() -> u64 {
        INJECTED.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The injected result of this read, if it is the faulty one.
    pub(super) fn take(file: &File, buf: &mut [u8]) -> Option<io::Result<()>> {
        let mut armed = ARMED.lock();
        if armed.is_empty() {
            return None;
        }
        let m = file.metadata().ok()?;
        let i = armed.iter().position(|a| (a.dev, a.ino) == (m.dev(), m.ino()))?;
        if armed[i].pass > 0 {
            armed[i].pass -= 1;
            return None;
        }
        let fault = armed.remove(i).fault;
        INJECTED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Some(match fault {
            Fault::Fail => Err(io::Error::from_raw_os_error(libc::EIO)),
            Fault::Short => {
                let half = buf.len() / 2;
                buf[..half].fill(0);
                Err(io::Error::from(io::ErrorKind::UnexpectedEof))
            }
        })
    }
}

/// Fills `buf` with the bytes of `file` at `pos`; fails when the file ends first.
#[cfg(windows)]
fn file_read_exact_at(file: &File, pos: u64, buf: &mut [u8]) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    let mut done = 0;
    while done < buf.len() {
        match file.seek_read(&mut buf[done..], pos + done as u64) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Fills `buf` with the bytes of `file` at `pos`; fails when the file ends first. (No positioned
/// read on this platform: seeks the shared file position.)
#[cfg(not(any(unix, windows)))]
fn file_read_exact_at(file: &File, pos: u64, buf: &mut [u8]) -> io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = file;
    f.seek(SeekFrom::Start(pos))?;
    f.read_exact(buf)
}

/// The `len` bytes of `file` at `pos`, in a new buffer. A `len` above `max_len` (a size read
/// from a damaged header) is refused before anything is allocated.
pub fn read_vec_at(file: &ByteSource, pos: u64, len: usize, max_len: usize) -> io::Result<Vec<u8>> {
    if len > max_len {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{len} bytes at byte {pos} exceed the {max_len}-byte limit of one read"),
        ));
    }
    let mut buf = vec![0u8; len];
    read_exact_at(file, pos, &mut buf)?;
    Ok(buf)
}

/// A failed read of one run of [`read_runs`]: where it started and how long it was.
#[derive(Debug)]
pub struct RunError {
    /// Byte offset of the run.
    pub pos: u64,
    /// Length of the run in bytes.
    pub len: u64,
    /// What the read said.
    pub source: io::Error,
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read {} bytes at offset {}: {}", self.len, self.pos, self.source)
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Reads the byte ranges `(pos, len)` of `file`, in order, into one buffer: each run of ranges
/// that follow one another in the file (the samples of one MP4 chunk) costs one read.
pub fn read_runs(file: &ByteSource, ranges: &[(u64, u32)]) -> Result<Vec<u8>, RunError> {
    let total: usize = ranges.iter().map(|&(_, len)| len as usize).sum();
    let mut out = vec![0u8; total];
    let (mut i, mut at) = (0, 0usize);
    while i < ranges.len() {
        let (start, mut len, mut j) = (ranges[i].0, ranges[i].1 as u64, i + 1);
        while j < ranges.len() && ranges[j].0 == start + len {
            len += ranges[j].1 as u64;
            j += 1;
        }
        read_exact_at(file, start, &mut out[at..at + len as usize]).map_err(|source| RunError {
            pos: start,
            len,
            source,
        })?;
        at += len as usize;
        i = j;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp_file(bytes: &[u8]) -> ByteSource {
        let path =
            std::env::temp_dir().join(format!("libhls-read-{}-{:?}", std::process::id(), std::thread::current().id()));
        File::create(&path).and_then(|mut f| f.write_all(bytes)).expect("write temp file");
        let f = File::open(&path).expect("open temp file");
        std::fs::remove_file(&path).ok();
        ByteSource::from_file(f, &path)
    }

    #[test]
    fn runs_are_read_in_order_and_errors_name_the_run() {
        let f = temp_file(b"0123456789");
        assert_eq!(read_runs(&f, &[(2, 2), (4, 3), (0, 1), (9, 1)]).unwrap(), b"2345609");
        assert_eq!(read_vec_at(&f, 3, 4, 4).unwrap(), b"3456");
        assert_eq!(read_vec_at(&f, 3, 5, 4).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        let e = read_runs(&f, &[(0, 1), (8, 1), (9, 4)]).unwrap_err();
        assert_eq!((e.pos, e.len), (8, 5));
        assert!(e.to_string().starts_with("cannot read 5 bytes at offset 8: "), "{e}");
    }
}
