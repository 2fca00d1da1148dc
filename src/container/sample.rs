//! [`SampleRec`]: one sample of a container as its reader gives it (where its bytes are, when it
//! is decoded and shown, whether it is a sync sample), in the compact form the index keeps and a
//! persisted index stores. The MP4 sample-table reader builds these records directly, so that
//! indexing a file allocates one record per sample, once.

#![deny(unsafe_code)]

/// Where one sample's bytes are and when it plays (24 bytes per sample, `repr(C)` with no
/// padding: a persisted index stores the records as they are in memory, little-endian, and
/// reads them in place).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct SampleRec {
    /// Byte position in the file (0 when unknown: the sample is read through FFmpeg).
    pub pos: u64,
    /// Decode timestamp (source time base).
    pub dts: i64,
    /// Size in bytes; the top bit marks a sync sample.
    size_key: u32,
    /// Presentation minus decode timestamp (source time base).
    pub cto: i32,
}

impl SampleRec {
    const KEY: u32 = 1 << 31;
    /// Sizes a record holds are below this (2 GiB): the top bit of the size is the sync flag.
    pub const SIZE_LIMIT: u32 = Self::KEY;
    /// A record; `size` must be below [`SampleRec::SIZE_LIMIT`] (its top bit is dropped).
    #[inline]
    pub fn new(pos: u64, dts: i64, pts: i64, size: u32, key: bool) -> SampleRec {
        SampleRec { pos, dts, size_key: (size & !Self::KEY) | if key { Self::KEY } else { 0 }, cto: (pts - dts) as i32 }
    }
    /// Size in bytes.
    #[inline]
    pub fn size(&self) -> u32 {
        self.size_key & !Self::KEY
    }
    /// Sync sample.
    #[inline]
    pub fn key(&self) -> bool {
        self.size_key & Self::KEY != 0
    }
    /// Presentation timestamp.
    #[inline]
    pub fn pts(&self) -> i64 {
        self.dts.saturating_add(i64::from(self.cto))
    }
    /// The same sample decoded at `dts`, its composition offset kept (its presentation time
    /// moves with it).
    #[inline]
    pub(crate) fn at_dts(self, dts: i64) -> SampleRec {
        SampleRec { dts, ..self }
    }
    /// The record's bytes as a persisted index stores them (the in-memory layout, little-endian).
    pub fn to_le_bytes(&self) -> [u8; 24] {
        let mut b = [0u8; 24];
        b[..8].copy_from_slice(&self.pos.to_le_bytes());
        b[8..16].copy_from_slice(&self.dts.to_le_bytes());
        b[16..20].copy_from_slice(&self.size_key.to_le_bytes());
        b[20..].copy_from_slice(&self.cto.to_le_bytes());
        b
    }
    /// A record from the bytes [`SampleRec::to_le_bytes`] gives.
    pub fn from_le_bytes(b: &[u8; 24]) -> SampleRec {
        let u64_at =
            |i: usize| u64::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7]]);
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        SampleRec { pos: u64_at(0), dts: u64_at(8) as i64, size_key: u32_at(16), cto: u32_at(20) as i32 }
    }
    /// Replaces the decode timestamp, keeping the presentation timestamp.
    pub(crate) fn set_dts(&mut self, dts: i64) {
        let pts = self.pts();
        self.dts = dts;
        // Callers keep `pts - dts` within an offset (`constant_reorder_delay` checks); a
        // hostile difference saturates rather than wrapping.
        self.cto = pts.saturating_sub(dts).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
    }
}

// A persisted index reads the records in place: the layout is 24 bytes, no padding.
const _: () = assert!(std::mem::size_of::<SampleRec>() == 24);

#[cfg(test)]
mod tests {
    use super::SampleRec;

    #[test]
    fn a_sample_keeps_its_times_size_and_sync_flag_through_its_stored_bytes() {
        let s = SampleRec::new(1 << 40, -1024, 2048, SampleRec::SIZE_LIMIT - 1, true);
        assert_eq!((s.pos, s.dts, s.pts(), s.size(), s.key()), (1 << 40, -1024, 2048, SampleRec::SIZE_LIMIT - 1, true));
        assert_eq!(SampleRec::from_le_bytes(&s.to_le_bytes()), s);
        // Moved in decode time (an edit list), it is shown as much later.
        let moved = s.at_dts(0);
        assert_eq!((moved.dts, moved.pts(), moved.size(), moved.key()), (0, 3072, s.size(), true));
    }
}
