//! Media segments: one `moof` (`mfhd`, `traf` with `tfhd`, `tfdt`, `trun`) and the `mdat` that
//! holds the samples' bytes, and the size of those headers ahead of writing
//! ([`media_segment_overhead`], which the index uses to estimate segment sizes).

use crate::error::{Error, Result};

use super::boxes::{BoxWriter, BOX_HEADER, FULL_BOX_HEADER, LARGE_BOX_HEADER};
use super::types::SampleMeta;

/// `tfhd` flag: sample data offsets are relative to the start of the `moof`.
const TFHD_DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;
/// `tfdt` version 1: 64-bit `baseMediaDecodeTime`.
const TFDT_VERSION_64: u8 = 1;
/// `trun` version 1: signed composition time offsets.
const TRUN_VERSION_SIGNED_CTO: u8 = 1;
/// `trun` flag: `data_offset` present.
const TRUN_DATA_OFFSET_PRESENT: u32 = 0x00_0001;
/// `trun` flag: each sample has a duration.
const TRUN_SAMPLE_DURATION_PRESENT: u32 = 0x00_0100;
/// `trun` flag: each sample has a size.
const TRUN_SAMPLE_SIZE_PRESENT: u32 = 0x00_0200;
/// `trun` flag: each sample has flags.
const TRUN_SAMPLE_FLAGS_PRESENT: u32 = 0x00_0400;
/// `trun` flag: each sample has a composition time offset.
const TRUN_SAMPLE_CTO_PRESENT: u32 = 0x00_0800;
/// The `trun` flags of every segment; [`TRUN_SAMPLE_CTO_PRESENT`] is added when needed.
const TRUN_FLAGS: u32 =
    TRUN_DATA_OFFSET_PRESENT | TRUN_SAMPLE_DURATION_PRESENT | TRUN_SAMPLE_SIZE_PRESENT | TRUN_SAMPLE_FLAGS_PRESENT;
/// Sample flags: `sample_depends_on` 2, the sample does not depend on others (an I-frame).
const SAMPLE_DEPENDS_ON_NONE: u32 = 2 << 24;
/// Sample flags: `sample_depends_on` 1, the sample depends on others (not an I-frame).
const SAMPLE_DEPENDS_ON_OTHERS: u32 = 1 << 24;
/// Sample flags: `sample_is_non_sync_sample`.
const SAMPLE_IS_NON_SYNC: u32 = 0x0001_0000;
/// Sample flags of a sync sample.
const SYNC_FLAGS: u32 = SAMPLE_DEPENDS_ON_NONE;
/// Sample flags of an open-GOP I picture inside a segment: it depends on no other sample, but
/// decoding cannot start there (its leading pictures reference the previous GOP), so it is no
/// sync sample (ISO/IEC 14496-12: SAP type 3 is not one).
const OPEN_GOP_KEY_FLAGS: u32 = SAMPLE_DEPENDS_ON_NONE | SAMPLE_IS_NON_SYNC;
/// Sample flags of a non-sync sample.
const NON_SYNC_FLAGS: u32 = SAMPLE_DEPENDS_ON_OTHERS | SAMPLE_IS_NON_SYNC;
/// Bytes of one `trun` sample record: duration, size, flags.
const TRUN_SAMPLE_LEN: usize = 12;
/// Bytes of one `trun` sample record with a composition time offset.
const TRUN_SAMPLE_LEN_CTO: usize = TRUN_SAMPLE_LEN + 4;
/// moof bytes that do not depend on the sample count: moof, mfhd (sequence_number), traf,
/// tfhd (track_ID), tfdt (64-bit time), trun header (sample_count, data_offset).
const MOOF_FIXED: usize = BOX_HEADER
    + (FULL_BOX_HEADER + 4)
    + BOX_HEADER
    + (FULL_BOX_HEADER + 4)
    + (FULL_BOX_HEADER + 8)
    + (FULL_BOX_HEADER + 8);

/// Size of the `moof` for `n` samples, with or without composition offsets.
fn moof_len(n: usize, with_cto: bool) -> usize {
    let per_sample = if with_cto { TRUN_SAMPLE_LEN_CTO } else { TRUN_SAMPLE_LEN };
    n.saturating_mul(per_sample).saturating_add(MOOF_FIXED)
}

/// Bytes of moof+mdat headers for n samples (so callers can estimate segment sizes before
/// generating). Exact when the segment has a non-zero composition offset and a payload under
/// 4 GiB; 4 bytes per sample less when all offsets are 0, 8 more with a 64-bit mdat.
pub fn media_segment_overhead(sample_count: usize) -> usize {
    moof_len(sample_count, true).saturating_add(BOX_HEADER)
}

/// moof+mdat; `payload` is the concatenation of the samples' bytes in order (sum of sizes must
/// equal payload.len(), else error). Composition offsets are written (trun version 1, signed)
/// only when at least one is non-zero.
pub fn write_media_segment(
    sequence_number: u32,
    track_id: u32,
    base_media_decode_time: u64,
    samples: &[SampleMeta],
    payload: &[u8],
) -> Result<Vec<u8>> {
    let mut w = media_segment_header(
        sequence_number,
        track_id,
        base_media_decode_time,
        samples,
        payload.len() as u64,
        payload.len(),
    )?;
    w.bytes(payload);
    Ok(w.into_bytes())
}

/// The `moof` and the `mdat` header of a media segment whose `payload_len` bytes of samples
/// follow them unwritten (the caller sends them from the source file): exactly the bytes
/// [`write_media_segment`] writes before the payload. The sample sizes must add up to
/// `payload_len`.
pub fn write_media_segment_header(
    sequence_number: u32,
    track_id: u32,
    base_media_decode_time: u64,
    samples: &[SampleMeta],
    payload_len: u64,
) -> Result<Vec<u8>> {
    Ok(media_segment_header(sequence_number, track_id, base_media_decode_time, samples, payload_len, 0)?.into_bytes())
}

/// The writer holding `moof` and the `mdat` header, with room for `room` more bytes.
fn media_segment_header(
    sequence_number: u32,
    track_id: u32,
    base_media_decode_time: u64,
    samples: &[SampleMeta],
    payload_len: u64,
    room: usize,
) -> Result<BoxWriter> {
    check_samples(track_id, samples, payload_len)?;
    let with_cto = samples.iter().any(|s| s.composition_offset != 0);
    let moof = moof_len(samples.len(), with_cto);
    let large = payload_len > u64::from(u32::MAX) - BOX_HEADER as u64;
    let mdat_header = if large { LARGE_BOX_HEADER } else { BOX_HEADER };
    let data_offset = i32::try_from(moof.saturating_add(mdat_header))
        .map_err(|_| Error::internal(format!("too many samples ({})", samples.len())))?;
    let mut w = BoxWriter::with_capacity(moof.saturating_add(mdat_header).saturating_add(room));
    w.write_box(b"moof", |w| {
        w.write_full_box(b"mfhd", 0, 0, |w| {
            w.u32(sequence_number);
            Ok(())
        })?;
        write_traf(w, track_id, base_media_decode_time, samples, data_offset, with_cto)
    })?;
    if w.len() != moof {
        return Err(Error::internal(format!("internal: moof is {} bytes, expected {moof}", w.len())));
    }
    w.write_box_header(b"mdat", payload_len, large)?;
    Ok(w)
}

/// The first sample of a media segment made by [`write_media_segment`] (a keyframe: every
/// segment starts with one), alone in a fragment of its own: `moof` (same `tfdt`, one `trun`
/// record with the first sample's duration, size, flags and composition offset) and an `mdat`
/// with its bytes. It decodes alone after the init segment (an I-frame playlist entry).
pub fn first_sample_fragment(segment: &[u8], sequence_number: u32) -> Result<Vec<u8>> {
    let (mut fragment, at) = first_sample_header(segment, sequence_number)?;
    let payload = segment.get(at).ok_or_else(|| Error::internal("keyframe fragment: sample outside mdat"))?;
    fragment.extend_from_slice(payload);
    Ok(fragment)
}

/// The `moof` and `mdat` header of [`first_sample_fragment`] (exactly the bytes it writes
/// before the sample), and where the first sample's bytes are in the segment. `segment` needs
/// to hold only the segment's `moof` (the sample itself may be sent from elsewhere, such as a
/// range of the source file).
pub fn first_sample_header(segment: &[u8], sequence_number: u32) -> Result<(Vec<u8>, std::ops::Range<usize>)> {
    let bad = |what: &str| Error::internal(format!("keyframe fragment: {what}"));
    let moof = child(segment, b"moof").ok_or_else(|| bad("no moof"))?;
    let traf = child(moof, b"traf").ok_or_else(|| bad("no traf"))?;
    let tfdt = child(traf, b"tfdt").ok_or_else(|| bad("no tfdt"))?;
    let trun = child(traf, b"trun").ok_or_else(|| bad("no trun"))?;
    let u32_at = |b: &[u8], at: usize| -> Result<u32> {
        b.get(at..at + 4).map(|x| u32::from_be_bytes([x[0], x[1], x[2], x[3]])).ok_or_else(|| bad("short box"))
    };
    let base = if tfdt.first() == Some(&TFDT_VERSION_64) {
        u64::from(u32_at(tfdt, 4)?) << 32 | u64::from(u32_at(tfdt, 8)?)
    } else {
        u64::from(u32_at(tfdt, 4)?)
    };
    let flags = u32_at(trun, 0)? & 0x00ff_ffff;
    if flags & TRUN_FLAGS != TRUN_FLAGS {
        return Err(bad("unexpected trun flags"));
    }
    let data_offset = u32_at(trun, 8)? as usize;
    let (duration, size, sample_flags) = (u32_at(trun, 12)?, u32_at(trun, 16)?, u32_at(trun, 20)?);
    let composition_offset = if flags & TRUN_SAMPLE_CTO_PRESENT != 0 { u32_at(trun, 24)? as i32 } else { 0 };
    let at = data_offset..data_offset.checked_add(size as usize).ok_or_else(|| bad("sample outside mdat"))?;
    let meta = SampleMeta { size, duration, composition_offset, sync: sample_flags & SAMPLE_IS_NON_SYNC == 0 };
    if !meta.sync {
        return Err(bad("the segment does not start with a sync sample"));
    }
    Ok((write_media_segment_header(sequence_number, 1, base, &[meta], u64::from(size))?, at))
}

/// One sample of a media segment read back by [`segment_samples`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadSample {
    /// Decode time (the segment's `tfdt` plus the durations before it), track timescale.
    pub decode_time: u64,
    /// Duration, size, composition offset and sync flag as the `trun` says.
    pub meta: SampleMeta,
    /// The sample depends on no other (`sample_depends_on` 2): a sync sample, or an open-GOP I
    /// picture inside the segment, which decodes alone too.
    pub independent: bool,
    /// Where its bytes are in the segment.
    pub bytes: std::ops::Range<usize>,
}

/// The samples of a media segment made by [`write_media_segment`] (or its header and payload),
/// read back from its `tfdt` and `trun`.
pub fn segment_samples(segment: &[u8]) -> Result<Vec<ReadSample>> {
    let bad = |what: &str| Error::internal(format!("media segment: {what}"));
    let moof = child(segment, b"moof").ok_or_else(|| bad("no moof"))?;
    let traf = child(moof, b"traf").ok_or_else(|| bad("no traf"))?;
    let tfdt = child(traf, b"tfdt").ok_or_else(|| bad("no tfdt"))?;
    let trun = child(traf, b"trun").ok_or_else(|| bad("no trun"))?;
    let u32_at = |b: &[u8], at: usize| -> Result<u32> {
        b.get(at..at + 4).map(|x| u32::from_be_bytes([x[0], x[1], x[2], x[3]])).ok_or_else(|| bad("short box"))
    };
    let mut decode_time = if tfdt.first() == Some(&TFDT_VERSION_64) {
        u64::from(u32_at(tfdt, 4)?) << 32 | u64::from(u32_at(tfdt, 8)?)
    } else {
        u64::from(u32_at(tfdt, 4)?)
    };
    let flags = u32_at(trun, 0)? & 0x00ff_ffff;
    if flags & TRUN_FLAGS != TRUN_FLAGS {
        return Err(bad("unexpected trun flags"));
    }
    let with_cto = flags & TRUN_SAMPLE_CTO_PRESENT != 0;
    let entry = if with_cto { TRUN_SAMPLE_LEN_CTO } else { TRUN_SAMPLE_LEN };
    let count = u32_at(trun, 4)? as usize;
    let mut offset = u32_at(trun, 8)? as usize;
    let mut out = Vec::with_capacity(count.min(trun.len() / entry));
    for i in 0..count {
        let at = 12 + i * entry;
        let (duration, size, sample_flags) = (u32_at(trun, at)?, u32_at(trun, at + 4)?, u32_at(trun, at + 8)?);
        let composition_offset = if with_cto { u32_at(trun, at + 12)? as i32 } else { 0 };
        let bytes = offset..offset + size as usize;
        if bytes.end > segment.len() {
            return Err(bad("sample outside mdat"));
        }
        out.push(ReadSample {
            decode_time,
            meta: SampleMeta { size, duration, composition_offset, sync: sample_flags & SAMPLE_IS_NON_SYNC == 0 },
            independent: sample_flags & (3 << 24) == SAMPLE_DEPENDS_ON_NONE,
            bytes,
        });
        decode_time += u64::from(duration);
        offset += size as usize;
    }
    Ok(out)
}

/// The body (after the header; after version and flags for a full box: callers read them) of
/// the first box of type `kind` among the boxes that fill `data`.
fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    let mut at = 0usize;
    while at + BOX_HEADER <= data.len() {
        let size = u32::from_be_bytes(data[at..at + 4].try_into().ok()?) as usize;
        let (header, size) = match size {
            1 => (
                LARGE_BOX_HEADER,
                usize::try_from(u64::from_be_bytes(data.get(at + 8..at + 16)?.try_into().ok()?)).ok()?,
            ),
            0 => (BOX_HEADER, data.len() - at),
            n => (BOX_HEADER, n),
        };
        if size < header || at + size > data.len() {
            return None;
        }
        if &data[at + 4..at + 8] == kind {
            return Some(&data[at + header..at + size]);
        }
        at += size;
    }
    None
}

/// Validates the arguments of a media segment.
fn check_samples(track_id: u32, samples: &[SampleMeta], payload_len: u64) -> Result<()> {
    if track_id == 0 {
        return Err(Error::internal("media segment: track_id must be non-zero"));
    }
    if samples.is_empty() || u32::try_from(samples.len()).is_err() {
        return Err(Error::internal(format!("media segment: unsupported sample count {}", samples.len())));
    }
    let total: u64 = samples.iter().map(|s| u64::from(s.size)).sum();
    if total != payload_len {
        return Err(Error::internal(format!(
            "media segment: sample sizes add up to {total} bytes but the payload has {payload_len}"
        )));
    }
    Ok(())
}

/// `traf` with `tfhd` (default-base-is-moof), `tfdt` (version 1) and `trun` (version 1).
fn write_traf(
    w: &mut BoxWriter,
    track_id: u32,
    base_media_decode_time: u64,
    samples: &[SampleMeta],
    data_offset: i32,
    with_cto: bool,
) -> Result<()> {
    w.write_box(b"traf", |w| {
        w.write_full_box(b"tfhd", 0, TFHD_DEFAULT_BASE_IS_MOOF, |w| {
            w.u32(track_id);
            Ok(())
        })?;
        w.write_full_box(b"tfdt", TFDT_VERSION_64, 0, |w| {
            w.u64(base_media_decode_time);
            Ok(())
        })?;
        let flags = TRUN_FLAGS | if with_cto { TRUN_SAMPLE_CTO_PRESENT } else { 0 };
        let open = open_gop_keys(samples);
        w.write_full_box(b"trun", TRUN_VERSION_SIGNED_CTO, flags, |w| {
            w.u32(samples.len() as u32); // checked to fit by check_samples
            w.i32(data_offset);
            for (i, s) in samples.iter().enumerate() {
                write_trun_sample(w, s, with_cto, open.contains(&i));
            }
            Ok(())
        })
    })
}

/// Indices of the sync samples after the first that have leading pictures: samples after them
/// in decode order (before the next sync sample) with an earlier presentation time. They are
/// open-GOP I pictures (an H.264 I with a recovery point, an HEVC CRA): a player that seeks
/// into the segment and starts decoding there gets leading pictures it cannot decode (Chromium
/// stops with `PIPELINE_ERROR_DECODE`), so they are not written as sync samples and players
/// start at the segment's first sample instead. The first sample stays a sync sample: a
/// segment must start with one.
pub fn open_gop_keys(samples: &[SampleMeta]) -> Vec<usize> {
    let mut pts = Vec::with_capacity(samples.len());
    let mut dts: i64 = 0;
    for s in samples {
        pts.push(dts + i64::from(s.composition_offset));
        dts += i64::from(s.duration);
    }
    (1..samples.len())
        .filter(|&i| samples[i].sync)
        .filter(|&i| (i + 1..samples.len()).take_while(|&j| !samples[j].sync).any(|j| pts[j] < pts[i]))
        .collect()
}

/// One trun sample record; `open_gop_key`: a sync sample with leading pictures (see
/// [`open_gop_keys`]).
fn write_trun_sample(w: &mut BoxWriter, s: &SampleMeta, with_cto: bool, open_gop_key: bool) {
    w.u32(s.duration);
    w.u32(s.size);
    w.u32(match (s.sync, open_gop_key) {
        (true, false) => SYNC_FLAGS,
        (true, true) => OPEN_GOP_KEY_FLAGS,
        (false, _) => NON_SYNC_FLAGS,
    });
    if with_cto {
        w.i32(s.composition_offset);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::output::fmp4::test_util::{find, names, parse_boxes};

    fn samples(specs: &[(u32, u32, i32, bool)]) -> Vec<SampleMeta> {
        specs
            .iter()
            .map(|&(size, duration, composition_offset, sync)| SampleMeta { size, duration, composition_offset, sync })
            .collect()
    }

    #[test]
    fn media_segment_structure() {
        let s = samples(&[(5, 512, 1024, true), (3, 512, -512, false), (2, 512, 0, false)]);
        let payload = b"aaaaabbbcc";
        let seg = write_media_segment(9, 1, 1 << 33, &s, payload).unwrap();
        let boxes = parse_boxes(&seg);
        assert_eq!(names(&boxes), ["moof", "mdat"]);
        let moof = find(&boxes, "moof");
        assert_eq!(names(&moof.children), ["mfhd", "traf"]);
        assert_eq!(names(&find(&boxes, "moof/traf").children), ["tfhd", "tfdt", "trun"]);
        assert_eq!(find(&boxes, "moof/mfhd").body, [0, 0, 0, 0, 0, 0, 0, 9]);
        assert_eq!(find(&boxes, "moof/traf/tfhd").body, [0, 2, 0, 0, 0, 0, 0, 1]);
        let tfdt = find(&boxes, "moof/traf/tfdt");
        assert_eq!(tfdt.body, [&[1, 0, 0, 0][..], &(1u64 << 33).to_be_bytes()].concat());
        let trun = find(&boxes, "moof/traf/trun");
        assert_eq!(trun.u32_at(0), 0x0100_0F01);
        assert_eq!(trun.u32_at(4), 3);
        let data_offset = trun.u32_at(8) as usize;
        assert_eq!(data_offset, moof.size as usize + 8);
        assert_eq!(&seg[data_offset..], payload);
        assert_eq!(find(&boxes, "mdat").body, payload);
        let rec = |i: usize| {
            (
                trun.u32_at(12 + 16 * i),
                trun.u32_at(16 + 16 * i),
                trun.u32_at(20 + 16 * i),
                trun.u32_at(24 + 16 * i) as i32,
            )
        };
        assert_eq!(rec(0), (512, 5, 0x0200_0000, 1024));
        assert_eq!(rec(1), (512, 3, 0x0101_0000, -512));
        assert_eq!(rec(2), (512, 2, 0x0101_0000, 0));
        assert_eq!(seg.len(), media_segment_overhead(3) + payload.len());
        let header = write_media_segment_header(9, 1, 1 << 33, &s, payload.len() as u64).unwrap();
        assert_eq!(header, seg[..data_offset], "the header alone is the segment's bytes before the payload");
    }

    #[test]
    fn media_segment_without_composition_offsets() {
        let s = samples(&[(4, 1024, 0, true), (4, 1024, 0, true)]);
        let seg = write_media_segment(1, 1, 0, &s, b"abcdefgh").unwrap();
        let boxes = parse_boxes(&seg);
        let trun = find(&boxes, "moof/traf/trun");
        assert_eq!(trun.u32_at(0), 0x0100_0701);
        assert_eq!(trun.body.len(), 12 + 2 * 12);
        assert_eq!(trun.u32_at(8) as usize, find(&boxes, "moof").size as usize + 8);
        assert_eq!(seg.len() + 2 * 4, media_segment_overhead(2) + 8);
    }

    #[test]
    fn open_gop_i_picture_inside_a_segment_is_no_sync_sample() {
        // Decode order: I (pts 0), P (pts 3), B (1), B (2); open I (pts 7) with two leading B
        // pictures (5, 6) referencing the P before it; P (10); closed I (11), no leading picture.
        let d = 100;
        let s = samples(&[
            (1, d, 0, true),
            (1, d, 200, false),
            (1, d, -100, false),
            (1, d, -100, false),
            (1, d, 300, true),
            (1, d, 0, false),
            (1, d, 0, false),
            (1, d, 300, false),
            (1, d, 300, true),
        ]);
        // pts: 0, 300, 100, 200, 700, 500, 600, 1000, 1100
        assert_eq!(open_gop_keys(&s), vec![4]);
        let seg = write_media_segment(1, 1, 0, &s, b"abcdefghi").unwrap();
        let boxes = parse_boxes(&seg);
        let trun = find(&boxes, "moof/traf/trun");
        let flags = |i: usize| trun.u32_at(20 + 16 * i);
        assert_eq!(flags(0), 0x0200_0000);
        assert_eq!(flags(4), 0x0201_0000);
        assert_eq!(flags(8), 0x0200_0000);
        assert_eq!(flags(5), 0x0101_0000);
        // The first sample stays a sync sample even with leading pictures.
        let s = samples(&[(1, d, 300, true), (1, d, 0, false), (1, d, 0, false)]);
        assert!(open_gop_keys(&s).is_empty());
    }

    #[test]
    fn first_sample_fragment_holds_the_keyframe_alone() {
        let s = samples(&[(5, 512, 1024, true), (3, 512, -512, false), (2, 512, 0, false)]);
        let seg = write_media_segment(9, 1, 1 << 33, &s, b"aaaaabbbcc").unwrap();
        let one = first_sample_fragment(&seg, 4).unwrap();
        assert_eq!(one, write_media_segment(4, 1, 1 << 33, &s[..1], b"aaaaa").unwrap());
        let s = samples(&[(4, 1024, 0, true), (4, 1024, 0, true)]);
        let seg = write_media_segment(1, 1, 7, &s, b"abcdefgh").unwrap();
        assert_eq!(first_sample_fragment(&seg, 1).unwrap(), write_media_segment(1, 1, 7, &s[..1], b"abcd").unwrap());
        let s = samples(&[(4, 1024, 0, false)]);
        let seg = write_media_segment(1, 1, 7, &s, b"abcd").unwrap();
        assert!(first_sample_fragment(&seg, 1).is_err());
        assert!(first_sample_fragment(b"junk", 1).is_err());
    }

    #[test]
    fn media_segment_errors() {
        let s = samples(&[(4, 1024, 0, true)]);
        let e = write_media_segment(1, 1, 0, &s, b"abc").unwrap_err();
        let msg = "media segment: sample sizes add up to 4 bytes but the payload has 3";
        assert_eq!((e.kind, e.message.as_str()), (ErrorKind::Internal, msg));
        assert!(write_media_segment(1, 1, 0, &s, b"abcde").is_err());
        assert!(write_media_segment(1, 1, 0, &[], b"").is_err());
        assert!(write_media_segment(1, 0, 0, &s, b"abcd").is_err());
        let huge = samples(&[(u32::MAX, 1, 0, true), (u32::MAX, 1, 0, true)]);
        assert!(write_media_segment(1, 1, 0, &huge, b"abcd").is_err());
    }
}
