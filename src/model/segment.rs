//! Output segments and the per-sample records they are cut from.

/// One output segment of a track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// Where one sample's bytes are and when it plays (24 bytes per sample).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    /// A record; `size` must be below 2 GiB.
    pub fn new(pos: u64, dts: i64, pts: i64, size: u32, key: bool) -> SampleRec {
        SampleRec { pos, dts, size_key: (size & !Self::KEY) | if key { Self::KEY } else { 0 }, cto: (pts - dts) as i32 }
    }
    /// Size in bytes.
    pub fn size(&self) -> u32 {
        self.size_key & !Self::KEY
    }
    /// Sync sample.
    pub fn key(&self) -> bool {
        self.size_key & Self::KEY != 0
    }
    /// Presentation timestamp.
    pub fn pts(&self) -> i64 {
        self.dts + self.cto as i64
    }
    /// Replaces the decode timestamp, keeping the presentation timestamp.
    pub(crate) fn set_dts(&mut self, dts: i64) {
        let pts = self.pts();
        self.dts = dts;
        self.cto = (pts - dts) as i32;
    }
}
