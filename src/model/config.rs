//! Engine configuration, built through setters so the C side never sees its layout.

use std::path::PathBuf;
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
    /// Scrubbing thumbnails (`thumb_<ms>.jpg`, `thumbnails.vtt`, `thumbs_<k>.jpg`): width and
    /// tile interval (default 320 px every 10 s; width 0 disables them).
    pub thumbnails: crate::model::thumbs::ThumbSettings,
    /// Where the index of every opened file is persisted (default none: indexes live in
    /// memory only). Another process, worker or restart with the same directory and settings
    /// opens an unchanged file from there without reading its media.
    pub index_dir: Option<PathBuf>,
    /// The key provider asked for every media opened without keys of its own (default none:
    /// the clear).
    pub key_provider: Option<crate::model::encryption::KeyProvider>,
    /// Caller-supplied sources: the most bytes one read asks for (default 8 MiB); a segment's
    /// track whose samples span more costs more reads.
    pub source_read_max: usize,
    /// Caller-supplied sources: the largest gap between a track's samples (other tracks'
    /// samples) that one read of a segment reads through (default 4 MiB); at most 10% of what
    /// a read keeps is dropped.
    pub source_gap_max: u64,
    /// Caller-supplied sources: the budget of the context's block cache of their bytes
    /// (default [`DEFAULT_SOURCE_CACHE_BYTES`]; 0 turns it off): bytes read are kept, so that
    /// each byte of an object is fetched about once while it stays hot.
    pub source_cache_bytes: u64,
    /// Ceiling on the memory one open may use for its index (default
    /// [`DEFAULT_MAX_INDEX_BYTES`]): sample tables, packet lists and subtitle cues are counted
    /// before they are allocated, and a file whose index would need more fails with
    /// `ErrorKind::Unsupported`.
    pub max_index_bytes: u64,
}

impl Config {
    /// The settings an index depends on, as text: an index persisted under other settings is
    /// another file (the name of a persisted index includes a hash of this).
    pub fn index_settings(&self) -> String {
        format!(
            "segment={:?} transcode={:?} aac={}/{} container_index={}",
            self.segment_duration, self.transcode, self.aac_bitrate, self.aac_keep_surround, self.use_container_index
        )
    }
}

/// Default of [`Config::max_index_bytes`]: 1 GiB. A 10-hour file at 60 frames/s with eight
/// 48 kHz AAC tracks has 10 × 3600 × (60 + 8 × 46.9) ≈ 15.7 million samples; at the 64 bytes
/// a sample costs while it is indexed (the reader's record and the index's) that is about
/// 1.0 GB, so the default still opens it; a 2-hour film with one audio track needs about 20 MB.
pub const DEFAULT_MAX_INDEX_BYTES: u64 = 1 << 30;

/// Default of [`Config::source_cache_bytes`]: 64 MiB, the whole of most files a crawl reads
/// (a player reads a presentation forward: what it needs again is recent).
pub const DEFAULT_SOURCE_CACHE_BYTES: u64 = 64 << 20;

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
            thumbnails: crate::model::thumbs::ThumbSettings::default(),
            index_dir: None,
            key_provider: None,
            source_read_max: 8 << 20,
            source_gap_max: 4 << 20,
            source_cache_bytes: DEFAULT_SOURCE_CACHE_BYTES,
            max_index_bytes: DEFAULT_MAX_INDEX_BYTES,
        }
    }
}
