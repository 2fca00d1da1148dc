//! Blocks read by their headers: [`BlockWalker`] walks the SimpleBlocks and BlockGroups of
//! consecutive clusters (or starts at the block a Cue points at) and yields a [`BlockHead`] per
//! block, reading frame data only when asked; [`BlockWalker::frames`] splits laced blocks.

use crate::container::read::ByteSource;

use super::ebml::*;
use super::layout::Layout;
use crate::error::{ParseError, ParseResult};

/// Bytes fetched per read by the block walker: one page, which holds a block header plus the
/// small (audio) blocks that usually follow it; larger blocks are skipped, not read.
const WALK_CHUNK: usize = 4 << 10;
/// The same for a caller-supplied source, where a read is a round trip: the two probes of a
/// segment boundary (its Cue's block and the blocks after it) are one read.
const SOURCE_WALK_CHUNK: usize = 16 << 10;

/// Smallest read size [`BlockWalker::set_read_size`] accepts.
const MIN_READ_SIZE: usize = 64;

/// Bytes fetched for a block header: track vint (≤ 8), timestamp (2), flags (1), lace count (1)
/// and some slack.
const BLOCK_HEADER_READ: usize = 16;

/// Block flags: a keyframe (SimpleBlock only).
const FLAG_KEYFRAME: u8 = 0x80;

/// [`BlockHead::lacing`]: not laced (one frame).
const LACING_NONE: u8 = 0;
/// [`BlockHead::lacing`]: Xiph lacing (sizes as runs of 255 plus a last byte).
const LACING_XIPH: u8 = 1;
/// [`BlockHead::lacing`]: fixed-size lacing (equal frames).
const LACING_FIXED: u8 = 2;
/// [`BlockHead::lacing`]: EBML lacing (first size a vint, then signed differences).
const LACING_EBML: u8 = 3;

/// The lacing bits of a block's flags.
fn lacing(flags: u8) -> u8 {
    (flags >> 1) & 3
}

/// A Xiph lace size byte that continues the size (any other value ends it).
const XIPH_CONTINUE: u8 = 255;

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
    /// Where the data of the last block read starts (its track number), what FFmpeg gives as
    /// its packets' position.
    payload: u64,
    /// A cluster of unknown size was entered.
    unsized_cluster: bool,
    /// Where the cluster being walked starts.
    cluster_start: u64,
    /// The cluster [`BlockWalker::block_at`] read the header of last: its offset, data offset,
    /// end and timestamp.
    last_cluster: Option<(u64, u64, u64, Option<i64>)>,
}

impl<'a> BlockWalker<'a> {
    /// A walker starting at the cluster at `cluster` (absolute offset).
    pub fn new(file: &'a ByteSource, file_size: u64, layout: &Layout, cluster: u64) -> BlockWalker<'a> {
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
            r: Reader::new(file, file_size, BlockWalker::base_read_size(file)),
            pos: cluster,
            end: layout.segment_end.min(file_size),
            cluster_end: 0,
            cluster_time: None,
            delays,
            payload: 0,
            unsized_cluster: false,
            cluster_start: 0,
            last_cluster: None,
        }
    }

    /// Where the data of the last block returned starts (the SimpleBlock's, or the Block's of a
    /// BlockGroup): the position FFmpeg gives each packet of it.
    pub fn payload(&self) -> u64 {
        self.payload
    }

    /// The end of the cluster being walked.
    pub fn cluster_end(&self) -> u64 {
        self.cluster_end
    }

    /// Where the cluster being walked starts (its element's offset; 0 before the first).
    pub fn cluster_start(&self) -> u64 {
        self.cluster_start
    }

    /// Whether a cluster of unknown size was entered since the walker was made.
    pub fn saw_unsized_cluster(&self) -> bool {
        self.unsized_cluster
    }

    /// The read size a new walker of `file` starts with (larger for a caller's source).
    pub fn base_read_size(file: &ByteSource) -> usize {
        if file.is_callback() {
            SOURCE_WALK_CHUNK
        } else {
            WALK_CHUNK
        }
    }

    /// Walks again from the cluster at `cluster` (absolute offset), keeping the read window and
    /// the bytes it holds: one walker serves many walks without allocating or reading again.
    pub fn restart(&mut self, cluster: u64) {
        self.pos = cluster;
        self.cluster_end = 0;
        self.cluster_time = None;
    }

    /// The next block, or `None` at the end of the segment.
    pub fn next_block(&mut self) -> ParseResult<Option<BlockHead>> {
        while self.pos < self.end {
            let e = self.r.element(self.pos)?;
            let in_cluster = self.pos < self.cluster_end && !TOP_LEVEL.contains(&e.id);
            if !in_cluster {
                self.cluster_end = 0;
                if e.id == ID_CLUSTER {
                    self.unsized_cluster |= e.size.is_none();
                    self.cluster_start = e.pos;
                    self.cluster_end = e.end(self.end);
                    self.cluster_time = None;
                    self.pos = e.data;
                    continue;
                }
                let size = e
                    .size
                    .ok_or_else(|| ParseError::new(format!("element {:#x} at byte {} has no size", e.id, e.pos)))?;
                self.pos = e.data + size;
                continue;
            }
            let size =
                e.size.ok_or_else(|| ParseError::new(format!("element {:#x} at byte {} has no size", e.id, e.pos)))?;
            self.pos = e.data + size;
            match e.id {
                ID_CLUSTER_TIMESTAMP => self.cluster_time = Some(self.r.uint(&e)? as i64),
                ID_SIMPLE_BLOCK => {
                    let b = self.block_header(&e)?;
                    return Ok(Some(BlockHead { key: b.flags & FLAG_KEYFRAME != 0, ..b.head }));
                }
                ID_BLOCK_GROUP => {
                    let (mut block, mut duration, mut referenced) = (None, None, false);
                    let end = e.data + size;
                    let mut p = e.data;
                    while p < end {
                        let c = self.r.element(p)?;
                        let cs = c
                            .size
                            .ok_or_else(|| ParseError::new(format!("block group child at byte {p} has no size")))?;
                        match c.id {
                            ID_BLOCK => block = Some(self.block_header(&c)?),
                            ID_BLOCK_DURATION => duration = Some(self.r.uint(&c)? as i64),
                            ID_REFERENCE_BLOCK => referenced = true,
                            _ => {}
                        }
                        p = c.data + cs;
                    }
                    let Some(mut b) = block else {
                        return Err(ParseError::new(format!("block group at byte {} has no block", e.pos)));
                    };
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

    /// Bytes fetched per read.
    pub fn read_size(&self) -> usize {
        self.r.chunk()
    }

    /// Bytes fetched per read from now on (small for reads that jump from Cue to Cue).
    pub fn set_read_size(&mut self, bytes: usize) {
        self.r.set_chunk(bytes.max(MIN_READ_SIZE));
    }

    /// The block a Cue points at: the one at `relative` bytes into the data of the cluster at
    /// `cluster` (absolute offset). The walk then continues after it.
    pub fn block_at(&mut self, cluster: u64, relative: u64) -> ParseResult<Option<BlockHead>> {
        // The cluster's header is read once for the blocks of one cluster asked for in a row
        // (Cues of several tracks at one time point into the same cluster).
        let data = match self.last_cluster {
            Some((at, data, end, time)) if at == cluster => {
                self.cluster_end = end;
                self.cluster_time = time;
                data
            }
            _ => {
                let e = self.r.element(cluster)?;
                if e.id != ID_CLUSTER {
                    return Err(ParseError::new(format!("no cluster at byte {cluster}")));
                }
                self.cluster_end = e.end(self.end);
                self.cluster_time = None;
                // The cluster's timestamp comes first (Matroska requires it before any block).
                let mut p = e.data;
                while p < self.cluster_end && self.cluster_time.is_none() {
                    let c = self.r.element(p)?;
                    let size = c.size.ok_or_else(|| ParseError::new(format!("element at byte {p} has no size")))?;
                    if c.id == ID_CLUSTER_TIMESTAMP {
                        self.cluster_time = Some(self.r.uint(&c)? as i64);
                    }
                    p = c.data + size;
                }
                self.last_cluster = Some((cluster, e.data, self.cluster_end, self.cluster_time));
                e.data
            }
        };
        self.pos = data
            .checked_add(relative)
            .ok_or_else(|| ParseError::new(format!("bad Cue position in the cluster at byte {cluster}")))?;
        let e2 = self.r.element(self.pos)?;
        if e2.id != ID_SIMPLE_BLOCK && e2.id != ID_BLOCK_GROUP {
            return Err(ParseError::new(format!("no block at byte {}", self.pos)));
        }
        self.next_block()
    }

    /// The frames of a block: (absolute offset, size) of each, and the time FFmpeg gives each:
    /// the block's time plus `duration * n / frames` for frame n, the duration being the
    /// BlockDuration or the track's DefaultDuration times the frame count; `None` for the later
    /// frames of a laced block with neither (FFmpeg leaves them untimed).
    pub fn frames(&mut self, b: &BlockHead) -> ParseResult<Vec<(u64, u64, Option<i64>)>> {
        let n = b.frames as usize;
        if b.lacing == LACING_NONE || n <= 1 {
            return Ok(vec![(b.data, b.data_len, Some(b.time))]);
        }
        // The lace sizes, read up to one vint's length per frame (plus one).
        let head = self.r.bytes(b.data, (b.data_len as usize).min((n + 1) * MAX_VINT_LEN))?.to_vec();
        let bad = || ParseError::new(format!("bad lacing in the block at byte {}", b.pos));
        let mut sizes: Vec<u64> = Vec::with_capacity(n);
        let mut at = 0usize;
        match b.lacing {
            LACING_XIPH => {
                for _ in 0..n - 1 {
                    let mut v = 0u64;
                    loop {
                        let x = *head.get(at).ok_or_else(bad)?;
                        at += 1;
                        v += x as u64;
                        if x != XIPH_CONTINUE {
                            break;
                        }
                    }
                    sizes.push(v);
                }
            }
            LACING_FIXED => sizes.resize(n - 1, b.data_len / n as u64),
            _ => {
                debug_assert_eq!(b.lacing, LACING_EBML);
                let (first, len) = vint(&head[at..], false).ok_or_else(bad)?;
                at += len;
                sizes.push(first);
                for _ in 1..n - 1 {
                    let (raw, len) = vint(&head[at..], false).ok_or_else(bad)?;
                    at += len;
                    let delta = raw as i64 - ((1i64 << (7 * len - 1)) - 1);
                    let prev = *sizes.last().unwrap_or(&0) as i64;
                    let size = prev.checked_add(delta).ok_or_else(bad)?;
                    sizes.push(u64::try_from(size).map_err(|_| bad())?);
                }
            }
        }
        // Sizes read from the file: their sum may overflow (a hostile lace), never trusted.
        let laced = sizes.iter().try_fold(at as u64, |sum, &s| sum.checked_add(s)).ok_or_else(bad)?;
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
    pub fn read(&mut self, pos: u64, len: usize) -> ParseResult<Vec<u8>> {
        let v = self.r.bytes(pos, len)?.to_vec();
        if v.len() < len {
            return Err(ParseError::new(format!("block data at byte {pos} is cut off by the end of the file")));
        }
        Ok(v)
    }

    /// The header of the SimpleBlock or Block `e` (`key` still unset).
    fn block_header(&mut self, e: &Element) -> ParseResult<RawHeader> {
        let size = e.size.unwrap_or(0);
        let b = self.r.bytes(e.data, BLOCK_HEADER_READ)?;
        let (track, n) = vint(b, false).ok_or_else(|| ParseError::new(format!("bad block at byte {}", e.pos)))?;
        if b.len() < n + 3 || size < (n + 3) as u64 {
            return Err(ParseError::new(format!("block at byte {} is too short", e.pos)));
        }
        let rel = i16::from_be_bytes([b[n], b[n + 1]]) as i64;
        let flags = b[n + 2];
        let laced = lacing(flags) != LACING_NONE;
        if laced && (b.len() < n + 4 || size < (n + 4) as u64) {
            return Err(ParseError::new(format!("laced block at byte {} is too short", e.pos)));
        }
        let (frames, header) = if laced { (b[n + 3] as u32 + 1, n + 4) } else { (1, n + 3) };
        let cluster = self
            .cluster_time
            .ok_or_else(|| ParseError::new(format!("block at byte {} before its cluster's timestamp", e.pos)))?;
        let shift = self.delays.iter().find(|d| d.0 == track).map_or(0, |d| d.1);
        self.payload = e.data;
        Ok(RawHeader {
            head: BlockHead {
                track,
                time: cluster.saturating_add(rel).saturating_sub(shift),
                key: false,
                pos: e.pos,
                data: e.data + header as u64,
                data_len: size.saturating_sub(header as u64),
                frames,
                lacing: lacing(flags),
                duration: None,
            },
            flags,
        })
    }
}

/// A block header and its flags byte.
struct RawHeader {
    /// What the header says.
    head: BlockHead,
    /// The flags byte (the keyframe flag counts for a SimpleBlock only).
    flags: u8,
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::container::mkv::read_layout;

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
                assert_eq!(w.block_at(s.c2, 0).unwrap_err().message(), format!("no block at byte {}", s.c2 + 5));
                assert!(w.block_at(s.c1 + 1, 0).is_err());
            });
        }
    }

    #[test]
    fn blocks_asked_for_by_cue_in_any_cluster_order_are_the_blocks_there() {
        let s = sample(None, CuesAt::AfterClusters);
        let want = sample_blocks(&s, 7);
        with_file(&s.file, |f, size| {
            let l = read_layout(f, size).unwrap().unwrap();
            let c1_data = find(&s.file, &num(ID_CLUSTER_TIMESTAMP, 1000));
            let c2_data = find(&s.file, &num(ID_CLUSTER_TIMESTAMP, 2000));
            let at = |b: &BlockHead, data: u64| b.pos - data;
            // Two blocks of cluster 1 in a row (its header read once), one of cluster 2, a walk
            // on from there, then cluster 1 again: each the block a fresh walker finds.
            let asks = [(s.c1, at(&want[0], c1_data)), (s.c1, at(&want[3], c1_data)), (s.c2, at(&want[5], c2_data))];
            let mut w = BlockWalker::new(f, size, &l, 0);
            for (cluster, relative) in asks.iter().chain(&asks[..2]) {
                let fresh = BlockWalker::new(f, size, &l, 0).block_at(*cluster, *relative).unwrap();
                assert!(fresh.is_some());
                assert_eq!(w.block_at(*cluster, *relative).unwrap(), fresh, "{cluster} + {relative}");
                // FFmpeg's packet position: the block's data (track number, time, flags, lace count).
                assert_eq!(w.payload(), fresh.map_or(0, |b| b.data - if b.lacing == 0 { 4 } else { 5 }));
            }
            assert_eq!(w.next_block().unwrap(), Some(want[4]));
        });
    }

    #[test]
    fn a_restarted_walker_walks_as_a_new_one() {
        let s = sample(None, CuesAt::AfterClusters);
        with_file(&s.file, |f, size| {
            let l = read_layout(f, size).unwrap().unwrap();
            let mut w = BlockWalker::new(f, size, &l, s.c2);
            let mut reused = Vec::new();
            // Mid-cluster, then from the other cluster, then the first again (window kept).
            assert!(w.next_block().unwrap().is_some());
            for from in [s.c1, s.c2, s.c1] {
                w.restart(from);
                let mut blocks = Vec::new();
                while let Some(b) = w.next_block().unwrap() {
                    blocks.push(b);
                }
                assert_eq!(blocks, walk(f, size, &l, from).unwrap(), "from {from}");
                reused.push(blocks.len());
            }
            assert!(reused[0] > reused[1], "{reused:?}");
        });
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
