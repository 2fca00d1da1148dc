//! AAC encoding: FFmpeg's native AAC-LC encoder (f32 planar, no threads, bit-exact) fed the
//! placed PCM from a fixed pre-roll before the range to its look-ahead after it, keeping exactly
//! the packets of the range's frames.

use std::ffi::CStr;
use std::ptr;

use ff::ffi;
use ff::packet::Mut as _;
use ffmpeg_next as ff;

use super::av::{av_error, target_layout};
use super::place::Pcm;
use super::target::validate_target;
use super::window::Window;
use crate::codec::aac::FRAME_SAMPLES as AAC_FRAME_SAMPLES;
use crate::error::{ParseError, ParseResult};
use crate::model::aac::AacTarget;

/// FFmpeg's native AAC encoder (not an external one such as `libfdk_aac`).
const ENCODER_NAME: &CStr = c"aac";
/// Per-channel bitrate from which the encoder's `fast` coder is used (see [`aac_coder`]).
const FAST_CODER_MIN_BITRATE_PER_CHANNEL: u32 = 64_000;
/// Shortest AudioSpecificConfig (object type, rate index and channel configuration).
const MIN_ASC_BYTES: i32 = 2;

/// Raw AAC frames (no ADTS headers) of one frame range.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EncodedRange {
    /// The frames, back to back.
    pub payload: Vec<u8>,
    /// Size in bytes of each frame, in order; one entry per frame of the range. Every frame
    /// lasts 1024 samples.
    pub frame_sizes: Vec<u32>,
}

/// The AudioSpecificConfig the encoder writes for `target` (it opens one to ask).
pub(super) fn audio_specific_config(target: &AacTarget) -> ParseResult<Vec<u8>> {
    let encoder = open_encoder(target)?;
    encoder_extradata(&encoder)
}

/// Opens FFmpeg's native AAC-LC encoder for `target`: f32 planar, no threads, bit-exact.
fn open_encoder(target: &AacTarget) -> ParseResult<ff::codec::Context> {
    validate_target(target)?;
    // SAFETY: every pointer is checked before use; the context is owned (and freed) by the
    // returned wrapper, and priv_data is the encoder's own options object.
    unsafe {
        let codec = ffi::avcodec_find_encoder_by_name(ENCODER_NAME.as_ptr());
        if codec.is_null() {
            return Err(ParseError::new("FFmpeg's native AAC encoder is not available"));
        }
        let raw = ffi::avcodec_alloc_context3(codec);
        if raw.is_null() {
            return Err(ParseError::new("cannot allocate the AAC encoder"));
        }
        let mut ctx = ff::codec::Context::wrap(raw, None);
        let c = ctx.as_mut_ptr();
        (*c).sample_fmt = ffi::AVSampleFormat::AV_SAMPLE_FMT_FLTP;
        (*c).sample_rate = target.sample_rate as i32;
        (*c).time_base = ffi::AVRational { num: 1, den: target.sample_rate as i32 };
        (*c).bit_rate = i64::from(target.bitrate);
        (*c).profile = ffi::FF_PROFILE_AAC_LOW;
        (*c).thread_count = 1;
        (*c).flags |= ffi::AV_CODEC_FLAG_BITEXACT as i32;
        (*c).ch_layout = target_layout(target.channels as usize);
        let coder = aac_coder(target);
        let ret = ffi::av_opt_set_int((*c).priv_data, c"aac_coder".as_ptr(), coder, 0);
        if ret < 0 {
            return Err(av_error("cannot choose the AAC coder", ret));
        }
        let ret = ffi::avcodec_open2(c, codec, ptr::null_mut());
        if ret < 0 {
            return Err(av_error("cannot open the AAC encoder", ret));
        }
        if (*c).frame_size != AAC_FRAME_SAMPLES as i32 {
            return Err(ParseError::new(format!("unexpected AAC frame size {}", (*c).frame_size)));
        }
        Ok(ctx)
    }
}

/// The encoder's quantizer search: FFmpeg documents `fast` as better and much faster than its
/// default `twoloop` from 64 kb/s per channel up (the default settings), worse below.
fn aac_coder(target: &AacTarget) -> i64 {
    const TWOLOOP: i64 = 1;
    const FAST: i64 = 2;
    if target.bitrate / target.channels >= FAST_CODER_MIN_BITRATE_PER_CHANNEL {
        FAST
    } else {
        TWOLOOP
    }
}

fn encoder_extradata(encoder: &ff::codec::Context) -> ParseResult<Vec<u8>> {
    // SAFETY: the encoder is open and borrowed for the whole block; extradata holds
    // extradata_size bytes when non-NULL.
    unsafe {
        let c = &*encoder.as_ptr();
        if c.extradata.is_null() || c.extradata_size < MIN_ASC_BYTES {
            return Err(ParseError::new("the AAC encoder gave no AudioSpecificConfig"));
        }
        Ok(std::slice::from_raw_parts(c.extradata, c.extradata_size as usize).to_vec())
    }
}

/// The frame-by-frame state of one range's encoding.
struct RangeEncoder<'a> {
    encoder: ff::codec::Context,
    frame: ff::frame::Audio,
    packet: ff::Packet,
    window: &'a Window,
    out: EncodedRange,
}

/// Encodes the PCM window and keeps exactly frames `[first_frame, end_frame)`.
pub(super) fn encode_pcm(pcm: &Pcm, target: &AacTarget, window: &Window) -> ParseResult<EncodedRange> {
    let mut range = RangeEncoder::new(target, window)?;
    let frames = window.encode_stop_frame - window.encode_start_frame;
    let mut complete = false;
    for index in 0..frames {
        range.send_frame(pcm, index)?;
        complete = range.receive_packets()?;
        if complete {
            break;
        }
    }
    range.send_end()?;
    complete = complete || range.receive_packets()?;
    range.drain()?;
    if complete {
        return Ok(range.out);
    }
    Err(ParseError::new(format!(
        "the AAC encoder produced {} of {} frames",
        range.out.frame_sizes.len(),
        window.end_frame - window.first_frame
    )))
}

impl<'a> RangeEncoder<'a> {
    fn new(target: &AacTarget, window: &'a Window) -> ParseResult<RangeEncoder<'a>> {
        let encoder = open_encoder(target)?;
        let frame = encoder_frame(window)?;
        let wanted = (window.end_frame - window.first_frame) as usize;
        let out = EncodedRange { payload: Vec::new(), frame_sizes: Vec::with_capacity(wanted) };
        Ok(RangeEncoder { encoder, frame, packet: ff::Packet::empty(), window, out })
    }

    /// Sends encoder frame `index` of the window (pts = its first output sample).
    fn send_frame(&mut self, pcm: &Pcm, index: u64) -> ParseResult<()> {
        let n = AAC_FRAME_SAMPLES as usize;
        let start = index as usize * n;
        // SAFETY: the frame was allocated for `channels` planes of 1024 floats and is made
        // writable first (the encoder may still reference the previous buffer); pcm has one
        // vector per channel covering the whole window.
        unsafe {
            let f = self.frame.as_mut_ptr();
            let ret = ffi::av_frame_make_writable(f);
            if ret < 0 {
                return Err(av_error("cannot write an encoder frame", ret));
            }
            for (channel, samples) in pcm.iter().enumerate() {
                let plane = *(*f).extended_data.add(channel) as *mut f32;
                std::slice::from_raw_parts_mut(plane, n).copy_from_slice(&samples[start..start + n]);
            }
            (*f).pts = ((self.window.encode_start_frame + index) * AAC_FRAME_SAMPLES) as i64;
            let ret = ffi::avcodec_send_frame(self.encoder.as_mut_ptr(), f);
            if ret < 0 {
                return Err(av_error("AAC encoding failed", ret));
            }
        }
        Ok(())
    }

    fn send_end(&mut self) -> ParseResult<()> {
        // SAFETY: the encoder is open; a NULL frame starts draining it.
        let ret = unsafe { ffi::avcodec_send_frame(self.encoder.as_mut_ptr(), ptr::null()) };
        if ret < 0 && ret != ffi::AVERROR_EOF {
            return Err(av_error("AAC encoder flush failed", ret));
        }
        Ok(())
    }

    /// Takes the packets the encoder has ready, keeping those of the range; true once complete.
    fn receive_packets(&mut self) -> ParseResult<bool> {
        loop {
            // SAFETY: the encoder is open; the packet is owned by self.
            let ret = unsafe { ffi::avcodec_receive_packet(self.encoder.as_mut_ptr(), self.packet.as_mut_ptr()) };
            if ret == ffi::AVERROR(ff::error::EAGAIN) || ret == ffi::AVERROR_EOF {
                return Ok(self.is_complete());
            }
            if ret < 0 {
                return Err(av_error("AAC encoding failed", ret));
            }
            self.keep_packet()?;
            if self.is_complete() {
                return Ok(true);
            }
        }
    }

    /// Takes (and drops) the encoder's remaining packets, so it closes with an empty queue
    /// instead of logging a warning.
    fn drain(&mut self) -> ParseResult<()> {
        loop {
            // SAFETY: the encoder is open and flushing; the packet is owned by self.
            let ret = unsafe { ffi::avcodec_receive_packet(self.encoder.as_mut_ptr(), self.packet.as_mut_ptr()) };
            if ret == ffi::AVERROR_EOF || ret == ffi::AVERROR(ff::error::EAGAIN) {
                return Ok(());
            }
            if ret < 0 {
                return Err(av_error("AAC encoder flush failed", ret));
            }
        }
    }

    fn is_complete(&self) -> bool {
        self.out.frame_sizes.len() as u64 == self.window.end_frame - self.window.first_frame
    }

    /// Maps the packet's pts (output samples; the encoder already took its 1024-sample delay off)
    /// to a frame index and keeps it when it is the next frame of the range.
    fn keep_packet(&mut self) -> ParseResult<()> {
        let Some(pts) = self.packet.pts() else {
            return Err(ParseError::new("the AAC encoder gave a packet without pts"));
        };
        if pts.rem_euclid(AAC_FRAME_SAMPLES as i64) != 0 {
            return Err(ParseError::new(format!("AAC packet pts {pts} is off the frame grid")));
        }
        let frame = pts.div_euclid(AAC_FRAME_SAMPLES as i64);
        let next = self.window.first_frame + self.out.frame_sizes.len() as u64;
        if frame < 0 || (frame as u64) < next {
            return Ok(());
        }
        if frame as u64 != next {
            return Err(ParseError::new(format!("the AAC encoder skipped from frame {next} to {frame}")));
        }
        let data = self.packet.data().unwrap_or(&[]);
        self.out.payload.extend_from_slice(data);
        self.out.frame_sizes.push(data.len() as u32);
        Ok(())
    }
}

/// A 1024-sample f32 planar frame in the target layout and rate.
fn encoder_frame(window: &Window) -> ParseResult<ff::frame::Audio> {
    let mut frame = ff::frame::Audio::empty();
    // SAFETY: the frame is a fresh AVFrame owned by the wrapper (checked non-NULL);
    // av_frame_get_buffer allocates its planes for the format, size and layout set here.
    unsafe {
        let f = frame.as_mut_ptr();
        if f.is_null() {
            return Err(ParseError::new("cannot allocate an encoder frame"));
        }
        (*f).format = ffi::AVSampleFormat::AV_SAMPLE_FMT_FLTP as i32;
        (*f).nb_samples = AAC_FRAME_SAMPLES as i32;
        (*f).sample_rate = window.rate as i32;
        (*f).ch_layout = target_layout(window.channels);
        let ret = ffi::av_frame_get_buffer(f, 0);
        if ret < 0 {
            return Err(av_error("cannot allocate an encoder frame", ret));
        }
    }
    Ok(frame)
}
