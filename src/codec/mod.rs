//! Codec identification, RFC 6381 `CODECS` strings and decoder configuration records.
//!
//! Everything here is pure parsing of codec private data ("extradata") and of the first
//! packet of a stream: H.264/HEVC parameter sets, AV1 sequence headers, AAC
//! AudioSpecificConfig/ADTS, AC-3/E-AC-3 sync frames, OpusHead and FLAC STREAMINFO.
//! Nothing here panics on malformed input; every failure is a [`CodecError`].

use std::fmt;

/// Codecs libhls can put in fMP4 (stream copy) for HLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    /// H.264 / AVC (`avc1`).
    H264,
    /// H.265 / HEVC (`hvc1`).
    Hevc,
    /// AV1 (`av01`).
    Av1,
    /// AAC, any object type (`mp4a.40.x`).
    Aac,
    /// Dolby Digital (`ac-3`).
    Ac3,
    /// Dolby Digital Plus (`ec-3`).
    Eac3,
    /// MPEG-1/2 Audio Layer III (`mp4a.40.34`).
    Mp3,
    /// Opus (`Opus` sample entry, `opus` codec string).
    Opus,
    /// FLAC (`fLaC`).
    Flac,
}

/// Everything needed to describe one track's codec for an init segment and a CODECS string.
#[derive(Clone, Debug)]
pub struct CodecConfig {
    /// Which codec the track carries.
    pub codec: Codec,
    /// Codec private data as FFmpeg exposes it (AVCodecParameters.extradata): avcC record (or
    /// Annex-B SPS/PPS), hvcC (or Annex-B VPS/SPS/PPS), av1C (or raw OBUs), AAC
    /// AudioSpecificConfig, OpusHead, FLAC STREAMINFO (34 bytes, or "fLaC"+metadata blocks),
    /// empty for AC-3/E-AC-3/MP3.
    ///
    /// When it is empty for H.264/HEVC/AV1/AAC, the parameter sets (Annex-B / raw OBUs) or the
    /// ADTS header of `first_packet` are used instead.
    pub extradata: Vec<u8>,
    /// First packet of the stream (needed to build dac3/dec3 from the AC-3/E-AC-3 sync frame;
    /// also the fallback source of parameter sets and ADTS headers, see `extradata`).
    pub first_packet: Vec<u8>,
    /// Coded width in pixels (video).
    pub width: u32,
    /// Coded height in pixels (video).
    pub height: u32,
    /// Sample rate in Hz (audio).
    pub sample_rate: u32,
    /// Channel count (audio).
    pub channels: u32,
    /// Bits per sample, when known (FLAC).
    pub bits_per_sample: u32,
}

/// A malformed or unsupported codec configuration; the message says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError(pub String);

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CodecError {}

/// Result type of this module's private functions.
type Res<T> = Result<T, CodecError>;

/// Builds a `CodecError` result from a message.
fn fail<T>(msg: impl Into<String>) -> Res<T> {
    Err(CodecError(msg.into()))
}

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/// RFC 6381 codec string for the HLS `CODECS` attribute, e.g. `avc1.64001f`,
/// `hvc1.1.6.L93.B0`, `av01.0.04M.08`, `mp4a.40.2`, `ac-3`, `ec-3`, `mp4a.40.34`, `opus`, `fLaC`.
pub fn codec_string(cfg: &CodecConfig) -> Result<String, CodecError> {
    match cfg.codec {
        Codec::H264 => avc_codec_string(&decoder_config_record(cfg)?),
        Codec::Hevc => hevc_codec_string(&decoder_config_record(cfg)?),
        Codec::Av1 => av1_codec_string(&decoder_config_record(cfg)?),
        Codec::Aac => {
            let asc = parse_asc(&audio_specific_config(cfg)?)?;
            Ok(format!("mp4a.40.{}", asc.object_type))
        }
        Codec::Ac3 => Ok("ac-3".to_string()),
        Codec::Eac3 => Ok("ec-3".to_string()),
        Codec::Mp3 => Ok("mp4a.40.34".to_string()),
        Codec::Opus => Ok("opus".to_string()),
        Codec::Flac => Ok("fLaC".to_string()),
    }
}

/// avcC/hvcC/av1C record to put in the sample entry: returns extradata unchanged when it
/// already is a record, converts Annex-B parameter sets (or raw AV1 OBUs) into a record
/// otherwise. A record built from Annex-B declares 4-byte NAL lengths, matching
/// [`annexb_to_length_prefixed`]. A record without SPS (from `avc3`/`hev1` sources) is rebuilt
/// from the parameter sets in the length-prefixed `first_packet` (kept as it is when that
/// packet has none either). Errors for codecs that have no such record.
pub fn decoder_config_record(cfg: &CodecConfig) -> Result<Vec<u8>, CodecError> {
    let src = parameter_source(cfg);
    if src.is_empty() {
        return fail(format!("{:?}: no codec private data and no first packet", cfg.codec));
    }
    match cfg.codec {
        Codec::H264 if is_annexb(src) => build_avcc(&annexb_nal_units(src), 3),
        Codec::H264 => complete_avcc(check_record(src, 7, 1, "avcC")?, &cfg.first_packet),
        Codec::Hevc if is_annexb(src) => build_hvcc(&annexb_nal_units(src), 3),
        Codec::Hevc => complete_hvcc(check_record(src, 23, 1, "hvcC")?, &cfg.first_packet),
        Codec::Av1 if src.len() >= 4 && src[0] == 0x81 => Ok(src.to_vec()),
        Codec::Av1 => build_av1c(src),
        other => fail(format!("{other:?} has no avcC/hvcC/av1C decoder configuration record")),
    }
}

/// Convert an Annex-B access unit (start codes) to 4-byte length-prefixed NAL units (for
/// sources like MPEG-TS). Bytes before the first start code and trailing zero bytes of each
/// NAL unit are dropped; without any start code the result is empty.
pub fn annexb_to_length_prefixed(data: &[u8]) -> Vec<u8> {
    let nals = annexb_nal_units(data);
    let total: usize = nals.iter().map(|n| n.len() + 4).sum();
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
    let starts = data.starts_with(&[0, 0, 1]) || data.starts_with(&[0, 0, 0, 1]);
    starts && !is_length_prefixed_chain(data)
}

/// AudioSpecificConfig (2 bytes) built from the ADTS header at the start of `data`, or `None`
/// when `data` does not start with a valid ADTS header.
pub fn adts_to_asc(data: &[u8]) -> Option<Vec<u8>> {
    let h = parse_adts(data)?;
    let v: u16 = (u16::from(h.profile) + 1) << 11 | u16::from(h.sf_index) << 7 | u16::from(h.channel_config) << 3;
    Some(v.to_be_bytes().to_vec())
}

/// Length of the ADTS header (7, or 9 with CRC) at the start of `data`, or `None` when `data`
/// does not start with a valid ADTS header. Strip it from each AAC packet before muxing.
pub fn adts_header_len(data: &[u8]) -> Option<usize> {
    parse_adts(data).map(|h| h.header_len)
}

// ---------------------------------------------------------------------------------------------
// Crate-internal helpers used by the fMP4 writer
// ---------------------------------------------------------------------------------------------

/// Fields of an AAC AudioSpecificConfig that matter for a sample entry and codec string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AscInfo {
    /// audioObjectType (2 = AAC-LC, 5 = SBR, 29 = PS, ...).
    pub object_type: u32,
    /// Sampling frequency from the index or the explicit 24-bit value.
    pub sample_rate: u32,
    /// channelConfiguration (0 = defined in a PCE).
    pub channel_config: u32,
}

/// The AudioSpecificConfig of an AAC track: the extradata, or one built from an ADTS header in
/// the first packet when the extradata is empty.
pub(crate) fn audio_specific_config(cfg: &CodecConfig) -> Res<Vec<u8>> {
    if !cfg.extradata.is_empty() {
        parse_asc(&cfg.extradata)?;
        return Ok(cfg.extradata.clone());
    }
    adts_to_asc(&cfg.first_packet).ok_or_else(|| CodecError("AAC: no AudioSpecificConfig and no ADTS header".into()))
}

/// Parses the leading fields of an AudioSpecificConfig.
pub(crate) fn parse_asc(asc: &[u8]) -> Res<AscInfo> {
    let mut r = BitReader::new(asc);
    let mut object_type = r.bits(5)?;
    if object_type == 31 {
        object_type = 32 + r.bits(6)?;
    }
    let sf_index = r.bits(4)?;
    let sample_rate = if sf_index == 15 { r.bits(24)? } else { aac_sample_rate(sf_index)? };
    let channel_config = r.bits(4)?;
    Ok(AscInfo { object_type, sample_rate, channel_config })
}

/// Sample rate of an AAC sampling_frequency_index.
fn aac_sample_rate(index: u32) -> Res<u32> {
    const RATES: [u32; 13] = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];
    RATES
        .get(index as usize)
        .copied()
        .ok_or_else(|| CodecError(format!("AAC: reserved sampling frequency index {index}")))
}

/// Fields of an ADTS fixed header.
struct AdtsHeader {
    profile: u8,
    sf_index: u8,
    channel_config: u8,
    header_len: usize,
}

/// Parses an ADTS header (syncword 0xFFF, layer 0).
fn parse_adts(data: &[u8]) -> Option<AdtsHeader> {
    if data.len() < 7 || data[0] != 0xFF || data[1] & 0xF6 != 0xF0 {
        return None;
    }
    let sf_index = (data[2] >> 2) & 0x0F;
    if sf_index > 12 {
        return None;
    }
    Some(AdtsHeader {
        profile: data[2] >> 6,
        sf_index,
        channel_config: (data[2] & 1) << 2 | data[3] >> 6,
        header_len: if data[1] & 1 == 1 { 7 } else { 9 },
    })
}

// ---------------------------------------------------------------------------------------------
// Bit reading / writing
// ---------------------------------------------------------------------------------------------

/// MSB-first bit reader over a byte slice; reading past the end is an error.
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    /// A reader positioned at the first bit of `data`.
    pub(crate) fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0 }
    }

    /// Reads one bit.
    pub(crate) fn bit(&mut self) -> Res<bool> {
        let byte = self.data.get(self.pos / 8).ok_or_else(|| CodecError("bitstream truncated".into()))?;
        let b = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Ok(b == 1)
    }

    /// Reads `n` (at most 32) bits as an unsigned big-endian number.
    pub(crate) fn bits(&mut self, n: u32) -> Res<u32> {
        let mut v: u64 = 0;
        for _ in 0..n.min(32) {
            v = v << 1 | u64::from(self.bit()?);
        }
        Ok(v as u32)
    }

    /// Skips `n` bits.
    pub(crate) fn skip(&mut self, n: usize) -> Res<()> {
        let end = self.pos.checked_add(n).ok_or_else(|| CodecError("bitstream overflow".into()))?;
        if end > self.data.len() * 8 {
            return fail("bitstream truncated");
        }
        self.pos = end;
        Ok(())
    }

    /// Reads an unsigned Exp-Golomb code (`ue(v)`).
    pub(crate) fn ue(&mut self) -> Res<u32> {
        let mut zeros = 0;
        while !self.bit()? {
            zeros += 1;
            if zeros > 31 {
                return fail("invalid Exp-Golomb code");
            }
        }
        let rest = self.bits(zeros)?;
        Ok(((1u64 << zeros) - 1 + u64::from(rest)).min(u64::from(u32::MAX)) as u32)
    }
}

/// MSB-first bit writer; `finish` pads the last byte with zero bits.
pub(crate) struct BitWriter {
    out: Vec<u8>,
    acc: u8,
    used: u32,
}

impl BitWriter {
    /// An empty writer.
    pub(crate) fn new() -> Self {
        BitWriter { out: Vec::new(), acc: 0, used: 0 }
    }

    /// Appends the low `n` (at most 32) bits of `value`, most significant first.
    pub(crate) fn put(&mut self, n: u32, value: u32) {
        for i in (0..n.min(32)).rev() {
            self.acc = self.acc << 1 | ((value >> i) & 1) as u8;
            self.used += 1;
            if self.used == 8 {
                self.out.push(self.acc);
                self.acc = 0;
                self.used = 0;
            }
        }
    }

    /// The written bytes, zero-padded to a whole byte.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        if self.used > 0 {
            self.out.push(self.acc << (8 - self.used));
        }
        self.out
    }
}

// ---------------------------------------------------------------------------------------------
// NAL units (H.264 / HEVC)
// ---------------------------------------------------------------------------------------------

/// Where parameter sets come from: the extradata, else the first packet.
fn parameter_source(cfg: &CodecConfig) -> &[u8] {
    if cfg.extradata.is_empty() {
        &cfg.first_packet
    } else {
        &cfg.extradata
    }
}

/// Accepts an existing record after a minimal sanity check.
fn check_record(src: &[u8], min_len: usize, version: u8, name: &str) -> Res<Vec<u8>> {
    if src.len() < min_len || src[0] != version {
        return fail(format!("{name}: malformed decoder configuration record ({} bytes)", src.len()));
    }
    Ok(src.to_vec())
}

/// True when `data` is exactly a chain of 4-byte big-endian length-prefixed units.
fn is_length_prefixed_chain(data: &[u8]) -> bool {
    let mut rest = data;
    while rest.len() >= 4 {
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len == 0 || len > rest.len() - 4 {
            return false;
        }
        rest = &rest[4 + len..];
    }
    rest.is_empty()
}

/// The NAL units of a length-prefixed access unit (stops at the first inconsistent length).
fn length_prefixed_nal_units(data: &[u8], length_size: usize) -> Vec<&[u8]> {
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

/// Returns an avcC that has an SPS unchanged, else rebuilds it from the parameter sets of the
/// first packet, keeping the record as it is when the packet holds none.
fn complete_avcc(record: Vec<u8>, first_packet: &[u8]) -> Res<Vec<u8>> {
    if record[5] & 0x1F > 0 {
        return Ok(record);
    }
    let size = record[4] & 3;
    Ok(build_avcc(&length_prefixed_nal_units(first_packet, usize::from(size) + 1), size).unwrap_or(record))
}

/// True when an hvcC record holds at least one SPS.
fn hvcc_has_sps(record: &[u8]) -> bool {
    let mut pos = 23;
    for _ in 0..record.get(22).copied().unwrap_or(0) {
        let (Some(&kind), Some(count)) = (record.get(pos), record.get(pos + 1..pos + 3)) else { return false };
        let count = u16::from_be_bytes([count[0], count[1]]);
        if kind & 0x3F == 33 && count > 0 {
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
fn complete_hvcc(record: Vec<u8>, first_packet: &[u8]) -> Res<Vec<u8>> {
    if hvcc_has_sps(&record) {
        return Ok(record);
    }
    let size = record[21] & 3;
    Ok(build_hvcc(&length_prefixed_nal_units(first_packet, usize::from(size) + 1), size).unwrap_or(record))
}

/// Position of the next `00 00 01` at or after `from`.
fn find_start_code(data: &[u8], from: usize) -> Option<usize> {
    data.get(from..)?.windows(3).position(|w| w == [0, 0, 1]).map(|p| p + from)
}

/// The NAL units of an Annex-B byte stream, without start codes and trailing zero bytes.
pub(crate) fn annexb_nal_units(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut next = find_start_code(data, 0);
    while let Some(sc) = next {
        let start = sc + 3;
        next = find_start_code(data, start);
        let nal = &data[start..next.unwrap_or(data.len())];
        let trimmed = nal.len() - nal.iter().rev().take_while(|&&b| b == 0).count();
        if trimmed > 0 {
            out.push(&nal[..trimmed]);
        }
    }
    out
}

/// Removes emulation prevention bytes (`00 00 03` -> `00 00`).
pub(crate) fn unescape_rbsp(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut zeros = 0;
    for &b in data {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// Appends `nal` with a 16-bit length prefix.
fn put_u16_prefixed(out: &mut Vec<u8>, nal: &[u8], what: &str) -> Res<()> {
    let len = u16::try_from(nal.len()).map_err(|_| CodecError(format!("{what} too large ({} bytes)", nal.len())))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(nal);
    Ok(())
}

/// Count of a parameter-set list as the record's count field type.
fn count_u8(n: usize, max: usize, what: &str) -> Res<u8> {
    if n > max {
        return fail(format!("too many {what} ({n})"));
    }
    Ok(n as u8)
}

// ---------------------------------------------------------------------------------------------
// H.264
// ---------------------------------------------------------------------------------------------

/// SPS fields an avcC record needs.
struct AvcSps {
    profile_idc: u8,
    constraints: u8,
    level_idc: u8,
    chroma_format_idc: u32,
    bit_depth_luma_minus8: u32,
    bit_depth_chroma_minus8: u32,
}

/// Profiles whose SPS carries chroma_format_idc and bit depths.
const AVC_HIGH_PROFILES: [u8; 13] = [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135];

/// Parses the start of an H.264 SPS NAL unit (header byte included).
fn parse_avc_sps(nal: &[u8]) -> Res<AvcSps> {
    let rbsp = unescape_rbsp(nal.get(1..).unwrap_or_default());
    let mut r = BitReader::new(&rbsp);
    let profile_idc = r.bits(8)? as u8;
    let constraints = r.bits(8)? as u8;
    let level_idc = r.bits(8)? as u8;
    r.ue()?; // seq_parameter_set_id
    let (mut chroma, mut luma8, mut chroma8) = (1, 0, 0);
    if AVC_HIGH_PROFILES.contains(&profile_idc) {
        chroma = r.ue()?;
        if chroma == 3 {
            r.bit()?; // separate_colour_plane_flag
        }
        luma8 = r.ue()?;
        chroma8 = r.ue()?;
    }
    Ok(AvcSps {
        profile_idc,
        constraints,
        level_idc,
        chroma_format_idc: chroma,
        bit_depth_luma_minus8: luma8,
        bit_depth_chroma_minus8: chroma8,
    })
}

/// Builds an AVCDecoderConfigurationRecord from the SPS/PPS (and SPS extension) NAL units
/// among `nals`, declaring NAL lengths of `length_size_minus_one` + 1 bytes.
fn build_avcc(nals: &[&[u8]], length_size_minus_one: u8) -> Res<Vec<u8>> {
    let of_type = |t: u8| -> Vec<&[u8]> { nals.iter().copied().filter(|n| n[0] & 0x1F == t).collect() };
    let (sps, pps, sps_ext) = (of_type(7), of_type(8), of_type(13));
    let (Some(first_sps), false) = (sps.first(), pps.is_empty()) else {
        return fail("H.264: Annex-B data lacks an SPS or a PPS");
    };
    let info = parse_avc_sps(first_sps)?;
    let mut out = vec![
        1,
        info.profile_idc,
        info.constraints,
        info.level_idc,
        0xFC | length_size_minus_one,
        0xE0 | count_u8(sps.len(), 31, "SPS")?,
    ];
    for s in &sps {
        put_u16_prefixed(&mut out, s, "SPS")?;
    }
    out.push(count_u8(pps.len(), 255, "PPS")?);
    for p in &pps {
        put_u16_prefixed(&mut out, p, "PPS")?;
    }
    if ![66, 77, 88].contains(&info.profile_idc) {
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
fn avc_codec_string(avcc: &[u8]) -> Res<String> {
    match avcc {
        [_, profile, compat, level, ..] => Ok(format!("avc1.{profile:02x}{compat:02x}{level:02x}")),
        _ => fail("avcC: record too short"),
    }
}

// ---------------------------------------------------------------------------------------------
// HEVC
// ---------------------------------------------------------------------------------------------

/// SPS fields an hvcC record needs.
struct HevcSps {
    /// general_profile_space..general_level_idc: the 12 bytes that open hvcC after the version.
    general_ptl: [u8; 12],
    max_sub_layers: u8,
    temporal_id_nesting: bool,
    chroma_format_idc: u32,
    bit_depth_luma_minus8: u32,
    bit_depth_chroma_minus8: u32,
}

/// Skips the sub-layer part of profile_tier_level().
fn skip_sub_layer_ptl(r: &mut BitReader, max_sub_layers_minus1: u32) -> Res<()> {
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
fn parse_hevc_sps(nal: &[u8]) -> Res<HevcSps> {
    let rbsp = unescape_rbsp(nal.get(2..).unwrap_or_default());
    let mut r = BitReader::new(&rbsp);
    r.skip(4)?; // sps_video_parameter_set_id
    let max_sub_layers_minus1 = r.bits(3)?;
    let temporal_id_nesting = r.bit()?;
    let mut general_ptl = [0u8; 12];
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
    Ok(HevcSps {
        general_ptl,
        max_sub_layers: max_sub_layers_minus1 as u8 + 1,
        temporal_id_nesting,
        chroma_format_idc,
        bit_depth_luma_minus8,
        bit_depth_chroma_minus8,
    })
}

/// Builds an HEVCDecoderConfigurationRecord from the VPS/SPS/PPS NAL units among `nals`,
/// declaring NAL lengths of `length_size_minus_one` + 1 bytes.
fn build_hvcc(nals: &[&[u8]], length_size_minus_one: u8) -> Res<Vec<u8>> {
    let of_type = |t: u8| -> Vec<&[u8]> { nals.iter().copied().filter(|n| (n[0] >> 1) & 0x3F == t).collect() };
    let arrays = [(32u8, of_type(32)), (33, of_type(33)), (34, of_type(34))];
    if arrays.iter().any(|(_, list)| list.is_empty()) {
        return fail("HEVC: Annex-B data lacks a VPS, SPS or PPS");
    }
    let sps = parse_hevc_sps(arrays[1].1[0])?;
    let mut out = vec![1];
    out.extend_from_slice(&sps.general_ptl);
    out.extend_from_slice(&[0xF0, 0x00, 0xFC]); // min_spatial_segmentation_idc 0, parallelismType 0
    out.push(0xFC | (sps.chroma_format_idc & 3) as u8);
    out.push(0xF8 | (sps.bit_depth_luma_minus8 & 7) as u8);
    out.push(0xF8 | (sps.bit_depth_chroma_minus8 & 7) as u8);
    out.extend_from_slice(&[0, 0]); // avgFrameRate
    out.push((sps.max_sub_layers & 7) << 3 | u8::from(sps.temporal_id_nesting) << 2 | length_size_minus_one);
    out.push(3);
    for (nal_type, list) in &arrays {
        out.push(0x80 | nal_type); // array_completeness = 1
        let n = u16::try_from(list.len()).map_err(|_| CodecError("HEVC: too many parameter sets".into()))?;
        out.extend_from_slice(&n.to_be_bytes());
        for nal in list {
            put_u16_prefixed(&mut out, nal, "HEVC parameter set")?;
        }
    }
    Ok(out)
}

/// `hvc1.<space><profile>.<compat>.<tier><level>[.<constraint bytes>]` from an hvcC record
/// (ISO/IEC 14496-15 Annex E).
fn hevc_codec_string(hvcc: &[u8]) -> Res<String> {
    let Some(ptl) = hvcc.get(1..13) else {
        return fail("hvcC: record too short");
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

// ---------------------------------------------------------------------------------------------
// AV1
// ---------------------------------------------------------------------------------------------

/// Sequence header fields an av1C record needs.
#[derive(Default)]
struct Av1Seq {
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

/// Reads an unsigned LEB128 value; returns (value, bytes used).
fn read_leb128(data: &[u8]) -> Res<(usize, usize)> {
    let mut value: u64 = 0;
    for (i, &b) in data.iter().take(8).enumerate() {
        value |= u64::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            return usize::try_from(value).map(|v| (v, i + 1)).map_err(|_| CodecError("AV1: OBU too large".into()));
        }
    }
    fail("AV1: invalid leb128 size")
}

/// Finds the sequence header OBU in low-overhead OBU data; returns its payload.
fn find_av1_sequence_header(mut data: &[u8]) -> Res<&[u8]> {
    while let Some(&header) = data.first() {
        let ext = usize::from(header & 0x04 != 0);
        let mut pos = 1 + ext;
        let size = if header & 0x02 != 0 {
            let (size, used) = read_leb128(data.get(pos..).unwrap_or_default())?;
            pos += used;
            size
        } else {
            data.len().saturating_sub(pos)
        };
        let end = pos
            .checked_add(size)
            .filter(|&e| e <= data.len())
            .ok_or_else(|| CodecError("AV1: truncated OBU".into()))?;
        if (header >> 3) & 0x0F == 1 {
            return Ok(&data[pos..end]);
        }
        data = &data[end..];
    }
    fail("AV1: no sequence header OBU")
}

/// Skips timing_info() and decoder_model_info(); returns buffer_delay_length_minus_1 + 1 when
/// a decoder model is present.
fn skip_av1_timing(r: &mut BitReader) -> Res<Option<usize>> {
    if !r.bit()? {
        return Ok(None); // timing_info_present_flag
    }
    r.skip(64)?;
    if r.bit()? {
        r.ue_uvlc()?; // num_ticks_per_picture_minus_1
    }
    if !r.bit()? {
        return Ok(None); // decoder_model_info_present_flag
    }
    let delay_len = r.bits(5)? as usize + 1;
    r.skip(32 + 5 + 5)?;
    Ok(Some(delay_len))
}

impl BitReader<'_> {
    /// Reads an AV1 `uvlc()` value.
    fn ue_uvlc(&mut self) -> Res<u32> {
        let mut zeros = 0;
        while !self.bit()? {
            zeros += 1;
            if zeros >= 32 {
                return Ok(u32::MAX);
            }
        }
        Ok(self.bits(zeros)?.saturating_add((1u32 << zeros) - 1))
    }
}

/// Parses the operating points; returns (seq_level_idx[0], seq_tier[0]).
fn parse_av1_operating_points(r: &mut BitReader, model: Option<usize>) -> Res<(u32, u32)> {
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
    first.ok_or_else(|| CodecError("AV1: no operating point".into()))
}

/// Skips the sequence header fields between the operating points and color_config().
fn skip_av1_tools(r: &mut BitReader, reduced: bool) -> Res<()> {
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
fn parse_av1_color(r: &mut BitReader, seq: &mut Av1Seq) -> Res<()> {
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
fn parse_av1_sequence_header(payload: &[u8]) -> Res<Av1Seq> {
    let mut r = BitReader::new(payload);
    let mut seq = Av1Seq { profile: r.bits(3)?, ..Av1Seq::default() };
    r.skip(1)?; // still_picture
    let reduced = r.bit()?;
    if reduced {
        seq.level0 = r.bits(5)?;
    } else {
        let model = skip_av1_timing(&mut r)?;
        (seq.level0, seq.tier0) = parse_av1_operating_points(&mut r, model)?;
    }
    skip_av1_tools(&mut r, reduced)?;
    parse_av1_color(&mut r, &mut seq)?;
    Ok(seq)
}

/// Builds an av1C record from raw OBUs containing a sequence header.
fn build_av1c(obus: &[u8]) -> Res<Vec<u8>> {
    let payload = find_av1_sequence_header(obus)?;
    let s = parse_av1_sequence_header(payload)?;
    let flags = s.tier0 << 7
        | u32::from(s.high_bitdepth) << 6
        | u32::from(s.twelve_bit) << 5
        | u32::from(s.mono) << 4
        | u32::from(s.ss_x) << 3
        | u32::from(s.ss_y) << 2
        | s.chroma_sample_position;
    let mut out = vec![0x81, (s.profile << 5 | s.level0) as u8, flags as u8, 0];
    out.push(0x0A); // OBU_SEQUENCE_HEADER with obu_has_size_field
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
fn av1_codec_string(av1c: &[u8]) -> Res<String> {
    let (Some(&b1), Some(&b2)) = (av1c.get(1), av1c.get(2)) else {
        return fail("av1C: record too short");
    };
    let tier = if b2 & 0x80 != 0 { 'H' } else { 'M' };
    let depth = match (b2 & 0x40 != 0, b2 & 0x20 != 0) {
        (false, _) => 8,
        (true, false) => 10,
        (true, true) => 12,
    };
    Ok(format!("av01.{}.{:02}{tier}.{depth:02}", b1 >> 5, b1 & 0x1F))
}

// ---------------------------------------------------------------------------------------------
// AC-3 / E-AC-3 (ETSI TS 102 366)
// ---------------------------------------------------------------------------------------------

/// Sample rate of an AC-3 fscod.
pub(crate) fn ac3_sample_rate(fscod: u32) -> u32 {
    [48000, 44100, 32000].get(fscod as usize).copied().unwrap_or(0)
}

/// Nominal bit rates (kbit/s) indexed by frmsizecod >> 1.
const AC3_BITRATES: [u32; 19] =
    [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 576, 640];

/// Fields of an AC-3 sync frame that dac3 carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ac3Frame {
    /// Sample rate code (0 = 48 kHz, 1 = 44.1 kHz, 2 = 32 kHz).
    pub fscod: u32,
    /// Bit stream identification (8 for plain AC-3).
    pub bsid: u32,
    /// Bit stream mode (main, commentary, ...).
    pub bsmod: u32,
    /// Audio coding mode (channel layout, 7 = 3/2).
    pub acmod: u32,
    /// 1 when the LFE channel is present.
    pub lfeon: u32,
    /// Frame size code; `frmsizecod >> 1` is dac3's bit_rate_code.
    pub frmsizecod: u32,
}

impl Ac3Frame {
    /// Frame length in bytes.
    pub(crate) fn frame_bytes(&self) -> usize {
        let kbps = AC3_BITRATES[(self.frmsizecod >> 1) as usize % AC3_BITRATES.len()];
        let words = match self.fscod {
            0 => kbps * 2,
            1 => kbps * 320 / 147 + (self.frmsizecod & 1),
            _ => kbps * 3,
        };
        words as usize * 2
    }
}

/// Parses the syncinfo and bsi of an AC-3 (bsid <= 8) sync frame.
pub(crate) fn parse_ac3_frame(frame: &[u8]) -> Res<Ac3Frame> {
    if !frame.starts_with(&[0x0B, 0x77]) {
        return fail("AC-3: no sync word at start of first packet");
    }
    let mut r = BitReader::new(&frame[2..]);
    r.skip(16)?; // crc1
    let fscod = r.bits(2)?;
    let frmsizecod = r.bits(6)?;
    let bsid = r.bits(5)?;
    if fscod == 3 || frmsizecod > 37 || bsid > 10 {
        return fail(format!("AC-3: invalid sync frame (fscod {fscod}, frmsizecod {frmsizecod}, bsid {bsid})"));
    }
    let bsmod = r.bits(3)?;
    let acmod = r.bits(3)?;
    let mix_bits = [acmod & 1 != 0 && acmod != 1, acmod & 4 != 0, acmod == 2].iter().filter(|&&b| b).count();
    r.skip(2 * mix_bits)?;
    let lfeon = r.bits(1)?;
    Ok(Ac3Frame { fscod, bsid, bsmod, acmod, lfeon, frmsizecod })
}

/// The 3-byte AC3SpecificBox (dac3) payload for the sync frame at the start of `frame`.
pub(crate) fn dac3_payload(frame: &[u8]) -> Res<Vec<u8>> {
    let f = parse_ac3_frame(frame)?;
    let mut w = BitWriter::new();
    for (bits, v) in
        [(2, f.fscod), (5, f.bsid), (3, f.bsmod), (3, f.acmod), (1, f.lfeon), (5, f.frmsizecod >> 1), (5, 0)]
    {
        w.put(bits, v);
    }
    Ok(w.finish())
}

/// Fields of an E-AC-3 (or AC-3 core) sync frame that dec3 needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Eac3Frame {
    strmtyp: u32,
    substreamid: u32,
    frame_bytes: usize,
    fscod: u32,
    sample_rate: u32,
    num_blocks: u32,
    acmod: u32,
    lfeon: u32,
    bsid: u32,
    bsmod: u32,
    chanmap: Option<u32>,
}

/// Skips the mixing metadata of an E-AC-3 bsi (mixmdate == 1).
fn skip_eac3_mixing(r: &mut BitReader, f: &Eac3Frame) -> Res<()> {
    if f.acmod > 2 {
        r.skip(2)?; // dmixmod
    }
    if f.acmod & 1 != 0 && f.acmod > 2 {
        r.skip(6)?; // ltrtcmixlev, lorocmixlev
    }
    if f.acmod & 4 != 0 {
        r.skip(6)?; // ltrtsurmixlev, lorosurmixlev
    }
    if f.lfeon == 1 {
        skip_flagged(r, 5)?; // lfemixlevcod
    }
    if f.strmtyp == 0 {
        skip_eac3_program_mixing(r, f)?;
    }
    Ok(())
}

/// Skips the mixing metadata only independent substreams carry (program scale factors,
/// mixdef, pan info, mix configuration).
fn skip_eac3_program_mixing(r: &mut BitReader, f: &Eac3Frame) -> Res<()> {
    skip_flagged(r, 6)?; // pgmscl
    if f.acmod == 0 {
        skip_flagged(r, 6)?; // pgmscl2
    }
    skip_flagged(r, 6)?; // extpgmscl
    match r.bits(2)? {
        1 => r.skip(5)?,
        2 => r.skip(12)?,
        3 => {
            let len = r.bits(5)? as usize;
            r.skip(8 * (len + 2))?;
        }
        _ => {}
    }
    if f.acmod < 2 {
        skip_flagged(r, 14)?; // paninfo
        if f.acmod == 0 {
            skip_flagged(r, 14)?; // paninfo2
        }
    }
    if r.bit()? {
        // frmmixcfginfoe: one blkmixcfginfo, or one flagged per block
        if f.num_blocks == 1 {
            r.skip(5)?;
        } else {
            for _ in 0..f.num_blocks {
                skip_flagged(r, 5)?;
            }
        }
    }
    Ok(())
}

/// Reads a presence flag and skips `n` bits when it is set.
fn skip_flagged(r: &mut BitReader, n: usize) -> Res<()> {
    if r.bit()? {
        r.skip(n)?;
    }
    Ok(())
}

/// Parses the bsi of an E-AC-3 sync frame (bsid 11..=16).
fn parse_eac3_frame(frame: &[u8]) -> Res<Eac3Frame> {
    let mut r = BitReader::new(frame.get(2..).unwrap_or_default());
    let mut f = Eac3Frame { strmtyp: r.bits(2)?, substreamid: r.bits(3)?, ..Eac3Frame::default() };
    f.frame_bytes = (r.bits(11)? as usize + 1) * 2;
    f.fscod = r.bits(2)?;
    if f.fscod == 3 {
        f.sample_rate = ac3_sample_rate(r.bits(2)?) / 2;
        f.num_blocks = 6;
    } else {
        f.sample_rate = ac3_sample_rate(f.fscod);
        f.num_blocks = [1, 2, 3, 6][r.bits(2)? as usize];
    }
    f.acmod = r.bits(3)?;
    f.lfeon = r.bits(1)?;
    f.bsid = r.bits(5)?;
    if f.strmtyp == 3 || f.sample_rate == 0 || !(11..=16).contains(&f.bsid) {
        return fail(format!("E-AC-3: invalid sync frame (strmtyp {}, bsid {})", f.strmtyp, f.bsid));
    }
    for _ in 0..if f.acmod == 0 { 2 } else { 1 } {
        r.skip(5)?; // dialnorm
        skip_flagged(&mut r, 8)?; // compr
    }
    if f.strmtyp == 1 && r.bit()? {
        f.chanmap = Some(r.bits(16)?);
    }
    if r.bit()? {
        skip_eac3_mixing(&mut r, &f)?;
    }
    if r.bit()? {
        f.bsmod = r.bits(3)?; // infomdate
    }
    Ok(f)
}

/// Parses the sync frame at the start of `data`, AC-3 or E-AC-3 by its bsid.
fn parse_any_ac3_frame(data: &[u8]) -> Res<Eac3Frame> {
    if !data.starts_with(&[0x0B, 0x77]) || data.len() < 6 {
        return fail("E-AC-3: no sync word where a frame should start");
    }
    if data[5] >> 3 > 10 {
        return parse_eac3_frame(data);
    }
    let a = parse_ac3_frame(data)?;
    let sample_rate = ac3_sample_rate(a.fscod);
    Ok(Eac3Frame {
        frame_bytes: a.frame_bytes(),
        fscod: a.fscod,
        sample_rate,
        num_blocks: 6,
        acmod: a.acmod,
        lfeon: a.lfeon,
        bsid: a.bsid,
        bsmod: a.bsmod,
        ..Eac3Frame::default()
    })
}

/// chan_loc bits (TS 102 366 Table F.6.1, Lc/Rc = bit 0) from a dependent substream chanmap.
fn chan_loc_from_chanmap(chanmap: u32) -> u32 {
    // chanmap bit k (k = 0 is the MSB of 16) -> chan_loc bit.
    const MAP: [(u32, u32); 9] = [(5, 0), (6, 1), (7, 2), (8, 3), (9, 4), (10, 5), (11, 6), (12, 7), (14, 8)];
    MAP.iter().filter(|(k, _)| chanmap >> (15 - k) & 1 == 1).fold(0, |acc, (_, b)| acc | 1 << b)
}

/// One independent substream entry of dec3.
#[derive(Default)]
struct Ec3Substream {
    frame: Eac3Frame,
    num_dep_sub: u32,
    chan_loc: u32,
}

/// Groups the sync frames of one access unit into independent substreams.
fn collect_ec3_substreams(packet: &[u8]) -> Res<(Vec<Ec3Substream>, usize)> {
    let mut subs: Vec<Ec3Substream> = Vec::new();
    let (mut rest, mut bytes) = (packet, 0usize);
    while rest.len() >= 6 {
        let f = parse_any_ac3_frame(rest)?;
        let independent = f.strmtyp != 1;
        if independent && subs.iter().any(|s| s.frame.substreamid == f.substreamid) {
            break; // the next access unit begins
        }
        match subs.last_mut() {
            Some(s) if !independent => {
                s.num_dep_sub += 1;
                s.chan_loc |= f.chanmap.map_or(0, chan_loc_from_chanmap);
            }
            None if !independent => return fail("E-AC-3: dependent substream before an independent one"),
            _ => subs.push(Ec3Substream { frame: f, ..Ec3Substream::default() }),
        }
        bytes += f.frame_bytes;
        rest = rest.get(f.frame_bytes..).unwrap_or_default();
    }
    if subs.is_empty() || subs.len() > 8 {
        return fail("E-AC-3: first packet holds no usable sync frame");
    }
    Ok((subs, bytes))
}

/// The EC3SpecificBox (dec3) payload for the access unit at the start of `packet`.
pub(crate) fn dec3_payload(packet: &[u8]) -> Res<Vec<u8>> {
    let (subs, bytes) = collect_ec3_substreams(packet)?;
    let first = subs[0].frame;
    let bits_per_s = bytes as u64 * 8 * u64::from(first.sample_rate) / (u64::from(first.num_blocks) * 256);
    let mut w = BitWriter::new();
    w.put(13, (bits_per_s / 1000).min(0x1FFF) as u32);
    w.put(3, subs.len() as u32 - 1);
    for s in &subs {
        let f = s.frame;
        for (bits, v) in [
            (2, f.fscod),
            (5, f.bsid),
            (1, 0),
            (1, 0),
            (3, f.bsmod),
            (3, f.acmod),
            (1, f.lfeon),
            (3, 0),
            (4, s.num_dep_sub),
        ] {
            w.put(bits, v);
        }
        if s.num_dep_sub > 0 {
            w.put(9, s.chan_loc)
        } else {
            w.put(1, 0)
        }
    }
    Ok(w.finish())
}

/// Sample rate of the AC-3/E-AC-3 frame at the start of `packet`.
pub(crate) fn ac3_family_sample_rate(packet: &[u8]) -> Res<u32> {
    Ok(parse_any_ac3_frame(packet)?.sample_rate)
}

// ---------------------------------------------------------------------------------------------
// Opus
// ---------------------------------------------------------------------------------------------

/// The OpusSpecificBox (dOps) payload built from an OpusHead; also returns the channel count.
pub(crate) fn dops_payload(opus_head: &[u8]) -> Res<(Vec<u8>, u16)> {
    if opus_head.len() < 19 || !opus_head.starts_with(b"OpusHead") {
        return fail("Opus: extradata is not an OpusHead (19+ bytes starting with \"OpusHead\")");
    }
    let channels = opus_head[9];
    let family = opus_head[18];
    let mut out = vec![0, channels];
    out.extend_from_slice(&u16::from_le_bytes([opus_head[10], opus_head[11]]).to_be_bytes());
    out.extend_from_slice(
        &u32::from_le_bytes([opus_head[12], opus_head[13], opus_head[14], opus_head[15]]).to_be_bytes(),
    );
    out.extend_from_slice(&i16::from_le_bytes([opus_head[16], opus_head[17]]).to_be_bytes());
    out.push(family);
    if family != 0 {
        let table = opus_head
            .get(19..21 + usize::from(channels))
            .ok_or_else(|| CodecError("Opus: OpusHead channel mapping table truncated".into()))?;
        out.extend_from_slice(table);
    }
    Ok((out, u16::from(channels)))
}

// ---------------------------------------------------------------------------------------------
// FLAC
// ---------------------------------------------------------------------------------------------

/// Stream parameters from a FLAC STREAMINFO block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FlacInfo {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channel count (1..=8).
    pub channels: u32,
    /// Bits per sample (4..=32).
    pub bits_per_sample: u32,
}

/// The 34-byte STREAMINFO from extradata (bare, with a block header, or after "fLaC").
pub(crate) fn flac_streaminfo(extradata: &[u8]) -> Res<&[u8]> {
    if extradata.len() == 34 {
        return Ok(extradata);
    }
    let mut rest = extradata.strip_prefix(b"fLaC").unwrap_or(extradata);
    while rest.len() >= 4 {
        let len = u32::from_be_bytes([0, rest[1], rest[2], rest[3]]) as usize;
        let body = rest.get(4..4 + len).ok_or_else(|| CodecError("FLAC: truncated metadata block".into()))?;
        if rest[0] & 0x7F == 0 && len == 34 {
            return Ok(body);
        }
        if rest[0] & 0x80 != 0 {
            break;
        }
        rest = &rest[4 + len..];
    }
    fail("FLAC: extradata holds no STREAMINFO block")
}

/// Parses sample rate, channels and bit depth from a STREAMINFO block.
pub(crate) fn parse_flac_streaminfo(streaminfo: &[u8]) -> Res<FlacInfo> {
    let mut r = BitReader::new(streaminfo);
    r.skip(16 + 16 + 24 + 24)?;
    let sample_rate = r.bits(20)?;
    let channels = r.bits(3)? + 1;
    let bits_per_sample = r.bits(5)? + 1;
    if sample_rate == 0 {
        return fail("FLAC: STREAMINFO has sample rate 0");
    }
    Ok(FlacInfo { sample_rate, channels, bits_per_sample })
}

/// The dfLa payload after its FullBox header: STREAMINFO as the last metadata block.
pub(crate) fn dfla_payload(extradata: &[u8]) -> Res<(Vec<u8>, FlacInfo)> {
    let si = flac_streaminfo(extradata)?;
    let info = parse_flac_streaminfo(si)?;
    let mut out = vec![0x80, 0, 0, 34];
    out.extend_from_slice(si);
    Ok((out, info))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn cfg(codec: Codec, extradata: Vec<u8>) -> CodecConfig {
        CodecConfig {
            codec,
            extradata,
            first_packet: Vec::new(),
            width: 0,
            height: 0,
            sample_rate: 0,
            channels: 0,
            bits_per_sample: 0,
        }
    }

    /// avcC written by FFmpeg 5.1's mp4 muxer for libx264 High@1.3 320x240.
    pub(crate) const REAL_AVCC: &str =
        "0164000dffe100196764000dacd94141fb011000000300100000030320f142996001000668ebe3cb22c0fdf8f800";

    /// Annex-B form of a record's SPS/PPS.
    fn avcc_to_annexb(avcc: &[u8]) -> Vec<u8> {
        let sps_len = usize::from(u16::from_be_bytes([avcc[6], avcc[7]]));
        let sps = &avcc[8..8 + sps_len];
        let p = 8 + sps_len + 1;
        let pps_len = usize::from(u16::from_be_bytes([avcc[p], avcc[p + 1]]));
        let pps = &avcc[p + 2..p + 2 + pps_len];
        [&[0, 0, 0, 1][..], sps, &[0, 0, 1], pps].concat()
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
    fn records_without_sps_are_rebuilt_from_the_first_packet() {
        let real = hex(REAL_AVCC);
        let annexb = avcc_to_annexb(&real);
        let packet = annexb_to_length_prefixed(&[annexb, vec![0, 0, 1, 0x65, 0x88]].concat());
        let mut c = cfg(Codec::H264, hex("0164000dffe000"));
        c.first_packet = packet.clone();
        assert_eq!(decoder_config_record(&c).unwrap(), real);
        c.first_packet.clear();
        assert_eq!(decoder_config_record(&c).unwrap(), hex("0164000dffe000"));

        let nals = [hex(HEVC_VPS), hex(HEVC_SPS), hex(HEVC_PPS)];
        let packet: Vec<u8> =
            nals.iter().flat_map(|n| [(n.len() as u32).to_be_bytes().to_vec(), n.clone()].concat()).collect();
        let mut h = cfg(Codec::Hevc, [hex(HVCC_MAIN_HEAD), vec![0x20, 0, 0]].concat());
        assert!(!hvcc_has_sps(&h.extradata));
        h.first_packet = packet;
        let rec = decoder_config_record(&h).unwrap();
        assert_eq!(&rec[..22], &hex(HVCC_MAIN_HEAD)[..22]);
        assert!(hvcc_has_sps(&rec));
        assert!(hvcc_has_sps(&[hex(HVCC_MAIN_HEAD), hex("210001 0003 420101")].concat()));
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

    /// hvcC head (through the VPS) written by FFmpeg 5.1 for libx265 Main, 320x240.
    const HVCC_MAIN_HEAD: &str = "0101600000009000000000003cf000fcfdf8f800000f04";

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

    /// VPS, SPS, PPS from the hvcC FFmpeg 5.1 wrote for libx265 Main, 320x240.
    const HEVC_VPS: &str = "40010c01ffff01600000030090000003000003003c959809";
    const HEVC_SPS: &str = "42010101600000030090000003000003003ca00a080f165959a4932bc05a020000030002000003003210";
    const HEVC_PPS: &str = "4401c172b46240";

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
        let s = parse_hevc_sps(&escaped).unwrap();
        assert_eq!(s.general_ptl, hex("02200000000000000000005d")[..]);
        assert_eq!((s.max_sub_layers, s.temporal_id_nesting), (3, false));
        assert_eq!((s.chroma_format_idc, s.bit_depth_luma_minus8, s.bit_depth_chroma_minus8), (1, 2, 2));
    }

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

    #[test]
    fn aac_strings() {
        let c = |asc: &str| codec_string(&cfg(Codec::Aac, hex(asc))).unwrap();
        assert_eq!(c("1210"), "mp4a.40.2"); // FFmpeg aac, 44.1 kHz stereo
        assert_eq!(c("2b92"), "mp4a.40.5"); // HE-AAC explicit
        assert_eq!(c("eb8a"), "mp4a.40.29"); // HE-AACv2 explicit (AOT 29)
        assert_eq!(c("f8201000"), "mp4a.40.33"); // escape: 32 + 1
        assert!(codec_string(&cfg(Codec::Aac, vec![0x12])).is_err());
        assert_eq!(parse_asc(&hex("1190")).unwrap(), AscInfo { object_type: 2, sample_rate: 48000, channel_config: 2 });
    }

    #[test]
    fn adts_header_to_asc() {
        // ADTS header of FFmpeg's aac encoder, 44.1 kHz stereo LC, no CRC.
        let adts = hex("fff150802b3ffc");
        assert_eq!(adts_to_asc(&adts).unwrap(), hex("1210"));
        assert_eq!(adts_header_len(&adts), Some(7));
        assert_eq!(adts_header_len(&hex("fff050802b3ffc0000")), Some(9));
        assert_eq!(adts_to_asc(&[0xff, 0x00, 0, 0, 0, 0, 0]), None);
        let mut c = cfg(Codec::Aac, Vec::new());
        c.first_packet = adts;
        assert_eq!(codec_string(&c).unwrap(), "mp4a.40.2");
    }

    #[test]
    fn fixed_strings() {
        for (codec, s) in [
            (Codec::Ac3, "ac-3"),
            (Codec::Eac3, "ec-3"),
            (Codec::Mp3, "mp4a.40.34"),
            (Codec::Opus, "opus"),
            (Codec::Flac, "fLaC"),
        ] {
            assert_eq!(codec_string(&cfg(codec, Vec::new())).unwrap(), s);
        }
    }

    #[test]
    fn malformed_inputs_are_errors() {
        assert!(codec_string(&cfg(Codec::H264, vec![])).is_err());
        assert!(codec_string(&cfg(Codec::H264, vec![1, 2])).is_err());
        assert!(codec_string(&cfg(Codec::Hevc, vec![1; 10])).is_err());
        assert!(codec_string(&cfg(Codec::H264, vec![0, 0, 1, 0x67, 0x64])).is_err());
        assert!(codec_string(&cfg(Codec::Hevc, vec![0, 0, 1, 0x42, 0x01, 0x01])).is_err());
        assert!(codec_string(&cfg(Codec::Av1, vec![0x0a, 0x05, 0, 0])).is_err());
        assert!(decoder_config_record(&cfg(Codec::Aac, vec![0x12, 0x10])).is_err());
        assert!(dac3_payload(&[0x0b, 0x77, 0, 0]).is_err());
        assert!(dec3_payload(&[0x0b, 0x77]).is_err());
        assert!(dops_payload(b"OpusHead").is_err());
        assert!(dfla_payload(&[0; 20]).is_err());
        // Fuzz-ish: no panics on arbitrary bytes.
        let mut x: u32 = 12345;
        for len in 0..200 {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1103515245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            for codec in [Codec::H264, Codec::Hevc, Codec::Av1, Codec::Aac] {
                let _ = codec_string(&cfg(codec, data.clone()));
                let _ = codec_string(&cfg(codec, [&[0, 0, 1][..], &data].concat()));
            }
            let _ = dac3_payload(&[&[0x0b, 0x77][..], &data].concat());
            let _ = dec3_payload(&[&[0x0b, 0x77][..], &data].concat());
            let _ = dops_payload(&[&b"OpusHead"[..], &data].concat());
            let _ = dfla_payload(&[&b"fLaC"[..], &data].concat());
            let _ = annexb_to_length_prefixed(&data);
        }
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

    /// First sync frame header of `ffmpeg -f lavfi -i sine -ac 6 -c:a ac3` (5.1, 48 kHz, 448k).
    const AC3_51_HEAD: &str = "0b77b50b1e40ebf8403eff99ff0841fc";

    #[test]
    fn dac3_from_real_frame() {
        // FFmpeg's mp4 muxer writes dac3 10 3d e0 for this stream.
        assert_eq!(dac3_payload(&hex(AC3_51_HEAD)).unwrap(), hex("103de0"));
        let f = parse_ac3_frame(&hex(AC3_51_HEAD)).unwrap();
        assert_eq!((f.acmod, f.lfeon, f.frame_bytes()), (7, 1, 1792));
    }

    #[test]
    fn ac3_frame_sizes() {
        let f = |fscod, frmsizecod| Ac3Frame { fscod, bsid: 8, bsmod: 0, acmod: 2, lfeon: 0, frmsizecod }.frame_bytes();
        assert_eq!(f(0, 0), 128);
        assert_eq!(f(1, 0), 138);
        assert_eq!(f(1, 1), 140);
        assert_eq!(f(2, 0), 192);
        assert_eq!(f(1, 37), 1394 * 2);
    }

    /// Writes an E-AC-3 sync frame header (no mixing/info metadata) padded to its size.
    fn eac3_frame(strmtyp: u32, substreamid: u32, acmod: u32, lfeon: u32, chanmap: Option<u32>, words: u32) -> Vec<u8> {
        let mut w = BitWriter::new();
        w.put(16, 0x0b77);
        for (bits, v) in [
            (2, strmtyp),
            (3, substreamid),
            (11, words - 1),
            (2, 0),
            (2, 3),
            (3, acmod),
            (1, lfeon),
            (5, 16),
            (5, 31),
            (1, 0),
        ] {
            w.put(bits, v);
        }
        if strmtyp == 1 {
            w.put(1, u32::from(chanmap.is_some()));
            if let Some(m) = chanmap {
                w.put(16, m);
            }
        }
        w.put(1, 0); // mixmdate
        w.put(1, 1); // infomdate
        w.put(3, 2); // bsmod
        let mut v = w.finish();
        v.resize(words as usize * 2, 0);
        v
    }

    #[test]
    fn dec3_real_and_dependent_substreams() {
        // FFmpeg's eac3 encoder, stereo 48 kHz 192k: its mp4 muxer writes dec3 06 00 20 04 00.
        let real = hex("0b77017f3487c0002084210838008c06");
        assert_eq!(dec3_payload(&real).unwrap(), hex("0600200400"));
        // 5.1 independent + dependent 7.1 extension (Lrs/Rrs), 2 x 384 bytes per 1536 samples.
        let ind = eac3_frame(0, 0, 7, 1, None, 192);
        let dep = eac3_frame(1, 0, 2, 0, Some(1 << (15 - 6)), 192);
        let packet = [ind.clone(), dep, ind].concat();
        let p = dec3_payload(&packet).unwrap();
        let mut r = BitReader::new(&p);
        assert_eq!(r.bits(13).unwrap(), 768 * 8 * 48000 / 1536 / 1000);
        assert_eq!(r.bits(3).unwrap(), 0);
        let fields: Vec<u32> = [2, 5, 1, 1, 3, 3, 1, 3, 4, 9].iter().map(|&n| r.bits(n).unwrap()).collect();
        assert_eq!(fields, vec![0, 16, 0, 0, 2, 7, 1, 0, 1, 2]);
        assert_eq!(p.len(), 2 + 4);
    }

    #[test]
    fn dops_from_real_opus_head() {
        // OpusHead from FFmpeg's libopus encoder, stereo: FFmpeg writes dOps 00 02 0138 0000bb80 0000 00.
        let head = hex("4f707573486561640102380180bb0000000000");
        assert_eq!(dops_payload(&head).unwrap(), (hex("000201380000bb80000000"), 2));
        // 5.1 from libopus: mapping family 1, 4 streams, 2 coupled.
        let six = hex("4f707573486561640106380180bb00000000010402000401020305");
        let (d, ch) = dops_payload(&six).unwrap();
        assert_eq!(ch, 6);
        assert_eq!(d, hex("000601380000bb800000 01 0402 000401020305"));
    }

    #[test]
    fn dfla_from_streaminfo_forms() {
        // STREAMINFO from FFmpeg's flac encoder, 44.1 kHz stereo 16-bit.
        let si = hex("120012000003050005140ac442f00000ac44b48e1dd0c193fdd40c05f288d60157a3");
        let expect = [vec![0x80, 0, 0, 34], si.clone()].concat();
        let info = FlacInfo { sample_rate: 44100, channels: 2, bits_per_sample: 16 };
        assert_eq!(dfla_payload(&si).unwrap(), (expect.clone(), info));
        let with_magic = [&b"fLaC"[..], &[0x00, 0, 0, 34], &si, &[0x84, 0, 0, 4, 1, 2, 3, 4]].concat();
        assert_eq!(dfla_payload(&with_magic).unwrap(), (expect, info));
    }
}
