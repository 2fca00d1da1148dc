//! Edit lists: the `elst` box, the supported plans ([`EditPlan`]: empty edits followed by one
//! edit with a media time ≥ 0), and FFmpeg's `mov_fix_index` applying one to a track's samples
//! ([`FixIndex`]).

use super::boxes::{be32, be64};
use super::lazy::{Offsets, SampleAt};
use super::sample_entry::Kind;
use crate::container::sample::SampleRec as Mp4Sample;
use crate::error::{ParseError, ParseResult};
use crate::util::time::rescale_i128;

/// An edit's media time that marks an empty edit.
const EMPTY_EDIT: i64 = -1;

/// The supported edit lists: empty edits (summed) followed by one edit with media time ≥ 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct EditPlan {
    /// Sum of the leading empty edits, in the track timescale.
    empty: i64,
    /// Media time of the edit, in the track timescale.
    media_time: i64,
    /// Duration of the edit, in the track timescale.
    duration: i64,
}

/// FFmpeg's `av_rescale` (round to nearest, halves away from zero) of a non-negative value,
/// saturated at `i64::MAX`.
fn rescale(a: u64, b: u32, c: u32) -> i64 {
    i64::try_from(rescale_i128(a.into(), b.into(), c.into())).unwrap_or(i64::MAX)
}

impl EditPlan {
    /// The plan of the `elst` payload `elst` (`None`: no edit list); an error for an edit list
    /// this reader leaves to FFmpeg.
    pub(super) fn parse(elst: Option<&[u8]>, movie_ts: Option<u32>, track_ts: u32) -> ParseResult<Option<Self>> {
        let Some(b) = elst else { return Ok(None) };
        let edits = parse_elst(b)?;
        if edits.is_empty() {
            return Ok(None);
        }
        let movie_ts = movie_ts.ok_or_else(|| ParseError::new("unsupported edit list (no mvhd before the track)"))?;
        Self::from_edits(&edits, movie_ts, track_ts).map(Some)
    }

    /// FFmpeg's `time_offset` of the plan: the edit's media time minus the leading empty edits
    /// (what movie fragment times are shifted by: a fragment sample at media time `media_time`
    /// is presented at the end of the empty edits).
    pub(super) fn time_offset(&self) -> i64 {
        self.media_time.saturating_sub(self.empty)
    }

    /// The plan of `edits` ((segment duration in `movie_ts`, media time in `track_ts`)).
    fn from_edits(edits: &[(u64, i64)], movie_ts: u32, track_ts: u32) -> ParseResult<Self> {
        let unsupported = || ParseError::new("unsupported edit list");
        let (last, empties) = edits.split_last().ok_or_else(unsupported)?;
        if last.1 < 0 || empties.iter().any(|e| e.1 != EMPTY_EDIT) {
            return Err(unsupported());
        }
        let mut empty = 0i64;
        for e in empties {
            empty = empty.checked_add(rescale(e.0, track_ts, movie_ts)).ok_or_else(unsupported)?;
        }
        let mut duration = rescale(last.0, track_ts, movie_ts);
        if duration as u64 + last.1 as u64 > i64::MAX as u64 {
            duration = 0;
        }
        if empty.checked_add(duration).is_none_or(|end| end == i64::MAX) {
            return Err(unsupported());
        }
        Ok(EditPlan { empty, media_time: last.1, duration })
    }
}

/// elst v0/v1 entries as (segment duration, media time).
fn parse_elst(b: &[u8]) -> ParseResult<Vec<(u64, i64)>> {
    let version = *b.first().ok_or_else(|| ParseError::new("corrupt elst"))?;
    let entry_size = if version == 1 { 20 } else { 12 };
    let declared = u64::from(be32(b, 4).ok_or_else(|| ParseError::new("corrupt elst"))?);
    let bytes = b.len().saturating_sub(8);
    // FFmpeg trusts the box size when the declared count does not match it.
    let count = if declared * entry_size as u64 == bytes as u64 { declared as usize } else { bytes / entry_size };
    let table = b.get(8..8 + count * entry_size).unwrap_or(&[]);
    let mut edits = Vec::with_capacity(count);
    for e in table.chunks_exact(entry_size) {
        let edit = if version == 1 {
            (be64(e, 0).unwrap_or(0), be64(e, 8).unwrap_or(0) as i64)
        } else {
            (u64::from(be32(e, 0).unwrap_or(0)), i64::from(be32(e, 4).unwrap_or(0) as i32))
        };
        if edit.0 > i64::MAX as u64 {
            return Err(ParseError::new("invalid edit list duration"));
        }
        edits.push(edit);
    }
    Ok(edits)
}

/// What `mov_fix_index` keeps of a track when one DTS delta applies to every kept sample (see
/// [`FixIndex::plan_one_delta`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct KeptRange {
    /// First kept input sample.
    pub(super) start: usize,
    /// One past the last kept input sample.
    pub(super) end: usize,
    /// Added to the decode (and presentation) time of every kept sample.
    pub(super) delta: i64,
    /// The DTS after the last kept sample.
    pub(super) end_dts: i64,
}

/// The times of a track's samples when its decode times are one `stts` run: sample `k` is
/// decoded at `first + k * step` (wrapping), has the composition offset `cto[k]` (0 past the
/// list) and is a sync sample when `key(k)`.
pub(super) struct DtsStep<'a, K: Fn(usize) -> bool> {
    pub(super) first: i64,
    pub(super) step: i64,
    pub(super) cto: &'a Offsets,
    pub(super) key: K,
}

/// Parameters of `mov_fix_index` for one track.
pub(super) struct FixIndex {
    /// The edit.
    pub(super) plan: EditPlan,
    /// The track's kind.
    pub(super) kind: Kind,
    /// A Vorbis track (no partial audio skip).
    pub(super) vorbis: bool,
    /// The DTS shift from negative composition offsets.
    pub(super) dts_shift: i64,
    /// The track timescale.
    pub(super) timescale: u32,
    /// Samples with a ctts offset, `None` without ctts.
    pub(super) cover: Option<usize>,
}

/// What the read-only pass over the samples finds.
///
/// Once the edit has started, FFmpeg's DTS counter advances by the old DTS differences, and the
/// samples discarded before the start are rewritten backwards from it: every kept sample gets
/// its old DTS plus a delta, which only an audio partial skip changes.
struct FixScan {
    /// First kept input sample.
    start: usize,
    /// One past the last kept input sample.
    end: usize,
    /// (first input sample, delta) pieces; empty when the edit never started (every kept
    /// sample then gets the initial counter as DTS).
    deltas: Vec<(usize, i64)>,
    /// Initial DTS counter: empty edits minus the DTS shift.
    counter: i64,
    /// FFmpeg's `min_corrected_pts`.
    min_pts: i64,
}

impl FixIndex {
    /// FFmpeg's `curr_ctts` of input sample `k`.
    #[inline]
    fn ctts_of(&self, s: &Mp4Sample, k: usize) -> i64 {
        match self.cover {
            Some(c) if k < c => i64::from(s.cto).wrapping_sub(self.dts_shift),
            _ => 0,
        }
    }

    /// Rewrites `samples` (DTS after the last one: `raw_end`) as `mov_fix_index` does;
    /// returns the DTS after the last kept sample.
    pub(super) fn apply(&self, samples: &mut Vec<Mp4Sample>, raw_end: i64) -> i64 {
        let scan = self.scan(samples.as_slice());
        let (start, end) = (scan.start, scan.end);
        let next = samples.get(end).map_or(raw_end, |s| s.dts);
        let last_duration = next.wrapping_sub(samples[end - 1].dts);
        let video_shift = scan.min_pts.wrapping_sub(self.plan.empty);
        let video_shift = if self.kind == Kind::Video && video_shift > 0 { video_shift } else { 0 };
        if scan.deltas.is_empty() {
            for k in start..end {
                samples[k - start] = samples[k].at_dts(scan.counter);
            }
        } else {
            rebase(samples, start, end, &scan.deltas, video_shift);
        }
        samples.truncate(end - start);
        samples.last().map_or(0, |s| s.dts.wrapping_add(last_duration))
    }

    /// What [`FixIndex::apply`] would do to `samples` (DTS after the last one: `raw_end`), when
    /// it adds one delta to every kept sample; `None` otherwise (several deltas, or an edit that
    /// never starts), for the caller to build and [`FixIndex::apply`] instead.
    pub(super) fn plan_one_delta<S: SampleAt + ?Sized>(&self, samples: &S, raw_end: i64) -> Option<KeptRange> {
        self.one_delta(samples, raw_end, self.scan(samples))
    }

    /// [`FixIndex::plan_one_delta`] of a video track without a DTS shift whose decode times are
    /// one `stts` run: `samples` (for the few samples looked up), `run` the same samples' times
    /// and sync flags, walked in one pass over the composition offsets.
    pub(super) fn plan_one_delta_run<S: SampleAt + ?Sized, K: Fn(usize) -> bool>(
        &self,
        samples: &S,
        run: &DtsStep<'_, K>,
        raw_end: i64,
    ) -> Option<KeptRange> {
        if self.kind != Kind::Video || self.dts_shift != 0 {
            return self.plan_one_delta(samples, raw_end);
        }
        self.one_delta(samples, raw_end, self.scan_run(samples, run))
    }

    /// [`FixIndex::scan`] for a video track without a DTS shift, on the times of `run`.
    fn scan_run<S: SampleAt + ?Sized, K: Fn(usize) -> bool>(&self, samples: &S, run: &DtsStep<'_, K>) -> FixScan {
        let (m, dur) = (self.plan.media_time, self.plan.duration);
        let edit_end = dur.saturating_add(m);
        let start = self.start_index(samples);
        let n = samples.count();
        let mut scan = FixScan { start, end: n, deltas: Vec::new(), counter: self.plan.empty, min_pts: -1 };
        let mut keyframe_after_edit = false;
        let mut delta: Option<i64> = None;
        let mut next_dts = run.first.wrapping_add((start as i64).wrapping_mul(run.step));
        let mut k = start;
        while k < n {
            if let Some(d) = delta {
                if let Some(end) = self.bulk_run(run, k, n, next_dts, d, &mut scan.min_pts) {
                    next_dts = next_dts.wrapping_add(((end - k) as i64).wrapping_mul(run.step));
                    k = end;
                    continue;
                }
            }
            let dts = next_dts;
            next_dts = dts.wrapping_add(run.step);
            // The record's offset (saturated as `mov_build_index` leaves it), for covered samples.
            let c = match (self.cover, run.cto.get(k)) {
                (Some(cover), Some(c)) if k < cover && c != 0 => {
                    i64::from(dts.saturating_add(i64::from(c)).wrapping_sub(dts) as i32)
                }
                _ => 0,
            };
            let cts = dts.wrapping_add(c);
            let fd = if k + 1 < n { run.step } else { dur };
            if cts >= m && cts < edit_end {
                let new_dts = delta.map_or(scan.counter, |d| dts.wrapping_add(d));
                let corrected = new_dts.wrapping_add(c);
                scan.min_pts = if scan.min_pts < 0 { corrected } else { scan.min_pts.min(corrected) };
                if delta.is_none() {
                    delta = Some(new_dts.wrapping_sub(dts));
                    scan.deltas.push((k, new_dts.wrapping_sub(dts)));
                }
            }
            if cts.saturating_add(fd) >= edit_end && (run.key)(k) {
                if self.cover.is_some() && !keyframe_after_edit {
                    keyframe_after_edit = true;
                    k += 1;
                    continue;
                }
                scan.end = k + 1;
                break;
            }
            k += 1;
        }
        scan
    }

    /// The samples from `k` (decoded at `dts`) of [`FixIndex::scan_run`]'s walk, once the edit
    /// has started (`delta`), taken a block at a time where that changes nothing: every sample
    /// of the block is presented inside the edit, lasts `step` (not the last sample), ends before
    /// the edit does, has its offset as listed (no time near the ends of the 64-bit range) and
    /// moves `min_pts` to a time ≥ 0. Then the only effect of the block, on `min_pts`, is
    /// applied and the block's end returned; `None`: the caller walks sample by sample.
    fn bulk_run<K: Fn(usize) -> bool>(
        &self,
        run: &DtsStep<'_, K>,
        k: usize,
        n: usize,
        dts: i64,
        delta: i64,
        min_pts: &mut i64,
    ) -> Option<usize> {
        const BLOCK: usize = 256;
        const SANE: i64 = 1 << 60;
        let end = (k + BLOCK).min(n - 1);
        if end <= k || run.step < 0 || run.step > i64::from(u32::MAX) {
            return None;
        }
        // (An empty list: every offset is 0.)
        let listed = match self.cover {
            Some(cover) if !run.cto.is_empty() => (end <= cover).then_some(k..end),
            Some(_) | None => None,
        };
        if listed.is_none() && !run.cto.is_empty() && self.cover.is_some() {
            return None;
        }
        let last = dts.checked_add(((end - 1 - k) as i64).checked_mul(run.step)?)?;
        let corrected = dts.checked_add(delta)?;
        if [dts, last, corrected, last.checked_add(delta)?].iter().any(|t| t.abs() >= SANE) {
            return None;
        }
        // The smallest offset, the largest, and the earliest of `j * step + offset`.
        let (mut lo, mut hi, mut first) = (0i64, 0i64, 0i64);
        if let Some(r) = listed {
            let init = (i64::MAX, i64::MIN, i64::MAX, 0i64);
            let step = run.step;
            let folded = run.cto.try_fold(r, init, |(lo, hi, first, t), c| {
                Ok::<_, ()>((lo.min(c), hi.max(c), first.min(t + c), t + step))
            });
            (lo, hi, first, _) = folded?.ok()?;
        }
        let (m, edit_end) = (self.plan.media_time, self.plan.duration.saturating_add(self.plan.media_time));
        let earliest = corrected + first;
        if dts + lo < m || last + hi + run.step >= edit_end || earliest < 0 {
            return None;
        }
        *min_pts = if *min_pts < 0 { earliest } else { (*min_pts).min(earliest) };
        Some(end)
    }

    /// The kept range of `scan` when one delta applies to every kept sample.
    fn one_delta<S: SampleAt + ?Sized>(&self, samples: &S, raw_end: i64, scan: FixScan) -> Option<KeptRange> {
        let (start, end) = (scan.start, scan.end);
        if scan.deltas.len() != 1 || start >= end {
            return None;
        }
        let next = if end < samples.count() { samples.at(end).dts } else { raw_end };
        let last = samples.at(end - 1).dts;
        let last_duration = next.wrapping_sub(last);
        let video_shift = scan.min_pts.wrapping_sub(self.plan.empty);
        let video_shift = if self.kind == Kind::Video && video_shift > 0 { video_shift } else { 0 };
        let delta = scan.deltas[0].1.wrapping_sub(video_shift);
        Some(KeptRange { start, end, delta, end_dts: last.wrapping_add(delta).wrapping_add(last_duration) })
    }

    /// The `mov_fix_index` loop, without writing: kept range, DTS deltas, `min_corrected_pts`.
    fn scan<S: SampleAt + ?Sized>(&self, samples: &S) -> FixScan {
        let (m, dur) = (self.plan.media_time, self.plan.duration);
        let edit_end = dur.saturating_add(m);
        let audio = self.kind == Kind::Audio;
        let start = self.start_index(samples);
        let n = samples.count();
        let counter = self.plan.empty.wrapping_sub(self.dts_shift);
        let mut scan = FixScan { start, end: n, deltas: Vec::new(), counter, min_pts: -1 };
        let mut keyframe_after_edit = false;
        // Audio without ctts has non-decreasing CTS: once the edit has started, nothing changes
        // until the break, which a binary search finds.
        let monotonic = audio && self.cover.is_none();
        // Each sample is read once: the next one's read for this one's duration is kept.
        let mut next = (start < n).then(|| samples.at(start));
        for k in start..n {
            let Some(cur) = next.take() else { break };
            let cur = &cur;
            let cts = cur.dts.wrapping_add(self.dts_shift).wrapping_add(self.ctts_of(cur, k));
            if monotonic && !scan.deltas.is_empty() && cts >= m {
                scan.end = self.audio_break(samples, k, edit_end) + 1;
                break;
            }
            next = (k + 1 < n).then(|| samples.at(k + 1));
            let fd = next.map_or(dur, |s| s.dts.wrapping_sub(cur.dts));
            self.step(&mut scan, k, cur, cts, fd);
            if cts.saturating_add(fd) >= edit_end && (cur.key() || audio) {
                if self.cover.is_some() && !audio && !keyframe_after_edit {
                    keyframe_after_edit = true;
                    continue;
                }
                scan.end = k + 1;
                break;
            }
        }
        scan
    }

    /// One sample of the `mov_fix_index` loop: partial audio skip, start of the edit,
    /// `min_corrected_pts`.
    #[inline]
    fn step(&self, scan: &mut FixScan, k: usize, cur: &Mp4Sample, cts: i64, fd: i64) {
        let (m, edit_end) = (self.plan.media_time, self.plan.duration.saturating_add(self.plan.media_time));
        let delta = scan.deltas.last().map(|d| d.1);
        let new_dts = delta.map_or(scan.counter, |d| cur.dts.wrapping_add(d));
        if cts < m || cts >= edit_end {
            if self.kind == Kind::Audio && !self.vorbis && cts < m && cts.saturating_add(fd) > m {
                // Partial audio skip: the counter goes back by the skipped part.
                scan.deltas.push((k, new_dts.wrapping_sub(m - cts).wrapping_sub(cur.dts)));
            }
            return;
        }
        let corrected = new_dts.wrapping_add(self.ctts_of(cur, k)).wrapping_add(self.dts_shift);
        scan.min_pts = if scan.min_pts < 0 { corrected } else { scan.min_pts.min(corrected) };
        if delta.is_none() {
            scan.deltas.push((k, new_dts.wrapping_sub(cur.dts)));
        }
    }

    /// First audio sample from `from` whose CTS + duration reaches the end of the edit (the
    /// last sample when none does). CTS + duration is the next sample's CTS.
    fn audio_break<S: SampleAt + ?Sized>(&self, samples: &S, from: usize, edit_end: i64) -> usize {
        let reaches = |next_dts: i64| next_dts.wrapping_add(self.dts_shift) >= edit_end;
        let (mut lo, mut hi) = (from, samples.count() - 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if reaches(samples.at(mid + 1).dts) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo
    }

    /// `find_prev_closest_index`: the key sample (refined by PTS with ctts) to start from.
    fn start_index<S: SampleAt + ?Sized>(&self, samples: &S) -> usize {
        let mut search = self.plan.media_time;
        if self.kind == Kind::Audio {
            search = search.saturating_sub(i64::from(self.timescale)).max(samples.at(0).dts);
        }
        let target = if self.dts_shift > 0 { search - self.dts_shift } else { search };
        self.closest_before(samples, target, false).or_else(|| self.closest_before(samples, target, true)).unwrap_or(0)
    }

    /// `find_prev_closest_index` for one search mode.
    fn closest_before<S: SampleAt + ?Sized>(&self, samples: &S, target: i64, any: bool) -> Option<usize> {
        let mut index = search_timestamp(samples, target, any)?;
        let mut i = index;
        while i > 0 && samples.at(i).dts == samples.at(i - 1).dts {
            if any || samples.at(i - 1).key() {
                index = i - 1;
            }
            i -= 1;
        }
        let Some(cover) = self.cover else { return Some(index) };
        let mut idx = index as i64;
        let mut ctts_i = index.min(cover) as i64;
        while idx >= 0 && ctts_i >= 0 && (ctts_i as usize) < cover {
            let s = samples.at(idx as usize);
            let c = self.ctts_of(&samples.at(ctts_i as usize), ctts_i as usize);
            if s.dts.wrapping_add(c) <= target && s.key() {
                break;
            }
            idx -= 1;
            ctts_i -= 1;
        }
        usize::try_from(idx).ok()
    }
}

/// Moves the kept samples `start..end` to the front, adding the piecewise DTS delta (minus the
/// video shift) to their DTS and PTS.
fn rebase(samples: &mut [Mp4Sample], start: usize, end: usize, deltas: &[(usize, i64)], video_shift: i64) {
    if start == 0 && deltas.len() == 1 && deltas[0].1 == video_shift {
        return;
    }
    for (p, &(_, delta)) in deltas.iter().enumerate() {
        let from = if p == 0 { start } else { deltas[p].0 };
        let to = deltas.get(p + 1).map_or(end, |d| d.0).min(end);
        let d = delta.wrapping_sub(video_shift);
        for k in from..to {
            let s = samples[k];
            samples[k - start] = s.at_dts(s.dts.wrapping_add(d));
        }
    }
}

/// `ff_index_search_timestamp` with `AVSEEK_FLAG_BACKWARD` (no discarded entries yet).
fn search_timestamp<S: SampleAt + ?Sized>(samples: &S, wanted: i64, any: bool) -> Option<usize> {
    let n = samples.count() as i64;
    let (mut a, mut b) = (-1i64, n);
    if n > 0 && samples.at((n - 1) as usize).dts < wanted {
        a = n - 1;
    }
    while b - a > 1 {
        let m = (a + b) >> 1;
        let ts = samples.at(m as usize).dts;
        if ts >= wanted {
            b = m;
        }
        if ts <= wanted {
            a = m;
        }
    }
    let mut m = a;
    if !any {
        while m >= 0 && m < n && !samples.at(m as usize).key() {
            m -= 1;
        }
    }
    (m >= 0 && m < n).then_some(m as usize)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use crate::container::mp4::Mp4Track;

    #[test]
    fn edit_list_media_time_shifts_video_and_audio() {
        let mut v = Spec::video(3);
        v.ctts = Some(vec![vec![1, 1024], vec![1, 1536], vec![1, 512]]);
        v.elst = Some(elst(0, &[(1000, 1024)]));
        let mut a = Spec::video(3);
        a.handler = *b"soun";
        a.timescale = 48000;
        a.entry = audio_entry(b"mp4a", 2, 16, 48000, &[]);
        a.stts = vec![vec![3, 1024]];
        a.chunks = vec![130];
        a.elst = Some(elst(1, &[(1000, 1024)]));
        let ix = read_bytes(&file(&[v, a], 200, &[])).unwrap();
        let ts = |t: &Mp4Track| t.samples.iter().map(|s| (s.dts, s.pts())).collect::<Vec<_>>();
        assert_eq!(ts(&ix.tracks[0]), vec![(-1024, 0), (-512, 1024), (0, 512)]);
        assert_eq!(ts(&ix.tracks[1]), vec![(-1024, -1024), (0, 0), (1024, 1024)]);
        assert_eq!(ix.tracks[1].end_dts, 2048);
        assert_eq!(ix.tracks[1].sample_rate, 48000);
        assert_eq!(ix.tracks[1].channels, 2);
    }

    #[test]
    fn empty_edit_delays_the_track() {
        let mut a = Spec::video(2);
        a.handler = *b"soun";
        a.timescale = 48000;
        a.entry = audio_entry(b"mp4a", 2, 16, 48000, &[]);
        a.stts = vec![vec![2, 1024]];
        a.elst = Some(elst(0, &[(10478, u32::MAX as i64), (1000, 0)]));
        let ix = read_bytes(&file(&[a], 100, &[])).unwrap();
        let dts: Vec<i64> = ix.tracks[0].samples.iter().map(|s| s.dts).collect();
        assert_eq!(dts, vec![502944, 503968]);
    }

    #[test]
    fn unsupported_edit_lists() {
        for edits in [vec![(500, 0), (500, 100)], vec![(500, u32::MAX as i64)], vec![(500, 0), (500, u32::MAX as i64)]]
        {
            let mut v = Spec::video(2);
            v.elst = Some(elst(0, &edits));
            assert_eq!(err_of(&file(&[v], 100, &[])), "track 0: unsupported edit list");
        }
    }
}
