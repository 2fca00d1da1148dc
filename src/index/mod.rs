//! Indexing: everything playlists and segments need, computed once when a file is opened.
//!
//! MP4 files are indexed from their sample tables, fragmented MP4 files from their `moof` boxes
//! (no packet is read, except the first sample of AC-3/E-AC-3 tracks; text subtitle samples are
//! read at the first WebVTT request: `model::cues::Cues`); Matroska from its Cues plus the block
//! headers around segment boundaries (`mkv`); other containers, and Matroska files whose
//! Cues cannot be used, fall back to one packet scan, in which text subtitle cues are extracted
//! in the same pass.
//!
//! This file orchestrates (it picks the path); its children never use it. One-way uses between
//! the children: `mp4` and `mkv` → `assemble` → `track` and `segmenter` → `collect`; `mkv` →
//! `scan`; `track` → `frame_rate`; every path → `probe`.

mod assemble;
mod clip;
mod collect;
mod frame_rate;
mod mkv;
mod mp4;
pub mod persist;
mod probe;
mod scan;
mod segmenter;
mod track;

use crate::container::read::ByteSource;
use std::path::Path;
use std::time::Instant;

use self::assemble::assemble;
use self::collect::Collected;
use self::mp4::build_from_mp4;
use self::probe::stream_infos;
use self::scan::{check_complete, collect_from_index, scan, scan_range, subtitle_extractors};
use crate::container::demux::{Demuxer, MATROSKA_FORMAT_PREFIX};
use crate::container::mp4::{self as mp4index};
use crate::error::{Error, ErrorKind, Result};
use crate::model::config::Config;
use crate::model::identity::FileIdentity;
use crate::model::media_index::{IndexSource, MediaIndex};
use crate::model::open::Clip;
use crate::model::time::TimeMap;
use crate::model::track::TrackKind;

/// How far before a clip's start a Matroska range scan seeks, in turn (see `scan_range`).
const CLIP_SEEK_BACK_US: [i64; 4] = [0, 10_000_000, 60_000_000, i64::MAX];

/// Builds the index of the media `file` reads (`path` names it in messages and the index).
/// Opening a large MP4 reads its header only. With `clip`, the index is of that clip only (see
/// [`Clip`]).
///
/// Bounded by `cfg.max_index_bytes`: sample lists, packet lists and subtitle cues are counted
/// against it before they are allocated, and the finished index is measured once more
/// ([`MediaIndex::heap_bytes`]); over it, the open fails with [`ErrorKind::Unsupported`].
pub fn build(
    file: &ByteSource,
    path: &Path,
    identity: FileIdentity,
    cfg: &Config,
    clip: Option<Clip>,
) -> Result<MediaIndex> {
    let index = build_unchecked(file, path, identity, cfg, clip)?;
    let bytes = index.heap_bytes();
    if bytes > cfg.max_index_bytes {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "the index needs {} MiB, over the {} MiB ceiling (max_index_bytes)",
                bytes >> 20,
                cfg.max_index_bytes >> 20
            ),
        ));
    }
    Ok(index)
}

fn build_unchecked(
    file: &ByteSource,
    path: &Path,
    identity: FileIdentity,
    cfg: &Config,
    clip: Option<Clip>,
) -> Result<MediaIndex> {
    let started = Instant::now();
    if identity.size == 0 {
        return Err(Error::media("file is empty (0 bytes)"));
    }
    let file = file.clone();
    #[cfg(test)]
    let read = if tests::BUILT_SAMPLES.get() { mp4index::read_limited } else { mp4index::read_lazily };
    #[cfg(not(test))]
    let read = mp4index::read_lazily;
    match read(&file, identity.size, cfg.max_index_bytes) {
        // Sample tables, or movie fragments read from their `moof` boxes.
        Ok(ix) => {
            if let Some(stats) = &ix.fragments {
                log::debug!("{}: {stats:?}", path.display());
            }
            if let Some(index) = build_from_mp4(path, identity, cfg, ix, &file, started, clip)? {
                return Ok(index);
            }
        }
        // Claims more than the file holds or the ceiling allows: refused (FFmpeg's demuxer
        // would allocate what it claims).
        Err(e) if e.refused().is_some() => return Err(e.into()),
        // Not ISO-BMFF, or a construct the fast reader leaves to FFmpeg.
        Err(e) => log::debug!("{}: {e}", path.display()),
    }
    build_with_ffmpeg(&file, path, identity, cfg, started, clip)
}

/// Indexes through FFmpeg: the mov demuxer's index for MP4, Matroska's Cues, else one packet
/// scan.
fn build_with_ffmpeg(
    file: &ByteSource,
    path: &Path,
    identity: FileIdentity,
    cfg: &Config,
    started: Instant,
    clip: Option<Clip>,
) -> Result<MediaIndex> {
    // An EBML header of a Matroska/WebM file: FFmpeg's Matroska demuxer, without its probe of
    // every format.
    let ebml = crate::container::mkv::is_matroska(file, identity.size);
    if ebml && cfg.use_container_index && clip.is_none() {
        if let Some(index) = matroska_without_probe(file, path, identity, cfg, started) {
            return Ok(index);
        }
    }
    let open = |probe: bool| if ebml { Demuxer::open_matroska(file, probe) } else { Demuxer::open(file, probe) };
    let mut dmx = open(false)?;
    let mut from_container_index = dmx.is_mp4_family();
    if !from_container_index {
        dmx.probe()?;
    }
    let mut infos = stream_infos(&dmx);
    if !infos.iter().any(|i| matches!(i.kind, TrackKind::Video | TrackKind::Audio)) {
        let what = if infos.is_empty() { "no streams" } else { "no audio or video stream" };
        return Err(Error::new(ErrorKind::NoPlayableTracks, format!("nothing to play: the file has {what}")));
    }
    let mut extractors = subtitle_extractors(&infos, cfg.max_index_bytes);
    let av: Vec<usize> =
        (0..infos.len()).filter(|&i| matches!(infos[i].kind, TrackKind::Video | TrackKind::Audio)).collect();
    let mut collected: Vec<Collected> = (0..infos.len()).map(|_| Collected::default()).collect();
    if from_container_index {
        from_container_index = collect_from_index(&dmx, file, identity.size, &av, &mut collected, cfg.max_index_bytes)?;
        if from_container_index && !extractors.is_empty() {
            let subs: Vec<usize> = extractors.keys().copied().collect();
            scan(&mut dmx, &subs, &mut collected, &mut extractors, cfg.max_index_bytes)?;
        }
    }
    let matroska = dmx.format_name().starts_with(MATROSKA_FORMAT_PREFIX);
    // Indexed without the Cues planner (which reads the languages with the layout): from the
    // container index, by a scan, or as a clip.
    if matroska && (from_container_index || !cfg.use_container_index || clip.is_some()) {
        mkv::bcp47_languages(file, identity.size, &mut infos);
    }
    // A clip is cut from every sample's times: the Cues planner (which reads only the block
    // headers around its cuts) is for whole files; a clip reads its range (`scan_range`).
    if !from_container_index && cfg.use_container_index && matroska && clip.is_none() {
        if let Some(index) = mkv::build(&mut dmx, file, path, identity, cfg, started, &mut infos, true)? {
            return Ok(index);
        }
        log::info!("{}: indexing by packet scan", path.display());
        // Read again from the start. (A fresh demuxer, not a seek: FFmpeg's Matroska seek
        // lands on a keyframe's cluster and skips what precedes the keyframe's time.)
        dmx = open(true)?;
    }
    if !from_container_index {
        let mut wanted = av.clone();
        wanted.extend(extractors.keys().copied());
        match clip.filter(|_| matroska && cfg.use_container_index) {
            // A Matroska clip: only its range, from the Cue keyframe at or before its start.
            Some(c) => {
                let main = av.iter().copied().find(|&i| infos[i].kind == TrackKind::Video).unwrap_or(av[0]);
                let tb = infos[main].tb;
                let map = TimeMap::new(tb.0, tb.1, 1, 1);
                // The seek may land past the keyframe the clip starts at (Cues need not list
                // every keyframe): from further back until it does, at worst from the start.
                for back_us in CLIP_SEEK_BACK_US {
                    let at = c.from_us().saturating_sub(back_us).max(0);
                    collected = (0..infos.len()).map(|_| Collected::default()).collect();
                    extractors = subtitle_extractors(&infos, cfg.max_index_bytes);
                    scan_range(
                        &mut dmx,
                        (main, map),
                        &wanted,
                        &mut collected,
                        &mut extractors,
                        (at, c.to_us()),
                        cfg.max_index_bytes,
                    )?;
                    let first_key =
                        collected[main].samples.iter().find(|s| s.key() || infos[main].kind != TrackKind::Video);
                    if at == 0 || first_key.is_some_and(|k| map.us(k.pts()) <= c.from_us()) {
                        break;
                    }
                }
            }
            None => {
                // The demuxer has read nothing yet but its probe, whose packets it returns first.
                scan(&mut dmx, &wanted, &mut collected, &mut extractors, cfg.max_index_bytes)?;
                check_complete(&dmx, &infos, &av, &collected, &extractors)?;
            }
        }
    }
    let format = dmx.format_name();
    drop(dmx);
    let source = if from_container_index { IndexSource::SampleTables } else { IndexSource::PacketScan };
    assemble(path, identity, cfg, infos, collected, track::extracted(extractors), source, format, started, clip)
}

/// A Matroska file indexed from its Cues without FFmpeg's stream-info probe (about 2 ms of a
/// cold open, mostly its decoders' set-up): where `probe::complete_without_probe` vouches for
/// every stream's facts and `mkv::build` makes both ends' packets from the blocks. `None`
/// otherwise, a failure included: the file is then indexed as before, with the probe, which
/// gives the same answer or the same error.
fn matroska_without_probe(
    file: &ByteSource,
    path: &Path,
    identity: FileIdentity,
    cfg: &Config,
    started: Instant,
) -> Option<MediaIndex> {
    #[cfg(test)]
    if tests::WITH_PROBE.get() {
        return None;
    }
    let mut dmx = Demuxer::open_matroska(file, false).ok()?;
    if dmx.probed() {
        return None;
    }
    let mut infos = stream_infos(&dmx);
    if !infos.iter().any(|i| matches!(i.kind, TrackKind::Video | TrackKind::Audio)) {
        return None;
    }
    if let Err(why) = probe::complete_without_probe(&dmx, &mut infos) {
        log::debug!("{}: FFmpeg's stream probe is needed: {why}", path.display());
        return None;
    }
    match mkv::build(&mut dmx, file, path, identity, cfg, started, &mut infos, false) {
        Ok(index) => {
            #[cfg(test)]
            tests::WITHOUT_PROBE_TAKEN.set(index.is_some());
            if index.is_none() {
                log::debug!("{}: indexing again with FFmpeg's stream probe", path.display());
            }
            index
        }
        Err(e) => {
            log::debug!("{}: indexing again with FFmpeg's stream probe: {e}", path.display());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::path::Path;

    use crate::container::demux::Demuxer;
    use crate::container::read::ByteSource;
    use crate::model::config::Config;
    use crate::model::identity::FileIdentity;
    use crate::model::media_index::MediaIndex;

    thread_local! {
        /// Index MP4 files with every sample built at open (the reader's eager path).
        pub(super) static BUILT_SAMPLES: Cell<bool> = const { Cell::new(false) };
        /// Index Matroska files with FFmpeg's stream-info probe (no `matroska_without_probe`).
        pub(super) static WITH_PROBE: Cell<bool> = const { Cell::new(false) };
        /// The last index was made by `matroska_without_probe`.
        pub(super) static WITHOUT_PROBE_TAKEN: Cell<bool> = const { Cell::new(false) };
    }

    fn index(path: &Path, built: bool) -> Result<MediaIndex, String> {
        BUILT_SAMPLES.set(built);
        let file = ByteSource::open_file(path).unwrap();
        let ix = super::build(&file, path, FileIdentity::of(path).unwrap(), &Config::default(), None);
        BUILT_SAMPLES.set(false);
        ix.map_err(|e| e.to_string())
    }

    #[test]
    fn audio_and_video_read_from_the_sample_tables_per_segment_play_the_same_segments() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/media");
        let (mut lazy_tracks, mut lazy_video) = (0, Vec::new());
        let names: Vec<String> = crate::util::test_media(&["mp4", "m4a", "mov", "m4v"], false)
            .iter()
            .filter_map(|p| Some(p.file_name()?.to_str()?.to_string()))
            .collect();
        for name in &names {
            let path = dir.join(name);
            if !path.exists() {
                continue;
            }
            let (built, lazy) = match (index(&path, true), index(&path, false)) {
                (Ok(b), Ok(l)) => (b, l),
                (b, l) => {
                    // A refused file is refused the same way.
                    assert_eq!(b.err(), l.err(), "{name}");
                    continue;
                }
            };
            assert_eq!(built.boundaries_us, lazy.boundaries_us, "{name}");
            assert_eq!(built.tracks.len(), lazy.tracks.len());
            assert_eq!(built.duration_us, lazy.duration_us, "{name}");
            for (b, l) in built.tracks.iter().zip(&lazy.tracks) {
                assert_eq!(b.segments, l.segments, "{name} stream {}", b.stream);
                assert_eq!(b.map, l.map, "{name} stream {}", b.stream);
                assert_eq!(b.frame_rate, l.frame_rate, "{name} stream {}", b.stream);
                assert_eq!(b.independent, l.independent, "{name} stream {}", b.stream);
                assert_eq!((b.is_fmp4(), b.not_served_reason()), (l.is_fmp4(), l.not_served_reason()), "{name}");
                let (Some(bt), Some(lt)) = (b.reader.table(), l.reader.table()) else {
                    assert!(b.reader.table().is_none() && l.reader.table().is_none());
                    continue;
                };
                assert_eq!(bt.len(), lt.len());
                let per_segment = format!("{lt:?}").contains("per segment");
                lazy_tracks += usize::from(per_segment);
                if per_segment && l.kind == crate::model::track::TrackKind::Video {
                    lazy_video.push(name.clone());
                }
                // Every segment's records, in a random order; then ranges across segments.
                let mut order: Vec<usize> = (0..b.segments.len()).collect();
                order.sort_by_key(|&k| (k * 7919) % b.segments.len().max(1));
                for k in order {
                    let s = b.segments[k];
                    let r = s.first as usize..(s.first + s.samples) as usize;
                    assert_eq!(bt.range(r.clone()).unwrap().unwrap(), lt.range(r.clone()).unwrap().unwrap());
                    assert_eq!(bt.get(r.start).unwrap().unwrap(), lt.get(r.start).unwrap().unwrap());
                }
                assert_eq!(bt.range(1..bt.len()).unwrap().unwrap(), lt.range(1..lt.len()).unwrap().unwrap());
                assert_eq!(bt.to_le_bytes(), lt.to_le_bytes());
            }
        }
        assert!(lazy_tracks >= 5, "tracks read per segment: {lazy_tracks}");
        assert!(lazy_video.len() >= 5, "video read per segment: {lazy_video:?}");
    }

    /// The Matroska test files (and which take the path without FFmpeg's probe).
    fn matroska_files() -> Vec<std::path::PathBuf> {
        crate::util::test_media(&["mkv", "mka", "webm"], true)
    }

    /// Everything an index says, but the time it took.
    fn index_json(path: &Path, with_probe: bool) -> (Result<String, String>, bool) {
        WITH_PROBE.set(with_probe);
        WITHOUT_PROBE_TAKEN.set(false);
        let file = ByteSource::open_file(path).unwrap();
        let ix = super::build(&file, path, FileIdentity::of(path).unwrap(), &Config::default(), None);
        WITH_PROBE.set(false);
        let taken = WITHOUT_PROBE_TAKEN.get();
        let json = ix.map_err(|e| e.to_string()).map(|mut ix| {
            ix.index_time = std::time::Duration::ZERO;
            ix.read_cues(&file).unwrap();
            serde_json::to_string(&ix).unwrap()
        });
        (json, taken)
    }

    #[test]
    fn matroska_opened_without_the_stream_probe_plays_exactly_as_with_it() {
        let mut taken = Vec::new();
        let mut probed = Vec::new();
        for path in matroska_files() {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let (with, _) = index_json(&path, true);
            let (without, fast) = index_json(&path, false);
            assert_eq!(with, without, "{name}: the index differs without FFmpeg's stream probe");
            if fast {
                taken.push(name);
            } else {
                probed.push(name);
            }
        }
        if Path::new(env!("CARGO_MANIFEST_DIR")).join("target/media/long_2h.mkv").exists() {
            assert!(taken.iter().any(|n| n == "long_2h.mkv"), "{taken:?}");
        }
        // (no_bframes.mkv and vfr.mkv: H.264 whose VUI says no reordering, max_num_reorder_frames 0.)
        for want in ["h264_aac.mkv", "hevc_aac.mkv", "hdr10.mkv", "no_bframes.mkv", "vfr.mkv"] {
            assert!(taken.iter().any(|n| n == want), "{want}: {taken:?}");
        }
    }

    #[test]
    fn matroska_stream_facts_without_the_probe_are_the_probed_ones() {
        use super::probe::{complete_without_probe, probed_timing, stream_infos};
        let mut vouched = 0;
        for path in matroska_files() {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let src = ByteSource::open_file(&path).unwrap();
            let Ok(bare) = Demuxer::open_matroska(&src, false) else { continue };
            let mut fast = stream_infos(&bare);
            if bare.probed() || complete_without_probe(&bare, &mut fast).is_err() {
                continue;
            }
            vouched += 1;
            let probed_dmx = Demuxer::open_matroska(&src, true).unwrap();
            let probed = stream_infos(&probed_dmx);
            assert_eq!(bare.duration_us(), probed_dmx.duration_us(), "{name}");
            assert_eq!(fast.len(), probed.len(), "{name}");
            for (f, p) in fast.iter().zip(&probed) {
                let facts = |i: &super::probe::StreamInfo| {
                    format!(
                        "{:?} {:?} {} {:?} {:?} {:?} {:?} {} {} {} {:?} {} {} {} {} {:?} {:?} {:?} {:?} {:?}",
                        i.kind,
                        i.id,
                        i.codec_name,
                        i.tb,
                        i.language,
                        i.title,
                        (i.default, i.forced, i.roles.commentary, i.roles.hearing_impaired, i.roles.visual_impaired),
                        i.width,
                        i.height,
                        i.sample_rate,
                        i.frame_rate,
                        i.channels,
                        i.bits_per_sample,
                        i.extradata.len(),
                        i.extradata.iter().map(|b| format!("{b:02x}")).collect::<String>(),
                        i.not_media,
                        i.picture,
                        probed_timing(i),
                        i.language_tag,
                        i.params.id(),
                    )
                };
                assert_eq!(facts(f), facts(p), "{name}");
            }
        }
        assert!(vouched >= 2, "files vouched for: {vouched}");
    }
}
