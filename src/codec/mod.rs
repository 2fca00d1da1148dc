//! Codec identification, RFC 6381 `CODECS` strings and decoder configuration records.
//!
//! Everything here is pure parsing of codec private data ("extradata") and of the first
//! packet of a stream. One file per codec, like shaka-packager's `media/codecs/`:
//!
//! - `bits`: THE bit reader and writer (the only bit reader of the crate),
//! - `nal`: Annex-B / length-prefixed NAL unit framing shared by H.264 and HEVC,
//! - `h264`, `hevc`, `av1`: parameter sets / sequence headers, avcC/hvcC/av1C records, codec
//!   strings, closed-GOP detection,
//! - `aac`: THE AudioSpecificConfig parser, ADTS, the sampling frequency table and
//!   `aac::FRAME_SAMPLES`,
//! - `ac3` (AC-3 and E-AC-3: dac3/dec3), `opus` (dOps), `flac` (dfLa), `mp3`.
//!
//! This file holds the [`Codec`] / [`CodecConfig`] description of a track and dispatches
//! [`codec_string`] and [`decoder_config_record`] to the codec files. Nothing here panics on
//! malformed input; every failure is a [`ParseError`].

#![deny(unsafe_code)]

pub(crate) mod aac;
pub(crate) mod ac3;
pub(crate) mod av1;
pub(crate) mod bits;
pub(crate) mod flac;
pub(crate) mod h264;
pub(crate) mod hevc;
pub(crate) mod mp3;
pub(crate) mod nal;
pub(crate) mod opus;
pub mod picture;
pub(crate) mod vp9;

use serde::{Deserialize, Serialize};

use crate::error::{ParseError, ParseResult};

/// Codecs libhls can put in fMP4 (stream copy) for HLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Codec {
    /// H.264 / AVC (`avc1`).
    H264,
    /// H.265 / HEVC (`hvc1`).
    Hevc,
    /// AV1 (`av01`).
    Av1,
    /// VP9 (`vp09`).
    Vp9,
    /// AAC, any object type (`mp4a.40.x`).
    Aac,
    /// Dolby Digital (`ac-3`).
    Ac3,
    /// Dolby Digital Plus (`ec-3`).
    Eac3,
    /// MPEG-1/2 Audio Layer III (`mp4a.6B`, or `mp4a.69` below 32 kHz).
    Mp3,
    /// Opus (`Opus` sample entry, `opus` codec string).
    Opus,
    /// FLAC (`fLaC`).
    Flac,
}

/// Everything needed to describe one track's codec for an init segment and a CODECS string.
#[derive(Clone, Debug, Serialize, Deserialize)]
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
    /// How the pictures are shown (video): display matrix, aspect ratio, colour, HDR metadata.
    pub picture: picture::Picture,
    /// Average frame rate (video; 0 when unknown): the VP9 level when no header carries it.
    pub frame_rate: f64,
    /// Peak bit rate in bit/s (video; 0 when unknown): the VP9 level when no header carries it.
    pub bit_rate: u64,
}

pub(crate) use aac::parse_asc;
pub use aac::{adts_header_len, adts_to_asc};
pub(crate) use ac3::{ac3_family_sample_rate, dac3_payload, dec3_payload};
pub(crate) use flac::dfla_payload;
pub use nal::{annexb_to_length_prefixed, is_annexb, SeiFacts};
pub(crate) use opus::dops_payload;

/// RFC 6381 codec string for the HLS `CODECS` attribute, e.g. `avc1.64001f`,
/// `hvc1.1.6.L93.B0`, `av01.0.04M.08`, `mp4a.40.2`, `ac-3`, `ec-3`, `mp4a.6B`, `opus`, `fLaC`.
pub fn codec_string(cfg: &CodecConfig) -> ParseResult<String> {
    match cfg.codec {
        Codec::H264 => h264::codec_string(&decoder_config_record(cfg)?),
        Codec::Hevc => hevc::codec_string(&decoder_config_record(cfg)?),
        Codec::Av1 => av1::codec_string(&decoder_config_record(cfg)?),
        Codec::Vp9 => vp9::codec_string(&decoder_config_record(cfg)?),
        Codec::Aac => aac::codec_string(&audio_specific_config(cfg)?),
        Codec::Ac3 => Ok(ac3::AC3_CODEC_STRING.to_string()),
        Codec::Eac3 => Ok(ac3::EAC3_CODEC_STRING.to_string()),
        Codec::Mp3 => Ok(mp3::codec_string(cfg.sample_rate)),
        Codec::Opus => Ok(opus::CODEC_STRING.to_string()),
        Codec::Flac => Ok(flac::CODEC_STRING.to_string()),
    }
}

/// avcC/hvcC/av1C record (for VP9: the `vpcC` body) to put in the sample entry: returns extradata unchanged when it
/// already is a record, converts Annex-B parameter sets (or raw AV1 OBUs) into a record
/// otherwise. A record built from Annex-B declares 4-byte NAL lengths, matching
/// [`annexb_to_length_prefixed`]. A record without SPS (from `avc3`/`hev1` sources) is rebuilt
/// from the parameter sets in the length-prefixed `first_packet` (kept as it is when that
/// packet has none either). Errors for codecs that have no such record.
/// The NAL length size of the samples served with `cfg` (H.264 and HEVC: what the served
/// decoder configuration record declares), None for other codecs.
pub fn served_nal_length_size(cfg: &CodecConfig) -> ParseResult<Option<usize>> {
    let at = match cfg.codec {
        Codec::H264 => 4,
        Codec::Hevc => 21,
        _ => return Ok(None),
    };
    let record = decoder_config_record(cfg)?;
    Ok(record.get(at).map(|b| usize::from(b & 3) + 1))
}

pub fn decoder_config_record(cfg: &CodecConfig) -> ParseResult<Vec<u8>> {
    if cfg.codec == Codec::Vp9 {
        // The configuration is in the key frame's header; the extradata is at most the WebM
        // CodecPrivate (a level).
        let colour = cfg.picture.colour;
        return vp9::vpcc_payload(&cfg.first_packet, &cfg.extradata, colour, cfg.frame_rate, cfg.bit_rate);
    }
    let src = parameter_source(cfg);
    if src.is_empty() {
        return Err(ParseError::new(format!("{:?}: no codec private data and no first packet", cfg.codec)));
    }
    match cfg.codec {
        Codec::H264 => h264::decoder_config_record(src, &cfg.first_packet),
        Codec::Hevc => hevc::decoder_config_record(src, &cfg.first_packet),
        Codec::Av1 => av1::decoder_config_record(src),
        other => Err(ParseError::new(format!("{other:?} has no avcC/hvcC/av1C decoder configuration record"))),
    }
}

/// What the SEI messages of the first `samples` of an H.264/HEVC track (and those an hvcC
/// `extradata` declares) say: HDR10 metadata, CEA-608/708 captions; nothing for other codecs.
/// Only the given samples are looked at.
pub fn sei_facts(codec: Codec, extradata: &[u8], samples: &[&[u8]]) -> SeiFacts {
    let mut facts = SeiFacts::default();
    if codec == Codec::Hevc {
        hevc::read_record_sei(extradata, &mut facts);
    }
    for s in samples {
        match codec {
            Codec::H264 => h264::read_sei(extradata, s, &mut facts),
            Codec::Hevc => hevc::read_sei(extradata, s, &mut facts),
            _ => {}
        }
    }
    facts
}

/// What the VUI of an H.264/HEVC track's SPS says about its pictures (aspect ratio, colour);
/// `None` for other codecs and when the SPS has no VUI or cannot be read.
pub fn vui(cfg: &CodecConfig) -> Option<picture::Vui> {
    match cfg.codec {
        Codec::H264 => h264::vui(&decoder_config_record(cfg).ok()?),
        Codec::Hevc => hevc::vui(&decoder_config_record(cfg).ok()?),
        _ => None,
    }
}

/// Where parameter sets come from: the extradata, else the first packet.
fn parameter_source(cfg: &CodecConfig) -> &[u8] {
    if cfg.extradata.is_empty() {
        &cfg.first_packet
    } else {
        &cfg.extradata
    }
}

/// The AudioSpecificConfig of an AAC track: the extradata (when its leading fields parse), or
/// one built from an ADTS header in the first packet when the extradata is empty.
pub(crate) fn audio_specific_config(cfg: &CodecConfig) -> ParseResult<Vec<u8>> {
    if !cfg.extradata.is_empty() {
        aac::parse_asc(&cfg.extradata)?;
        return Ok(cfg.extradata.clone());
    }
    adts_to_asc(&cfg.first_packet).ok_or_else(|| ParseError::new("AAC: no AudioSpecificConfig and no ADTS header"))
}

/// Helpers and real-world sample data shared by the codec files' tests.
#[cfg(test)]
pub(crate) mod test_support {
    use super::{Codec, CodecConfig};

    /// Bytes of a hex string (whitespace ignored).
    pub(crate) fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// A config of `codec` with `extradata` and nothing else.
    pub(crate) fn cfg(codec: Codec, extradata: Vec<u8>) -> CodecConfig {
        CodecConfig {
            codec,
            extradata,
            first_packet: Vec::new(),
            width: 0,
            height: 0,
            sample_rate: 0,
            channels: 0,
            bits_per_sample: 0,
            picture: Default::default(),
            frame_rate: 0.0,
            bit_rate: 0,
        }
    }

    /// avcC written by FFmpeg 5.1's mp4 muxer for libx264 High@1.3 320x240.
    pub(crate) const REAL_AVCC: &str =
        "0164000dffe100196764000dacd94141fb011000000300100000030320f142996001000668ebe3cb22c0fdf8f800";

    /// Annex-B form of a record's SPS/PPS.
    pub(crate) fn avcc_to_annexb(avcc: &[u8]) -> Vec<u8> {
        let sps_len = usize::from(u16::from_be_bytes([avcc[6], avcc[7]]));
        let sps = &avcc[8..8 + sps_len];
        let p = 8 + sps_len + 1;
        let pps_len = usize::from(u16::from_be_bytes([avcc[p], avcc[p + 1]]));
        let pps = &avcc[p + 2..p + 2 + pps_len];
        [&[0, 0, 0, 1][..], sps, &[0, 0, 1], pps].concat()
    }

    /// hvcC head (through the VPS) written by FFmpeg 5.1 for libx265 Main, 320x240.
    pub(crate) const HVCC_MAIN_HEAD: &str = "0101600000009000000000003cf000fcfdf8f800000f04";

    /// VPS, SPS, PPS from the hvcC FFmpeg 5.1 wrote for libx265 Main, 320x240.
    pub(crate) const HEVC_VPS: &str = "40010c01ffff01600000030090000003000003003c959809";
    pub(crate) const HEVC_SPS: &str =
        "42010101600000030090000003000003003ca00a080f165959a4932bc05a020000030002000003003210";
    pub(crate) const HEVC_PPS: &str = "4401c172b46240";
}

#[cfg(test)]
mod tests {
    use super::test_support::{avcc_to_annexb, cfg, hex, HEVC_PPS, HEVC_SPS, HEVC_VPS, HVCC_MAIN_HEAD, REAL_AVCC};
    use super::*;

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
        assert!(!hevc::hvcc_has_sps(&h.extradata));
        h.first_packet = packet;
        let rec = decoder_config_record(&h).unwrap();
        assert_eq!(&rec[..22], &hex(HVCC_MAIN_HEAD)[..22]);
        assert!(hevc::hvcc_has_sps(&rec));
        assert!(hevc::hvcc_has_sps(&[hex(HVCC_MAIN_HEAD), hex("210001 0003 420101")].concat()));
    }

    #[test]
    fn fixed_strings() {
        for (codec, s) in [
            (Codec::Ac3, "ac-3"),
            (Codec::Eac3, "ec-3"),
            (Codec::Mp3, "mp4a.6B"),
            (Codec::Opus, "opus"),
            (Codec::Flac, "fLaC"),
        ] {
            assert_eq!(codec_string(&cfg(codec, Vec::new())).unwrap(), s);
        }
    }

    #[test]
    fn error_messages() {
        let e = |r: ParseResult<Vec<u8>>| r.unwrap_err().message().to_string();
        assert_eq!(
            e(decoder_config_record(&cfg(Codec::H264, vec![]))),
            "H264: no codec private data and no first packet"
        );
        assert_eq!(
            e(decoder_config_record(&cfg(Codec::Aac, vec![0x12, 0x10]))),
            "Aac has no avcC/hvcC/av1C decoder configuration record"
        );
        assert_eq!(
            e(decoder_config_record(&cfg(Codec::H264, vec![1, 2]))),
            "avcC: malformed decoder configuration record (2 bytes)"
        );
        assert_eq!(
            e(audio_specific_config(&cfg(Codec::Aac, vec![]))),
            "AAC: no AudioSpecificConfig and no ADTS header"
        );
        assert_eq!(codec_string(&cfg(Codec::Aac, vec![0x12])).unwrap_err().message(), "bitstream truncated");
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
            let _ = aac::AudioSpecificConfig::parse(&data);
            let _ = h264::starts_closed_gop(&data, &data);
            let _ = hevc::starts_closed_gop(&data, &data);
        }
    }
}
