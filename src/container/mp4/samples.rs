//! FFmpeg's `mov_build_index`: the flat sample list of one track from its [`Tables`] (one entry
//! per sample, or up to 1024 frames per packet for uncompressed audio), checked against the file
//! size and the per-file sample budget; then [`Built::finish`] applies the edit list.

use super::edit_list::{EditPlan, FixIndex};
use super::sample_entry::{Kind, SampleEntry, OTI_VORBIS};
use super::tables::{CttsCursor, KeyState, Sizes, SttsCursor, Tables};
use crate::container::sample::SampleRec as Mp4Sample;
use crate::error::{ErrorKind, ParseError, ParseResult};

/// FFmpeg groups uncompressed audio into packets of at most this many frames.
const MAX_FRAMES_PER_PACKET: u32 = 1024;
/// Samples per frame from which FFmpeg takes each frame as its own packet.
const WHOLE_FRAME_SPF: u32 = 160;

/// Most samples accepted for one file, all tracks together, whatever the index ceiling.
pub(super) const MAX_SAMPLES: u64 = 1 << 25;

/// What one sample is budgeted at while a file is indexed. The sample budget of an open is its
/// index ceiling divided by this. (The reader now builds the index's 24-byte record itself,
/// where it used to build a 40-byte sample converted afterwards; the budget is kept as it was, so
/// that the same files are accepted under the same ceiling.)
pub const INDEX_BYTES_PER_SAMPLE: u64 = 64;

/// The samples a file may have under the index ceiling `max_index_bytes`.
pub(super) fn sample_budget(max_index_bytes: u64) -> u64 {
    (max_index_bytes / INDEX_BYTES_PER_SAMPLE).min(MAX_SAMPLES)
}

/// Largest sample FFmpeg indexes (`0x3FFFFFFF`).
pub(super) const MAX_SAMPLE_SIZE: u32 = 0x3FFF_FFFF;

/// Samples as `mov_build_index` leaves them, with their PTS as FFmpeg's packets get it (DTS + DTS
/// shift + ctts offset for the samples the ctts covers, else the DTS).
pub(super) struct Built {
    /// The samples, in decode order.
    samples: Vec<Mp4Sample>,
    /// DTS after the last sample.
    end: i64,
    /// Number of samples the ctts covers, `None` without ctts.
    cover: Option<usize>,
    /// The DTS shift from negative composition offsets.
    dts_shift: i64,
    /// FFmpeg returned early from `mov_build_index`: the edit list is not applied.
    skip_edit: bool,
}

impl Built {
    /// Applies the edit list; returns the samples and the DTS after the last one.
    pub(super) fn finish(
        mut self,
        edit: Option<&EditPlan>,
        entry: &SampleEntry,
        timescale: u32,
    ) -> (Vec<Mp4Sample>, i64) {
        let mut end = self.end;
        if let (Some(plan), false) = (edit, self.skip_edit || self.samples.is_empty()) {
            let fix = FixIndex {
                plan: *plan,
                kind: entry.kind,
                vorbis: entry.object_type == OTI_VORBIS,
                dts_shift: self.dts_shift,
                timescale,
                cover: self.cover,
            };
            end = fix.apply(&mut self.samples, self.end);
        }
        if self.samples.is_empty() {
            end = 0;
        }
        (self.samples, end)
    }
}

/// The samples of one track; `limits`: the file size and the samples the file may still have.
pub(super) fn build_index(t: &Tables<'_>, entry: &SampleEntry, limits: (u64, u64)) -> ParseResult<Built> {
    let (file_size, budget) = limits;
    let mut built = Built { samples: Vec::new(), end: 0, cover: None, dts_shift: t.dts_shift, skip_edit: false };
    let stsz_size = t.sizes.constant;
    let sample_size = if entry.pcm_frame_size > 0 { entry.pcm_frame_size } else { stsz_size };
    if !has_mandatory_tables(t, sample_size) {
        return Ok(built);
    }
    if let Some(last) = t.stsc.last() {
        if last.first as u32 as usize > t.chunks.count {
            return Err(ParseError::new("contradictory stsc and stco"));
        }
    }
    if t.stsc.iter().any(|e| e.id != 1) {
        return Err(ParseError::new("unsupported: samples use several sample descriptions"));
    }
    let chunked = entry.kind == Kind::Audio && t.stts.len() == 1 && t.stts[0].value == 1;
    if chunked {
        if t.ctts.is_some() {
            return Err(ParseError::new("unsupported: ctts on uncompressed audio"));
        }
        built.dts_shift = 0;
        build_chunked(t, entry, sample_size, (file_size, budget), &mut built)?;
    } else {
        build_samples(t, entry.kind, sample_size, (file_size, budget), &mut built)?;
    }
    Ok(built)
}

/// FFmpeg's "missing mandatory atoms" check: such a track gets no sample at all.
pub(super) fn has_mandatory_tables(t: &Tables<'_>, sample_size: u32) -> bool {
    let chunks = t.chunks.count;
    let stsc_count = if chunks == 0 && t.stts.is_empty() { 0 } else { t.stsc.len() };
    let broken = (chunks > 0 && (t.stts.is_empty() || stsc_count == 0 || (sample_size == 0 && t.sample_count() == 0)))
        || (chunks == 0 && t.sample_count() > 0);
    !broken && chunks > 0
}

/// More samples than the file may have.
pub(super) fn too_many(count: u64, budget: u64) -> ParseError {
    ParseError::refuse(
        ErrorKind::Unsupported,
        format!(
            "too many samples: {count} more would need {} MiB of index, over what the index ceiling \
             (max_index_bytes) leaves ({budget} samples)",
            count.saturating_mul(INDEX_BYTES_PER_SAMPLE) >> 20
        ),
    )
}

/// A sample that runs past the end of the file.
fn truncated(pos: u64, size: u64, file_size: u64) -> ParseError {
    ParseError::new(format!(
        "truncated: sample data at byte {pos} ({size} bytes) runs past the end of the file ({file_size} bytes)"
    ))
}

/// Checks that a sample lies inside the file.
#[inline]
pub(super) fn check_inside(pos: u64, size: u32, file_size: u64) -> ParseResult<()> {
    if size > MAX_SAMPLE_SIZE {
        return Err(ParseError::new(format!("sample size {size} too large")));
    }
    match pos.checked_add(u64::from(size)) {
        Some(end) if end <= file_size => Ok(()),
        _ => Err(truncated(pos, u64::from(size), file_size)),
    }
}

/// The common path of `mov_build_index`: one entry per sample.
fn build_samples(t: &Tables<'_>, kind: Kind, sample_size: u32, limits: (u64, u64), out: &mut Built) -> ParseResult<()> {
    let (file_size, budget) = limits;
    let count = t.sample_count();
    if count == 0 {
        return Ok(());
    }
    if u64::from(count) > budget {
        return Err(too_many(count.into(), budget));
    }
    let mut samples = Vec::with_capacity(count as usize);
    crate::util::memhint::huge_pages(&samples);
    let mut walk = Walk {
        keys: KeyState::new(t, kind),
        stts: SttsCursor::new(&t.stts),
        ctts: CttsCursor::new(t.ctts.map(|c| c.bytes()).transpose()?.unwrap_or(&[])),
        covered: 0,
        shift: t.dts_shift,
        dts: -t.dts_shift,
        n: 0,
        sizes: t.sizes,
        file_size,
    };
    let mut stsz_size = i64::from(t.sizes.constant);
    let mut stsc_i = 0usize;
    for i in 0..t.chunks.count {
        let pos = t.chunks.get(i);
        while stsc_i + 1 < t.stsc.len() && (i as u64 + 1) == u64::from(t.stsc[stsc_i + 1].first as u32) {
            stsc_i += 1;
        }
        let per_chunk = t.stsc[stsc_i].count as u32;
        let next = if i + 1 < t.chunks.count { t.chunks.get(i + 1) as i64 } else { i64::MAX };
        stsz_size = checked_stsz_size(stsz_size, i64::from(sample_size), per_chunk, pos as i64, next);
        let take = per_chunk.min(count - walk.n);
        walk.chunk(&mut samples, pos, take, stsz_size.max(0) as u32, i == 0)?;
        if take < per_chunk {
            out.skip_edit = true; // FFmpeg: "wrong sample count", index kept as is
            break;
        }
    }
    out.samples = samples;
    out.end = walk.dts;
    out.cover = t.ctts.map(|_| walk.covered);
    Ok(())
}

/// Per-sample state of the common `mov_build_index` walk.
struct Walk<'a> {
    keys: KeyState<'a>,
    stts: SttsCursor<'a>,
    ctts: CttsCursor<'a>,
    covered: usize,
    shift: i64,
    dts: i64,
    n: u32,
    sizes: Sizes<'a>,
    file_size: u64,
}

impl Walk<'_> {
    /// Adds the first `take` samples of a chunk at `pos` (`const_size`: the stsz constant
    /// size, 0 for the table).
    #[inline]
    fn chunk(
        &mut self,
        samples: &mut Vec<Mp4Sample>,
        mut pos: u64,
        take: u32,
        const_size: u32,
        first_chunk: bool,
    ) -> ParseResult<()> {
        for j in 0..take {
            let n = self.n;
            let key = self.keys.next(n, first_chunk && j == 0);
            let size = if const_size > 0 { const_size } else { self.sizes.get(n) };
            check_inside(pos, size, self.file_size)?;
            let dts = self.dts;
            let pts = match self.ctts.next() {
                Some(c) => {
                    self.covered += 1;
                    dts.saturating_add(self.shift.saturating_add(i64::from(c)))
                }
                None => dts,
            };
            samples.push(Mp4Sample::new(pos, dts, pts, size, key));
            pos += u64::from(size);
            self.dts = dts.wrapping_add(i64::from(self.stts.next()));
            self.n = n + 1;
        }
        Ok(())
    }
}

/// FFmpeg's two sanity checks of a constant `stsz` size against the codec frame size.
fn checked_stsz_size(stsz: i64, sample_size: i64, per_chunk: u32, pos: i64, next: i64) -> i64 {
    let mut s = stsz;
    if next > pos && sample_size > 0 && sample_size < s && i64::from(per_chunk as i32).saturating_mul(s) > next - pos {
        s = sample_size;
    }
    if s > 0 && s < sample_size {
        s = sample_size;
    }
    s
}

/// Frames per packet and packet size of one step of the uncompressed-audio chunk walk.
fn chunk_step(spf: u32, bpf: u32, frame_size: u32, left: u32) -> (u32, u32) {
    if spf >= WHOLE_FRAME_SPF {
        (spf, bpf)
    } else if spf > 1 {
        let samples = ((MAX_FRAMES_PER_PACKET / spf) * spf).min(left);
        (samples, (samples / spf).wrapping_mul(bpf))
    } else {
        let samples = MAX_FRAMES_PER_PACKET.min(left);
        (samples, samples.wrapping_mul(frame_size))
    }
}

/// Number of packets the chunk walk makes (FFmpeg's `total`), or `None` for FFmpeg's
/// "unaligned chunk" error (no packet at all).
fn chunked_total(t: &Tables<'_>, spf: u32) -> Option<u64> {
    let mut total = 0u64;
    for (i, e) in t.stsc.iter().enumerate() {
        let samples = e.count as u32;
        if i + 1 != t.stsc.len() && spf != 0 && !samples.is_multiple_of(spf) {
            return None;
        }
        let per_chunk = if spf >= WHOLE_FRAME_SPF {
            samples / spf
        } else if spf > 1 {
            samples.div_ceil((MAX_FRAMES_PER_PACKET / spf) * spf)
        } else {
            samples.div_ceil(MAX_FRAMES_PER_PACKET)
        };
        let chunks = match t.stsc.get(i + 1) {
            Some(next) => (next.first as u32).wrapping_sub(e.first as u32),
            None => (t.chunks.count as u32).wrapping_sub((e.first as u32).wrapping_sub(1)),
        };
        total += u64::from(chunks) * u64::from(per_chunk);
    }
    Some(total)
}

/// The uncompressed-audio path of `mov_build_index`: up to 1024 frames per packet.
fn build_chunked(
    t: &Tables<'_>,
    e: &SampleEntry,
    frame_size: u32,
    limits: (u64, u64),
    out: &mut Built,
) -> ParseResult<()> {
    let (file_size, budget) = limits;
    let (spf, bpf) = (e.samples_per_frame, e.bytes_per_frame);
    let Some(total) = chunked_total(t, spf) else { return Ok(()) };
    if total > budget {
        return Err(too_many(total, budget));
    }
    if spf <= 1 && frame_size == 0 {
        return Err(ParseError::new("unsupported: uncompressed audio layout"));
    }
    out.samples.reserve_exact(total as usize);
    let mut dts = 0i64;
    let mut stsc_i = 0usize;
    'chunks: for i in 0..t.chunks.count {
        let mut pos = t.chunks.get(i);
        if stsc_i + 1 < t.stsc.len() && (i as u64 + 1) == u64::from(t.stsc[stsc_i + 1].first as u32) {
            stsc_i += 1;
        }
        let mut left = t.stsc[stsc_i].count as u32;
        while left > 0 {
            if (spf > 1 && bpf == 0) || out.samples.len() as u64 >= total {
                out.skip_edit = true;
                break 'chunks;
            }
            let (samples, size) = chunk_step(spf, bpf, frame_size, left);
            check_inside(pos, size, file_size)?;
            out.samples.push(Mp4Sample::new(pos, dts, dts, size, true));
            pos += u64::from(size);
            dts = dts.wrapping_add(i64::from(samples));
            left = left.wrapping_sub(samples);
        }
    }
    out.end = dts;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;

    #[test]
    fn uncompressed_audio_is_grouped_like_ffmpeg() {
        let mut a = Spec::video(0);
        a.handler = *b"soun";
        a.timescale = 48000;
        a.entry = audio_entry(b"sowt", 2, 16, 48000, &[]);
        a.stts = vec![vec![3000, 1]];
        a.sizes = Vec::new();
        a.stsc = vec![vec![1, 2500, 1], vec![2, 500, 1]];
        a.chunks = vec![100, 10100];
        let mut f = file(&[a], 12100, &[]);
        // constant-size stsz: patch "stsz" (size 0, count 0) into (4, 3000)
        let at = f.windows(4).position(|w| w == b"stsz").unwrap();
        f[at + 8..at + 16].copy_from_slice(&words(&[4, 3000]));
        let ix = read_bytes(&f).unwrap();
        let got: Vec<(u64, u32, i64)> = ix.tracks[0].samples.iter().map(|s| (s.pos, s.size(), s.dts)).collect();
        assert_eq!(got, vec![(100, 4096, 0), (4196, 4096, 1024), (8292, 1808, 2048), (10100, 2000, 2500)]);
        assert_eq!(ix.tracks[0].end_dts, 3000);
        assert_eq!(ix.tracks[0].bits_per_sample, 16);
    }
}
