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
//! ≥ 0, or empty edits followed by one such edit; anything else is reported as the error
//! "unsupported edit list" so that the caller can fall back to FFmpeg.
//!
//! Hostile input never panics and never makes this module allocate more than the file backs:
//! every count is checked against its box size (or the file size) before any allocation.
//!
//! The parts, each reading one layer of the file:
//! - `boxes`: the one box reader (big-endian fields, child boxes, MPEG-4 descriptors);
//! - `top_level`: the top-level walk, `ftyp` brands, reading the `moov`;
//! - `side`: the large size and chunk-offset tables of the `moov` read apart, narrowed, into
//!   the memory a lazily read track keeps; its large `ctts` and `stsc` left in the file, read
//!   through a small buffer as they are parsed;
//! - `moov`: `moov` / `trak` / `mdia` boxes, track headers, languages and names;
//! - `sample_entry`: the `stsd` entry (visual, audio, subtitle) and its codec configuration;
//! - `tables`: the sample tables (`stts`, `ctts`, `stss`, `stsc`, `stsz`/`stz2`, `stco`/`co64`,
//!   `sbgp`) and their cursors;
//! - `samples`: FFmpeg's `mov_build_index`, the flat sample list;
//! - `lazy`, `lazy_plan`: sample lists kept in their tables and built on demand
//!   ([`LazySamples`]: all-sync audio, and H.264/HEVC video with its `stss` as a bitset and its
//!   `ctts` as one offset per sample, a byte each in frame durations where it fits), and which
//!   tracks qualify;
//! - `edit_list`: `elst` and FFmpeg's `mov_fix_index`, the edit applied to the samples;
//! - `fragments`: the movie fragments of a fragmented file (`moof`/`traf`/`tfhd`/`tfdt`/`trun`
//!   with the `trex` defaults), read box by box without the sample data;
//! - `track`: the public result types ([`Mp4Index`], [`Mp4Track`], [`Mp4Sample`]).

#![deny(unsafe_code)]

mod boxes;
mod edit_list;
mod fragments;
mod lazy;
mod lazy_plan;
mod moov;
mod sample_entry;
mod samples;
mod side;
mod tables;
mod top_level;
mod track;

#[cfg(test)]
mod testutil;

use crate::container::read::ByteSource;

use crate::error::ParseResult;

pub use lazy::LazySamples;
pub use samples::INDEX_BYTES_PER_SAMPLE;
pub use track::{FragmentStats, Mp4Index, Mp4Sample, Mp4Track};

/// Reads the moov of an MP4/MOV/M4A file with a few positioned reads (walk top-level boxes by
/// size; moov may sit after mdat; the whole moov is read in one read).
///
/// Errors (a clear reason): not ISO-BMFF (no ftyp/moov box at the top level), moov missing
/// (truncated file), box sizes that overrun the file, sample data (pos+size) beyond the end of
/// the file ("truncated"), corrupt tables, and constructs this reader leaves to FFmpeg
/// ("unsupported edit list", several sample descriptions in use, compressed moov).
///
/// A fragmented file (`mvex` in the `moov`) also has its `moof` boxes read, and only those (see
/// `fragments`): its tracks get the same sample lists as a file with sample tables.
pub fn read(file: &ByteSource, file_size: u64) -> ParseResult<Mp4Index> {
    read_limited(file, file_size, DEFAULT_MAX_INDEX_BYTES)
}

/// The default index ceiling of [`read`] (the engine's default `max_index_bytes`): 1 GiB.
pub const DEFAULT_MAX_INDEX_BYTES: u64 = 1 << 30;

/// [`read`] with an index ceiling: a file whose samples would need more than `max_index_bytes`
/// (at [`INDEX_BYTES_PER_SAMPLE`] each), or that has more than 1000 tracks, is refused
/// ([`crate::error::ParseError::refused`] is `Unsupported`) before its sample lists are allocated; a file whose
/// sample counts contradict its size is refused as `InvalidMedia`. Refused files must not be
/// handed to another demuxer.
pub fn read_limited(file: &ByteSource, file_size: u64, max_index_bytes: u64) -> ParseResult<Mp4Index> {
    read_with(file, file_size, max_index_bytes, false)
}

/// [`read_limited`], where the tracks whose samples follow from their tables in closed form
/// (see [`LazySamples`]) keep them there: such a track's `samples` is empty and its `lazy` gives
/// the same samples on demand. Opening a long file then builds no per-sample list for them.
pub fn read_lazily(file: &ByteSource, file_size: u64, max_index_bytes: u64) -> ParseResult<Mp4Index> {
    read_with(file, file_size, max_index_bytes, true)
}

fn read_with(file: &ByteSource, file_size: u64, max_index_bytes: u64, lazy: bool) -> ParseResult<Mp4Index> {
    let (moov, brands) = top_level::read_moov(file, file_size)?;
    let sides = moov.side_tables();
    let parsed = match moov::parse_moov(&moov, sides, brands, file_size, max_index_bytes, lazy) {
        Ok(p) if sides.all_claimed() => p,
        // The box reader did not take a table read apart for its box (or failed before it did):
        // the whole moov read and parsed as it is.
        _ if moov.has_sides() => {
            let whole = moov.whole(file)?;
            drop(moov);
            moov::parse_moov(&whole, side::Sides::NONE, brands, file_size, max_index_bytes, lazy)?
        }
        r => r?,
    };
    let mut index = parsed.index;
    if index.fragmented {
        let stats =
            fragments::read_fragments(file, file_size, &mut index.tracks, &parsed.fragments, parsed.sample_budget)?;
        index.fragments = Some(stats);
    }
    Ok(index)
}

/// The tracks of a `moov` payload given as bytes (QuickTime brands when `quicktime`), its sample
/// data assumed to lie in a file of `file_size` bytes: what [`read`] does once it has read the
/// `moov`, without the file. The fuzz targets' entry into the box reader; not API.
#[doc(hidden)]
pub fn read_moov_payload(moov: &[u8], quicktime: bool, file_size: u64) -> ParseResult<Mp4Index> {
    let brands = top_level::Brands { isom: !quicktime, qt_compatible: quicktime };
    Ok(moov::parse_moov(moov, side::Sides::NONE, brands, file_size, DEFAULT_MAX_INDEX_BYTES, false)?.index)
}

#[cfg(test)]
mod tests {
    use super::testutil::*;

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
            t.samples.iter().map(|s| (s.pos, s.size(), s.dts, s.pts(), s.key())).collect();
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
        assert!(err_of(&f).contains("more than the file holds"));
        // ... refused outright: not handed to FFmpeg, whose index would allocate the claim
        let refused = read_bytes(&f).err().and_then(|e| e.refused());
        assert_eq!(refused, Some(crate::error::ErrorKind::InvalidMedia));
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
        for f in damaged_copies(&base, moov_at, 0x9e37_79b9_7f4a_7c15, 3000) {
            let _ = read_bytes(&f);
        }
        for len in moov_at..base.len() {
            assert!(read_bytes(&base[..len]).is_err());
        }
    }
}
