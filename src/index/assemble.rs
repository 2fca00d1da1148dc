//! Turns collected streams into the tracks and segment boundaries of a `MediaIndex`, in three
//! steps: [`prepare`] (one `Track` per stream and AAC rendition, the main track, priming and the
//! shared shift), cutting ([`cut`] by the generic rule, or a Matroska Cue plan), and [`finish`].

#![deny(unsafe_code)]

use std::path::Path;
use std::time::Instant;

use super::clip;
use super::collect::Collected;
use super::probe::StreamInfo;
use super::segmenter::{apply_shared_shift, cut_main, drop_priming, segment_follower};
use super::track::{cue_ceiling_error, make_track, wants_aac_rendition, SubtitleCues, Subtitles};
use crate::container::mkv::Layout;
use crate::error::{Error, ErrorKind, Result};
use crate::model::config::Config;
use crate::model::identity::FileIdentity;
use crate::model::media_index::{IndexSource, MediaIndex};
use crate::model::names::TrackId;
use crate::model::open::Clip;
use crate::model::segment::Segment;
use crate::model::time::{rescale, MPEG_TS_CLOCK};
use crate::model::track::{Delivery, Track, TrackKind};

/// The tracks of a file before they are cut.
pub(crate) struct Prepared {
    /// Every source stream's track, then the extra AAC renditions.
    pub(crate) tracks: Vec<Track>,
    /// The samples collected for each track (same order).
    pub(crate) collected: Vec<Collected>,
    /// The track segments are cut on: the first served video, else the first served audio.
    pub(crate) main: usize,
    /// The index is of a clip (`model::open::Clip`): its length in µs.
    pub(crate) clip_us: Option<i64>,
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
    extractors: Subtitles,
    indexed_from: IndexSource,
    format: String,
    started: Instant,
    clip: Option<Clip>,
) -> Result<MediaIndex> {
    let mut p = prepare(cfg, infos, collected, extractors, clip)?;
    let target_us = cfg.segment_duration.as_micros() as i64;
    let boundaries = cut(&mut p, target_us, indexed_from.exact_timestamps());
    Ok(finish(path, identity, p, boundaries, indexed_from, format, started, None))
}

/// Decides how every stream is served and picks the main track (an error when nothing can be
/// played); drops audio priming, restricts the tracks to `clip` and applies the
/// presentation-wide shift.
pub(crate) fn prepare(
    cfg: &Config,
    infos: Vec<StreamInfo>,
    mut collected: Vec<Collected>,
    mut extractors: Subtitles,
    clip: Option<Clip>,
) -> Result<Prepared> {
    if let Some((&s, _)) = extractors.iter().find(|(_, x)| matches!(x, SubtitleCues::Extracted(x) if x.exceeded())) {
        return Err(cue_ceiling_error(s, cfg.max_index_bytes));
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
    for (i, (t, c)) in tracks.iter().zip(collected.iter_mut()).enumerate() {
        // Samples read on demand serve a copied track that follows the main one's cuts, or a
        // copied main video whose reorder delay is constant (cut on times and sync flags);
        // anything else works on built samples.
        let lazy_main = t.kind == TrackKind::Video && c.sorted_offset.is_some();
        if c.lazy.is_some()
            && ((i == main && !lazy_main) || clip.is_some() || !matches!(t.delivery, Delivery::Copy { .. }))
        {
            c.build();
        }
        if t.kind == TrackKind::Audio {
            drop_priming(c);
        }
    }
    let clip_us = match &clip {
        Some(c) => Some(clip::apply(c, &mut tracks, &mut collected, main)?),
        None => None,
    };
    apply_shared_shift(&mut tracks, &collected);
    Ok(Prepared { tracks, collected, main, clip_us })
}

/// Cuts the main track at keyframes and every other fMP4 track on its boundaries (moving the
/// collected samples into the tracks); returns the boundaries. `exact`: the demuxer's timestamps
/// are exact (MP4).
pub(crate) fn cut(p: &mut Prepared, target_us: i64, exact: bool) -> Vec<i64> {
    let main = p.main;
    let mut b = cut_main(&mut p.tracks[main], std::mem::take(&mut p.collected[main]), target_us, exact);
    if let Some(len) = p.clip_us {
        // A clip is presented from its start (time `C` of the output timeline), whatever it
        // decodes before, to its end, whatever it decodes after.
        let m = p.tracks[main].map;
        b[0] = m.ticks_to_us(m.shift).min(b[1] - 1).max(b[0]);
        let n = b.len() - 1;
        b[n] = b[n].min(b[0] + len).max(b[n - 1] + 1);
    }
    for (i, t) in p.tracks.iter_mut().enumerate() {
        if i != main && t.is_fmp4() {
            segment_follower(t, std::mem::take(&mut p.collected[i]), &b, exact);
        }
    }
    if p.clip_us.is_some() {
        let end_us = b[b.len() - 1];
        for t in p.tracks.iter_mut().filter(|t| t.is_fmp4()) {
            clip_extinf(t, end_us);
        }
    }
    b
}

/// A clip's first and last segments last what they present, so the EXTINF total is the clip's
/// duration: what the edit list hides before the clip's start (the frames decoded from the
/// keyframe before it, the head of an audio frame) is not in the first one's EXTINF, and what
/// is decoded past its end (`end_us` on the output timeline: pictures reordered across it, the
/// tail of an audio frame) not in the last one's.
fn clip_extinf(t: &mut Track, end_us: i64) {
    let transcoded = matches!(t.delivery, Delivery::Transcode { .. });
    let map = t.map;
    let presented = |s: &Segment| if transcoded { s.out_start as i64 } else { map.out(s.start_pts) };
    let Some(first) = t.segments.first_mut() else { return };
    let hidden = (map.shift - presented(first)).max(0) as u64;
    first.out_duration = first.out_duration.saturating_sub(hidden);
    let n = t.segments.len() - 1;
    let last = &mut t.segments[n];
    let from = if n == 0 { map.shift } else { presented(last) };
    let until = (map.us_to_ticks(end_us) - from).max(0) as u64;
    last.out_duration = last.out_duration.min(until);
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
