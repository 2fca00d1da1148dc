//! The source file of one opened media as segments read it: the file handle (or the
//! caller-supplied source) for positioned reads, a pool of FFmpeg demuxers, and one reading
//! function per [`SampleReader`] path. Every read of a local file first checks that the file is
//! still the one indexed (a caller-supplied source's identity string is its version: it is not
//! checked again). Nothing here writes fMP4.

use std::fs::File;
use std::sync::Arc;

use ffmpeg_next as ff;
use parking_lot::Mutex;

use crate::container::demux::{timed_packet, Demuxer};
use crate::container::mkv::BlockWalker;
use crate::container::read::{ByteSource, Window};
use crate::error::{Error, ErrorKind, Result};
use crate::model::identity::FileIdentity;
use crate::model::media_index::MediaIndex;
use crate::model::segment::{SampleRec, Segment};
use crate::model::time::US_PER_SECOND;
#[cfg(doc)]
use crate::model::track::SampleReader;
use crate::model::track::{RangeSeek, Track, TrackKind};

/// How many blocks a Matroska block walk skips looking for a segment's keyframe before it calls
/// the file damaged.
const MAX_SKIPPED_BLOCKS: usize = 100_000;

/// Most bytes per read when a Matroska segment is walked block by block from a caller-supplied
/// source (its clusters' span, when known, is read in one read up to this).
const SOURCE_SEGMENT_CHUNK: usize = 8 << 20;
/// Bytes read past the next segment's cluster (the first blocks there: where the walk stops,
/// and audio stored after the keyframe).
const SOURCE_SEGMENT_MARGIN: u64 = 64 << 10;

/// How far before the wanted time a seek without a per-sample index aims (then reads forward).
const SEEK_MARGIN_US: i64 = US_PER_SECOND;

/// The file of one media, read when segments are generated.
pub(crate) struct Source {
    /// The file as opened when indexed (positioned reads of samples, and the descriptor that
    /// file ranges are sent from; a replaced file keeps serving the version that was indexed),
    /// or the caller-supplied source.
    input: ByteSource,
    demuxers: Mutex<Vec<Demuxer>>,
    max_idle_demuxers: usize,
    /// A caller-supplied source: the clusters of the last few Matroska segments read, shared by
    /// the block walks of their tracks (read once, concurrent walks wait for the one read).
    windows: Mutex<std::collections::VecDeque<WindowCell>>,
}

/// One read-ahead window of a caller-supplied source: where it starts, and its bytes (once read).
type WindowCell = (u64, Arc<std::sync::OnceLock<std::io::Result<Arc<Window>>>>);

/// How many read-ahead windows a media keeps.
const WINDOWS: usize = 4;

/// Checks the file on disk is still the one indexed (one `stat`; nothing for a caller-supplied
/// source, whose identity string is its version).
fn check_unchanged(ix: &MediaIndex) -> Result<()> {
    if ix.identity.is_source() {
        return Ok(());
    }
    let now = FileIdentity::of(&ix.path)?;
    if now != ix.identity {
        return Err(Error::new(
            ErrorKind::FileChanged,
            format!("{}: the file changed on disk since it was indexed; open it again", ix.path.display()),
        ));
    }
    Ok(())
}

impl Source {
    /// Reads `input` (the file or source that was indexed); demuxers are opened when first
    /// needed.
    pub(crate) fn new(input: ByteSource, max_idle_demuxers: usize) -> Source {
        Source { input, demuxers: Mutex::new(Vec::new()), max_idle_demuxers, windows: Mutex::default() }
    }

    /// True for a caller-supplied source (its segments are bytes, never file ranges).
    pub(crate) fn is_callback(&self) -> bool {
        self.input.is_callback()
    }

    fn take_demuxer(&self, ix: &MediaIndex) -> Result<Demuxer> {
        if let Some(d) = self.demuxers.lock().pop() {
            return Ok(d);
        }
        Demuxer::open(&self.input, !ix.exact_timestamps())
    }

    fn put_demuxer(&self, d: Demuxer) {
        let mut pool = self.demuxers.lock();
        if pool.len() < self.max_idle_demuxers {
            pool.push(d);
        }
    }

    /// Runs `f` with a pooled demuxer; a demuxer that saw an error is dropped, not reused.
    fn with_demuxer<T>(&self, ix: &MediaIndex, f: impl FnOnce(&mut Demuxer) -> Result<T>) -> Result<T> {
        check_unchanged(ix)?;
        let mut d = self.take_demuxer(ix)?;
        let out = f(&mut d)?;
        self.put_demuxer(d);
        Ok(out)
    }

    /// [`SampleReader::ByPosition`]: checks that the file on disk is still the one indexed and
    /// that the samples' byte ranges, up to `end`, lie inside it; the samples themselves are
    /// sent (or read) later as ranges of [`Source::checked_file`].
    pub(crate) fn check_ranges(&self, ix: &MediaIndex, end: u64) -> Result<()> {
        check_unchanged(ix)?;
        if end > ix.identity.size {
            return Err(Error::new(
                ErrorKind::InvalidMedia,
                format!("samples up to byte {end} of a {}-byte file (file truncated or changed)", ix.identity.size),
            ));
        }
        Ok(())
    }

    /// The descriptor that file ranges are read or sent from, after checking (one `fstat`) that
    /// it is still the version that was indexed: a file truncated or rewritten in place is
    /// [`ErrorKind::FileChanged`], never stale bytes.
    pub(crate) fn checked_file(&self, ix: &MediaIndex) -> Result<&Arc<File>> {
        let file = self.input.file().ok_or_else(|| Error::internal("a caller-supplied source has no file"))?;
        let now = FileIdentity::of_file(file, &ix.path)?;
        if now != ix.identity {
            return Err(Error::new(
                ErrorKind::FileChanged,
                format!("{}: the file changed on disk since it was indexed; open it again", ix.path.display()),
            ));
        }
        Ok(file)
    }

    /// What samples are read from: the file (after the check of [`Source::checked_file`]) or
    /// the caller-supplied source.
    pub(crate) fn checked_input(&self, ix: &MediaIndex) -> Result<&ByteSource> {
        if !self.input.is_callback() {
            self.checked_file(ix)?;
        }
        Ok(&self.input)
    }

    /// The read-ahead window of `len` bytes at `pos` of the caller-supplied source: one read,
    /// kept for the next walks that start there (the segment's other tracks).
    fn window(&self, pos: u64, len: u64, size: u64) -> Result<ByteSource> {
        let cell = {
            let mut windows = self.windows.lock();
            let found = windows.iter().find(|(p, c)| {
                *p == pos && c.get().is_none_or(|r| r.as_ref().is_ok_and(|w| w.covers(pos, len.min(size - pos))))
            });
            match found {
                Some((_, c)) => c.clone(),
                None => {
                    let c: WindowCell = (pos, Arc::default());
                    if windows.len() >= WINDOWS {
                        windows.pop_front();
                    }
                    windows.push_back(c.clone());
                    c.1
                }
            }
        };
        match cell.get_or_init(|| Window::read(&self.input, pos, len, size).map(Arc::new)) {
            Ok(w) => Ok(ByteSource::Window(w.clone())),
            Err(e) => {
                // Not kept: the next request reads again (the store may be back).
                self.windows.lock().retain(|(_, c)| !Arc::ptr_eq(c, &cell));
                Err(Error::new(ErrorKind::Io, format!("segment clusters at byte {pos}: {e}")))
            }
        }
    }

    /// [`SampleReader::MatroskaBlocks`]: the samples of segment `k` of `t`, walked block by
    /// block from its cluster when `track_number` allows; through FFmpeg's demuxer when the
    /// walker cannot read them (laced video, a damaged stretch: FFmpeg resynchronises on the next
    /// cluster, as a scan would). With `true` when every packet's position is the file offset
    /// of its bytes, verbatim (the block walker's), so they can be sent as a range of the file.
    pub(crate) fn read_planned(
        &self,
        ix: &MediaIndex,
        t: &Track,
        k: usize,
        track_number: Option<u64>,
    ) -> Result<(Vec<ff::Packet>, bool)> {
        let seg = t.segments[k];
        let next_key = t.segments.get(k + 1).map(|s| s.start_pts);
        // From a caller-supplied source the walk reads the segment's clusters in one read: up
        // to the next segment's cluster (a little more for audio stored after it).
        let span = t.segments.get(k + 1).map(|s| s.cluster.saturating_sub(seg.cluster));
        let back = k.checked_sub(1).map(|j| t.segments[j].cluster);
        match self.read_blocks(ix, t, &seg, track_number, (next_key, back), span) {
            Ok(Some(p)) => Ok((p, true)),
            Err(e) if e.kind == ErrorKind::FileChanged || (e.kind == ErrorKind::Io && self.input.is_callback()) => {
                Err(e)
            }
            other => {
                if let Err(e) = other {
                    log::warn!(
                        "{}: segment {k} of stream {}: {}; reading it through FFmpeg",
                        ix.path.display(),
                        t.stream,
                        e.message
                    );
                }
                Ok((self.with_demuxer(ix, |d| read_timed(d, t, &seg, next_key))?, false))
            }
        }
    }

    /// [`SampleReader::Demuxer`]: exactly the samples of `seg`, through FFmpeg's demuxer.
    pub(crate) fn read_exactly(
        &self,
        ix: &MediaIndex,
        t: &Track,
        seg: &Segment,
        exact: bool,
    ) -> Result<Vec<ff::Packet>> {
        self.with_demuxer(ix, |d| read_segment(d, t, seg, exact))
    }

    /// [`SampleReader::DemuxerRange`]: every packet of `t` with decode time in `[from, to)`,
    /// through FFmpeg's demuxer.
    pub(crate) fn read_range(
        &self,
        ix: &MediaIndex,
        t: &Track,
        seek: &RangeSeek,
        from: i64,
        to: i64,
    ) -> Result<Vec<ff::Packet>> {
        match seek {
            // Select by time after a seek, exact (container timestamps) or not (Matroska Cues).
            RangeSeek::Exact | RangeSeek::Approximate => {
                let exact = matches!(seek, RangeSeek::Exact);
                self.with_demuxer(ix, |d| read_packets(d, t, from, to, exact))
            }
            // Timestamps after a seek may be estimates (MP3): anchor on byte positions and use
            // the timestamps found at indexing.
            RangeSeek::Anchored { table } => {
                let table = table.all().map_err(|_| {
                    Error::new(
                        ErrorKind::FileChanged,
                        format!("{}: its persisted index is damaged; open the file again", ix.path.display()),
                    )
                })?;
                self.with_demuxer(ix, |d| read_anchored(d, t, table, from, to))
            }
        }
    }

    /// The samples of a segment planned from Matroska Cues, read block by block from its
    /// cluster: only block headers and this track's frames are read. Video: from the keyframe at
    /// `seg.start_pts` to the next segment's keyframe; audio: frames timed in
    /// `[src_start, src_end)`, laced blocks split. `None` when FFmpeg must read it (laced video,
    /// laced frames without timing).
    fn read_blocks(
        &self,
        ix: &MediaIndex,
        t: &Track,
        seg: &Segment,
        track_number: Option<u64>,
        (next_key, back): (Option<i64>, Option<u64>),
        span: Option<u64>,
    ) -> Result<Option<Vec<ff::Packet>>> {
        let mut out: Vec<ff::Packet> = Vec::new();
        let walked = self.walk_blocks(ix, t, seg, track_number, (next_key, back), span, |w, s| {
            let len = usize::try_from(s.len).map_err(|_| damaged(format!("frame at byte {} too large", s.pos)))?;
            let mut p = timed_packet(&w.read(s.pos, len).map_err(damaged)?, s.pts, s.dts, 0, s.key);
            p.set_position(s.pos as isize);
            out.push(p);
            Ok(())
        })?;
        Ok(walked.then_some(out))
    }

    /// The samples of segment `k` of `t` as [`Source::read_planned`] finds them with the block
    /// walker, but only where they are in the local file: no frame is read (a segment sent as
    /// ranges of the file, or read once from them, needs none). `None` when the walker cannot
    /// read them (FFmpeg must: [`Source::read_planned`]) or for a caller-supplied source.
    pub(crate) fn planned_positions(
        &self,
        ix: &MediaIndex,
        t: &Track,
        k: usize,
        track_number: Option<u64>,
    ) -> Result<Option<Vec<BlockSample>>> {
        if self.input.is_callback() {
            return Ok(None);
        }
        let seg = t.segments[k];
        let next_key = t.segments.get(k + 1).map(|s| s.start_pts);
        let back = k.checked_sub(1).map(|j| t.segments[j].cluster);
        let mut out = Vec::new();
        match self.walk_blocks(ix, t, &seg, track_number, (next_key, back), None, |_, s| {
            out.push(s);
            Ok(())
        }) {
            Ok(true) => Ok(Some(out)),
            Ok(false) => Ok(None),
            Err(e) if e.kind == ErrorKind::FileChanged => Err(e),
            // Damaged: read_planned walks again, says so and reads it through FFmpeg.
            Err(_) => Ok(None),
        }
    }

    /// Walks the blocks of segment `seg` of `t` from its cluster, handing each of the track's
    /// samples in the segment to `emit` (see [`Source::read_blocks`]). `false` when FFmpeg
    /// must read it. An audio segment whose first frame (at `seg.src_start`) is not found from
    /// its cluster, before any frame is handed over, is walked again from `back` (the previous
    /// segment's cluster): a plan made without probing its boundary (`index::mkv`) names the
    /// keyframe's cluster, and a muxer may store that frame before it. Frames are handed over
    /// by the planned times either way (each frame in exactly one segment); a first frame not
    /// at `seg.src_start` even then is logged.
    #[allow(clippy::too_many_arguments)]
    fn walk_blocks(
        &self,
        ix: &MediaIndex,
        t: &Track,
        seg: &Segment,
        track_number: Option<u64>,
        (next_key, back): (Option<i64>, Option<u64>),
        span: Option<u64>,
        mut emit: impl FnMut(&mut BlockWalker, BlockSample) -> Result<()>,
    ) -> Result<bool> {
        let (Some(number), Some(layout)) = (track_number, &ix.matroska) else {
            return Ok(false);
        };
        check_unchanged(ix)?;
        // From a caller-supplied source: the segment's clusters in one read (up to the next
        // segment's cluster and a margin), shared with the other tracks' walks of this segment.
        let window = match span {
            Some(span) if self.input.is_callback() => {
                let len = span.saturating_add(SOURCE_SEGMENT_MARGIN).min(SOURCE_SEGMENT_CHUNK as u64);
                Some(self.window(seg.cluster, len, ix.identity.size)?)
            }
            _ => None,
        };
        let video = t.kind == TrackKind::Video;
        // Where the walk starts, and whether it may still start again from `back`.
        let (mut from, mut again) = (seg.cluster, back.filter(|&b| !video && b < seg.cluster));
        'walk: loop {
            // A walk from `back` starts before the window: it reads the file itself.
            let file = window.as_ref().filter(|_| from == seg.cluster).unwrap_or(&self.input);
            let mut w = BlockWalker::new(file, ix.identity.size, layout, from);
            if file.is_callback() {
                // Past the window (audio stored after the next keyframe): reads of a margin each.
                w.set_read_size(if window.is_some() { SOURCE_SEGMENT_MARGIN as usize } else { SOURCE_SEGMENT_CHUNK });
            }
            let mut started = false;
            let mut skipped = 0usize;
            // Blocks seen and their bytes: over small blocks (a low bit rate) of a local file,
            // larger reads (fewer system calls); large ones stay skipped with small reads.
            let (mut blocks, mut block_bytes) = (0u64, 0u64);
            while let Some(b) = w.next_block().map_err(damaged)? {
                if !file.is_callback() && blocks < SMALL_BLOCKS_SEEN {
                    blocks += 1;
                    block_bytes = block_bytes.saturating_add(b.data_len);
                    if blocks == SMALL_BLOCKS_SEEN && block_bytes < SMALL_BLOCKS_SEEN * SMALL_BLOCK {
                        w.set_read_size(LOCAL_SMALL_BLOCKS_CHUNK);
                    }
                }
                if b.track != number {
                    continue;
                }
                if video {
                    if b.frames != 1 {
                        return Ok(false);
                    }
                    if !(started || b.key && b.time == seg.start_pts) {
                        skipped += 1;
                        if skipped > MAX_SKIPPED_BLOCKS {
                            return Err(damaged(format!(
                                "no keyframe at ts {} after byte {}",
                                seg.start_pts, seg.cluster
                            )));
                        }
                        continue;
                    }
                    if started && b.key && Some(b.time) == next_key {
                        break;
                    }
                    started = true;
                    emit(&mut w, BlockSample { pos: b.data, len: b.data_len, pts: b.time, dts: None, key: b.key })?;
                    continue;
                }
                // Audio: every frame (laced ones split as FFmpeg splits them) timed in the range.
                if b.time >= seg.src_end {
                    break;
                }
                for (pos, size, time) in w.frames(&b).map_err(damaged)? {
                    let Some(time) = time else { return Ok(false) };
                    if time < seg.src_start || time >= seg.src_end {
                        continue;
                    }
                    if !started && time != seg.src_start {
                        if let Some(b) = again.take() {
                            from = b;
                            continue 'walk;
                        }
                        log::warn!(
                            "{}: stream {}: the frame planned at ts {} is not there (the first is at {time}); \
                             the segment holds the frames timed from {} to {}",
                            ix.path.display(),
                            t.stream,
                            seg.src_start,
                            seg.src_start,
                            seg.src_end
                        );
                    }
                    started = true;
                    emit(&mut w, BlockSample { pos, len: size, pts: time, dts: Some(time), key: true })?;
                }
            }
            if !video && !started && seg.src_start < seg.src_end {
                if let Some(b) = again.take() {
                    from = b;
                    continue 'walk;
                }
            }
            return Ok(true);
        }
    }
}

/// Below this many bytes per block on average (all tracks), a segment's blocks are small.
const SMALL_BLOCK: u64 = 2 << 10;
/// Blocks of a walk averaged to tell.
const SMALL_BLOCKS_SEEN: u64 = 16;
/// Bytes per read of the block walker over small blocks of a local file (it reads 4 KiB by
/// default, one header and the small blocks after it: one read per few blocks).
const LOCAL_SMALL_BLOCKS_CHUNK: usize = 32 << 10;

/// One sample of a Matroska segment as the block walker found it: where its bytes are in the
/// file, its times and whether it is a keyframe.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BlockSample {
    /// File offset of its bytes.
    pub pos: u64,
    /// Its length in bytes.
    pub len: u64,
    /// Presentation time.
    pub pts: i64,
    /// Decode time (audio), or none (video: derived, or its presentation time).
    pub dts: Option<i64>,
    /// A keyframe.
    pub key: bool,
}

/// A block the walker could not read as it should: the file is damaged or changed.
fn damaged(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidMedia, format!("{e} (file damaged or changed)"))
}

/// Seeks to the start of `[from, to)` (source decode timestamps) of one stream.
fn seek_to(d: &mut Demuxer, t: &Track, from: i64, exact_index: bool) -> Result<()> {
    d.select(&[t.stream]);
    if exact_index {
        d.seek(Some(t.stream), from)
    } else {
        // No per-sample index: seek on the default stream a little early and read forward.
        d.seek(None, t.map.us(from) - SEEK_MARGIN_US)
    }
}

/// Reads the `n` packets of stream `t` that follow (and include) the one whose presentation
/// time is `start_pts`, in decode order. For containers without an exact per-sample index.
fn read_counted(d: &mut Demuxer, t: &Track, start_pts: i64, n: usize) -> Result<Vec<ff::Packet>> {
    let mut out = Vec::with_capacity(n);
    let mut pkt = ff::Packet::empty();
    while out.len() < n && d.read(&mut pkt)? {
        if pkt.stream() != t.stream {
            continue;
        }
        if out.is_empty() && pkt.pts().or(pkt.dts()) != Some(start_pts) {
            continue;
        }
        out.push(std::mem::replace(&mut pkt, ff::Packet::empty()));
    }
    Ok(out)
}

/// Reads the packets of the samples of `table` with decode time in `[from, to)`: after a seek,
/// the first one is found by its byte position, and every packet gets the timestamps recorded
/// at indexing (a demuxer's timestamps after a seek can be estimates, e.g. MP3 without a TOC).
fn read_anchored(d: &mut Demuxer, t: &Track, table: &[SampleRec], from: i64, to: i64) -> Result<Vec<ff::Packet>> {
    let i0 = table.partition_point(|s| s.dts < from);
    let i1 = table.partition_point(|s| s.dts < to);
    let Some(first) = table.get(i0).filter(|_| i1 > i0) else { return Ok(Vec::new()) };
    if first.pos == 0 {
        // No byte position recorded (e.g. laced Matroska frames): select by time.
        return read_packets(d, t, from, to, false);
    }
    let wanted = &table[i0..i1];
    let attempt = |d: &mut Demuxer| -> Result<Vec<ff::Packet>> {
        let mut out = Vec::with_capacity(wanted.len());
        let mut pkt = ff::Packet::empty();
        while out.len() < wanted.len() && d.read(&mut pkt)? {
            if pkt.stream() != t.stream {
                continue;
            }
            if out.is_empty() && u64::try_from(pkt.position()).ok() != Some(first.pos) {
                continue;
            }
            let rec = wanted[out.len()];
            let mut p = std::mem::replace(&mut pkt, ff::Packet::empty());
            p.set_pts(Some(rec.pts()));
            p.set_dts(Some(rec.dts));
            out.push(p);
        }
        Ok(out)
    };
    seek_to(d, t, first.dts, false)?;
    let mut packets = attempt(d)?;
    if packets.len() != wanted.len() {
        // The seek landed after the first wanted packet: read from the start (result cached).
        d.seek(None, i64::MIN)?;
        packets = attempt(d)?;
    }
    if packets.len() != wanted.len() {
        return Err(Error::media(format!(
            "expected {} packets from byte {}, read {}",
            wanted.len(),
            first.pos,
            packets.len()
        )));
    }
    Ok(packets)
}

/// Reads every packet of stream `t` with decode time in `[from, to)`.
fn read_packets(d: &mut Demuxer, t: &Track, from: i64, to: i64, exact_index: bool) -> Result<Vec<ff::Packet>> {
    seek_to(d, t, from, exact_index)?;
    let mut out = Vec::new();
    let mut pkt = ff::Packet::empty();
    while d.read(&mut pkt)? {
        if pkt.stream() != t.stream {
            continue;
        }
        let Some(dts) = pkt.dts().or(pkt.pts()) else { continue };
        if dts >= to {
            break;
        }
        if dts >= from {
            out.push(std::mem::replace(&mut pkt, ff::Packet::empty()));
        }
    }
    Ok(out)
}

/// Reads the samples of a segment planned from Matroska Cues. Video: from the keyframe at
/// `seg.start_pts` (an exact seek through the Cues) up to the next segment's keyframe. Audio:
/// every frame with decode time in `[src_start, src_end)`, after a seek a little before it.
fn read_timed(d: &mut Demuxer, t: &Track, seg: &Segment, next_key: Option<i64>) -> Result<Vec<ff::Packet>> {
    if t.kind != TrackKind::Video {
        return read_packets(d, t, seg.src_start, seg.src_end, false);
    }
    d.select(&[t.stream]);
    d.seek(Some(t.stream), seg.start_pts)?;
    let mut out: Vec<ff::Packet> = Vec::new();
    let mut pkt = ff::Packet::empty();
    while d.read(&mut pkt)? {
        if pkt.stream() != t.stream {
            continue;
        }
        let pts = pkt.pts().or(pkt.dts());
        if out.is_empty() && !(pkt.is_key() && pts == Some(seg.start_pts)) {
            continue;
        }
        if !out.is_empty() && pkt.is_key() && pts.is_some() && pts == next_key {
            break;
        }
        out.push(std::mem::replace(&mut pkt, ff::Packet::empty()));
    }
    if out.is_empty() {
        return Err(Error::media(format!("no keyframe at ts {} (file damaged or changed)", seg.start_pts)));
    }
    Ok(out)
}

/// Reads exactly the samples of one segment and checks them against the index, so a file that
/// changed under an open handle fails clearly instead of serving mixed bytes.
fn read_segment(d: &mut Demuxer, t: &Track, seg: &Segment, exact_index: bool) -> Result<Vec<ff::Packet>> {
    let n = seg.samples as usize;
    let packets = if exact_index {
        read_packets(d, t, seg.src_start, seg.src_end, true)?
    } else {
        seek_to(d, t, seg.start_pts, false)?;
        let mut p = read_counted(d, t, seg.start_pts, n)?;
        if p.len() != n {
            // The seek landed late: read from the start (slow, but correct; the result is cached).
            d.seek(None, i64::MIN)?;
            p = read_counted(d, t, seg.start_pts, n)?;
        }
        p
    };
    let first_ok = if exact_index {
        packets.first().and_then(|p| p.dts().or(p.pts())) == Some(seg.src_start)
    } else {
        packets.first().and_then(|p| p.pts().or(p.dts())) == Some(seg.start_pts)
    };
    if packets.len() != n || !first_ok {
        return Err(Error::new(
            ErrorKind::InvalidMedia,
            format!(
                "expected {} samples from ts {}, read {} (file damaged or changed)",
                seg.samples,
                seg.src_start,
                packets.len()
            ),
        ));
    }
    Ok(packets)
}
