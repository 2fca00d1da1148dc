//! Positioned reads of a file: the one helper every reader of samples, boxes and blocks uses.
//!
//! Reads never move a shared file position (`pread` on Unix), so one `File` serves concurrent
//! readers. [`read_exact_at`] fills a buffer, [`read_vec_at`] allocates one (with a length cap
//! against sizes read from damaged headers), and [`read_runs`] reads a list of byte ranges into
//! one buffer, with one call per run of contiguous ranges.

#![deny(unsafe_code)]

use std::fmt;
use std::fs::File;
use std::io;

/// Fills `buf` with the bytes of `file` at `pos`; fails when the file ends first.
#[cfg(unix)]
pub fn read_exact_at(file: &File, pos: u64, buf: &mut [u8]) -> io::Result<()> {
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
pub fn read_exact_at(file: &File, pos: u64, buf: &mut [u8]) -> io::Result<()> {
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
pub fn read_exact_at(file: &File, pos: u64, buf: &mut [u8]) -> io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = file;
    f.seek(SeekFrom::Start(pos))?;
    f.read_exact(buf)
}

/// The `len` bytes of `file` at `pos`, in a new buffer. A `len` above `max_len` (a size read
/// from a damaged header) is refused before anything is allocated.
pub fn read_vec_at(file: &File, pos: u64, len: usize, max_len: usize) -> io::Result<Vec<u8>> {
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
pub fn read_runs(file: &File, ranges: &[(u64, u32)]) -> Result<Vec<u8>, RunError> {
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

    fn temp_file(bytes: &[u8]) -> File {
        let path =
            std::env::temp_dir().join(format!("libhls-read-{}-{:?}", std::process::id(), std::thread::current().id()));
        File::create(&path).and_then(|mut f| f.write_all(bytes)).expect("write temp file");
        let f = File::open(&path).expect("open temp file");
        std::fs::remove_file(&path).ok();
        f
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
