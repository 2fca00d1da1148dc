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
    file.read_exact_at(buf, pos)
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
