//! A response as parts: bytes made in memory (playlists, `moof` and `mdat` headers, rewritten
//! samples) and byte ranges of the source file (samples copied verbatim), so that a server can
//! send the ranges straight from the file (`sendfile`) and the cache holds headers and range
//! lists instead of payloads. [`Body::Bytes`] is a response made wholly in memory.

use std::io;
use std::sync::Arc;

use crate::container::read::{read_exact_at, ByteSource};
use crate::engine::cache::{Bytes, Charge};

/// A span of the source read at once: file offset, length, where in the read buffer.
type Span = (u64, usize, usize);

/// One response: all bytes, or bytes and ranges of the source file.
#[derive(Clone, Debug)]
pub enum Body {
    /// Made wholly in memory.
    Bytes(Bytes),
    /// Bytes and file ranges, in order; at least one range of the file.
    Parts(Arc<Parts>),
}

/// One piece of a [`Parts`] response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece {
    /// `len` bytes of the response's memory from `start` (see [`Parts::mem`]).
    Mem {
        /// Offset in the response's memory.
        start: usize,
        /// Length.
        len: usize,
    },
    /// `len` bytes of the source file from `offset`.
    File {
        /// Byte offset in the file.
        offset: u64,
        /// Length.
        len: u64,
    },
}

/// A response as memory pieces and file ranges (adjacent ranges merged).
#[derive(Debug)]
pub struct Parts {
    bytes: Vec<u8>,
    pieces: Vec<Piece>,
    len: u64,
}

/// What an entry costs the cache beyond its bytes: the value itself and its bookkeeping.
const PARTS_OVERHEAD: u64 = (std::mem::size_of::<Parts>() + 2 * std::mem::size_of::<usize>()) as u64;

impl Parts {
    /// The pieces, in order.
    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// The bytes of a [`Piece::Mem`] (empty for a file range).
    pub fn mem(&self, piece: &Piece) -> &[u8] {
        match *piece {
            Piece::Mem { start, len } => &self.bytes[start..start + len],
            Piece::File { .. } => &[],
        }
    }

    /// Total length of the response.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the response is empty (never, for a built one).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the file ranges average fewer than `min_range` bytes (false without ranges).
    pub fn small_ranges(&self, min_range: u64) -> bool {
        let (n, bytes) = self.pieces.iter().fold((0u64, 0u64), |(n, b), p| match *p {
            Piece::File { len, .. } => (n + 1, b + len),
            Piece::Mem { .. } => (n, b),
        });
        n > 0 && bytes < n.saturating_mul(min_range)
    }

    /// The whole response in one buffer: memory pieces copied, ranges read from `file` with
    /// positioned reads. Ranges close together in the file (the samples of one track,
    /// interleaved with another's) are read with one read of their span, as `rule` allows,
    /// into a reused buffer, then copied into place: one system call per segment instead of one
    /// per sample, and no page faults or zeroing beyond the response's own bytes.
    pub fn materialise(&self, file: &ByteSource, rule: SpanRule) -> io::Result<Vec<u8>> {
        self.materialise_with_room(file, rule, 0)
    }

    /// [`Parts::materialise`] into a buffer with `room` bytes of spare capacity (what it grows
    /// by next, such as encryption's padding, without moving).
    pub fn materialise_with_room(&self, file: &ByteSource, rule: SpanRule, room: usize) -> io::Result<Vec<u8>> {
        let mut out = Parts::materialise_all(&[self], file, rule, room)?;
        Ok(out.pop().unwrap_or_default())
    }

    /// The bytes of several responses at once, their file ranges read together: the same
    /// segment of the tracks of a file that interleaves them sample by sample lies in one span
    /// of the file, read with one read instead of one read per track (and one per sample of a
    /// track whose samples lie between another's larger ones). Each response's buffer has
    /// `room` bytes of spare capacity.
    pub fn materialise_all(all: &[&Parts], file: &ByteSource, rule: SpanRule, room: usize) -> io::Result<Vec<Vec<u8>>> {
        #[cfg(unix)]
        if let ByteSource::File { file, .. } = file {
            if let Some(out) = Parts::read_in_place(all, file, rule, room)? {
                return Ok(out);
            }
        }
        let (spans, held) = Parts::spans(all, rule)?;
        let mut buf = spare::take(held);
        let result = Parts::read_spans_and_copy(all, file, &spans, &mut buf, room);
        spare::give(buf);
        result
    }

    /// [`Parts::materialise_all`] from a local file: each span read with one `preadv` straight
    /// into the responses' buffers (what lies between two ranges into a scratch buffer): no span
    /// buffer, no copy out of it. `None` when two ranges overlap (one read cannot put the same
    /// bytes in two places).
    #[cfg(unix)]
    #[allow(unsafe_code)]
    fn read_in_place(
        all: &[&Parts],
        file: &std::fs::File,
        rule: SpanRule,
        room: usize,
    ) -> io::Result<Option<Vec<Vec<u8>>>> {
        // Where each file range goes: file offset, length, response, position in the response.
        let mut dests: Vec<(u64, u64, usize, usize)> = Vec::new();
        let mut out = Vec::with_capacity(all.len());
        for (r, p) in all.iter().enumerate() {
            let total = usize::try_from(p.len).map_err(|_| io::Error::other("response too large for memory"))?;
            let mut bytes = crate::engine::pool::buffer(total.saturating_add(room));
            let mut at = 0usize;
            for piece in &p.pieces {
                let len = usize::try_from(piece.len()).map_err(|_| io::Error::other("piece too large"))?;
                if at + len > total {
                    return Err(io::Error::other("pieces longer than the response"));
                }
                match *piece {
                    Piece::Mem { start, .. } => {
                        let from = &p.bytes[start..start + len];
                        // SAFETY: at + len <= total <= the buffer's capacity (checked above);
                        // the source is another allocation.
                        unsafe { std::ptr::copy_nonoverlapping(from.as_ptr(), bytes.as_mut_ptr().add(at), len) };
                    }
                    Piece::File { offset, .. } => dests.push((offset, piece.len(), r, at)),
                }
                at += len;
            }
            if at != total {
                return Err(io::Error::other("pieces shorter than the response"));
            }
            out.push(bytes);
        }
        dests.sort_unstable_by_key(|d| d.0);
        if dests.windows(2).any(|w| w[0].0 + w[0].1 > w[1].0) {
            return Ok(None);
        }
        let ranges: Vec<(u64, u64)> = dests.iter().map(|d| (d.0, d.1)).collect();
        let mut scratch: Vec<u8> = Vec::new();
        let mut iovs: Vec<libc::iovec> = Vec::new();
        let mut i = 0;
        while i < ranges.len() {
            let (_, whole_j, fits) = ReadSpans::run(&ranges, i, rule, false);
            let j = if fits { whole_j } else { ReadSpans::run(&ranges, i, rule, true).1 };
            let gap = (i + 1..j).map(|k| ranges[k].0 - (ranges[k - 1].0 + ranges[k - 1].1)).max().unwrap_or(0);
            let gap = usize::try_from(gap).map_err(|_| io::Error::other("gap too large"))?;
            if scratch.len() < gap {
                scratch.resize(gap, 0);
            }
            iovs.clear();
            let mut pos = ranges[i].0;
            for &(offset, len, r, at) in &dests[i..j] {
                if offset > pos {
                    iovs.push(libc::iovec { iov_base: scratch.as_mut_ptr().cast(), iov_len: (offset - pos) as usize });
                }
                // SAFETY: at + len <= the response's length <= its buffer's capacity (checked
                // above).
                let to = unsafe { out[r].as_mut_ptr().add(at) };
                iovs.push(libc::iovec { iov_base: to.cast(), iov_len: len as usize });
                pos = offset + len;
            }
            // SAFETY: every iovec points to writable memory: the scratch buffer (read into and
            // never read from), or a range of a response's buffer that no other iovec covers
            // (the ranges do not overlap), inside its capacity.
            unsafe { crate::container::read::read_exact_iovecs_at(file, ranges[i].0, &mut iovs) }?;
            i = j;
        }
        for (bytes, p) in out.iter_mut().zip(all) {
            // SAFETY: [0, p.len) was written whole: the pieces cover it in order (checked
            // above), memory pieces copied and file ranges read.
            unsafe { bytes.set_len(p.len as usize) };
        }
        Ok(Some(out))
    }

    /// The response's bytes as slices, in order (memory pieces, and file ranges read as
    /// [`Parts::materialise`] reads them), handed to `f` without being copied into one buffer:
    /// for a caller that writes them once, transformed (an encrypted segment).
    pub fn with_slices<R>(&self, file: &ByteSource, rule: SpanRule, f: impl FnOnce(&[&[u8]]) -> R) -> io::Result<R> {
        let (spans, held) = Parts::spans(&[self], rule)?;
        let mut buf = spare::take(held);
        let read = spans.iter().try_for_each(|&(offset, len, at)| read_exact_at(file, offset, &mut buf[at..at + len]));
        let slices = read.and_then(|()| {
            self.pieces
                .iter()
                .map(|piece| match *piece {
                    Piece::Mem { start, len } => Ok(&self.bytes[start..start + len]),
                    Piece::File { offset, len } => Parts::in_spans(&spans, &buf, offset, len),
                })
                .collect::<io::Result<Vec<&[u8]>>>()
        });
        let result = slices.map(|s| f(&s));
        spare::give(buf);
        result
    }

    /// The spans [`Parts::materialise_all`] reads for the file ranges of `all` (file offset,
    /// length, where in the read buffer), and the bytes they take.
    fn spans(all: &[&Parts], rule: SpanRule) -> io::Result<(Vec<Span>, usize)> {
        let mut ranges: Vec<(u64, u64)> = all
            .iter()
            .flat_map(|p| p.pieces.iter())
            .filter_map(|piece| match *piece {
                Piece::File { offset, len } => Some((offset, len)),
                Piece::Mem { .. } => None,
            })
            .collect();
        ranges.sort_unstable();
        let mut spans: Vec<Span> = Vec::new();
        let mut held = 0usize;
        let mut i = 0;
        while i < ranges.len() {
            let (whole_end, whole_j, fits) = ReadSpans::run(&ranges, i, rule, false);
            let (end, j) = if fits {
                (whole_end, whole_j)
            } else {
                let (e, j, _) = ReadSpans::run(&ranges, i, rule, true);
                (e, j)
            };
            let len = usize::try_from(end - ranges[i].0).map_err(|_| io::Error::other("span too large"))?;
            spans.push((ranges[i].0, len, held));
            held = held.checked_add(len).ok_or_else(|| io::Error::other("spans too large"))?;
            i = j;
        }
        Ok((spans, held))
    }

    /// The bytes of the file range `offset`, `len` in `buf`, read there as `spans` say.
    fn in_spans<'b>(spans: &[Span], buf: &'b [u8], offset: u64, len: u64) -> io::Result<&'b [u8]> {
        let k = spans.partition_point(|s| s.0 <= offset).checked_sub(1);
        let (s_off, s_len, at) = k.map(|k| spans[k]).ok_or_else(|| io::Error::other("range not read"))?;
        if offset + len > s_off + s_len as u64 {
            return Err(io::Error::other("range not read"));
        }
        let from = at + (offset - s_off) as usize;
        Ok(&buf[from..from + len as usize])
    }

    /// [`Parts::materialise_all`]'s reads of `spans` into `buf`, and the responses copied out.
    fn read_spans_and_copy(
        all: &[&Parts],
        file: &ByteSource,
        spans: &[(u64, usize, usize)],
        buf: &mut [u8],
        room: usize,
    ) -> io::Result<Vec<Vec<u8>>> {
        for &(offset, len, at) in spans {
            read_exact_at(file, offset, &mut buf[at..at + len])?;
        }
        let mut out = Vec::with_capacity(all.len());
        for p in all {
            let total = usize::try_from(p.len).map_err(|_| io::Error::other("response too large for memory"))?;
            // Recycled memory when the pool has some (no page faults), else fresh memory made
            // present in one call.
            let mut bytes = crate::engine::pool::buffer(total.saturating_add(room));
            for piece in &p.pieces {
                match *piece {
                    Piece::Mem { start, len } => bytes.extend_from_slice(&p.bytes[start..start + len]),
                    Piece::File { offset, len } => bytes.extend_from_slice(Parts::in_spans(spans, buf, offset, len)?),
                }
            }
            out.push(bytes);
        }
        Ok(out)
    }

    /// The first `want` bytes of the response (all of it when shorter): memory pieces copied,
    /// file ranges read from `file` (only as much of them as is wanted).
    pub fn prefix(&self, file: &ByteSource, want: u64) -> io::Result<Vec<u8>> {
        let want = want.min(self.len);
        let mut out = Vec::with_capacity(usize::try_from(want).map_err(|_| io::Error::other("too large"))?);
        for piece in &self.pieces {
            let left = want as usize - out.len();
            if left == 0 {
                break;
            }
            match *piece {
                Piece::Mem { start, len } => out.extend_from_slice(&self.bytes[start..start + len.min(left)]),
                Piece::File { offset, len } => {
                    let at = out.len();
                    out.resize(at + (len as usize).min(left), 0);
                    read_exact_at(file, offset, &mut out[at..])?;
                }
            }
        }
        Ok(out)
    }

    /// The whole response in one buffer, file ranges taken from `read_ahead` (bytes already
    /// read: see [`ReadSpans`]); `None` if a range is not there.
    pub fn assemble(&self, read_ahead: &ReadSpans) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(usize::try_from(self.len).ok()?);
        for piece in &self.pieces {
            match *piece {
                Piece::Mem { start, len } => out.extend_from_slice(&self.bytes[start..start + len]),
                Piece::File { offset, len } => out.extend_from_slice(read_ahead.get(offset, len)?),
            }
        }
        Some(out)
    }
}

/// When nearby ranges are read with one read of their span ([`Parts::materialise`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanRule {
    /// The largest gap between two ranges that one read spans (bytes read and dropped).
    pub max_gap: u64,
    /// The largest span one read covers.
    pub max_span: u64,
    /// The most bytes dropped by one read, in percent of the bytes kept.
    pub max_waste_pct: u64,
}

/// Byte ranges of a source read ahead together (one segment's samples of every track, so a
/// player's next request, the same segment of the other track, costs no read), as read.
#[derive(Debug, Default)]
pub struct ReadSpans {
    spans: Vec<(u64, Vec<u8>)>,
}

impl ReadSpans {
    /// Reads the ranges `(offset, len)` of `src`, nearby ones in one read as `rule` allows: the
    /// longest run within the gap and span limits when its gaps add up to at most the allowed
    /// waste, else as long a run as keeps the waste within it at every step.
    pub fn read(src: &ByteSource, ranges: &mut [(u64, u64)], rule: SpanRule) -> io::Result<ReadSpans> {
        ranges.sort_unstable();
        let mut spans = Vec::new();
        let mut i = 0;
        while i < ranges.len() {
            let (whole_end, whole_j, fits) = Self::run(ranges, i, rule, false);
            let (end, j) = if fits {
                (whole_end, whole_j)
            } else {
                let (e, j, _) = Self::run(ranges, i, rule, true);
                (e, j)
            };
            let start = ranges[i].0;
            let mut buf = vec![0u8; usize::try_from(end - start).map_err(|_| io::Error::other("span too large"))?];
            read_exact_at(src, start, &mut buf)?;
            spans.push((start, buf));
            i = j;
        }
        Ok(ReadSpans { spans })
    }

    /// The run of ranges from `i` one read may cover: its end, the index after it, and whether
    /// its gaps are within the allowed waste (checked at every step when `stepwise`).
    fn run(ranges: &[(u64, u64)], i: usize, rule: SpanRule, stepwise: bool) -> (u64, usize, bool) {
        let start = ranges[i].0;
        let (mut end, mut kept, mut dropped, mut j) = (start + ranges[i].1, ranges[i].1, 0u64, i + 1);
        while let Some(&(o, l)) = ranges.get(j) {
            let gap = o.saturating_sub(end);
            let new_end = end.max(o + l);
            if gap > rule.max_gap
                || new_end - start > rule.max_span
                || (stepwise && (dropped + gap) * 100 > (kept + l) * rule.max_waste_pct)
            {
                break;
            }
            dropped += gap;
            kept += l;
            end = new_end;
            j += 1;
        }
        (end, j, dropped * 100 <= kept * rule.max_waste_pct)
    }

    /// The `len` bytes at `offset`, if one span holds them.
    pub fn get(&self, offset: u64, len: u64) -> Option<&[u8]> {
        let i = self.spans.partition_point(|(s, _)| *s <= offset).checked_sub(1)?;
        let (s, b) = &self.spans[i];
        let from = usize::try_from(offset - s).ok()?;
        b.get(from..from.checked_add(usize::try_from(len).ok()?)?)
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.spans.iter().map(|(_, b)| b.len()).sum()
    }
}

impl SpanRule {
    /// For a local file: system calls are cheap, reading twice what is kept is not.
    pub const FILE: SpanRule = SpanRule { max_gap: 64 << 10, max_span: 16 << 20, max_waste_pct: 100 };
}

impl Piece {
    /// Length in bytes.
    pub fn len(&self) -> u64 {
        match *self {
            Piece::Mem { len, .. } => len as u64,
            Piece::File { len, .. } => len,
        }
    }

    /// Whether the piece is empty (never, in a built response).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Charge for Body {
    fn charge(&self) -> u64 {
        match self {
            Body::Bytes(b) => b.charge(),
            Body::Parts(p) => {
                p.bytes.capacity() as u64 + (p.pieces.capacity() * std::mem::size_of::<Piece>()) as u64 + PARTS_OVERHEAD
            }
        }
    }

    fn retire(self) {
        if let Body::Bytes(b) = self {
            b.retire();
        }
    }
}

/// Builds a response piece by piece: memory bytes are appended to one buffer, file ranges that
/// follow one another in the file are merged.
#[derive(Debug, Default)]
pub struct PartsBuilder {
    bytes: Vec<u8>,
    pieces: Vec<Piece>,
    len: u64,
    has_file: bool,
}

impl PartsBuilder {
    /// A response that starts with `header`.
    pub fn new(header: Vec<u8>) -> PartsBuilder {
        let mut b = PartsBuilder { bytes: Vec::new(), pieces: Vec::new(), len: 0, has_file: false };
        let len = header.len();
        b.bytes = header;
        b.push_mem(0, len);
        b
    }

    fn push_mem(&mut self, start: usize, len: usize) {
        if len == 0 {
            return;
        }
        self.len += len as u64;
        if let Some(Piece::Mem { start: s, len: l }) = self.pieces.last_mut() {
            if *s + *l == start {
                *l += len;
                return;
            }
        }
        self.pieces.push(Piece::Mem { start, len });
    }

    /// Makes room for `n` more bytes made in memory (so the buffer is allocated once).
    pub fn reserve(&mut self, n: usize) {
        self.bytes.reserve_exact(n);
    }

    /// Appends bytes made in memory.
    pub fn bytes(&mut self, b: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(b);
        self.push_mem(start, b.len());
    }

    /// Appends `len` bytes of the source file from `offset`.
    pub fn file(&mut self, offset: u64, len: u64) {
        if len == 0 {
            return;
        }
        self.len += len;
        self.has_file = true;
        if let Some(Piece::File { offset: o, len: l }) = self.pieces.last_mut() {
            if *o + *l == offset {
                *l += len;
                return;
            }
        }
        self.pieces.push(Piece::File { offset, len });
    }

    /// The end of the furthest file range (0 without any).
    pub fn file_end(&self) -> u64 {
        self.pieces
            .iter()
            .map(|p| match *p {
                Piece::File { offset, len } => offset + len,
                Piece::Mem { .. } => 0,
            })
            .max()
            .unwrap_or(0)
    }

    /// The response: [`Body::Bytes`] when nothing comes from the file.
    pub fn finish(mut self) -> Body {
        if self.has_file {
            self.bytes.shrink_to_fit();
            self.pieces.shrink_to_fit();
            Body::Parts(Arc::new(Parts { bytes: self.bytes, pieces: self.pieces, len: self.len }))
        } else {
            self.bytes.shrink_to_fit();
            Body::Bytes(Arc::new(self.bytes))
        }
    }
}

/// Read buffers kept for reuse by [`Parts::materialise_all`]: a fresh megabyte costs more in
/// page faults and zeroing than reading a segment into it does.
mod spare {
    use parking_lot::Mutex;

    /// Buffers kept, at most.
    const KEPT: usize = 8;
    /// Larger buffers are not kept.
    const MAX_KEPT_BYTES: usize = 4 << 20;

    static SPARES: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

    /// A buffer of at least `len` bytes (what it holds beyond is left over from earlier reads:
    /// every use reads over what it uses). Only bytes it never had are zeroed.
    pub(super) fn take(len: usize) -> Vec<u8> {
        let mut v = {
            let mut spares = SPARES.lock();
            let fits = spares.iter().enumerate().filter(|(_, b)| b.len() >= len).min_by_key(|(_, b)| b.len());
            match fits.map(|(i, _)| i) {
                Some(i) => spares.swap_remove(i),
                None => spares.pop().unwrap_or_default(),
            }
        };
        if v.len() < len {
            v.resize(len, 0);
        }
        v
    }

    /// Gives `v` back for reuse (dropped when too large, or when enough are kept).
    pub(super) fn give(v: Vec<u8>) {
        if v.len() > MAX_KEPT_BYTES {
            return;
        }
        let mut spares = SPARES.lock();
        if spares.len() < KEPT {
            spares.push(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::io::Write;

    #[test]
    fn adjacent_ranges_merge_and_materialise_gives_the_concatenation() {
        let path = std::env::temp_dir().join(format!("libhls-body-{}", std::process::id()));
        File::create(&path).and_then(|mut f| f.write_all(b"0123456789abcdef")).unwrap();
        let f = ByteSource::open_file(&path).unwrap();
        std::fs::remove_file(&path).ok();
        let mut b = PartsBuilder::new(b"HDR".to_vec());
        b.file(2, 3);
        b.file(5, 2);
        b.file(0, 0);
        b.bytes(b"xy");
        b.bytes(b"z");
        b.file(10, 4);
        assert_eq!(b.file_end(), 14);
        let Body::Parts(p) = b.finish() else { panic!("expected parts") };
        assert_eq!(
            p.pieces(),
            [
                Piece::Mem { start: 0, len: 3 },
                Piece::File { offset: 2, len: 5 },
                Piece::Mem { start: 3, len: 3 },
                Piece::File { offset: 10, len: 4 }
            ]
        );
        assert_eq!(p.mem(&p.pieces()[2]), b"xyz");
        assert_eq!(p.len(), 15);
        assert_eq!(p.materialise(&f, SpanRule::FILE).unwrap(), b"HDR23456xyzabcd");
        // Ranges with gaps, read as one span; a range going backwards starts a new read.
        let mut b = PartsBuilder::new(Vec::new());
        for (o, l) in [(1, 2), (4, 1), (9, 3), (0, 2), (15, 1)] {
            b.file(o, l);
        }
        let Body::Parts(gaps) = b.finish() else { panic!("expected parts") };
        assert_eq!(gaps.materialise(&f, SpanRule::FILE).unwrap(), b"1249ab01f");
        // A one-byte piece after a four-byte gap is not worth reading through.
        let mut b = PartsBuilder::new(Vec::new());
        b.file(0, 1);
        b.file(5, 1);
        b.file(6, 1);
        let Body::Parts(sparse) = b.finish() else { panic!("expected parts") };
        assert_eq!(sparse.materialise(&f, SpanRule::FILE).unwrap(), b"056");
        assert!(Body::Parts(p.clone()).charge() < 200);
        let mut only_mem = PartsBuilder::new(b"a".to_vec());
        only_mem.bytes(b"b");
        assert!(matches!(only_mem.finish(), Body::Bytes(b) if b.as_slice() == b"ab"));
    }

    /// Two tracks' samples interleaved one by one, with stray bytes between some, read with one
    /// `preadv` per span straight into both responses: each response is exactly its own
    /// pieces, past the 1,024 buffers one call takes, and a range past the end fails.
    #[test]
    fn interleaved_tracks_read_in_place_are_each_exactly_their_own_bytes() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let path = std::env::temp_dir().join(format!("libhls-body-inplace-{}", std::process::id()));
        File::create(&path).and_then(|mut f| f.write_all(&data)).unwrap();
        let f = ByteSource::open_file(&path).unwrap();
        std::fs::remove_file(&path).ok();
        let (mut video, mut audio) = (PartsBuilder::new(b"moof-v".to_vec()), PartsBuilder::new(b"moof-a".to_vec()));
        let (mut want_v, mut want_a) = (b"moof-v".to_vec(), b"moof-a".to_vec());
        let mut at = 0u64;
        for k in 0..3000u64 {
            let (v, a, stray) = (20 + k % 37, 5 + k % 11, if k % 7 == 0 { 3 } else { 0 });
            video.file(at, v);
            want_v.extend_from_slice(&data[at as usize..(at + v) as usize]);
            audio.file(at + v + stray, a);
            want_a.extend_from_slice(&data[(at + v + stray) as usize..(at + v + stray + a) as usize]);
            if k == 1500 {
                video.bytes(b"mid");
                want_v.extend_from_slice(b"mid");
            }
            at += v + stray + a;
        }
        let (Body::Parts(v), Body::Parts(a)) = (video.finish(), audio.finish()) else { panic!("expected parts") };
        assert!(v.pieces().len() > 1024, "more buffers than one preadv takes");
        let got = Parts::materialise_all(&[&v, &a], &f, SpanRule::FILE, 16).unwrap();
        assert!(got[0] == want_v, "video");
        assert!(got[1] == want_a, "audio");
        assert!(got.iter().all(|g| g.capacity() >= g.len() + 16), "room kept");
        let mut past = PartsBuilder::new(Vec::new());
        past.file(data.len() as u64 - 10, 20);
        let Body::Parts(past) = past.finish() else { panic!("expected parts") };
        assert!(past.materialise(&f, SpanRule::FILE).is_err(), "a range past the end of the file");
    }
}
