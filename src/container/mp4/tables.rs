//! The sample tables of one `stbl`, read as FFmpeg reads them: `stts` (with its corrections of
//! huge deltas), `ctts` (filtered entries, DTS shift), `stss`/`stps`, the `rap ` sample group
//! (`sbgp`), `stsc` (repaired), `stsz`/`stz2` and `stco`/`co64` ([`Tables`]); and the cursors the
//! sample walk reads them with ([`KeyState`], [`SttsCursor`], [`CttsCursor`]).

use super::boxes::{be32, fourcc, set_once, Boxes};
pub(super) use super::lazy::{Chunks, Sizes};
use super::lazy::{Offsets, OffsetsBuilder};
use super::sample_entry::Kind;
use super::side::{Kept, SideTable, Sides, StreamedTable};
use crate::error::{ErrorKind, ParseError, ParseResult};
use std::cell::Cell;

/// Bytes of a full box's version and flags.
const FULL_BOX_HEADER: usize = 4;

/// FFmpeg's `max_stts_delta` default: larger `stts` deltas are taken as negative corrections.
const MAX_STTS_DELTA: u32 = u32::MAX - 48000 * 10;

/// The `sbgp` grouping type of random access points.
const GROUPING_RAP: [u8; 4] = *b"rap ";

/// Largest `ctts` offset FFmpeg keeps the table with (beyond it, the table is dropped).
const MAX_CTTS_OFFSET: u32 = 1 << 28;

/// The sample-table boxes of one `stbl`.
#[derive(Default)]
pub(super) struct StblBoxes<'a> {
    /// Sample descriptions.
    pub(super) stsd: Option<&'a [u8]>,
    /// Decode time deltas.
    stts: Option<&'a [u8]>,
    /// Composition offsets.
    ctts: Option<&'a [u8]>,
    /// Sync samples.
    stss: Option<&'a [u8]>,
    /// Partial sync samples (QuickTime).
    stps: Option<&'a [u8]>,
    /// Sample sizes.
    stsz: Option<&'a [u8]>,
    /// Compact sample sizes.
    stz2: Option<&'a [u8]>,
    /// Samples per chunk.
    stsc: Option<&'a [u8]>,
    /// 32-bit chunk offsets.
    stco: Option<&'a [u8]>,
    /// 64-bit chunk offsets.
    co64: Option<&'a [u8]>,
    /// The `rap ` sample-to-group box.
    sbgp_rap: Option<&'a [u8]>,
    /// The entries of `stsz`, `stco`, `co64` when they were read apart (their bytes in the
    /// boxes above then unread).
    stsz_side: Option<&'a SideTable>,
    stco_side: Option<&'a SideTable>,
    co64_side: Option<&'a SideTable>,
    /// The entries of `ctts`, `stsc` when they were left in the file (their bytes in the boxes
    /// above then unread).
    ctts_side: Option<&'a StreamedTable>,
    stsc_side: Option<&'a StreamedTable>,
}

/// The sample-table boxes of the `stbl` payload `stbl`, into `s` (the first of each kind; the
/// entries of its large tables from `sides` where they were read apart).
pub(super) fn collect_stbl<'a>(stbl: &'a [u8], sides: Sides<'a>, s: &mut StblBoxes<'a>) {
    for (kind, body) in Boxes::new(stbl) {
        match &kind {
            b"stsz" if s.stsz.is_none() => s.stsz_side = sides.take(&kind, body),
            b"stco" if s.stco.is_none() => s.stco_side = sides.take(&kind, body),
            b"co64" if s.co64.is_none() => s.co64_side = sides.take(&kind, body),
            b"ctts" if s.ctts.is_none() => s.ctts_side = sides.take_streamed(&kind, body),
            b"stsc" if s.stsc.is_none() => s.stsc_side = sides.take_streamed(&kind, body),
            _ => {}
        }
        let slot = match &kind {
            b"stsd" => &mut s.stsd,
            b"stts" => &mut s.stts,
            b"ctts" => &mut s.ctts,
            b"stss" => &mut s.stss,
            b"stps" => &mut s.stps,
            b"stsz" => &mut s.stsz,
            b"stz2" => &mut s.stz2,
            b"stsc" => &mut s.stsc,
            b"stco" => &mut s.stco,
            b"co64" => &mut s.co64,
            b"sbgp" if fourcc(body, FULL_BOX_HEADER) == Some(GROUPING_RAP) => &mut s.sbgp_rap,
            _ => continue,
        };
        set_once(slot, body);
    }
}

/// One `stsc` entry (FFmpeg keeps them as signed ints).
#[derive(Clone, Copy, Debug)]
pub(super) struct Stsc {
    /// First chunk (1-based) of the run.
    pub(super) first: i32,
    /// Samples per chunk.
    pub(super) count: i32,
    /// Sample description index.
    pub(super) id: i32,
}

/// One `stts` or `ctts` run.
#[derive(Clone, Copy, Debug)]
pub(super) struct Run<T> {
    /// Samples in the run.
    pub(super) count: u32,
    /// The run's value (duration, group index).
    pub(super) value: T,
}

/// The parsed, FFmpeg-corrected sample tables of one track.
pub(super) struct Tables<'a> {
    /// Decode time deltas, corrected.
    pub(super) stts: Vec<Run<u32>>,
    /// Raw ctts entries (count, offset), `None` without usable ctts.
    pub(super) ctts: Option<Entries<'a>>,
    /// The DTS shift from negative composition offsets.
    pub(super) dts_shift: i64,
    /// `stss` entries (big-endian u32), `None` without an `stss` box.
    stss: Option<&'a [u8]>,
    /// `stps` entries (big-endian u32).
    stps: &'a [u8],
    /// `rap ` sample group runs.
    rap: Vec<Run<u32>>,
    /// Samples per chunk, repaired.
    pub(super) stsc: Vec<Stsc>,
    /// Sample sizes.
    pub(super) sizes: Sizes<'a>,
    /// Chunk offsets.
    pub(super) chunks: Chunks<'a>,
    /// The `ctts` offsets, one per sample, when [`Tables::parse`] was asked to expand them and
    /// they cover every sample (taken by the lazy plan).
    pub(super) offsets: Cell<Option<Offsets>>,
    /// The memory `sizes` and `chunks` lie in when they were read apart (a lazily read track
    /// keeps it instead of a copy).
    pub(super) kept: Kept,
}

impl<'a> Tables<'a> {
    /// The tables of `s`, checked against their boxes and the file size; with `expand`, the
    /// `ctts` offsets expanded in the same pass that reads them (`offsets`: in units of the
    /// `stts` duration when there is one).
    pub(super) fn parse(s: &StblBoxes<'a>, file_size: u64, expand: bool) -> ParseResult<Self> {
        // (Errors reported in the same order as without `expand`: the sizes read first, kept.)
        let sizes = parse_sizes(s.stsz, s.stsz_side, s.stz2);
        let unit =
            s.stts.filter(|b| be32(b, 4) == Some(1)).and_then(|b| be32(b, 12)).and_then(|u| i32::try_from(u).ok());
        let mut builder = match &sizes {
            // (A table of sizes: its count is backed by the box.)
            Ok(z) if expand && z.constant == 0 && s.ctts.is_some() => Some(OffsetsBuilder::new(z.count as usize, unit)),
            _ => None,
        };
        let (ctts, dts_shift) = match s.ctts {
            Some(b) => parse_ctts(b, s.ctts_side, |n, c| {
                if let Some(o) = &mut builder {
                    o.push(n, c);
                }
            })?,
            None => (None, 0),
        };
        let offsets = builder.filter(|_| ctts.is_some()).and_then(OffsetsBuilder::finish);
        let sizes = sizes?;
        if sizes.constant > 0 && u64::from(sizes.count) > file_size / u64::from(sizes.constant) {
            // Refused outright: FFmpeg's mov demuxer would allocate an index entry per claimed
            // sample.
            return Err(ParseError::refuse(
                ErrorKind::InvalidMedia,
                format!("stsz claims {} samples of {} bytes: more than the file holds", sizes.count, sizes.constant),
            ));
        }
        let chunks = parse_chunks((s.stco, s.stco_side), (s.co64, s.co64_side))?;
        let chunks_side = s.stco.map_or(s.co64_side, |_| s.stco_side);
        let kept = Kept {
            sizes: s.stsz_side.filter(|_| sizes.constant == 0).map(|t| t.kept(sizes.table.len())),
            chunks: chunks_side.map(|t| t.kept(chunks.table.len())),
        };
        Ok(Tables {
            stts: s.stts.map(parse_stts).transpose()?.unwrap_or_default(),
            ctts,
            dts_shift,
            stss: s.stss.map(|b| u32_table(b, 4, "stss")).transpose()?,
            stps: s.stps.map(|b| u32_table(b, 4, "stps")).transpose()?.unwrap_or(&[]),
            rap: s.sbgp_rap.map(parse_sbgp).transpose()?.unwrap_or_default(),
            stsc: s.stsc.map(|b| parse_stsc(b, s.stsc_side)).transpose()?.unwrap_or_default(),
            sizes,
            chunks,
            offsets: Cell::new(offsets),
            kept,
        })
    }

    /// Number of samples (`stsz`/`stz2`).
    pub(super) fn sample_count(&self) -> u32 {
        self.sizes.count
    }

    /// The `stss` entries (big-endian, 1-based) when they alone say which samples are sync
    /// samples, each entry once, ascending: no `stps` or `rap ` groups, at least one entry, the
    /// first above 0 (see [`KeyState::next`], whose walk then marks exactly these samples).
    pub(super) fn sync_samples(&self) -> Option<&'a [u8]> {
        let stss = self.stss.filter(|s| !s.is_empty())?;
        let mut prev = 0u32;
        for e in stss.chunks_exact(4) {
            let v = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
            if v <= prev || v > i32::MAX as u32 {
                return None;
            }
            prev = v;
        }
        (self.stps.is_empty() && self.rap.is_empty()).then_some(stss)
    }

    /// Every sample of an audio track is a sync sample: no `stss` entries, `stps` or `rap `
    /// groups to say otherwise (see [`KeyState::next`]).
    pub(super) fn all_sync_audio(&self, kind: Kind) -> bool {
        kind == Kind::Audio && self.stss.is_none_or(<[u8]>::is_empty) && self.stps.is_empty() && self.rap.is_empty()
    }
}

/// A table of `count` fixed-size entries after version/flags + count; checked against the box.
fn entry_table<'a>(b: &'a [u8], entry_size: usize, name: &str) -> ParseResult<(&'a [u8], usize)> {
    let count = be32(b, 4).ok_or_else(|| ParseError::new(format!("corrupt {name}")))? as usize;
    let bytes = count.checked_mul(entry_size).ok_or_else(|| ParseError::new(format!("corrupt {name}")))?;
    let table = b
        .get(8..)
        .and_then(|t| t.get(..bytes))
        .ok_or_else(|| ParseError::new(format!("corrupt {name}: {count} entries overrun the box")))?;
    Ok((table, count))
}

/// The entries of a table box: in the moov buffer, or left in the file (the table and the count
/// of its entries).
#[derive(Clone, Copy)]
pub(super) enum Entries<'a> {
    Moov(&'a [u8]),
    File(&'a StreamedTable, usize),
}

impl<'a> Entries<'a> {
    /// The entries given to `f` in order, a block of whole entries at a time (all at once from
    /// the moov buffer; read through one small buffer from the file), until `f` returns false.
    fn each_block(self, f: impl FnMut(&[u8]) -> bool) -> ParseResult<()> {
        match self {
            Entries::Moov(b) => {
                let mut f = f;
                f(b);
                Ok(())
            }
            Entries::File(t, count) => t.each_block(count, f),
        }
    }

    /// The entries as bytes (from the file: read whole, once).
    pub(super) fn bytes(self) -> ParseResult<&'a [u8]> {
        match self {
            Entries::Moov(b) => Ok(b),
            Entries::File(t, count) => t.bytes(count),
        }
    }
}

/// [`entry_table`], its entries left in the file when they were (`side`, with the same checks:
/// it holds every whole entry of the box).
fn entries<'a>(
    b: &'a [u8],
    side: Option<&'a StreamedTable>,
    entry_size: usize,
    name: &str,
) -> ParseResult<(Entries<'a>, usize)> {
    let Some(side) = side else {
        let (table, count) = entry_table(b, entry_size, name)?;
        return Ok((Entries::Moov(table), count));
    };
    let count = side_count(b, entry_size, name, side.len())?;
    Ok((Entries::File(side, count), count))
}

/// The entry count of the table box `b` whose entries were read apart or left in the file,
/// checked as [`entry_table`] checks it: `held` whole entries in the box.
fn side_count(b: &[u8], entry_size: usize, name: &str, held: usize) -> ParseResult<usize> {
    let count = be32(b, 4).ok_or_else(|| ParseError::new(format!("corrupt {name}")))? as usize;
    count.checked_mul(entry_size).ok_or_else(|| ParseError::new(format!("corrupt {name}")))?;
    if count > held {
        return Err(ParseError::new(format!("corrupt {name}: {count} entries overrun the box")));
    }
    Ok(count)
}

/// [`entry_table`], its entries from `side` when they were read apart (the same checks: `side`
/// holds every whole entry of the box).
fn side_or_entry_table<'a>(
    b: &'a [u8],
    side: Option<&'a SideTable>,
    entry_size: usize,
    name: &str,
) -> ParseResult<(&'a [u8], usize)> {
    let Some(side) = side else { return entry_table(b, entry_size, name) };
    let count = side_count(b, entry_size, name, side.len())?;
    let table = side.table(count).ok_or_else(|| ParseError::new(format!("corrupt {name}")))?;
    Ok((table, count))
}

/// The entries of a table of `count` big-endian values (see [`entry_table`]).
fn u32_table<'a>(b: &'a [u8], entry_size: usize, name: &str) -> ParseResult<&'a [u8]> {
    entry_table(b, entry_size, name).map(|(t, _)| t)
}

/// stts with FFmpeg's corrections of huge deltas (negative corrections stored as uint32).
fn parse_stts(b: &[u8]) -> ParseResult<Vec<Run<u32>>> {
    let (table, count) = entry_table(b, 8, "stts")?;
    let mut runs = Vec::with_capacity(count);
    let (mut current, mut corrected) = (0i128, 0i128);
    for e in table.chunks_exact(8) {
        let n = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
        let mut d = u32::from_be_bytes([e[4], e[5], e[6], e[7]]);
        if d > MAX_STTS_DELTA {
            let magnitude = d as i32;
            d = 1;
            corrected += i128::from(if magnitude < 0 { magnitude } else { 1 }) * i128::from(n);
        } else {
            corrected += i128::from(d) * i128::from(n);
        }
        current += i128::from(d) * i128::from(n);
        if current > corrected {
            let drift = (current - corrected) / i128::from(n.max(1));
            let correction = if i128::from(d) > drift { drift as u32 } else { d - 1 };
            current -= i128::from(correction) * i128::from(n);
            d -= correction;
        }
        runs.push(Run { count: n, value: d });
    }
    Ok(runs)
}

/// ctts as FFmpeg reads it: signed offsets, entries with count ≤ 0 skipped, the DTS shift from
/// negative offsets (not counting the last two entries), the whole table dropped when an offset
/// is beyond ±2^28. Returns the raw entries (`None` when dropped or empty; left in the file when
/// `side` has them) and the shift; `each` is given every entry the walk reads (count > 0), in
/// order.
fn parse_ctts<'a>(
    b: &'a [u8],
    side: Option<&'a StreamedTable>,
    mut each: impl FnMut(usize, i32),
) -> ParseResult<(Option<Entries<'a>>, i64)> {
    let (table, count) = entries(b, side, 8, "ctts")?;
    let (mut i, mut shift, mut any, mut dropped) = (0usize, 0i64, false, false);
    table.each_block(|block| {
        for e in block.chunks_exact(8) {
            let n = i32::from_be_bytes([e[0], e[1], e[2], e[3]]);
            let d = i32::from_be_bytes([e[4], e[5], e[6], e[7]]);
            let not_last_two = i + 2 < count;
            i += 1;
            if n <= 0 {
                continue;
            }
            each(n as usize, d);
            any = true;
            if not_last_two && d.unsigned_abs() > MAX_CTTS_OFFSET {
                dropped = true;
                return false;
            }
            if not_last_two && d < 0 {
                shift = shift.max(-i64::from(d.max(-i32::MAX)));
            }
        }
        true
    })?;
    Ok(((any && !dropped).then_some(table), shift))
}

/// `sbgp` runs (v0/v1).
fn parse_sbgp(b: &[u8]) -> ParseResult<Vec<Run<u32>>> {
    let version = *b.first().ok_or_else(|| ParseError::new("corrupt sbgp"))?;
    let at = if version == 1 { 12 } else { 8 };
    let count = be32(b, at).ok_or_else(|| ParseError::new("corrupt sbgp"))? as usize;
    let bytes = count.checked_mul(8).ok_or_else(|| ParseError::new("corrupt sbgp"))?;
    let table = b
        .get(at + 4..)
        .and_then(|t| t.get(..bytes))
        .ok_or_else(|| ParseError::new("corrupt sbgp: entries overrun the box"))?;
    Ok(table
        .chunks_exact(8)
        .map(|e| Run {
            count: u32::from_be_bytes([e[0], e[1], e[2], e[3]]),
            value: u32::from_be_bytes([e[4], e[5], e[6], e[7]]),
        })
        .collect())
}

/// stsc with FFmpeg's repair of invalid entries (its entries left in the file when `side` has
/// them).
fn parse_stsc(b: &[u8], side: Option<&StreamedTable>) -> ParseResult<Vec<Stsc>> {
    let (table, count) = entries(b, side, 12, "stsc")?;
    let mut v: Vec<Stsc> = super::lazy::fresh(count);
    table.each_block(|block| {
        v.extend(block.chunks_exact(12).map(|e| Stsc {
            first: i32::from_be_bytes([e[0], e[1], e[2], e[3]]),
            count: i32::from_be_bytes([e[4], e[5], e[6], e[7]]),
            id: i32::from_be_bytes([e[8], e[9], e[10], e[11]]),
        }));
        true
    })?;
    repair_stsc(&mut v);
    Ok(v)
}

/// FFmpeg's test of an `stsc` entry that needs repair.
fn stsc_invalid(v: &[Stsc], i: usize) -> bool {
    let e = v[i];
    (i + 1 < v.len() && e.first >= v[i + 1].first)
        || (i > 0 && e.first <= v[i - 1].first)
        || i64::from(e.first) < i as i64 + 1
        || e.count < 1
        || e.id < 1
}

/// FFmpeg's repair of invalid `stsc` entries, last to first.
fn repair_stsc(v: &mut Vec<Stsc>) {
    let mut i = v.len();
    while i > 0 {
        i -= 1;
        if !stsc_invalid(v, i) {
            continue;
        }
        if i + 1 >= v.len() {
            if v[i].count == 0 && i > 0 {
                v.truncate(i);
                continue;
            }
            let first_min = i32::try_from(i + 1).unwrap_or(i32::MAX);
            let mut e = v[i];
            e.first = e.first.max(first_min);
            if i > 0 && e.first <= v[i - 1].first {
                e.first = v[i - 1].first.saturating_add(1);
            }
            e.count = e.count.max(1);
            e.id = e.id.max(1);
            v[i] = e;
            continue;
        }
        let next = v[i + 1];
        v[i] = Stsc { first: next.first - 1, count: next.count, id: next.id };
    }
}

/// Sample sizes from `stsz` (its entries from `side` when they were read apart, 16 bits each),
/// or else `stz2`.
fn parse_sizes<'a>(
    stsz: Option<&'a [u8]>,
    side: Option<&'a SideTable>,
    stz2: Option<&'a [u8]>,
) -> ParseResult<Sizes<'a>> {
    if let Some(b) = stsz {
        let constant = be32(b, 4).ok_or_else(|| ParseError::new("corrupt stsz"))?;
        let count = be32(b, 8).ok_or_else(|| ParseError::new("corrupt stsz"))?;
        if constant > 0 {
            return Ok(Sizes { constant, table: &[], field_bits: 32, count });
        }
        let bytes = (count as usize).checked_mul(4).ok_or_else(|| ParseError::new("corrupt stsz"))?;
        let table = match side {
            Some(t) => t.table(count as usize),
            None => b.get(12..).and_then(|t| t.get(..bytes)),
        }
        .ok_or_else(|| ParseError::new("corrupt stsz: entries overrun the box"))?;
        let field_bits = side.map_or(32, |t| t.bits);
        return Ok(Sizes { constant: 0, table, field_bits, count });
    }
    if let Some(b) = stz2 {
        let field_bits = *b.get(7).ok_or_else(|| ParseError::new("corrupt stz2"))?;
        if !matches!(field_bits, 4 | 8 | 16) {
            return Err(ParseError::new(format!("invalid stz2 field size {field_bits}")));
        }
        let count = be32(b, 8).ok_or_else(|| ParseError::new("corrupt stz2"))?;
        let bytes = (u64::from(count) * u64::from(field_bits)).div_ceil(8);
        let table = b
            .get(12..)
            .and_then(|t| t.get(..bytes as usize))
            .ok_or_else(|| ParseError::new("corrupt stz2: entries overrun the box"))?;
        return Ok(Sizes { constant: 0, table, field_bits, count });
    }
    Ok(Sizes { constant: 0, table: &[], field_bits: 32, count: 0 })
}

/// Chunk offsets from `stco` (or else `co64`), each with its entries read apart when they were
/// (a `co64`'s then narrowed to 32 bits).
fn parse_chunks<'a>(
    stco: (Option<&'a [u8]>, Option<&'a SideTable>),
    co64: (Option<&'a [u8]>, Option<&'a SideTable>),
) -> ParseResult<Chunks<'a>> {
    if let (Some(b), side) = stco {
        let (table, count) = side_or_entry_table(b, side, 4, "stco")?;
        return Ok(Chunks { table, wide: false, count });
    }
    if let (Some(b), side) = co64 {
        let (table, count) = side_or_entry_table(b, side, 8, "co64")?;
        return Ok(Chunks { table, wide: side.is_none(), count });
    }
    Ok(Chunks { table: &[], wide: false, count: 0 })
}

/// Sync-sample state: `stss` (or its absence), `stps`, `rap ` sample groups.
pub(super) struct KeyState<'a> {
    /// `stss` entries.
    stss: &'a [u8],
    /// An `stss` box without entries: only the first sample (or every audio sample) is key.
    absent: bool,
    /// Current `stss` entry.
    stss_i: usize,
    /// Value of the current `stss` entry.
    stss_want: u32,
    /// `stps` entries.
    stps: &'a [u8],
    /// Current `stps` entry.
    stps_i: usize,
    /// Value of the current `stps` entry.
    stps_want: u32,
    /// 1 when the sync tables count from 1 (FFmpeg's `key_off`), else 0.
    key_off: u32,
    /// `rap ` group runs.
    rap: &'a [Run<u32>],
    /// Current run.
    rap_i: usize,
    /// Samples of the current run passed.
    rap_n: u32,
    /// An audio track.
    audio: bool,
}

impl<'a> KeyState<'a> {
    /// The sync-sample state of `t` at its first sample.
    pub(super) fn new(t: &'a Tables<'a>, kind: Kind) -> Self {
        let stss = t.stss.unwrap_or(&[]);
        let first = |b: &[u8]| be32(b, 0).unwrap_or(0) as i32;
        let key_off = (!stss.is_empty() && first(stss) > 0) || (!t.stps.is_empty() && first(t.stps) > 0);
        KeyState {
            stss,
            absent: t.stss.is_some_and(<[u8]>::is_empty),
            stss_i: 0,
            stss_want: be32(stss, 0).unwrap_or(0),
            stps: t.stps,
            stps_i: 0,
            stps_want: be32(t.stps, 0).unwrap_or(0),
            key_off: u32::from(key_off),
            rap: &t.rap,
            rap_i: 0,
            rap_n: 0,
            audio: kind == Kind::Audio,
        }
    }

    /// Key flag of sample `n`; `first` is the first sample of the first chunk.
    #[inline]
    pub(super) fn next(&mut self, n: u32, first: bool) -> bool {
        let want = n.wrapping_add(self.key_off);
        let mut key = false;
        if !self.absent && (self.stss.is_empty() || self.stss_want == want) {
            key = true;
            if (self.stss_i + 1) * 4 < self.stss.len() {
                self.stss_i += 1;
                self.stss_want = be32(self.stss, self.stss_i * 4).unwrap_or(0);
            }
        } else if !self.stps.is_empty() && self.stps_want == want {
            key = true;
            if (self.stps_i + 1) * 4 < self.stps.len() {
                self.stps_i += 1;
                self.stps_want = be32(self.stps, self.stps_i * 4).unwrap_or(0);
            }
        }
        if !self.rap.is_empty() {
            key |= self.next_rap();
        }
        if self.absent && self.stps.is_empty() && self.rap.is_empty() && (self.audio || first) {
            key = true;
        }
        key
    }

    /// Whether the next sample is in a `rap ` group.
    fn next_rap(&mut self) -> bool {
        let Some(run) = self.rap.get(self.rap_i) else { return false };
        self.rap_n = self.rap_n.wrapping_add(1);
        if self.rap_n == run.count {
            self.rap_n = 0;
            self.rap_i += 1;
        }
        run.value > 0
    }
}

/// `stts` walk exactly as FFmpeg does it (a run of count 0 is never left).
pub(super) struct SttsCursor<'a> {
    /// The runs.
    runs: &'a [Run<u32>],
    /// Current run.
    i: usize,
    /// Samples of the current run passed.
    n: u32,
}

impl<'a> SttsCursor<'a> {
    /// A cursor at the first sample of `runs`.
    pub(super) fn new(runs: &'a [Run<u32>]) -> Self {
        SttsCursor { runs, i: 0, n: 0 }
    }

    /// The duration of the next sample.
    #[inline]
    pub(super) fn next(&mut self) -> u32 {
        let d = self.runs.get(self.i).map_or(0, |r| r.value);
        self.n = self.n.wrapping_add(1);
        if self.i + 1 < self.runs.len() && self.n == self.runs[self.i].count {
            self.n = 0;
            self.i += 1;
        }
        d
    }
}

/// Expanded ctts walk over the raw entries: one offset per sample while the table lasts,
/// entries with a count ≤ 0 skipped.
pub(super) struct CttsCursor<'a> {
    /// The raw entries.
    table: &'a [u8],
    /// The entry read next.
    next_entry: usize,
    /// Samples left in the current entry.
    left: u32,
    /// The current entry's offset.
    value: i32,
}

impl<'a> CttsCursor<'a> {
    /// A cursor at the first sample of the raw entries `table`.
    pub(super) fn new(table: &'a [u8]) -> Self {
        CttsCursor { table, next_entry: 0, left: 0, value: 0 }
    }

    /// The composition offset of the next sample, `None` past the table.
    #[inline]
    pub(super) fn next(&mut self) -> Option<i32> {
        while self.left == 0 {
            let e = self.table.get(self.next_entry * 8..self.next_entry * 8 + 8)?;
            self.next_entry += 1;
            let n = i32::from_be_bytes([e[0], e[1], e[2], e[3]]);
            if n > 0 {
                self.left = n as u32;
                self.value = i32::from_be_bytes([e[4], e[5], e[6], e[7]]);
            }
        }
        self.left -= 1;
        Some(self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;

    #[test]
    fn empty_stss_means_only_the_first_video_sample_is_key() {
        let mut v = Spec::video(3);
        v.stss = Some(Vec::new());
        let ix = read_bytes(&file(&[v], 100, &[])).unwrap();
        let keys: Vec<bool> = ix.tracks[0].samples.iter().map(|s| s.key()).collect();
        assert_eq!(keys, vec![true, false, false]);
    }

    #[test]
    fn negative_ctts_shifts_dts() {
        let mut v = Spec::video(4);
        // FFmpeg ignores the last two entries for the shift.
        v.ctts = Some(vec![vec![1, 0], vec![1, (-512i32) as u32], vec![1, 0], vec![1, 0]]);
        let ix = read_bytes(&file(&[v], 100, &[])).unwrap();
        let ts: Vec<(i64, i64)> = ix.tracks[0].samples.iter().map(|s| (s.dts, s.pts())).collect();
        assert_eq!(ts, vec![(-512, 0), (0, 0), (512, 1024), (1024, 1536)]);
    }

    #[test]
    fn co64_and_stz2() {
        let mut v = Spec::video(3);
        v.sizes = Vec::new();
        v.chunks = Vec::new();
        v.extra_stbl =
            [full(b"stz2", 0, &[words(&[4, 3]), vec![0x12, 0x30]].concat()), counted(b"co64", 0, &[vec![0, 100]])]
                .concat();
        let mut f = file(&[v], 100, &[]);
        // drop the empty stsz / stco boxes: rename them so that they are ignored
        for name in [b"stsz", b"stco"] {
            let at = f.windows(4).position(|w| w == name).unwrap();
            f[at..at + 4].copy_from_slice(b"skip");
        }
        let ix = read_bytes(&f).unwrap();
        let got: Vec<(u64, u32)> = ix.tracks[0].samples.iter().map(|s| (s.pos, s.size())).collect();
        assert_eq!(got, vec![(100, 1), (101, 2), (103, 3)]);
    }
}
