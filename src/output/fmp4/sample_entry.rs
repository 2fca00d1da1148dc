//! Sample entries (the one entry of `stsd`) and their codec configuration boxes: the visual
//! entries `avc1`/`hvc1`/`av01`/`vp09` with `avcC`/`hvcC`/`av1C`/`vpcC` (and `pasp`, `colr`,
//! `mdcv`, `clli` when the source's pictures have an aspect ratio, a colour description or HDR
//! metadata), and the audio entries `mp4a` with
//! `esds` (AAC, MP3; the MPEG-4 descriptors are built here), `ac-3`/`ec-3` with `dac3`/`dec3`,
//! `Opus` with `dOps` and `fLaC` with `dfLa`. Every configuration payload comes from
//! `crate::codec`, which reads the codec's private data; this file only lays the boxes out.

use crate::codec::picture::Picture;
use crate::codec::{self, mp3, vp9, Codec, CodecConfig};
use crate::error::{Error, Result};

use super::boxes::BoxWriter;
use super::types::TrackKind;

/// `data_reference_index` of every entry: the one `url ` of `dref`.
const DATA_REFERENCE_INDEX: u16 = 1;
/// 72 dpi as 16.16 fixed point, the horizontal and vertical resolution of a visual entry.
const DPI_72: u32 = 0x0048_0000;
/// `frame_count` of a visual entry: one frame per sample.
const FRAME_COUNT: u16 = 1;
/// `depth` of a visual entry: colour with no alpha.
const DEPTH_COLOUR: u16 = 0x0018;
/// The visual entry's `pre_defined` field, -1.
const PRE_DEFINED_MINUS_ONE: u16 = 0xFFFF;
/// `samplesize` of the audio entries written here.
const AUDIO_SAMPLE_SIZE: u32 = 16;
/// Channel count of an `ac-3`/`ec-3` entry, fixed by ETSI TS 102 366 Annex F.
const AC3_ENTRY_CHANNELS: u32 = 2;
/// Sample rate of an `Opus` entry: always 48 kHz (RFC 7845, Opus in ISOBMFF).
const OPUS_SAMPLE_RATE: u32 = 48000;
/// Largest sample rate the 16.16 `samplerate` field of an AudioSampleEntry holds.
const MAX_ENTRY_SAMPLE_RATE: u32 = 0xFFFF;
/// Largest channel count or sample size of an AudioSampleEntry's 16-bit fields.
const MAX_AUDIO_FIELD: u32 = 0xFFFF;

/// `objectTypeIndication`: MPEG-4 Audio (AAC).
const OTI_MPEG4_AUDIO: u8 = 0x40;
/// DecoderConfigDescriptor byte: `streamType` 5 (audio) << 2, `upStream` 0, `reserved` 1.
const STREAM_TYPE_AUDIO: u8 = 0x15;
/// Descriptor tag: ES_Descriptor.
const ES_DESCR_TAG: u8 = 0x03;
/// Descriptor tag: DecoderConfigDescriptor.
const DECODER_CONFIG_DESCR_TAG: u8 = 0x04;
/// Descriptor tag: DecoderSpecificInfo.
const DEC_SPECIFIC_INFO_TAG: u8 = 0x05;
/// Descriptor tag: SLConfigDescriptor.
const SL_CONFIG_DESCR_TAG: u8 = 0x06;
/// SLConfigDescriptor `predefined` 2: the one MP4 files use.
const SL_PREDEFINED_MP4: u8 = 0x02;
/// A descriptor's size is at most 4 groups of 7 bits.
const MAX_DESCRIPTOR_LEN: usize = 1 << 28;

/// The codec configuration box inside a sample entry.
pub struct ConfigBox {
    /// Box type (`avcC`, `esds`, `dac3`, ...).
    pub fourcc: [u8; 4],
    /// FullBox version and flags, when the box is a FullBox.
    pub full: Option<(u8, u32)>,
    /// Box body after the (Full)Box header.
    pub payload: Vec<u8>,
}

/// The codec-specific fields of a sample entry.
pub enum EntryFields {
    /// VisualSampleEntry: coded size in pixels, and the boxes after the configuration box
    /// (`pasp`, `colr`, `mdcv`, `clli`).
    Visual { width: u16, height: u16, extra: Vec<ConfigBox> },
    /// AudioSampleEntry: channelcount, samplesize and the 16.16 samplerate field.
    Audio { channels: u16, sample_size: u16, sample_rate: u32 },
}

/// A sample entry as data, written by [`write_sample_entry`].
pub struct SampleEntry {
    /// Sample entry type (`avc1`, `mp4a`, `Opus`, ...).
    pub fourcc: [u8; 4],
    /// Visual or audio fields.
    pub fields: EntryFields,
    /// The codec configuration box it contains.
    pub config: ConfigBox,
}

/// Describes the sample entry of `cfg`, checking that it fits the track kind.
pub fn sample_entry(cfg: &CodecConfig, kind: TrackKind) -> Result<SampleEntry> {
    let is_video = matches!(cfg.codec, Codec::H264 | Codec::Hevc | Codec::Av1 | Codec::Vp9);
    if is_video != (kind == TrackKind::Video) {
        return Err(Error::internal(format!("{:?} cannot be a {kind:?} track", cfg.codec)));
    }
    match cfg.codec {
        Codec::H264 => visual_entry(cfg, *b"avc1", *b"avcC"),
        Codec::Hevc => visual_entry(cfg, *b"hvc1", *b"hvcC"),
        Codec::Av1 => visual_entry(cfg, *b"av01", *b"av1C"),
        Codec::Vp9 => visual_entry(cfg, *b"vp09", *b"vpcC"),
        Codec::Aac => aac_entry(cfg),
        Codec::Mp3 => mp3_entry(cfg),
        Codec::Ac3 => ac3_entry(cfg, false),
        Codec::Eac3 => ac3_entry(cfg, true),
        Codec::Opus => opus_entry(cfg),
        Codec::Flac => flac_entry(cfg),
    }
}

/// A plain (non-FullBox) configuration box.
fn plain(fourcc: [u8; 4], payload: Vec<u8>) -> ConfigBox {
    ConfigBox { fourcc, full: None, payload }
}

/// A FullBox configuration box of version 0 with no flags (`esds`, `dfLa`).
fn full_v0(fourcc: [u8; 4], payload: Vec<u8>) -> ConfigBox {
    ConfigBox { fourcc, full: Some((0, 0)), payload }
}

/// `avc1`/`hvc1`/`av01` with the decoder configuration record.
fn visual_entry(cfg: &CodecConfig, fourcc: [u8; 4], config: [u8; 4]) -> Result<SampleEntry> {
    let dim = |v: u32, what: &str| {
        u16::try_from(v).map_err(|_| Error::media(format!("video {what} {v} does not fit a sample entry")))
    };
    let extra = picture_boxes(&cfg.picture);
    let fields = EntryFields::Visual { width: dim(cfg.width, "width")?, height: dim(cfg.height, "height")?, extra };
    let record = codec::decoder_config_record(cfg)?;
    let config = match cfg.codec {
        Codec::Vp9 => ConfigBox { fourcc: config, full: Some((vp9::VPCC_VERSION, 0)), payload: record },
        _ => plain(config, record),
    };
    Ok(SampleEntry { fourcc, fields, config })
}

/// `colr` colour type: ISO/IEC 23091-2 code points.
const COLR_NCLX: &[u8; 4] = b"nclx";
/// `colr` nclx: the `full_range_flag` bit of the last byte.
const COLR_FULL_RANGE: u8 = 0x80;

/// `pasp` (a sample aspect ratio other than 1:1), `colr` nclx (a declared colour description),
/// `mdcv` and `clli` (HDR10 metadata), in that order, for what the source declares.
fn picture_boxes(p: &Picture) -> Vec<ConfigBox> {
    let mut out = Vec::new();
    if let Some((h, v)) = p.sar {
        out.push(plain(*b"pasp", [h.to_be_bytes(), v.to_be_bytes()].concat()));
    }
    if let Some(c) = p.colour {
        let mut b = COLR_NCLX.to_vec();
        for code in [c.primaries, c.transfer, c.matrix] {
            b.extend_from_slice(&u16::from(code).to_be_bytes());
        }
        b.push(if c.full_range { COLR_FULL_RANGE } else { 0 });
        out.push(plain(*b"colr", b));
    }
    if let Some(m) = p.mastering {
        out.push(plain(*b"mdcv", m.to_bytes()));
    }
    if let Some(l) = p.light {
        out.push(plain(*b"clli", [l.max_cll.to_be_bytes(), l.max_fall.to_be_bytes()].concat()));
    }
    out
}

/// Audio fields; the sample rate field holds 0 when the rate does not fit 16 bits.
fn audio_fields(channels: u32, sample_size: u32, sample_rate: u32) -> EntryFields {
    let rate = if sample_rate <= MAX_ENTRY_SAMPLE_RATE { sample_rate << 16 } else { 0 };
    EntryFields::Audio {
        channels: channels.min(MAX_AUDIO_FIELD) as u16,
        sample_size: sample_size.min(MAX_AUDIO_FIELD) as u16,
        sample_rate: rate,
    }
}

/// `mp4a` + `esds` for AAC (DecoderSpecificInfo = AudioSpecificConfig).
fn aac_entry(cfg: &CodecConfig) -> Result<SampleEntry> {
    let asc = codec::audio_specific_config(cfg)?;
    let info = codec::parse_asc(&asc)?;
    let channels = if cfg.channels > 0 { cfg.channels } else { info.channel_config.max(1) };
    let rate = if cfg.sample_rate > 0 { cfg.sample_rate } else { info.sample_rate };
    let esds = esds_payload(OTI_MPEG4_AUDIO, Some(&asc))?;
    Ok(SampleEntry {
        fourcc: *b"mp4a",
        fields: audio_fields(channels, AUDIO_SAMPLE_SIZE, rate),
        config: full_v0(*b"esds", esds),
    })
}

/// `mp4a` + `esds` for MP3: objectTypeIndication 0x6B (MPEG-1), 0x69 below 32 kHz (MPEG-2), the
/// one [`mp3::codec_string`] names.
fn mp3_entry(cfg: &CodecConfig) -> Result<SampleEntry> {
    if cfg.sample_rate == 0 || cfg.channels == 0 {
        return Err(Error::media("MP3: sample rate and channel count are required"));
    }
    let esds = esds_payload(mp3::object_type_indication(cfg.sample_rate), None)?;
    Ok(SampleEntry {
        fourcc: *b"mp4a",
        fields: audio_fields(cfg.channels, AUDIO_SAMPLE_SIZE, cfg.sample_rate),
        config: full_v0(*b"esds", esds),
    })
}

/// An MPEG-4 descriptor: tag, expandable size, body.
fn descriptor(tag: u8, body: &[u8]) -> Result<Vec<u8>> {
    let len = body.len();
    if len >= MAX_DESCRIPTOR_LEN {
        return Err(Error::internal("esds: descriptor too large"));
    }
    let mut out = vec![tag];
    let groups = (1..4).filter(|&i| len >> (7 * i) != 0).max().unwrap_or(0);
    for i in (1..=groups).rev() {
        out.push(0x80 | (len >> (7 * i) & 0x7F) as u8);
    }
    out.push((len & 0x7F) as u8);
    out.extend_from_slice(body);
    Ok(out)
}

/// ES_Descriptor { DecoderConfigDescriptor { \[DecoderSpecificInfo\] }, SLConfigDescriptor }.
fn esds_payload(object_type: u8, dsi: Option<&[u8]>) -> Result<Vec<u8>> {
    let mut dcd = vec![object_type, STREAM_TYPE_AUDIO, 0, 0, 0]; // bufferSizeDB 0
    dcd.extend_from_slice(&[0; 8]); // maxBitrate, avgBitrate
    if let Some(dsi) = dsi {
        dcd.extend(descriptor(DEC_SPECIFIC_INFO_TAG, dsi)?);
    }
    let mut es = vec![0, 0, 0]; // ES_ID 0, no flags
    es.extend(descriptor(DECODER_CONFIG_DESCR_TAG, &dcd)?);
    es.extend(descriptor(SL_CONFIG_DESCR_TAG, &[SL_PREDEFINED_MP4])?);
    descriptor(ES_DESCR_TAG, &es)
}

/// `ac-3` + `dac3` or `ec-3` + `dec3` from the first packet's sync frame(s). Channel count is
/// fixed at 2 by ETSI TS 102 366 Annex F.
fn ac3_entry(cfg: &CodecConfig, enhanced: bool) -> Result<SampleEntry> {
    let packet = &cfg.first_packet;
    let rate = codec::ac3_family_sample_rate(packet)?;
    let (fourcc, config) = if enhanced {
        (*b"ec-3", plain(*b"dec3", codec::dec3_payload(packet)?))
    } else {
        (*b"ac-3", plain(*b"dac3", codec::dac3_payload(packet)?))
    };
    Ok(SampleEntry { fourcc, fields: audio_fields(AC3_ENTRY_CHANNELS, AUDIO_SAMPLE_SIZE, rate), config })
}

/// `Opus` + `dOps`; sample rate is always 48000.
fn opus_entry(cfg: &CodecConfig) -> Result<SampleEntry> {
    let (dops, channels) = codec::dops_payload(&cfg.extradata)?;
    Ok(SampleEntry {
        fourcc: *b"Opus",
        fields: audio_fields(u32::from(channels), AUDIO_SAMPLE_SIZE, OPUS_SAMPLE_RATE),
        config: plain(*b"dOps", dops),
    })
}

/// `fLaC` + `dfLa` with STREAMINFO as the only (last) metadata block.
fn flac_entry(cfg: &CodecConfig) -> Result<SampleEntry> {
    let (dfla, info) = codec::dfla_payload(&cfg.extradata)?;
    let fields = audio_fields(info.channels, info.bits_per_sample, info.sample_rate);
    Ok(SampleEntry { fourcc: *b"fLaC", fields, config: full_v0(*b"dfLa", dfla) })
}

/// Writes a sample entry box and its configuration box.
pub fn write_sample_entry(w: &mut BoxWriter, e: &SampleEntry, tail: &[ConfigBox]) -> Result<()> {
    w.write_box(&e.fourcc, |w| {
        w.zeros(6); // reserved
        w.u16(DATA_REFERENCE_INDEX);
        let extra: &[ConfigBox] = match &e.fields {
            EntryFields::Visual { width, height, extra } => {
                write_visual_fields(w, *width, *height);
                extra
            }
            EntryFields::Audio { channels, sample_size, sample_rate } => {
                write_audio_fields(w, *channels, *sample_size, *sample_rate);
                &[]
            }
        };
        for c in std::iter::once(&e.config).chain(extra).chain(tail) {
            let payload = |w: &mut BoxWriter| {
                w.bytes(&c.payload);
                Ok(())
            };
            match c.full {
                Some((version, flags)) => w.write_full_box(&c.fourcc, version, flags, payload)?,
                None => w.write_box(&c.fourcc, payload)?,
            }
        }
        Ok(())
    })
}

/// VisualSampleEntry fields after data_reference_index.
fn write_visual_fields(w: &mut BoxWriter, width: u16, height: u16) {
    w.zeros(16); // pre_defined, reserved, pre_defined[3]
    w.u16(width);
    w.u16(height);
    w.u32(DPI_72); // horizresolution
    w.u32(DPI_72); // vertresolution
    w.u32(0); // reserved
    w.u16(FRAME_COUNT);
    w.zeros(32); // compressorname
    w.u16(DEPTH_COLOUR);
    w.u16(PRE_DEFINED_MINUS_ONE);
}

/// AudioSampleEntry (version 0) fields after data_reference_index.
fn write_audio_fields(w: &mut BoxWriter, channels: u16, sample_size: u16, sample_rate: u32) {
    w.zeros(8); // reserved
    w.u16(channels);
    w.u16(sample_size);
    w.zeros(4); // pre_defined, reserved
    w.u32(sample_rate);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fmp4::test_util::{config, find, hex, init_for, parse_boxes, Node, AVCC};
    use crate::output::fmp4::{write_init, TrackInit};

    fn audio_entry(cfg: &CodecConfig, fourcc: &str) -> (Vec<Node>, u16, u16, u32) {
        let boxes = init_for(cfg, TrackKind::Audio, 48000);
        let stsd = find(&boxes, "moov/trak/mdia/minf/stbl/stsd");
        assert_eq!(stsd.children.len(), 1);
        let e = stsd.get(fourcc);
        assert_eq!(find(&boxes, "moov/trak/tkhd").u16_at(36), 0x0100);
        assert_eq!(&find(&boxes, "moov/trak/mdia/hdlr").body[8..12], b"soun");
        assert_eq!(find(&boxes, "moov/trak/mdia/minf/smhd").body, [0; 8]);
        let (ch, ss, sr) = (e.u16_at(16), e.u16_at(18), e.u32_at(24));
        let children = parse_boxes(&e.body[28..]);
        (children, ch, ss, sr)
    }

    #[test]
    fn aac_entry_matches_ffmpeg_esds() {
        let mut cfg = config(Codec::Aac, hex("1210"), Vec::new());
        cfg.sample_rate = 44100;
        let (c, ch, ss, sr) = audio_entry(&cfg, "mp4a");
        assert_eq!((ch, ss, sr), (2, 16, 44100 << 16));
        // FFmpeg's esds for the same ASC, with 1-byte descriptor sizes, ES_ID 0 and 0 bitrates.
        let expect = hex("00000000 0319 000000 0411 4015000000 0000000000000000 0502 1210 0601 02");
        assert_eq!(find(&c, "esds").body, expect);
    }

    #[test]
    fn aac_from_adts_first_packet() {
        let mut cfg = config(Codec::Aac, Vec::new(), hex("fff150802b3ffc"));
        (cfg.sample_rate, cfg.channels) = (0, 0);
        let (c, ch, _, sr) = audio_entry(&cfg, "mp4a");
        assert_eq!((ch, sr), (2, 44100 << 16));
        assert_eq!(&find(&c, "esds").body[26..28], &[0x12, 0x10]);
    }

    #[test]
    fn mp3_entry_has_no_dsi() {
        let mut cfg = config(Codec::Mp3, Vec::new(), Vec::new());
        cfg.sample_rate = 44100;
        let (c, ch, _, sr) = audio_entry(&cfg, "mp4a");
        assert_eq!((ch, sr), (2, 44100 << 16));
        assert_eq!(find(&c, "esds").body, hex("00000000 0315 000000 040d 6b15000000 0000000000000000 0601 02"));
        cfg.sample_rate = 22050;
        let (c, ..) = audio_entry(&cfg, "mp4a");
        assert_eq!(find(&c, "esds").body[11], 0x69);
    }

    #[test]
    fn ac3_and_eac3_entries() {
        let ac3 = config(Codec::Ac3, Vec::new(), hex("0b77b50b1e40ebf8403eff99ff0841fc"));
        let (c, ch, ss, sr) = audio_entry(&ac3, "ac-3");
        assert_eq!((ch, ss, sr), (2, 16, 48000 << 16));
        assert_eq!(find(&c, "dac3").body, hex("103de0"));
        let eac3 = config(Codec::Eac3, Vec::new(), hex("0b77017f3487c0002084210838008c06"));
        let (c, ch, _, sr) = audio_entry(&eac3, "ec-3");
        assert_eq!((ch, sr), (2, 48000 << 16));
        assert_eq!(find(&c, "dec3").body, hex("0600200400"));
        let broken = config(Codec::Ac3, Vec::new(), vec![1, 2, 3]);
        assert!(write_init(&TrackInit {
            track_id: 1,
            kind: TrackKind::Audio,
            timescale: 48000,
            language: *b"und",
            codec: &broken,
            media_time: 0,
            edit_ignored_by_mse: false,
        })
        .is_err());
    }

    #[test]
    fn opus_and_flac_entries() {
        let opus = config(Codec::Opus, hex("4f707573486561640102380180bb0000000000"), Vec::new());
        let (c, ch, _, sr) = audio_entry(&opus, "Opus");
        assert_eq!((ch, sr), (2, 48000 << 16));
        assert_eq!(find(&c, "dOps").body, hex("000201380000bb80000000"));
        let si = hex("120012000003050005140ac442f00000ac44b48e1dd0c193fdd40c05f288d60157a3");
        let flac = config(Codec::Flac, [&b"fLaC"[..], &[0x80, 0, 0, 34], &si].concat(), Vec::new());
        let (c, ch, ss, sr) = audio_entry(&flac, "fLaC");
        assert_eq!((ch, ss, sr), (2, 16, 44100 << 16));
        // Byte-identical to FFmpeg's dfLa for the same stream.
        assert_eq!(find(&c, "dfLa").body, [&[0, 0, 0, 0, 0x80, 0, 0, 0x22][..], &si].concat());
    }

    #[test]
    fn picture_boxes_follow_the_configuration_box() {
        use crate::codec::picture::{Colour, ContentLight, MasteringDisplay};
        let mut cfg = config(Codec::H264, hex(AVCC), Vec::new());
        cfg.picture.set_sar(64, 45);
        cfg.picture.colour = Some(Colour { primaries: 9, transfer: 16, matrix: 9, full_range: true });
        cfg.picture.mastering = Some(MasteringDisplay {
            primaries: [[13250, 34500], [7500, 3000], [34000, 16000]],
            white_point: [15635, 16450],
            max_luminance: 10_000_000,
            min_luminance: 1,
        });
        cfg.picture.light = Some(ContentLight { max_cll: 1000, max_fall: 400 });
        cfg.picture.set_matrix([0, 0x10000, 0, -0x10000, 0, 0, 240 << 16, 0, 0x4000_0000]);
        let boxes = init_for(&cfg, TrackKind::Video, 90000);
        let avc1 = find(&boxes, "moov/trak/mdia/minf/stbl/stsd").get("avc1");
        let kinds: Vec<&str> = avc1.children.iter().map(|n| n.fourcc.as_str()).collect();
        assert_eq!(kinds, ["avcC", "pasp", "colr", "mdcv", "clli"]);
        assert_eq!(avc1.get("pasp").body, [0, 0, 0, 64, 0, 0, 0, 45]);
        assert_eq!(avc1.get("colr").body, [b'n', b'c', b'l', b'x', 0, 9, 0, 16, 0, 9, 0x80]);
        assert_eq!(avc1.get("mdcv").body.len(), 24);
        assert_eq!(avc1.get("clli").body, [0x03, 0xE8, 0x01, 0x90]);
        // tkhd: the matrix as given, the size with the aspect ratio applied (320x240 at 64:45).
        let tkhd = find(&boxes, "moov/trak/tkhd");
        assert_eq!((tkhd.u32_at(40), tkhd.u32_at(44), tkhd.u32_at(52)), (0, 0x10000, 0xFFFF_0000));
        assert_eq!((tkhd.u32_at(76), tkhd.u32_at(80)), (455 << 16, 240 << 16));
    }

    #[test]
    fn esds_descriptor_sizes_grow_past_127_bytes() {
        assert_eq!(descriptor(5, &[7; 3]).unwrap(), [5, 3, 7, 7, 7]);
        let d = descriptor(5, &[0; 200]).unwrap();
        assert_eq!(&d[..3], &[5, 0x81, 0x48]);
        let d = descriptor(5, &vec![0; 20000]).unwrap();
        assert_eq!(&d[..4], &[5, 0x81, 0x9C, 0x20]);
        assert_eq!(d.len(), 4 + 20000);
    }

    #[test]
    fn garbage_configs_are_errors_not_panics() {
        let mut x: u32 = 7;
        let mut noise = |len: usize| -> Vec<u8> {
            (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect()
        };
        let codecs = [
            (Codec::H264, TrackKind::Video),
            (Codec::Hevc, TrackKind::Video),
            (Codec::Av1, TrackKind::Video),
            (Codec::Vp9, TrackKind::Video),
            (Codec::Aac, TrackKind::Audio),
            (Codec::Mp3, TrackKind::Audio),
            (Codec::Ac3, TrackKind::Audio),
            (Codec::Eac3, TrackKind::Audio),
            (Codec::Opus, TrackKind::Audio),
            (Codec::Flac, TrackKind::Audio),
        ];
        for len in 0..120 {
            for &(codec, kind) in &codecs {
                for prefix in [&[][..], &[0, 0, 1], &[1], &[0x81], &[0x0b, 0x77], b"OpusHead", b"fLaC"] {
                    let cfg = config(codec, [prefix, &noise(len)].concat(), [prefix, &noise(len)].concat());
                    let t = TrackInit {
                        track_id: 1,
                        kind,
                        timescale: 1000,
                        language: *b"und",
                        codec: &cfg,
                        media_time: 0,
                        edit_ignored_by_mse: false,
                    };
                    if let Ok(init) = write_init(&t) {
                        let total: u64 = parse_boxes(&init).iter().map(|b| b.size).sum();
                        assert_eq!(total, init.len() as u64);
                    }
                }
            }
        }
    }

    #[test]
    fn every_codec_init_round_trips() {
        let si = hex("120012000003050005140ac442f00000ac44b48e1dd0c193fdd40c05f288d60157a3");
        let cases = [
            (config(Codec::H264, hex(AVCC), Vec::new()), TrackKind::Video, "avc1"),
            (
                config(Codec::Hevc, hex("0101600000009000000000003cf000fcfdf8f800000f00"), Vec::new()),
                TrackKind::Video,
                "hvc1",
            ),
            (config(Codec::Av1, hex("81000c000a0b000000043cffbc02f80040"), Vec::new()), TrackKind::Video, "av01"),
            // A VP9 profile 0 key frame header (BT.709, 320x180).
            (config(Codec::Vp9, Vec::new(), hex("824983424013f00b30")), TrackKind::Video, "vp09"),
            (config(Codec::Aac, hex("1210"), Vec::new()), TrackKind::Audio, "mp4a"),
            (config(Codec::Mp3, Vec::new(), Vec::new()), TrackKind::Audio, "mp4a"),
            (config(Codec::Ac3, Vec::new(), hex("0b77b50b1e40ebf8403eff99ff0841fc")), TrackKind::Audio, "ac-3"),
            (config(Codec::Eac3, Vec::new(), hex("0b77017f3487c0002084210838008c06")), TrackKind::Audio, "ec-3"),
            (config(Codec::Opus, hex("4f707573486561640102380180bb0000000000"), Vec::new()), TrackKind::Audio, "Opus"),
            (config(Codec::Flac, si, Vec::new()), TrackKind::Audio, "fLaC"),
        ];
        for (cfg, kind, fourcc) in &cases {
            let t = TrackInit {
                track_id: 1,
                kind: *kind,
                timescale: 48000,
                language: *b"und",
                codec: cfg,
                media_time: 0,
                edit_ignored_by_mse: false,
            };
            let data = write_init(&t).unwrap();
            let boxes = parse_boxes(&data);
            let stsd = find(&boxes, "moov/trak/mdia/minf/stbl/stsd");
            let entry = stsd.get(fourcc);
            assert_eq!(entry.children.len(), 1, "{fourcc}");
            if *fourcc == "vp09" {
                // vpcC version 1: profile 0, level 1.1 (by its picture size; no rates known), 8-bit 4:2:0, BT.709 matrix.
                assert_eq!(entry.get("vpcC").body, [1, 0, 0, 0, 0, 11, 0x82, 2, 2, 1, 0, 0]);
            }
            let total: u64 = boxes.iter().map(|b| b.size).sum();
            assert_eq!(total, data.len() as u64);
        }
    }
}
