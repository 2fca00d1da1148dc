//! Decides how each stream is served (copy, AAC transcode, WebVTT, not served).

#![deny(unsafe_code)]

use ff::codec::Id;
use ffmpeg_next as ff;

use super::collect::Collected;
use super::frame_rate::{max_frame_rate, max_frame_rate_lazy};
use super::probe::{copy_codec, StreamInfo};
use crate::codec::{self, Codec, CodecConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::model::aac::AacSettings;
use crate::model::config::{Config, TranscodePolicy};
use crate::model::cues::{CueSource, CueTrack, Cues};
use crate::model::names::TrackId;
use crate::model::time::TimeMap;
use crate::model::track::{Delivery, SampleForm, SampleReader, SharedParams, Track, TrackKind};
use crate::subtitle::{self, CueExtractor};
use crate::transcode;

/// True when a video keyframe sample starts a closed GOP: an H.264 IDR, an HEVC IDR/BLA (not a
/// CRA, whose leading pictures may reference the previous GOP), or any AV1 key frame.
fn closed_gop_keyframe(codec: Codec, extradata: &[u8], sample: &[u8]) -> bool {
    match codec {
        Codec::H264 => codec::h264::starts_closed_gop(extradata, sample),
        Codec::Hevc => codec::hevc::starts_closed_gop(extradata, sample),
        _ => true,
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

/// A source time base `1/N` is kept as a video track's output timescale when `N` is at least
/// this (millisecond ticks or finer); also the timescale of tracks that are not audio or video.
const MIN_TIMESCALE: u32 = 1000;

/// Output timescale of video tracks whose time base is coarser or not `1/N` (90 kHz).
const VIDEO_TIMESCALE: u32 = 90_000;

/// A text subtitle stream's cues as indexing gets them.
pub(crate) enum SubtitleCues {
    /// Fed the stream's packets while the file is indexed.
    Extracted(CueExtractor),
    /// Read from the file on first use (see [`Cues`]).
    Deferred(Box<dyn CueSource>),
}

/// The cues of the text subtitle streams, by stream.
pub(crate) type Subtitles = std::collections::HashMap<usize, SubtitleCues>;

/// Subtitles whose cues were all extracted while the file was indexed.
pub(crate) fn extracted(extractors: std::collections::HashMap<usize, CueExtractor>) -> Subtitles {
    extractors.into_iter().map(|(s, x)| (s, SubtitleCues::Extracted(x))).collect()
}

/// An extractor of a text subtitle stream's cues (decoder parameters `params`, time base `tb`),
/// bounded by the index ceiling `limit`.
pub(crate) fn cue_extractor(params: ff::codec::Parameters, tb: (i32, i32), limit: u64) -> Result<CueExtractor> {
    let mut x = CueExtractor::new(params, ff::Rational::new(tb.0, tb.1))?;
    x.set_limit(limit);
    Ok(x)
}

/// What a text subtitle stream's cues read on first use are decoded with: its decoder
/// parameters, time base and stream index, and the index ceiling they must stay under.
pub(crate) struct CueDecoder {
    params: SharedParams,
    tb: (i32, i32),
    stream: usize,
    limit: u64,
}

impl CueDecoder {
    /// The decoder of stream `stream`.
    pub(crate) fn new(params: ff::codec::Parameters, tb: (i32, i32), stream: usize, limit: u64) -> CueDecoder {
        CueDecoder { params: SharedParams(params), tb, stream, limit }
    }

    /// The stream index.
    pub(crate) fn stream(&self) -> usize {
        self.stream
    }

    /// A new extractor of the stream's cues ([`cue_extractor`]).
    pub(crate) fn extractor(&self) -> Result<CueExtractor> {
        cue_extractor(self.params.0.clone(), self.tb, self.limit)
    }

    /// The cues `x` extracted, or why they are refused (over the index ceiling).
    pub(crate) fn finish(&self, x: CueExtractor) -> Result<CueTrack> {
        if x.exceeded() {
            return Err(cue_ceiling_error(self.stream, self.limit));
        }
        Ok(x.finish())
    }
}

/// Why stream `s`'s cues are refused: they need more than the index ceiling `max_index_bytes`.
pub(crate) fn cue_ceiling_error(s: usize, max_index_bytes: u64) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!(
            "stream {s}: its subtitle cues need more than the {} MiB index ceiling (max_index_bytes)",
            max_index_bytes >> 20
        ),
    )
}

/// Decides how a stream is served and keeps its raw samples in `segments` form later.
pub(crate) fn make_track(
    id: TrackId,
    info: StreamInfo,
    c: &Collected,
    cfg: &Config,
    video_taken: &mut bool,
    cues: Option<SubtitleCues>,
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
        TrackKind::Subtitle => match (subtitle::classify(info.id), cues) {
            (Err(reason), _) => Delivery::NotServed(reason.to_string()),
            (Ok(()), Some(SubtitleCues::Extracted(x))) => Delivery::Cues(Cues::new(x.finish())),
            (Ok(()), Some(SubtitleCues::Deferred(source))) => Delivery::Cues(Cues::deferred(source)),
            (Ok(()), None) => Delivery::NotServed("the subtitle decoder could not be opened".into()),
        },
        TrackKind::Other => {
            Delivery::NotServed(info.not_media.unwrap_or("not an audio, video or subtitle stream").into())
        }
    };
    if matches!(delivery, Delivery::Copy { .. } | Delivery::Transcode { .. }) && c.is_empty() {
        delivery = Delivery::NotServed("the stream has no samples".into());
    }
    let map = match info.kind {
        TrackKind::Video => TimeMap::new(info.tb.0, info.tb.1, MIN_TIMESCALE, VIDEO_TIMESCALE),
        TrackKind::Audio if matches!(delivery, Delivery::Transcode { .. }) => {
            TimeMap::new(info.tb.0, info.tb.1, u32::MAX, sample_rate.max(1))
        }
        TrackKind::Audio => TimeMap::new(info.tb.0, info.tb.1, info.sample_rate.max(1), info.sample_rate.max(1)),
        _ => TimeMap::new(info.tb.0, info.tb.1, MIN_TIMESCALE, MIN_TIMESCALE),
    };
    let title = match (id.aac, info.title) {
        (true, t) => {
            Some(format!("{} (AAC)", t.or(info.language.clone()).unwrap_or_else(|| format!("Audio {}", id.stream))))
        }
        (false, t) => t,
    };
    let captions = match (&delivery, info.kind) {
        (Delivery::Copy { config, .. }, TrackKind::Video) => {
            codec::sei_facts(config.codec, &config.extradata, &first_samples(c)).captions
        }
        _ => Default::default(),
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
        language_tag: info.language_tag,
        title,
        default: info.default,
        forced: info.forced,
        roles: info.roles,
        delivery,
        map,
        segments: Vec::new(),
        // Set when the track is cut (see `segmenter`, `mkv`).
        reader: SampleReader::NotRead,
        sample_form,
        width: info.width,
        height: info.height,
        // A variable frame rate declares its maximum (RFC 8216bis), else the container's rate.
        frame_rate: match info.kind {
            TrackKind::Video => match (&c.lazy, c.sorted_offset) {
                (Some(l), Some(d)) => max_frame_rate_lazy(l, info.tb, info.frame_rate, d),
                _ => max_frame_rate(&c.samples, info.tb, info.frame_rate, c.sorted_offset),
            }
            .or(info.frame_rate),
            _ => info.frame_rate,
        },
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
        captions,
    }
}

/// The first samples that indexing read (the first packet and a later keyframe): where SEI
/// messages are looked for. No other sample is read for this.
fn first_samples(c: &Collected) -> Vec<&[u8]> {
    [&c.first_packet, &c.later_keyframe].into_iter().flatten().map(Vec::as_slice).collect()
}

/// Peak bit rate over one-second windows of the samples (bit/s), 0 when unknown.
fn peak_bit_rate(info: &StreamInfo, c: &Collected) -> u64 {
    let (num, den) = (i64::from(info.tb.0), i64::from(info.tb.1));
    if num <= 0 || den <= 0 || c.samples.is_empty() {
        // (Samples read on demand are H.264 or HEVC, which take no peak rate.)
        return 0;
    }
    let second = |ts: i64| ts.saturating_mul(num) / den;
    let mut per_second: std::collections::BTreeMap<i64, u64> = Default::default();
    for s in &c.samples {
        *per_second.entry(second(s.dts)).or_default() += u64::from(s.size()) * 8;
    }
    per_second.values().copied().max().unwrap_or(0)
}

fn codec_config(info: &StreamInfo, codec: Codec, c: &Collected) -> CodecConfig {
    let mut picture = info.picture;
    if info.kind == TrackKind::Video {
        // HDR10 metadata that the container does not carry is taken from the stream's SEI.
        let sei = codec::sei_facts(codec, &info.extradata, &first_samples(c));
        picture.mastering = picture.mastering.or(sei.mastering);
        picture.light = picture.light.or(sei.light);
    }
    let mut config = CodecConfig {
        codec,
        extradata: info.extradata.clone(),
        first_packet: c.first_packet.clone().unwrap_or_default(),
        width: info.width,
        height: info.height,
        sample_rate: info.sample_rate,
        channels: info.channels,
        bits_per_sample: info.bits_per_sample,
        picture,
        frame_rate: info.frame_rate.unwrap_or(0.0),
        bit_rate: if codec == Codec::Vp9 { peak_bit_rate(info, c) } else { 0 },
    };
    if info.kind == TrackKind::Video {
        // What the container does not say, the SPS's VUI may (aspect ratio, colour).
        if let Some(vui) = codec::vui(&config) {
            config.picture.complete_from(vui);
        }
    }
    config
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
        Some(codec @ (Codec::H264 | Codec::Hevc | Codec::Av1 | Codec::Vp9)) => {
            if !c.any_key() {
                return Delivery::NotServed("the video track has no keyframe".into());
            }
            copy_delivery(info, codec, c)
        }
        _ => Delivery::NotServed(format!(
            "video codec {} is not playable by HLS players (H.264, HEVC, AV1 and VP9 are); video is never transcoded",
            info.codec_name
        )),
    }
}

/// Whether the policy asks for an extra AAC rendition beside this passthrough: AC-3 and E-AC-3,
/// which Chromium and Firefox do not decode, and MP3, which they decode from an MP3 file but
/// Chromium's Media Source Extensions refuse inside fMP4 (`mp4a.6B`, `mp4a.69` and
/// `mp4a.40.34` alike: measured by tests/players.rs).
pub(crate) fn wants_aac_rendition(kind: TrackKind, id: Id, cfg: &Config) -> bool {
    cfg.transcode == TranscodePolicy::AddAacBesideSurround
        && kind == TrackKind::Audio
        && matches!(copy_codec(id), Some(Codec::Ac3 | Codec::Eac3 | Codec::Mp3))
}

/// Sample depth the AAC output of transcoded tracks is declared with (16-bit PCM in).
const AAC_OUTPUT_BITS: u32 = 16;

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
                bits_per_sample: AAC_OUTPUT_BITS,
                picture: Default::default(),
                frame_rate: 0.0,
                bit_rate: 0,
            };
            Delivery::Transcode { params: SharedParams(info.params.clone()), target, config }
        }
        Err(e) => Delivery::NotServed(format!("audio codec {} cannot be transcoded to AAC: {e}", info.codec_name)),
    }
}
