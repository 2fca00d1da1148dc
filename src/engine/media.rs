//! One opened media file: its index, a pool of demuxers, and the generation of every resource
//! its playlists name. Playlists, init segments and WebVTT come from memory; media segments read
//! only their own track's packets through a pooled demuxer.

use std::path::Path;
use std::sync::Arc;

use ffmpeg_next as ff;
use parking_lot::Mutex;

use crate::container::demux::{timed_packet, Demuxer};
use crate::container::mkv::BlockWalker;
use crate::engine::cache::Bytes;
use crate::error::{Error, ErrorKind, Result};
use crate::model::identity::FileIdentity;
use crate::model::media_index::MediaIndex;
use crate::model::names::{Resource, TrackId};
use crate::model::segment::{SampleRec, Segment};
use crate::model::track::{Delivery, Track, TrackKind};
use crate::output::fmp4::{self, SampleMeta, TrackInit};
use crate::output::playlist;
use crate::output::webvtt;
use crate::transcode;
use std::fs::File;
use std::os::unix::fs::FileExt;

/// MIME types of served resources.
pub mod mime {
    /// Playlists.
    pub const M3U8: &str = "application/vnd.apple.mpegurl";
    /// Video init and media segments.
    pub const VIDEO_MP4: &str = "video/mp4";
    /// Audio init and media segments.
    pub const AUDIO_MP4: &str = "audio/mp4";
    /// WebVTT.
    pub const VTT: &str = "text/vtt";
    /// JSON (info and stats).
    pub const JSON: &str = "application/json";
}

/// An indexed file shared by every handle that opened it.
pub struct Media {
    /// The index.
    pub index: MediaIndex,
    /// The file as opened when indexed (positioned reads of samples; a replaced file keeps
    /// serving the version that was indexed).
    file: Option<File>,
    demuxers: Mutex<Vec<Demuxer>>,
    max_idle_demuxers: usize,
}

impl Media {
    /// Wraps a fresh index.
    pub fn new(index: MediaIndex, max_idle_demuxers: usize) -> Media {
        let file = File::open(&index.path).ok();
        Media { index, file, demuxers: Mutex::new(Vec::new()), max_idle_demuxers }
    }

    /// Content type of a resource of this media.
    pub fn content_type(&self, r: &Resource) -> &'static str {
        match r {
            Resource::Master | Resource::MediaPlaylist(_) => mime::M3U8,
            Resource::Vtt(..) | Resource::VttFull(_) => mime::VTT,
            Resource::Init(n) | Resource::Segment(n, _) => match self.index.track(*n).map(|t| t.kind) {
                Some(TrackKind::Video) => mime::VIDEO_MP4,
                _ => mime::AUDIO_MP4,
            },
        }
    }

    /// Checks that `r` is named by this media's playlists (else `NotFound`).
    pub fn check_named(&self, r: &Resource, name: &str) -> Result<()> {
        let track = |n: TrackId| self.index.track(n).filter(|t| t.is_served());
        let ok = match *r {
            Resource::Master => true,
            Resource::MediaPlaylist(n) => track(n).is_some(),
            Resource::Init(n) => track(n).is_some_and(Track::is_fmp4),
            Resource::Segment(n, k) => track(n).is_some_and(|t| t.is_fmp4() && k < t.segments.len()),
            Resource::Vtt(n, k) => {
                track(n).is_some_and(|t| t.kind == TrackKind::Subtitle) && k < self.index.segment_count()
            }
            Resource::VttFull(n) => track(n).is_some_and(|t| t.kind == TrackKind::Subtitle),
        };
        if ok {
            Ok(())
        } else {
            Err(Error::not_found(name))
        }
    }

    /// Generates the bytes of `r` (which `check_named` accepted).
    pub fn generate(&self, r: &Resource) -> Result<Bytes> {
        let bytes: Vec<u8> = match *r {
            Resource::Master => playlist::master(&self.index).into_bytes(),
            Resource::MediaPlaylist(n) => {
                let t = self.track(n)?;
                if t.kind == TrackKind::Subtitle {
                    playlist::subtitle_media(&self.index, t).into_bytes()
                } else {
                    playlist::media(&self.index, t).into_bytes()
                }
            }
            Resource::Init(n) => self.init_segment(self.track(n)?)?,
            Resource::Segment(n, k) => self.media_segment(self.track(n)?, k)?,
            Resource::Vtt(n, k) => self.vtt_segment(self.track(n)?, k)?,
            Resource::VttFull(n) => match &self.track(n)?.delivery {
                Delivery::Cues(c) => webvtt::render_full(c, self.index.mpegts_origin),
                _ => return Err(Error::internal("not a subtitle track")),
            },
        };
        Ok(std::sync::Arc::new(bytes))
    }

    /// What was found: duration and every track with codec, language, and whether it is served.
    pub fn info_json(&self) -> String {
        let ix = &self.index;
        let tracks: Vec<serde_json::Value> = ix
            .tracks
            .iter()
            .map(|t| {
                serde_json::json!({
                    "index": t.stream,
                    "rendition": t.id.to_string(),
                    "type": t.kind.name(),
                    "codec": t.codec_name,
                    "codec_string": t.codec_string(),
                    "language": t.language,
                    "title": t.title,
                    "default": t.default,
                    "forced": t.forced,
                    "served": t.is_served(),
                    "delivery": match &t.delivery {
                        Delivery::Copy { .. } => "copy",
                        Delivery::Transcode { .. } => "transcode-aac",
                        Delivery::Cues(_) => "webvtt",
                        Delivery::NotServed(_) => "none",
                    },
                    "reason": t.not_served_reason(),
                    "playlist": t.is_served().then(|| Resource::MediaPlaylist(t.id).name()),
                    "segments": if t.kind == TrackKind::Subtitle && t.is_served() { ix.segment_count() } else { t.segments.len() },
                    "width": (t.kind == TrackKind::Video).then_some(t.width),
                    "height": (t.kind == TrackKind::Video).then_some(t.height),
                    "frame_rate": t.frame_rate.filter(|_| t.kind == TrackKind::Video),
                    "sample_rate": (t.kind == TrackKind::Audio).then_some(t.sample_rate),
                    "channels": (t.kind == TrackKind::Audio).then_some(t.channels),
                    "timescale": t.is_fmp4().then_some(t.map.timescale),
                })
            })
            .collect();
        serde_json::json!({
            "path": ix.path.display().to_string(),
            "format": ix.format,
            "duration": ix.duration_us as f64 / 1e6,
            "segments": ix.segment_count(),
            "target_duration": playlist::target_duration(ix),
            "indexed_from": ix.indexed_from.name(),
            "index_time_ms": ix.index_time.as_secs_f64() * 1e3,
            "tracks": tracks,
        })
        .to_string()
    }

    fn track(&self, n: TrackId) -> Result<&Track> {
        self.index.track(n).ok_or_else(|| Error::internal(format!("no track {n}")))
    }

    fn init_segment(&self, t: &Track) -> Result<Vec<u8>> {
        let codec = t.codec_config().ok_or_else(|| Error::internal("not an fMP4 track"))?;
        let mut language = *b"und";
        if let Some(l) = t.language.as_deref().filter(|l| l.len() == 3 && l.bytes().all(|b| b.is_ascii_lowercase())) {
            language.copy_from_slice(l.as_bytes());
        }
        let kind = if t.kind == TrackKind::Video { fmp4::TrackKind::Video } else { fmp4::TrackKind::Audio };
        fmp4::write_init(&TrackInit {
            track_id: 1,
            kind,
            timescale: t.map.timescale,
            language,
            codec,
            media_time: t.map.shift.max(0) as u64,
        })
        .map_err(|e| Error::internal(format!("stream {}: init segment: {e}", t.stream)))
    }

    fn vtt_segment(&self, t: &Track, k: usize) -> Result<Vec<u8>> {
        let Delivery::Cues(cues) = &t.delivery else { return Err(Error::internal("not a subtitle track")) };
        // Boundaries are on the output timeline; cues on the source's (output - C).
        let b = &self.index.boundaries_us;
        let c_us = self.index.shift_us;
        // The first and last segments also hold cues before/after the video.
        let from = if k == 0 { i64::MIN } else { b[k] - c_us };
        let to = if k + 1 == self.index.segment_count() { i64::MAX } else { b[k + 1] - c_us };
        Ok(webvtt::render_segment(cues, from, to, self.index.mpegts_origin))
    }

    /// Checks the file on disk is still the one indexed (one `stat`).
    fn check_unchanged(&self) -> Result<()> {
        let now = FileIdentity::of(&self.index.path)?;
        if now != self.index.identity {
            return Err(Error::new(
                ErrorKind::FileChanged,
                format!("{}: the file changed on disk since it was indexed; open it again", self.index.path.display()),
            ));
        }
        Ok(())
    }

    fn take_demuxer(&self) -> Result<Demuxer> {
        if let Some(d) = self.demuxers.lock().pop() {
            return Ok(d);
        }
        Demuxer::open(&self.index.path, !self.index.exact_timestamps())
    }

    fn put_demuxer(&self, d: Demuxer) {
        let mut pool = self.demuxers.lock();
        if pool.len() < self.max_idle_demuxers {
            pool.push(d);
        }
    }

    /// Runs `f` with a pooled demuxer; a demuxer that saw an error is dropped, not reused.
    fn with_demuxer<T>(&self, f: impl FnOnce(&mut Demuxer) -> Result<T>) -> Result<T> {
        self.check_unchanged()?;
        let mut d = self.take_demuxer()?;
        let out = f(&mut d)?;
        self.put_demuxer(d);
        Ok(out)
    }

    /// A media segment read straight from the file with positioned reads: contiguous samples are
    /// read in one call; nothing but this track's bytes is read.
    fn segment_from_table(&self, t: &Track, k: usize, table: &[SampleRec]) -> Result<Vec<u8>> {
        let seg = t.segments[k];
        let recs = table
            .get(seg.first as usize..seg.first as usize + seg.samples as usize)
            .ok_or_else(|| Error::internal("segment outside the sample table"))?;
        self.check_unchanged()?;
        let file = self.file.as_ref().ok_or_else(|| Error::internal("no file handle"))?;
        let total: usize = recs.iter().map(|r| r.size() as usize).sum();
        let mut payload = vec![0u8; total];
        let (mut i, mut at) = (0, 0usize);
        while i < recs.len() {
            let (start, mut len, mut j) = (recs[i].pos, recs[i].size() as u64, i + 1);
            while j < recs.len() && recs[j].pos == start + len {
                len += recs[j].size() as u64;
                j += 1;
            }
            file.read_exact_at(&mut payload[at..at + len as usize], start).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidMedia,
                    format!("cannot read {len} bytes at offset {start}: {e} (file truncated or changed)"),
                )
            })?;
            at += len as usize;
            i = j;
        }
        let metas: Vec<SampleMeta> = recs
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let next = recs.get(i + 1).map_or(seg.src_end, |n| n.dts);
                sample_meta(t, r.dts, next, r.pts(), r.size(), r.key())
            })
            .collect();
        write_segment(k, seg.out_start, &metas, &payload)
    }

    /// The samples of a segment planned from Matroska Cues, read block by block from its
    /// cluster: only block headers and this track's frames are read. Video: from the keyframe at
    /// `seg.start_pts` to the next segment's keyframe; audio: frames timed in
    /// `[src_start, src_end)`, laced blocks split. `None` when FFmpeg must read it (laced video,
    /// laced frames without timing).
    fn read_blocks(&self, t: &Track, seg: &Segment, next_key: Option<i64>) -> Result<Option<Vec<ff::Packet>>> {
        let (Some(number), Some(layout), Some(file)) = (t.block_track, &self.index.matroska, &self.file) else {
            return Ok(None);
        };
        self.check_unchanged()?;
        let damaged = |e: String| Error::new(ErrorKind::InvalidMedia, format!("{e} (file damaged or changed)"));
        let mut w = BlockWalker::new(file, self.index.identity.size, layout, seg.cluster);
        let video = t.kind == TrackKind::Video;
        let mut out: Vec<ff::Packet> = Vec::new();
        let mut skipped = 0usize;
        while let Some(b) = w.next_block().map_err(damaged)? {
            if b.track != number {
                continue;
            }
            if video {
                if b.frames != 1 {
                    return Ok(None);
                }
                if out.is_empty() && !(b.key && b.time == seg.start_pts) {
                    skipped += 1;
                    if skipped > 100_000 {
                        return Err(damaged(format!("no keyframe at ts {} after byte {}", seg.start_pts, seg.cluster)));
                    }
                    continue;
                }
                if !out.is_empty() && b.key && Some(b.time) == next_key {
                    break;
                }
                let len =
                    usize::try_from(b.data_len).map_err(|_| damaged(format!("block at byte {} too large", b.pos)))?;
                out.push(timed_packet(&w.read(b.data, len).map_err(damaged)?, b.time, None, 0, b.key));
                continue;
            }
            // Audio: every frame (laced ones split as FFmpeg splits them) timed in the range.
            if b.time >= seg.src_end {
                break;
            }
            for (pos, size, time) in w.frames(&b).map_err(damaged)? {
                let Some(time) = time else { return Ok(None) };
                if time < seg.src_start || time >= seg.src_end {
                    continue;
                }
                let len = usize::try_from(size).map_err(|_| damaged(format!("frame at byte {pos} too large")))?;
                out.push(timed_packet(&w.read(pos, len).map_err(damaged)?, time, Some(time), 0, true));
            }
        }
        Ok(Some(out))
    }

    fn media_segment(&self, t: &Track, k: usize) -> Result<Vec<u8>> {
        let seg = t.segments[k];
        let ctx = |e: Error| e.context(format!("{}: stream {} segment {k}", self.index.path.display(), t.stream));
        if let Delivery::Transcode { params, target, .. } = &t.delivery {
            let (lo, hi) = (t.map.from_us(transcode::preroll_us()), t.map.from_us(transcode::postroll_us()));
            let (from, to) = (seg.src_start - lo, seg.src_end + hi);
            let packets = match (&t.sample_table, self.index.exact_timestamps()) {
                // Exact container timestamps: select by time after an exact seek.
                (_, true) | (None, false) => {
                    self.with_demuxer(|d| read_packets(d, t, from, to, self.index.exact_timestamps()))
                }
                // Timestamps after a seek may be estimates (MP3): anchor on byte positions and
                // use the timestamps found at indexing.
                (Some(table), false) => self.with_demuxer(|d| read_anchored(d, t, table, from, to)),
            }
            .map_err(ctx)?;
            let tb = ff::Rational::new(t.map.num as i32, t.map.den as i32);
            let first = (seg.out_start as i64 - t.map.shift).max(0) as u64 / crate::codec::aac::FRAME_SAMPLES;
            let enc = transcode::encode_range(&params.0, tb, &packets, target, first, first + seg.samples as u64)
                .map_err(|e| ctx(Error::new(ErrorKind::InvalidMedia, e.to_string())))?;
            let metas: Vec<SampleMeta> = enc
                .frame_sizes
                .iter()
                .map(|&size| SampleMeta {
                    size,
                    duration: crate::codec::aac::FRAME_SAMPLES as u32,
                    composition_offset: 0,
                    sync: true,
                })
                .collect();
            return write_segment(k, seg.out_start, &metas, &enc.payload).map_err(ctx);
        }
        if let (true, Some(table)) = (t.direct_read, &t.sample_table) {
            return self.segment_from_table(t, k, table).map_err(ctx);
        }
        let packets = if t.cue_indexed {
            let next_key = t.segments.get(k + 1).map(|s| s.start_pts);
            match self.read_blocks(t, &seg, next_key) {
                Ok(Some(p)) => p,
                Err(e) if e.kind == ErrorKind::FileChanged => return Err(ctx(e)),
                // Laced video, or a damaged stretch the walker cannot cross: FFmpeg's demuxer
                // reads it (it resynchronises on the next cluster, as a scan would).
                other => {
                    if let Err(e) = other {
                        log::warn!(
                            "{}: segment {k} of stream {}: {}; reading it through FFmpeg",
                            self.index.path.display(),
                            t.stream,
                            e.message
                        );
                    }
                    self.with_demuxer(|d| read_timed(d, t, &seg, next_key)).map_err(ctx)?
                }
            }
        } else {
            self.with_demuxer(|d| read_segment(d, t, &seg, self.index.exact_timestamps())).map_err(ctx)?
        };
        // Decode times derived per segment (Matroska B-frames planned from Cues): the sorted
        // presentation times minus the track's delay, as a scan would have derived them.
        let local_dts: Option<Vec<i64>> = t.dts_delay.map(|delay| {
            let mut v: Vec<i64> = packets.iter().map(|p| p.pts().or(p.dts()).unwrap_or(0)).collect();
            v.sort_unstable();
            v.iter().map(|p| p - delay).collect()
        });
        if t.cue_indexed {
            let first = local_dts
                .as_ref()
                .and_then(|v| v.first().copied())
                .or_else(|| packets.first().and_then(|p| p.dts().or(p.pts())));
            if first != Some(seg.src_start) {
                return Err(ctx(Error::new(
                    ErrorKind::InvalidMedia,
                    format!("expected samples from ts {}, found {:?} (file damaged or changed)", seg.src_start, first),
                )));
            }
        }
        let mut metas = Vec::with_capacity(packets.len());
        let mut payload = Vec::with_capacity(seg.bytes as usize);
        // Decode times: the container's, or the ones derived at indexing.
        let decode_ts = |i: usize| -> i64 {
            match (&local_dts, &t.decode_ts) {
                (Some(v), _) => v.get(i).copied().unwrap_or(seg.src_end),
                (None, Some(tab)) => tab.get(seg.first as usize + i).copied().unwrap_or(seg.src_end),
                (None, None) => packets.get(i).and_then(|p| p.dts().or(p.pts())).unwrap_or(seg.src_end),
            }
        };
        for (i, p) in packets.iter().enumerate() {
            let dts = decode_ts(i);
            let next = if i + 1 < packets.len() { decode_ts(i + 1) } else { seg.src_end };
            let data = t.sample_form.convert(p.data().unwrap_or(&[]));
            metas.push(sample_meta(t, dts, next, p.pts().unwrap_or(dts), data.len() as u32, p.is_key()));
            payload.extend_from_slice(&data);
        }
        write_segment(k, seg.out_start, &metas, &payload).map_err(ctx)
    }
}

/// One sample's `trun` entry from its source times: duration up to the next sample's decode
/// time, composition offset to its presentation time, both on the track's output timeline.
fn sample_meta(t: &Track, dts: i64, next_dts: i64, pts: i64, size: u32, key: bool) -> SampleMeta {
    let out = t.map.out(dts);
    SampleMeta {
        size,
        duration: (t.map.out(next_dts) - out).max(0) as u32,
        composition_offset: (t.map.out(pts) - out) as i32,
        sync: key || t.kind == TrackKind::Audio,
    }
}

fn write_segment(k: usize, tfdt: u64, metas: &[SampleMeta], payload: &[u8]) -> Result<Vec<u8>> {
    fmp4::write_media_segment(k as u32 + 1, 1, tfdt, metas, payload)
        .map_err(|e| Error::internal(format!("fMP4 writer: {e}")))
}

/// Seeks to the start of `[from, to)` (source decode timestamps) of one stream.
fn seek_to(d: &mut Demuxer, t: &Track, from: i64, exact_index: bool) -> Result<()> {
    d.select(&[t.stream]);
    if exact_index {
        d.seek(Some(t.stream), from)
    } else {
        // No per-sample index: seek on the default stream a little early and read forward.
        d.seek(None, t.map.us(from) - 1_000_000)
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

/// Opens (indexes) `path` with the given identity. Used by the context's single-flight open.
pub fn open(path: &Path, identity: FileIdentity, cfg: &crate::model::config::Config) -> Result<Arc<Media>> {
    let index = crate::index::build(path, identity, cfg).map_err(|e| e.context(path.display()))?;
    Ok(Arc::new(Media::new(index, cfg.demuxers_per_media)))
}
