//! Matroska's own index, read without a demuxer: the Cues (keyframe times and cluster
//! positions) and a walker over block *headers* that never reads frame data it is not asked for.
//!
//! Opening a Matroska file reads its Cues, then only the block headers around each segment
//! boundary (see `index::build_from_cues`). FFmpeg's demuxer cannot do this: it parses the Cues
//! only on the first seek and reads every block's payload, even of discarded streams.
//!
//! Element layout (EBML): an ID (1–4 bytes, marker bit kept), a size (1–8 bytes, marker bit
//! removed; all ones = unknown), then the data.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// Why the layout or a block could not be read: the caller falls back to a packet scan or
/// reports a damaged file.
pub type MkvResult<T> = std::result::Result<T, String>;

const ID_EBML: u32 = 0x1A45_DFA3;
const ID_SEGMENT: u32 = 0x1853_8067;
const ID_SEEKHEAD: u32 = 0x114D_9B74;
const ID_SEEK: u32 = 0x4DBB;
const ID_SEEK_ID: u32 = 0x53AB;
const ID_SEEK_POSITION: u32 = 0x53AC;
const ID_INFO: u32 = 0x1549_A966;
const ID_TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
const ID_TRACKS: u32 = 0x1654_AE6B;
const ID_TRACK_ENTRY: u32 = 0xAE;
const ID_TRACK_NUMBER: u32 = 0xD7;
const ID_TRACK_TYPE: u32 = 0x83;
const ID_CODEC_DELAY: u32 = 0x56AA;
const ID_CONTENT_ENCODINGS: u32 = 0x6D80;
const ID_CUES: u32 = 0x1C53_BB6B;
const ID_CUE_POINT: u32 = 0xBB;
const ID_CUE_TIME: u32 = 0xB3;
const ID_CUE_TRACK_POSITIONS: u32 = 0xB7;
const ID_CUE_TRACK: u32 = 0xF7;
const ID_CUE_CLUSTER_POSITION: u32 = 0xF1;
const ID_CLUSTER: u32 = 0x1F43_B675;
const ID_CLUSTER_TIMESTAMP: u32 = 0xE7;
const ID_SIMPLE_BLOCK: u32 = 0xA3;
const ID_BLOCK_GROUP: u32 = 0xA0;
const ID_BLOCK: u32 = 0xA1;
const ID_BLOCK_DURATION: u32 = 0x9B;
const ID_REFERENCE_BLOCK: u32 = 0xFB;
/// Top-level elements that may follow a cluster of unknown size.
const TOP_LEVEL: [u32; 9] = [
    ID_CLUSTER,
    ID_CUES,
    ID_SEEKHEAD,
    ID_INFO,
    ID_TRACKS,
    0x1254_C367, // Tags
    0x1043_A770, // Chapters
    0x1941_A469, // Attachments
    ID_SEGMENT,
];

/// Bytes fetched per read: one block header plus the small blocks that usually follow it.
const CHUNK: usize = 8 << 10;

/// One Cue point: a keyframe of `track` at `time` (timestamp-scale ticks) in the cluster at
/// byte `cluster` (absolute file offset).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CuePoint {
    /// Presentation time in ticks.
    pub time: i64,
    /// Track number (FFmpeg's `AVStream.id`).
    pub track: u64,
    /// Absolute byte offset of the cluster.
    pub cluster: u64,
}

/// What the header, the track list and the Cues say.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    /// Absolute offset of the Segment's data (Cue positions count from here).
    pub segment_data: u64,
    /// Absolute end of the Segment (the file size when its size is unknown).
    pub segment_end: u64,
    /// Nanoseconds per timestamp tick.
    pub timestamp_scale: u64,
    /// Track numbers whose frames are stored with a content encoding (compression).
    pub encoded_tracks: Vec<u64>,
    /// Every TrackEntry in order: (TrackNumber, TrackType: 1 video, 2 audio, 0x11 subtitle).
    pub tracks: Vec<(u64, u64)>,
    /// CodecDelay (ns) of tracks that have one: FFmpeg presents their frames this much earlier.
    pub codec_delays: Vec<(u64, u64)>,
    /// Every Cue point, sorted by (track, time).
    pub cues: Vec<CuePoint>,
    /// Absolute offset of the first cluster.
    pub first_cluster: Option<u64>,
}

impl Layout {
    /// The Cue points of one track, sorted by time, one per time.
    pub fn cues_of(&self, track: u64) -> Vec<CuePoint> {
        let mut v: Vec<CuePoint> = self.cues.iter().copied().filter(|c| c.track == track).collect();
        v.sort_by_key(|c| (c.time, c.cluster));
        v.dedup_by_key(|c| c.time);
        v
    }
}

/// Positioned reads through a small window, so a run of small elements costs one `pread`.
struct Reader<'a> {
    file: &'a File,
    size: u64,
    buf: Vec<u8>,
    at: u64,
}

impl<'a> Reader<'a> {
    fn new(file: &'a File, size: u64) -> Reader<'a> {
        Reader { file, size, buf: Vec::new(), at: 0 }
    }

    /// Up to `n` bytes at `pos` (fewer only at the end of the file).
    fn bytes(&mut self, pos: u64, n: usize) -> MkvResult<&[u8]> {
        let have = pos >= self.at && pos + n as u64 <= self.at + self.buf.len() as u64;
        if !have {
            let want = n.max(CHUNK).min(self.size.saturating_sub(pos) as usize);
            self.buf.resize(want, 0);
            self.file.read_exact_at(&mut self.buf, pos).map_err(|e| format!("read at byte {pos}: {e}"))?;
            self.at = pos;
        }
        let from = (pos - self.at) as usize;
        let to = (from + n).min(self.buf.len());
        Ok(&self.buf[from..to])
    }

    /// The element header at `pos`.
    fn element(&mut self, pos: u64) -> MkvResult<Element> {
        let b = self.bytes(pos, 12)?;
        let (id, n) = vint(b, true).ok_or_else(|| format!("bad element ID at byte {pos}"))?;
        let (size, m) = vint(&b[n..], false).ok_or_else(|| format!("bad element size at byte {pos}"))?;
        let unknown = size == (1u64 << (7 * m)) - 1;
        Ok(Element { id: id as u32, pos, data: pos + (n + m) as u64, size: (!unknown).then_some(size) })
    }

    /// The element's data as an unsigned integer.
    fn uint(&mut self, e: &Element) -> MkvResult<u64> {
        let len = e.size.unwrap_or(0).min(8) as usize;
        Ok(self.bytes(e.data, len)?.iter().fold(0u64, |a, &b| (a << 8) | b as u64))
    }

    /// The element's data (at most `max` bytes).
    fn data(&mut self, e: &Element, max: usize) -> MkvResult<Vec<u8>> {
        let len = (e.size.unwrap_or(0) as usize).min(max);
        let v = self.bytes(e.data, len)?.to_vec();
        if v.len() < len {
            return Err(format!("element at byte {} is cut off by the end of the file", e.pos));
        }
        Ok(v)
    }
}

/// One EBML element header.
#[derive(Clone, Copy, Debug)]
struct Element {
    id: u32,
    pos: u64,
    data: u64,
    size: Option<u64>,
}

impl Element {
    fn end(&self, limit: u64) -> u64 {
        self.size.map_or(limit, |s| self.data.saturating_add(s).min(limit))
    }
}

/// An EBML variable-size integer: `(value, length)`. IDs keep their marker bit.
fn vint(b: &[u8], keep_marker: bool) -> Option<(u64, usize)> {
    let first = *b.first()?;
    let len = first.leading_zeros() as usize + 1;
    if len > 8 || b.len() < len || (keep_marker && len > 4) {
        return None;
    }
    let mut v = if keep_marker { first as u64 } else { (first & (0xFFu16 >> len) as u8) as u64 };
    for &x in &b[1..len] {
        v = (v << 8) | x as u64;
    }
    Some((v, len))
}

/// Reads the Segment's header elements and its Cues. `Ok(None)`: not a Matroska/WebM file.
pub fn read_layout(file: &File, file_size: u64) -> MkvResult<Option<Layout>> {
    let mut r = Reader::new(file, file_size);
    let head = r.element(0)?;
    if head.id != ID_EBML {
        return Ok(None);
    }
    let seg = r.element(head.end(file_size))?;
    if seg.id != ID_SEGMENT {
        return Err("no Segment after the EBML header".into());
    }
    let mut layout =
        Layout { segment_data: seg.data, segment_end: seg.end(file_size), timestamp_scale: 1_000_000, ..Layout::default() };
    let mut cues_at: Option<u64> = None;
    let mut cues_read = false;
    let mut pos = seg.data;
    // Header elements up to the first cluster; the SeekHead says where the Cues are.
    while pos < layout.segment_end {
        let e = r.element(pos)?;
        match e.id {
            ID_SEEKHEAD => {
                for s in children(&mut r, &e, layout.segment_end)? {
                    if s.id != ID_SEEK {
                        continue;
                    }
                    let (mut id, mut at) = (0u64, None);
                    for f in children(&mut r, &s, layout.segment_end)? {
                        match f.id {
                            ID_SEEK_ID => id = r.data(&f, 4)?.iter().fold(0, |a, &b| (a << 8) | b as u64),
                            ID_SEEK_POSITION => at = Some(layout.segment_data + r.uint(&f)?),
                            _ => {}
                        }
                    }
                    if id == ID_CUES as u64 {
                        cues_at = at;
                    }
                }
            }
            ID_INFO => {
                for f in children(&mut r, &e, layout.segment_end)? {
                    if f.id == ID_TIMESTAMP_SCALE {
                        layout.timestamp_scale = r.uint(&f)?.max(1);
                    }
                }
            }
            ID_TRACKS => {
                for t in children(&mut r, &e, layout.segment_end)? {
                    if t.id != ID_TRACK_ENTRY {
                        continue;
                    }
                    let (mut num, mut kind, mut encoded, mut delay) = (0, 0, false, 0);
                    for f in children(&mut r, &t, layout.segment_end)? {
                        match f.id {
                            ID_TRACK_NUMBER => num = r.uint(&f)?,
                            ID_TRACK_TYPE => kind = r.uint(&f)?,
                            ID_CODEC_DELAY => delay = r.uint(&f)?,
                            ID_CONTENT_ENCODINGS => encoded = true,
                            _ => {}
                        }
                    }
                    if encoded {
                        layout.encoded_tracks.push(num);
                    }
                    layout.tracks.push((num, kind));
                    if delay > 0 {
                        layout.codec_delays.push((num, delay));
                    }
                }
            }
            ID_CUES => {
                read_cues(&mut r, &e, &mut layout)?;
                cues_read = true;
            }
            ID_CLUSTER => {
                layout.first_cluster = Some(pos);
                break;
            }
            _ => {}
        }
        let Some(size) = e.size else { break };
        pos = e.data + size;
    }
    if !cues_read {
        if let Some(at) = cues_at.filter(|&a| a < layout.segment_end) {
            let e = r.element(at)?;
            if e.id == ID_CUES {
                read_cues(&mut r, &e, &mut layout)?;
            }
        }
    }
    Ok(Some(layout))
}

/// The child elements of `parent` (whose size must be known).
fn children(r: &mut Reader, parent: &Element, limit: u64) -> MkvResult<Vec<Element>> {
    let end = parent.size.map(|s| parent.data + s).ok_or_else(|| format!("element at byte {} has no size", parent.pos))?;
    let end = end.min(limit);
    let mut out = Vec::new();
    let mut pos = parent.data;
    while pos < end {
        let e = r.element(pos)?;
        let size = e.size.ok_or_else(|| format!("element at byte {pos} has no size"))?;
        out.push(e);
        pos = e.data + size;
    }
    Ok(out)
}

fn read_cues(r: &mut Reader, cues: &Element, layout: &mut Layout) -> MkvResult<()> {
    // The Cues element is read in one piece: for a 2-hour film it is a few hundred kB.
    let end = cues.end(layout.segment_end);
    let len = (end - cues.data) as usize;
    let mut data = vec![0u8; len];
    r.file.read_exact_at(&mut data, cues.data).map_err(|e| format!("Cues at byte {}: {e}", cues.pos))?;
    let mut at = 0usize;
    let next = |b: &[u8], at: &mut usize| -> Option<(u32, usize, usize)> {
        let (id, n) = vint(b.get(*at..)?, true)?;
        let (size, m) = vint(b.get(*at + n..)?, false)?;
        let start = *at + n + m;
        let end = start.checked_add(size as usize)?;
        (end <= b.len()).then_some((id as u32, start, end))
    };
    let uint = |b: &[u8]| b.iter().take(8).fold(0u64, |a, &x| (a << 8) | x as u64);
    while at < data.len() {
        let Some((id, s, e)) = next(&data, &mut at) else { return Err("malformed Cues".into()) };
        at = e;
        if id != ID_CUE_POINT {
            continue;
        }
        let (mut time, mut positions) = (None, Vec::new());
        let mut p = s;
        while p < e {
            let Some((cid, cs, ce)) = next(&data[..e], &mut p) else { return Err("malformed CuePoint".into()) };
            p = ce;
            match cid {
                ID_CUE_TIME => time = Some(uint(&data[cs..ce]) as i64),
                ID_CUE_TRACK_POSITIONS => {
                    let (mut track, mut cluster) = (None, None);
                    let mut q = cs;
                    while q < ce {
                        let Some((tid, ts, te)) = next(&data[..ce], &mut q) else { return Err("malformed CueTrackPositions".into()) };
                        q = te;
                        match tid {
                            ID_CUE_TRACK => track = Some(uint(&data[ts..te])),
                            ID_CUE_CLUSTER_POSITION => cluster = Some(uint(&data[ts..te])),
                            _ => {}
                        }
                    }
                    if let (Some(t), Some(c)) = (track, cluster) {
                        positions.push((t, c));
                    }
                }
                _ => {}
            }
        }
        if let Some(time) = time {
            for (track, cluster) in positions {
                layout.cues.push(CuePoint { time, track, cluster: layout.segment_data + cluster });
            }
        }
    }
    layout.cues.sort_by_key(|c| (c.track, c.time));
    Ok(())
}

/// One block (SimpleBlock or BlockGroup) as its header describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockHead {
    /// Track number.
    pub track: u64,
    /// Timestamp (presentation time of its first frame) in ticks.
    pub time: i64,
    /// Keyframe (SimpleBlock flag, or a BlockGroup without ReferenceBlock).
    pub key: bool,
    /// Absolute offset of the block element.
    pub pos: u64,
    /// Absolute offset of the frame data (after the block header and lace count).
    pub data: u64,
    /// Bytes of frame data (including lace sizes when laced).
    pub data_len: u64,
    /// Frames in the block (more than one when laced).
    pub frames: u32,
    /// BlockDuration, in ticks.
    pub duration: Option<i64>,
}

/// Walks the blocks of consecutive clusters, reading only their headers.
pub struct BlockWalker<'a> {
    r: Reader<'a>,
    pos: u64,
    end: u64,
    cluster_end: u64,
    cluster_time: Option<i64>,
    delays: Vec<(u64, i64)>,
}

impl<'a> BlockWalker<'a> {
    /// A walker starting at the cluster at `cluster` (absolute offset).
    pub fn new(file: &'a File, file_size: u64, layout: &Layout, cluster: u64) -> BlockWalker<'a> {
        // FFmpeg shifts the frames of a track with a CodecDelay (Opus) earlier by that delay,
        // in ticks rounded to nearest; block times here are the ones FFmpeg reports.
        let scale = layout.timestamp_scale.max(1) as i128;
        let delays = layout.codec_delays.iter().map(|&(t, ns)| (t, ((ns as i128 + scale / 2) / scale) as i64)).collect();
        BlockWalker {
            r: Reader::new(file, file_size),
            pos: cluster,
            end: layout.segment_end.min(file_size),
            cluster_end: 0,
            cluster_time: None,
            delays,
        }
    }

    /// The next block, or `None` at the end of the segment.
    pub fn next_block(&mut self) -> MkvResult<Option<BlockHead>> {
        while self.pos < self.end {
            let e = self.r.element(self.pos)?;
            let in_cluster = self.pos < self.cluster_end && !TOP_LEVEL.contains(&e.id);
            if !in_cluster {
                self.cluster_end = 0;
                if e.id == ID_CLUSTER {
                    self.cluster_end = e.end(self.end);
                    self.cluster_time = None;
                    self.pos = e.data;
                    continue;
                }
                let size = e.size.ok_or_else(|| format!("element {:#x} at byte {} has no size", e.id, e.pos))?;
                self.pos = e.data + size;
                continue;
            }
            let size = e.size.ok_or_else(|| format!("element {:#x} at byte {} has no size", e.id, e.pos))?;
            self.pos = e.data + size;
            match e.id {
                ID_CLUSTER_TIMESTAMP => self.cluster_time = Some(self.r.uint(&e)? as i64),
                ID_SIMPLE_BLOCK => {
                    let b = self.block_header(&e)?;
                    return Ok(Some(BlockHead { key: b.flags & 0x80 != 0, ..b.head }));
                }
                ID_BLOCK_GROUP => {
                    let (mut block, mut duration, mut referenced) = (None, None, false);
                    let end = e.data + size;
                    let mut p = e.data;
                    while p < end {
                        let c = self.r.element(p)?;
                        let cs = c.size.ok_or_else(|| format!("block group child at byte {p} has no size"))?;
                        match c.id {
                            ID_BLOCK => block = Some(self.block_header(&c)?),
                            ID_BLOCK_DURATION => duration = Some(self.r.uint(&c)? as i64),
                            ID_REFERENCE_BLOCK => referenced = true,
                            _ => {}
                        }
                        p = c.data + cs;
                    }
                    let Some(mut b) = block else { return Err(format!("block group at byte {} has no block", e.pos)) };
                    b.head.pos = e.pos;
                    b.head.key = !referenced;
                    b.head.duration = duration;
                    return Ok(Some(b.head));
                }
                _ => {}
            }
        }
        Ok(None)
    }

    /// Reads `len` bytes of frame data at `pos` (an absolute offset from a `BlockHead`).
    pub fn read(&mut self, pos: u64, len: usize) -> MkvResult<Vec<u8>> {
        let v = self.r.bytes(pos, len)?.to_vec();
        if v.len() < len {
            return Err(format!("block data at byte {pos} is cut off by the end of the file"));
        }
        Ok(v)
    }

    fn block_header(&mut self, e: &Element) -> MkvResult<RawHeader> {
        let size = e.size.unwrap_or(0);
        let b = self.r.bytes(e.data, 16)?;
        let (track, n) = vint(b, false).ok_or_else(|| format!("bad block at byte {}", e.pos))?;
        if b.len() < n + 3 || size < (n + 3) as u64 {
            return Err(format!("block at byte {} is too short", e.pos));
        }
        let rel = i16::from_be_bytes([b[n], b[n + 1]]) as i64;
        let flags = b[n + 2];
        let laced = (flags >> 1) & 3 != 0;
        let (frames, header) = if laced { (*b.get(n + 3).unwrap_or(&0) as u32 + 1, n + 4) } else { (1, n + 3) };
        let cluster = self.cluster_time.ok_or_else(|| format!("block at byte {} before its cluster's timestamp", e.pos))?;
        let shift = self.delays.iter().find(|d| d.0 == track).map_or(0, |d| d.1);
        Ok(RawHeader {
            head: BlockHead {
                track,
                time: cluster + rel - shift,
                key: false,
                pos: e.pos,
                data: e.data + header as u64,
                data_len: size.saturating_sub(header as u64),
                frames,
                duration: None,
            },
            flags,
        })
    }
}

struct RawHeader {
    head: BlockHead,
    flags: u8,
}

#[cfg(test)]
mod tests {
    use super::*;

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
