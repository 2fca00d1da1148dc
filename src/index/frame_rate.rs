//! The frame rate a variant declares (`FRAME-RATE`): for a variable-frame-rate video, its
//! *maximum* frame rate (RFC 8216bis §4.4.6.2), measured on the samples' own presentation times.
//!
//! The rule, on the sorted presentation times of the samples collected at indexing:
//! - every window that starts at a frame and spans at least one second gives a rate: the frame
//!   intervals it holds over its span, not counting intervals shorter than a third of the
//!   window's mean (a window, and no glitch, so that one short interval, such as two frames a
//!   tick apart, is not taken for a frame rate);
//! - when the fastest window is no faster than the rate the container reports (else the
//!   average of the samples), within the timestamps' rounding and 1 %, that rate stays (`None`):
//!   a constant frame rate, or a container that already reports the maximum;
//! - otherwise the rate is the mean of the windows within twice the rounding of the fastest one,
//!   taken as the nearest standard rate (24000/1001, 24, 25, 30000/1001, 30, 50, 60000/1001, 60,
//!   ...) when that lies within the rounding of millisecond (Matroska) timestamps.
//!
//! Matroska files planned from their Cues collect only some stretches (the first GOPs, the last
//! seconds, the frames after each boundary): the maximum is taken over the windows inside those.

#![deny(unsafe_code)]

use super::collect::Times as Recs;
use crate::container::mp4::LazySamples;
use crate::model::segment::SampleRec;

/// The span of a measuring window, in seconds.
const WINDOW_SECONDS: f64 = 1.0;

/// Rates within this fraction above the average still count as constant (on top of the
/// timestamps' rounding).
const CONSTANT_TOLERANCE: f64 = 0.01;

/// Standard frame rates a measured rate is snapped to, when within the timestamps' rounding.
const STANDARD_RATES: [f64; 14] = [
    24000.0 / 1001.0,
    24.0,
    25.0,
    30000.0 / 1001.0,
    30.0,
    48.0,
    50.0,
    60000.0 / 1001.0,
    60.0,
    90.0,
    100.0,
    120000.0 / 1001.0,
    120.0,
    240.0,
];

/// Sorted presentation times by index: a list, or the decode times plus one offset
/// ([`Shifted`]).
trait Times {
    fn count(&self) -> usize;
    fn at(&self, i: usize) -> i64;
}

impl Times for [i64] {
    #[inline]
    fn count(&self) -> usize {
        self.len()
    }
    #[inline]
    fn at(&self, i: usize) -> i64 {
        self[i]
    }
}

/// The samples' decode times plus an offset: their sorted presentation times when the decode
/// times increase and the presentation times are those decode times plus the offset, taken in
/// another order (a constant reorder delay).
struct Shifted<'a, R: Recs + ?Sized>(&'a R, i64);

impl<R: Recs + ?Sized> Times for Shifted<'_, R> {
    #[inline]
    fn count(&self) -> usize {
        self.0.len()
    }
    #[inline]
    fn at(&self, i: usize) -> i64 {
        self.0.dts(i) + self.1
    }
}

/// The rate of every window of at least `window` ticks that starts at a frame: its frame
/// intervals over its span in seconds; with `robust`, not counting intervals shorter than a third
/// of the window's mean interval.
fn window_rates<T: Times + ?Sized>(t: &T, window: i64, tick: f64, robust: bool) -> Vec<f64> {
    let mut rates = Vec::new();
    each_window_rate(t, window, tick, robust, |r| rates.push(r));
    rates
}

/// Calls `f` with the rate of every window of [`window_rates`], in order (no list).
fn each_window_rate<T: Times + ?Sized>(t: &T, window: i64, tick: f64, robust: bool, mut f: impl FnMut(f64)) {
    let n = t.count();
    let mut j = 0usize;
    for i in 0..n {
        j = j.max(i + 1);
        while j < n && t.at(j) - t.at(i) < window {
            j += 1;
        }
        if j >= n {
            break;
        }
        let span = t.at(j) - t.at(i);
        let mut intervals = j - i;
        if robust {
            let short = span as f64 / intervals as f64 / 3.0;
            intervals -= (i..j).filter(|&k| ((t.at(k + 1) - t.at(k)) as f64) < short).count();
        }
        f(intervals as f64 / (span as f64 * tick));
    }
}

/// Steps per sample [`presentation_order`] may spend moving times back before it sorts instead.
const INSERTION_STEPS_PER_SAMPLE: usize = 8;

/// The samples' presentation times, ascending. Decode order is presentation order but for local
/// reordering (B-frames: a few frames), which an insertion sort undoes in a few steps a sample, in
/// one pass; when the reordering is not local (the steps run out), the times are sorted.
fn presentation_order(samples: &[SampleRec]) -> Vec<i64> {
    let mut t: Vec<i64> = Vec::with_capacity(samples.len());
    let mut steps = INSERTION_STEPS_PER_SAMPLE * samples.len();
    for (n, s) in samples.iter().enumerate() {
        let p = s.pts();
        t.push(p);
        let mut i = n;
        while i > 0 && t[i - 1] > p {
            if steps == 0 {
                // `t` holds the times pushed so far (`p` in place): sort them all.
                t[i] = p;
                t.extend(samples[n + 1..].iter().map(|s| s.pts()));
                t.sort_unstable();
                return t;
            }
            steps -= 1;
            t[i] = t[i - 1];
            i -= 1;
        }
        t[i] = p;
    }
    t
}

/// The maximum frame rate of a variable-frame-rate video (frames per second), `None` when no
/// window is measurably faster than `declared` (the container's rate, else the average of the
/// samples) or there are too few samples. `tb`: the samples' time base (seconds per tick).
/// `sorted_offset`: the samples' presentation times are known to be their (increasing) decode
/// times plus this, in another order (a constant reorder delay; see
/// `collect::constant_reorder_delay`): they are not sorted again.
pub(crate) fn max_frame_rate(
    samples: &[SampleRec],
    tb: (i32, i32),
    declared: Option<f64>,
    sorted_offset: Option<i64>,
) -> Option<f64> {
    if tb.0 <= 0 || tb.1 <= 0 {
        return None;
    }
    match sorted_offset {
        Some(d) => rate_of(&Shifted(samples, d), tb, declared),
        None => {
            let mut t = presentation_order(samples);
            t.dedup();
            rate_of(t.as_slice(), tb, declared)
        }
    }
}

/// [`max_frame_rate`] of samples read from MP4 sample tables on demand, whose presentation
/// times are their decode times plus `sorted_offset` in another order (the only case they stay
/// unbuilt: see `collect::constant_reorder_delay`).
pub(crate) fn max_frame_rate_lazy(
    samples: &LazySamples,
    tb: (i32, i32),
    declared: Option<f64>,
    sorted_offset: i64,
) -> Option<f64> {
    if tb.0 <= 0 || tb.1 <= 0 {
        return None;
    }
    if samples.dts_step().is_some_and(|step| step > 0 && constant_progression(samples.len(), step, tb, declared)) {
        return None;
    }
    rate_of(&Shifted(samples, sorted_offset), tb, declared)
}

/// Whether [`rate_of`] finds `n` times `step` ticks apart constant in its first pass (`None`)
/// — decided without the pass: every window then spans the same number of frames, so each has
/// the rate of the first one, computed as the pass computes it.
fn constant_progression(n: usize, step: i64, tb: (i32, i32), declared: Option<f64>) -> bool {
    let tick = f64::from(tb.0) / f64::from(tb.1);
    if n < 3 {
        return true;
    }
    let window = (WINDOW_SECONDS / tick).ceil() as i64;
    let rounding = 2.0 * tick / WINDOW_SECONDS;
    let Some(span_all) = (n as i64 - 1).checked_mul(step) else { return false };
    let average = (n - 1) as f64 / (span_all as f64 * tick);
    let reference = declared.filter(|d| d.is_finite() && *d > 0.0).unwrap_or(average);
    // The first window: from frame 0 to the first frame at least `window` ticks later.
    let frames = (window.max(1) + step - 1) / step;
    let frames = frames.max(1) as usize;
    if frames >= n {
        // No window: the pass finds none.
        return true;
    }
    let fastest = 0.0f64.max(frames as f64 / ((frames as i64 * step) as f64 * tick));
    fastest <= reference * (1.0 + rounding + CONSTANT_TOLERANCE)
}

/// [`max_frame_rate`] of the sorted, distinct presentation times `t`.
fn rate_of<T: Times + ?Sized>(t: &T, tb: (i32, i32), declared: Option<f64>) -> Option<f64> {
    let tick = f64::from(tb.0) / f64::from(tb.1);
    let n = t.count();
    if n < 3 {
        return None;
    }
    let window = (WINDOW_SECONDS / tick).ceil() as i64;
    // Each end of a window may be rounded by a tick.
    let rounding = 2.0 * tick / WINDOW_SECONDS;
    let average = (n - 1) as f64 / ((t.at(n - 1) - t.at(0)) as f64 * tick);
    let reference = declared.filter(|d| d.is_finite() && *d > 0.0).unwrap_or(average);
    let constant = |fastest: f64| fastest <= reference * (1.0 + rounding + CONSTANT_TOLERANCE);
    // Cheap first pass (every interval counts): most videos stop here, as constant.
    let (mut windows, mut fastest) = (0usize, 0.0f64);
    each_window_rate(t, window, tick, false, |r| {
        windows += 1;
        fastest = fastest.max(r);
    });
    if windows == 0 || constant(fastest) {
        return None;
    }
    // Intervals shorter than a third of their window's mean are glitches, not a frame rate.
    let rates = window_rates(t, window, tick, true);
    let fastest = rates.iter().copied().fold(0.0, f64::max);
    if constant(fastest) {
        return None;
    }
    let near: Vec<f64> = rates.iter().copied().filter(|r| *r >= fastest * (1.0 - 2.0 * rounding)).collect();
    let rate = near.iter().sum::<f64>() / near.len() as f64;
    let snapped = STANDARD_RATES
        .iter()
        .copied()
        .filter(|c| (c - rate).abs() <= rate * rounding.max(1e-6))
        .min_by(|a, b| (a - rate).abs().total_cmp(&(b - rate).abs()));
    Some(snapped.unwrap_or(rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(times: &[i64]) -> Vec<SampleRec> {
        times.iter().map(|&p| SampleRec::new(0, p, p, 1, false)).collect()
    }

    #[test]
    fn evenly_spaced_frames_are_found_constant_as_the_windows_find_them() {
        let mut constant = 0;
        for (step, tb) in [(512i64, (1, 12800)), (1001, (1, 30000)), (1, (1, 25)), (3003, (1, 90000)), (40, (1, 1000))]
        {
            for n in [2usize, 3, 10, 24, 25, 26, 100, 1000] {
                for declared in [None, Some(25.0), Some(29.97), Some(10.0), Some(1000.0), Some(f64::NAN)] {
                    let times: Vec<i64> = (0..n as i64).map(|i| 7 + i * step).collect();
                    let walked = rate_of(times.as_slice(), tb, declared);
                    if constant_progression(n, step, tb, declared) {
                        assert_eq!(walked, None, "step {step} n {n} {declared:?}");
                        constant += 1;
                    }
                }
            }
        }
        assert!(constant > 100, "{constant}");
    }

    #[test]
    fn presentation_times_come_out_in_order_however_far_they_are_reordered() {
        let sorted = |t: &[i64]| {
            let mut v = t.to_vec();
            v.sort_unstable();
            v
        };
        // B-frames (I P B B, pyramids), duplicates, and orders no insertion budget covers (times
        // reversed, a block moved from the end to the front): always the sorted times.
        let bframes: Vec<i64> = (0..1000).map(|i| [0, 3, 1, 2][i % 4] + (i / 4 * 4) as i64).collect();
        let pyramid: Vec<i64> = (0..1024).map(|i| [0, 8, 4, 2, 1, 3, 6, 5, 7][i % 9] + (i / 9 * 9) as i64).collect();
        let reversed: Vec<i64> = (0..5000).rev().collect();
        let mut moved: Vec<i64> = (1000..3000).collect();
        moved.extend(0..1000);
        for t in [bframes, pyramid, reversed, moved, vec![5, 5, 3, 3, 9], vec![], vec![7]] {
            assert_eq!(presentation_order(&at(&t)), sorted(&t));
        }
    }

    #[test]
    fn variable_rate_video_declares_its_fastest_rate() {
        // 90 kHz: 5 s at 30 fps, then 5 s at 60 fps.
        let mut t: Vec<i64> = (0..150).map(|i| i * 3000).collect();
        t.extend((0..300).map(|i| 450_000 + i * 1500));
        let r = max_frame_rate(&at(&t), (1, 90000), Some(45.0), None).unwrap();
        assert_eq!(format!("{r:.3}"), "60.000");
        // Milliseconds (Matroska): 16/17 ms steps still give 60, 40 ms steps 25.
        let mut t: Vec<i64> = (0..125).map(|i| i * 40).collect();
        t.extend((0..300).map(|i| 5000 + (i * 1000 + 30) / 60));
        let r = max_frame_rate(&at(&t), (1, 1000), None, None).unwrap();
        assert_eq!(format!("{r:.3}"), "60.000");
        // 29.97 then 59.94 at 90 kHz.
        let mut t: Vec<i64> = (0..150).map(|i| i * 3003).collect();
        t.extend((0..300).map(|i| 450_450 + i * 1501 + i / 2));
        let r = max_frame_rate(&at(&t), (1, 90000), Some(45.0), None).unwrap();
        assert_eq!(format!("{r:.3}"), "59.940");
    }

    #[test]
    fn constant_rate_and_single_short_intervals_are_not_variable() {
        // 25 fps with B-frame order (presentation times out of decode order).
        let t: Vec<i64> = (0..500).map(|i| (i ^ 1) * 512).collect();
        assert_eq!(max_frame_rate(&at(&t), (1, 12800), Some(25.0), None), None);
        // 23.976 in milliseconds: 41/42 ms steps.
        let t: Vec<i64> = (0..480).map(|i| i * 1001 / 24).collect();
        assert_eq!(max_frame_rate(&at(&t), (1, 1000), None, None), None);
        // One frame a tick after another (a glitch) is not a frame rate.
        let mut t: Vec<i64> = (0..250).map(|i| i * 40).collect();
        t.push(4001);
        assert_eq!(max_frame_rate(&at(&t), (1, 1000), None, None), None);
        // Too short to measure.
        assert_eq!(max_frame_rate(&at(&[0, 40]), (1, 1000), None, None), None);
        assert_eq!(max_frame_rate(&at(&[0, 40, 80, 120]), (1, 1000), None, None), None);
        // Only some stretches known (Matroska planned from Cues), all at 60 fps, while the
        // container reports 45: the measured 60 is the maximum.
        let t: Vec<i64> = (0..120).map(|i| (i * 1000 + 30) / 60).collect();
        assert_eq!(
            max_frame_rate(&at(&t), (1, 1000), Some(45.075), None).map(|r| format!("{r:.3}")).as_deref(),
            Some("60.000")
        );
        assert_eq!(max_frame_rate(&at(&t), (1, 1000), Some(60.0), None), None);
    }

    #[test]
    fn b_frames_with_a_constant_delay_declare_the_rate_their_sorted_times_give() {
        use crate::index::collect::{constant_reorder_delay, Collected};
        // I P B pictures, 30 then 60 fps (the reorder delay varies: re-timed), and 25 fps with a
        // constant delay: the rate read from the decode times plus the delay is the rate of the
        // sorted presentation times.
        let vfr = [(-3000, 0), (0, 6000), (3000, 3000), (7500, 9000), (9000, 12000), (10500, 10500)];
        let mut long_vfr = Vec::new();
        for k in 0..200i64 {
            let (step, base) = if k < 100 { (9000, k * 9000) } else { (4500, 900_000 + (k - 100) * 4500) };
            for &(d, p) in &[(-step / 3, 0), (0, 2 * step / 3), (step / 3, step / 3)] {
                long_vfr.push((base + d, base + p));
            }
        }
        let cfr: Vec<(i64, i64)> = (0..600i64).map(|i| (i * 512 - 512, (i ^ 1) * 512)).collect();
        for (samples, tb) in [(vfr.to_vec(), (1, 90000)), (long_vfr, (1, 90000)), (cfr, (1, 12800))] {
            let mut c = Collected { end_dts: Some(i64::MAX / 4), ..Collected::default() };
            c.samples = samples.iter().map(|&(d, p)| SampleRec::new(0, d, p, 1, false)).collect();
            constant_reorder_delay(&mut c);
            let offset = c.sorted_offset.expect("a constant delay");
            let pts: Vec<i64> = c.samples.iter().map(|s| s.pts()).collect();
            assert_eq!(presentation_order(&c.samples), c.samples.iter().map(|s| s.dts + offset).collect::<Vec<_>>());
            for declared in [None, Some(25.0), Some(45.0)] {
                assert_eq!(
                    max_frame_rate(&c.samples, tb, declared, Some(offset)),
                    max_frame_rate(&c.samples, tb, declared, None),
                    "{declared:?}"
                );
            }
            assert_eq!(c.samples.iter().map(|s| s.pts()).collect::<Vec<_>>(), pts);
        }
    }
}
