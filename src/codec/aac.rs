//! AAC (ISO/IEC 14496-3): THE AudioSpecificConfig parser of libhls (the codec string, the fMP4
//! sample entry and the MP4 reader's channel count and sample rate all come from here), ADTS
//! headers, the sampling frequency table and the frame length.

use super::bits::BitReader;
use crate::error::{ParseError, ParseResult};

/// Samples per channel in one AAC frame (AAC-LC; every frame libhls encodes or counts).
pub(crate) const FRAME_SAMPLES: u64 = 1024;

/// Sampling frequencies by samplingFrequencyIndex (ISO/IEC 14496-3 Table 1.18); indexes 13 and
/// 14 are reserved, 15 ([`EXPLICIT_RATE_INDEX`]) means a 24-bit frequency follows.
pub(crate) const SAMPLE_RATES: [u32; 13] =
    [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/// samplingFrequencyIndex announcing an explicit 24-bit samplingFrequency.
pub(crate) const EXPLICIT_RATE_INDEX: u32 = 15;

/// audioObjectType of SBR (HE-AAC; explicit signalling when it opens the config).
pub(crate) const OBJECT_TYPE_SBR: u32 = 5;
/// audioObjectType of PS (HE-AACv2: SBR + parametric stereo).
pub(crate) const OBJECT_TYPE_PS: u32 = 29;
/// audioObjectType value announcing a 6-bit audioObjectTypeExt (object type 32 + that value).
const OBJECT_TYPE_ESCAPE: u32 = 31;
/// First object type reached through [`OBJECT_TYPE_ESCAPE`].
const OBJECT_TYPE_ESCAPE_BASE: u32 = 32;

/// syncExtensionType of the backward-compatible SBR/PS signalling after the config.
const SYNC_EXTENSION_TYPE: u32 = 0x2b7;
/// Bits of [`SYNC_EXTENSION_TYPE`].
const SYNC_EXTENSION_BITS: u32 = 11;
/// The sync extension is only looked for while more bits than this are left.
const SYNC_EXTENSION_MIN_LEFT: usize = 15;

/// Channel count by channelConfiguration (0: given by a program config element), as FFmpeg
/// counts them; configurations 14 and 15 are invalid.
pub(crate) const CHANNELS: [u32; 14] = [0, 1, 2, 3, 4, 5, 6, 8, 0, 0, 0, 7, 8, 24];

/// Bytes of an ADTS header without CRC.
const ADTS_HEADER_LEN: usize = 7;
/// Bytes of an ADTS header with the 16-bit CRC.
const ADTS_HEADER_LEN_WITH_CRC: usize = 9;

/// Fields of an AAC AudioSpecificConfig that matter for a sample entry and codec string: its
/// leading fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AscInfo {
    /// audioObjectType (2 = AAC-LC, 5 = SBR, 29 = PS, ...).
    pub object_type: u32,
    /// Sampling frequency from the index or the explicit 24-bit value.
    pub sample_rate: u32,
    /// channelConfiguration (0 = defined in a PCE).
    pub channel_config: u32,
}

/// How an AudioSpecificConfig signals SBR (and PS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sbr {
    /// Not signalled in the config (a decoder may still find implicit SBR in the stream).
    NotSignalled,
    /// Explicit hierarchical signalling: the config opens with object type 5 (SBR) or 29 (SBR
    /// and PS), then the extension sampling frequency and the core object type.
    Explicit {
        /// Object type 29: parametric stereo too.
        ps: bool,
        /// extensionSamplingFrequency (the SBR output rate; 0 for a reserved index).
        sample_rate: u32,
    },
    /// Backward-compatible signalling: sync extension 0x2b7 after the config, with
    /// extensionAudioObjectType 5 and sbrPresentFlag set.
    SyncExtension {
        /// extensionSamplingFrequency (the SBR output rate; 0 for a reserved index).
        sample_rate: u32,
    },
}

/// An AudioSpecificConfig read as FFmpeg's `ff_mpeg4audio_get_config_gb` reads it (without the
/// ALS and program config element parts): the leading fields, explicit SBR/PS and the
/// backward-compatible sync extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioSpecificConfig {
    /// audioObjectType as the config opens with it (escape 31 resolved: 32 and up); 5 or 29 for
    /// explicit SBR/PS. The number in the `mp4a.40.N` codec string.
    pub object_type: u32,
    /// samplingFrequencyIndex ([`EXPLICIT_RATE_INDEX`]: explicit rate).
    pub sampling_frequency_index: u32,
    /// The core sampling frequency: from [`SAMPLE_RATES`] or the explicit 24-bit value; 0 for
    /// a reserved index.
    pub sample_rate: u32,
    /// channelConfiguration (0: defined in a program config element; see [`Self::channels`]).
    pub channel_config: u32,
    /// The object type of the core coder: after explicit SBR/PS signalling, the audioObjectType
    /// that follows the extension frequency; otherwise [`Self::object_type`].
    pub core_object_type: u32,
    /// SBR/PS signalling and its extension sampling frequency.
    pub sbr: Sbr,
}

impl AudioSpecificConfig {
    /// Parses an AudioSpecificConfig. Truncated leading fields or explicit SBR/PS fields are
    /// errors; a reserved sampling frequency index gives rate 0, and an unreadable sync
    /// extension counts as none.
    pub fn parse(asc: &[u8]) -> ParseResult<AudioSpecificConfig> {
        let mut r = BitReader::new(asc);
        let object_type = read_object_type(&mut r)?;
        let (sampling_frequency_index, sample_rate) = read_sampling_frequency(&mut r)?;
        let channel_config = r.bits(4)?;
        let explicit = object_type == OBJECT_TYPE_SBR || (object_type == OBJECT_TYPE_PS && !is_mp3_on_mp4(&r));
        let (core_object_type, sbr) = if explicit {
            let (_, ext_rate) = read_sampling_frequency(&mut r)?;
            let sbr = Sbr::Explicit { ps: object_type == OBJECT_TYPE_PS, sample_rate: ext_rate.unwrap_or(0) };
            (read_object_type(&mut r)?, sbr)
        } else {
            let sbr =
                read_sync_extension(&mut r).map_or(Sbr::NotSignalled, |sample_rate| Sbr::SyncExtension { sample_rate });
            (object_type, sbr)
        };
        Ok(AudioSpecificConfig {
            object_type,
            sampling_frequency_index,
            sample_rate: sample_rate.unwrap_or(0),
            channel_config,
            core_object_type,
            sbr,
        })
    }

    /// Channel count of [`Self::channel_config`] ([`CHANNELS`]; 0 when a program config element
    /// defines them), `None` for the invalid configurations 14 and 15.
    pub fn channels(&self) -> Option<u32> {
        CHANNELS.get(self.channel_config as usize).copied()
    }

    /// The rate the decoder outputs: the SBR extension frequency when SBR is signalled with one,
    /// else the core [`Self::sample_rate`].
    pub fn output_sample_rate(&self) -> u32 {
        match self.sbr {
            Sbr::Explicit { sample_rate, .. } | Sbr::SyncExtension { sample_rate } if sample_rate > 0 => sample_rate,
            _ => self.sample_rate,
        }
    }
}

/// Reads an audioObjectType (with the 6-bit extension after the escape value 31).
fn read_object_type(r: &mut BitReader) -> ParseResult<u32> {
    let t = r.bits(5)?;
    if t == OBJECT_TYPE_ESCAPE {
        return Ok(OBJECT_TYPE_ESCAPE_BASE + r.bits(6)?);
    }
    Ok(t)
}

/// Reads a samplingFrequencyIndex and, for [`EXPLICIT_RATE_INDEX`], the 24-bit frequency after
/// it: (index, frequency), the frequency `None` for a reserved index.
fn read_sampling_frequency(r: &mut BitReader) -> ParseResult<(u32, Option<u32>)> {
    let index = r.bits(4)?;
    let rate = if index == EXPLICIT_RATE_INDEX { Some(r.bits(24)?) } else { SAMPLE_RATES.get(index as usize).copied() };
    Ok((index, rate))
}

/// True when an object type 29 config is the draft MP3onMP4 signalling (MPEG W6132 Annex YYYY,
/// as FFmpeg checks it from the bits after the channel configuration), not PS.
fn is_mp3_on_mp4(r: &BitReader) -> bool {
    r.peek(3).unwrap_or(0) & 3 != 0 && r.peek(9).unwrap_or(0) & 0x3f == 0
}

/// Looks for the backward-compatible sync extension (0x2b7) bit by bit after the config; its
/// extension sampling frequency when it signals SBR (0 for a reserved index), `None` when there
/// is none, it signals no SBR or it is truncated.
fn read_sync_extension(r: &mut BitReader) -> Option<u32> {
    while r.bits_left() > SYNC_EXTENSION_MIN_LEFT {
        if r.peek(SYNC_EXTENSION_BITS).ok()? == SYNC_EXTENSION_TYPE {
            r.skip(SYNC_EXTENSION_BITS as usize).ok()?;
            let ext_type = read_object_type(r).ok()?;
            if ext_type == OBJECT_TYPE_SBR && r.bit().ok()? {
                return read_sampling_frequency(r).ok().map(|(_, rate)| rate.unwrap_or(0));
            }
            return None;
        }
        r.skip(1).ok()?;
    }
    None
}

/// Parses the leading fields of an AudioSpecificConfig; a reserved sampling frequency index is
/// an error (a sample entry needs a rate).
pub fn parse_asc(asc: &[u8]) -> ParseResult<AscInfo> {
    let mut r = BitReader::new(asc);
    let object_type = read_object_type(&mut r)?;
    let (index, rate) = read_sampling_frequency(&mut r)?;
    let sample_rate = rate.ok_or_else(|| ParseError::new(format!("AAC: reserved sampling frequency index {index}")))?;
    let channel_config = r.bits(4)?;
    Ok(AscInfo { object_type, sample_rate, channel_config })
}

/// `mp4a.40.N` (N: the audioObjectType the config opens with) from an AudioSpecificConfig.
pub(crate) fn codec_string(asc: &[u8]) -> ParseResult<String> {
    Ok(format!("mp4a.40.{}", parse_asc(asc)?.object_type))
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
    if data.len() < ADTS_HEADER_LEN || data[0] != 0xFF || data[1] & 0xF6 != 0xF0 {
        return None;
    }
    let sf_index = (data[2] >> 2) & 0x0F;
    if usize::from(sf_index) >= SAMPLE_RATES.len() {
        return None;
    }
    Some(AdtsHeader {
        profile: data[2] >> 6,
        sf_index,
        channel_config: (data[2] & 1) << 2 | data[3] >> 6,
        header_len: if data[1] & 1 == 1 { ADTS_HEADER_LEN } else { ADTS_HEADER_LEN_WITH_CRC },
    })
}

/// AudioSpecificConfig (2 bytes) built from the ADTS header at the start of `data`, or `None`
/// when `data` does not start with a valid ADTS header.
pub fn adts_to_asc(data: &[u8]) -> Option<Vec<u8>> {
    let h = parse_adts(data)?;
    // ADTS profile is audioObjectType - 1.
    let v: u16 = (u16::from(h.profile) + 1) << 11 | u16::from(h.sf_index) << 7 | u16::from(h.channel_config) << 3;
    Some(v.to_be_bytes().to_vec())
}

/// Length of the ADTS header (7, or 9 with CRC) at the start of `data`, or `None` when `data`
/// does not start with a valid ADTS header. Strip it from each AAC packet before muxing.
pub fn adts_header_len(data: &[u8]) -> Option<usize> {
    parse_adts(data).map(|h| h.header_len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::bits::BitWriter;
    use crate::codec::test_support::{cfg, hex};
    use crate::codec::{codec_string, Codec};

    /// Writes (bits, value) fields MSB first.
    fn bits(fields: &[(u32, u32)]) -> Vec<u8> {
        let mut w = BitWriter::new();
        for &(n, v) in fields {
            w.put(n, v);
        }
        w.finish()
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
    fn leading_fields_strictness() {
        // Reserved index 13: the leading-field parser refuses it, the full one gives rate 0.
        let reserved = bits(&[(5, 2), (4, 13), (4, 2), (3, 0)]);
        assert_eq!(parse_asc(&reserved), Err(ParseError::new("AAC: reserved sampling frequency index 13")));
        let full = AudioSpecificConfig::parse(&reserved).unwrap();
        assert_eq!((full.sample_rate, full.channels(), full.output_sample_rate()), (0, Some(2), 0));
        // Explicit SBR whose extension fields are cut off: leading fields only.
        assert_eq!(parse_asc(&hex("2b92")).unwrap(), AscInfo { object_type: 5, sample_rate: 22050, channel_config: 2 });
        assert!(AudioSpecificConfig::parse(&hex("2b92")).is_err());
        assert!(AudioSpecificConfig::parse(&[0x12]).is_err());
    }

    #[test]
    fn escape_object_type() {
        let asc = bits(&[(5, 31), (6, 10), (4, 4), (4, 1), (3, 0)]);
        assert_eq!(parse_asc(&asc).unwrap(), AscInfo { object_type: 42, sample_rate: 44100, channel_config: 1 });
        let full = AudioSpecificConfig::parse(&asc).unwrap();
        assert_eq!((full.object_type, full.core_object_type, full.sbr), (42, 42, Sbr::NotSignalled));
        assert!(parse_asc(&bits(&[(5, 31), (3, 0)])).is_err(), "escape truncated");
    }

    #[test]
    fn explicit_sample_rate() {
        let asc = bits(&[(5, 2), (4, EXPLICIT_RATE_INDEX), (24, 22_000), (4, 1), (3, 0)]);
        assert_eq!(parse_asc(&asc).unwrap(), AscInfo { object_type: 2, sample_rate: 22_000, channel_config: 1 });
        let full = AudioSpecificConfig::parse(&asc).unwrap();
        assert_eq!(
            full,
            AudioSpecificConfig {
                object_type: 2,
                sampling_frequency_index: 15,
                sample_rate: 22_000,
                channel_config: 1,
                core_object_type: 2,
                sbr: Sbr::NotSignalled,
            }
        );
        assert_eq!(full.output_sample_rate(), 22_000);
        assert!(parse_asc(&bits(&[(5, 2), (4, 15), (16, 22_000)])).is_err(), "explicit rate truncated");
    }

    #[test]
    fn explicit_sbr_and_ps() {
        // HE-AAC signalled explicitly: object type 5, 24 kHz core, 48 kHz extension, stereo.
        let he = AudioSpecificConfig::parse(&[0x2b, 0x11, 0x88, 0x00]).unwrap();
        assert_eq!(
            he,
            AudioSpecificConfig {
                object_type: OBJECT_TYPE_SBR,
                sampling_frequency_index: 6,
                sample_rate: 24000,
                channel_config: 2,
                core_object_type: 2,
                sbr: Sbr::Explicit { ps: false, sample_rate: 48000 },
            }
        );
        assert_eq!((he.channels(), he.output_sample_rate()), (Some(2), 48000));
        // HE-AACv2: object type 29, mono core at 22.05 kHz, 44.1 kHz extension.
        let v2 = AudioSpecificConfig::parse(&bits(&[(5, 29), (4, 7), (4, 1), (4, 4), (5, 2), (3, 0)])).unwrap();
        assert_eq!((v2.object_type, v2.core_object_type), (OBJECT_TYPE_PS, 2));
        assert_eq!(v2.sbr, Sbr::Explicit { ps: true, sample_rate: 44100 });
        assert_eq!((v2.sample_rate, v2.output_sample_rate()), (22050, 44100));
        // An explicit extension rate with a 24-bit frequency.
        let x = AudioSpecificConfig::parse(&bits(&[(5, 5), (4, 8), (4, 2), (4, 15), (24, 32_000), (5, 2)])).unwrap();
        assert_eq!((x.sample_rate, x.output_sample_rate()), (16000, 32_000));
    }

    #[test]
    fn object_type_29_as_mp3_on_mp4() {
        // After the channel configuration: 3 bits with a low bit set, then 6 zero bits.
        let asc = bits(&[(5, 29), (4, 1), (4, 2), (9, 0b001_000000), (7, 0)]);
        let a = AudioSpecificConfig::parse(&asc).unwrap();
        assert_eq!((a.object_type, a.core_object_type, a.sbr), (29, 29, Sbr::NotSignalled));
        assert_eq!(a.output_sample_rate(), 88200);
    }

    #[test]
    fn backward_compatible_sync_extension() {
        // AAC-LC 22.05 kHz stereo, GASpecificConfig 000, then 0x2b7, SBR, sbrPresentFlag, 44.1 kHz.
        let head = [(5, 2), (4, 7), (4, 2), (3, 0)];
        let asc = bits(&[&head[..], &[(11, 0x2b7), (5, 5), (1, 1), (4, 4)]].concat());
        assert_eq!(hex("1390 56e5 a0"), asc);
        let a = AudioSpecificConfig::parse(&asc).unwrap();
        assert_eq!((a.object_type, a.core_object_type), (2, 2));
        assert_eq!(a.sbr, Sbr::SyncExtension { sample_rate: 44100 });
        assert_eq!((a.sample_rate, a.output_sample_rate()), (22050, 44100));
        // The leading fields are what the codec string and sample entry use.
        assert_eq!(parse_asc(&asc).unwrap(), AscInfo { object_type: 2, sample_rate: 22050, channel_config: 2 });
        // sbrPresentFlag 0, a non-SBR extension type, or a truncated rate: no SBR.
        for tail in [[(11, 0x2b7), (5, 5), (1, 0), (4, 4)], [(11, 0x2b7), (5, 22), (1, 1), (4, 4)]] {
            let a = AudioSpecificConfig::parse(&bits(&[&head[..], &tail[..]].concat())).unwrap();
            assert_eq!((a.sbr, a.output_sample_rate()), (Sbr::NotSignalled, 22050));
        }
        let cut = &asc[..asc.len() - 1];
        assert_eq!(AudioSpecificConfig::parse(cut).unwrap().sbr, Sbr::NotSignalled);
        // Found after skipping some bits, and with an explicit 24-bit extension rate.
        let late = bits(&[&head[..], &[(5, 0b10000), (11, 0x2b7), (5, 5), (1, 1), (4, 15), (24, 40_000)]].concat());
        assert_eq!(AudioSpecificConfig::parse(&late).unwrap().sbr, Sbr::SyncExtension { sample_rate: 40_000 });
        // 15 bits or fewer left after the channel configuration: not looked for.
        let a = AudioSpecificConfig::parse(&hex("1210")).unwrap();
        assert_eq!((a.sbr, a.output_sample_rate()), (Sbr::NotSignalled, 44100));
    }

    #[test]
    fn channel_counts() {
        let ch = |c: u32| AudioSpecificConfig::parse(&bits(&[(5, 2), (4, 3), (4, c), (3, 0)])).unwrap().channels();
        assert_eq!(ch(0), Some(0));
        assert_eq!(ch(2), Some(2));
        assert_eq!(ch(7), Some(8));
        assert_eq!(ch(11), Some(7));
        assert_eq!(ch(13), Some(24));
        assert_eq!(ch(14), None);
        assert_eq!(ch(15), None);
        // The channels and rates FFmpeg's MP4 demuxer reads from these configs.
        for (asc, want) in
            [(&[0x2b, 0x11, 0x88, 0x00][..], (2, 48000)), (&[0x11, 0x90], (2, 48000)), (&[0x12, 0x10], (2, 44100))]
        {
            let a = AudioSpecificConfig::parse(asc).unwrap();
            assert_eq!((a.channels().unwrap(), a.output_sample_rate()), want);
        }
    }

    #[test]
    fn sample_rate_table() {
        assert_eq!(SAMPLE_RATES[3], 48000);
        assert_eq!(SAMPLE_RATES[12], 7350);
        assert_eq!(FRAME_SAMPLES, 1024);
    }
}
