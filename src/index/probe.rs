//! Per-stream facts read from the container header through FFmpeg.

#![deny(unsafe_op_in_unsafe_fn)]

use ff::codec::Id;
use ff::media::Type as MediaType;
use ffmpeg_next as ff;

use crate::codec::picture::{Colour, ContentLight, MasteringDisplay, Picture};
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
    /// Why a stream that is not media is not served (an attached picture, an attachment).
    pub(crate) not_media: Option<&'static str>,
    /// How the pictures are shown, as the container says (video).
    pub(crate) picture: Picture,
}

/// Why an attached picture (cover art: ID3 APIC, MP4 `covr`, a Matroska image attachment) is not
/// served: it is one still image, not a video track.
pub(crate) const ATTACHED_PICTURE: &str =
    "an attached picture (cover art) is a still image, not a video track: not served";

/// Why a container attachment (a Matroska font or other file) is not served.
pub(crate) const ATTACHMENT: &str = "a container attachment (font or other file), not a media stream: not served";

/// The codecs HLS players play from fMP4 when copied.
pub(crate) fn copy_codec(id: Id) -> Option<Codec> {
    Some(match id {
        Id::H264 => Codec::H264,
        Id::HEVC => Codec::Hevc,
        Id::AV1 => Codec::Av1,
        Id::VP9 => Codec::Vp9,
        Id::AAC => Codec::Aac,
        Id::AC3 => Codec::Ac3,
        Id::EAC3 => Codec::Eac3,
        Id::MP3 => Codec::Mp3,
        Id::OPUS => Codec::Opus,
        Id::FLAC => Codec::Flac,
        _ => return None,
    })
}

/// A metadata value of stream `st` as text, bytes that are not UTF-8 replaced by U+FFFD.
/// (ffmpeg-next's `DictionaryRef::get` hands FFmpeg's bytes out as a `&str` unchecked: a title
/// that is not UTF-8, in a legacy or hostile file, became an invalid `str` and reached the master
/// playlist as bytes that are not UTF-8.)
fn tag(st: &ff::format::stream::Stream<'_>, key: &std::ffi::CStr) -> Option<String> {
    // SAFETY: `st` is a stream of an open demuxer: its AVStream and its metadata dictionary (NULL
    // or valid) live while `st` is borrowed; `key` is NUL-terminated; av_dict_get returns NULL or
    // an entry of that dictionary whose value is NUL-terminated, copied out at once.
    unsafe {
        let entry = ff::ffi::av_dict_get((*st.as_ptr()).metadata, key.as_ptr(), std::ptr::null(), 0);
        if entry.is_null() || (*entry).value.is_null() {
            return None;
        }
        Some(String::from_utf8_lossy(std::ffi::CStr::from_ptr((*entry).value).to_bytes()).into_owned())
    }
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
            let attached_pic = st.disposition().contains(ff::format::stream::Disposition::ATTACHED_PIC);
            let not_media = match params.medium() {
                _ if attached_pic => Some(ATTACHED_PICTURE),
                MediaType::Attachment => Some(ATTACHMENT),
                _ => None,
            };
            let kind = match params.medium() {
                MediaType::Video if attached_pic => TrackKind::Other,
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
            let tb = st.time_base();
            StreamInfo {
                kind,
                id: params.id(),
                codec_name: params.id().name().to_string(),
                tb: (tb.numerator(), tb.denominator()),
                language: tag(&st, c"language").filter(|l| !l.is_empty() && l != "und"),
                language_tag: None,
                title: tag(&st, c"title")
                    .or_else(|| tag(&st, c"handler_name").filter(|h| !h.ends_with("Handler")))
                    .filter(|t| !t.trim().is_empty()),
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
                not_media,
                picture: if kind == TrackKind::Video { picture(&st, p) } else { Picture::default() },
                params: params.clone(),
            }
        })
        .collect()
}

/// `AVColorRange` of full ("JPEG") range.
const AVCOL_RANGE_JPEG: i32 = 2;
/// Bytes of FFmpeg's display matrix side data: nine native-endian `int32_t`.
const DISPLAY_MATRIX_LEN: usize = 36;
/// Bytes of `AVMasteringDisplayMetadata`: 8 `AVRational`s of primaries and white point, min
/// and max luminance (2 more), `has_primaries`, `has_luminance`.
const MASTERING_METADATA_LEN: usize = 88;
/// `mdcv` chromaticity units per 1.0 (0.00002).
const CHROMATICITY_UNITS: f64 = 50_000.0;
/// `mdcv` luminance units per cd/m² (0.0001).
const LUMINANCE_UNITS: f64 = 10_000.0;

/// The native-endian `int32_t`s of a side data block.
fn ne_i32s(data: &[u8]) -> Vec<i32> {
    data.chunks_exact(4).map(|c| i32::from_ne_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// A rational of two `int32_t`s at `v[i]`, scaled and rounded to an integer field.
fn scaled(v: &[i32], i: usize, units: f64) -> f64 {
    if v[i + 1] == 0 {
        0.0
    } else {
        (f64::from(v[i]) / f64::from(v[i + 1]) * units).round()
    }
}

/// `AVMasteringDisplayMetadata` (primaries red, green, blue) as `mdcv` values (green, blue, red).
fn mastering_from_side_data(data: &[u8]) -> Option<MasteringDisplay> {
    if data.len() < MASTERING_METADATA_LEN {
        return None;
    }
    let v = ne_i32s(&data[..MASTERING_METADATA_LEN]);
    let (has_primaries, has_luminance) = (v[20] != 0, v[21] != 0);
    if !has_primaries || !has_luminance {
        return None;
    }
    let chroma = |i: usize| scaled(&v, i, CHROMATICITY_UNITS).clamp(0.0, f64::from(u16::MAX)) as u16;
    let xy = |c: usize| [chroma(c * 4), chroma(c * 4 + 2)];
    let lum = |i: usize| scaled(&v, i, LUMINANCE_UNITS).clamp(0.0, f64::from(u32::MAX)) as u32;
    Some(MasteringDisplay {
        primaries: [xy(1), xy(2), xy(0)],
        white_point: [chroma(12), chroma(14)],
        max_luminance: lum(18),
        min_luminance: lum(16),
    })
}

/// `AVContentLightMetadata`: two native-endian `unsigned`.
fn light_from_side_data(data: &[u8]) -> Option<ContentLight> {
    let v = ne_i32s(data.get(..8)?);
    let clamp = |x: i32| u16::try_from(x.max(0)).unwrap_or(u16::MAX);
    Some(ContentLight { max_cll: clamp(v[0]), max_fall: clamp(v[1]) })
}

/// The display matrix, sample aspect ratio, colour description and HDR metadata that the
/// container declares for a video stream (FFmpeg: MP4 `tkhd` matrix, `pasp`, `colr`,
/// `mdcv`/`clli`; Matroska DisplayWidth/Height and Colour).
fn picture(st: &ff::format::stream::Stream<'_>, p: &ff::ffi::AVCodecParameters) -> Picture {
    use ff::codec::packet::side_data::Type;
    let mut pic = Picture::default();
    for sd in st.side_data() {
        let data = sd.data();
        match sd.kind() {
            Type::DisplayMatrix if data.len() >= DISPLAY_MATRIX_LEN => {
                let v = ne_i32s(&data[..DISPLAY_MATRIX_LEN]);
                let mut m = [0i32; 9];
                m.copy_from_slice(&v);
                pic.set_matrix(m);
            }
            Type::MasteringDisplayMetadata => pic.mastering = mastering_from_side_data(data),
            Type::ContentLightLevel => pic.light = light_from_side_data(data),
            _ => {}
        }
    }
    // SAFETY: `st` is a stream of the open demuxer; reading its plain `AVRational` field.
    let stream_sar = unsafe { (*st.as_ptr()).sample_aspect_ratio };
    let sar = if stream_sar.num > 0 && stream_sar.den > 0 { stream_sar } else { p.sample_aspect_ratio };
    pic.set_sar(sar.num.max(0) as u32, sar.den.max(0) as u32);
    let code = |v: i32| u8::try_from(v).unwrap_or(crate::codec::picture::UNSPECIFIED);
    let colour = Colour {
        primaries: code(p.color_primaries as i32),
        transfer: code(p.color_trc as i32),
        matrix: code(p.color_space as i32),
        full_range: p.color_range as i32 == AVCOL_RANGE_JPEG,
    };
    pic.colour = colour.is_declared().then_some(colour);
    pic
}

/// What FFmpeg's probe left in a stream's parameters that its packet timing goes on to use:
/// the decoder's reorder delay (`video_delay`: how many packets its derived decode times lag),
/// and the audio frame size and sample rate it times packets without a duration by.
pub(crate) fn probed_timing(info: &StreamInfo) -> (i32, i32, i32) {
    // SAFETY: `params` owns a valid AVCodecParameters (cloned from the stream's); plain fields
    // are read while `info` is borrowed.
    let p = unsafe { &*info.params.as_ptr() };
    (p.video_delay, p.frame_size, p.sample_rate)
}

/// Fills in, without FFmpeg's stream-info probe, what the probe would have added to the stream
/// facts of a Matroska file opened without it, or says why that cannot be vouched for (then the
/// file is opened with the probe). Only for streams whose header and codec private data say it
/// all: H.264 (avcC, frames only) with a VUI that bounds its reordering (0 included: no B-frames), or HEVC (hvcC), with a picture size
/// and a frame rate (DefaultDuration) in the header; AAC-LC audio (AudioSpecificConfig, no
/// SBR/PS signalled, a core rate above 24 kHz, where no encoder puts implicit SBR, a channel
/// configuration of 1 to 7); text subtitles. What the probe's decoders set and libhls reads (see
/// [`stream_infos`], [`probed_timing`], `track::codec_config`):
/// - video (`h264_ps.c`, `h264_slice.c`; `hevc_ps.c`, `hevcdec.c`): the reorder delay
///   (`video_delay`: `max_num_reorder_frames`, `sps_max_num_reorder_pics`), H.264's
///   `bits_per_raw_sample` (the luma bit depth), the VUI's sample aspect ratio (shown when the
///   container gives none) and colour (H.264: the VUI's range and description override the
///   container's; HEVC: they replace them); the picture size must be the SPS's;
/// - AAC (`aacdec_template.c`): the frame size (1024), its rate and channels (the header's,
///   checked against the config).
///
/// `tests`: the facts equal the probed ones on every Matroska test file that takes this path.
pub(crate) fn complete_without_probe(dmx: &Demuxer, infos: &mut [StreamInfo]) -> std::result::Result<(), String> {
    for (i, info) in infos.iter_mut().enumerate() {
        let why = match info.kind {
            TrackKind::Video => {
                // The stream's own aspect ratio (Matroska DisplayWidth/Height), which a decoder
                // leaves alone.
                let stream_sar = dmx.input().stream(i).is_some_and(|st| {
                    // SAFETY: reading a plain field of a stream of the open demuxer.
                    let r = unsafe { (*st.as_ptr()).sample_aspect_ratio };
                    r.num > 0 && r.den > 0
                });
                video_without_probe(info, stream_sar)
            }
            TrackKind::Audio => audio_without_probe(info),
            TrackKind::Subtitle if matches!(info.id, Id::SUBRIP | Id::ASS | Id::SSA | Id::TEXT) => Ok(()),
            _ => Err(format!("codec {}", info.codec_name)),
        };
        why.map_err(|e| format!("stream {i}: {e}"))?;
    }
    Ok(())
}

/// [`complete_without_probe`] of an H.264 or HEVC stream.
fn video_without_probe(info: &mut StreamInfo, stream_sar: bool) -> std::result::Result<(), String> {
    // (reorder delay, picture size, luma bit depth, VUI aspect ratio, and the colour the
    // decoder leaves in the parameters, or `None` to keep the container's).
    type Facts = (Option<u32>, Option<(u32, u32)>, Option<u32>, Option<(u32, u32)>, Option<Option<Colour>>);
    let unspecified = Colour {
        primaries: crate::codec::picture::UNSPECIFIED,
        transfer: crate::codec::picture::UNSPECIFIED,
        matrix: crate::codec::picture::UNSPECIFIED,
        full_range: false,
    };
    let facts: Facts = match info.id {
        _ if info.not_media.is_some() => return Err("an attached picture".into()),
        Id::H264 => {
            let f = crate::codec::h264::sps_facts(&info.extradata).map_err(|e| e.to_string())?;
            if !f.progressive {
                // Field pictures: FFmpeg's parser and packet timing have more rules for them.
                return Err("field pictures (frame_mbs_only_flag 0)".into());
            }
            // H.264 (`h264_slice.c`): a video signal type sets the range, a colour description
            // the rest; what the VUI does not say stays the container's.
            let colour = f.signal.map(|(full_range, described)| {
                let mut c = info.picture.colour.unwrap_or(unspecified);
                c.full_range = full_range;
                if let Some((primaries, transfer, matrix)) = described {
                    (c.primaries, c.transfer, c.matrix) = (primaries, transfer, matrix);
                }
                c.is_declared().then_some(c)
            });
            (f.reorder, f.size, Some(f.bit_depth), f.sar, colour)
        }
        Id::HEVC => {
            let f = crate::codec::hevc::sps_facts(&info.extradata).map_err(|e| e.to_string())?;
            // HEVC (`export_stream_params`): the VUI's range and colour description replace the
            // container's, unspecified where it says nothing.
            let colour = f.vui.and_then(|v| v.colour).filter(Colour::is_declared);
            // (Its decoder leaves `bits_per_raw_sample` unset.)
            (Some(f.reorder), f.size, None, f.vui.and_then(|v| v.sar), Some(colour))
        }
        _ => return Err(format!("video codec {}", info.codec_name)),
    };
    let (reorder, size, bit_depth, sar, colour) = facts;
    let delay = reorder.filter(|d| (0..=16).contains(d)).ok_or("no bounded reorder delay in the SPS")?;
    if size != Some((info.width, info.height)) {
        return Err(format!("the SPS's picture size {size:?} is not the header's"));
    }
    if info.frame_rate.is_none() {
        return Err("no frame rate in the header".into());
    }
    // SAFETY: `params` owns its AVCodecParameters (a clone of the stream's); plain fields are
    // read and written while `info` is borrowed mutably.
    let p = unsafe { &mut *info.params.as_mut_ptr() };
    p.video_delay = delay as i32;
    if let Some(bit_depth) = bit_depth {
        p.bits_per_raw_sample = bit_depth as i32;
        info.bits_per_sample = bit_depth.max(p.bits_per_coded_sample.max(0) as u32);
    }
    if !stream_sar {
        let (n, d) = sar.unwrap_or((0, 1));
        info.picture.set_sar(n, d);
    }
    if let Some(colour) = colour {
        info.picture.colour = colour;
    }
    Ok(())
}

/// [`complete_without_probe`] of an AAC stream.
fn audio_without_probe(info: &mut StreamInfo) -> std::result::Result<(), String> {
    use crate::codec::aac::{AudioSpecificConfig, Sbr};
    if info.id != Id::AAC {
        return Err(format!("audio codec {}", info.codec_name));
    }
    let asc = AudioSpecificConfig::parse(&info.extradata).map_err(|e| e.to_string())?;
    let lc = asc.object_type == AAC_LC && asc.sbr == Sbr::NotSignalled;
    let frame_length_960 = info.extradata.get(1).is_some_and(|b| b & 0x04 != 0) || asc.sampling_frequency_index == 15;
    if !lc || frame_length_960 || asc.sample_rate <= IMPLICIT_SBR_MAX_CORE_RATE || asc.sample_rate != info.sample_rate {
        return Err(format!("AAC config {asc:?} at {} Hz", info.sample_rate));
    }
    if !(1..=7).contains(&asc.channel_config) || asc.channels() != Some(info.channels) {
        return Err(format!("AAC channel configuration {} for {} channels", asc.channel_config, info.channels));
    }
    // SAFETY: as in `video_without_probe`.
    let p = unsafe { &mut *info.params.as_mut_ptr() };
    p.frame_size = AAC_FRAME;
    Ok(())
}

/// audioObjectType of AAC-LC.
const AAC_LC: u32 = 2;
/// Samples per AAC-LC frame (frameLengthFlag 0).
const AAC_FRAME: i32 = 1024;
/// The highest core rate HE-AAC runs its core at (half of 48 kHz): above it, no implicit SBR.
const IMPLICIT_SBR_MAX_CORE_RATE: u32 = 24_000;
