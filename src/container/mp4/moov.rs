//! The `moov` box: the movie header, each `trak` (track header, `mdia`, `edts`, `udta`, `tref`)
//! collected into its boxes and turned into an [`Mp4Track`] (its sample entry, sample tables and
//! edit list read by the sibling modules), plus languages and track names as FFmpeg reads them.
//! For a fragmented file it also returns what the movie fragments need ([`FragTrack`]: the
//! `mvex/trex` defaults and each track's edit-list offset).

use super::boxes::{be16, be24, be32, child, fourcc, set_once, Boxes};

use super::edit_list::EditPlan;
use super::lazy_plan;
use super::sample_entry::{kind_of, parse_stsd, Kind, SampleEntry, NO_FOURCC};
use super::samples::{build_index, sample_budget};
use super::side::Sides;
use super::tables::{collect_stbl, StblBoxes, Tables};
use super::top_level::Brands;
use super::track::{Mp4Index, Mp4Track};
use crate::error::{ErrorKind, ParseError, ParseResult};

/// Most `tref/chap` track IDs read from one track.
const MAX_CHAPTER_REFS: usize = 64;
/// Most tracks accepted in one file (FFmpeg's `max_streams` default).
pub(super) const MAX_TRACKS: usize = 1000;

/// Offset of the display matrix in a version 0 `tkhd` body (from its version byte).
const TKHD_MATRIX_AT_V0: usize = 40;
/// Offset of the display matrix in a version 1 `tkhd` body.
const TKHD_MATRIX_AT_V1: usize = 52;
/// `tkhd` flag: the track is enabled.
const TKHD_ENABLED: u32 = 1;

/// What every track needs from the file and the movie header.
#[derive(Clone, Copy)]
struct FileCtx {
    /// What the `ftyp` says.
    brands: Brands,
    /// Bytes in the file (sample data must lie inside).
    file_size: u64,
    /// Samples the track may still have (what `MAX_SAMPLES` leaves after the previous tracks).
    sample_budget: u64,
    /// `mvhd` timescale, when an `mvhd` came before the track.
    movie_timescale: Option<u32>,
}

/// A track's sample defaults from its `mvex/trex` box (ISO/IEC 14496-12 §8.8.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Trex {
    /// Sample description index.
    pub(super) description: u32,
    /// Sample duration.
    pub(super) duration: u32,
    /// Sample size.
    pub(super) size: u32,
    /// Sample flags.
    pub(super) flags: u32,
}

/// What reading the movie fragments of one track needs from the `moov`.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct FragTrack {
    /// `tkhd` track ID (what `tfhd` names).
    pub(super) track_id: u32,
    /// The `trex` defaults (all 0 without a `trex` for the track).
    pub(super) trex: Trex,
    /// The edit list's offset, subtracted from every fragment time as FFmpeg's `time_offset`:
    /// the edit's media time minus the leading empty edit, in the track timescale (0 without
    /// an edit list).
    pub(super) time_offset: i64,
    /// An audio track: every sample is a sync sample, whatever its flags say.
    pub(super) audio: bool,
}

/// What the `moov` says: the tracks (samples from the sample tables), and for a fragmented file
/// (`mvex`) what its movie fragments need, one [`FragTrack`] per track in the same order.
pub(super) struct Moov {
    /// The tracks.
    pub(super) index: Mp4Index,
    /// Per track, what its movie fragments need (same order as `index.tracks`).
    pub(super) fragments: Vec<FragTrack>,
    /// Samples the file may still have (what `MAX_SAMPLES` leaves after the sample tables).
    pub(super) sample_budget: u64,
}

/// Every track of the `moov` payload `moov`. With `lazy`, a track
/// whose samples follow from its tables in closed form keeps them there
/// ([`Mp4Track::lazy`](super::track::Mp4Track::lazy)) instead of a built list.
pub(super) fn parse_moov<'a>(
    moov: &'a [u8],
    sides: Sides<'a>,
    brands: Brands,
    file_size: u64,
    max_index_bytes: u64,
    lazy: bool,
) -> ParseResult<Moov> {
    // A file holds at most one sample per byte: a table or `trun` announcing more (empty
    // samples by the million from a few bytes) is refused before its index is allocated.
    let budget = sample_budget(max_index_bytes).min(file_size);
    let mut ctx = FileCtx { brands, file_size, sample_budget: budget, movie_timescale: None };
    let mut index = Mp4Index::default();
    let mut chapter_ids = Vec::new();
    let mut fragments = Vec::new();
    let mut trex: Vec<(u32, Trex)> = Vec::new();
    for (kind, body) in Boxes::new(moov) {
        match &kind {
            b"mvhd" => ctx.movie_timescale = Some(parse_mvhd(body)?),
            b"trak" => {
                if index.tracks.len() >= MAX_TRACKS {
                    return Err(ParseError::refuse(
                        ErrorKind::Unsupported,
                        format!("more than {MAX_TRACKS} tracks (FFmpeg's max_streams)"),
                    ));
                }
                let boxes = collect_trak(body, sides);
                let ids = boxes.chapters.unwrap_or(&[]);
                chapter_ids.extend(
                    ids.chunks_exact(4).take(MAX_CHAPTER_REFS).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])),
                );
                let (track, frag) = parse_track(&boxes, &ctx, lazy)
                    .map_err(|e| e.context(format_args!("track {}", index.tracks.len())))?;
                let count = track.samples.len() + track.lazy.as_ref().map_or(0, |l| l.len());
                ctx.sample_budget = ctx.sample_budget.saturating_sub(count as u64);
                index.tracks.push(track);
                fragments.push(frag);
            }
            b"mvex" => {
                index.fragmented = true;
                trex.extend(Boxes::new(body).filter(|(k, _)| k == b"trex").filter_map(|(_, b)| parse_trex(b)));
            }
            b"udta" => index.cover_art.extend(cover_art(body)),
            b"cmov" => return Err(ParseError::new("compressed moov (cmov) is not supported")),
            _ => {}
        }
    }
    for t in &mut index.tracks {
        t.chapter = chapter_ids.contains(&t.track_id);
        if index.fragmented || t.chapter {
            // Movie fragments add to the built list; chapter tracks are read whole.
            if let Some(l) = t.lazy.take() {
                t.samples = l.to_vec();
            }
        }
    }
    for f in &mut fragments {
        if let Some((_, t)) = trex.iter().find(|(id, _)| *id == f.track_id) {
            f.trex = *t;
        }
    }
    Ok(Moov { index, fragments, sample_budget: ctx.sample_budget })
}

/// Most cover pictures listed from one `covr`.
const MAX_COVERS: usize = 16;

/// The `data` types of the cover pictures of a `moov/udta` payload (`meta/ilst/covr/data`). The
/// `meta` box is a full box in ISO files and a plain one in QuickTime files.
fn cover_art(udta: &[u8]) -> Vec<u32> {
    let Some(meta) = child(udta, b"meta") else { return Vec::new() };
    let children = if fourcc(meta, 4) == Some(*b"hdlr") { meta } else { meta.get(4..).unwrap_or(&[]) };
    let Some(covr) = child(children, b"ilst").and_then(|ilst| child(ilst, b"covr")) else { return Vec::new() };
    Boxes::new(covr).filter(|(k, _)| k == b"data").filter_map(|(_, d)| be32(d, 0)).take(MAX_COVERS).collect()
}

/// A `trex` payload: (track ID, defaults).
fn parse_trex(b: &[u8]) -> Option<(u32, Trex)> {
    let id = be32(b, 4)?;
    Some((id, Trex { description: be32(b, 8)?, duration: be32(b, 12)?, size: be32(b, 16)?, flags: be32(b, 20)? }))
}

/// The movie timescale (1 when invalid, as FFmpeg).
fn parse_mvhd(body: &[u8]) -> ParseResult<u32> {
    let at = if body.first() == Some(&1) { 20 } else { 12 };
    let ts = be32(body, at).ok_or_else(|| ParseError::new("corrupt mvhd"))?;
    Ok(if ts as i32 <= 0 { 1 } else { ts })
}

/// The boxes of one `trak` that matter, borrowed from the moov buffer.
#[derive(Default)]
struct TrakBoxes<'a> {
    /// Track header.
    tkhd: Option<&'a [u8]>,
    /// Edit list (`edts/elst`).
    elst: Option<&'a [u8]>,
    /// Media header.
    mdhd: Option<&'a [u8]>,
    /// Handler reference.
    hdlr: Option<&'a [u8]>,
    /// `udta/name`.
    udta_name: Option<&'a [u8]>,
    /// `tref/chap` track IDs.
    chapters: Option<&'a [u8]>,
    /// The sample-table boxes.
    stbl: StblBoxes<'a>,
}

/// The boxes of one `trak` that matter (its large tables from `sides` where they were read
/// apart).
fn collect_trak<'a>(trak: &'a [u8], sides: Sides<'a>) -> TrakBoxes<'a> {
    let mut t = TrakBoxes::default();
    for (kind, body) in Boxes::new(trak) {
        match &kind {
            b"tkhd" => set_once(&mut t.tkhd, body),
            b"edts" => {
                if let Some(e) = child(body, b"elst") {
                    set_once(&mut t.elst, e);
                }
            }
            b"mdia" => collect_mdia(body, sides, &mut t),
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

/// The `mdia` boxes that matter, into `t`.
fn collect_mdia<'a>(mdia: &'a [u8], sides: Sides<'a>, t: &mut TrakBoxes<'a>) {
    for (kind, body) in Boxes::new(mdia) {
        match &kind {
            b"mdhd" => set_once(&mut t.mdhd, body),
            b"hdlr" => set_once(&mut t.hdlr, body),
            b"minf" => {
                if let Some(stbl) = child(body, b"stbl") {
                    collect_stbl(stbl, sides, &mut t.stbl);
                }
            }
            _ => {}
        }
    }
}

/// One track: headers, sample entry, samples with the edit list applied; and what its movie
/// fragments need.
fn parse_track(b: &TrakBoxes<'_>, ctx: &FileCtx, lazy: bool) -> ParseResult<(Mp4Track, FragTrack)> {
    let mut track = Mp4Track::default();
    apply_tkhd(b.tkhd, &mut track);
    let mdhd = parse_mdhd(b.mdhd, ctx.movie_timescale)?;
    track.timescale = mdhd.timescale;
    track.language = mdhd.language;
    let handler = b.hdlr.and_then(|h| fourcc(h, 8)).unwrap_or(NO_FOURCC);
    track.handler = handler;
    track.name = track_name(b.hdlr, b.udta_name, ctx.brands.isom);
    let entry = match b.stbl.stsd {
        Some(stsd) => parse_stsd(stsd, &handler, ctx.brands, track.timescale)?,
        None => SampleEntry { kind: kind_of(&handler, &NO_FOURCC), ..SampleEntry::default() },
    };
    entry.fill_track(&mut track);
    let tables = Tables::parse(&b.stbl, ctx.file_size, lazy && lazy_plan::lazy_video(&entry))?;
    let edit = EditPlan::parse(b.elst, ctx.movie_timescale, track.timescale)?;
    let limits = (ctx.file_size, ctx.sample_budget);
    match lazy.then(|| lazy_plan::plan(&tables, &entry, edit.as_ref(), track.timescale, limits)).flatten() {
        Some((samples, end_dts)) => {
            track.end_dts = if samples.is_empty() { 0 } else { end_dts };
            track.lazy = Some(samples);
        }
        None => {
            let built = build_index(&tables, &entry, limits)?;
            let (samples, end_dts) = built.finish(edit.as_ref(), &entry, track.timescale);
            track.samples = samples;
            track.end_dts = end_dts;
        }
    }
    let frag = FragTrack {
        track_id: track.track_id,
        trex: Trex::default(),
        time_offset: edit.map_or(0, |e| e.time_offset()),
        audio: entry.kind == Kind::Audio,
    };
    Ok((track, frag))
}

/// Track ID and enabled flag from the `tkhd`.
fn apply_tkhd(tkhd: Option<&[u8]>, track: &mut Mp4Track) {
    let Some(t) = tkhd else { return };
    let at = if t.first() == Some(&1) { 20 } else { 12 };
    track.track_id = be32(t, at).unwrap_or(0);
    track.default = be24(t, 1).is_some_and(|f| f & TKHD_ENABLED != 0);
    let matrix_at = if t.first() == Some(&1) { TKHD_MATRIX_AT_V1 } else { TKHD_MATRIX_AT_V0 };
    if let Some(m) = t.get(matrix_at..matrix_at + 36) {
        let mut matrix = [0i32; 9];
        for (i, v) in matrix.iter_mut().enumerate() {
            *v = be32(m, i * 4).unwrap_or(0) as i32;
        }
        track.picture.set_matrix(matrix);
    }
}

/// What the `mdhd` gives.
struct Mdhd {
    /// Track timescale (1 when invalid).
    timescale: u32,
    /// Language, `None` for "und" or an unknown code.
    language: Option<String>,
}

/// Timescale and language from the `mdhd` (the movie timescale without one).
fn parse_mdhd(mdhd: Option<&[u8]>, movie_timescale: Option<u32>) -> ParseResult<Mdhd> {
    let Some(m) = mdhd else {
        // FFmpeg's fix_timescale: the movie timescale, else 1.
        return Ok(Mdhd { timescale: movie_timescale.unwrap_or(1), language: None });
    };
    let version = *m.first().ok_or_else(|| ParseError::new("corrupt mdhd"))?;
    if version > 1 {
        return Err(ParseError::new(format!("unsupported mdhd version {version}")));
    }
    let (ts_at, lang_at) = if version == 1 { (20, 32) } else { (12, 20) };
    let ts = be32(m, ts_at).ok_or_else(|| ParseError::new("corrupt mdhd"))?;
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

/// The `hdlr` name (C string, or QuickTime Pascal string), if usable.
fn hdlr_name(raw: &[u8], isom: bool) -> Option<String> {
    let mut s = c_string(raw);
    // QuickTime stores a Pascal string: FFmpeg skips its length byte.
    if !isom && !s.is_empty() && s[0] < 0x80 && usize::from(s[0]) + 1 == raw.len() {
        s = &s[1..];
    }
    usable_name(s)
}

/// The bytes before the first NUL.
fn c_string(raw: &[u8]) -> &[u8] {
    raw.split(|&b| b == 0).next().unwrap_or(&[])
}

/// A name unless blank or a default "...Handler".
fn usable_name(s: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(s);
    let t = s.trim();
    (!t.is_empty() && !s.ends_with("Handler")).then(|| s.into_owned())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

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
    fn cover_art_in_the_movie_metadata_is_listed() {
        let data = |kind: u32| bx(b"data", &[words(&[kind, 0]), vec![0x89, b'P', b'N', b'G']].concat());
        let ilst = bx(b"ilst", &bx(b"covr", &[data(14), data(13)].concat()));
        let hdlr = full(b"hdlr", 0, &[words(&[0]), b"mdirappl".to_vec(), words(&[0, 0, 0]), vec![0]].concat());
        // ISO: meta is a full box; QuickTime: a plain one.
        for meta in [full(b"meta", 0, &[hdlr.clone(), ilst.clone()].concat()), bx(b"meta", &[hdlr, ilst].concat())] {
            let ix = read_bytes(&file(&[Spec::video(1)], 100, &bx(b"udta", &meta))).unwrap();
            assert_eq!(ix.cover_art, vec![14, 13]);
        }
        let ix = read_bytes(&file(&[Spec::video(1)], 100, &bx(b"udta", &bx(b"name", b"x")))).unwrap();
        assert!(ix.cover_art.is_empty());
    }

    #[test]
    fn mvex_marks_fragmented() {
        let ix = read_bytes(&file(&[Spec::video(1)], 100, &bx(b"mvex", &[]))).unwrap();
        assert!(ix.fragmented);
        assert_eq!(ix.tracks[0].samples.len(), 1);
    }
}
