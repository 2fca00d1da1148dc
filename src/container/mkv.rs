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
const ID_DEFAULT_DURATION: u32 = 0x23_E383;
const ID_CONTENT_ENCODINGS: u32 = 0x6D80;
const ID_CUES: u32 = 0x1C53_BB6B;
const ID_CUE_POINT: u32 = 0xBB;
const ID_CUE_TIME: u32 = 0xB3;
const ID_CUE_TRACK_POSITIONS: u32 = 0xB7;
const ID_CUE_TRACK: u32 = 0xF7;
const ID_CUE_CLUSTER_POSITION: u32 = 0xF1;
const ID_CUE_RELATIVE_POSITION: u32 = 0xF0;
const ID_MUXING_APP: u32 = 0x4D80;
const ID_WRITING_APP: u32 = 0x5741;
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

/// Cues larger than this are taken for damage (a 10-hour film indexed at every frame needs
/// ~20 MB).
const MAX_CUES_BYTES: u64 = 128 << 20;

/// Bytes fetched per read of the header elements and Cues.
const LAYOUT_CHUNK: usize = 8 << 10;
/// Bytes fetched per read by the block walker: one page, which holds a block header plus the
/// small (audio) blocks that usually follow it; larger blocks are skipped, not read.
const WALK_CHUNK: usize = 4 << 10;

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
    /// Offset of the block inside the cluster's data (CueRelativePosition), when given.
    pub relative: Option<u64>,
}

/// TrackType of a subtitle track.
pub(crate) const TRACK_TYPE_SUBTITLE: u64 = 0x11;

/// What one TrackEntry says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrackEntry {
    /// TrackNumber (what blocks and Cues name).
    pub number: u64,
    /// TrackType: 1 video, 2 audio, 0x11 subtitle.
    pub kind: u64,
    /// Frames are stored with a content encoding (compression).
    pub encoded: bool,
    /// CodecDelay in ns (0: none): FFmpeg presents the track's frames this much earlier.
    pub codec_delay: u64,
    /// DefaultDuration in ns (0: none): it times the frames of laced blocks.
    pub default_duration: u64,
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
    /// Every TrackEntry, in order.
    pub tracks: Vec<TrackEntry>,
    /// Every Cue point, sorted by (track, time).
    pub cues: Vec<CuePoint>,
    /// Absolute offset of the first cluster.
    pub first_cluster: Option<u64>,
    /// The MuxingApp of the Info element (e.g. `Lavf60.3.100`, `libebml v1.4.2 + libmatroska`).
    pub muxing_app: String,
    /// The WritingApp of the Info element (e.g. `mkvmerge v74.0.0 ...`, `Lavf60.3.100`).
    pub writing_app: String,
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
    chunk: usize,
}

impl<'a> Reader<'a> {
    fn new(file: &'a File, size: u64, chunk: usize) -> Reader<'a> {
        Reader { file, size, buf: Vec::new(), at: 0, chunk }
    }

    /// Up to `n` bytes at `pos` (fewer only at the end of the file).
    fn bytes(&mut self, pos: u64, n: usize) -> MkvResult<&[u8]> {
        let end = pos.checked_add(n as u64).ok_or_else(|| format!("read past the end of the file at byte {pos}"))?;
        let have = pos >= self.at && end <= self.at + self.buf.len() as u64;
        if !have {
            let want = n.max(self.chunk).min(self.size.saturating_sub(pos) as usize);
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
    let mut r = Reader::new(file, file_size, LAYOUT_CHUNK);
    if r.bytes(0, 4)? != ID_EBML.to_be_bytes() {
        return Ok(None);
    }
    let head = r.element(0)?;
    let seg = r.element(head.end(file_size))?;
    if seg.id != ID_SEGMENT {
        return Err("no Segment after the EBML header".into());
    }
    let mut layout = Layout {
        segment_data: seg.data,
        segment_end: seg.end(file_size),
        timestamp_scale: 1_000_000,
        ..Layout::default()
    };
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
                            ID_SEEK_POSITION => at = layout.segment_data.checked_add(r.uint(&f)?),
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
                    if f.id == ID_MUXING_APP {
                        layout.muxing_app = String::from_utf8_lossy(&r.data(&f, 256)?).into_owned();
                    }
                    if f.id == ID_WRITING_APP {
                        layout.writing_app = String::from_utf8_lossy(&r.data(&f, 256)?).into_owned();
                    }
                }
            }
            ID_TRACKS => {
                for t in children(&mut r, &e, layout.segment_end)? {
                    if t.id != ID_TRACK_ENTRY {
                        continue;
                    }
                    let mut entry = TrackEntry::default();
                    for f in children(&mut r, &t, layout.segment_end)? {
                        match f.id {
                            ID_TRACK_NUMBER => entry.number = r.uint(&f)?,
                            ID_TRACK_TYPE => entry.kind = r.uint(&f)?,
                            ID_CODEC_DELAY => entry.codec_delay = r.uint(&f)?,
                            ID_DEFAULT_DURATION => entry.default_duration = r.uint(&f)?,
                            ID_CONTENT_ENCODINGS => entry.encoded = true,
                            _ => {}
                        }
                    }
                    layout.tracks.push(entry);
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
    let end =
        parent.size.map(|s| parent.data + s).ok_or_else(|| format!("element at byte {} has no size", parent.pos))?;
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
    let end = cues.end(layout.segment_end.min(r.size));
    if end <= cues.data || end - cues.data > MAX_CUES_BYTES {
        return Err(format!("Cues at byte {} do not fit in the segment or are implausibly large", cues.pos));
    }
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
                    let (mut track, mut cluster, mut relative) = (None, None, None);
                    let mut q = cs;
                    while q < ce {
                        let Some((tid, ts, te)) = next(&data[..ce], &mut q) else {
                            return Err("malformed CueTrackPositions".into());
                        };
                        q = te;
                        match tid {
                            ID_CUE_TRACK => track = Some(uint(&data[ts..te])),
                            ID_CUE_CLUSTER_POSITION => cluster = Some(uint(&data[ts..te])),
                            ID_CUE_RELATIVE_POSITION => relative = Some(uint(&data[ts..te])),
                            _ => {}
                        }
                    }
                    if let (Some(t), Some(c)) = (track, cluster) {
                        positions.push((t, c, relative));
                    }
                }
                _ => {}
            }
        }
        if let Some(time) = time {
            for (track, cluster, relative) in positions {
                if let Some(cluster) = layout.segment_data.checked_add(cluster) {
                    layout.cues.push(CuePoint { time, track, cluster, relative });
                }
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
    /// Lacing: 0 none, 1 Xiph, 2 fixed-size, 3 EBML (then `data` starts at the lace sizes).
    pub lacing: u8,
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
    defaults: Vec<(u64, u64)>,
    scale: u64,
}

impl<'a> BlockWalker<'a> {
    /// A walker starting at the cluster at `cluster` (absolute offset).
    pub fn new(file: &'a File, file_size: u64, layout: &Layout, cluster: u64) -> BlockWalker<'a> {
        // FFmpeg shifts the frames of a track with a CodecDelay (Opus) earlier by that delay,
        // in ticks rounded to nearest; block times here are the ones FFmpeg reports.
        let scale = layout.timestamp_scale.max(1) as i128;
        let delays = layout
            .tracks
            .iter()
            .filter(|t| t.codec_delay > 0)
            .map(|t| (t.number, ((t.codec_delay as i128 + scale / 2) / scale) as i64))
            .collect();
        BlockWalker {
            defaults: layout
                .tracks
                .iter()
                .filter(|t| t.default_duration > 0)
                .map(|t| (t.number, t.default_duration))
                .collect(),
            scale: layout.timestamp_scale.max(1),
            r: Reader::new(file, file_size, WALK_CHUNK),
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

    /// Bytes fetched per read from now on (small for reads that jump from Cue to Cue).
    pub fn set_read_size(&mut self, bytes: usize) {
        self.r.chunk = bytes.max(64);
    }

    /// The block a Cue points at: the one at `relative` bytes into the data of the cluster at
    /// `cluster` (absolute offset). The walk then continues after it.
    pub fn block_at(&mut self, cluster: u64, relative: u64) -> MkvResult<Option<BlockHead>> {
        let e = self.r.element(cluster)?;
        if e.id != ID_CLUSTER {
            return Err(format!("no cluster at byte {cluster}"));
        }
        self.cluster_end = e.end(self.end);
        self.cluster_time = None;
        // The cluster's timestamp comes first (Matroska requires it before any block).
        let mut p = e.data;
        while p < self.cluster_end && self.cluster_time.is_none() {
            let c = self.r.element(p)?;
            let size = c.size.ok_or_else(|| format!("element at byte {p} has no size"))?;
            if c.id == ID_CLUSTER_TIMESTAMP {
                self.cluster_time = Some(self.r.uint(&c)? as i64);
            }
            p = c.data + size;
        }
        self.pos =
            e.data.checked_add(relative).ok_or_else(|| format!("bad Cue position in the cluster at byte {cluster}"))?;
        let e2 = self.r.element(self.pos)?;
        if e2.id != ID_SIMPLE_BLOCK && e2.id != ID_BLOCK_GROUP {
            return Err(format!("no block at byte {}", self.pos));
        }
        self.next_block()
    }

    /// The frames of a block: (absolute offset, size) of each, and the time FFmpeg gives each:
    /// the block's time plus `duration * n / frames` for frame n, the duration being the
    /// BlockDuration or the track's DefaultDuration times the frame count; `None` for the later
    /// frames of a laced block with neither (FFmpeg leaves them untimed).
    pub fn frames(&mut self, b: &BlockHead) -> MkvResult<Vec<(u64, u64, Option<i64>)>> {
        let n = b.frames as usize;
        if b.lacing == 0 || n <= 1 {
            return Ok(vec![(b.data, b.data_len, Some(b.time))]);
        }
        let head = self.r.bytes(b.data, (b.data_len as usize).min(n * 8 + 8))?.to_vec();
        let bad = || format!("bad lacing in the block at byte {}", b.pos);
        let mut sizes: Vec<u64> = Vec::with_capacity(n);
        let mut at = 0usize;
        match b.lacing {
            1 => {
                for _ in 0..n - 1 {
                    let mut v = 0u64;
                    loop {
                        let x = *head.get(at).ok_or_else(bad)?;
                        at += 1;
                        v += x as u64;
                        if x != 255 {
                            break;
                        }
                    }
                    sizes.push(v);
                }
            }
            2 => sizes.resize(n - 1, b.data_len / n as u64),
            _ => {
                let (first, len) = vint(&head[at..], false).ok_or_else(bad)?;
                at += len;
                sizes.push(first);
                for _ in 1..n - 1 {
                    let (raw, len) = vint(&head[at..], false).ok_or_else(bad)?;
                    at += len;
                    let delta = raw as i64 - ((1i64 << (7 * len - 1)) - 1);
                    let prev = *sizes.last().unwrap_or(&0) as i64;
                    sizes.push(u64::try_from(prev + delta).map_err(|_| bad())?);
                }
            }
        }
        let laced: u64 = sizes.iter().sum::<u64>() + at as u64;
        let last = b.data_len.checked_sub(laced).ok_or_else(bad)?;
        sizes.push(last);
        let default = self.defaults.iter().find(|d| d.0 == b.track).map_or(0, |d| d.1);
        let duration =
            b.duration.filter(|&d| d > 0).unwrap_or_else(|| (default as i128 * n as i128 / self.scale as i128) as i64);
        let mut pos = b.data + at as u64;
        let mut out = Vec::with_capacity(n);
        for (i, size) in sizes.into_iter().enumerate() {
            let time = (i == 0 || duration > 0).then(|| b.time + (duration as i128 * i as i128 / n as i128) as i64);
            out.push((pos, size, time));
            pos += size;
        }
        Ok(out)
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
        if laced && (b.len() < n + 4 || size < (n + 4) as u64) {
            return Err(format!("laced block at byte {} is too short", e.pos));
        }
        let (frames, header) = if laced { (b[n + 3] as u32 + 1, n + 4) } else { (1, n + 3) };
        let cluster =
            self.cluster_time.ok_or_else(|| format!("block at byte {} before its cluster's timestamp", e.pos))?;
        let shift = self.delays.iter().find(|d| d.0 == track).map_or(0, |d| d.1);
        Ok(RawHeader {
            head: BlockHead {
                track,
                time: cluster.saturating_add(rel).saturating_sub(shift),
                key: false,
                pos: e.pos,
                data: e.data + header as u64,
                data_len: size.saturating_sub(header as u64),
                frames,
                lacing: (flags >> 1) & 3,
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

    // ---- A tiny EBML builder ----

    /// An element ID as stored (marker bit kept, leading zero bytes dropped).
    fn id_bytes(id: u32) -> Vec<u8> {
        let b = id.to_be_bytes();
        b[b.iter().take_while(|&&x| x == 0).count()..].to_vec()
    }

    /// A size as a minimal-length EBML vint (all ones is reserved for "unknown").
    fn size_bytes(n: u64) -> Vec<u8> {
        let len = (1..=8).find(|&l| n < (1u64 << (7 * l)) - 1).unwrap();
        (n | 1u64 << (7 * len)).to_be_bytes()[8 - len..].to_vec()
    }

    fn el(id: u32, data: &[u8]) -> Vec<u8> {
        [id_bytes(id), size_bytes(data.len() as u64), data.to_vec()].concat()
    }

    /// An element of unknown size (8-byte 0x01FFFFFFFFFFFFFF).
    fn unknown(id: u32, data: &[u8]) -> Vec<u8> {
        [id_bytes(id), vec![0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], data.to_vec()].concat()
    }

    /// An unsigned integer element, minimal length.
    fn num(id: u32, v: u64) -> Vec<u8> {
        let b = v.to_be_bytes();
        el(id, &b[b.iter().take_while(|&&x| x == 0).count().min(7)..])
    }

    /// An unsigned integer element, always 8 bytes (so positions can be patched in later).
    fn fixed(id: u32, v: u64) -> Vec<u8> {
        el(id, &v.to_be_bytes())
    }

    /// SimpleBlock / Block data: track vint, int16 relative time, flags, then the rest.
    fn block(track: u8, rel: i16, flags: u8, rest: &[u8]) -> Vec<u8> {
        [vec![0x80 | track], rel.to_be_bytes().to_vec(), vec![flags], rest.to_vec()].concat()
    }

    fn ebml_head() -> Vec<u8> {
        el(ID_EBML, &el(0x4282, b"webm"))
    }

    /// EBML header + a Segment of known size holding `body`: (file, Segment data offset).
    fn mkv(body: &[u8]) -> (Vec<u8>, u64) {
        let file = [ebml_head(), el(ID_SEGMENT, body)].concat();
        let seg_data = (file.len() - body.len()) as u64;
        (file, seg_data)
    }

    /// Start of each part when they are concatenated.
    fn offsets(parts: &[Vec<u8>]) -> Vec<u64> {
        parts.iter().scan(0u64, |at, p| Some(std::mem::replace(at, *at + p.len() as u64))).collect()
    }

    fn find(hay: &[u8], needle: &[u8]) -> u64 {
        hay.windows(needle.len()).position(|w| w == needle).expect("needle in file") as u64
    }

    /// Runs `f` on `bytes` written to a fresh temp file (removed afterwards).
    fn with_file<R>(bytes: &[u8], f: impl FnOnce(&File, u64) -> R) -> R {
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        struct Remove(std::path::PathBuf);
        impl Drop for Remove {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = Remove(std::env::temp_dir().join(format!("libhls-mkvindex-{}-{n}.mkv", std::process::id())));
        std::fs::write(&tmp.0, bytes).unwrap();
        let file = File::open(&tmp.0).unwrap();
        f(&file, bytes.len() as u64)
    }

    fn layout_of(bytes: &[u8]) -> MkvResult<Option<Layout>> {
        with_file(bytes, read_layout)
    }

    /// Every block from `from` to the end of the segment.
    fn walk(file: &File, size: u64, layout: &Layout, from: u64) -> MkvResult<Vec<BlockHead>> {
        let mut w = BlockWalker::new(file, size, layout, from);
        let mut out = Vec::new();
        while let Some(b) = w.next_block()? {
            out.push(b);
            assert!(out.len() < 10_000, "walker does not advance");
        }
        Ok(out)
    }

    #[derive(Clone, Copy, PartialEq)]
    enum CuesAt {
        Nowhere,
        BeforeClusters,
        AfterClusters,
    }

    struct Sample {
        file: Vec<u8>,
        seg_data: u64,
        /// Absolute offsets of the two clusters.
        c1: u64,
        c2: u64,
    }

    /// Track 1 (video), track 2 (audio, CodecDelay 6.5 ms, ContentEncodings); two clusters at
    /// timestamps 1000 and 2000 with Tags between them; Cues where `at` says.
    fn sample(scale: Option<u64>, at: CuesAt) -> Sample {
        let info = el(ID_INFO, &scale.map_or(vec![], |s| num(ID_TIMESTAMP_SCALE, s)));
        let tracks = el(
            ID_TRACKS,
            &[
                el(ID_TRACK_ENTRY, &[num(ID_TRACK_NUMBER, 1), num(ID_TRACK_TYPE, 1)].concat()),
                el(
                    ID_TRACK_ENTRY,
                    &[
                        num(ID_TRACK_NUMBER, 2),
                        num(ID_TRACK_TYPE, 2),
                        num(ID_CODEC_DELAY, 6_500_000),
                        el(ID_CONTENT_ENCODINGS, &el(0x6240, &[])),
                    ]
                    .concat(),
                ),
            ]
            .concat(),
        );
        let c1 = el(
            ID_CLUSTER,
            &[
                num(ID_CLUSTER_TIMESTAMP, 1000),
                el(0xBF, &[1, 2, 3, 4]), // CRC-32
                el(ID_SIMPLE_BLOCK, &block(1, 0, 0x80, b"KEY0")),
                el(0xEC, &[0; 3]), // Void
                el(ID_SIMPLE_BLOCK, &block(2, -10, 0x80, b"AUD1")),
                el(
                    ID_BLOCK_GROUP,
                    &[el(ID_BLOCK, &block(1, 40, 0, b"REF1")), el(ID_REFERENCE_BLOCK, &[0xD8])].concat(),
                ),
                // Xiph lacing: 3 frames (count - 1 = 2), lace sizes 2 and 2, then 6 bytes.
                el(ID_SIMPLE_BLOCK, &block(2, 20, 0x82, b"\x02\x02\x02LACE01")),
            ]
            .concat(),
        );
        let tags = el(0x1254_C367, &el(0x7373, &[]));
        let c2 = el(
            ID_CLUSTER,
            &[
                num(ID_CLUSTER_TIMESTAMP, 2000),
                el(ID_BLOCK_GROUP, &[el(ID_BLOCK, &block(1, -5, 0, b"GRP2")), num(ID_BLOCK_DURATION, 33)].concat()),
                el(ID_SIMPLE_BLOCK, &block(1, 100, 0, b"LAST")),
            ]
            .concat(),
        );
        let cues = |a: u64, b: u64| {
            let tp = |t: u64, c: Option<u64>| {
                el(
                    ID_CUE_TRACK_POSITIONS,
                    &[num(ID_CUE_TRACK, t), c.map_or(vec![], |c| fixed(ID_CUE_CLUSTER_POSITION, c))].concat(),
                )
            };
            let cp = |t: Option<u64>, ps: &[Vec<u8>]| {
                el(ID_CUE_POINT, &[t.map_or(vec![], |t| num(ID_CUE_TIME, t)), ps.concat()].concat())
            };
            let points = [
                cp(Some(2000), &[tp(1, Some(b))]),
                // Track 2's keyframe "AUD1" is 25 bytes into cluster 1's data (CueRelativePosition).
                cp(
                    Some(1000),
                    &[
                        tp(1, Some(a)),
                        el(
                            ID_CUE_TRACK_POSITIONS,
                            &[
                                num(ID_CUE_TRACK, 2),
                                fixed(ID_CUE_CLUSTER_POSITION, a),
                                num(ID_CUE_RELATIVE_POSITION, 25),
                            ]
                            .concat(),
                        ),
                    ],
                ),
                cp(Some(1000), &[tp(1, Some(b))]), // same time again: cues_of keeps the first cluster
                cp(None, &[tp(1, Some(a))]),       // no CueTime: ignored
                cp(Some(1500), &[tp(1, None)]),    // no CueClusterPosition: ignored
            ];
            el(ID_CUES, &points.concat())
        };
        let seek = |p: u64| {
            el(ID_SEEKHEAD, &el(ID_SEEK, &[el(ID_SEEK_ID, &id_bytes(ID_CUES)), fixed(ID_SEEK_POSITION, p)].concat()))
        };
        // Parts: [SeekHead or Void, Info, Tracks, Cues?, Cluster 1, Tags, Cluster 2, Cues?].
        let build = |off: &[u64]| {
            let (head, before, after) = match at {
                CuesAt::AfterClusters => (seek(off[7]), vec![], cues(off[4], off[6])),
                CuesAt::BeforeClusters => (el(0xEC, &[0; 2]), cues(off[4], off[6]), vec![]),
                CuesAt::Nowhere => (el(0xEC, &[0; 2]), vec![], vec![]),
            };
            vec![head, info.clone(), tracks.clone(), before, c1.clone(), tags.clone(), c2.clone(), after]
        };
        let off = offsets(&build(&offsets(&build(&[0; 8]))));
        let (file, seg_data) = mkv(&build(&off).concat());
        Sample { file, seg_data, c1: seg_data + off[4], c2: seg_data + off[6] }
    }

    /// The blocks of `sample`, with track 2 shifted earlier by `shift` ticks.
    fn sample_blocks(s: &Sample, shift: i64) -> Vec<BlockHead> {
        let sb = |track, time, key, payload: &[u8]| {
            let data = find(&s.file, payload);
            let len = payload.len() as u64;
            BlockHead { track, time, key, pos: data - 6, data, data_len: len, frames: 1, lacing: 0, duration: None }
        };
        let group = |b: BlockHead| BlockHead { pos: b.pos - 2, ..b };
        let laced = find(&s.file, b"\x02\x02\x02LACE01") + 1;
        vec![
            sb(1, 1000, true, b"KEY0"),
            sb(2, 990 - shift, true, b"AUD1"),
            group(sb(1, 1040, false, b"REF1")),
            BlockHead {
                track: 2,
                time: 1020 - shift,
                key: true,
                pos: laced - 7,
                data: laced,
                data_len: 8,
                frames: 3,
                lacing: 1,
                duration: None,
            },
            BlockHead { duration: Some(33), ..group(sb(1, 1995, true, b"GRP2")) },
            sb(1, 2100, false, b"LAST"),
        ]
    }

    fn cue(time: i64, track: u64, cluster: u64) -> CuePoint {
        CuePoint { time, track, cluster, relative: None }
    }

    #[test]
    fn cues_after_clusters_via_seekhead() {
        let s = sample(Some(100_000), CuesAt::AfterClusters);
        let l = layout_of(&s.file).unwrap().unwrap();
        assert_eq!(l.segment_data, s.seg_data);
        assert_eq!(l.segment_end, s.file.len() as u64);
        assert_eq!(l.timestamp_scale, 100_000);
        assert_eq!(
            l.tracks,
            vec![
                TrackEntry { number: 1, kind: 1, ..TrackEntry::default() },
                TrackEntry { number: 2, kind: 2, encoded: true, codec_delay: 6_500_000, default_duration: 0 },
            ]
        );
        assert_eq!(l.first_cluster, Some(s.c1));
        let (c1, c2) = (s.c1, s.c2);
        let aud = CuePoint { relative: Some(25), ..cue(1000, 2, c1) };
        assert_eq!(l.cues, vec![cue(1000, 1, c1), cue(1000, 1, c2), cue(2000, 1, c2), aud]);
        assert_eq!(l.cues_of(1), vec![cue(1000, 1, c1), cue(2000, 1, c2)]);
        assert_eq!(l.cues_of(2), vec![aud]);
        assert_eq!(l.cues_of(3), vec![]);
    }

    #[test]
    fn cues_before_clusters_and_no_cues() {
        let s = sample(None, CuesAt::BeforeClusters);
        let l = layout_of(&s.file).unwrap().unwrap();
        assert_eq!(l.timestamp_scale, 1_000_000);
        assert_eq!(l.first_cluster, Some(s.c1));
        assert_eq!(l.cues_of(1), vec![cue(1000, 1, s.c1), cue(2000, 1, s.c2)]);
        assert_eq!(l.cues_of(2), vec![CuePoint { relative: Some(25), ..cue(1000, 2, s.c1) }]);

        let s = sample(None, CuesAt::Nowhere);
        let l = layout_of(&s.file).unwrap().unwrap();
        assert!(l.cues.is_empty());
        assert_eq!(l.first_cluster, Some(s.c1));
        assert_eq!(l.tracks.iter().map(|t| (t.number, t.kind)).collect::<Vec<_>>(), vec![(1, 1), (2, 2)]);
    }

    #[test]
    fn not_matroska_or_damaged() {
        assert!(layout_of(b"RIFF\x24\x00\x00\x00WAVEfmt ").unwrap().is_none());
        // An MP4 starts with a 32-bit box size (first byte 0): must at least not be taken for Matroska.
        assert!(!matches!(layout_of(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"), Ok(Some(_))));
        assert!(matches!(layout_of(b""), Ok(None)));
        // EBML header not followed by a Segment.
        assert!(layout_of(&[ebml_head(), el(0xEC, &[0; 4])].concat()).is_err());
        let s = sample(Some(1_000_000), CuesAt::AfterClusters);
        // Cut inside the Segment header, inside the EBML header, inside the Cues.
        for cut in [ebml_head().len() + 2, 5, s.file.len() - 3] {
            assert!(layout_of(&s.file[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn mp4_is_not_ebml() {
        assert!(matches!(layout_of(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"), Ok(None)));
    }

    #[test]
    fn cues_header_across_segment_end() {
        let cues = el(ID_CUES, &el(ID_CUE_POINT, &num(ID_CUE_TIME, 0)));
        let file = [ebml_head(), id_bytes(ID_SEGMENT), size_bytes(2), cues].concat();
        let _ = layout_of(&file); // Ok or Err, but no panic
    }

    #[test]
    fn huge_relative_position() {
        let s = sample(None, CuesAt::AfterClusters);
        with_file(&s.file, |f, size| {
            let l = read_layout(f, size).unwrap().unwrap();
            let _ = BlockWalker::new(f, size, &l, 0).block_at(s.c1, u64::MAX - s.c1 - 10);
            // Ok or Err
        });
    }

    #[test]
    fn walks_blocks_with_codec_delay_and_reads_frames() {
        // CodecDelay 6.5 ms in ticks, rounded to nearest: 1 ms -> 7, 0.1 ms -> 65, 4 ms -> 2.
        for (scale, shift) in [(None, 7), (Some(100_000), 65), (Some(4_000_000), 2)] {
            let s = sample(scale, CuesAt::AfterClusters);
            let want = sample_blocks(&s, shift);
            with_file(&s.file, |f, size| {
                let l = read_layout(f, size).unwrap().unwrap();
                assert_eq!(walk(f, size, &l, s.c1).unwrap(), want);
                assert_eq!(walk(f, size, &l, s.c2).unwrap(), want[4..]);
                // Frame bytes, read between header reads (the walker's window moves).
                let mut w = BlockWalker::new(f, size, &l, s.c1);
                while let Some(b) = w.next_block().unwrap() {
                    let (from, to) = (b.data as usize, (b.data + b.data_len) as usize);
                    assert_eq!(w.read(b.data, b.data_len as usize).unwrap(), &s.file[from..to]);
                }
                assert_eq!(w.read(want[0].data, 4).unwrap(), b"KEY0");
                assert_eq!(w.read(want[3].data, 8).unwrap(), b"\x02\x02LACE01");
                // Xiph lacing split into frames; without a DefaultDuration only the first is timed.
                let d = want[3].data;
                assert_eq!(
                    w.frames(&want[3]).unwrap(),
                    vec![(d + 2, 2, Some(want[3].time)), (d + 4, 2, None), (d + 6, 2, None)]
                );
                // With a BlockDuration, frame n is at time + duration * n / frames (FFmpeg's rule).
                let timed = BlockHead { duration: Some(10), ..want[3] };
                let times: Vec<Option<i64>> = w.frames(&timed).unwrap().iter().map(|f| f.2).collect();
                assert_eq!(times, vec![Some(timed.time), Some(timed.time + 3), Some(timed.time + 6)]);
                // Fixed-size lacing: equal parts of the data.
                let fixed = BlockHead { lacing: 2, data: d + 2, data_len: 6, ..want[3] };
                assert_eq!(
                    w.frames(&fixed).unwrap().iter().map(|f| (f.0, f.1)).collect::<Vec<_>>(),
                    vec![(d + 2, 2), (d + 4, 2), (d + 6, 2)]
                );
                assert!(w.read(size - 2, 4).is_err());
                // block_at: the block a Cue points at (cluster + CueRelativePosition), then onwards.
                let c = l.cues_of(2)[0];
                let mut w = BlockWalker::new(f, size, &l, 0);
                assert_eq!(w.block_at(c.cluster, c.relative.unwrap()).unwrap(), Some(want[1]));
                assert_eq!(w.next_block().unwrap(), Some(want[2]));
                let c1_data = find(&s.file, &num(ID_CLUSTER_TIMESTAMP, 1000));
                assert_eq!(w.block_at(s.c1, want[3].pos - c1_data).unwrap(), Some(want[3]));
                assert_eq!(w.next_block().unwrap(), Some(want[4])); // on into cluster 2
                assert_eq!(w.block_at(s.c2, 0).unwrap_err(), format!("no block at byte {}", s.c2 + 5));
                assert!(w.block_at(s.c1 + 1, 0).is_err());
            });
        }
    }

    #[test]
    fn unknown_size_clusters() {
        let tracks = el(ID_TRACKS, &el(ID_TRACK_ENTRY, &[num(ID_TRACK_NUMBER, 1), num(ID_TRACK_TYPE, 1)].concat()));
        let sb = |rel, flags, p: &[u8]| el(ID_SIMPLE_BLOCK, &block(1, rel, flags, p));
        let body = [
            el(ID_INFO, &[]),
            tracks,
            unknown(ID_CLUSTER, &[num(ID_CLUSTER_TIMESTAMP, 0), sb(0, 0x80, b"UA00"), sb(10, 0, b"UA10")].concat()),
            el(ID_CUES, &[]), // top level: ends the cluster above, then skipped
            unknown(ID_CLUSTER, &[num(ID_CLUSTER_TIMESTAMP, 100), el(0xEC, &[0]), sb(-3, 0x80, b"UB97")].concat()),
            el(ID_CLUSTER, &[num(ID_CLUSTER_TIMESTAMP, 200), sb(0, 0x80, b"KC00")].concat()),
            unknown(ID_CLUSTER, &[num(ID_CLUSTER_TIMESTAMP, 300), sb(1, 0, b"UD01")].concat()), // up to the end
        ]
        .concat();
        // Both a Segment of known size and one of unknown size.
        for file in [mkv(&body).0, [ebml_head(), unknown(ID_SEGMENT, &body)].concat()] {
            let first = find(&file, &id_bytes(ID_CLUSTER));
            with_file(&file, |f, size| {
                let l = read_layout(f, size).unwrap().unwrap();
                assert_eq!(l.segment_end, size);
                assert_eq!(l.first_cluster, Some(first));
                let got: Vec<_> = walk(f, size, &l, first).unwrap().iter().map(|b| (b.time, b.key, b.data)).collect();
                let want = [
                    (0, true, b"UA00"),
                    (10, false, b"UA10"),
                    (97, true, b"UB97"),
                    (200, true, b"KC00"),
                    (301, false, b"UD01"),
                ];
                assert_eq!(got, want.map(|(t, k, p)| (t, k, find(&file, p))));
            });
        }
        // A block before its cluster's Timestamp is an error.
        let (file, seg_data) = mkv(&el(ID_CLUSTER, &[sb(0, 0x80, b"NOTS"), num(ID_CLUSTER_TIMESTAMP, 5)].concat()));
        with_file(&file, |f, size| {
            let l = read_layout(f, size).unwrap().unwrap();
            assert!(walk(f, size, &l, seg_data).is_err());
        });
    }

    /// read_layout and full walks (from the first cluster, from every Cue, and from a few
    /// arbitrary offsets) on damaged copies: errors are fine, panics are not.
    fn survives(bytes: &[u8]) {
        with_file(bytes, |f, size| {
            let Ok(Some(l)) = read_layout(f, size) else { return };
            let starts =
                l.cues.iter().map(|c| c.cluster).chain([l.first_cluster.unwrap_or(l.segment_end), 0, 1, size / 2]);
            for at in starts {
                let _ = walk(f, size, &l, at);
            }
            for c in &l.cues {
                let _ = BlockWalker::new(f, size, &l, 0).block_at(c.cluster, c.relative.unwrap_or(0));
            }
        });
    }

    #[test]
    fn damaged_files_do_not_panic() {
        for at in [CuesAt::AfterClusters, CuesAt::BeforeClusters, CuesAt::Nowhere] {
            let s = sample(Some(1_000_000), at);
            for cut in 0..s.file.len() {
                survives(&s.file[..cut]);
            }
            // The walker started at every offset of the intact file.
            with_file(&s.file, |f, size| {
                let l = read_layout(f, size).unwrap().unwrap();
                for from in 0..size {
                    let _ = walk(f, size, &l, from);
                }
            });
            let mut seed = 0x2545_F491_4F6C_DD1Du64 ^ at as u64;
            let mut rand = move |n: usize| {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                (seed >> 33) as usize % n
            };
            for _ in 0..300 {
                let mut b = s.file.clone();
                for _ in 0..1 + rand(3) {
                    let i = rand(b.len());
                    b[i] ^= 1 + rand(255) as u8;
                }
                survives(&b);
            }
        }
    }
}
