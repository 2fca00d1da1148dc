//! The one ISO BMFF box writer ([`BoxWriter`]) and the box header sizes.
//!
//! A box is opened with its type, its body is written by a closure, and its size is patched in
//! when the closure returns: a size is never computed ahead or written anywhere else, so a box's
//! size always matches what was written. FullBox headers (version and 24-bit flags) are written
//! by [`BoxWriter::write_full_box`]; 64-bit sizes by [`BoxWriter::write_large_box`].

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

    /// Writes a box with a 32-bit size.
    pub fn write_box(&mut self, fourcc: &[u8; 4], body: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        self.write_sized(fourcc, false, body)
    }

    /// Writes a box with a 64-bit size (`size` 1 + `largesize`).
    pub fn write_large_box(&mut self, fourcc: &[u8; 4], body: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        self.write_sized(fourcc, true, body)
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

    /// Writes the header with a placeholder size, the body, then the real size.
    fn write_sized(&mut self, fourcc: &[u8; 4], large: bool, body: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        let start = self.buf.len();
        if large {
            self.u32(LARGE_SIZE_MARKER);
            self.bytes(fourcc);
            self.u64(u64::from(SIZE_PLACEHOLDER));
        } else {
            self.u32(SIZE_PLACEHOLDER);
            self.bytes(fourcc);
        }
        body(self)?;
        self.patch_size(start, large, fourcc)
    }

    /// Stores the size of the box that starts at `start` and ends at the buffer's end.
    fn patch_size(&mut self, start: usize, large: bool, fourcc: &[u8; 4]) -> Result<()> {
        let size = (self.buf.len() - start) as u64;
        if large {
            let at = start + BOX_HEADER;
            self.buf[at..at + 8].copy_from_slice(&size.to_be_bytes());
        } else {
            let small = u32::try_from(size).map_err(|_| {
                Error::internal(format!("box {} too large ({size} bytes)", String::from_utf8_lossy(fourcc)))
            })?;
            self.buf[start..start + 4].copy_from_slice(&small.to_be_bytes());
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
    fn large_box_header_is_patched() {
        let mut w = BoxWriter::with_capacity(64);
        w.write_box(b"moof", |w| {
            w.write_large_box(b"mdat", |w| {
                w.bytes(b"xyz");
                Ok(())
            })
        })
        .unwrap();
        assert_eq!(w.buf, [&[0, 0, 0, 27][..], b"moof", &[0, 0, 0, 1], b"mdat", &19u64.to_be_bytes(), b"xyz"].concat());
        let boxes = parse_boxes(&w.buf);
        assert_eq!(find(&boxes, "moof").children[0].body, b"xyz");
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
