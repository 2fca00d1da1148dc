//! Segmenting: where every rendition is cut. The main track (the first served video, else the
//! first served audio) is cut at keyframes near the target duration; every other track follows
//! its boundaries (audio by frame midpoint, transcoded audio on exact AAC frames), so renditions
//! stay aligned. Everything here works on the samples collected at indexing: records in memory,
//! or an MP4 track's sample tables read on demand (through `collect::Times`: the main video cut
//! on times and sync flags, a copied audio track on its decode times), whose records are built a
//! segment at a time when first read.

#![deny(unsafe_code)]

use super::collect::{Collected, Times};
use crate::codec::Codec;
use crate::container::mp4::LazySamples;
use crate::model::aac::AacTarget;
use crate::model::segment::{SampleRec, SampleTable, Segment};
use crate::model::time::{rescale, rescale_ceil, rescale_floor, TimeMap};
use crate::model::track::{Delivery, RangeSeek, SampleReader, Track, TrackKind};
use crate::output::fmp4;

/// Drops leading audio samples that end at or before time 0 (encoder priming that the source's
/// edit list hides entirely); a frame that is partly presented stays.
pub(crate) fn drop_priming(c: &mut Collected) {
    if let Some(lazy) = &mut c.lazy {
        // The same rule, on the samples read one by one (priming is a few frames).
        let n = lazy.len();
        let ends_by_zero = |i: usize| {
            let dts = lazy.dts(i);
            let next = if i + 1 < n { lazy.dts(i + 1) } else { c.end_dts.unwrap_or(dts) };
            dts < 0 && dts + (next - dts) <= 0
        };
        let k = (0..n).take_while(|&i| ends_by_zero(i)).count();
        if k > 0 && k < n {
            lazy.skip(k);
        }
        return;
    }
    let n = c.samples.len();
    let ends_by_zero = |i: usize| {
        let s = c.samples[i];
        let next = if i + 1 < n { c.samples[i + 1].dts } else { c.end_dts.unwrap_or(s.dts) };
        s.pts() < 0 && s.pts() + (next - s.dts) <= 0
    };
    let k = (0..n).take_while(|&i| ends_by_zero(i)).count();
    if k > 0 && k < n {
        c.samples.drain(..k);
    }
}

/// Shifts every fMP4 track by the same amount `C`: the smallest that makes every decode time
/// non-negative (see `model::time`). A video track writes only the part of `C` that its own first
/// decode time needs (the rest is [`TimeMap::held`]), so that its edit list never removes more
/// than its first frame's composition offset: players that ignore edit lists (hls.js) would
/// otherwise start it before 0, and MSE drops the first GOP.
pub(crate) fn apply_shared_shift(tracks: &mut [Track], collected: &[Collected]) {
    // The most negative first decode time, as (ticks, timescale) of its own track.
    let mut worst: (i64, u32) = (0, 1);
    let mut own = vec![0i64; tracks.len()];
    for (n, (t, c)) in tracks.iter().zip(collected).enumerate() {
        let Some(first) = c.first().filter(|_| t.is_fmp4()) else { continue };
        let ticks = t.map.clip_ticks(first.dts.min(first.pts()));
        own[n] = (-ticks).max(0);
        if ticks < 0 && (-ticks) as f64 / t.map.timescale as f64 > worst.0 as f64 / worst.1 as f64 {
            worst = (-ticks, t.map.timescale);
        }
    }
    for (t, own) in tracks.iter_mut().zip(own) {
        // Round up so that no track's first decode time stays negative.
        t.map.shift = rescale_ceil(worst.0, t.map.timescale as i64, worst.1 as i64);
        t.map.held = if t.kind == TrackKind::Video { (t.map.shift - own).max(0) } else { 0 };
    }
}

/// Cuts the main track at keyframes near the target and returns the shared boundaries. `exact`:
/// the demuxer's timestamps are exact (see [`SampleReader::Demuxer`]). Samples read from MP4
/// sample tables on demand are cut on their times and sync flags alone, and their records are
/// built a segment at a time when first read.
pub(crate) fn cut_main(track: &mut Track, mut c: Collected, target_us: i64, exact: bool) -> Vec<i64> {
    if let Some(lazy) = c.lazy.take() {
        let (bounds, cuts) = cut_on(track, &lazy, c.end_dts, target_us);
        track.reader = SampleReader::ByPosition { table: SampleTable::lazy(lazy, cuts) };
        return bounds;
    }
    let map = track.map;
    let (bounds, _) = cut_on(track, c.samples.as_slice(), c.end_dts, target_us);
    let decode_ts = c.synthesized.then(|| c.samples.iter().map(|s| s.dts).collect());
    // A transcoded main track (audio-only file) is cut on AAC frames within the same bounds.
    if let Delivery::Transcode { target, .. } = &track.delivery {
        track.segments = transcode_segments(&map, &c, &bounds, target);
    }
    track.reader = reader(track, c.samples, c.direct, decode_ts, exact);
    bounds
}

/// [`cut_main`]'s cutting: the segments of `track` (and whether they are independent) from its
/// samples' times and sync flags; returns the boundaries and the first sample of each segment.
fn cut_on<R: Times + ?Sized>(
    track: &mut Track,
    samples: &R,
    end_dts: Option<i64>,
    target_us: i64,
) -> (Vec<i64>, Vec<usize>) {
    let n = samples.len();
    let map = track.map;
    // Boundaries use the output decode timeline (shifted dts), in µs: the same times EXTINF sums.
    // Boundaries are the keyframes' presentation times: what players align renditions on.
    let time = |i: usize| map.out_us(samples.pts(i));
    let end_dts = end_dts.unwrap_or_else(|| if n > 0 { samples.dts(n - 1) + 1 } else { 0 });
    let sync = samples.key_indices(0);
    let delay = sync.first().map_or(0, |&i| samples.pts(i) - samples.dts(i));
    let end_us = map.out_us(end_dts + delay);
    let first_key = sync.first().copied().unwrap_or(0);
    let keys: Vec<usize> = if track.kind == TrackKind::Audio { (first_key..n).collect() } else { sync };
    let key_times: Vec<i64> = keys.iter().map(|&i| time(i)).collect();
    let cuts: Vec<usize> = if cuts_at_clean_keyframes(track) {
        let clean: Vec<bool> = keys.iter().map(|&i| !has_leading_pictures(samples, i)).collect();
        let (cuts, all_clean) = choose_clean_cuts(&key_times, &clean, end_us, target_us);
        // Every segment starts where decoding can start: the segments are independent.
        track.independent = all_clean;
        if !all_clean {
            log::warn!("{}", OPEN_GOP_FALLBACK);
        }
        cuts.into_iter().map(|j| keys[j]).collect()
    } else {
        choose_cuts(&key_times, end_us, target_us).into_iter().map(|j| keys[j]).collect()
    };
    // A segment's boundary is its earliest presentation time (with open GOPs, leading pictures
    // that follow the keyframe in decode order are shown before it).
    let mut bounds: Vec<i64> = cuts
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            let stop = cuts.get(k + 1).copied().unwrap_or(n);
            let earliest = samples.min_pts(i..stop).unwrap_or(samples.pts(i));
            map.out_us(earliest)
        })
        .collect();
    bounds.push(end_us.max(bounds.last().copied().unwrap_or(0) + 1));
    let mut segs = Vec::with_capacity(cuts.len());
    for (k, &start) in cuts.iter().enumerate() {
        let (stop, end) = match cuts.get(k + 1) {
            Some(&next) => (next, samples.dts(next)),
            None => (n, end_dts),
        };
        segs.push(make_segment(&map, samples, start, stop, end));
    }
    track.segments = segs;
    (bounds, cuts)
}

/// How the segments of `track`, cut from `samples`, are read (see [`SampleReader`]). A table
/// segments are read from is the samples themselves (moved, not copied).
fn reader(
    track: &Track,
    samples: Vec<SampleRec>,
    direct: bool,
    decode_ts: Option<Vec<i64>>,
    exact: bool,
) -> SampleReader {
    match &track.delivery {
        Delivery::Transcode { .. } if exact => SampleReader::DemuxerRange { seek: RangeSeek::Exact },
        Delivery::Transcode { .. } => SampleReader::DemuxerRange { seek: RangeSeek::Anchored { table: kept(samples) } },
        _ if direct => SampleReader::ByPosition { table: kept(samples) },
        _ => SampleReader::Demuxer { exact, decode_ts },
    }
}

/// The cut rule: from the first key, each segment ends at the last keyframe within the target
/// duration (or at the next one when none is). `key_times` are the keyframes' presentation
/// times in µs, ascending; returns the indices of the keyframes that start segments.
pub(crate) fn choose_cuts(key_times: &[i64], end_us: i64, target_us: i64) -> Vec<usize> {
    let mut cuts = vec![0];
    let mut k = 1;
    while k < key_times.len() {
        let start = key_times[*cuts.last().unwrap_or(&0)];
        if end_us - start <= target_us {
            break;
        }
        let mut j = k;
        while j < key_times.len() && key_times[j] - start <= target_us {
            j += 1;
        }
        let pick = if j > k { j - 1 } else { k };
        cuts.push(pick);
        k = pick + 1;
    }
    cuts
}

/// Whether the main track is cut only at keyframes without leading pictures where it can be:
/// H.264 with open GOPs (an I picture with a recovery point, whose leading B pictures reference
/// the previous GOP). A player that starts decoding at such an I picture (after a seek, at a
/// segment start) gets those leading pictures undecodable, and Chromium's pipeline stops on
/// them (`PIPELINE_ERROR_DECODE`) in every MSE player. HEVC needs no such care: a CRA's leading
/// pictures are RASL pictures, which decoders skip when they start at the CRA.
pub(crate) fn cuts_at_clean_keyframes(track: &Track) -> bool {
    track.kind == TrackKind::Video
        && !track.independent
        && matches!(&track.delivery, Delivery::Copy { config, .. } if config.codec == Codec::H264)
}

/// Whether keyframe `key` has leading pictures: samples after it in decode order (before the
/// next keyframe) that are presented before it.
pub(crate) fn has_leading_pictures<R: Times + ?Sized>(samples: &R, key: usize) -> bool {
    let pts = samples.pts(key);
    (key + 1..samples.len()).take_while(|&i| !samples.key(i)).any(|i| samples.pts(i) < pts)
}

/// Logged when some open-GOP segment had to start at an I picture with leading pictures.
pub(crate) const OPEN_GOP_FALLBACK: &str = "open GOPs with no keyframe free of leading pictures within 3x the target \
     duration: some segments start at an open-GOP I picture, and a player seeking into them may not decode its leading pictures";

/// How much longer than the target a segment may grow to end at a clean keyframe (see
/// [`choose_clean_cuts`]).
pub(crate) const CLEAN_CUT_SPAN: i64 = 3;

/// [`choose_cuts`] restricted to the `clean` keyframes (those without leading pictures): each
/// segment ends at the last clean keyframe within the target duration, else at the first clean
/// one within [`CLEAN_CUT_SPAN`] times the target (or at the end, when that is as near); only
/// when there is none, at a keyframe by the ordinary rule. Returns the cuts and whether every
/// cut after the first is at a clean keyframe. With every keyframe clean, the cuts are
/// [`choose_cuts`]'s.
pub(crate) fn choose_clean_cuts(key_times: &[i64], clean: &[bool], end_us: i64, target_us: i64) -> (Vec<usize>, bool) {
    let max_us = target_us.saturating_mul(CLEAN_CUT_SPAN);
    let mut cuts = vec![0];
    let mut all_clean = true;
    let mut k = 1;
    while k < key_times.len() {
        let start = key_times[*cuts.last().unwrap_or(&0)];
        if end_us - start <= target_us {
            break;
        }
        let within = |j: usize| key_times[j] - start <= target_us;
        let pick = if let Some(j) = (k..key_times.len()).take_while(|&j| within(j)).filter(|&j| clean[j]).last() {
            j
        } else if let Some(j) = (k..key_times.len()).take_while(|&j| key_times[j] - start <= max_us).find(|&j| clean[j])
        {
            j
        } else if end_us - start <= max_us {
            break;
        } else {
            // No clean keyframe near: the ordinary rule.
            let mut j = k;
            while j < key_times.len() && within(j) {
                j += 1;
            }
            let pick = if j > k { j - 1 } else { k };
            all_clean &= clean[pick];
            pick
        };
        cuts.push(pick);
        k = pick + 1;
    }
    (cuts, all_clean)
}

fn make_segment<R: Times + ?Sized>(map: &TimeMap, all: &R, first: usize, stop: usize, src_end: i64) -> Segment {
    let count = stop - first;
    let src_start = all.dts(first);
    let out_start = map.out(src_start).max(0) as u64;
    let out_end = map.out(src_end).max(0) as u64;
    Segment {
        src_start,
        src_end,
        samples: count as u32,
        first: first as u32,
        start_pts: all.pts(first),
        out_start,
        out_duration: out_end.saturating_sub(out_start),
        bytes: all.bytes(first..stop) + fmp4::media_segment_overhead(count) as u64,
        cluster: 0,
    }
}

/// Cuts a non-main fMP4 track on the main track's boundaries (`exact` as for [`cut_main`]).
pub(crate) fn segment_follower(track: &mut Track, c: Collected, bounds: &[i64], exact: bool) {
    if let Delivery::Transcode { target, .. } = &track.delivery {
        track.segments = transcode_segments(&track.map, &c, bounds, target);
        track.reader = reader(track, c.samples, c.direct, None, exact);
        return;
    }
    // The shared shift makes every decode time >= 0; anything still below is dropped (in place:
    // nothing is moved when nothing is dropped).
    let map = track.map;
    if let Some(lazy) = c.lazy {
        follow_lazy(track, lazy, c.end_dts, bounds, exact);
        return;
    }
    let mut samples = c.samples;
    samples.retain(|s| map.out(s.dts) >= 0);
    if samples.is_empty() {
        return;
    }
    follow_built(track, samples, c.end_dts, bounds, c.direct, exact);
}

/// [`segment_follower`] once the samples below the shared shift are dropped.
fn follow_built(
    track: &mut Track,
    samples: Vec<SampleRec>,
    end_dts: Option<i64>,
    bounds: &[i64],
    direct: bool,
    exact: bool,
) {
    let map = track.map;
    let end_dts = end_dts.unwrap_or(samples[samples.len() - 1].dts + 1);
    // Sample i goes to the segment whose interval holds its midpoint (so boundaries follow the
    // main track's within one audio frame). Bounds are converted to this track's ticks once, and
    // samples (in order) advance one cursor: no per-sample division or search.
    let inner: Vec<i64> = bounds[1..bounds.len() - 1].iter().map(|&b| map.us_to_ticks(b)).collect();
    let mut k = 0usize;
    let mut start = 0usize;
    let mut segs = Vec::new();
    for i in 0..samples.len() {
        let s = &samples[i];
        let next = samples.get(i + 1).map_or(end_dts, |n| n.dts);
        let mid = map.out(s.pts()) + (map.out(next) - map.out(s.dts)) / 2;
        let mut seg = k;
        while seg < inner.len() && inner[seg] <= mid {
            seg += 1;
        }
        if seg != k && i > start {
            segs.push(make_segment(&map, samples.as_slice(), start, i, s.dts));
            start = i;
        }
        k = seg;
    }
    segs.push(make_segment(&map, samples.as_slice(), start, samples.len(), end_dts));
    track.segments = segs;
    track.reader = reader(track, samples, direct, None, exact);
}

/// [`follow_built`] on samples read from the sample tables on demand (a copied audio track
/// whose every sample is a sync sample, decode time = presentation time): the same segments
/// and records, found without building the samples. Decode times do not decrease, so the
/// samples below the shared shift are a prefix and each sample's midpoint grows with its
/// index: each boundary's first sample is found by a search, and a segment's bytes are summed
/// from the size table. Its records are built when the segment is first read.
fn follow_lazy(track: &mut Track, mut s: LazySamples, end_dts: Option<i64>, bounds: &[i64], exact: bool) {
    let map = track.map;
    let below = partition(0, s.len(), |i| map.out(s.dts(i)) >= 0);
    s.skip(below);
    let n = s.len();
    if n == 0 {
        return;
    }
    let last = s.dts(n - 1);
    let end_dts = end_dts.unwrap_or(last + 1);
    let inner: Vec<i64> = bounds[1..bounds.len() - 1].iter().map(|&b| map.us_to_ticks(b)).collect();
    if end_dts < last || inner.windows(2).any(|w| w[0] > w[1]) {
        // Midpoints or boundaries out of order: the sample-by-sample rule decides.
        follow_built(track, s.to_vec(), Some(end_dts), bounds, true, exact);
        return;
    }
    let mid = |i: usize| {
        let dts = s.dts(i);
        let next = if i + 1 < n { s.dts(i + 1) } else { end_dts };
        map.out(dts) + (map.out(next) - map.out(dts)) / 2
    };
    // The first sample of each segment: where the midpoint reaches a boundary (searched from
    // the previous one, one segment's worth of samples further first).
    let mut firsts = vec![0usize];
    let (mut at, mut gap) = (0usize, 1usize);
    for &b in &inner {
        let i = partition_near(at, n, at + gap, |i| mid(i) >= b);
        if i > at && i < n {
            gap = (i - at).max(1);
            firsts.push(i);
        }
        at = at.max(i);
    }
    let mut segs = Vec::with_capacity(firsts.len());
    for (k, &start) in firsts.iter().enumerate() {
        let stop = firsts.get(k + 1).copied().unwrap_or(n);
        let src_start = s.dts(start);
        let src_end = if stop < n { s.dts(stop) } else { end_dts };
        let out_start = map.out(src_start).max(0) as u64;
        let out_end = map.out(src_end).max(0) as u64;
        let count = stop - start;
        segs.push(Segment {
            src_start,
            src_end,
            samples: count as u32,
            first: start as u32,
            start_pts: src_start,
            out_start,
            out_duration: out_end.saturating_sub(out_start),
            bytes: s.bytes(start..stop) + fmp4::media_segment_overhead(count) as u64,
            cluster: 0,
        });
    }
    track.segments = segs;
    track.reader = SampleReader::ByPosition { table: SampleTable::lazy(s, firsts) };
}

/// The first `i` in `lo..hi` for which `f` holds (`hi` when none), `f` false then true.
fn partition(mut lo: usize, mut hi: usize, f: impl Fn(usize) -> bool) -> usize {
    while lo < hi {
        let m = lo + (hi - lo) / 2;
        if f(m) {
            hi = m;
        } else {
            lo = m + 1;
        }
    }
    lo
}

/// [`partition`] of `lo..hi`, searched outwards from `guess` first (cheap when the answer is
/// near it).
fn partition_near(lo: usize, hi: usize, guess: usize, f: impl Fn(usize) -> bool) -> usize {
    let g = guess.clamp(lo, hi);
    let (mut a, mut b) = (lo, hi);
    let mut step = 1usize;
    if g < hi && !f(g) {
        // The answer is after `g`.
        a = g + 1;
        loop {
            let c = a.saturating_add(step - 1);
            if c >= hi {
                break;
            }
            if f(c) {
                b = c;
                break;
            }
            a = c + 1;
            step *= 2;
        }
    } else {
        // The answer is at or before `g`.
        b = g;
        loop {
            if b < lo + step {
                break;
            }
            let c = b - step;
            if !f(c) {
                a = c + 1;
                break;
            }
            b = c;
            step *= 2;
        }
    }
    partition(a, b, f)
}

/// Frame-aligned AAC segments for a transcoded track, one per boundary interval. Frame k covers
/// source samples [k*1024, (k+1)*1024) (source time k*1024/rate); its output time adds the shift.
pub(crate) fn transcode_segments(map: &TimeMap, c: &Collected, bounds: &[i64], target: &AacTarget) -> Vec<Segment> {
    let rate = target.sample_rate as i64;
    // Output µs minus source µs (the shift, less a clip's start).
    let c_us = map.ticks_to_us(map.shift) - map.ticks_to_us(map.cut);
    let per_frame = 1_000_000 * crate::codec::aac::FRAME_SAMPLES as i64;
    let first_us = c.samples.first().map_or(0, |s| map.us(s.pts())).max(bounds[0] - c_us).max(0);
    let end_us = c.end_dts.map_or(0, |e| map.us(e)).min(bounds.last().copied().unwrap_or(0) - c_us);
    if end_us <= first_us {
        return Vec::new();
    }
    let mut frames: Vec<i64> = vec![rescale_floor(first_us, rate, per_frame)];
    for &b in &bounds[1..bounds.len() - 1] {
        let f = rescale(b - c_us, rate, per_frame);
        if b - c_us > first_us && b - c_us < end_us && f > frames[frames.len() - 1] {
            frames.push(f);
        }
    }
    let last = rescale_ceil(end_us, rate, per_frame);
    frames.push(last.max(frames[frames.len() - 1] + 1));
    let bytes_per_frame = (target.bitrate as u64 * crate::codec::aac::FRAME_SAMPLES / rate as u64) / 8;
    frames
        .windows(2)
        .map(|w| {
            let n = (w[1] - w[0]) as u64;
            Segment {
                src_start: map.from_us(w[0] * per_frame / rate),
                src_end: map.from_us(w[1] * per_frame / rate),
                samples: n as u32,
                first: 0,
                start_pts: 0,
                out_start: (w[0] * crate::codec::aac::FRAME_SAMPLES as i64 - map.cut + map.shift).max(0) as u64,
                out_duration: n * crate::codec::aac::FRAME_SAMPLES,
                // Honest headroom: AAC's instantaneous rate can exceed the nominal rate by ~20%.
                bytes: n * bytes_per_frame * 6 / 5 + fmp4::media_segment_overhead(n as usize) as u64,
                cluster: 0,
            }
        })
        .collect()
}

/// A sample list kept for the media's lifetime: spare capacity (samples dropped by an edit list,
/// priming or a clip) is given back.
fn kept(mut samples: Vec<SampleRec>) -> SampleTable {
    samples.shrink_to_fit();
    samples.into()
}

#[cfg(test)]
mod tests {
    use super::{choose_clean_cuts, choose_cuts};

    #[test]
    fn cuts_at_the_last_keyframe_within_the_target() {
        // Keyframes every 2 s, target 6 s: segments of 6 s, the last one shorter.
        let keys: Vec<i64> = (0..10).map(|k| k * 2_000_000).collect();
        assert_eq!(choose_cuts(&keys, 20_000_000, 6_000_000), vec![0, 3, 6, 9]);
        // Irregular GOPs: the last keyframe within 6 s of each segment start.
        let keys = [0, 2_500_000, 5_900_000, 6_100_000, 11_000_000, 12_500_000];
        assert_eq!(choose_cuts(&keys, 15_000_000, 6_000_000), vec![0, 2, 4]);
        // A GOP longer than the target: the next keyframe, never an empty segment.
        let keys = [0, 9_000_000, 10_000_000];
        assert_eq!(choose_cuts(&keys, 20_000_000, 6_000_000), vec![0, 1, 2]);
        // Everything fits in one segment.
        assert_eq!(choose_cuts(&[0, 1_000_000, 2_000_000], 5_000_000, 6_000_000), vec![0]);
        assert_eq!(choose_cuts(&[0], 60_000_000, 6_000_000), vec![0]);
    }

    #[test]
    fn open_gop_cuts_prefer_keyframes_without_leading_pictures() {
        let keys: Vec<i64> = (0..10).map(|k| k * 2_000_000).collect();
        // Every keyframe clean: the ordinary cuts.
        let all = vec![true; keys.len()];
        assert_eq!(
            choose_clean_cuts(&keys, &all, 20_000_000, 6_000_000),
            (choose_cuts(&keys, 20_000_000, 6_000_000), true)
        );
        // h264_opengop.mkv: clean keyframes at 0, 6 and 10 s only; the rest (10-20 s) is one
        // segment rather than one starting at an open keyframe.
        let clean = [true, false, false, true, false, true, false, false, false, false];
        assert_eq!(choose_clean_cuts(&keys, &clean, 20_000_000, 6_000_000), (vec![0, 3, 5], true));
        // No clean keyframe within 3 x 6 s: the ordinary rule, and the cuts are not all clean.
        let clean = [true, false, false, false, false, false, false, false, false, false];
        let keys: Vec<i64> = (0..10).map(|k| k * 5_000_000).collect();
        assert_eq!(choose_clean_cuts(&keys, &clean, 50_000_000, 6_000_000), (vec![0, 1, 2, 3, 4, 5, 6, 7], false));
    }
}
