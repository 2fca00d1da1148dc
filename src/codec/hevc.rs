//! H.265 / HEVC (ITU-T H.265, ISO/IEC 14496-15 clause 8): the SPS fields an
//! HEVCDecoderConfigurationRecord (hvcC) needs, building and completing hvcC records, the
//! `hvc1.…` codec string (ISO/IEC 14496-15 Annex E) and closed-GOP random access detection.

use super::bits::BitReader;
use super::nal::{self, annexb_nal_units, length_prefixed_nal_units, put_u16_prefixed, unescape_rbsp};
use super::picture::Vui;
use crate::error::{ParseError, ParseResult};

/// nal_unit_type of the first IRAP type, BLA_W_LP (Table 7-1).
const NAL_BLA_W_LP: u8 = 16;
/// nal_unit_type of the last IDR type, IDR_N_LP (BLA_W_LP..=IDR_N_LP start a closed GOP).
const NAL_IDR_N_LP: u8 = 20;
/// nal_unit_type of a CRA picture (its leading pictures may reference the previous GOP).
const NAL_CRA: u8 = 21;
/// nal_unit_type of the last (reserved) IRAP type; all types up to it are VCL.
const NAL_RSV_IRAP_23: u8 = 23;
/// nal_unit_type of a video parameter set.
const NAL_VPS: u8 = 32;
/// nal_unit_type: prefix SEI.
const NAL_PREFIX_SEI: u8 = 39;
/// nal_unit_type: suffix SEI.
const NAL_SUFFIX_SEI: u8 = 40;
/// Bytes of an HEVC NAL unit header.
const NAL_HEADER_LEN: usize = 2;
/// nal_unit_type of a sequence parameter set.
const NAL_SPS: u8 = 33;
/// nal_unit_type of a picture parameter set.
const NAL_PPS: u8 = 34;

/// Byte of hvcC holding `lengthSizeMinusOne` (low 2 bits).
const HVCC_LENGTH_SIZE_AT: usize = 21;
/// Byte of hvcC holding `numOfArrays`; the arrays follow.
const HVCC_ARRAYS_AT: usize = 22;
/// Shortest hvcC accepted as a record (through numOfArrays).
const HVCC_MIN_LEN: usize = 23;
/// Bytes of general_profile_space..general_level_idc in an SPS and an hvcC.
const GENERAL_PTL_LEN: usize = 12;

/// nal_unit_type of an HEVC NAL unit header (its first byte).
fn nal_type(header: u8) -> u8 {
    (header >> 1) & 0x3F
}

/// SPS fields an hvcC record needs.
struct Sps {
    /// general_profile_space..general_level_idc: the 12 bytes that open hvcC after the version.
    general_ptl: [u8; GENERAL_PTL_LEN],
    max_sub_layers: u8,
    temporal_id_nesting: bool,
    chroma_format_idc: u32,
    bit_depth_luma_minus8: u32,
    bit_depth_chroma_minus8: u32,
}

/// Skips the sub-layer part of profile_tier_level().
fn skip_sub_layer_ptl(r: &mut BitReader, max_sub_layers_minus1: u32) -> ParseResult<()> {
    let mut present = Vec::new();
    for _ in 0..max_sub_layers_minus1 {
        present.push((r.bit()?, r.bit()?));
    }
    if max_sub_layers_minus1 > 0 {
        r.skip(2 * (8 - max_sub_layers_minus1 as usize))?;
    }
    for (profile, level) in present {
        r.skip(if profile { 88 } else { 0 } + if level { 8 } else { 0 })?;
    }
    Ok(())
}

/// Parses the start of an HEVC SPS NAL unit (2-byte header included).
fn parse_sps(nal: &[u8]) -> ParseResult<Sps> {
    let rbsp = unescape_rbsp(nal.get(2..).unwrap_or_default());
    let mut r = BitReader::new(&rbsp);
    r.skip(4)?; // sps_video_parameter_set_id
    let max_sub_layers_minus1 = r.bits(3)?;
    let temporal_id_nesting = r.bit()?;
    let mut general_ptl = [0u8; GENERAL_PTL_LEN];
    for b in general_ptl.iter_mut() {
        *b = r.bits(8)? as u8;
    }
    skip_sub_layer_ptl(&mut r, max_sub_layers_minus1)?;
    r.ue()?; // sps_seq_parameter_set_id
    let chroma_format_idc = r.ue()?;
    if chroma_format_idc == 3 {
        r.bit()?; // separate_colour_plane_flag
    }
    r.ue()?; // pic_width_in_luma_samples
    r.ue()?; // pic_height_in_luma_samples
    if r.bit()? {
        for _ in 0..4 {
            r.ue()?; // conformance window offsets
        }
    }
    let bit_depth_luma_minus8 = r.ue()?;
    let bit_depth_chroma_minus8 = r.ue()?;
    Ok(Sps {
        general_ptl,
        max_sub_layers: max_sub_layers_minus1 as u8 + 1,
        temporal_id_nesting,
        chroma_format_idc,
        bit_depth_luma_minus8,
        bit_depth_chroma_minus8,
    })
}

/// Skips `scaling_list_data()`.
fn skip_scaling_list_data(r: &mut BitReader) -> ParseResult<()> {
    for size_id in 0..4usize {
        let step = if size_id == 3 { 3 } else { 1 };
        for _ in (0..6).step_by(step) {
            if !r.bit()? {
                r.ue()?; // scaling_list_pred_matrix_id_delta
            } else {
                let coefs = 64.min(1 << (4 + (size_id << 1)));
                if size_id > 1 {
                    r.se()?; // scaling_list_dc_coef_minus8
                }
                for _ in 0..coefs {
                    r.se()?; // scaling_list_delta_coef
                }
            }
        }
    }
    Ok(())
}

/// Skips `st_ref_pic_set(idx)` of an SPS; `delta_pocs` holds NumDeltaPocs of the sets before,
/// and gets this one's.
fn skip_st_ref_pic_set(r: &mut BitReader, idx: usize, delta_pocs: &mut Vec<u32>) -> ParseResult<()> {
    if idx != 0 && r.bit()? {
        // inter_ref_pic_set_prediction_flag: predicted from the set before (in an SPS).
        r.skip(1)?; // delta_rps_sign
        r.ue()?; // abs_delta_rps_minus1
        let mut n = 0;
        for _ in 0..=delta_pocs[idx - 1] {
            let used = r.bit()?;
            if used || r.bit()? {
                n += 1;
            }
        }
        delta_pocs.push(n);
    } else {
        let (neg, pos) = (r.ue()?, r.ue()?);
        if neg > 16 || pos > 16 {
            return Err(ParseError::new("HEVC: too many reference pictures in an RPS"));
        }
        for _ in 0..neg + pos {
            r.ue()?; // delta_poc_minus1
            r.skip(1)?; // used_by_curr_pic_flag
        }
        delta_pocs.push(neg + pos);
    }
    Ok(())
}

/// What FFmpeg 5.1's HEVC decoder sets in a stream's parameters from an SPS (`hevc_ps.c`,
/// `hevcdec.c`: `export_stream_params`): read here from the SPS itself, so a stream whose
/// header lacks none of it needs no probe (`index::probe`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SpsFacts {
    /// The picture size inside the conformance window (`None`: a left or top offset, which
    /// FFmpeg may round).
    pub(crate) size: Option<(u32, u32)>,
    /// `sps_max_num_reorder_pics` of the highest sub-layer (the decoder's `has_b_frames`).
    pub(crate) reorder: u32,
    /// The VUI's aspect ratio and colour (`None`: no VUI).
    pub(crate) vui: Option<Vui>,
}

/// The VUI of an SPS NAL unit (2-byte header included): `None` when it has none.
fn sps_vui(nal: &[u8]) -> ParseResult<Option<Vui>> {
    Ok(parse_sps_facts(nal)?.vui)
}

/// The [`SpsFacts`] of an SPS NAL unit (2-byte header included).
fn parse_sps_facts(nal: &[u8]) -> ParseResult<SpsFacts> {
    let rbsp = unescape_rbsp(nal.get(2..).unwrap_or_default());
    let mut r = BitReader::new(&rbsp);
    r.skip(4)?; // sps_video_parameter_set_id
    let max_sub_layers_minus1 = r.bits(3)?;
    r.skip(1 + 8 * GENERAL_PTL_LEN)?;
    skip_sub_layer_ptl(&mut r, max_sub_layers_minus1)?;
    r.ue()?; // sps_seq_parameter_set_id
    let chroma = r.ue()?;
    let separate = chroma == 3 && r.bit()?;
    let width = u64::from(r.ue()?); // pic_width_in_luma_samples
    let height = u64::from(r.ue()?); // pic_height_in_luma_samples
    let mut window = [0u64; 4];
    if r.bit()? {
        for w in &mut window {
            *w = u64::from(r.ue()?); // conformance window offsets
        }
    }
    let (sub_w, sub_h) = match (chroma, separate) {
        (1, _) => (2, 2),
        (2, false) => (2, 1),
        _ => (1, 1),
    };
    let [left, right, top, bottom] = window;
    let size = match (width.checked_sub(sub_w * (left + right)), height.checked_sub(sub_h * (top + bottom))) {
        (Some(w), Some(h)) if left == 0 && top == 0 && w > 0 && h > 0 => {
            u32::try_from(w).ok().zip(u32::try_from(h).ok())
        }
        _ => None,
    };
    r.ue()?; // bit_depth_luma_minus8
    r.ue()?; // bit_depth_chroma_minus8
    let poc_lsb_bits = r.ue()? + 4;
    let all_sub_layers = r.bit()?;
    let mut reorder = 0;
    for _ in if all_sub_layers { 0 } else { max_sub_layers_minus1 }..=max_sub_layers_minus1 {
        r.ue()?; // max_dec_pic_buffering_minus1
        reorder = r.ue()?; // max_num_reorder_pics
        r.ue()?; // max_latency_increase_plus1
    }
    for _ in 0..6 {
        r.ue()?; // coding/transform block sizes, transform hierarchy depths
    }
    if r.bit()? && r.bit()? {
        skip_scaling_list_data(&mut r)?;
    }
    r.skip(2)?; // amp_enabled_flag, sample_adaptive_offset_enabled_flag
    if r.bit()? {
        r.skip(8)?; // pcm sample bit depths
        r.ue()?; // log2_min_pcm_luma_coding_block_size_minus3
        r.ue()?; // log2_diff_max_min_pcm_luma_coding_block_size
        r.skip(1)?; // pcm_loop_filter_disabled_flag
    }
    let sets = r.ue()? as usize;
    if sets > 64 {
        return Err(ParseError::new("HEVC: too many short-term RPS"));
    }
    let mut delta_pocs = Vec::with_capacity(sets);
    for i in 0..sets {
        skip_st_ref_pic_set(&mut r, i, &mut delta_pocs)?;
    }
    if r.bit()? {
        for _ in 0..r.ue()?.min(33) {
            r.skip(poc_lsb_bits as usize + 1)?; // lt_ref_pic_poc_lsb_sps, used_by_curr_pic_lt_sps_flag
        }
    }
    r.skip(2)?; // sps_temporal_mvp_enabled_flag, strong_intra_smoothing_enabled_flag
    let vui = if r.bit()? { Some(nal::read_vui(&mut r)?) } else { None };
    Ok(SpsFacts { size, reorder, vui })
}

/// The [`SpsFacts`] of the first SPS of an hvcC record.
pub(crate) fn sps_facts(hvcc: &[u8]) -> ParseResult<SpsFacts> {
    match record_nal_units(hvcc).into_iter().find(|(kind, _)| *kind == NAL_SPS) {
        Some((_, sps)) => parse_sps_facts(sps),
        None => Err(ParseError::new("hvcC: no SPS")),
    }
}

/// Whether FFmpeg's HEVC parser keys an access unit (`hevc_parser.c`: its first slice is an
/// IRAP picture: BLA, IDR, CRA): `Some(key)` at the first slice, `None` when a parameter set is
/// not one of the hvcC record's, or there is no slice.
pub(crate) fn parser_keys(hvcc: &[u8], sample: &[u8]) -> Option<bool> {
    let nals = nal::whole_length_prefixed(hvcc, HVCC_LENGTH_SIZE_AT, sample)?;
    let record = record_nal_units(hvcc);
    for n in &nals {
        match nal_type(n[0]) {
            t @ 0..=31 => return Some((NAL_BLA_W_LP..=NAL_RSV_IRAP_23).contains(&t)),
            NAL_VPS | NAL_SPS | NAL_PPS if record.iter().any(|(_, u)| u == n) => {}
            NAL_VPS | NAL_SPS | NAL_PPS => return None,
            _ => {}
        }
    }
    None
}

/// The NAL units of an hvcC record's arrays, with their array's NAL type (stops at the first
/// inconsistent length; nothing when `hvcc` is no record).
fn record_nal_units(hvcc: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    if hvcc.first() != Some(&nal::RECORD_VERSION) {
        return out;
    }
    let mut pos = HVCC_ARRAYS_AT + 1;
    for _ in 0..hvcc.get(HVCC_ARRAYS_AT).copied().unwrap_or(0) {
        let (Some(&kind), Some(count)) = (hvcc.get(pos), hvcc.get(pos + 1..pos + 3)) else { break };
        pos += 3;
        for _ in 0..u16::from_be_bytes([count[0], count[1]]) {
            let Some(len) = hvcc.get(pos..pos + 2) else { return out };
            let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
            let Some(unit) = hvcc.get(pos + 2..pos + 2 + len) else { return out };
            out.push((kind & 0x3F, unit));
            pos += 2 + len;
        }
    }
    out
}

/// What the VUI of the first SPS of an hvcC record says (aspect ratio, colour), if anything.
pub(crate) fn vui(hvcc: &[u8]) -> Option<Vui> {
    let (_, sps) = record_nal_units(hvcc).into_iter().find(|(kind, _)| *kind == NAL_SPS)?;
    sps_vui(sps).ok().flatten()
}

/// Adds what the declarative SEI NAL units of an hvcC record's arrays say (encoders such as x265
/// put the HDR10 metadata there) to `facts`.
pub(crate) fn read_record_sei(hvcc: &[u8], facts: &mut nal::SeiFacts) {
    for (kind, unit) in record_nal_units(hvcc) {
        if matches!(kind, NAL_PREFIX_SEI | NAL_SUFFIX_SEI) && unit.len() > NAL_HEADER_LEN {
            nal::read_sei(&unit[NAL_HEADER_LEN..], facts);
        }
    }
}

/// The hvcC for `src` (the extradata, or the first packet when there is none): built from
/// Annex-B parameter sets (4-byte NAL lengths), else the stored record, completed from the
/// length-prefixed `first_packet` when it lacks an SPS.
pub(crate) fn decoder_config_record(src: &[u8], first_packet: &[u8]) -> ParseResult<Vec<u8>> {
    if nal::is_annexb(src) {
        return build_hvcc(&annexb_nal_units(src), nal::LENGTH_SIZE_MINUS_ONE);
    }
    complete_hvcc(nal::check_record(src, HVCC_MIN_LEN, "hvcC")?, first_packet)
}

/// True when an hvcC record holds at least one SPS.
pub(super) fn hvcc_has_sps(record: &[u8]) -> bool {
    let mut pos = HVCC_ARRAYS_AT + 1;
    for _ in 0..record.get(HVCC_ARRAYS_AT).copied().unwrap_or(0) {
        let (Some(&kind), Some(count)) = (record.get(pos), record.get(pos + 1..pos + 3)) else { return false };
        let count = u16::from_be_bytes([count[0], count[1]]);
        if kind & 0x3F == NAL_SPS && count > 0 {
            return true;
        }
        pos += 3;
        for _ in 0..count {
            let Some(len) = record.get(pos..pos + 2) else { return false };
            pos += 2 + usize::from(u16::from_be_bytes([len[0], len[1]]));
        }
    }
    false
}

/// Returns an hvcC that has an SPS unchanged, else rebuilds it from the parameter sets of the
/// first packet, keeping the record as it is when the packet holds none.
fn complete_hvcc(record: Vec<u8>, first_packet: &[u8]) -> ParseResult<Vec<u8>> {
    if hvcc_has_sps(&record) {
        return Ok(record);
    }
    let size = record[HVCC_LENGTH_SIZE_AT] & 3;
    Ok(build_hvcc(&length_prefixed_nal_units(first_packet, usize::from(size) + 1), size).unwrap_or(record))
}

/// Builds an HEVCDecoderConfigurationRecord from the VPS/SPS/PPS NAL units among `nals`,
/// declaring NAL lengths of `length_size_minus_one` + 1 bytes.
fn build_hvcc(nals: &[&[u8]], length_size_minus_one: u8) -> ParseResult<Vec<u8>> {
    let of_type = |t: u8| -> Vec<&[u8]> { nals.iter().copied().filter(|n| nal_type(n[0]) == t).collect() };
    let arrays = [(NAL_VPS, of_type(NAL_VPS)), (NAL_SPS, of_type(NAL_SPS)), (NAL_PPS, of_type(NAL_PPS))];
    if arrays.iter().any(|(_, list)| list.is_empty()) {
        return Err(ParseError::new("HEVC: Annex-B data lacks a VPS, SPS or PPS"));
    }
    let sps = parse_sps(arrays[1].1[0])?;
    let mut out = vec![nal::RECORD_VERSION];
    out.extend_from_slice(&sps.general_ptl);
    out.extend_from_slice(&[0xF0, 0x00, 0xFC]); // min_spatial_segmentation_idc 0, parallelismType 0
    out.push(0xFC | (sps.chroma_format_idc & 3) as u8);
    out.push(0xF8 | (sps.bit_depth_luma_minus8 & 7) as u8);
    out.push(0xF8 | (sps.bit_depth_chroma_minus8 & 7) as u8);
    out.extend_from_slice(&[0, 0]); // avgFrameRate
    out.push((sps.max_sub_layers & 7) << 3 | u8::from(sps.temporal_id_nesting) << 2 | length_size_minus_one);
    out.push(arrays.len() as u8);
    for (nal_type, list) in &arrays {
        out.push(0x80 | nal_type); // array_completeness = 1
        let n = u16::try_from(list.len()).map_err(|_| ParseError::new("HEVC: too many parameter sets"))?;
        out.extend_from_slice(&n.to_be_bytes());
        for nal in list {
            put_u16_prefixed(&mut out, nal, "HEVC parameter set")?;
        }
    }
    Ok(out)
}

/// `hvc1.<space><profile>.<compat>.<tier><level>[.<constraint bytes>]` from an hvcC record
/// (ISO/IEC 14496-15 Annex E).
pub(crate) fn codec_string(hvcc: &[u8]) -> ParseResult<String> {
    let Some(ptl) = hvcc.get(1..1 + GENERAL_PTL_LEN) else {
        return Err(ParseError::new("hvcC: record too short"));
    };
    let space = ["", "A", "B", "C"][usize::from(ptl[0] >> 6)];
    let tier = if ptl[0] & 0x20 != 0 { 'H' } else { 'L' };
    let compat = u32::from_be_bytes([ptl[1], ptl[2], ptl[3], ptl[4]]).reverse_bits();
    let mut s = format!("hvc1.{space}{}.{compat:X}.{tier}{}", ptl[0] & 0x1F, ptl[11]);
    let constraints = &ptl[5..11];
    let used = constraints.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    for b in &constraints[..used] {
        s.push_str(&format!(".{b:X}"));
    }
    Ok(s)
}

/// True when a keyframe sample starts a closed GOP: its first picture is an IDR or BLA picture
/// (not a CRA, whose leading pictures may reference the previous GOP). The sample is
/// length-prefixed with the NAL length size of the hvcC `extradata` (4 bytes when the extradata
/// is no record), or Annex-B.
pub fn starts_closed_gop(extradata: &[u8], sample: &[u8]) -> bool {
    if nal::is_annexb(sample) {
        return starts_closed_gop(&[], &nal::annexb_to_length_prefixed(sample));
    }
    let length_size = nal::record_length_size(extradata, HVCC_LENGTH_SIZE_AT);
    nal::decide_by_first_nal_header(sample, length_size, |head| match nal_type(head) {
        NAL_BLA_W_LP..=NAL_IDR_N_LP => Some(true),
        0..NAL_BLA_W_LP | NAL_CRA..=NAL_RSV_IRAP_23 => Some(false),
        _ => None,
    })
}

/// Adds what the SEI NAL units of `sample` say (HDR metadata, A/53 captions) to `facts`.
/// Length-prefixed with the NAL length size of the hvcC `extradata`, or Annex-B.
pub(crate) fn read_sei(extradata: &[u8], sample: &[u8], facts: &mut nal::SeiFacts) {
    let length_size = nal::record_length_size(extradata, HVCC_LENGTH_SIZE_AT);
    for unit in nal::sample_nal_units(sample, length_size) {
        if matches!(nal_type(unit[0]), NAL_PREFIX_SEI | NAL_SUFFIX_SEI) && unit.len() > NAL_HEADER_LEN {
            nal::read_sei(&unit[NAL_HEADER_LEN..], facts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::bits::BitWriter;
    use crate::codec::picture::{Colour, ContentLight};
    use crate::codec::test_support::{cfg, hex, HEVC_PPS, HEVC_SPS, HEVC_VPS, HVCC_MAIN_HEAD};
    use crate::codec::{codec_string, decoder_config_record, Codec};

    #[test]
    fn hevc_strings_from_real_records() {
        let head = |s: &str| cfg(Codec::Hevc, [hex(s), vec![0; 4]].concat());
        assert_eq!(codec_string(&head(HVCC_MAIN_HEAD)).unwrap(), "hvc1.1.6.L60.90");
        assert_eq!(codec_string(&head("0102200000009000000000003cf000fcfdfafa00000f04")).unwrap(), "hvc1.2.4.L60.90");
        assert_eq!(
            codec_string(&head("0104080000009e08000000003cf000fcfff8f800000f04")).unwrap(),
            "hvc1.4.10.L60.9E.8"
        );
        // Apple's example: Main, level 3.1, tier Main, constraints B0.
        assert_eq!(codec_string(&head("010160000000b000000000005df000fcfdf8f800000f04")).unwrap(), "hvc1.1.6.L93.B0");
        // High tier, profile space 1, all-zero constraints.
        assert_eq!(codec_string(&head("016240000000000000000000780f000fcfdf8f800000f0")).unwrap(), "hvc1.A2.2.H120");
    }

    #[test]
    fn hvcc_from_real_annexb_parameter_sets() {
        let annexb =
            [&[0, 0, 0, 1][..], &hex(HEVC_VPS), &[0, 0, 0, 1], &hex(HEVC_SPS), &[0, 0, 1], &hex(HEVC_PPS)].concat();
        let c = cfg(Codec::Hevc, annexb);
        let rec = decoder_config_record(&c).unwrap();
        // FFmpeg's record has the same 22-byte header; it adds a 4th (SEI) array we leave out.
        assert_eq!(&rec[..22], &hex(HVCC_MAIN_HEAD)[..22]);
        assert_eq!(rec[22], 3);
        let vps = hex(HEVC_VPS);
        assert_eq!(&rec[23..28], &[0xA0, 0, 1, 0, vps.len() as u8]);
        assert_eq!(&rec[28..28 + vps.len()], &vps[..]);
        assert_eq!(rec.len(), 23 + 3 * 5 + vps.len() + hex(HEVC_SPS).len() + hex(HEVC_PPS).len());
        assert_eq!(codec_string(&c).unwrap(), "hvc1.1.6.L60.90");
    }

    #[test]
    fn hevc_sps_with_emulation_prevention_and_sub_layers() {
        // max_sub_layers_minus1 = 2 with sub-layer level present; PTL bytes contain 00 00 0x.
        let mut w = BitWriter::new();
        w.put(16, 0x4201);
        w.put(4, 0);
        w.put(3, 2);
        w.put(1, 0);
        for b in hex("0220000000000000000000 5d") {
            w.put(8, u32::from(b));
        }
        w.put(4, 0b0101); // sub-layer 0/1: profile_present 0, level_present 1
        w.put(2 * 6, 0); // reserved alignment for 8 - 2 sub-layers
        w.put(16, 0x5a5a); // two sub-layer levels
        let ue = |w: &mut BitWriter, v: u32| {
            let n = 32 - (v + 1).leading_zeros();
            w.put(n - 1, 0);
            w.put(n, v + 1);
        };
        for v in [0u32, 1, 64, 64] {
            ue(&mut w, v);
        }
        w.put(1, 0); // conformance_window_flag
        ue(&mut w, 2);
        ue(&mut w, 2);
        w.put(8, 0x80);
        let raw = w.finish();
        let mut escaped = Vec::new();
        let mut zeros = 0;
        for &b in &raw {
            if zeros >= 2 && b <= 3 {
                escaped.push(3);
                zeros = 0;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            escaped.push(b);
        }
        assert!(escaped.len() > raw.len(), "test data should need emulation prevention");
        let s = parse_sps(&escaped).unwrap();
        assert_eq!(s.general_ptl, hex("02200000000000000000005d")[..]);
        assert_eq!((s.max_sub_layers, s.temporal_id_nesting), (3, false));
        assert_eq!((s.chroma_format_idc, s.bit_depth_luma_minus8, s.bit_depth_chroma_minus8), (1, 2, 2));
    }

    /// SPS of x265 Main 10 320x180 with a VUI: SAR 1:1, BT.2020 primaries and matrix, PQ.
    const SPS_HDR10: &str =
        "42010102200000030090000003000003003ca00a080c1f3b6595952930bc05a84880482000000300200000030321";

    #[test]
    fn vui_colour_and_sei_hdr_metadata_of_an_hdr10_record() {
        let hdr10 = sps_vui(&hex(SPS_HDR10)).unwrap().unwrap();
        assert_eq!(hdr10.sar, Some((1, 1)));
        assert_eq!(hdr10.colour, Some(Colour { primaries: 9, transfer: 16, matrix: 9, full_range: false }));
        // The same SPS with transfer 18 (x265 transfer=arib-std-b67).
        let hlg = hex(&SPS_HDR10.replace("84880482", "84890482"));
        assert_eq!(sps_vui(&hlg).unwrap().unwrap().colour.map(|c| c.transfer), Some(18));
        // An hvcC with the SPS and x265's declarative SEI (content light level, mastering display).
        let sps = hex(SPS_HDR10);
        let cll = hex("4e01900403e8019080");
        let mdcv = hex("4e01891833c286c41d4c0bb884d03e803d13404200989680000003000180");
        let mut rec = hex(HVCC_MAIN_HEAD);
        rec.truncate(22);
        rec.push(2);
        rec.extend_from_slice(&[0xA1, 0, 1, 0, sps.len() as u8]);
        rec.extend_from_slice(&sps);
        rec.extend_from_slice(&[0x27, 0, 2, 0, cll.len() as u8]);
        rec.extend_from_slice(&cll);
        rec.extend_from_slice(&[0, mdcv.len() as u8]);
        rec.extend_from_slice(&mdcv);
        assert_eq!(vui(&rec), Some(hdr10));
        let mut facts = nal::SeiFacts::default();
        read_record_sei(&rec, &mut facts);
        assert_eq!(facts.light, Some(ContentLight { max_cll: 1000, max_fall: 400 }));
        let m = facts.mastering.unwrap();
        assert_eq!(
            (m.primaries[0], m.white_point, m.max_luminance, m.min_luminance),
            ([13250, 34500], [15635, 16450], 10_000_000, 1)
        );
        // Truncated records and SPSs are no VUI, and no panic.
        for n in 0..rec.len() {
            let _ = vui(&rec[..n]);
            read_record_sei(&rec[..n], &mut facts);
        }
        for n in 0..sps.len() {
            let _ = sps_vui(&sps[..n]);
        }
    }

    #[test]
    fn closed_gop_starts() {
        // (nal_unit_type, closed GOP) for a sample of VPS, then one picture NAL of that type.
        let sample = |t: u8| hex(&format!("00000003 40010c 00000002 {:02x}01", t << 1));
        for (t, closed) in [(19, true), (20, true), (16, true), (18, true), (21, false), (1, false), (23, false)] {
            assert_eq!(starts_closed_gop(&[], &sample(t)), closed, "nal_unit_type {t}");
        }
        // Only non-VCL units: not closed. Annex-B is converted first.
        assert!(!starts_closed_gop(&[], &hex("00000003 40010c")));
        assert!(starts_closed_gop(&[], &hex("00000001 40010c 00000001 2601")));
        // 1-byte lengths declared by an hvcC.
        let mut rec = [hex(HVCC_MAIN_HEAD), vec![0]].concat();
        rec[21] &= 0xFC;
        assert!(starts_closed_gop(&rec, &hex("03 40010c 02 2601")));
    }
}
