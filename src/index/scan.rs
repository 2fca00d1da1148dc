//! Collecting samples through FFmpeg: the mov demuxer's index, or one packet scan (which also
//! feeds the text subtitle streams to their cue extractors), and the truncation check.

#![deny(unsafe_code)]

use std::collections::HashMap;

use ffmpeg_next as ff;

use super::collect::{finish_collected, Collected, MAX_SAMPLE_READ};
use super::probe::StreamInfo;
use super::track::cue_extractor;
use crate::container::demux::Demuxer;
use crate::container::read::read_vec_at;
use crate::container::read::ByteSource;
use crate::error::{Error, ErrorKind, Result};
use crate::model::segment::SampleRec;
use crate::model::time::{us_to_seconds, TimeMap, US_PER_SECOND};
use crate::model::track::TrackKind;
use crate::subtitle::{self, CueExtractor};

/// Read errors a scan skips (a damaged region) before it gives up.
const MAX_READ_ERRORS: usize = 100;

/// What one packet costs while a file is scanned: its 24-byte record, in a vector that may have
/// grown to twice its length.
pub(crate) const SCAN_BYTES_PER_SAMPLE: u64 = 48;

/// A scan may end this fraction of the declared duration early (1/50: 2 %), or one second,
/// whichever is more, before the file counts as truncated.
const TRUNCATION_TOLERANCE_DIVISOR: i64 = 50;

/// A scanned file whose packets stop well before the duration its header declares was cut
/// short (an interrupted copy or download): say so instead of serving part of it.
pub(crate) fn check_complete(
    dmx: &Demuxer,
    infos: &[StreamInfo],
    av: &[usize],
    collected: &[Collected],
    extractors: &HashMap<usize, CueExtractor>,
) -> Result<()> {
    let Some(declared) = dmx.duration_us() else { return Ok(()) };
    // Subtitles may outlast the audio and video (the declared duration covers every track).
    let subtitles_end = extractors.values().filter_map(CueExtractor::last_time_us).max().unwrap_or(0);
    let end = av
        .iter()
        .filter_map(|&s| {
            let c = &collected[s];
            let tb = infos[s].tb;
            let map = TimeMap::new(tb.0, tb.1, 1, 1);
            c.end_dts.or_else(|| c.samples.last().map(|x| x.dts)).map(|e| map.us(e))
        })
        .max()
        .unwrap_or(0);
    // Containers disagree on whether the declared duration counts from 0 or from the first
    // timestamp; the smaller reading (from 0) is the safe one. Allow for rounding and streams
    // that end a little early: 1 s or 2 %.
    let end = end.max(subtitles_end);
    let expected = declared;
    if expected - end > US_PER_SECOND.max(declared / TRUNCATION_TOLERANCE_DIVISOR) {
        return Err(Error::media(format!(
            "file is truncated: its packets end at {:.3} s but its header declares {:.3} s",
            us_to_seconds(end),
            us_to_seconds(expected)
        )));
    }
    Ok(())
}

/// The cue extractors of the text subtitle streams of `infos`, each bounded by `max_index_bytes`.
pub(crate) fn subtitle_extractors(infos: &[StreamInfo], max_index_bytes: u64) -> HashMap<usize, CueExtractor> {
    let mut out = HashMap::new();
    for (i, info) in infos.iter().enumerate() {
        if info.kind == TrackKind::Subtitle && subtitle::classify(info.id).is_ok() {
            if let Ok(x) = cue_extractor(info.params.clone(), info.tb, max_index_bytes) {
                out.insert(i, x);
            }
        }
    }
    out
}

/// Reads MP4 sample tables. Returns false when some track's table is missing (fragmented MP4),
/// so the caller scans instead.
pub(crate) fn collect_from_index(
    dmx: &Demuxer,
    src: &ByteSource,
    file_size: u64,
    av: &[usize],
    out: &mut [Collected],
    max_index_bytes: u64,
) -> Result<bool> {
    let mut samples = 0u64;
    for &s in av {
        let entries = dmx.index_entries(s);
        if entries.is_empty() {
            return Ok(false);
        }
        samples += entries.len() as u64;
        if samples.saturating_mul(SCAN_BYTES_PER_SAMPLE) > max_index_bytes {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "{samples} samples: their index would need more than the {} MiB ceiling (max_index_bytes)",
                    max_index_bytes >> 20
                ),
            ));
        }
        let c = &mut out[s];
        c.samples = entries.iter().map(|e| SampleRec::new(0, e.timestamp, e.timestamp, e.size, e.keyframe)).collect();
        c.samples.sort_by_key(|x| x.dts);
        let data_end = entries.iter().map(|e| e.pos.max(0) as u64 + e.size as u64).max().unwrap_or(0);
        if data_end > file_size {
            return Err(Error::media(format!(
                "file is truncated: stream {s} has sample data up to byte {data_end} but the file has {file_size} bytes"
            )));
        }
        let n = c.samples.len();
        let last_dur = if n >= 2 { c.samples[n - 1].dts - c.samples[n - 2].dts } else { 0 };
        c.end_dts = Some(c.samples[n - 1].dts + last_dur.max(1));
        let later_key = entries.iter().filter(|e| e.keyframe).nth(1).copied();
        for (e, slot) in [(Some(entries[0]), &mut c.first_packet), (later_key, &mut c.later_keyframe)] {
            let Some(e) = e.filter(|e| e.size > 0 && (e.size as usize) < MAX_SAMPLE_READ) else { continue };
            if let Ok(buf) = read_vec_at(src, e.pos as u64, e.size as usize, MAX_SAMPLE_READ) {
                *slot = Some(buf);
            }
        }
    }
    Ok(true)
}

/// One pass over the packets of `wanted` streams (all others discarded in the demuxer).
pub(crate) fn scan(
    dmx: &mut Demuxer,
    wanted: &[usize],
    out: &mut [Collected],
    extractors: &mut HashMap<usize, CueExtractor>,
    max_index_bytes: u64,
) -> Result<()> {
    scan_until(dmx, wanted, out, extractors, max_index_bytes, &mut |_, _, _| false)?;
    for c in out.iter_mut() {
        finish_collected(c, None);
    }
    Ok(())
}

// --- clip ---

/// How far past a clip's end a range scan reads the main stream (other streams' packets are
/// interleaved around it; the clip keeps what it needs).
const CLIP_SCAN_MARGIN_US: i64 = 3 * US_PER_SECOND;

/// Reads only what a clip `[from_us, to_us)` needs of a file whose demuxer seeks on an index
/// (Matroska Cues): from the indexed keyframe at or before `from_us` to a little past `to_us`
/// on the `main` stream. Text subtitle cues are those that start in that range.
pub(crate) fn scan_range(
    dmx: &mut Demuxer,
    main: (usize, TimeMap),
    wanted: &[usize],
    out: &mut [Collected],
    extractors: &mut HashMap<usize, CueExtractor>,
    (from_us, to_us): (i64, i64),
    max_index_bytes: u64,
) -> Result<()> {
    dmx.seek(None, from_us)?;
    let stop_us = to_us.saturating_add(CLIP_SCAN_MARGIN_US);
    let (stream, map) = main;
    scan_until(dmx, wanted, out, extractors, max_index_bytes, &mut |s, ts, _| s == stream && map.us(ts) > stop_us)?;
    for c in out.iter_mut() {
        finish_collected(c, None);
    }
    Ok(())
}

/// Reads packets of `wanted` streams from where the demuxer is until the end of the file or
/// until `stop(stream, timestamp, keyframe)` says so, adding them to `out`. More samples than
/// `max_index_bytes` holds (at [`SCAN_BYTES_PER_SAMPLE`] each, those already in `out` counted)
/// is an [`ErrorKind::Unsupported`] error, raised before the vectors grow past it.
pub(crate) fn scan_until(
    dmx: &mut Demuxer,
    wanted: &[usize],
    out: &mut [Collected],
    extractors: &mut HashMap<usize, CueExtractor>,
    max_index_bytes: u64,
    stop: &mut dyn FnMut(usize, i64, bool) -> bool,
) -> Result<()> {
    let max_samples = max_index_bytes / SCAN_BYTES_PER_SAMPLE;
    let mut samples = out.iter().map(|c| c.samples.len() as u64).sum::<u64>();
    dmx.select(wanted);
    let mut pkt = ff::Packet::empty();
    let mut errors = 0usize;
    loop {
        match dmx.read(&mut pkt) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                // A damaged region: skip a bounded number of errors, then give up.
                errors += 1;
                if errors > MAX_READ_ERRORS {
                    return Err(e);
                }
                continue;
            }
        }
        let s = pkt.stream();
        if let Some(x) = extractors.get_mut(&s) {
            // A packet FFmpeg cannot decode is skipped; cues over the index ceiling end the scan.
            if let Err(e) = x.push(&pkt) {
                if e.refused().is_some() {
                    return Err(e.into());
                }
            }
            continue;
        }
        let Some(c) = out.get_mut(s) else { continue };
        if !wanted.contains(&s) {
            continue;
        }
        let Some(pts) = pkt.pts().or(pkt.dts()) else { continue };
        let size = pkt.size() as u32;
        if c.first_packet.is_none() {
            c.first_packet = pkt.data().map(<[u8]>::to_vec);
        } else if c.later_keyframe.is_none() && pkt.is_key() {
            c.later_keyframe = pkt.data().map(<[u8]>::to_vec);
        }
        c.missing_dts |= pkt.dts().is_none();
        let pos = u64::try_from(pkt.position()).unwrap_or(0);
        samples += 1;
        if samples > max_samples {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "more than {max_samples} packets: their index would need more than the {} MiB ceiling \
                     (max_index_bytes)",
                    max_index_bytes >> 20
                ),
            ));
        }
        c.samples.push(SampleRec::new(pos, pkt.dts().unwrap_or(pts), pts, size, pkt.is_key()));
        c.end_dts = Some(pkt.dts().unwrap_or(pts) + pkt.duration().max(0));
        c.raw_end_dts = c.end_dts;
        if stop(s, pts, pkt.is_key()) {
            break;
        }
    }
    Ok(())
}
