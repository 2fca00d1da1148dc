//! Audio transcoding to AAC-LC for HLS, one segment at a time.
//!
//! Browsers cannot play DTS, TrueHD, Vorbis, PCM and (often) FLAC, Opus or AC-3 inside HLS, so
//! such tracks are served as AAC-LC in fMP4. Each segment is produced on demand, alone, on the
//! caller's thread, and the bytes of a segment depend only on (source, frame range, settings):
//! a segment made alone is bit-identical to the same segment made while playing in order.
//!
//! Timeline: output sample `s` is source presentation time `s / sample_rate` seconds, and AAC frame
//! `k` is the packet whose decoded audio (overlapped with frame `k - 1`, as every AAC decoder does)
//! is output samples `[k * 1024, (k + 1) * 1024)`. There is no priming offset: a track's `tfdt` is
//! simply `first_frame * 1024`, and consecutive segments join without gap or overlap.
//!
//! How one range is made:
//! 1. the packets from [`preroll_us`] before the range start to a little after its end are
//!    decoded with a fresh decoder (the pre-roll lets DTS, AC-3, MP3, Vorbis, Opus... converge);
//! 2. decoded frames are placed on the output grid by their timestamps, downmixed and, when
//!    needed, resampled with swresample started at a point aligned to the output grid, so every
//!    output sample depends only on nearby input. Coarse timestamps (Matroska's 1 ms) leave the
//!    exact sample position uncertain by up to a tick, so the audio around each join is placed
//!    from the timestamps of a fixed window around that join only: the two calls that share a
//!    join place it to the same sample. When a range's two joins disagree by a few samples, a
//!    0.5 s time warp (well under 0.1 % speed change) in the range's middle absorbs it;
//! 3. FFmpeg's native `aac` encoder (bit-exact flag, no threads) encodes from a fixed number of
//!    pre-roll frames before the range to two frames after it (its look-ahead), and exactly the
//!    packets of frames `[first_frame, end_frame)` are kept. Where the source has no audio
//!    (before its start, after its end, in gaps) silence is encoded.
//!
//! Determinism holds across calls and processes on one machine build; the floating-point paths
//! of FFmpeg may pick other SIMD code on other CPUs.

use std::fmt;
use std::ops::Range;
use std::ptr;

use ff::ffi;
use ff::packet::{Mut as _, Ref as _};
use ffmpeg_next as ff;

// Samples per AAC-LC frame (every frame this module produces lasts this many samples).
pub(crate) use crate::codec::aac::FRAME_SAMPLES as AAC_FRAME_SAMPLES;

/// Sample rates kept as they are: AAC's sampling frequencies but 7350 Hz (the table's last);
/// any other source rate is resampled to 48000 Hz.
pub(crate) const AAC_SAMPLE_RATES: &[u32] = crate::codec::aac::SAMPLE_RATES.split_last().unwrap().1;

/// Output rate for sources whose rate AAC-LC cannot keep.
const FALLBACK_RATE: u32 = 48000;
/// Encoder frames encoded (and dropped) before the first kept frame, to settle its state.
const ENCODER_PREROLL_FRAMES: u64 = 4;
/// Frames fed after the last kept frame: its MDCT window plus the psychoacoustic look-ahead.
const ENCODER_LOOKAHEAD_FRAMES: u64 = 2;
/// Per-channel bitrate from which the encoder's `fast` coder is used (see [`aac_coder`]).
const FAST_CODER_MIN_BITRATE_PER_CHANNEL: u32 = 64_000;
/// Source audio decoded before the range start (decoder convergence plus encoder pre-roll).
const PREROLL_US: i64 = 1_000_000;
/// Source audio decoded after the last sample the encoder needs.
const DECODE_TAIL_US: i64 = 50_000;
/// Frames timestamped from this long before a join (range start or end) up to
/// [`JOIN_WINDOW_AFTER_US`] after it place the audio around that join. Both calls that share the
/// join decode all of them: the later one starts [`PREROLL_US`] before the join, and its first
/// decoded frames (possibly trimmed or still converging) are older than the window.
const JOIN_WINDOW_BEFORE_US: i64 = 600_000;
/// See [`JOIN_WINDOW_BEFORE_US`]; within what the earlier call decodes after its range end.
const JOIN_WINDOW_AFTER_US: i64 = 40_000;
/// Duration of the time warp between two placements of a run (seconds; at most half the range).
const WARP_SECONDS: f64 = 0.5;
/// Largest placement difference (output samples) a warp absorbs; beyond it the timestamps are
/// broken and the placements switch without a glide.
const MAX_WARP_SHIFT: f64 = 4800.0;
/// Half the length of the warp's interpolation filter.
const SINC_TAPS: i64 = 8;
/// Timestamps beyond this magnitude are ignored for placement (they cannot be real).
const MAX_TIMESTAMP: u64 = 1 << 52;
/// Longest range one call may encode, in seconds (bounds the memory a call can take).
const MAX_RANGE_SECONDS: u64 = 120;
/// Lowest rate of [`AAC_SAMPLE_RATES`]; the slowest frames, so the longest pre- and post-roll.
const LOWEST_RATE: u32 = 8000;

use crate::model::aac::{AacSettings, AacTarget, DEFAULT_STEREO_BITRATE};

/// Raw AAC frames (no ADTS headers) of one frame range.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EncodedRange {
    /// The frames, back to back.
    pub payload: Vec<u8>,
    /// Size in bytes of each frame, in order; one entry per frame of the range. Every frame
    /// lasts 1024 samples.
    pub frame_sizes: Vec<u32>,
}

/// Why a track cannot be planned or a range cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscodeError(pub String);

impl fmt::Display for TranscodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TranscodeError {}

fn error(message: impl Into<String>) -> TranscodeError {
    TranscodeError(message.into())
}

fn av_error(what: &str, code: i32) -> TranscodeError {
    TranscodeError(format!("{what}: {}", ff::Error::from(code)))
}

/// How much source audio before a range's start time the caller must supply to
/// [`encode_range`], in microseconds (the same for every source and rate).
pub fn preroll_us() -> i64 {
    PREROLL_US
}

/// How much source audio after a range's end time the caller should supply to [`encode_range`],
/// in microseconds, valid for every output rate. At 44.1 kHz and above, 100 ms is enough.
pub fn postroll_us() -> i64 {
    postroll_for_rate(LOWEST_RATE)
}

/// Start time in microseconds (rounded down) of AAC frame `frame` at `sample_rate`.
pub fn frame_start_us(frame: u64, sample_rate: u32) -> i64 {
    if sample_rate == 0 {
        return 0;
    }
    let us = i128::from(frame) * i128::from(AAC_FRAME_SAMPLES) * 1_000_000 / i128::from(sample_rate);
    i64::try_from(us).unwrap_or(i64::MAX)
}

fn postroll_for_rate(rate: u32) -> i64 {
    let frames = ENCODER_LOOKAHEAD_FRAMES * AAC_FRAME_SAMPLES;
    let us = (frames * 1_000_000).div_ceil(u64::from(rate.max(1)));
    i64::try_from(us).unwrap_or(i64::MAX).saturating_add(DECODE_TAIL_US)
}

// ---------------------------------------------------------------------------------------------
// Planning
// ---------------------------------------------------------------------------------------------

/// Decides what an audio stream becomes (channels, rate, bitrate) and gets the AAC
/// AudioSpecificConfig from an opened encoder. Fails when the stream is not audio, FFmpeg has no
/// decoder for it, or the AAC encoder cannot be opened.
pub fn plan(params: &ff::codec::Parameters, settings: &AacSettings) -> Result<AacTarget, TranscodeError> {
    let source = SourceInfo::read(params)?;
    let channels = target_channels(source.channels, settings.keep_surround);
    let sample_rate = target_rate(source.sample_rate);
    let bitrate = target_bitrate(settings.bitrate, channels, sample_rate);
    let mut target = AacTarget { sample_rate, channels, bitrate, asc: Vec::new() };
    let encoder = open_encoder(&target)?;
    target.asc = encoder_extradata(&encoder)?;
    Ok(target)
}

/// The few facts of the source stream that planning needs.
struct SourceInfo {
    sample_rate: u32,
    channels: u32,
}

impl SourceInfo {
    fn read(params: &ff::codec::Parameters) -> Result<SourceInfo, TranscodeError> {
        // SAFETY: Parameters always wraps a valid AVCodecParameters.
        let p = unsafe { &*params.as_ptr() };
        if p.codec_type != ffi::AVMediaType::AVMEDIA_TYPE_AUDIO {
            return Err(error("the stream is not audio"));
        }
        // SAFETY: plain lookup in FFmpeg's static codec list.
        if unsafe { ffi::avcodec_find_decoder(p.codec_id) }.is_null() {
            return Err(error(format!("no FFmpeg decoder for audio codec {:?}", p.codec_id)));
        }
        let channels = u32::try_from(p.ch_layout.nb_channels).unwrap_or(0);
        Ok(SourceInfo { sample_rate: u32::try_from(p.sample_rate).unwrap_or(0), channels })
    }
}

fn target_channels(source_channels: u32, keep_surround: bool) -> u32 {
    if keep_surround && source_channels >= 6 {
        6
    } else {
        2
    }
}

fn target_rate(source_rate: u32) -> u32 {
    if AAC_SAMPLE_RATES.contains(&source_rate) {
        source_rate
    } else {
        FALLBACK_RATE
    }
}

/// Stereo bitrate scaled per channel pair, clamped to what the encoder can do at this rate.
fn target_bitrate(stereo_bitrate: u32, channels: u32, rate: u32) -> u32 {
    let stereo = if stereo_bitrate == 0 { DEFAULT_STEREO_BITRATE } else { stereo_bitrate };
    let wanted = u64::from(stereo) * u64::from(channels) / 2;
    // The encoder's ceiling: 6144 bits per channel per frame.
    let ceiling = 6144 * u64::from(channels) * u64::from(rate) / AAC_FRAME_SAMPLES;
    let floor = 8000 * u64::from(channels);
    u32::try_from(wanted.min(ceiling).max(floor)).unwrap_or(u32::MAX)
}

fn validate_target(target: &AacTarget) -> Result<(), TranscodeError> {
    if !AAC_SAMPLE_RATES.contains(&target.sample_rate) {
        return Err(error(format!("unsupported AAC sample rate {}", target.sample_rate)));
    }
    if target.channels != 2 && target.channels != 6 {
        return Err(error(format!("unsupported AAC channel count {}", target.channels)));
    }
    if target.bitrate == 0 {
        return Err(error("AAC bitrate is 0"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Encoding one range
// ---------------------------------------------------------------------------------------------

/// Encodes AAC frames `[first_frame, end_frame)` of the track described by `target` (from
/// [`plan`] on the same `params`).
///
/// `packets` are the source stream's packets in decode order, with timestamps in `time_base`,
/// covering at least `[frame_start_us(first_frame) - preroll_us(), frame_start_us(end_frame) +
/// postroll_us()]` (fewer at the stream's start and end). Extra packets outside that span are
/// ignored, so the result depends only on the source, the range and the target. Packets that do
/// not decode are skipped (their time becomes silence).
pub fn encode_range(
    params: &ff::codec::Parameters,
    time_base: ff::Rational,
    packets: &[ff::Packet],
    target: &AacTarget,
    first_frame: u64,
    end_frame: u64,
) -> Result<EncodedRange, TranscodeError> {
    let window = Window::new(target, time_base, first_frame, end_frame)?;
    if first_frame == end_frame {
        return Ok(EncodedRange::default());
    }
    let selected = select_packets(packets, &window);
    let frames = decode_packets(params, time_base, selected)?;
    let pcm = render_pcm(&frames, &window)?;
    encode_pcm(&pcm, target, &window)
}

/// Everything derived from the requested range: which output samples are encoded and which
/// source times are decoded.
struct Window {
    rate: u32,
    channels: usize,
    time_base: ff::Rational,
    first_frame: u64,
    end_frame: u64,
    /// First frame fed to the encoder (pre-roll included).
    encode_start_frame: u64,
    /// Frame after the last one fed to the encoder (look-ahead included).
    encode_stop_frame: u64,
    /// Decode packets with timestamps from here (microseconds)...
    decode_from_us: i128,
    /// ...up to here (microseconds).
    decode_to_us: i128,
}

impl Window {
    fn new(target: &AacTarget, time_base: ff::Rational, first: u64, end: u64) -> Result<Window, TranscodeError> {
        validate_target(target)?;
        if time_base.numerator() <= 0 || time_base.denominator() <= 0 {
            return Err(error("invalid stream time base"));
        }
        if end < first {
            return Err(error(format!("frame range {first}..{end} is reversed")));
        }
        let max_frames = MAX_RANGE_SECONDS * u64::from(target.sample_rate) / AAC_FRAME_SAMPLES;
        if end - first > max_frames {
            return Err(error(format!("frame range {first}..{end} is longer than {MAX_RANGE_SECONDS} s")));
        }
        // Keep every sample index well inside i64 (and its products inside i128).
        if end > (1u64 << 40) {
            return Err(error(format!("frame index {end} is out of range")));
        }
        let rate = target.sample_rate;
        let encode_start_frame = first.saturating_sub(ENCODER_PREROLL_FRAMES);
        let encode_stop_frame = end + ENCODER_LOOKAHEAD_FRAMES;
        Ok(Window {
            rate,
            channels: target.channels as usize,
            time_base,
            first_frame: first,
            end_frame: end,
            encode_start_frame,
            encode_stop_frame,
            decode_from_us: i128::from(frame_start_us(first, rate)) - i128::from(PREROLL_US),
            decode_to_us: i128::from(frame_start_us(end, rate)) + i128::from(postroll_for_rate(rate)),
        })
    }

    /// First output sample of the PCM buffer.
    fn buffer_start(&self) -> i64 {
        (self.encode_start_frame * AAC_FRAME_SAMPLES) as i64
    }

    /// Output sample after the PCM buffer.
    fn buffer_end(&self) -> i64 {
        (self.encode_stop_frame * AAC_FRAME_SAMPLES) as i64
    }

    fn buffer_len(&self) -> usize {
        ((self.encode_stop_frame - self.encode_start_frame) * AAC_FRAME_SAMPLES) as usize
    }

    /// Output samples over which a run's placement moves from the start-join anchor to the
    /// end-join anchor when they differ: [`WARP_SECONDS`] (at most half the range) in its middle.
    fn transition(&self) -> Range<i64> {
        let first = (self.first_frame * AAC_FRAME_SAMPLES) as i64;
        let end = (self.end_frame * AAC_FRAME_SAMPLES) as i64;
        let wanted = (WARP_SECONDS * f64::from(self.rate)) as i64;
        let len = wanted.min((end - first) / 2).max(1);
        let start = first + (end - first - len) / 2;
        start..start + len
    }

    /// A timestamp in the stream's time base, in microseconds (rounded down).
    fn ts_to_us(&self, ts: i64) -> i128 {
        let num = i128::from(self.time_base.numerator());
        let den = i128::from(self.time_base.denominator());
        (i128::from(ts) * num * 1_000_000).div_euclid(den)
    }
}

// ---------------------------------------------------------------------------------------------
// Packet selection and decoding
// ---------------------------------------------------------------------------------------------

fn packet_ts(packet: &ff::Packet) -> Option<i64> {
    packet.pts().or_else(|| packet.dts())
}

/// The packets this range decodes: from the first one timestamped at or after the pre-roll start
/// up to the last one timestamped at or before the decode end. Chosen by timestamp, never by
/// position in the slice, so a caller that passes more packets gets the same bytes.
fn select_packets<'a>(packets: &'a [ff::Packet], window: &Window) -> &'a [ff::Packet] {
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
struct Decoded {
    frame: ff::frame::Audio,
    ts: Option<i64>,
    /// The decoder may have dropped samples from this frame's start and moved its pts by the
    /// dropped duration rounded to the time base (see [`FrameSink::distrust_next`]).
    trimmed: bool,
}

impl Decoded {
    fn raw(&self) -> &ffi::AVFrame {
        // SAFETY: the frame was filled by avcodec_receive_frame and is owned by self.
        unsafe { &*self.frame.as_ptr() }
    }

    fn samples(&self) -> i64 {
        i64::from(self.raw().nb_samples)
    }

    fn rate(&self) -> u32 {
        u32::try_from(self.raw().sample_rate).unwrap_or(0)
    }

    /// What must stay the same for frames to go through one resampler.
    fn format_key(&self) -> (i32, i32, i32, u64) {
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

fn open_decoder(params: &ff::codec::Parameters, time_base: ff::Rational) -> Result<ff::codec::Context, TranscodeError> {
    // SAFETY: params wraps a valid AVCodecParameters; every pointer is checked before use and the
    // context is owned (and freed) by the returned wrapper.
    unsafe {
        let codec = ffi::avcodec_find_decoder((*params.as_ptr()).codec_id);
        if codec.is_null() {
            return Err(error("no FFmpeg decoder for this audio codec"));
        }
        let raw = ffi::avcodec_alloc_context3(codec);
        if raw.is_null() {
            return Err(error("cannot allocate a decoder"));
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

/// Decodes `packets` with a fresh decoder, then flushes it. Undecodable packets are skipped;
/// only a run in which nothing at all decodes is an error.
fn decode_packets(
    params: &ff::codec::Parameters,
    time_base: ff::Rational,
    packets: &[ff::Packet],
) -> Result<Vec<Decoded>, TranscodeError> {
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
    // SAFETY: a NULL packet starts draining.
    unsafe { ffi::avcodec_send_packet(decoder.as_mut_ptr(), ptr::null()) };
    sink.receive(&mut decoder);
    let FrameSink { frames, failures, .. } = sink;
    if frames.is_empty() && failures > 0 {
        return Err(error(format!("none of the {} source packets could be decoded", packets.len())));
    }
    Ok(frames)
}

/// True when the packet asks the decoder to drop samples at its start (encoder priming, Opus
/// pre-skip). The decoder then moves the pts of the trimmed frame by the dropped duration,
/// rounded to the stream time base, which does not follow the rounding of the other timestamps.
fn trims_start(packet: &ff::Packet) -> bool {
    packet.side_data().any(|side| {
        side.kind() == ff::packet::side_data::Type::SkipSamples
            && side.data().get(..4).is_some_and(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) > 0)
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
fn checked_frame(frame: ff::frame::Audio) -> Option<Decoded> {
    // SAFETY: the frame was just filled by the decoder.
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

// ---------------------------------------------------------------------------------------------
// Placing decoded audio on the output grid
// ---------------------------------------------------------------------------------------------

/// Planar f32 output audio of the encoder window, one vector per channel.
type Pcm = Vec<Vec<f32>>;

/// Converts the decoded frames to the target layout and rate and places them on the output grid;
/// everything not covered by source audio stays silent.
fn render_pcm(frames: &[Decoded], window: &Window) -> Result<Pcm, TranscodeError> {
    let mut pcm = vec![vec![0f32; window.buffer_len()]; window.channels];
    let mut previous_end_seconds: Option<f64> = None;
    for chunk in split_chunks(frames, window.time_base) {
        let frames = &frames[chunk];
        let Some((at_start, at_end)) = chunk_anchors(frames, window, previous_end_seconds) else {
            return Err(error("the source audio has no timestamps"));
        };
        place_run(frames, at_start, at_end, window, &mut pcm)?;
        let total: i64 = frames.iter().map(Decoded::samples).sum();
        let end = at_end.saturating_add(total);
        previous_end_seconds = Some(end as f64 / f64::from(frames[0].rate()));
    }
    Ok(pcm)
}

/// Places one run: with one anchor when both joins agree, else with the start-join anchor up to
/// the middle of the range and the end-join anchor after it, joined there by a gradual time
/// warp (see [`warp_between`]).
fn place_run(
    frames: &[Decoded],
    at_start: i64,
    at_end: i64,
    window: &Window,
    pcm: &mut Pcm,
) -> Result<(), TranscodeError> {
    let whole = window.buffer_start()..window.buffer_end();
    let mut canvas = Canvas { data: pcm, start: whole.start };
    if at_start == at_end {
        return place_chunk(frames, at_start, window, whole, &mut canvas);
    }
    let warp = window.transition();
    place_chunk(frames, at_start, window, whole.start..warp.start, &mut canvas)?;
    place_chunk(frames, at_end, window, warp.end..whole.end, &mut canvas)?;
    warp_between(frames, (at_start, at_end), window, warp, &mut canvas)
}

/// Fills `warp` with the run placed at the start anchor and progressively delayed (raised-cosine
/// ramp, windowed-sinc interpolation) until it matches the placement at the end anchor. The two
/// anchors differ by at most about one timestamp tick, so over [`WARP_SECONDS`] the speed
/// changes by well under 0.1 %: inaudible, where a jump would click.
fn warp_between(
    frames: &[Decoded],
    (at_start, at_end): (i64, i64),
    window: &Window,
    warp: Range<i64>,
    canvas: &mut Canvas,
) -> Result<(), TranscodeError> {
    let in_rate = f64::from(frames[0].rate());
    let shift = (at_end - at_start) as f64 * f64::from(window.rate) / in_rate;
    if !shift.is_finite() || shift.abs() > MAX_WARP_SHIFT {
        // Timestamps this inconsistent are broken: switch placements without a glide.
        return place_chunk(frames, at_end, window, warp, canvas);
    }
    let margin = shift.abs().ceil() as i64 + SINC_TAPS + 2;
    let span = warp.start - margin..warp.end + margin;
    let mut data = vec![vec![0f32; (span.end - span.start) as usize]; window.channels];
    let mut source = Canvas { data: &mut data, start: span.start };
    place_chunk(frames, at_start, window, span.clone(), &mut source)?;
    let len = (warp.end - warp.start) as f64;
    for n in warp.start.max(canvas.start)..warp.end.min(canvas.end()) {
        let ramp = 0.5 - 0.5 * (std::f64::consts::PI * ((n - warp.start) as f64 + 0.5) / len).cos();
        let position = (n - span.start) as f64 - shift * ramp;
        let (first, weights) = sinc_weights(position);
        for (out, input) in canvas.data.iter_mut().zip(source.data.iter()) {
            let taps = input.get(first..first + weights.len()).unwrap_or(&[]);
            let value: f64 = taps.iter().zip(&weights).map(|(&x, &w)| f64::from(x) * w).sum();
            out[(n - canvas.start) as usize] = value as f32;
        }
    }
    Ok(())
}

/// Lanczos (windowed-sinc) interpolation weights for reading a signal at fractional `position`:
/// the index of the first tap and the normalised weights of the 2 * [`SINC_TAPS`] taps.
fn sinc_weights(position: f64) -> (usize, Vec<f64>) {
    let base = position.floor();
    let first = base as i64 - SINC_TAPS + 1;
    let a = SINC_TAPS as f64;
    let mut weights: Vec<f64> = (0..2 * SINC_TAPS)
        .map(|k| {
            let x = position - (first + k) as f64;
            if x.abs() < 1e-9 {
                1.0
            } else if x.abs() >= a {
                0.0
            } else {
                let px = std::f64::consts::PI * x;
                a * px.sin() * (px / a).sin() / (px * px)
            }
        })
        .collect();
    let sum: f64 = weights.iter().sum();
    if sum.abs() > 1e-9 {
        weights.iter_mut().for_each(|w| *w /= sum);
    }
    (first.max(0) as usize, weights)
}

/// A timestamp in input samples (at `rate`), as a real number.
fn ts_in_samples(ts: i64, time_base: ff::Rational, rate: u32) -> f64 {
    let num = i128::from(time_base.numerator()) * i128::from(rate) * i128::from(ts);
    num as f64 / f64::from(time_base.denominator())
}

/// One time-base tick in input samples.
fn tick_in_samples(time_base: ff::Rational, rate: u32) -> f64 {
    f64::from(time_base.numerator()) * f64::from(rate) / f64::from(time_base.denominator())
}

/// Largest timestamp jump (input samples) still taken as timestamp rounding, not as a gap.
fn continuity_tolerance(time_base: ff::Rational, rate: u32) -> f64 {
    (2.0 * tick_in_samples(time_base, rate) + 1.0).max(0.015 * f64::from(rate))
}

/// Splits the decoded frames into runs of contiguous audio: a new run starts where the format
/// changes or the timestamps jump (a gap or an overlap) beyond rounding. Each decision looks at
/// neighbouring frames only, so it is the same in every call that decodes those frames.
fn split_chunks(frames: &[Decoded], time_base: ff::Rational) -> Vec<Range<usize>> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut expected: Option<f64> = None;
    for (i, frame) in frames.iter().enumerate() {
        let rate = frame.rate();
        let t = frame.ts.map(|ts| ts_in_samples(ts, time_base, rate));
        let jumped = matches!((t, expected), (Some(t), Some(e))
            if (t - e).abs() > continuity_tolerance(time_base, rate));
        if i > start && (frame.format_key() != frames[start].format_key() || jumped) {
            chunks.push(start..i);
            start = i;
            expected = None;
        }
        let n = frame.samples() as f64;
        expected = t.or(expected).map(|e| e + n);
    }
    if start < frames.len() {
        chunks.push(start..frames.len());
    }
    chunks
}

/// Where a run's first sample lands (input samples on the source timeline) for the output near
/// the range start and near the range end.
///
/// Timestamps can be coarse (Matroska: 1 ms, 44 samples at 44.1 kHz), so an estimate made from
/// a run's own frames depends a little on which frames the run holds. Two calls that share a
/// join (segment n's end is segment n+1's start) must still place the audio around it to the
/// same sample, so each join gets an estimate made only from the frames timestamped in a fixed
/// window around it ([`JOIN_WINDOW_BEFORE_US`], [`JOIN_WINDOW_AFTER_US`]), which both calls decode
/// in full. A run that does not reach a join window uses the estimate from all its frames.
fn chunk_anchors(frames: &[Decoded], window: &Window, fallback_seconds: Option<f64>) -> Option<(i64, i64)> {
    let tb = window.time_base;
    let all = chunk_anchor(frames, tb, |_| true).or_else(|| {
        let rate = f64::from(frames.first()?.rate());
        fallback_seconds.map(|s| (s * rate).round() as i64)
    })?;
    let near = |frame: u64| {
        let join = i128::from(frame_start_us(frame, window.rate));
        let span = join - i128::from(JOIN_WINDOW_BEFORE_US)..=join + i128::from(JOIN_WINDOW_AFTER_US);
        chunk_anchor(frames, tb, |ts| span.contains(&window.ts_to_us(ts)))
    };
    let at_start = near(window.first_frame);
    let at_end = near(window.end_frame);
    Some((at_start.or(at_end).unwrap_or(all), at_end.or(at_start).unwrap_or(all)))
}

/// The source-timeline index (in input samples) of a run's first sample, estimated from the
/// frames whose timestamp passes `use_ts`.
///
/// Each timestamped frame bounds the run start to an interval of +-1 tick around
/// `timestamp - samples before it`; the result is the middle of the intersection. With exact
/// timestamps this is the timestamp itself; with coarse ones it is within half a tick of the
/// truth. The arithmetic is exact, so two calls using the same frames agree to the sample even
/// though their runs start at different samples. Possibly trimmed frames count only when
/// nothing else has a timestamp; timestamps that contradict each other fall back to the median.
fn chunk_anchor(frames: &[Decoded], time_base: ff::Rational, use_ts: impl Fn(i64) -> bool) -> Option<i64> {
    let rate = frames.first()?.rate();
    let mut estimates = start_estimates(frames, time_base, false, &use_ts);
    if estimates.is_empty() {
        estimates = start_estimates(frames, time_base, true, &use_ts);
    }
    if estimates.is_empty() {
        return None;
    }
    // Everything below is in units of 1 / (2 * den) samples.
    let den = i128::from(time_base.denominator());
    let half_width = (2 * i128::from(time_base.numerator()) * i128::from(rate)).max(den);
    let low = estimates.iter().map(|e| e - half_width).max()?;
    let high = estimates.iter().map(|e| e + half_width).min()?;
    let anchor = if low <= high {
        (low + high + 2 * den).div_euclid(4 * den)
    } else {
        estimates.sort_unstable();
        (estimates[estimates.len() / 2] + den).div_euclid(2 * den)
    };
    Some(clamp_i64(anchor))
}

/// For each timestamped frame passing `use_ts` (trimmed ones only with `with_trimmed`): its
/// timestamp minus the samples before it in the run, in units of 1 / (2 * den) input samples.
fn start_estimates(
    frames: &[Decoded],
    time_base: ff::Rational,
    with_trimmed: bool,
    use_ts: &impl Fn(i64) -> bool,
) -> Vec<i128> {
    let rate = i128::from(frames.first().map_or(0, Decoded::rate));
    let num = i128::from(time_base.numerator());
    let den = i128::from(time_base.denominator());
    let mut estimates = Vec::new();
    let mut before = 0i128;
    for frame in frames {
        let sane = |ts: i64| ts.unsigned_abs() < MAX_TIMESTAMP;
        let usable = frame.ts.filter(|&ts| (with_trimmed || !frame.trimmed) && sane(ts) && use_ts(ts));
        if let Some(ts) = usable {
            // No overflow: |ts| < 2^52, num < 2^31, rate < 2^32.
            estimates.push(2 * (i128::from(ts) * num * rate - before * den));
        }
        before += i128::from(frame.samples());
    }
    estimates
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Output samples converted before the buffer start (and after its end) so that the resampler's
/// start-up and flush never touch the buffer: its filter spans 32 taps of the slower rate.
fn resample_margin(in_rate: i64, out_rate: i64) -> i64 {
    256 + 64 * (out_rate + in_rate - 1) / in_rate
}

/// Where conversion of a run starts: the input sample (relative to the run) and the output
/// sample it lands on. The start is aligned so that input and output positions are exact
/// multiples of the rate ratio, making every output sample land on the global output grid with
/// the same resampler phase in every call.
fn conversion_start(anchor: i64, in_rate: i64, out_rate: i64, region_start: i64) -> (i64, i64) {
    let g = gcd(in_rate, out_rate);
    let (step_in, step_out) = (in_rate / g, out_rate / g);
    let wanted_out = region_start - resample_margin(in_rate, out_rate);
    let wanted_in = (i128::from(wanted_out) * i128::from(in_rate)).div_euclid(i128::from(out_rate));
    let aligned_in = wanted_in.div_euclid(i128::from(step_in)) * i128::from(step_in);
    let skip = if aligned_in >= i128::from(anchor) {
        aligned_in - i128::from(anchor)
    } else {
        i128::from((step_in - anchor.rem_euclid(step_in)) % step_in)
    };
    let start_in = i128::from(anchor) + skip;
    let start_out = start_in.div_euclid(i128::from(step_in)) * i128::from(step_out);
    (clamp_i64(skip), clamp_i64(start_out))
}

fn clamp_i64(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN / 4 } else { i64::MAX / 4 })
}

/// A PCM buffer covering output samples `[start, start + length)`.
struct Canvas<'a> {
    data: &'a mut Pcm,
    start: i64,
}

impl Canvas<'_> {
    fn end(&self) -> i64 {
        self.start + self.data.first().map_or(0, |c| c.len() as i64)
    }
}

/// Converts one contiguous run (starting at input sample `anchor`) and writes the part that
/// falls in `region` (output samples) into `canvas`.
fn place_chunk(
    frames: &[Decoded],
    anchor: i64,
    window: &Window,
    region: Range<i64>,
    canvas: &mut Canvas,
) -> Result<(), TranscodeError> {
    let in_rate = i64::from(frames[0].rate());
    let out_rate = i64::from(window.rate);
    let total: i64 = frames.iter().map(Decoded::samples).sum();
    let margin = resample_margin(in_rate, out_rate);
    let to_out = |input: i64| clamp_i64(i128::from(input) * i128::from(out_rate) / i128::from(in_rate));
    if to_out(anchor.saturating_add(total)) + margin <= region.start || to_out(anchor) >= region.end + margin {
        return Ok(());
    }
    let (mut skip, mut out_pos) = conversion_start(anchor, in_rate, out_rate, region.start);
    let mut resampler = Resampler::new(&frames[0], window)?;
    for frame in frames {
        let n = frame.samples();
        if skip >= n {
            skip -= n;
            continue;
        }
        let produced = resampler.convert_frame(frame, skip)?;
        skip = 0;
        out_pos = write_pcm(canvas, &region, out_pos, &resampler.out, produced);
        if out_pos >= region.end + margin {
            return Ok(());
        }
    }
    if skip > 0 {
        return Ok(());
    }
    loop {
        let produced = resampler.flush()?;
        if produced == 0 {
            return Ok(());
        }
        out_pos = write_pcm(canvas, &region, out_pos, &resampler.out, produced);
    }
}

/// Copies `count` converted samples that start at output sample `pos` into the canvas (what
/// falls outside `region` or the canvas is dropped); returns the output position after them.
fn write_pcm(canvas: &mut Canvas, region: &Range<i64>, pos: i64, converted: &[Vec<f32>], count: usize) -> i64 {
    let end = pos + count as i64;
    let from = pos.max(region.start).max(canvas.start);
    let to = end.min(region.end).min(canvas.end());
    if from < to {
        let base = canvas.start;
        for (out, input) in canvas.data.iter_mut().zip(converted) {
            let src = &input[(from - pos) as usize..(to - pos) as usize];
            out[(from - base) as usize..(to - base) as usize].copy_from_slice(src);
        }
    }
    end
}

/// A native-order channel layout (no heap part, so it needs no uninit).
fn layout_from_mask(mask: u64) -> ffi::AVChannelLayout {
    // SAFETY: AVChannelLayout is plain data; from_mask fills it completely.
    unsafe {
        let mut layout: ffi::AVChannelLayout = std::mem::zeroed();
        ffi::av_channel_layout_from_mask(&mut layout, mask);
        layout
    }
}

/// The encoder's layout: stereo, or 5.1 as AAC channel configuration 6 (L R C LFE Ls Rs).
fn target_layout(channels: usize) -> ffi::AVChannelLayout {
    if channels == 6 {
        layout_from_mask(ffi::AV_CH_LAYOUT_5POINT1_BACK)
    } else {
        layout_from_mask(ffi::AV_CH_LAYOUT_STEREO)
    }
}

/// The layout swresample is told for decoded audio: its own when it names the channels, else
/// FFmpeg's default layout for that many channels.
fn source_layout(frame: &Decoded) -> Result<ffi::AVChannelLayout, TranscodeError> {
    let layout = &frame.raw().ch_layout;
    if layout.order == ffi::AVChannelOrder::AV_CHANNEL_ORDER_NATIVE {
        // SAFETY: for the native order the union holds the mask.
        let mask = unsafe { layout.u.mask };
        if mask.count_ones() == layout.nb_channels as u32 {
            return Ok(layout_from_mask(mask));
        }
    }
    // SAFETY: AVChannelLayout is plain data; av_channel_layout_default fills it.
    let fallback = unsafe {
        let mut fallback: ffi::AVChannelLayout = std::mem::zeroed();
        ffi::av_channel_layout_default(&mut fallback, layout.nb_channels);
        fallback
    };
    if fallback.order != ffi::AVChannelOrder::AV_CHANNEL_ORDER_NATIVE {
        return Err(error(format!("no channel layout known for {} channels", layout.nb_channels)));
    }
    Ok(fallback)
}

/// An swresample context converting one run to the target layout, f32 planar, target rate,
/// with its output scratch buffers.
struct Resampler {
    swr: *mut ffi::SwrContext,
    out: Vec<Vec<f32>>,
    format: ffi::AVSampleFormat,
    in_channels: usize,
}

impl Drop for Resampler {
    fn drop(&mut self) {
        // SAFETY: swr came from swr_alloc_set_opts2 (or is NULL) and is freed once.
        unsafe { ffi::swr_free(&mut self.swr) };
    }
}

impl Resampler {
    fn new(first: &Decoded, window: &Window) -> Result<Resampler, TranscodeError> {
        let mut in_layout = source_layout(first)?;
        let mut out_layout = target_layout(window.channels);
        let raw = first.raw();
        // SAFETY: the decoder set a valid sample format (checked_frame checked it is >= 0).
        let format: ffi::AVSampleFormat = unsafe { std::mem::transmute::<i32, ffi::AVSampleFormat>(raw.format) };
        let mut resampler = Resampler {
            swr: ptr::null_mut(),
            out: vec![Vec::new(); window.channels],
            format,
            in_channels: in_layout.nb_channels as usize,
        };
        // SAFETY: all pointers are valid for the calls; swr is owned by the Resampler.
        unsafe {
            let ret = ffi::swr_alloc_set_opts2(
                &mut resampler.swr,
                &mut out_layout,
                ffi::AVSampleFormat::AV_SAMPLE_FMT_FLTP,
                window.rate as i32,
                &mut in_layout,
                format,
                raw.sample_rate,
                0,
                ptr::null_mut(),
            );
            if ret < 0 || resampler.swr.is_null() {
                return Err(av_error("cannot set up the resampler", ret));
            }
            // Exact rational ratio, so aligned starts give identical filter phases.
            ffi::av_opt_set_int(resampler.swr.cast(), c"exact_rational".as_ptr(), 1, 0);
            let ret = ffi::swr_init(resampler.swr);
            if ret < 0 {
                return Err(av_error("cannot open the resampler", ret));
            }
        }
        Ok(resampler)
    }

    /// Converts a frame from input sample `skip` on; returns the samples now in `self.out`.
    fn convert_frame(&mut self, frame: &Decoded, skip: i64) -> Result<usize, TranscodeError> {
        let raw = frame.raw();
        let count = i64::from(raw.nb_samples) - skip;
        // SAFETY: format is a valid sample format.
        let (planar, bytes) =
            unsafe { (ffi::av_sample_fmt_is_planar(self.format) != 0, ffi::av_get_bytes_per_sample(self.format)) };
        let planes = if planar { self.in_channels } else { 1 };
        let stride = if planar { 1 } else { self.in_channels };
        let offset = skip as usize * bytes as usize * stride;
        // SAFETY: extended_data holds `planes` pointers to nb_samples samples each (checked
        // non-NULL in checked_frame) and skip < nb_samples.
        let inputs: Vec<*const u8> =
            (0..planes).map(|p| unsafe { (*raw.extended_data.add(p)).add(offset) as *const u8 }).collect();
        self.convert(inputs.as_ptr(), count as i32)
    }

    /// Drains what the resampler still holds; returns the samples now in `self.out`.
    fn flush(&mut self) -> Result<usize, TranscodeError> {
        self.convert(ptr::null(), 0)
    }

    fn convert(&mut self, inputs: *const *const u8, count: i32) -> Result<usize, TranscodeError> {
        // SAFETY: swr is initialised.
        let capacity = unsafe { ffi::swr_get_out_samples(self.swr, count) }.max(0) + 16;
        for channel in &mut self.out {
            channel.resize(capacity as usize, 0.0);
        }
        let mut outputs: Vec<*mut u8> = self.out.iter_mut().map(|c| c.as_mut_ptr().cast()).collect();
        // SAFETY: each output plane holds `capacity` floats; inputs holds one pointer per input
        // plane with `count` samples each (or is NULL to flush).
        let ret = unsafe { ffi::swr_convert(self.swr, outputs.as_mut_ptr(), capacity, inputs as *mut _, count) };
        if ret < 0 {
            return Err(av_error("resampling failed", ret));
        }
        Ok(ret as usize)
    }
}

// ---------------------------------------------------------------------------------------------
// AAC encoding
// ---------------------------------------------------------------------------------------------

/// Opens FFmpeg's native AAC-LC encoder for `target`: f32 planar, no threads, bit-exact.
fn open_encoder(target: &AacTarget) -> Result<ff::codec::Context, TranscodeError> {
    validate_target(target)?;
    // SAFETY: every pointer is checked; the context is owned by the returned wrapper.
    unsafe {
        let codec = ffi::avcodec_find_encoder_by_name(c"aac".as_ptr());
        if codec.is_null() {
            return Err(error("FFmpeg's native AAC encoder is not available"));
        }
        let raw = ffi::avcodec_alloc_context3(codec);
        if raw.is_null() {
            return Err(error("cannot allocate the AAC encoder"));
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
            return Err(error(format!("unexpected AAC frame size {}", (*c).frame_size)));
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

fn encoder_extradata(encoder: &ff::codec::Context) -> Result<Vec<u8>, TranscodeError> {
    // SAFETY: the encoder is open; extradata holds extradata_size bytes when non-NULL.
    unsafe {
        let c = &*encoder.as_ptr();
        if c.extradata.is_null() || c.extradata_size < 2 {
            return Err(error("the AAC encoder gave no AudioSpecificConfig"));
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
fn encode_pcm(pcm: &Pcm, target: &AacTarget, window: &Window) -> Result<EncodedRange, TranscodeError> {
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
    Err(error(format!(
        "the AAC encoder produced {} of {} frames",
        range.out.frame_sizes.len(),
        window.end_frame - window.first_frame
    )))
}

impl<'a> RangeEncoder<'a> {
    fn new(target: &AacTarget, window: &'a Window) -> Result<RangeEncoder<'a>, TranscodeError> {
        let encoder = open_encoder(target)?;
        let frame = encoder_frame(window)?;
        let wanted = (window.end_frame - window.first_frame) as usize;
        let out = EncodedRange { payload: Vec::new(), frame_sizes: Vec::with_capacity(wanted) };
        Ok(RangeEncoder { encoder, frame, packet: ff::Packet::empty(), window, out })
    }

    /// Sends encoder frame `index` of the window (pts = its first output sample).
    fn send_frame(&mut self, pcm: &Pcm, index: u64) -> Result<(), TranscodeError> {
        let n = AAC_FRAME_SAMPLES as usize;
        let start = index as usize * n;
        // SAFETY: the frame was allocated for `channels` planes of 1024 floats and is made
        // writable first (the encoder may still reference the previous buffer).
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

    fn send_end(&mut self) -> Result<(), TranscodeError> {
        // SAFETY: a NULL frame starts draining the open encoder.
        let ret = unsafe { ffi::avcodec_send_frame(self.encoder.as_mut_ptr(), ptr::null()) };
        if ret < 0 && ret != ffi::AVERROR_EOF {
            return Err(av_error("AAC encoder flush failed", ret));
        }
        Ok(())
    }

    /// Takes the packets the encoder has ready, keeping those of the range; true once complete.
    fn receive_packets(&mut self) -> Result<bool, TranscodeError> {
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
    fn drain(&mut self) -> Result<(), TranscodeError> {
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
    fn keep_packet(&mut self) -> Result<(), TranscodeError> {
        let Some(pts) = self.packet.pts() else {
            return Err(error("the AAC encoder gave a packet without pts"));
        };
        if pts.rem_euclid(AAC_FRAME_SAMPLES as i64) != 0 {
            return Err(error(format!("AAC packet pts {pts} is off the frame grid")));
        }
        let frame = pts.div_euclid(AAC_FRAME_SAMPLES as i64);
        let next = self.window.first_frame + self.out.frame_sizes.len() as u64;
        if frame < 0 || (frame as u64) < next {
            return Ok(());
        }
        if frame as u64 != next {
            return Err(error(format!("the AAC encoder skipped from frame {next} to {frame}")));
        }
        let data = self.packet.data().unwrap_or(&[]);
        self.out.payload.extend_from_slice(data);
        self.out.frame_sizes.push(data.len() as u32);
        Ok(())
    }
}

/// A 1024-sample f32 planar frame in the target layout and rate.
fn encoder_frame(window: &Window) -> Result<ff::frame::Audio, TranscodeError> {
    let mut frame = ff::frame::Audio::empty();
    // SAFETY: the frame is a fresh AVFrame owned by the wrapper; get_buffer allocates its planes.
    unsafe {
        let f = frame.as_mut_ptr();
        if f.is_null() {
            return Err(error("cannot allocate an encoder frame"));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_channels_and_bitrates() {
        assert_eq!(target_rate(44100), 44100);
        assert_eq!(target_rate(192000), 48000);
        assert_eq!(target_rate(7000), 48000);
        assert_eq!(target_rate(0), 48000);
        assert_eq!(target_channels(6, true), 6);
        assert_eq!(target_channels(8, true), 6);
        assert_eq!(target_channels(6, false), 2);
        assert_eq!(target_channels(1, true), 2);
        assert_eq!(target_bitrate(0, 2, 48000), 128_000);
        assert_eq!(target_bitrate(128_000, 6, 48000), 384_000);
        assert!(target_bitrate(1_000_000, 2, 8000) <= 6144 * 2 * 8000 / 1024);
    }

    #[test]
    fn frame_times_and_rolls() {
        assert_eq!(frame_start_us(0, 48000), 0);
        assert_eq!(frame_start_us(375, 48000), 8_000_000);
        assert_eq!(frame_start_us(1, 0), 0);
        assert!(postroll_for_rate(48000) <= 100_000);
        assert!(postroll_for_rate(44100) <= 100_000);
        assert!(postroll_us() >= postroll_for_rate(8000));
        // The pre-roll covers the encoder pre-roll at the slowest rate with room for decoders.
        assert!(preroll_us() >= frame_start_us(ENCODER_PREROLL_FRAMES, LOWEST_RATE) + 250_000);
        // The join window starts well after the later call's first (converging) frames and ends
        // within what the earlier call decodes after its range.
        assert!(JOIN_WINDOW_BEFORE_US + 300_000 <= preroll_us());
        assert!(JOIN_WINDOW_AFTER_US + 20_000 <= postroll_for_rate(96000));
    }

    #[test]
    fn plan_and_encode_reject_bad_input() {
        let target = AacTarget { sample_rate: 7000, channels: 2, bitrate: 128_000, asc: vec![] };
        let params = ff::codec::Parameters::new();
        let tb = ff::Rational::new(1, 48000);
        assert!(encode_range(&params, tb, &[], &target, 0, 10).is_err());
        let target = AacTarget { sample_rate: 48000, ..target };
        assert!(encode_range(&params, tb, &[], &target, 10, 0).is_err());
        assert!(encode_range(&params, ff::Rational::new(0, 1), &[], &target, 0, 1).is_err());
        assert!(encode_range(&params, tb, &[], &target, 0, u64::MAX).is_err());
        assert!(plan(&params, &AacSettings::default()).is_err());
    }

    #[test]
    fn sinc_weights_are_exact_at_integer_positions() {
        let (first, w) = sinc_weights(20.0);
        assert_eq!(first, 13);
        assert!((w[7] - 1.0).abs() < 1e-12);
        assert!(w.iter().enumerate().all(|(k, x)| k == 7 || x.abs() < 1e-12));
        let (_, w) = sinc_weights(20.5);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((w[7] - w[8]).abs() < 1e-12);
    }

    /// A decoded stereo f32 frame of `samples` samples at `rate`, timestamped `pts`.
    fn decoded(samples: usize, rate: u32, pts: i64, trimmed: bool) -> Decoded {
        let layout = ff::ChannelLayout::STEREO;
        let mut frame =
            ff::frame::Audio::new(ff::format::Sample::F32(ff::format::sample::Type::Planar), samples, layout);
        frame.set_rate(rate);
        frame.set_pts(Some(pts));
        checked_frame(frame).map(|d| Decoded { trimmed, ..d }).unwrap_or_else(|| panic!("unusable test frame"))
    }

    #[test]
    fn encoder_delay_trimmed_by_the_decoder_is_placed_at_the_decoded_pts() {
        // MP3 with a LAME header, as FFmpeg decodes it: the first packet (pts 0) carries
        // skip-samples 1105, so the first frame keeps the last 47 of its 1152 samples at pts
        // 0.025057 s; the source's first audible sample is input sample 1105, not 0.
        let tb = ff::Rational::new(1, 14_112_000);
        let frames = [
            decoded(47, 44100, 353_600, true),
            decoded(1152, 44100, 368_640, false),
            decoded(1152, 44100, 737_280, false),
        ];
        assert_eq!(split_chunks(&frames, tb), vec![0..3]);
        assert_eq!(chunk_anchor(&frames, tb, |_| true), Some(1105));
        assert_eq!(chunk_anchor(&frames[..1], tb, |_| true), Some(1105));
        // MPEG-2 layer III (576-sample frames): the delay drops the whole first frame and part of
        // the second.
        let frames = [decoded(47, 22050, 707_200, true), decoded(576, 22050, 737_280, false)];
        assert_eq!(chunk_anchor(&frames, tb, |_| true), Some(1105));
        // Matroska (1 ms): the trimmed frame's pts moved by the trim rounded to the time base
        // (312 samples -> 7 ms = 336), so only the other frames place the run.
        let tb = ff::Rational::new(1, 1000);
        let frames = [decoded(648, 48000, 7, true), decoded(960, 48000, 14, false), decoded(960, 48000, 34, false)];
        assert_eq!(split_chunks(&frames, tb), vec![0..3]);
        assert_eq!(chunk_anchor(&frames, tb, |_| true), Some(24));
    }

    #[test]
    fn aligned_conversion_start_lands_on_the_grid() {
        let target = AacTarget { sample_rate: 48000, channels: 2, bitrate: 128_000, asc: vec![] };
        let window = Window::new(&target, ff::Rational::new(1, 1000), 100, 380).unwrap_or_else(|e| panic!("{e}"));
        for anchor in [-5000i64, 0, 3, 12_345, 4_000_000] {
            let (skip, out) = conversion_start(anchor, 44100, 48000, window.buffer_start());
            assert!(skip >= 0);
            assert_eq!((anchor + skip) * 48000 % 44100, 0);
            assert_eq!((anchor + skip) * 48000 / 44100, out);
            assert!(out <= window.buffer_start() || skip < 147);
        }
    }
}
