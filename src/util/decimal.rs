//! Numbers written as decimal text without the `fmt` machinery, byte for byte what `fmt`
//! writes: a 2-hour media playlist writes 1,200 `#EXTINF:<seconds>,` lines and segment names
//! (6-second segments), and `write!` with `{:.6}` on an `f64` was 5.7 % of a fresh open with
//! its first media playlist (2-hour MP4), most of it in the float formatter's exact fallback
//! (Dragon4).

#![deny(unsafe_code)]

/// `v` in decimal, as `{v}` writes it, in `buf`.
pub(crate) fn uint(v: u64, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    let mut v = v;
    loop {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // (ASCII digits only.)
    std::str::from_utf8(&buf[at..]).unwrap_or_default()
}

/// Appends `v` in decimal, as `{v}` writes it.
pub(crate) fn push_uint(out: &mut String, v: u64) {
    out.push_str(uint(v, &mut [0; 20]));
}

/// Most fractional digits [`push_fixed`] writes itself (more go through `fmt`).
const MAX_DIGITS: u32 = 9;

/// Largest value [`push_fixed`] writes itself: its integer part and every digit fit a `u64`.
const MAX_FAST: f64 = 1e9;

/// Appends `x` with `digits` fractional digits, as `format!("{x:.digits$}")` writes it: the
/// exact binary value rounded half to even. Negative values, NaN, infinities, values of
/// [`MAX_FAST`] and more, and more than [`MAX_DIGITS`] digits go through `fmt`.
pub(crate) fn push_fixed(out: &mut String, x: f64, digits: u32) {
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    if bits >> 63 != 0 || x.is_nan() || x >= MAX_FAST || digits > MAX_DIGITS {
        use std::fmt::Write;
        let _ = write!(out, "{x:.*}", digits as usize);
        return;
    }
    // x = m · 2^e exactly, e < 0 (x < 2^52).
    let mantissa = bits & ((1 << 52) - 1);
    let (m, e) = if biased == 0 { (mantissa, -1074) } else { (mantissa | 1 << 52, biased - 1075) };
    let scale = 10u64.pow(digits);
    // x · 10^digits = scaled / 2^k, rounded half to even: `scaled` < 2^83, so every k from 84
    // on leaves less than half a unit (0).
    let scaled = u128::from(m) * u128::from(scale);
    let k = e.unsigned_abs();
    let units = if k >= 84 {
        0
    } else {
        let (q, r, half) = (scaled >> k, scaled & ((1 << k) - 1), 1u128 << (k - 1));
        (q + u128::from(r > half || (r == half && q & 1 == 1))) as u64
    };
    push_uint(out, units / scale);
    if digits > 0 {
        out.push('.');
        let frac = units % scale;
        let mut buf = [b'0'; MAX_DIGITS as usize];
        let d = digits as usize;
        let mut f = frac;
        for b in buf[..d].iter_mut().rev() {
            *b = b'0' + (f % 10) as u8;
            f /= 10;
        }
        out.push_str(std::str::from_utf8(&buf[..d]).unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    use super::{push_fixed, push_uint, MAX_DIGITS};

    fn fixed(x: f64, digits: u32) -> String {
        let mut s = String::new();
        push_fixed(&mut s, x, digits);
        s
    }

    #[test]
    fn integers_are_written_as_fmt_writes_them() {
        for v in [0, 1, 9, 10, 99, 100, 12345, u64::from(u32::MAX), u64::MAX - 1, u64::MAX] {
            let mut s = String::new();
            push_uint(&mut s, v);
            assert_eq!(s, v.to_string());
        }
    }

    /// Every value against `format!`, at every precision up to [`MAX_DIGITS`] (and one past it).
    fn check(x: f64) {
        for d in 0..=MAX_DIGITS + 1 {
            assert_eq!(fixed(x, d), format!("{x:.*}", d as usize), "{x:e} ({:#x}) at {d} digits", x.to_bits());
        }
    }

    #[test]
    fn fixed_point_matches_fmt_on_edge_cases() {
        let mut values = vec![
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            f64::from_bits(1),
            5e-7,
            4.999_999_9e-7,
            5.000_000_1e-7,
            0.5,
            1.5,
            2.5,
            0.125,
            0.0078125,
            2.0,
            2.002,
            6.006,
            1.001_000_5,
            999_999_999.999_999_9,
            1e9 - 1e-6,
            1e9,
            1e12,
            -1.5,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
        ];
        // Exact halves at 6 digits and fewer: odd multiples of 2^-7 (and 2^-k for small k).
        for k in 1..=12 {
            for j in (1..2000).step_by(2) {
                values.push(f64::from(j) / f64::from(1u32 << k));
            }
        }
        // Values just under and over a rounding step, and decimal-looking ticks/timescale.
        for v in [0.000_000_5, 1.000_000_5, 2.002_002_5, 123.456_789_5] {
            values.push(f64::from_bits(f64::to_bits(v) - 1));
            values.push(f64::from_bits(f64::to_bits(v) + 1));
        }
        for ts in [1_000u64, 1_001, 12_800, 15_360, 30_000, 44_100, 48_000, 90_000, 1_000_000] {
            for ticks in (0..5_000_000u64).step_by(997) {
                values.push(ticks as f64 / ts as f64);
            }
        }
        for x in values {
            check(x);
        }
    }

    #[test]
    fn fixed_point_matches_fmt_on_random_values() {
        // Any bit pattern below the fast limit, and doubles spread over the decades.
        let mut next = crate::util::test_random(0x9E37_79B9_7F4A_7C15);
        for _ in 0..200_000 {
            let bits = next();
            check(f64::from_bits(bits & !(1 << 63)) % 2e9);
            check((bits >> 11) as f64 / (1u64 << (next() % 64)) as f64);
        }
    }
}
