//! What a transcoded audio track becomes: AAC settings and the target the playlists announce.

use serde::{Deserialize, Serialize};
/// Default bitrate of a stereo output (5.1 gets three times this).
pub const DEFAULT_STEREO_BITRATE: u32 = 128_000;

/// Settings of the AAC output of transcoded tracks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AacSettings {
    /// Bitrate in bit/s of a stereo output; a 5.1 output gets three times this (the same rate
    /// per channel pair), so the default gives 128 kb/s stereo and 384 kb/s 5.1. 0 means default.
    pub bitrate: u32,
    /// Keep 5.1 as 5.1 when the source has at least 6 channels (otherwise downmix to stereo).
    pub keep_surround: bool,
}

impl Default for AacSettings {
    fn default() -> Self {
        AacSettings { bitrate: DEFAULT_STEREO_BITRATE, keep_surround: false }
    }
}

/// What a transcoded track becomes: what the playlists and the init segment announce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AacTarget {
    /// Output sample rate in Hz: the source rate when AAC-LC allows it (8000, 11025, 12000,
    /// 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000), else 48000.
    pub sample_rate: u32,
    /// Output channels: 2, or 6 (5.1: L R C LFE Ls Rs) with `keep_surround` and a source of at
    /// least 6 channels.
    pub channels: u32,
    /// Nominal bitrate in bit/s.
    pub bitrate: u32,
    /// AudioSpecificConfig (MPEG-4 audio decoder config) for the `esds` box of the init segment.
    pub asc: Vec<u8>,
}
