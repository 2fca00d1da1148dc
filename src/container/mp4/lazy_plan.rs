//! Which tracks keep their samples in their tables ([`plan`]): a track whose samples follow
//! from its tables in closed form. That is audio where every sample is a sync sample, without
//! `ctts`, and H.264/HEVC video whose sync samples are its `stss` alone (kept as a bitset) and
//! whose `ctts`, when it has one, covers every sample (kept as one offset per sample: a byte
//! each, in frame durations, where every offset is such a multiple; expanded as the `ctts` is
//! read, [`Tables::parse`]), without a DTS shift; both with sizes from a table and at most
//! [`MAX_CHUNK_SAMPLES`] per chunk. The tables are checked once (every sample inside the file,
//! as `mov_build_index` checks them: chunk offsets read in blocks, a chunk's sizes summed only
//! near the end of the file), the edit list is applied as one DTS delta
//! ([`FixIndex::plan_one_delta`]; for video in one `stts` run, walked over the offsets a block at
//! a time: `FixIndex::plan_one_delta_run`), and the tables (copies of the
//! track's own size and chunk tables, its runs, and video's offsets and sync bitset) are kept
//! instead of one record per sample: a [`LazySamples`]. Its records are the ones
//! `mov_build_index` + `mov_fix_index` build for the same track, sample for sample (tests check
//! it). A track this cannot express is built as before.

use std::ops::Range;
use std::sync::Arc;

use super::edit_list::{DtsStep, EditPlan, FixIndex};
use super::lazy::{fresh, ChunkRun, Chunks, DtsRun, LazySamples, LazyTables, Offsets, OffsetsBuilder, Raw, RawTimes};
use super::sample_entry::{Kind, SampleEntry, OTI_VORBIS};
use super::samples::{has_mandatory_tables, MAX_SAMPLE_SIZE};
use super::tables::Tables;

/// Most samples in one chunk of a lazily read track: a sample's position is its chunk's plus
/// the sizes of the samples before it in the chunk, summed when it is asked for.
const MAX_CHUNK_SAMPLES: u32 = 4096;

/// The samples of a track without building them, when its tables allow it (see the module);
/// `None`: the caller builds them (`build_index`, then the edit list), which is also what
/// reports any error in the tables. `limits`: the file size and the samples the file may
/// still have. The size and chunk tables are copied (the `moov` is not kept).
pub(super) fn plan(
    t: &Tables<'_>,
    entry: &SampleEntry,
    edit: Option<&EditPlan>,
    timescale: u32,
    limits: (u64, u64),
) -> Option<(LazySamples, i64)> {
    let chunked = t.stts.len() == 1 && t.stts[0].value == 1;
    if entry.kind == Kind::Video {
        return plan_video(t, entry, edit, timescale, limits);
    }
    if !t.all_sync_audio(entry.kind) || t.ctts.is_some() || entry.pcm_frame_size > 0 || chunked {
        return None;
    }
    plan_tables(t, entry, edit, timescale, limits, None)
}

/// Whether a track with this sample entry may keep its samples in its tables as video (its
/// composition offsets are then best expanded as its `ctts` is read: [`Tables::parse`]).
pub(super) fn lazy_video(entry: &SampleEntry) -> bool {
    entry.kind == Kind::Video && LAZY_VIDEO.contains(&entry.fourcc)
}

/// Video codecs whose samples are kept in their tables (the ones whose cuts and frame rate
/// the index works out from times and sync flags alone).
const LAZY_VIDEO: [[u8; 4]; 4] = [*b"avc1", *b"avc3", *b"hvc1", *b"hev1"];

/// [`plan`] for a video track (H.264 or HEVC): its sync samples from `stss` alone, its
/// composition offsets (when it has them) covering every sample, no DTS shift.
fn plan_video(
    t: &Tables<'_>,
    entry: &SampleEntry,
    edit: Option<&EditPlan>,
    timescale: u32,
    limits: (u64, u64),
) -> Option<(LazySamples, i64)> {
    let count = t.sample_count() as usize;
    if !LAZY_VIDEO.contains(&entry.fourcc) || t.dts_shift != 0 || count == 0 || count as u64 > limits.1 {
        return None;
    }
    let stss = t.sync_samples()?;
    let mut keys = fresh(count.div_ceil(64));
    keys.resize(count.div_ceil(64), 0u64);
    for e in stss.chunks_exact(4) {
        let k = u32::from_be_bytes([e[0], e[1], e[2], e[3]]) as usize - 1;
        if k >= count {
            break;
        }
        keys[k / 64] |= 1 << (k % 64);
    }
    let mut cto = Offsets::default();
    if let Some(ctts) = t.ctts {
        // `mov_build_index`'s ctts walk; every sample must be covered (a shorter table leaves
        // the rest at 0, which the edit list treats apart).
        let unit = match t.stts[..] {
            [run] if run.value > 0 && run.value <= i32::MAX as u32 => Some(run.value as i32),
            _ => None,
        };
        // (Expanded as the tables were read, when the caller asked for it.)
        cto = match t.offsets.take() {
            Some(o) => o,
            None => expand_offsets(ctts.bytes().ok()?, count, unit)?,
        };
    }
    plan_tables(t, entry, edit, timescale, limits, Some((cto, keys)))
}

/// The offsets of the raw `ctts` entries `ctts` for `count` samples, as `mov_build_index`'s walk
/// reads them ([`CttsCursor`](super::tables::CttsCursor): entries with a count ≤ 0 skipped), in
/// units of `unit` where every one is a multiple that fits a byte; `None` when the entries cover
/// fewer samples.
pub(super) fn expand_offsets(ctts: &[u8], count: usize, unit: Option<i32>) -> Option<Offsets> {
    let mut b = OffsetsBuilder::new(count, unit);
    for e in ctts.chunks_exact(8) {
        let n = i32::from_be_bytes([e[0], e[1], e[2], e[3]]);
        if n > 0 {
            b.push(n as usize, i32::from_be_bytes([e[4], e[5], e[6], e[7]]));
        }
    }
    b.finish()
}

/// The common part of [`plan`]: the chunk runs, the walk's checks, the `stts` runs and the
/// edit list; `video`: a video track's composition offsets and sync samples.
fn plan_tables(
    t: &Tables<'_>,
    entry: &SampleEntry,
    edit: Option<&EditPlan>,
    timescale: u32,
    limits: (u64, u64),
    video: Option<(Offsets, Vec<u64>)>,
) -> Option<(LazySamples, i64)> {
    let (file_size, budget) = limits;
    let count = t.sample_count();
    if t.dts_shift != 0
        || t.sizes.constant > 0
        || count == 0
        || u64::from(count) > budget
        || !has_mandatory_tables(t, 0)
        || t.stsc.iter().any(|e| e.id != 1)
        || t.stsc.last().is_some_and(|l| l.first as u32 as usize > t.chunks.count)
    {
        return None;
    }
    // The chunk runs: entry 0 from the first chunk, each later one from its own first chunk,
    // which the walk reaches only if the first chunks increase.
    for (i, e) in t.stsc.iter().enumerate() {
        if e.count < 1 || e.count as u32 > MAX_CHUNK_SAMPLES || (i > 0 && e.first <= t.stsc[i - 1].first.max(1)) {
            return None;
        }
    }
    let mut chunk_runs = fresh(t.stsc.len());
    let mut before = 0u64;
    for (i, e) in t.stsc.iter().enumerate() {
        let first = if i == 0 { 0 } else { e.first as usize - 1 };
        let end = t.stsc.get(i + 1).map_or(t.chunks.count, |n| (n.first as usize - 1).min(t.chunks.count));
        if end > first {
            let before32 = u32::try_from(before).unwrap_or(u32::MAX);
            chunk_runs.push(ChunkRun { first: first as u32, end: end as u32, per: e.count as u32, before: before32 });
            before += (end - first) as u64 * u64::from(e.count as u32);
        }
    }
    // `build_samples`' walk, checking every sample as it does, without building them.
    let (sizes, chunks) = (t.sizes, t.chunks);
    // (A table of 32- or 16-bit sizes holds exactly `count` entries.)
    let (n, skip_edit, bits) = match sizes.field_bits {
        32 => check_chunks_table::<4>(&chunk_runs, &chunks, count, file_size, sizes.table)?,
        16 => check_chunks_table::<2>(&chunk_runs, &chunks, count, file_size, sizes.table)?,
        _ => check_chunks(&chunk_runs, &chunks, count, file_size, (0..count).map(|k| sizes.get(k)))?,
    };
    // Every entry of the table was walked: the bits of its entries are known.
    let size_bits = (n == count).then_some(bits);
    if n == 0 {
        return None;
    }
    let mut dts_runs = Vec::new();
    let (mut first, mut dts) = (0u64, 0i64);
    for (i, r) in t.stts.iter().enumerate() {
        dts_runs.push(DtsRun { first, dts, dur: r.value });
        if i + 1 == t.stts.len() || r.count == 0 {
            break;
        }
        first += u64::from(r.count);
        dts = dts.wrapping_add(i64::from(r.count).wrapping_mul(i64::from(r.value)));
    }
    if dts_runs.is_empty() {
        dts_runs.push(DtsRun { first: 0, dts: 0, dur: 0 });
    }
    let mut tables = LazyTables::new(&sizes, &chunks, &t.kept, (chunk_runs, dts_runs), n as usize, size_bits);
    let mut cover = None;
    if let Some((mut cto, keys)) = video {
        cover = t.ctts.map(|_| n as usize);
        cto.truncate(n as usize);
        if cto.all_zero() {
            // (The edit list still knows the track has a ctts: `cover`.)
            cto = Offsets::default();
        }
        tables = tables.with_video(cto, keys);
    }
    let tables = Arc::new(tables);
    let raw_end = tables.dts(u64::from(n));
    let all = LazySamples::new(tables.clone(), 0, n as usize, 0);
    let Some(plan) = edit.filter(|_| !skip_edit) else { return Some((all, raw_end)) };
    let fix = FixIndex {
        plan: *plan,
        kind: entry.kind,
        vorbis: entry.object_type == OTI_VORBIS,
        dts_shift: 0,
        timescale,
        cover,
    };
    let kept = if entry.kind == Kind::Video {
        match tables.dts_step() {
            Some((first, step)) => {
                let run = DtsStep { first, step, cto: tables.cto_table(), key: |k: usize| tables.key(k as u64) };
                fix.plan_one_delta_run(&RawTimes(&tables), &run, raw_end)?
            }
            None => fix.plan_one_delta(&RawTimes(&tables), raw_end)?,
        }
    } else {
        fix.plan_one_delta(&Raw(&tables), raw_end)?
    };
    let samples = LazySamples::new(tables, kept.start as u64, kept.end - kept.start, kept.delta);
    Some((samples, kept.end_dts))
}

/// Checks that every sample of the walk (`count` of them, their sizes `sizes` in order) lies
/// inside the file (what `check_inside` checks of each): the samples of a chunk follow one
/// another, so it is enough that the chunk's last one ends inside the file and that no sample
/// is larger than a sample may be. Returns the samples walked, whether the walk stopped early (a
/// chunk with fewer samples left than it should hold: FFmpeg then leaves the edit list
/// unapplied) and the sizes walked OR-ed together (no size has a bit they lack: each is at most
/// that, and they all fit 16 bits, or are at most [`MAX_SAMPLE_SIZE`], exactly when it does);
/// `None` when a sample is outside.
fn check_chunks(
    runs: &[ChunkRun],
    chunks: &Chunks<'_>,
    count: u32,
    file_size: u64,
    mut sizes: impl Iterator<Item = u32>,
) -> Option<(u32, bool, u32)> {
    let (mut n, mut bits) = (0u32, 0u32);
    for run in runs {
        for c in run.first..run.end {
            let pos = chunks.get(c as usize);
            let take = run.per.min(count - n);
            let mut sum = 0u64;
            for v in sizes.by_ref().take(take as usize) {
                sum += u64::from(v);
                bits |= v;
            }
            if take > 0 && pos.checked_add(sum)? > file_size {
                return None;
            }
            n += take;
            if take < run.per {
                return (bits <= MAX_SAMPLE_SIZE).then_some((n, true, bits));
            }
        }
    }
    (bits <= MAX_SAMPLE_SIZE).then_some((n, false, bits))
}

/// [`check_chunks`] for a table of `W`-byte sizes (`table`, `count` entries at least): the same
/// result, found without summing every chunk. The samples walked follow from the runs alone
/// (every chunk's, up to `count`), a bound on their sizes (the sizes OR-ed) from one pass over
/// the table; and a chunk's samples follow one another, so its last one ends at most
/// `per × bound` bytes after
/// the chunk: only a run whose farthest chunk is that close to the end of the file has its
/// chunks summed one by one.
fn check_chunks_table<const W: usize>(
    runs: &[ChunkRun],
    chunks: &Chunks<'_>,
    count: u32,
    file_size: u64,
    table: &[u8],
) -> Option<(u32, bool, u32)> {
    let capacity: u64 = runs.iter().map(|r| u64::from(r.end - r.first) * u64::from(r.per)).sum();
    // The walk stops at the first chunk with fewer samples left than it holds.
    let (n, stopped) = (capacity.min(u64::from(count)) as u32, capacity > u64::from(count));
    let walked = table.get(..n as usize * W)?;
    let bits = or_be::<W>(walked);
    if bits > MAX_SAMPLE_SIZE {
        return None;
    }
    let mut at = 0u32;
    for run in runs {
        if at >= n {
            break;
        }
        let (left, len) = (u64::from(n - at), u64::from(run.end - run.first));
        // (Divided only in the run where the walk ends.)
        let used = if left >= len * u64::from(run.per) { len } else { left.div_ceil(u64::from(run.per)) } as u32;
        let reach = u64::from(run.per) * u64::from(bits);
        // (In blocks of chunks: the ones near the end of the file are few.)
        for from in (run.first..run.first + used).step_by(CHECK_BLOCK) {
            let block = from as usize..(from + CHECK_BLOCK as u32).min(run.first + used) as usize;
            if chunks.max(block.clone()).checked_add(reach).is_some_and(|end| end <= file_size) {
                let samples = block.len() as u64 * u64::from(run.per);
                at = (u64::from(at) + samples).min(u64::from(n)) as u32;
                continue;
            }
            check_block::<W>(block, run.per, chunks, walked, &mut at, n, file_size)?;
        }
    }
    Some((n, stopped, bits))
}

/// The big-endian `W`-byte entries of `table` OR-ed together: OR-ed as they are stored, eight
/// bytes at a time (the bits are the same, read as entries once at the end).
fn or_be<const W: usize>(table: &[u8]) -> u32 {
    let mut words = table.chunks_exact(32);
    let mut acc = [0u64; 4];
    for w in &mut words {
        for (i, a) in acc.iter_mut().enumerate() {
            *a |= u64::from_ne_bytes(w[i * 8..i * 8 + 8].try_into().unwrap_or_default());
        }
    }
    let wide = (acc[0] | acc[1] | acc[2] | acc[3]).to_ne_bytes();
    wide.chunks_exact(W).chain(words.remainder().chunks_exact(W)).fold(0, |bits, e| bits | be::<W>(e))
}

/// The big-endian `W`-byte value `e` (`W` ≤ 4).
#[inline(always)]
fn be<const W: usize>(e: &[u8]) -> u32 {
    e[..W].iter().fold(0, |v, &b| v << 8 | u32::from(b))
}

/// Chunks checked at once by [`check_chunks_table`].
const CHECK_BLOCK: usize = 256;

/// The chunks `block` of a run of `per` samples each, their first sample `at` (moved past
/// them): each one's samples summed from `walked`, the samples before `n`; `None` when one ends
/// past the file.
fn check_block<const W: usize>(
    block: Range<usize>,
    per: u32,
    chunks: &Chunks<'_>,
    walked: &[u8],
    at: &mut u32,
    n: u32,
    file_size: u64,
) -> Option<()> {
    for c in block {
        let take = per.min(n - *at);
        let sum = walked[*at as usize * W..(*at + take) as usize * W]
            .chunks_exact(W)
            .map(|s| u64::from(be::<W>(s)))
            .sum::<u64>();
        if chunks.get(c).checked_add(sum)? > file_size {
            return None;
        }
        *at += take;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::super::lazy::LazySamples;
    use super::super::testutil::*;
    use super::super::Mp4Track;

    /// Every way of reading a lazy list gives the built list's records.
    fn same_as_built(built: &Mp4Track, lazy: &Mp4Track) {
        let l: &LazySamples = lazy.lazy.as_ref().expect("read on demand");
        assert!(lazy.samples.is_empty());
        assert_eq!(l.to_vec(), built.samples, "every sample");
        assert_eq!(lazy.end_dts, built.end_dts, "end");
        let n = l.len();
        for step in [1usize, 7, 97, 1000] {
            let mut at = 0;
            while at < n {
                let mut v = Vec::new();
                l.extend_range(at..at + step, &mut v);
                let end = (at + step).min(n);
                assert_eq!(v, built.samples[at..end], "samples {at}..{end}");
                let bytes: u64 = built.samples[at..end].iter().map(|s| u64::from(s.size())).sum();
                assert_eq!(l.bytes(at..end), bytes);
                at += step;
            }
        }
        for i in (0..n).step_by((n / 50).max(1)).chain([n - 1]) {
            assert_eq!(l.get(i), Some(built.samples[i]), "sample {i}");
            assert_eq!(l.dts(i), built.samples[i].dts);
        }
        for (i, b) in built.samples.iter().enumerate() {
            assert_eq!((l.dts(i), l.pts(i), l.key(i)), (b.dts, b.pts(), b.key()), "times of sample {i}");
        }
        for r in [0..n, 0..1, 1..n, n / 3..n / 2, n - 1..n, 2..2] {
            let want = built.samples[r.clone()].iter().map(|s| s.pts()).min();
            assert_eq!(l.min_pts(r.clone()), want, "earliest of {r:?}");
        }
        let keys: Vec<usize> = (0..n).filter(|&i| built.samples[i].key()).collect();
        assert_eq!(l.keys_from(0).collect::<Vec<_>>(), keys);
        if let Some(&k) = keys.get(1) {
            assert_eq!(l.keys_from(k).collect::<Vec<_>>(), keys[1..]);
            assert_eq!(l.keys_from(k + 1).collect::<Vec<_>>(), keys[2..]);
        }
        assert_eq!(l.get(n), None);
    }

    #[test]
    fn the_quick_check_of_32_and_16_bit_sizes_finds_what_the_chunk_by_chunk_walk_finds() {
        use super::super::lazy::{ChunkRun, Chunks};
        use super::{check_chunks, check_chunks_table, MAX_SAMPLE_SIZE};
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m.max(1)
        };
        let (mut inside, mut outside) = (0, 0);
        for case in 0..3000 {
            // Runs of 1..4 samples per chunk over 1..40 chunks.
            let mut runs = Vec::new();
            let (mut chunk, mut before) = (0u32, 0u32);
            for _ in 0..1 + next(4) {
                let (per, len) = (1 + next(4) as u32, 1 + next(if case % 5 == 0 { 700 } else { 10 }) as u32);
                runs.push(ChunkRun { first: chunk, end: chunk + len, per, before });
                chunk += len;
                before += len * per;
            }
            let count = (u64::from(before) + next(6)).saturating_sub(3) as u32;
            // (Every third case in 16-bit sizes.)
            let wide = case % 3 != 0;
            let big = if case % 50 == 0 && wide { MAX_SAMPLE_SIZE as u64 + 2 } else { 400 };
            let sizes: Vec<u32> = (0..count).map(|_| next(big) as u32).collect();
            let file_size = 2000 + next(3000);
            // Most chunks far from the end of the file, a few anywhere (or past it).
            let offsets: Vec<u32> = (0..chunk)
                .map(|_| {
                    let far = if next(300) == 0 { file_size + 500 } else { file_size / 2 };
                    next(far) as u32
                })
                .collect();
            let table: Vec<u8> = sizes.iter().flat_map(|v| v.to_be_bytes()).collect();
            let table16: Vec<u8> = sizes.iter().flat_map(|&v| (v as u16).to_be_bytes()).collect();
            let stco: Vec<u8> = offsets.iter().flat_map(|v| v.to_be_bytes()).collect();
            let chunks = Chunks { table: &stco, wide: false, count: chunk as usize };
            let walk = check_chunks(&runs, &chunks, count, file_size, sizes.iter().copied());
            let quick = if wide {
                check_chunks_table::<4>(&runs, &chunks, count, file_size, &table)
            } else {
                check_chunks_table::<2>(&runs, &chunks, count, file_size, &table16)
            };
            assert_eq!(quick, walk, "case {case}");
            match walk {
                Some(_) => inside += 1,
                None => outside += 1,
            }
        }
        assert!(inside > 100 && outside > 100, "{inside} {outside}");
    }

    fn aac_track(n: u32) -> Spec {
        let mut a = Spec::video(n);
        a.handler = *b"soun";
        a.timescale = 48000;
        a.entry = audio_entry(b"mp4a", 2, 16, 48000, &[]);
        a.stts = vec![vec![n, 1024]];
        a
    }

    #[test]
    fn audio_read_on_demand_is_the_built_audio_with_several_chunk_runs_co64_and_edits() {
        let n = 41u32;
        let sizes: Vec<u32> = (0..n).map(|i| 5 + (i * 7) % 13).collect();
        let total: u32 = sizes.iter().sum();
        let edits: [Option<Vec<u8>>; 4] = [
            None,
            Some(elst(0, &[(1000, 0)])),
            // Priming hidden, then the track delayed by an empty edit; and an edit that ends early.
            Some(elst(0, &[(120, u32::MAX as i64), (700, 2048)])),
            Some(elst(1, &[(300, 1024)])),
        ];
        for (e, edit) in edits.iter().enumerate() {
            for (wide, extra_chunk) in [(false, false), (true, false), (false, true)] {
                let mut a = aac_track(n);
                a.sizes = sizes.clone();
                // 3 chunks of 4, 2 of 2, 2 of 5, then 5 of 3: runs of stsc entries.
                a.stsc = vec![vec![1, 4, 1], vec![4, 2, 1], vec![6, 5, 1], vec![8, 3, 1]];
                // chunk offsets: the samples laid out one after the other from byte 100
                let per = [4, 4, 4, 2, 2, 5, 5, 3, 3, 3, 3, 3];
                let mut offsets = Vec::new();
                let (mut k, mut pos) = (0usize, 100u64);
                for p in per {
                    offsets.push(pos);
                    for _ in 0..p {
                        pos += u64::from(sizes[k]);
                        k += 1;
                    }
                }
                assert_eq!(k, n as usize);
                if extra_chunk {
                    // A chunk with no sample left for it: the edit list is not applied.
                    offsets.push(pos);
                }
                // A varying stts: two runs.
                a.stts = vec![vec![30, 1024], vec![10, 960]];
                a.elst = edit.clone();
                if wide {
                    a.chunks = Vec::new();
                    a.extra_stbl = counted(b"co64", 0, &offsets.iter().map(|&o| vec![0, o as u32]).collect::<Vec<_>>());
                } else {
                    a.chunks = offsets.iter().map(|&o| o as u32).collect();
                }
                let mut f = file(&[aac_track(2), a], total as usize + 10, &[]);
                if wide {
                    // the second track's empty stco: ignored once renamed
                    let at = f.windows(4).rposition(|w| w == b"stco").unwrap();
                    f[at..at + 4].copy_from_slice(b"skip");
                }
                let built = read_bytes_with(&f, false).unwrap();
                let lazy = read_bytes_with(&f, true).unwrap();
                assert!(built.tracks[1].lazy.is_none());
                assert!(!built.tracks[1].samples.is_empty(), "edit {e}");
                same_as_built(&built.tracks[1], &lazy.tracks[1]);
            }
        }
    }

    #[test]
    fn video_read_on_demand_is_the_built_video_with_b_frames_and_edits() {
        let n = 48u32;
        // I P B groups, 512 ticks a frame: each presented one frame after it is decoded.
        let pattern: Vec<Vec<u32>> = (0..n).map(|i| vec![1, [512, 1024, 0][(i % 3) as usize]]).collect();
        let edits: [Option<Vec<u8>>; 6] = [
            None,
            Some(elst(0, &[(100_000, 512)])),
            Some(elst(0, &[(300, u32::MAX as i64), (100_000, 512)])),
            // Starts inside a GOP (from the keyframe before it); ends early.
            Some(elst(0, &[(100_000, 512 * 9)])),
            Some(elst(0, &[(2000, 1024)])),
            // Past every sample: never starts.
            Some(elst(0, &[(1000, 512 * 100)])),
        ];
        let mut lazily = 0;
        for (e, edit) in edits.iter().enumerate() {
            for (ctts, stts) in [
                (Some(pattern.clone()), vec![vec![n, 512]]),
                (None, vec![vec![n, 512]]),
                (Some(vec![vec![n, 0]]), vec![vec![n, 512]]),
                (Some(pattern.clone()), vec![vec![20, 512], vec![n - 20, 500]]),
                // A ctts shorter than the samples: built.
                (Some(pattern[..30].to_vec()), vec![vec![n, 512]]),
            ] {
                let mut v = Spec::video(n);
                v.sizes = (0..n).map(|i| 10 + i % 7).collect();
                v.stsc = vec![vec![1, 5, 1], vec![4, 3, 1]];
                let total: u32 = v.sizes.iter().sum();
                let mut offsets = vec![100u32];
                let (mut k, mut pos) = (0u32, 100u32);
                for chunk in 0.. {
                    let per = if chunk < 3 { 5 } else { 3 };
                    for _ in 0..per {
                        if k < n {
                            pos += v.sizes[k as usize];
                            k += 1;
                        }
                    }
                    if k >= n {
                        break;
                    }
                    offsets.push(pos);
                }
                v.chunks = offsets;
                v.stss = Some((0..n).step_by(6).map(|i| i + 1).collect());
                v.ctts = ctts.clone();
                v.stts = stts;
                v.elst = edit.clone();
                let f = file(&[v], total as usize + 10, &[]);
                let built = read_bytes_with(&f, false).unwrap();
                let lazy = read_bytes_with(&f, true).unwrap();
                assert!(built.tracks[0].lazy.is_none());
                if lazy.tracks[0].lazy.is_some() {
                    same_as_built(&built.tracks[0], &lazy.tracks[0]);
                    lazily += 1;
                } else {
                    assert_eq!(built.tracks[0].samples, lazy.tracks[0].samples, "edit {e}");
                }
            }
        }
        // Every case but the short ctts and the edit that never starts.
        assert_eq!(lazily, 4 * 5, "video tracks read on demand");
    }

    #[test]
    fn a_long_video_read_on_demand_is_the_built_video_whatever_part_its_edit_keeps() {
        // 1500 frames of 512 ticks (12800 a second: 60 s), in chunks of 4, a keyframe every 12,
        // presented one or two frames after they are decoded; edits (movie timescale 1000) that
        // keep it all, start or end inside it, or follow an empty edit.
        let n = 1500u32;
        // (Offsets kept a byte each in frames, or as they are: off the frame grid, or too far.)
        let patterns: [&[u32]; 5] =
            [&[512, 1024, 0], &[1024, 2560, 512, 0, 1536], &[0], &[300, 812, 0], &[512, 1024, 0, 512 * 128]];
        let edits = [
            elst(0, &[(100_000, 512)]),
            elst(0, &[(30_000, 512 * 100)]),
            elst(0, &[(300, u32::MAX as i64), (20_000, 512 * 700)]),
            elst(0, &[(59_000, 0)]),
            elst(0, &[(59_980, 1024)]),
        ];
        for (p, pattern) in patterns.iter().enumerate() {
            for (e, edit) in edits.iter().enumerate() {
                let mut v = Spec::video(n);
                v.sizes = (0..n).map(|i| 10 + i % 7).collect();
                v.stsc = vec![vec![1, 4, 1]];
                let mut offsets = Vec::new();
                let mut pos = 100u32;
                for (i, s) in v.sizes.iter().enumerate() {
                    if i % 4 == 0 {
                        offsets.push(pos);
                    }
                    pos += s;
                }
                v.chunks = offsets;
                v.stss = Some((0..n).step_by(12).map(|i| i + 1).collect());
                v.ctts = Some((0..n).map(|i| vec![1, pattern[i as usize % pattern.len()]]).collect());
                v.stts = vec![vec![n, 512]];
                v.elst = Some(edit.clone());
                let f = file(&[v], pos as usize, &[]);
                let built = read_bytes_with(&f, false).unwrap();
                let lazy = read_bytes_with(&f, true).unwrap();
                assert!(lazy.tracks[0].lazy.is_some(), "pattern {p} edit {e}");
                same_as_built(&built.tracks[0], &lazy.tracks[0]);
            }
        }
    }

    #[test]
    fn offsets_built_entry_by_entry_are_the_listed_offsets_in_units_or_as_they_are() {
        use super::super::lazy::OffsetsBuilder;
        // (count, offset) entries: on the grid of 512, off it from the fourth entry, or too far.
        let tables: [&[(usize, i32)]; 4] = [
            &[(1, 512), (2, 0), (3, 1024), (1, -512), (5, 0)],
            &[(1, 512), (2, 0), (3, 1024), (2, 700), (4, 0)],
            &[(1, 512), (2, 0), (3, 1024), (2, 512 * 200), (4, 0)],
            &[(3, 1024), (40, 512)],
        ];
        for (i, entries) in tables.iter().enumerate() {
            let listed: Vec<i32> = entries.iter().flat_map(|&(n, c)| std::iter::repeat_n(c, n)).collect();
            for count in [listed.len(), listed.len() - 1, 5] {
                for unit in [Some(512), None] {
                    let mut b = OffsetsBuilder::new(count, unit);
                    for &(n, c) in entries.iter() {
                        b.push(n, c);
                    }
                    let o = b.finish().expect("every sample covered");
                    assert_eq!(o.len(), count, "table {i}");
                    let got: Vec<i32> = (0..count).map(|k| o.get(k).unwrap()).collect();
                    assert_eq!(got, listed[..count], "table {i}, {count} samples, unit {unit:?}");
                }
            }
            // More samples than the entries cover: none.
            let mut b = OffsetsBuilder::new(listed.len() + 1, Some(512));
            for &(n, c) in entries.iter() {
                b.push(n, c);
            }
            assert!(b.finish().is_none());
        }
    }

    /// Whether `offsets` (one per sample, decode times `step` apart) present every sample in the
    /// place of one sample at most `max_distance` away, each place once, and the smallest offset
    /// is 0: the reorder check as first written, with one bit per place.
    fn constant_delay_by_bitset(offsets: &[i64], step: i64, max_distance: usize) -> bool {
        let n = offsets.len() as i64;
        let mut taken = vec![false; offsets.len()];
        for (i, &c) in offsets.iter().enumerate() {
            let q = c - offsets[0];
            if q % step != 0 || (q / step).unsigned_abs() > max_distance as u64 {
                return false;
            }
            let j = i as i64 + q / step;
            if j < 0 || j >= n || taken[j as usize] {
                return false;
            }
            taken[j as usize] = true;
        }
        offsets.iter().min() == Some(&0)
    }

    #[test]
    fn the_reorder_check_over_the_offsets_agrees_with_one_bit_per_place() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m.max(1)
        };
        let n = 700usize;
        let (mut constant, mut not) = (0, 0);
        for case in 0..300 {
            // Places shuffled inside windows of 1..40 samples: presented in another order, each
            // place once; then perhaps one sample moved to a taken place, off the frame grid, or
            // far away.
            let w = 1 + next(40) as usize;
            let mut place: Vec<usize> = (0..n).collect();
            // (The first sample is presented first.)
            for win in place[1..].chunks_mut(w) {
                for i in (1..win.len()).rev() {
                    win.swap(i, next(i as u64 + 1) as usize);
                }
            }
            let delay = place.iter().enumerate().map(|(i, &p)| i as i64 - p as i64).max().unwrap_or(0).max(0);
            let mut offsets: Vec<i64> =
                place.iter().enumerate().map(|(i, &p)| (p as i64 - i as i64 + delay) * 512).collect();
            let k = next(n as u64) as usize;
            match case % 5 {
                1 => offsets[k] = offsets[(k + 1) % n] + 512 * ((k + 1) % n) as i64 - 512 * k as i64,
                2 => offsets[k] += 100,
                3 => offsets[k] += 512 * 300,
                _ => {}
            }
            let mut v = Spec::video(n as u32);
            v.sizes = vec![10; n];
            v.stsc = vec![vec![1, n as u32, 1]];
            v.chunks = vec![100];
            v.stss = Some(vec![1]);
            v.stts = vec![vec![n as u32, 512]];
            v.ctts = Some(offsets.iter().map(|&c| vec![1, c as i32 as u32]).collect());
            let f = file(&[v], 100 + 10 * n, &[]);
            let track = &read_bytes_with(&f, true).unwrap().tracks[0];
            let l = track.lazy.as_ref().expect("read on demand");
            for max_distance in [4, 256] {
                let want = constant_delay_by_bitset(&offsets, 512, max_distance);
                assert_eq!(l.constant_delay(max_distance), Some(want), "case {case}, max {max_distance}");
                if want {
                    constant += 1;
                } else {
                    not += 1;
                }
            }
        }
        assert!(constant > 50 && not > 50, "{constant} {not}");
    }

    #[test]
    fn damaged_tables_read_on_demand_never_panic_and_match_the_built_ones() {
        let n = 30u32;
        let mut v = Spec::video(n);
        v.sizes = (0..n).map(|i| 10 + i % 5).collect();
        v.ctts = Some((0..n).map(|i| vec![1, [512, 1024, 0][(i % 3) as usize]]).collect());
        v.stss = Some(vec![1, 7, 13, 19, 25]);
        v.elst = Some(elst(0, &[(100_000, 512)]));
        let mut a = aac_track(20);
        a.elst = Some(elst(0, &[(1000, 1024)]));
        let base = file(&[v, a], 600, &[]);
        let moov_at = base.windows(4).position(|w| w == b"moov").unwrap();
        let mut lazily = 0;
        for f in damaged_copies(&base, moov_at, 0x51ed_270b_27c4_1f1d, 3000) {
            let (Ok(built), Ok(lazy)) = (read_bytes_with(&f, false), read_bytes_with(&f, true)) else { continue };
            for (b, l) in built.tracks.iter().zip(&lazy.tracks) {
                let Some(s) = &l.lazy else { continue };
                lazily += 1;
                assert_eq!(s.to_vec(), b.samples);
                let n = s.len();
                let _ = (s.constant_delay(256), s.min_pts(0..n), s.keys_from(0).count(), s.dts_step());
                for i in 0..n {
                    let _ = (s.pts(i), s.key(i), s.dts(i));
                }
            }
        }
        assert!(lazily > 100, "{lazily}");
    }

    #[test]
    fn tracks_the_tables_cannot_express_are_built() {
        // Video, audio with sync-sample tables or composition offsets: built as before.
        let mut a = aac_track(4);
        a.stss = Some(vec![1, 3]);
        let mut b = aac_track(4);
        b.ctts = Some(vec![vec![4, 0]]);
        let f = file(&[Spec::video(4), a, b], 100, &[]);
        let ix = read_bytes_with(&f, true).unwrap();
        assert!(ix.tracks.iter().all(|t| t.lazy.is_none() && t.samples.len() == 4));
        // A sample past the end of the file: the built path's error.
        let mut c = aac_track(4);
        c.chunks = vec![1 << 20];
        let f = file(&[c], 100, &[]);
        assert_eq!(read_bytes_with(&f, true).err().map(|e| e.to_string()), read_bytes(&f).err().map(|e| e.to_string()));
        assert!(read_bytes(&f).is_err());
    }

    #[test]
    fn audio_with_a_sample_past_the_end_of_the_file_is_refused_as_the_built_audio_is() {
        // Two chunks of two samples; the file is 100 bytes of data after 100 of header.
        let case = |sizes: [u32; 4], second_chunk: u32| {
            let mut a = aac_track(4);
            a.sizes = sizes.to_vec();
            a.stsc = vec![vec![1, 2, 1]];
            a.chunks = vec![100, second_chunk];
            file(&[a], 100, &[])
        };
        let fits = case([10, 10, 10, 10], 120);
        assert!(read_bytes_with(&fits, true).unwrap().tracks[0].lazy.is_some());
        // The last sample of a chunk ends past the file; a sample larger than any sample may be;
        // a chunk past the file.
        for f in [case([10, 10, 10, 1 << 20], 120), case([10, 10, 0x4000_0000, 10], 120), case([10; 4], 1 << 30)] {
            let lazy = read_bytes_with(&f, true).err().map(|e| e.to_string());
            assert!(lazy.as_deref().is_some_and(|e| e.contains("truncated") || e.contains("too large")), "{lazy:?}");
            assert_eq!(lazy, read_bytes(&f).err().map(|e| e.to_string()));
        }
    }

    #[test]
    fn the_test_files_audio_and_video_read_on_demand_are_the_built_ones() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/media");
        let (mut audio, mut video) = (Vec::new(), Vec::new());
        let names: Vec<String> = crate::util::test_media(&["mp4", "m4a", "mov", "m4v"], false)
            .iter()
            .filter_map(|p| Some(p.file_name()?.to_str()?.to_string()))
            .collect();
        for name in &names {
            let Ok(bytes) = std::fs::read(dir.join(name)) else { continue };
            let (built, lazy) = match (read_bytes_with(&bytes, false), read_bytes_with(&bytes, true)) {
                (Ok(b), Ok(l)) => (b, l),
                (b, l) => {
                    assert_eq!(b.err().map(|e| e.to_string()), l.err().map(|e| e.to_string()), "{name}");
                    continue;
                }
            };
            for (b, l) in built.tracks.iter().zip(&lazy.tracks) {
                if l.lazy.is_some() {
                    same_as_built(b, l);
                    match &l.handler {
                        b"vide" => video.push(name.clone()),
                        _ => audio.push(name.clone()),
                    }
                } else {
                    assert_eq!(b.samples, l.samples, "{name}");
                    assert_eq!(b.end_dts, l.end_dts, "{name}");
                }
            }
        }
        assert!(audio.len() >= 3, "audio tracks read on demand: {audio:?}");
        assert!(video.len() >= 3, "video tracks read on demand: {video:?}");
    }
}
