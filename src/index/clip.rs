//! Clipped presentations: which collected samples a clip keeps, where its timeline starts, and
//! its subtitles cut to the range. Applied to the samples collected at indexing, before the
//! shared shift and the cut rule, so a clip is segmented, shifted and served exactly like a
//! whole file whose samples are those (see `model::time` for the clip's origin).
//!
//! - The main track decides the start `S`: keyframe-aligned, the clip decodes from the keyframe
//!   at or before `from` and `S = from` (the edit lists hide what precedes it); keyframe-forward,
//!   it starts at the first keyframe at or after `from` and `S` is that keyframe's time.
//! - Every fMP4 track keeps, in decode order, from its sample presented at or before `S` (a
//!   keyframe for video) to the last sample presented before the end `E`: audio is cut on its
//!   own frames, and the frame `S` falls in is hidden by the edit list like the video's lead.
//! - Video ends at `E`: the last kept sample's decode span ends where `E` is decoded.
//! - Subtitle cues are clipped to `[S, E)` and shifted by `-S`.
//! - A keyframe-aligned clip's video is written at 90 kHz at least (its hidden lead is squeezed
//!   one tick a picture for MSE players, see `engine::lead`).

#![deny(unsafe_code)]

use super::collect::Collected;
use crate::error::{Error, ErrorKind, Result};
use crate::model::cues::{Cue, CueTrack, Cues};
use crate::model::open::{Clip, ClipPolicy};
use crate::model::segment::SampleRec;
use crate::model::time::{us_to_seconds, TimeMap};
use crate::model::track::{Delivery, Track, TrackKind};

/// The least video timescale of a keyframe-aligned clip (90 kHz: a tick is 11 µs).
const LEAD_TIMESCALE: u32 = 90_000;

/// Restricts every track to `clip` (samples, cues) and sets each map's [`TimeMap::cut`].
/// `main` is the track segments are cut on. Returns the clip's length in µs (from `S` to the
/// earlier of `to` and the end). A clip that starts at or beyond the end, or that keeps nothing
/// of the main track, is an `InvalidArgument`.
pub(crate) fn apply(clip: &Clip, tracks: &mut [Track], collected: &mut [Collected], main: usize) -> Result<i64> {
    let (from_us, to_us) = (clip.from_us(), clip.to_us());
    if from_us >= to_us {
        return Err(Error::new(ErrorKind::InvalidArgument, "clip: from must be before to"));
    }
    let m = &collected[main];
    let map = tracks[main].map;
    let Some(last) = m.samples.last() else {
        return Err(Error::new(ErrorKind::NoPlayableTracks, "nothing to play: the main track has no samples"));
    };
    let end_us = map.us(m.end_dts.unwrap_or(last.dts + 1) + (last.pts() - last.dts));
    if from_us >= end_us {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "clip: from {:.3} s is beyond the media's end ({:.3} s)",
                us_to_seconds(from_us),
                us_to_seconds(end_us)
            ),
        ));
    }
    let video = tracks[main].kind == TrackKind::Video;
    let is_key = |s: &SampleRec| s.key() || !video;
    let pts_us = |s: &SampleRec| map.us(s.pts());
    let start_us = match clip.policy {
        ClipPolicy::KeyframeAligned => {
            let first_key = m.samples.iter().find(|s| is_key(s)).map_or(from_us, pts_us);
            from_us.max(first_key)
        }
        ClipPolicy::KeyframeForward => match m.samples.iter().filter(|s| is_key(s)).map(pts_us).find(|&t| t >= from_us)
        {
            Some(t) => t,
            None => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("clip: no keyframe at or after {:.3} s", us_to_seconds(from_us)),
                ))
            }
        },
    };
    if start_us >= to_us {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("clip: starts at {:.3} s, at or after its end", us_to_seconds(start_us)),
        ));
    }
    for (t, c) in tracks.iter_mut().zip(collected.iter_mut()) {
        if clip.policy == ClipPolicy::KeyframeAligned && video && t.kind == TrackKind::Video {
            // The hidden lead is written one tick a picture (`engine::lead`): ticks fine enough
            // that a long one stays well within a frame.
            t.map.timescale = t.map.timescale.max(LEAD_TIMESCALE);
        }
        t.map.cut = t.map.us_to_ticks(start_us);
        if t.is_fmp4() {
            keep_range(c, &t.map, t.kind == TrackKind::Video, start_us, to_us);
        } else if let Delivery::Cues(cues) = &mut t.delivery {
            // (Cues read on first use are cut when read.)
            let whole = std::mem::replace(cues, Cues::new(CueTrack::default()));
            *cues = whole.map(move |c| clip_cues(c, start_us, to_us));
        }
    }
    if collected[main].samples.is_empty() {
        return Err(Error::new(ErrorKind::InvalidArgument, "clip: no sample of the main track in the range"));
    }
    Ok(to_us.min(end_us) - start_us)
}

/// Keeps the samples of one track that the clip `[start_us, end_us)` needs (see the module
/// documentation); `video`: start at a keyframe and end where `end_us` is decoded.
fn keep_range(c: &mut Collected, map: &TimeMap, video: bool, start_us: i64, end_us: i64) {
    let samples = &c.samples;
    let n = samples.len();
    let pts_us = |i: usize| map.us(samples[i].pts());
    let starts = |i: usize| !video || samples[i].key();
    // The last start presented at or before S (or the first one).
    let first = (0..n).rev().find(|&i| starts(i) && pts_us(i) <= start_us).or_else(|| (0..n).find(|&i| starts(i)));
    let Some(first) = first else {
        c.samples.clear();
        return;
    };
    // One past the last sample (in decode order) presented before E.
    let stop = (first..n).rev().find(|&i| pts_us(i) < end_us).map_or(first, |i| i + 1);
    if stop <= first {
        c.samples.clear();
        return;
    }
    if stop < n {
        c.end_dts = Some(if video {
            // The decode time of E (the first kept keyframe's reorder delay before it).
            let delay = samples[first].pts() - samples[first].dts;
            (map.from_us(end_us) - delay).max(samples[stop - 1].dts + 1)
        } else {
            samples[stop].dts
        });
    }
    c.samples.truncate(stop);
    c.samples.drain(..first);
}

/// The cues of `[start_us, end_us)`, cut to it and shifted by `-start_us`.
fn clip_cues(cues: &CueTrack, start_us: i64, end_us: i64) -> CueTrack {
    CueTrack::new(
        cues.overlapping(start_us, end_us)
            .map(|c| Cue {
                start_us: c.start_us.max(start_us) - start_us,
                end_us: c.end_us.min(end_us) - start_us,
                text: c.text.clone(),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video(keys_every: i64, n: i64) -> Collected {
        // 1/1000 time base, 40 ms frames, no reordering.
        let samples = (0..n).map(|i| SampleRec::new(0, i * 40, i * 40, 100, i % keys_every == 0)).collect();
        Collected { samples, end_dts: Some(n * 40), ..Collected::default() }
    }

    #[test]
    fn video_clip_starts_at_the_keyframe_before_and_ends_where_asked() {
        let mut c = video(25, 500); // keyframes every second, 20 s
        let map = TimeMap::new(1, 1000, 10000, 90000);
        keep_range(&mut c, &map, true, 5_500_000, 8_020_000);
        assert_eq!(c.samples[0].dts, 5000);
        assert!(c.samples[0].key());
        assert_eq!(c.samples.last().map(|s| s.dts), Some(8000));
        assert_eq!(c.end_dts, Some(8020));
    }

    #[test]
    fn audio_clip_starts_at_the_frame_holding_the_start() {
        let mut c = video(1, 500);
        let map = TimeMap::new(1, 1000, 48000, 48000);
        keep_range(&mut c, &map, false, 5_510_000, 6_000_000);
        assert_eq!(c.samples[0].dts, 5480);
        assert_eq!(c.samples.last().map(|s| s.dts), Some(5960));
        assert_eq!(c.end_dts, Some(6000));
    }

    #[test]
    fn subtitles_are_cut_and_shifted() {
        let cue = |a, b| Cue { start_us: a, end_us: b, text: "x".into() };
        let t = CueTrack::new(vec![cue(0, 1_000_000), cue(4_000_000, 6_000_000), cue(9_000_000, 12_000_000)]);
        let c = clip_cues(&t, 5_000_000, 10_000_000);
        let got: Vec<(i64, i64)> = c.cues().iter().map(|c| (c.start_us, c.end_us)).collect();
        assert_eq!(got, vec![(0, 1_000_000), (4_000_000, 5_000_000)]);
    }
}
