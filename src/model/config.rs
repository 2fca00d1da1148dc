//! Engine configuration, built through setters so the C side never sees its layout.

use std::time::Duration;

/// Which audio tracks are served as AAC made on demand instead of copied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TranscodePolicy {
    /// Transcode only codecs that HLS players can't play (DTS, TrueHD, Vorbis, PCM, ...).
    Unplayable,
    /// Also transcode codecs with patchy browser support (FLAC, Opus, AC-3, E-AC-3, MP3).
    BrowserSafe,
    /// Like `Unplayable`, plus an AAC rendition beside each AC-3/E-AC-3/MP3 passthrough track (as
    /// Apple's HLS authoring specification recommends), named `tNa.m3u8`.
    AddAacBesideSurround,
    /// Never transcode; unplayable tracks are reported as not served.
    Never,
}

/// Settings of one `HlsContext`.
#[derive(Clone, Debug)]
pub struct Config {
    /// Target segment duration (default 6 s).
    pub segment_duration: Duration,
    /// Byte budget of the context-wide segment cache (default 256 MiB).
    pub cache_bytes: u64,
    /// How many closed media stay indexed for reuse (default 64).
    pub idle_media_max: usize,
    /// How long closed media stay indexed for reuse (default 300 s).
    pub idle_media_ttl: Duration,
    /// Audio transcode policy (default `AddAacBesideSurround`: every browser plays every
    /// language).
    pub transcode: TranscodePolicy,
    /// AAC bitrate per channel pair in bit/s (default 128000 stereo; 5.1 uses 3x).
    pub aac_bitrate: u32,
    /// Keep 5.1 as 5.1 AAC instead of a stereo downmix (default false).
    pub aac_keep_surround: bool,
    /// Idle demuxers kept open per media for reuse (default 4).
    pub demuxers_per_media: usize,
    /// Index Matroska files from their Cues (default true); false scans every packet.
    pub use_container_index: bool,
    /// Ceiling on the memory one open may use for its index (default
    /// [`DEFAULT_MAX_INDEX_BYTES`]): sample tables, packet lists and subtitle cues are counted
    /// before they are allocated, and a file whose index would need more fails with
    /// `ErrorKind::Unsupported`.
    pub max_index_bytes: u64,
}

/// Default of [`Config::max_index_bytes`]: 1 GiB. A 10-hour file at 60 frames/s with eight
/// 48 kHz AAC tracks has 10 × 3600 × (60 + 8 × 46.9) ≈ 15.7 million samples; at the 64 bytes
/// a sample costs while it is indexed (the reader's record and the index's) that is about
/// 1.0 GB, so the default still opens it; a 2-hour film with one audio track needs about 20 MB.
pub const DEFAULT_MAX_INDEX_BYTES: u64 = 1 << 30;

impl Default for Config {
    fn default() -> Config {
        Config {
            segment_duration: Duration::from_secs(6),
            cache_bytes: 256 * 1024 * 1024,
            idle_media_max: 64,
            idle_media_ttl: Duration::from_secs(300),
            transcode: TranscodePolicy::AddAacBesideSurround,
            aac_bitrate: crate::model::aac::DEFAULT_STEREO_BITRATE,
            aac_keep_surround: false,
            demuxers_per_media: 4,
            use_container_index: true,
            max_index_bytes: DEFAULT_MAX_INDEX_BYTES,
        }
    }
}
