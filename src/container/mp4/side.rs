//! The large size and chunk-offset tables of a `moov` read apart from the rest of it
//! ([`read_sides`]): the entries of an `stsz` (all fitting 16 bits), `stco` or `co64` (all
//! fitting 32 bits) of at least [`SIDE_MIN`] bytes go straight into one [`Arena`] (huge pages),
//! narrowed as they are read, and that memory is what a lazily read track keeps; the moov buffer
//! leaves their bytes unread. A 2-hour MP4 has 3.5 of its 5.5 MB of `moov` in such tables: they
//! were read into the moov buffer, then copied into kept memory made present in 4 KiB pages
//! (about 2 µs each on a VM): twice the fresh memory, and one more pass.
//!
//! The large `ctts` and `stsc` (1.4 and 0.5 MB of that moov: the video's composition offsets,
//! the audio's chunk runs, an entry every few chunks as FFmpeg interleaves) are parsed once into
//! other structures: their entries are left in the file ([`StreamedTable`]) and read through one
//! 64 KiB buffer, which stays in the cache, as the box reader parses them; only a walk that needs
//! a `ctts`'s bytes (a track built sample by sample) reads it whole. The moov buffer is then
//! small enough (17 KB read of that moov) to be backed by 4 KiB pages, none cleared in vain
//! (see `top_level`).
//!
//! The boxes are found by a walk over the box headers in the file that follows
//! [`Boxes`](super::boxes::Boxes)' rules (`moov/trak/mdia/minf/stbl`, the first `stbl` of a
//! `minf`), and each [`SideTable`] stands for the box body at its place in the moov buffer:
//! `collect_stbl` takes it for the body at that place (the same for a [`StreamedTable`]). A side
//! table that the box reader did not take for its body ([`Sides::all_claimed`]) means the walk
//! and the reader disagree: the caller then reads the whole `moov` again and parses that.
//!
//! Local files only: from a caller's source (an object store) the walk's header reads would each
//! be a round trip, so its `moov` is read whole, in one read, as before.

use std::cell::{Cell, OnceCell};
use std::ops::Range;
use std::sync::Arc;

use super::boxes::{be32, be64, BOX_HEADER, LARGE_BOX_HEADER, SIZE_64_BIT, SIZE_TO_END};
use crate::container::read::{self, ByteSource};
use crate::error::{ParseError, ParseResult};

/// The memory of a track's size and chunk tables (exactly the tables) when they were read apart
/// ([`SideTable`]): 16-bit sizes, 32-bit offsets.
#[derive(Default)]
pub(super) struct Kept {
    pub(super) sizes: Option<Part>,
    pub(super) chunks: Option<Part>,
}

/// Fewest bytes of entries a table is read apart with (smaller ones are read with the moov).
pub(super) const SIDE_MIN: usize = 64 << 10;

/// Bytes of the header reads of the walk (each read fills this window).
const WINDOW: usize = 4096;

/// Most header reads of one walk (a 2-hour MP4 needs about ten); past them the walk stops, and
/// the tables it did not reach are read with the moov.
const MAX_HEADER_READS: usize = 64;

/// Most child boxes looked at in one box by the walk.
const MAX_CHILDREN: usize = 256;

/// Bytes of the buffer the narrowed tables are read through (reused: it stays in the cache).
const READ_BLOCK: usize = 64 << 10;

/// A huge page.
const HUGE_PAGE: usize = 2 << 20;

/// `len` bytes of fresh memory, starting at a 2 MiB boundary of a larger allocation: the moov
/// buffer, or the memory the side tables of one moov are read into. A fresh 4 KiB page costs
/// about 2 µs on a VM (fault or `MADV_POPULATE_WRITE`), a huge page one fault and its clearing:
/// 5.5 MB of moov and tables in 4 KiB pages cost more than reading them.
pub(super) struct Arena {
    buf: Vec<u8>,
    at: usize,
    len: usize,
}

impl Arena {
    /// Memory backed by huge pages from its first byte to past its end (for a buffer freed
    /// after the open; the rest of the allocation is never touched).
    pub(super) fn huge(len: usize) -> Arena {
        let a = Arena::aligned(len);
        crate::util::memhint::huge_pages(&a.buf);
        a
    }

    /// Memory kept: its whole huge pages backed by huge pages, the rest made present in 4 KiB
    /// pages (nothing past its end backed).
    fn kept(len: usize) -> Arena {
        let mut a = Arena::aligned(len);
        let whole = len / HUGE_PAGE * HUGE_PAGE;
        let at = a.at;
        crate::util::memhint::huge_pages_part(&mut a.buf[at..at + whole]);
        crate::util::memhint::populate_part(&mut a.buf[at + whole..at + len]);
        a
    }

    /// Zeroed and untouched memory (fresh pages from the kernel), 2 MiB-aligned when large.
    fn aligned(len: usize) -> Arena {
        let pad = if len >= HUGE_PAGE { 2 * HUGE_PAGE } else { 0 };
        let buf = vec![0u8; len + pad];
        let at = if pad > 0 { (HUGE_PAGE - buf.as_ptr() as usize % HUGE_PAGE) % HUGE_PAGE } else { 0 };
        Arena { buf, at, len }
    }

    /// Memory holding `v` (no copy).
    pub(super) fn of(v: Vec<u8>) -> Arena {
        Arena { len: v.len(), buf: v, at: 0 }
    }

    /// The bytes.
    pub(super) fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.at..self.at + self.len]
    }
}

impl std::ops::Deref for Arena {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[self.at..self.at + self.len]
    }
}

/// One table's bytes in shared memory: a side table's part of its [`Arena`], or a copy.
#[derive(Clone)]
pub(super) struct Part {
    arena: Arc<Arena>,
    range: Range<usize>,
}

impl Part {
    /// The whole of `v`.
    pub(super) fn of(v: Vec<u8>) -> Part {
        let range = 0..v.len();
        Part { arena: Arc::new(Arena::of(v)), range }
    }
}

impl std::ops::Deref for Part {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.arena[self.range.clone()]
    }
}

/// A table box whose entries are not read with the moov buffer.
struct TableBox {
    /// The box type.
    kind: [u8; 4],
    /// Where the box body is in the moov payload.
    body: Range<usize>,
    /// Bytes of the body before the entries, and of one entry, in the file.
    header: usize,
    entry: usize,
    /// The box reader took it.
    claimed: Cell<bool>,
}

impl TableBox {
    /// A box not taken yet.
    fn new(kind: [u8; 4], body: Range<usize>, header: usize, entry: usize) -> TableBox {
        TableBox { kind, body, header, entry, claimed: Cell::new(false) }
    }

    /// Whole entries in the box.
    fn len(&self) -> usize {
        (self.body.len() - self.header) / self.entry
    }

    /// The moov bytes its entries leave unread: its whole entries.
    fn unread(&self) -> Range<usize> {
        let start = self.body.start + self.header;
        start..start + self.len() * self.entry
    }
}

/// The entries of one table box, read apart from the moov buffer.
pub(super) struct SideTable {
    of: TableBox,
    /// Bits kept per entry: 16 (`stsz`) or 32 (`stco`, `co64`).
    pub(super) bits: u8,
    /// The entries, each narrowed to `bits` (big-endian): every whole entry of the box.
    pub(super) entries: Part,
}

impl SideTable {
    /// Whole entries in the box.
    pub(super) fn len(&self) -> usize {
        self.of.len()
    }

    /// The first `count` entries; `None` when the box holds fewer.
    pub(super) fn table(&self, count: usize) -> Option<&[u8]> {
        self.entries.get(..count.checked_mul(usize::from(self.bits / 8))?)
    }

    /// Its first `bytes` bytes of entries (at most all of them), shared.
    pub(super) fn kept(&self, bytes: usize) -> Part {
        let start = self.entries.range.start;
        Part { arena: self.entries.arena.clone(), range: start..start + bytes.min(self.entries.range.len()) }
    }
}

/// The entries of one table box parsed once into other structures (`ctts`, `stsc`), left in
/// the file: the box reader reads them through one small buffer that stays in the cache
/// ([`StreamedTable::each_block`]), and reads them whole only for a walk that needs them as
/// bytes ([`StreamedTable::bytes`]).
pub(super) struct StreamedTable {
    of: TableBox,
    /// The file, and the file offset of the entries.
    file: ByteSource,
    pos: u64,
    /// The entries read whole (once, when asked).
    whole: OnceCell<Vec<u8>>,
}

impl StreamedTable {
    /// Whole entries in the box.
    pub(super) fn len(&self) -> usize {
        self.of.len()
    }

    /// The moov bytes it leaves unread: its box's whole entries.
    pub(super) fn unread(&self) -> Range<usize> {
        self.of.unread()
    }

    /// Its first `count` entries (at most all of them) given to `f` in order, a block of whole
    /// entries at a time, until `f` returns false.
    pub(super) fn each_block(&self, count: usize, mut f: impl FnMut(&[u8]) -> bool) -> ParseResult<()> {
        let bytes = count.min(self.len()) * self.of.entry;
        if let Some(whole) = self.whole.get() {
            f(&whole[..bytes]);
            return Ok(());
        }
        let per = READ_BLOCK / self.of.entry * self.of.entry;
        let mut block = vec![0u8; per.min(bytes)];
        let mut at = 0;
        while at < bytes {
            let src = &mut block[..per.min(bytes - at)];
            read_at(&self.file, src, self.pos + at as u64)?;
            if !f(src) {
                break;
            }
            at += src.len();
        }
        Ok(())
    }

    /// Its first `count` entries (at most all of them), read whole the first time.
    pub(super) fn bytes(&self, count: usize) -> ParseResult<&[u8]> {
        let whole = match self.whole.get() {
            Some(w) => w,
            None => {
                let mut w = vec![0u8; self.len() * self.of.entry];
                read_at(&self.file, &mut w, self.pos)?;
                self.whole.get_or_init(|| w)
            }
        };
        Ok(&whole[..count.min(self.len()) * self.of.entry])
    }
}

/// The side tables of a moov buffer, by the place of the box body each stands for.
#[derive(Clone, Copy)]
pub(super) struct Sides<'a> {
    /// Address of the moov buffer.
    base: usize,
    tables: &'a [SideTable],
    streamed: &'a [StreamedTable],
}

impl<'a> Sides<'a> {
    /// No side tables.
    pub(super) const NONE: Sides<'static> = Sides { base: 0, tables: &[], streamed: &[] };

    /// The side tables `tables` and `streamed` of the moov buffer `moov`.
    pub(super) fn new(moov: &[u8], tables: &'a [SideTable], streamed: &'a [StreamedTable]) -> Self {
        Sides { base: moov.as_ptr() as usize, tables, streamed }
    }

    /// The side table of the box body `body` (of type `kind`, a slice of the moov buffer),
    /// marked as taken.
    pub(super) fn take(&self, kind: &[u8; 4], body: &[u8]) -> Option<&'a SideTable> {
        self.take_of(self.tables, kind, body, |t| &t.of)
    }

    /// [`Sides::take`] for the tables left in the file.
    pub(super) fn take_streamed(&self, kind: &[u8; 4], body: &[u8]) -> Option<&'a StreamedTable> {
        self.take_of(self.streamed, kind, body, |t| &t.of)
    }

    /// The table of `list` (each one's box: `of`) of type `kind` that stands for the box body
    /// `body`, marked as taken.
    fn take_of<T>(&self, list: &'a [T], kind: &[u8; 4], body: &[u8], of: impl Fn(&T) -> &TableBox) -> Option<&'a T> {
        if list.is_empty() {
            return None;
        }
        let at = (body.as_ptr() as usize).checked_sub(self.base)?;
        let t = list.iter().find(|t| of(t).body == (at..at + body.len()) && &of(t).kind == kind)?;
        of(t).claimed.set(true);
        Some(t)
    }

    /// Every side table was taken by the box reader.
    pub(super) fn all_claimed(&self) -> bool {
        self.tables.iter().all(|t| t.of.claimed.get()) && self.streamed.iter().all(|t| t.of.claimed.get())
    }
}

/// A table box the walk found, and the bits kept per entry.
struct Found {
    of: TableBox,
    kept: usize,
}

/// The box headers of the moov payload, read from the file a window at a time.
struct Headers<'f> {
    file: &'f ByteSource,
    /// File offset of the moov payload; its length.
    base: u64,
    len: usize,
    window: Vec<u8>,
    /// Moov offset of the window.
    at: usize,
    reads: usize,
}

impl Headers<'_> {
    /// Up to `n` bytes from moov offset `at`, not past `end`; `None` when a read fails or the
    /// walk has read enough.
    fn get(&mut self, at: usize, n: usize, end: usize) -> Option<&[u8]> {
        let end = end.min(self.len).min(at.checked_add(n)?);
        if at >= end {
            return Some(&[]);
        }
        if at < self.at || end > self.at + self.window.len() {
            if self.reads == MAX_HEADER_READS {
                return None;
            }
            self.reads += 1;
            let len = WINDOW.min(self.len - at);
            self.window.resize(len, 0);
            read::read_exact_at(self.file, self.base + at as u64, &mut self.window).ok()?;
            self.at = at;
        }
        self.window.get(at - self.at..end - self.at)
    }

    /// The child boxes of the bytes `range` of the moov, walked as
    /// [`Boxes`](super::boxes::Boxes) walks them: `f` is given each one's type and body until
    /// it returns false.
    fn children(&mut self, range: Range<usize>, mut f: impl FnMut(&mut Self, [u8; 4], Range<usize>) -> bool) {
        let mut pos = range.start;
        for _ in 0..MAX_CHILDREN {
            let Some(h) = self.get(pos, LARGE_BOX_HEADER, range.end) else { return };
            let (Some(size32), Some(kind)) = (be32(h, 0), h.get(4..8)) else { return };
            let kind: [u8; 4] = [kind[0], kind[1], kind[2], kind[3]];
            let rest = (range.end - pos) as u64;
            let (size, header) = match size32 {
                SIZE_TO_END => (rest, BOX_HEADER),
                SIZE_64_BIT => match be64(h, BOX_HEADER) {
                    Some(s) => (s, LARGE_BOX_HEADER),
                    None => return,
                },
                s => (u64::from(s), BOX_HEADER),
            };
            if size < header as u64 {
                return;
            }
            let size = size.min(rest) as usize;
            if !f(self, kind, pos + header..pos + size) {
                return;
            }
            pos += size.max(header);
        }
    }
}

/// The tables of a moov read apart ([`read_sides`]), each list in the order of their place in
/// the moov.
#[derive(Default)]
pub(super) struct Apart {
    /// Read, narrowed.
    pub(super) read: Vec<SideTable>,
    /// Left in the file.
    pub(super) streamed: Vec<StreamedTable>,
}

/// The table boxes of the moov payload at `moov_pos` (`moov_len` bytes) whose entries are read
/// apart: the size and offset tables read, each one's entries narrowed (an `stsz` or `co64`
/// none of whose entries fits is left to the moov buffer); the `ctts` and `stsc` left in the
/// file ([`StreamedTable`]).
pub(super) fn read_sides(file: &ByteSource, moov_pos: u64, moov_len: usize) -> ParseResult<Apart> {
    let mut h = Headers { file, base: moov_pos, len: moov_len, window: Vec::new(), at: 0, reads: 0 };
    let mut found = Vec::new();
    let mut streamed = Vec::new();
    let mut stbl = |h: &mut Headers<'_>, kind: [u8; 4], body: Range<usize>| {
        let (header, entry, kept) = match &kind {
            b"stsz" => (12, 4, 16),
            b"stco" => (8, 4, 32),
            b"co64" => (8, 8, 32),
            b"ctts" => (8, 8, 0),
            b"stsc" => (8, 12, 0),
            _ => return true,
        };
        if kept == 0 {
            if body.len() >= header + SIDE_MIN {
                let of = TableBox::new(kind, body, header, entry);
                let pos = moov_pos + of.unread().start as u64;
                streamed.push(StreamedTable { of, file: file.clone(), pos, whole: OnceCell::new() });
            }
            return true;
        }
        // (An `stsz` with a constant size has no table.)
        let constant = if &kind == b"stsz" { h.get(body.start, 8, body.end).and_then(|b| be32(b, 4)) } else { Some(0) };
        if constant == Some(0) && body.len() >= header + SIDE_MIN {
            found.push(Found { of: TableBox::new(kind, body, header, entry), kept });
        }
        true
    };
    h.children(0..moov_len, |h, kind, body| {
        if &kind == b"trak" {
            h.children(body, |h, kind, body| {
                if &kind == b"mdia" {
                    h.children(body, |h, kind, body| {
                        if &kind == b"minf" {
                            // (The first `stbl` of a `minf`, as `collect_mdia` reads it.)
                            h.children(body, |h, kind, body| {
                                if &kind != b"stbl" {
                                    return true;
                                }
                                h.children(body, &mut stbl);
                                false
                            });
                        }
                        true
                    });
                }
                true
            });
        }
        true
    });
    // One arena for all of them, each narrowed (the ones that do not fit are dropped).
    let bytes: Vec<usize> = found.iter().map(|f| f.of.len() * f.kept / 8).collect();
    let mut arena = Arena::kept(bytes.iter().sum());
    let mut fits = Vec::with_capacity(found.len());
    let (mut block, mut at) = (Vec::new(), 0);
    for (f, &n) in found.iter().zip(&bytes) {
        let dst = &mut arena.bytes_mut()[at..at + n];
        let pos = moov_pos + f.of.unread().start as u64;
        fits.push(match f.of.entry * 8 / f.kept {
            1 => read_at(file, dst, pos).map(|_| true)?,
            _ if f.of.entry == 4 => read_narrowed::<4>(file, pos, dst, &mut block)?,
            _ => read_narrowed::<8>(file, pos, dst, &mut block)?,
        });
        at += n;
    }
    let arena = Arc::new(arena);
    let mut sides = Vec::with_capacity(found.len());
    let mut at = 0;
    for ((f, n), fits) in found.into_iter().zip(bytes).zip(fits) {
        if fits {
            sides.push(SideTable {
                of: f.of,
                bits: f.kept as u8,
                entries: Part { arena: arena.clone(), range: at..at + n },
            });
        }
        at += n;
    }
    Ok(Apart { read: sides, streamed })
}

impl SideTable {
    /// The moov bytes it leaves unread: its box's whole entries.
    pub(super) fn unread(&self) -> Range<usize> {
        self.of.unread()
    }
}

/// The big-endian `W`-byte entries at `pos` in the file, each narrowed to its low half, into
/// `dst` (as many as it holds); false when one does not fit (read through `block`, one reused
/// buffer that stays in the cache).
fn read_narrowed<const W: usize>(
    file: &ByteSource,
    pos: u64,
    dst: &mut [u8],
    block: &mut Vec<u8>,
) -> ParseResult<bool> {
    let half = W / 2;
    let per = READ_BLOCK / W;
    block.resize(per * W, 0);
    for (i, dst) in dst.chunks_mut(per * half).enumerate() {
        let src = &mut block[..dst.len() / half * W];
        read_at(file, src, pos + (i * per * W) as u64)?;
        if narrow_into::<W>(dst, src) != 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The low halves of the big-endian `W`-byte entries (`W` 4 or 8) of `src` into `dst` (half
/// as long); their high halves OR-ed (0: every entry fits). Eight bytes at a time, as a
/// little-endian word (two 4-byte entries, or one 8-byte one): masks and shifts, no byte
/// reversed (1.5 ms to narrow the 0.5 million sizes of a 2-hour MP4 one entry at a time).
fn narrow_into<const W: usize>(dst: &mut [u8], src: &[u8]) -> u64 {
    let (high_bytes, low) = if W == 4 { (0x0000_ffff_0000_ffff, 16) } else { (0xffff_ffff, 32) };
    let mut high = 0u64;
    let mut words = src.chunks_exact(8);
    let mut out = dst.chunks_exact_mut(4);
    for (d, s) in (&mut out).zip(&mut words) {
        let w = u64::from_le_bytes(s.try_into().unwrap_or_default());
        high |= w & high_bytes;
        // (Bytes 2, 3, 6, 7 of two entries; 4..8 of one.)
        let kept = (w >> low) & 0xffff | (w >> 32) & 0xffff_0000;
        d.copy_from_slice(&(kept as u32).to_le_bytes());
    }
    // (An odd 4-byte entry last.)
    for (d, e) in out.into_remainder().chunks_exact_mut(W / 2).zip(words.remainder().chunks_exact(W)) {
        high |= e[..W / 2].iter().fold(0, |h, &b| h | u64::from(b));
        d.copy_from_slice(&e[W / 2..]);
    }
    high
}

/// Fills `buf` from byte `pos` of the file.
fn read_at(file: &ByteSource, buf: &mut [u8], pos: u64) -> ParseResult<()> {
    read::read_exact_at(file, pos, buf).map_err(|e| ParseError::new(format!("read error at byte {pos}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{moov, read_lazily, read_limited, top_level, Mp4Sample, DEFAULT_MAX_INDEX_BYTES};
    use super::Sides;
    use crate::container::read::{ByteSource, CallbackSource, ReadAt};
    use std::io::Write;
    use std::sync::Arc;

    /// What a read gives, comparable: each track's fields and its samples (built or lazy).
    type Digest = Result<Vec<(String, Vec<Mp4Sample>)>, String>;

    fn digest(r: crate::error::ParseResult<super::super::Mp4Index>) -> Digest {
        let ix = r.map_err(|e| e.to_string())?;
        Ok(ix
            .tracks
            .into_iter()
            .map(|mut t| {
                let lazy = format!("{:?}", t.lazy);
                let samples = match t.lazy.take() {
                    Some(l) => l.to_vec(),
                    None => std::mem::take(&mut t.samples),
                };
                (format!("{t:?} {lazy}"), samples)
            })
            .collect())
    }

    /// `bytes` read as `read_lazily` (or `read_limited`) reads it, and with the whole moov read
    /// in one read; the number of side tables the box reader took.
    fn both(bytes: &[u8], lazy: bool) -> (Digest, Digest, usize) {
        let path = std::env::temp_dir().join(format!("side-{}-{}.mp4", std::process::id(), bytes.len()));
        std::fs::File::create(&path).unwrap().write_all(bytes).unwrap();
        let f = ByteSource::open_file(&path).unwrap();
        let size = bytes.len() as u64;
        let read = if lazy { read_lazily } else { read_limited };
        let got = digest(read(&f, size, DEFAULT_MAX_INDEX_BYTES));
        let (whole, taken) = match top_level::read_moov(&f, size) {
            Ok((m, brands)) => {
                let sides = m.side_tables();
                let r = moov::parse_moov(&m, sides, brands, size, DEFAULT_MAX_INDEX_BYTES, lazy);
                let taken = if r.is_ok() && sides.all_claimed() { m.sides.len() + m.streamed.len() } else { 0 };
                let w = m.whole(&f).unwrap();
                let r = moov::parse_moov(&w, Sides::NONE, brands, size, DEFAULT_MAX_INDEX_BYTES, lazy);
                (digest(r.map(|m| m.index)), taken)
            }
            Err(e) => (Err(e.to_string()), 0),
        };
        let _ = std::fs::remove_file(&path);
        (got, whole, taken)
    }

    /// A 2-track file whose tables are large: video (`n` samples, one a chunk, B-frames, a
    /// keyframe every 12, an edit) and audio (`n` samples, two and one a chunk in turn: an
    /// `stsc` entry a chunk, as FFmpeg interleaves).
    fn large(n: u32, video_size: impl Fn(u32) -> u32) -> (Spec, Spec, usize) {
        let mut v = Spec::video(n);
        v.sizes = (0..n).map(video_size).collect();
        v.stsc = vec![vec![1, 1, 1]];
        v.ctts = Some((0..n).map(|i| vec![1, [512, 1024, 0][(i % 3) as usize]]).collect());
        v.stss = Some((0..n).step_by(12).map(|i| i + 1).collect());
        v.elst = Some(elst(0, &[(100_000, 512)]));
        let mut a = Spec::video(n);
        a.handler = *b"soun";
        a.timescale = 48000;
        a.entry = audio_entry(b"mp4a", 2, 16, 48000, &[]);
        a.stts = vec![vec![n, 1024]];
        a.sizes = (0..n).map(|i| 20 + i % 5).collect();
        let mut per = Vec::new();
        while per.iter().sum::<u32>() < n {
            per.push(2 - per.len() as u32 % 2);
        }
        a.stsc = per.iter().enumerate().map(|(c, &p)| vec![c as u32 + 1, p, 1]).collect();
        let mut pos = 100u32;
        let mut next = |bytes: u32| {
            pos += bytes;
            pos - bytes
        };
        v.chunks = v.sizes.iter().map(|&s| next(s)).collect();
        let mut k = 0;
        a.chunks = per
            .iter()
            .map(|&p| {
                let end = (k + p as usize).min(n as usize);
                let bytes = a.sizes[k..end].iter().sum();
                k = end;
                next(bytes)
            })
            .collect();
        (v, a, pos as usize - 100)
    }

    #[test]
    fn entries_narrowed_a_word_at_a_time_are_their_low_halves() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for n in [0usize, 1, 2, 3, 7, 64, 65] {
            for wide in [1u32, 0x1_0000, 0x8000_0000] {
                let v: Vec<u64> = (0..n).map(|_| (next() % u64::from(wide)) << (next() % 2 * 32)).collect();
                let fits8 = v.iter().all(|&x| x < 1 << 32);
                let src4: Vec<u8> = v.iter().flat_map(|&x| (x as u32).to_be_bytes()).collect();
                let src8: Vec<u8> = v.iter().flat_map(|&x| x.to_be_bytes()).collect();
                let (mut d4, mut d8) = (vec![0u8; 2 * n], vec![0u8; 4 * n]);
                let high4 = super::narrow_into::<4>(&mut d4, &src4);
                let high8 = super::narrow_into::<8>(&mut d8, &src8);
                let low4: Vec<u8> = v.iter().flat_map(|&x| (x as u16).to_be_bytes()).collect();
                let low8: Vec<u8> = v.iter().flat_map(|&x| (x as u32).to_be_bytes()).collect();
                assert_eq!((d4, d8), (low4, low8), "{n} below {wide}");
                let fits4_32 = v.iter().all(|&x| (x as u32) < 0x1_0000);
                assert_eq!((high4 == 0, high8 == 0), (fits4_32, fits8), "{n} below {wide}");
            }
        }
    }

    #[test]
    fn large_tables_read_apart_give_what_the_whole_moov_gives() {
        let n = 20_000;
        // 16-bit sizes: both size tables and the video's offsets read apart (the audio's are
        // too few), the video's ctts and the audio's stsc left in the file; a video sample too
        // large for 16 bits: its sizes read with the moov.
        for (big, sides) in [(false, 5), (true, 4)] {
            let (v, a, data) = large(n, |i| if big && i == 7000 { 70_000 } else { 10 + i % 7 });
            let f = file(&[v, a], data + 70_000, &[]);
            for lazy in [true, false] {
                let (got, whole, taken) = both(&f, lazy);
                assert!(whole.is_ok(), "{whole:?}");
                assert_eq!(got, whole, "big {big} lazy {lazy}");
                assert_eq!(taken, sides, "big {big}");
            }
        }
    }

    #[test]
    fn tables_left_in_the_file_give_what_the_whole_moov_gives() {
        let n = 20_000u32;
        // Entry `i` of the first `kind` box of `f` (after its version, flags and count), set.
        let set = |f: &mut Vec<u8>, kind: &[u8; 4], i: usize, entry: &[u32]| {
            let at = f.windows(4).position(|w| w == kind).unwrap() + 12 + i * 4 * entry.len();
            f[at..at + 4 * entry.len()].copy_from_slice(&words(entry));
        };
        let ctts_at = |f: &[u8]| f.windows(4).position(|w| w == b"ctts").unwrap();
        let stsc_at = |f: &[u8]| f.windows(4).rposition(|w| w == b"stsc").unwrap();
        /// What is done to the file; the tables taken when it is read (`None`: an error).
        type Case<'a> = (&'a str, &'a dyn Fn(&mut Vec<u8>), Option<usize>);
        let cases: [Case<'_>; 9] = [
            ("as made", &|_| {}, Some(5)),
            // A negative offset: a DTS shift, the video built from the ctts bytes.
            ("negative", &|f| set(f, b"ctts", 5, &[1, (-512i32) as u32]), Some(5)),
            // An offset too far early on: the table dropped, its reading stopped.
            ("far", &|f| set(f, b"ctts", 3, &[1, 1 << 29]), Some(5)),
            // Entries of no sample, or a negative count: skipped.
            (
                "empty entries",
                &|f| {
                    set(f, b"ctts", 0, &[0, 512]);
                    set(f, b"ctts", 9, &[u32::MAX, 512]);
                },
                Some(5),
            ),
            // The last entries cover fewer samples: built.
            ("short", &|f| set(f, b"ctts", n as usize - 1, &[0, 0]), Some(5)),
            // More entries than the box holds: the error of either path.
            (
                "ctts overrun",
                &|f| {
                    let at = ctts_at(f) + 8;
                    f[at..at + 4].copy_from_slice(&(n + 1).to_be_bytes());
                },
                None,
            ),
            (
                "stsc overrun",
                &|f| {
                    let at = stsc_at(f) + 8;
                    f[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
                },
                None,
            ),
            // An stsc entry out of order: repaired (FFmpeg's repair).
            (
                "stsc repaired",
                &|f| {
                    let at = stsc_at(f) + 12 + 7 * 12;
                    f[at..at + 4].copy_from_slice(&3u32.to_be_bytes());
                },
                Some(5),
            ),
            // A second stsc in the audio's stbl: left in the file, never taken.
            (
                "second stsc",
                &|f| {
                    let at = f.windows(4).position(|w| w == b"zzzz").unwrap();
                    f[at..at + 4].copy_from_slice(b"stsc");
                },
                Some(0),
            ),
        ];
        for (what, damage, sides) in cases {
            let (v, mut a, data) = large(n, |i| 10 + i % 7);
            a.extra_stbl = counted(b"zzzz", 0, &a.stsc);
            let mut f = file(&[v, a], data, &[]);
            damage(&mut f);
            for lazy in [true, false] {
                let (got, whole, taken) = both(&f, lazy);
                assert_eq!(got, whole, "{what}, lazy {lazy}");
                assert_eq!(whole.is_ok(), sides.is_some(), "{what}: {whole:?}");
                assert_eq!(taken, sides.unwrap_or(0), "{what}, lazy {lazy}");
            }
        }
    }

    /// Bytes in memory as a caller's source.
    struct Memory(Vec<u8>);

    impl ReadAt for Memory {
        fn read_at(&self, pos: u64, buf: &mut [u8]) -> std::io::Result<usize> {
            let rest = self.0.get(pos as usize..).unwrap_or(&[]);
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            Ok(n)
        }
    }

    #[test]
    fn a_callers_source_reads_a_large_moov_whole_and_gives_the_same_index() {
        let (v, a, data) = large(20_000, |i| 10 + i % 7);
        let f = file(&[v, a], data + 70_000, &[]);
        let (local, _, taken) = both(&f, true);
        assert_eq!(taken, 5, "the local file reads its tables apart");
        let size = f.len() as u64;
        let src = Arc::new(CallbackSource::new(Box::new(Memory(f)), size, "m".into(), 1 << 30, None));
        let (m, _) = top_level::read_moov(&ByteSource::Callback(src.clone()), size).unwrap();
        assert!(!m.has_sides(), "no table read apart from a caller's source");
        // The top-level walk's reads, then the whole moov in one.
        let (reads, _) = src.counters();
        assert!(reads <= 3, "{reads} reads");
        let remote = digest(read_lazily(&ByteSource::Callback(src), size, DEFAULT_MAX_INDEX_BYTES));
        assert_eq!(remote, local);
    }

    #[test]
    fn large_co64_tables_are_narrowed_when_every_offset_fits_32_bits() {
        let n = 20_000;
        for far in [false, true] {
            let (mut v, a, data) = large(n, |i| 10 + i % 7);
            // The video's offsets as a co64 (its stco renamed), one of them past 32 bits or not.
            let offsets: Vec<Vec<u32>> =
                v.chunks.iter().enumerate().map(|(i, &c)| vec![u32::from(far && i == n as usize - 1), c]).collect();
            v.extra_stbl = counted(b"co64", 0, &offsets);
            let mut f = file(&[v, a], data, &[]);
            let at = f.windows(4).position(|w| w == b"stco").unwrap();
            f[at..at + 4].copy_from_slice(b"free");
            let (got, whole, taken) = both(&f, true);
            assert_eq!(got, whole, "far {far}");
            // Far: the offset is past the file (an error either way), its co64 read with the moov.
            assert_eq!((whole.is_ok(), taken), if far { (false, 0) } else { (true, 5) }, "far {far}");
        }
    }

    #[test]
    fn a_table_read_apart_that_the_box_reader_does_not_take_falls_back_to_the_whole_moov() {
        // A second stsz in the video's stbl: read apart, never taken (the first one is used).
        let n = 20_000;
        let (mut v, a, data) = large(n, |i| 10 + i % 7);
        v.extra_stbl = full(b"stsz", 0, &[words(&[0, n]), words(&vec![3; n as usize])].concat());
        let f = file(&[v, a], data, &[]);
        let (got, whole, taken) = both(&f, true);
        assert!(whole.is_ok());
        assert_eq!(got, whole);
        assert_eq!(taken, 0);
    }

    #[test]
    fn damaged_large_moovs_read_apart_give_what_the_whole_moov_gives() {
        let n = 17_000;
        let (v, a, data) = large(n, |i| 10 + i % 7);
        let base = file(&[v, a], data, &[]);
        let moov_at = base.windows(4).position(|w| w == b"moov").unwrap() - 4;
        // Damage near the box headers (sizes, types, counts, constant sizes) and anywhere.
        let mut heads: Vec<usize> = Vec::new();
        for kind in [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsz", b"stco", b"ctts", b"stsc", b"mdhd"] {
            heads.extend(base.windows(4).enumerate().filter(|(_, w)| w == kind).map(|(i, _)| i));
        }
        let (mut ok, mut taken_any) = (0, 0);
        for (i, mut f) in damaged_copies(&base, moov_at, 0x9e37_79b9_7f4a_7c15, 400).enumerate() {
            let h = heads[i % heads.len()];
            let at = h - 4 + (i * 7) % 20;
            f[at] ^= [0x01, 0x80, 0xff, 0x10][i % 4];
            let (got, whole, taken) = both(&f, i % 2 == 0);
            assert_eq!(got, whole, "copy {i}");
            ok += usize::from(whole.is_ok());
            taken_any += usize::from(taken > 0);
        }
        assert!(ok > 50 && taken_any > 50, "{ok} {taken_any}");
    }
}
