//! AV1 (AV1 Bitstream & Decoding Process Specification, AV1 Codec ISOBMFF Binding): the sequence
//! header OBU fields an AV1CodecConfigurationRecord (av1C) needs, building av1C from raw OBUs,
//! and the `av01.P.LLT.DD` codec string.

use super::bits::BitReader;
use crate::error::{ParseError, ParseResult};

/// First byte of av1C: marker (1) and version (1).
const AV1C_MARKER_VERSION: u8 = 0x81;
/// Bytes of the fixed av1C header before its configOBUs.
const AV1C_HEADER_LEN: usize = 4;
/// obu_type of a sequence header OBU.
const OBU_SEQUENCE_HEADER: u8 = 1;
/// OBU header bit: an obu_extension_header follows.
const OBU_EXTENSION_FLAG: u8 = 0x04;
/// OBU header bit: an obu_size field follows the header.
const OBU_HAS_SIZE_FIELD: u8 = 0x02;
/// Most bytes of a leb128() value.
const LEB128_MAX_BYTES: usize = 8;

/// Sequence header fields an av1C record needs.
#[derive(Default)]
struct SequenceHeader {
    profile: u32,
    level0: u32,
    tier0: u32,
    high_bitdepth: bool,
    twelve_bit: bool,
    mono: bool,
    ss_x: bool,
    ss_y: bool,
    chroma_sample_position: u32,
}

/// The av1C for `src` (the extradata, or the first packet when there is none): a record as it
/// is, else one built from the raw OBUs' sequence header.
pub(crate) fn decoder_config_record(src: &[u8]) -> ParseResult<Vec<u8>> {
    if src.len() >= AV1C_HEADER_LEN && src[0] == AV1C_MARKER_VERSION {
        return Ok(src.to_vec());
    }
    build_av1c(src)
}

/// Reads an unsigned LEB128 value; returns (value, bytes used).
fn read_leb128(data: &[u8]) -> ParseResult<(usize, usize)> {
    let mut value: u64 = 0;
    for (i, &b) in data.iter().take(LEB128_MAX_BYTES).enumerate() {
        value |= u64::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            return usize::try_from(value).map(|v| (v, i + 1)).map_err(|_| ParseError::new("AV1: OBU too large"));
        }
    }
    Err(ParseError::new("AV1: invalid leb128 size"))
}

/// Finds the sequence header OBU in low-overhead OBU data; returns its payload.
fn find_sequence_header(mut data: &[u8]) -> ParseResult<&[u8]> {
    while let Some(&header) = data.first() {
        let ext = usize::from(header & OBU_EXTENSION_FLAG != 0);
        let mut pos = 1 + ext;
        let size = if header & OBU_HAS_SIZE_FIELD != 0 {
            let (size, used) = read_leb128(data.get(pos..).unwrap_or_default())?;
            pos += used;
            size
        } else {
            data.len().saturating_sub(pos)
        };
        let end =
            pos.checked_add(size).filter(|&e| e <= data.len()).ok_or_else(|| ParseError::new("AV1: truncated OBU"))?;
        if (header >> 3) & 0x0F == OBU_SEQUENCE_HEADER {
            return Ok(&data[pos..end]);
        }
        data = &data[end..];
    }
    Err(ParseError::new("AV1: no sequence header OBU"))
}

/// Skips timing_info() and decoder_model_info(); returns buffer_delay_length_minus_1 + 1 when
/// a decoder model is present.
fn skip_timing(r: &mut BitReader) -> ParseResult<Option<usize>> {
    if !r.bit()? {
        return Ok(None); // timing_info_present_flag
    }
    r.skip(64)?;
    if r.bit()? {
        r.uvlc()?; // num_ticks_per_picture_minus_1
    }
    if !r.bit()? {
        return Ok(None); // decoder_model_info_present_flag
    }
    let delay_len = r.bits(5)? as usize + 1;
    r.skip(32 + 5 + 5)?;
    Ok(Some(delay_len))
}

/// Parses the operating points; returns (`seq_level_idx[0]`, `seq_tier[0]`).
fn parse_operating_points(r: &mut BitReader, model: Option<usize>) -> ParseResult<(u32, u32)> {
    let initial_display_delay = r.bit()?;
    let count = r.bits(5)? + 1;
    let mut first = None;
    for _ in 0..count {
        r.skip(12)?; // operating_point_idc
        let level = r.bits(5)?;
        let tier = if level > 7 { r.bits(1)? } else { 0 };
        if let Some(n) = model {
            if r.bit()? {
                r.skip(2 * n + 1)?;
            }
        }
        if initial_display_delay && r.bit()? {
            r.skip(4)?;
        }
        first.get_or_insert((level, tier));
    }
    first.ok_or_else(|| ParseError::new("AV1: no operating point"))
}

/// Skips the sequence header fields between the operating points and color_config().
fn skip_tools(r: &mut BitReader, reduced: bool) -> ParseResult<()> {
    let w_bits = r.bits(4)? as usize + 1;
    let h_bits = r.bits(4)? as usize + 1;
    r.skip(w_bits + h_bits)?;
    if !reduced && r.bit()? {
        r.skip(7)?; // frame id lengths
    }
    r.skip(3)?; // use_128x128_superblock, enable_filter_intra, enable_intra_edge_filter
    if !reduced {
        r.skip(4)?; // interintra, masked, warped, dual filter
        let order_hint = r.bit()?;
        if order_hint {
            r.skip(2)?; // jnt_comp, ref_frame_mvs
        }
        let force_sct = if r.bit()? { 2 } else { r.bits(1)? };
        if force_sct > 0 && !r.bit()? {
            r.skip(1)?; // seq_force_integer_mv
        }
        if order_hint {
            r.skip(3)?;
        }
    }
    r.skip(3) // superres, cdef, restoration
}

/// Parses color_config() into `seq`.
fn parse_color(r: &mut BitReader, seq: &mut SequenceHeader) -> ParseResult<()> {
    seq.high_bitdepth = r.bit()?;
    seq.twelve_bit = seq.profile == 2 && seq.high_bitdepth && r.bit()?;
    seq.mono = seq.profile != 1 && r.bit()?;
    let (mut cp, mut tc, mut mc) = (2, 2, 2);
    if r.bit()? {
        (cp, tc, mc) = (r.bits(8)?, r.bits(8)?, r.bits(8)?);
    }
    if seq.mono {
        (seq.ss_x, seq.ss_y) = (true, true);
        return Ok(());
    }
    if cp == 1 && tc == 13 && mc == 0 {
        return Ok(()); // sRGB: 4:4:4
    }
    r.skip(1)?; // color_range
    (seq.ss_x, seq.ss_y) = match seq.profile {
        0 => (true, true),
        1 => (false, false),
        _ if seq.twelve_bit => {
            let x = r.bit()?;
            (x, x && r.bit()?)
        }
        _ => (true, false),
    };
    if seq.ss_x && seq.ss_y {
        seq.chroma_sample_position = r.bits(2)?;
    }
    Ok(())
}

/// Parses a sequence_header_obu() payload.
fn parse_sequence_header(payload: &[u8]) -> ParseResult<SequenceHeader> {
    let mut r = BitReader::new(payload);
    let mut seq = SequenceHeader { profile: r.bits(3)?, ..SequenceHeader::default() };
    r.skip(1)?; // still_picture
    let reduced = r.bit()?;
    if reduced {
        seq.level0 = r.bits(5)?;
    } else {
        let model = skip_timing(&mut r)?;
        (seq.level0, seq.tier0) = parse_operating_points(&mut r, model)?;
    }
    skip_tools(&mut r, reduced)?;
    parse_color(&mut r, &mut seq)?;
    Ok(seq)
}

/// Builds an av1C record from raw OBUs containing a sequence header.
fn build_av1c(obus: &[u8]) -> ParseResult<Vec<u8>> {
    let payload = find_sequence_header(obus)?;
    let s = parse_sequence_header(payload)?;
    let flags = s.tier0 << 7
        | u32::from(s.high_bitdepth) << 6
        | u32::from(s.twelve_bit) << 5
        | u32::from(s.mono) << 4
        | u32::from(s.ss_x) << 3
        | u32::from(s.ss_y) << 2
        | s.chroma_sample_position;
    let mut out = vec![AV1C_MARKER_VERSION, (s.profile << 5 | s.level0) as u8, flags as u8, 0];
    out.push(OBU_SEQUENCE_HEADER << 3 | OBU_HAS_SIZE_FIELD);
    let mut size = payload.len();
    loop {
        let byte = (size & 0x7F) as u8;
        size >>= 7;
        out.push(if size > 0 { byte | 0x80 } else { byte });
        if size == 0 {
            break;
        }
    }
    out.extend_from_slice(payload);
    Ok(out)
}

/// `av01.P.LLT.DD` from an av1C record.
pub(crate) fn codec_string(av1c: &[u8]) -> ParseResult<String> {
    let (Some(&b1), Some(&b2)) = (av1c.get(1), av1c.get(2)) else {
        return Err(ParseError::new("av1C: record too short"));
    };
    let tier = if b2 & 0x80 != 0 { 'H' } else { 'M' };
    let depth = match (b2 & 0x40 != 0, b2 & 0x20 != 0) {
        (false, _) => 8,
        (true, false) => 10,
        (true, true) => 12,
    };
    Ok(format!("av01.{}.{:02}{tier}.{depth:02}", b1 >> 5, b1 & 0x1F))
}

#[cfg(test)]
mod tests {
    use crate::codec::test_support::{cfg, hex};
    use crate::codec::{codec_string, decoder_config_record, Codec};

    /// av1C written by FFmpeg 5.1 for libsvtav1 8-bit and libaom 10-bit 320x240.
    const AV1C_8: &str = "81000c000a0b000000043cffbc02f80040";
    const AV1C_10: &str = "81004c000a0b000000043cffbcdaf94040";

    #[test]
    fn av1_strings_from_real_records() {
        assert_eq!(codec_string(&cfg(Codec::Av1, hex(AV1C_8))).unwrap(), "av01.0.00M.08");
        assert_eq!(codec_string(&cfg(Codec::Av1, hex(AV1C_10))).unwrap(), "av01.0.00M.10");
        assert_eq!(codec_string(&cfg(Codec::Av1, hex("8148e000"))).unwrap(), "av01.2.08H.12");
    }

    #[test]
    fn av1c_from_raw_sequence_header_matches_record() {
        for rec in [AV1C_8, AV1C_10] {
            let rec = hex(rec);
            // A temporal delimiter, then the record's sequence header OBU.
            let raw = [&[0x12, 0x00][..], &rec[4..]].concat();
            let mut c = cfg(Codec::Av1, Vec::new());
            c.first_packet = raw;
            assert_eq!(decoder_config_record(&c).unwrap(), rec);
        }
    }
}
