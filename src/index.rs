//! Indexing: everything playlists and segments need, computed once when a file is opened.
//!
//! MP4 files are indexed from their sample tables (no packet is read, except the text subtitle
//! samples and the first sample of AC-3/E-AC-3 tracks); Matroska from its Cues plus the block
//! headers around segment boundaries (`mkvcues`); other containers, and Matroska files whose
//! Cues cannot be used, fall back to one packet scan, in which text subtitle cues are extracted
//! in the same pass.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ff::codec::Id;
use ff::media::Type as MediaType;
use ffmpeg_next as ff;

use crate::codec::{self, Codec, CodecConfig};
use crate::config::{Config, TranscodePolicy};
use crate::demux::Demuxer;
use crate::error::{Error, ErrorKind, Result};
use crate::mp4index::{self, Mp4Track};
use crate::names::TrackId;
use crate::segmenter::{apply_shared_shift, cut_main, drop_priming, segment_follower};
use crate::subtitle::{self, CueExtractor, CueTrack};
use crate::timeline::TimeMap;
use crate::transcode::{self, AacSettings, AacTarget};

/// What identifies one version of a file on disk: a change of any field means re-index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileIdentity {
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i128,
}

impl FileIdentity {
    /// Stats `path` (one `stat` call). Missing files and directories are `Io` errors.
    pub fn of(path: &Path) -> Result<FileIdentity> {
        let md = std::fs::metadata(path).map_err(|e| Error::new(ErrorKind::Io, format!("{}: {e}", path.display())))?;
        if md.is_dir() {
            return Err(Error::new(ErrorKind::Io, format!("{}: is a directory", path.display())));
        }
        if !md.is_file() {
            return Err(Error::new(ErrorKind::Io, format!("{}: not a regular file", path.display())));
        }
        Ok(FileIdentity {
            dev: md.dev(),
            ino: md.ino(),
            size: md.len(),
            mtime_ns: md.mtime() as i128 * 1_000_000_000 + md.mtime_nsec() as i128,
        })
    }
}

/// Kind of a source stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// Codec parameters kept for on-demand decoding. Read-only after indexing.
pub struct SharedParams(pub ff::codec::Parameters);
// SAFETY: the AVCodecParameters are owned, never mutated after indexing, and only read.
unsafe impl Sync for SharedParams {}

/// How a track is delivered.
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
    /// WebVTT segments from cues extracted at indexing.
    Cues(CueTrack),
    /// Not served; the reason is shown by the info call.
    NotServed(String),
}

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

/// One source stream and how it is served.
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
    /// Title from the stream's metadata.
    pub title: Option<String>,
    /// Disposition: default.
    pub default: bool,
    /// Disposition: forced.
    pub forced: bool,
    /// How the track is served.
    pub delivery: Delivery,
    /// Timestamp mapping to the output track.
    pub map: TimeMap,
    /// Output segments (empty for subtitle and unserved tracks).
    pub segments: Vec<Segment>,
    /// Decode timestamps of every sample, when the container gives none (Matroska video with
    /// B-frames): derived once from the presentation times.
    pub decode_ts: Option<Vec<i64>>,
    /// Byte position and timing of every sample. With `direct_read` (MP4) media segments are
    /// read with positioned reads, no demuxer involved; otherwise the positions re-anchor
    /// packets read through FFmpeg after a seek in containers whose timestamps after a seek are
    /// estimates (MP3).
    pub sample_table: Option<Vec<SampleRec>>,
    /// Samples are read straight from the file by position (see `sample_table`).
    pub direct_read: bool,
    /// Segments were planned from Matroska Cues: their samples are found by time when
    /// generated (`Segment::samples` is 0).
    pub cue_indexed: bool,
    /// Decode times are derived per segment: its sorted presentation times minus this delay.
    pub dts_delay: Option<i64>,
    /// How source samples are rewritten for fMP4 (start codes, ADTS headers).
    pub sample_form: SampleForm,
    /// Matroska track number, when segments are read block by block (see `Segment::cluster`).
    pub block_track: Option<u64>,
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
    /// Duration of segment `i` in seconds.
    pub fn segment_seconds(&self, i: usize) -> f64 {
        self.map.seconds(self.segments[i].out_duration)
    }
}

/// What an index was built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexSource {
    /// MP4 sample tables (every sample's position, size and times; no packet read).
    SampleTables,
    /// Matroska Cues, plus the block headers around each segment boundary.
    MatroskaCues,
    /// One pass over every packet (containers without an index).
    PacketScan,
}

impl IndexSource {
    /// How the info JSON names it.
    pub fn name(self) -> &'static str {
        match self {
            IndexSource::SampleTables => "mp4 sample tables",
            IndexSource::MatroskaCues => "matroska cues",
            IndexSource::PacketScan => "packet scan",
        }
    }
}

/// How a track's source samples are stored, when that differs from what fMP4 carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    fn detect(codec: Codec, first_packet: &[u8]) -> SampleForm {
        match codec {
            Codec::H264 | Codec::Hevc if codec::is_annexb(first_packet) => SampleForm::AnnexB,
            Codec::Aac if codec::adts_header_len(first_packet).is_some() => SampleForm::Adts,
            _ => SampleForm::Native,
        }
    }
}

/// Everything known about one opened file.
pub struct MediaIndex {
    /// The file.
    pub path: PathBuf,
    /// Its identity when indexed.
    pub identity: FileIdentity,
    /// Container format name.
    pub format: String,
    /// Presentation duration in microseconds.
    pub duration_us: i64,
    /// Every source stream.
    pub tracks: Vec<Track>,
    /// Segment boundaries on the presentation timeline (µs): `boundaries[k]..boundaries[k+1]` is
    /// segment k of every rendition; `len = segments + 1`.
    pub boundaries_us: Vec<i64>,
    /// 90 kHz value of source time 0 on the fMP4 timeline (for `X-TIMESTAMP-MAP`).
    pub mpegts_origin: u64,
    /// The presentation-wide shift `C` (output time - source time) in microseconds.
    pub shift_us: i64,
    /// Matroska planned from Cues: what the block walker needs to read segments (no Cues kept).
    pub matroska: Option<crate::mkvindex::Layout>,
    /// What the index was built from.
    pub indexed_from: IndexSource,
    /// Time spent indexing.
    pub index_time: Duration,
}

impl MediaIndex {
    /// The track (rendition) `id`.
    pub fn track(&self, id: impl Into<TrackId>) -> Option<&Track> {
        let id = id.into();
        self.tracks.iter().find(|t| t.id == id)
    }
    /// Served fMP4 tracks of a kind.
    pub fn served(&self, kind: TrackKind) -> impl Iterator<Item = &Track> {
        self.tracks.iter().filter(move |t| t.kind == kind && t.is_served())
    }
    /// The demuxer's timestamps are exact and seeks land on the asked sample (MP4 sample
    /// tables): segments read through FFmpeg select packets by time.
    pub fn exact_timestamps(&self) -> bool {
        self.indexed_from == IndexSource::SampleTables
    }
    /// Number of segments every rendition is cut into.
    pub fn segment_count(&self) -> usize {
        self.boundaries_us.len().saturating_sub(1)
    }
    /// Approximate heap bytes held by the index (for stats).
    pub fn approx_bytes(&self) -> usize {
        self.tracks
            .iter()
            .map(|t| {
                t.segments.len() * std::mem::size_of::<Segment>()
                    + match &t.delivery {
                        Delivery::Cues(c) => c.approx_bytes(),
                        _ => 0,
                    }
            })
            .sum()
    }
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
    fn set_dts(&mut self, dts: i64) {
        let pts = self.pts();
        self.dts = dts;
        self.cto = (pts - dts) as i32;
    }
}

/// One source sample as seen at indexing: the same record the sample table keeps.
type RawSample = SampleRec;

/// Per-stream facts read from the header.
#[derive(Clone)]
pub(crate) struct StreamInfo {
    pub(crate) kind: TrackKind,
    pub(crate) id: Id,
    pub(crate) codec_name: String,
    pub(crate) params: ff::codec::Parameters,
    pub(crate) tb: (i32, i32),
    pub(crate) language: Option<String>,
    pub(crate) title: Option<String>,
    pub(crate) default: bool,
    pub(crate) forced: bool,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) frame_rate: Option<f64>,
    pub(crate) sample_rate: u32,
    pub(crate) channels: u32,
    pub(crate) bits_per_sample: u32,
    pub(crate) extradata: Vec<u8>,
}

/// The codecs HLS players play from fMP4 when copied.
pub(crate) fn copy_codec(id: Id) -> Option<Codec> {
    Some(match id {
        Id::H264 => Codec::H264,
        Id::HEVC => Codec::Hevc,
        Id::AV1 => Codec::Av1,
        Id::AAC => Codec::Aac,
        Id::AC3 => Codec::Ac3,
        Id::EAC3 => Codec::Eac3,
        Id::MP3 => Codec::Mp3,
        Id::OPUS => Codec::Opus,
        Id::FLAC => Codec::Flac,
        _ => return None,
    })
}

pub(crate) fn stream_infos(dmx: &Demuxer) -> Vec<StreamInfo> {
    dmx.input()
        .streams()
        .map(|st| {
            let params = st.parameters();
            // SAFETY: codecpar of an open stream is valid for reading.
            let p = unsafe { &*params.as_ptr() };
            let kind = match params.medium() {
                MediaType::Video if st.disposition().contains(ff::format::stream::Disposition::ATTACHED_PIC) => {
                    TrackKind::Other
                }
                MediaType::Video => TrackKind::Video,
                MediaType::Audio => TrackKind::Audio,
                MediaType::Subtitle => TrackKind::Subtitle,
                _ => TrackKind::Other,
            };
            let extradata = if p.extradata.is_null() || p.extradata_size <= 0 {
                Vec::new()
            } else {
                // SAFETY: extradata points to extradata_size readable bytes.
                unsafe { std::slice::from_raw_parts(p.extradata, p.extradata_size as usize) }.to_vec()
            };
            let fr = [st.avg_frame_rate(), st.rate()]
                .into_iter()
                .find(|r| r.numerator() > 0 && r.denominator() > 0)
                .map(|r| r.numerator() as f64 / r.denominator() as f64);
            let meta = st.metadata();
            let tb = st.time_base();
            StreamInfo {
                kind,
                id: params.id(),
                codec_name: params.id().name().to_string(),
                tb: (tb.numerator(), tb.denominator()),
                language: meta.get("language").filter(|l| !l.is_empty() && *l != "und").map(str::to_string),
                title: meta
                    .get("title")
                    .or_else(|| meta.get("handler_name").filter(|h| !h.ends_with("Handler")))
                    .filter(|t| !t.trim().is_empty())
                    .map(str::to_string),
                default: st.disposition().contains(ff::format::stream::Disposition::DEFAULT),
                forced: st.disposition().contains(ff::format::stream::Disposition::FORCED),
                width: p.width.max(0) as u32,
                height: p.height.max(0) as u32,
                frame_rate: fr,
                sample_rate: p.sample_rate.max(0) as u32,
                channels: p.ch_layout.nb_channels.max(0) as u32,
                bits_per_sample: p.bits_per_raw_sample.max(p.bits_per_coded_sample).max(0) as u32,
                extradata,
                params: params.clone(),
            }
        })
        .collect()
}

/// What the indexing pass collected per stream.
#[derive(Clone, Default)]
pub(crate) struct Collected {
    pub(crate) samples: Vec<RawSample>,
    pub(crate) end_dts: Option<i64>,
    pub(crate) first_packet: Option<Vec<u8>>,
    /// Decode timestamps were derived from presentation times.
    pub(crate) synthesized: bool,
    /// Bytes of a keyframe after the first (to tell IDR from open-GOP random access points).
    pub(crate) later_keyframe: Option<Vec<u8>>,
    /// Sample positions are known: segments are read directly from the file.
    pub(crate) direct: bool,
    /// Some packet had no decode timestamp (they are derived, see `synthesize_dts`).
    pub(crate) missing_dts: bool,
    /// The end as the last packet's timestamp and duration said (before `finish_collected`).
    pub(crate) raw_end_dts: Option<i64>,
}

/// True when a video keyframe sample starts a closed GOP: an H.264 IDR, an HEVC IDR/BLA (not a
/// CRA, whose leading pictures may reference the previous GOP), or any AV1 key frame.
fn closed_gop_keyframe(codec: Codec, extradata: &[u8], sample: &[u8]) -> bool {
    if matches!(codec, Codec::H264 | Codec::Hevc) && codec::is_annexb(sample) {
        return closed_gop_keyframe(codec, &[], &codec::annexb_to_length_prefixed(sample));
    }
    let len_size = match codec {
        Codec::H264 if extradata.len() > 4 && extradata[0] == 1 => (extradata[4] & 3) as usize + 1,
        Codec::Hevc if extradata.len() > 21 && extradata[0] == 1 => (extradata[21] & 3) as usize + 1,
        Codec::H264 | Codec::Hevc => 4,
        _ => return true,
    };
    let mut at = 0usize;
    while at + len_size <= sample.len() {
        let n = sample[at..at + len_size].iter().fold(0usize, |a, &b| (a << 8) | b as usize);
        at += len_size;
        let Some(&head) = sample.get(at) else { break };
        match codec {
            Codec::H264 if head & 0x1f == 5 => return true,
            Codec::H264 if head & 0x1f == 1 => return false,
            Codec::Hevc => match (head >> 1) & 0x3f {
                16..=20 => return true,
                0..=15 | 21..=23 => return false,
                _ => {}
            },
            _ => {}
        }
        at += n;
    }
    false
}

/// Derives decode timestamps for a stream whose container stores none (Matroska B-frames):
/// the sorted presentation times, delayed by `delay` or, by default, just enough that no
/// sample decodes after it shows.
fn synthesize_dts(samples: &mut [RawSample], delay: Option<i64>) {
    let sorted = sorted_pts(samples);
    let delay = delay.unwrap_or_else(|| delay_for(samples, &sorted));
    for (s, p) in samples.iter_mut().zip(&sorted) {
        s.set_dts(p - delay);
    }
}

/// The smallest delay that keeps every derived decode time at or before its presentation
/// time: the largest gap between a sample's rank in presentation order and its own time.
pub(crate) fn reorder_delay(samples: &[RawSample]) -> i64 {
    delay_for(samples, &sorted_pts(samples))
}

fn sorted_pts(samples: &[RawSample]) -> Vec<i64> {
    let mut sorted: Vec<i64> = samples.iter().map(|s| s.pts()).collect();
    sorted.sort_unstable();
    sorted
}

fn delay_for(samples: &[RawSample], sorted: &[i64]) -> i64 {
    samples.iter().zip(sorted).map(|(s, p)| p - s.pts()).max().unwrap_or(0).max(0)
}

/// Builds the index of `path`. Opening a large MP4 reads its header only.
pub fn build(path: &Path, identity: FileIdentity, cfg: &Config) -> Result<MediaIndex> {
    let started = Instant::now();
    if identity.size == 0 {
        return Err(Error::media("file is empty (0 bytes)"));
    }
    let file = File::open(path).map_err(|e| Error::new(ErrorKind::Io, format!("{}: {e}", path.display())))?;
    match mp4index::read(&file, identity.size) {
        Ok(ix) if !ix.fragmented => {
            if let Some(index) = build_from_mp4(path, identity, cfg, ix, &file, started)? {
                return Ok(index);
            }
        }
        // Fragmented, not ISO-BMFF, or a construct the fast reader leaves to FFmpeg.
        Ok(_) | Err(_) => {}
    }
    build_with_ffmpeg(path, identity, cfg, started)
}

/// Codec id of an MP4 sample entry (what FFmpeg's mov demuxer would report).
fn mp4_codec_id(t: &Mp4Track) -> Id {
    match &t.sample_entry {
        b"avc1" | b"avc3" => Id::H264,
        b"hvc1" | b"hev1" => Id::HEVC,
        b"av01" => Id::AV1,
        b"mp4a" => match t.object_type {
            0x6B | 0x69 => Id::MP3,
            0x40 | 0x66 | 0x67 | 0x68 => Id::AAC,
            0xA5 => Id::AC3,
            0xA6 => Id::EAC3,
            _ => Id::None,
        },
        b".mp3" => Id::MP3,
        b"ac-3" => Id::AC3,
        b"ec-3" => Id::EAC3,
        b"Opus" => Id::OPUS,
        b"fLaC" => Id::FLAC,
        b"tx3g" | b"text" => Id::MOV_TEXT,
        b"wvtt" => Id::WEBVTT,
        _ => Id::None,
    }
}

/// Minimal decoder parameters for a track read without FFmpeg (subtitle decoding needs the
/// codec id and its extradata).
fn mp4_params(t: &Mp4Track, id: Id, medium: MediaType) -> ff::codec::Parameters {
    let mut p = ff::codec::Parameters::new();
    p.set_medium(medium);
    p.set_id(id);
    // SAFETY: p owns its AVCodecParameters; extradata is allocated with FFmpeg's allocator and
    // the required zeroed padding, and ownership passes to the parameters.
    unsafe {
        let raw = p.as_mut_ptr();
        if !t.config.is_empty() {
            let pad = ff::ffi::AV_INPUT_BUFFER_PADDING_SIZE as usize;
            let buf = ff::ffi::av_mallocz(t.config.len() + pad) as *mut u8;
            if !buf.is_null() {
                std::ptr::copy_nonoverlapping(t.config.as_ptr(), buf, t.config.len());
                (*raw).extradata = buf;
                (*raw).extradata_size = t.config.len() as i32;
            }
        }
        (*raw).width = t.width as i32;
        (*raw).height = t.height as i32;
        (*raw).sample_rate = t.sample_rate as i32;
    }
    p
}

/// The MP4 fast path: sample tables read directly (a few positioned reads). FFmpeg's demuxer is
/// opened only when a track needs its decoder parameters (audio to transcode, codecs this reader
/// does not name). Returns `None` when FFmpeg must index the file itself.
fn build_from_mp4(
    path: &Path,
    identity: FileIdentity,
    cfg: &Config,
    ix: mp4index::Mp4Index,
    file: &File,
    started: Instant,
) -> Result<Option<MediaIndex>> {
    let mut infos = Vec::with_capacity(ix.tracks.len());
    let mut collected: Vec<Collected> = Vec::with_capacity(ix.tracks.len());
    let mut ffmpeg: Option<Demuxer> = None;
    let mut extractors = HashMap::new();
    for (i, mut t) in ix.tracks.into_iter().enumerate() {
        let kind = match &t.handler {
            // A chapter track (`tref/chap`) holds chapter titles, not subtitles.
            _ if t.chapter => TrackKind::Other,
            b"vide" => TrackKind::Video,
            b"soun" => TrackKind::Audio,
            b"sbtl" | b"text" | b"subt" => TrackKind::Subtitle,
            _ => TrackKind::Other,
        };
        let mut id = mp4_codec_id(&t);
        let medium = match kind {
            TrackKind::Video => MediaType::Video,
            TrackKind::Audio => MediaType::Audio,
            TrackKind::Subtitle => MediaType::Subtitle,
            TrackKind::Other => MediaType::Data,
        };
        // Audio to transcode (and codecs this reader does not name) need FFmpeg's full decoder
        // parameters: open FFmpeg's demuxer once for them; everything else stays on the fast path.
        let needs_ffmpeg = (kind == TrackKind::Audio
            && (id == Id::None || wants_aac_rendition(kind, id, cfg) || audio_will_transcode(id, cfg)))
            || (kind == TrackKind::Video && id == Id::None);
        let params = if needs_ffmpeg {
            if ffmpeg.is_none() {
                ffmpeg = Some(Demuxer::open(path, false)?);
            }
            let st = ffmpeg.as_ref().and_then(|d| d.input().streams().find(|s| s.id() == t.track_id as i32));
            match st {
                Some(st) => {
                    id = st.parameters().id();
                    st.parameters().clone()
                }
                None => return Ok(None),
            }
        } else {
            mp4_params(&t, id, medium)
        };
        let tb = (1, t.timescale.max(1) as i32);
        if kind == TrackKind::Subtitle && subtitle::classify(id).is_ok() {
            if let Ok(mut x) = CueExtractor::new(params.clone(), ff::Rational::new(tb.0, tb.1)) {
                feed_cues(file, &t.samples, t.end_dts, &mut x);
                extractors.insert(i, x);
            }
        }
        let mut c = Collected::default();
        let frame_rate = frame_rate_of(&t);
        if matches!(kind, TrackKind::Video | TrackKind::Audio) {
            let keys: Vec<&mp4index::Mp4Sample> = t.samples.iter().filter(|s| s.key).take(2).collect();
            c.first_packet = t.samples.first().and_then(|s| read_at(file, s.pos, s.size));
            c.later_keyframe = keys.get(1).and_then(|s| read_at(file, s.pos, s.size));
            c.end_dts = Some(t.end_dts);
            c.direct = true;
            // Converted in place (the records are smaller): no second large allocation.
            c.samples = std::mem::take(&mut t.samples)
                .into_iter()
                .map(|s| SampleRec::new(s.pos, s.dts, s.pts, s.size, s.key))
                .collect();
        }
        collected.push(c);
        infos.push(StreamInfo {
            kind,
            id,
            codec_name: id.name().to_string(),
            params,
            tb,
            language: t.language.clone(),
            title: t.name.clone(),
            default: t.default,
            forced: false,
            width: t.width,
            height: t.height,
            frame_rate,
            sample_rate: t.sample_rate,
            channels: t.channels,
            bits_per_sample: t.bits_per_sample,
            extradata: t.config,
        });
    }
    if !infos.iter().any(|i| matches!(i.kind, TrackKind::Video | TrackKind::Audio)) {
        return Err(Error::new(ErrorKind::NoPlayableTracks, "nothing to play: the file has no audio or video stream"));
    }
    let format = "mov,mp4,m4a,3gp,3g2,mj2".to_string();
    assemble(path, identity, cfg, infos, collected, extractors, IndexSource::SampleTables, format, started, None)
}

/// Frame rate of an MP4 video track: samples over duration.
fn frame_rate_of(t: &Mp4Track) -> Option<f64> {
    let n = t.samples.len();
    let span = t.end_dts - t.samples.first()?.dts;
    (n > 1 && span > 0 && t.handler == *b"vide").then(|| n as f64 * t.timescale as f64 / span as f64)
}

fn read_at(file: &File, pos: u64, size: u32) -> Option<Vec<u8>> {
    if size == 0 || size > 8 << 20 {
        return None;
    }
    let mut buf = vec![0u8; size as usize];
    file.read_exact_at(&mut buf, pos).ok().map(|_| buf)
}

/// Reads every sample of a text subtitle track (only those bytes) into the cue extractor.
fn feed_cues(file: &File, samples: &[mp4index::Mp4Sample], end_dts: i64, x: &mut CueExtractor) {
    for (i, s) in samples.iter().enumerate() {
        let Some(data) = read_at(file, s.pos, s.size) else { continue };
        let duration = samples.get(i + 1).map_or(end_dts, |n| n.dts) - s.dts;
        x.push(&crate::demux::timed_packet(&data, s.pts, Some(s.dts), duration, false)).ok();
    }
}

/// Whether an audio codec will be transcoded under the configured policy.
pub(crate) fn audio_will_transcode(id: Id, cfg: &Config) -> bool {
    let copyable = copy_codec(id);
    match cfg.transcode {
        TranscodePolicy::Never => false,
        TranscodePolicy::BrowserSafe => !matches!(copyable, Some(Codec::Aac)),
        TranscodePolicy::Unplayable | TranscodePolicy::AddAacBesideSurround => copyable.is_none(),
    }
}

/// Indexes through FFmpeg: the mov demuxer's index for MP4, else one packet scan.
fn build_with_ffmpeg(path: &Path, identity: FileIdentity, cfg: &Config, started: Instant) -> Result<MediaIndex> {
    let mut dmx = Demuxer::open(path, false)?;
    let mut from_container_index = dmx.is_mp4_family();
    if !from_container_index {
        dmx.probe()?;
    }
    let infos = stream_infos(&dmx);
    if !infos.iter().any(|i| matches!(i.kind, TrackKind::Video | TrackKind::Audio)) {
        let what = if infos.is_empty() { "no streams" } else { "no audio or video stream" };
        return Err(Error::new(ErrorKind::NoPlayableTracks, format!("nothing to play: the file has {what}")));
    }
    let mut extractors = subtitle_extractors(&infos);
    let av: Vec<usize> =
        (0..infos.len()).filter(|&i| matches!(infos[i].kind, TrackKind::Video | TrackKind::Audio)).collect();
    let mut collected: Vec<Collected> = (0..infos.len()).map(|_| Collected::default()).collect();
    if from_container_index {
        from_container_index = collect_from_index(&dmx, path, identity.size, &av, &mut collected)?;
        if from_container_index && !extractors.is_empty() {
            let subs: Vec<usize> = extractors.keys().copied().collect();
            scan(&mut dmx, &subs, &mut collected, &mut extractors)?;
        }
    }
    if !from_container_index && cfg.use_container_index && dmx.format_name().starts_with("matroska") {
        if let Some(index) = crate::mkvcues::build(&mut dmx, path, identity, cfg, started, &infos)? {
            return Ok(index);
        }
        // Read again from the start. (A fresh demuxer, not a seek: FFmpeg's Matroska seek
        // lands on a keyframe's cluster and skips what precedes the keyframe's time.)
        dmx = Demuxer::open(path, true)?;
    }
    if !from_container_index {
        let mut wanted = av.clone();
        wanted.extend(extractors.keys().copied());
        // The demuxer has read nothing yet but its probe, whose packets it returns first.
        scan(&mut dmx, &wanted, &mut collected, &mut extractors)?;
        check_complete(&dmx, &infos, &av, &collected, &extractors)?;
    }
    let format = dmx.format_name();
    drop(dmx);
    let source = if from_container_index { IndexSource::SampleTables } else { IndexSource::PacketScan };
    assemble(path, identity, cfg, infos, collected, extractors, source, format, started, None)?
        .ok_or_else(|| Error::internal("segmenting without a Cue plan gave no index"))
}

/// A scanned file whose packets stop well before the duration its header declares was cut
/// short (an interrupted copy or download): say so instead of serving part of it.
pub(crate) fn check_complete(
    dmx: &Demuxer,
    infos: &[StreamInfo],
    av: &[usize],
    collected: &[Collected],
    extractors: &HashMap<usize, CueExtractor>,
) -> Result<()> {
    let Some(declared) = dmx.duration_us() else { return Ok(()) };
    // Subtitles may outlast the audio and video (the declared duration covers every track).
    let subtitles_end = extractors.values().filter_map(CueExtractor::last_time_us).max().unwrap_or(0);
    let end = av
        .iter()
        .filter_map(|&s| {
            let c = &collected[s];
            let tb = infos[s].tb;
            let map = TimeMap::new(tb.0, tb.1, 1, 1);
            c.end_dts.or_else(|| c.samples.last().map(|x| x.dts)).map(|e| map.us(e))
        })
        .max()
        .unwrap_or(0);
    // Containers disagree on whether the declared duration counts from 0 or from the first
    // timestamp; the smaller reading (from 0) is the safe one. Allow for rounding and streams
    // that end a little early: 1 s or 2 %.
    let end = end.max(subtitles_end);
    let expected = declared;
    if expected - end > 1_000_000.max(declared / 50) {
        return Err(Error::media(format!(
            "file is truncated: its packets end at {:.3} s but its header declares {:.3} s",
            end as f64 / 1e6,
            expected as f64 / 1e6
        )));
    }
    Ok(())
}

pub(crate) fn subtitle_extractors(infos: &[StreamInfo]) -> HashMap<usize, CueExtractor> {
    let mut out = HashMap::new();
    for (i, info) in infos.iter().enumerate() {
        if info.kind == TrackKind::Subtitle && subtitle::classify(info.id).is_ok() {
            let tb = ff::Rational::new(info.tb.0, info.tb.1);
            if let Ok(x) = CueExtractor::new(info.params.clone(), tb) {
                out.insert(i, x);
            }
        }
    }
    out
}

/// Reads MP4 sample tables. Returns false when some track's table is missing (fragmented MP4),
/// so the caller scans instead.
fn collect_from_index(dmx: &Demuxer, path: &Path, file_size: u64, av: &[usize], out: &mut [Collected]) -> Result<bool> {
    let mut file: Option<File> = None;
    for &s in av {
        let entries = dmx.index_entries(s);
        if entries.is_empty() {
            return Ok(false);
        }
        let c = &mut out[s];
        c.samples = entries.iter().map(|e| SampleRec::new(0, e.timestamp, e.timestamp, e.size, e.keyframe)).collect();
        c.samples.sort_by_key(|x| x.dts);
        let data_end = entries.iter().map(|e| e.pos.max(0) as u64 + e.size as u64).max().unwrap_or(0);
        if data_end > file_size {
            return Err(Error::media(format!(
                "file is truncated: stream {s} has sample data up to byte {data_end} but the file has {file_size} bytes"
            )));
        }
        let n = c.samples.len();
        let last_dur = if n >= 2 { c.samples[n - 1].dts - c.samples[n - 2].dts } else { 0 };
        c.end_dts = Some(c.samples[n - 1].dts + last_dur.max(1));
        let later_key = entries.iter().filter(|e| e.keyframe).nth(1).copied();
        for (e, slot) in [(Some(entries[0]), &mut c.first_packet), (later_key, &mut c.later_keyframe)] {
            let Some(e) = e.filter(|e| e.size > 0 && e.size < 8 << 20) else { continue };
            let f = match &file {
                Some(f) => f,
                None => file.insert(File::open(path).map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?),
            };
            let mut buf = vec![0u8; e.size as usize];
            if f.read_exact_at(&mut buf, e.pos as u64).is_ok() {
                *slot = Some(buf);
            }
        }
    }
    Ok(true)
}

/// One pass over the packets of `wanted` streams (all others discarded in the demuxer).
fn scan(
    dmx: &mut Demuxer,
    wanted: &[usize],
    out: &mut [Collected],
    extractors: &mut HashMap<usize, CueExtractor>,
) -> Result<()> {
    scan_until(dmx, wanted, out, extractors, &mut |_, _, _| false)?;
    for c in out.iter_mut() {
        finish_collected(c, None);
    }
    Ok(())
}

/// Reads packets of `wanted` streams from where the demuxer is until the end of the file or
/// until `stop(stream, timestamp, keyframe)` says so, adding them to `out`.
pub(crate) fn scan_until(
    dmx: &mut Demuxer,
    wanted: &[usize],
    out: &mut [Collected],
    extractors: &mut HashMap<usize, CueExtractor>,
    stop: &mut dyn FnMut(usize, i64, bool) -> bool,
) -> Result<()> {
    dmx.select(wanted);
    let mut pkt = ff::Packet::empty();
    let mut errors = 0usize;
    loop {
        match dmx.read(&mut pkt) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                // A damaged region: skip a bounded number of errors, then give up.
                errors += 1;
                if errors > 100 {
                    return Err(e);
                }
                continue;
            }
        }
        let s = pkt.stream();
        if let Some(x) = extractors.get_mut(&s) {
            x.push(&pkt).ok();
            continue;
        }
        let Some(c) = out.get_mut(s) else { continue };
        if !wanted.contains(&s) {
            continue;
        }
        let Some(pts) = pkt.pts().or(pkt.dts()) else { continue };
        let size = pkt.size() as u32;
        if c.first_packet.is_none() {
            c.first_packet = pkt.data().map(<[u8]>::to_vec);
        } else if c.later_keyframe.is_none() && pkt.is_key() {
            c.later_keyframe = pkt.data().map(<[u8]>::to_vec);
        }
        c.missing_dts |= pkt.dts().is_none();
        let pos = u64::try_from(pkt.position()).unwrap_or(0);
        c.samples.push(SampleRec::new(pos, pkt.dts().unwrap_or(pts), pts, size, pkt.is_key()));
        c.end_dts = Some(pkt.dts().unwrap_or(pts) + pkt.duration().max(0));
        c.raw_end_dts = c.end_dts;
        if stop(s, pts, pkt.is_key()) {
            break;
        }
    }
    Ok(())
}

/// After a scan: derives decode times with the given reorder delay, or, where the container
/// has none, with the smallest delay that works; then makes sure the end follows the last
/// sample.
pub(crate) fn finish_collected(c: &mut Collected, delay: Option<i64>) {
    if delay.is_some() || c.missing_dts || c.samples.windows(2).any(|w| w[0].dts >= w[1].dts) {
        synthesize_dts(&mut c.samples, delay);
        c.synthesized = true;
    }
    let n = c.samples.len();
    if c.raw_end_dts.is_some() {
        c.end_dts = c.raw_end_dts;
    }
    if n >= 2 {
        let last = c.samples[n - 1].dts;
        let end = c.end_dts.unwrap_or(last);
        if end <= last {
            c.end_dts = Some(last + (last - c.samples[n - 2].dts).max(1));
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn assemble(
    path: &Path,
    identity: FileIdentity,
    cfg: &Config,
    infos: Vec<StreamInfo>,
    mut collected: Vec<Collected>,
    mut extractors: HashMap<usize, CueExtractor>,
    indexed_from: IndexSource,
    format: String,
    started: Instant,
    cue_plan: Option<&mut crate::mkvcues::CuePlan>,
) -> Result<Option<MediaIndex>> {
    let mut tracks: Vec<Track> = Vec::with_capacity(infos.len());
    let mut video_taken = false;
    let mut aac_renditions = Vec::new();
    for (i, info) in infos.into_iter().enumerate() {
        if wants_aac_rendition(info.kind, info.id, cfg) {
            let id = TrackId { stream: i, aac: true };
            let t = make_track(id, info.clone(), &collected[i], cfg, &mut video_taken, None);
            if t.is_fmp4() {
                aac_renditions.push((t, i));
            }
        }
        tracks.push(make_track(TrackId::source(i), info, &collected[i], cfg, &mut video_taken, extractors.remove(&i)));
    }
    // The extra AAC renditions come after the source streams, each with its stream's samples.
    for (t, i) in aac_renditions {
        collected.push(collected[i].clone());
        tracks.push(t);
    }
    let main = tracks
        .iter()
        .position(|t| t.kind == TrackKind::Video && t.is_fmp4())
        .or_else(|| tracks.iter().position(|t| t.kind == TrackKind::Audio && t.is_fmp4()));
    let Some(main) = main else {
        let reasons: Vec<String> = tracks
            .iter()
            .filter(|t| matches!(t.kind, TrackKind::Video | TrackKind::Audio))
            .map(|t| {
                format!(
                    "stream {} ({} {}): {}",
                    t.stream,
                    t.kind.name(),
                    t.codec_name,
                    t.not_served_reason().unwrap_or("no samples")
                )
            })
            .collect();
        return Err(Error::new(ErrorKind::NoPlayableTracks, format!("nothing to play: {}", reasons.join("; "))));
    };
    for (t, c) in tracks.iter().zip(collected.iter_mut()) {
        if t.kind == TrackKind::Audio {
            drop_priming(c);
        }
    }
    apply_shared_shift(&mut tracks, &collected);
    let target_us = cfg.segment_duration.as_micros() as i64;
    let mut matroska = None;
    let boundaries = match cue_plan {
        Some(plan) => match plan.segment(&mut tracks, &mut collected, main, target_us)? {
            Some(b) => {
                matroska = Some(plan.reader_layout());
                b
            }
            None => return Ok(None),
        },
        None => {
            let b = cut_main(&mut tracks[main], std::mem::take(&mut collected[main]), target_us);
            for (i, t) in tracks.iter_mut().enumerate() {
                if i != main && t.is_fmp4() {
                    segment_follower(t, std::mem::take(&mut collected[i]), &b);
                }
            }
            b
        }
    };
    for t in tracks.iter_mut() {
        if t.is_fmp4() && t.segments.is_empty() {
            t.delivery = Delivery::NotServed("no samples in the presentation's time range".into());
        }
    }
    let duration_us = boundaries.last().copied().unwrap_or(0) - boundaries[0];
    // Source time 0 on the presented fMP4 timeline (after the init's edit list), at 90 kHz, for
    // X-TIMESTAMP-MAP. Players apply the edit list (Chromium MSE, Safari, FFmpeg), so the
    // presented time of a sample is its source time: this is 0 whatever the shift.
    let m = tracks[main].map;
    let mpegts_origin = crate::timeline::rescale(m.out(0) - m.shift, 90_000, m.timescale as i64).max(0) as u64;
    Ok(Some(MediaIndex {
        path: path.to_path_buf(),
        identity,
        format,
        duration_us,
        tracks,
        boundaries_us: boundaries,
        mpegts_origin,
        shift_us: m.ticks_to_us(m.shift),
        matroska,
        indexed_from,
        index_time: started.elapsed(),
    }))
}

/// Decides how a stream is served and keeps its raw samples in `segments` form later.
pub(crate) fn make_track(
    id: TrackId,
    info: StreamInfo,
    c: &Collected,
    cfg: &Config,
    video_taken: &mut bool,
    extractor: Option<CueExtractor>,
) -> Track {
    let (mut sample_rate, mut channels) = (info.sample_rate, info.channels);
    let mut delivery = match info.kind {
        TrackKind::Video => {
            let d = video_delivery(&info, c, *video_taken);
            *video_taken |= matches!(d, Delivery::Copy { .. });
            d
        }
        TrackKind::Audio => {
            let d = audio_delivery(&info, c, cfg, id.aac);
            if let Delivery::Transcode { target, .. } = &d {
                sample_rate = target.sample_rate;
                channels = target.channels;
            }
            d
        }
        TrackKind::Subtitle => match (subtitle::classify(info.id), extractor) {
            (Err(reason), _) => Delivery::NotServed(reason),
            (Ok(()), Some(x)) => Delivery::Cues(x.finish()),
            (Ok(()), None) => Delivery::NotServed("the subtitle decoder could not be opened".into()),
        },
        TrackKind::Other => Delivery::NotServed("not an audio, video or subtitle stream".into()),
    };
    if matches!(delivery, Delivery::Copy { .. } | Delivery::Transcode { .. }) && c.samples.is_empty() {
        delivery = Delivery::NotServed("the stream has no samples".into());
    }
    let map = match info.kind {
        TrackKind::Video => TimeMap::new(info.tb.0, info.tb.1, 1000, 90000),
        TrackKind::Audio if matches!(delivery, Delivery::Transcode { .. }) => {
            TimeMap::new(info.tb.0, info.tb.1, u32::MAX, sample_rate.max(1))
        }
        TrackKind::Audio => TimeMap::new(info.tb.0, info.tb.1, info.sample_rate.max(1), info.sample_rate.max(1)),
        _ => TimeMap::new(info.tb.0, info.tb.1, 1000, 1000),
    };
    let title = match (id.aac, info.title) {
        (true, t) => {
            Some(format!("{} (AAC)", t.or(info.language.clone()).unwrap_or_else(|| format!("Audio {}", id.stream))))
        }
        (false, t) => t,
    };
    let sample_form = match (&delivery, &c.first_packet) {
        (Delivery::Copy { config, .. }, Some(f)) => SampleForm::detect(config.codec, f),
        _ => SampleForm::Native,
    };
    Track {
        stream: id.stream,
        id,
        kind: info.kind,
        codec_name: info.codec_name,
        language: info.language,
        title,
        default: info.default,
        forced: info.forced,
        delivery,
        map,
        segments: Vec::new(),
        decode_ts: None,
        sample_table: None,
        direct_read: false,
        cue_indexed: false,
        dts_delay: None,
        sample_form,
        block_track: None,
        width: info.width,
        height: info.height,
        frame_rate: info.frame_rate,
        independent: info.kind != TrackKind::Video
            || match (copy_codec(info.id), &c.later_keyframe) {
                (Some(codec), Some(k)) => closed_gop_keyframe(codec, &info.extradata, k),
                (Some(codec), None) => {
                    c.first_packet.as_deref().is_none_or(|f| closed_gop_keyframe(codec, &info.extradata, f))
                }
                _ => true,
            },
        sample_rate,
        channels,
    }
}

fn codec_config(info: &StreamInfo, codec: Codec, c: &Collected) -> CodecConfig {
    CodecConfig {
        codec,
        extradata: info.extradata.clone(),
        first_packet: c.first_packet.clone().unwrap_or_default(),
        width: info.width,
        height: info.height,
        sample_rate: info.sample_rate,
        channels: info.channels,
        bits_per_sample: info.bits_per_sample,
    }
}

fn copy_delivery(info: &StreamInfo, codec: Codec, c: &Collected) -> Delivery {
    let config = codec_config(info, codec, c);
    match codec::codec_string(&config) {
        Ok(codec_string) => Delivery::Copy { config, codec_string },
        Err(e) => Delivery::NotServed(format!("cannot describe the {} configuration: {e}", info.codec_name)),
    }
}

fn video_delivery(info: &StreamInfo, c: &Collected, video_taken: bool) -> Delivery {
    if video_taken {
        return Delivery::NotServed("only the first video track is served".into());
    }
    match copy_codec(info.id) {
        Some(codec @ (Codec::H264 | Codec::Hevc | Codec::Av1)) => {
            if !c.samples.iter().any(|s| s.key()) {
                return Delivery::NotServed("the video track has no keyframe".into());
            }
            copy_delivery(info, codec, c)
        }
        _ => Delivery::NotServed(format!(
            "video codec {} is not playable by HLS players (H.264, HEVC and AV1 are); video is never transcoded",
            info.codec_name
        )),
    }
}

/// Whether the policy asks for an extra AAC rendition beside this (AC-3/E-AC-3) passthrough.
fn wants_aac_rendition(kind: TrackKind, id: Id, cfg: &Config) -> bool {
    cfg.transcode == TranscodePolicy::AddAacBesideSurround
        && kind == TrackKind::Audio
        && matches!(copy_codec(id), Some(Codec::Ac3 | Codec::Eac3))
}

fn audio_delivery(info: &StreamInfo, c: &Collected, cfg: &Config, aac_rendition: bool) -> Delivery {
    let copyable = copy_codec(info.id);
    // (MP3 in fMP4 is not played by Chromium's MSE: the browser-safe policy keeps only AAC.)
    let transcode = aac_rendition || audio_will_transcode(info.id, cfg);
    if !transcode {
        return match copyable {
            Some(codec) => copy_delivery(info, codec, c),
            None => Delivery::NotServed(format!(
                "audio codec {} is not playable by HLS players and transcoding is disabled",
                info.codec_name
            )),
        };
    }
    let settings = AacSettings { bitrate: cfg.aac_bitrate, keep_surround: cfg.aac_keep_surround };
    match transcode::plan(&info.params, &settings) {
        Ok(target) => {
            let config = CodecConfig {
                codec: Codec::Aac,
                extradata: target.asc.clone(),
                first_packet: Vec::new(),
                width: 0,
                height: 0,
                sample_rate: target.sample_rate,
                channels: target.channels,
                bits_per_sample: 16,
            };
            Delivery::Transcode { params: SharedParams(info.params.clone()), target, config }
        }
        Err(e) => Delivery::NotServed(format!("audio codec {} cannot be transcoded to AAC: {e}", info.codec_name)),
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

    #[test]
    fn derived_decode_times_keep_presentation_order() {
        // I P B B (presentation 0, 120, 40, 80): decode times are the sorted presentation times
        // delayed by the smallest amount that keeps each at or before its presentation time.
        let mut s: Vec<SampleRec> = [0, 120, 40, 80].iter().map(|&p| SampleRec::new(0, p, p, 1, p == 0)).collect();
        assert_eq!(reorder_delay(&s), 40);
        synthesize_dts(&mut s, None);
        assert_eq!(s.iter().map(|x| x.dts).collect::<Vec<_>>(), vec![-40, 0, 40, 80]);
        assert!(s.iter().all(|x| x.dts <= x.pts()));
        assert_eq!(s.iter().map(|x| x.pts()).collect::<Vec<_>>(), vec![0, 120, 40, 80]);
        // A given delay is used as it is.
        synthesize_dts(&mut s, Some(120));
        assert_eq!(s[0].dts, -120);
    }
}
