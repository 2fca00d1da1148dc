//! Names → bytes for one opened media file: which resources its playlists name, and the bytes
//! of each (playlists, init segments, media segments, WebVTT). Playlists, init segments and
//! WebVTT come from memory; a media segment's samples are read the way its track's
//! [`SampleReader`] says (through `source::Source`) and written as fMP4.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ffmpeg_next as ff;

use crate::codec::aac::FRAME_SAMPLES;
use crate::codec::{self, Codec};
use crate::container::read::{read_vec_at, take_source_failure, thread_reads, ByteSource};
use crate::engine::body::{Body, Parts, PartsBuilder, Piece, ReadSpans, SpanRule};
use crate::engine::cache::Bytes;
use crate::engine::index_dir::{IndexDir, IndexOrigin, Lookup};
use crate::engine::lead;
use crate::engine::source::{BlockSample, Source};
use crate::error::{Error, ErrorKind, Result};
use crate::model::cues::CueTrack;
use crate::model::encryption::{Encryption, KeyRequest, Method, TrackKey};
use crate::model::identity::FileIdentity;
use crate::model::media_index::MediaIndex;
use crate::model::names::{Resource, TrackId};
use crate::model::open::{ClipPolicy, Location, MediaKey};
use crate::model::segment::Segment;
use crate::model::thumbs::ThumbSettings;
use crate::model::track::{Delivery, SampleForm, SampleReader, Track, TrackKind};
use crate::output::encrypt;
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
    /// Thumbnails and sprite sheets.
    pub const JPEG: &str = "image/jpeg";
}

/// What serving one name of a media costs, cheapest first (a server may run the slow kinds
/// on threads of their own, so that they never delay playlists).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cost {
    /// Held by the cache: a hit.
    Cached,
    /// A playlist: text made from the index.
    Playlist,
    /// An init segment, or a media segment or I-frame whose samples are copied from the file
    /// (file reads, no decoding).
    Copied,
    /// WebVTT: subtitle segments or track, the thumbnail track (text made from memory; a
    /// subtitle track's first one may read its cues from the file first: `model::cues::Cues`).
    Subtitle,
    /// A media segment of a transcoded track: audio decoded and encoded as AAC.
    Transcoded,
    /// A thumbnail or sprite sheet: video decoded, scaled and encoded as JPEG.
    Thumbnail,
}
/// An indexed file shared by every handle that opened it.
pub struct Media {
    /// What the registry knows this media by: where it comes from and its open options.
    pub key: MediaKey,
    /// The index.
    pub index: MediaIndex,
    /// Where the index came from (memory, or an index file).
    pub origin: IndexOrigin,
    /// The file and demuxers segments are read with.
    source: Source,
    /// Thumbnail settings (`engine/thumbs.rs`).
    pub(crate) thumbs: ThumbSettings,
    /// The keys of the encrypted renditions (asked once, at open; absent: in the clear).
    keys: HashMap<TrackId, TrackKey>,
    /// How many times the key provider was asked while opening.
    pub key_requests: u64,
    /// How a segment's samples are read from a caller-supplied source.
    source_rule: SpanRule,
    /// What reading the media's source cost.
    pub reads: SourceReads,
    /// A caller-supplied source: the samples of the last few segments of every track read by
    /// position, read together (see [`Media::segment_spans`]).
    spans: parking_lot::Mutex<std::collections::VecDeque<(usize, SpanCell)>>,
}

/// The samples of one segment `k` of every track read by position: read once (concurrent
/// requests wait for the one read).
type SpanCell = Arc<std::sync::OnceLock<Result<Arc<ReadSpans>>>>;

/// Reads the cues of every subtitle track of `index` that are not read yet, from `input` (the
/// file just indexed); false when a read fails (logged: the index then stays in memory only).
fn read_deferred_cues(index: &MediaIndex, input: &ByteSource) -> bool {
    index.read_cues(input).map_err(|e| log::warn!("{}: {e}; the index is not persisted", index.path.display())).is_ok()
}

/// How many segments' samples a media keeps read ahead (each at most a segment of every track).
const SPAN_SEGMENTS: usize = 2;

/// Reads of a caller-supplied source (all zero for a local file): the open, and the media
/// segments generated since.
#[derive(Debug, Default)]
pub struct SourceReads {
    /// Reads made by the open (indexing).
    pub open_reads: u64,
    /// Bytes read by the open.
    pub open_bytes: u64,
    /// Media segments generated (each one read from the source once; cache hits read nothing).
    pub segments: AtomicU64,
    /// Reads made by those segments.
    pub segment_reads: AtomicU64,
    /// Bytes read by those segments.
    pub segment_bytes: AtomicU64,
}

/// Turns a failure that a failed read of a caller-supplied source caused (whatever parser saw
/// it fail, FFmpeg included) into an I/O error with the caller's words.
pub(crate) fn source_error(e: Error) -> Error {
    match take_source_failure() {
        Some(msg) if e.kind != ErrorKind::Io => {
            let message = if e.message.contains(&msg) { e.message } else { format!("{msg} ({})", e.message) };
            Error::new(ErrorKind::Io, message)
        }
        _ => e,
    }
}

impl Media {
    /// Wraps an index of the media `key` names, read from `input`, that came from `origin`
    /// (indexed now, or read from an index file).
    pub fn new(
        key: MediaKey,
        index: MediaIndex,
        input: ByteSource,
        cfg: &crate::model::config::Config,
        origin: IndexOrigin,
    ) -> Media {
        let source = Source::new(input, cfg.demuxers_per_media);
        let source_rule =
            SpanRule { max_gap: cfg.source_gap_max, max_span: cfg.source_read_max as u64, max_waste_pct: 10 };
        Media {
            key,
            index,
            origin,
            source,
            thumbs: cfg.thumbnails,
            keys: HashMap::new(),
            key_requests: 0,
            source_rule,
            reads: SourceReads::default(),
            spans: parking_lot::Mutex::new(std::collections::VecDeque::new()),
        }
    }

    /// The index was read from an index file that turned out damaged (a sample table failed
    /// its checksum when first read): the media must be opened (indexed) again.
    pub fn index_damaged(&self) -> bool {
        self.index.tables_damaged()
    }

    /// The error of a request that met a damaged index table.
    pub(crate) fn damaged_error(&self) -> Error {
        Error::new(
            ErrorKind::FileChanged,
            format!(
                "{}: its persisted index is damaged (a sample table failed its checksum); open the file again",
                self.index.path.display()
            ),
        )
    }

    /// The key of rendition `n`, if it is encrypted.
    pub fn track_key(&self, n: TrackId) -> Option<&TrackKey> {
        self.keys.get(&n)
    }

    /// Whether `r` is served encrypted (what the stats count).
    pub fn is_encrypted(&self, r: &Resource) -> bool {
        match *r {
            Resource::Segment(n, _) | Resource::IFrame(n, _) | Resource::Vtt(n, _) => self.keys.contains_key(&n),
            _ => false,
        }
    }

    /// Asks for the key of every served rendition, as `encryption` (else the context's
    /// `provider`) says: at most once per rendition. A failure, or a method this rendition
    /// cannot be served with, fails the open: nothing is served in the clear instead.
    fn resolve_keys(
        &mut self,
        encryption: Option<&Encryption>,
        provider: Option<&crate::model::encryption::KeyProvider>,
    ) -> Result<()> {
        let ask = |req: &KeyRequest| -> std::result::Result<TrackKey, String> {
            match (encryption, provider) {
                (Some(Encryption::Static(k)), _) => {
                    let mut k = k.clone();
                    if req.kind == "subtitle" && !k.subtitles {
                        k.method = Method::None;
                    }
                    Ok(k)
                }
                (Some(Encryption::Provider(p)), _) | (None, Some(p)) => p.ask(req),
                (None, None) => Ok(TrackKey::default()),
            }
        };
        if encryption.is_none() && provider.is_none() {
            return Ok(());
        }
        for t in self.index.tracks.iter().filter(|t| t.is_served()) {
            let req = KeyRequest {
                location: self.key.location.describe(),
                rendition: format!("t{}", t.id),
                stream: t.stream,
                kind: t.kind.name(),
                codec: t.codec_string().unwrap_or_default().to_string(),
            };
            if !matches!(encryption, Some(Encryption::Static(_))) {
                self.key_requests += 1;
            }
            let what = format!("{}: rendition {}", req.location, req.rendition);
            let key = ask(&req)
                .and_then(|k| k.validate().map(|()| k))
                .map_err(|e| Error::new(ErrorKind::KeyUnavailable, format!("{what}: key provider: {e}")))?;
            if !key.encrypts() {
                continue;
            }
            let can = match (key.method, t.kind) {
                (Method::Aes128, TrackKind::Subtitle) => key.subtitles,
                (Method::Aes128, _) => true,
                (Method::SampleAes, TrackKind::Video | TrackKind::Audio) => t.codec_config().is_some_and(|c| {
                    matches!(c.codec, Codec::H264 | Codec::Hevc | Codec::Aac | Codec::Ac3 | Codec::Eac3)
                }),
                (Method::SampleAes, _) => false,
                (Method::None, _) => true,
            };
            if !can {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "{what} ({}): {} cannot be served this way (SAMPLE-AES/cbcs: H.264, HEVC, AAC, AC-3, E-AC-3 only)",
                        t.codec_name,
                        key.method.name()
                    ),
                ));
            }
            log::debug!("{what}: encrypted {} ({})", key.method.name(), key.uri);
            self.keys.insert(t.id, key);
        }
        Ok(())
    }

    /// `bytes` of resource `r` as the key of its rendition says (AES-128: the whole resource
    /// encrypted, the IV of its segment number; else as they are).
    fn protect(&self, r: &Resource, bytes: Bytes) -> Result<Bytes> {
        let (n, k) = match *r {
            Resource::Segment(n, k) | Resource::IFrame(n, k) | Resource::Vtt(n, k) => (n, k),
            _ => return Ok(bytes),
        };
        match self.keys.get(&n) {
            Some(key) if key.method == Method::Aes128 => {
                let iv = key.iv.iv(k as u64);
                Ok(Arc::new(match Arc::try_unwrap(bytes) {
                    Ok(owned) => encrypt::aes128_cbc_pkcs7_in_place(&key.key, &iv, owned),
                    Err(shared) => encrypt::aes128_cbc_pkcs7(&key.key, &iv, &shared),
                }))
            }
            Some(key) if key.method == Method::SampleAes => {
                let t = self.track(n)?;
                let p = protection(t, key)?;
                Ok(Arc::new(match Arc::try_unwrap(bytes) {
                    Ok(owned) => fmp4::encrypt_segment_in_place(owned, &p)?,
                    Err(shared) => fmp4::encrypt_segment(&shared, &p)?,
                }))
            }
            _ => Ok(bytes),
        }
    }

    /// The SAMPLE-AES keys of the served renditions, one per URI and KEYFORMAT (the master's
    /// `EXT-X-SESSION-KEY`s).
    fn session_keys(&self) -> Vec<&TrackKey> {
        let mut out: Vec<&TrackKey> = Vec::new();
        for t in &self.index.tracks {
            if let Some(k) = self.keys.get(&t.id).filter(|k| k.method == Method::SampleAes) {
                if !out.iter().any(|o| o.uri == k.uri && o.keyformat == k.keyformat) {
                    out.push(k);
                }
            }
        }
        out
    }

    /// Content type of a resource of this media.
    pub fn content_type(&self, r: &Resource) -> &'static str {
        match r {
            Resource::Master | Resource::MediaPlaylist(_) | Resource::IFramePlaylist(_) => mime::M3U8,
            Resource::IFrame(..) => mime::VIDEO_MP4,
            Resource::Vtt(..) | Resource::VttFull(_) | Resource::ThumbnailTrack => mime::VTT,
            Resource::Thumbnail(_) | Resource::ThumbnailSheet(_) => mime::JPEG,
            Resource::Init(n) | Resource::Segment(n, _) => match self.index.track(*n).map(|t| t.kind) {
                Some(TrackKind::Video) => mime::VIDEO_MP4,
                _ => mime::AUDIO_MP4,
            },
        }
    }

    /// What generating `r` costs (which `check_named` accepted), without generating it.
    pub fn cost(&self, r: &Resource) -> Cost {
        match *r {
            Resource::Master | Resource::MediaPlaylist(_) | Resource::IFramePlaylist(_) => Cost::Playlist,
            Resource::Init(_) | Resource::IFrame(..) => Cost::Copied,
            Resource::Segment(n, _) => match self.index.track(n).map(|t| &t.delivery) {
                Some(Delivery::Transcode { .. }) => Cost::Transcoded,
                _ => Cost::Copied,
            },
            Resource::Vtt(..) | Resource::VttFull(_) | Resource::ThumbnailTrack => Cost::Subtitle,
            Resource::Thumbnail(_) | Resource::ThumbnailSheet(_) => Cost::Thumbnail,
        }
    }

    /// Whether generating `r` (which `check_named` accepted) costs only CPU in microseconds and
    /// positioned reads of the local file, as a static file server does on its event loop:
    /// playlists, init segments, and the media segments and I-frames of a local file whose
    /// samples are found by position (MP4 sample tables, Matroska blocks walked from the Cues)
    /// and sent in the clear. Not light: anything read from a caller-supplied source, through
    /// FFmpeg's demuxer, transcoded, encrypted, WebVTT and thumbnails.
    pub fn light(&self, r: &Resource) -> bool {
        let by_position = |n: TrackId| {
            !self.source.is_callback()
                && !self.keys.contains_key(&n)
                && self.index.track(n).is_some_and(|t| {
                    matches!(t.delivery, Delivery::Copy { .. })
                        && matches!(
                            t.reader,
                            SampleReader::ByPosition { .. }
                                | SampleReader::MatroskaBlocks { track_number: Some(_), .. }
                        )
                })
        };
        match *r {
            Resource::Master | Resource::MediaPlaylist(_) | Resource::IFramePlaylist(_) | Resource::Init(_) => true,
            Resource::Segment(n, _) | Resource::IFrame(n, _) => by_position(n),
            Resource::Vtt(..)
            | Resource::VttFull(_)
            | Resource::ThumbnailTrack
            | Resource::Thumbnail(_)
            | Resource::ThumbnailSheet(_) => false,
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
            // Not named by playlists: never served when the track's segments are encrypted.
            Resource::VttFull(n) => {
                track(n).is_some_and(|t| t.kind == TrackKind::Subtitle) && !self.keys.contains_key(&n)
            }
            Resource::IFramePlaylist(n) => track(n).is_some_and(|t| t.kind == TrackKind::Video && t.is_fmp4()),
            Resource::IFrame(n, k) => {
                track(n).is_some_and(|t| t.kind == TrackKind::Video && t.is_fmp4() && k < t.segments.len())
            }
            Resource::Thumbnail(_) | Resource::ThumbnailTrack | Resource::ThumbnailSheet(_) => {
                return self.check_thumbnail(r, name)
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
        if matches!(r, Resource::Master | Resource::IFramePlaylist(_)) {
            // The I-frame entries' sizes come from the video's sample tables: check them first.
            for t in self.index.served(TrackKind::Video) {
                if t.reader.table().is_some_and(|table| table.check().is_err()) {
                    return Err(self.damaged_error());
                }
            }
        }
        let bytes: Vec<u8> = match *r {
            Resource::Master => playlist::master(&self.index, &self.session_keys()).into_bytes(),
            Resource::MediaPlaylist(n) => {
                let t = self.track(n)?;
                let key = self.keys.get(&n);
                if t.kind == TrackKind::Subtitle {
                    playlist::subtitle_media(&self.index, t, key).into_bytes()
                } else {
                    playlist::media(&self.index, t, key).into_bytes()
                }
            }
            Resource::Init(n) => self.init_segment(self.track(n)?)?,
            Resource::Segment(n, k) => {
                let body = self.media_segment(self.track(n)?, k)?;
                let Some(key) = self.keys.get(&n) else {
                    return Ok(body);
                };
                if let Body::Parts(parts) = &body {
                    // Encrypted from the bytes as read, written once into the response (no
                    // segment-sized copy before; cbcs: no move after, past the grown moof).
                    match key.method {
                        Method::SampleAes => {
                            let p = protection(self.track(n)?, key)?;
                            let bytes = self.with_slices(parts, |s| fmp4::encrypt_segment_pieces(s, &p))??;
                            return Ok(Body::Bytes(Arc::new(bytes)));
                        }
                        Method::Aes128 => {
                            let iv = key.iv.iv(k as u64);
                            let bytes =
                                self.with_slices(parts, |s| encrypt::aes128_cbc_pkcs7_pieces(&key.key, &iv, s))?;
                            return Ok(Body::Bytes(Arc::new(bytes)));
                        }
                        Method::None => {}
                    }
                }
                // Made in memory (transcoded audio): encrypted where it is.
                return Ok(Body::Bytes(self.protect(r, self.materialise(body)?)?));
            }
            Resource::Vtt(n, k) => {
                let vtt = Arc::new(self.vtt_segment(self.track(n)?, k)?);
                return Ok(Body::Bytes(self.protect(r, vtt)?));
            }
            Resource::VttFull(n) => webvtt::render_full(self.cues(self.track(n)?)?, self.index.mpegts_origin),
            Resource::IFramePlaylist(n) => {
                playlist::iframes(&self.index, self.track(n)?, self.keys.get(&n)).into_bytes()
            }
            Resource::IFrame(n, k) => {
                let frame = self.iframe(self.track(n)?, k)?;
                if !self.keys.contains_key(&n) {
                    return Ok(frame);
                }
                return Ok(Body::Bytes(self.protect(r, self.materialise(frame)?)?));
            }
            Resource::Thumbnail(_) | Resource::ThumbnailTrack | Resource::ThumbnailSheet(_) => {
                self.generate_thumbnail(r)?
            }
        };
        let bytes = match (&self.key.options.uri_query, r) {
            (Some(q), Resource::Master | Resource::MediaPlaylist(_) | Resource::IFramePlaylist(_)) => {
                playlist::with_uri_query(&String::from_utf8_lossy(&bytes), q).into_bytes()
            }
            _ => bytes,
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
    /// What samples are read from (the file, identity checked, or the caller's source).
    pub(crate) fn checked_input(&self) -> Result<&ByteSource> {
        self.source.checked_input(&self.index)
    }

    pub fn materialise(&self, body: Body) -> Result<Bytes> {
        self.materialise_with_room(body, 0)
    }

    /// [`Media::materialise`] with `room` bytes of spare capacity after the bytes read (what
    /// encryption grows a segment by, so that it grows where it is).
    fn materialise_with_room(&self, body: Body, room: usize) -> Result<Bytes> {
        match body {
            Body::Bytes(b) => Ok(b),
            Body::Parts(p) => {
                let file = self.source.checked_input(&self.index)?;
                let rule = if file.is_callback() { self.source_rule } else { SpanRule::FILE };
                let bytes = p
                    .materialise_with_room(file, rule, room)
                    .map_err(|e| read_error(&self.index.path.display(), &e))?;
                self.source.checked_input(&self.index)?;
                Ok(Arc::new(bytes))
            }
        }
    }

    /// `f` of the bytes of `parts` as slices ([`Parts::with_slices`]), read between two identity
    /// checks of the descriptor.
    fn with_slices<R>(&self, parts: &Parts, f: impl FnOnce(&[&[u8]]) -> R) -> Result<R> {
        let file = self.source.checked_input(&self.index)?;
        let rule = if file.is_callback() { self.source_rule } else { SpanRule::FILE };
        let out = parts.with_slices(file, rule, f).map_err(|e| read_error(&self.index.path.display(), &e))?;
        self.source.checked_input(&self.index)?;
        Ok(out)
    }

    /// The bytes of several responses of this media, their file ranges read together
    /// ([`Parts::materialise_all`]), between two identity checks of the descriptor.
    pub fn materialise_all(&self, all: &[&Parts]) -> Result<Vec<Bytes>> {
        let file = self.source.checked_input(&self.index)?;
        let rule = if file.is_callback() { self.source_rule } else { SpanRule::FILE };
        let out = Parts::materialise_all(all, file, rule, 0).map_err(|e| read_error(&self.index.path.display(), &e))?;
        self.source.checked_input(&self.index)?;
        Ok(out.into_iter().map(Arc::new).collect())
    }

    /// Media segment `k` of the other served tracks of a local file whose segments are light
    /// ([`Media::light`]): the names a player asks for beside segment `k` of track `n`, whose
    /// samples a file interleaved sample by sample stores among track `n`'s.
    pub fn segment_siblings(&self, n: TrackId, k: usize) -> Vec<Resource> {
        self.index
            .tracks
            .iter()
            .filter(|t| t.id != n && t.is_served() && t.is_fmp4() && k < t.segments.len())
            .map(|t| Resource::Segment(t.id, k))
            .filter(|r| self.light(r))
            .collect()
    }

    /// The samples of segment `k` of every served track read by position, read from the
    /// caller-supplied source together (one read per span that [`SpanRule`] allows: with
    /// interleaved tracks, one read for all of them), kept for the last [`SPAN_SEGMENTS`]
    /// segments: the same segment of the other tracks, which players ask for next, costs none.
    fn segment_spans(&self, k: usize) -> Result<Arc<ReadSpans>> {
        let cell = {
            let mut spans = self.spans.lock();
            match spans.iter().find(|(j, _)| *j == k) {
                Some((_, c)) => c.clone(),
                None => {
                    let c = SpanCell::default();
                    if spans.len() >= SPAN_SEGMENTS {
                        spans.pop_front();
                    }
                    spans.push_back((k, c.clone()));
                    c
                }
            }
        };
        let out = cell.get_or_init(|| {
            let mut ranges: Vec<(u64, u64)> = Vec::new();
            for t in self.index.tracks.iter().filter(|t| t.is_served()) {
                let (SampleReader::ByPosition { table }, Some(seg)) = (&t.reader, t.segments.get(k)) else { continue };
                let recs = match table.range(seg.first as usize..seg.first as usize + seg.samples as usize) {
                    Some(Ok(recs)) => recs,
                    Some(Err(_)) => return Err(self.damaged_error()),
                    None => &[],
                };
                ranges.extend(recs.iter().map(|r| (r.pos, u64::from(r.size()))));
            }
            let input = self.source.checked_input(&self.index)?;
            ReadSpans::read(input, &mut ranges, self.source_rule)
                .map(Arc::new)
                .map_err(|e| Error::new(ErrorKind::Io, e.to_string())) // the caller names media and segment
        });
        if out.is_err() {
            // Not kept: the next request reads again (the store may be back).
            self.spans.lock().retain(|(j, c)| !(*j == k && Arc::ptr_eq(c, &cell)));
        }
        out.clone()
    }

    /// A keyframe-aligned clip with video: its first video segment carries the hidden lead
    /// squeezed and every init segment an edit list MSE ignores (see [`lead`]).
    fn mse_lead(&self) -> bool {
        matches!(self.key.options.clip, Some(c) if c.policy == ClipPolicy::KeyframeAligned)
            && self.index.tracks.iter().any(|t| t.kind == TrackKind::Video && t.is_fmp4())
    }

    /// Whether media segment `k` of `t` carries a squeezed hidden lead ([`Media::mse_lead`]):
    /// then how long (µs) the other tracks present before the clip's start (the hidden head of
    /// their first audio frame), which the lead goes before.
    fn squeezes_lead(&self, t: &Track, k: usize) -> Option<i64> {
        if k != 0 || t.kind != TrackKind::Video || !self.mse_lead() {
            return None;
        }
        let before = |o: &Track| -> i64 {
            let Some(first) = o.segments.first() else { return 0 };
            let presented = match o.delivery {
                Delivery::Transcode { .. } => first.out_start as i64,
                _ => o.map.out(first.start_pts),
            };
            o.map.ticks_to_us(o.map.shift - presented).max(0)
        };
        let others = self.index.tracks.iter().filter(|o| o.is_fmp4() && o.kind != TrackKind::Video);
        Some(others.map(before).max().unwrap_or(0))
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
        let init = TrackInit {
            track_id: 1,
            kind,
            timescale: t.map.timescale,
            language,
            codec,
            media_time: t.map.written_shift().max(0) as u64,
            edit_ignored_by_mse: self.mse_lead(),
        };
        match self.keys.get(&t.id).filter(|k| k.method == Method::SampleAes) {
            Some(key) => fmp4::write_init_protected(&init, &protection(t, key)?),
            None => fmp4::write_init(&init),
        }
        .map_err(|e| Error::with_source(ErrorKind::Internal, e).context(format!("stream {}: init segment", t.stream)))
    }

    /// The keyframe that starts media segment `k` of video track `t`, alone in its own fragment
    /// (an I-frame playlist entry): the segment is made, then its first sample is kept. From a
    /// local file, when the keyframe is copied verbatim, it is its `moof` and `mdat` header and
    /// the keyframe's range of the file (nothing is read); else only the segment's headers and
    /// the keyframe are read, never the whole segment.
    fn iframe(&self, t: &Track, k: usize) -> Result<Body> {
        let seq = k as u32 + 1;
        let ctx = |e: Error| e.context(format!("{}: stream {} keyframe {k}", self.index.path.display(), t.stream));
        // The clear segment (the I-frame entry is encrypted on its own).
        let body = if self.source.is_callback() {
            match &t.reader {
                SampleReader::ByPosition { .. } => self.read_media_segment(t, k).map_err(source_error)?,
                _ => self.media_segment(t, k)?,
            }
        } else {
            self.media_segment(t, k)?
        };
        let p = match body {
            Body::Parts(p) => p,
            Body::Bytes(b) => return Ok(Body::Bytes(Arc::new(fmp4::first_sample_fragment(&b, seq).map_err(ctx)?))),
        };
        let head = p.pieces().first().map_or(&[][..], |h| p.mem(h));
        let (header, at) = fmp4::first_sample_header(head, seq).map_err(ctx)?;
        if !self.source.is_callback() && at.start == head.len() {
            if let Some(&Piece::File { offset, len }) = p.pieces().get(1) {
                if len >= at.len() as u64 {
                    let mut b = PartsBuilder::new(header);
                    b.file(offset, at.len() as u64);
                    return Ok(b.finish());
                }
            }
        }
        // The keyframe is bytes (rewritten), or the source is the caller's: the segment's first
        // bytes, up to the end of the keyframe (one read).
        let input = self.source.checked_input(&self.index)?;
        let prefix = p
            .prefix(input, at.end as u64)
            .map_err(|e| source_error(Error::new(ErrorKind::Io, format!("{}: {e}", self.index.path.display()))))?;
        if !self.source.is_callback() {
            // The file still is the indexed one after the read (as for every read of ranges).
            self.source.checked_input(&self.index)?;
        }
        Ok(Body::Bytes(Arc::new(fmp4::first_sample_fragment(&prefix, seq).map_err(ctx)?)))
    }

    /// A subtitle track's cues; read from the file when first asked for (`model::cues::Cues`),
    /// which must still be the indexed file before and after the read.
    fn cues<'a>(&self, t: &'a Track) -> Result<&'a Arc<CueTrack>> {
        let Delivery::Cues(cues) = &t.delivery else { return Err(Error::internal("not a subtitle track")) };
        cues.get_or_read(|source| {
            take_source_failure();
            let input = self.source.checked_input(&self.index)?;
            let track = source.read(input).map_err(source_error)?;
            if !self.source.is_callback() {
                self.source.checked_input(&self.index)?;
            }
            Ok(track)
        })
        .map_err(|e| e.context(format!("{}: stream {} cues", self.index.path.display(), t.stream)))
    }

    fn vtt_segment(&self, t: &Track, k: usize) -> Result<Vec<u8>> {
        let cues = self.cues(t)?;
        // Boundaries are on the output timeline; cues on the source's (output - C).
        let b = &self.index.boundaries_us;
        let c_us = self.index.shift_us;
        // The first and last segments also hold cues before/after the video.
        let from = if k == 0 { i64::MIN } else { b[k] - c_us };
        let to = if k + 1 == self.index.segment_count() { i64::MAX } else { b[k + 1] - c_us };
        Ok(webvtt::render_segment(cues, from, to, self.index.mpegts_origin))
    }

    pub(crate) fn media_segment(&self, t: &Track, k: usize) -> Result<Body> {
        let ctx = |e: Error| e.context(format!("{}: stream {} segment {k}", self.index.path.display(), t.stream));
        if !self.source.is_callback() {
            return self.read_media_segment(t, k).map_err(ctx);
        }
        // A caller-supplied source: segments are bytes (no file to send ranges from), read
        // economically, and counted.
        take_source_failure();
        let (r0, b0) = thread_reads();
        let out = self.read_media_segment(t, k).and_then(|body| match body {
            Body::Parts(p) => {
                let spans = self.segment_spans(k)?;
                match p.assemble(&spans) {
                    Some(bytes) => Ok(Body::Bytes(Arc::new(bytes))),
                    None => Ok(Body::Bytes(self.materialise(Body::Parts(p))?)),
                }
            }
            bytes => Ok(bytes),
        });
        let (r1, b1) = thread_reads();
        self.reads.segments.fetch_add(1, Ordering::Relaxed);
        self.reads.segment_reads.fetch_add(r1 - r0, Ordering::Relaxed);
        self.reads.segment_bytes.fetch_add(b1 - b0, Ordering::Relaxed);
        out.map_err(|e| ctx(source_error(e)))
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
                    .range(seg.first as usize..seg.first as usize + seg.samples as usize)
                    .ok_or_else(|| Error::internal("segment outside the sample table"))?
                    .map_err(|_| self.damaged_error())?;
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
                    if source.is_callback() {
                        // From the segment's samples read together (no read of its own).
                        if let Some(data) = self.segment_spans(k)?.get(pos, len as u64) {
                            return Ok(Cow::Owned(data.to_vec()));
                        }
                    }
                    self.read_sample(pos, len).map(Cow::Owned)
                })?;
                self.ranges_segment(t, k, metas, recs.iter().map(|r| (r.pos, u64::from(r.size()))), &rewritten)
            }
            SampleReader::MatroskaBlocks { track_number, dts_delay } => {
                if t.sample_form == SampleForm::Native {
                    // A local file: where the samples are is all a segment of ranges needs.
                    // (A sample past the end of the file: read_planned says what is wrong.)
                    if let Some(samples) = source.planned_positions(ix, t, k, *track_number)? {
                        if samples.iter().all(|s| s.pos.saturating_add(s.len) <= ix.identity.size) {
                            return self.block_segment(t, k, &samples, *dts_delay);
                        }
                    }
                }
                let (packets, in_file) = source.read_planned(ix, t, k, *track_number)?;
                let decode_ts = block_decode_times(
                    &seg,
                    *dts_delay,
                    packets.iter().map(|p| p.pts().or(p.dts()).unwrap_or(0)),
                    |i| packets.get(i).and_then(packet_dts),
                )?;
                copied_segment(t, k, &packets, in_file && !source.is_callback(), self.squeezes_lead(t, k), decode_ts)
            }
            SampleReader::Demuxer { exact, decode_ts } => {
                let packets = source.read_exactly(ix, t, &seg, *exact)?;
                // Decode times: the container's, or the ones derived at indexing.
                copied_segment(t, k, &packets, false, self.squeezes_lead(t, k), |i| match decode_ts {
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
                let first = (seg.out_start as i64 - t.map.shift + t.map.cut).max(0) as u64 / FRAME_SAMPLES;
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

impl Media {
    /// Media segment `k` of Matroska track `t` from where the block walker found its samples
    /// in the local file (nothing of them read): the same bytes as [`copied_segment`] makes
    /// from the samples read, their ranges of the file sent as they are. Only an H.264 open-GOP
    /// I picture inside the segment is read (its recovery point SEI is dropped).
    fn block_segment(&self, t: &Track, k: usize, samples: &[BlockSample], dts_delay: Option<i64>) -> Result<Body> {
        let seg = t.segments[k];
        let decode_ts = block_decode_times(&seg, dts_delay, samples.iter().map(|s| s.pts), |i| {
            samples.get(i).map(|s| s.dts.unwrap_or(s.pts))
        })?;
        let mut metas = Vec::with_capacity(samples.len());
        for (i, s) in samples.iter().enumerate() {
            let dts = decode_ts(i);
            let next = if i + 1 < samples.len() { decode_ts(i + 1) } else { seg.src_end };
            let size = u32::try_from(s.len).map_err(|_| Error::new(ErrorKind::InvalidMedia, "sample too large"))?;
            metas.push(sample_meta(t, dts, next, s.pts, size, s.key));
        }
        let rewritten = drop_open_gop_recovery_points(t, &mut metas, |i| {
            self.read_sample(samples[i].pos, samples[i].len as usize).map(Cow::Owned)
        })?;
        self.ranges_segment(t, k, metas, samples.iter().map(|s| (s.pos, s.len)), &rewritten)
    }

    /// Sample bytes `[pos, pos + len)` of the file, read by position (identity checked).
    fn read_sample(&self, pos: u64, len: usize) -> Result<Vec<u8>> {
        read_vec_at(self.source.checked_input(&self.index)?, pos, len, len)
            .map_err(|e| read_error(&format_args!("sample at byte {pos}"), &e))
    }

    /// Media segment `k` of `t` written as its header and its samples' ranges of the file
    /// (`ranges`: position and length of each sample of `metas`), the samples `rewritten`
    /// names as their new bytes instead; the ranges checked against the file.
    fn ranges_segment(
        &self,
        t: &Track,
        k: usize,
        mut metas: Vec<SampleMeta>,
        ranges: impl Iterator<Item = (u64, u64)>,
        rewritten: &[(usize, Vec<u8>)],
    ) -> Result<Body> {
        let payload_len = metas.iter().map(|m| u64::from(m.size)).sum();
        let tfdt = written_tfdt(t, k, self.squeezes_lead(t, k), &mut metas);
        let mut b = PartsBuilder::new(write_segment_header(k, tfdt, &metas, payload_len)?);
        b.reserve(rewritten.iter().map(|(_, d)| d.len()).sum());
        for (i, (pos, len)) in ranges.enumerate() {
            match rewritten.iter().find(|(j, _)| *j == i) {
                Some((_, data)) => b.bytes(data),
                None => b.file(pos, len),
            }
        }
        self.source.check_ranges(&self.index, b.file_end())?;
        Ok(b.finish())
    }
}

/// How rendition `t` is encrypted with `key` (SAMPLE-AES, CMAF `cbcs`): video 1:9 with its
/// slice headers clear, audio whole frames; the constant IV the key gives (0 when it gives the
/// segment-number policy: `cbcs` has no per-segment IV).
fn protection<'a>(t: &Track, key: &'a TrackKey) -> Result<fmp4::Protection<'a>> {
    let config = t.codec_config().ok_or_else(|| Error::internal("not an fMP4 track"))?;
    let nal = codec::served_nal_length_size(config)
        .map_err(|e| Error::from_parse(ErrorKind::InvalidMedia, e))?
        .map(|length_size| fmp4::NalLayout { length_size, hevc: config.codec == Codec::Hevc });
    let video = t.kind == TrackKind::Video;
    Ok(fmp4::Protection {
        key: key.key,
        key_id: key.key_id,
        constant_iv: key.iv.iv(0),
        crypt_byte_block: if video { 1 } else { 0 },
        skip_byte_block: if video { 9 } else { 0 },
        pssh: &key.pssh,
        nal,
    })
}

/// A packet's decode time, or its presentation time when it has none.
fn packet_dts(p: &ff::Packet) -> Option<i64> {
    p.dts().or(p.pts())
}

/// Decode time of sample `i` of a Matroska segment `seg` (read or only located by the block
/// walker), `seg.src_end` past the last: with a reorder delay (B-frames) derived per segment,
/// the sorted presentation times `pts` minus the delay, as a scan would have derived them; else
/// the sample's own (`own(i)`). Fails unless the first is the segment's start (the file damaged
/// or changed since indexing).
fn block_decode_times(
    seg: &Segment,
    dts_delay: Option<i64>,
    pts: impl Iterator<Item = i64>,
    own: impl Fn(usize) -> Option<i64>,
) -> Result<impl Fn(usize) -> i64> {
    let derived: Option<Vec<i64>> = dts_delay.map(|delay| {
        let mut v: Vec<i64> = pts.collect();
        v.sort_unstable();
        v.iter().map(|p| p - delay).collect()
    });
    let first = derived.as_ref().and_then(|v| v.first().copied()).or_else(|| own(0));
    if first != Some(seg.src_start) {
        return Err(Error::new(
            ErrorKind::InvalidMedia,
            format!("expected samples from ts {}, found {:?} (file damaged or changed)", seg.src_start, first),
        ));
    }
    let end = seg.src_end;
    Ok(move |i: usize| match &derived {
        Some(v) => v.get(i).copied().unwrap_or(end),
        None => own(i).unwrap_or(end),
    })
}

/// Media segment `k` of a copied track from its packets; `decode_ts(i)` is packet `i`'s decode
/// time. With `in_file`, each packet's position is the file offset of its bytes: samples kept
/// verbatim (or cut, like an ADTS header) become ranges of the file, rewritten ones bytes.
fn copied_segment(
    t: &Track,
    k: usize,
    packets: &[ff::Packet],
    in_file: bool,
    squeeze_lead: Option<i64>,
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
    let tfdt = written_tfdt(t, k, squeeze_lead, &mut metas);
    let mut b = PartsBuilder::new(write_segment_header(k, tfdt, &metas, payload_len)?);
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

/// The `tfdt` of media segment `k` of `t`; `squeeze_lead` (the first video segment of a
/// keyframe-aligned clip, [`Media::squeezes_lead`]: how long, in µs, the other tracks present
/// before the clip's start): its hidden lead squeezed (`metas` rewritten, see [`lead`]).
fn written_tfdt(t: &Track, k: usize, squeeze_lead: Option<i64>, metas: &mut [SampleMeta]) -> u64 {
    let tfdt = t.map.written(t.segments[k].out_start);
    match squeeze_lead {
        Some(before_us) => {
            let before = t.map.us_to_ticks(before_us).max(0) as u64;
            lead::squeeze(tfdt, t.map.written_shift().max(0) as u64, before, metas)
        }
        None => tfdt,
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

/// Opens (indexes) the media `key` names, whose identity is `identity`. Used by the context's
/// single-flight open. `input` is the caller-supplied source of a [`Location::Source`] (a
/// local file is opened here). With an index directory, a whole local file's index file written
/// for this version of the file is read instead (the media is not read), and a fresh index is
/// written there.
pub fn open(
    key: &MediaKey,
    identity: FileIdentity,
    input: Option<ByteSource>,
    cfg: &crate::model::config::Config,
    dir: Option<&IndexDir>,
) -> Result<Arc<Media>> {
    let name = key.location.describe();
    let input = match (&key.location, input) {
        (_, Some(input)) => input,
        (Location::Path(path), None) => {
            ByteSource::open_file(path).map_err(|e| Error::new(ErrorKind::Io, format!("{name}: {e}")))?
        }
        (Location::Source(_), None) => return Err(Error::internal("a source opened without its reader")),
    };
    // The media of `index`, its keys asked for, and what reading `input` cost the open.
    let finish = |index, input, origin, (open_reads, open_bytes): (u64, u64)| -> Result<Arc<Media>> {
        let mut media = Media::new(key.clone(), index, input, cfg, origin);
        media.resolve_keys(key.options.encryption.as_ref(), cfg.key_provider.as_ref())?;
        media.reads.open_reads = open_reads;
        media.reads.open_bytes = open_bytes;
        Ok(Arc::new(media))
    };
    // Only whole local files persist: a clip's index is built for it alone (cheap: the clip's
    // range), and a caller's source has no inode to key an index file by.
    let dir = match &key.location {
        Location::Path(path) if key.options.clip.is_none() => dir.map(|d| (d, path)),
        _ => None,
    };
    let started = std::time::Instant::now();
    let file = match dir.map(|(d, path)| (d.lookup(path, identity), path)) {
        Some((Lookup::Hit(mut index, file), path)) => {
            index.index_time = started.elapsed();
            index.path = path.to_path_buf();
            return finish(*index, input, IndexOrigin::Disk(file), (0, 0));
        }
        Some((Lookup::Miss(file), _)) => Some(file),
        None => None,
    };
    take_source_failure();
    let (r0, b0) = thread_reads();
    let built = crate::index::build(&input, std::path::Path::new(&name), identity, cfg, key.options.clip);
    let (r1, b1) = thread_reads();
    let index = built.map_err(|e| source_error(e).context(&name))?;
    let origin = match (dir, file) {
        (Some((d, path)), Some(file)) => {
            // An index file holds every cue: the cues read on first use are read now.
            if read_deferred_cues(&index, &input) && d.store(&file, path, &index) {
                IndexOrigin::Written(file)
            } else {
                IndexOrigin::NotWritten(file)
            }
        }
        _ => IndexOrigin::Memory,
    };
    finish(index, input, origin, (r1 - r0, b1 - b0))
}
