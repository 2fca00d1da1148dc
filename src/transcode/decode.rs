//! Packet selection and decoding: the packets one call decodes (chosen by timestamp) go through
//! a fresh FFmpeg decoder and come out as [`Decoded`] frames with their timestamps.

use std::ptr;

use ff::ffi;
use ff::packet::Ref as _;
use ffmpeg_next as ff;

use super::av::av_error;
use super::window::{frame_start_us, Window};
use crate::error::{ParseError, ParseResult};

/// Bytes of the skip-samples side data's first field (samples to drop at the frame start,
/// little-endian `u32`).
const SKIP_SAMPLES_FIELD_BYTES: usize = 4;

fn packet_ts(packet: &ff::Packet) -> Option<i64> {
    packet.pts().or_else(|| packet.dts())
}

/// The packets this range decodes: from the first one timestamped at or after the pre-roll start
/// up to the last one timestamped at or before the decode end. Chosen by timestamp, never by
/// position in the slice, so a caller that passes more packets gets the same bytes.
pub(super) fn select_packets<'a>(packets: &'a [ff::Packet], window: &Window) -> &'a [ff::Packet] {
    let any_ts = packets.iter().any(|p| packet_ts(p).is_some());
    let start = if any_ts {
        let found =
            packets.iter().position(|p| packet_ts(p).is_some_and(|ts| window.ts_to_us(ts) >= window.decode_from_us));
        found.unwrap_or(packets.len())
    } else {
        0
    };
    let rest = &packets[start..];
    let len = rest
        .iter()
        .position(|p| packet_ts(p).is_some_and(|ts| window.ts_to_us(ts) > window.decode_to_us))
        .unwrap_or(rest.len());
    &rest[..len]
}

/// One decoded frame and its presentation timestamp (stream time base).
pub(super) struct Decoded {
    pub(super) frame: ff::frame::Audio,
    pub(super) ts: Option<i64>,
    /// The decoder may have dropped samples from this frame's start and moved its pts by the
    /// dropped duration rounded to the time base (see [`FrameSink::distrust_next`]).
    pub(super) trimmed: bool,
}

impl Decoded {
    /// The underlying AVFrame.
    pub(super) fn raw(&self) -> &ffi::AVFrame {
        // SAFETY: the frame was filled by avcodec_receive_frame (or allocated by the wrapper) and
        // is owned by self, so the pointer is valid and non-NULL for the borrow of self.
        unsafe { &*self.frame.as_ptr() }
    }

    /// Samples (per channel) in the frame.
    pub(super) fn samples(&self) -> i64 {
        i64::from(self.raw().nb_samples)
    }

    /// The frame's sample rate.
    pub(super) fn rate(&self) -> u32 {
        u32::try_from(self.raw().sample_rate).unwrap_or(0)
    }

    /// What must stay the same for frames to go through one resampler.
    pub(super) fn format_key(&self) -> (i32, i32, i32, u64) {
        let f = self.raw();
        let layout = &f.ch_layout;
        let mask = if layout.order == ffi::AVChannelOrder::AV_CHANNEL_ORDER_NATIVE {
            // SAFETY: for the native order the union holds the mask.
            unsafe { layout.u.mask }
        } else {
            0
        };
        (f.sample_rate, f.format, layout.nb_channels, mask)
    }
}

fn open_decoder(params: &ff::codec::Parameters, time_base: ff::Rational) -> ParseResult<ff::codec::Context> {
    // SAFETY: params wraps a valid AVCodecParameters; every pointer is checked before use and the
    // context is owned (and freed) by the returned wrapper.
    unsafe {
        let codec = ffi::avcodec_find_decoder((*params.as_ptr()).codec_id);
        if codec.is_null() {
            return Err(ParseError::new("no FFmpeg decoder for this audio codec"));
        }
        let raw = ffi::avcodec_alloc_context3(codec);
        if raw.is_null() {
            return Err(ParseError::new("cannot allocate a decoder"));
        }
        let mut ctx = ff::codec::Context::wrap(raw, None);
        let ret = ffi::avcodec_parameters_to_context(raw, params.as_ptr());
        if ret < 0 {
            return Err(av_error("cannot configure the decoder", ret));
        }
        let c = ctx.as_mut_ptr();
        (*c).pkt_timebase = time_base.into();
        (*c).thread_count = 1;
        (*c).flags |= ffi::AV_CODEC_FLAG_BITEXACT as i32;
        let ret = ffi::avcodec_open2(c, codec, ptr::null_mut());
        if ret < 0 {
            return Err(av_error("cannot open the decoder", ret));
        }
        Ok(ctx)
    }
}

/// Decodes `packets` with a fresh decoder, then flushes it. Undecodable packets are skipped
/// (their time becomes silence); a run in which nothing at all decodes is an error, and so is a
/// window whose own output range (pre- and post-roll aside) is less than half covered by
/// decoded audio: such a segment would be mostly made-up silence (damaged packets, which FFmpeg's
/// parsers may also drop before they reach the decoder).
pub(super) fn decode_packets(
    params: &ff::codec::Parameters,
    time_base: ff::Rational,
    packets: &[ff::Packet],
    window: &Window,
) -> ParseResult<Vec<Decoded>> {
    let mut decoder = open_decoder(params, time_base)?;
    let mut sink = FrameSink { frames: Vec::new(), failures: 0, distrust_next: true };
    for packet in packets.iter().filter(|p| p.size() > 0) {
        sink.distrust_next |= trims_start(packet);
        // SAFETY: the decoder is open and the packet is valid for the call.
        let ret = unsafe { ffi::avcodec_send_packet(decoder.as_mut_ptr(), packet.as_ptr()) };
        if ret < 0 {
            sink.failures += 1;
        }
        sink.receive(&mut decoder);
    }
    // SAFETY: the decoder is open; a NULL packet starts draining.
    unsafe { ffi::avcodec_send_packet(decoder.as_mut_ptr(), ptr::null()) };
    sink.receive(&mut decoder);
    let FrameSink { frames, failures, .. } = sink;
    if frames.is_empty() && failures > 0 {
        return Err(ParseError::new(format!("none of the {} source packets could be decoded", packets.len())));
    }
    let own = (
        i128::from(frame_start_us(window.first_frame, window.rate)),
        i128::from(frame_start_us(window.end_frame, window.rate)),
    );
    let covered: i128 = frames
        .iter()
        .filter_map(|d| {
            let start = window.ts_to_us(d.ts?);
            let rate = i128::from(d.frame.rate().max(1));
            let end = start + i128::from(d.frame.samples() as u64) * 1_000_000 / rate;
            Some((end.min(own.1) - start.max(own.0)).max(0))
        })
        .sum();
    let span = own.1 - own.0;
    if span > 0 && covered * 2 < span {
        return Err(ParseError::new(format!(
            "only {} ms of the {} ms of source audio of this range could be decoded (damaged packets)",
            covered / 1000,
            span / 1000
        )));
    }
    if covered < span && failures > 0 {
        log::warn!("{} ms of {} ms of source audio could not be decoded: silent", (span - covered) / 1000, span / 1000);
    }
    Ok(frames)
}

/// True when the packet asks the decoder to drop samples at its start (encoder priming, Opus
/// pre-skip). The decoder then moves the pts of the trimmed frame by the dropped duration,
/// rounded to the stream time base, which does not follow the rounding of the other timestamps.
fn trims_start(packet: &ff::Packet) -> bool {
    packet.side_data().any(|side| {
        side.kind() == ff::packet::side_data::Type::SkipSamples
            && side
                .data()
                .get(..SKIP_SAMPLES_FIELD_BYTES)
                .is_some_and(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) > 0)
    })
}

/// Collects decoded frames.
struct FrameSink {
    frames: Vec<Decoded>,
    /// Decoding errors met.
    failures: usize,
    /// The next frame may have been trimmed at its start: the first frame of a fresh decoder
    /// (Opus drops its pre-skip from whatever packet comes first) and the first frame after a
    /// packet with skip-samples side data. Its pts moved by a rounded duration, so it is used
    /// for placement only when no other frame of its run has a timestamp.
    distrust_next: bool,
}

impl FrameSink {
    /// Takes every frame the decoder has ready.
    fn receive(&mut self, decoder: &mut ff::codec::Context) {
        loop {
            let mut frame = ff::frame::Audio::empty();
            // SAFETY: the decoder is open; the frame is a freshly allocated AVFrame.
            let ret = unsafe { ffi::avcodec_receive_frame(decoder.as_mut_ptr(), frame.as_mut_ptr()) };
            if ret == ffi::AVERROR(ff::error::EAGAIN) || ret == ffi::AVERROR_EOF {
                return;
            }
            if ret < 0 {
                self.failures += 1;
                return;
            }
            if let Some(mut decoded) = checked_frame(frame) {
                decoded.trimmed = std::mem::take(&mut self.distrust_next);
                self.frames.push(decoded);
            }
        }
    }
}

/// Keeps a decoded frame only if it has samples, a rate, channels and data.
pub(super) fn checked_frame(frame: ff::frame::Audio) -> Option<Decoded> {
    // SAFETY: the frame was just filled by the decoder and is owned by `frame`, which outlives `f`.
    let f = unsafe { &*frame.as_ptr() };
    let usable = f.nb_samples > 0
        && f.sample_rate > 0
        && f.ch_layout.nb_channels > 0
        && f.format >= 0
        && f.format < ffi::AVSampleFormat::AV_SAMPLE_FMT_NB as i32
        && !f.extended_data.is_null();
    if !usable {
        return None;
    }
    let ts = [f.best_effort_timestamp, f.pts].into_iter().find(|&t| t != ffi::AV_NOPTS_VALUE);
    Some(Decoded { frame, ts, trimmed: false })
}
