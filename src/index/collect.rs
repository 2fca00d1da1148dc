//! What indexing collects per stream before segments are cut, and decode-time derivation.

#![deny(unsafe_code)]

use crate::container::mp4::LazySamples;
use crate::model::segment::SampleRec;

/// Largest sample read whole at indexing (the first packet and a later keyframe, kept for the
/// codec configuration; MP4 text subtitle samples).
pub(crate) const MAX_SAMPLE_READ: usize = 8 << 20;

/// One source sample as seen at indexing: the same record the sample table keeps.
pub(crate) type RawSample = SampleRec;
/// What the indexing pass collected per stream.
#[derive(Clone, Default)]
pub(crate) struct Collected {
    pub(crate) samples: Vec<RawSample>,
    pub(crate) end_dts: Option<i64>,
    pub(crate) first_packet: Option<Vec<u8>>,
    /// Decode timestamps were derived from presentation times.
    pub(crate) synthesized: bool,
    /// Bytes of a keyframe after the first (to tell IDR from open-GOP random access points).
    pub(crate) later_keyframe: Option<Vec<u8>>,
    /// Sample positions are known: segments are read directly from the file
    /// (`SampleReader::ByPosition`, unless the track is transcoded).
    pub(crate) direct: bool,
    /// Some packet had no decode timestamp (they are derived, see `synthesize_dts`).
    pub(crate) missing_dts: bool,
    /// The end as the last packet's timestamp and duration said (before `finish_collected`).
    pub(crate) raw_end_dts: Option<i64>,
    /// The samples, read from the MP4 sample tables on demand (`samples` is then empty): audio
    /// whose every sample is a sync sample (decode time = presentation time, non-decreasing), or
    /// H.264/HEVC video (kept so when it is the main track, copied, not clipped, with a constant
    /// reorder delay). What cannot work on them calls [`Collected::build`] first.
    pub(crate) lazy: Option<LazySamples>,
    /// The presentation times, sorted, are the (increasing) decode times plus this: a constant
    /// reorder delay, found or made by [`constant_reorder_delay`].
    pub(crate) sorted_offset: Option<i64>,
}

impl Collected {
    /// Number of samples.
    pub(crate) fn len(&self) -> usize {
        self.lazy.as_ref().map_or(self.samples.len(), LazySamples::len)
    }

    /// No sample.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first sample.
    pub(crate) fn first(&self) -> Option<RawSample> {
        match &self.lazy {
            Some(l) => l.get(0),
            None => self.samples.first().copied(),
        }
    }

    /// Some sample is a sync sample.
    pub(crate) fn any_key(&self) -> bool {
        match &self.lazy {
            Some(l) => l.keys_from(0).next().is_some(),
            None => self.samples.iter().any(|s| s.key()),
        }
    }

    /// Builds the samples of a lazy list (the same records, in `samples`).
    pub(crate) fn build(&mut self) {
        if let Some(l) = self.lazy.take() {
            self.samples = l.to_vec();
        }
    }
}

/// The times and sync flags of a stream's samples, by index: built records, or an MP4 track's
/// sample tables read on demand ([`LazySamples`]), so that what works on times alone (cutting,
/// the reorder check, the frame rate) needs no record per sample.
pub(crate) trait Times {
    /// Number of samples.
    fn len(&self) -> usize;
    /// Decode time of sample `i`.
    fn dts(&self, i: usize) -> i64;
    /// Presentation time of sample `i`.
    fn pts(&self, i: usize) -> i64;
    /// Sample `i` is a sync sample.
    fn key(&self, i: usize) -> bool;
    /// Bytes of samples `r`.
    fn bytes(&self, r: std::ops::Range<usize>) -> u64;
    /// The sync samples from `from` on, ascending.
    fn key_indices(&self, from: usize) -> Vec<usize> {
        (from..self.len()).filter(|&i| self.key(i)).collect()
    }
    /// The earliest presentation time of samples `r` (`None` when empty).
    fn min_pts(&self, r: std::ops::Range<usize>) -> Option<i64> {
        r.map(|i| self.pts(i)).min()
    }
}

impl Times for [RawSample] {
    #[inline]
    fn len(&self) -> usize {
        <[RawSample]>::len(self)
    }
    #[inline]
    fn dts(&self, i: usize) -> i64 {
        self[i].dts
    }
    #[inline]
    fn pts(&self, i: usize) -> i64 {
        self[i].pts()
    }
    #[inline]
    fn key(&self, i: usize) -> bool {
        self[i].key()
    }
    fn bytes(&self, r: std::ops::Range<usize>) -> u64 {
        self[r].iter().map(|s| u64::from(s.size())).sum()
    }
}

impl Times for LazySamples {
    #[inline]
    fn len(&self) -> usize {
        LazySamples::len(self)
    }
    #[inline]
    fn dts(&self, i: usize) -> i64 {
        LazySamples::dts(self, i)
    }
    #[inline]
    fn pts(&self, i: usize) -> i64 {
        LazySamples::pts(self, i)
    }
    #[inline]
    fn key(&self, i: usize) -> bool {
        LazySamples::key(self, i)
    }
    fn bytes(&self, r: std::ops::Range<usize>) -> u64 {
        LazySamples::bytes(self, r)
    }
    fn key_indices(&self, from: usize) -> Vec<usize> {
        self.keys_from(from).collect()
    }
    fn min_pts(&self, r: std::ops::Range<usize>) -> Option<i64> {
        LazySamples::min_pts(self, r)
    }
}

/// Derives decode timestamps for a stream whose container stores none (Matroska B-frames):
/// the sorted presentation times, delayed by `delay` or, by default, just enough that no
/// sample decodes after it shows.
fn synthesize_dts(samples: &mut [RawSample], delay: Option<i64>) {
    let sorted = sorted_pts(samples);
    let delay = delay.unwrap_or_else(|| delay_for(samples, &sorted));
    for (s, p) in samples.iter_mut().zip(&sorted) {
        s.set_dts(p.saturating_sub(delay));
    }
}

/// The smallest delay that keeps every derived decode time at or before its presentation
/// time: the largest gap between a sample's rank in presentation order and its own time.
pub(crate) fn reorder_delay(samples: &[RawSample]) -> i64 {
    delay_for(samples, &sorted_pts(samples))
}

fn sorted_pts(samples: &[RawSample]) -> Vec<i64> {
    let mut sorted: Vec<i64> = samples.iter().map(|s| s.pts()).collect();
    sorted.sort_unstable();
    sorted
}

/// Saturates at `i64::MAX` (hostile times at the ends of the range), which no caller re-times by.
fn delay_for(samples: &[RawSample], sorted: &[i64]) -> i64 {
    samples.iter().zip(sorted).map(|(s, p)| p.saturating_sub(s.pts())).max().unwrap_or(0).max(0)
}

/// Re-times the decode times of a video whose reorder delay varies: the sorted presentation
/// times minus one constant delay (the smallest that decodes no sample after it is shown), as
/// Matroska's derived decode times are; the end moves with the last presented frame, which
/// lasts what the last sample lasts in the source. Decode order and presentation times do not
/// change. Returns whether anything changed: nothing does when the delay is constant already
/// (a constant frame rate, or no reordering) or two samples share a presentation time.
///
/// Why: a segment's EXTINF is its decode span (its sample durations). With B-frames and a
/// variable frame rate the reorder delay is a number of *frames*, so its length in time changes
/// with the rate (two frames are 33 ms at 60 fps, 67 ms at 30 fps), and decode spans would miss
/// the presentation spans, and the total the video's duration, by the difference.
/// When the delay is (or is made) constant, `c.sorted_offset` says so.
pub(crate) fn constant_reorder_delay(c: &mut Collected) -> bool {
    if let Some(l) = &c.lazy {
        // Samples read on demand stay so when their delay is shown constant; else they are
        // built and re-timed below.
        if l.len() >= 2 && l.constant_delay(MAX_REORDER_DISTANCE).unwrap_or_else(|| delay_known_constant(l)) {
            c.sorted_offset = Some(l.pts(0) - l.dts(0));
            return false;
        }
        c.build();
    }
    let n = c.samples.len();
    if n < 2 {
        return false;
    }
    if delay_known_constant(c.samples.as_slice()) {
        c.sorted_offset = Some(c.samples[0].pts() - c.samples[0].dts);
        return false;
    }
    let sorted = sorted_pts(&c.samples);
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return false;
    }
    // Decode times below the 64-bit range, or composition offsets a record cannot hold
    // (hostile times only), leave the times as they are: never a wrapped time.
    let delay = delay_for(&c.samples, &sorted);
    let fits = |s: &RawSample, p: i64| {
        p.checked_sub(delay).and_then(|d| s.pts().checked_sub(d)).is_some_and(|o| i32::try_from(o).is_ok())
    };
    if !c.samples.iter().zip(&sorted).all(|(s, &p)| fits(s, p)) {
        return false;
    }
    if c.samples.iter().zip(&sorted).all(|(s, p)| s.dts == p - delay) {
        c.sorted_offset = Some(delay);
        return false;
    }
    let last = c.samples[n - 1].dts;
    let last_duration = c.end_dts.map_or(0, |e| e.saturating_sub(last)).max(0);
    for (s, p) in c.samples.iter_mut().zip(&sorted) {
        s.set_dts(p - delay);
    }
    c.end_dts = Some(sorted[n - 1].saturating_add(last_duration).saturating_sub(delay));
    c.sorted_offset = Some(delay);
    true
}

/// How far (in samples) a presentation time may sit from its rank before
/// `delay_known_constant` gives up and leaves the answer to the sort.
const MAX_REORDER_DISTANCE: usize = 256;

/// Whether the decode times are, already, the sorted presentation times less one constant
/// delay (what `constant_reorder_delay` would find, and then change nothing), decided without
/// sorting: with strictly increasing decode times and the first sample's delay `d`, every
/// presentation time must be one of the decode times plus `d`, each taken once (found by a
/// short walk from the sample's own rank, B-frames being reordered only locally), and `d` must
/// be the smallest delay that works. `false` means "not shown": the caller sorts.
fn delay_known_constant<T: Times + ?Sized>(samples: &T) -> bool {
    let n = samples.len();
    if (1..n).any(|i| samples.dts(i - 1) >= samples.dts(i)) {
        return false;
    }
    let d = samples.pts(0) - samples.dts(0);
    let target = |j: usize| samples.dts(j).checked_add(d);
    let mut taken = vec![false; n];
    let mut delay = 0i64;
    for i in 0..n {
        let p = samples.pts(i);
        let mut j = i;
        let mut steps = 0;
        loop {
            let Some(t) = target(j) else { return false };
            if t == p {
                break;
            }
            steps += 1;
            if steps > MAX_REORDER_DISTANCE {
                return false;
            }
            if t < p {
                j += 1;
                if j == n {
                    return false;
                }
            } else {
                if j == 0 {
                    return false;
                }
                j -= 1;
            }
        }
        if std::mem::replace(&mut taken[j], true) {
            return false;
        }
        // The rank of `p` among the presentation times is `i` once all are matched: the
        // sorted time at rank `i` is `target(i)`.
        let Some(ti) = target(i) else { return false };
        delay = delay.max(ti - p);
    }
    delay == d
}

/// After a scan: derives decode times with the given reorder delay, or, where the container
/// has none, with the smallest delay that works; then makes sure the end follows the last
/// sample.
pub(crate) fn finish_collected(c: &mut Collected, delay: Option<i64>) {
    if delay.is_some() || c.missing_dts || c.samples.windows(2).any(|w| w[0].dts >= w[1].dts) {
        synthesize_dts(&mut c.samples, delay);
        c.synthesized = true;
    }
    let n = c.samples.len();
    if c.raw_end_dts.is_some() {
        c.end_dts = c.raw_end_dts;
    }
    if n >= 2 {
        let last = c.samples[n - 1].dts;
        let end = c.end_dts.unwrap_or(last);
        if end <= last {
            c.end_dts = Some(last + (last - c.samples[n - 2].dts).max(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variable_reorder_delay_is_made_constant() {
        // I P B at 30 fps (3000 ticks), then I P B at 60 fps (1500): the source decodes each
        // GOP one frame before it shows it, 3000 ticks early, then 1500.
        let src = [
            (-3000, 0, true),
            (0, 6000, false),
            (3000, 3000, false),
            (7500, 9000, true),
            (9000, 12000, false),
            (10500, 10500, false),
        ];
        let mut c = Collected { end_dts: Some(12000), ..Collected::default() };
        c.samples = src.iter().map(|&(d, p, k)| SampleRec::new(0, d, p, 1, k)).collect();
        assert!(constant_reorder_delay(&mut c));
        let got: Vec<(i64, i64)> = c.samples.iter().map(|s| (s.dts, s.pts())).collect();
        assert_eq!(got, vec![(-3000, 0), (0, 6000), (3000, 3000), (6000, 9000), (7500, 12000), (9000, 10500)]);
        // Decode span = presentation span: the last presented frame (12000) lasts 1500.
        assert_eq!(c.end_dts, Some(10500));
        // A constant delay (any constant-frame-rate file) is left alone.
        assert!(!constant_reorder_delay(&mut c));
        let samples = [(-512, 0), (0, 1024), (512, 512), (1024, 1536)];
        let mut cfr = Collected {
            samples: samples.iter().map(|&(d, p)| SampleRec::new(0, d, p, 1, false)).collect(),
            ..Collected::default()
        };
        assert!(!constant_reorder_delay(&mut cfr));
        assert!(delay_known_constant(cfr.samples.as_slice()));
    }

    #[test]
    fn hostile_times_are_never_wrapped_by_the_retiming() {
        // Re-timed, the first sample would show 4.3e9 ticks after it decodes, more than a
        // composition offset holds: left as it is, every presentation time kept (it was
        // re-timed, and the offset wrapped).
        let src = [(0, 2_100_000_000, true), (1, -100_000_000, false), (2, 50, false)];
        let mut c = Collected { end_dts: Some(3), ..Collected::default() };
        c.samples = src.iter().map(|&(d, p, k)| SampleRec::new(0, d, p, 1, k)).collect();
        let pts: Vec<i64> = c.samples.iter().map(|s| s.pts()).collect();
        constant_reorder_delay(&mut c);
        assert_eq!(c.samples.iter().map(|s| s.pts()).collect::<Vec<_>>(), pts);
        // An end at the top of the range: the last frame's duration saturates, the end stays
        // after every presented frame (it wrapped to before them).
        let src = [(-3000, 0, true), (0, 6000, false), (3000, 3000, false), (7500, 9000, true), (9000, 10500, false)];
        let mut c = Collected { end_dts: Some(i64::MAX), ..Collected::default() };
        c.samples = src.iter().map(|&(d, p, k)| SampleRec::new(0, d, p, 1, k)).collect();
        assert!(constant_reorder_delay(&mut c));
        let last_shown = c.samples.iter().map(|s| s.pts()).max().unwrap();
        assert!(c.end_dts.unwrap() > last_shown, "{:?}", c.end_dts);
    }

    #[test]
    fn the_reorder_check_on_the_sample_tables_agrees_with_the_walk() {
        use crate::container::{mp4, read::ByteSource};
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/media");
        let mut checked = Vec::new();
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".mp4") || name.starts_with("long_2h") {
                continue;
            }
            let file = ByteSource::open_file(&e.path()).unwrap();
            let size = std::fs::metadata(e.path()).unwrap().len();
            let Ok(ix) = mp4::read_lazily(&file, size, mp4::DEFAULT_MAX_INDEX_BYTES) else { continue };
            for l in ix.tracks.iter().filter(|t| t.handler == *b"vide").filter_map(|t| t.lazy.as_ref()) {
                let walked = delay_known_constant(l);
                assert_eq!(walked, delay_known_constant(l.to_vec().as_slice()), "{name}");
                if let Some(quick) = l.constant_delay(MAX_REORDER_DISTANCE) {
                    assert_eq!(quick, walked, "{name}");
                    checked.push((name.clone(), quick));
                }
            }
        }
        assert!(checked.iter().filter(|c| c.1).count() >= 5, "{checked:?}");
    }

    #[test]
    fn a_constant_delay_is_recognised_without_sorting() {
        // I P B B I P B B, 40 ticks a frame, shown 40 after decoding: constant.
        let pts = [0, 120, 40, 80, 160, 280, 200, 240];
        let rec = |d: i64| -> Vec<SampleRec> {
            pts.iter().enumerate().map(|(i, &p)| SampleRec::new(0, i as i64 * 40 - d, p, 1, p % 160 == 0)).collect()
        };
        assert!(delay_known_constant(rec(40).as_slice()));
        // Decoded 80 early (more than needed): the smallest delay is 40, so not constant as is.
        assert!(!delay_known_constant(rec(80).as_slice()));
        // A presentation time that is no decode time plus the delay: left to the sort.
        let mut odd = rec(40);
        odd[3] = SampleRec::new(0, 80, 90, 1, false);
        assert!(!delay_known_constant(odd.as_slice()));
        // Whatever the shortcut says, it agrees with the full computation.
        for mut s in [rec(40), rec(80), odd] {
            let quick = delay_known_constant(s.as_slice());
            let mut c = Collected { end_dts: Some(400), samples: std::mem::take(&mut s), ..Collected::default() };
            let sorted = sorted_pts(&c.samples);
            let delay = delay_for(&c.samples, &sorted);
            let full = c.samples.iter().zip(&sorted).all(|(x, p)| x.dts == p - delay);
            assert!(!quick || full);
            assert_eq!(constant_reorder_delay(&mut c), !full);
        }
    }

    #[test]
    fn derived_decode_times_keep_presentation_order() {
        // I P B B (presentation 0, 120, 40, 80): decode times are the sorted presentation times
        // delayed by the smallest amount that keeps each at or before its presentation time.
        let mut s: Vec<SampleRec> = [0, 120, 40, 80].iter().map(|&p| SampleRec::new(0, p, p, 1, p == 0)).collect();
        assert_eq!(reorder_delay(&s), 40);
        synthesize_dts(&mut s, None);
        assert_eq!(s.iter().map(|x| x.dts).collect::<Vec<_>>(), vec![-40, 0, 40, 80]);
        assert!(s.iter().all(|x| x.dts <= x.pts()));
        assert_eq!(s.iter().map(|x| x.pts()).collect::<Vec<_>>(), vec![0, 120, 40, 80]);
        // A given delay is used as it is.
        synthesize_dts(&mut s, Some(120));
        assert_eq!(s[0].dts, -120);
    }
}
