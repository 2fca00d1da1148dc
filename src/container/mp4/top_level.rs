//! The top level of an ISO-BMFF file, walked with a few positioned reads: box headers read from
//! the file by size, the `ftyp` brands ([`Brands`]), where the `moov` is, and [`read_moov`],
//! which reads the `moov` (it may sit after the `mdat`): in one read, or its large tables apart
//! (`side`) and the rest in one read per stretch between them.

use std::ops::Range;

use crate::container::read::ByteSource;

use super::boxes::{fourcc_str, BOX_HEADER, LARGE_BOX_HEADER, SIZE_64_BIT, SIZE_TO_END};
use super::side::{self, Apart, Arena, SideTable, Sides, StreamedTable, SIDE_MIN};
use crate::container::read;
use crate::error::{ParseError, ParseResult};

/// Largest `moov` box that is read into memory.
const MAX_MOOV: u64 = 512 << 20;

/// Most top-level boxes walked before the moov.
const MAX_TOP_LEVEL_BOXES: usize = 100_000;

/// Top-level boxes accepted as the first box of a file.
const FIRST_BOXES: [&[u8; 4]; 10] =
    [b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid", b"styp", b"sidx"];

/// Fills `buf` from byte `pos` of the file, through the one positioned read.
fn read_at(file: &ByteSource, buf: &mut [u8], pos: u64) -> ParseResult<()> {
    read::read_exact_at(file, pos, buf).map_err(|e| ParseError::new(format!("read error at byte {pos}: {e}")))
}

/// What the `ftyp` box says that matters to FFmpeg's parsing.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Brands {
    /// Major brand present and not "qt  " (FFmpeg's `isom`).
    pub(super) isom: bool,
    /// "qt  " among the compatible brands.
    pub(super) qt_compatible: bool,
}

/// The QuickTime brand.
const BRAND_QT: &[u8; 4] = b"qt  ";

/// Most bytes of an `ftyp` read (its brands).
const MAX_FTYP_READ: u64 = 4096;

/// Result of the top-level walk.
struct TopLevel {
    /// What the `ftyp` before the `moov` says (defaults without one).
    brands: Brands,
    /// Absolute offset of the `moov` payload.
    moov_pos: u64,
    /// Bytes of the `moov` payload.
    moov_len: u64,
}

/// One box header read from the file.
pub(super) struct FileBox {
    /// Box type.
    pub(super) kind: [u8; 4],
    /// Box size, header included.
    pub(super) size: u64,
    /// Header size (8, or 16 with a 64-bit size).
    pub(super) header: u64,
}

/// Walks the top-level boxes up to the `moov`: the brands and where the `moov` payload is.
fn scan_top_level(file: &ByteSource, file_size: u64) -> ParseResult<TopLevel> {
    if file_size == 0 {
        return Err(ParseError::new("not an ISO-BMFF file: empty file"));
    }
    let mut brands = Brands::default();
    let mut pos = 0u64;
    for _ in 0..MAX_TOP_LEVEL_BOXES {
        if pos >= file_size {
            break;
        }
        let b = read_file_box(file, pos, file_size)?;
        if pos == 0 && !FIRST_BOXES.contains(&&b.kind) {
            return Err(ParseError::new("not an ISO-BMFF file: no ftyp or moov box at the start"));
        }
        if b.size > file_size - pos {
            return Err(overrun_reason(&b, pos, file_size));
        }
        match &b.kind {
            b"ftyp" => brands = read_ftyp(file, pos + b.header, b.size - b.header)?,
            b"moov" => return moov_location(brands, pos, &b),
            _ => {}
        }
        pos += b.size;
    }
    if pos < file_size {
        return Err(ParseError::new(format!("no moov box in the first {MAX_TOP_LEVEL_BOXES} top-level boxes")));
    }
    Err(ParseError::new("truncated file: no moov box"))
}

/// Why a top-level box that runs past the end of the file is an error.
fn overrun_reason(b: &FileBox, pos: u64, file_size: u64) -> ParseError {
    let (size, kind) = (b.size, fourcc_str(&b.kind));
    let what = if &b.kind == b"moov" { "the moov box".to_string() } else { format!("no moov box; box '{kind}'") };
    ParseError::new(format!(
        "truncated file: {what} at byte {pos} ({size} bytes) runs past the end of the file ({file_size} bytes)"
    ))
}

/// Where the `moov` payload is, if it is not too large to read.
fn moov_location(brands: Brands, pos: u64, b: &FileBox) -> ParseResult<TopLevel> {
    let len = b.size - b.header;
    if len > MAX_MOOV {
        return Err(ParseError::new(format!("moov box too large ({len} bytes)")));
    }
    Ok(TopLevel { brands, moov_pos: pos + b.header, moov_len: len })
}

/// The box header at `pos` (one read of at most 16 bytes).
pub(super) fn read_file_box(file: &ByteSource, pos: u64, file_size: u64) -> ParseResult<FileBox> {
    let left = file_size - pos;
    if left < BOX_HEADER as u64 {
        return Err(if pos == 0 {
            ParseError::new("not an ISO-BMFF file: too short")
        } else {
            ParseError::new(format!("truncated file: no moov box ({left} stray bytes at the end)"))
        });
    }
    let mut h = [0u8; LARGE_BOX_HEADER];
    let n = if left >= LARGE_BOX_HEADER as u64 { LARGE_BOX_HEADER } else { BOX_HEADER };
    read_at(file, &mut h[..n], pos)?;
    let kind = [h[4], h[5], h[6], h[7]];
    let size32 = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    let (size, header) = match size32 {
        SIZE_TO_END => (left, BOX_HEADER as u64),
        SIZE_64_BIT if n == LARGE_BOX_HEADER => {
            (u64::from_be_bytes([h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]]), LARGE_BOX_HEADER as u64)
        }
        SIZE_64_BIT => return Err(ParseError::new(format!("truncated file: box header at byte {pos} cut"))),
        s => (u64::from(s), BOX_HEADER as u64),
    };
    if size < header {
        if pos == 0 {
            return Err(ParseError::new("not an ISO-BMFF file: invalid first box"));
        }
        return Err(ParseError::new(format!(
            "corrupt file: box '{}' at byte {pos} has size {size}",
            fourcc_str(&kind)
        )));
    }
    Ok(FileBox { kind, size, header })
}

/// The brands of the `ftyp` payload at `pos` (`len` bytes).
fn read_ftyp(file: &ByteSource, pos: u64, len: u64) -> ParseResult<Brands> {
    let mut buf = vec![0u8; len.min(MAX_FTYP_READ) as usize];
    read_at(file, &mut buf, pos)?;
    let major = buf.get(0..4);
    let isom = major.is_some_and(|m| m != BRAND_QT);
    // Major brand, minor version, then the compatible brands.
    let qt_compatible = buf.get(8..).unwrap_or(&[]).chunks_exact(4).any(|c| c == BRAND_QT);
    Ok(Brands { isom, qt_compatible })
}

/// The `moov` payload as read: in huge pages when most of it is read ([`Arena::huge`]: a
/// handful of page faults for a 5 MB moov instead of one per 4 KiB page), else in pages made
/// present as they are written. When its large tables were read apart (`sides`), or left in
/// the file (`streamed`), its bytes under those tables are left unread.
pub(super) struct MoovBytes {
    bytes: Arena,
    /// File offset of the payload.
    pos: u64,
    /// The tables read apart (see `side`).
    pub(super) sides: Vec<SideTable>,
    /// The tables left in the file (see `side`).
    pub(super) streamed: Vec<StreamedTable>,
}

impl std::ops::Deref for MoovBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl MoovBytes {
    /// The side tables, by where they are in this buffer.
    pub(super) fn side_tables(&self) -> Sides<'_> {
        Sides::new(self, &self.sides, &self.streamed)
    }

    /// Some table was read apart or left in the file.
    pub(super) fn has_sides(&self) -> bool {
        !self.sides.is_empty() || !self.streamed.is_empty()
    }

    /// The whole payload read again in one read, without side tables.
    pub(super) fn whole(&self, file: &ByteSource) -> ParseResult<MoovBytes> {
        read_around(file, self.pos, self.bytes.len(), Apart::default())
    }
}

/// Smallest `moov` payload whose large tables are looked for and read apart.
const SIDES_FROM: u64 = 4 * SIDE_MIN as u64;

/// Fewest bytes of a `moov` read into its buffer for which that buffer is backed by huge pages:
/// below it, clearing the huge pages it touches (2 MiB each, wherever the bytes read lie) costs
/// more than a page fault per 4 KiB page read.
const HUGE_FROM: usize = 1 << 20;

/// Reads the `moov` payload and the brands of the `ftyp` before it: from a local file, its large
/// tables apart (`side`), the rest in one read per stretch between them; or, without such tables,
/// and always from a caller's source (an object store: the walk's header reads would each be a
/// round trip, where one read of the whole `moov` is one), the whole payload in one read.
pub(super) fn read_moov(file: &ByteSource, file_size: u64) -> ParseResult<(MoovBytes, Brands)> {
    let top = scan_top_level(file, file_size)?;
    let len = usize::try_from(top.moov_len).map_err(|_| ParseError::new("moov box too large"))?;
    let apart = if top.moov_len >= SIDES_FROM && !file.is_callback() {
        side::read_sides(file, top.moov_pos, len)?
    } else {
        Apart::default()
    };
    Ok((read_around(file, top.moov_pos, len, apart)?, top.brands))
}

/// The `len` bytes of the moov payload at `pos` but those the tables `apart` hold or leave in
/// the file (boxes apart from one another): one read per stretch between them (one read
/// without such tables).
fn read_around(file: &ByteSource, pos: u64, len: usize, apart: Apart) -> ParseResult<MoovBytes> {
    let mut unread: Vec<Range<usize>> =
        apart.read.iter().map(SideTable::unread).chain(apart.streamed.iter().map(StreamedTable::unread)).collect();
    unread.sort_unstable_by_key(|r| r.start);
    let skipped: usize = unread.iter().map(Range::len).sum();
    // The pages under the tables apart are never touched (unless they share a huge page with
    // bytes read).
    let mut bytes = if len.saturating_sub(skipped) >= HUGE_FROM { Arena::huge(len) } else { Arena::of(vec![0; len]) };
    let buf = bytes.bytes_mut();
    let mut from = 0;
    for r in unread.into_iter().chain(std::iter::once(len..len)) {
        if r.start < from {
            // (Never: the tables are boxes apart from one another, in moov order.)
            return read_around(file, pos, len, Apart::default());
        }
        read_at(file, &mut buf[from..r.start], pos + from as u64)?;
        from = r.end;
    }
    Ok(MoovBytes { bytes, pos, sides: apart.read, streamed: apart.streamed })
}
