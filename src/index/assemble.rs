//! Turns collected streams into the tracks and segment boundaries of a `MediaIndex`, in three
//! steps: [`prepare`] (one `Track` per stream and AAC rendition, the main track, priming and the
//! shared shift), cutting ([`cut`] by the generic rule, or a Matroska Cue plan), and [`finish`].

#![deny(unsafe_code)]

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use super::collect::Collected;
use super::probe::StreamInfo;
use super::segmenter::{apply_shared_shift, cut_main, drop_priming, segment_follower};
use super::track::{make_track, wants_aac_rendition};
use crate::container::mkv::Layout;
use crate::error::{Error, ErrorKind, Result};
use crate::model::config::Config;
use crate::model::identity::FileIdentity;
use crate::model::media_index::{IndexSource, MediaIndex};
use crate::model::names::TrackId;
use crate::model::time::{rescale, MPEG_TS_CLOCK};
use crate::model::track::{Delivery, Track, TrackKind};
use crate::subtitle::CueExtractor;

/// The tracks of a file before they are cut.
pub(crate) struct Prepared {
    /// Every source stream's track, then the extra AAC renditions.
    pub(crate) tracks: Vec<Track>,
    /// The samples collected for each track (same order).
    pub(crate) collected: Vec<Collected>,
    /// The track segments are cut on: the first served video, else the first served audio.
    pub(crate) main: usize,
}

/// Indexes collected streams whose segments are cut by the generic rule (every container but
/// Matroska planned from Cues).
#[allow(clippy::too_many_arguments)]
pub(crate) fn assemble(
    path: &Path,
    identity: FileIdentity,
    cfg: &Config,
    infos: Vec<StreamInfo>,
    collected: Vec<Collected>,
    extractors: HashMap<usize, CueExtractor>,
    indexed_from: IndexSource,
    format: String,
    started: Instant,
) -> Result<MediaIndex> {
    let mut p = prepare(cfg, infos, collected, extractors)?;
    let target_us = cfg.segment_duration.as_micros() as i64;
    let boundaries = cut(&mut p, target_us, indexed_from.exact_timestamps());
    Ok(finish(path, identity, p, boundaries, indexed_from, format, started, None))
}

/// Decides how every stream is served and picks the main track (an error when nothing can be
/// played); drops audio priming and applies the presentation-wide shift.
pub(crate) fn prepare(
    cfg: &Config,
    infos: Vec<StreamInfo>,
    mut collected: Vec<Collected>,
    mut extractors: HashMap<usize, CueExtractor>,
) -> Result<Prepared> {
    if let Some((s, _)) = extractors.iter().find(|(_, x)| x.exceeded()) {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "stream {s}: its subtitle cues need more than the {} MiB index ceiling (max_index_bytes)",
                cfg.max_index_bytes >> 20
            ),
        ));
    }
    let mut tracks: Vec<Track> = Vec::with_capacity(infos.len());
    let mut video_taken = false;
    let mut aac_renditions = Vec::new();
    for (i, info) in infos.into_iter().enumerate() {
        if wants_aac_rendition(info.kind, info.id, cfg) {
            let id = TrackId { stream: i, aac: true };
            let t = make_track(id, info.clone(), &collected[i], cfg, &mut video_taken, None);
            if t.is_fmp4() {
                aac_renditions.push((t, i));
            }
        }
        tracks.push(make_track(TrackId::source(i), info, &collected[i], cfg, &mut video_taken, extractors.remove(&i)));
    }
    // The extra AAC renditions come after the source streams, each with its stream's samples.
    for (t, i) in aac_renditions {
        collected.push(collected[i].clone());
        tracks.push(t);
    }
    let main = tracks
        .iter()
        .position(|t| t.kind == TrackKind::Video && t.is_fmp4())
        .or_else(|| tracks.iter().position(|t| t.kind == TrackKind::Audio && t.is_fmp4()));
    let Some(main) = main else {
        let reasons: Vec<String> = tracks
            .iter()
            .filter(|t| matches!(t.kind, TrackKind::Video | TrackKind::Audio))
            .map(|t| {
                format!(
                    "stream {} ({} {}): {}",
                    t.stream,
                    t.kind.name(),
                    t.codec_name,
                    t.not_served_reason().unwrap_or("no samples")
                )
            })
            .collect();
        return Err(Error::new(ErrorKind::NoPlayableTracks, format!("nothing to play: {}", reasons.join("; "))));
    };
    for (t, c) in tracks.iter().zip(collected.iter_mut()) {
        if t.kind == TrackKind::Audio {
            drop_priming(c);
        }
    }
    apply_shared_shift(&mut tracks, &collected);
    Ok(Prepared { tracks, collected, main })
}

/// Cuts the main track at keyframes and every other fMP4 track on its boundaries (moving the
/// collected samples into the tracks); returns the boundaries. `exact`: the demuxer's timestamps
/// are exact (MP4).
pub(crate) fn cut(p: &mut Prepared, target_us: i64, exact: bool) -> Vec<i64> {
    let main = p.main;
    let b = cut_main(&mut p.tracks[main], std::mem::take(&mut p.collected[main]), target_us, exact);
    for (i, t) in p.tracks.iter_mut().enumerate() {
        if i != main && t.is_fmp4() {
            segment_follower(t, std::mem::take(&mut p.collected[i]), &b, exact);
        }
    }
    b
}

/// The index of cut tracks: fMP4 tracks left without segments are not served. `matroska`: the
/// layout the block walker reads segments with (Matroska planned from Cues).
#[allow(clippy::too_many_arguments)]
pub(crate) fn finish(
    path: &Path,
    identity: FileIdentity,
    p: Prepared,
    boundaries: Vec<i64>,
    indexed_from: IndexSource,
    format: String,
    started: Instant,
    matroska: Option<Layout>,
) -> MediaIndex {
    let Prepared { mut tracks, main, .. } = p;
    for t in tracks.iter_mut() {
        if t.is_fmp4() && t.segments.is_empty() {
            t.delivery = Delivery::NotServed("no samples in the presentation's time range".into());
        }
    }
    let duration_us = boundaries.last().copied().unwrap_or(0) - boundaries[0];
    // Source time 0 on the presented fMP4 timeline (after the init's edit list), at 90 kHz, for
    // X-TIMESTAMP-MAP. Players apply the edit list (Chromium MSE, Safari, FFmpeg), so the
    // presented time of a sample is its source time: this is 0 whatever the shift.
    let m = tracks[main].map;
    let mpegts_origin = rescale(m.out(0) - m.shift, MPEG_TS_CLOCK, m.timescale as i64).max(0) as u64;
    MediaIndex {
        path: path.to_path_buf(),
        identity,
        format,
        duration_us,
        tracks,
        boundaries_us: boundaries,
        mpegts_origin,
        shift_us: m.ticks_to_us(m.shift),
        matroska,
        indexed_from,
        index_time: started.elapsed(),
    }
}
