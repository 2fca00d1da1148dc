//! CMAF `cbcs` sample encryption (ISO/IEC 23001-7 §10.4) of a media segment this module's
//! writers made: every sample encrypted in place, and the `traf` given `saiz`, `saio` and `senc`
//! (one subsample list per sample, no per-sample IV: the constant IV of the init's `tenc`).
//!
//! - **Video** (H.264, HEVC): each sample's NAL units are read through their length prefixes.
//!   Non-VCL units (parameter sets, SEI, delimiters) stay clear. A VCL unit (a slice) keeps its
//!   length prefix and its first 32 bytes clear — the NAL header and slice header, by the rule
//!   Apple's SAMPLE-AES uses (slice headers of the streams libhls copies fit it) — and, when it
//!   is longer than 48 bytes, the rest is its subsample's protected range, encrypted in the
//!   1:9 pattern (one 16-byte block encrypted, nine clear). Shorter units stay clear.
//! - **Audio** (AAC, AC-3, E-AC-3): the whole frame is one protected range, every block
//!   encrypted (pattern 0:0).
//!
//! In every protected range the CBC chain starts from the constant IV, runs through the
//! encrypted blocks only, and a last partial block stays clear, as `cbcs` defines.

use crate::error::{Error, Result};
use crate::output::encrypt;

use super::boxes::{BoxWriter, BOX_HEADER, FULL_BOX_HEADER, LARGE_BOX_HEADER};
use super::types::{NalLayout, Protection};

/// Bytes at the start of a slice NAL unit that stay clear (NAL header and slice header).
const CLEAR_SLICE_PREFIX: usize = 32;
/// Slice NAL units up to this size stay wholly clear.
const SMALL_SLICE: usize = 48;
/// Largest clear count of one subsample entry.
const MAX_CLEAR: usize = u16::MAX as usize;
/// `senc` flag: each sample has a subsample list.
const SENC_USE_SUBSAMPLES: u32 = 0x2;

/// One subsample: clear bytes, then protected bytes.
type Subsample = (u16, u32);

/// Adds `clear` clear bytes and `protected` protected ones to `subs` (clear runs merged, split
/// where a clear count would not fit 16 bits).
fn push(subs: &mut Vec<Subsample>, pending_clear: &mut usize, clear: usize, protected: usize) {
    *pending_clear += clear;
    if protected == 0 {
        return;
    }
    while *pending_clear > MAX_CLEAR {
        subs.push((MAX_CLEAR as u16, 0));
        *pending_clear -= MAX_CLEAR;
    }
    subs.push((*pending_clear as u16, protected as u32));
    *pending_clear = 0;
}

fn flush(subs: &mut Vec<Subsample>, pending_clear: &mut usize) {
    while *pending_clear > 0 {
        let n = (*pending_clear).min(MAX_CLEAR);
        subs.push((n as u16, 0));
        *pending_clear -= n;
    }
}

/// Whether a NAL unit whose first header byte is `first` is a slice.
fn is_slice(first: u8, hevc: bool) -> bool {
    if hevc {
        (first >> 1) & 0x3f <= 31
    } else {
        (1..=5).contains(&(first & 0x1f))
    }
}

/// The bytes of a clear segment: one buffer, or pieces one after the other (as read).
trait Source {
    /// Its length.
    fn total(&self) -> usize;
    /// `out.len()` bytes from `at`; None past the end.
    fn read(&self, at: usize, out: &mut [u8]) -> Option<()>;
}

impl Source for [u8] {
    fn total(&self) -> usize {
        self.len()
    }

    fn read(&self, at: usize, out: &mut [u8]) -> Option<()> {
        out.copy_from_slice(self.get(at..at.checked_add(out.len())?)?);
        Some(())
    }
}

/// Pieces of a segment, one after the other.
struct Pieces<'a> {
    pieces: &'a [&'a [u8]],
    /// Where each piece starts in the segment.
    starts: Vec<usize>,
    total: usize,
}

impl<'a> Pieces<'a> {
    fn new(pieces: &'a [&'a [u8]]) -> Self {
        let mut total = 0;
        let starts = pieces
            .iter()
            .map(|p| {
                total += p.len();
                total - p.len()
            })
            .collect();
        Pieces { pieces, starts, total }
    }

    /// The bytes `from..to` of the segment, piece by piece.
    fn copy_into(&self, from: usize, to: usize, out: &mut Vec<u8>) {
        for (piece, &start) in self.pieces.iter().zip(&self.starts) {
            let (a, b) = (from.max(start), to.min(start + piece.len()));
            if a < b {
                out.extend_from_slice(&piece[a - start..b - start]);
            }
        }
    }
}

impl Source for Pieces<'_> {
    fn total(&self) -> usize {
        self.total
    }

    fn read(&self, mut at: usize, out: &mut [u8]) -> Option<()> {
        if at.checked_add(out.len())? > self.total {
            return None;
        }
        let mut k = self.starts.partition_point(|&s| s <= at).checked_sub(1)?;
        let mut done = 0;
        while done < out.len() {
            let piece = self.pieces.get(k)?;
            let off = at - self.starts[k];
            let n = (piece.len().saturating_sub(off)).min(out.len() - done);
            out[done..done + n].copy_from_slice(&piece[off..off + n]);
            done += n;
            at += n;
            k += 1;
        }
        Some(())
    }
}

/// The subsamples of the sample at `start..end` of `data` added to `subs` (how many returned),
/// its protected ranges (in `data`) to `ranges`; nothing is encrypted yet.
fn layout_sample(
    p: &Protection,
    data: &(impl Source + ?Sized),
    start: usize,
    end: usize,
    subs: &mut Vec<Subsample>,
    ranges: &mut Vec<(usize, usize)>,
) -> Result<usize> {
    let before = subs.len();
    let mut clear = 0usize;
    let Some(NalLayout { length_size, hevc }) = p.nal else {
        ranges.push((start, end));
        push(subs, &mut clear, 0, end - start);
        return Ok(subs.len() - before);
    };
    let short = || Error::media("cbcs: a NAL length prefix runs past the sample");
    let mut prefix = [0u8; 8];
    let prefix = prefix.get_mut(..length_size + 1).ok_or_else(short)?;
    let mut at = start;
    while at < end {
        // The length prefix and the NAL header's first byte (a NAL unit has at least one).
        if at + length_size > end {
            return Err(short());
        }
        let len = match data.read(at, prefix) {
            Some(()) => prefix[..length_size].iter().fold(0usize, |n, &b| n << 8 | usize::from(b)),
            None => 0,
        };
        let body = at + length_size;
        let nal_end = body.checked_add(len).filter(|&e| e <= end && len > 0);
        let nal_end = nal_end.ok_or_else(|| Error::media("cbcs: a NAL unit runs past its sample"))?;
        if is_slice(prefix[length_size], hevc) && len > SMALL_SLICE {
            let from = body + CLEAR_SLICE_PREFIX;
            ranges.push((from, nal_end));
            push(subs, &mut clear, from - at, nal_end - from);
        } else {
            push(subs, &mut clear, nal_end - at, 0);
        }
        at = nal_end;
    }
    flush(subs, &mut clear);
    Ok(subs.len() - before)
}

/// A box inside `data` at `at`: (fourcc, header length, total length); `total`: the length of
/// what `data` begins (a box may run past `data`, not past `total`).
fn box_at(data: &[u8], at: usize, total: usize) -> Result<([u8; 4], usize, usize)> {
    let bad = || Error::internal("cbcs: malformed segment");
    let h = data.get(at..at + BOX_HEADER).ok_or_else(bad)?;
    let size = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
    let fourcc = [h[4], h[5], h[6], h[7]];
    let (header, size) = match size {
        1 => {
            let l = data.get(at + 8..at + 16).ok_or_else(bad)?;
            (
                LARGE_BOX_HEADER,
                usize::try_from(u64::from_be_bytes(l.try_into().map_err(|_| bad())?)).map_err(|_| bad())?,
            )
        }
        0 => (BOX_HEADER, total - at),
        n => (BOX_HEADER, n),
    };
    if size < header || at.checked_add(size).is_none_or(|e| e > total) {
        return Err(bad());
    }
    Ok((fourcc, header, size))
}

/// The boxes filling `data[from..to]`: (fourcc, start, total length).
fn boxes(data: &[u8], from: usize, to: usize) -> Result<Vec<([u8; 4], usize, usize)>> {
    let mut out = Vec::new();
    let mut at = from;
    while at < to {
        let (fourcc, _, size) = box_at(data, at, data.len())?;
        out.push((fourcc, at, size));
        at += size;
    }
    Ok(out)
}

fn be32(d: &[u8], at: usize) -> Result<u32> {
    d.get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| Error::internal("cbcs: short trun"))
}

/// Bytes a segment of `samples` samples usually grows by when [`encrypt_segment_in_place`]
/// encrypts it (`saiz`, `saio`, `senc` with up to eight subsamples a sample): what to reserve
/// beyond its length so that it grows where it is.
pub fn growth_estimate(samples: usize) -> usize {
    64 + samples * (2 + 6 * 9)
}

/// A media segment of one fragment (`moof` with one `traf`, then `mdat`, as
/// [`super::write_media_segment`] writes it) with its samples encrypted `cbcs` and `saiz`,
/// `saio`, `senc` added to its `traf`.
pub fn encrypt_segment(segment: &[u8], p: &Protection) -> Result<Vec<u8>> {
    encrypt_segment_pieces(&[segment], p)
}

/// [`encrypt_segment`] of the segment made of `pieces` one after the other (its header bytes
/// and sample ranges as read, not yet in one buffer): written once into the returned buffer,
/// the grown `moof` first, then encrypted there.
pub fn encrypt_segment_pieces(pieces: &[&[u8]], p: &Protection) -> Result<Vec<u8>> {
    let src = Pieces::new(pieces);
    let mut plan = plan(&src, p)?;
    let added = plan.moof.len() - plan.moof_len;
    let mut out = Vec::with_capacity(plan.segment_len + added);
    crate::util::memhint::populate(&out);
    out.extend_from_slice(&plan.moof);
    src.copy_into(plan.moof_len, plan.segment_len, &mut out);
    for r in &mut plan.ranges {
        *r = (r.0 + added, r.1 + added);
    }
    plan.encrypt(&mut out);
    Ok(out)
}

/// [`encrypt_segment`] of `segment`, encrypted where it is: the samples in place, then the
/// `mdat` moved up by the size of the added boxes (no copy beyond that move when `segment` has
/// the room spare: see [`growth_estimate`]).
pub fn encrypt_segment_in_place(mut segment: Vec<u8>, p: &Protection) -> Result<Vec<u8>> {
    let mut plan = plan(&segment[..], p)?;
    plan.encrypt(&mut segment);
    let Plan { moof, moof_len, segment_len, .. } = plan;
    let added = moof.len() - moof_len;
    // The mdat moved up past the grown moof, which is written before it.
    segment.truncate(segment_len);
    segment.resize(segment_len + added, 0);
    segment.copy_within(moof_len..segment_len, moof_len + added);
    segment[..moof.len()].copy_from_slice(&moof);
    Ok(segment)
}

/// How a segment is encrypted: its grown `moof`, and the protected ranges of its samples.
struct Plan<'a> {
    /// The `moof` with `saiz`, `saio` and `senc`.
    moof: Vec<u8>,
    /// The clear `moof`'s length.
    moof_len: usize,
    /// The clear segment's length (`moof` and `mdat`).
    segment_len: usize,
    /// Protected ranges, in the clear segment.
    ranges: Vec<(usize, usize)>,
    p: &'a Protection<'a>,
}

impl Plan<'_> {
    /// The protected ranges of `data` (where they are in it) encrypted.
    fn encrypt(&mut self, data: &mut [u8]) {
        let p = self.p;
        let (crypt, skip) = match p.nal {
            Some(_) => (usize::from(p.crypt_byte_block), usize::from(p.skip_byte_block)),
            None => (0, 0),
        };
        encrypt::cbc_encrypt_ranges(&encrypt::cipher(&p.key), &p.constant_iv, data, &mut self.ranges, crypt, skip);
    }
}

/// The encryption of the segment `src`: its samples' subsamples (through their NAL units), and
/// its `moof` with them.
fn plan<'a>(src: &(impl Source + ?Sized), p: &'a Protection<'a>) -> Result<Plan<'a>> {
    let bad = |what: &str| Error::internal(format!("cbcs: {what}"));
    let total = src.total();
    // The moof and the mdat's header (boxes read from `head`, samples from `src`).
    let mut head = vec![0u8; LARGE_BOX_HEADER.min(total)];
    src.read(0, &mut head).ok_or_else(|| bad("short segment"))?;
    let (fourcc, moof_header, moof_len) = box_at(&head, 0, total)?;
    if &fourcc != b"moof" {
        return Err(bad("no moof first"));
    }
    head = vec![0u8; (moof_len + LARGE_BOX_HEADER).min(total)];
    src.read(0, &mut head).ok_or_else(|| bad("short segment"))?;
    let (mdat_fourcc, mdat_header, mdat_len) = box_at(&head, moof_len, total)?;
    if &mdat_fourcc != b"mdat" {
        return Err(bad("no mdat after the moof"));
    }
    let segment = &head[..moof_len];
    let mut mfhd = None;
    let mut traf = None;
    for (f, at, len) in boxes(segment, moof_header, moof_len)? {
        match &f {
            b"mfhd" => mfhd = Some(at..at + len),
            b"traf" => traf = Some((at, len)),
            _ => {}
        }
    }
    let (mfhd, (traf_at, traf_len)) = mfhd.zip(traf).ok_or_else(|| bad("no mfhd or traf"))?;
    let children = boxes(segment, traf_at + BOX_HEADER, traf_at + traf_len)?;
    let (_, trun_at, trun_len) = *children.iter().find(|(f, ..)| f == b"trun").ok_or_else(|| bad("no trun"))?;
    let trun = &segment[trun_at..trun_at + trun_len];
    let flags = be32(trun, 8)? & 0x00ff_ffff;
    let count = be32(trun, 12)? as usize;
    if flags & 0x1 == 0 || flags & 0x200 == 0 || flags & 0x4 != 0 {
        return Err(bad("unexpected trun flags"));
    }
    let data_offset = be32(trun, 16)? as usize;
    let per = [0x100u32, 0x200, 0x400, 0x800].iter().filter(|f| flags & **f != 0).count() * 4;
    let size_at = if flags & 0x100 != 0 { 4 } else { 0 };
    let mut sizes = Vec::with_capacity(count);
    for i in 0..count {
        sizes.push(be32(trun, 20 + i * per + size_at)? as usize);
    }
    let payload_start = moof_len + mdat_header;
    let segment_len = moof_len + mdat_len;
    if data_offset != payload_start || sizes.iter().sum::<usize>() != mdat_len - mdat_header {
        return Err(bad("samples do not fill the mdat"));
    }

    // The subsamples of every sample and their protected ranges.
    let mut ranges = Vec::with_capacity(count * 2);
    let mut subsamples = Vec::with_capacity(count * 2);
    // Per sample: its number of subsamples.
    let mut counts = Vec::with_capacity(count);
    let mut at = payload_start;
    for size in &sizes {
        counts.push(layout_sample(p, src, at, at + size, &mut subsamples, &mut ranges)?);
        at += size;
    }

    // senc, saiz, saio.
    let info: Vec<usize> = counts.iter().map(|n| 2 + 6 * n).collect();
    let uniform = info.first().copied().filter(|&f| f <= 255 && info.iter().all(|&i| i == f));
    if info.iter().any(|&i| i > 255) {
        return Err(Error::new(crate::error::ErrorKind::Unsupported, "cbcs: a sample has too many NAL units"));
    }
    let saiz_len = FULL_BOX_HEADER + 1 + 4 + if uniform.is_some() { 0 } else { count };
    let saio_len = FULL_BOX_HEADER + 4 + 4;
    let senc_len = FULL_BOX_HEADER + 4 + info.iter().sum::<usize>();
    let added = saiz_len + saio_len + senc_len;
    let kept: usize = children.iter().map(|(_, _, l)| l).sum();
    let senc_data = moof_header + mfhd.len() + BOX_HEADER + kept + saiz_len + saio_len + FULL_BOX_HEADER + 4;

    let mut w = BoxWriter::with_capacity(moof_len + added);
    w.write_box(b"moof", |w| {
        w.bytes(&segment[mfhd.clone()]);
        w.write_box(b"traf", |w| {
            for (f, at, len) in &children {
                if f == b"trun" {
                    let mut t = segment[*at..*at + *len].to_vec();
                    t[16..20].copy_from_slice(&((data_offset + added) as u32).to_be_bytes());
                    w.bytes(&t);
                } else {
                    w.bytes(&segment[*at..*at + *len]);
                }
            }
            w.write_full_box(b"saiz", 0, 0, |w| {
                w.u8(uniform.unwrap_or(0) as u8);
                w.u32(count as u32);
                if uniform.is_none() {
                    for i in &info {
                        w.u8(*i as u8);
                    }
                }
                Ok(())
            })?;
            w.write_full_box(b"saio", 0, 0, |w| {
                w.u32(1);
                w.u32(senc_data as u32);
                Ok(())
            })?;
            w.write_full_box(b"senc", 0, SENC_USE_SUBSAMPLES, |w| {
                w.u32(count as u32);
                let mut subs = subsamples.iter();
                for &n in &counts {
                    w.u16(n as u16);
                    for (c, e) in subs.by_ref().take(n) {
                        w.u16(*c);
                        w.u32(*e);
                    }
                }
                Ok(())
            })
        })
    })?;
    let moof = w.into_bytes();
    if moof.len() != moof_len + added {
        return Err(bad("moof size"));
    }
    Ok(Plan { moof, moof_len, segment_len, ranges, p })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn video_slices_keep_their_headers_clear_and_encrypt_one_block_in_ten() {
        let p = Protection {
            key: [1; 16],
            key_id: [2; 16],
            constant_iv: [3; 16],
            crypt_byte_block: 1,
            skip_byte_block: 9,
            pssh: &[],
            nal: Some(NalLayout { length_size: 4, hevc: false }),
        };
        // An SPS (clear), a 400-byte IDR slice, a 20-byte slice (clear).
        let mut sample = vec![0, 0, 0, 4, 0x67, 1, 2, 3];
        sample.extend_from_slice(&400u32.to_be_bytes());
        sample.push(0x65);
        sample.extend(std::iter::repeat_n(0xaa, 399));
        sample.extend_from_slice(&20u32.to_be_bytes());
        sample.push(0x41);
        sample.extend(std::iter::repeat_n(0xbb, 19));
        let clear = sample.clone();
        let (mut subs, mut ranges) = (Vec::new(), Vec::new());
        assert_eq!(layout_sample(&p, &sample[..], 0, sample.len(), &mut subs, &mut ranges).unwrap(), 2);
        encrypt::cbc_encrypt_ranges(&encrypt::cipher(&p.key), &p.constant_iv, &mut sample, &mut ranges, 1, 9);
        assert_eq!(subs, vec![(8 + 4 + 32, 368), (24, 0)]);
        let start = 8 + 4 + 32;
        assert_eq!(sample[..start], clear[..start], "headers clear");
        assert_ne!(sample[start..start + 16], clear[start..start + 16], "first block encrypted");
        assert_eq!(sample[start + 16..start + 160], clear[start + 16..start + 160], "nine blocks clear");
        assert_ne!(sample[start + 160..start + 176], clear[start + 160..start + 176]);
        // Blocks 21 and 22 (after the third encrypted one) and the short slice stay clear.
        assert_eq!(sample[start + 336..], clear[start + 336..]);
    }
}
