//! Per-stream facts read from the container header through FFmpeg.

#![deny(unsafe_op_in_unsafe_fn)]

use ff::codec::Id;
use ff::media::Type as MediaType;
use ffmpeg_next as ff;

use crate::codec::Codec;
use crate::container::demux::Demuxer;
use crate::model::track::{Roles, TrackKind};

/// Per-stream facts read from the header.
#[derive(Clone)]
pub(crate) struct StreamInfo {
    pub(crate) kind: TrackKind,
    pub(crate) id: Id,
    pub(crate) codec_name: String,
    pub(crate) params: ff::codec::Parameters,
    pub(crate) tb: (i32, i32),
    pub(crate) language: Option<String>,
    /// BCP 47 tag when the container has one beside `language` (Matroska LanguageIETF).
    pub(crate) language_tag: Option<String>,
    pub(crate) title: Option<String>,
    pub(crate) default: bool,
    pub(crate) forced: bool,
    pub(crate) roles: Roles,
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
            // SAFETY: `params` wraps the codecpar of a stream of the open demuxer `dmx`: a valid,
            // initialised AVCodecParameters that nothing mutates while `dmx` is borrowed here; the
            // reference does not outlive this closure (it is read, then `params` is cloned).
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
                // SAFETY: FFmpeg keeps `extradata` (checked non-null) pointing to at least
                // `extradata_size` (checked positive) initialised bytes owned by the parameters,
                // which outlive the slice; the bytes are copied out at once.
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
                language_tag: None,
                title: meta
                    .get("title")
                    .or_else(|| meta.get("handler_name").filter(|h| !h.ends_with("Handler")))
                    .filter(|t| !t.trim().is_empty())
                    .map(str::to_string),
                default: st.disposition().contains(ff::format::stream::Disposition::DEFAULT),
                forced: st.disposition().contains(ff::format::stream::Disposition::FORCED),
                roles: Roles {
                    commentary: st.disposition().contains(ff::format::stream::Disposition::COMMENT),
                    hearing_impaired: st.disposition().contains(ff::format::stream::Disposition::HEARING_IMPAIRED),
                    visual_impaired: st.disposition().contains(ff::format::stream::Disposition::VISUAL_IMPAIRED),
                },
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
