//! Sample lists that are not built at open ([`LazySamples`]), and the random access to samples
//! the edit list is applied with ([`SampleAt`]); the size and chunk-offset tables ([`Sizes`],
//! [`Chunks`]) they read. Which tracks are read this way, and the checks made first, are in
//! `lazy_plan`. Any sample is found directly: its size from `stsz`, its chunk from `stsc`, its
//! time from the `stts` runs, a video sample's composition offset and sync flag from the kept
//! offsets and bitset; a range of samples is built in one walk. What the index needs of a whole
//! track (decode and presentation times, sync samples, a segment's bytes and earliest
//! presentation time, whether the reorder delay is constant) is read without building records.

use std::ops::Range;
use std::sync::Arc;

use super::boxes::{be32, be64};
use super::side::Kept;
use super::side::Part;
use crate::container::sample::SampleRec as Mp4Sample;

/// Random access to a track's samples as `mov_build_index` leaves them: a built list, or one
/// read from the sample tables on demand.
pub(super) trait SampleAt {
    /// Number of samples.
    fn count(&self) -> usize;
    /// Sample `k` (`k < count()`).
    fn at(&self, k: usize) -> Mp4Sample;
}

impl SampleAt for [Mp4Sample] {
    #[inline]
    fn count(&self) -> usize {
        self.len()
    }
    #[inline]
    fn at(&self, k: usize) -> Mp4Sample {
        self[k]
    }
}

/// Sample sizes: constant or a table of 4..32-bit fields.
#[derive(Clone, Copy, Debug)]
pub(super) struct Sizes<'a> {
    /// The constant size of every sample, 0 for a table.
    pub(super) constant: u32,
    /// The size table (`field_bits` per entry).
    pub(super) table: &'a [u8],
    /// Bits per table entry: 4, 8, 16 or 32.
    pub(super) field_bits: u8,
    /// Number of samples.
    pub(super) count: u32,
}

impl Sizes<'_> {
    /// The size of sample `i` from the table (0 past its end).
    #[inline]
    pub(super) fn get(&self, i: u32) -> u32 {
        let i = i as usize;
        let t = self.table;
        match self.field_bits {
            32 => t.get(i * 4..i * 4 + 4).map_or(0, |s| u32::from_be_bytes([s[0], s[1], s[2], s[3]])),
            16 => t.get(i * 2..i * 2 + 2).map_or(0, |s| u32::from(u16::from_be_bytes([s[0], s[1]]))),
            8 => t.get(i).map_or(0, |&b| u32::from(b)),
            _ => t.get(i / 2).map_or(0, |&b| u32::from(if i.is_multiple_of(2) { b >> 4 } else { b & 15 })),
        }
    }

    /// The sum and the largest of the sizes of samples `r` (0 for samples past the table).
    pub(super) fn sum_max(&self, r: Range<u64>) -> (u64, u32) {
        if self.field_bits == 32 {
            // The common table, read as one slice.
            let end = r.end.min(self.table.len() as u64 / 4) as usize;
            let start = (r.start as usize).min(end);
            return self.table[start * 4..end * 4].chunks_exact(4).fold((0u64, 0u32), |(sum, max), s| {
                let v = u32::from_be_bytes([s[0], s[1], s[2], s[3]]);
                (sum + u64::from(v), max.max(v))
            });
        }
        if self.field_bits == 16 {
            let end = r.end.min(self.table.len() as u64 / 2) as usize;
            let start = (r.start as usize).min(end);
            return self.table[start * 2..end * 2].chunks_exact(2).fold((0u64, 0u32), |(sum, max), s| {
                let v = u32::from(u16::from_be_bytes([s[0], s[1]]));
                (sum + u64::from(v), max.max(v))
            });
        }
        r.fold((0, 0), |(sum, max), k| {
            let v = self.get(k as u32);
            (sum + u64::from(v), max.max(v))
        })
    }
}

/// Chunk offsets (`stco` or `co64`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Chunks<'a> {
    /// The offset table.
    pub(super) table: &'a [u8],
    /// 64-bit offsets (`co64`).
    pub(super) wide: bool,
    /// Number of chunks.
    pub(super) count: usize,
}

impl Chunks<'_> {
    /// The offset of chunk `i` (0-based; 0 past the end).
    #[inline]
    pub(super) fn get(&self, i: usize) -> u64 {
        if self.wide {
            // FFmpeg: negative (as int64) offsets become 0.
            let v = be64(self.table, i * 8).unwrap_or(0);
            if v > i64::MAX as u64 {
                0
            } else {
                v
            }
        } else {
            u64::from(be32(self.table, i * 4).unwrap_or(0))
        }
    }
}

impl Chunks<'_> {
    /// The largest offset of chunks `r` (as [`Chunks::get`] reads them; 0 when empty).
    pub(super) fn max(&self, r: Range<usize>) -> u64 {
        if !self.wide {
            if let Some(t) = self.table.get(r.start * 4..r.end * 4) {
                return u64::from(
                    t.chunks_exact(4).fold(0u32, |m, s| m.max(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))),
                );
            }
        }
        r.map(|i| self.get(i)).max().unwrap_or(0)
    }
}

/// Chunks `first..end` (0-based) with `per` samples each, the first of them sample `before`
/// (`u32::MAX` when it is past every sample: a sample's index fits 32 bits). 16 bytes: a file
/// can have one run every few chunks.
#[derive(Clone, Copy, Debug)]
pub(super) struct ChunkRun {
    pub(super) first: u32,
    pub(super) end: u32,
    pub(super) per: u32,
    pub(super) before: u32,
}

/// Samples from `first` on last `dur` each, the first decoded at `dts` (the last run has no end).
#[derive(Clone, Copy, Debug)]
pub(super) struct DtsRun {
    pub(super) first: u64,
    pub(super) dts: i64,
    pub(super) dur: u32,
}

/// An empty vector with room for `n` items, its memory made present in one call
/// ([`memhint::populate`](crate::util::memhint::populate): a large table is not faulted in one
/// 4 KiB page at a time as it is written).
pub(super) fn fresh<T>(n: usize) -> Vec<T> {
    let v = Vec::with_capacity(n);
    crate::util::memhint::populate(&v);
    v
}

/// `fresh` memory holding a copy of `t`.
fn copied(t: &[u8]) -> Vec<u8> {
    let mut v = fresh(t.len());
    v.extend_from_slice(t);
    v
}

/// The low halves of the big-endian `WIDTH`-byte entries of `table`.
fn narrow<const WIDTH: usize>(table: &[u8]) -> Vec<u8> {
    let half = WIDTH / 2;
    let mut v = fresh(table.len() / WIDTH * half);
    v.resize(v.capacity(), 0);
    for (d, e) in v.chunks_exact_mut(half).zip(table.chunks_exact(WIDTH)) {
        d.copy_from_slice(&e[half..]);
    }
    v
}

/// A video track's composition offsets, one per sample (`ctts` expanded): as multiples of a
/// unit (its frame duration) in one byte each where every offset is one such multiple (a
/// quarter of the memory, and of what each pass over them reads), else as they are. Empty:
/// every offset is 0.
#[derive(Default)]
pub(super) struct Offsets {
    /// The unit of `narrow`.
    unit: i32,
    /// The offsets in units (empty when `full` is used).
    narrow: Vec<i8>,
    /// The offsets (empty when `narrow` is used).
    full: Vec<i32>,
}

impl Offsets {
    /// Offsets in units of `unit`.
    pub(super) fn narrow(v: Vec<i8>, unit: i32) -> Offsets {
        Offsets { unit, narrow: v, full: Vec::new() }
    }

    /// Offsets as they are.
    pub(super) fn full(v: Vec<i32>) -> Offsets {
        Offsets { unit: 1, narrow: Vec::new(), full: v }
    }

    /// Number of offsets.
    pub(super) fn len(&self) -> usize {
        self.narrow.len() + self.full.len()
    }

    /// No offset listed (every one is 0).
    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keeps the first `n`.
    pub(super) fn truncate(&mut self, n: usize) {
        self.narrow.truncate(n);
        self.full.truncate(n);
    }

    /// Every offset is 0.
    pub(super) fn all_zero(&self) -> bool {
        self.narrow.iter().all(|&c| c == 0) && self.full.iter().all(|&c| c == 0)
    }

    /// Offset `k` (`None` past the list).
    #[inline]
    pub(super) fn get(&self, k: usize) -> Option<i32> {
        if self.full.is_empty() {
            self.narrow.get(k).map(|&c| i32::from(c) * self.unit)
        } else {
            self.full.get(k).copied()
        }
    }

    /// `f` folded over offsets `r` in order, stopping at its first error; `None` when `r` is
    /// not inside the list.
    #[inline(always)]
    pub(super) fn try_fold<B, E>(
        &self,
        r: Range<usize>,
        init: B,
        f: impl FnMut(B, i64) -> Result<B, E>,
    ) -> Option<Result<B, E>> {
        struct Fold<B, F>(B, F);
        impl<B, E, F: FnMut(B, i64) -> Result<B, E>> OffsetWalk for Fold<B, F> {
            type Out = Result<B, E>;
            #[inline(always)]
            fn walk(self, offsets: impl Iterator<Item = i64>) -> Result<B, E> {
                let Fold(mut b, mut f) = self;
                for c in offsets {
                    b = f(b, c)?;
                }
                Ok(b)
            }
        }
        self.walk(r, Fold(init, f))
    }

    /// `w` walked over offsets `r` in order (one loop for each way they are kept); `None` when
    /// `r` is not inside the list.
    #[inline]
    pub(super) fn walk<W: OffsetWalk>(&self, r: Range<usize>, w: W) -> Option<W::Out> {
        if self.full.is_empty() {
            Some(w.walk_units(self.narrow.get(r)?, i64::from(self.unit)))
        } else {
            Some(w.walk(self.full.get(r)?.iter().map(|&c| i64::from(c))))
        }
    }

    /// Bytes held.
    fn bytes(&self) -> usize {
        self.narrow.len() + self.full.len() * 4
    }
}

/// [`Offsets`] built one `ctts` entry at a time, for the first `count` samples: in units while
/// every offset is a multiple of the unit that fits a byte, as they are from the first that is
/// not (the ones before converted).
pub(super) struct OffsetsBuilder {
    count: usize,
    /// The unit; `None`: kept as they are.
    unit: Option<i32>,
    narrow: Vec<i8>,
    full: Vec<i32>,
    /// (A file has a few distinct offsets: their divisions are remembered.)
    memo: [Option<(i32, i8)>; 16],
}

impl OffsetsBuilder {
    /// A builder for `count` samples, in units of `unit` where it can.
    pub(super) fn new(count: usize, unit: Option<i32>) -> OffsetsBuilder {
        let unit = unit.filter(|&u| u > 0);
        let (narrow, full) = if unit.is_some() { (fresh(count), Vec::new()) } else { (Vec::new(), fresh(count)) };
        OffsetsBuilder { count, unit, narrow, full, memo: [None; 16] }
    }

    /// Offsets built so far.
    fn len(&self) -> usize {
        self.narrow.len() + self.full.len()
    }

    /// `c` in units, when it is a multiple that fits a byte.
    #[inline]
    fn units(&mut self, c: i32, unit: i32) -> Option<i8> {
        let slot = &mut self.memo[Self::slot(c)];
        match *slot {
            Some((seen, q)) if seen == c => Some(q),
            _ => {
                let q = i8::try_from(c / unit).ok().filter(|_| c % unit == 0)?;
                *slot = Some((c, q));
                Some(q)
            }
        }
    }

    /// The next `n` samples have the offset `c` (past `count`: ignored).
    #[inline(always)]
    pub(super) fn push(&mut self, n: usize, c: i32) {
        // (The common entry: one sample, an offset seen before, kept in units.)
        if n == 1 && self.unit.is_some() && self.narrow.len() < self.count {
            if let Some((seen, q)) = self.memo[Self::slot(c)] {
                if seen == c {
                    self.narrow.push(q);
                    return;
                }
            }
        }
        self.push_any(n, c);
    }

    /// The memo slot of offset `c`.
    #[inline(always)]
    fn slot(c: i32) -> usize {
        ((c as u32).wrapping_mul(0x9E37_79B9) >> 28) as usize
    }

    /// [`OffsetsBuilder::push`], any entry.
    #[inline(never)]
    fn push_any(&mut self, n: usize, c: i32) {
        let take = n.min(self.count - self.len());
        if take == 0 {
            return;
        }
        if let Some(unit) = self.unit {
            if let Some(q) = self.units(c, unit) {
                if take == 1 {
                    self.narrow.push(q);
                } else {
                    self.narrow.extend(std::iter::repeat_n(q, take));
                }
                return;
            }
            // Kept as they are from here on.
            self.full = fresh(self.count);
            self.full.extend(self.narrow.iter().map(|&q| i32::from(q) * unit));
            self.narrow = Vec::new();
            self.unit = None;
        }
        if take == 1 {
            self.full.push(c);
        } else {
            self.full.extend(std::iter::repeat_n(c, take));
        }
    }

    /// The offsets, when there is one for each of the `count` samples.
    pub(super) fn finish(self) -> Option<Offsets> {
        (self.len() == self.count).then(|| match self.unit {
            Some(unit) => Offsets::narrow(self.narrow, unit),
            None => Offsets::full(self.full),
        })
    }
}

/// A walk over composition offsets ([`Offsets::walk`]).
pub(super) trait OffsetWalk {
    /// What the walk finds.
    type Out;
    /// Walks `offsets`, in order.
    fn walk(self, offsets: impl Iterator<Item = i64>) -> Self::Out;
    /// Walks the offsets `units` × `unit`, in order (what [`OffsetWalk::walk`] does of them
    /// unless the walk knows better).
    #[inline]
    fn walk_units(self, units: &[i8], unit: i64) -> Self::Out
    where
        Self: Sized,
    {
        self.walk(units.iter().map(|&c| i64::from(c) * unit))
    }
}

/// The tables of one track, kept to build its samples from: copies of its own size and chunk
/// tables (the `moov` they were read from is freed after the open).
pub(super) struct LazyTables {
    /// The size table (big-endian, `field_bits` per entry), 32-bit entries that all fit 16
    /// bits stored as 16-bit ones (the memory it was read into when it was read apart from the
    /// moov, else a copy); its count.
    sizes: Part,
    field_bits: u8,
    size_count: u32,
    /// The chunk offsets (big-endian), 64-bit or not (`co64` offsets that all fit 32 bits
    /// stored as 32-bit ones; kept as `sizes`); their count.
    chunks: Part,
    wide: bool,
    chunk_count: usize,
    /// The `stsc` entries as runs of chunks (empty runs left out).
    chunk_runs: Vec<ChunkRun>,
    /// The `stts` runs as the walk reads them.
    dts_runs: Vec<DtsRun>,
    /// Samples `mov_build_index` makes.
    len: usize,
    /// Composition offsets, one per sample (`ctts` expanded); empty: every offset is 0.
    cto: Offsets,
    /// Sync samples, one bit per sample (`stss`); empty: every sample is a sync sample.
    keys: Box<[u64]>,
}

impl LazyTables {
    /// The tables of a track: `sizes` and `chunks` kept where they lie when `kept` has them
    /// (they were read apart from the moov, already narrowed: see `side`), else copied
    /// (narrowed where every entry fits); the runs and `len` as `lazy_plan` found them;
    /// `size_bits`: every entry of the size table OR-ed together when the caller knows it (else
    /// the table is read here).
    pub(super) fn new(
        sizes: &Sizes<'_>,
        chunks: &Chunks<'_>,
        kept: &Kept,
        runs: (Vec<ChunkRun>, Vec<DtsRun>),
        len: usize,
        size_bits: Option<u32>,
    ) -> LazyTables {
        let (chunk_runs, dts_runs) = runs;
        let small = |t: &[u8]| match size_bits {
            Some(bits) => bits <= u32::from(u16::MAX),
            None => t.chunks_exact(4).all(|s| s[0] == 0 && s[1] == 0),
        };
        let (size_table, field_bits) = match &kept.sizes {
            Some(k) => (k.clone(), sizes.field_bits),
            None if sizes.field_bits == 32 && small(sizes.table) => (Part::of(narrow::<4>(sizes.table)), 16),
            None => (Part::of(copied(sizes.table)), sizes.field_bits),
        };
        // A `co64` offset is read as is when it fits 32 bits (0 if negative as an i64 otherwise).
        let (chunk_table, wide) = match &kept.chunks {
            Some(k) => (k.clone(), chunks.wide),
            None if chunks.wide && chunks.table.chunks_exact(8).all(|s| s[..4] == [0; 4]) => {
                (Part::of(narrow::<8>(chunks.table)), false)
            }
            None => (Part::of(copied(chunks.table)), chunks.wide),
        };
        LazyTables {
            sizes: size_table,
            field_bits,
            size_count: sizes.count,
            chunks: chunk_table,
            wide,
            chunk_count: chunks.count,
            chunk_runs,
            dts_runs,
            len,
            cto: Offsets::default(),
            keys: Box::default(),
        }
    }

    /// The tables of a video track: [`LazyTables::new`], with one composition offset per
    /// sample (`cto`, empty for none) and its sync samples as a bitset (`keys`).
    pub(super) fn with_video(mut self, cto: Offsets, keys: Vec<u64>) -> LazyTables {
        self.cto = cto;
        self.keys = keys.into_boxed_slice();
        self
    }

    /// Composition offset of sample `k`, as the built record holds it.
    #[inline]
    fn cto(&self, k: u64) -> i32 {
        self.cto.get(k as usize).unwrap_or(0)
    }

    /// The decode times as one run (first, step) when they are one `stts` run.
    pub(super) fn dts_step(&self) -> Option<(i64, i64)> {
        match self.dts_runs[..] {
            [r] if r.first == 0 => Some((r.dts, i64::from(r.dur))),
            _ => None,
        }
    }

    /// The composition offsets, one per sample (empty: all 0).
    pub(super) fn cto_table(&self) -> &Offsets {
        &self.cto
    }

    /// Whether sample `k` is a sync sample.
    #[inline]
    pub(super) fn key(&self, k: u64) -> bool {
        self.keys.is_empty() || self.keys.get((k / 64) as usize).is_some_and(|w| w >> (k % 64) & 1 == 1)
    }

    /// The record of sample `k` at `pos` (`size` bytes), decoded at `dts` (raw) moved by `delta`:
    /// the built list's record (its presentation time saturated as `mov_build_index` does it,
    /// the composition offset kept through the edit list).
    #[inline(always)]
    fn record(&self, k: u64, pos: u64, dts: i64, size: u32, delta: i64) -> Mp4Sample {
        let c = self.cto(k);
        if c == 0 {
            let t = dts.wrapping_add(delta);
            return Mp4Sample::new(pos, t, t, size, self.key(k));
        }
        Mp4Sample::new(pos, dts, dts.saturating_add(i64::from(c)), size, self.key(k)).at_dts(dts.wrapping_add(delta))
    }

    fn sizes(&self) -> Sizes<'_> {
        Sizes { constant: 0, table: &self.sizes, field_bits: self.field_bits, count: self.size_count }
    }

    fn chunks(&self) -> Chunks<'_> {
        Chunks { table: &self.chunks, wide: self.wide, count: self.chunk_count }
    }

    /// Bytes held: the copied tables and the runs.
    fn held_bytes(&self) -> usize {
        self.sizes.len()
            + self.chunks.len()
            + self.cto.bytes()
            + self.keys.len() * 8
            + self.chunk_runs.len() * std::mem::size_of::<ChunkRun>()
            + self.dts_runs.len() * std::mem::size_of::<DtsRun>()
    }

    /// The `stts` run of sample `k`.
    #[inline]
    fn dts_run(&self, k: u64) -> usize {
        self.dts_runs.partition_point(|r| r.first <= k).saturating_sub(1)
    }

    /// DTS of sample `k` (before the edit list).
    #[inline]
    pub(super) fn dts(&self, k: u64) -> i64 {
        let r = if self.dts_runs.len() == 1 { self.dts_runs[0] } else { self.dts_runs[self.dts_run(k)] };
        r.dts.wrapping_add(((k - r.first) as i64).wrapping_mul(i64::from(r.dur)))
    }

    /// Where sample `k` is: (chunk run, chunk, index in the chunk, byte position).
    fn locate(&self, k: u64, sizes: &Sizes<'_>, chunks: &Chunks<'_>) -> (usize, usize, u32, u64) {
        let e = self.chunk_runs.partition_point(|r| u64::from(r.before) <= k).saturating_sub(1);
        let run = self.chunk_runs[e];
        let into = k - u64::from(run.before);
        let chunk = run.first as usize + (into / u64::from(run.per)) as usize;
        let j = (into % u64::from(run.per)) as u32;
        let mut pos = chunks.get(chunk);
        for i in k - u64::from(j)..k {
            pos = pos.wrapping_add(u64::from(sizes.get(i as u32)));
        }
        (e, chunk, j, pos)
    }

    /// Appends samples `r` (before the edit list), their times moved by `delta`.
    fn extend(&self, r: Range<u64>, delta: i64, out: &mut Vec<Mp4Sample>) {
        if r.is_empty() {
            return;
        }
        let (sizes, chunks) = (self.sizes(), self.chunks());
        let (mut e, mut chunk, mut j, mut pos) = self.locate(r.start, &sizes, &chunks);
        let mut run = self.dts_run(r.start);
        let mut dts = self.dts(r.start);
        out.reserve((r.end - r.start) as usize);
        for k in r {
            let size = sizes.get(k as u32);
            out.push(self.record(k, pos, dts, size, delta));
            pos = pos.wrapping_add(u64::from(size));
            j += 1;
            if j == self.chunk_runs[e].per {
                j = 0;
                chunk += 1;
                if chunk == self.chunk_runs[e].end as usize && e + 1 < self.chunk_runs.len() {
                    e += 1;
                }
                pos = chunks.get(chunk);
            }
            dts = dts.wrapping_add(i64::from(self.dts_runs[run].dur));
            if self.dts_runs.get(run + 1).is_some_and(|n| n.first == k + 1) {
                run += 1;
            }
        }
    }
}

/// Raw samples (before the edit list) by index, for `mov_fix_index`.
pub(super) struct Raw<'a>(pub(super) &'a LazyTables);

impl SampleAt for Raw<'_> {
    fn count(&self) -> usize {
        self.0.len
    }
    fn at(&self, k: usize) -> Mp4Sample {
        let t = self.0;
        let (sizes, chunks) = (t.sizes(), t.chunks());
        let (_, _, _, pos) = t.locate(k as u64, &sizes, &chunks);
        let dts = t.dts(k as u64);
        t.record(k as u64, pos, dts, sizes.get(k as u32), 0)
    }
}

/// Raw samples' times and sync flags (position and size 0), for the edit list's walk, which
/// reads nothing else of them.
pub(super) struct RawTimes<'a>(pub(super) &'a LazyTables);

impl SampleAt for RawTimes<'_> {
    fn count(&self) -> usize {
        self.0.len
    }
    #[inline(always)]
    fn at(&self, k: usize) -> Mp4Sample {
        self.0.record(k as u64, 0, self.0.dts(k as u64), 0, 0)
    }
}

/// A track's samples read from its sample tables on demand: the same records as the built list,
/// none of them held. Cheap to clone (the tables are shared).
#[derive(Clone)]
pub struct LazySamples {
    tables: Arc<LazyTables>,
    /// Sample 0 is this sample of `mov_build_index`'s list.
    start: u64,
    /// Number of samples.
    len: usize,
    /// Added to every sample's decode and presentation time (the edit list).
    delta: i64,
}

impl std::fmt::Debug for LazySamples {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LazySamples({} samples from {}, delta {})", self.len, self.start, self.delta)
    }
}

impl LazySamples {
    /// Samples `start..start + len` of `tables`, their times moved by `delta`.
    pub(super) fn new(tables: Arc<LazyTables>, start: u64, len: usize, delta: i64) -> LazySamples {
        LazySamples { tables, start, len, delta }
    }

    /// Number of samples.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// No sample.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sample `i`.
    pub fn get(&self, i: usize) -> Option<Mp4Sample> {
        (i < self.len).then(|| {
            let mut s = Raw(&self.tables).at(self.start as usize + i);
            s.dts = s.dts.wrapping_add(self.delta);
            s
        })
    }

    /// Decode time of sample `i` (`i < len`): cheaper than [`LazySamples::get`].
    #[inline]
    pub fn dts(&self, i: usize) -> i64 {
        self.tables.dts(self.start + i as u64).wrapping_add(self.delta)
    }

    /// Presentation time of sample `i` (`i < len`).
    #[inline]
    pub fn pts(&self, i: usize) -> i64 {
        let k = self.start + i as u64;
        let c = self.tables.cto(k);
        let dts = self.tables.dts(k);
        let moved = dts.wrapping_add(self.delta);
        if c == 0 {
            return moved;
        }
        // As the record holds it: the offset kept through the edit list, then added saturating.
        let cto = dts.saturating_add(i64::from(c)).wrapping_sub(dts) as i32;
        moved.saturating_add(i64::from(cto))
    }

    /// The earliest presentation time of samples `r` (`None` when empty): the smallest
    /// [`LazySamples::pts`], found in one pass over the composition offsets when the decode
    /// times are one `stts` run and far from the ends of the 64-bit range (no time saturates).
    pub fn min_pts(&self, r: Range<usize>) -> Option<i64> {
        let end = r.end.min(self.len);
        if r.start >= end {
            return None;
        }
        const SANE: i64 = 1 << 60;
        let (first, last) = (self.dts(r.start), self.dts(end - 1));
        let from = self.start as usize + r.start;
        // (The times before the edit list too: the offsets were added to those.)
        let raw = [self.tables.dts(from as u64), self.tables.dts((from + end - r.start - 1) as u64)];
        let sane = [first, last, raw[0], raw[1]].iter().all(|t| t.abs() < SANE);
        let earliest = |step: i64| {
            let (_, rel) = self
                .tables
                .cto
                .try_fold(from..from + (end - r.start), (0i64, i64::MAX), |(t, min), c| {
                    Ok::<_, ()>((t + step, min.min(t + c)))
                })?
                .ok()?;
            Some(first + rel)
        };
        match self.tables.dts_step() {
            Some((_, step)) if sane => earliest(step).or_else(|| (r.start..end).map(|i| self.pts(i)).min()),
            _ => (r.start..end).map(|i| self.pts(i)).min(),
        }
    }

    /// The step between consecutive decode times when they are one `stts` run.
    pub fn dts_step(&self) -> Option<i64> {
        self.tables.dts_step().map(|(_, step)| step)
    }

    /// Whether sample `i` is a sync sample (`i < len`).
    #[inline]
    pub fn key(&self, i: usize) -> bool {
        self.tables.key(self.start + i as u64)
    }

    /// Whether the presentation times are the decode times plus the first sample's offset `d`,
    /// each taken once and at most `max_distance` samples from its own, with `d` the smallest
    /// delay that presents no sample before it is decoded: what a walk over the samples decides
    /// (`collect::delay_known_constant`), found here in one pass over the composition offsets
    /// when the decode times are one `stts` run (sample `i` at `dts(0) + i·step`: the sample
    /// presented at its offset `c` is the one `(c - d) / step` places away). `None` otherwise
    /// (the caller walks).
    pub fn constant_delay(&self, max_distance: usize) -> Option<bool> {
        let t = &self.tables;
        let n = self.len;
        let [run] = t.dts_runs[..] else { return None };
        let step = i64::from(run.dur);
        let (first, last) = (self.dts(0), self.dts(n.checked_sub(1)?));
        const SANE: i64 = 1 << 60;
        if n < 2 || first.abs() > SANE || last.abs() > SANE {
            return None;
        }
        if step == 0 {
            return Some(false);
        }
        let start = self.start as usize;
        let Some(d) = t.cto.get(start).filter(|_| start + n <= t.cto.len()).map(i64::from) else { return Some(true) };
        let walk = ReorderWalk { d, step, n, max_distance };
        Some(t.cto.walk(start..start + n, walk) == Some(Some(true)))
    }

    /// The sync samples from `from` on, ascending.
    pub fn keys_from(&self, from: usize) -> impl Iterator<Item = usize> + '_ {
        let (start, len) = (self.start, self.len);
        let words = &self.tables.keys;
        let all = words.is_empty();
        let first = start + from.min(len) as u64;
        let end = start + len as u64;
        let mut k = first;
        std::iter::from_fn(move || {
            if all {
                let i = (k < end).then_some((k - start) as usize);
                k += 1;
                return i;
            }
            while k < end {
                let w = words.get((k / 64) as usize).copied().unwrap_or(0) >> (k % 64);
                if w == 0 {
                    k = (k / 64 + 1) * 64;
                    continue;
                }
                k += u64::from(w.trailing_zeros());
                if k >= end {
                    return None;
                }
                let i = (k - start) as usize;
                k += 1;
                return Some(i);
            }
            None
        })
    }

    /// Appends samples `r` (clamped to the list) to `out`.
    pub fn extend_range(&self, r: Range<usize>, out: &mut Vec<Mp4Sample>) {
        let end = r.end.min(self.len);
        let start = r.start.min(end);
        self.tables.extend(self.start + start as u64..self.start + end as u64, self.delta, out);
    }

    /// Every sample, built.
    pub fn to_vec(&self) -> Vec<Mp4Sample> {
        let mut v = Vec::new();
        self.extend_range(0..self.len, &mut v);
        v
    }

    /// Bytes of samples `r` (clamped to the list).
    pub fn bytes(&self, r: Range<usize>) -> u64 {
        let end = r.end.min(self.len);
        let start = r.start.min(end);
        self.tables.sizes().sum_max(self.start + start as u64..self.start + end as u64).0
    }

    /// Drops the first `n` samples.
    pub fn skip(&mut self, n: usize) {
        let n = n.min(self.len);
        self.start += n as u64;
        self.len -= n;
    }

    /// Bytes of the tables held (the track's own size and chunk tables, copied, and its runs).
    pub fn held_bytes(&self) -> usize {
        self.tables.held_bytes()
    }
}

/// [`LazySamples::constant_delay`]'s walk: the offsets of `n` samples decoded `step` apart,
/// the first `d`. `Some(true)`: constant; `Some(false)`: every place taken once, but the
/// smallest offset is not 0; `None`: not (a place off the grid, too far, or taken twice).
struct ReorderWalk {
    d: i64,
    step: i64,
    n: usize,
    max_distance: usize,
}

impl OffsetWalk for ReorderWalk {
    type Out = Option<bool>;
    /// Offsets in units of the decode step (`d` one of them): sample `i` is presented in the
    /// place `i + units[i] - units[0]`, no division needed.
    fn walk_units(self, units: &[i8], unit: i64) -> Option<bool> {
        let ReorderWalk { step, n, max_distance, .. } = self;
        if unit != step || units.len() != n || n < 2 {
            return self.walk(units.iter().map(|&c| i64::from(c) * unit));
        }
        let ring_len = (2 * max_distance + 1).next_power_of_two();
        let mut ring = vec![0u64; ring_len];
        let (first, mut min) = (i64::from(units[0]), i64::MAX);
        for (i, &u) in units.iter().enumerate() {
            let places = i64::from(u) - first;
            let j = i as i64 + places;
            if places.unsigned_abs() > max_distance as u64 || j < 0 || j >= n as i64 {
                return None;
            }
            let taken = &mut ring[j as usize & (ring_len - 1)];
            if *taken == j as u64 + 1 {
                return None;
            }
            *taken = j as u64 + 1;
            min = min.min(i64::from(u));
        }
        Some(min == 0)
    }

    fn walk(self, offsets: impl Iterator<Item = i64>) -> Option<bool> {
        let ReorderWalk { d, step, n, max_distance } = self;
        // Sample `i` is presented in the place of sample `j`, at most `max_distance` away: two
        // samples in the same place are found in a ring of places longer than twice that (no
        // other place of the same slot can be taken in between). A slot holds its place + 1.
        let ring_len = (2 * max_distance + 1).next_power_of_two();
        let mut ring = vec![0u64; ring_len];
        let mut min = i64::MAX;
        // (A file has a few distinct offsets: their divisions are remembered.)
        let mut memo = [(i64::MIN, 0i64); 16];
        for (i, ci) in offsets.enumerate() {
            let q = ci - d;
            let slot = &mut memo[((q as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60) as usize];
            let places = if slot.0 == q {
                slot.1
            } else if q % step != 0 || (q / step).unsigned_abs() > max_distance as u64 {
                return None;
            } else {
                *slot = (q, q / step);
                q / step
            };
            let j = i as i64 + places;
            if j < 0 || j >= n as i64 {
                return None;
            }
            let taken = &mut ring[j as usize & (ring_len - 1)];
            if *taken == j as u64 + 1 {
                return None;
            }
            *taken = j as u64 + 1;
            min = min.min(ci);
        }
        Some(min == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(sizes: &[u8], bits: u8, chunks: &[u8], wide: bool) -> LazyTables {
        let n = (sizes.len() * 8 / usize::from(bits)) as u32;
        let s = Sizes { constant: 0, table: sizes, field_bits: bits, count: n };
        let c = Chunks { table: chunks, wide, count: chunks.len() / if wide { 8 } else { 4 } };
        LazyTables::new(&s, &c, &Kept::default(), (Vec::new(), Vec::new()), 0, None)
    }

    #[test]
    fn kept_copies_of_the_tables_read_the_same_sizes_and_offsets_as_the_tables() {
        let small: Vec<u8> = [7u32, 65535, 0, 300].iter().flat_map(|v| v.to_be_bytes()).collect();
        let large: Vec<u8> = [7u32, 65536, 0, 300].iter().flat_map(|v| v.to_be_bytes()).collect();
        let near: Vec<u8> = [100u64, u64::from(u32::MAX)].iter().flat_map(|v| v.to_be_bytes()).collect();
        let far: Vec<u8> = [100u64, 1 << 32, u64::MAX].iter().flat_map(|v| v.to_be_bytes()).collect();
        for (sizes, chunks, narrowed) in [(&small, &near, true), (&large, &far, false)] {
            let t = kept(sizes, 32, chunks, true);
            // 16-bit sizes and 32-bit offsets when every entry fits, the tables as they are otherwise.
            assert_eq!((t.field_bits == 16, !t.wide), (narrowed, narrowed));
            let s = Sizes { constant: 0, table: sizes, field_bits: 32, count: 4 };
            let c = Chunks { table: chunks, wide: true, count: chunks.len() / 8 };
            for i in 0..6 {
                assert_eq!(t.sizes().get(i), s.get(i), "size {i}");
                assert_eq!(t.chunks().get(i as usize), c.get(i as usize), "chunk {i}");
            }
            for r in [0..4, 1..3, 2..9, 5..7] {
                assert_eq!(t.sizes().sum_max(r.clone()), s.sum_max(r));
            }
            assert_eq!(t.held_bytes(), if narrowed { 8 + 8 } else { 16 + 24 });
        }
        // A negative (as an i64) co64 offset reads 0 either way.
        assert_eq!(kept(&large, 32, &far, true).chunks().get(2), 0);
        // 16-, 8- and 4-bit tables are kept as they are.
        let t = kept(&[0x12, 0x34, 0xab], 4, &[0, 0, 1, 0], false);
        assert_eq!((0..7).map(|i| t.sizes().get(i)).collect::<Vec<_>>(), [1, 2, 3, 4, 10, 11, 0]);
    }
}
