//! NAL unit framing shared by H.264 and HEVC (ITU-T H.264 Annex B, ISO/IEC 14496-15): Annex-B
//! byte streams (start codes), length-prefixed access units as MP4 stores them, emulation
//! prevention, and the pieces of the avcC/hvcC records both codecs write the same way.

use super::bits::BitReader;
use super::picture::{Captions, Colour, ContentLight, MasteringDisplay, Vui};
use crate::error::{ParseError, ParseResult};

/// The Annex-B start code prefix (a 4-byte start code is a zero byte plus this).
const START_CODE: [u8; 3] = [0, 0, 1];

/// Bytes of the NAL length prefixes of [`annexb_to_length_prefixed`] and of records built from
/// Annex-B data.
pub(crate) const LENGTH_SIZE: usize = 4;

/// `lengthSizeMinusOne` of a record built from Annex-B data (4-byte lengths, [`LENGTH_SIZE`]).
pub(crate) const LENGTH_SIZE_MINUS_ONE: u8 = LENGTH_SIZE as u8 - 1;

/// The `configurationVersion` of avcC and hvcC records.
pub(crate) const RECORD_VERSION: u8 = 1;

/// Convert an Annex-B access unit (start codes) to 4-byte length-prefixed NAL units (for
/// sources like MPEG-TS). Bytes before the first start code and trailing zero bytes of each
/// NAL unit are dropped; without any start code the result is empty.
pub fn annexb_to_length_prefixed(data: &[u8]) -> Vec<u8> {
    let nals = annexb_nal_units(data);
    let total: usize = nals.iter().map(|n| n.len() + LENGTH_SIZE).sum();
    let mut out = Vec::with_capacity(total);
    for nal in nals {
        let len = u32::try_from(nal.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(nal);
    }
    out
}

/// True when `data` starts with an Annex-B start code (`00 00 01` or `00 00 00 01`) and is not
/// also a consistent chain of 4-byte length-prefixed NAL units (a length of 256..511 or 1 also
/// begins with those bytes). Meant for extradata and whole access units.
pub fn is_annexb(data: &[u8]) -> bool {
    let starts = data.starts_with(&START_CODE) || data.starts_with(&[0, 0, 0, 1]);
    starts && !is_length_prefixed_chain(data)
}

/// True when `data` is exactly a chain of 4-byte big-endian length-prefixed units.
fn is_length_prefixed_chain(data: &[u8]) -> bool {
    let mut rest = data;
    while rest.len() >= LENGTH_SIZE {
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len == 0 || len > rest.len() - LENGTH_SIZE {
            return false;
        }
        rest = &rest[LENGTH_SIZE + len..];
    }
    rest.is_empty()
}

/// The NAL units of a length-prefixed access unit (stops at the first inconsistent length).
pub(crate) fn length_prefixed_nal_units(data: &[u8], length_size: usize) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(prefix) = rest.get(..length_size) {
        let len = prefix.iter().fold(0usize, |acc, &b| acc << 8 | usize::from(b));
        let Some(nal) = len.checked_add(length_size).and_then(|end| rest.get(length_size..end)) else { break };
        if !nal.is_empty() {
            out.push(nal);
        }
        rest = &rest[length_size + len..];
    }
    out
}

/// The NAL units of a length-prefixed sample whose lengths are `record`'s size (its byte at
/// `field_at`), when they cover the sample exactly: `None` for an Annex-B sample, a length that
/// runs past the end, or an empty unit.
pub(crate) fn whole_length_prefixed<'a>(record: &[u8], field_at: usize, sample: &'a [u8]) -> Option<Vec<&'a [u8]>> {
    if is_annexb(sample) {
        return None;
    }
    let length_size = record_length_size(record, field_at);
    let nals = length_prefixed_nal_units(sample, length_size);
    let covered: usize = nals.iter().map(|n| n.len() + length_size).sum();
    (covered == sample.len()).then_some(nals)
}

/// Walks the NAL units of a length-prefixed sample (`length_size`-byte lengths) and asks
/// `decide` about the first header byte of each, in order, until it answers; `false` when no
/// unit decides. A unit whose length runs past the end still has its header byte looked at.
pub(crate) fn decide_by_first_nal_header(
    sample: &[u8],
    length_size: usize,
    mut decide: impl FnMut(u8) -> Option<bool>,
) -> bool {
    let mut at = 0usize;
    while at + length_size <= sample.len() {
        let n = sample[at..at + length_size].iter().fold(0usize, |a, &b| (a << 8) | b as usize);
        at += length_size;
        let Some(&head) = sample.get(at) else { break };
        if let Some(answer) = decide(head) {
            return answer;
        }
        at += n;
    }
    false
}

/// Position of the next `00 00 01` at or after `from`.
fn find_start_code(data: &[u8], from: usize) -> Option<usize> {
    data.get(from..)?.windows(START_CODE.len()).position(|w| w == START_CODE).map(|p| p + from)
}

/// The NAL units of an Annex-B byte stream, without start codes and trailing zero bytes.
pub(crate) fn annexb_nal_units(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut next = find_start_code(data, 0);
    while let Some(sc) = next {
        let start = sc + START_CODE.len();
        next = find_start_code(data, start);
        let nal = &data[start..next.unwrap_or(data.len())];
        let trimmed = nal.len() - nal.iter().rev().take_while(|&&b| b == 0).count();
        if trimmed > 0 {
            out.push(&nal[..trimmed]);
        }
    }
    out
}

/// SEI `payloadType`: user data registered by ITU-T T.35 (ATSC A/53 captions).
const SEI_USER_DATA_T35: u32 = 4;
/// SEI `payloadType`: mastering display colour volume.
const SEI_MASTERING_DISPLAY: u32 = 137;
/// SEI `payloadType`: content light level information.
const SEI_CONTENT_LIGHT: u32 = 144;
/// The head of an ATSC A/53 caption payload: T.35 country code (USA), provider code (ATSC),
/// user identifier `GA94` and `user_data_type_code` 3 (cc_data).
const A53_CC_HEAD: [u8; 8] = [0xB5, 0x00, 0x31, b'G', b'A', b'9', b'4', 0x03];
/// cc_data flags byte: `process_cc_data_flag`.
const CC_PROCESS_FLAG: u8 = 0x40;
/// cc_data flags byte: `cc_count` (5 bits).
const CC_COUNT_MASK: u8 = 0x1F;
/// A cc_data triple's first byte: `cc_valid`.
const CC_VALID: u8 = 0x04;
/// A cc_data triple's first byte: `cc_type` (0/1 CEA-608 fields, 2/3 CEA-708 DTVCC).
const CC_TYPE_MASK: u8 = 0x03;
/// The RBSP trailing bits byte that ends an SEI RBSP.
const RBSP_TRAILING: u8 = 0x80;

/// What the SEI messages of the first access units say that libhls declares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeiFacts {
    /// Mastering display colour volume.
    pub mastering: Option<MasteringDisplay>,
    /// Content light level.
    pub light: Option<ContentLight>,
    /// CEA-608/708 captions (A/53 cc_data).
    pub captions: Captions,
}

/// The (`payloadType`, payload) messages of an SEI RBSP (emulation prevention removed, NAL
/// header skipped); stops at the trailing bits or at the first message that does not fit.
fn sei_messages(rbsp: &[u8]) -> Vec<(u32, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0usize;
    let ff_coded = |at: &mut usize| -> Option<u32> {
        let mut v = 0u32;
        loop {
            let b = *rbsp.get(*at)?;
            *at += 1;
            v = v.saturating_add(u32::from(b));
            if b != 0xFF {
                return Some(v);
            }
        }
    };
    while at < rbsp.len() && rbsp[at..] != [RBSP_TRAILING] {
        let (Some(kind), Some(size)) = (ff_coded(&mut at), ff_coded(&mut at)) else { break };
        let Some(payload) = at.checked_add(size as usize).and_then(|end| rbsp.get(at..end)) else { break };
        out.push((kind, payload));
        at += size as usize;
    }
    out
}

/// The caption services of an ATSC A/53 `GA94` cc_data payload (valid triples only).
fn a53_captions(payload: &[u8]) -> Captions {
    let mut c = Captions::default();
    let Some(rest) = payload.strip_prefix(&A53_CC_HEAD[..]) else { return c };
    let Some(&flags) = rest.first() else { return c };
    if flags & CC_PROCESS_FLAG == 0 {
        return c;
    }
    let count = usize::from(flags & CC_COUNT_MASK);
    // flags, em_data, then cc_count triples.
    for t in rest.get(2..).unwrap_or_default().chunks_exact(3).take(count) {
        if t[0] & CC_VALID != 0 {
            match t[0] & CC_TYPE_MASK {
                0 | 1 => c.cea608 = true,
                _ => c.cea708 = true,
            }
        }
    }
    c
}

/// Adds what one SEI NAL unit's payload (`rbsp`: after the NAL header, still escaped) says to
/// `facts`; the first mastering display and light level seen are kept.
pub(crate) fn read_sei(escaped: &[u8], facts: &mut SeiFacts) {
    let rbsp = unescape_rbsp(escaped);
    for (kind, payload) in sei_messages(&rbsp) {
        match kind {
            SEI_MASTERING_DISPLAY if facts.mastering.is_none() => facts.mastering = MasteringDisplay::parse(payload),
            SEI_CONTENT_LIGHT if facts.light.is_none() => facts.light = ContentLight::parse(payload),
            SEI_USER_DATA_T35 => {
                let c = a53_captions(payload);
                facts.captions.cea608 |= c.cea608;
                facts.captions.cea708 |= c.cea708;
            }
            _ => {}
        }
    }
}

/// `aspect_ratio_idc` of an explicit `sar_width`, `sar_height` pair.
pub(crate) const EXTENDED_SAR: u32 = 255;
/// Sample aspect ratios of `aspect_ratio_idc` 1..=16 (H.264 Table E-1, HEVC Table E.1).
pub(crate) const SAR_TABLE: [(u32, u32); 16] = [
    (1, 1),
    (12, 11),
    (10, 11),
    (16, 11),
    (40, 33),
    (24, 11),
    (20, 11),
    (32, 11),
    (80, 33),
    (18, 11),
    (15, 11),
    (64, 33),
    (160, 99),
    (4, 3),
    (3, 2),
    (2, 1),
];

/// The head of `vui_parameters()`, the same in H.264 and HEVC: aspect ratio, overscan, video
/// signal type and colour description. `r` is at its first bit.
pub(crate) fn read_vui(r: &mut BitReader<'_>) -> ParseResult<Vui> {
    let mut vui = Vui::default();
    if r.bit()? {
        let idc = r.bits(8)?;
        vui.sar = match idc {
            EXTENDED_SAR => Some((r.bits(16)?, r.bits(16)?)),
            1..=16 => Some(SAR_TABLE[idc as usize - 1]),
            _ => None,
        };
    }
    if r.bit()? {
        r.skip(1)?; // overscan_appropriate_flag
    }
    if r.bit()? {
        r.skip(3)?; // video_format
        let full_range = r.bit()?;
        let (primaries, transfer, matrix) = if r.bit()? {
            (r.bits(8)? as u8, r.bits(8)? as u8, r.bits(8)? as u8)
        } else {
            (super::picture::UNSPECIFIED, super::picture::UNSPECIFIED, super::picture::UNSPECIFIED)
        };
        vui.colour = Some(Colour { primaries, transfer, matrix, full_range });
    }
    Ok(vui)
}

/// The NAL units of one access unit, Annex-B or length-prefixed with `length_size` bytes.
pub(crate) fn sample_nal_units(sample: &[u8], length_size: usize) -> Vec<&[u8]> {
    if is_annexb(sample) {
        annexb_nal_units(sample)
    } else {
        length_prefixed_nal_units(sample, length_size)
    }
}

/// Removes emulation prevention bytes (`00 00 03` -> `00 00`).
pub(crate) fn unescape_rbsp(data: &[u8]) -> Vec<u8> {
    const EMULATION_PREVENTION: u8 = 3;
    let mut out = Vec::with_capacity(data.len());
    let mut zeros = 0;
    for &b in data {
        if zeros >= 2 && b == EMULATION_PREVENTION {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// The NAL length size a stored avcC/hvcC record declares (its `lengthSizeMinusOne` field at
/// `field_at`, low 2 bits, plus one), or [`LENGTH_SIZE`] when `extradata` is not such a record
/// (Annex-B parameter sets, or nothing).
pub(crate) fn record_length_size(extradata: &[u8], field_at: usize) -> usize {
    match extradata.get(field_at) {
        Some(&field) if extradata[0] == RECORD_VERSION => usize::from(field & 3) + 1,
        _ => LENGTH_SIZE,
    }
}

/// Accepts an existing decoder configuration record after a minimal sanity check (length and
/// configurationVersion).
pub(crate) fn check_record(src: &[u8], min_len: usize, name: &str) -> ParseResult<Vec<u8>> {
    if src.len() < min_len || src[0] != RECORD_VERSION {
        return Err(ParseError::new(format!("{name}: malformed decoder configuration record ({} bytes)", src.len())));
    }
    Ok(src.to_vec())
}

/// Appends `nal` with a 16-bit length prefix.
pub(crate) fn put_u16_prefixed(out: &mut Vec<u8>, nal: &[u8], what: &str) -> ParseResult<()> {
    let len =
        u16::try_from(nal.len()).map_err(|_| ParseError::new(format!("{what} too large ({} bytes)", nal.len())))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(nal);
    Ok(())
}

/// Count of a parameter-set list as the record's count field type.
pub(crate) fn count_u8(n: usize, max: usize, what: &str) -> ParseResult<u8> {
    if n > max {
        return Err(ParseError::new(format!("too many {what} ({n})")));
    }
    Ok(n as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::test_support::hex;

    #[test]
    fn sei_messages_carry_hdr_metadata_and_captions() {
        // Content light level (payload 144, 4 bytes) then A/53 captions with one valid 608
        // pair, one invalid 708 triple, then trailing bits.
        let mut rbsp = vec![144, 4, 0x03, 0xE8, 0x01, 0x90, 4, 17];
        rbsp.extend_from_slice(&A53_CC_HEAD);
        rbsp.extend_from_slice(&[0x42, 0xFF, 0xFC, 0x94, 0x20, 0xFA, 0, 0, 0xFF, 0x80]);
        let mut f = SeiFacts::default();
        read_sei(&rbsp, &mut f);
        assert_eq!(f.light, Some(ContentLight { max_cll: 1000, max_fall: 400 }));
        assert_eq!(f.captions, Captions { cea608: true, cea708: false });
        assert_eq!(f.mastering, None);
        // A valid 708 triple; another provider's user data is no caption; truncation stops.
        let mut r708 = vec![4, 14];
        r708.extend_from_slice(&A53_CC_HEAD);
        r708.extend_from_slice(&[0x41, 0xFF, 0xFF, 0x02, 0x21, 0xFF, 0x80]);
        let mut f = SeiFacts::default();
        read_sei(&r708, &mut f);
        assert_eq!(f.captions, Captions { cea608: false, cea708: true });
        let other = [4, 9, 0xB5, 0, 0x2F, b'D', b'T', b'G', b'1', 1, 2, 0x80];
        let mut f = SeiFacts::default();
        read_sei(&other, &mut f);
        read_sei(&[137, 30, 1, 2, 3], &mut f);
        assert_eq!(f, SeiFacts::default());
    }

    #[test]
    fn annexb_conversion() {
        let annexb = hex("00000001 0910 000001 6764 00 000001 65aabb0000 00000001 41cc");
        assert!(is_annexb(&annexb));
        let lp = annexb_to_length_prefixed(&annexb);
        assert_eq!(lp, hex("00000002 0910 00000002 6764 00000003 65aabb 00000002 41cc"));
        assert!(!is_annexb(&lp));
        // A length-prefixed NAL of 300 bytes starts with 00 00 01 but is not Annex-B.
        let big = [&[0, 0, 1, 0x2c][..], &[0x41; 300]].concat();
        assert!(!is_annexb(&big));
        assert!(annexb_to_length_prefixed(b"no start code").is_empty());
        assert_eq!(unescape_rbsp(&hex("000003010000030000")), hex("0000010000 0000"));
    }

    #[test]
    fn length_prefixed_walks() {
        let au = hex("0002 0910 0003 65aabb 0009 41");
        assert_eq!(length_prefixed_nal_units(&au, 2), [&[0x09, 0x10][..], &[0x65, 0xaa, 0xbb]]);
        let mut seen = Vec::new();
        let decided = decide_by_first_nal_header(&au, 2, |h| {
            seen.push(h);
            None
        });
        // The truncated last unit's header byte is still looked at.
        assert_eq!((decided, seen), (false, vec![0x09, 0x65, 0x41]));
        assert!(decide_by_first_nal_header(&au, 2, |h| (h == 0x65).then_some(true)));
        assert!(!decide_by_first_nal_header(&[], 4, |_| Some(true)));
    }

    #[test]
    fn record_length_sizes() {
        assert_eq!(record_length_size(&hex("0164000dfd"), 4), 2);
        assert_eq!(record_length_size(&hex("0164000d"), 4), LENGTH_SIZE);
        assert_eq!(record_length_size(&hex("0000000167"), 4), LENGTH_SIZE);
        assert_eq!(record_length_size(&[], 21), LENGTH_SIZE);
    }
}
