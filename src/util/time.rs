//! Integer time arithmetic with no media knowledge: the one rounded rescale, shared by the
//! model's timestamp mapper (`model::time::rescale`) and the MP4 edit-list reader.

#![deny(unsafe_code)]

/// `a * b / c` rounded to nearest (halves away from zero), exact in 128 bits; 0 when `c` is 0.
/// Any 64-bit `a` and `b` fit: their product stays below 2^127.
pub(crate) fn rescale_i128(a: i128, b: i128, c: i128) -> i128 {
    if c == 0 {
        return 0;
    }
    // The same steps in 64 bits when each fits: a 128-bit division is a library call
    // (`__divti3`), and planning the boundaries of a 2-hour Matroska file from its Cues makes
    // ~100,000 of them (a third of its open's instructions went to `Grid::frames` and `fit`).
    if let (Ok(a), Ok(b), Ok(c)) = (i64::try_from(a), i64::try_from(b), i64::try_from(c)) {
        let half = c / 2;
        let q = a
            .checked_mul(b)
            .and_then(|n| if n >= 0 { n.checked_add(half) } else { n.checked_sub(half) })
            .and_then(|n| n.checked_div(c));
        if let Some(q) = q {
            return i128::from(q);
        }
    }
    let n = a * b;
    let half = c / 2;
    if n >= 0 {
        (n + half) / c
    } else {
        (n - half) / c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_halves_away_from_zero() {
        assert_eq!(rescale_i128(3, 1, 2), 2);
        assert_eq!(rescale_i128(-3, 1, 2), -2);
        assert_eq!(rescale_i128(1000, 48000, 1000), 48000);
        assert_eq!(rescale_i128(1, 1, 3), 0);
        assert_eq!(rescale_i128(7, 5, 0), 0);
        let big = rescale_i128(u64::MAX.into(), u32::MAX.into(), 1);
        assert_eq!(big, i128::from(u64::MAX) * i128::from(u32::MAX));
    }

    /// The 64-bit steps give what the 128-bit ones give, near and past the ends of the 64-bit
    /// range too (where they give way).
    #[test]
    fn the_64_bit_steps_agree_with_the_128_bit_ones() {
        let wide = |a: i128, b: i128, c: i128| -> i128 {
            if c == 0 {
                return 0;
            }
            let (n, half) = (a * b, c / 2);
            if n >= 0 {
                (n + half) / c
            } else {
                (n - half) / c
            }
        };
        let edges: Vec<i128> = [0i128, 1, 2, 3, 999, 1000, 1001, 48_000, 90_000, 1 << 31, 1 << 32, 3_037_000_499]
            .iter()
            .flat_map(|&v| [v, -v, i128::from(i64::MAX) - v, i128::from(i64::MIN) + v, i128::from(i64::MAX) + 1 + v])
            .collect();
        let mut checked = 0;
        for &a in &edges {
            for &b in &edges {
                for &c in &edges {
                    if (a * b).unsigned_abs() < 1 << 126 {
                        assert_eq!(rescale_i128(a, b, c), wide(a, b, c), "{a} * {b} / {c}");
                        checked += 1;
                    }
                }
            }
        }
        // Operands of every size up to 64 bits.
        let mut next = crate::util::test_random(0x2545_F491_4F6C_DD1D);
        for _ in 0..300_000 {
            let mut v = || (next() as i64 >> (next() % 64)) as i128;
            let (a, b, c) = (v(), v(), v());
            assert_eq!(rescale_i128(a, b, c), wide(a, b, c), "{a} * {b} / {c}");
            checked += 1;
        }
        assert!(checked > 300_000);
    }
}
