//! The Segment's layout: the EBML header, SeekHead, Info, Tracks (→ [`TrackEntry`]) and Cues
//! (→ [`CuePoint`]), read by [`read_layout`] into a [`Layout`].

use serde::{Deserialize, Serialize};

use crate::container::read::ByteSource;

use super::ebml::*;
use crate::error::{ParseError, ParseResult};

/// TrackType of a video track.
pub(crate) const TRACK_TYPE_VIDEO: u64 = 1;
/// TrackType of an audio track.
pub(crate) const TRACK_TYPE_AUDIO: u64 = 2;
/// TrackType of a subtitle track.
pub(crate) const TRACK_TYPE_SUBTITLE: u64 = 0x11;

/// TimestampScale when the Info does not give one: 1 ms ticks.
const DEFAULT_TIMESTAMP_SCALE: u64 = 1_000_000;

/// Cues larger than this are taken for damage (a 10-hour film indexed at every frame needs
/// ~20 MB).
const MAX_CUES_BYTES: u64 = 128 << 20;

/// Bytes per Cue point assumed when reserving room for them: a CuePoint with one position takes
/// 13 or more (CuePoint, CueTime, CueTrackPositions, CueTrack, CueClusterPosition: an ID and a
/// size byte each, a byte of value for three), usually 16 or more.
const MIN_CUE_POINT_BYTES: usize = 16;

/// Bytes fetched per read of the header elements and Cues.
const LAYOUT_CHUNK: usize = 8 << 10;

/// Longest MuxingApp / WritingApp kept, in bytes.
const MAX_APP_NAME_BYTES: usize = 256;

/// Longest LanguageBCP47 kept, in bytes (a BCP 47 tag is short).
const MAX_LANGUAGE_BYTES: usize = 64;

/// Longest SeekID, in bytes (an element ID).
const MAX_SEEK_ID_BYTES: usize = 4;

/// One Cue point: a keyframe of `track` at `time` (timestamp-scale ticks) in the cluster at
/// byte `cluster` (absolute file offset).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

/// What one TrackEntry says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Layout {
    /// Absolute offset of the Segment's data (Cue positions count from here).
    pub segment_data: u64,
    /// Absolute end of the Segment (the file size when its size is unknown).
    pub segment_end: u64,
    /// Nanoseconds per timestamp tick.
    pub timestamp_scale: u64,
    /// Every TrackEntry, in order.
    pub tracks: Vec<TrackEntry>,
    /// The LanguageBCP47 (LanguageIETF) of every TrackEntry, in order: FFmpeg 5.1 reads only
    /// the ISO 639-2 Language (`por` where mkvmerge wrote `pt-BR`).
    pub languages: Vec<Option<String>>,
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

/// Bytes read for the EBML header by [`is_matroska`] (it is about 40).
const EBML_HEADER_READ: usize = 256;

/// Largest EBML header [`is_matroska`] accepts.
const MAX_EBML_HEADER: u64 = 4 << 10;

/// Longest DocType compared, in bytes.
const MAX_DOC_TYPE_BYTES: usize = 16;

/// Whether the file starts with an EBML header whose DocType is `matroska` or `webm`: then
/// FFmpeg's format probe would pick its Matroska demuxer (it looks for either word in that
/// header), and the caller can name the demuxer instead of probing.
pub fn is_matroska(file: &ByteSource, file_size: u64) -> bool {
    let mut r = Reader::new(file, file_size, EBML_HEADER_READ);
    if !r.bytes(0, 4).is_ok_and(|b| b == ID_EBML.to_be_bytes()) {
        return false;
    }
    let Ok(head) = r.element(0) else { return false };
    let Some(end) = head.size.filter(|&s| s <= MAX_EBML_HEADER).map(|s| head.data + s) else { return false };
    let mut pos = head.data;
    while pos < end {
        let Ok(e) = r.element(pos) else { return false };
        let Some(size) = e.size else { return false };
        if e.id == ID_DOC_TYPE {
            return r.data(&e, MAX_DOC_TYPE_BYTES).is_ok_and(|d| d == b"matroska" || d == b"webm");
        }
        let Some(next) = e.data.checked_add(size) else { return false };
        pos = next;
    }
    false
}

/// Reads the Segment's header elements and its Cues. `Ok(None)`: not a Matroska/WebM file.
pub fn read_layout(file: &ByteSource, file_size: u64) -> ParseResult<Option<Layout>> {
    let mut r = Reader::new(file, file_size, LAYOUT_CHUNK);
    if r.bytes(0, 4)? != ID_EBML.to_be_bytes() {
        return Ok(None);
    }
    let head = r.element(0)?;
    let seg = r.element(head.end(file_size))?;
    if seg.id != ID_SEGMENT {
        return Err(ParseError::new("no Segment after the EBML header"));
    }
    let mut layout = Layout {
        segment_data: seg.data,
        segment_end: seg.end(file_size),
        timestamp_scale: DEFAULT_TIMESTAMP_SCALE,
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
                            ID_SEEK_ID => id = uint(&r.data(&f, MAX_SEEK_ID_BYTES)?),
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
                        layout.muxing_app = String::from_utf8_lossy(&r.data(&f, MAX_APP_NAME_BYTES)?).into_owned();
                    }
                    if f.id == ID_WRITING_APP {
                        layout.writing_app = String::from_utf8_lossy(&r.data(&f, MAX_APP_NAME_BYTES)?).into_owned();
                    }
                }
            }
            ID_TRACKS => {
                for t in children(&mut r, &e, layout.segment_end)? {
                    if t.id != ID_TRACK_ENTRY {
                        continue;
                    }
                    let mut entry = TrackEntry::default();
                    let mut language = None;
                    for f in children(&mut r, &t, layout.segment_end)? {
                        match f.id {
                            ID_LANGUAGE_BCP47 => {
                                let tag = String::from_utf8_lossy(&r.data(&f, MAX_LANGUAGE_BYTES)?).into_owned();
                                language = Some(tag.trim_end_matches('\0').to_string()).filter(|l| !l.is_empty());
                            }
                            ID_TRACK_NUMBER => entry.number = r.uint(&f)?,
                            ID_TRACK_TYPE => entry.kind = r.uint(&f)?,
                            ID_CODEC_DELAY => entry.codec_delay = r.uint(&f)?,
                            ID_DEFAULT_DURATION => entry.default_duration = r.uint(&f)?,
                            ID_CONTENT_ENCODINGS => entry.encoded = true,
                            _ => {}
                        }
                    }
                    layout.tracks.push(entry);
                    layout.languages.push(language);
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
fn children(r: &mut Reader, parent: &Element, limit: u64) -> ParseResult<Vec<Element>> {
    let end = parent
        .size
        .map(|s| parent.data + s)
        .ok_or_else(|| ParseError::new(format!("element at byte {} has no size", parent.pos)))?;
    let end = end.min(limit);
    let mut out = Vec::new();
    let mut pos = parent.data;
    while pos < end {
        let e = r.element(pos)?;
        let size = e.size.ok_or_else(|| ParseError::new(format!("element at byte {pos} has no size")))?;
        out.push(e);
        pos = e.data + size;
    }
    Ok(out)
}

/// Reads the Cues element `cues` into `layout.cues`, sorted by (track, time).
fn read_cues(r: &mut Reader, cues: &Element, layout: &mut Layout) -> ParseResult<()> {
    // The Cues element is read in one piece: for a 2-hour film it is a few hundred kB.
    let end = cues.end(layout.segment_end.min(r.size()));
    if end <= cues.data || end - cues.data > MAX_CUES_BYTES {
        return Err(ParseError::new(format!(
            "Cues at byte {} do not fit in the segment or are implausibly large",
            cues.pos
        )));
    }
    let len = (end - cues.data) as usize;
    let mut data = vec![0u8; len];
    r.read_exact_at(&mut data, cues.data).map_err(|e| ParseError::new(format!("Cues at byte {}: {e}", cues.pos)))?;
    let mut at = 0usize;
    // Room for the Cue points the bytes usually hold (address space only: pages are touched as
    // they fill), so the list is not copied as it grows.
    layout.cues.reserve(len / MIN_CUE_POINT_BYTES);
    // The positions of one CuePoint, reused from one to the next.
    let mut positions = Vec::new();
    // The next element in `b` at `*at`: (ID, data start, data end); `None` when malformed.
    let next = |b: &[u8], at: &mut usize| -> Option<(u32, usize, usize)> {
        let (id, n) = vint(b.get(*at..)?, true)?;
        let (size, m) = vint(b.get(*at + n..)?, false)?;
        let start = *at + n + m;
        let end = start.checked_add(size as usize)?;
        (end <= b.len()).then_some((id as u32, start, end))
    };
    while at < data.len() {
        let Some((id, s, e)) = next(&data, &mut at) else { return Err(ParseError::new("malformed Cues")) };
        at = e;
        if id != ID_CUE_POINT {
            continue;
        }
        let mut time = None;
        positions.clear();
        let mut p = s;
        while p < e {
            let Some((cid, cs, ce)) = next(&data[..e], &mut p) else {
                return Err(ParseError::new("malformed CuePoint"));
            };
            p = ce;
            match cid {
                ID_CUE_TIME => time = Some(uint(&data[cs..ce]) as i64),
                ID_CUE_TRACK_POSITIONS => {
                    let (mut track, mut cluster, mut relative) = (None, None, None);
                    let mut q = cs;
                    while q < ce {
                        let Some((tid, ts, te)) = next(&data[..ce], &mut q) else {
                            return Err(ParseError::new("malformed CueTrackPositions"));
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
            for &(track, cluster, relative) in &positions {
                if let Some(cluster) = layout.segment_data.checked_add(cluster) {
                    layout.cues.push(CuePoint { time, track, cluster, relative });
                }
            }
        }
    }
    layout.cues.sort_by_key(|c| (c.track, c.time));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    fn cue(time: i64, track: u64, cluster: u64) -> CuePoint {
        CuePoint { time, track, cluster, relative: None }
    }

    #[test]
    fn matroska_and_webm_are_named_to_ffmpeg_without_its_probe() {
        // What FFmpeg's format probe recognises (a DocType of matroska or webm), and nothing else.
        let head = |fields: &[Vec<u8>]| el(ID_EBML, &fields.concat());
        let version = num(0x4286, 1);
        let cases: [(Vec<u8>, bool); 7] = [
            (head(&[version.clone(), el(ID_DOC_TYPE, b"matroska")]), true),
            (head(&[el(ID_DOC_TYPE, b"webm"), version.clone()]), true),
            (head(&[version.clone(), el(ID_DOC_TYPE, b"matroskaX")]), false),
            (head(std::slice::from_ref(&version)), false),
            // A DocType past the header's end, a cut-off header, not EBML at all.
            ([head(std::slice::from_ref(&version)), el(ID_DOC_TYPE, b"webm")].concat(), false),
            (head(&[el(ID_DOC_TYPE, b"matroska")])[..8].to_vec(), false),
            (b"RIFF\0\0\0\0WAVEfmt ".to_vec(), false),
        ];
        for (i, (bytes, want)) in cases.iter().enumerate() {
            let file = [bytes.clone(), vec![0; 32]].concat();
            assert_eq!(with_file(&file, is_matroska), *want, "case {i}");
        }
        // A hostile element size ends the walk over the header (no DocType found).
        let wrap =
            [id_bytes(ID_EBML), vec![0x88], vec![0x42, 0x86, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE]].concat();
        assert!(!with_file(&wrap, is_matroska));
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
        assert_eq!(l.languages, vec![None, Some("pt-BR".to_string())]);
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
}
