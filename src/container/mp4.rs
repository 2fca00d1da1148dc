//! Fast ISO-BMFF (MP4 / MOV / M4A) sample-table reader.
//!
//! [`read`] walks the top-level boxes of a file with a few positioned reads, reads the whole
//! `moov` box in one read and turns every `trak` sample table into a flat list of samples
//! (decode order, byte position, size, DTS, PTS, key flag), without reading any media data.
//!
//! The timestamps are those that FFmpeg 5.1's mov demuxer (with its default options:
//! `advanced_editlist=1`, `ignore_editlist=0`) gives to its packets, so that they can be compared
//! with `ffprobe -show_packets`: the same `stts` corrections, `ctts` entry filtering, DTS shift
//! for negative composition offsets, uncompressed-audio chunk grouping and edit-list handling
//! (`mov_build_index` + `mov_fix_index`). Supported edit lists: none, one edit with a media time
//! ≥ 0, or empty edits followed by one such edit; anything else is reported as
//! `Err("unsupported edit list")` so that the caller can fall back to FFmpeg.
//!
//! Hostile input never panics and never makes this module allocate more than the file backs:
//! every count is checked against its box size (or the file size) before any allocation.

use std::fs::File;

use crate::codec::{aac, mp3};

/// Largest `moov` box that is read into memory.
const MAX_MOOV: u64 = 512 << 20;
/// Most samples accepted for one file, all tracks together (32 bytes each).
const MAX_SAMPLES: u64 = 1 << 25;
/// Most top-level boxes walked before the moov.
const MAX_TOP_LEVEL_BOXES: usize = 100_000;
/// FFmpeg's `max_stts_delta` default: larger `stts` deltas are taken as negative corrections.
const MAX_STTS_DELTA: u32 = u32::MAX - 48000 * 10;
/// Largest sample FFmpeg indexes (`0x3FFFFFFF`).
const MAX_SAMPLE_SIZE: u32 = 0x3FFF_FFFF;
/// Top-level boxes accepted as the first box of a file.
const FIRST_BOXES: [&[u8; 4]; 10] =
    [b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid", b"styp", b"sidx"];

/// One sample in decode order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mp4Sample {
    /// Byte position of the sample data in the file.
    pub pos: u64,
    /// Size of the sample data in bytes.
    pub size: u32,
    /// Decode timestamp, in the track timescale, edit list applied.
    pub dts: i64,
    /// Presentation timestamp, in the track timescale, edit list applied.
    pub pts: i64,
    /// Sync sample (`stss`, `stps` or a `rap ` sample group; every sample without `stss`).
    pub key: bool,
}

/// One `trak`, in moov order (its position = FFmpeg's stream index for this file).
#[derive(Clone, Debug, Default)]
pub struct Mp4Track {
    /// `tkhd` track ID.
    pub track_id: u32,
    /// `hdlr` handler type: `b"vide"`, `b"soun"`, `b"sbtl"`, `b"text"`, `b"subt"`, ...
    pub handler: [u8; 4],
    /// `mdhd` timescale (1 when missing or invalid, as FFmpeg).
    pub timescale: u32,
    /// `mdhd` language (ISO-639-2/T, or a QuickTime language code mapped as FFmpeg does);
    /// `None` for "und" or an unknown code.
    pub language: Option<String>,
    /// `hdlr` name (or `udta/name`); `None` when empty or ending with "Handler".
    pub name: Option<String>,
    /// `tkhd` "enabled" flag (FFmpeg's `default` disposition).
    pub default: bool,
    /// Type of the first `stsd` entry: avc1, hvc1, mp4a, ac-3, Opus, fLaC, tx3g, sowt, ...
    pub sample_entry: [u8; 4],
    /// Decoder configuration, as FFmpeg's extradata: avcC / hvcC / av1C payload; the esds
    /// DecoderSpecificInfo; an OpusHead built from dOps; the FLAC STREAMINFO from dfLa; the whole
    /// `alac` box; for text subtitles the sample entry after its 16-byte header; else empty.
    pub config: Vec<u8>,
    /// esds objectTypeIndication (0x40 AAC, 0x6B / 0x69 MP3, ...), 0 if none.
    pub object_type: u8,
    /// Visual sample entry width.
    pub width: u32,
    /// Visual sample entry height.
    pub height: u32,
    /// Audio channels: sample entry (v0/v1/v2), overridden as FFmpeg's demuxer does by the AAC
    /// AudioSpecificConfig and by dac3 / dec3.
    pub channels: u32,
    /// Audio sample rate: sample entry (v2: the real rate), the AAC AudioSpecificConfig (SBR
    /// extension rate when signalled), or the timescale when the entry says 0.
    pub sample_rate: u32,
    /// Audio sample entry sample size (v2: bits per channel; PCM: the bits of the PCM format
    /// FFmpeg picks, e.g. 24 for `in24`), 0 for other tracks.
    pub bits_per_sample: u32,
    /// Samples in decode order, timestamps in `timescale` units, edit list applied exactly as
    /// FFmpeg 5.1's mov demuxer reports them. Uncompressed audio whose `stts` is one entry of
    /// duration 1 is grouped as FFmpeg groups it (up to 1024 frames per sample, per chunk).
    pub samples: Vec<Mp4Sample>,
    /// DTS after the last sample (last DTS + its `stts` duration); 0 without samples.
    pub end_dts: i64,
    /// Another track refers to this one as its chapter track (`tref/chap`): FFmpeg turns a text
    /// chapter track into chapters (a data stream without packets) and a video one into an
    /// attached picture, so it is not a media track to serve.
    pub chapter: bool,
}

/// The tracks of one file.
#[derive(Clone, Debug, Default)]
pub struct Mp4Index {
    /// Every `trak` of the `moov`, in order.
    pub tracks: Vec<Mp4Track>,
    /// The `moov` has an `mvex` box: the samples live (also) in movie fragments, which are not
    /// read; the caller should fall back to FFmpeg.
    pub fragmented: bool,
}

/// Reads the moov of an MP4/MOV/M4A file with a few positioned reads (walk top-level boxes by
/// size; moov may sit after mdat; the whole moov is read in one read).
///
/// Errors (a clear reason): not ISO-BMFF (no ftyp/moov box at the top level), moov missing
/// (truncated file), box sizes that overrun the file, sample data (pos+size) beyond the end of
/// the file ("truncated"), corrupt tables, and constructs this reader leaves to FFmpeg
/// ("unsupported edit list", several sample descriptions in use, compressed moov).
pub fn read(file: &File, file_size: u64) -> Result<Mp4Index, String> {
    let top = scan_top_level(file, file_size)?;
    let len = usize::try_from(top.moov_len).map_err(|_| "moov box too large".to_string())?;
    let mut moov: Vec<u8> = Vec::with_capacity(len);
    crate::util::memhint::huge_pages(&moov);
    moov.resize(len, 0);
    read_at(file, &mut moov, top.moov_pos)?;
    parse_moov(&moov, top.brands, file_size)
}

// ---------------------------------------------------------------------------------------------
// File access and the top level
// ---------------------------------------------------------------------------------------------

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], pos: u64) -> Result<(), String> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, pos).map_err(|e| format!("read error at byte {pos}: {e}"))
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], pos: u64) -> Result<(), String> {
    use std::os::windows::fs::FileExt;
    let mut done = 0;
    while done < buf.len() {
        match file.seek_read(&mut buf[done..], pos + done as u64) {
            Ok(0) => return Err(format!("unexpected end of file at byte {}", pos + done as u64)),
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read error at byte {pos}: {e}")),
        }
    }
    Ok(())
}

#[cfg(not(any(unix, windows)))]
fn read_at(file: &File, buf: &mut [u8], pos: u64) -> Result<(), String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = file;
    f.seek(SeekFrom::Start(pos)).map_err(|e| format!("seek error at byte {pos}: {e}"))?;
    f.read_exact(buf).map_err(|e| format!("read error at byte {pos}: {e}"))
}

/// What the `ftyp` box says that matters to FFmpeg's parsing.
#[derive(Clone, Copy, Debug, Default)]
struct Brands {
    /// Major brand present and not "qt  " (FFmpeg's `isom`).
    isom: bool,
    /// "qt  " among the compatible brands.
    qt_compatible: bool,
}

/// Result of the top-level walk.
struct TopLevel {
    brands: Brands,
    moov_pos: u64,
    moov_len: u64,
}

/// One box header read from the file.
struct FileBox {
    kind: [u8; 4],
    size: u64,
    header: u64,
}

fn fourcc_str(kind: &[u8; 4]) -> String {
    kind.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '?' }).collect()
}

fn scan_top_level(file: &File, file_size: u64) -> Result<TopLevel, String> {
    if file_size == 0 {
        return Err("not an ISO-BMFF file: empty file".into());
    }
    let mut brands = Brands::default();
    let mut pos = 0u64;
    for _ in 0..MAX_TOP_LEVEL_BOXES {
        if pos >= file_size {
            break;
        }
        let b = read_file_box(file, pos, file_size)?;
        if pos == 0 && !FIRST_BOXES.contains(&&b.kind) {
            return Err("not an ISO-BMFF file: no ftyp or moov box at the start".into());
        }
        if b.size > file_size - pos {
            return Err(overrun_reason(&b, pos, file_size));
        }
        match &b.kind {
            b"ftyp" => brands = read_ftyp(file, pos + b.header, b.size - b.header)?,
            b"moov" => return moov_location(brands, pos, &b),
            _ => {}
        }
        pos += b.size;
    }
    if pos < file_size {
        return Err(format!("no moov box in the first {MAX_TOP_LEVEL_BOXES} top-level boxes"));
    }
    Err("truncated file: no moov box".into())
}

fn overrun_reason(b: &FileBox, pos: u64, file_size: u64) -> String {
    let (size, kind) = (b.size, fourcc_str(&b.kind));
    let what = if &b.kind == b"moov" { "the moov box".to_string() } else { format!("no moov box; box '{kind}'") };
    format!("truncated file: {what} at byte {pos} ({size} bytes) runs past the end of the file ({file_size} bytes)")
}

fn moov_location(brands: Brands, pos: u64, b: &FileBox) -> Result<TopLevel, String> {
    let len = b.size - b.header;
    if len > MAX_MOOV {
        return Err(format!("moov box too large ({len} bytes)"));
    }
    Ok(TopLevel { brands, moov_pos: pos + b.header, moov_len: len })
}

fn read_file_box(file: &File, pos: u64, file_size: u64) -> Result<FileBox, String> {
    let left = file_size - pos;
    if left < 8 {
        return Err(if pos == 0 {
            "not an ISO-BMFF file: too short".into()
        } else {
            format!("truncated file: no moov box ({left} stray bytes at the end)")
        });
    }
    let mut h = [0u8; 16];
    let n = if left >= 16 { 16 } else { 8 };
    read_at(file, &mut h[..n], pos)?;
    let kind = [h[4], h[5], h[6], h[7]];
    let size32 = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    let (size, header) = match size32 {
        0 => (left, 8),
        1 if n == 16 => (u64::from_be_bytes([h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]]), 16),
        1 => return Err(format!("truncated file: box header at byte {pos} cut")),
        s => (u64::from(s), 8),
    };
    if size < header {
        if pos == 0 {
            return Err("not an ISO-BMFF file: invalid first box".into());
        }
        return Err(format!("corrupt file: box '{}' at byte {pos} has size {size}", fourcc_str(&kind)));
    }
    Ok(FileBox { kind, size, header })
}

fn read_ftyp(file: &File, pos: u64, len: u64) -> Result<Brands, String> {
    let mut buf = vec![0u8; len.min(4096) as usize];
    read_at(file, &mut buf, pos)?;
    let major = buf.get(0..4);
    let isom = major.is_some_and(|m| m != b"qt  ");
    let qt_compatible = buf.get(8..).unwrap_or(&[]).chunks_exact(4).any(|c| c == b"qt  ");
    Ok(Brands { isom, qt_compatible })
}

// ---------------------------------------------------------------------------------------------
// In-memory box access
// ---------------------------------------------------------------------------------------------

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at.checked_add(2)?)?.try_into().ok()?))
}

fn be24(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(3)?)?;
    Some(u32::from_be_bytes([0, s[0], s[1], s[2]]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

fn be64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at.checked_add(8)?)?.try_into().ok()?))
}

fn fourcc(b: &[u8], at: usize) -> Option<[u8; 4]> {
    b.get(at..at.checked_add(4)?)?.try_into().ok()
}

/// The child boxes of a payload, as FFmpeg's `mov_read_default` walks them: a size of 0 runs to
/// the end, a size of 1 is followed by a 64-bit size, a size larger than the parent is clamped,
/// a size smaller than the header ends the walk.
struct Boxes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Boxes<'a> {
    fn new(data: &'a [u8]) -> Self {
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
            0 => (rest.len() as u64, 8),
            1 => (be64(rest, 8)?, 16),
            s => (u64::from(s), 8),
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

fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    Boxes::new(data).find(|(k, _)| k == kind).map(|(_, b)| b)
}

// ---------------------------------------------------------------------------------------------
// moov / trak
// ---------------------------------------------------------------------------------------------

/// What every track needs from the file and the movie header.
#[derive(Clone, Copy)]
struct FileCtx {
    brands: Brands,
    file_size: u64,
    /// Samples the track may still have (what `MAX_SAMPLES` leaves after the previous tracks).
    sample_budget: u64,
    /// `mvhd` timescale, when an `mvhd` came before the track.
    movie_timescale: Option<u32>,
}

fn parse_moov(moov: &[u8], brands: Brands, file_size: u64) -> Result<Mp4Index, String> {
    let mut ctx = FileCtx { brands, file_size, sample_budget: MAX_SAMPLES, movie_timescale: None };
    let mut index = Mp4Index::default();
    let mut chapter_ids = Vec::new();
    for (kind, body) in Boxes::new(moov) {
        match &kind {
            b"mvhd" => ctx.movie_timescale = Some(parse_mvhd(body)?),
            b"trak" => {
                let boxes = collect_trak(body);
                let ids = boxes.chapters.unwrap_or(&[]);
                chapter_ids.extend(ids.chunks_exact(4).take(64).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])));
                let track = parse_track(&boxes, &ctx).map_err(|e| format!("track {}: {e}", index.tracks.len()))?;
                ctx.sample_budget = ctx.sample_budget.saturating_sub(track.samples.len() as u64);
                index.tracks.push(track);
            }
            b"mvex" => index.fragmented = true,
            b"cmov" => return Err("compressed moov (cmov) is not supported".into()),
            _ => {}
        }
    }
    for t in &mut index.tracks {
        t.chapter = chapter_ids.contains(&t.track_id);
    }
    Ok(index)
}

fn parse_mvhd(body: &[u8]) -> Result<u32, String> {
    let at = if body.first() == Some(&1) { 20 } else { 12 };
    let ts = be32(body, at).ok_or("corrupt mvhd")?;
    Ok(if ts as i32 <= 0 { 1 } else { ts })
}

/// The boxes of one `trak` that matter, borrowed from the moov buffer.
#[derive(Default)]
struct TrakBoxes<'a> {
    tkhd: Option<&'a [u8]>,
    elst: Option<&'a [u8]>,
    mdhd: Option<&'a [u8]>,
    hdlr: Option<&'a [u8]>,
    udta_name: Option<&'a [u8]>,
    /// `tref/chap` track IDs.
    chapters: Option<&'a [u8]>,
    stbl: StblBoxes<'a>,
}

/// The sample-table boxes of one `stbl`.
#[derive(Default)]
struct StblBoxes<'a> {
    stsd: Option<&'a [u8]>,
    stts: Option<&'a [u8]>,
    ctts: Option<&'a [u8]>,
    stss: Option<&'a [u8]>,
    stps: Option<&'a [u8]>,
    stsz: Option<&'a [u8]>,
    stz2: Option<&'a [u8]>,
    stsc: Option<&'a [u8]>,
    stco: Option<&'a [u8]>,
    co64: Option<&'a [u8]>,
    sbgp_rap: Option<&'a [u8]>,
}

fn set_once<'a>(slot: &mut Option<&'a [u8]>, body: &'a [u8]) {
    if slot.is_none() {
        *slot = Some(body);
    }
}

fn collect_trak(trak: &[u8]) -> TrakBoxes<'_> {
    let mut t = TrakBoxes::default();
    for (kind, body) in Boxes::new(trak) {
        match &kind {
            b"tkhd" => set_once(&mut t.tkhd, body),
            b"edts" => {
                if let Some(e) = child(body, b"elst") {
                    set_once(&mut t.elst, e);
                }
            }
            b"mdia" => collect_mdia(body, &mut t),
            b"udta" => {
                if let Some(n) = child(body, b"name") {
                    set_once(&mut t.udta_name, n);
                }
            }
            b"tref" => {
                if let Some(c) = child(body, b"chap") {
                    set_once(&mut t.chapters, c);
                }
            }
            _ => {}
        }
    }
    t
}

fn collect_mdia<'a>(mdia: &'a [u8], t: &mut TrakBoxes<'a>) {
    for (kind, body) in Boxes::new(mdia) {
        match &kind {
            b"mdhd" => set_once(&mut t.mdhd, body),
            b"hdlr" => set_once(&mut t.hdlr, body),
            b"minf" => {
                if let Some(stbl) = child(body, b"stbl") {
                    collect_stbl(stbl, &mut t.stbl);
                }
            }
            _ => {}
        }
    }
}

fn collect_stbl<'a>(stbl: &'a [u8], s: &mut StblBoxes<'a>) {
    for (kind, body) in Boxes::new(stbl) {
        let slot = match &kind {
            b"stsd" => &mut s.stsd,
            b"stts" => &mut s.stts,
            b"ctts" => &mut s.ctts,
            b"stss" => &mut s.stss,
            b"stps" => &mut s.stps,
            b"stsz" => &mut s.stsz,
            b"stz2" => &mut s.stz2,
            b"stsc" => &mut s.stsc,
            b"stco" => &mut s.stco,
            b"co64" => &mut s.co64,
            b"sbgp" if fourcc(body, 4) == Some(*b"rap ") => &mut s.sbgp_rap,
            _ => continue,
        };
        set_once(slot, body);
    }
}

fn parse_track(b: &TrakBoxes<'_>, ctx: &FileCtx) -> Result<Mp4Track, String> {
    let mut track = Mp4Track::default();
    apply_tkhd(b.tkhd, &mut track);
    let mdhd = parse_mdhd(b.mdhd, ctx.movie_timescale)?;
    track.timescale = mdhd.timescale;
    track.language = mdhd.language;
    let handler = b.hdlr.and_then(|h| fourcc(h, 8)).unwrap_or(*b"\0\0\0\0");
    track.handler = handler;
    track.name = track_name(b.hdlr, b.udta_name, ctx.brands.isom);
    let entry = match b.stbl.stsd {
        Some(stsd) => parse_stsd(stsd, &handler, ctx.brands, track.timescale)?,
        None => SampleEntry { kind: kind_of(&handler, b"\0\0\0\0"), ..SampleEntry::default() },
    };
    entry.fill_track(&mut track);
    let tables = Tables::parse(&b.stbl, ctx.file_size)?;
    let edit = EditPlan::parse(b.elst, ctx.movie_timescale, track.timescale)?;
    let built = build_index(&tables, &entry, ctx)?;
    let (samples, end_dts) = built.finish(edit.as_ref(), &entry, track.timescale);
    track.samples = samples;
    track.end_dts = end_dts;
    Ok(track)
}

fn apply_tkhd(tkhd: Option<&[u8]>, track: &mut Mp4Track) {
    let Some(t) = tkhd else { return };
    let at = if t.first() == Some(&1) { 20 } else { 12 };
    track.track_id = be32(t, at).unwrap_or(0);
    track.default = be24(t, 1).is_some_and(|f| f & 1 != 0);
}

/// What the `mdhd` gives.
struct Mdhd {
    timescale: u32,
    language: Option<String>,
}

fn parse_mdhd(mdhd: Option<&[u8]>, movie_timescale: Option<u32>) -> Result<Mdhd, String> {
    let Some(m) = mdhd else {
        // FFmpeg's fix_timescale: the movie timescale, else 1.
        return Ok(Mdhd { timescale: movie_timescale.unwrap_or(1), language: None });
    };
    let version = *m.first().ok_or("corrupt mdhd")?;
    if version > 1 {
        return Err(format!("unsupported mdhd version {version}"));
    }
    let (ts_at, lang_at) = if version == 1 { (20, 32) } else { (12, 20) };
    let ts = be32(m, ts_at).ok_or("corrupt mdhd")?;
    let timescale = if ts as i32 <= 0 { 1 } else { ts };
    let language = be16(m, lang_at).and_then(language_code);
    Ok(Mdhd { timescale, language })
}

/// FFmpeg's `ff_mov_lang_to_iso639`, with "und" mapped to `None`.
fn language_code(code: u16) -> Option<String> {
    let code = u32::from(code);
    let lang = if code >= 0x400 && code != 0x7fff {
        let c = |shift: u32| char::from(0x60 + ((code >> shift) & 0x1f) as u8);
        [c(10), c(5), c(0)].iter().collect::<String>()
    } else {
        let mac = MAC_LANGUAGES.get(code as usize)?;
        if mac.is_empty() {
            return None;
        }
        (*mac).to_string()
    };
    (lang != "und").then_some(lang)
}

/// QuickTime (Macintosh) language codes, as FFmpeg maps them.
const MAC_LANGUAGES: [&str; 139] = [
    "eng", "fra", "ger", "ita", "dut", "sve", "spa", "dan", "por", "nor", "heb", "jpn", "ara", "fin", "gre", "ice",
    "mlt", "tur", "hr ", "chi", "urd", "hin", "tha", "kor", "lit", "pol", "hun", "est", "lav", "smi", "fo ", "per",
    "rus", "chi", "", "iri", "alb", "ron", "ces", "slk", "slv", "yid", "sr ", "mac", "bul", "ukr", "bel", "uzb", "kaz",
    "aze", "aze", "arm", "geo", "mol", "kir", "tgk", "tuk", "mon", "", "pus", "kur", "kas", "snd", "tib", "nep", "san",
    "mar", "ben", "asm", "guj", "pa ", "ori", "mal", "kan", "tam", "tel", "sin", "bur", "khm", "lao", "vie", "ind",
    "tgl", "may", "may", "amh", "tir", "orm", "som", "swa", "kin", "run", "nya", "mlg", "epo", "", "", "", "", "", "",
    "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "wel",
    "baq", "cat", "lat", "que", "grn", "aym", "tat", "uig", "dzo", "jav",
];

/// Track title: the `hdlr` name unless empty or a default "...Handler", else `udta/name`.
fn track_name(hdlr: Option<&[u8]>, udta_name: Option<&[u8]>, isom: bool) -> Option<String> {
    let from_hdlr = hdlr.and_then(|h| h.get(24..)).and_then(|raw| hdlr_name(raw, isom));
    from_hdlr.or_else(|| udta_name.and_then(|raw| usable_name(c_string(raw))))
}

fn hdlr_name(raw: &[u8], isom: bool) -> Option<String> {
    let mut s = c_string(raw);
    // QuickTime stores a Pascal string: FFmpeg skips its length byte.
    if !isom && !s.is_empty() && s[0] < 0x80 && usize::from(s[0]) + 1 == raw.len() {
        s = &s[1..];
    }
    usable_name(s)
}

fn c_string(raw: &[u8]) -> &[u8] {
    raw.split(|&b| b == 0).next().unwrap_or(&[])
}

fn usable_name(s: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(s);
    let t = s.trim();
    (!t.is_empty() && !s.ends_with("Handler")).then(|| s.into_owned())
}

// ---------------------------------------------------------------------------------------------
// Sample description
// ---------------------------------------------------------------------------------------------

/// FFmpeg's stream type, as decided from the handler and the sample entry type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Kind {
    Video,
    Audio,
    Subtitle,
    #[default]
    Data,
}

fn kind_of(handler: &[u8; 4], entry: &[u8; 4]) -> Kind {
    let base = match handler {
        b"vide" => Kind::Video,
        b"soun" => Kind::Audio,
        b"subp" | b"clcp" => Kind::Subtitle,
        _ => Kind::Data,
    };
    if base != Kind::Video && is_audio_tag(entry) {
        Kind::Audio
    } else if base != Kind::Audio && entry != b"mp4s" && is_video_tag(entry) {
        Kind::Video
    } else if matches!(base, Kind::Data | Kind::Subtitle) && matches!(entry, b"text" | b"tx3g" | b"c608") {
        Kind::Subtitle
    } else {
        base
    }
}

fn is_audio_tag(t: &[u8; 4]) -> bool {
    const TAGS: [&[u8; 4]; 32] = [
        b"mp4a", b"ac-3", b"ec-3", b"Opus", b"fLaC", b".mp3", b".mp2", b"sowt", b"twos", b"lpcm", b"ipcm", b"raw ",
        b"in24", b"in32", b"fl32", b"fl64", b"alaw", b"ulaw", b"ima4", b"alac", b"samr", b"sawb", b"dtsc", b"dtsh",
        b"dtsl", b"dtse", b"mlpa", b"spex", b"Qclp", b"QDM2", b"QDMC", b"NONE",
    ];
    TAGS.contains(&t)
}

fn is_video_tag(t: &[u8; 4]) -> bool {
    const TAGS: [&[u8; 4]; 24] = [
        b"avc1", b"avc2", b"avc3", b"avc4", b"hvc1", b"hev1", b"dvh1", b"dvhe", b"dva1", b"dvav", b"av01", b"vp08",
        b"vp09", b"mp4v", b"jpeg", b"mjpa", b"mjpb", b"apch", b"apcn", b"apcs", b"apco", b"ap4h", b"s263", b"h263",
    ];
    TAGS.contains(&t)
}

/// What the first `stsd` entry gives.
#[derive(Clone, Debug, Default)]
struct SampleEntry {
    kind: Kind,
    fourcc: [u8; 4],
    config: Vec<u8>,
    object_type: u8,
    width: u32,
    height: u32,
    channels: u32,
    sample_rate: u32,
    bits_per_sample: u32,
    /// QuickTime v1/v2 sound fields (or codec defaults), for uncompressed-audio grouping.
    samples_per_frame: u32,
    bytes_per_frame: u32,
    /// Bytes per audio frame of a PCM codec (FFmpeg's `sc->sample_size` from stsd), else 0.
    pcm_frame_size: u32,
}

impl SampleEntry {
    fn fill_track(&self, t: &mut Mp4Track) {
        t.sample_entry = self.fourcc;
        t.config = self.config.clone();
        t.object_type = self.object_type;
        t.width = self.width;
        t.height = self.height;
        t.channels = self.channels;
        t.sample_rate = self.sample_rate;
        t.bits_per_sample = self.bits_per_sample;
    }
}

fn parse_stsd(stsd: &[u8], handler: &[u8; 4], brands: Brands, timescale: u32) -> Result<SampleEntry, String> {
    let stsd_version = *stsd.first().ok_or("corrupt stsd")?;
    let count = be32(stsd, 4).ok_or("corrupt stsd")?;
    if count as i32 <= 0 || count as usize > stsd.len() / 8 || count > 1024 {
        return Err(format!("invalid stsd entry count {count}"));
    }
    let entries = stsd.get(8..).unwrap_or(&[]);
    let size = be32(entries, 0).ok_or("corrupt stsd")? as usize;
    if size <= 7 {
        return Err(format!("invalid stsd entry size {size}"));
    }
    let entry = entries.get(..size.min(entries.len())).unwrap_or(&[]);
    let fourcc = fourcc(entry, 4).ok_or("corrupt stsd")?;
    let mut e = SampleEntry { kind: kind_of(handler, &fourcc), fourcc, ..SampleEntry::default() };
    let read_ext = !brands.isom || brands.qt_compatible || stsd_version == 0;
    let children = match e.kind {
        Kind::Video => parse_visual(entry, &mut e),
        Kind::Audio => parse_audio(entry, &mut e, read_ext),
        Kind::Subtitle if &fourcc != b"mp4s" => {
            e.config = entry.get(16..).unwrap_or(&[]).to_vec();
            &[][..]
        }
        Kind::Subtitle => entry.get(16..).unwrap_or(&[]),
        Kind::Data => &[][..],
    };
    read_entry_children(children, &mut e, 0)?;
    if e.kind == Kind::Audio && e.sample_rate == 0 && timescale > 1 {
        e.sample_rate = timescale;
    }
    Ok(e)
}

/// Visual sample entry: dimensions; child boxes start at byte 86.
fn parse_visual<'a>(entry: &'a [u8], e: &mut SampleEntry) -> &'a [u8] {
    e.width = be16(entry, 32).map_or(0, u32::from);
    e.height = be16(entry, 34).map_or(0, u32::from);
    entry.get(86..).unwrap_or(&[])
}

/// Audio sample entry (QuickTime v0/v1/v2 or ISO): channels, rate, PCM layout; returns the
/// child boxes, which follow the version-specific fields.
fn parse_audio<'a>(entry: &'a [u8], e: &mut SampleEntry, read_ext: bool) -> &'a [u8] {
    let version = be16(entry, 16).unwrap_or(0);
    e.channels = be16(entry, 24).map_or(0, u32::from);
    e.bits_per_sample = be16(entry, 26).map_or(0, u32::from);
    e.sample_rate = be32(entry, 32).map_or(0, |r| r >> 16);
    let mut lpcm_flags = None;
    let mut children_at = 36;
    if read_ext && version == 1 {
        e.samples_per_frame = be32(entry, 36).unwrap_or(0);
        e.bytes_per_frame = be32(entry, 44).unwrap_or(0);
        children_at = 52;
    } else if read_ext && version == 2 {
        let rate = be64(entry, 40).map_or(0.0, f64::from_bits);
        e.sample_rate = if rate.is_finite() && rate >= 0.0 && rate < f64::from(i32::MAX) { rate as u32 } else { 0 };
        e.channels = be32(entry, 48).unwrap_or(0);
        e.bits_per_sample = be32(entry, 56).unwrap_or(0);
        lpcm_flags = be32(entry, 60);
        e.bytes_per_frame = be32(entry, 64).unwrap_or(0);
        e.samples_per_frame = be32(entry, 68).unwrap_or(0);
        children_at = 72;
    }
    apply_codec_frame_defaults(e);
    let bits = pcm_bits(&e.fourcc, e.bits_per_sample, lpcm_flags);
    if bits > 0 {
        e.bits_per_sample = bits;
        e.pcm_frame_size = (bits >> 3).saturating_mul(e.channels);
    }
    entry.get(children_at..).unwrap_or(&[])
}

/// FFmpeg's fixed frame layouts of some old QuickTime codecs.
fn apply_codec_frame_defaults(e: &mut SampleEntry) {
    let ch = e.channels;
    let (spf, bpf) = match &e.fourcc {
        b"MAC3" => (6, 2u32.saturating_mul(ch)),
        b"MAC6" => (6, ch),
        b"ima4" => (64, 34u32.saturating_mul(ch)),
        b"agsm" => (160, 33),
        _ => return,
    };
    e.samples_per_frame = spf;
    e.bytes_per_frame = bpf;
}

/// Bits per sample of the PCM codec FFmpeg picks for an audio entry (0 if not PCM).
fn pcm_bits(fourcc: &[u8; 4], coded_bits: u32, lpcm_flags: Option<u32>) -> u32 {
    let s16_family = |bits: u32| match bits {
        8 | 24 | 32 => bits,
        _ => 16,
    };
    match fourcc {
        b"raw " | b"NONE" => {
            if coded_bits == 16 {
                16
            } else {
                8
            }
        }
        b"twos" | b"sowt" | b"ipcm" => s16_family(coded_bits),
        b"lpcm" => match lpcm_flags {
            Some(flags) => lpcm_bits(coded_bits, flags),
            None => s16_family(coded_bits),
        },
        b"in24" => 24,
        b"in32" | b"fl32" => 32,
        b"fl64" => 64,
        b"alaw" | b"ulaw" => 8,
        _ => 0,
    }
}

/// FFmpeg's `ff_mov_get_lpcm_codec_id` (flags: 1 float, 2 big-endian, 4 signed), as bits.
fn lpcm_bits(bits: u32, flags: u32) -> u32 {
    if bits == 0 || bits > 64 {
        return 0;
    }
    if flags & 1 != 0 {
        return if bits == 32 || bits == 64 { bits } else { 0 };
    }
    match (bits + 7) >> 3 {
        bytes @ (1 | 2 | 3 | 4 | 8) => bytes * 8,
        _ => 0,
    }
}

/// The boxes inside a sample entry (and, one level down, inside a QuickTime `wave` box):
/// decoder configuration and channel information.
fn read_entry_children(children: &[u8], e: &mut SampleEntry, depth: u8) -> Result<(), String> {
    for (kind, body) in Boxes::new(children) {
        match &kind {
            // FFmpeg keeps the first of these ("ignoring multiple glbl").
            b"avcC" | b"hvcC" | b"av1C" | b"glbl" if e.config.len() <= 1 => e.config = body.to_vec(),
            b"esds" => read_esds(body, e),
            b"wave" if depth == 0 => read_entry_children(body, e, 1)?,
            b"dOps" => e.config = opus_head(body)?,
            b"dfLa" => e.config = flac_streaminfo(body)?,
            b"alac" if &e.fourcc == b"alac" => e.config = alac_box(body),
            b"dac3" => e.channels = ac3_channels(be24(body, 0), 11),
            b"dec3" => e.channels = ac3_channels(be24(body, 2), 9),
            _ => {}
        }
    }
    Ok(())
}

/// Channels from the 24 bits of dac3 / dec3 that hold `acmod` at `shift` and `lfeon` just below
/// (FFmpeg's AC-3 channel layout table); 0 when the box is too short.
fn ac3_channels(bits: Option<u32>, shift: u32) -> u32 {
    const BY_ACMOD: [u32; 8] = [2, 1, 2, 3, 3, 4, 4, 5];
    bits.map_or(0, |v| BY_ACMOD[((v >> shift) & 7) as usize] + ((v >> (shift - 1)) & 1))
}

/// The whole `alac` box (header included), as FFmpeg's extradata.
fn alac_box(body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 8);
    v.extend_from_slice(&((body.len() + 8) as u32).to_be_bytes());
    v.extend_from_slice(b"alac");
    v.extend_from_slice(body);
    v
}

/// dOps payload → OpusHead ("OpusHead", version 1, then the fields little-endian).
fn opus_head(dops: &[u8]) -> Result<Vec<u8>, String> {
    if dops.len() < 11 || dops[0] != 0 {
        return Err("invalid dOps box".into());
    }
    let mut h = Vec::with_capacity(dops.len() + 8);
    h.extend_from_slice(b"OpusHead");
    h.push(1);
    h.extend_from_slice(&dops[1..]);
    let pre_skip = u16::from_be_bytes([h[10], h[11]]);
    h[10..12].copy_from_slice(&pre_skip.to_le_bytes());
    let rate = u32::from_be_bytes([h[12], h[13], h[14], h[15]]);
    h[12..16].copy_from_slice(&rate.to_le_bytes());
    let gain = u16::from_be_bytes([h[16], h[17]]);
    h[16..18].copy_from_slice(&gain.to_le_bytes());
    Ok(h)
}

/// dfLa payload → the 34-byte STREAMINFO block, which must come first.
fn flac_streaminfo(dfla: &[u8]) -> Result<Vec<u8>, String> {
    if dfla.len() < 42 || dfla[0] != 0 {
        return Err("invalid dfLa box".into());
    }
    let block_type = dfla[4] & 0x7f;
    let size = be24(dfla, 5).unwrap_or(0);
    if block_type != 0 || size != 34 {
        return Err("invalid dfLa box: STREAMINFO must come first".into());
    }
    Ok(dfla[8..42].to_vec())
}

/// A bounded reader of MPEG-4 descriptors.
struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn u8(&mut self) -> Option<u8> {
        let v = *self.b.get(self.pos)?;
        self.pos += 1;
        Some(v)
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        self.pos = self.pos.checked_add(n)?;
        (self.pos <= self.b.len()).then_some(())
    }

    /// A descriptor header: tag and length (up to four 7-bit bytes).
    fn descriptor(&mut self) -> Option<(u8, usize)> {
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

/// esds: objectTypeIndication and DecoderSpecificInfo (FFmpeg's `ff_mov_read_esds`).
fn read_esds(esds: &[u8], e: &mut SampleEntry) {
    let mut c = Cursor { b: esds, pos: 4 };
    let _ = read_es_descriptor(&mut c, e);
}

fn read_es_descriptor(c: &mut Cursor<'_>, e: &mut SampleEntry) -> Option<()> {
    let (tag, _) = c.descriptor()?;
    if tag == 0x03 {
        c.skip(2)?;
        let flags = c.u8()?;
        if flags & 0x80 != 0 {
            c.skip(2)?;
        }
        if flags & 0x40 != 0 {
            let len = c.u8()?;
            c.skip(usize::from(len))?;
        }
        if flags & 0x20 != 0 {
            c.skip(2)?;
        }
    } else {
        c.skip(2)?;
    }
    let (tag, _) = c.descriptor()?;
    if tag != 0x04 {
        return Some(());
    }
    read_decoder_config(c, e)
}

fn read_decoder_config(c: &mut Cursor<'_>, e: &mut SampleEntry) -> Option<()> {
    let object_type = c.u8()?;
    e.object_type = object_type;
    c.skip(12)?;
    let (tag, len) = c.descriptor()?;
    if tag != 0x05 || object_type == 0x69 || object_type == 0x6b || len == 0 {
        return Some(());
    }
    let end = c.pos.checked_add(len)?.min(c.b.len());
    let dsi = c.b.get(c.pos..end)?;
    e.config = dsi.to_vec();
    if matches!(object_type, 0x40 | 0x66 | 0x67 | 0x68) {
        apply_audio_specific_config(dsi, e);
    }
    Some(())
}

/// AAC AudioSpecificConfig → channels and rate, as FFmpeg's demuxer applies them
/// (`ff_mp4_read_dec_config_descr`): nothing when the config does not parse.
fn apply_audio_specific_config(asc: &[u8], e: &mut SampleEntry) {
    let Ok(asc) = aac::AudioSpecificConfig::parse(asc) else { return };
    let Some(channels) = asc.channels() else { return };
    if channels > 0 {
        e.channels = channels;
    }
    // FFmpeg's "old mp3on4" rule: object type 29 with a sampling index < 3 takes MPEG-1 rates.
    let rate = match mp3::MPEG1_SAMPLE_RATES.get(asc.sampling_frequency_index as usize) {
        Some(&rate) if asc.core_object_type == aac::OBJECT_TYPE_PS => rate,
        _ => asc.output_sample_rate(),
    };
    if rate > 0 {
        e.sample_rate = rate;
    }
}

// ---------------------------------------------------------------------------------------------
// Sample tables
// ---------------------------------------------------------------------------------------------

/// One `stsc` entry (FFmpeg keeps them as signed ints).
#[derive(Clone, Copy, Debug)]
struct Stsc {
    first: i32,
    count: i32,
    id: i32,
}

/// One `stts` or `ctts` run.
#[derive(Clone, Copy, Debug)]
struct Run<T> {
    count: u32,
    value: T,
}

/// Sample sizes: constant or a table of 4..32-bit fields.
#[derive(Clone, Copy, Debug)]
struct Sizes<'a> {
    constant: u32,
    table: &'a [u8],
    field_bits: u8,
    count: u32,
}

impl Sizes<'_> {
    #[inline]
    fn get(&self, i: u32) -> u32 {
        let i = i as usize;
        let t = self.table;
        match self.field_bits {
            32 => t.get(i * 4..i * 4 + 4).map_or(0, |s| u32::from_be_bytes([s[0], s[1], s[2], s[3]])),
            16 => t.get(i * 2..i * 2 + 2).map_or(0, |s| u32::from(u16::from_be_bytes([s[0], s[1]]))),
            8 => t.get(i).map_or(0, |&b| u32::from(b)),
            _ => t.get(i / 2).map_or(0, |&b| u32::from(if i.is_multiple_of(2) { b >> 4 } else { b & 15 })),
        }
    }
}

/// Chunk offsets (`stco` or `co64`).
#[derive(Clone, Copy, Debug)]
struct Chunks<'a> {
    table: &'a [u8],
    wide: bool,
    count: usize,
}

impl Chunks<'_> {
    #[inline]
    fn get(&self, i: usize) -> u64 {
        if self.wide {
            // FFmpeg: negative (as int64) offsets become 0.
            let v = be64(self.table, i * 8).unwrap_or(0);
            if v > i64::MAX as u64 {
                0
            } else {
                v
            }
        } else {
            u64::from(be32(self.table, i * 4).unwrap_or(0))
        }
    }
}

/// The parsed, FFmpeg-corrected sample tables of one track.
struct Tables<'a> {
    stts: Vec<Run<u32>>,
    /// Raw ctts entries (count, offset), `None` without usable ctts.
    ctts: Option<&'a [u8]>,
    dts_shift: i64,
    /// `stss` entries (big-endian u32), `None` without an `stss` box.
    stss: Option<&'a [u8]>,
    stps: &'a [u8],
    rap: Vec<Run<u32>>,
    stsc: Vec<Stsc>,
    sizes: Sizes<'a>,
    chunks: Chunks<'a>,
}

impl<'a> Tables<'a> {
    fn parse(s: &StblBoxes<'a>, file_size: u64) -> Result<Self, String> {
        let (ctts, dts_shift) = match s.ctts {
            Some(b) => parse_ctts(b)?,
            None => (None, 0),
        };
        let sizes = parse_sizes(s.stsz, s.stz2)?;
        if sizes.constant > 0 && u64::from(sizes.count) > file_size / u64::from(sizes.constant) {
            return Err(format!("truncated: {} samples of {} bytes exceed the file", sizes.count, sizes.constant));
        }
        Ok(Tables {
            stts: s.stts.map(parse_stts).transpose()?.unwrap_or_default(),
            ctts,
            dts_shift,
            stss: s.stss.map(|b| u32_table(b, 4, "stss")).transpose()?,
            stps: s.stps.map(|b| u32_table(b, 4, "stps")).transpose()?.unwrap_or(&[]),
            rap: s.sbgp_rap.map(parse_sbgp).transpose()?.unwrap_or_default(),
            stsc: s.stsc.map(parse_stsc).transpose()?.unwrap_or_default(),
            sizes,
            chunks: parse_chunks(s.stco, s.co64)?,
        })
    }

    fn sample_count(&self) -> u32 {
        self.sizes.count
    }
}

/// A table of `count` fixed-size entries after version/flags + count; checked against the box.
fn entry_table<'a>(b: &'a [u8], entry_size: usize, name: &str) -> Result<(&'a [u8], usize), String> {
    let count = be32(b, 4).ok_or_else(|| format!("corrupt {name}"))? as usize;
    let bytes = count.checked_mul(entry_size).ok_or_else(|| format!("corrupt {name}"))?;
    let table = b
        .get(8..)
        .and_then(|t| t.get(..bytes))
        .ok_or_else(|| format!("corrupt {name}: {count} entries overrun the box"))?;
    Ok((table, count))
}

fn u32_table<'a>(b: &'a [u8], entry_size: usize, name: &str) -> Result<&'a [u8], String> {
    entry_table(b, entry_size, name).map(|(t, _)| t)
}

/// stts with FFmpeg's corrections of huge deltas (negative corrections stored as uint32).
fn parse_stts(b: &[u8]) -> Result<Vec<Run<u32>>, String> {
    let (table, count) = entry_table(b, 8, "stts")?;
    let mut runs = Vec::with_capacity(count);
    let (mut current, mut corrected) = (0i128, 0i128);
    for e in table.chunks_exact(8) {
        let n = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
        let mut d = u32::from_be_bytes([e[4], e[5], e[6], e[7]]);
        if d > MAX_STTS_DELTA {
            let magnitude = d as i32;
            d = 1;
            corrected += i128::from(if magnitude < 0 { magnitude } else { 1 }) * i128::from(n);
        } else {
            corrected += i128::from(d) * i128::from(n);
        }
        current += i128::from(d) * i128::from(n);
        if current > corrected {
            let drift = (current - corrected) / i128::from(n.max(1));
            let correction = if i128::from(d) > drift { drift as u32 } else { d - 1 };
            current -= i128::from(correction) * i128::from(n);
            d -= correction;
        }
        runs.push(Run { count: n, value: d });
    }
    Ok(runs)
}

/// ctts as FFmpeg reads it: signed offsets, entries with count ≤ 0 skipped, the DTS shift from
/// negative offsets (not counting the last two entries), the whole table dropped when an offset
/// is beyond ±2^28. Returns the raw entries (`None` when dropped or empty) and the shift.
fn parse_ctts(b: &[u8]) -> Result<(Option<&[u8]>, i64), String> {
    let (table, count) = entry_table(b, 8, "ctts")?;
    let mut shift = 0i64;
    let mut any = false;
    for (i, e) in table.chunks_exact(8).enumerate() {
        let n = i32::from_be_bytes([e[0], e[1], e[2], e[3]]);
        let d = i32::from_be_bytes([e[4], e[5], e[6], e[7]]);
        if n <= 0 {
            continue;
        }
        any = true;
        let not_last_two = i + 2 < count;
        if not_last_two && d.unsigned_abs() > 1 << 28 {
            return Ok((None, shift));
        }
        if not_last_two && d < 0 {
            shift = shift.max(-i64::from(d.max(-i32::MAX)));
        }
    }
    Ok((any.then_some(table), shift))
}

fn parse_sbgp(b: &[u8]) -> Result<Vec<Run<u32>>, String> {
    let version = *b.first().ok_or("corrupt sbgp")?;
    let at = if version == 1 { 12 } else { 8 };
    let count = be32(b, at).ok_or("corrupt sbgp")? as usize;
    let bytes = count.checked_mul(8).ok_or("corrupt sbgp")?;
    let table = b.get(at + 4..).and_then(|t| t.get(..bytes)).ok_or("corrupt sbgp: entries overrun the box")?;
    Ok(table
        .chunks_exact(8)
        .map(|e| Run {
            count: u32::from_be_bytes([e[0], e[1], e[2], e[3]]),
            value: u32::from_be_bytes([e[4], e[5], e[6], e[7]]),
        })
        .collect())
}

/// stsc with FFmpeg's repair of invalid entries.
fn parse_stsc(b: &[u8]) -> Result<Vec<Stsc>, String> {
    let (table, _) = entry_table(b, 12, "stsc")?;
    let mut v: Vec<Stsc> = table
        .chunks_exact(12)
        .map(|e| Stsc {
            first: i32::from_be_bytes([e[0], e[1], e[2], e[3]]),
            count: i32::from_be_bytes([e[4], e[5], e[6], e[7]]),
            id: i32::from_be_bytes([e[8], e[9], e[10], e[11]]),
        })
        .collect();
    repair_stsc(&mut v);
    Ok(v)
}

fn stsc_invalid(v: &[Stsc], i: usize) -> bool {
    let e = v[i];
    (i + 1 < v.len() && e.first >= v[i + 1].first)
        || (i > 0 && e.first <= v[i - 1].first)
        || i64::from(e.first) < i as i64 + 1
        || e.count < 1
        || e.id < 1
}

fn repair_stsc(v: &mut Vec<Stsc>) {
    let mut i = v.len();
    while i > 0 {
        i -= 1;
        if !stsc_invalid(v, i) {
            continue;
        }
        if i + 1 >= v.len() {
            if v[i].count == 0 && i > 0 {
                v.truncate(i);
                continue;
            }
            let first_min = i32::try_from(i + 1).unwrap_or(i32::MAX);
            let mut e = v[i];
            e.first = e.first.max(first_min);
            if i > 0 && e.first <= v[i - 1].first {
                e.first = v[i - 1].first.saturating_add(1);
            }
            e.count = e.count.max(1);
            e.id = e.id.max(1);
            v[i] = e;
            continue;
        }
        let next = v[i + 1];
        v[i] = Stsc { first: next.first - 1, count: next.count, id: next.id };
    }
}

fn parse_sizes<'a>(stsz: Option<&'a [u8]>, stz2: Option<&'a [u8]>) -> Result<Sizes<'a>, String> {
    if let Some(b) = stsz {
        let constant = be32(b, 4).ok_or("corrupt stsz")?;
        let count = be32(b, 8).ok_or("corrupt stsz")?;
        if constant > 0 {
            return Ok(Sizes { constant, table: &[], field_bits: 32, count });
        }
        let bytes = (count as usize).checked_mul(4).ok_or("corrupt stsz")?;
        let table = b.get(12..).and_then(|t| t.get(..bytes)).ok_or("corrupt stsz: entries overrun the box")?;
        return Ok(Sizes { constant: 0, table, field_bits: 32, count });
    }
    if let Some(b) = stz2 {
        let field_bits = *b.get(7).ok_or("corrupt stz2")?;
        if !matches!(field_bits, 4 | 8 | 16) {
            return Err(format!("invalid stz2 field size {field_bits}"));
        }
        let count = be32(b, 8).ok_or("corrupt stz2")?;
        let bytes = (u64::from(count) * u64::from(field_bits)).div_ceil(8);
        let table = b.get(12..).and_then(|t| t.get(..bytes as usize)).ok_or("corrupt stz2: entries overrun the box")?;
        return Ok(Sizes { constant: 0, table, field_bits, count });
    }
    Ok(Sizes { constant: 0, table: &[], field_bits: 32, count: 0 })
}

fn parse_chunks<'a>(stco: Option<&'a [u8]>, co64: Option<&'a [u8]>) -> Result<Chunks<'a>, String> {
    if let Some(b) = stco {
        let (table, count) = entry_table(b, 4, "stco")?;
        return Ok(Chunks { table, wide: false, count });
    }
    if let Some(b) = co64 {
        let (table, count) = entry_table(b, 8, "co64")?;
        return Ok(Chunks { table, wide: true, count });
    }
    Ok(Chunks { table: &[], wide: false, count: 0 })
}

// ---------------------------------------------------------------------------------------------
// Edit list
// ---------------------------------------------------------------------------------------------

/// The supported edit lists: empty edits (summed) followed by one edit with media time ≥ 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct EditPlan {
    /// Sum of the leading empty edits, in the track timescale.
    empty: i64,
    /// Media time of the edit, in the track timescale.
    media_time: i64,
    /// Duration of the edit, in the track timescale.
    duration: i64,
}

/// FFmpeg's `av_rescale` (round to nearest, halves away from zero) of a non-negative value.
fn rescale(a: u64, b: u32, c: u32) -> i64 {
    if c == 0 {
        return 0;
    }
    let v = (u128::from(a) * u128::from(b) + u128::from(c / 2)) / u128::from(c);
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl EditPlan {
    fn parse(elst: Option<&[u8]>, movie_ts: Option<u32>, track_ts: u32) -> Result<Option<Self>, String> {
        let Some(b) = elst else { return Ok(None) };
        let edits = parse_elst(b)?;
        if edits.is_empty() {
            return Ok(None);
        }
        let movie_ts = movie_ts.ok_or("unsupported edit list (no mvhd before the track)")?;
        Self::from_edits(&edits, movie_ts, track_ts).map(Some)
    }

    fn from_edits(edits: &[(u64, i64)], movie_ts: u32, track_ts: u32) -> Result<Self, String> {
        let unsupported = || "unsupported edit list".to_string();
        let (last, empties) = edits.split_last().ok_or_else(unsupported)?;
        if last.1 < 0 || empties.iter().any(|e| e.1 != -1) {
            return Err(unsupported());
        }
        let mut empty = 0i64;
        for e in empties {
            empty = empty.checked_add(rescale(e.0, track_ts, movie_ts)).ok_or_else(unsupported)?;
        }
        let mut duration = rescale(last.0, track_ts, movie_ts);
        if duration as u64 + last.1 as u64 > i64::MAX as u64 {
            duration = 0;
        }
        if empty.checked_add(duration).is_none_or(|end| end == i64::MAX) {
            return Err(unsupported());
        }
        Ok(EditPlan { empty, media_time: last.1, duration })
    }
}

/// elst v0/v1 entries as (segment duration, media time).
fn parse_elst(b: &[u8]) -> Result<Vec<(u64, i64)>, String> {
    let version = *b.first().ok_or("corrupt elst")?;
    let entry_size = if version == 1 { 20 } else { 12 };
    let declared = u64::from(be32(b, 4).ok_or("corrupt elst")?);
    let bytes = b.len().saturating_sub(8);
    // FFmpeg trusts the box size when the declared count does not match it.
    let count = if declared * entry_size as u64 == bytes as u64 { declared as usize } else { bytes / entry_size };
    let table = b.get(8..8 + count * entry_size).unwrap_or(&[]);
    let mut edits = Vec::with_capacity(count);
    for e in table.chunks_exact(entry_size) {
        let edit = if version == 1 {
            (be64(e, 0).unwrap_or(0), be64(e, 8).unwrap_or(0) as i64)
        } else {
            (u64::from(be32(e, 0).unwrap_or(0)), i64::from(be32(e, 4).unwrap_or(0) as i32))
        };
        if edit.0 > i64::MAX as u64 {
            return Err("invalid edit list duration".into());
        }
        edits.push(edit);
    }
    Ok(edits)
}

// ---------------------------------------------------------------------------------------------
// Index building (FFmpeg's mov_build_index)
// ---------------------------------------------------------------------------------------------

/// Samples as `mov_build_index` leaves them, with their PTS as FFmpeg's packets get it (DTS + DTS
/// shift + ctts offset for the samples the ctts covers, else the DTS).
struct Built {
    samples: Vec<Mp4Sample>,
    /// DTS after the last sample.
    end: i64,
    /// Number of samples the ctts covers, `None` without ctts.
    cover: Option<usize>,
    dts_shift: i64,
    /// FFmpeg returned early from `mov_build_index`: the edit list is not applied.
    skip_edit: bool,
}

fn build_index(t: &Tables<'_>, entry: &SampleEntry, ctx: &FileCtx) -> Result<Built, String> {
    let (file_size, budget) = (ctx.file_size, ctx.sample_budget);
    let mut built = Built { samples: Vec::new(), end: 0, cover: None, dts_shift: t.dts_shift, skip_edit: false };
    let stsz_size = t.sizes.constant;
    let sample_size = if entry.pcm_frame_size > 0 { entry.pcm_frame_size } else { stsz_size };
    if !has_mandatory_tables(t, sample_size) {
        return Ok(built);
    }
    if let Some(last) = t.stsc.last() {
        if last.first as u32 as usize > t.chunks.count {
            return Err("contradictory stsc and stco".into());
        }
    }
    if t.stsc.iter().any(|e| e.id != 1) {
        return Err("unsupported: samples use several sample descriptions".into());
    }
    let chunked = entry.kind == Kind::Audio && t.stts.len() == 1 && t.stts[0].value == 1;
    if chunked {
        if t.ctts.is_some() {
            return Err("unsupported: ctts on uncompressed audio".into());
        }
        built.dts_shift = 0;
        build_chunked(t, entry, sample_size, (file_size, budget), &mut built)?;
    } else {
        build_samples(t, entry.kind, sample_size, (file_size, budget), &mut built)?;
    }
    Ok(built)
}

/// FFmpeg's "missing mandatory atoms" check: such a track gets no sample at all.
fn has_mandatory_tables(t: &Tables<'_>, sample_size: u32) -> bool {
    let chunks = t.chunks.count;
    let stsc_count = if chunks == 0 && t.stts.is_empty() { 0 } else { t.stsc.len() };
    let broken = (chunks > 0 && (t.stts.is_empty() || stsc_count == 0 || (sample_size == 0 && t.sample_count() == 0)))
        || (chunks == 0 && t.sample_count() > 0);
    !broken && chunks > 0
}

/// Sync-sample state: `stss` (or its absence), `stps`, `rap ` sample groups.
struct KeyState<'a> {
    stss: &'a [u8],
    /// An `stss` box without entries: only the first sample (or every audio sample) is key.
    absent: bool,
    stss_i: usize,
    /// Value of the current `stss` entry.
    stss_want: u32,
    stps: &'a [u8],
    stps_i: usize,
    /// Value of the current `stps` entry.
    stps_want: u32,
    key_off: u32,
    rap: &'a [Run<u32>],
    rap_i: usize,
    rap_n: u32,
    audio: bool,
}

impl<'a> KeyState<'a> {
    fn new(t: &'a Tables<'a>, kind: Kind) -> Self {
        let stss = t.stss.unwrap_or(&[]);
        let first = |b: &[u8]| be32(b, 0).unwrap_or(0) as i32;
        let key_off = (!stss.is_empty() && first(stss) > 0) || (!t.stps.is_empty() && first(t.stps) > 0);
        KeyState {
            stss,
            absent: t.stss.is_some_and(<[u8]>::is_empty),
            stss_i: 0,
            stss_want: be32(stss, 0).unwrap_or(0),
            stps: t.stps,
            stps_i: 0,
            stps_want: be32(t.stps, 0).unwrap_or(0),
            key_off: u32::from(key_off),
            rap: &t.rap,
            rap_i: 0,
            rap_n: 0,
            audio: kind == Kind::Audio,
        }
    }

    /// Key flag of sample `n`; `first` is the first sample of the first chunk.
    #[inline]
    fn next(&mut self, n: u32, first: bool) -> bool {
        let want = n.wrapping_add(self.key_off);
        let mut key = false;
        if !self.absent && (self.stss.is_empty() || self.stss_want == want) {
            key = true;
            if (self.stss_i + 1) * 4 < self.stss.len() {
                self.stss_i += 1;
                self.stss_want = be32(self.stss, self.stss_i * 4).unwrap_or(0);
            }
        } else if !self.stps.is_empty() && self.stps_want == want {
            key = true;
            if (self.stps_i + 1) * 4 < self.stps.len() {
                self.stps_i += 1;
                self.stps_want = be32(self.stps, self.stps_i * 4).unwrap_or(0);
            }
        }
        if !self.rap.is_empty() {
            key |= self.next_rap();
        }
        if self.absent && self.stps.is_empty() && self.rap.is_empty() && (self.audio || first) {
            key = true;
        }
        key
    }

    fn next_rap(&mut self) -> bool {
        let Some(run) = self.rap.get(self.rap_i) else { return false };
        self.rap_n = self.rap_n.wrapping_add(1);
        if self.rap_n == run.count {
            self.rap_n = 0;
            self.rap_i += 1;
        }
        run.value > 0
    }
}

/// `stts` walk exactly as FFmpeg does it (a run of count 0 is never left).
struct SttsCursor<'a> {
    runs: &'a [Run<u32>],
    i: usize,
    n: u32,
}

impl SttsCursor<'_> {
    #[inline]
    fn next(&mut self) -> u32 {
        let d = self.runs.get(self.i).map_or(0, |r| r.value);
        self.n = self.n.wrapping_add(1);
        if self.i + 1 < self.runs.len() && self.n == self.runs[self.i].count {
            self.n = 0;
            self.i += 1;
        }
        d
    }
}

/// Expanded ctts walk over the raw entries: one offset per sample while the table lasts,
/// entries with a count ≤ 0 skipped.
struct CttsCursor<'a> {
    table: &'a [u8],
    next_entry: usize,
    left: u32,
    value: i32,
}

impl<'a> CttsCursor<'a> {
    fn new(table: &'a [u8]) -> Self {
        CttsCursor { table, next_entry: 0, left: 0, value: 0 }
    }

    #[inline]
    fn next(&mut self) -> Option<i32> {
        while self.left == 0 {
            let e = self.table.get(self.next_entry * 8..self.next_entry * 8 + 8)?;
            self.next_entry += 1;
            let n = i32::from_be_bytes([e[0], e[1], e[2], e[3]]);
            if n > 0 {
                self.left = n as u32;
                self.value = i32::from_be_bytes([e[4], e[5], e[6], e[7]]);
            }
        }
        self.left -= 1;
        Some(self.value)
    }
}

fn too_many(count: u64) -> String {
    format!("too many samples ({count}; at most {MAX_SAMPLES} per file)")
}

fn truncated(pos: u64, size: u64, file_size: u64) -> String {
    format!("truncated: sample data at byte {pos} ({size} bytes) runs past the end of the file ({file_size} bytes)")
}

/// Checks that a sample lies inside the file.
#[inline]
fn check_inside(pos: u64, size: u32, file_size: u64) -> Result<(), String> {
    if size > MAX_SAMPLE_SIZE {
        return Err(format!("sample size {size} too large"));
    }
    match pos.checked_add(u64::from(size)) {
        Some(end) if end <= file_size => Ok(()),
        _ => Err(truncated(pos, u64::from(size), file_size)),
    }
}

/// The common path of `mov_build_index`: one entry per sample.
fn build_samples(
    t: &Tables<'_>,
    kind: Kind,
    sample_size: u32,
    limits: (u64, u64),
    out: &mut Built,
) -> Result<(), String> {
    let (file_size, budget) = limits;
    let count = t.sample_count();
    if count == 0 {
        return Ok(());
    }
    if u64::from(count) > budget {
        return Err(too_many(count.into()));
    }
    let mut samples = Vec::with_capacity(count as usize);
    crate::util::memhint::huge_pages(&samples);
    let mut walk = Walk {
        keys: KeyState::new(t, kind),
        stts: SttsCursor { runs: &t.stts, i: 0, n: 0 },
        ctts: CttsCursor::new(t.ctts.unwrap_or(&[])),
        covered: 0,
        shift: t.dts_shift,
        dts: -t.dts_shift,
        n: 0,
        sizes: t.sizes,
        file_size,
    };
    let mut stsz_size = i64::from(t.sizes.constant);
    let mut stsc_i = 0usize;
    for i in 0..t.chunks.count {
        let pos = t.chunks.get(i);
        while stsc_i + 1 < t.stsc.len() && (i as u64 + 1) == u64::from(t.stsc[stsc_i + 1].first as u32) {
            stsc_i += 1;
        }
        let per_chunk = t.stsc[stsc_i].count as u32;
        let next = if i + 1 < t.chunks.count { t.chunks.get(i + 1) as i64 } else { i64::MAX };
        stsz_size = checked_stsz_size(stsz_size, i64::from(sample_size), per_chunk, pos as i64, next);
        let take = per_chunk.min(count - walk.n);
        walk.chunk(&mut samples, pos, take, stsz_size.max(0) as u32, i == 0)?;
        if take < per_chunk {
            out.skip_edit = true; // FFmpeg: "wrong sample count", index kept as is
            break;
        }
    }
    out.samples = samples;
    out.end = walk.dts;
    out.cover = t.ctts.map(|_| walk.covered);
    Ok(())
}

/// Per-sample state of the common `mov_build_index` walk.
struct Walk<'a> {
    keys: KeyState<'a>,
    stts: SttsCursor<'a>,
    ctts: CttsCursor<'a>,
    covered: usize,
    shift: i64,
    dts: i64,
    n: u32,
    sizes: Sizes<'a>,
    file_size: u64,
}

impl Walk<'_> {
    /// Adds the first `take` samples of a chunk at `pos` (`const_size`: the stsz constant
    /// size, 0 for the table).
    #[inline]
    fn chunk(
        &mut self,
        samples: &mut Vec<Mp4Sample>,
        mut pos: u64,
        take: u32,
        const_size: u32,
        first_chunk: bool,
    ) -> Result<(), String> {
        for j in 0..take {
            let n = self.n;
            let key = self.keys.next(n, first_chunk && j == 0);
            let size = if const_size > 0 { const_size } else { self.sizes.get(n) };
            check_inside(pos, size, self.file_size)?;
            let dts = self.dts;
            let pts = match self.ctts.next() {
                Some(c) => {
                    self.covered += 1;
                    dts.saturating_add(self.shift.saturating_add(i64::from(c)))
                }
                None => dts,
            };
            samples.push(Mp4Sample { pos, size, dts, pts, key });
            pos += u64::from(size);
            self.dts = dts.wrapping_add(i64::from(self.stts.next()));
            self.n = n + 1;
        }
        Ok(())
    }
}

/// FFmpeg's two sanity checks of a constant `stsz` size against the codec frame size.
fn checked_stsz_size(stsz: i64, sample_size: i64, per_chunk: u32, pos: i64, next: i64) -> i64 {
    let mut s = stsz;
    if next > pos && sample_size > 0 && sample_size < s && i64::from(per_chunk as i32).saturating_mul(s) > next - pos {
        s = sample_size;
    }
    if s > 0 && s < sample_size {
        s = sample_size;
    }
    s
}

/// Frames per packet and packet size of one step of the uncompressed-audio chunk walk.
fn chunk_step(spf: u32, bpf: u32, frame_size: u32, left: u32) -> (u32, u32) {
    if spf >= 160 {
        (spf, bpf)
    } else if spf > 1 {
        let samples = ((1024 / spf) * spf).min(left);
        (samples, (samples / spf).wrapping_mul(bpf))
    } else {
        let samples = 1024.min(left);
        (samples, samples.wrapping_mul(frame_size))
    }
}

/// Number of packets the chunk walk makes (FFmpeg's `total`), or `None` for FFmpeg's
/// "unaligned chunk" error (no packet at all).
fn chunked_total(t: &Tables<'_>, spf: u32) -> Option<u64> {
    let mut total = 0u64;
    for (i, e) in t.stsc.iter().enumerate() {
        let samples = e.count as u32;
        if i + 1 != t.stsc.len() && spf != 0 && !samples.is_multiple_of(spf) {
            return None;
        }
        let per_chunk = if spf >= 160 {
            samples / spf
        } else if spf > 1 {
            samples.div_ceil((1024 / spf) * spf)
        } else {
            samples.div_ceil(1024)
        };
        let chunks = match t.stsc.get(i + 1) {
            Some(next) => (next.first as u32).wrapping_sub(e.first as u32),
            None => (t.chunks.count as u32).wrapping_sub((e.first as u32).wrapping_sub(1)),
        };
        total += u64::from(chunks) * u64::from(per_chunk);
    }
    Some(total)
}

/// The uncompressed-audio path of `mov_build_index`: up to 1024 frames per packet.
fn build_chunked(
    t: &Tables<'_>,
    e: &SampleEntry,
    frame_size: u32,
    limits: (u64, u64),
    out: &mut Built,
) -> Result<(), String> {
    let (file_size, budget) = limits;
    let (spf, bpf) = (e.samples_per_frame, e.bytes_per_frame);
    let Some(total) = chunked_total(t, spf) else { return Ok(()) };
    if total > budget {
        return Err(too_many(total));
    }
    if spf <= 1 && frame_size == 0 {
        return Err("unsupported: uncompressed audio layout".into());
    }
    out.samples.reserve_exact(total as usize);
    let mut dts = 0i64;
    let mut stsc_i = 0usize;
    'chunks: for i in 0..t.chunks.count {
        let mut pos = t.chunks.get(i);
        if stsc_i + 1 < t.stsc.len() && (i as u64 + 1) == u64::from(t.stsc[stsc_i + 1].first as u32) {
            stsc_i += 1;
        }
        let mut left = t.stsc[stsc_i].count as u32;
        while left > 0 {
            if (spf > 1 && bpf == 0) || out.samples.len() as u64 >= total {
                out.skip_edit = true;
                break 'chunks;
            }
            let (samples, size) = chunk_step(spf, bpf, frame_size, left);
            check_inside(pos, size, file_size)?;
            out.samples.push(Mp4Sample { pos, size, dts, pts: dts, key: true });
            pos += u64::from(size);
            dts = dts.wrapping_add(i64::from(samples));
            left = left.wrapping_sub(samples);
        }
    }
    out.end = dts;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Edit list application (FFmpeg's mov_fix_index, one non-empty edit)
// ---------------------------------------------------------------------------------------------

impl Built {
    /// Applies the edit list; returns the samples and the DTS after the last one.
    fn finish(mut self, edit: Option<&EditPlan>, entry: &SampleEntry, timescale: u32) -> (Vec<Mp4Sample>, i64) {
        let mut end = self.end;
        if let (Some(plan), false) = (edit, self.skip_edit || self.samples.is_empty()) {
            let fix = FixIndex {
                plan: *plan,
                kind: entry.kind,
                vorbis: entry.object_type == 0xdd,
                dts_shift: self.dts_shift,
                timescale,
                cover: self.cover,
            };
            end = fix.apply(&mut self.samples, self.end);
        }
        if self.samples.is_empty() {
            end = 0;
        }
        (self.samples, end)
    }
}

/// Parameters of `mov_fix_index` for one track.
struct FixIndex {
    plan: EditPlan,
    kind: Kind,
    vorbis: bool,
    dts_shift: i64,
    timescale: u32,
    /// Samples with a ctts offset, `None` without ctts.
    cover: Option<usize>,
}

/// What the read-only pass over the samples finds.
///
/// Once the edit has started, FFmpeg's DTS counter advances by the old DTS differences, and the
/// samples discarded before the start are rewritten backwards from it: every kept sample gets
/// its old DTS plus a delta, which only an audio partial skip changes.
struct FixScan {
    /// First kept input sample.
    start: usize,
    /// One past the last kept input sample.
    end: usize,
    /// (first input sample, delta) pieces; empty when the edit never started (every kept
    /// sample then gets the initial counter as DTS).
    deltas: Vec<(usize, i64)>,
    /// Initial DTS counter: empty edits minus the DTS shift.
    counter: i64,
    /// FFmpeg's `min_corrected_pts`.
    min_pts: i64,
}

impl FixIndex {
    /// FFmpeg's `curr_ctts` of input sample `k`.
    #[inline]
    fn ctts_of(&self, s: &Mp4Sample, k: usize) -> i64 {
        match self.cover {
            Some(c) if k < c => s.pts.wrapping_sub(s.dts).wrapping_sub(self.dts_shift),
            _ => 0,
        }
    }

    /// Rewrites `samples` (DTS after the last one: `raw_end`) as `mov_fix_index` does;
    /// returns the DTS after the last kept sample.
    fn apply(&self, samples: &mut Vec<Mp4Sample>, raw_end: i64) -> i64 {
        let scan = self.scan(samples);
        let (start, end) = (scan.start, scan.end);
        let next = samples.get(end).map_or(raw_end, |s| s.dts);
        let last_duration = next.wrapping_sub(samples[end - 1].dts);
        let video_shift = scan.min_pts.wrapping_sub(self.plan.empty);
        let video_shift = if self.kind == Kind::Video && video_shift > 0 { video_shift } else { 0 };
        if scan.deltas.is_empty() {
            for k in start..end {
                let s = samples[k];
                let offset = s.pts.wrapping_sub(s.dts);
                samples[k - start] = Mp4Sample { dts: scan.counter, pts: scan.counter.wrapping_add(offset), ..s };
            }
        } else {
            rebase(samples, start, end, &scan.deltas, video_shift);
        }
        samples.truncate(end - start);
        samples.last().map_or(0, |s| s.dts.wrapping_add(last_duration))
    }

    /// The `mov_fix_index` loop, without writing: kept range, DTS deltas, `min_corrected_pts`.
    fn scan(&self, samples: &[Mp4Sample]) -> FixScan {
        let (m, dur) = (self.plan.media_time, self.plan.duration);
        let edit_end = dur.saturating_add(m);
        let audio = self.kind == Kind::Audio;
        let start = self.start_index(samples);
        let n = samples.len();
        let counter = self.plan.empty.wrapping_sub(self.dts_shift);
        let mut scan = FixScan { start, end: n, deltas: Vec::new(), counter, min_pts: -1 };
        let mut keyframe_after_edit = false;
        // Audio without ctts has non-decreasing CTS: once the edit has started, nothing changes
        // until the break, which a binary search finds.
        let monotonic = audio && self.cover.is_none();
        for k in start..n {
            let cur = &samples[k];
            let cts = cur.dts.wrapping_add(self.dts_shift).wrapping_add(self.ctts_of(cur, k));
            if monotonic && !scan.deltas.is_empty() && cts >= m {
                scan.end = self.audio_break(samples, k, edit_end) + 1;
                break;
            }
            let fd = if k + 1 < n { samples[k + 1].dts.wrapping_sub(cur.dts) } else { dur };
            self.step(&mut scan, k, cur, cts, fd);
            if cts.saturating_add(fd) >= edit_end && (cur.key || audio) {
                if self.cover.is_some() && !audio && !keyframe_after_edit {
                    keyframe_after_edit = true;
                    continue;
                }
                scan.end = k + 1;
                break;
            }
        }
        scan
    }

    /// One sample of the `mov_fix_index` loop: partial audio skip, start of the edit,
    /// `min_corrected_pts`.
    #[inline]
    fn step(&self, scan: &mut FixScan, k: usize, cur: &Mp4Sample, cts: i64, fd: i64) {
        let (m, edit_end) = (self.plan.media_time, self.plan.duration.saturating_add(self.plan.media_time));
        let delta = scan.deltas.last().map(|d| d.1);
        let new_dts = delta.map_or(scan.counter, |d| cur.dts.wrapping_add(d));
        if cts < m || cts >= edit_end {
            if self.kind == Kind::Audio && !self.vorbis && cts < m && cts.saturating_add(fd) > m {
                // Partial audio skip: the counter goes back by the skipped part.
                scan.deltas.push((k, new_dts.wrapping_sub(m - cts).wrapping_sub(cur.dts)));
            }
            return;
        }
        let corrected = new_dts.wrapping_add(self.ctts_of(cur, k)).wrapping_add(self.dts_shift);
        scan.min_pts = if scan.min_pts < 0 { corrected } else { scan.min_pts.min(corrected) };
        if delta.is_none() {
            scan.deltas.push((k, new_dts.wrapping_sub(cur.dts)));
        }
    }

    /// First audio sample from `from` whose CTS + duration reaches the end of the edit (the
    /// last sample when none does). CTS + duration is the next sample's CTS.
    fn audio_break(&self, samples: &[Mp4Sample], from: usize, edit_end: i64) -> usize {
        let reaches = |next_dts: i64| next_dts.wrapping_add(self.dts_shift) >= edit_end;
        let (mut lo, mut hi) = (from, samples.len() - 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if reaches(samples[mid + 1].dts) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo
    }

    /// `find_prev_closest_index`: the key sample (refined by PTS with ctts) to start from.
    fn start_index(&self, samples: &[Mp4Sample]) -> usize {
        let mut search = self.plan.media_time;
        if self.kind == Kind::Audio {
            search = search.saturating_sub(i64::from(self.timescale)).max(samples[0].dts);
        }
        let target = if self.dts_shift > 0 { search - self.dts_shift } else { search };
        self.closest_before(samples, target, false).or_else(|| self.closest_before(samples, target, true)).unwrap_or(0)
    }

    /// `find_prev_closest_index` for one search mode.
    fn closest_before(&self, samples: &[Mp4Sample], target: i64, any: bool) -> Option<usize> {
        let mut index = search_timestamp(samples, target, any)?;
        let mut i = index;
        while i > 0 && samples[i].dts == samples[i - 1].dts {
            if any || samples[i - 1].key {
                index = i - 1;
            }
            i -= 1;
        }
        let Some(cover) = self.cover else { return Some(index) };
        let mut idx = index as i64;
        let mut ctts_i = index.min(cover) as i64;
        while idx >= 0 && ctts_i >= 0 && (ctts_i as usize) < cover {
            let s = samples[idx as usize];
            let c = self.ctts_of(&samples[ctts_i as usize], ctts_i as usize);
            if s.dts.wrapping_add(c) <= target && s.key {
                break;
            }
            idx -= 1;
            ctts_i -= 1;
        }
        usize::try_from(idx).ok()
    }
}

/// Moves the kept samples `start..end` to the front, adding the piecewise DTS delta (minus the
/// video shift) to their DTS and PTS.
fn rebase(samples: &mut [Mp4Sample], start: usize, end: usize, deltas: &[(usize, i64)], video_shift: i64) {
    if start == 0 && deltas.len() == 1 && deltas[0].1 == video_shift {
        return;
    }
    for (p, &(_, delta)) in deltas.iter().enumerate() {
        let from = if p == 0 { start } else { deltas[p].0 };
        let to = deltas.get(p + 1).map_or(end, |d| d.0).min(end);
        let d = delta.wrapping_sub(video_shift);
        for k in from..to {
            let s = samples[k];
            samples[k - start] = Mp4Sample { dts: s.dts.wrapping_add(d), pts: s.pts.wrapping_add(d), ..s };
        }
    }
}

/// `ff_index_search_timestamp` with `AVSEEK_FLAG_BACKWARD` (no discarded entries yet).
fn search_timestamp(samples: &[Mp4Sample], wanted: i64, any: bool) -> Option<usize> {
    let n = samples.len() as i64;
    let (mut a, mut b) = (-1i64, n);
    if n > 0 && samples[(n - 1) as usize].dts < wanted {
        a = n - 1;
    }
    while b - a > 1 {
        let m = (a + b) >> 1;
        let ts = samples[m as usize].dts;
        if ts >= wanted {
            b = m;
        }
        if ts <= wanted {
            a = m;
        }
    }
    let mut m = a;
    if !any {
        while m >= 0 && m < n && !samples[m as usize].key {
            m -= 1;
        }
    }
    (m >= 0 && m < n).then_some(m as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    fn full(kind: &[u8; 4], version: u8, body: &[u8]) -> Vec<u8> {
        let mut b = vec![version, 0, 0, 0];
        b.extend_from_slice(body);
        bx(kind, &b)
    }

    fn words(vals: &[u32]) -> Vec<u8> {
        vals.iter().flat_map(|v| v.to_be_bytes()).collect()
    }

    fn counted(kind: &[u8; 4], version: u8, entries: &[Vec<u32>]) -> Vec<u8> {
        let mut b = words(&[entries.len() as u32]);
        for e in entries {
            b.extend(words(e));
        }
        full(kind, version, &b)
    }

    /// A test track; every field has a usable default.
    #[derive(Clone)]
    struct Spec {
        handler: [u8; 4],
        timescale: u32,
        entry: Vec<u8>,
        stts: Vec<Vec<u32>>,
        ctts: Option<Vec<Vec<u32>>>,
        stss: Option<Vec<u32>>,
        sizes: Vec<u32>,
        stsc: Vec<Vec<u32>>,
        chunks: Vec<u32>,
        elst: Option<Vec<u8>>,
        extra_stbl: Vec<u8>,
    }

    fn video_entry(w: u16, h: u16) -> Vec<u8> {
        let mut e = vec![0u8; 6];
        e.extend_from_slice(&[0, 1]);
        e.extend_from_slice(&[0u8; 16]);
        e.extend_from_slice(&w.to_be_bytes());
        e.extend_from_slice(&h.to_be_bytes());
        e.extend_from_slice(&[0u8; 50]);
        e.extend(bx(b"avcC", &[1, 0x64, 0, 0x1e]));
        bx(b"avc1", &e)
    }

    fn audio_entry(fourcc: &[u8; 4], channels: u16, bits: u16, rate: u16, children: &[u8]) -> Vec<u8> {
        let mut e = vec![0u8; 6];
        e.extend_from_slice(&[0, 1]);
        e.extend_from_slice(&[0u8; 8]);
        e.extend_from_slice(&channels.to_be_bytes());
        e.extend_from_slice(&bits.to_be_bytes());
        e.extend_from_slice(&[0u8; 4]);
        e.extend_from_slice(&rate.to_be_bytes());
        e.extend_from_slice(&[0, 0]);
        e.extend_from_slice(children);
        bx(fourcc, &e)
    }

    impl Spec {
        fn video(n: u32) -> Spec {
            Spec {
                handler: *b"vide",
                timescale: 12800,
                entry: video_entry(320, 240),
                stts: vec![vec![n, 512]],
                ctts: None,
                stss: None,
                sizes: vec![10; n as usize],
                stsc: vec![vec![1, n, 1]],
                chunks: vec![100],
                elst: None,
                extra_stbl: Vec::new(),
            }
        }

        fn trak(&self) -> Vec<u8> {
            let tkhd = full(b"tkhd", 0, &[words(&[0, 0, 1, 0, 0]), vec![0u8; 64]].concat());
            let mut lang = words(&[0, 0, self.timescale, 0]);
            lang.extend_from_slice(&[0x15, 0xc7, 0, 0]); // "eng"
            let mdhd = full(b"mdhd", 0, &lang);
            let mut hdlr_body = words(&[0]);
            hdlr_body.extend_from_slice(&self.handler);
            hdlr_body.extend(words(&[0, 0, 0]));
            hdlr_body.extend_from_slice(b"Commentary\0");
            let hdlr = full(b"hdlr", 0, &hdlr_body);
            let stsd = full(b"stsd", 0, &[words(&[1]), self.entry.clone()].concat());
            let mut stbl = [stsd, counted(b"stts", 0, &self.stts)].concat();
            if let Some(c) = &self.ctts {
                stbl.extend(counted(b"ctts", 0, c));
            }
            if let Some(s) = &self.stss {
                stbl.extend(counted(b"stss", 0, &s.iter().map(|&v| vec![v]).collect::<Vec<_>>()));
            }
            stbl.extend(full(b"stsz", 0, &[words(&[0, self.sizes.len() as u32]), words(&self.sizes)].concat()));
            stbl.extend(counted(b"stsc", 0, &self.stsc));
            stbl.extend(counted(b"stco", 0, &self.chunks.iter().map(|&v| vec![v]).collect::<Vec<_>>()));
            stbl.extend_from_slice(&self.extra_stbl);
            let minf = bx(b"minf", &bx(b"stbl", &stbl));
            let mdia = bx(b"mdia", &[mdhd, hdlr, minf].concat());
            let edts = self.elst.as_ref().map(|e| bx(b"edts", e)).unwrap_or_default();
            bx(b"trak", &[tkhd, edts, mdia].concat())
        }
    }

    fn elst(version: u8, edits: &[(u64, i64)]) -> Vec<u8> {
        let mut b = words(&[edits.len() as u32]);
        for &(d, t) in edits {
            if version == 1 {
                b.extend_from_slice(&d.to_be_bytes());
                b.extend_from_slice(&t.to_be_bytes());
            } else {
                b.extend(words(&[d as u32, t as i32 as u32]));
            }
            b.extend(words(&[0x10000]));
        }
        full(b"elst", version, &b)
    }

    /// ftyp + mdat (`data` bytes) + moov with these tracks; samples should sit at 100...
    fn file(tracks: &[Spec], data: usize, extra_moov: &[u8]) -> Vec<u8> {
        let mut f = bx(b"ftyp", b"isom\0\0\x02\0isomiso2");
        let pad = 100 - f.len() - 8;
        f.extend(bx(b"free", &vec![0u8; pad]));
        f.extend(bx(b"mdat", &vec![0u8; data]));
        let mvhd = full(b"mvhd", 0, &[words(&[0, 0, 1000, 0]), vec![0u8; 80]].concat());
        let mut moov = mvhd;
        for t in tracks {
            moov.extend(t.trak());
        }
        moov.extend_from_slice(extra_moov);
        f.extend(bx(b"moov", &moov));
        f
    }

    fn read_bytes(bytes: &[u8]) -> Result<Mp4Index, String> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "mp4index-{}-{}.mp4",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let mut f = File::create(&path).unwrap();
        f.write_all(bytes).unwrap();
        drop(f);
        let f = File::open(&path).unwrap();
        let r = read(&f, bytes.len() as u64);
        let _ = std::fs::remove_file(&path);
        r
    }

    fn err_of(bytes: &[u8]) -> String {
        read_bytes(bytes).expect_err("should fail")
    }

    #[test]
    fn basic_video_track() {
        let mut s = Spec::video(4);
        s.ctts = Some(vec![vec![1, 1024], vec![1, 2048], vec![2, 512]]);
        s.stss = Some(vec![1, 3]);
        s.sizes = vec![10, 20, 30, 40];
        s.stsc = vec![vec![1, 2, 1]];
        s.chunks = vec![100, 200];
        let ix = read_bytes(&file(&[s], 300, &[])).unwrap();
        assert!(!ix.fragmented);
        let t = &ix.tracks[0];
        assert_eq!((t.track_id, &t.handler, t.timescale, t.width, t.height), (1, b"vide", 12800, 320, 240));
        assert_eq!(t.language.as_deref(), Some("eng"));
        assert_eq!(t.name.as_deref(), Some("Commentary"));
        assert_eq!(t.config, vec![1, 0x64, 0, 0x1e]);
        let got: Vec<(u64, u32, i64, i64, bool)> =
            t.samples.iter().map(|s| (s.pos, s.size, s.dts, s.pts, s.key)).collect();
        assert_eq!(
            got,
            vec![
                (100, 10, 0, 1024, true),
                (110, 20, 512, 2560, false),
                (200, 30, 1024, 1536, true),
                (230, 40, 1536, 2048, false)
            ]
        );
        assert_eq!(t.end_dts, 2048);
    }

    #[test]
    fn edit_list_media_time_shifts_video_and_audio() {
        let mut v = Spec::video(3);
        v.ctts = Some(vec![vec![1, 1024], vec![1, 1536], vec![1, 512]]);
        v.elst = Some(elst(0, &[(1000, 1024)]));
        let mut a = Spec::video(3);
        a.handler = *b"soun";
        a.timescale = 48000;
        a.entry = audio_entry(b"mp4a", 2, 16, 48000, &[]);
        a.stts = vec![vec![3, 1024]];
        a.chunks = vec![130];
        a.elst = Some(elst(1, &[(1000, 1024)]));
        let ix = read_bytes(&file(&[v, a], 200, &[])).unwrap();
        let ts = |t: &Mp4Track| t.samples.iter().map(|s| (s.dts, s.pts)).collect::<Vec<_>>();
        assert_eq!(ts(&ix.tracks[0]), vec![(-1024, 0), (-512, 1024), (0, 512)]);
        assert_eq!(ts(&ix.tracks[1]), vec![(-1024, -1024), (0, 0), (1024, 1024)]);
        assert_eq!(ix.tracks[1].end_dts, 2048);
        assert_eq!(ix.tracks[1].sample_rate, 48000);
        assert_eq!(ix.tracks[1].channels, 2);
    }

    #[test]
    fn empty_edit_delays_the_track() {
        let mut a = Spec::video(2);
        a.handler = *b"soun";
        a.timescale = 48000;
        a.entry = audio_entry(b"mp4a", 2, 16, 48000, &[]);
        a.stts = vec![vec![2, 1024]];
        a.elst = Some(elst(0, &[(10478, u32::MAX as i64), (1000, 0)]));
        let ix = read_bytes(&file(&[a], 100, &[])).unwrap();
        let dts: Vec<i64> = ix.tracks[0].samples.iter().map(|s| s.dts).collect();
        assert_eq!(dts, vec![502944, 503968]);
    }

    #[test]
    fn unsupported_edit_lists() {
        for edits in [vec![(500, 0), (500, 100)], vec![(500, u32::MAX as i64)], vec![(500, 0), (500, u32::MAX as i64)]]
        {
            let mut v = Spec::video(2);
            v.elst = Some(elst(0, &edits));
            assert_eq!(err_of(&file(&[v], 100, &[])), "track 0: unsupported edit list");
        }
    }

    #[test]
    fn empty_stss_means_only_the_first_video_sample_is_key() {
        let mut v = Spec::video(3);
        v.stss = Some(Vec::new());
        let ix = read_bytes(&file(&[v], 100, &[])).unwrap();
        let keys: Vec<bool> = ix.tracks[0].samples.iter().map(|s| s.key).collect();
        assert_eq!(keys, vec![true, false, false]);
    }

    #[test]
    fn negative_ctts_shifts_dts() {
        let mut v = Spec::video(4);
        // FFmpeg ignores the last two entries for the shift.
        v.ctts = Some(vec![vec![1, 0], vec![1, (-512i32) as u32], vec![1, 0], vec![1, 0]]);
        let ix = read_bytes(&file(&[v], 100, &[])).unwrap();
        let ts: Vec<(i64, i64)> = ix.tracks[0].samples.iter().map(|s| (s.dts, s.pts)).collect();
        assert_eq!(ts, vec![(-512, 0), (0, 0), (512, 1024), (1024, 1536)]);
    }

    #[test]
    fn uncompressed_audio_is_grouped_like_ffmpeg() {
        let mut a = Spec::video(0);
        a.handler = *b"soun";
        a.timescale = 48000;
        a.entry = audio_entry(b"sowt", 2, 16, 48000, &[]);
        a.stts = vec![vec![3000, 1]];
        a.sizes = Vec::new();
        a.stsc = vec![vec![1, 2500, 1], vec![2, 500, 1]];
        a.chunks = vec![100, 10100];
        let mut f = file(&[a], 12100, &[]);
        // constant-size stsz: patch "stsz" (size 0, count 0) into (4, 3000)
        let at = f.windows(4).position(|w| w == b"stsz").unwrap();
        f[at + 8..at + 16].copy_from_slice(&words(&[4, 3000]));
        let ix = read_bytes(&f).unwrap();
        let got: Vec<(u64, u32, i64)> = ix.tracks[0].samples.iter().map(|s| (s.pos, s.size, s.dts)).collect();
        assert_eq!(got, vec![(100, 4096, 0), (4196, 4096, 1024), (8292, 1808, 2048), (10100, 2000, 2500)]);
        assert_eq!(ix.tracks[0].end_dts, 3000);
        assert_eq!(ix.tracks[0].bits_per_sample, 16);
    }

    #[test]
    fn co64_and_stz2() {
        let mut v = Spec::video(3);
        v.sizes = Vec::new();
        v.chunks = Vec::new();
        v.extra_stbl =
            [full(b"stz2", 0, &[words(&[4, 3]), vec![0x12, 0x30]].concat()), counted(b"co64", 0, &[vec![0, 100]])]
                .concat();
        let mut f = file(&[v], 100, &[]);
        // drop the empty stsz / stco boxes: rename them so that they are ignored
        for name in [b"stsz", b"stco"] {
            let at = f.windows(4).position(|w| w == name).unwrap();
            f[at..at + 4].copy_from_slice(b"skip");
        }
        let ix = read_bytes(&f).unwrap();
        let got: Vec<(u64, u32)> = ix.tracks[0].samples.iter().map(|s| (s.pos, s.size)).collect();
        assert_eq!(got, vec![(100, 1), (101, 2), (103, 3)]);
    }

    #[test]
    fn opus_and_flac_configs() {
        let dops = [0u8, 2, 0x01, 0x38, 0, 0, 0xbb, 0x80, 0, 0, 0];
        let stsd = [words(&[0, 1]), audio_entry(b"Opus", 2, 16, 48000, &bx(b"dOps", &dops))].concat();
        let e = parse_stsd(&stsd, b"soun", Brands { isom: true, qt_compatible: false }, 48000).unwrap();
        assert_eq!((e.kind, e.channels, e.sample_rate), (Kind::Audio, 2, 48000));
        assert_eq!(&e.config[..8], b"OpusHead");
        assert_eq!(e.config[8..], [1, 2, 0x38, 0x01, 0x80, 0xbb, 0, 0, 0, 0, 0]);
        let mut dfla = vec![0u8, 0, 0, 0, 0x80, 0, 0, 34];
        dfla.extend(0..34u8);
        assert_eq!(flac_streaminfo(&dfla).unwrap(), (0..34u8).collect::<Vec<_>>());
        assert!(flac_streaminfo(&dfla[..20]).is_err());
    }

    #[test]
    fn aac_config_sets_channels_and_rate() {
        let applied = |asc: &[u8]| {
            let mut e = SampleEntry::default();
            apply_audio_specific_config(asc, &mut e);
            (e.channels, e.sample_rate)
        };
        // HE-AAC signalled explicitly: object type 5, 24 kHz core, 48 kHz extension, stereo.
        assert_eq!(applied(&[0x2b, 0x11, 0x88, 0x00]), (2, 48000));
        assert_eq!(applied(&[0x11, 0x90]), (2, 48000));
        assert_eq!(applied(&[0x12, 0x10]), (2, 44100));
    }

    #[test]
    fn languages_and_names() {
        assert_eq!(language_code(0x15c7).as_deref(), Some("eng"));
        assert_eq!(language_code(0x55c4), None); // "und"
        assert_eq!(language_code(0).as_deref(), Some("eng"));
        assert_eq!(language_code(0x7fff), None);
        assert_eq!(hdlr_name(b"SoundHandler\0", true), None);
        assert_eq!(hdlr_name(b"\x07English", false).as_deref(), Some("English"));
        assert_eq!(hdlr_name(b"  \0", true), None);
    }

    #[test]
    fn mvex_marks_fragmented() {
        let ix = read_bytes(&file(&[Spec::video(1)], 100, &bx(b"mvex", &[]))).unwrap();
        assert!(ix.fragmented);
    }

    #[test]
    fn bad_files() {
        assert!(err_of(b"").contains("empty"));
        assert!(err_of(b"hello, this is not a movie at all").contains("not an ISO-BMFF"));
        let good = file(&[Spec::video(2)], 100, &[]);
        let moov_at = good.windows(4).position(|w| w == b"moov").unwrap() - 4;
        assert!(err_of(&good[..moov_at + 20]).contains("truncated"));
        assert!(err_of(&good[..moov_at]).contains("no moov"));
        // samples beyond the end of the file
        let mut v = Spec::video(2);
        v.chunks = vec![1 << 30];
        assert!(err_of(&file(&[v], 100, &[])).contains("truncated"));
    }

    #[test]
    fn absurd_counts_fail_cleanly() {
        let patch = |kind: &[u8; 4], at: usize, value: u32| {
            let mut f = file(&[Spec::video(3)], 100, &[]);
            let p = f.windows(4).position(|w| w == kind).unwrap();
            f[p + at..p + at + 4].copy_from_slice(&value.to_be_bytes());
            read_bytes(&f)
        };
        for (kind, at) in [(b"stts", 8), (b"stsc", 8), (b"stco", 8), (b"stsz", 12), (b"stsd", 8)] {
            for value in [u32::MAX, 0x8000_0000, 0x1000_0000] {
                let r = patch(kind, at, value);
                assert!(r.is_err(), "{} {value:#x}: {r:?}", String::from_utf8_lossy(kind));
            }
        }
        // constant sample size with an absurd count
        let r = patch(b"stsz", 8, 1);
        assert!(r.is_ok());
        let mut f = file(&[Spec::video(3)], 100, &[]);
        let p = f.windows(4).position(|w| w == b"stsz").unwrap();
        f[p + 8..p + 16].copy_from_slice(&words(&[1, u32::MAX]));
        assert!(err_of(&f).contains("truncated"));
        // a 64-bit box size far beyond the moov
        let mut f = file(&[Spec::video(3)], 100, &[]);
        let p = f.windows(4).position(|w| w == b"trak").unwrap();
        f[p - 4..p].copy_from_slice(&1u32.to_be_bytes());
        let _ = read_bytes(&f);
    }

    #[test]
    fn random_corruption_never_panics() {
        let mut v = Spec::video(6);
        v.ctts = Some(vec![vec![2, 1024], vec![4, 0]]);
        v.stss = Some(vec![1, 4]);
        v.elst = Some(elst(0, &[(100, u32::MAX as i64), (1000, 1024)]));
        let mut a = Spec::video(5);
        a.handler = *b"soun";
        a.entry = audio_entry(
            b"mp4a",
            2,
            16,
            48000,
            &bx(
                b"esds",
                &[
                    0, 0, 0, 0, 3, 25, 0, 1, 0, 4, 17, 0x40, 0x15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 2, 0x11, 0x90,
                    6, 1, 2,
                ],
            ),
        );
        a.elst = Some(elst(0, &[(1000, 1024)]));
        let base = file(&[v, a], 200, &[]);
        let moov_at = base.windows(4).position(|w| w == b"moov").unwrap();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..3000 {
            let mut f = base.clone();
            for _ in 0..1 + rnd() % 4 {
                let at = moov_at + (rnd() as usize) % (f.len() - moov_at);
                f[at] = match rnd() % 4 {
                    0 => 0,
                    1 => 0xff,
                    2 => f[at].wrapping_add(1),
                    _ => rnd() as u8,
                };
            }
            let _ = read_bytes(&f);
        }
        for len in moov_at..base.len() {
            assert!(read_bytes(&base[..len]).is_err());
        }
    }
}
