//! A keyframe-aligned clip's hidden lead, written so that MSE players keep it.
//!
//! A keyframe-aligned clip decodes from the keyframe at or before its start `S` and its init
//! segments' edit lists hide what is presented before `S` (FFmpeg, Safari). Browsers playing
//! through Media Source Extensions with hls.js cannot use that edit list: Chromium applies it,
//! so the hidden pictures land before 0, where MSE drops them and, their references gone, every
//! picture up to the next keyframe; hls.js never reads it and lays its timeline out from the
//! first video `tfdt`, so its timeline and the buffered one differ by the whole lead and it
//! never ends the stream (it stalls at the end).
//!
//! So the first video segment of such a clip carries the hidden lead squeezed into a few ticks
//! just before the picture shown at `S`, and its init segments write the edit list in a form
//! Chromium's MSE ignores ([`crate::output::fmp4::TrackInit::edit_ignored_by_mse`]):
//! - every sample presented before the picture shown at `S` (presentation time `F0`, the last
//!   one at or before `S`) is presented one tick after the other, in its order, in the ticks
//!   just before `F0`, or before the earliest start of the other tracks (the hidden head of an
//!   audio frame) if that is earlier: still before `S`, so the edit list still hides it, and
//!   before everything else (a reader that starts its output at the earliest start, as the
//!   `ffmpeg` tool does, puts the lead's pictures at its very first instant, where an output at
//!   a frame rate keeps one of them);
//! - the decode times of the samples decoded up to the last such sample are squeezed too (one
//!   tick apart, as late as each sample's presentation allows); the samples after keep theirs
//!   once the squeezed ones are behind them, and the segment ends where it ended (the next
//!   segment's `tfdt` is unchanged); no composition offset is negative.
//!
//! Readers that apply the edit list present the same pictures at the same times as before (the
//! squeezed ones are hidden). Chromium with hls.js, which offsets every track by the first
//! video `tfdt` (a few ticks before the lead), buffers every picture from 0, shows the picture
//! at `S` a few ticks after 0 (or, when an audio frame starts earlier than it, the picture before
//! it until then), and lays out the same timeline as the buffer: Chromium's timeline is the edit
//! list's delayed by less than a frame (by `S - F0`, or the audio's head, and a few ticks).

#![deny(unsafe_code)]

use crate::output::fmp4::SampleMeta;

/// Squeezes the hidden lead of a first video segment (see the module documentation): `tfdt` is
/// its first sample's decode time, `presented_from` the media time presented at 0 (the edit
/// list's), `before` how long (ticks) before 0 the other tracks start presenting (the hidden
/// head of their first audio frame): the lead is presented before that too. Rewrites `metas` (durations and composition offsets only) and returns the `tfdt` to
/// write; leaves them as they are (returning `tfdt`) when nothing is presented before the
/// picture shown at `presented_from`.
pub(crate) fn squeeze(tfdt: u64, presented_from: u64, before: u64, metas: &mut [SampleMeta]) -> u64 {
    let n = metas.len();
    let mut dts = Vec::with_capacity(n);
    let mut at = tfdt as i64;
    for m in metas.iter() {
        dts.push(at);
        at += i64::from(m.duration);
    }
    let end = at;
    let pts: Vec<i64> = metas.iter().zip(&dts).map(|(m, &d)| d + i64::from(m.composition_offset)).collect();
    let from = presented_from as i64;
    // The picture shown at `from`, and the samples presented before it.
    let Some(shown) = pts.iter().copied().filter(|&p| p <= from).max() else { return tfdt };
    let mut hidden: Vec<usize> = (0..n).filter(|&i| pts[i] < shown).collect();
    let Some(&last) = hidden.iter().max() else { return tfdt };
    hidden.sort_by_key(|&i| (pts[i], i));
    let k = hidden.len() as i64;
    let mut new_pts = pts.clone();
    let below = shown.min(from - before as i64);
    for (rank, &i) in hidden.iter().enumerate() {
        new_pts[i] = below - k + rank as i64;
    }
    // Decode times: up to `last`, one tick apart and as late as `limit` and every presentation
    // allow; after it, their own (pushed one tick past the previous where the squeezed ones
    // reach them). `limit`: the latest decode time of `last` that keeps every later sample
    // decoded before it is presented and the segment's last before its end.
    let mut limit = end - 1 - (n - 1 - last) as i64;
    for (j, &p) in new_pts.iter().enumerate().skip(last + 1) {
        limit = limit.min(p - (j - last) as i64);
    }
    let mut new_dts = vec![0i64; n];
    let mut next = limit.saturating_add(1);
    for i in (0..=last).rev() {
        new_dts[i] = new_pts[i].min(next - 1);
        next = new_dts[i];
    }
    for i in last + 1..n {
        new_dts[i] = dts[i].max(new_dts[i - 1] + 1);
        if new_dts[i] > new_pts[i] {
            return tfdt; // decoded after it is presented in the source: left as it is
        }
    }
    if new_dts[0] < 0 {
        return tfdt;
    }
    let mut timing = Vec::with_capacity(n);
    for i in 0..n {
        let next = if i + 1 < n { new_dts[i + 1] } else { end };
        match (u32::try_from(next - new_dts[i]), i32::try_from(new_pts[i] - new_dts[i])) {
            (Ok(duration), Ok(cto)) if duration > 0 && cto >= 0 => timing.push((duration, cto)),
            _ => return tfdt,
        }
    }
    for (m, (duration, cto)) in metas.iter_mut().zip(timing) {
        m.duration = duration;
        m.composition_offset = cto;
    }
    new_dts[0] as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(duration: u32, cto: i32, sync: bool) -> SampleMeta {
        SampleMeta { size: 1, duration, composition_offset: cto, sync }
    }

    /// Decode and presentation times of `metas` from `tfdt`.
    fn times(tfdt: u64, metas: &[SampleMeta]) -> Vec<(i64, i64)> {
        let mut at = tfdt as i64;
        metas
            .iter()
            .map(|m| {
                let t = (at, at + i64::from(m.composition_offset));
                at += i64::from(m.duration);
                t
            })
            .collect()
    }

    #[test]
    fn the_lead_is_squeezed_before_the_picture_at_the_start_and_the_rest_is_unchanged() {
        // 100 ticks a frame, a B-pyramid (I0 P4 B2 b1 b3 P8 B6 b5 b7 ...) with a reorder delay
        // of two frames: composition offsets in frames, in decode order.
        let ctos = [2, 5, 2, 0, 1, 5, 2, 0, 1, 5, 2, 0, 1];
        let metas: Vec<SampleMeta> = ctos.iter().enumerate().map(|(i, &c)| meta(100, c * 100, i == 0)).collect();
        let before = times(0, &metas);
        // Presented from 850: the picture at 800 (B6) is shown at 0 through the edit list; I0 P4
        // B2 b1 b3 b5 are hidden, b5 decoded after P8 and B6.
        let mut after = metas.clone();
        let tfdt = squeeze(0, 850, 0, &mut after);
        let now = times(tfdt, &after);
        let shown = 800;
        let hidden: Vec<usize> = (0..before.len()).filter(|&i| before[i].1 < shown).collect();
        assert_eq!(hidden.len(), 6);
        for (i, (b, a)) in before.iter().zip(&now).enumerate() {
            assert!(a.0 <= a.1, "sample {i} decoded at {} after it is presented at {}", a.0, a.1);
            if hidden.contains(&i) {
                assert!(a.1 < shown && a.1 >= shown - 6, "hidden sample {i} presented at {}", a.1);
            } else {
                assert_eq!(a.1, b.1, "sample {i} moved");
            }
        }
        // Presentation order kept, decode order strictly increasing, the same end.
        let mut order: Vec<usize> = (0..now.len()).collect();
        order.sort_by_key(|&i| before[i].1);
        assert!(order.windows(2).all(|w| now[w[0]].1 < now[w[1]].1));
        assert!(now.windows(2).all(|w| w[0].0 < w[1].0));
        let end = |t: &[(i64, i64)], m: &[SampleMeta]| t.last().unwrap().0 + i64::from(m.last().unwrap().duration);
        assert_eq!(end(&now, &after), end(&before, &metas));
        // The first decode time a few ticks before the picture shown at the start.
        assert!((780..800).contains(&tfdt), "tfdt {tfdt}");
        assert!(after.iter().zip(&metas).all(|(a, m)| a.size == m.size && a.sync == m.sync));
    }

    #[test]
    fn the_lead_goes_before_what_other_tracks_present_before_the_start() {
        let ctos = [2, 5, 2, 0, 1, 5, 2, 0, 1, 5, 2, 0, 1];
        let metas: Vec<SampleMeta> = ctos.iter().enumerate().map(|(i, &c)| meta(100, c * 100, i == 0)).collect();
        // Presented from 850, the picture at 800 shown at 0. Audio presenting from 820 (30
        // before 850): the lead stays just before 800; from 780 (70 before): before 780.
        for (before, below) in [(30, 800), (70, 780)] {
            let mut after = metas.clone();
            let tfdt = squeeze(0, 850, before, &mut after);
            let now = times(tfdt, &after);
            let lead: Vec<i64> = now.iter().map(|t| t.1).filter(|&p| p < 800).collect();
            assert_eq!(lead.len(), 6);
            assert!(lead.iter().all(|&p| (below - 6..below).contains(&p)), "{before}: {lead:?}");
            assert!(now.windows(2).all(|w| w[0].0 < w[1].0) && now.iter().all(|t| t.0 <= t.1));
            assert!((below - 20..below - 6).contains(&(tfdt as i64)), "{before}: tfdt {tfdt}");
        }
    }

    #[test]
    fn a_sample_decoded_after_it_is_presented_leaves_the_segment_as_it_is() {
        // The last picture is presented before it is decoded (a negative composition offset).
        let mut metas: Vec<SampleMeta> = (0..6).map(|i| meta(100, 100, i == 0)).collect();
        metas[5].composition_offset = -100;
        let before = metas.clone();
        assert_eq!(squeeze(1000, 1350, 0, &mut metas), 1000);
        assert_eq!(metas, before);
    }

    #[test]
    fn nothing_before_the_start_changes_nothing() {
        let metas: Vec<SampleMeta> = (0..5).map(|i| meta(100, 100, i == 0)).collect();
        let mut after = metas.clone();
        assert_eq!(squeeze(0, 100, 0, &mut after), 0);
        assert_eq!(after, metas);
        assert_eq!(squeeze(0, 50, 0, &mut after), 0);
        assert_eq!(after, metas);
    }
}
