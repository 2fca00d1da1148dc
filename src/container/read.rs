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
//! at most three reads; the rest goes through the context's [`SourceCache`], which keeps what
//! was read and asks the caller only for bytes it does not hold (each byte about once while it
//! stays hot, whichever reader -- FFmpeg's AVIO, an indexer, a segment -- needs it again). A
//! failed read is remembered per thread ([`take_source_failure`]) so the engine reports it as
//! an I/O error with the caller's words, whatever parser saw it fail (FFmpeg's included).
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

/// A caller-supplied source: the reader, its size and identity, its counters, and the block
/// cache its reads go through (the context's, shared by all its sources).
pub struct CallbackSource {
    reader: Box<dyn ReadAt>,
    size: u64,
    identity: String,
    /// The identity and size as the block cache's key (another identity, or a different
    /// size, is another object: its bytes are never mixed with these).
    key: Arc<(String, u64)>,
    read_max: usize,
    head: OnceLock<Vec<u8>>,
    cache: Option<Arc<SourceCache>>,
    reads: AtomicU64,
    bytes: AtomicU64,
}

impl fmt::Debug for CallbackSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackSource").field("identity", &self.identity).field("size", &self.size).finish()
    }
}

impl CallbackSource {
    /// A source of `size` bytes named `identity`, read at most `read_max` bytes per call,
    /// through `cache` (none: every read goes to the caller).
    pub fn new(
        reader: Box<dyn ReadAt>,
        size: u64,
        identity: String,
        read_max: usize,
        cache: Option<Arc<SourceCache>>,
    ) -> CallbackSource {
        CallbackSource {
            reader,
            size,
            key: Arc::new((identity.clone(), size)),
            identity,
            read_max: read_max.max(4096),
            head: OnceLock::new(),
            cache,
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

    /// Fills `buf` from `pos`: from the kept head when it lies inside it, else through the
    /// block cache (bytes read before and still kept are not read again), else in calls of at
    /// most `read_max` bytes. Fails at the end of the data.
    fn read_exact(&self, pos: u64, buf: &mut [u8]) -> io::Result<()> {
        let end = pos.checked_add(buf.len() as u64).filter(|&e| e <= self.size).ok_or_else(|| {
            io::Error::new(io::ErrorKind::UnexpectedEof, format!("read past the end of the source at byte {pos}"))
        })?;
        if buf.is_empty() {
            return Ok(());
        }
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
        let (pos, buf) = match self.head.get() {
            // The part inside the kept head is copied from it; the rest is read.
            Some(head) if pos < head_len => {
                let n = (head_len - pos) as usize;
                buf[..n].copy_from_slice(&head[pos as usize..]);
                (head_len, &mut buf[n..])
            }
            _ => (pos, buf),
        };
        match &self.cache {
            Some(cache) => cache.read(self, pos, buf),
            None => self.fill(pos, buf),
        }
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

/// Size of one block of the [`SourceCache`] (aligned on multiples of it in the source).
pub const SOURCE_BLOCK_BYTES: u64 = 64 << 10;

/// What one kept block costs the cache beyond its bytes (key, entry, bookkeeping).
const BLOCK_OVERHEAD: u64 = 128;

/// Bytes of caller-supplied sources kept after they were read, so that each byte of an object
/// is fetched from the caller about once while it stays hot, whichever reader asks for it again:
/// FFmpeg's AVIO reads (MPEG-TS, MP3, subtitles, transcoding: every segment seeks back a little
/// and reads forward), the indexers, the same segment of another track, an I-frame entry, a
/// second demuxer's probe.
///
/// Blocks of [`SOURCE_BLOCK_BYTES`] aligned in the source, in one LRU list per context, keyed
/// by the source's identity and size (a new identity -- a new ETag -- is other blocks: old and
/// new bytes never mix; the old ones age out) and charged against a budget (never more memory
/// than it). A read takes the parts it needs from the blocks kept and reads exactly the missing
/// stretches, one call per run of them (never more than was asked: a segment still costs at
/// most its span). A block kept holds one contiguous part of its bytes (what reads brought in).
/// Single-flight: a block being read by one thread is waited for by the others that need it,
/// so two threads reading the same span at once cost one read.
pub struct SourceCache {
    budget: u64,
    state: parking_lot::Mutex<CacheState>,
    changed: parking_lot::Condvar,
    hit_bytes: AtomicU64,
    waits: AtomicU64,
}

impl fmt::Debug for SourceCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceCache").field("budget", &self.budget).finish()
    }
}

/// A block: its source (identity and size) and its number.
type BlockKey = (Arc<(String, u64)>, u64);

/// The kept part of one block: `bytes` from offset `lo` in the block.
struct Block {
    lo: u64,
    bytes: Arc<[u8]>,
}

impl Block {
    fn charge(&self) -> u64 {
        self.bytes.len() as u64 + BLOCK_OVERHEAD
    }
}

struct CacheState {
    blocks: lru::LruCache<BlockKey, Block>,
    held: u64,
    /// Blocks a thread is reading now (others wait for them instead of reading them too).
    reading: std::collections::HashSet<BlockKey>,
}

impl SourceCache {
    /// A cache of at most `budget` bytes (blocks and their bookkeeping).
    pub fn new(budget: u64) -> SourceCache {
        SourceCache {
            budget,
            state: parking_lot::Mutex::new(CacheState {
                blocks: lru::LruCache::unbounded(),
                held: 0,
                reading: std::collections::HashSet::new(),
            }),
            changed: parking_lot::Condvar::new(),
            hit_bytes: AtomicU64::new(0),
            waits: AtomicU64::new(0),
        }
    }

    /// The budget in bytes.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// Bytes held now (blocks and their bookkeeping) and blocks kept.
    pub fn held(&self) -> (u64, usize) {
        let st = self.state.lock();
        (st.held, st.blocks.len())
    }

    /// Bytes served from kept blocks so far (reads of the caller saved).
    pub fn hit_bytes(&self) -> u64 {
        self.hit_bytes.load(Ordering::Relaxed)
    }

    /// Times a reader waited for blocks another thread was reading (instead of reading them).
    pub fn waits(&self) -> u64 {
        self.waits.load(Ordering::Relaxed)
    }

    /// Fills `buf` with the bytes of `src` at `pos` (inside the source, `buf` not empty): the
    /// parts kept are copied, the blocks another thread is reading are waited for, and the
    /// rest is read, one call (of at most `read_max`) per run of consecutive missing blocks,
    /// only the bytes missing (a block whose kept part holds the start or the end of what is
    /// asked of it is read for the rest only), and kept.
    fn read(&self, src: &CallbackSource, pos: u64, buf: &mut [u8]) -> io::Result<()> {
        let end = pos + buf.len() as u64;
        let first = pos / SOURCE_BLOCK_BYTES;
        let n = ((end - 1) / SOURCE_BLOCK_BYTES - first + 1) as usize;
        let base = |i: usize| (first + i as u64) * SOURCE_BLOCK_BYTES;
        // The bytes of `buf` that block `i` (from `first`) holds, as offsets in the source.
        let part = |i: usize| (pos.max(base(i)), end.min(base(i) + SOURCE_BLOCK_BYTES));
        let key = |i: usize| (src.key.clone(), first + i as u64);
        let mut done = vec![false; n];
        loop {
            // Bytes to copy from kept blocks: (source offset, length, block bytes, offset in them).
            let mut hits: Vec<(u64, u64, Arc<[u8]>, u64)> = Vec::new();
            // Blocks this thread reads, and the bytes of each it reads.
            let mut claimed: Vec<(usize, u64, u64)> = Vec::new();
            {
                let mut st = self.state.lock();
                let state = &mut *st;
                let mut waiting = false;
                for (i, d) in done.iter_mut().enumerate() {
                    if *d {
                        continue;
                    }
                    let (a, b) = part(i);
                    let k = key(i);
                    let kept =
                        state.blocks.get(&k).map(|bl| (bl.lo + base(i), bl.lo + base(i) + bl.bytes.len() as u64, bl));
                    let (mut ra, mut rb) = (a, b);
                    if let Some((lo, hi, bl)) = kept {
                        if lo <= a && b <= hi {
                            hits.push((a, b - a, bl.bytes.clone(), a - lo));
                            *d = true;
                            continue;
                        }
                        if state.reading.contains(&k) {
                            waiting = true;
                            continue;
                        }
                        if lo <= a && a < hi {
                            // The start is kept: read the rest.
                            hits.push((a, hi - a, bl.bytes.clone(), a - lo));
                            ra = hi;
                        } else if lo < b && b <= hi {
                            // The end is kept: read up to it.
                            hits.push((lo, b - lo, bl.bytes.clone(), 0));
                            rb = lo;
                        }
                    } else if state.reading.contains(&k) {
                        waiting = true;
                        continue;
                    }
                    state.reading.insert(k);
                    claimed.push((i, ra, rb));
                }
                if hits.is_empty() && claimed.is_empty() {
                    if !waiting {
                        return Ok(());
                    }
                    // Every block still missing is being read by another thread: wait for one.
                    self.waits.fetch_add(1, Ordering::Relaxed);
                    self.changed.wait(&mut st);
                    continue;
                }
            }
            for (at, len, bytes, from) in hits {
                let (at, len, from) = ((at - pos) as usize, len as usize, from as usize);
                buf[at..at + len].copy_from_slice(&bytes[from..from + len]);
                self.hit_bytes.fetch_add(len as u64, Ordering::Relaxed);
            }
            if claimed.is_empty() {
                if done.iter().all(|&d| d) {
                    return Ok(());
                }
                continue;
            }
            // One read per run of consecutive claimed blocks.
            let mut result = Ok(());
            let mut r = 0;
            while r < claimed.len() && result.is_ok() {
                let mut s = r;
                while s + 1 < claimed.len() && claimed[s + 1].0 == claimed[s].0 + 1 {
                    s += 1;
                }
                let (a, b) = (claimed[r].1, claimed[s].2);
                result = src.fill(a, &mut buf[(a - pos) as usize..(b - pos) as usize]);
                r = s + 1;
            }
            let mut st = self.state.lock();
            for &(i, _, _) in &claimed {
                let k = key(i);
                st.reading.remove(&k);
                if result.is_ok() {
                    let (a, b) = part(i);
                    self.keep(&mut st, k, a - base(i), &buf[(a - pos) as usize..(b - pos) as usize]);
                    done[i] = true;
                }
            }
            drop(st);
            self.changed.notify_all();
            result?;
            if done.iter().all(|&d| d) {
                return Ok(());
            }
        }
    }

    /// Keeps `bytes` at offset `lo` of block `k`: merged with the part kept when they touch or
    /// overlap (one contiguous part), else in its place; then the least recently used blocks
    /// go until the budget holds.
    fn keep(&self, st: &mut CacheState, k: BlockKey, lo: u64, bytes: &[u8]) {
        let hi = lo + bytes.len() as u64;
        let block = match st.blocks.pop(&k) {
            Some(old) => {
                st.held -= old.charge();
                let (olo, ohi) = (old.lo, old.lo + old.bytes.len() as u64);
                if lo <= ohi && olo <= hi {
                    let (mlo, mhi) = (lo.min(olo), hi.max(ohi));
                    let mut merged = vec![0u8; (mhi - mlo) as usize];
                    merged[(olo - mlo) as usize..(ohi - mlo) as usize].copy_from_slice(&old.bytes);
                    merged[(lo - mlo) as usize..(hi - mlo) as usize].copy_from_slice(bytes);
                    Block { lo: mlo, bytes: merged.into() }
                } else {
                    Block { lo, bytes: bytes.into() }
                }
            }
            None => Block { lo, bytes: bytes.into() },
        };
        let charge = block.charge();
        if charge > self.budget {
            return;
        }
        while st.held + charge > self.budget {
            match st.blocks.pop_lru() {
                Some((_, b)) => st.held -= b.charge(),
                None => break,
            }
        }
        st.held += charge;
        st.blocks.put(k, block);
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

/// Fills the memory `iovs` point to, in order, with the bytes of `file` from `pos` (`preadv`,
/// at most 1,024 buffers a call: Linux's `IOV_MAX`); fails when the file ends first. `iovs` is
/// left describing what was not read. One positioned read as far as fault injection counts.
///
/// # Safety
/// Every `iovec` points to `iov_len` bytes of memory writable for the call's duration.
#[cfg(unix)]
#[allow(unsafe_code)]
pub unsafe fn read_exact_iovecs_at(file: &File, pos: u64, iovs: &mut [libc::iovec]) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    #[cfg(any(test, feature = "fault-injection"))]
    if let Some(injected) = fault::take(file, &mut []) {
        return injected;
    }
    let mut pos = libc::off_t::try_from(pos).map_err(|_| io::Error::other("offset too large"))?;
    let mut first = 0;
    while first < iovs.len() {
        let count = (iovs.len() - first).min(1024) as libc::c_int;
        // SAFETY: the iovecs point to writable memory (this function's contract); `count` of
        // them from `first` exist.
        let n = unsafe { libc::preadv(file.as_raw_fd(), iovs[first..].as_ptr(), count, pos) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        pos += n as libc::off_t;
        let mut n = n as usize;
        while first < iovs.len() && n >= iovs[first].iov_len {
            n -= iovs[first].iov_len;
            first += 1;
        }
        if n > 0 {
            let v = &mut iovs[first];
            // SAFETY: n < v.iov_len: still inside the same buffer.
            v.iov_base = unsafe { v.iov_base.cast::<u8>().add(n) }.cast();
            v.iov_len -= n;
        }
    }
    Ok(())
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

    /// `(entered, open)`: a read has started; the test lets reads go on.
    type Gate = Arc<(std::sync::Mutex<(bool, bool)>, std::sync::Condvar)>;

    /// A source over `bytes` that counts its calls and records what they asked; the first call
    /// waits for `gate` to open when there is one.
    struct Store {
        bytes: Vec<u8>,
        calls: parking_lot::Mutex<Vec<(u64, usize)>>,
        gate: Option<Gate>,
    }

    impl ReadAt for Arc<Store> {
        fn read_at(&self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
            self.calls.lock().push((pos, buf.len()));
            if let Some(gate) = &self.gate {
                // (entered, open): say the call started, then wait until the test opens it.
                let (m, cv) = &**gate;
                let mut g = m.lock().unwrap();
                g.0 = true;
                cv.notify_all();
                while !g.1 {
                    g = cv.wait(g).unwrap();
                }
            }
            let from = (pos as usize).min(self.bytes.len());
            let n = buf.len().min(self.bytes.len() - from);
            buf[..n].copy_from_slice(&self.bytes[from..from + n]);
            Ok(n)
        }
    }

    fn store(len: usize, seed: u8) -> Arc<Store> {
        let bytes = (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed ^ (i >> 13) as u8)).collect();
        Arc::new(Store { bytes, calls: parking_lot::Mutex::new(Vec::new()), gate: None })
    }

    fn source(st: &Arc<Store>, identity: &str, cache: &Arc<SourceCache>) -> ByteSource {
        let len = st.bytes.len() as u64;
        ByteSource::Callback(Arc::new(CallbackSource::new(
            Box::new(st.clone()),
            len,
            identity.to_string(),
            1 << 20,
            Some(cache.clone()),
        )))
    }

    fn read(src: &ByteSource, pos: u64, len: usize) -> Vec<u8> {
        read_vec_at(src, pos, len, len).expect("read")
    }

    #[test]
    fn bytes_read_once_are_not_read_again_and_misses_read_only_what_is_missing() {
        let st = store(4 << 20, 1);
        let cache = Arc::new(SourceCache::new(64 << 20));
        let src = source(&st, "s", &cache);
        let (a, b) = (1_000_000u64, 1_300_000u64);
        assert_eq!(read(&src, a, (b - a) as usize), st.bytes[a as usize..b as usize]);
        // Inside what was read (unaligned ends included): no call.
        assert_eq!(read(&src, a + 5, 200_000), st.bytes[a as usize + 5..a as usize + 200_005]);
        assert_eq!(st.calls.lock().len(), 1);
        // Overlapping its end: only the missing stretch is asked for.
        assert_eq!(read(&src, b - 1000, 101_000), st.bytes[b as usize - 1000..b as usize + 100_000]);
        assert_eq!(*st.calls.lock(), vec![(a, (b - a) as usize), (b, 100_000)]);
        // A hole in the middle: one call for the hole, both sides copied.
        let c = b + 100_000 + 300_000;
        read(&src, c, 10_000);
        st.calls.lock().clear();
        assert_eq!(read(&src, a, (c + 10_000 - a) as usize), st.bytes[a as usize..(c + 10_000) as usize]);
        assert_eq!(*st.calls.lock(), vec![(b + 100_000, 300_000)]);
        assert!(cache.hit_bytes() > 0);
    }

    #[test]
    fn a_new_identity_never_sees_the_old_bytes() {
        let cache = Arc::new(SourceCache::new(64 << 20));
        let (old, new) = (store(1 << 20, 1), store(1 << 20, 2));
        assert_ne!(old.bytes, new.bytes);
        let (v1, v2) = (source(&old, "x etag-1", &cache), source(&new, "x etag-2", &cache));
        assert_eq!(read(&v1, 600_000, 300_000), old.bytes[600_000..900_000]);
        assert_eq!(read(&v2, 600_000, 300_000), new.bytes[600_000..900_000]);
        assert_eq!(new.calls.lock().len(), 1, "the new identity is read from its own source");
        // The same identity with another size is another object too.
        let longer = store(2 << 20, 1);
        assert_eq!(read(&source(&longer, "x etag-1", &cache), 600_000, 300_000), longer.bytes[600_000..900_000]);
        assert_eq!(longer.calls.lock().len(), 1);
    }

    #[test]
    fn the_cache_never_holds_more_than_its_budget() {
        let st = store(8 << 20, 3);
        let budget = 1 << 20;
        let cache = Arc::new(SourceCache::new(budget));
        let src = source(&st, "s", &cache);
        for pos in (1u64 << 20..8 << 20).step_by(300_000) {
            let len = 300_000.min((8 << 20) - pos as usize);
            assert_eq!(read(&src, pos, len), st.bytes[pos as usize..pos as usize + len]);
            assert!(cache.held().0 <= budget, "{} held", cache.held().0);
        }
        assert!(cache.held().0 > budget / 2, "{} held", cache.held().0);
        // What was evicted is read again, right.
        st.calls.lock().clear();
        assert_eq!(read(&src, 1 << 20, 100_000), st.bytes[1 << 20..(1 << 20) + 100_000]);
        assert_eq!(st.calls.lock().len(), 1);
    }

    #[test]
    fn two_threads_wanting_the_same_bytes_at_once_cause_one_read() {
        let gate: Gate = Arc::new((std::sync::Mutex::new((false, false)), std::sync::Condvar::new()));
        let mut st = store(2 << 20, 4);
        Arc::get_mut(&mut st).expect("unshared").gate = Some(gate.clone());
        let cache = Arc::new(SourceCache::new(64 << 20));
        let src = source(&st, "s", &cache);
        std::thread::scope(|scope| {
            let first = scope.spawn(|| read(&src, 700_000, 400_000));
            // The first read is in the store's hands.
            {
                let (m, cv) = &*gate;
                let mut g = m.lock().unwrap();
                while !g.0 {
                    g = cv.wait(g).unwrap();
                }
            }
            let second = scope.spawn(|| read(&src, 800_000, 200_000));
            // The second waits for the first's blocks (it has registered as a waiter).
            while cache.waits() == 0 {
                std::thread::yield_now();
            }
            {
                let (m, cv) = &*gate;
                m.lock().unwrap().1 = true;
                cv.notify_all();
            }
            assert_eq!(first.join().unwrap(), st.bytes[700_000..1_100_000]);
            assert_eq!(second.join().unwrap(), st.bytes[800_000..1_000_000]);
        });
        assert_eq!(*st.calls.lock(), vec![(700_000, 400_000)], "one read for both threads");
    }

    /// A source whose reads fail while `down` is set.
    struct Flaky {
        inner: Arc<Store>,
        down: std::sync::atomic::AtomicBool,
    }

    impl ReadAt for Arc<Flaky> {
        fn read_at(&self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
            if self.down.load(Ordering::SeqCst) {
                self.inner.calls.lock().push((pos, buf.len()));
                return Err(io::Error::other("store down"));
            }
            self.inner.read_at(pos, buf)
        }
    }

    #[test]
    fn a_failed_read_keeps_nothing_and_the_next_one_asks_the_source_again() {
        let st = store(2 << 20, 5);
        let flaky = Arc::new(Flaky { inner: st.clone(), down: true.into() });
        let cache = Arc::new(SourceCache::new(64 << 20));
        let src = ByteSource::Callback(Arc::new(CallbackSource::new(
            Box::new(flaky.clone()),
            2 << 20,
            "flaky".to_string(),
            1 << 20,
            Some(cache.clone()),
        )));
        let e = read_vec_at(&src, 700_000, 100_000, 100_000).expect_err("the store is down");
        assert!(e.to_string().contains("store down"), "{e}");
        take_source_failure();
        assert_eq!(cache.held(), (0, 0), "nothing kept of a failed read");
        flaky.down.store(false, Ordering::SeqCst);
        // Not waiting for the failed read's blocks: read again, once.
        assert_eq!(read(&src, 700_000, 100_000), st.bytes[700_000..800_000]);
        assert_eq!(*st.calls.lock(), vec![(700_000, 100_000), (700_000, 100_000)]);
        assert_eq!(cache.waits(), 0);
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
