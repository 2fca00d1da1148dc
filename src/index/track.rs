//! Decides how each stream is served (copy, AAC transcode, WebVTT, not served).

#![deny(unsafe_code)]

use ff::codec::Id;
use ffmpeg_next as ff;

use super::collect::Collected;
use super::probe::{copy_codec, StreamInfo};
use crate::codec::{self, Codec, CodecConfig};
use crate::model::aac::AacSettings;
use crate::model::config::{Config, TranscodePolicy};
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
            (Err(reason), _) => Delivery::NotServed(reason.to_string()),
            (Ok(()), Some(x)) => Delivery::Cues(x.finish()),
            (Ok(()), None) => Delivery::NotServed("the subtitle decoder could not be opened".into()),
        },
        TrackKind::Other => Delivery::NotServed("not an audio, video or subtitle stream".into()),
    };
    if matches!(delivery, Delivery::Copy { .. } | Delivery::Transcode { .. }) && c.samples.is_empty() {
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
pub(crate) fn wants_aac_rendition(kind: TrackKind, id: Id, cfg: &Config) -> bool {
    cfg.transcode == TranscodePolicy::AddAacBesideSurround
        && kind == TrackKind::Audio
        && matches!(copy_codec(id), Some(Codec::Ac3 | Codec::Eac3))
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
            };
            Delivery::Transcode { params: SharedParams(info.params.clone()), target, config }
        }
        Err(e) => Delivery::NotServed(format!("audio codec {} cannot be transcoded to AAC: {e}", info.codec_name)),
    }
}
