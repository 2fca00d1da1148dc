//! Names → bytes for one opened media file: which resources its playlists name, and the bytes
//! of each (playlists, init segments, media segments, WebVTT). Playlists, init segments and
//! WebVTT come from memory; a media segment's samples are read the way its track's
//! [`SampleReader`] says (through `source::Source`) and written as fMP4.

use std::borrow::Cow;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use ffmpeg_next as ff;

use crate::codec::aac::FRAME_SAMPLES;
use crate::codec::{self, Codec};
use crate::container::read::read_vec_at;
use crate::engine::body::{Body, PartsBuilder};
use crate::engine::cache::Bytes;
use crate::engine::source::Source;
use crate::error::{Error, ErrorKind, Result};
use crate::model::identity::FileIdentity;
use crate::model::media_index::MediaIndex;
use crate::model::names::{Resource, TrackId};
use crate::model::track::{Delivery, SampleReader, Track, TrackKind};
use crate::output::fmp4::{self, SampleMeta, TrackInit};
use crate::output::playlist;
use crate::output::webvtt;
use crate::transcode;

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
    /// The file and demuxers segments are read with.
    source: Source,
}

impl Media {
    /// Wraps a fresh index.
    pub fn new(index: MediaIndex, max_idle_demuxers: usize) -> Media {
        let source = Source::new(&index, max_idle_demuxers);
        Media { index, source }
    }

    /// Content type of a resource of this media.
    pub fn content_type(&self, r: &Resource) -> &'static str {
        match r {
            Resource::Master | Resource::MediaPlaylist(_) | Resource::IFramePlaylist(_) => mime::M3U8,
            Resource::IFrame(..) => mime::VIDEO_MP4,
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
            Resource::IFramePlaylist(n) => track(n).is_some_and(|t| t.kind == TrackKind::Video && t.is_fmp4()),
            Resource::IFrame(n, k) => {
                track(n).is_some_and(|t| t.kind == TrackKind::Video && t.is_fmp4() && k < t.segments.len())
            }
        };
        if ok {
            Ok(())
        } else {
            Err(Error::not_found(name))
        }
    }

    /// Generates `r` (which `check_named` accepted): media segments whose samples are copied
    /// verbatim are headers and ranges of the file ([`Body::Parts`]), everything else bytes.
    pub fn generate(&self, r: &Resource) -> Result<Body> {
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
            Resource::Segment(n, k) => return self.media_segment(self.track(n)?, k),
            Resource::Vtt(n, k) => self.vtt_segment(self.track(n)?, k)?,
            Resource::VttFull(n) => match &self.track(n)?.delivery {
                Delivery::Cues(c) => webvtt::render_full(c, self.index.mpegts_origin),
                _ => return Err(Error::internal("not a subtitle track")),
            },
            Resource::IFramePlaylist(n) => playlist::iframes(&self.index, self.track(n)?).into_bytes(),
            Resource::IFrame(n, k) => self.iframe(self.track(n)?, k)?,
        };
        Ok(Body::Bytes(Arc::new(bytes)))
    }

    /// The descriptor that the file ranges of a [`Body::Parts`] are sent from, after checking
    /// (one `fstat`) that it still reads the version that was indexed (else
    /// [`ErrorKind::FileChanged`]).
    pub fn checked_file(&self) -> Result<&Arc<File>> {
        self.source.checked_file(&self.index)
    }

    /// The bytes of `body`: file ranges are read with positioned reads, between two identity
    /// checks of the descriptor (a file changed meanwhile is [`ErrorKind::FileChanged`]).
    pub fn materialise(&self, body: Body) -> Result<Bytes> {
        match body {
            Body::Bytes(b) => Ok(b),
            Body::Parts(p) => {
                let file = self.checked_file()?;
                let bytes = p.materialise(file).map_err(|e| read_error(&self.index.path.display(), &e))?;
                self.checked_file()?;
                Ok(Arc::new(bytes))
            }
        }
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
            media_time: t.map.written_shift().max(0) as u64,
        })
        .map_err(|e| Error::with_source(ErrorKind::Internal, e).context(format!("stream {}: init segment", t.stream)))
    }

    /// The keyframe that starts media segment `k` of video track `t`, alone in its own fragment
    /// (an I-frame playlist entry): the segment is made, then its first sample is kept.
    fn iframe(&self, t: &Track, k: usize) -> Result<Vec<u8>> {
        let segment = self.materialise(self.media_segment(t, k)?)?;
        fmp4::first_sample_fragment(&segment, k as u32 + 1)
            .map_err(|e| e.context(format!("{}: stream {} keyframe {k}", self.index.path.display(), t.stream)))
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

    fn media_segment(&self, t: &Track, k: usize) -> Result<Body> {
        let ctx = |e: Error| e.context(format!("{}: stream {} segment {k}", self.index.path.display(), t.stream));
        self.read_media_segment(t, k).map_err(ctx)
    }

    /// Media segment `k` of `t`: its samples read the way the index decided (the one place a
    /// [`SampleReader`] is matched), written as fMP4; samples copied verbatim stay ranges of the
    /// file.
    fn read_media_segment(&self, t: &Track, k: usize) -> Result<Body> {
        let (ix, source) = (&self.index, &self.source);
        let seg = t.segments[k];
        match &t.reader {
            SampleReader::ByPosition { table } => {
                let recs = table
                    .get(seg.first as usize..seg.first as usize + seg.samples as usize)
                    .ok_or_else(|| Error::internal("segment outside the sample table"))?;
                let mut metas: Vec<SampleMeta> = recs
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        let next = recs.get(i + 1).map_or(seg.src_end, |n| n.dts);
                        sample_meta(t, r.dts, next, r.pts(), r.size(), r.key())
                    })
                    .collect();
                let rewritten = drop_open_gop_recovery_points(t, &mut metas, |i| {
                    let (pos, len) = (recs[i].pos, recs[i].size() as usize);
                    let data = read_vec_at(source.checked_file(ix)?, pos, len, len)
                        .map_err(|e| read_error(&format_args!("sample at byte {pos}"), &e))?;
                    Ok(Cow::Owned(data))
                })?;
                let payload_len = metas.iter().map(|m| u64::from(m.size)).sum();
                let mut b =
                    PartsBuilder::new(write_segment_header(k, t.map.written(seg.out_start), &metas, payload_len)?);
                for (i, r) in recs.iter().enumerate() {
                    match rewritten.iter().find(|(j, _)| *j == i) {
                        Some((_, data)) => b.bytes(data),
                        None => b.file(r.pos, u64::from(r.size())),
                    }
                }
                source.check_ranges(ix, b.file_end())?;
                Ok(b.finish())
            }
            SampleReader::MatroskaBlocks { track_number, dts_delay } => {
                let (packets, in_file) = source.read_planned(ix, t, k, *track_number)?;
                // Decode times derived per segment (B-frames): the sorted presentation times
                // minus the track's delay, as a scan would have derived them.
                let derived: Option<Vec<i64>> = dts_delay.map(|delay| {
                    let mut v: Vec<i64> = packets.iter().map(|p| p.pts().or(p.dts()).unwrap_or(0)).collect();
                    v.sort_unstable();
                    v.iter().map(|p| p - delay).collect()
                });
                let first =
                    derived.as_ref().and_then(|v| v.first().copied()).or_else(|| packets.first().and_then(packet_dts));
                if first != Some(seg.src_start) {
                    return Err(Error::new(
                        ErrorKind::InvalidMedia,
                        format!(
                            "expected samples from ts {}, found {:?} (file damaged or changed)",
                            seg.src_start, first
                        ),
                    ));
                }
                copied_segment(t, k, &packets, in_file, |i| match &derived {
                    Some(v) => v.get(i).copied().unwrap_or(seg.src_end),
                    None => packets.get(i).and_then(packet_dts).unwrap_or(seg.src_end),
                })
            }
            SampleReader::Demuxer { exact, decode_ts } => {
                let packets = source.read_exactly(ix, t, &seg, *exact)?;
                // Decode times: the container's, or the ones derived at indexing.
                copied_segment(t, k, &packets, false, |i| match decode_ts {
                    Some(tab) => tab.get(seg.first as usize + i).copied().unwrap_or(seg.src_end),
                    None => packets.get(i).and_then(packet_dts).unwrap_or(seg.src_end),
                })
            }
            SampleReader::DemuxerRange { seek } => {
                let Delivery::Transcode { params, target, .. } = &t.delivery else {
                    return Err(Error::internal("not a transcoded track"));
                };
                let (lo, hi) = (t.map.from_us(transcode::preroll_us()), t.map.from_us(transcode::postroll_us()));
                let (from, to) = (seg.src_start - lo, seg.src_end + hi);
                let packets = source.read_range(ix, t, seek, from, to)?;
                let tb = ff::Rational::new(t.map.num as i32, t.map.den as i32);
                let first = (seg.out_start as i64 - t.map.shift).max(0) as u64 / FRAME_SAMPLES;
                let enc = transcode::encode_range(&params.0, tb, &packets, target, first, first + seg.samples as u64)?;
                let metas: Vec<SampleMeta> = enc
                    .frame_sizes
                    .iter()
                    .map(|&size| SampleMeta { size, duration: FRAME_SAMPLES as u32, composition_offset: 0, sync: true })
                    .collect();
                Ok(Body::Bytes(Arc::new(write_segment(k, t.map.written(seg.out_start), &metas, &enc.payload)?)))
            }
            SampleReader::NotRead => Err(Error::internal("not an fMP4 track")),
        }
    }
}

/// A packet's decode time, or its presentation time when it has none.
fn packet_dts(p: &ff::Packet) -> Option<i64> {
    p.dts().or(p.pts())
}

/// Media segment `k` of a copied track from its packets; `decode_ts(i)` is packet `i`'s decode
/// time. With `in_file`, each packet's position is the file offset of its bytes: samples kept
/// verbatim (or cut, like an ADTS header) become ranges of the file, rewritten ones bytes.
fn copied_segment(
    t: &Track,
    k: usize,
    packets: &[ff::Packet],
    in_file: bool,
    decode_ts: impl Fn(usize) -> i64,
) -> Result<Body> {
    let seg = t.segments[k];
    let mut metas = Vec::with_capacity(packets.len());
    let mut samples = Vec::with_capacity(packets.len());
    for (i, p) in packets.iter().enumerate() {
        let dts = decode_ts(i);
        let next = if i + 1 < packets.len() { decode_ts(i + 1) } else { seg.src_end };
        let raw = p.data().unwrap_or(&[]);
        let data = t.sample_form.convert(raw);
        metas.push(sample_meta(t, dts, next, p.pts().unwrap_or(dts), data.len() as u32, p.is_key()));
        // Where the converted sample's bytes are in the file, when they are the file's.
        let at = match &data {
            Cow::Borrowed(d) if in_file && p.position() >= 0 => {
                Some(p.position() as u64 + (d.as_ptr() as usize - raw.as_ptr() as usize) as u64)
            }
            _ => None,
        };
        samples.push((at, data));
    }
    for (i, data) in drop_open_gop_recovery_points(t, &mut metas, |i| Ok(samples[i].1.clone()))? {
        samples[i] = (None, Cow::Owned(data));
    }
    let payload_len = samples.iter().map(|(_, d)| d.len() as u64).sum();
    let mut b = PartsBuilder::new(write_segment_header(k, t.map.written(seg.out_start), &metas, payload_len)?);
    b.reserve(samples.iter().filter(|(at, _)| at.is_none()).map(|(_, d)| d.len()).sum());
    for (at, data) in &samples {
        match at {
            Some(pos) => b.file(*pos, data.len() as u64),
            None => b.bytes(data),
        }
    }
    Ok(b.finish())
}

/// H.264 open-GOP I pictures inside a segment (see [`fmp4::open_gop_keys`]) lose their
/// recovery point SEI (see [`codec::h264::without_recovery_point_sei`]), so that no player
/// takes them for a place to start decoding: a seek into the segment decodes from its first
/// picture, and their leading pictures have their references. Every picture stays.
///
/// `read(i)` gives sample `i`'s bytes; only such I pictures are read. Returns each rewritten
/// sample's index and bytes (its size in `metas` updated); an empty list leaves the samples as
/// they are (verbatim file ranges stay ranges).
fn drop_open_gop_recovery_points<'a>(
    t: &Track,
    metas: &mut [SampleMeta],
    mut read: impl FnMut(usize) -> Result<Cow<'a, [u8]>>,
) -> Result<Vec<(usize, Vec<u8>)>> {
    let Delivery::Copy { config, .. } = &t.delivery else { return Ok(Vec::new()) };
    if config.codec != Codec::H264 {
        return Ok(Vec::new());
    }
    let mut rewritten = Vec::new();
    for i in fmp4::open_gop_keys(metas) {
        let data = read(i)?;
        if let Some(stripped) = codec::h264::without_recovery_point_sei(&config.extradata, &data) {
            metas[i].size = stripped.len() as u32;
            rewritten.push((i, stripped));
        }
    }
    Ok(rewritten)
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

/// The `moof` and `mdat` header of media segment `k` (its payload follows, unwritten).
fn write_segment_header(k: usize, tfdt: u64, metas: &[SampleMeta], payload_len: u64) -> Result<Vec<u8>> {
    fmp4::write_media_segment_header(k as u32 + 1, 1, tfdt, metas, payload_len)
        .map_err(|e| Error::with_source(ErrorKind::Internal, e).context("fMP4 writer"))
}

fn write_segment(k: usize, tfdt: u64, metas: &[SampleMeta], payload: &[u8]) -> Result<Vec<u8>> {
    fmp4::write_media_segment(k as u32 + 1, 1, tfdt, metas, payload)
        .map_err(|e| Error::with_source(ErrorKind::Internal, e).context("fMP4 writer"))
}

/// A failed read of indexed bytes: the file ended early (truncated or changed:
/// [`ErrorKind::InvalidMedia`]) or the read itself failed ([`ErrorKind::Io`]).
fn read_error(what: &dyn std::fmt::Display, e: &std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        Error::new(ErrorKind::InvalidMedia, format!("{what}: {e} (file truncated or changed)"))
    } else {
        Error::new(ErrorKind::Io, format!("{what}: cannot read the file: {e}"))
    }
}

/// Opens (indexes) `path` with the given identity. Used by the context's single-flight open.
pub fn open(path: &Path, identity: FileIdentity, cfg: &crate::model::config::Config) -> Result<Arc<Media>> {
    let index = crate::index::build(path, identity, cfg).map_err(|e| e.context(path.display()))?;
    Ok(Arc::new(Media::new(index, cfg.demuxers_per_media)))
}
