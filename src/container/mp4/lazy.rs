//! Sample lists that are not built at open ([`LazySamples`]), and the random access to samples
//! the edit list is applied with ([`SampleAt`]); the size and chunk-offset tables ([`Sizes`],
//! [`Chunks`]) they read. Which tracks are read this way, and the checks made first, are in
//! `lazy_plan`. Any sample is found directly: its size from `stsz`, its chunk from `stsc`, its
//! time from the `stts` runs; a range of samples is built in one walk.

use std::ops::Range;
use std::sync::Arc;

use super::boxes::{be32, be64};
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

/// Chunks `first..end` (0-based) with `per` samples each, the first of them sample `before`.
#[derive(Clone, Copy, Debug)]
pub(super) struct ChunkRun {
    pub(super) first: usize,
    pub(super) end: usize,
    pub(super) per: u32,
    pub(super) before: u64,
}

/// Samples from `first` on last `dur` each, the first decoded at `dts` (the last run has no end).
#[derive(Clone, Copy, Debug)]
pub(super) struct DtsRun {
    pub(super) first: u64,
    pub(super) dts: i64,
    pub(super) dur: u32,
}

/// The tables of one track, kept to build its samples from.
pub(super) struct LazyTables {
    /// The `moov` payload the size and chunk tables are in.
    pub(super) moov: Arc<Vec<u8>>,
    /// Where the size table is in `moov`, its bits per entry and its count.
    pub(super) sizes_at: Range<usize>,
    pub(super) field_bits: u8,
    pub(super) size_count: u32,
    /// Where the chunk offsets are in `moov`, 64-bit or not, and their count.
    pub(super) chunks_at: Range<usize>,
    pub(super) wide: bool,
    pub(super) chunk_count: usize,
    /// The `stsc` entries as runs of chunks (empty runs left out).
    pub(super) chunk_runs: Vec<ChunkRun>,
    /// The `stts` runs as the walk reads them.
    pub(super) dts_runs: Vec<DtsRun>,
    /// Samples `mov_build_index` makes.
    pub(super) len: usize,
}

impl LazyTables {
    fn sizes(&self) -> Sizes<'_> {
        Sizes {
            constant: 0,
            table: &self.moov[self.sizes_at.clone()],
            field_bits: self.field_bits,
            count: self.size_count,
        }
    }

    fn chunks(&self) -> Chunks<'_> {
        Chunks { table: &self.moov[self.chunks_at.clone()], wide: self.wide, count: self.chunk_count }
    }

    /// The `stts` run of sample `k`.
    fn dts_run(&self, k: u64) -> usize {
        self.dts_runs.partition_point(|r| r.first <= k).saturating_sub(1)
    }

    /// DTS of sample `k` (before the edit list).
    pub(super) fn dts(&self, k: u64) -> i64 {
        let r = self.dts_runs[self.dts_run(k)];
        r.dts.wrapping_add(((k - r.first) as i64).wrapping_mul(i64::from(r.dur)))
    }

    /// Where sample `k` is: (chunk run, chunk, index in the chunk, byte position).
    fn locate(&self, k: u64, sizes: &Sizes<'_>, chunks: &Chunks<'_>) -> (usize, usize, u32, u64) {
        let e = self.chunk_runs.partition_point(|r| r.before <= k).saturating_sub(1);
        let run = self.chunk_runs[e];
        let into = k - run.before;
        let chunk = run.first + (into / u64::from(run.per)) as usize;
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
            let t = dts.wrapping_add(delta);
            out.push(Mp4Sample::new(pos, t, t, size, true));
            pos = pos.wrapping_add(u64::from(size));
            j += 1;
            if j == self.chunk_runs[e].per {
                j = 0;
                chunk += 1;
                if chunk == self.chunk_runs[e].end && e + 1 < self.chunk_runs.len() {
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
        Mp4Sample::new(pos, dts, dts, sizes.get(k as u32), true)
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
    pub fn dts(&self, i: usize) -> i64 {
        self.tables.dts(self.start + i as u64).wrapping_add(self.delta)
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

    /// Bytes of the tables held (the whole `moov` they are read from, shared by the tracks of
    /// the file).
    pub fn held_bytes(&self) -> usize {
        self.tables.moov.len() + (self.tables.chunk_runs.len() + self.tables.dts_runs.len()) * 24
    }
}
