//! What the reader gives: [`Mp4Index`] (the tracks of one file), [`Mp4Track`] (one `trak`) and
//! [`Mp4Sample`] (one sample in decode order, the container's [`SampleRec`]).
//!
//! [`SampleRec`]: crate::container::sample::SampleRec

use super::lazy::LazySamples;
use crate::codec::picture::Picture;

/// One sample in decode order: where its data is (position, size), its DTS and PTS in the
/// track timescale, and whether it is a sync sample (`stss`, `stps` or a `rap ` sample group;
/// every sample without `stss`). The reader builds the index's own compact record, so that the
/// samples are allocated once, at their final size.
pub type Mp4Sample = crate::container::sample::SampleRec;

/// One `trak`, in moov order (its position = FFmpeg's stream index for this file).
#[derive(Clone, Debug, Default)]
pub struct Mp4Track {
    /// `tkhd` track ID.
    pub track_id: u32,
    /// `hdlr` handler type: `b"vide"`, `b"soun"`, `b"sbtl"`, `b"text"`, `b"subt"`, ...
    pub handler: [u8; 4],
    /// `mdhd` timescale (1 when missing or invalid, as FFmpeg).
    pub timescale: u32,
    /// `mdhd` language (ISO-639-2/T, or a QuickTime language code mapped as FFmpeg does);
    /// `None` for "und" or an unknown code.
    pub language: Option<String>,
    /// `hdlr` name (or `udta/name`); `None` when empty or ending with "Handler".
    pub name: Option<String>,
    /// `tkhd` "enabled" flag (FFmpeg's `default` disposition).
    pub default: bool,
    /// Type of the first `stsd` entry: avc1, hvc1, mp4a, ac-3, Opus, fLaC, tx3g, sowt, ...
    pub sample_entry: [u8; 4],
    /// Decoder configuration, as FFmpeg's extradata: avcC / hvcC / av1C payload; the esds
    /// DecoderSpecificInfo; an OpusHead built from dOps; the FLAC STREAMINFO from dfLa; the whole
    /// `alac` box; for text subtitles the sample entry after its 16-byte header; else empty.
    pub config: Vec<u8>,
    /// esds objectTypeIndication (0x40 AAC, 0x6B / 0x69 MP3, ...), 0 if none.
    pub object_type: u8,
    /// Visual sample entry width.
    pub width: u32,
    /// How the pictures are shown: the `tkhd` display matrix, and the sample entry's `pasp`,
    /// `colr` (nclx/nclc), `mdcv` and `clli` (video).
    pub picture: Picture,
    /// Visual sample entry height.
    pub height: u32,
    /// Audio channels: sample entry (v0/v1/v2), overridden as FFmpeg's demuxer does by the AAC
    /// AudioSpecificConfig and by dac3 / dec3.
    pub channels: u32,
    /// Audio sample rate: sample entry (v2: the real rate), the AAC AudioSpecificConfig (SBR
    /// extension rate when signalled), or the timescale when the entry says 0.
    pub sample_rate: u32,
    /// Audio sample entry sample size (v2: bits per channel; PCM: the bits of the PCM format
    /// FFmpeg picks, e.g. 24 for `in24`), 0 for other tracks.
    pub bits_per_sample: u32,
    /// Samples in decode order, timestamps in `timescale` units, edit list applied exactly as
    /// FFmpeg 5.1's mov demuxer reports them. Uncompressed audio whose `stts` is one entry of
    /// duration 1 is grouped as FFmpeg groups it (up to 1024 frames per sample, per chunk).
    pub samples: Vec<Mp4Sample>,
    /// The samples, when they are read from the sample tables on demand instead (`samples` is
    /// then empty; see [`LazySamples`]). Only [`read_lazily`](super::read_lazily) gives them.
    pub lazy: Option<LazySamples>,
    /// DTS after the last sample (last DTS + its `stts` duration); 0 without samples.
    pub end_dts: i64,
    /// Another track refers to this one as its chapter track (`tref/chap`): FFmpeg turns a text
    /// chapter track into chapters (a data stream without packets) and a video one into an
    /// attached picture, so it is not a media track to serve.
    pub chapter: bool,
}

/// What reading the movie fragments of a fragmented file found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FragmentStats {
    /// `moof` boxes read.
    pub moofs: u64,
    /// Bytes of those `moof` boxes.
    pub moof_bytes: u64,
    /// Bytes read by the walk (box headers and `moof` boxes).
    pub bytes_read: u64,
    /// The walk stopped early: at a box running past the end of the file or a damaged `moof`,
    /// or samples past the end were dropped.
    pub truncated: bool,
}

/// The tracks of one file.
#[derive(Clone, Debug, Default)]
pub struct Mp4Index {
    /// Every `trak` of the `moov`, in order.
    pub tracks: Vec<Mp4Track>,
    /// The `moov` has an `mvex` box: the samples live (also) in movie fragments, which were
    /// read from the `moof` boxes (see [`FragmentStats`]).
    pub fragmented: bool,
    /// What reading the movie fragments found (`None` for a file without `mvex`).
    pub fragments: Option<FragmentStats>,
    /// Cover art in the movie's metadata (`moov/udta/meta/ilst/covr`), one entry per picture:
    /// its `data` type (13 JPEG, 14 PNG, 27 BMP). FFmpeg shows each as an attached-picture
    /// stream after the tracks.
    pub cover_art: Vec<u32>,
}
