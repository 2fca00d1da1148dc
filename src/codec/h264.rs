//! H.264 / AVC (ITU-T H.264, ISO/IEC 14496-15 clause 5): the SPS fields an
//! AVCDecoderConfigurationRecord (avcC) needs, building and completing avcC records, the
//! `avc1.PPCCLL` codec string and closed-GOP random access detection.

use super::bits::BitReader;
use super::nal::{self, annexb_nal_units, count_u8, length_prefixed_nal_units, put_u16_prefixed, unescape_rbsp};
use super::picture::Vui;
use crate::error::{ParseError, ParseResult};

/// nal_unit_type of a coded slice of a non-IDR picture (Table 7-1).
const NAL_SLICE: u8 = 1;
/// nal_unit_type of a coded slice of an IDR picture.
const NAL_IDR_SLICE: u8 = 5;
/// nal_unit_type of a supplemental enhancement information NAL unit.
const NAL_SEI: u8 = 6;
/// nal_unit_type of a sequence parameter set.
const NAL_SPS: u8 = 7;
/// nal_unit_type of a picture parameter set.
const NAL_PPS: u8 = 8;
/// nal_unit_type of a sequence parameter set extension.
const NAL_SPS_EXT: u8 = 13;
/// nal_unit_type bits of the NAL unit header byte.
const NAL_TYPE_MASK: u8 = 0x1F;

/// SEI payloadType of a recovery point message (Annex D.1.8).
const SEI_RECOVERY_POINT: u32 = 6;

/// Byte of avcC holding `lengthSizeMinusOne` (low 2 bits).
const AVCC_LENGTH_SIZE_AT: usize = 4;
/// Byte of avcC holding `numOfSequenceParameterSets` (low 5 bits).
const AVCC_SPS_COUNT_AT: usize = 5;
/// Shortest avcC accepted as a record (through the SPS count).
const AVCC_MIN_LEN: usize = 7;
/// Most SPS an avcC can list (5-bit count).
const AVCC_MAX_SPS: usize = 31;

/// Profiles whose SPS carries chroma_format_idc and bit depths.
const HIGH_PROFILES: [u8; 13] = [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135];
/// Profiles (Baseline, Main, Extended) whose avcC has no chroma/bit depth/SPS extension part.
const PROFILES_WITHOUT_AVCC_EXTENSION: [u8; 3] = [66, 77, 88];

/// nal_unit_type of an H.264 NAL unit header byte.
fn nal_type(header: u8) -> u8 {
    header & NAL_TYPE_MASK
}

/// SPS fields an avcC record needs.
struct Sps {
    profile_idc: u8,
    constraints: u8,
    level_idc: u8,
    chroma_format_idc: u32,
    bit_depth_luma_minus8: u32,
    bit_depth_chroma_minus8: u32,
}

/// Parses the start of an H.264 SPS NAL unit (header byte included).
fn parse_sps(nal: &[u8]) -> ParseResult<Sps> {
    let rbsp = unescape_rbsp(nal.get(1..).unwrap_or_default());
    let mut r = BitReader::new(&rbsp);
    let profile_idc = r.bits(8)? as u8;
    let constraints = r.bits(8)? as u8;
    let level_idc = r.bits(8)? as u8;
    r.ue()?; // seq_parameter_set_id
    let (mut chroma, mut luma8, mut chroma8) = (1, 0, 0);
    if HIGH_PROFILES.contains(&profile_idc) {
        chroma = r.ue()?;
        if chroma == 3 {
            r.bit()?; // separate_colour_plane_flag
        }
        luma8 = r.ue()?;
        chroma8 = r.ue()?;
    }
    Ok(Sps {
        profile_idc,
        constraints,
        level_idc,
        chroma_format_idc: chroma,
        bit_depth_luma_minus8: luma8,
        bit_depth_chroma_minus8: chroma8,
    })
}

/// The avcC for `src` (the extradata, or the first packet when there is none): built from
/// Annex-B parameter sets (4-byte NAL lengths), else the stored record, completed from the
/// length-prefixed `first_packet` when it lacks an SPS.
pub(crate) fn decoder_config_record(src: &[u8], first_packet: &[u8]) -> ParseResult<Vec<u8>> {
    if nal::is_annexb(src) {
        return build_avcc(&annexb_nal_units(src), nal::LENGTH_SIZE_MINUS_ONE);
    }
    complete_avcc(nal::check_record(src, AVCC_MIN_LEN, "avcC")?, first_packet)
}

/// Returns an avcC that has an SPS unchanged, else rebuilds it from the parameter sets of the
/// first packet, keeping the record as it is when the packet holds none.
fn complete_avcc(record: Vec<u8>, first_packet: &[u8]) -> ParseResult<Vec<u8>> {
    if record[AVCC_SPS_COUNT_AT] & 0x1F > 0 {
        return Ok(record);
    }
    let size = record[AVCC_LENGTH_SIZE_AT] & 3;
    Ok(build_avcc(&length_prefixed_nal_units(first_packet, usize::from(size) + 1), size).unwrap_or(record))
}

/// Builds an AVCDecoderConfigurationRecord from the SPS/PPS (and SPS extension) NAL units
/// among `nals`, declaring NAL lengths of `length_size_minus_one` + 1 bytes.
fn build_avcc(nals: &[&[u8]], length_size_minus_one: u8) -> ParseResult<Vec<u8>> {
    let of_type = |t: u8| -> Vec<&[u8]> { nals.iter().copied().filter(|n| nal_type(n[0]) == t).collect() };
    let (sps, pps, sps_ext) = (of_type(NAL_SPS), of_type(NAL_PPS), of_type(NAL_SPS_EXT));
    let (Some(first_sps), false) = (sps.first(), pps.is_empty()) else {
        return Err(ParseError::new("H.264: Annex-B data lacks an SPS or a PPS"));
    };
    let info = parse_sps(first_sps)?;
    let mut out = vec![
        nal::RECORD_VERSION,
        info.profile_idc,
        info.constraints,
        info.level_idc,
        0xFC | length_size_minus_one,
        0xE0 | count_u8(sps.len(), AVCC_MAX_SPS, "SPS")?,
    ];
    for s in &sps {
        put_u16_prefixed(&mut out, s, "SPS")?;
    }
    out.push(count_u8(pps.len(), 255, "PPS")?);
    for p in &pps {
        put_u16_prefixed(&mut out, p, "PPS")?;
    }
    if !PROFILES_WITHOUT_AVCC_EXTENSION.contains(&info.profile_idc) {
        out.push(0xFC | (info.chroma_format_idc & 3) as u8);
        out.push(0xF8 | (info.bit_depth_luma_minus8 & 7) as u8);
        out.push(0xF8 | (info.bit_depth_chroma_minus8 & 7) as u8);
        out.push(count_u8(sps_ext.len(), 255, "SPS extensions")?);
        for e in &sps_ext {
            put_u16_prefixed(&mut out, e, "SPS extension")?;
        }
    }
    Ok(out)
}

/// `avc1.PPCCLL` from an avcC record.
pub(crate) fn codec_string(avcc: &[u8]) -> ParseResult<String> {
    match avcc {
        [_, profile, compat, level, ..] => Ok(format!("avc1.{profile:02x}{compat:02x}{level:02x}")),
        _ => Err(ParseError::new("avcC: record too short")),
    }
}

/// Skips a `scaling_list()` of `size` coefficients.
fn skip_scaling_list(r: &mut BitReader, size: usize) -> ParseResult<()> {
    let (mut last, mut next) = (8i32, 8i32);
    for _ in 0..size {
        if next != 0 {
            next = (last + r.se()? + 256) % 256;
        }
        last = if next == 0 { last } else { next };
    }
    Ok(())
}

/// What an SPS says before its VUI (`seq_parameter_set_data()` up to `vui_parameters_present_flag`).
struct SpsHead {
    /// `chroma_format_idc` (1 unless a high profile says otherwise).
    chroma: u32,
    /// `separate_colour_plane_flag`.
    separate: bool,
    /// `bit_depth_luma_minus8`.
    luma8: u32,
    /// `pic_width_in_mbs_minus1 + 1`.
    width_mbs: u64,
    /// `pic_height_in_map_units_minus1 + 1`.
    height_units: u64,
    /// `frame_mbs_only_flag`.
    frame_mbs_only: bool,
    /// `frame_crop_{left,right,top,bottom}_offset` (0 without cropping).
    crop: [u64; 4],
}

/// Reads an SPS's RBSP (after the NAL header byte) up to and including
/// `vui_parameters_present_flag`: what comes before the VUI, and whether there is one.
fn sps_head(r: &mut BitReader) -> ParseResult<(SpsHead, bool)> {
    let profile_idc = r.bits(8)? as u8;
    r.skip(16)?; // constraint flags, level_idc
    r.ue()?; // seq_parameter_set_id
    let (mut chroma, mut separate, mut luma8) = (1, false, 0);
    if HIGH_PROFILES.contains(&profile_idc) {
        chroma = r.ue()?;
        if chroma == 3 {
            separate = r.bit()?;
        }
        luma8 = r.ue()?;
        r.ue()?; // bit_depth_chroma_minus8
        r.skip(1)?; // qpprime_y_zero_transform_bypass_flag
        if r.bit()? {
            for i in 0..if chroma == 3 { 12 } else { 8 } {
                if r.bit()? {
                    skip_scaling_list(r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    match r.ue()? {
        0 => {
            r.ue()?; // log2_max_pic_order_cnt_lsb_minus4
        }
        1 => {
            r.skip(1)?; // delta_pic_order_always_zero_flag
            r.se()?; // offset_for_non_ref_pic
            r.se()?; // offset_for_top_to_bottom_field
            let cycle = r.ue()?;
            if cycle > 255 {
                return Err(ParseError::new("H.264: num_ref_frames_in_pic_order_cnt_cycle over 255"));
            }
            for _ in 0..cycle {
                r.se()?; // offset_for_ref_frame
            }
        }
        _ => {}
    }
    r.ue()?; // max_num_ref_frames
    r.skip(1)?; // gaps_in_frame_num_value_allowed_flag
    let width_mbs = u64::from(r.ue()?) + 1;
    let height_units = u64::from(r.ue()?) + 1;
    let frame_mbs_only = r.bit()?;
    if !frame_mbs_only {
        r.skip(1)?; // mb_adaptive_frame_field_flag
    }
    r.skip(1)?; // direct_8x8_inference_flag
    let mut crop = [0u64; 4];
    if r.bit()? {
        for c in &mut crop {
            *c = u64::from(r.ue()?);
        }
    }
    let head = SpsHead { chroma, separate, luma8, width_mbs, height_units, frame_mbs_only, crop };
    Ok((head, r.bit()?))
}

/// The VUI of an SPS NAL unit (header byte included): `None` when it has none.
fn sps_vui(nal: &[u8]) -> ParseResult<Option<Vui>> {
    let rbsp = unescape_rbsp(nal.get(1..).unwrap_or_default());
    let mut r = BitReader::new(&rbsp);
    if !sps_head(&mut r)?.1 {
        return Ok(None);
    }
    nal::read_vui(&mut r).map(Some)
}

/// What the VUI of the first SPS of an avcC record says (aspect ratio, colour), if anything.
pub(crate) fn vui(avcc: &[u8]) -> Option<Vui> {
    let count = usize::from(*avcc.get(AVCC_SPS_COUNT_AT)? & 0x1F);
    let len = usize::from(u16::from_be_bytes([*avcc.get(6)?, *avcc.get(7)?]));
    let sps = avcc.get(8..8 + len).filter(|_| count > 0)?;
    sps_vui(sps).ok().flatten()
}

/// What FFmpeg 5.1's H.264 decoder sets in a stream's parameters from an SPS, once it has
/// decoded the stream's first picture (`h264_ps.c`, `h264_slice.c`): read here from the SPS
/// itself, so a stream whose header lacks none of it needs no probe (`index::probe`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SpsFacts {
    /// The cropped picture size (`None`: a left or top crop, which FFmpeg may round).
    pub(crate) size: Option<(u32, u32)>,
    /// `frame_mbs_only_flag`: frames only, no field pictures.
    pub(crate) progressive: bool,
    /// `bit_depth_luma_minus8 + 8` (`bits_per_raw_sample`).
    pub(crate) bit_depth: u32,
    /// `max_num_reorder_frames` of a VUI with `bitstream_restriction_flag` (the decoder's
    /// `has_b_frames`); `None` without one (FFmpeg then guesses it from decoded pictures).
    pub(crate) reorder: Option<u32>,
    /// `aspect_ratio_info`: `None` when absent, `Some((0, 1))` for an unspecified or unknown one.
    pub(crate) sar: Option<(u32, u32)>,
    /// `video_signal_type`: full range, then colour primaries, transfer and matrix when the VUI
    /// describes them.
    pub(crate) signal: Option<(bool, Option<ColourCodes>)>,
}

/// Colour primaries, transfer characteristics and matrix coefficients (H.273 code points).
pub(crate) type ColourCodes = (u8, u8, u8);

/// Skips an `hrd_parameters()` (Annex E.1.2).
fn skip_hrd(r: &mut BitReader) -> ParseResult<()> {
    let count = r.ue()? + 1;
    if count > 32 {
        return Err(ParseError::new("H.264: cpb_cnt_minus1 over 31"));
    }
    r.skip(8)?; // bit_rate_scale, cpb_size_scale
    for _ in 0..count {
        r.ue()?; // bit_rate_value_minus1
        r.ue()?; // cpb_size_value_minus1
        r.skip(1)?; // cbr_flag
    }
    r.skip(20) // four delay and offset lengths
}

/// The [`SpsFacts`] of the first SPS of an avcC record.
pub(crate) fn sps_facts(avcc: &[u8]) -> ParseResult<SpsFacts> {
    let count = usize::from(*avcc.get(AVCC_SPS_COUNT_AT).unwrap_or(&0) & 0x1F);
    let len = match avcc.get(6..8) {
        Some(b) if avcc[0] == nal::RECORD_VERSION && count > 0 => usize::from(u16::from_be_bytes([b[0], b[1]])),
        _ => return Err(ParseError::new("avcC: no SPS")),
    };
    let sps = avcc.get(8..8 + len).ok_or_else(|| ParseError::new("avcC: SPS cut off"))?;
    if sps.first().map(|&h| nal_type(h)) != Some(NAL_SPS) {
        return Err(ParseError::new("avcC: the first parameter set is not an SPS"));
    }
    let rbsp = unescape_rbsp(&sps[1..]);
    let mut r = BitReader::new(&rbsp);
    let (SpsHead { chroma, separate, luma8, width_mbs, height_units, frame_mbs_only, crop }, has_vui) =
        sps_head(&mut r)?;
    let field_factor = if frame_mbs_only { 1 } else { 2 };
    let (unit_x, unit_y) = match (chroma, separate) {
        (0, _) | (3, true) => (1, field_factor),
        (1, _) => (2, 2 * field_factor),
        (2, _) => (2, field_factor),
        _ => (1, field_factor),
    };
    let [left, right, top, bottom] = crop;
    let w = (width_mbs * 16).checked_sub(unit_x * (left + right));
    let h = (height_units * 16 * field_factor).checked_sub(unit_y * (top + bottom));
    let size = match (w, h) {
        (Some(w), Some(h)) if left == 0 && top == 0 && w > 0 && h > 0 => {
            u32::try_from(w).ok().zip(u32::try_from(h).ok())
        }
        _ => None,
    };
    let mut facts =
        SpsFacts { size, progressive: frame_mbs_only, bit_depth: luma8 + 8, reorder: None, sar: None, signal: None };
    if !has_vui {
        return Ok(facts);
    }
    if r.bit()? {
        let idc = r.bits(8)?;
        facts.sar = Some(match idc {
            nal::EXTENDED_SAR => (r.bits(16)?, r.bits(16)?),
            1..=16 => nal::SAR_TABLE[idc as usize - 1],
            _ => (0, 1),
        });
    }
    if r.bit()? {
        r.skip(1)?; // overscan_appropriate_flag
    }
    if r.bit()? {
        r.skip(3)?; // video_format
        let full_range = r.bit()?;
        let described = if r.bit()? { Some((r.bits(8)? as u8, r.bits(8)? as u8, r.bits(8)? as u8)) } else { None };
        facts.signal = Some((full_range, described));
    }
    if r.bit()? {
        r.ue()?; // chroma_sample_loc_type_top_field
        r.ue()?; // chroma_sample_loc_type_bottom_field
    }
    if r.bit()? {
        r.skip(65)?; // num_units_in_tick, time_scale, fixed_frame_rate_flag
    }
    let nal_hrd = r.bit()?;
    if nal_hrd {
        skip_hrd(&mut r)?;
    }
    let vcl_hrd = r.bit()?;
    if vcl_hrd {
        skip_hrd(&mut r)?;
    }
    if nal_hrd || vcl_hrd {
        r.skip(1)?; // low_delay_hrd_flag
    }
    r.skip(1)?; // pic_struct_present_flag
    if r.bit()? {
        r.skip(1)?; // motion_vectors_over_pic_boundaries_flag
        for _ in 0..4 {
            r.ue()?; // max_bytes_per_pic_denom, max_bits_per_mb_denom, log2_max_mv_length_*
        }
        let reorder = r.ue()?;
        r.ue()?; // max_dec_frame_buffering
        facts.reorder = Some(reorder);
    }
    Ok(facts)
}

/// The SPS and PPS NAL units of an avcC record (`None` when it does not parse).
fn avcc_parameter_sets(avcc: &[u8]) -> Option<Vec<&[u8]>> {
    let mut sets = Vec::new();
    let mut at = AVCC_SPS_COUNT_AT;
    for mask in [0x1F, 0xFF] {
        let count = usize::from(*avcc.get(at)? & mask);
        at += 1;
        for _ in 0..count {
            let len = usize::from(u16::from_be_bytes([*avcc.get(at)?, *avcc.get(at + 1)?]));
            sets.push(avcc.get(at + 2..at + 2 + len)?);
            at += 2 + len;
        }
    }
    Some(sets)
}

/// Whether FFmpeg's H.264 parser keys an access unit (`h264_parser.c`: an IDR slice, or a
/// recovery point SEI before a slice), as far as this can tell without its state: `Some(true)`
/// for an IDR slice, `Some(false)` for a non-IDR slice, `None` otherwise (a recovery point,
/// a parameter set that is not one of the avcC record's, nothing readable).
pub(crate) fn parser_keys(extradata: &[u8], sample: &[u8]) -> Option<bool> {
    let nals = nal::whole_length_prefixed(extradata, AVCC_LENGTH_SIZE_AT, sample)?;
    // The parser decides at the first slice.
    for n in &nals {
        match nal_type(n[0]) {
            NAL_IDR_SLICE => return Some(true),
            NAL_SLICE => return Some(false),
            NAL_SPS | NAL_PPS if avcc_parameter_sets(extradata)?.contains(n) => {}
            NAL_SPS | NAL_PPS | NAL_SPS_EXT | 2..=4 => return None,
            NAL_SEI if sei_payload_types(n)?.contains(&SEI_RECOVERY_POINT) => return None,
            _ => {}
        }
    }
    None
}

/// True when a keyframe sample starts a closed GOP: its first slice is an IDR slice. The
/// sample is length-prefixed with the NAL length size of the avcC `extradata` (4 bytes when the
/// extradata is no record), or Annex-B.
pub fn starts_closed_gop(extradata: &[u8], sample: &[u8]) -> bool {
    if nal::is_annexb(sample) {
        return starts_closed_gop(&[], &nal::annexb_to_length_prefixed(sample));
    }
    let length_size = nal::record_length_size(extradata, AVCC_LENGTH_SIZE_AT);
    nal::decide_by_first_nal_header(sample, length_size, |head| match nal_type(head) {
        NAL_IDR_SLICE => Some(true),
        NAL_SLICE => Some(false),
        _ => None,
    })
}

/// Adds what the SEI NAL units of `sample` say (HDR metadata, A/53 captions) to `facts`.
/// Length-prefixed with the NAL length size of the avcC `extradata`, or Annex-B.
pub(crate) fn read_sei(extradata: &[u8], sample: &[u8], facts: &mut nal::SeiFacts) {
    let length_size = nal::record_length_size(extradata, AVCC_LENGTH_SIZE_AT);
    for unit in nal::sample_nal_units(sample, length_size) {
        if nal_type(unit[0]) == NAL_SEI {
            nal::read_sei(&unit[1..], facts);
        }
    }
}

/// The payloadType of every message of an SEI NAL unit (header byte included); `None` when
/// the messages do not parse.
fn sei_payload_types(nal: &[u8]) -> Option<Vec<u32>> {
    let rbsp = unescape_rbsp(nal.get(1..)?);
    let mut at = 0;
    let mut types = Vec::new();
    // sei_rbsp: messages until the rbsp_trailing_bits byte (0x80).
    while at < rbsp.len() && rbsp[at] != 0x80 {
        let mut field = || -> Option<u32> {
            let mut v = 0u32;
            loop {
                let b = *rbsp.get(at)?;
                at += 1;
                v = v.checked_add(u32::from(b))?;
                if b != 0xFF {
                    return Some(v);
                }
            }
        };
        let (kind, size) = (field()?, field()?);
        types.push(kind);
        at = at.checked_add(size as usize)?;
    }
    (at < rbsp.len()).then_some(types)
}

/// `sample` without the SEI NAL units that hold nothing but recovery point messages, or `None`
/// when it has none. The sample is length-prefixed with the NAL length size of the avcC
/// `extradata` (4 bytes when the extradata is no record).
///
/// A recovery point tells a decoder where decoding may start; Chromium's MSE (M1xx) takes a
/// non-IDR I picture that follows one for a keyframe whatever the container's sample flags say,
/// starts decoding there after a seek and stops on its leading pictures (open GOP, x264
/// `--open-gop`). Decoding from an earlier picture does not need the message.
pub fn without_recovery_point_sei(extradata: &[u8], sample: &[u8]) -> Option<Vec<u8>> {
    let length_size = nal::record_length_size(extradata, AVCC_LENGTH_SIZE_AT);
    let nals = length_prefixed_nal_units(sample, length_size);
    let only_recovery_point = |n: &&[u8]| {
        nal_type(n[0]) == NAL_SEI
            && sei_payload_types(n).is_some_and(|t| !t.is_empty() && t.iter().all(|&k| k == SEI_RECOVERY_POINT))
    };
    if !nals.iter().any(only_recovery_point) {
        return None;
    }
    // Rebuild only when the NAL units cover the whole sample (nothing to lose).
    let covered: usize = nals.iter().map(|n| n.len() + length_size).sum();
    if covered != sample.len() {
        return None;
    }
    let mut out = Vec::with_capacity(sample.len());
    for n in nals.iter().filter(|n| !only_recovery_point(n)) {
        let len = n.len().to_be_bytes();
        out.extend_from_slice(&len[len.len() - length_size..]);
        out.extend_from_slice(n);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::test_support::{avcc_to_annexb, cfg, hex, REAL_AVCC};
    use crate::codec::{annexb_to_length_prefixed, codec_string, decoder_config_record, is_annexb, Codec};

    #[test]
    fn ffmpegs_parser_key_is_told_from_the_first_slice_or_left_to_ffmpeg() {
        let prefixed = |nals: &[&[u8]]| -> Vec<u8> {
            nals.iter().flat_map(|n| [&(n.len() as u32).to_be_bytes()[..], n].concat()).collect()
        };
        let idr: &[u8] = &[0x65, 0x88, 0x84];
        let non_idr: &[u8] = &[0x41, 0x9A, 0x00];
        let unregistered: &[u8] = &[0x06, 0x05, 0x02, 0xAA, 0xBB, 0x80];
        let sei_rp: &[u8] = &[0x06, 0x06, 0x01, 0xC4, 0x80];
        let record = hex(REAL_AVCC);
        let sets = avcc_parameter_sets(&record).unwrap();
        assert_eq!(sets.len(), 2);
        assert_eq!(parser_keys(&record, &prefixed(&[unregistered, idr])), Some(true));
        assert_eq!(parser_keys(&record, &prefixed(&[non_idr])), Some(false));
        // The record's own SPS and PPS in the sample change nothing.
        assert_eq!(parser_keys(&record, &prefixed(&[sets[0], sets[1], idr])), Some(true));
        // A recovery point (FFmpeg keys the picture), another SPS, bytes that are not NAL units.
        assert_eq!(parser_keys(&record, &prefixed(&[sei_rp, non_idr])), None);
        assert_eq!(parser_keys(&record, &prefixed(&[&[0x67, 0x42, 0x00, 0x1E], idr])), None);
        assert_eq!(parser_keys(&record, &[0, 0, 0, 9, 0x65]), None);
    }

    #[test]
    fn recovery_point_sei_is_dropped_and_nothing_else() {
        // x264 open-GOP I picture: SEI (recovery point, recovery_frame_cnt 0), then the slice.
        let sei_rp: &[u8] = &[0x06, 0x06, 0x01, 0xC4, 0x80];
        let slice: &[u8] = &[0x21, 0x9A, 0x00, 0x00, 0x03, 0x01];
        let unregistered: &[u8] = &[0x06, 0x05, 0x02, 0xAA, 0xBB, 0x80];
        let prefixed = |nals: &[&[u8]]| -> Vec<u8> {
            nals.iter().flat_map(|n| [&(n.len() as u32).to_be_bytes()[..], n].concat()).collect()
        };
        assert_eq!(without_recovery_point_sei(&[], &prefixed(&[sei_rp, slice])), Some(prefixed(&[slice])));
        // No recovery point, or one SEI NAL mixing it with other messages: unchanged.
        assert_eq!(without_recovery_point_sei(&[], &prefixed(&[unregistered, slice])), None);
        let mixed: &[u8] = &[0x06, 0x06, 0x01, 0xC4, 0x05, 0x01, 0xAA, 0x80];
        assert_eq!(sei_payload_types(mixed), Some(vec![6, 5]));
        assert_eq!(without_recovery_point_sei(&[], &prefixed(&[mixed, slice])), None);
        assert_eq!(without_recovery_point_sei(&[], &prefixed(&[slice])), None);
    }

    #[test]
    fn avc_string_from_real_record() {
        assert_eq!(codec_string(&cfg(Codec::H264, hex(REAL_AVCC))).unwrap(), "avc1.64000d");
    }

    #[test]
    fn avcc_from_annexb_matches_ffmpeg_record() {
        let real = hex(REAL_AVCC);
        let annexb = avcc_to_annexb(&real);
        assert!(is_annexb(&annexb));
        let c = cfg(Codec::H264, annexb.clone());
        assert_eq!(decoder_config_record(&c).unwrap(), real);
        // Same from the first packet when extradata is empty.
        let mut c2 = cfg(Codec::H264, Vec::new());
        c2.first_packet = [annexb, vec![0, 0, 1, 0x65, 0x88, 0x84]].concat();
        assert_eq!(decoder_config_record(&c2).unwrap(), real);
        assert_eq!(codec_string(&c2).unwrap(), "avc1.64000d");
    }

    #[test]
    fn avcc_record_is_returned_unchanged() {
        let real = hex(REAL_AVCC);
        assert!(!is_annexb(&real));
        assert_eq!(decoder_config_record(&cfg(Codec::H264, real.clone())).unwrap(), real);
    }

    #[test]
    fn baseline_avcc_has_no_extension() {
        // x264 baseline SPS (profile 66) + PPS.
        let sps = hex("6742c00dd94141fb011000000300100000030320f1429980");
        let annexb = [&[0, 0, 0, 1][..], &sps, &[0, 0, 0, 1, 0x68, 0xcb, 0x83, 0xcb, 0x20]].concat();
        let rec = decoder_config_record(&cfg(Codec::H264, annexb)).unwrap();
        assert_eq!(&rec[..6], &[1, 0x42, 0xc0, 0x0d, 0xff, 0xe1]);
        assert_eq!(rec.len(), 6 + 2 + sps.len() + 1 + 2 + 5);
        assert_eq!(codec_string(&cfg(Codec::H264, rec)).unwrap(), "avc1.42c00d");
    }

    #[test]
    fn vui_aspect_ratio_of_an_anamorphic_record() {
        // avcC of libx264 High@3.0 720x576 with -vf setsar=64/45 (aspect_ratio_idc 255, 64:45).
        let rec =
            hex("0164001effe1001d6764001eacd940b4126ffc010000b440000003004000000c83c58b658001000568ef8672c0fdf8f800");
        assert_eq!(vui(&rec), Some(Vui { sar: Some((64, 45)), colour: None }));
        // The test media's usual SPS: square pixels said explicitly, no colour description.
        assert_eq!(vui(&hex(REAL_AVCC)), Some(Vui { sar: Some((1, 1)), colour: None }));
        for n in 0..rec.len() {
            let _ = vui(&rec[..n]);
        }
    }

    #[test]
    fn closed_gop_starts() {
        let real = hex(REAL_AVCC);
        let annexb = avcc_to_annexb(&real);
        // SPS, PPS, then an IDR slice: closed; a non-IDR slice first: open.
        let idr = annexb_to_length_prefixed(&[annexb.clone(), vec![0, 0, 1, 0x65, 0x88]].concat());
        let non_idr = annexb_to_length_prefixed(&[annexb.clone(), vec![0, 0, 1, 0x41, 0x9a]].concat());
        assert!(starts_closed_gop(&real, &idr));
        assert!(!starts_closed_gop(&real, &non_idr));
        // Annex-B samples are converted first.
        assert!(starts_closed_gop(&real, &[annexb.clone(), vec![0, 0, 1, 0x65, 0x88]].concat()));
        // 2-byte lengths declared by the record.
        let mut two = real.clone();
        two[4] = 0xFD;
        assert!(starts_closed_gop(&two, &hex("0002 0910 0002 6588")));
        assert!(!starts_closed_gop(&real, &hex("0002 0910 0002 6588")));
        // Neither slice kind: not closed.
        assert!(!starts_closed_gop(&real, &hex("00000002 0910")));
        assert!(!starts_closed_gop(&[], &[]));
    }
}
