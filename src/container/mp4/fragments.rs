//! Movie fragments (ISO/IEC 14496-12 §8.8): the samples of a fragmented file (an empty or
//! partial `moov` with `mvex`, then `moof` + `mdat` pairs, as recorders, OBS and
//! `ffmpeg -movflags frag_keyframe+empty_moov` write), read from the `moof` boxes alone.
//!
//! [`read_fragments`] walks the top-level boxes by their headers: every `moof` is read whole
//! (its `traf`/`tfhd`/`tfdt`/`trun` boxes are small), every other box (`mdat`, `sidx`, `mfra`,
//! `free`, ...) is skipped by its size, so no sample data is read. Each `trun` sample becomes an
//! [`Mp4Sample`] like those of a sample table, appended to its track in decode order:
//!
//! - position: the `trun` data offset from the `tfhd` base data offset, else the `moof` start
//!   (`default-base-is-moof`, and the first `traf` of a `moof`), else the end of the previous
//!   `traf`'s data; a `trun` without a data offset continues after the previous one;
//! - size, duration and flags: the `trun` entry, else the `tfhd` default, else the `trex` one
//!   (the first sample's flags from `first_sample_flags` when the `trun` has them);
//! - decode time: the `tfdt` of the `traf` (as FFmpeg's `use_tfdt`), else the end of the
//!   track's previous samples; minus the edit list's offset (media time minus the leading
//!   empty edit, FFmpeg's `time_offset`: the sample at the edit's media time is presented at
//!   the end of the empty edit, exactly as FFmpeg 5.1 reads fragmented files);
//! - presentation time: decode time + the composition offset (signed, as FFmpeg reads it);
//! - sync: audio samples always; others when neither `sample_is_non_sync_sample` nor
//!   `sample_depends_on == 1` is set (FFmpeg's rule).
//!
//! The end of a track is its last sample's decode time plus that sample's own duration.
//! A file cut short (a recording that stopped) keeps its complete samples: the walk stops at a
//! box that runs past the end of the file, and samples whose data is not all in the file are
//! dropped from there on. A damaged `moof` ends the samples the same way (those before it stay).

use crate::container::read::ByteSource;

use super::boxes::{be32, be64, Boxes};
use super::moov::FragTrack;
use super::top_level::read_file_box;
use super::track::{FragmentStats, Mp4Sample, Mp4Track};
use crate::container::read;
use crate::error::{ParseError, ParseResult};

/// Largest `moof` read into memory.
const MAX_MOOF: u64 = 64 << 20;

/// `tfhd` flags.
const TFHD_BASE_DATA_OFFSET: u32 = 0x01;
const TFHD_SAMPLE_DESCRIPTION: u32 = 0x02;
const TFHD_DEFAULT_DURATION: u32 = 0x08;
const TFHD_DEFAULT_SIZE: u32 = 0x10;
const TFHD_DEFAULT_FLAGS: u32 = 0x20;
const TFHD_DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;

/// `trun` flags.
const TRUN_DATA_OFFSET: u32 = 0x01;
const TRUN_FIRST_SAMPLE_FLAGS: u32 = 0x04;
const TRUN_DURATION: u32 = 0x100;
const TRUN_SIZE: u32 = 0x200;
const TRUN_FLAGS: u32 = 0x400;
const TRUN_COMPOSITION: u32 = 0x800;

/// Sample flags: `sample_is_non_sync_sample`.
const SAMPLE_NON_SYNC: u32 = 0x0001_0000;
/// Sample flags: `sample_depends_on` = 1 (depends on others: not an I picture).
const SAMPLE_DEPENDS_YES: u32 = 0x0100_0000;

/// The running state of one track across fragments.
struct TrackState {
    /// What the `moov` says about the track.
    info: FragTrack,
    /// Index of the track in the output.
    index: usize,
    /// Decode time (media timeline, before the edit offset) after the last sample read.
    next_dts: i64,
}

/// One `tfhd`.
#[derive(Clone, Copy, Default)]
struct Tfhd {
    track_id: u32,
    flags: u32,
    base_data_offset: u64,
    description: u32,
    duration: u32,
    size: u32,
    sample_flags: u32,
}

/// Reads every `moof` of the file and appends its samples to `tracks` (`frag[i]` describes
/// `tracks[i]`); at most `budget` samples in all.
pub(super) fn read_fragments(
    file: &ByteSource,
    file_size: u64,
    tracks: &mut [Mp4Track],
    frag: &[FragTrack],
    budget: u64,
) -> ParseResult<FragmentStats> {
    let mut states: Vec<TrackState> = frag
        .iter()
        .enumerate()
        .map(|(index, f)| TrackState {
            info: *f,
            index,
            next_dts: tracks[index].samples.last().map_or(0, |_| tracks[index].end_dts + f.time_offset),
        })
        .collect();
    let before: Vec<usize> = tracks.iter().map(|t| t.samples.len()).collect();
    let mut stats = FragmentStats::default();
    let mut left = budget;
    let mut pos = 0u64;
    while file_size - pos >= 8 {
        let b = match read_file_box(file, pos, file_size) {
            Ok(b) => b,
            // A damaged or cut box header after the moov: keep what was read before it.
            Err(e) if pos > 0 => {
                log::warn!("movie fragments: stopped at byte {pos}: {e}");
                stats.truncated = true;
                break;
            }
            Err(e) => return Err(e),
        };
        stats.bytes_read += (file_size - pos).min(16);
        if b.size > file_size - pos {
            stats.truncated = true;
            break;
        }
        if &b.kind == b"moof" {
            if b.size > MAX_MOOF {
                return Err(ParseError::new(format!("moof box too large ({} bytes)", b.size)));
            }
            let mut moof = vec![0u8; (b.size - b.header) as usize];
            read::read_exact_at(file, pos + b.header, &mut moof)
                .map_err(|e| ParseError::new(format!("read error at byte {}: {e}", pos + b.header)))?;
            stats.moofs += 1;
            stats.moof_bytes += b.size;
            stats.bytes_read += moof.len() as u64;
            // A damaged moof ends the presentation there, as a cut does: what came before it
            // stays (FFmpeg's index would hold only the fragments it read at open).
            let kept: Vec<(usize, i64)> =
                tracks.iter().map(|t| t.samples.len()).zip(states.iter().map(|s| s.next_dts)).collect();
            if let Err(e) = read_moof(&moof, pos, tracks, &mut states, &mut left) {
                log::warn!("movie fragments: the moof at byte {pos} is damaged ({e}): the samples end there");
                for ((t, s), (len, next)) in tracks.iter_mut().zip(states.iter_mut()).zip(kept) {
                    t.samples.truncate(len);
                    s.next_dts = next;
                }
                stats.truncated = true;
                break;
            }
        }
        pos += b.size;
    }
    for ((t, s), before) in tracks.iter_mut().zip(&states).zip(before) {
        if let Some(cut) = t.samples.iter().position(|x| x.pos.saturating_add(u64::from(x.size())) > file_size) {
            // Samples whose data is not in the file: the track ends where the first of them
            // would have started.
            t.end_dts = t.samples[cut].dts;
            t.samples.truncate(cut);
            stats.truncated = true;
        } else if t.samples.len() > before {
            t.end_dts = s.next_dts.saturating_sub(s.info.time_offset);
        }
        if t.samples.is_empty() {
            t.end_dts = 0;
        }
    }
    Ok(stats)
}

/// The samples of one `moof` payload (`moof_pos`: where the box starts in the file).
fn read_moof(
    moof: &[u8],
    moof_pos: u64,
    tracks: &mut [Mp4Track],
    states: &mut [TrackState],
    left: &mut u64,
) -> ParseResult<()> {
    // Where the data of a `traf` without an explicit base starts: the moof, then the end of the
    // previous traf's data.
    let mut implicit = moof_pos;
    for (kind, traf) in Boxes::new(moof) {
        if &kind != b"traf" {
            continue;
        }
        let Some(tfhd) = Boxes::new(traf).find(|(k, _)| k == b"tfhd").and_then(|(_, b)| parse_tfhd(b)) else {
            return Err(ParseError::new("corrupt traf: no tfhd"));
        };
        // A track the moov does not declare (FFmpeg ignores it too).
        let Some(state) = states.iter_mut().find(|s| s.info.track_id == tfhd.track_id) else { continue };
        let description =
            if tfhd.flags & TFHD_SAMPLE_DESCRIPTION != 0 { tfhd.description } else { state.info.trex.description };
        if description > 1 {
            return Err(ParseError::new("unsupported: samples use several sample descriptions"));
        }
        let base = if tfhd.flags & TFHD_BASE_DATA_OFFSET != 0 {
            tfhd.base_data_offset
        } else if tfhd.flags & TFHD_DEFAULT_BASE_IS_MOOF != 0 {
            moof_pos
        } else {
            implicit
        };
        let defaults = Defaults {
            duration: pick(tfhd.flags, TFHD_DEFAULT_DURATION, tfhd.duration, state.info.trex.duration),
            size: pick(tfhd.flags, TFHD_DEFAULT_SIZE, tfhd.size, state.info.trex.size),
            flags: pick(tfhd.flags, TFHD_DEFAULT_FLAGS, tfhd.sample_flags, state.info.trex.flags),
        };
        if let Some(tfdt) = Boxes::new(traf).find(|(k, _)| k == b"tfdt").map(|(_, b)| b) {
            state.next_dts = parse_tfdt(tfdt)?;
        }
        let track = &mut tracks[state.index];
        let mut data = base;
        for (k, trun) in Boxes::new(traf) {
            if &k == b"trun" {
                data = read_trun(trun, base, data, &defaults, state, &mut track.samples, left)?;
            }
        }
        implicit = data;
    }
    Ok(())
}

/// The `tfhd` value when its flag is set, else the `trex` one.
fn pick(flags: u32, flag: u32, tfhd: u32, trex: u32) -> u32 {
    if flags & flag != 0 {
        tfhd
    } else {
        trex
    }
}

/// Sample defaults of one `traf`.
struct Defaults {
    duration: u32,
    size: u32,
    flags: u32,
}

/// A `tfhd` payload.
fn parse_tfhd(b: &[u8]) -> Option<Tfhd> {
    let flags = be32(b, 0)? & 0x00ff_ffff;
    let mut t = Tfhd { track_id: be32(b, 4)?, flags, ..Tfhd::default() };
    let mut at = 8;
    if flags & TFHD_BASE_DATA_OFFSET != 0 {
        t.base_data_offset = be64(b, at)?;
        at += 8;
    }
    let mut field = |flag: u32, slot: &mut u32| -> Option<()> {
        if flags & flag != 0 {
            *slot = be32(b, at)?;
            at += 4;
        }
        Some(())
    };
    field(TFHD_SAMPLE_DESCRIPTION, &mut t.description)?;
    field(TFHD_DEFAULT_DURATION, &mut t.duration)?;
    field(TFHD_DEFAULT_SIZE, &mut t.size)?;
    field(TFHD_DEFAULT_FLAGS, &mut t.sample_flags)?;
    Some(t)
}

/// The decode time of a `tfdt` payload (v0: 32 bits, v1: 64 bits).
fn parse_tfdt(b: &[u8]) -> ParseResult<i64> {
    let v = match b.first() {
        Some(1) => be64(b, 4),
        Some(_) => be32(b, 4).map(u64::from),
        None => None,
    };
    let v = v.ok_or_else(|| ParseError::new("corrupt tfdt"))?;
    i64::try_from(v).map_err(|_| ParseError::new("corrupt tfdt: decode time out of range"))
}

/// The samples of one `trun` payload, appended to `out`; returns where the next `trun`'s data
/// starts. `base`: the `traf`'s base data offset; `next`: the end of the previous `trun`'s data.
fn read_trun(
    b: &[u8],
    base: u64,
    next: u64,
    d: &Defaults,
    state: &mut TrackState,
    out: &mut Vec<Mp4Sample>,
    left: &mut u64,
) -> ParseResult<u64> {
    let corrupt = || ParseError::new("corrupt trun");
    let flags = be32(b, 0).ok_or_else(corrupt)? & 0x00ff_ffff;
    let count = be32(b, 4).ok_or_else(corrupt)?;
    let mut at = 8;
    let mut pos = next;
    if flags & TRUN_DATA_OFFSET != 0 {
        let offset = be32(b, at).ok_or_else(corrupt)? as i32;
        pos = base.checked_add_signed(i64::from(offset)).ok_or_else(corrupt)?;
        at += 4;
    }
    let mut first_flags = None;
    if flags & TRUN_FIRST_SAMPLE_FLAGS != 0 {
        first_flags = Some(be32(b, at).ok_or_else(corrupt)?);
        at += 4;
    }
    let fields = [TRUN_DURATION, TRUN_SIZE, TRUN_FLAGS, TRUN_COMPOSITION];
    let entry = 4 * fields.iter().filter(|&&f| flags & f != 0).count();
    let table = b.get(at..).unwrap_or(&[]);
    // Every entry must be in the box (a count with zero-size entries is bounded by the budget).
    if entry > 0 && (count as usize).checked_mul(entry).is_none_or(|n| n > table.len()) {
        return Err(ParseError::new(format!("corrupt trun: {count} samples overrun the box")));
    }
    if u64::from(count) > *left {
        return Err(super::samples::too_many(u64::from(count), *left).context("movie fragments"));
    }
    *left -= u64::from(count);
    out.reserve(count as usize);
    let offset = state.info.time_offset;
    let mut e = 0usize;
    for i in 0..count {
        let mut next_field = |flag: u32, default: u32| -> u32 {
            if flags & flag != 0 {
                let v = be32(table, e).unwrap_or(0);
                e += 4;
                v
            } else {
                default
            }
        };
        let duration = next_field(TRUN_DURATION, d.duration);
        let size = next_field(TRUN_SIZE, d.size);
        let default_flags = match (i, first_flags) {
            (0, Some(f)) => f,
            _ => d.flags,
        };
        let sample_flags = next_field(TRUN_FLAGS, default_flags);
        let composition = next_field(TRUN_COMPOSITION, 0) as i32;
        let dts = state.next_dts.saturating_sub(offset);
        let key = state.info.audio || sample_flags & (SAMPLE_NON_SYNC | SAMPLE_DEPENDS_YES) == 0;
        // A sample of 2 GiB or more (no record holds its size) is placed past any file: the
        // track ends there, as at a sample whose data is not in the file.
        let at = if size >= Mp4Sample::SIZE_LIMIT { u64::MAX } else { pos };
        out.push(Mp4Sample::new(at, dts, dts.saturating_add(i64::from(composition)), size, key));
        pos = pos.saturating_add(u64::from(size));
        state.next_dts = state.next_dts.saturating_add(i64::from(duration));
    }
    Ok(pos)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;

    /// A track whose samples all live in fragments (empty sample tables).
    fn empty_track(handler: &[u8; 4], timescale: u32) -> Spec {
        let mut s = Spec::video(0);
        s.handler = *handler;
        s.timescale = timescale;
        s.stts = Vec::new();
        s.sizes = Vec::new();
        s.stsc = Vec::new();
        s.chunks = Vec::new();
        s
    }

    fn trex(id: u32, duration: u32, size: u32, flags: u32) -> Vec<u8> {
        full(b"trex", 0, &words(&[id, 1, duration, size, flags]))
    }

    /// A `traf`: `tfhd` (flags and the fields they announce), an optional `tfdt` and one `trun`.
    fn traf(tfhd_flags: u32, tfhd_fields: &[u32], tfdt: Option<u64>, trun_flags: u32, trun_fields: &[u32]) -> Vec<u8> {
        let mut tfhd = words(&[tfhd_flags]);
        tfhd.extend(words(tfhd_fields));
        let mut b = bx(b"tfhd", &tfhd);
        if let Some(t) = tfdt {
            let mut body = vec![1, 0, 0, 0];
            body.extend_from_slice(&t.to_be_bytes());
            b.extend(bx(b"tfdt", &body));
        }
        let mut trun = words(&[trun_flags]);
        trun.extend(words(trun_fields));
        b.extend(bx(b"trun", &trun));
        bx(b"traf", &b)
    }

    fn moof(trafs: &[Vec<u8>]) -> Vec<u8> {
        let mut b = full(b"mfhd", 0, &words(&[1]));
        for t in trafs {
            b.extend_from_slice(t);
        }
        bx(b"moof", &b)
    }

    /// Where the `moof` about to be appended to `f` starts.
    fn at(f: &[u8]) -> u32 {
        f.len() as u32
    }

    #[test]
    fn fragments_become_the_same_samples_as_a_sample_table() {
        let mut v = empty_track(b"vide", 12800);
        // One edit starting at media time 1024 (the B-frame delay), as FFmpeg writes it.
        v.elst = Some(elst(0, &[(1000, 1024)]));
        let a = empty_track(b"soun", 48000);
        let mvex = bx(b"mvex", &[trex(1, 512, 0, 0x0101_0000), trex(2, 1024, 10, 0)].concat());
        let mut f = file(&[v, a], 0, &mvex);
        // The second track's ID is 2.
        let tkhd = f.windows(4).enumerate().filter(|(_, w)| w == b"tkhd").nth(1).unwrap().0;
        f[tkhd + 16..tkhd + 20].copy_from_slice(&2u32.to_be_bytes());
        // Fragment 1: default-base-is-moof; video: 3 samples (sizes, composition offsets), the
        // first flagged sync by first_sample_flags; audio: 2 samples from the trex defaults.
        let video =
            |off: u32| traf(0x02_0000, &[1], Some(0), 0x0a05, &[3, off, 0x0200_0000, 100, 1024, 200, 2048, 300, 512]);
        let audio = |off: u32| traf(0x02_0000, &[2], Some(0), 0x01, &[2, off]);
        let probe = moof(&[video(0), audio(0)]);
        let data = probe.len() as u32 + 8;
        let m1 = at(&f);
        f.extend(moof(&[video(data), audio(data + 600)]));
        f.extend(bx(b"mdat", &[0u8; 620]));
        // Fragment 2: audio only, base data offset in the tfhd, no tfdt (continues), sizes
        // from the tfhd default.
        let m2 = at(&f);
        let audio2 = |base: u64| traf(0x11, &[2, (base >> 32) as u32, base as u32, 7], None, 0x0, &[3]);
        let probe = moof(&[audio2(0)]);
        let base = u64::from(m2) + probe.len() as u64 + 8;
        f.extend(moof(&[audio2(base)]));
        f.extend(bx(b"mdat", &[0u8; 21]));
        let ix = read_bytes(&f).unwrap();
        assert!(ix.fragmented);
        let stats = ix.fragments.unwrap();
        assert_eq!((stats.moofs, stats.truncated), (2, false));
        let v = &ix.tracks[0];
        let got: Vec<(u64, u32, i64, i64, bool)> =
            v.samples.iter().map(|s| (s.pos, s.size(), s.dts, s.pts(), s.key())).collect();
        let d = u64::from(m1 + data);
        assert_eq!(
            got,
            vec![(d, 100, -1024, 0, true), (d + 100, 200, -512, 1536, false), (d + 300, 300, 0, 512, false)]
        );
        // The last sample lasts its own (trex) duration.
        assert_eq!(v.end_dts, 512);
        let a = &ix.tracks[1];
        let got: Vec<(u64, u32, i64, bool)> = a.samples.iter().map(|s| (s.pos, s.size(), s.dts, s.key())).collect();
        let d = u64::from(m1 + data + 600);
        assert_eq!(
            got,
            vec![
                (d, 10, 0, true),
                (d + 10, 10, 1024, true),
                (base, 7, 2048, true),
                (base + 7, 7, 3072, true),
                (base + 14, 7, 4096, true)
            ]
        );
        assert_eq!(a.end_dts, 5120);
        // Only the boxes were read: headers and the two moofs, never the mdat payloads.
        assert!(stats.bytes_read < stats.moof_bytes + 16 * 8, "{stats:?}");
    }

    #[test]
    fn a_recording_cut_short_keeps_its_complete_samples() {
        let v = empty_track(b"vide", 1000);
        let mvex = bx(b"mvex", &trex(1, 40, 0, 0));
        let mut f = file(&[v], 0, &mvex);
        let t = |off: u32| traf(0x02_0000, &[1], Some(0), 0x201, &[4, off, 100, 100, 100, 100]);
        let data = moof(&[t(0)]).len() as u32 + 8;
        f.extend(moof(&[t(data)]));
        f.extend(bx(b"mdat", &[0u8; 400]));
        f.truncate(f.len() - 150);
        let ix = read_bytes(&f).unwrap();
        let t = &ix.tracks[0];
        assert_eq!(t.samples.len(), 2);
        assert_eq!(t.end_dts, 80);
        assert!(ix.fragments.unwrap().truncated);
    }

    #[test]
    fn a_tiny_file_cannot_announce_millions_of_empty_samples() {
        // trex: samples of 0 bytes; one trun announces 15 million of them with no per-sample
        // fields (4 bytes of box): without a bound, hundreds of MB of index from 200 bytes.
        let v = empty_track(b"vide", 1000);
        let mvex = bx(b"mvex", &trex(1, 40, 0, 0));
        let mut f = file(&[v], 0, &mvex);
        f.extend(moof(&[traf(0x02_0000, &[1], Some(0), 0x0, &[15_000_000])]));
        let held = match read_bytes(&f) {
            Ok(ix) => ix.tracks[0].samples.len(),
            Err(e) => {
                assert!(e.to_string().contains("samples"), "{e}");
                0
            }
        };
        assert!(held as u64 <= f.len() as u64, "{held} samples from a {}-byte file", f.len());
    }

    #[test]

    fn a_sample_too_large_for_a_record_ends_the_track_there() {
        // 2 GiB + 10 bytes: no record holds that size (its top bit is the sync flag), so it is
        // not served as a 10-byte sample inside the file; the track ends where it starts.
        let v = empty_track(b"vide", 1000);
        let mvex = bx(b"mvex", &trex(1, 40, 0, 0));
        let mut f = file(&[v], 0, &mvex);
        let t = |off: u32| traf(0x02_0000, &[1], Some(0), 0x201, &[3, off, 100, 0x8000_000a, 10]);
        let data = moof(&[t(0)]).len() as u32 + 8;
        f.extend(moof(&[t(data)]));
        f.extend(bx(b"mdat", &[0u8; 400]));
        let ix = read_bytes(&f).unwrap();
        let t = &ix.tracks[0];
        assert_eq!(t.samples.iter().map(|s| (s.dts, s.size())).collect::<Vec<_>>(), vec![(0, 100)]);
        assert_eq!(t.end_dts, 40);
        assert!(ix.fragments.unwrap().truncated);
    }

    #[test]
    fn a_damaged_fragment_ends_the_samples_there() {
        let v = empty_track(b"vide", 1000);
        let mvex = bx(b"mvex", &trex(1, 40, 10, 0));
        let mut f = file(&[v], 0, &mvex);
        for k in 0..3u64 {
            let t = |off: u32| traf(0x02_0000, &[1], Some(k * 80), 0x1, &[2, off]);
            let data = moof(&[t(0)]).len() as u32 + 8;
            let mut m = moof(&[t(data)]);
            if k == 1 {
                // Per-sample sizes announced, but the trun has none: it overruns its box.
                let at = m.windows(4).position(|w| w == b"trun").unwrap();
                m[at + 4..at + 8].copy_from_slice(&0x0000_0201u32.to_be_bytes());
            }
            f.extend(m);
            f.extend(bx(b"mdat", &[0u8; 20]));
        }
        let ix = read_bytes(&f).unwrap();
        let t = &ix.tracks[0];
        assert_eq!(t.samples.iter().map(|s| s.dts).collect::<Vec<_>>(), vec![0, 40]);
        assert_eq!(t.end_dts, 80);
        let stats = ix.fragments.unwrap();
        assert!(stats.truncated && stats.moofs == 2, "{stats:?}");
    }

    #[test]
    fn damaged_fragments_never_panic() {
        let v = empty_track(b"vide", 1000);
        let mvex = bx(b"mvex", &trex(1, 40, 5, 0));
        let mut base = file(&[v], 0, &mvex);
        let start = base.len();
        for k in 0..3u32 {
            // All four per-sample fields and first_sample_flags.
            let t = |off: u32| {
                let mut entries = vec![4, off, 0];
                for _ in 0..4 {
                    entries.extend([40, 5, 0x0001_0000, 3]);
                }
                traf(0x02_0000, &[1], Some(u64::from(k) * 160), 0xf05, &entries)
            };
            let data = moof(&[t(0)]).len() as u32 + 8;
            base.extend(moof(&[t(data)]));
            base.extend(bx(b"mdat", &[0u8; 20]));
        }
        assert_eq!(read_bytes(&base).unwrap().tracks[0].samples.len(), 12);
        for f in damaged_copies(&base, start, 0x2545_f491_4f6c_dd1d, 3000) {
            let _ = read_bytes(&f);
        }
        for len in start..base.len() {
            let _ = read_bytes(&base[..len]);
        }
    }
}
