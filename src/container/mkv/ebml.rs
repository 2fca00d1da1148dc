//! EBML, the binary layout under Matroska: the element IDs libhls reads, variable-size integers
//! ([`vint`]), element headers ([`Element`]) and the chunked [`Reader`] over the one positioned
//! read ([`crate::container::read`]).
//!
//! An element is an ID (1–4 bytes, marker bit kept), a size (1–8 bytes, marker bit removed; all
//! ones = unknown), then the data.

use crate::container::read::ByteSource;

use crate::container::read;
use crate::error::{ParseError, ParseResult};

/// EBML header (the file's first element).
pub(super) const ID_EBML: u32 = 0x1A45_DFA3;
/// DocType (EBML header): `matroska` or `webm`.
pub(super) const ID_DOC_TYPE: u32 = 0x4282;
/// Segment: everything after the EBML header.
pub(super) const ID_SEGMENT: u32 = 0x1853_8067;
/// SeekHead: where the other top-level elements are.
pub(super) const ID_SEEKHEAD: u32 = 0x114D_9B74;
/// Seek: one SeekHead entry.
pub(super) const ID_SEEK: u32 = 0x4DBB;
/// SeekID: the ID of the element a Seek points at.
pub(super) const ID_SEEK_ID: u32 = 0x53AB;
/// SeekPosition: its offset from the Segment's data.
pub(super) const ID_SEEK_POSITION: u32 = 0x53AC;
/// Info: segment information.
pub(super) const ID_INFO: u32 = 0x1549_A966;
/// TimestampScale: nanoseconds per tick.
pub(super) const ID_TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
/// MuxingApp (Info).
pub(super) const ID_MUXING_APP: u32 = 0x4D80;
/// WritingApp (Info).
pub(super) const ID_WRITING_APP: u32 = 0x5741;
/// Tracks: the track list.
pub(super) const ID_TRACKS: u32 = 0x1654_AE6B;
/// TrackEntry: one track.
pub(super) const ID_TRACK_ENTRY: u32 = 0xAE;
/// TrackNumber (what blocks and Cues name).
pub(super) const ID_TRACK_NUMBER: u32 = 0xD7;
/// TrackType (video, audio, subtitle, ...).
pub(super) const ID_TRACK_TYPE: u32 = 0x83;
/// CodecDelay, in ns.
pub(super) const ID_CODEC_DELAY: u32 = 0x56AA;
/// DefaultDuration, in ns.
pub(super) const ID_DEFAULT_DURATION: u32 = 0x23_E383;
/// LanguageBCP47 (mkvmerge's LanguageIETF): the track's BCP 47 tag (`pt-BR`).
pub(super) const ID_LANGUAGE_BCP47: u32 = 0x22_B59D;
/// ContentEncodings (compression or encryption of the frames).
pub(super) const ID_CONTENT_ENCODINGS: u32 = 0x6D80;
/// Cues: the keyframe index.
pub(super) const ID_CUES: u32 = 0x1C53_BB6B;
/// CuePoint: one indexed time.
pub(super) const ID_CUE_POINT: u32 = 0xBB;
/// CueTime, in ticks.
pub(super) const ID_CUE_TIME: u32 = 0xB3;
/// CueTrackPositions: where one track's keyframe at that time is.
pub(super) const ID_CUE_TRACK_POSITIONS: u32 = 0xB7;
/// CueTrack: the track number.
pub(super) const ID_CUE_TRACK: u32 = 0xF7;
/// CueClusterPosition: the cluster's offset from the Segment's data.
pub(super) const ID_CUE_CLUSTER_POSITION: u32 = 0xF1;
/// CueRelativePosition: the block's offset in the cluster's data.
pub(super) const ID_CUE_RELATIVE_POSITION: u32 = 0xF0;
/// Cluster: a run of blocks.
pub(super) const ID_CLUSTER: u32 = 0x1F43_B675;
/// Timestamp of a cluster, in ticks.
pub(super) const ID_CLUSTER_TIMESTAMP: u32 = 0xE7;
/// SimpleBlock.
pub(super) const ID_SIMPLE_BLOCK: u32 = 0xA3;
/// BlockGroup: a Block with its BlockDuration, ReferenceBlocks, ...
pub(super) const ID_BLOCK_GROUP: u32 = 0xA0;
/// Block (inside a BlockGroup).
pub(super) const ID_BLOCK: u32 = 0xA1;
/// BlockDuration, in ticks.
pub(super) const ID_BLOCK_DURATION: u32 = 0x9B;
/// ReferenceBlock: the block is not a keyframe.
pub(super) const ID_REFERENCE_BLOCK: u32 = 0xFB;
/// Tags (top level).
pub(super) const ID_TAGS: u32 = 0x1254_C367;
/// Chapters (top level).
pub(super) const ID_CHAPTERS: u32 = 0x1043_A770;
/// Attachments (top level).
pub(super) const ID_ATTACHMENTS: u32 = 0x1941_A469;

/// Top-level elements that may follow a cluster of unknown size.
pub(super) const TOP_LEVEL: [u32; 9] =
    [ID_CLUSTER, ID_CUES, ID_SEEKHEAD, ID_INFO, ID_TRACKS, ID_TAGS, ID_CHAPTERS, ID_ATTACHMENTS, ID_SEGMENT];

/// Longest ID in bytes (EBML's default EBMLMaxIDLength).
const MAX_ID_LEN: usize = 4;
/// Longest vint (and size) in bytes (EBML's default EBMLMaxSizeLength).
pub(super) const MAX_VINT_LEN: usize = 8;
/// Longest element header: ID plus size.
const MAX_HEADER_LEN: usize = MAX_ID_LEN + MAX_VINT_LEN;

/// Positioned reads through a small window, so a run of small elements costs one `pread`.
pub(super) struct Reader<'a> {
    file: &'a ByteSource,
    size: u64,
    /// The window's storage; only `buf[..valid]` holds file bytes (from `at`). Kept across
    /// reads, so a refill neither allocates nor zeroes it again.
    buf: Vec<u8>,
    valid: usize,
    at: u64,
    chunk: usize,
}

impl<'a> Reader<'a> {
    /// A reader of `file` (`size` bytes) that fetches `chunk` bytes per read.
    pub(super) fn new(file: &'a ByteSource, size: u64, chunk: usize) -> Reader<'a> {
        Reader { file, size, buf: Vec::new(), valid: 0, at: 0, chunk }
    }

    /// The file's size.
    pub(super) fn size(&self) -> u64 {
        self.size
    }

    /// Bytes fetched per read.
    pub(super) fn chunk(&self) -> usize {
        self.chunk
    }

    /// Bytes fetched per read from now on.
    pub(super) fn set_chunk(&mut self, chunk: usize) {
        self.chunk = chunk;
    }

    /// Fills `buf` from byte `pos` of the file, bypassing the window.
    pub(super) fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> std::io::Result<()> {
        read::read_exact_at(self.file, pos, buf)
    }

    /// Up to `n` bytes at `pos` (fewer only at the end of the file).
    pub(super) fn bytes(&mut self, pos: u64, n: usize) -> ParseResult<&[u8]> {
        let end = pos
            .checked_add(n as u64)
            .ok_or_else(|| ParseError::new(format!("read past the end of the file at byte {pos}")))?;
        let have = pos >= self.at && end <= self.at + self.valid as u64;
        if !have {
            let want = n.max(self.chunk).min(self.size.saturating_sub(pos) as usize);
            if self.buf.len() < want {
                self.buf.resize(want, 0);
            }
            // Nothing valid until the read succeeds (a failed read leaves no stale window).
            self.valid = 0;
            read::read_exact_at(self.file, pos, &mut self.buf[..want])
                .map_err(|e| ParseError::new(format!("read at byte {pos}: {e}")))?;
            self.at = pos;
            self.valid = want;
        }
        let from = (pos - self.at) as usize;
        let to = (from + n).min(self.valid);
        Ok(&self.buf[from..to])
    }

    /// The element header at `pos`.
    pub(super) fn element(&mut self, pos: u64) -> ParseResult<Element> {
        let b = self.bytes(pos, MAX_HEADER_LEN)?;
        let (id, n) = vint(b, true).ok_or_else(|| ParseError::new(format!("bad element ID at byte {pos}")))?;
        let (size, m) =
            vint(&b[n..], false).ok_or_else(|| ParseError::new(format!("bad element size at byte {pos}")))?;
        let unknown = size == (1u64 << (7 * m)) - 1;
        Ok(Element { id: id as u32, pos, data: pos + (n + m) as u64, size: (!unknown).then_some(size) })
    }

    /// The element's data as an unsigned integer.
    pub(super) fn uint(&mut self, e: &Element) -> ParseResult<u64> {
        let len = e.size.unwrap_or(0).min(8) as usize;
        Ok(uint(self.bytes(e.data, len)?))
    }

    /// The element's data (at most `max` bytes).
    pub(super) fn data(&mut self, e: &Element, max: usize) -> ParseResult<Vec<u8>> {
        let len = (e.size.unwrap_or(0) as usize).min(max);
        let v = self.bytes(e.data, len)?.to_vec();
        if v.len() < len {
            return Err(ParseError::new(format!("element at byte {} is cut off by the end of the file", e.pos)));
        }
        Ok(v)
    }
}

/// One EBML element header.
#[derive(Clone, Copy, Debug)]
pub(super) struct Element {
    /// The ID, marker bit kept.
    pub(super) id: u32,
    /// Absolute offset of the header.
    pub(super) pos: u64,
    /// Absolute offset of the data.
    pub(super) data: u64,
    /// Size of the data; `None`: unknown (it runs to the end of its parent).
    pub(super) size: Option<u64>,
}

impl Element {
    /// Absolute end of the data, at most `limit` (`limit` itself when the size is unknown).
    pub(super) fn end(&self, limit: u64) -> u64 {
        self.size.map_or(limit, |s| self.data.saturating_add(s).min(limit))
    }
}

/// An EBML variable-size integer: `(value, length)`. IDs keep their marker bit.
pub(super) fn vint(b: &[u8], keep_marker: bool) -> Option<(u64, usize)> {
    let first = *b.first()?;
    let len = first.leading_zeros() as usize + 1;
    if len > MAX_VINT_LEN || b.len() < len || (keep_marker && len > MAX_ID_LEN) {
        return None;
    }
    let mut v = if keep_marker { first as u64 } else { (first & (0xFFu16 >> len) as u8) as u64 };
    for &x in &b[1..len] {
        v = (v << 8) | x as u64;
    }
    Some((v, len))
}

/// An unsigned integer element's data (big-endian; only the first 8 bytes count).
pub(super) fn uint(b: &[u8]) -> u64 {
    b.iter().take(8).fold(0u64, |a, &x| (a << 8) | x as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_refilled_near_the_end_returns_only_file_bytes() {
        // The window's storage is kept across refills: a shorter refill (at the end of the
        // file) must not hand out the longer one's stale bytes.
        let bytes: Vec<u8> = (0..100u8).collect();
        super::super::testutil::with_file(&bytes, |f, size| {
            let mut r = Reader::new(f, size, 64);
            assert_eq!(r.bytes(0, 4).unwrap(), &[0, 1, 2, 3]);
            assert_eq!(r.bytes(60, 4).unwrap(), &[60, 61, 62, 63]); // the same window
            assert_eq!(r.bytes(90, 20).unwrap(), &(90..100u8).collect::<Vec<_>>()[..]);
            assert_eq!(r.bytes(95, 2).unwrap(), &[95, 96]);
            // Back to the start: read again, whole.
            assert_eq!(r.bytes(10, 60).unwrap(), &(10..70u8).collect::<Vec<_>>()[..]);
            // A failed read leaves nothing stale behind.
            assert!(r.bytes(u64::MAX - 1, 4).is_err());
            assert_eq!(r.bytes(3, 2).unwrap(), &[3, 4]);
        });
    }

    #[test]
    fn vints() {
        assert_eq!(vint(&[0x81], false), Some((1, 1)));
        assert_eq!(vint(&[0x40, 0x02], false), Some((2, 2)));
        assert_eq!(vint(&[0x1A, 0x45, 0xDF, 0xA3], true), Some((0x1A45_DFA3, 4)));
        assert_eq!(vint(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], false), Some(((1 << 56) - 1, 8)));
        assert_eq!(vint(&[0x00], false), None);
        assert_eq!(vint(&[0x40], false), None);
        assert_eq!(vint(&[0x08, 0, 0, 0, 0], true), None);
    }
}
