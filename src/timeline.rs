//! The one timestamp mapper: source timestamps (a stream's time base) to the output track's
//! timescale and to microseconds. Presentation times are kept as in the source; only decode
//! times of video with B-frames are shifted (by `dts_shift`) so that `tfdt` is never negative,
//! which the signed composition offsets of `trun` v1 compensate exactly.

/// Maps one stream's timestamps to its fMP4 track timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeMap {
    /// Source time base numerator.
    pub num: i64,
    /// Source time base denominator.
    pub den: i64,
    /// Output track timescale (ticks per second).
    pub timescale: u32,
    /// Added to source decode timestamps (source units) so the first decode time is >= 0.
    pub dts_shift: i64,
}

/// `a * b / c` rounded to nearest, in 128-bit so nothing overflows.
pub fn rescale(a: i64, b: i64, c: i64) -> i64 {
    if c == 0 {
        return 0;
    }
    let n = a as i128 * b as i128;
    let c = c as i128;
    let half = c / 2;
    let q = if n >= 0 { (n + half) / c } else { (n - half) / c };
    q as i64
}

impl TimeMap {
    /// Chooses the output timescale for a stream: its own time base when that is `1/N` with
    /// `N >= min_den`, else `fallback` (90 kHz for video, the sample rate for audio).
    pub fn new(num: i32, den: i32, min_den: u32, fallback: u32, dts_shift: i64) -> TimeMap {
        let (num, den) = (num.max(1) as i64, den.max(1) as i64);
        let timescale = if num == 1 && den >= min_den as i64 && den <= u32::MAX as i64 {
            den as u32
        } else {
            fallback.max(1)
        };
        TimeMap { num, den, timescale, dts_shift }
    }

    /// Source units to output ticks (no shift).
    pub fn ticks(&self, src: i64) -> i64 {
        if self.num == 1 && self.den == self.timescale as i64 {
            return src;
        }
        rescale(src, self.num * self.timescale as i64, self.den)
    }

    /// Output decode time (tfdt units) of a source decode timestamp.
    pub fn out_dts(&self, dts: i64) -> i64 {
        self.ticks(dts + self.dts_shift)
    }

    /// Source units to microseconds (presentation timeline).
    pub fn us(&self, src: i64) -> i64 {
        rescale(src, self.num * 1_000_000, self.den)
    }

    /// Output ticks to microseconds.
    pub fn ticks_to_us(&self, ticks: i64) -> i64 {
        rescale(ticks, 1_000_000, self.timescale as i64)
    }

    /// Microseconds to source units (rounded to nearest).
    pub fn from_us(&self, us: i64) -> i64 {
        rescale(us, self.den, self.num * 1_000_000)
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
        let m = TimeMap::new(1, 24000, 1000, 90000, 2002);
        assert_eq!(m.timescale, 24000);
        assert_eq!(m.ticks(1001), 1001);
        assert_eq!(m.out_dts(-2002), 0);
        assert_eq!(m.us(24000), 1_000_000);
    }

    #[test]
    fn coarse_time_base_uses_fallback_and_rounds() {
        let m = TimeMap::new(1, 1000, 48000, 48000, 0);
        assert_eq!(m.timescale, 48000);
        assert_eq!(m.ticks(21), 1008);
        let a = TimeMap::new(1001, 24000, 1000, 90000, 0);
        assert_eq!(a.timescale, 90000);
        assert_eq!(a.ticks(1), 3754); // 1001/24000 s = 3753.75 ticks
        assert_eq!(rescale(-3, 1, 2), -2);
        assert_eq!(rescale(3, 1, 2), 2);
    }
}
