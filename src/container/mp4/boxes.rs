//! The one box reader of ISO-BMFF: big-endian fields ([`be16`] ... [`be64`], [`fourcc`]), the
//! child boxes of an in-memory payload ([`Boxes`], [`child`]) and MPEG-4 descriptors
//! ([`Cursor`]).

/// Bytes of a box header: 32-bit size and four-character type.
pub(super) const BOX_HEADER: usize = 8;
/// Bytes of a box header with a 64-bit size (after the 32-bit size 1).
pub(super) const LARGE_BOX_HEADER: usize = 16;
/// A 32-bit box size of 0: the box runs to the end of its parent (or of the file).
pub(super) const SIZE_TO_END: u32 = 0;
/// A 32-bit box size of 1: a 64-bit size follows the type.
pub(super) const SIZE_64_BIT: u32 = 1;

/// The big-endian `u16` at `at`, if `b` holds it.
pub(super) fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at.checked_add(2)?)?.try_into().ok()?))
}

/// The big-endian 24-bit value at `at`, if `b` holds it.
pub(super) fn be24(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(3)?)?;
    Some(u32::from_be_bytes([0, s[0], s[1], s[2]]))
}

/// The big-endian `u32` at `at`, if `b` holds it.
pub(super) fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

/// The big-endian `u64` at `at`, if `b` holds it.
pub(super) fn be64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at.checked_add(8)?)?.try_into().ok()?))
}

/// The four-character code at `at`, if `b` holds it.
pub(super) fn fourcc(b: &[u8], at: usize) -> Option<[u8; 4]> {
    b.get(at..at.checked_add(4)?)?.try_into().ok()
}

/// A four-character code for messages (non-printable bytes as `?`).
pub(super) fn fourcc_str(kind: &[u8; 4]) -> String {
    kind.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '?' }).collect()
}

/// The child boxes of a payload, as FFmpeg's `mov_read_default` walks them: a size of 0 runs to
/// the end, a size of 1 is followed by a 64-bit size, a size larger than the parent is clamped,
/// a size smaller than the header ends the walk.
pub(super) struct Boxes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Boxes<'a> {
    /// The boxes of `data` (a box payload, or the whole moov).
    pub(super) fn new(data: &'a [u8]) -> Self {
        Boxes { data, pos: 0 }
    }
}

impl<'a> Iterator for Boxes<'a> {
    type Item = ([u8; 4], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.data.get(self.pos..)?;
        let size32 = be32(rest, 0)?;
        let kind = fourcc(rest, 4)?;
        let (size, header) = match size32 {
            SIZE_TO_END => (rest.len() as u64, BOX_HEADER),
            SIZE_64_BIT => (be64(rest, BOX_HEADER)?, LARGE_BOX_HEADER),
            s => (u64::from(s), BOX_HEADER),
        };
        if size < header as u64 {
            self.pos = self.data.len();
            return None;
        }
        let size = usize::try_from(size.min(rest.len() as u64)).ok()?;
        let body = rest.get(header..size).unwrap_or(&[]);
        self.pos += size.max(header);
        Some((kind, body))
    }
}

/// The payload of the first child box of type `kind`.
pub(super) fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    Boxes::new(data).find(|(k, _)| k == kind).map(|(_, b)| b)
}

/// Keeps the first box of a kind (as FFmpeg does): sets `slot` unless it is set.
pub(super) fn set_once<'a>(slot: &mut Option<&'a [u8]>, body: &'a [u8]) {
    if slot.is_none() {
        *slot = Some(body);
    }
}

/// A bounded reader of MPEG-4 descriptors.
pub(super) struct Cursor<'a> {
    /// The bytes read.
    pub(super) b: &'a [u8],
    /// Offset of the next byte.
    pub(super) pos: usize,
}

impl Cursor<'_> {
    /// The next byte.
    pub(super) fn u8(&mut self) -> Option<u8> {
        let v = *self.b.get(self.pos)?;
        self.pos += 1;
        Some(v)
    }

    /// Skips `n` bytes; `None` when fewer are left.
    pub(super) fn skip(&mut self, n: usize) -> Option<()> {
        self.pos = self.pos.checked_add(n)?;
        (self.pos <= self.b.len()).then_some(())
    }

    /// A descriptor header: tag and length (up to four 7-bit bytes).
    pub(super) fn descriptor(&mut self) -> Option<(u8, usize)> {
        let tag = self.u8()?;
        let mut len = 0usize;
        for _ in 0..4 {
            let c = self.u8()?;
            len = (len << 7) | usize::from(c & 0x7f);
            if c & 0x80 == 0 {
                break;
            }
        }
        Some((tag, len))
    }
}
