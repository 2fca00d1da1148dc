//! The values the fMP4 writer is given: what an init segment describes ([`TrackInit`], with its
//! [`TrackKind`]) and what each sample of a media segment is ([`SampleMeta`]). Plain data,
//! shared by the init and fragment writers and re-exported from the parent module.

use crate::codec::CodecConfig;

/// Whether a track is video or audio.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrackKind {
    /// A video track (`vide` handler, `vmhd`).
    Video,
    /// An audio track (`soun` handler, `smhd`).
    Audio,
}

/// What an init segment describes: one track, which is its own presentation.
#[derive(Clone, Copy, Debug)]
pub struct TrackInit<'a> {
    /// Track ID (1 in every init: each track is its own presentation). Must not be 0.
    pub track_id: u32,
    /// Video or audio; must match the codec.
    pub kind: TrackKind,
    /// Media timescale (ticks per second) of the samples' durations and decode times.
    pub timescale: u32,
    /// ISO-639-2/T language code, `b"und"` when unknown (anything not `a`..=`z` becomes `und`).
    pub language: [u8; 3],
    /// The codec and its private data.
    pub codec: &'a CodecConfig,
    /// Edit list shift in `timescale` ticks: when non-zero, an `elst` maps media time
    /// `media_time` to presentation time 0 (decode times were shifted up by this much so that
    /// none is negative; readers that apply edit lists see the source's timestamps).
    pub media_time: u64,
    /// Writes the edit list as an empty edit of duration 0 followed by the media edit (the same
    /// presentation for readers that apply edit lists: FFmpeg, Safari), which Chromium's MSE
    /// parser ignores (it reads only the first entry and skips an empty one): a keyframe-aligned
    /// clip's tracks, whose hidden lead MSE players must not drop (see `engine::lead`).
    pub edit_ignored_by_mse: bool,
}

/// One sample (access unit) of a media segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampleMeta {
    /// Size in bytes of the sample's data in the payload.
    pub size: u32,
    /// Duration in timescale ticks.
    pub duration: u32,
    /// Presentation time minus decode time, in timescale ticks.
    pub composition_offset: i32,
    /// True for a sync sample (key frame / random access point).
    pub sync: bool,
}

/// How a track is encrypted with CMAF `cbcs` (what its init segment announces, and what its
/// media segments are encrypted with).
#[derive(Clone, Copy, Debug)]
pub struct Protection<'a> {
    /// The AES-128 key (never written).
    pub key: [u8; 16],
    /// The key ID (`tenc` default_KID).
    pub key_id: [u8; 16],
    /// The constant IV, applied to the first encrypted block of every subsample.
    pub constant_iv: [u8; 16],
    /// Encrypted 16-byte blocks of the pattern (1 for video, 0 for audio: every block).
    pub crypt_byte_block: u8,
    /// Clear blocks of the pattern (9 for video, 0 for audio).
    pub skip_byte_block: u8,
    /// Whole `pssh` boxes, concatenated, appended to `moov` (may be empty).
    pub pssh: &'a [u8],
    /// For video: how samples are cut into NAL units (the slice headers stay clear).
    pub nal: Option<NalLayout>,
}

/// The NAL units of a video track's samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NalLayout {
    /// Bytes of each NAL unit's length prefix (1, 2 or 4).
    pub length_size: usize,
    /// HEVC (two-byte NAL header, VCL types 0..=31) rather than H.264 (types 1..=5).
    pub hevc: bool,
}
