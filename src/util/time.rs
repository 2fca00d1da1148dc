//! Integer time arithmetic with no media knowledge: the one rounded rescale, shared by the
//! model's timestamp mapper (`model::time::rescale`) and the MP4 edit-list reader.

#![deny(unsafe_code)]

/// `a * b / c` rounded to nearest (halves away from zero), exact in 128 bits; 0 when `c` is 0.
/// Any 64-bit `a` and `b` fit: their product stays below 2^127.
pub(crate) fn rescale_i128(a: i128, b: i128, c: i128) -> i128 {
    if c == 0 {
        return 0;
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
}
