//! Matroska indexed from its Cues instead of a packet scan.
//!
//! Opening reads, besides the header:
//! - the Cues (keyframe times and cluster positions of the video track; of the audio track in an
//!   audio-only file), which give the segment cuts by the same rule as every other container
//!   (`segmenter::choose_cuts`);
//! - the packets of the first GOPs and of the last ~20 s through FFmpeg (codec configuration,
//!   encoder priming, the shared shift, the end of every track, truncation); the last ~20 s are
//!   read from the block headers instead where the packets FFmpeg would give are shown to be the
//!   block times, sizes and stored durations (`tail_from_blocks`: H.264/HEVC with B-frames and
//!   AAC; no seek in FFmpeg, which parses every Cue for one, and no packet read);
//! - around each cut, the headers of the blocks that follow the keyframe (never their data):
//!   the segment's earliest presentation time (open GOPs) and, for every audio track, the first
//!   frame whose midpoint is past the boundary — the same rule `segmenter::segment_follower`
//!   applies to a scanned file, so EXTINF values are the real sums of sample durations;
//! - for text subtitle tracks, the blocks their Cues point at (FFmpeg and mkvmerge give every
//!   subtitle block one), read at the track's first WebVTT request (`CuedCues`), not by the open
//!   (unless the audio and video end too early for the declared duration without them); for
//!   other muxers, every block header and only subtitle blocks' data, at the open.
//!
//! Files whose every stream is H.264 (frames only, a VUI bounding its reordering) or HEVC, AAC-LC
//! or text subtitles are opened without FFmpeg's stream-info probe (its decoders' set-up was
//! about 2 ms of a cold open): `probe::complete_without_probe` reads what the probe added from
//! the SPS and AudioSpecificConfig, and both ends' packets are made from the block headers
//! ([`head_from_blocks`], [`tail_from_blocks`]). Where either cannot vouch, the file is opened
//! again with the probe (`index::matroska_without_probe`).
//!
//! A boundary that is probed costs one window (the
//! cluster header, the keyframe's block and the blocks after it, sized by the largest keyframe of
//! the first GOPs: [`probe_read_size`]); where no boundary can be planned (below), an open
//! costs one read per segment boundary plus a few. mkvmerge's files store a boundary's first audio frame before the keyframe: when the
//! first boundary probed shows that (one more read), every probe starts at the cluster of the
//! Cue before instead, in one window of up to 64 KiB that covers both ([`walk_back_read`]), so
//! those files cost one read per boundary too. Measured on the 2-hour files (1200 segments),
//! reads of the open by a caller's source / local `pread`s: `long_2h.mkv` (FFmpeg's muxer)
//! 1198 reads, 20.7 MB / 1208 `pread`s; `long_2h_mkvmerge.mkv` 1202 reads, 72.6 MB / 1208
//! (it was 2395 reads, 91.0 MB / 2405 `pread`s, with a second window per boundary). The
//! header's and the Cues' reads, FFmpeg's (its probe, the first GOPs, the last ~20 s) and one
//! first-page read for the EBML header (`mkv::is_matroska`) make the few; the bound
//! (segments + 16) is asserted in `tests/sources_callback.rs`. Smaller local windows cost more
//! CPU, not less (measured: 4 KiB, 2 reads a probe, +0.2 ms; 1 KiB, 4 reads, +1.5 ms per open).
//!
//! Local files probe on [`LOCAL_PROBE_THREADS`] threads, a caller's source on up to
//! [`SOURCE_PROBE_THREADS`] (round trips overlap); each thread keeps one walker, whose read
//! window is reused, not allocated and zeroed per probe.
//!
//! **Boundaries planned without a probe.** What a probe finds can be planned from what the open
//! has already read, where that vouches for it ([`CuePlan::prediction`]); those boundaries cost
//! no read:
//! - the keyframe block's offset is its Cue's cluster, the cluster's header and the Cue's
//!   CueRelativePosition (every Cue must give one); the header's size is the one the first
//!   probed boundary (the pilot) shows, so offsets between keyframes are exact differences;
//! - the segment's earliest presentation time is the keyframe's when no keyframe of the head
//!   and of the tail has leading pictures (an open GOP would);
//! - each copied audio track's frame times come from one frame grid ([`Grid`]): `f` samples per
//!   frame at the track's rate from an origin, stored in timestamp ticks rounded to nearest
//!   (FFmpeg's `av_rescale_q`, mkvmerge's ns to ms); it must reproduce every frame time of the
//!   head and of the tail exactly, the tail's at later frame numbers, with exactly one frame
//!   size; every origin that does must give the same times around a boundary, else that
//!   boundary is probed;
//! - the pilot, probed as before, must find what the plan says there (offset, earliest time,
//!   each audio track's first frame, stored after the keyframe's cluster start), else every
//!   boundary is probed; so must [`CHECK_PROBES`] boundaries spread over the file (three more
//!   reads), else the plan is dropped and every boundary is probed.
//!
//! Planned audio segments start at their keyframe's cluster; the walk that generates one starts
//! again from the previous segment's cluster when its first frame is not found there
//! (`engine::source`), and frames are always taken by the planned times. What a grid cannot
//! see: frames missing or added between the head and the tail in whole frames (a grid that
//! restarts twice by half a frame looks continuous), which the check probes catch only where
//! they fall. Files whose audio grid is not continuous
//! from the head to the tail are probed at every boundary: laced audio (mkvmerge's lace times
//! are the block's plus shares of the lace's rounded duration, not the grid's), and
//! concatenations. The 2-hour test files are such: `long_2h.mp4` is a 1-minute file repeated
//! 120 times, whose AAC grid starts again every minute after a half frame (512 samples), so
//! `long_2h.mkv` and `long_2h_subs.mkv` are probed at every boundary, as is
//! `long_2h_mkvmerge.mkv` (laced). One film encoded in one pass, remuxed by FFmpeg, is planned
//! but for its first boundary, the pilot and the checks: `looped_4min.mkv` (49 segments) opens
//! with 44 boundaries planned, in 11 reads through a caller's source instead of 69
//! (`boundaries_planned_without_probes_are_the_probed_ones` compares the planned and probed
//! segments of every Matroska test file).
//!
//! Segment sizes for BANDWIDTH come from the byte ranges between keyframes, minus the
//! other tracks' share at their measured bitrates.
//!
//! Each segment remembers the cluster its first sample is in; generating it walks the blocks
//! from there and reads only that track's frames (`SampleReader::MatroskaBlocks`), like MP4
//! segments are read by byte position. Tracks with compressed frames (ContentEncoding), laced
//! video, laced frames without a duration and damaged stretches are read through FFmpeg instead.
//!
//! Laced audio blocks (mkvmerge laces AAC, AC-3, ... by default) are split into frames timed
//! the way FFmpeg times them (block time + duration x n / frames).
//!
//! Anything this path cannot vouch for (no Cues, Cues that do not cover the file, laced frames
//! without a duration, laced video, audio that starts late or has gaps across a boundary,
//! subtitle tracks with compressed frames) falls back to the packet scan, which is exact.

#![deny(unsafe_code)]

use crate::container::read::{credit_thread_reads, take_source_failure, thread_reads, ByteSource};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use super::assemble::{finish, prepare};
use super::collect::{finish_collected, reorder_delay, Collected};
use super::probe::{copy_codec, StreamInfo};
use super::scan::{check_complete, scan_until, subtitle_extractors};
use super::segmenter::{
    choose_clean_cuts, choose_cuts, cuts_at_clean_keyframes, has_leading_pictures, transcode_segments,
    OPEN_GOP_FALLBACK,
};
use super::track::{self, audio_will_transcode, CueDecoder, SubtitleCues, Subtitles};
use crate::codec::Codec;
use crate::container::demux::Demuxer;
use crate::container::mkv::{self, BlockWalker, CuePoint, Layout};
use crate::error::{Error, ParseError, ParseResult, Result};
use crate::model::config::Config;
use crate::model::cues::{CueSource, CueTrack};
use crate::model::identity::FileIdentity;
use crate::model::media_index::{IndexSource, MediaIndex};
use crate::model::segment::Segment;
use crate::model::time::{us_to_seconds, TimeMap, NS_PER_SECOND, US_PER_SECOND};
use crate::model::track::{Delivery, RangeSeek, SampleReader, Track, TrackKind};
use crate::output::fmp4;
use crate::subtitle::CueExtractor;

/// Most blocks one boundary probe may walk before the plan gives up (a damaged file).
const MAX_PROBE_BLOCKS: usize = 50_000;

/// The longest stretch without a Cue the plan accepts is four target durations, or this (µs)
/// when that is more.
const MAX_CUE_GAP_FLOOR_US: i64 = 30 * US_PER_SECOND;

/// Largest subtitle block read (a bigger one is damage).
const MAX_SUBTITLE_BLOCK: u64 = 1 << 20;

/// Most subtitle text held between finding the Cue-addressed blocks and feeding them (beyond
/// it, a block's data is read again when it is fed).
const SUBTITLE_HELD_MAX: usize = 16 << 20;

/// Read window of the walk over Cue-addressed subtitle blocks (a block header and a short text).
const SUBTITLE_READ_SIZE: usize = 512;

/// Frame rate assumed for segment size estimates when neither the header nor the samples say.
const DEFAULT_FPS: f64 = 30.0;

/// Headroom on an audio track's measured byte rate in segment size estimates.
const AUDIO_RATE_HEADROOM: f64 = 1.1;

/// How many earlier Cues a boundary's audio search walks back from at most.
const MAX_CUES_BACK: usize = 4;

/// How far (µs) a boundary probe walks past its keyframe at least (audio tracks add two frames).
const PROBE_MARGIN_US: i64 = 1_000;

/// How many of an audio track's first frame durations the probe horizon is measured on.
const FRAMES_MEASURED: usize = 64;

/// Smallest read of a boundary probe: a page for the cluster header, the keyframe's block
/// header and the blocks after it (see [`probe_read_size`]).
const PROBE_READ_MIN: usize = 8 << 10;

/// What a boundary probe reads past its keyframe's size: the cluster header and the blocks
/// after the keyframe up to the probe horizon (a few audio frames and a video frame).
const PROBE_READ_SLACK: usize = 4 << 10;

/// Reads are rounded up to whole pages.
const PAGE: usize = 4 << 10;

/// Largest read of a boundary probe (keyframes larger than this are skipped, not read).
const PROBE_READ_MAX: usize = 64 << 10;

/// Most boundary probes run at once from a caller's source (each a round trip to its store).
const SOURCE_PROBE_THREADS: usize = 8;

/// Fewest probes per thread worth a thread of its own.
const SOURCE_PROBES_PER_THREAD: usize = 16;

/// Most boundary probes run at once from a local file (the machines libhls runs on have two
/// cores or more; a probe is a `pread` from the page cache and a short parse).
const LOCAL_PROBE_THREADS: usize = 2;

/// Fewest probes of a local file per thread worth a thread of its own (starting one costs
/// about as much as 30 probes).
const LOCAL_PROBES_PER_THREAD: usize = 64;

/// Largest read of a walk back from an earlier Cue (mkvmerge stores a boundary's audio before
/// its keyframe): it crosses a whole GOP of small blocks. A walk back reads from the earlier
/// Cue's cluster to a probe's window past the keyframe's, in one read when that fits.
const WALK_BACK_READ: usize = 64 << 10;

/// What `assemble` needs to cut a Cue-indexed file (see the module docs).
pub(crate) struct CuePlan {
    path: std::path::PathBuf,
    file: ByteSource,
    size: u64,
    layout: Layout,
    /// The stream the Cues index and segments are cut on.
    main_stream: usize,
    /// It is video (else audio: an audio-only file).
    main_is_video: bool,
    /// Its Cue points.
    cues: Vec<CuePoint>,
    /// Bytes per tick of each stream, from the packets read at both ends.
    rates: Vec<Option<f64>>,
    /// The video's decode-time delay (derived decode times = sorted presentation times - delay).
    delay: i64,
    /// Where the last cluster's data ends.
    data_end: u64,
    /// Bytes per read of a boundary probe ([`probe_read_size`]).
    probe_read: usize,
    /// The packets of the last ~20 s (with the head's, they vouch for the boundaries planned
    /// without a probe: [`Grid`], [`closed_gops`]).
    tail: Vec<Collected>,
}

/// Says why the Cues path gives way (its caller then opens the file with FFmpeg's stream probe, or
/// scans it).
fn fallback<T>(path: &Path, why: impl std::fmt::Display) -> Option<T> {
    log::info!("{}: the Cues path gives way: {why}", path.display());
    None
}

/// FFmpeg makes one stream per TrackEntry, in order; true when that holds for `infos`.
fn same_tracks(layout: &Layout, infos: &[StreamInfo]) -> bool {
    layout.tracks.len() == infos.len()
        && layout.tracks.iter().zip(infos).all(|(t, i)| match i.kind {
            TrackKind::Video => t.kind == mkv::TRACK_TYPE_VIDEO,
            TrackKind::Audio => t.kind == mkv::TRACK_TYPE_AUDIO,
            TrackKind::Subtitle => t.kind == mkv::TRACK_TYPE_SUBTITLE,
            TrackKind::Other => true,
        })
}

/// Gives each stream the BCP 47 language its TrackEntry carries (LanguageIETF, `pt-BR`), which
/// FFmpeg 5.1 does not read (it gives the ISO 639-2 `por`, kept for `mdhd`).
fn take_bcp47_languages(layout: &Layout, infos: &mut [StreamInfo]) {
    if !same_tracks(layout, infos) {
        return;
    }
    for (info, lang) in infos.iter_mut().zip(&layout.languages) {
        if let Some(l) = lang.as_deref().filter(|l| *l != "und") {
            info.language_tag = Some(l.to_string());
        }
    }
}

/// Reads the BCP 47 languages of a Matroska file that is indexed without its Cues (forced packet
/// scan); files indexed from their Cues get them from the same read in [`build`].
pub(crate) fn bcp47_languages(src: &ByteSource, size: u64, infos: &mut [StreamInfo]) {
    let layout = mkv::read_layout(src, size).ok().flatten();
    if let Some(layout) = layout {
        take_bcp47_languages(&layout, infos);
    }
}

/// Indexes a Matroska file from its Cues; `Ok(None)` when only a scan can index it.
///
/// `probed`: FFmpeg's stream-info probe has run on `dmx`. Without it (the stream facts then come
/// from `probe::complete_without_probe`), the packets of both ends are made from the block
/// headers ([`head_from_blocks`], [`tail_from_blocks`]), never read through FFmpeg, whose packet
/// timing depends on the probe; `Ok(None)` where they cannot be (the caller opens the file again
/// with the probe).
#[allow(clippy::too_many_arguments)]
pub(crate) fn build(
    dmx: &mut Demuxer,
    src: &ByteSource,
    path: &Path,
    identity: FileIdentity,
    cfg: &Config,
    started: Instant,
    infos: &mut [StreamInfo],
    probed: bool,
) -> Result<Option<MediaIndex>> {
    let file = src.clone();
    let layout = match mkv::read_layout(&file, identity.size) {
        Ok(Some(l)) => l,
        Ok(None) => return Ok(fallback(path, "not an EBML file")),
        Err(e) => return Ok(fallback(path, e)),
    };
    take_bcp47_languages(&layout, infos);
    if !same_tracks(&layout, infos) {
        return Ok(fallback(path, "the track list does not match the demuxer's streams"));
    }
    // The track segments are cut on: the first served video, else (no video at all) the first
    // copied audio track, as `assemble` picks it.
    let video = infos.iter().position(|i| {
        i.kind == TrackKind::Video
            && matches!(copy_codec(i.id), Some(Codec::H264 | Codec::Hevc | Codec::Av1 | Codec::Vp9))
    });
    let audio_main = || {
        if infos.iter().any(|i| i.kind == TrackKind::Video) {
            return None;
        }
        infos
            .iter()
            .position(|i| i.kind == TrackKind::Audio && copy_codec(i.id).is_some() && !audio_will_transcode(i.id, cfg))
    };
    let Some(main) = video.or_else(audio_main) else {
        return Ok(fallback(path, "no H.264/HEVC/AV1 video track, and not a copied audio-only file"));
    };
    let cues = layout.cues_of(layout.tracks[main].number);
    // Every stream's timestamps must be the block timestamps (time base = timestamp scale),
    // compared in 128 bits: the scale is the file's (any 64-bit value).
    let tb_ok = infos.iter().all(|i| time_base_is_scale(i.tb, layout.timestamp_scale));
    let mut extractors = subtitle_extractors(infos, cfg.max_index_bytes);
    let subs_ok =
        extractors.keys().all(|&s| !layout.tracks[s].encoded && infos[s].id != ffmpeg_next::codec::Id::WEBVTT);
    if cues.len() < 2 || !tb_ok || !subs_ok || layout.first_cluster.is_none() {
        let why = format!("{} Cues of the main track, time bases ok {tb_ok}, subtitle tracks ok {subs_ok}", cues.len());
        return Ok(fallback(path, why));
    }
    let main_map = TimeMap::new(infos[main].tb.0, infos[main].tb.1, 1, 1);
    let us = |ticks: i64| main_map.us(ticks);
    // Cues that leave long stretches unindexed (or stop early) would make long segments where
    // a scan finds keyframes: check they cover the declared duration densely.
    let declared_us = dmx.duration_us().unwrap_or(0);
    let target_us = cfg.segment_duration.as_micros() as i64;
    let max_gap = (4 * target_us).max(MAX_CUE_GAP_FLOOR_US);
    let mut last = us(cues[0].time);
    for c in &cues[1..] {
        if us(c.time) - last > max_gap {
            return Ok(fallback(path, format!("no Cue between {} and {} µs", last, us(c.time))));
        }
        last = us(c.time);
    }
    if declared_us > 0 && declared_us - last > max_gap {
        return Ok(fallback(path, format!("the last Cue is at {last} µs of {declared_us}")));
    }
    let av: Vec<usize> =
        (0..infos.len()).filter(|&i| matches!(infos[i].kind, TrackKind::Video | TrackKind::Audio)).collect();

    // The first GOPs of every stream: until the video's second keyframe plus a second.
    // (The demuxer has read nothing but its probe's packets, which it returns first.)
    let mut head: Vec<Collected> = (0..infos.len()).map(|_| Collected::default()).collect();
    {
        let one_s = main_map.from_us(US_PER_SECOND);
        let mut second_key: Option<i64> = None;
        let mut latest: HashMap<usize, i64> = HashMap::new();
        let mut seen_keys = 0usize;
        let mut pkt_stop = |s: usize, ts: i64, key: bool| -> bool {
            latest.insert(s, ts);
            if s == main && key {
                seen_keys += 1;
                if seen_keys == 2 {
                    second_key = Some(ts);
                }
            }
            match second_key {
                Some(k) => av.iter().all(|a| latest.get(a).is_some_and(|&t| t > k + one_s)) || ts > k + 10 * one_s,
                None => false,
            }
        };
        if probed {
            scan_until(dmx, &av, &mut head, &mut HashMap::new(), cfg.max_index_bytes, &mut pkt_stop)?;
        } else {
            let max_samples = cfg.max_index_bytes / super::scan::SCAN_BYTES_PER_SAMPLE;
            let ends = (&av[..], main);
            match head_from_blocks(&file, identity.size, &layout, infos, ends, max_samples, &mut pkt_stop) {
                Some(h) => head = h,
                None => return Ok(fallback(path, "the first packets are not shown to be the blocks")),
            }
        }
    }
    // The tail: from the last Cue at least three target durations before the end.
    let end_guess = if declared_us > 0 { declared_us } else { us(cues[cues.len() - 1].time) + target_us };
    let tail_cue = cues.iter().rposition(|c| us(c.time) <= end_guess - 3 * target_us - 2 * US_PER_SECOND).unwrap_or(0);
    let mut tail = if probed {
        read_tail(dmx, &file, identity.size, &layout, infos, (&av, main), (&cues, tail_cue), cfg, true)?
    } else {
        let max_samples = cfg.max_index_bytes / super::scan::SCAN_BYTES_PER_SAMPLE;
        match tail_from_blocks(&file, identity.size, &layout, infos, (&av, main), (&cues, tail_cue), max_samples) {
            Some(t) => t,
            None => return Ok(fallback(path, "the last packets are not shown to be the blocks")),
        }
    };
    let tail_start_ok = tail[main].samples.first().is_some_and(|s| s.key() && s.pts() == cues[tail_cue].time);
    if !tail_start_ok {
        return Ok(fallback(path, "the seek to the last Cues did not land on their keyframe"));
    }
    for &s in &av {
        if tail[s].samples.is_empty() != head[s].samples.is_empty() {
            // A stream that starts late or ends early: the scan handles it.
            return Ok(fallback(path, format!("stream {s} starts late or ends early")));
        }
    }
    // Subtitle blocks that the Cues point at one by one are read on first use (`CuedCues`),
    // unless the audio and video alone end too early for the declared duration: then the
    // subtitles may be what it covers, and only their cues tell (read now, as for other files).
    let defer = !extractors.is_empty()
        && cued_subtitles(&layout, &extractors).is_some()
        && check_complete(dmx, infos, &av, &tail, &extractors).is_ok();
    if !defer {
        if !extractors.is_empty() {
            match extract_cues(&file, identity.size, &layout, &mut extractors) {
                // Over the index ceiling: the scan would be too.
                Err(e) if e.refused().is_some() => return Err(e.into()),
                Err(e) => return Ok(fallback(path, e)),
                Ok(()) => {}
            }
        }
        check_complete(dmx, infos, &av, &tail, &extractors)?;
    }
    // The video's reorder delay, from whole GOPs of the head and of the tail.
    let gop_delay = |c: &Collected, to_last_key: bool| -> i64 {
        let first = c.samples.iter().position(|s| s.key()).unwrap_or(0);
        let stop = if to_last_key { c.samples.iter().rposition(|s| s.key()).unwrap_or(0) } else { c.samples.len() };
        c.samples.get(first..stop.max(first)).map_or(0, reorder_delay)
    };
    let synthesized = head[main].missing_dts || tail[main].missing_dts;
    let delay = if synthesized { gop_delay(&head[main], true).max(gop_delay(&tail[main], false)) } else { 0 };
    for &s in &av {
        let d = (s == main && synthesized).then_some(delay);
        finish_collected(&mut head[s], d);
        finish_collected(&mut tail[s], d);
        // Head samples stand for the stream; the tail says where it ends.
        head[s].end_dts = tail[s].end_dts;
    }
    let rates: Vec<Option<f64>> = (0..infos.len()).map(|s| byte_rate(&head[s], &tail[s])).collect();
    let data_end =
        tail.iter().flat_map(|c| c.samples.iter().map(|x| x.pos + x.size() as u64)).max().unwrap_or(layout.segment_end);

    let mut plan = CuePlan {
        path: path.to_path_buf(),
        file,
        size: identity.size,
        layout,
        main_stream: main,
        main_is_video: video.is_some(),
        cues,
        rates,
        delay,
        data_end,
        probe_read: probe_read_size(&head[main]),
        tail,
    };
    let subtitles = match defer {
        true => deferred_cues(&plan.layout, identity.size, infos, extractors, cfg.max_index_bytes),
        false => track::extracted(extractors),
    };
    let format = dmx.format_name();
    let mut p = prepare(cfg, infos.to_vec(), head, subtitles, None)?;
    let Some(boundaries) = plan.segment(&mut p.tracks, &mut p.collected, p.main, target_us)? else {
        return Ok(None);
    };
    let layout = plan.reader_layout();
    Ok(Some(finish(path, identity, p, boundaries, IndexSource::MatroskaCues, format, started, Some(layout))))
}

/// The packets of the `av` streams from the Cue `cues[at]` of the `main` stream to the end, as
/// FFmpeg's demuxer gives them after a seek there (`Demuxer::seek`: backward, any frame):
/// from the block headers when [`tail_from_blocks`] can vouch for the same packets (and
/// `blocks` allows it), else through FFmpeg.
#[allow(clippy::too_many_arguments)]
fn read_tail(
    dmx: &mut Demuxer,
    file: &ByteSource,
    size: u64,
    layout: &Layout,
    infos: &[StreamInfo],
    (av, main): (&[usize], usize),
    (cues, at): (&[CuePoint], usize),
    cfg: &Config,
    blocks: bool,
) -> Result<Vec<Collected>> {
    let max_samples = cfg.max_index_bytes / super::scan::SCAN_BYTES_PER_SAMPLE;
    if blocks {
        if let Some(tail) = tail_from_blocks(file, size, layout, infos, (av, main), (cues, at), max_samples) {
            return Ok(tail);
        }
    }
    let mut tail: Vec<Collected> = (0..infos.len()).map(|_| Collected::default()).collect();
    dmx.seek(Some(main), cues[at].time)?;
    scan_until(dmx, av, &mut tail, &mut HashMap::new(), cfg.max_index_bytes, &mut |_, _, _| false)?;
    Ok(tail)
}

/// Largest reorder delay FFmpeg derives decode times with (`MAX_REORDER_DELAY`).
const FFMPEG_MAX_REORDER_DELAY: usize = 16;

/// Bytes per read of the walk over the tail's block headers from a local file (the data of
/// the blocks in between is read along, and skipped).
const TAIL_READ_LOCAL: usize = 64 << 10;

/// Bytes per read of the same walk from a caller's source (FFmpeg's reads of one are as large).
const TAIL_READ_SOURCE: usize = 256 << 10;

/// A block's duration in ticks as FFmpeg's Matroska demuxer takes it: its BlockDuration, else
/// the track's DefaultDuration (ns) for each of its frames.
fn block_ticks(b: &mkv::BlockHead, default_duration: u64, scale: i128) -> i64 {
    b.duration
        .filter(|&d| d > 0)
        .unwrap_or_else(|| (i128::from(default_duration) * i128::from(b.frames) / scale) as i64)
}

/// The duration of frame `i` of the `n` laced in a block of `stored` ticks: its share of them,
/// as FFmpeg splits a lace, else (a share of 0) `frame_ticks` for a frame with data; `None`
/// when that leaves it none.
fn lace_ticks(stored: i64, (i, n): (usize, usize), len: u64, frame_ticks: i64) -> Option<i64> {
    let (stored, i, n) = (i128::from(stored), i as i128, n as i128);
    let lace = (stored * (i + 1) / n - stored * i / n) as i64;
    let duration = if lace > 0 {
        lace
    } else if len > 0 {
        frame_ticks
    } else {
        0
    };
    (duration > 0).then_some(duration)
}

/// FFmpeg's decode time for a video packet presented at `pts` (libavformat's `pts_buffer`:
/// the smallest of the last `delay` + 1 presentation times; none for the first `delay`).
fn reorder_dts(pts_buffer: &mut [i64; FFMPEG_MAX_REORDER_DELAY + 1], delay: usize, pts: i64) -> Option<i64> {
    pts_buffer[0] = pts;
    let mut i = 0;
    while i < delay && pts_buffer[i] > pts_buffer[i + 1] {
        pts_buffer.swap(i, i + 1);
        i += 1;
    }
    (pts_buffer[0] != i64::MIN).then_some(pts_buffer[0])
}

/// What [`scan_until`] collects from FFmpeg's packets after its seek to the Cue `cues[at]`,
/// made from the block headers instead (no seek in FFmpeg, which parses every Cue for it, and
/// no packet read), or `None` where that is not shown to give the same packets: then FFmpeg
/// reads the tail. Only for what FFmpeg 5.1's Matroska demuxer is known to pass through as it
/// is stored: one video stream, H.264 or HEVC with B-frames (the probe's decoder delay is
/// known; H.264's parser only raises it from 0), AAC audio (no parser), no content encoding, a
/// Cue that is the only one at its time and not the last, sized clusters and blocks inside
/// the file and their cluster, durations stored (BlockDuration, DefaultDuration) or, for AAC,
/// FFmpeg's frame-size duration, and a first video block at the Cue that is an IDR (H.264's
/// parser keys it) or IDR/BLA (HEVC).
///
/// The packets as FFmpeg makes them: with the seek's "any" flag, every block of the selected
/// streams timed before the Cue is dropped until the first one at or after it; a packet's
/// position is its block's data start (for each lace of a laced block), its size the frame's;
/// audio decode time = presentation time; video decode times from FFmpeg's buffer of the last
/// delay + 1 presentation times (its smallest; none for the first `delay` packets).
fn tail_from_blocks(
    file: &ByteSource,
    size: u64,
    layout: &Layout,
    infos: &[StreamInfo],
    (av, main): (&[usize], usize),
    (cues, at): (&[CuePoint], usize),
    max_samples: u64,
) -> Option<Vec<Collected>> {
    use ffmpeg_next::codec::Id;
    let cue = *cues.get(at)?;
    if at + 1 >= cues.len() || !same_tracks(layout, infos) {
        return None;
    }
    let main_number = layout.tracks[main].number;
    if layout.cues.iter().filter(|c| c.track == main_number && c.time == cue.time).count() != 1 {
        return None;
    }
    let (delay, frame_ticks) = block_timing(layout, infos, main, av)?;
    let scale = i128::from(layout.timestamp_scale.max(1));
    let mut w = BlockWalker::new(file, size, layout, cue.cluster);
    w.set_read_size(if file.is_callback() { TAIL_READ_SOURCE } else { TAIL_READ_LOCAL });
    let mut out: Vec<Collected> = (0..infos.len()).map(|_| Collected::default()).collect();
    let mut skipping = true;
    let mut first_video = true;
    let mut pts_buffer = [i64::MIN; FFMPEG_MAX_REORDER_DELAY + 1];
    let mut samples = 0u64;
    let end = layout.segment_end.min(size);
    while let Some(b) = w.next_block().ok()? {
        let s = stream_of(layout, b.track)?;
        if b.data.checked_add(b.data_len)? > end.min(w.cluster_end()) || w.saw_unsized_cluster() || b.time < 0 {
            return None;
        }
        // The walk starts in the cluster the Cue names (not past something else found there).
        if skipping && w.cluster_start() != cue.cluster {
            return None;
        }
        if !av.contains(&s) {
            // Not selected: FFmpeg discards it before looking at its time.
            continue;
        }
        if skipping {
            if b.time < cue.time {
                continue;
            }
            skipping = false;
        }
        let payload = w.payload();
        if s == main {
            if b.frames != 1 {
                return None;
            }
            if first_video {
                first_video = false;
                // The Cue's keyframe, which FFmpeg's parser keys too (an IDR).
                if !b.key || b.time != cue.time || b.data_len as usize > super::collect::MAX_SAMPLE_READ {
                    return None;
                }
                let data = w.read(b.data, b.data_len as usize).ok()?;
                let idr = match infos[main].id {
                    Id::H264 => crate::codec::h264::starts_closed_gop(&infos[main].extradata, &data),
                    _ => crate::codec::hevc::starts_closed_gop(&infos[main].extradata, &data),
                };
                if !idr {
                    return None;
                }
            }
            let duration = block_ticks(&b, layout.tracks[s].default_duration, scale);
            if duration <= 0 {
                return None;
            }
            let dts = reorder_dts(&mut pts_buffer, delay, b.time);
            push_tail_packet(&mut out[s], (payload, b.data_len), b.time, dts, duration, b.key);
        } else {
            let frames = w.frames(&b).ok()?;
            let stored = block_ticks(&b, layout.tracks[s].default_duration, scale);
            for (i, &(_, len, time)) in frames.iter().enumerate() {
                let duration = lace_ticks(stored, (i, frames.len()), len, frame_ticks[s])?;
                push_tail_packet(&mut out[s], (payload, len), time?, Some(time?), duration, true);
            }
        }
        samples += u64::from(b.frames);
        if samples > max_samples {
            return None;
        }
    }
    Some(out)
}

/// The packets of the `av` streams from the start of the file, as FFmpeg's demuxer gives them
/// after its stream-info probe, until `stop` (called per packet as [`scan_until`] calls it)
/// says so: what [`build`] reads from FFmpeg when it probed, made from the blocks for a file
/// whose stream facts `probe::complete_without_probe` vouched for; `None` where the packets are
/// not shown to be the same. The rules are [`tail_from_blocks`]'s (one H.264 or HEVC video
/// stream with B-frames, AAC audio, durations stored or the AAC frame's, decode times from the
/// probe's reorder delay), from an empty buffer of presentation times. FFmpeg's parser keys a
/// video packet by its first slice (H.264: an IDR; HEVC: an IRAP picture), not by the block's
/// flag: every video block's data is read, and a block whose flag says otherwise, or that holds
/// an H.264 recovery point or parameter sets other than the record's, ends the path. A packet's data is kept as [`scan_until`] keeps it: the first of each
/// stream and its first later keyframe.
fn head_from_blocks(
    file: &ByteSource,
    size: u64,
    layout: &Layout,
    infos: &[StreamInfo],
    (av, main): (&[usize], usize),
    max_samples: u64,
    stop: &mut dyn FnMut(usize, i64, bool) -> bool,
) -> Option<Vec<Collected>> {
    use ffmpeg_next::codec::Id;
    let first = layout.first_cluster?;
    if !same_tracks(layout, infos) || !matches!(infos[main].id, Id::H264 | Id::HEVC) {
        return None;
    }
    let (delay, frame_ticks) = block_timing(layout, infos, main, av)?;
    let scale = i128::from(layout.timestamp_scale.max(1));
    let mut w = BlockWalker::new(file, size, layout, first);
    w.set_read_size(if file.is_callback() { TAIL_READ_SOURCE } else { TAIL_READ_LOCAL });
    let mut out: Vec<Collected> = (0..infos.len()).map(|_| Collected::default()).collect();
    let mut pts_buffer = [i64::MIN; FFMPEG_MAX_REORDER_DELAY + 1];
    let mut samples = 0u64;
    let end = layout.segment_end.min(size);
    // Keeps a packet's data the way `scan_until` does.
    let keep = |c: &mut Collected, key: bool, data: &mut dyn FnMut() -> Option<Vec<u8>>| -> Option<()> {
        if c.first_packet.is_none() {
            c.first_packet = Some(data()?);
        } else if c.later_keyframe.is_none() && key {
            c.later_keyframe = Some(data()?);
        }
        Some(())
    };
    while let Some(b) = w.next_block().ok()? {
        let s = stream_of(layout, b.track)?;
        if b.data.checked_add(b.data_len)? > end.min(w.cluster_end()) || w.saw_unsized_cluster() || b.time < 0 {
            return None;
        }
        if !av.contains(&s) {
            continue;
        }
        let payload = w.payload();
        if s == main {
            if b.frames != 1 || b.data_len as usize > super::collect::MAX_SAMPLE_READ {
                return None;
            }
            let data = w.read(b.data, b.data_len as usize).ok()?;
            let key = match infos[main].id {
                Id::H264 => crate::codec::h264::parser_keys(&infos[main].extradata, &data)?,
                _ => crate::codec::hevc::parser_keys(&infos[main].extradata, &data)?,
            };
            if key != b.key {
                return None;
            }
            let duration = block_ticks(&b, layout.tracks[s].default_duration, scale);
            if duration <= 0 {
                return None;
            }
            let dts = reorder_dts(&mut pts_buffer, delay, b.time);
            let mut data = Some(data);
            keep(&mut out[s], key, &mut || data.take())?;
            push_tail_packet(&mut out[s], (payload, b.data_len), b.time, dts, duration, key);
            samples += 1;
            if samples > max_samples {
                return None;
            }
            if stop(s, b.time, key) {
                break;
            }
        } else {
            let frames = w.frames(&b).ok()?;
            let stored = block_ticks(&b, layout.tracks[s].default_duration, scale);
            let mut stopped = false;
            for (i, &(at, len, time)) in frames.iter().enumerate() {
                let duration = lace_ticks(stored, (i, frames.len()), len, frame_ticks[s])?;
                keep(&mut out[s], true, &mut || w.read(at, len as usize).ok())?;
                push_tail_packet(&mut out[s], (payload, len), time?, Some(time?), duration, true);
                samples += 1;
                if samples > max_samples {
                    return None;
                }
                if stop(s, time?, true) {
                    stopped = true;
                    break;
                }
            }
            if stopped {
                break;
            }
        }
    }
    Some(out)
}

/// The stream of track `number` (streams are the TrackEntries in order: [`same_tracks`]); a
/// look through the few tracks, cheaper than hashing for every block.
fn stream_of(layout: &Layout, number: u64) -> Option<usize> {
    layout.tracks.iter().position(|t| t.number == number)
}

/// What making packets from the block headers needs of the streams `av`, which must be the main
/// track (H.264 or HEVC, reordered by at most FFmpeg's limit) and AAC, none with a content
/// encoding: the main track's reorder delay and, per stream, its AAC frame duration in ticks
/// as FFmpeg computes it (0 for video). `None` otherwise.
fn block_timing(layout: &Layout, infos: &[StreamInfo], main: usize, av: &[usize]) -> Option<(usize, Vec<i64>)> {
    use ffmpeg_next::codec::Id;
    let (delay, _, _) = super::probe::probed_timing(&infos[main]);
    // (0: a stream without reordering, as its SPS says: decode times are presentation times.)
    let delay = usize::try_from(delay).ok().filter(|&d| d <= FFMPEG_MAX_REORDER_DELAY)?;
    let mut frame_ticks = vec![0i64; infos.len()];
    for &s in av {
        let info = &infos[s];
        if layout.tracks[s].encoded {
            return None;
        }
        match (info.kind, info.id) {
            (TrackKind::Video, Id::H264 | Id::HEVC) if s == main => {}
            (TrackKind::Audio, Id::AAC) => {
                // FFmpeg: av_rescale_rnd(1, frame_size * tb.den, sample_rate * tb.num, down).
                let (_, frame_size, rate) = super::probe::probed_timing(info);
                let (num, den) = (i128::from(info.tb.0), i128::from(info.tb.1));
                let d = i128::from(rate) * num;
                let ticks = if frame_size > 1 && d > 0 { i128::from(frame_size) * den / d } else { 0 };
                frame_ticks[s] = i64::try_from(ticks).ok()?;
            }
            _ => return None,
        }
    }
    Some((delay, frame_ticks))
}

/// Adds one packet to a tail's samples as [`scan_until`] does.
fn push_tail_packet(c: &mut Collected, (pos, size): (u64, u64), pts: i64, dts: Option<i64>, duration: i64, key: bool) {
    let d = dts.unwrap_or(pts);
    c.missing_dts |= dts.is_none();
    c.samples.push(crate::model::segment::SampleRec::new(pos, d, pts, size as u32, key));
    c.end_dts = Some(d + duration);
    c.raw_end_dts = c.end_dts;
}

/// Bytes per read of a boundary probe: enough for the cluster header, the keyframe's block and
/// the blocks after it, judged by the largest keyframe of the first GOPs, so a probe is
/// usually one read (one `pread`, or one read of a caller's source) instead of a page per
/// block run. Rounded to pages; between [`PROBE_READ_MIN`] and [`PROBE_READ_MAX`]. (A
/// caller's source reads at least its walker's larger chunk: there a read is a round trip.)
fn probe_read_size(head: &Collected) -> usize {
    let key = head.samples.iter().filter(|s| s.key()).map(|s| s.size() as usize).max().unwrap_or(0);
    (key + PROBE_READ_SLACK).next_multiple_of(PAGE).clamp(PROBE_READ_MIN, PROBE_READ_MAX)
}

/// Bytes per tick of a stream, from the packets read at the start and at the end.
fn byte_rate(head: &Collected, tail: &Collected) -> Option<f64> {
    let span = |c: &Collected| -> Option<(u64, i64)> {
        let first = c.samples.first()?;
        let last = c.samples.last()?;
        let bytes: u64 = c.samples.iter().map(|s| s.size() as u64).sum();
        Some((bytes, last.dts.max(last.pts()) - first.dts.min(first.pts())))
    };
    let (mut bytes, mut ticks) = (0u64, 0i64);
    for (b, t) in [span(head), span(tail)].into_iter().flatten() {
        bytes += b;
        ticks += t.max(0);
    }
    (ticks > 0).then(|| bytes as f64 / ticks as f64)
}

/// Feeds every block of the text subtitle streams to their extractors: only the blocks the
/// Cues point at where they point at every one ([`cued_subtitles`]), else a walk that reads
/// every block header, but only subtitle blocks' data.
fn extract_cues(
    file: &ByteSource,
    size: u64,
    layout: &Layout,
    extractors: &mut HashMap<usize, CueExtractor>,
) -> ParseResult<()> {
    match cued_subtitles(layout, extractors) {
        Some(cued) => extract_cued(file, size, layout, &cued, extractors),
        None => extract_walking(file, size, layout, extractors),
    }
}

/// The Cues of the subtitle streams of `extractors`, when they give every one of their blocks
/// with its place in its cluster: FFmpeg's muxer and mkvmerge give every subtitle block a Cue
/// (other muxers may index subtitles sparsely, or not at all).
fn cued_subtitles(layout: &Layout, extractors: &HashMap<usize, CueExtractor>) -> Option<Vec<CuePoint>> {
    let numbers: Vec<u64> = extractors.keys().map(|&s| layout.tracks[s].number).collect();
    let cued: Vec<CuePoint> = layout.cues.iter().filter(|c| numbers.contains(&c.track)).copied().collect();
    let every_track_cued = numbers.iter().all(|n| cued.iter().any(|c| c.track == *n));
    let cues_every_subtitle = layout.muxing_app.starts_with("Lavf") || layout.writing_app.starts_with("mkvmerge");
    (cues_every_subtitle && every_track_cued && cued.iter().all(|c| c.relative.is_some())).then_some(cued)
}

/// Feeds the subtitle blocks the Cues `cued` point at to their extractors; an error when a Cue
/// points at no such block.
fn extract_cued(
    file: &ByteSource,
    size: u64,
    layout: &Layout,
    cued: &[CuePoint],
    extractors: &mut HashMap<usize, CueExtractor>,
) -> ParseResult<()> {
    let by_number: HashMap<u64, usize> = extractors.keys().map(|&s| (layout.tracks[s].number, s)).collect();
    let mut walker = BlockWalker::new(file, size, layout, layout.first_cluster.unwrap_or(layout.segment_end));
    walker.set_read_size(SUBTITLE_READ_SIZE);
    // Each block's data is read with its header (one window), in file order (the blocks of
    // several tracks at one time share a cluster and a window), then fed in Cue order once
    // every Cue has been found.
    let mut in_file: Vec<usize> = (0..cued.len()).collect();
    in_file.sort_by_key(|&i| (cued[i].cluster, cued[i].relative));
    let mut found: Vec<Option<(mkv::BlockHead, Option<Vec<u8>>)>> = (0..cued.len()).map(|_| None).collect();
    let mut held = 0usize;
    for i in in_file {
        let c = &cued[i];
        match walker.block_at(c.cluster, c.relative.unwrap_or(0))? {
            Some(b) if b.track == c.track && b.time == c.time => {
                let data = if held < SUBTITLE_HELD_MAX { Some(subtitle_data(&mut walker, &b)?) } else { None };
                held += data.as_ref().map_or(0, Vec::len);
                found[i] = Some((b, data));
            }
            _ => {
                return Err(ParseError::new(format!(
                    "the Cue at {} of track {} points at no such block",
                    c.time, c.track
                )))
            }
        }
    }
    for (b, data) in found.into_iter().flatten() {
        let s = by_number[&b.track];
        match data {
            Some(data) => push_subtitle_data(&b, &data, s, extractors)?,
            None => push_subtitle(&mut walker, &b, s, extractors)?,
        }
    }
    Ok(())
}

/// Feeds every block of the subtitle streams to their extractors, walking every block of the
/// file.
fn extract_walking(
    file: &ByteSource,
    size: u64,
    layout: &Layout,
    extractors: &mut HashMap<usize, CueExtractor>,
) -> ParseResult<()> {
    let by_number: HashMap<u64, usize> = extractors.keys().map(|&s| (layout.tracks[s].number, s)).collect();
    let mut walker = BlockWalker::new(file, size, layout, layout.first_cluster.unwrap_or(layout.segment_end));
    while let Some(b) = walker.next_block()? {
        if let Some(&s) = by_number.get(&b.track) {
            push_subtitle(&mut walker, &b, s, extractors)?;
        }
    }
    Ok(())
}

/// The subtitle streams of `extractors` (every one with Cues for each of its blocks), their cues
/// read on first use: each from `layout` (the reader's) with its own Cues.
fn deferred_cues(
    layout: &Layout,
    size: u64,
    infos: &[StreamInfo],
    extractors: HashMap<usize, CueExtractor>,
    limit: u64,
) -> Subtitles {
    extractors
        .into_keys()
        .map(|s| {
            let number = layout.tracks[s].number;
            let cues = CuedCues {
                layout: Layout {
                    cues: layout.cues.iter().filter(|c| c.track == number).copied().collect(),
                    ..layout.clone()
                },
                size,
                decoder: CueDecoder::new(infos[s].params.clone(), infos[s].tb, s, limit),
            };
            (s, SubtitleCues::Deferred(Box::new(cues) as Box<dyn CueSource>))
        })
        .collect()
}

/// A text subtitle track of a Matroska file whose Cues point at every one of its blocks: its
/// cues read from those blocks when first asked for.
struct CuedCues {
    /// The file's layout, with this track's Cues only.
    layout: Layout,
    /// The file size.
    size: u64,
    decoder: CueDecoder,
}

impl CueSource for CuedCues {
    fn read(&self, file: &ByteSource) -> Result<CueTrack> {
        let stream = self.decoder.stream();
        let extractor = || self.decoder.extractor().map(|x| HashMap::from([(stream, x)]));
        let mut one = extractor()?;
        match extract_cued(file, self.size, &self.layout, &self.layout.cues, &mut one) {
            Err(e) if e.refused().is_some() => return Err(e.into()),
            // A Cue that points at no such block (an open would have scanned the file instead):
            // every block is walked.
            Err(_) => {
                one = extractor()?;
                extract_walking(file, self.size, &self.layout, &mut one)?;
            }
            Ok(()) => {}
        }
        let x = one.remove(&stream).ok_or_else(|| Error::internal("no extractor"))?;
        self.decoder.finish(x)
    }
}

/// Reads one subtitle block's data and feeds it to stream `s`'s extractor.
fn push_subtitle(
    walker: &mut BlockWalker,
    b: &mkv::BlockHead,
    s: usize,
    extractors: &mut HashMap<usize, CueExtractor>,
) -> ParseResult<()> {
    let data = subtitle_data(walker, b)?;
    push_subtitle_data(b, &data, s, extractors)
}

/// One subtitle block's data (a single frame of at most [`MAX_SUBTITLE_BLOCK`] bytes).
fn subtitle_data(walker: &mut BlockWalker, b: &mkv::BlockHead) -> ParseResult<Vec<u8>> {
    if b.frames != 1 || b.data_len > MAX_SUBTITLE_BLOCK {
        return Err(ParseError::new(format!("subtitle block at byte {} is laced or too large", b.pos)));
    }
    walker.read(b.data, b.data_len as usize)
}

/// Feeds one subtitle block's data to stream `s`'s extractor.
fn push_subtitle_data(
    b: &mkv::BlockHead,
    data: &[u8],
    s: usize,
    extractors: &mut HashMap<usize, CueExtractor>,
) -> ParseResult<()> {
    if let Some(x) = extractors.get_mut(&s) {
        let pkt = crate::container::demux::timed_packet(data, b.time, Some(b.time), b.duration.unwrap_or(0), false);
        // A packet FFmpeg cannot decode is skipped; cues over the index ceiling end the open.
        if let Err(e) = x.push(&pkt) {
            if e.refused().is_some() {
                return Err(e);
            }
        }
    }
    Ok(())
}

/// What one thread of [`CuePlan::probe_all`] did: (index, result) of each probe it ran, the
/// (reads, bytes) of the source it made, and the last read failure it met.
type WorkerResult = (Vec<(usize, ParseResult<Window>)>, (u64, u64), Option<String>);

/// What the block headers after one keyframe say.
struct Window {
    /// Byte offset of the keyframe's block.
    key_pos: u64,
    /// Earliest presentation time of the segment it starts (leading pictures included).
    earliest: i64,
    /// Per audio track: the times of its frames, in file order, from where the walk started.
    audio: Vec<Vec<i64>>,
    /// The cluster the walk started at.
    from: u64,
    /// Per audio track: how many of `audio` precede the keyframe's cluster (0 when the walk
    /// started there).
    split: Vec<usize>,
}

/// Frame sizes (samples) an audio track's grid is fitted with: AAC (1024, 960; 2048 with SBR),
/// MPEG audio (1152, 576), AC-3 and E-AC-3 (1536, 768, 512, 256), Opus (120 to 2880).
const GRID_FRAMES: &[i128] = &[1024, 960, 2048, 1152, 576, 1536, 768, 512, 256, 120, 240, 480, 1920, 2880];

/// Fewest frames of the head, and of the tail, a grid is fitted on.
const GRID_MIN_FRAMES: usize = 16;

/// Most origins a grid is tried at (one per sample of a time-base tick: 48 at 48 kHz in ms).
const GRID_MAX_ORIGINS: i128 = 4096;

/// Boundaries probed all the same where a plan is made, spread over the file: each must find
/// what the plan says, else every boundary is probed.
const CHECK_PROBES: usize = 3;

/// Fewest boundaries a plan must leave unprobed before [`CHECK_PROBES`] are taken from them.
const CHECK_PROBES_FROM: usize = 8;

/// Largest cluster header (4-byte ID and an 8-byte size) a planned keyframe offset allows.
const MAX_CLUSTER_HEADER: u64 = 12;

/// An audio track whose every frame of the head and of the tail sits on one grid: frame `n`
/// at `origin + n x frame` samples (`rate` Hz), stored in ticks of `num/den` s rounded to
/// nearest, half away from zero (FFmpeg's `av_rescale_q`, mkvmerge's ns to ms), for every
/// origin (in samples) between `origins.0` and `origins.1`; each reproduces every head and
/// tail frame time exactly, the tail's at frame numbers after the head's.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Grid {
    frame: i128,
    rate: i128,
    num: i128,
    den: i128,
    origins: (i128, i128),
}

impl Grid {
    /// Ticks of frame `n` from `origin`.
    fn tick(&self, origin: i128, n: i128) -> i64 {
        crate::util::time::rescale_i128(origin + n * self.frame, self.den, self.rate * self.num) as i64
    }

    /// The number of the frame from `origin` nearest tick `t`.
    fn number(&self, origin: i128, t: i64) -> i128 {
        let x = crate::util::time::rescale_i128(t.into(), self.rate * self.num, self.den);
        (x - origin).div_euclid(self.frame) + i128::from((x - origin).rem_euclid(self.frame) * 2 >= self.frame)
    }

    /// The grid of `frame` samples at `rate` Hz in ticks of `num/den` s that reproduces `head`
    /// (consecutive frames) and `tail` (consecutive frames after them), if exactly one frame
    /// size of [`GRID_FRAMES`] does.
    fn fit(head: &[i64], tail: &[i64], rate: u32, (num, den): (i64, i64)) -> Option<Grid> {
        if head.len() < GRID_MIN_FRAMES || tail.len() < GRID_MIN_FRAMES || rate == 0 || num <= 0 || den <= 0 {
            return None;
        }
        let (rate, num, den) = (i128::from(rate), i128::from(num), i128::from(den));
        // Samples per tick, rounded up, and two of slack: the origins whose first tick is head[0].
        let span = (rate * num + den - 1) / den + 2;
        if span > GRID_MAX_ORIGINS {
            return None;
        }
        let mut found: Option<Grid> = None;
        for &frame in GRID_FRAMES {
            let mut g = Grid { frame, rate, num, den, origins: (i128::MAX, i128::MIN) };
            let center = crate::util::time::rescale_i128(head[0].into(), rate * num, den);
            for origin in center - span..=center + span {
                let fits_head = head.iter().enumerate().all(|(n, &t)| g.tick(origin, n as i128) == t);
                let first = g.number(origin, tail[0]);
                let fits_tail = first >= head.len() as i128
                    && tail.iter().enumerate().all(|(n, &t)| g.tick(origin, first + n as i128) == t);
                if fits_head && fits_tail {
                    g.origins = (g.origins.0.min(origin), g.origins.1.max(origin));
                }
            }
            if g.origins.0 <= g.origins.1 {
                if found.is_some() {
                    return None;
                }
                found = Some(g);
            }
        }
        found
    }

    /// Every frame time from the frame before tick `from` to the frame after tick `to`, when
    /// every origin of the grid gives the same (they are nondecreasing in the origin: the
    /// first and the last decide).
    fn frames(&self, from: i64, to: i64) -> Option<Vec<i64>> {
        let at = |origin: i128| -> Vec<i64> {
            let (a, b) = (self.number(origin, from) - 1, self.number(origin, to) + 1);
            (a.max(0)..=b).map(|n| self.tick(origin, n)).collect()
        };
        let (lo, hi) = (at(self.origins.0), at(self.origins.1));
        (lo == hi).then_some(lo)
    }
}

/// Whether no keyframe of `c` (packets in decode order) has leading pictures (a later packet
/// of its GOP presented before it), and it has a keyframe.
fn closed_gops(c: &Collected) -> bool {
    let keys: Vec<usize> = (0..c.samples.len()).filter(|&i| c.samples[i].key()).collect();
    !keys.is_empty() && keys.iter().all(|&k| !has_leading_pictures(&c.samples[..], k))
}

/// What planning a boundary without a probe needs: each copied audio track's [`Grid`] and the
/// size of a cluster's header (learnt from the first probe: a keyframe's offset is its Cue's
/// cluster, this and its CueRelativePosition).
struct Prediction {
    grids: Vec<Grid>,
    header: Option<u64>,
}

impl CuePlan {
    /// The track number of `stream` when its frames can be read straight from the blocks (no
    /// content encoding: the block data is the frame).
    fn block_readable(&self, stream: usize) -> Option<u64> {
        let t = self.layout.tracks[stream];
        (!t.encoded).then_some(t.number)
    }

    /// What generation needs of the layout (the Cues are not kept).
    pub(crate) fn reader_layout(&self) -> Layout {
        Layout { cues: Vec::new(), ..self.layout.clone() }
    }

    /// `probe(walker, c)` for every `c` of `todo`, in order, each thread walking with one
    /// [`BlockWalker`] (its read window reused from walk to walk). From a caller's source, where
    /// a read is a round trip, up to [`SOURCE_PROBE_THREADS`] probes run at once (the reads are
    /// the same; their latency overlaps); from a local file, [`LOCAL_PROBE_THREADS`] (the CPU
    /// time is the same, the open's latency shorter). The reads they make are counted as this
    /// thread's. Results after the first failure may be missing (its caller stops there).
    fn probe_all<F>(&self, todo: &[usize], probe: F) -> Vec<ParseResult<Window>>
    where
        F: Fn(&mut BlockWalker, usize) -> ParseResult<Window> + Sync,
    {
        let threads = if self.file.is_callback() {
            SOURCE_PROBE_THREADS.min(todo.len() / SOURCE_PROBES_PER_THREAD)
        } else {
            LOCAL_PROBE_THREADS.min(todo.len() / LOCAL_PROBES_PER_THREAD)
        };
        if threads < 2 {
            let mut walker = self.walker();
            let mut out = Vec::with_capacity(todo.len());
            for &c in todo {
                let r = probe(&mut walker, c);
                let failed = r.is_err();
                out.push(r);
                if failed {
                    break;
                }
            }
            return out;
        }
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let mut slots: Vec<Option<ParseResult<Window>>> = (0..todo.len()).map(|_| None).collect();
        // Each thread takes the next probe until none is left (or one failed); this thread is
        // one of them. A helper's reads are counted on it, and credited to this thread after.
        let work = |helper: bool| -> WorkerResult {
            let before = thread_reads();
            let mut walker = self.walker();
            let mut mine = Vec::new();
            while !failed.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&c) = todo.get(i) else { break };
                let r = probe(&mut walker, c);
                if r.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                mine.push((i, r));
            }
            if !helper {
                return (mine, (0, 0), None);
            }
            let after = thread_reads();
            (mine, (after.0 - before.0, after.1 - before.1), take_source_failure())
        };
        let done: Vec<WorkerResult> = std::thread::scope(|s| {
            let helpers: Vec<_> = (1..threads).map(|_| s.spawn(|| work(true))).collect();
            let own = work(false);
            let mut done: Vec<WorkerResult> = helpers.into_iter().filter_map(|w| w.join().ok()).collect();
            done.push(own);
            done
        });
        for (mine, reads, failure) in done {
            credit_thread_reads(reads, failure);
            for (i, r) in mine {
                slots[i] = Some(r);
            }
        }
        // In order, up to the first hole (a probe not run after a failure) or failure.
        let mut out = Vec::with_capacity(todo.len());
        for slot in slots {
            let Some(r) = slot else {
                out.push(Err(ParseError::new("a boundary probe did not run")));
                break;
            };
            let failed = r.is_err();
            out.push(r);
            if failed {
                break;
            }
        }
        out
    }

    /// The [`Prediction`] of this file's boundaries, when the head and the tail vouch for one
    /// (see the module docs): a video main track whose keyframes there have no leading
    /// pictures, Cues that all give their block's position in the cluster, and copied audio
    /// tracks (`followers`) each on one [`Grid`] from the head to the tail. `None`: every
    /// boundary is probed.
    fn prediction(
        &self,
        tracks: &[Track],
        collected: &[Collected],
        main: usize,
        followers: &[usize],
    ) -> Option<Prediction> {
        if !self.main_is_video || !closed_gops(&collected[main]) || !closed_gops(self.tail.get(self.main_stream)?) {
            return None;
        }
        if self.cues.iter().any(|c| c.relative.is_none()) {
            return None;
        }
        let times = |c: &Collected| -> Vec<i64> { c.samples.iter().map(|s| s.pts()).collect() };
        let grids = followers
            .iter()
            .map(|&ti| {
                let t = &tracks[ti];
                Grid::fit(
                    &times(&collected[ti]),
                    &times(self.tail.get(t.stream)?),
                    t.sample_rate,
                    (t.map.num, t.map.den),
                )
            })
            .collect::<Option<Vec<Grid>>>()?;
        Some(Prediction { grids, header: None })
    }

    /// The [`Window`] a probe of the keyframe at `time` in the cluster at `cluster`, whose Cue
    /// gives `relative`, would find, planned from `p` without a read: the keyframe's block at
    /// the cluster's data plus `relative`, no leading picture, and every audio frame from
    /// `span` ticks before it to `span` after it; `None` where the grids' origins disagree.
    fn planned_window(p: &Prediction, (time, cluster): (i64, u64), relative: Option<u64>, span: i64) -> Option<Window> {
        let key_pos = cluster.checked_add(p.header?)?.checked_add(relative?)?;
        #[allow(unused_mut)]
        let mut audio = p.grids.iter().map(|g| g.frames(time - span, time + span)).collect::<Option<Vec<_>>>()?;
        #[cfg(test)]
        if tests::SKEW_PLAN_AFTER.get().is_some_and(|t| time > t) {
            // A grid that restarted half a frame later in the middle of the file.
            audio.iter_mut().flatten().for_each(|t| *t += 11);
        }
        let split = vec![0; audio.len()];
        Some(Window { key_pos, earliest: time, audio, from: cluster, split })
    }

    /// A block walker over the file, for [`CuePlan::walk`].
    fn walker(&self) -> BlockWalker<'_> {
        BlockWalker::new(&self.file, self.size, &self.layout, self.layout.first_cluster.unwrap_or(0))
    }

    /// Walks block headers from the cluster at `from` with `w`, `read` bytes per read: finds
    /// the keyframe `key` (track, time) when given, and records the frames of `audio` tracks
    /// until each passes `horizon`.
    /// `key_cluster` is the keyframe's cluster, where [`Window::split`] is counted.
    fn walk(
        &self,
        w: &mut BlockWalker,
        (from, read): (u64, usize),
        key: Option<(u64, i64)>,
        key_cluster: u64,
        audio: &[u64],
        horizon: i64,
    ) -> ParseResult<Window> {
        w.restart(from);
        // A caller's source reads at least its walker's larger chunk: there a read is a round
        // trip.
        let read = if self.file.is_callback() { read.max(BlockWalker::base_read_size(&self.file)) } else { read };
        w.set_read_size(read);
        let mut out = Window {
            key_pos: 0,
            earliest: i64::MAX,
            audio: vec![Vec::with_capacity(16); audio.len()],
            from,
            split: Vec::new(),
        };
        let mut split: Option<Vec<usize>> = None;
        let mut key_found = key.is_none();
        let mut video_done = key.is_none();
        let mut walked = 0usize;
        while let Some(b) = w.next_block()? {
            if split.is_none() && b.pos >= key_cluster {
                split = Some(out.audio.iter().map(Vec::len).collect());
            }
            walked += 1;
            if walked > MAX_PROBE_BLOCKS {
                return Err(ParseError::new(format!(
                    "no keyframe or audio found within {MAX_PROBE_BLOCKS} blocks of byte {from}"
                )));
            }
            if let Some((vt, kt)) = key {
                if b.track == vt {
                    if !key_found {
                        if b.key && b.time == kt {
                            key_found = true;
                            out.key_pos = b.pos;
                            out.earliest = b.time;
                        }
                    } else if !video_done {
                        if b.time > kt {
                            video_done = true;
                        } else {
                            out.earliest = out.earliest.min(b.time);
                        }
                    }
                    if b.frames != 1 && self.main_is_video {
                        return Err(ParseError::new(format!("laced video block at byte {}", b.pos)));
                    }
                }
            }
            if let Some(a) = audio.iter().position(|&n| n == b.track) {
                // One frame: its time is the block's (no lace sizes to read).
                if b.frames == 1 {
                    out.audio[a].push(b.time);
                } else {
                    for (_, _, time) in w.frames(&b)? {
                        out.audio[a].push(time.ok_or_else(|| {
                            ParseError::new(format!("untimed laced frames in the block at byte {}", b.pos))
                        })?);
                    }
                }
            }
            let audio_done = out.audio.iter().all(|v| v.last().is_some_and(|&t| t > horizon));
            if key_found && video_done && audio_done {
                out.split = split.unwrap_or_else(|| out.audio.iter().map(Vec::len).collect());
                return Ok(out);
            }
        }
        out.split = split.unwrap_or_else(|| out.audio.iter().map(Vec::len).collect());
        if !key_found {
            return Err(ParseError::new(format!("the Cue's keyframe is not in the cluster at byte {from}")));
        }
        // End of file: whatever was found is all there is.
        if out.earliest == i64::MAX {
            out.earliest = key.map_or(0, |k| k.1);
        }
        Ok(out)
    }

    /// Cuts every rendition on the Cues (see the module docs). `None`: scan instead.
    pub(crate) fn segment(
        &mut self,
        tracks: &mut [Track],
        collected: &mut [Collected],
        main: usize,
        target_us: i64,
    ) -> Result<Option<Vec<i64>>> {
        if tracks[main].stream != self.main_stream || !matches!(tracks[main].delivery, Delivery::Copy { .. }) {
            return Ok(fallback(&self.path, "the main track is not the indexed video"));
        }
        let vmap = tracks[main].map;
        let head = &collected[main];
        let Some(first_key) = head.samples.iter().find(|s| s.key()).copied() else {
            return Ok(fallback(&self.path, "no keyframe at the start"));
        };
        let delay = self.delay;
        let Some(end_dts) = head.end_dts else { return Ok(fallback(&self.path, "no end")) };
        let end_us = vmap.out_us(end_dts + delay);
        // Keyframes: the first one, then every Cue after it.
        let mut keys: Vec<(i64, u64)> = vec![(
            first_key.pts(),
            self.cues
                .iter()
                .find(|c| c.time == first_key.pts())
                .map_or(self.layout.first_cluster.unwrap_or(0), |c| c.cluster),
        )];
        keys.extend(self.cues.iter().filter(|c| c.time > first_key.pts()).map(|c| (c.time, c.cluster)));
        let key_times: Vec<i64> = keys.iter().map(|k| vmap.out_us(k.0)).collect();

        // Copied audio tracks follow by frame midpoint; transcoded ones on AAC frames.
        let followers: Vec<usize> = (0..tracks.len())
            .filter(|&i| {
                i != main && tracks[i].kind == TrackKind::Audio && matches!(tracks[i].delivery, Delivery::Copy { .. })
            })
            .collect();
        let numbers: Vec<u64> = followers.iter().map(|&i| self.layout.tracks[tracks[i].stream].number).collect();
        // A probe walks until every audio track has two frames past the keyframe (the boundary
        // is at or before it): the first frame whose midpoint passes it is then among them.
        let mut horizon_us = PROBE_MARGIN_US;
        for &i in &followers {
            let m = tracks[i].map;
            let longest =
                collected[i].samples.windows(2).take(FRAMES_MEASURED).map(|w| w[1].dts - w[0].dts).max().unwrap_or(0);
            horizon_us = horizon_us.max(2 * m.us(longest) + PROBE_MARGIN_US);
        }
        let horizon_ticks = vmap.from_us(horizon_us);
        let vnum = self.layout.tracks[self.main_stream].number;
        // H.264 open GOPs are cut at keyframes without leading pictures where possible
        // (`segmenter::choose_clean_cuts`). Whether a keyframe has some shows in the walk after
        // it (a block presented before it), so the cuts are chosen again, among the keyframes
        // not yet found open, until every cut has been walked.
        let open_gop = cuts_at_clean_keyframes(&tracks[main]);
        let mut clean = vec![true; keys.len()];
        let mut walked: Vec<Option<Window>> = (0..keys.len()).map(|_| None).collect();
        // Keyframe c's Cue among the main track's (sorted by time, one per time): the keys after
        // the first are those Cues, in order, so only the first is searched for.
        let key_cues = key_cue_indices(&self.cues, first_key.pts());
        debug_assert_eq!(key_cues.len(), keys.len());
        let cue_at = |c: usize| key_cues[c];
        // The probe of keyframe c: from its cluster, or (`earlier`) from the cluster of the Cue
        // before it, in one read, for files that store a boundary's audio before its keyframe
        // (mkvmerge's): the walk back such a boundary needs is then the same read.
        let probe_at = |w: &mut BlockWalker, c: usize, earlier: bool| {
            let (time, cluster) = keys[c];
            let before = cue_at(c).filter(|&i| earlier && c > 0 && i > 0).map(|i| self.cues[i - 1].cluster);
            let at = match before {
                Some(from) if from < cluster => (from, walk_back_read(cluster - from, self.probe_read)),
                _ => (cluster, self.probe_read),
            };
            self.walk(w, at, Some((vnum, time)), cluster, &numbers, time + horizon_ticks)
        };
        // Whether the probes start at the Cue before: decided on the first boundary probed
        // (one more read), by whether its audio frame is stored after its keyframe.
        let mut earlier: Option<bool> = None;
        // Boundaries planned without a probe, where the head and the tail vouch for it and the
        // first boundary probed (the pilot) agrees (see the module docs).
        let mut prediction = self.prediction(tracks, collected, main, &followers);
        #[cfg(test)]
        if tests::PROBE_EVERY_BOUNDARY.get() {
            prediction = None;
        }
        let span = 2 * horizon_ticks;
        let mut pilot_window: Option<(usize, Window)> = None;
        // The boundaries planned, and whether the check probes agreed (once chosen).
        let mut planned_keys: Vec<usize> = Vec::new();
        let mut checked: Option<bool> = None;
        // Whether the probe `win` of keyframe c found what the plan `p` says there.
        let agrees = |p: &Prediction, c: usize, win: &Window| -> bool {
            let time = keys[c].0;
            let relative = cue_at(c).and_then(|i| self.cues[i].relative);
            let Some(planned) = Self::planned_window(p, keys[c], relative, span) else { return false };
            let bound = vmap.out_us(time);
            planned.key_pos == win.key_pos
                && win.earliest == time
                && win.from == keys[c].1
                && followers.iter().enumerate().all(|(f, &ti)| {
                    let (m, b) = (&tracks[ti].map, tracks[ti].map.us_to_ticks(bound));
                    let found = first_frame_past(&win.audio[f], m, b);
                    found.is_some() && found == first_frame_past(&planned.audio[f], m, b)
                })
        };
        let cuts = loop {
            let (cuts, all_clean) = if open_gop {
                choose_clean_cuts(&key_times, &clean, end_us, target_us)
            } else {
                (choose_cuts(&key_times, end_us, target_us), true)
            };
            let mut changed = false;
            let todo: Vec<usize> = cuts.iter().copied().filter(|&c| walked[c].is_none()).collect();
            if earlier.is_none() {
                let pilot = todo.iter().copied().find(|&c| c > 0 && cue_at(c).is_some_and(|i| i > 0));
                let after_key = |win: &Window| {
                    let bound = vmap.out_us(win.earliest);
                    followers.iter().enumerate().all(|(f, &ti)| {
                        first_frame_past(&win.audio[f], &tracks[ti].map, tracks[ti].map.us_to_ticks(bound)).is_some()
                    })
                };
                let probed = pilot.map(|c| (c, probe_at(&mut self.walker(), c, false)));
                earlier = Some(match &probed {
                    Some((_, Ok(win))) => !after_key(win),
                    _ => false,
                });
                // The pilot vouches for the plan: its keyframe's offset gives the cluster
                // header's size, and what it found is what the plan says there.
                if let Some(mut p) = prediction.take() {
                    match &probed {
                        Some((c, Ok(win))) if earlier == Some(false) => {
                            let (_, cluster) = keys[*c];
                            let relative = cue_at(*c).and_then(|i| self.cues[i].relative);
                            let header = relative.and_then(|r| win.key_pos.checked_sub(cluster)?.checked_sub(r));
                            p.header = header.filter(|&h| h <= MAX_CLUSTER_HEADER);
                            if agrees(&p, *c, win) {
                                prediction = Some(p);
                            }
                        }
                        _ => {}
                    }
                    if prediction.is_none() {
                        log::debug!("{}: the pilot probe does not vouch for a plan", self.path.display());
                    }
                }
                if earlier == Some(false) {
                    pilot_window = probed.and_then(|(c, w)| w.ok().map(|w| (c, w)));
                }
            }
            let from_earlier = earlier == Some(true);
            let probe = |w: &mut BlockWalker, c: usize| probe_at(w, c, from_earlier);
            // The pilot's window and the planned ones need no read; the rest are probed.
            let mut ready: Vec<(usize, ParseResult<Window>)> = Vec::new();
            if let Some((c, win)) = pilot_window.take() {
                if todo.contains(&c) {
                    ready.push((c, Ok(win)));
                }
            }
            let mut checks: Vec<usize> = Vec::new();
            if let Some(p) = &prediction {
                let pilot = ready.first().map(|r| r.0);
                let candidates: Vec<usize> = todo.iter().copied().filter(|&c| c > 0 && Some(c) != pilot).collect();
                // A few boundaries spread over the file are probed all the same, and must
                // agree (a concatenation whose grid restarts can agree at both ends).
                if checked.is_none() && candidates.len() >= CHECK_PROBES_FROM {
                    let n = candidates.len();
                    checks = (1..=CHECK_PROBES).map(|i| candidates[i * n / (CHECK_PROBES + 1)]).collect();
                    checked = Some(true);
                }
                for c in candidates.into_iter().filter(|c| !checks.contains(c)) {
                    let relative = cue_at(c).and_then(|i| self.cues[i].relative);
                    if let Some(win) = Self::planned_window(p, keys[c], relative, span) {
                        ready.push((c, Ok(win)));
                        planned_keys.push(c);
                    }
                }
            }
            let mut is_ready = vec![false; keys.len()];
            for r in &ready {
                is_ready[r.0] = true;
            }
            let to_probe: Vec<usize> = todo.iter().copied().filter(|&c| !is_ready[c]).collect();
            let probed = self.probe_all(&to_probe, probe);
            for (c, win) in ready.into_iter().chain(to_probe.iter().copied().zip(probed)) {
                let time = keys[c].0;
                let win = match win {
                    Ok(w) => w,
                    Err(e) => return Ok(fallback(&self.path, e)),
                };
                if checks.contains(&c) && !prediction.as_ref().is_some_and(|p| agrees(p, c, &win)) {
                    checked = Some(false);
                }
                if open_gop && c > 0 && win.earliest < time && clean[c] {
                    clean[c] = false;
                    changed = true;
                }
                walked[c] = Some(win);
            }
            if checked == Some(false) && prediction.is_some() {
                // A check disagrees: the planned windows go, and every boundary is probed.
                log::debug!("{}: a check probe disagrees with the plan: probing every boundary", self.path.display());
                prediction = None;
                for c in planned_keys.drain(..) {
                    walked[c] = None;
                }
                changed = true;
            }
            if !changed {
                if open_gop {
                    tracks[main].independent = all_clean;
                    if !all_clean {
                        log::warn!("{}: {OPEN_GOP_FALLBACK}", self.path.display());
                    }
                }
                break cuts;
            }
        };
        let planned = planned_keys.iter().filter(|&&c| cuts.binary_search(&c).is_ok()).count();
        log::debug!("{}: {planned} of {} boundaries planned without a probe", self.path.display(), cuts.len());
        #[cfg(test)]
        tests::PLANNED.set(planned);
        let mut windows: Vec<Window> = Vec::with_capacity(cuts.len());
        let mut bounds: Vec<i64> = Vec::with_capacity(cuts.len() + 1);
        for c in &cuts {
            let Some(win) = walked.get_mut(*c).and_then(Option::take) else {
                return Err(Error::internal("open-GOP cut not walked"));
            };
            bounds.push(vmap.out_us(win.earliest));
            windows.push(win);
        }
        bounds.push(end_us.max(bounds.last().copied().unwrap_or(0) + 1));
        if bounds.windows(2).any(|w| w[0] >= w[1]) {
            return Ok(fallback(&self.path, "segment boundaries out of order"));
        }

        // Video: segment n runs from keyframe cut n (decode time = earliest - delay) to the next.
        let n = cuts.len();
        let starts: Vec<i64> = windows.iter().map(|w| w.earliest - delay).collect();
        let mut positions: Vec<u64> = windows.iter().map(|w| w.key_pos).collect();
        positions.push(self.data_end.max(positions[n - 1] + 1));
        let mut ranges: Vec<u64> = positions.windows(2).map(|w| w[1].saturating_sub(w[0])).collect();
        let seg_ticks = |k: usize| ((if k + 1 < n { starts[k + 1] } else { end_dts }) - starts[k]).max(0) as f64;
        // The other streams' share of each byte range, at their measured rates; never below
        // half the video's own measured rate (a rate estimate can be high).
        for (s, rate) in self.rates.iter().enumerate() {
            let Some(rate) = rate.filter(|_| s != self.main_stream) else { continue };
            for (k, r) in ranges.iter_mut().enumerate() {
                *r = r.saturating_sub((rate * seg_ticks(k)) as u64);
            }
        }
        let video_rate = self.rates[self.main_stream].unwrap_or(0.0);
        for (k, r) in ranges.iter_mut().enumerate() {
            *r = (*r).max((video_rate * seg_ticks(k) / 2.0) as u64);
        }
        let per_second = |c: &Collected| -> Option<f64> {
            let (first, last) = (c.samples.first()?, c.samples.last()?);
            let span = us_to_seconds(vmap.us(last.dts - first.dts));
            (span > 0.0).then(|| (c.samples.len() - 1) as f64 / span)
        };
        let fps = tracks[main].frame_rate.or_else(|| per_second(head)).unwrap_or(DEFAULT_FPS);
        tracks[main].segments = (0..n)
            .map(|k| {
                let end = if k + 1 < n { starts[k + 1] } else { end_dts };
                let frames = (us_to_seconds(vmap.us(end - starts[k])) * fps).ceil().max(1.0) as usize;
                let bytes = ranges[k] + fmp4::media_segment_overhead(frames) as u64;
                timed_segment(&vmap, starts[k], end, keys[cuts[k]].0, bytes, keys[cuts[k]].1)
            })
            .collect();
        tracks[main].reader = SampleReader::MatroskaBlocks {
            track_number: self.block_readable(tracks[main].stream),
            dts_delay: head.synthesized.then_some(delay),
        };

        // Audio: the first frame whose midpoint is past each boundary.
        for (f, &ti) in followers.iter().enumerate() {
            let amap = tracks[ti].map;
            let stream = tracks[ti].stream;
            let Some(first) = collected[ti].samples.iter().find(|s| amap.out(s.dts) >= 0).copied() else {
                return Ok(fallback(&self.path, "audio with no sample"));
            };
            let Some(a_end) = collected[ti].end_dts else { return Ok(fallback(&self.path, "audio with no end")) };
            let mut a_starts = vec![first.dts];
            let mut a_clusters = vec![self.layout.first_cluster.unwrap_or(0)];
            let bound = |k: usize| amap.us_to_ticks(bounds[k]);
            // Per boundary: its first frame, if the probe after its keyframe saw it, and the
            // cluster the search started in.
            // A probe that started at the Cue before is the first walk back too.
            let mut walked_back = vec![0usize; n];
            let mut found: Vec<(Option<i64>, u64)> = (0..n)
                .map(|k| {
                    let (win, key_cluster) = (&windows[k], keys[cuts[k]].1);
                    if k == 0 {
                        return (None, 0);
                    }
                    match first_frame_past(&win.audio[f][win.split[f]..], &amap, bound(k)) {
                        Some(s) => (Some(s), key_cluster),
                        None if win.from != key_cluster => {
                            walked_back[k] = 1;
                            (first_frame_past(&win.audio[f], &amap, bound(k)), win.from)
                        }
                        None => (None, key_cluster),
                    }
                })
                .collect();
            // The boundary frame may be stored before the keyframe: walk from earlier Cues, one
            // Cue further back per round, for the boundaries still without it (a failed walk
            // ends a boundary's search). The Cues are sorted by time, one per time.
            let cue_index: Vec<Option<usize>> = (0..n).map(|k| key_cues[cuts[k]]).collect();
            let mut searching = vec![true; n];
            for back in 1..=MAX_CUES_BACK {
                let todo: Vec<usize> = (1..n)
                    .filter(|&k| {
                        found[k].0.is_none()
                            && searching[k]
                            && back > walked_back[k]
                            && cue_index[k].is_some_and(|ci| ci >= back)
                    })
                    .collect();
                if todo.is_empty() {
                    break;
                }
                let from = |k: usize| self.cues[cue_index[k].unwrap_or(0) - back].cluster;
                let walk_back = |w: &mut BlockWalker, k: usize| {
                    let (time, cluster) = keys[cuts[k]];
                    let read = walk_back_read(cluster.saturating_sub(from(k)), self.probe_read);
                    self.walk(w, (from(k), read), None, from(k), &numbers[f..f + 1], time + horizon_ticks)
                };
                let results = self.probe_all(&todo, walk_back);
                for (i, &k) in todo.iter().enumerate() {
                    match results.get(i) {
                        Some(Ok(win)) => found[k] = (first_frame_past(&win.audio[0], &amap, bound(k)), from(k)),
                        _ => searching[k] = false,
                    }
                }
            }
            for (k, &(start, cluster)) in found.iter().enumerate().skip(1) {
                match start {
                    Some(s) if s > *a_starts.last().unwrap_or(&i64::MIN) && s < a_end => {
                        a_starts.push(s);
                        a_clusters.push(cluster);
                    }
                    _ => {
                        return Ok(fallback(
                            &self.path,
                            format!("stream {stream}: no audio frame found for boundary {k}"),
                        ))
                    }
                }
            }
            let rate = self.rates[stream].unwrap_or(0.0);
            let frame = collected[ti].samples.windows(2).next().map_or(1, |w| (w[1].dts - w[0].dts).max(1));
            tracks[ti].segments = (0..n)
                .map(|k| {
                    let end = if k + 1 < n { a_starts[k + 1] } else { a_end };
                    let frames = ((end - a_starts[k]) / frame + 1) as usize;
                    let bytes = (rate * (end - a_starts[k]) as f64 * AUDIO_RATE_HEADROOM) as u64
                        + fmp4::media_segment_overhead(frames) as u64;
                    timed_segment(&amap, a_starts[k], end, a_starts[k], bytes, a_clusters[k])
                })
                .collect();
            tracks[ti].reader =
                SampleReader::MatroskaBlocks { track_number: self.block_readable(stream), dts_delay: None };
        }
        // Transcoded audio: AAC frames within the same bounds.
        for (i, t) in tracks.iter_mut().enumerate() {
            if i != main && t.is_fmp4() && t.segments.is_empty() {
                if let Delivery::Transcode { target, .. } = &t.delivery {
                    t.segments = transcode_segments(&t.map, &collected[i], &bounds, target);
                    t.reader = SampleReader::DemuxerRange { seek: RangeSeek::Approximate };
                }
            }
        }
        Ok(Some(bounds))
    }
}

/// The first of consecutive audio frame times whose midpoint (on the output timeline, in
/// `map`'s ticks) is at or past `boundary`: where the segment starting at `boundary` begins, by
/// the rule `segmenter::segment_follower` applies. `None` unless a frame before it is in `times`
/// too (then the walk started early enough to prove nothing earlier qualifies).
fn first_frame_past(times: &[i64], map: &TimeMap, boundary: i64) -> Option<i64> {
    let mid = |a: i64, next: i64| map.out(a) + (map.out(next) - map.out(a)) / 2;
    let i = (0..times.len().saturating_sub(1)).find(|&i| mid(times[i], times[i + 1]) >= boundary)?;
    (i > 0).then_some(times[i])
}

/// The index in `cues` (one track's Cues, sorted by time, one per time) of each keyframe a
/// segment may start at: the one at `first` (the first keyframe; `None` when no Cue names it),
/// then every Cue after it, in order: what a search by time per keyframe finds, in one pass.
fn key_cue_indices(cues: &[CuePoint], first: i64) -> Vec<Option<usize>> {
    let after = cues.partition_point(|c| c.time <= first);
    let at_first = cues.binary_search_by_key(&first, |c| c.time).ok();
    std::iter::once(at_first).chain((after..cues.len()).map(Some)).collect()
}

/// Bytes per read of a walk from an earlier Cue's cluster, `span` bytes before the keyframe's:
/// to a probe's window (`probe_read`) past it, in one read when that fits in
/// [`WALK_BACK_READ`].
fn walk_back_read(span: u64, probe_read: usize) -> usize {
    let span = span.min(WALK_BACK_READ as u64) as usize;
    (span + probe_read).next_multiple_of(PAGE).min(WALK_BACK_READ)
}

/// A segment whose samples are found by time when it is generated: those of its track with
/// decode time in `[start, end)` (video: from the keyframe at `key_pts` to the next segment's).
fn timed_segment(map: &TimeMap, start: i64, end: i64, key_pts: i64, bytes: u64, cluster: u64) -> Segment {
    let out_start = map.out(start).max(0) as u64;
    Segment {
        src_start: start,
        src_end: end,
        samples: 0,
        first: 0,
        start_pts: key_pts,
        out_start,
        out_duration: (map.out(end).max(0) as u64).saturating_sub(out_start),
        bytes,
        cluster,
    }
}

/// Whether a stream time base `num/den` seconds is the Matroska timestamp scale (nanoseconds),
/// without overflow for any scale a file may declare.
fn time_base_is_scale((num, den): (i32, i32), timestamp_scale: u64) -> bool {
    i128::from(num) * i128::from(NS_PER_SECOND) == i128::from(den) * i128::from(timestamp_scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        /// Probe every boundary (no [`Prediction`]).
        pub(super) static PROBE_EVERY_BOUNDARY: Cell<bool> = const { Cell::new(false) };
        /// Boundaries the last plan on this thread made without a probe.
        pub(super) static PLANNED: Cell<usize> = const { Cell::new(0) };
        /// Plan every audio frame after this time (ticks) 11 ticks late: a plan the file
        /// contradicts in its middle.
        pub(super) static SKEW_PLAN_AFTER: Cell<Option<i64>> = const { Cell::new(None) };
    }

    #[test]
    fn a_hostile_timestamp_scale_is_compared_not_overflowed() {
        // 1/1000 s = the default 1 ms scale; a scale near 2^64 (from the file) no longer
        // overflows the product (it panicked the fuzz build), it just is not the time base.
        assert!(time_base_is_scale((1, 1000), 1_000_000));
        assert!(!time_base_is_scale((1, 1000), 999_999));
        assert!(!time_base_is_scale((1, i32::MAX), u64::MAX));
        assert!(!time_base_is_scale((1, 1000), u64::MAX));
    }

    #[test]
    fn audio_starts_at_the_first_frame_whose_midpoint_passes_the_boundary() {
        // Matroska milliseconds to a 48 kHz track; AAC frames of 21.333 ms stored as 0, 21, 43, 64.
        let map = TimeMap::new(1, 1000, 48_000, 48_000);
        let times = [0, 21, 43, 64, 85];
        // Boundary at 30 ms (1440 ticks): frame 21 has its midpoint at 32 ms, so it starts there.
        assert_eq!(first_frame_past(&times, &map, 1440), Some(21));
        // Boundary at 33 ms: 21's midpoint (32 ms) is before it, 43's (53.5 ms) is past it.
        assert_eq!(first_frame_past(&times, &map, 1584), Some(43));
        // The first frame qualifies: nothing proves an earlier, unseen frame does not.
        assert_eq!(first_frame_past(&times, &map, 0), None);
        // No frame pair reaches the boundary, or too few frames.
        assert_eq!(first_frame_past(&times, &map, 10_000), None);
        assert_eq!(first_frame_past(&[5], &map, 0), None);
        // The shared shift moves frames and boundary alike.
        let shifted = TimeMap { shift: 480, ..map };
        assert_eq!(first_frame_past(&times, &shifted, 1440 + 480), Some(21));
    }

    #[test]
    fn a_boundary_probe_reads_its_keyframe_and_what_follows_in_one_window() {
        let rec = |size: u32, key: bool| crate::model::segment::SampleRec::new(0, 0, 0, size, key);
        let head = |keys: &[u32]| Collected {
            samples: keys.iter().flat_map(|&k| [rec(k, true), rec(k / 10, false)]).collect(),
            ..Collected::default()
        };
        // Small keyframes: the smallest window.
        assert_eq!(probe_read_size(&head(&[3062, 2900])), PROBE_READ_MIN);
        // The largest keyframe of the head, plus the slack, in whole pages.
        assert_eq!(probe_read_size(&head(&[3062, 9000])), 16 << 10);
        // Huge keyframes are skipped, not read: the window stays bounded.
        assert_eq!(probe_read_size(&head(&[1 << 20])), PROBE_READ_MAX);
        // No samples at all: the smallest window.
        assert_eq!(probe_read_size(&Collected::default()), PROBE_READ_MIN);
    }

    #[test]
    fn a_walk_from_the_cue_before_reads_to_past_the_keyframe_in_one_window() {
        // mkvmerge: the Cue before is a 45 KB GOP back: the GOP and a probe's window, in pages.
        assert_eq!(walk_back_read(45_532, 8 << 10), (45_532usize + (8 << 10)).next_multiple_of(PAGE));
        // Longer GOPs read the largest window (the walk goes on in more reads of that size).
        assert_eq!(walk_back_read(60 << 10, 8 << 10), WALK_BACK_READ);
        assert_eq!(walk_back_read(u64::MAX, 8 << 10), WALK_BACK_READ);
        // The same cluster: just the probe's window.
        assert_eq!(walk_back_read(0, 8 << 10), 8 << 10);
    }

    /// The tail read from the block headers, against FFmpeg's packets after its seek, on every
    /// Matroska test file it vouches for (the same demuxer state as an open: probed, first
    /// packets read).
    #[test]
    fn the_last_segment_ends_where_ffmpeg_says_when_read_from_the_blocks() {
        let cfg = Config::default();
        let mut vouched = Vec::new();
        for path in matroska_media() {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            let Ok(src) = ByteSource::open_file(&path) else { continue };
            let size = std::fs::metadata(&path).map_or(0, |m| m.len());
            let Ok(mut dmx) = Demuxer::open_matroska(&src, true) else { continue };
            let infos = super::super::probe::stream_infos(&dmx);
            let Ok(Some(layout)) = mkv::read_layout(&src, size) else { continue };
            let Some(main) = infos.iter().position(|i| i.kind == TrackKind::Video) else { continue };
            if !same_tracks(&layout, &infos) {
                continue;
            }
            let av: Vec<usize> =
                (0..infos.len()).filter(|&i| matches!(infos[i].kind, TrackKind::Video | TrackKind::Audio)).collect();
            let cues = layout.cues_of(layout.tracks[main].number);
            if cues.len() < 3 {
                continue;
            }
            let map = TimeMap::new(infos[main].tb.0, infos[main].tb.1, 1, 1);
            let mut head: Vec<Collected> = (0..infos.len()).map(|_| Collected::default()).collect();
            let stop_at = map.from_us(5 * US_PER_SECOND);
            let mut stop = |st: usize, ts: i64, _| st == main && ts > stop_at;
            scan_until(&mut dmx, &av, &mut head, &mut HashMap::new(), cfg.max_index_bytes, &mut stop).unwrap();
            let mut seen = false;
            for at in [cues.len() - 3, cues.len() / 2, 1] {
                let Some(blocks) =
                    tail_from_blocks(&src, size, &layout, &infos, (&av, main), (&cues, at), u64::MAX / 64)
                else {
                    continue;
                };
                seen = true;
                let ff =
                    read_tail(&mut dmx, &src, size, &layout, &infos, (&av, main), (&cues, at), &cfg, false).unwrap();
                for &s in &av {
                    let (b, f) = (&blocks[s], &ff[s]);
                    let strip = |c: &Collected| -> Vec<(u64, i64, i64, u32)> {
                        c.samples.iter().map(|x| (x.pos, x.dts, x.pts(), x.size())).collect()
                    };
                    assert_eq!(strip(b), strip(f), "{name} stream {s}: samples");
                    assert_eq!(b.samples.first().map(|x| x.key()), f.samples.first().map(|x| x.key()), "{name} {s}");
                    assert_eq!(b.end_dts, f.end_dts, "{name} stream {s}: end");
                    assert_eq!(b.raw_end_dts, f.raw_end_dts, "{name} stream {s}: raw end");
                    assert_eq!(b.missing_dts, f.missing_dts, "{name} stream {s}: missing decode times");
                }
            }
            if seen {
                vouched.push(name.clone());
            }
        }
        // B-frames with AAC from FFmpeg's muxer and from mkvmerge (laced audio) at least, and
        // H.264 without reordering (its SPS says so: no_bframes.mkv, vfr.mkv).
        for want in ["h264_aac.mkv", "long_2h.mkv", "long_2h_mkvmerge.mkv", "no_bframes.mkv", "vfr.mkv"] {
            if matroska_media().iter().any(|p| p.ends_with(want)) {
                assert!(vouched.iter().any(|n| n == want), "{want} not vouched for; vouched for: {vouched:?}");
            }
        }
    }

    /// Every segment of every track of `name` indexed from its Cues, with the boundaries
    /// planned where the plan vouches for it (`probe_every == false`) or all probed; and how
    /// many were planned without a probe.
    fn plan_of(path: &Path, probe_every: bool) -> Option<(Vec<Vec<Segment>>, usize)> {
        PROBE_EVERY_BOUNDARY.set(probe_every);
        PLANNED.set(0);
        let file = ByteSource::open_file(path).ok()?;
        let identity = FileIdentity::of(path).ok()?;
        let ix = crate::index::build(&file, path, identity, &Config::default(), None);
        PROBE_EVERY_BOUNDARY.set(false);
        let ix = ix.ok().filter(|ix| ix.indexed_from == IndexSource::MatroskaCues)?;
        Some((ix.tracks.iter().map(|t| t.segments.clone()).collect(), PLANNED.get()))
    }

    /// The Matroska test files (long ones included when generated).
    fn matroska_media() -> Vec<std::path::PathBuf> {
        crate::util::test_media(&["mkv", "webm", "mka"], true)
    }

    #[test]
    fn boundaries_planned_without_probes_are_the_probed_ones() {
        let mut planned_files = Vec::new();
        for path in matroska_media() {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
            let Some((probed, none)) = plan_of(&path, true) else { continue };
            assert_eq!(none, 0, "{name}: planned boundaries while told to probe them all");
            let (planned, n) = plan_of(&path, false).expect("indexed from its Cues when probed");
            // The same segments: times, durations, BANDWIDTH's byte estimates and the cluster
            // a segment's walk starts from.
            assert_eq!(planned.len(), probed.len(), "{name}");
            for (t, (a, b)) in planned.iter().zip(&probed).enumerate() {
                assert_eq!(a.len(), b.len(), "{name} track {t}: segment count");
                for (k, (x, y)) in a.iter().zip(b).enumerate() {
                    assert_eq!(x, y, "{name} track {t} segment {k}");
                }
            }
            if n > 0 {
                planned_files.push((name, n));
            }
        }
        // Probed at every boundary (the grid check refuses them): a concatenation whose AAC grid
        // starts again every minute, and mkvmerge's laced audio.
        for name in ["long_2h.mkv", "long_2h_mkvmerge.mkv", "mkvmerge_multi.mkv"] {
            assert!(planned_files.iter().all(|(n, _)| n != name), "{name} planned: {planned_files:?}");
        }
        // FFmpeg's muxer, AAC on one grid over 4 minutes: every boundary but the first two
        // (the first keyframe's and the pilot's) is planned.
        if matroska_media().iter().any(|p| p.ends_with("looped_4min.mkv")) {
            assert!(
                planned_files.iter().any(|(n, k)| n == "looped_4min.mkv" && *k > 30),
                "looped_4min.mkv not planned: {planned_files:?}"
            );
        }
    }

    /// AAC frames (1024 samples at 48 kHz) from sample `origin`, in Matroska milliseconds.
    fn aac_ms(origin: i64, frames: std::ops::Range<i64>) -> Vec<i64> {
        frames.map(|n| crate::model::time::rescale(origin + n * 1024, 1000, 48_000)).collect()
    }

    #[test]
    fn a_plan_the_file_contradicts_in_its_middle_gives_way_to_probes() {
        let Some(path) = matroska_media().into_iter().find(|p| p.ends_with("looped_4min.mkv")) else { return };
        let (probed, _) = plan_of(&path, true).expect("indexed from its Cues");
        // Planned audio past the first minute is off by half a frame: the head, the tail and
        // the pilot agree with the plan, the check probes in the middle do not.
        SKEW_PLAN_AFTER.set(Some(60_000));
        let skewed = plan_of(&path, false);
        SKEW_PLAN_AFTER.set(None);
        let (segments, planned) = skewed.expect("indexed from its Cues");
        assert_eq!(planned, 0, "boundaries kept from a contradicted plan");
        assert_eq!(segments, probed, "the probed segments");
    }

    #[test]
    fn audio_on_one_grid_from_head_to_tail_is_planned_exactly() {
        // 0, 21, 43, 64, 85, 107, ...: 21.333 ms frames rounded to nearest.
        let head = aac_ms(0, 0..150);
        let tail = aac_ms(0, 300_000..301_000);
        let g = Grid::fit(&head, &tail, 48_000, (1, 1000)).expect("one grid");
        assert_eq!(g.frame, 1024);
        // Every frame in between, as the file has it.
        let mid = aac_ms(0, 150_000..150_010);
        let planned = g.frames(mid[2], mid[6]).expect("the origins agree");
        assert_eq!(planned, mid[1..8], "from the frame before the first tick to the one after the last");
        // The first frame whose midpoint passes a boundary, as a probe would find it.
        let map = TimeMap::new(1, 1000, 48_000, 48_000);
        let bound = map.us_to_ticks(mid[4] * 1000 - 5_000);
        assert_eq!(first_frame_past(&planned, &map, bound), first_frame_past(&mid, &map, bound));
        // A later origin (priming, a start that is not at 0): found too.
        let g = Grid::fit(&aac_ms(2112, 0..150), &aac_ms(2112, 9_000..9_900), 48_000, (1, 1000)).expect("grid");
        assert_eq!(g.frames(100_000, 100_050), Some(aac_ms(2112, 4684..4690)));
    }

    #[test]
    fn audio_that_leaves_its_grid_between_head_and_tail_is_probed() {
        let head = aac_ms(0, 0..150);
        // A half-frame gap in the middle (a concatenation: long_2h.mp4's minute ends with a
        // 512-sample frame): the tail is on no grid through the head.
        assert_eq!(Grid::fit(&head, &aac_ms(512, 300_000..301_000), 48_000, (1, 1000)), None);
        // A gap in the head itself, or a tail too short to fit.
        let mut gap = head.clone();
        gap.remove(50);
        assert_eq!(Grid::fit(&gap, &aac_ms(0, 300_000..301_000), 48_000, (1, 1000)), None);
        assert_eq!(Grid::fit(&head, &aac_ms(0, 300_000..300_004), 48_000, (1, 1000)), None);
        // Times of laced frames as FFmpeg splits mkvmerge's laces (the block's time plus
        // shares of the lace's 170 ms): not the grid's 43, 64, ... within a lace.
        let laced: Vec<i64> = (0..40).map(|n| aac_ms(0, (n / 8) * 8..(n / 8) * 8 + 1)[0] + 170 * (n % 8) / 8).collect();
        assert_eq!(Grid::fit(&laced, &aac_ms(0, 300_000..301_000), 48_000, (1, 1000)), None);
        // No rate, or a time base whose tick holds too many samples to try every origin.
        assert_eq!(Grid::fit(&head, &aac_ms(0, 300_000..301_000), 0, (1, 1000)), None);
        assert_eq!(Grid::fit(&head, &head, 48_000, (1, 1)), None);
    }

    #[test]
    fn a_gop_with_leading_pictures_is_not_planned() {
        let rec = |pts: i64, key: bool| crate::model::segment::SampleRec::new(0, 0, pts, 100, key);
        // Decode order: I0 P3 B1 B2 | I4 P7 B5 B6: closed.
        let closed = [(0, true), (3, false), (1, false), (2, false), (4, true), (7, false), (5, false), (6, false)];
        let c = Collected { samples: closed.iter().map(|&(p, k)| rec(p, k)).collect(), ..Collected::default() };
        assert!(closed_gops(&c));
        // I6 B4 B5 after it: an open GOP's leading pictures.
        let open = [(0, true), (3, false), (1, false), (2, false), (6, true), (4, false), (5, false), (9, false)];
        let c = Collected { samples: open.iter().map(|&(p, k)| rec(p, k)).collect(), ..Collected::default() };
        assert!(!closed_gops(&c));
        assert!(!closed_gops(&Collected::default()));
    }

    /// The first packets made from the blocks with the stream facts found without FFmpeg's
    /// probe, against FFmpeg's packets after its probe, on every Matroska test file whose facts
    /// are vouched for: every sample (keys included), the ends, and the data kept.
    #[test]
    fn the_first_packets_are_ffmpegs_when_read_from_the_blocks_without_its_probe() {
        let cfg = Config::default();
        let mut vouched = Vec::new();
        for path in matroska_media() {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            let Ok(src) = ByteSource::open_file(&path) else { continue };
            let size = std::fs::metadata(&path).map_or(0, |m| m.len());
            let Ok(bare) = Demuxer::open_matroska(&src, false) else { continue };
            let mut infos = super::super::probe::stream_infos(&bare);
            if bare.probed() || super::super::probe::complete_without_probe(&bare, &mut infos).is_err() {
                continue;
            }
            let Ok(Some(layout)) = mkv::read_layout(&src, size) else { continue };
            let Some(main) = infos.iter().position(|i| i.kind == TrackKind::Video) else { continue };
            let av: Vec<usize> =
                (0..infos.len()).filter(|&i| matches!(infos[i].kind, TrackKind::Video | TrackKind::Audio)).collect();
            let map = TimeMap::new(infos[main].tb.0, infos[main].tb.1, 1, 1);
            let stop_at = map.from_us(5 * US_PER_SECOND);
            let mut stop = |st: usize, ts: i64, _| st == main && ts > stop_at;
            let Some(blocks) = head_from_blocks(&src, size, &layout, &infos, (&av, main), u64::MAX / 64, &mut stop)
            else {
                continue;
            };
            let mut dmx = Demuxer::open_matroska(&src, true).unwrap();
            let mut ff: Vec<Collected> = (0..infos.len()).map(|_| Collected::default()).collect();
            scan_until(&mut dmx, &av, &mut ff, &mut HashMap::new(), cfg.max_index_bytes, &mut stop).unwrap();
            assert!(!ff[main].samples.is_empty(), "{name}: no video packets");
            for &s in &av {
                let (b, f) = (&blocks[s], &ff[s]);
                let strip = |c: &Collected| -> Vec<(u64, i64, i64, u32, bool)> {
                    c.samples.iter().map(|x| (x.pos, x.dts, x.pts(), x.size(), x.key())).collect()
                };
                assert_eq!(strip(b), strip(f), "{name} stream {s}: samples");
                assert_eq!(b.end_dts, f.end_dts, "{name} stream {s}: end");
                assert_eq!(b.raw_end_dts, f.raw_end_dts, "{name} stream {s}: raw end");
                assert_eq!(b.missing_dts, f.missing_dts, "{name} stream {s}: missing decode times");
                assert_eq!(b.first_packet, f.first_packet, "{name} stream {s}: first packet");
                assert_eq!(b.later_keyframe, f.later_keyframe, "{name} stream {s}: later keyframe");
            }
            vouched.push(name.clone());
        }
        for want in [
            "h264_aac.mkv",
            "hevc_aac.mkv",
            "hdr10.mkv",
            "long_2h.mkv",
            "long_2h_mkvmerge.mkv",
            "no_bframes.mkv",
            "vfr.mkv",
        ] {
            if matroska_media().iter().any(|p| p.ends_with(want)) {
                assert!(vouched.iter().any(|n| n == want), "{want} not vouched for; vouched for: {vouched:?}");
            }
        }
    }

    #[test]
    fn each_boundary_keyframe_finds_its_own_cue() {
        let cue = |time: i64| CuePoint { time, track: 1, cluster: time as u64 * 10, relative: None };
        let cues: Vec<CuePoint> = [0, 3000, 6000, 9000, 12000].into_iter().map(cue).collect();
        let by_search = |keys: &[i64]| -> Vec<Option<usize>> {
            keys.iter().map(|t| cues.binary_search_by_key(t, |c| c.time).ok()).collect()
        };
        // The first keyframe has a Cue: the same indices a search per keyframe finds.
        assert_eq!(key_cue_indices(&cues, 3000), by_search(&[3000, 6000, 9000, 12000]));
        // The first keyframe has none (it precedes the first Cue listed after it).
        assert_eq!(key_cue_indices(&cues, 1500), vec![None, Some(1), Some(2), Some(3), Some(4)]);
        assert_eq!(key_cue_indices(&cues, 1500)[1..], by_search(&[3000, 6000, 9000, 12000])[..]);
        // Past the last Cue: only the first keyframe.
        assert_eq!(key_cue_indices(&cues, 20000), vec![None]);
        assert_eq!(key_cue_indices(&[], 0), vec![None]);
    }

    #[test]
    fn byte_rate_counts_both_ends() {
        let rec = |t: i64, size: u32| crate::model::segment::SampleRec::new(0, t, t, size, true);
        let head = Collected { samples: (0..10).map(|i| rec(i * 10, 100)).collect(), ..Collected::default() };
        let tail = Collected { samples: (0..5).map(|i| rec(1000 + i * 10, 300)).collect(), ..Collected::default() };
        // 1000 bytes over 90 ticks and 1500 bytes over 40 ticks.
        let rate = byte_rate(&head, &tail).unwrap();
        assert!((rate - 2500.0 / 130.0).abs() < 1e-9, "{rate}");
        assert_eq!(byte_rate(&Collected::default(), &Collected::default()), None);
    }
}
