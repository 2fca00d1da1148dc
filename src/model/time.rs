//! The one timestamp mapper: source timestamps (a stream's time base) to the output track's
//! timescale and to microseconds ([`TimeMap`]), and the one rescaler ([`rescale`], rounded to
//! nearest; [`rescale_floor`] and [`rescale_ceil`] where a direction is required).
//!
//! Output time = source time + one presentation-wide shift `C` (the same for every track, so
//! A/V and subtitle sync stay the source's). `C` is the smallest shift that makes every decode
//! time non-negative (B-frame delay, AAC priming); it is 0 for most files. Every init segment
//! carries an edit list of the shift its track writes, so readers that apply edit lists (FFmpeg,
//! Safari, Chromium's MSE) see exactly the source's timestamps.
//!
//! A video track writes only the part of `C` its own decode times need ([`TimeMap::held`] is the
//! rest): hls.js offsets every track by the video's first `tfdt` and never reads `elst`, so an
//! edit list larger than the first frame's composition offset would put the first keyframe before
//! 0, where the browser's MSE drops it with its whole GOP. Segment boundaries, EXTINF and cue
//! times stay on the one `C` timeline; only the written `tfdt` and edit list differ.
//!
//! A clip (`model::open::Clip`) starting at source time `S` moves the timeline's origin there:
//! output time = source time - `S` + `C` ([`TimeMap::cut`] is `S` in output ticks), so the
//! edit list of `C` presents `S` at time 0 and hides whatever the clip keeps before `S` (the
//! keyframe it starts decoding at, the audio frame `S` falls in). A keyframe-aligned clip writes
//! that edit list in a form Chromium's MSE ignores and its video's hidden lead squeezed into the
//! ticks before `S` (`engine::lead`), for hls.js.

use serde::{Deserialize, Serialize};
/// Microseconds per second: the unit of every presentation-wide time (boundaries, cues).
pub(crate) const US_PER_SECOND: i64 = 1_000_000;

/// Nanoseconds per second (Matroska's timestamp scale is in nanoseconds).
pub(crate) const NS_PER_SECOND: i64 = 1_000_000_000;

/// The MPEG-TS clock (90 kHz) that `X-TIMESTAMP-MAP` counts in.
pub(crate) const MPEG_TS_CLOCK: i64 = 90_000;

/// Maps one stream's timestamps to its fMP4 track timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeMap {
    /// Source time base numerator.
    pub num: i64,
    /// Source time base denominator.
    pub den: i64,
    /// Output track timescale (ticks per second).
    pub timescale: u32,
    /// The presentation-wide shift `C` in output ticks, added to every decode and presentation time.
    pub shift: i64,
    /// Ticks of `shift` that this track leaves out of what it writes (`tfdt` and edit list): the
    /// part of `C` that another track needs and this one does not (0 but for video; see the
    /// module documentation). Never more than `shift`.
    pub held: i64,
    /// A clip's start `S` in output ticks, subtracted from every output time (0 for whole files).
    pub cut: i64,
}

/// `a * b / c` rounded to nearest, in 128-bit so nothing overflows.
pub fn rescale(a: i64, b: i64, c: i64) -> i64 {
    crate::util::time::rescale_i128(a.into(), b.into(), c.into()) as i64
}

/// `a * b / c` rounded to nearest like [`rescale`], or `None` when the result does not fit in
/// `i64` (where [`rescale`] would wrap).
pub fn rescale_checked(a: i64, b: i64, c: i64) -> Option<i64> {
    i64::try_from(crate::util::time::rescale_i128(a.into(), b.into(), c.into())).ok()
}

/// `a * b / c` rounded down (towards negative infinity), in 128-bit; `c` must be positive.
pub fn rescale_floor(a: i64, b: i64, c: i64) -> i64 {
    if c <= 0 {
        return 0;
    }
    (a as i128 * b as i128).div_euclid(c as i128) as i64
}

/// `a * b / c` rounded up (towards positive infinity), in 128-bit; `c` must be positive.
pub fn rescale_ceil(a: i64, b: i64, c: i64) -> i64 {
    if c <= 0 {
        return 0;
    }
    let c = c as i128;
    (a as i128 * b as i128 + c - 1).div_euclid(c) as i64
}

/// Microseconds as (fractional) seconds.
pub fn us_to_seconds(us: i64) -> f64 {
    us as f64 / US_PER_SECOND as f64
}

impl TimeMap {
    /// Chooses the output timescale for a stream: its own time base when that is `1/N` with
    /// `N >= min_den`, else `fallback` (90 kHz for video, the sample rate for audio).
    pub fn new(num: i32, den: i32, min_den: u32, fallback: u32) -> TimeMap {
        let (num, den) = (num.max(1) as i64, den.max(1) as i64);
        let timescale =
            if num == 1 && den >= min_den as i64 && den <= u32::MAX as i64 { den as u32 } else { fallback.max(1) };
        TimeMap { num, den, timescale, shift: 0, held: 0, cut: 0 }
    }

    /// Source units to output ticks (no shift).
    pub fn ticks(&self, src: i64) -> i64 {
        if self.num == 1 && self.den == self.timescale as i64 {
            return src;
        }
        rescale(src, self.num * self.timescale as i64, self.den)
    }

    /// Output time (tfdt units) of a source timestamp.
    pub fn out(&self, src: i64) -> i64 {
        self.ticks(src) - self.cut + self.shift
    }

    /// Source units to output ticks relative to the clip's start (no shift): [`TimeMap::ticks`]
    /// minus [`TimeMap::cut`].
    pub fn clip_ticks(&self, src: i64) -> i64 {
        self.ticks(src) - self.cut
    }

    /// The shift this track writes: its edit list's media time (`shift - held`).
    pub fn written_shift(&self) -> i64 {
        self.shift - self.held
    }

    /// The `tfdt` written for an output decode time (`out - held`).
    pub fn written(&self, out: u64) -> u64 {
        out.saturating_sub(self.held.max(0) as u64)
    }

    /// Output time of a source timestamp, in microseconds.
    pub fn out_us(&self, src: i64) -> i64 {
        self.ticks_to_us(self.out(src))
    }

    /// Source units to microseconds (the source's own timeline).
    pub fn us(&self, src: i64) -> i64 {
        rescale(src, self.num * US_PER_SECOND, self.den)
    }

    /// Sets the shift from `C` expressed as `ticks / timescale` seconds (rounded to this track's ticks).
    pub fn set_shift(&mut self, ticks: i64, timescale: u32) {
        self.shift = rescale(ticks, self.timescale as i64, timescale.max(1) as i64);
    }

    /// Output ticks to microseconds.
    pub fn ticks_to_us(&self, ticks: i64) -> i64 {
        rescale(ticks, US_PER_SECOND, self.timescale as i64)
    }

    /// Microseconds to output ticks (the inverse of `ticks_to_us`).
    pub fn us_to_ticks(&self, us: i64) -> i64 {
        rescale(us, self.timescale as i64, US_PER_SECOND)
    }

    /// Microseconds to source units (rounded to nearest).
    pub fn from_us(&self, us: i64) -> i64 {
        rescale(us, self.den, self.num * US_PER_SECOND)
    }

    /// Output ticks to seconds.
    pub fn seconds(&self, ticks: u64) -> f64 {
        ticks as f64 / self.timescale as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_when_time_base_is_fine() {
        let mut m = TimeMap::new(1, 24000, 1000, 90000);
        m.set_shift(2002, 24000);
        assert_eq!(m.timescale, 24000);
        assert_eq!(m.ticks(1001), 1001);
        assert_eq!(m.out(-2002), 0);
        let mut a = TimeMap::new(1, 48000, 48000, 48000);
        a.set_shift(2002, 24000);
        assert_eq!(a.shift, 4004);
        assert_eq!(m.us(24000), 1_000_000);
    }

    #[test]
    fn held_shift_leaves_the_written_times_not_the_timeline() {
        // C = 7 ms from another track; this video needs none of it.
        let mut v = TimeMap::new(1, 1000, 10000, 90000);
        assert_eq!(v.timescale, 90000);
        v.set_shift(7, 1000);
        v.held = v.shift;
        assert_eq!(v.out(7), 1260); // the shared timeline (boundaries, EXTINF) keeps C
        assert_eq!(v.written(v.out(7) as u64), 630); // tfdt: the source's 7 ms
        assert_eq!(v.written_shift(), 0); // no edit list
        v.held = 0;
        assert_eq!((v.written(1260), v.written_shift()), (1260, 630));
    }

    #[test]
    fn a_clip_moves_the_origin_to_its_start() {
        // A clip from 10 s of a 1/1000 stream at 90 kHz, starting decoding 1.5 s earlier.
        let mut v = TimeMap::new(1, 1000, 10000, 90000);
        v.cut = v.us_to_ticks(10_000_000);
        v.set_shift(1500, 1000);
        assert_eq!(v.out(8500), 0); // the keyframe decodes at 0
        assert_eq!(v.out(10_000), v.shift); // `from` is presented at 0 through the edit list
        assert_eq!(v.clip_ticks(8500), -135_000);
    }

    #[test]
    fn coarse_time_base_uses_fallback_and_rounds() {
        let m = TimeMap::new(1, 1000, 48000, 48000);
        assert_eq!(m.timescale, 48000);
        assert_eq!(m.ticks(21), 1008);
        let a = TimeMap::new(1001, 24000, 1000, 90000);
        assert_eq!(a.timescale, 90000);
        assert_eq!(a.ticks(1), 3754); // 1001/24000 s = 3753.75 ticks
        assert_eq!(rescale(-3, 1, 2), -2);
        assert_eq!(rescale(3, 1, 2), 2);
    }

    #[test]
    fn directed_rounding() {
        assert_eq!(rescale_floor(7, 1, 2), 3);
        assert_eq!(rescale_floor(-7, 1, 2), -4);
        assert_eq!(rescale_ceil(7, 1, 2), 4);
        assert_eq!(rescale_ceil(-7, 1, 2), -3);
        assert_eq!(rescale_ceil(8, 1, 2), 4);
        // 2002/24000 s in 44.1 kHz ticks is 3678.675: up to 3679.
        assert_eq!(rescale_ceil(2002, 44_100, 24_000), 3679);
        assert_eq!(us_to_seconds(1_500_000), 1.5);
    }
}
