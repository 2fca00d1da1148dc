//! One source stream, how it is served, and how its samples are stored and read.

#![deny(unsafe_op_in_unsafe_fn)]

use ffmpeg_next as ff;
use serde::{Deserialize, Serialize};

use crate::codec::picture::Captions;
use crate::codec::{self, Codec, CodecConfig};
use crate::model::aac::AacTarget;
use crate::model::cues::Cues;
use crate::model::names::TrackId;
use crate::model::segment::{SampleTable, Segment};
use crate::model::time::TimeMap;

/// Kind of a source stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrackKind {
    /// Video.
    Video,
    /// Audio.
    Audio,
    /// Subtitles (text or bitmap).
    Subtitle,
    /// Data, attachments, anything else.
    Other,
}

impl TrackKind {
    /// Lower-case name used in the info JSON.
    pub fn name(self) -> &'static str {
        match self {
            TrackKind::Video => "video",
            TrackKind::Audio => "audio",
            TrackKind::Subtitle => "subtitle",
            TrackKind::Other => "other",
        }
    }
}

/// What a stream is for beyond its language, from the container's disposition flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roles {
    /// Commentary (FFmpeg's `comment` disposition; Matroska FlagCommentary).
    pub commentary: bool,
    /// Made for the hearing impaired: SDH subtitles (`hearing_impaired`).
    pub hearing_impaired: bool,
    /// Made for the visually impaired: audio description (`visual_impaired`).
    pub visual_impaired: bool,
}

/// Codec parameters kept for on-demand decoding. Read-only after indexing.
pub struct SharedParams(pub ff::codec::Parameters);
// SAFETY: the wrapped AVCodecParameters are owned by this value (no other pointer to them is
// kept), never mutated after indexing, and only read through `&self` (the decoder copies them):
// shared reads from several threads are sound.
#[allow(unsafe_code)]
unsafe impl Sync for SharedParams {}

/// The decoder parameters of a transcoded (audio) track as persisted: what
/// `avcodec_parameters_to_context` gives an audio decoder. The codec is named (looked up among
/// FFmpeg's codec descriptors when read), never stored as FFmpeg's enum value.
#[derive(Serialize, Deserialize)]
struct ParamsRecord {
    codec: String,
    medium: u8,
    codec_tag: u32,
    extradata: Vec<u8>,
    format: i32,
    bit_rate: i64,
    bits_per_coded_sample: i32,
    bits_per_raw_sample: i32,
    profile: i32,
    level: i32,
    sample_rate: i32,
    block_align: i32,
    frame_size: i32,
    initial_padding: i32,
    trailing_padding: i32,
    seek_preroll: i32,
    /// Native channel order mask, or `None`: unspecified order.
    channel_mask: Option<u64>,
    channels: i32,
}

impl Serialize for SharedParams {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error as _;
        let params = &self.0;
        // SAFETY: the parameters are owned by `self` and only read here; the extradata pointer
        // and size are FFmpeg's (a buffer of at least `extradata_size` bytes, or NULL).
        #[allow(unsafe_code)]
        let rec = unsafe {
            let p = &*params.as_ptr();
            let extradata = if p.extradata.is_null() || p.extradata_size <= 0 {
                Vec::new()
            } else {
                std::slice::from_raw_parts(p.extradata, p.extradata_size as usize).to_vec()
            };
            let channel_mask = match p.ch_layout.order {
                ff::ffi::AVChannelOrder::AV_CHANNEL_ORDER_NATIVE => Some(p.ch_layout.u.mask),
                ff::ffi::AVChannelOrder::AV_CHANNEL_ORDER_UNSPEC => None,
                _ => return Err(S::Error::custom("custom channel order: not persisted")),
            };
            ParamsRecord {
                codec: params.id().name().to_string(),
                medium: match params.medium() {
                    ff::media::Type::Audio => 1,
                    ff::media::Type::Video => 2,
                    ff::media::Type::Subtitle => 3,
                    _ => 0,
                },
                codec_tag: p.codec_tag,
                extradata,
                format: p.format,
                bit_rate: p.bit_rate,
                bits_per_coded_sample: p.bits_per_coded_sample,
                bits_per_raw_sample: p.bits_per_raw_sample,
                profile: p.profile,
                level: p.level,
                sample_rate: p.sample_rate,
                block_align: p.block_align,
                frame_size: p.frame_size,
                initial_padding: p.initial_padding,
                trailing_padding: p.trailing_padding,
                seek_preroll: p.seek_preroll,
                channel_mask,
                channels: p.ch_layout.nb_channels,
            }
        };
        rec.serialize(s)
    }
}

impl<'de> Deserialize<'de> for SharedParams {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<SharedParams, D::Error> {
        use serde::de::Error as _;
        let rec = ParamsRecord::deserialize(d)?;
        let name = std::ffi::CString::new(rec.codec.as_bytes()).map_err(D::Error::custom)?;
        // SAFETY: `name` is a NUL-terminated string that outlives the call; FFmpeg returns NULL
        // or a pointer to its static, immutable table of codec descriptors.
        #[allow(unsafe_code)]
        let id = unsafe { ff::ffi::avcodec_descriptor_get_by_name(name.as_ptr()).as_ref() }
            .map(|d| ff::codec::Id::from(d.id))
            .ok_or_else(|| D::Error::custom(format!("no codec named {:?}", rec.codec)))?;
        if rec.extradata.len() > i32::MAX as usize / 2 || !(0..=64).contains(&rec.channels) {
            return Err(D::Error::custom("decoder parameters out of range"));
        }
        let mut params = ff::codec::Parameters::new();
        params.set_id(id);
        params.set_medium(match rec.medium {
            1 => ff::media::Type::Audio,
            2 => ff::media::Type::Video,
            3 => ff::media::Type::Subtitle,
            _ => ff::media::Type::Unknown,
        });
        // SAFETY: `params` owns a freshly allocated AVCodecParameters that nothing else
        // references. The extradata buffer comes from FFmpeg's allocator with the zeroed padding
        // FFmpeg requires, `extradata.len()` bytes are copied into it, and the parameters own
        // (and free) it. The channel layout is set by FFmpeg from a mask, or as an unspecified
        // order of `channels` channels (no pointer in it); the other fields are plain integers.
        #[allow(unsafe_code)]
        unsafe {
            let p = &mut *params.as_mut_ptr();
            if !rec.extradata.is_empty() {
                let pad = ff::ffi::AV_INPUT_BUFFER_PADDING_SIZE as usize;
                let buf = ff::ffi::av_mallocz(rec.extradata.len() + pad) as *mut u8;
                if buf.is_null() {
                    return Err(D::Error::custom("out of memory"));
                }
                std::ptr::copy_nonoverlapping(rec.extradata.as_ptr(), buf, rec.extradata.len());
                p.extradata = buf;
                p.extradata_size = rec.extradata.len() as i32;
            }
            p.codec_tag = rec.codec_tag;
            p.format = rec.format;
            p.bit_rate = rec.bit_rate;
            p.bits_per_coded_sample = rec.bits_per_coded_sample;
            p.bits_per_raw_sample = rec.bits_per_raw_sample;
            p.profile = rec.profile;
            p.level = rec.level;
            p.sample_rate = rec.sample_rate;
            p.block_align = rec.block_align;
            p.frame_size = rec.frame_size;
            p.initial_padding = rec.initial_padding;
            p.trailing_padding = rec.trailing_padding;
            p.seek_preroll = rec.seek_preroll;
            ff::ffi::av_channel_layout_uninit(&mut p.ch_layout);
            match rec.channel_mask {
                Some(mask) => {
                    if ff::ffi::av_channel_layout_from_mask(&mut p.ch_layout, mask) < 0 {
                        return Err(D::Error::custom("bad channel mask"));
                    }
                }
                None => {
                    p.ch_layout.order = ff::ffi::AVChannelOrder::AV_CHANNEL_ORDER_UNSPEC;
                    p.ch_layout.nb_channels = rec.channels;
                }
            }
            #[allow(deprecated)]
            {
                p.channels = p.ch_layout.nb_channels;
                p.channel_layout = rec.channel_mask.unwrap_or(0);
            }
        }
        Ok(SharedParams(params))
    }
}

/// How the samples of one media segment are read when it is generated: one path per track,
/// decided at indexing. Each variant holds exactly what its path needs.
#[derive(Serialize, Deserialize)]
pub enum SampleReader {
    /// Nothing is read when serving: subtitle tracks (their cues are in memory) and tracks that
    /// are not served.
    NotRead,
    /// Copied samples read straight from the file with positioned reads (MP4 sample tables): no
    /// demuxer. A segment's samples are `table[first .. first + samples]`.
    ByPosition {
        /// Byte position, size and timing of every sample, in decode order.
        table: SampleTable,
    },
    /// Copied samples of a Matroska file planned from its Cues: the blocks are walked from the
    /// segment's cluster (`Segment::cluster`), and its samples found by time (`Segment::samples`
    /// is 0); FFmpeg's demuxer reads what the walker cannot.
    MatroskaBlocks {
        /// Matroska track number, when the frames can be read straight from the blocks (no
        /// content encoding); `None`: always through FFmpeg.
        track_number: Option<u64>,
        /// Decode times are derived per segment: its sorted presentation times minus this delay
        /// (video with B-frames, whose blocks carry no decode time).
        dts_delay: Option<i64>,
    },
    /// Copied samples read through FFmpeg's demuxer: exactly the segment's samples.
    Demuxer {
        /// The demuxer's timestamps are exact and its seeks land on the asked sample (MP4 read
        /// through FFmpeg's index): select by decode time. Otherwise the samples are counted from
        /// the one presented at `Segment::start_pts`.
        exact: bool,
        /// Decode timestamps of every sample, when the container gives none: derived once from
        /// the presentation times at indexing.
        decode_ts: Option<Vec<i64>>,
    },
    /// Source audio of a transcoded track read through FFmpeg's demuxer: every packet in a range
    /// of decode times (with the decoder's pre- and post-roll).
    DemuxerRange {
        /// How the range is found.
        seek: RangeSeek,
    },
}

impl SampleReader {
    /// The per-sample table this reader holds, if any.
    pub fn table(&self) -> Option<&SampleTable> {
        match self {
            SampleReader::ByPosition { table } | SampleReader::DemuxerRange { seek: RangeSeek::Anchored { table } } => {
                Some(table)
            }
            _ => None,
        }
    }

    /// The per-sample table this reader holds, to be replaced (reading a persisted index).
    pub fn table_mut(&mut self) -> Option<&mut SampleTable> {
        match self {
            SampleReader::ByPosition { table } | SampleReader::DemuxerRange { seek: RangeSeek::Anchored { table } } => {
                Some(table)
            }
            _ => None,
        }
    }
}

/// How [`SampleReader::DemuxerRange`] finds the packets of a range of decode times.
#[derive(Serialize, Deserialize)]
pub enum RangeSeek {
    /// The demuxer's timestamps are exact (MP4): seek to the range's start, select by time.
    Exact,
    /// Seek on the default stream a little before the range and select by time (Matroska
    /// planned from Cues).
    Approximate,
    /// Timestamps after a seek may be estimates (MP3): after a seek, the first packet is found
    /// by its byte position and every packet gets the timestamps recorded at indexing.
    Anchored {
        /// Byte position and timing of every sample, in decode order.
        table: SampleTable,
    },
}

/// How a track is delivered.
#[derive(Serialize, Deserialize)]
pub enum Delivery {
    /// fMP4 segments with the source's samples copied.
    Copy {
        /// Codec description for the init segment.
        config: CodecConfig,
        /// RFC 6381 codec string.
        codec_string: String,
    },
    /// fMP4 segments with AAC made on demand from the source's audio.
    Transcode {
        /// The source codec parameters (for the decoder).
        params: SharedParams,
        /// What the AAC output is.
        target: AacTarget,
        /// Codec description for the init segment.
        config: CodecConfig,
    },
    /// WebVTT segments from the track's cues (extracted at indexing, or read on first use).
    Cues(Cues),
    /// Not served; the reason is shown by the info call.
    NotServed(String),
}

/// One source stream and how it is served.
#[derive(Serialize, Deserialize)]
pub struct Track {
    /// Stream index in the source file (packets are read from it).
    pub stream: usize,
    /// Which rendition this is (names use it: `t<id>.m3u8`).
    pub id: TrackId,
    /// Video, audio, subtitle, other.
    pub kind: TrackKind,
    /// FFmpeg's codec name.
    pub codec_name: String,
    /// ISO 639 language from the stream's metadata.
    pub language: Option<String>,
    /// The BCP 47 tag (`pt-BR`) when the container gives one beside `language` (Matroska
    /// LanguageIETF); what players are told before `language`.
    pub language_tag: Option<String>,
    /// Title from the stream's metadata.
    pub title: Option<String>,
    /// Disposition: default.
    pub default: bool,
    /// Disposition: forced.
    pub forced: bool,
    /// Disposition: commentary, hearing or visually impaired.
    pub roles: Roles,
    /// How the track is served.
    pub delivery: Delivery,
    /// Timestamp mapping to the output track.
    pub map: TimeMap,
    /// Output segments (empty for subtitle and unserved tracks).
    pub segments: Vec<Segment>,
    /// How the samples of a media segment are read (decided at indexing).
    pub reader: SampleReader,
    /// How source samples are rewritten for fMP4 (start codes, ADTS headers).
    pub sample_form: SampleForm,
    /// Video width.
    pub width: u32,
    /// Video height.
    pub height: u32,
    /// Video frame rate.
    pub frame_rate: Option<f64>,
    /// Every segment starts with a picture decodable on its own (no open GOP seen).
    pub independent: bool,
    /// Audio sample rate (of the output).
    pub sample_rate: u32,
    /// Audio channel count (of the output).
    pub channels: u32,
    /// Closed captions carried in the video's SEI (seen in its first samples).
    pub captions: Captions,
}

impl Track {
    /// True when the track has playlists and segments.
    pub fn is_served(&self) -> bool {
        !matches!(self.delivery, Delivery::NotServed(_))
    }
    /// Served as fMP4 (copy or transcode).
    pub fn is_fmp4(&self) -> bool {
        matches!(self.delivery, Delivery::Copy { .. } | Delivery::Transcode { .. })
    }
    /// The init segment's codec configuration, for fMP4 tracks.
    pub fn codec_config(&self) -> Option<&CodecConfig> {
        match &self.delivery {
            Delivery::Copy { config, .. } | Delivery::Transcode { config, .. } => Some(config),
            _ => None,
        }
    }
    /// RFC 6381 string of what is served.
    pub fn codec_string(&self) -> Option<&str> {
        match &self.delivery {
            Delivery::Copy { codec_string, .. } => Some(codec_string),
            Delivery::Transcode { .. } => Some("mp4a.40.2"),
            _ => None,
        }
    }
    /// Why the track is not served.
    pub fn not_served_reason(&self) -> Option<&str> {
        match &self.delivery {
            Delivery::NotServed(r) => Some(r),
            _ => None,
        }
    }
    /// The size a viewer sees (video): the sample aspect ratio and a quarter-turn display
    /// matrix applied to the stored width and height.
    pub fn displayed_size(&self) -> (u32, u32) {
        match self.codec_config() {
            Some(c) => c.picture.displayed_size(self.width, self.height),
            None => (self.width, self.height),
        }
    }
    /// Duration of segment `i` in seconds.
    pub fn segment_seconds(&self, i: usize) -> f64 {
        self.map.seconds(self.segments[i].out_duration)
    }
}

/// How a track's source samples are stored, when that differs from what fMP4 carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SampleForm {
    /// As fMP4 wants them (length-prefixed NAL units, raw AAC frames, ...).
    Native,
    /// H.264/HEVC access units with start codes (MPEG-TS, raw streams): rewritten with 4-byte
    /// NAL lengths, as the `avcC`/`hvcC` built from Annex-B parameter sets declares.
    AnnexB,
    /// AAC frames behind ADTS headers (MPEG-TS, .aac files): the header is dropped.
    Adts,
}

impl SampleForm {
    /// The bytes of one sample as the fMP4 segment carries them.
    pub fn convert<'a>(self, data: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
        match self {
            SampleForm::Native => data.into(),
            SampleForm::AnnexB if codec::is_annexb(data) => codec::annexb_to_length_prefixed(data).into(),
            SampleForm::Adts => match codec::adts_header_len(data) {
                Some(n) if n <= data.len() => data[n..].into(),
                _ => data.into(),
            },
            SampleForm::AnnexB => data.into(),
        }
    }

    /// What the first sample of a copied stream says.
    pub(crate) fn detect(codec: Codec, first_packet: &[u8]) -> SampleForm {
        match codec {
            Codec::H264 | Codec::Hevc if codec::is_annexb(first_packet) => SampleForm::AnnexB,
            Codec::Aac if codec::adts_header_len(first_packet).is_some() => SampleForm::Adts,
            _ => SampleForm::Native,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annexb_and_adts_samples_are_rewritten_for_fmp4() {
        let annexb = [0, 0, 0, 1, 0x65, 0xAA, 0xBB, 0, 0, 1, 0x41, 0xCC];
        assert_eq!(SampleForm::detect(Codec::H264, &annexb), SampleForm::AnnexB);
        assert_eq!(&*SampleForm::AnnexB.convert(&annexb), &[0, 0, 0, 3, 0x65, 0xAA, 0xBB, 0, 0, 0, 2, 0x41, 0xCC][..]);
        // Already length-prefixed samples pass unchanged, whatever the form says.
        let prefixed = [0, 0, 0, 2, 0x65, 0xAA];
        assert_eq!(SampleForm::detect(Codec::H264, &prefixed), SampleForm::Native);
        assert_eq!(&*SampleForm::AnnexB.convert(&prefixed), &prefixed[..]);
        // ADTS: a 7-byte header (no CRC) in front of a raw AAC frame.
        let frame_len = 7 + 3;
        let adts = [
            0xFF,
            0xF1,
            0x50,
            0x80,
            ((frame_len >> 3) & 0xFF) as u8,
            (((frame_len & 7) << 5) | 0x1F) as u8,
            0xFC,
            0x21,
            0x10,
            0x04,
        ];
        assert_eq!(SampleForm::detect(Codec::Aac, &adts), SampleForm::Adts);
        assert_eq!(&*SampleForm::Adts.convert(&adts), &[0x21, 0x10, 0x04][..]);
        assert_eq!(SampleForm::detect(Codec::Aac, &[0x21, 0x10, 0x04]), SampleForm::Native);
        assert_eq!(&*SampleForm::Native.convert(&adts), &adts[..]);
    }
}
