//! The entry points of the fuzz targets in `fuzz/` (cargo-fuzz, libFuzzer): each takes the
//! fuzzer's bytes, drives one reader (or the whole engine) with them and checks what must hold
//! for any input. Not API: hidden from the documentation, changed whenever the targets need it.
//!
//! - [`serve_all`]: the input as a media file (written to tmpfs), opened through [`Context`],
//!   and every name its master and media playlists list fetched, as bytes and as file ranges;
//! - [`mp4_boxes`]: the MP4 box reader on a `moov` payload and on a whole file;
//! - [`mkv_blocks`]: the EBML reader (header, tracks, Cues) and the block walker from every
//!   cluster a Cue names;
//! - [`subtitles`]: FFmpeg's subtitle decoder and the conversion of its events to WebVTT cue text
//!   (SubRip, ASS, SSA, mov_text, WebVTT, plain text payloads);
//! - [`names`]: the name router ([`Resource::parse`] and [`Resource::name`]).
//!
//! Each returns `Err(what went wrong)` when a property fails; a panic is a finding too
//! (libFuzzer's panic hook aborts, and [`Context::open`] turns one into an `ErrorKind::Panic`
//! error, which [`serve_all`] reports as a failure). The regression tests call these same
//! functions with the minimised inputs.

use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ffmpeg_next as ffmpeg;

use crate::container::{mkv, mp4};
use crate::engine::{Body, Context};
use crate::error::{Error, ErrorKind};
use crate::model::config::Config;
use crate::model::cues::CueTrack;
use crate::model::names::{Resource, TrackId};
use crate::output::webvtt;
use crate::subtitle::{ass_text_to_webvtt, CueExtractor};

/// Media segments fetched per playlist at most: the first and the last halves of this many
/// (a hostile file may list millions; the rest are the same code on other numbers).
pub const MAX_SEGMENTS_PER_PLAYLIST: usize = 40;

/// Cue clusters [`mkv_blocks`] walks from at most, and blocks per walk.
const MAX_WALKS: usize = 16;
/// Blocks read per walk at most.
const MAX_BLOCKS_PER_WALK: usize = 256;

/// Separates the sections of a [`subtitles`] input: the header (codec extradata), then packets.
pub const SUBTITLE_SEPARATOR: &[u8] = b"\x1e\x1e";

/// The input written to a file of its own on tmpfs (`/dev/shm`, else the temporary directory),
/// removed when dropped.
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// Writes `bytes` to a new file named `….extension`.
    pub fn new(bytes: &[u8], extension: &str) -> Result<Scratch, String> {
        static N: AtomicU64 = AtomicU64::new(0);
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("libhls-fuzz-{}-{n}.{extension}", std::process::id()));
        std::fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(Scratch { path })
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file, opened for reading.
    pub fn open(&self) -> Result<File, String> {
        File::open(&self.path).map_err(|e| format!("cannot open {}: {e}", self.path.display()))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What [`serve_all`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Served {
    /// The file opened.
    pub opened: bool,
    /// Names fetched (listed in a playlist, or `master.m3u8`).
    pub fetched: usize,
    /// Of those, names that failed with a clear status.
    pub failed: usize,
    /// The statuses seen, in order of first appearance (for the regression tests).
    pub errors: Vec<ErrorKind>,
}

/// An error the engine may return for a hostile file: anything but a caught panic.
fn clear_status(e: &Error, what: &str, served: &mut Served) -> Result<(), String> {
    if e.kind == ErrorKind::Panic {
        return Err(format!("{what}: a panic reached the boundary: {e}"));
    }
    if !served.errors.contains(&e.kind) {
        served.errors.push(e.kind);
    }
    Ok(())
}

/// The names a playlist lists: its URI lines and its `URI="…"` attributes, in order.
pub fn listed_names(playlist: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in playlist.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !line.starts_with('#') {
            names.push(line.to_string());
        } else if let Some(at) = line.find("URI=\"") {
            let rest = &line[at + 5..];
            if let Some(end) = rest.find('"') {
                names.push(rest[..end].to_string());
            }
        }
    }
    names
}

/// What the bytes served under `name` must look like.
fn check_shape(name: &str, bytes: &[u8]) -> Result<(), String> {
    let starts = |prefix: &[u8]| bytes.starts_with(prefix);
    let box_kind = bytes.get(4..8).unwrap_or_default();
    let ok = if name.ends_with(".m3u8") {
        starts(b"#EXTM3U\n") && std::str::from_utf8(bytes).is_ok()
    } else if name.ends_with(".vtt") {
        starts(b"WEBVTT") && std::str::from_utf8(bytes).is_ok()
    } else if name.ends_with("_init.mp4") {
        box_kind == b"ftyp"
    } else if name.ends_with(".m4s") {
        box_kind == b"moof" || box_kind == b"styp"
    } else {
        false
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{name}: {} bytes that do not look like one ({:?}…)", bytes.len(), &bytes[..bytes.len().min(16)]))
    }
}

/// The input as a media file named `….extension`: opened through [`Context`] (1 s segments,
/// the default transcode policy), its info JSON made, and every name its master playlist and
/// media playlists list fetched (at most [`MAX_SEGMENTS_PER_PLAYLIST`] segments of each). A
/// segment is fetched as bytes and as file ranges, which must read back to the same bytes.
///
/// # Errors
/// A property that does not hold: a panic caught by the engine, bytes served under a name that
/// do not have its shape, info that is not JSON, ranges that differ from the bytes.
pub fn serve_all(bytes: &[u8], extension: &str) -> Result<Served, String> {
    let file = Scratch::new(bytes, extension)?;
    let config = Config { segment_duration: Duration::from_secs(1), cache_bytes: 8 << 20, ..Config::default() };
    let ctx = Context::new(config);
    let mut served = Served::default();
    let media = match ctx.open(file.path()) {
        Ok(m) => m,
        Err(e) => {
            clear_status(&e, "open", &mut served)?;
            return Ok(served);
        }
    };
    served.opened = true;
    let info = media.info_json();
    serde_json::from_str::<serde_json::Value>(&info).map_err(|e| format!("info is not JSON ({e}): {info}"))?;
    let mut queue = vec![crate::model::names::MASTER.to_string()];
    let mut seen = std::collections::HashSet::new();
    while let Some(name) = queue.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        served.fetched += 1;
        let bytes = match ctx.get(&media, &name) {
            Ok((b, _)) => b,
            Err(e) => {
                clear_status(&e, &name, &mut served)?;
                served.failed += 1;
                continue;
            }
        };
        check_shape(&name, &bytes)?;
        if name.ends_with(".m3u8") {
            let listed = listed_names(&String::from_utf8_lossy(&bytes));
            let keep = MAX_SEGMENTS_PER_PLAYLIST / 2;
            let n = listed.len();
            for (i, l) in listed.into_iter().enumerate().rev() {
                if i < keep || i + keep >= n || l.ends_with(".m3u8") || l.ends_with("_init.mp4") {
                    queue.push(l);
                }
            }
        } else if name.ends_with(".m4s") {
            same_as_ranges(&ctx, &media, &name, &bytes, &mut served)?;
        }
    }
    Ok(served)
}

/// A segment served as file ranges reads back to the bytes served for it.
fn same_as_ranges(
    ctx: &Context,
    media: &crate::engine::Media,
    name: &str,
    bytes: &[u8],
    served: &mut Served,
) -> Result<(), String> {
    match ctx.get_body(media, name) {
        Ok((Body::Parts(parts), _)) => {
            media.checked_file().map_err(|e| format!("{name}: ranges but no file: {e}"))?;
            match media.materialise(Body::Parts(parts)) {
                Ok(read) if read[..] != bytes[..] => Err(format!("{name}: its ranges read {} other bytes", read.len())),
                _ => Ok(()),
            }
        }
        Ok((Body::Bytes(b), _)) if b[..] != bytes[..] => Err(format!("{name}: served twice, two different bodies")),
        Ok(_) => Ok(()),
        Err(e) => clear_status(&e, name, served),
    }
}

/// The MP4 box reader: `data[1..]` as a `moov` payload (QuickTime brands when `data[0]` is odd)
/// of a file as large as the input, then the whole input as a file.
///
/// # Errors
/// A sample outside the file.
pub fn mp4_boxes(data: &[u8]) -> Result<usize, String> {
    let mut tracks = 0;
    if let Some((&flags, moov)) = data.split_first() {
        if let Ok(ix) = mp4::read_moov_payload(moov, flags & 1 == 1, data.len() as u64) {
            tracks += check_mp4(&ix, data.len() as u64)?;
        }
    }
    let file = Scratch::new(data, "mp4")?;
    let input = crate::container::read::ByteSource::from_file(file.open()?, file.path());
    if let Ok(ix) = mp4::read(&input, data.len() as u64) {
        tracks += check_mp4(&ix, data.len() as u64)?;
    }
    Ok(tracks)
}

/// Every sample of `ix` lies in the file. (Decode times may go back: a fragment's `tfdt` says
/// what it says, and FFmpeg keeps it too.)
fn check_mp4(ix: &mp4::Mp4Index, file_size: u64) -> Result<usize, String> {
    for (i, t) in ix.tracks.iter().enumerate() {
        for s in &t.samples {
            if s.pos.checked_add(u64::from(s.size())).is_none_or(|end| end > file_size) {
                return Err(format!("track {i}: a sample of {} bytes at {} in a file of {file_size}", s.size(), s.pos));
            }
        }
    }
    Ok(ix.tracks.len())
}

/// The EBML reader: the input as a Matroska file, its layout read, then the block walker from
/// the first cluster and from every cluster (and block) a Cue names, splitting laced blocks.
///
/// # Errors
/// A frame outside its block.
pub fn mkv_blocks(data: &[u8]) -> Result<usize, String> {
    let scratch = Scratch::new(data, "mkv")?;
    let file = crate::container::read::ByteSource::from_file(scratch.open()?, scratch.path());
    let size = data.len() as u64;
    let Ok(Some(layout)) = mkv::read_layout(&file, size) else {
        return Ok(0);
    };
    let mut starts: Vec<(u64, Option<u64>)> = layout.first_cluster.map(|c| (c, None)).into_iter().collect();
    starts.extend(layout.cues.iter().map(|c| (c.cluster, c.relative)));
    starts.dedup();
    let mut blocks = 0;
    for &(cluster, relative) in starts.iter().take(MAX_WALKS) {
        let mut w = mkv::BlockWalker::new(&file, size, &layout, cluster);
        let mut next = match relative {
            Some(r) => w.block_at(cluster, r),
            None => w.next_block(),
        };
        for _ in 0..MAX_BLOCKS_PER_WALK {
            let Ok(Some(b)) = next else { break };
            blocks += 1;
            // A block may run past the end of a cut file (reading it fails later, clearly); the
            // frames of a laced block lie inside the block.
            let block_end = b.data.saturating_add(b.data_len);
            if let Ok(frames) = w.frames(&b) {
                if let Some((at, len, _)) = frames
                    .iter()
                    .find(|(at, len, _)| *at < b.data || at.checked_add(*len).is_none_or(|e| e > block_end))
                {
                    return Err(format!(
                        "a frame of {len} bytes at {at} outside its block ({} + {})",
                        b.data, b.data_len
                    ));
                }
            }
            next = w.next_block();
        }
    }
    Ok(blocks)
}

/// The subtitle codecs [`subtitles`] picks from with its first byte.
const SUBTITLE_CODECS: [ffmpeg::codec::Id; 6] = [
    ffmpeg::codec::Id::SUBRIP,
    ffmpeg::codec::Id::ASS,
    ffmpeg::codec::Id::SSA,
    ffmpeg::codec::Id::MOV_TEXT,
    ffmpeg::codec::Id::WEBVTT,
    ffmpeg::codec::Id::TEXT,
];

/// The subtitle converters: `data[0]` picks the codec (SubRip, ASS, SSA, mov_text, WebVTT,
/// plain text), then sections separated by [`SUBTITLE_SEPARATOR`]: the codec header (ASS
/// styles, mov_text sample description), then one packet each (packet `i` at `i` s, every other
/// one without a duration). The cues are rendered as a WebVTT file and a segment; each payload
/// also goes through [`ass_text_to_webvtt`].
///
/// # Errors
/// A cue whose text has an empty line or a `-->`, a cue that ends before it starts, or WebVTT
/// output that is not UTF-8 starting with `WEBVTT`.
pub fn subtitles(data: &[u8]) -> Result<usize, String> {
    let Some((&pick, rest)) = data.split_first() else {
        return Ok(0);
    };
    let codec = SUBTITLE_CODECS[usize::from(pick) % SUBTITLE_CODECS.len()];
    let mut sections = split(rest, SUBTITLE_SEPARATOR);
    let header = sections.next().unwrap_or_default();
    crate::container::demux::init_ffmpeg();
    let time_base = ffmpeg::Rational::new(1, 1000);
    let mut extractor = match CueExtractor::new(subtitle_params(codec, header), time_base) {
        Ok(x) => x,
        Err(e) if e.kind == ErrorKind::Panic => return Err(format!("decoder: {e}")),
        Err(_) => return Ok(0),
    };
    for (i, payload) in sections.enumerate() {
        check_cue_text(&ass_text_to_webvtt(&String::from_utf8_lossy(payload)))?;
        let mut packet = ffmpeg::Packet::copy(payload);
        packet.set_pts(Some(i as i64 * 1000));
        packet.set_dts(Some(i as i64 * 1000));
        if i % 2 == 0 {
            packet.set_duration(900);
        }
        let _ = extractor.push(&packet);
    }
    let track = extractor.finish_with_media_end(60_000_000);
    check_cues(&track)?;
    for out in [webvtt::render_full(&track, 900_000), webvtt::render_segment(&track, 0, 2_000_000, 900_000)] {
        let text = std::str::from_utf8(&out).map_err(|e| format!("WebVTT is not UTF-8: {e}"))?;
        if !text.starts_with("WEBVTT") {
            return Err(format!("not a WebVTT file: {text:?}"));
        }
    }
    Ok(track.len())
}

/// `data` cut at every `sep`.
fn split<'a>(data: &'a [u8], sep: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.windows(sep.len()).position(|w| w == sep) {
            Some(at) => {
                rest = Some(&r[at + sep.len()..]);
                Some(&r[..at])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// WebVTT cue text: no empty line (it would end the cue), no `-->` (it would start one).
fn check_cue_text(text: &str) -> Result<(), String> {
    if text.contains("-->") || text.split('\n').any(|l| l.trim().is_empty()) && !text.is_empty() {
        return Err(format!("cue text that breaks WebVTT: {text:?}"));
    }
    Ok(())
}

/// Every cue has text that keeps WebVTT intact and does not end before it starts.
fn check_cues(track: &CueTrack) -> Result<(), String> {
    for c in track.cues() {
        check_cue_text(&c.text)?;
        if c.end_us < c.start_us {
            let mut s = String::new();
            let _ = write!(s, "a cue from {} µs to {} µs", c.start_us, c.end_us);
            return Err(s);
        }
    }
    Ok(())
}

/// Codec parameters of a subtitle stream of `codec` with `header` as its extradata.
fn subtitle_params(codec: ffmpeg::codec::Id, header: &[u8]) -> ffmpeg::codec::Parameters {
    let mut p = ffmpeg::codec::Parameters::new();
    p.set_medium(ffmpeg::media::Type::Subtitle);
    p.set_id(codec);
    let Ok(len) = i32::try_from(header.len()) else { return p };
    if len == 0 {
        return p;
    }
    let padding = ffmpeg::ffi::AV_INPUT_BUFFER_PADDING_SIZE as usize;
    // SAFETY: av_mallocz returns NULL or a zeroed buffer of the size asked for.
    let buf = unsafe { ffmpeg::ffi::av_mallocz(header.len() + padding) }.cast::<u8>();
    if buf.is_null() {
        return p;
    }
    // SAFETY: buf holds header.len() + padding bytes and does not overlap header; the
    // parameters (allocated by `Parameters::new`, which frees them and their extradata with
    // `avcodec_parameters_free` when dropped) take the buffer over, with FFmpeg's padding.
    unsafe {
        std::ptr::copy_nonoverlapping(header.as_ptr(), buf, header.len());
        let par = p.as_mut_ptr();
        (*par).extradata = buf;
        (*par).extradata_size = len;
    }
    p
}

/// The name router: the input (as text) parses to a resource whose one spelling is the input,
/// or fails with `InvalidArgument`/`NotFound`; and a resource built from the input's bytes is
/// named with a spelling that parses back to it.
///
/// # Errors
/// The property that failed.
pub fn names(data: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(data);
    match Resource::parse(&text) {
        Ok(r) => {
            if r.name() != text {
                return Err(format!("{text:?} parsed to {r:?}, whose name is {:?}", r.name()));
            }
        }
        Err(e) if matches!(e.kind, ErrorKind::InvalidArgument | ErrorKind::NotFound) => {}
        Err(e) => return Err(format!("{text:?}: unexpected status {:?}", e.kind)),
    }
    let word = |i: usize| data.get(i..i + 4).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    // Stream and segment numbers below 10^9: no file has more streams or segments, and the
    // router reads at most 9 digits.
    let id = TrackId { stream: (word(1) % 1_000_000_000) as usize, aac: word(5) & 1 == 1 };
    let k = (word(9) % 1_000_000_000) as usize;
    let r = match data.first().map_or(0, |b| b % 8) {
        0 => Resource::Master,
        1 => Resource::MediaPlaylist(id),
        2 => Resource::Init(id),
        3 => Resource::Segment(id, k),
        4 => Resource::Vtt(id, k),
        5 => Resource::VttFull(id),
        6 => Resource::IFramePlaylist(id),
        _ => Resource::IFrame(id, k),
    };
    match Resource::parse(&r.name()) {
        Ok(back) if back == r => Ok(()),
        other => Err(format!("{r:?} is named {:?}, which parses to {other:?}", r.name())),
    }
}

/// The persisted-index reader (`index::persist::decode`) on hostile bytes, two ways: `data` as
/// an index file, and `data` read as `[u32 length][serialized part][sample tables]` sealed with
/// valid header checksums (so that mutations reach the serialized part and the tables, not only
/// the checksum that guards them). Whatever decodes must have readable tables (or report them
/// damaged) and encode again into a file that decodes.
///
/// # Errors
/// A decoded index that does not survive its own round trip.
pub fn index_file(data: &[u8]) -> Result<usize, String> {
    use crate::index::persist;
    let mut decoded = 0;
    let mut check = |bytes: &[u8]| -> Result<(), String> {
        let Ok((key, index)) = persist::decode(bytes) else { return Ok(()) };
        decoded += 1;
        let readable = index.tables().iter().all(|t| t.all().is_ok());
        if readable {
            let again = persist::encode(&key, &index).map_err(|e| format!("decoded index not encodable: {e}"))?;
            persist::decode(&again).map_err(|e| format!("re-encoded index rejected: {e}"))?;
        }
        Ok(())
    };
    check(data)?;
    if let Some((len, rest)) = data.split_first_chunk::<4>() {
        let meta_len = (u32::from_le_bytes(*len) as usize).min(rest.len());
        let (meta, tables) = rest.split_at(meta_len);
        check(&persist::sealed(meta, tables))?;
    }
    Ok(decoded)
}
