//! THE bit reader and bit writer of libhls: MSB-first bit access to codec headers (parameter
//! sets, sequence headers, AudioSpecificConfig, AC-3 bit stream information, FLAC STREAMINFO).
//!
//! Every bit-level parser of the crate (this folder and the MP4 reader's AudioSpecificConfig, which
//! goes through [`super::aac`]) reads with [`BitReader`]; reading past the end is a
//! [`ParseError`], never a panic.

use crate::error::{ParseError, ParseResult};

/// Most bits one [`BitReader::bits`] / [`BitReader::peek`] call returns (and [`BitWriter::put`]
/// writes).
const MAX_BITS: u32 = 32;

/// The error of a read past the end of the data.
fn truncated() -> ParseError {
    ParseError::new("bitstream truncated")
}

/// MSB-first bit reader over a byte slice; reading past the end is an error.
#[derive(Clone, Debug)]
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    /// A reader positioned at the first bit of `data`.
    pub(crate) fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0 }
    }

    /// Number of bits not read yet.
    pub(crate) fn bits_left(&self) -> usize {
        (self.data.len() * 8).saturating_sub(self.pos)
    }

    /// Reads one bit.
    pub(crate) fn bit(&mut self) -> ParseResult<bool> {
        let byte = self.data.get(self.pos / 8).ok_or_else(truncated)?;
        let b = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Ok(b == 1)
    }

    /// Reads `n` (at most 32; more reads 32) bits as an unsigned big-endian number.
    pub(crate) fn bits(&mut self, n: u32) -> ParseResult<u32> {
        let mut v: u64 = 0;
        for _ in 0..n.min(MAX_BITS) {
            v = v << 1 | u64::from(self.bit()?);
        }
        Ok(v as u32)
    }

    /// The next `n` (at most 32; more reads 32) bits as [`bits`](Self::bits) would return them,
    /// without consuming them; an error (and nothing consumed) when fewer are left.
    pub(crate) fn peek(&self, n: u32) -> ParseResult<u32> {
        self.clone().bits(n)
    }

    /// Skips `n` bits.
    pub(crate) fn skip(&mut self, n: usize) -> ParseResult<()> {
        let end = self.pos.checked_add(n).ok_or_else(|| ParseError::new("bitstream overflow"))?;
        if end > self.data.len() * 8 {
            return Err(truncated());
        }
        self.pos = end;
        Ok(())
    }

    /// Reads an unsigned Exp-Golomb code (`ue(v)`, H.264/HEVC).
    pub(crate) fn ue(&mut self) -> ParseResult<u32> {
        let mut zeros = 0;
        while !self.bit()? {
            zeros += 1;
            if zeros > 31 {
                return Err(ParseError::new("invalid Exp-Golomb code"));
            }
        }
        let rest = self.bits(zeros)?;
        Ok(((1u64 << zeros) - 1 + u64::from(rest)).min(u64::from(u32::MAX)) as u32)
    }

    /// Reads a signed Exp-Golomb code (`se(v)`, H.264/HEVC): 1, -1, 2, -2, ... for 1, 2, 3, 4, ...
    pub(crate) fn se(&mut self) -> ParseResult<i32> {
        let k = i64::from(self.ue()?);
        let v = if k % 2 == 1 { (k + 1) / 2 } else { -k / 2 };
        Ok(v as i32)
    }

    /// Reads an AV1 `uvlc()` value (saturating at `u32::MAX` for 32 or more leading zeros).
    pub(crate) fn uvlc(&mut self) -> ParseResult<u32> {
        let mut zeros = 0;
        while !self.bit()? {
            zeros += 1;
            if zeros >= 32 {
                return Ok(u32::MAX);
            }
        }
        Ok(self.bits(zeros)?.saturating_add((1u32 << zeros) - 1))
    }
}

/// MSB-first bit writer; `finish` pads the last byte with zero bits.
#[derive(Debug, Default)]
pub(crate) struct BitWriter {
    out: Vec<u8>,
    acc: u8,
    used: u32,
}

impl BitWriter {
    /// An empty writer.
    pub(crate) fn new() -> Self {
        BitWriter::default()
    }

    /// Appends the low `n` (at most 32) bits of `value`, most significant first.
    pub(crate) fn put(&mut self, n: u32, value: u32) {
        for i in (0..n.min(MAX_BITS)).rev() {
            self.acc = self.acc << 1 | ((value >> i) & 1) as u8;
            self.used += 1;
            if self.used == 8 {
                self.out.push(self.acc);
                self.acc = 0;
                self.used = 0;
            }
        }
    }

    /// The written bytes, zero-padded to a whole byte.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        if self.used > 0 {
            self.out.push(self.acc << (8 - self.used));
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_msb_first_across_bytes() {
        let mut r = BitReader::new(&[0b1010_0101, 0xF0]);
        assert_eq!(r.bits_left(), 16);
        assert!(r.bit().unwrap());
        assert_eq!(r.bits(3).unwrap(), 0b010);
        assert_eq!(r.bits(8).unwrap(), 0b0101_1111);
        assert_eq!(r.bits_left(), 4);
        assert_eq!(r.bits(0).unwrap(), 0);
        assert_eq!(r.bits(4).unwrap(), 0);
        assert_eq!(r.bits_left(), 0);
        assert_eq!(r.bit(), Err(ParseError::new("bitstream truncated")));
    }

    #[test]
    fn at_most_32_bits_per_read() {
        let data = [0xDE, 0xAD, 0xBE, 0xEF, 0x12];
        let mut r = BitReader::new(&data);
        assert_eq!(r.bits(40).unwrap(), 0xDEAD_BEEF);
        assert_eq!(r.bits_left(), 8);
        let mut r = BitReader::new(&data);
        assert_eq!(r.peek(33).unwrap(), 0xDEAD_BEEF);
        assert_eq!(r.bits(4).unwrap(), 0xD);
        assert_eq!(r.bits(32).unwrap(), 0xEAD_BEEF1);
    }

    #[test]
    fn peek_does_not_consume_and_fails_when_short() {
        let mut r = BitReader::new(&[0x5A]);
        assert_eq!(r.peek(3).unwrap(), 0b010);
        assert_eq!(r.peek(8).unwrap(), 0x5A);
        assert_eq!(r.bits_left(), 8);
        assert!(r.peek(9).is_err());
        assert_eq!(r.bits_left(), 8, "a failed peek consumes nothing");
        r.skip(5).unwrap();
        assert_eq!(r.peek(3).unwrap(), 0b010);
        assert!(r.peek(4).is_err());
        assert_eq!(BitReader::new(&[]).peek(0).unwrap(), 0);
    }

    #[test]
    fn truncated_reads_are_errors() {
        let mut r = BitReader::new(&[0xFF]);
        assert!(r.bits(9).is_err());
        let mut r = BitReader::new(&[0xFF]);
        assert_eq!(r.skip(9), Err(ParseError::new("bitstream truncated")));
        assert_eq!(r.bits_left(), 8, "a failed skip consumes nothing");
        r.skip(8).unwrap();
        assert!(r.skip(1).is_err());
        r.skip(0).unwrap();
        let mut r = BitReader::new(&[0xFF]);
        r.skip(1).unwrap();
        assert_eq!(r.skip(usize::MAX), Err(ParseError::new("bitstream overflow")));
    }

    #[test]
    fn exp_golomb_codes() {
        // 1 | 010 | 011 | 00100 | 00101 | 0000000 11111111 (= 254)
        let mut w = BitWriter::new();
        for (n, v) in [(1, 1), (3, 2), (3, 3), (5, 4), (5, 5), (7, 0), (8, 0xFF)] {
            w.put(n, v);
        }
        let data = w.finish();
        let mut r = BitReader::new(&data);
        let got: Vec<u32> = (0..6).map(|_| r.ue().unwrap()).collect();
        assert_eq!(got, [0, 1, 2, 3, 4, 254]);
        // 32 leading zeros is no valid code; 31 is the longest (up to 2^32 - 2).
        assert_eq!(BitReader::new(&[0; 5]).ue(), Err(ParseError::new("invalid Exp-Golomb code")));
        let mut max = BitWriter::new();
        max.put(31, 0);
        max.put(32, u32::MAX);
        assert_eq!(BitReader::new(&max.finish()).ue().unwrap(), u32::MAX - 1);
        assert!(BitReader::new(&[0x00, 0x01]).ue().is_err(), "suffix truncated");
    }

    #[test]
    fn signed_exp_golomb_codes() {
        // 1 -> 0, 010 -> 1, 011 -> -1, 00100 -> 2, 00101 -> -2
        let mut r = BitReader::new(&[0b1010_0110, 0b0100_0010, 0b1000_0000]);
        let got: Vec<i32> = (0..5).map(|_| r.se().unwrap()).collect();
        assert_eq!(got, [0, 1, -1, 2, -2]);
    }

    #[test]
    fn uvlc_codes() {
        assert_eq!(BitReader::new(&[0x80]).uvlc().unwrap(), 0);
        assert_eq!(BitReader::new(&[0b0110_0000]).uvlc().unwrap(), 2);
        assert_eq!(BitReader::new(&[0, 0, 0, 0, 0]).uvlc().unwrap(), u32::MAX);
        assert!(BitReader::new(&[0x00]).uvlc().is_err());
    }

    #[test]
    fn writer_round_trip_and_padding() {
        let mut w = BitWriter::new();
        w.put(3, 0b101);
        w.put(16, 0xBEEF);
        w.put(40, 0xFFFF_FFFF); // at most 32 bits
        w.put(0, 1);
        let out = w.finish();
        assert_eq!(out.len(), (3 + 16 + 32usize).div_ceil(8));
        let mut r = BitReader::new(&out);
        assert_eq!(r.bits(3).unwrap(), 0b101);
        assert_eq!(r.bits(16).unwrap(), 0xBEEF);
        assert_eq!(r.bits(32).unwrap(), u32::MAX);
        assert_eq!(r.bits_left(), 5);
        assert_eq!(r.bits(5).unwrap(), 0, "padding is zero bits");
        assert!(BitWriter::new().finish().is_empty());
    }
}
