//! Output segments, the per-sample records they are cut from, and [`SampleTable`], a track's
//! records held in memory or read in place from a persisted index file.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

/// One output segment of a track.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// First source decode timestamp of the segment (source time base).
    pub src_start: i64,
    /// Source decode timestamp where the next segment starts (exclusive end).
    pub src_end: i64,
    /// Number of samples (for transcoded tracks: AAC frames).
    pub samples: u32,
    /// Index of the segment's first sample in the track's decode order.
    pub first: u32,
    /// Presentation timestamp of the first sample (identifies it when the index is not exact).
    pub start_pts: i64,
    /// `tfdt` of the segment in the output timescale.
    pub out_start: u64,
    /// Sum of the segment's sample durations in the output timescale.
    pub out_duration: u64,
    /// Bytes of the fMP4 media segment (estimated from the bitrate for transcoded tracks).
    pub bytes: u64,
    /// Matroska planned from Cues: byte offset of the cluster where the segment's first
    /// sample is found (0 otherwise).
    pub cluster: u64,
}

pub use crate::container::sample::SampleRec;

use crate::container::mp4::LazySamples;

/// Records per checksummed block of a table read in place (96 KiB).
pub const TABLE_BLOCK_RECORDS: usize = 4096;

/// Bytes of one [`SampleRec`] as stored.
pub const SAMPLE_REC_BYTES: usize = std::mem::size_of::<SampleRec>();

/// The bytes a persisted index is read from (a memory map of the index file, or a buffer).
pub type SharedBytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// A persisted table failed its checksum: the index file is damaged (the media must be indexed
/// again).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableDamaged;

/// The records of one track, in decode order: built in memory by indexing, read in place (no
/// copy) from a persisted index, where each block of [`TABLE_BLOCK_RECORDS`] records is checked
/// against its checksum the first time it is used, or built from an MP4's sample tables one
/// segment at a time, when the segment is first read ([`SampleTable::lazy`]).
pub struct SampleTable {
    repr: Repr,
}

enum Repr {
    Owned(Vec<SampleRec>),
    Mapped(Mapped),
    Lazy(Box<Lazy>),
}

/// Records built from the sample tables when first asked for: a segment's at a time (a range
/// inside one segment), else all of them.
struct Lazy {
    samples: LazySamples,
    /// The first record of each segment, ascending.
    firsts: Vec<usize>,
    /// Each segment's records, once built.
    segments: Vec<OnceLock<Box<[SampleRec]>>>,
    /// Every record, once a range across segments was asked for.
    all: OnceLock<Box<[SampleRec]>>,
}

impl Lazy {
    fn range(&self, r: Range<usize>) -> &[SampleRec] {
        if r.is_empty() {
            return &[];
        }
        let s = self.firsts.partition_point(|&f| f <= r.start);
        if s > 0 {
            let first = self.firsts[s - 1];
            let end = self.firsts.get(s).copied().unwrap_or(self.samples.len());
            if r.end <= end {
                let recs = self.segments[s - 1].get_or_init(|| {
                    let mut v = Vec::with_capacity(end - first);
                    self.samples.extend_range(first..end, &mut v);
                    v.into_boxed_slice()
                });
                return &recs[r.start - first..r.end - first];
            }
        }
        &self.all.get_or_init(|| self.samples.to_vec().into_boxed_slice())[r]
    }
}

struct Mapped {
    bytes: SharedBytes,
    /// The records (`len` of them, aligned) start at this byte of `bytes`.
    offset: usize,
    len: usize,
    /// `xxh3-64` of each block's bytes.
    sums: Vec<u64>,
    /// Blocks already checked.
    checked: Vec<AtomicBool>,
    /// A block failed its checksum.
    damaged: AtomicBool,
}

impl From<Vec<SampleRec>> for SampleTable {
    fn from(v: Vec<SampleRec>) -> SampleTable {
        SampleTable { repr: Repr::Owned(v) }
    }
}

impl std::fmt::Debug for SampleTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = match self.repr {
            Repr::Owned(_) => "owned",
            Repr::Mapped(_) => "mapped",
            Repr::Lazy(_) => "built per segment",
        };
        write!(f, "SampleTable({} records, {how})", self.len())
    }
}

/// A table is persisted beside the serialized index (stored as its raw records, read in place):
/// in the serialized part it is a placeholder that the reader replaces.
impl Serialize for SampleTable {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_unit()
    }
}

impl<'de> Deserialize<'de> for SampleTable {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<SampleTable, D::Error> {
        <()>::deserialize(d).map(|()| SampleTable::from(Vec::new()))
    }
}

/// The checksum of each block of `records`' bytes (as [`SampleTable::mapped`] checks them).
pub fn block_sums(bytes: &[u8]) -> Vec<u64> {
    bytes.chunks(TABLE_BLOCK_RECORDS * SAMPLE_REC_BYTES).map(xxhash_rust::xxh3::xxh3_64).collect()
}

impl SampleTable {
    /// A table whose records are built from an MP4's sample tables when they are first read:
    /// those of one segment (`firsts`: the first record of each segment, ascending) when a range
    /// inside it is asked for, else all of them.
    pub fn lazy(samples: LazySamples, firsts: Vec<usize>) -> SampleTable {
        let segments = firsts.iter().map(|_| OnceLock::new()).collect();
        SampleTable { repr: Repr::Lazy(Box::new(Lazy { samples, firsts, segments, all: OnceLock::new() })) }
    }

    /// A table read in place: `len` records at `offset` of `bytes`, with one checksum per block.
    /// `None` when they do not fit in `bytes`, the block count is wrong, or they cannot be read
    /// in place (misaligned, or a big-endian machine): the caller copies them instead.
    pub fn mapped(bytes: SharedBytes, offset: usize, len: usize, sums: Vec<u64>) -> Option<SampleTable> {
        let size = len.checked_mul(SAMPLE_REC_BYTES)?;
        let all = (*bytes).as_ref();
        let region = all.get(offset..offset.checked_add(size)?)?;
        let aligned = (region.as_ptr() as usize).is_multiple_of(std::mem::align_of::<SampleRec>());
        if !aligned || cfg!(target_endian = "big") || sums.len() != len.div_ceil(TABLE_BLOCK_RECORDS) {
            return None;
        }
        let checked = sums.iter().map(|_| AtomicBool::new(false)).collect();
        Some(SampleTable {
            repr: Repr::Mapped(Mapped { bytes, offset, len, sums, checked, damaged: AtomicBool::new(false) }),
        })
    }

    /// Records stored as bytes (little-endian, [`SampleRec`]'s layout), copied: what a
    /// table that cannot be read in place becomes. `None` when the length is not a multiple of
    /// a record.
    pub fn copied(bytes: &[u8]) -> Option<SampleTable> {
        if !bytes.len().is_multiple_of(SAMPLE_REC_BYTES) {
            return None;
        }
        let v = bytes
            .chunks_exact(SAMPLE_REC_BYTES)
            .map(|r| SampleRec::from_le_bytes(r.try_into().unwrap_or(&[0; SAMPLE_REC_BYTES])))
            .collect();
        Some(SampleTable { repr: Repr::Owned(v) })
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Owned(v) => v.len(),
            Repr::Mapped(m) => m.len,
            Repr::Lazy(l) => l.samples.len(),
        }
    }

    /// True when there is no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A block failed its checksum (read in place from a damaged index file).
    pub fn damaged(&self) -> bool {
        matches!(&self.repr, Repr::Mapped(m) if m.damaged.load(Ordering::Relaxed))
    }

    /// Records held on the heap (what `max_index_bytes` counts): the allocated capacity of an
    /// owned table, none of one read in place from a persisted index; for one built per
    /// segment, the sample tables it reads (in records' worth of bytes) and the records built.
    pub fn heap_len(&self) -> usize {
        match &self.repr {
            Repr::Owned(v) => v.capacity(),
            Repr::Mapped(_) => 0,
            Repr::Lazy(l) => {
                let built: usize = l.segments.iter().filter_map(OnceLock::get).map(|s| s.len()).sum::<usize>()
                    + l.all.get().map_or(0, |a| a.len());
                (l.samples.held_bytes() + l.firsts.len() * 16).div_ceil(SAMPLE_REC_BYTES) + built
            }
        }
    }

    /// Read in place from a persisted index.
    pub fn is_mapped(&self) -> bool {
        matches!(self.repr, Repr::Mapped(_))
    }

    /// The records' bytes as stored (little-endian), for writing a persisted index.
    pub fn to_le_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len() * SAMPLE_REC_BYTES);
        if let Repr::Lazy(l) = &self.repr {
            // Built for the file, not kept.
            for r in l.samples.to_vec() {
                out.extend_from_slice(&r.to_le_bytes());
            }
            return out;
        }
        if let Ok(all) = self.all() {
            for r in all {
                out.extend_from_slice(&r.to_le_bytes());
            }
        }
        out
    }

    /// Every record (each block checked once).
    pub fn all(&self) -> Result<&[SampleRec], TableDamaged> {
        self.range(0..self.len()).ok_or(TableDamaged)?
    }

    /// Records `r` (`None` when outside the table); the blocks they lie in are checked first.
    pub fn range(&self, r: Range<usize>) -> Option<Result<&[SampleRec], TableDamaged>> {
        if r.start > r.end || r.end > self.len() {
            return None;
        }
        match &self.repr {
            Repr::Owned(v) => Some(Ok(&v[r])),
            Repr::Mapped(m) => Some(m.check(&r).map(|()| &m.records()[r])),
            Repr::Lazy(l) => Some(Ok(l.range(r))),
        }
    }

    /// Record `i` (its block checked first).
    pub fn get(&self, i: usize) -> Option<Result<&SampleRec, TableDamaged>> {
        self.range(i..i + 1).map(|r| r.map(|s| &s[0]))
    }

    /// Size of record `i` (`None` outside the table): for a table built per segment, read from
    /// the sample tables without building the segment's records.
    pub fn sample_size(&self, i: usize) -> Option<Result<u32, TableDamaged>> {
        match &self.repr {
            Repr::Lazy(l) => (i < l.samples.len()).then(|| Ok(l.samples.bytes(i..i + 1) as u32)),
            _ => self.get(i).map(|r| r.map(SampleRec::size)),
        }
    }

    /// Checks every block of a table read in place (the others cannot be damaged; a table built
    /// per segment is not built for it).
    pub fn check(&self) -> Result<(), TableDamaged> {
        match &self.repr {
            Repr::Mapped(_) => self.all().map(|_| ()),
            Repr::Owned(_) | Repr::Lazy(_) => Ok(()),
        }
    }
}

impl Mapped {
    fn records(&self) -> &[SampleRec] {
        let bytes = &(*self.bytes).as_ref()[self.offset..self.offset + self.len * SAMPLE_REC_BYTES];
        // SAFETY: `SampleTable::mapped` checked that these bytes lie inside the buffer, are
        // aligned for `SampleRec` and that the machine is little-endian; `SampleRec` is
        // `repr(C)` with four integer fields and no padding (24 bytes), so every bit pattern is
        // a valid value (a damaged record is a wrong value, never undefined behaviour); the
        // buffer is immutable and kept alive by `self.bytes` for as long as the slice is
        // borrowed from `self`.
        #[allow(unsafe_code)]
        unsafe {
            std::slice::from_raw_parts(bytes.as_ptr().cast::<SampleRec>(), self.len)
        }
    }

    /// Checks (once each) the blocks holding records `r`.
    fn check(&self, r: &Range<usize>) -> Result<(), TableDamaged> {
        if r.is_empty() {
            return Ok(());
        }
        let block_bytes = TABLE_BLOCK_RECORDS * SAMPLE_REC_BYTES;
        let all = (*self.bytes).as_ref();
        for b in r.start / TABLE_BLOCK_RECORDS..=(r.end - 1) / TABLE_BLOCK_RECORDS {
            if self.checked[b].load(Ordering::Acquire) {
                continue;
            }
            let start = self.offset + b * block_bytes;
            let end = (start + block_bytes).min(self.offset + self.len * SAMPLE_REC_BYTES);
            if xxhash_rust::xxh3::xxh3_64(&all[start..end]) != self.sums[b] {
                self.damaged.store(true, Ordering::Relaxed);
                return Err(TableDamaged);
            }
            self.checked[b].store(true, Ordering::Release);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An aligned copy of `bytes`, as a memory map is.
    fn aligned(bytes: &[u8]) -> SharedBytes {
        struct Words(Vec<u64>, usize);
        impl AsRef<[u8]> for Words {
            fn as_ref(&self) -> &[u8] {
                // SAFETY: the u64 storage viewed as its first `self.1` bytes (at most 8 per
                // word), borrowed for as long as `self`.
                #[allow(unsafe_code)]
                unsafe {
                    std::slice::from_raw_parts(self.0.as_ptr().cast::<u8>(), self.1)
                }
            }
        }
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        for (w, c) in words.iter_mut().zip(bytes.chunks(8)) {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            *w = u64::from_ne_bytes(b);
        }
        Arc::new(Words(words, bytes.len()))
    }

    fn recs(n: usize) -> Vec<SampleRec> {
        (0..n)
            .map(|i| SampleRec::new(i as u64 * 100, i as i64 * 512, i as i64 * 512 + 1024, 90 + i as u32, i % 30 == 0))
            .collect()
    }

    #[test]
    fn a_table_read_in_place_gives_the_records_it_was_written_from() {
        let table = SampleTable::from(recs(10_000));
        let bytes = table.to_le_bytes();
        let shared = aligned(&bytes);
        let mapped = SampleTable::mapped(shared.clone(), 0, 10_000, block_sums(&bytes)).expect("mapped");
        assert!(mapped.is_mapped());
        assert_eq!(mapped.all().unwrap(), table.all().unwrap());
        assert_eq!(SampleTable::copied(&bytes).unwrap().all().unwrap(), table.all().unwrap());
        assert!(SampleTable::mapped(shared.clone(), 0, 10_001, block_sums(&bytes)).is_none(), "past the end");
        assert!(SampleTable::mapped(shared, 0, 10_000, vec![0]).is_none(), "wrong block count");
        assert!(mapped.range(9_999..10_001).is_none());
    }

    #[test]
    fn a_damaged_block_is_refused_and_the_others_still_read() {
        let table = SampleTable::from(recs(3 * TABLE_BLOCK_RECORDS));
        let mut bytes = table.to_le_bytes();
        let sums = block_sums(&bytes);
        bytes[TABLE_BLOCK_RECORDS * SAMPLE_REC_BYTES + 5] ^= 0x40; // block 1
        let mapped = SampleTable::mapped(aligned(&bytes), 0, 3 * TABLE_BLOCK_RECORDS, sums).expect("mapped");
        assert!(mapped.range(0..10).unwrap().is_ok());
        assert_eq!(mapped.get(TABLE_BLOCK_RECORDS + 3).unwrap(), Err(TableDamaged));
        assert!(mapped.range(2 * TABLE_BLOCK_RECORDS..2 * TABLE_BLOCK_RECORDS + 1).unwrap().is_ok());
        assert_eq!(mapped.all(), Err(TableDamaged));
    }
}
