//! The MP4 fast path: sample tables (or movie fragments) read directly, FFmpeg opened only where
//! needed.

#![deny(unsafe_op_in_unsafe_fn)]

use crate::container::read::{ByteSource, Prefetch};
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use ff::codec::Id;
use ff::media::Type as MediaType;
use ffmpeg_next as ff;

use super::assemble::assemble;
use super::collect::{constant_reorder_delay, Collected, MAX_SAMPLE_READ};
use super::probe::{StreamInfo, ATTACHED_PICTURE};
use super::track::{audio_will_transcode, wants_aac_rendition, CueDecoder, SubtitleCues};
use crate::codec::picture::Picture;
use crate::container::demux::{Demuxer, MP4_FORMAT_NAME};
use crate::container::mp4::{self as mp4index, Mp4Track};
use crate::container::read::read_vec_at;
use crate::error::{Error, ErrorKind, Result};
use crate::model::config::Config;
use crate::model::cues::{CueSource, CueTrack};
use crate::model::identity::FileIdentity;
use crate::model::media_index::{IndexSource, MediaIndex};
use crate::model::open::Clip;
use crate::model::track::{Roles, TrackKind};
use crate::subtitle::{self, CueExtractor};

/// Codec id of an MP4 sample entry (what FFmpeg's mov demuxer would report).
fn mp4_codec_id(t: &Mp4Track) -> Id {
    match &t.sample_entry {
        b"avc1" | b"avc3" => Id::H264,
        b"hvc1" | b"hev1" => Id::HEVC,
        b"av01" => Id::AV1,
        b"vp09" => Id::VP9,
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
    // SAFETY: `p` owns a valid AVCodecParameters (just allocated, no other reference to it);
    // the extradata buffer comes from FFmpeg's allocator with the zeroed padding FFmpeg requires,
    // `t.config.len()` bytes are copied into it (it is at least that long), and its ownership
    // passes to the parameters, which free it. The integer fields are plain stores.
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
pub(crate) fn build_from_mp4(
    path: &Path,
    identity: FileIdentity,
    cfg: &Config,
    ix: mp4index::Mp4Index,
    file: &ByteSource,
    started: Instant,
    clip: Option<Clip>,
) -> Result<Option<MediaIndex>> {
    let source = if ix.fragmented { IndexSource::MovieFragments } else { IndexSource::SampleTables };
    let mut infos = Vec::with_capacity(ix.tracks.len());
    let mut collected: Vec<Collected> = Vec::with_capacity(ix.tracks.len());
    let mut ffmpeg: Option<Demuxer> = None;
    let mut extractors = HashMap::new();
    // The first sample and the second keyframe of every audio and video track, read below: from
    // a caller-supplied source, in one read when they are near one another (they usually are).
    let firsts: Vec<(u64, u64)> = ix
        .tracks
        .iter()
        .filter(|t| !t.chapter && matches!(&t.handler, b"vide" | b"soun"))
        .flat_map(first_two)
        .flatten()
        .filter(|s| s.size() > 0 && (s.size() as usize) < MAX_SAMPLE_READ)
        .map(|s| (s.pos, u64::from(s.size())))
        .collect();
    let ahead = Prefetch::span(file, &firsts, FIRST_SAMPLES_SPAN);
    for (i, mut t) in ix.tracks.into_iter().enumerate() {
        let kind = match &t.handler {
            // A chapter track (`tref/chap`) holds chapter titles, not subtitles.
            _ if t.chapter => TrackKind::Other,
            b"vide" => TrackKind::Video,
            b"soun" => TrackKind::Audio,
            b"sbtl" | b"text" | b"subt" => TrackKind::Subtitle,
            _ => TrackKind::Other,
        };
        // A video chapter track holds chapter pictures: FFmpeg shows them as an attached picture.
        let not_media = (t.chapter && t.handler == *b"vide").then_some(ATTACHED_PICTURE);
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
                ffmpeg = Some(Demuxer::open(file, false)?);
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
        // A text subtitle track's cues are read on first use: its sample tables say where each
        // cue is (the decoder is opened here only to know that it opens).
        if kind == TrackKind::Subtitle && subtitle::classify(id).is_ok() {
            let decoder = CueDecoder::new(params.clone(), tb, i, cfg.max_index_bytes);
            if decoder.extractor().is_ok() {
                let cues = SampleCues { samples: std::mem::take(&mut t.samples), end_dts: t.end_dts, decoder };
                extractors.insert(i, SubtitleCues::Deferred(Box::new(cues)));
            }
        }
        let mut c = Collected::default();
        let frame_rate = frame_rate_of(&t);
        if matches!(kind, TrackKind::Video | TrackKind::Audio) {
            let [first, later_key] = first_two(&t);
            c.first_packet = first.and_then(|s| read_ahead(&ahead, file, s.pos, s.size()));
            c.later_keyframe = later_key.and_then(|s| read_ahead(&ahead, file, s.pos, s.size()));
            c.end_dts = Some(t.end_dts);
            c.direct = true;
            // The reader's samples are the index's records already: moved, not converted.
            c.samples = std::mem::take(&mut t.samples);
            c.lazy = t.lazy.take();
            if kind == TrackKind::Video && constant_reorder_delay(&mut c) {
                log::debug!("{}: stream {i}: reorder delay varies: decode times re-timed", path.display());
            }
        }
        collected.push(c);
        infos.push(StreamInfo {
            kind,
            id,
            codec_name: id.name().to_string(),
            params,
            tb,
            language: t.language.clone(),
            language_tag: None,
            title: t.name.clone(),
            default: t.default,
            forced: false,
            // (MP4 `kind` boxes are rare; the tables carry no role.)
            roles: Roles::default(),
            width: t.width,
            height: t.height,
            frame_rate,
            sample_rate: t.sample_rate,
            channels: t.channels,
            bits_per_sample: t.bits_per_sample,
            extradata: t.config,
            not_media,
            picture: t.picture,
        });
    }
    // Cover art (`covr`): FFmpeg's attached-picture streams, after the tracks; never video.
    for &kind in &ix.cover_art {
        let id = match kind {
            COVR_JPEG => Id::MJPEG,
            COVR_PNG => Id::PNG,
            COVR_BMP => Id::BMP,
            _ => Id::None,
        };
        let mut params = ff::codec::Parameters::new();
        params.set_medium(MediaType::Video);
        params.set_id(id);
        collected.push(Collected::default());
        infos.push(StreamInfo {
            kind: TrackKind::Other,
            id,
            codec_name: id.name().to_string(),
            params,
            tb: (1, COVER_TIMESCALE),
            language: None,
            language_tag: None,
            title: None,
            default: false,
            forced: false,
            roles: Roles::default(),
            width: 0,
            height: 0,
            frame_rate: None,
            sample_rate: 0,
            channels: 0,
            bits_per_sample: 0,
            extradata: Vec::new(),
            not_media: Some(ATTACHED_PICTURE),
            picture: Picture::default(),
        });
    }
    if !infos.iter().any(|i| matches!(i.kind, TrackKind::Video | TrackKind::Audio)) {
        return Err(Error::new(ErrorKind::NoPlayableTracks, "nothing to play: the file has no audio or video stream"));
    }
    let format = MP4_FORMAT_NAME.to_string();
    assemble(path, identity, cfg, infos, collected, extractors, source, format, started, clip).map(Some)
}

/// The first sample of `t` and its second sync sample.
fn first_two(t: &Mp4Track) -> [Option<mp4index::Mp4Sample>; 2] {
    match &t.lazy {
        Some(l) => [l.get(0), l.keys_from(0).nth(1).and_then(|k| l.get(k))],
        None => [t.samples.first().copied(), t.samples.iter().filter(|s| s.key()).nth(1).copied()],
    }
}

/// `covr` `data` types: JPEG, PNG, BMP pictures.
const COVR_JPEG: u32 = 13;
const COVR_PNG: u32 = 14;
const COVR_BMP: u32 = 27;

/// Time base of a cover picture's stream (FFmpeg's attached pictures have 1/90000).
const COVER_TIMESCALE: i32 = 90_000;

/// Frame rate of an MP4 video track: samples over duration.
fn frame_rate_of(t: &Mp4Track) -> Option<f64> {
    let (n, first) = match &t.lazy {
        Some(l) => (l.len(), l.get(0)?.dts),
        None => (t.samples.len(), t.samples.first()?.dts),
    };
    let span = t.end_dts - first;
    (n > 1 && span > 0 && t.handler == *b"vide").then(|| n as f64 * t.timescale as f64 / span as f64)
}

/// Most bytes read ahead for the first samples of the tracks of an MP4 read from a
/// caller-supplied source (in one read, instead of two per track).
const FIRST_SAMPLES_SPAN: u64 = 1 << 20;

/// One sample's bytes, from `ahead` when it holds them; else as [`read_at`].
fn read_ahead(ahead: &Prefetch, file: &ByteSource, pos: u64, size: u32) -> Option<Vec<u8>> {
    match ahead.get(pos, size as usize) {
        Some(b) if size > 0 => Some(b.to_vec()),
        _ => read_at(file, pos, size),
    }
}

/// One sample's bytes; `None` when it is empty, larger than [`MAX_SAMPLE_READ`] or unreadable.
fn read_at(file: &ByteSource, pos: u64, size: u32) -> Option<Vec<u8>> {
    if size == 0 {
        return None;
    }
    read_vec_at(file, pos, size as usize, MAX_SAMPLE_READ).ok()
}

/// The cues of a text subtitle track, read from its samples when first asked for.
struct SampleCues {
    samples: Vec<mp4index::Mp4Sample>,
    /// End of the last sample.
    end_dts: i64,
    decoder: CueDecoder,
}

impl CueSource for SampleCues {
    fn read(&self, file: &ByteSource) -> Result<CueTrack> {
        let mut x = self.decoder.extractor()?;
        feed_cues(file, &self.samples, self.end_dts, &mut x);
        self.decoder.finish(x)
    }
}

/// Reads every sample of a text subtitle track (only those bytes) into the cue extractor.
fn feed_cues(file: &ByteSource, samples: &[mp4index::Mp4Sample], end_dts: i64, x: &mut CueExtractor) {
    for (i, s) in samples.iter().enumerate() {
        let Some(data) = read_at(file, s.pos, s.size()) else { continue };
        let duration = samples.get(i + 1).map_or(end_dts, |n| n.dts) - s.dts;
        // A sample FFmpeg cannot decode is skipped; past the index ceiling the extractor says
        // so (`exceeded`, reported when the index is assembled).
        if x.push(&crate::container::demux::timed_packet(&data, s.pts(), Some(s.dts), duration, false))
            .is_err_and(|e| e.refused().is_some())
        {
            break;
        }
    }
}
