//! The one ISO BMFF box writer ([`BoxWriter`]) and the box header sizes.
//!
//! A box is opened with its type, its body is written by a closure, and its size is patched in
//! when the closure returns: a size is never computed ahead or written anywhere else, so a box's
//! size always matches what was written. FullBox headers (version and 24-bit flags) are written
//! by [`BoxWriter::write_full_box`]. The one exception is [`BoxWriter::write_box_header`]: the
//! header of a box whose body is sent from elsewhere (an `mdat` whose samples stay in the source
//! file), 64-bit when asked.

use crate::error::{Error, Result};

/// Bytes of a box header with a 32-bit size: `size` and `type`.
pub const BOX_HEADER: usize = 8;
/// Bytes of a box header with a 64-bit size: `size` (= 1), `type` and `largesize`.
pub const LARGE_BOX_HEADER: usize = 16;
/// Bytes of a FullBox header: the box header, `version` (8 bits) and `flags` (24 bits).
pub const FULL_BOX_HEADER: usize = BOX_HEADER + 4;

/// The `size` field of a box whose 64-bit `largesize` follows its type.
const LARGE_SIZE_MARKER: u32 = 1;
/// A size field before it is patched.
const SIZE_PLACEHOLDER: u32 = 0;

/// Appends ISO BMFF boxes and their fields (big-endian) to a byte buffer.
pub struct BoxWriter {
    /// Everything written so far.
    buf: Vec<u8>,
}

impl BoxWriter {
    /// An empty writer with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        BoxWriter { buf: Vec::with_capacity(capacity) }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// The bytes written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Writes a box with a 32-bit size: the header with a placeholder size, the body, then the
    /// real size.
    pub fn write_box(&mut self, fourcc: &[u8; 4], body: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        let start = self.buf.len();
        self.u32(SIZE_PLACEHOLDER);
        self.bytes(fourcc);
        body(self)?;
        let size = (self.buf.len() - start) as u64;
        let small = u32::try_from(size).map_err(|_| {
            Error::internal(format!("box {} too large ({size} bytes)", String::from_utf8_lossy(fourcc)))
        })?;
        self.buf[start..start + 4].copy_from_slice(&small.to_be_bytes());
        Ok(())
    }

    /// Writes a FullBox: a box whose body starts with `version` and 24-bit `flags`.
    pub fn write_full_box(
        &mut self,
        fourcc: &[u8; 4],
        version: u8,
        flags: u32,
        body: impl FnOnce(&mut Self) -> Result<()>,
    ) -> Result<()> {
        self.write_box(fourcc, |w| {
            w.u8(version);
            w.u24(flags);
            body(w)
        })
    }

    /// Writes only the header of a box whose `body_len` bytes of body the caller sends from
    /// elsewhere (an `mdat` whose samples stay in the source file). The one size this writer
    /// does not measure: the caller answers for `body_len`.
    pub fn write_box_header(&mut self, fourcc: &[u8; 4], body_len: u64, large: bool) -> Result<()> {
        let header = if large { LARGE_BOX_HEADER } else { BOX_HEADER } as u64;
        let size = body_len
            .checked_add(header)
            .ok_or_else(|| Error::internal(format!("box {} too large", String::from_utf8_lossy(fourcc))))?;
        if large {
            self.u32(LARGE_SIZE_MARKER);
            self.bytes(fourcc);
            self.u64(size);
        } else {
            let small = u32::try_from(size).map_err(|_| {
                Error::internal(format!("box {} too large ({size} bytes)", String::from_utf8_lossy(fourcc)))
            })?;
            self.u32(small);
            self.bytes(fourcc);
        }
        Ok(())
    }

    /// Appends raw bytes.
    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// Appends `n` zero bytes.
    pub fn zeros(&mut self, n: usize) {
        self.buf.resize(self.buf.len() + n, 0);
    }

    /// Appends a byte.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// Appends a big-endian u16.
    pub fn u16(&mut self, v: u16) {
        self.bytes(&v.to_be_bytes());
    }

    /// Appends the low 24 bits of `v`, big-endian.
    pub fn u24(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes()[1..]);
    }

    /// Appends a big-endian u32.
    pub fn u32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }

    /// Appends a big-endian two's-complement i32.
    pub fn i32(&mut self, v: i32) {
        self.bytes(&v.to_be_bytes());
    }

    /// Appends a big-endian u64.
    pub fn u64(&mut self, v: u64) {
        self.bytes(&v.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::output::fmp4::test_util::{find, parse_boxes};

    #[test]
    fn header_of_a_body_sent_elsewhere() {
        let mut w = BoxWriter::with_capacity(64);
        w.write_box_header(b"mdat", 3, false).unwrap();
        w.write_box_header(b"mdat", 3, true).unwrap();
        w.bytes(b"xyz");
        assert_eq!(w.buf, [&[0, 0, 0, 11][..], b"mdat", &[0, 0, 0, 1], b"mdat", &19u64.to_be_bytes(), b"xyz"].concat());
        let boxes = parse_boxes(&w.buf[BOX_HEADER..]);
        assert_eq!(find(&boxes, "mdat").body, b"xyz");
        assert!(w.write_box_header(b"mdat", u64::from(u32::MAX), false).is_err());
        assert!(w.write_box_header(b"mdat", u64::MAX, true).is_err());
    }

    #[test]
    fn full_box_header_and_body_errors_pass_through() {
        let mut w = BoxWriter::with_capacity(16);
        w.write_full_box(b"tfhd", 1, 0x02_0000, |w| {
            w.u32(7);
            Ok(())
        })
        .unwrap();
        assert_eq!(w.len(), FULL_BOX_HEADER + 4);
        assert_eq!(w.into_bytes(), [&[0, 0, 0, 16][..], b"tfhd", &[1, 2, 0, 0], &[0, 0, 0, 7]].concat());
        let mut w = BoxWriter::with_capacity(16);
        let e = w.write_box(b"moov", |_| Err(Error::internal("nope"))).unwrap_err();
        assert_eq!((e.kind, e.message.as_str()), (ErrorKind::Internal, "nope"));
    }
}
