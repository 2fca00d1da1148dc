//! A tiny EBML builder and a sample Matroska file for the unit tests of the `mkv` readers.

use crate::container::read::ByteSource;

use super::ebml::*;
use super::*;
use crate::error::ParseResult;

/// An element ID as stored (marker bit kept, leading zero bytes dropped).
pub(super) fn id_bytes(id: u32) -> Vec<u8> {
    let b = id.to_be_bytes();
    b[b.iter().take_while(|&&x| x == 0).count()..].to_vec()
}

/// A size as a minimal-length EBML vint (all ones is reserved for "unknown").
pub(super) fn size_bytes(n: u64) -> Vec<u8> {
    let len = (1..=8).find(|&l| n < (1u64 << (7 * l)) - 1).unwrap();
    (n | 1u64 << (7 * len)).to_be_bytes()[8 - len..].to_vec()
}

pub(super) fn el(id: u32, data: &[u8]) -> Vec<u8> {
    [id_bytes(id), size_bytes(data.len() as u64), data.to_vec()].concat()
}

/// An element of unknown size (8-byte 0x01FFFFFFFFFFFFFF).
pub(super) fn unknown(id: u32, data: &[u8]) -> Vec<u8> {
    [id_bytes(id), vec![0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], data.to_vec()].concat()
}

/// An unsigned integer element, minimal length.
pub(super) fn num(id: u32, v: u64) -> Vec<u8> {
    let b = v.to_be_bytes();
    el(id, &b[b.iter().take_while(|&&x| x == 0).count().min(7)..])
}

/// An unsigned integer element, always 8 bytes (so positions can be patched in later).
pub(super) fn fixed(id: u32, v: u64) -> Vec<u8> {
    el(id, &v.to_be_bytes())
}

/// SimpleBlock / Block data: track vint, int16 relative time, flags, then the rest.
pub(super) fn block(track: u8, rel: i16, flags: u8, rest: &[u8]) -> Vec<u8> {
    [vec![0x80 | track], rel.to_be_bytes().to_vec(), vec![flags], rest.to_vec()].concat()
}

pub(super) fn ebml_head() -> Vec<u8> {
    el(ID_EBML, &el(0x4282, b"webm"))
}

/// EBML header + a Segment of known size holding `body`: (file, Segment data offset).
pub(super) fn mkv(body: &[u8]) -> (Vec<u8>, u64) {
    let file = [ebml_head(), el(ID_SEGMENT, body)].concat();
    let seg_data = (file.len() - body.len()) as u64;
    (file, seg_data)
}

/// Start of each part when they are concatenated.
pub(super) fn offsets(parts: &[Vec<u8>]) -> Vec<u64> {
    parts.iter().scan(0u64, |at, p| Some(std::mem::replace(at, *at + p.len() as u64))).collect()
}

pub(super) fn find(hay: &[u8], needle: &[u8]) -> u64 {
    hay.windows(needle.len()).position(|w| w == needle).expect("needle in file") as u64
}

/// Runs `f` on `bytes` written to a fresh temp file (removed afterwards).
pub(super) fn with_file<R>(bytes: &[u8], f: impl FnOnce(&ByteSource, u64) -> R) -> R {
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
    let file = crate::container::read::ByteSource::open_file(&tmp.0).unwrap();
    f(&file, bytes.len() as u64)
}

pub(super) fn layout_of(bytes: &[u8]) -> ParseResult<Option<Layout>> {
    with_file(bytes, read_layout)
}

/// Every block from `from` to the end of the segment.
pub(super) fn walk(file: &ByteSource, size: u64, layout: &Layout, from: u64) -> ParseResult<Vec<BlockHead>> {
    let mut w = BlockWalker::new(file, size, layout, from);
    let mut out = Vec::new();
    while let Some(b) = w.next_block()? {
        out.push(b);
        assert!(out.len() < 10_000, "walker does not advance");
    }
    Ok(out)
}

/// Where [`sample`] puts the Cues.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum CuesAt {
    Nowhere,
    BeforeClusters,
    AfterClusters,
}

/// A sample file and where its parts are.
pub(super) struct Sample {
    pub(super) file: Vec<u8>,
    pub(super) seg_data: u64,
    /// Absolute offsets of the two clusters.
    pub(super) c1: u64,
    pub(super) c2: u64,
}

/// Track 1 (video), track 2 (audio, CodecDelay 6.5 ms, LanguageBCP47 pt-BR, ContentEncodings); two clusters at
/// timestamps 1000 and 2000 with Tags between them; Cues where `at` says.
pub(super) fn sample(scale: Option<u64>, at: CuesAt) -> Sample {
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
                    el(ID_LANGUAGE_BCP47, b"pt-BR"),
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
            el(ID_BLOCK_GROUP, &[el(ID_BLOCK, &block(1, 40, 0, b"REF1")), el(ID_REFERENCE_BLOCK, &[0xD8])].concat()),
            // Xiph lacing: 3 frames (count - 1 = 2), lace sizes 2 and 2, then 6 bytes.
            el(ID_SIMPLE_BLOCK, &block(2, 20, 0x82, b"\x02\x02\x02LACE01")),
        ]
        .concat(),
    );
    let tags = el(ID_TAGS, &el(0x7373, &[]));
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
                        &[num(ID_CUE_TRACK, 2), fixed(ID_CUE_CLUSTER_POSITION, a), num(ID_CUE_RELATIVE_POSITION, 25)]
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
