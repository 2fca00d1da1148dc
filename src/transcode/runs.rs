//! Runs of contiguous audio and where they land: decoded frames are split into runs wherever
//! the format changes or the timestamps jump, and each run is anchored on the source timeline
//! (its first sample's index in input samples) from the timestamps of fixed windows around the
//! range's joins, so that two calls sharing a join place it to the same sample.

#![deny(unsafe_code)]

use std::ops::Range;

use ffmpeg_next as ff;

use super::decode::Decoded;
use super::window::{frame_start_us, Window};

/// Frames timestamped from this long before a join (range start or end) up to
/// [`JOIN_WINDOW_AFTER_US`] after it place the audio around that join. Both calls that share the
/// join decode all of them: the later one starts
/// [`PREROLL_US`](super::window::PREROLL_US) before the join, and its first decoded frames
/// (possibly trimmed or still converging) are older than the window.
pub(super) const JOIN_WINDOW_BEFORE_US: i64 = 600_000;
/// See [`JOIN_WINDOW_BEFORE_US`]; within what the earlier call decodes after its range end.
pub(super) const JOIN_WINDOW_AFTER_US: i64 = 40_000;
/// Timestamps beyond this magnitude are ignored for placement (they cannot be real).
const MAX_TIMESTAMP: u64 = 1 << 52;
/// Timestamp jumps up to this long (seconds) are always taken as rounding, not as a gap.
const MIN_CONTINUITY_TOLERANCE_SECONDS: f64 = 0.015;

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
    (2.0 * tick_in_samples(time_base, rate) + 1.0).max(MIN_CONTINUITY_TOLERANCE_SECONDS * f64::from(rate))
}

/// Splits the decoded frames into runs of contiguous audio: a new run starts where the format
/// changes or the timestamps jump (a gap or an overlap) beyond rounding. Each decision looks at
/// neighbouring frames only, so it is the same in every call that decodes those frames.
pub(super) fn split_chunks(frames: &[Decoded], time_base: ff::Rational) -> Vec<Range<usize>> {
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
pub(super) fn chunk_anchors(frames: &[Decoded], window: &Window, fallback_seconds: Option<f64>) -> Option<(i64, i64)> {
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

/// `v` as i64, saturating to a quarter of the i64 range (so later sums cannot overflow).
pub(super) fn clamp_i64(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN / 4 } else { i64::MAX / 4 })
}

#[cfg(test)]
mod tests {
    use super::super::decode::checked_frame;
    use super::*;

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
}
