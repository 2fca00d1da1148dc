//! The span of one call: which AAC frames are kept and fed to the encoder, which output samples
//! the PCM buffer holds, and which source times are decoded, with the pre- and post-roll those
//! need.

#![deny(unsafe_code)]

use std::ops::Range;

use ffmpeg_next as ff;

use super::target::validate_target;
use crate::codec::aac::FRAME_SAMPLES as AAC_FRAME_SAMPLES;
use crate::error::{ParseError, ParseResult};
use crate::model::aac::AacTarget;

/// Microseconds per second.
pub(super) const US_PER_SECOND: i64 = 1_000_000;
/// Encoder frames encoded (and dropped) before the first kept frame, to settle its state.
pub(super) const ENCODER_PREROLL_FRAMES: u64 = 4;
/// Frames fed after the last kept frame: its MDCT window plus the psychoacoustic look-ahead.
const ENCODER_LOOKAHEAD_FRAMES: u64 = 2;
/// Source audio decoded before the range start (decoder convergence plus encoder pre-roll).
pub(super) const PREROLL_US: i64 = 1_000_000;
/// Source audio decoded after the last sample the encoder needs.
const DECODE_TAIL_US: i64 = 50_000;
/// Duration of the time warp between two placements of a run (seconds; at most half the range).
const WARP_SECONDS: f64 = 0.5;
/// Longest range one call may encode, in seconds (bounds the memory a call can take).
const MAX_RANGE_SECONDS: u64 = 120;
/// Largest frame index a range may reach: keeps every sample index well inside i64 (and its
/// products inside i128).
const MAX_FRAME_INDEX: u64 = 1 << 40;
/// Lowest rate of [`AAC_SAMPLE_RATES`](super::target::AAC_SAMPLE_RATES); the slowest frames, so the
/// longest pre- and post-roll.
pub(super) const LOWEST_RATE: u32 = 8000;

/// Start time in microseconds (rounded down) of AAC frame `frame` at `sample_rate`.
pub fn frame_start_us(frame: u64, sample_rate: u32) -> i64 {
    if sample_rate == 0 {
        return 0;
    }
    let us = i128::from(frame) * i128::from(AAC_FRAME_SAMPLES) * i128::from(US_PER_SECOND) / i128::from(sample_rate);
    i64::try_from(us).unwrap_or(i64::MAX)
}

/// Source audio needed after a range's end at output rate `rate`, in microseconds: the encoder's
/// look-ahead frames plus [`DECODE_TAIL_US`].
pub(super) fn postroll_for_rate(rate: u32) -> i64 {
    let frames = ENCODER_LOOKAHEAD_FRAMES * AAC_FRAME_SAMPLES;
    let us = (frames * US_PER_SECOND as u64).div_ceil(u64::from(rate.max(1)));
    i64::try_from(us).unwrap_or(i64::MAX).saturating_add(DECODE_TAIL_US)
}

/// Everything derived from the requested range: which output samples are encoded and which
/// source times are decoded.
pub(super) struct Window {
    pub(super) rate: u32,
    pub(super) channels: usize,
    pub(super) time_base: ff::Rational,
    pub(super) first_frame: u64,
    pub(super) end_frame: u64,
    /// First frame fed to the encoder (pre-roll included).
    pub(super) encode_start_frame: u64,
    /// Frame after the last one fed to the encoder (look-ahead included).
    pub(super) encode_stop_frame: u64,
    /// Decode packets with timestamps from here (microseconds)...
    pub(super) decode_from_us: i128,
    /// ...up to here (microseconds).
    pub(super) decode_to_us: i128,
}

impl Window {
    pub(super) fn new(target: &AacTarget, time_base: ff::Rational, first: u64, end: u64) -> ParseResult<Window> {
        validate_target(target)?;
        if time_base.numerator() <= 0 || time_base.denominator() <= 0 {
            return Err(ParseError::new("invalid stream time base"));
        }
        if end < first {
            return Err(ParseError::new(format!("frame range {first}..{end} is reversed")));
        }
        let max_frames = MAX_RANGE_SECONDS * u64::from(target.sample_rate) / AAC_FRAME_SAMPLES;
        if end - first > max_frames {
            return Err(ParseError::new(format!("frame range {first}..{end} is longer than {MAX_RANGE_SECONDS} s")));
        }
        if end > MAX_FRAME_INDEX {
            return Err(ParseError::new(format!("frame index {end} is out of range")));
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
    pub(super) fn buffer_start(&self) -> i64 {
        (self.encode_start_frame * AAC_FRAME_SAMPLES) as i64
    }

    /// Output sample after the PCM buffer.
    pub(super) fn buffer_end(&self) -> i64 {
        (self.encode_stop_frame * AAC_FRAME_SAMPLES) as i64
    }

    /// Samples per channel of the PCM buffer.
    pub(super) fn buffer_len(&self) -> usize {
        ((self.encode_stop_frame - self.encode_start_frame) * AAC_FRAME_SAMPLES) as usize
    }

    /// Output samples over which a run's placement moves from the start-join anchor to the
    /// end-join anchor when they differ: [`WARP_SECONDS`] (at most half the range) in its middle.
    pub(super) fn transition(&self) -> Range<i64> {
        let first = (self.first_frame * AAC_FRAME_SAMPLES) as i64;
        let end = (self.end_frame * AAC_FRAME_SAMPLES) as i64;
        let wanted = (WARP_SECONDS * f64::from(self.rate)) as i64;
        let len = wanted.min((end - first) / 2).max(1);
        let start = first + (end - first - len) / 2;
        start..start + len
    }

    /// A timestamp in the stream's time base, in microseconds (rounded down).
    pub(super) fn ts_to_us(&self, ts: i64) -> i128 {
        let num = i128::from(self.time_base.numerator());
        let den = i128::from(self.time_base.denominator());
        (i128::from(ts) * num * i128::from(US_PER_SECOND)).div_euclid(den)
    }
}
