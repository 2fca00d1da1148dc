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

use aes::cipher::{BlockEncrypt, KeyInit};

use crate::error::{Error, Result};

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
/// AES block.
const BLOCK: usize = 16;

/// One subsample: clear bytes, then protected bytes.
type Subsample = (u16, u32);

/// AES blocks encrypted together: as many independent CBC chains as the AES instructions keep
/// in flight (each round of a block waits for the previous round of the same block, so one
/// chain alone leaves the unit mostly idle).
const LANES: usize = 8;

/// One protected range being encrypted: the next block to encrypt, where the range ends, and
/// the encrypted blocks left in the current run of the pattern.
#[derive(Clone, Copy)]
struct Lane {
    at: usize,
    end: usize,
    run_left: usize,
}

/// Encrypts every range of `ranges` (start, end) in `data` in place, each from its start: `crypt`
/// blocks encrypted (CBC from `iv`) then `skip` blocks clear, repeated; 0:0 encrypts every
/// block; a last partial block stays clear. The ranges are disjoint, each its own CBC chain, so
/// up to [`LANES`] of them are encrypted side by side (the bytes are the same as one range after
/// the other).
fn encrypt_ranges(
    cipher: &aes::Aes128,
    iv: &[u8; 16],
    data: &mut [u8],
    ranges: &[(usize, usize)],
    crypt: usize,
    skip: usize,
) {
    let (crypt, skip) = if crypt == 0 && skip == 0 { (1, 0) } else { (crypt, skip) };
    let mut next = ranges.iter().filter(|(from, to)| to - from >= BLOCK);
    // Lanes 0..active are encrypting; each one's CBC chain value is its entry of `blocks`.
    let mut lanes = [Lane { at: 0, end: 0, run_left: 0 }; LANES];
    let mut blocks = [aes::Block::default(); LANES];
    let mut active = 0;
    let word = |b: &[u8]| u128::from_ne_bytes(b.try_into().expect("a block"));
    loop {
        while active < LANES {
            let Some(&(at, end)) = next.next() else { break };
            lanes[active] = Lane { at, end, run_left: crypt };
            blocks[active].copy_from_slice(iv);
            active += 1;
        }
        if active == 0 {
            return;
        }
        for (l, block) in lanes[..active].iter().zip(&mut blocks[..active]) {
            let x = word(&data[l.at..l.at + BLOCK]) ^ word(block);
            block.copy_from_slice(&x.to_ne_bytes());
        }
        cipher.encrypt_blocks(&mut blocks[..active]);
        let mut j = 0;
        while j < active {
            let l = &mut lanes[j];
            data[l.at..l.at + BLOCK].copy_from_slice(&blocks[j]);
            l.at += BLOCK;
            l.run_left -= 1;
            if l.run_left == 0 {
                l.at += skip * BLOCK;
                l.run_left = crypt;
            }
            if l.at + BLOCK > l.end {
                // Done: the last lane takes its place (its block is encrypted, not yet stored).
                active -= 1;
                lanes.swap(j, active);
                blocks.swap(j, active);
            } else {
                j += 1;
            }
        }
    }
}

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

/// The subsamples of the sample `data[start..end]`, its protected ranges (in `data`) added to
/// `ranges`; nothing is encrypted yet.
fn layout_sample(
    p: &Protection,
    data: &[u8],
    start: usize,
    end: usize,
    ranges: &mut Vec<(usize, usize)>,
) -> Result<Vec<Subsample>> {
    let sample = &data[start..end];
    let mut subs = Vec::new();
    let mut clear = 0usize;
    let Some(NalLayout { length_size, hevc }) = p.nal else {
        ranges.push((start, end));
        push(&mut subs, &mut clear, 0, sample.len());
        return Ok(subs);
    };
    let mut at = 0;
    while at < sample.len() {
        let prefix = sample
            .get(at..at + length_size)
            .ok_or_else(|| Error::media("cbcs: a NAL length prefix runs past the sample"))?;
        let len = prefix.iter().fold(0usize, |n, &b| n << 8 | usize::from(b));
        let body = at + length_size;
        let end = body.checked_add(len).filter(|&e| e <= sample.len() && len > 0);
        let end = end.ok_or_else(|| Error::media("cbcs: a NAL unit runs past its sample"))?;
        if is_slice(sample[body], hevc) && len > SMALL_SLICE {
            let from = body + CLEAR_SLICE_PREFIX;
            ranges.push((start + from, start + end));
            push(&mut subs, &mut clear, from - at, end - from);
        } else {
            push(&mut subs, &mut clear, end - at, 0);
        }
        at = end;
    }
    flush(&mut subs, &mut clear);
    Ok(subs)
}

/// A box inside `data` at `at`: (fourcc, header length, total length).
fn box_at(data: &[u8], at: usize) -> Result<([u8; 4], usize, usize)> {
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
        0 => (BOX_HEADER, data.len() - at),
        n => (BOX_HEADER, n),
    };
    if size < header || at.checked_add(size).is_none_or(|e| e > data.len()) {
        return Err(bad());
    }
    Ok((fourcc, header, size))
}

/// The boxes filling `data[from..to]`: (fourcc, start, total length).
fn boxes(data: &[u8], from: usize, to: usize) -> Result<Vec<([u8; 4], usize, usize)>> {
    let mut out = Vec::new();
    let mut at = from;
    while at < to {
        let (fourcc, _, size) = box_at(data, at)?;
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
    let mut owned = Vec::with_capacity(segment.len() + segment.len() / 8 + 1024);
    owned.extend_from_slice(segment);
    encrypt_segment_in_place(owned, p)
}

/// [`encrypt_segment`] of `segment`, encrypted where it is: the samples in place, then the
/// `mdat` moved up by the size of the added boxes (no copy beyond that move when `segment` has
/// the room spare: see [`growth_estimate`]).
pub fn encrypt_segment_in_place(mut segment: Vec<u8>, p: &Protection) -> Result<Vec<u8>> {
    let bad = |what: &str| Error::internal(format!("cbcs: {what}"));
    let (fourcc, moof_header, moof_len) = box_at(&segment, 0)?;
    if &fourcc != b"moof" {
        return Err(bad("no moof first"));
    }
    let (mdat_fourcc, mdat_header, mdat_len) = box_at(&segment, moof_len)?;
    if &mdat_fourcc != b"mdat" {
        return Err(bad("no mdat after the moof"));
    }
    let mut mfhd = None;
    let mut traf = None;
    for (f, at, len) in boxes(&segment, moof_header, moof_len)? {
        match &f {
            b"mfhd" => mfhd = Some(at..at + len),
            b"traf" => traf = Some((at, len)),
            _ => {}
        }
    }
    let (mfhd, (traf_at, traf_len)) = mfhd.zip(traf).ok_or_else(|| bad("no mfhd or traf"))?;
    let children = boxes(&segment, traf_at + BOX_HEADER, traf_at + traf_len)?;
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

    // The subsamples of every sample, then their protected ranges encrypted.
    let mut ranges = Vec::new();
    let mut subsamples = Vec::with_capacity(count);
    let mut at = payload_start;
    for size in &sizes {
        subsamples.push(layout_sample(p, &segment, at, at + size, &mut ranges)?);
        at += size;
    }
    let (crypt, skip) = match p.nal {
        Some(_) => (usize::from(p.crypt_byte_block), usize::from(p.skip_byte_block)),
        None => (0, 0),
    };
    let cipher = aes::Aes128::new((&p.key).into());
    encrypt_ranges(&cipher, &p.constant_iv, &mut segment, &ranges, crypt, skip);

    // senc, saiz, saio.
    let info: Vec<usize> = subsamples.iter().map(|s| 2 + 6 * s.len()).collect();
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
                for s in &subsamples {
                    w.u16(s.len() as u16);
                    for (c, e) in s {
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
    // The mdat moved up past the grown moof, which is written before it.
    segment.truncate(segment_len);
    segment.resize(segment_len + added, 0);
    segment.copy_within(moof_len..segment_len, moof_len + added);
    segment[..moof.len()].copy_from_slice(&moof);
    Ok(segment)
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
        let cipher = aes::Aes128::new((&p.key).into());
        let mut ranges = Vec::new();
        let subs = layout_sample(&p, &sample, 0, sample.len(), &mut ranges).unwrap();
        encrypt_ranges(&cipher, &p.constant_iv, &mut sample, &ranges, 1, 9);
        assert_eq!(subs, vec![(8 + 4 + 32, 368), (24, 0)]);
        let start = 8 + 4 + 32;
        assert_eq!(sample[..start], clear[..start], "headers clear");
        assert_ne!(sample[start..start + 16], clear[start..start + 16], "first block encrypted");
        assert_eq!(sample[start + 16..start + 160], clear[start + 16..start + 160], "nine blocks clear");
        assert_ne!(sample[start + 160..start + 176], clear[start + 160..start + 176]);
        // Blocks 21 and 22 (after the third encrypted one) and the short slice stay clear.
        assert_eq!(sample[start + 336..], clear[start + 336..]);
    }

    /// One range after the other, block by block: the pattern as `cbcs` defines it.
    fn encrypt_one_by_one(
        key: &[u8; 16],
        iv: &[u8; 16],
        data: &mut [u8],
        ranges: &[(usize, usize)],
        crypt: usize,
        skip: usize,
    ) {
        let cipher = aes::Aes128::new(key.into());
        for &(from, to) in ranges {
            let blocks = (to - from) / BLOCK;
            let mut chain = *iv;
            let mut i = 0;
            while i < blocks {
                for _ in 0..crypt.max(1) {
                    if i >= blocks {
                        break;
                    }
                    let block = &mut data[from + i * BLOCK..from + (i + 1) * BLOCK];
                    for (b, c) in block.iter_mut().zip(chain.iter()) {
                        *b ^= c;
                    }
                    cipher.encrypt_block(block.into());
                    chain.copy_from_slice(block);
                    i += 1;
                }
                i += skip;
            }
        }
    }

    #[test]
    fn slices_encrypted_side_by_side_are_the_bytes_of_one_after_the_other() {
        let key = [5u8; 16];
        let iv = [6u8; 16];
        let data: Vec<u8> = (0..40_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        // Ranges of every length class: shorter than a block, partial last blocks, long runs,
        // more of them than lanes.
        let mut ranges = Vec::new();
        let mut at = 3;
        for len in [5usize, 16, 17, 160, 161, 176, 1000, 4096, 33, 15, 2000, 160 * 9 + 7, 48, 12_000, 64, 900] {
            ranges.push((at, at + len));
            at += len + 11;
        }
        for (crypt, skip) in [(1, 9), (0, 0), (2, 3)] {
            let mut side_by_side = data.clone();
            let cipher = aes::Aes128::new((&key).into());
            encrypt_ranges(&cipher, &iv, &mut side_by_side, &ranges, crypt, skip);
            let mut sequential = data.clone();
            encrypt_one_by_one(&key, &iv, &mut sequential, &ranges, crypt, skip);
            assert_eq!(side_by_side, sequential, "pattern {crypt}:{skip}");
            assert_ne!(side_by_side, data);
        }
    }
}
