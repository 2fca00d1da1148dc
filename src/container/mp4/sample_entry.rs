//! The sample description (`stsd`): the first entry's type, FFmpeg's stream kind ([`Kind`]),
//! visual and audio fields (QuickTime v0/v1/v2 sound descriptions, PCM layouts) and the codec
//! configuration from its child boxes (`avcC`/`hvcC`/`av1C`, `esds`, `dOps`, `dfLa`, `alac`,
//! `dac3`/`dec3`), as FFmpeg's extradata ([`SampleEntry`]).

use super::boxes::{be16, be24, be32, be64, fourcc, Boxes, Cursor};
use super::top_level::Brands;
use super::track::Mp4Track;
use crate::codec::picture::{Colour, ContentLight, MasteringDisplay, Picture};
use crate::codec::{aac, mp3};
use crate::error::{ParseError, ParseResult};

/// An absent four-character code (no handler, no sample entry).
pub(super) const NO_FOURCC: [u8; 4] = [0; 4];

/// Most sample descriptions accepted in one `stsd`.
const MAX_STSD_ENTRIES: u32 = 1024;
/// Bytes of a sample entry's header (box header, reserved, data reference index).
const SAMPLE_ENTRY_HEADER: usize = 16;
/// Offset of a visual sample entry's child boxes.
const VISUAL_CHILDREN_AT: usize = 86;

/// Descriptor tag of an ES_Descriptor (ISO/IEC 14496-1).
const TAG_ES_DESCRIPTOR: u8 = 0x03;
/// DecoderConfigDescriptor.
const TAG_DECODER_CONFIG: u8 = 0x04;
/// DecoderSpecificInfo.
const TAG_DECODER_SPECIFIC_INFO: u8 = 0x05;
/// ES_Descriptor flag: the ID of a stream it depends on follows.
const ES_FLAG_DEPENDS_ON: u8 = 0x80;
/// ES_Descriptor flag: a URL follows.
const ES_FLAG_URL: u8 = 0x40;
/// ES_Descriptor flag: an OCR stream ID follows.
const ES_FLAG_OCR: u8 = 0x20;

/// esds objectTypeIndication: MPEG-4 AAC.
const OTI_AAC: u8 = 0x40;
/// MPEG-2 AAC Main, LC and SSR.
const OTI_MPEG2_AAC: [u8; 3] = [0x66, 0x67, 0x68];
/// MPEG-2 audio part 3 (MP3 at half rates).
const OTI_MPEG2_MP3: u8 = 0x69;
/// MPEG-1 audio (MP3).
const OTI_MP3: u8 = 0x6b;
/// Vorbis (FFmpeg's private value).
pub(super) const OTI_VORBIS: u8 = 0xdd;

/// Bytes of the dOps fields before the channel mapping.
const DOPS_MIN_LEN: usize = 11;
/// OpusHead's version.
const OPUS_HEAD_VERSION: u8 = 1;
/// Bytes of a FLAC STREAMINFO block body.
const FLAC_STREAMINFO_LEN: usize = 34;
/// dfLa: version and flags, then the metadata block header (4 bytes), then STREAMINFO.
const DFLA_STREAMINFO_AT: usize = 8;

/// FFmpeg's stream type, as decided from the handler and the sample entry type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Kind {
    /// A video stream.
    Video,
    /// An audio stream.
    Audio,
    /// A subtitle stream.
    Subtitle,
    /// Anything else (timecode, chapters, hint, ...).
    #[default]
    Data,
}

/// FFmpeg's stream kind from the `hdlr` handler type and the sample entry type.
pub(super) fn kind_of(handler: &[u8; 4], entry: &[u8; 4]) -> Kind {
    let base = match handler {
        b"vide" => Kind::Video,
        b"soun" => Kind::Audio,
        b"subp" | b"clcp" => Kind::Subtitle,
        _ => Kind::Data,
    };
    if base != Kind::Video && is_audio_tag(entry) {
        Kind::Audio
    } else if base != Kind::Audio && entry != b"mp4s" && is_video_tag(entry) {
        Kind::Video
    } else if matches!(base, Kind::Data | Kind::Subtitle) && matches!(entry, b"text" | b"tx3g" | b"c608") {
        Kind::Subtitle
    } else {
        base
    }
}

/// Sample entry types FFmpeg takes for audio whatever the handler.
fn is_audio_tag(t: &[u8; 4]) -> bool {
    const TAGS: [&[u8; 4]; 32] = [
        b"mp4a", b"ac-3", b"ec-3", b"Opus", b"fLaC", b".mp3", b".mp2", b"sowt", b"twos", b"lpcm", b"ipcm", b"raw ",
        b"in24", b"in32", b"fl32", b"fl64", b"alaw", b"ulaw", b"ima4", b"alac", b"samr", b"sawb", b"dtsc", b"dtsh",
        b"dtsl", b"dtse", b"mlpa", b"spex", b"Qclp", b"QDM2", b"QDMC", b"NONE",
    ];
    TAGS.contains(&t)
}

/// Sample entry types FFmpeg takes for video whatever the handler.
fn is_video_tag(t: &[u8; 4]) -> bool {
    const TAGS: [&[u8; 4]; 24] = [
        b"avc1", b"avc2", b"avc3", b"avc4", b"hvc1", b"hev1", b"dvh1", b"dvhe", b"dva1", b"dvav", b"av01", b"vp08",
        b"vp09", b"mp4v", b"jpeg", b"mjpa", b"mjpb", b"apch", b"apcn", b"apcs", b"apco", b"ap4h", b"s263", b"h263",
    ];
    TAGS.contains(&t)
}

/// What the first `stsd` entry gives.
#[derive(Clone, Debug, Default)]
pub(super) struct SampleEntry {
    /// FFmpeg's stream kind.
    pub(super) kind: Kind,
    /// Entry type (avc1, mp4a, ...).
    pub(super) fourcc: [u8; 4],
    /// Codec configuration as FFmpeg's extradata (see [`Mp4Track::config`]).
    pub(super) config: Vec<u8>,
    /// esds objectTypeIndication, 0 if none.
    pub(super) object_type: u8,
    /// Visual width.
    pub(super) width: u32,
    /// Visual height.
    pub(super) height: u32,
    /// `pasp`, `colr`, `mdcv`, `clli` (the display matrix is the `tkhd`'s).
    pub(super) picture: Picture,
    /// Audio channels.
    pub(super) channels: u32,
    /// Audio sample rate.
    pub(super) sample_rate: u32,
    /// Audio bits per sample.
    pub(super) bits_per_sample: u32,
    /// QuickTime v1/v2 sound fields (or codec defaults), for uncompressed-audio grouping.
    pub(super) samples_per_frame: u32,
    /// Bytes per frame (QuickTime v1/v2 sound field, or a codec default).
    pub(super) bytes_per_frame: u32,
    /// Bytes per audio frame of a PCM codec (FFmpeg's `sc->sample_size` from stsd), else 0.
    pub(super) pcm_frame_size: u32,
}

impl SampleEntry {
    /// Copies what the track reports into `t`.
    pub(super) fn fill_track(&self, t: &mut Mp4Track) {
        t.sample_entry = self.fourcc;
        t.config = self.config.clone();
        t.object_type = self.object_type;
        t.width = self.width;
        t.height = self.height;
        let matrix = t.picture.matrix;
        t.picture = Picture { matrix, ..self.picture };
        t.channels = self.channels;
        t.sample_rate = self.sample_rate;
        t.bits_per_sample = self.bits_per_sample;
    }
}

/// The first entry of the `stsd` payload `stsd`.
pub(super) fn parse_stsd(stsd: &[u8], handler: &[u8; 4], brands: Brands, timescale: u32) -> ParseResult<SampleEntry> {
    let stsd_version = *stsd.first().ok_or_else(|| ParseError::new("corrupt stsd"))?;
    let count = be32(stsd, 4).ok_or_else(|| ParseError::new("corrupt stsd"))?;
    if count as i32 <= 0 || count as usize > stsd.len() / 8 || count > MAX_STSD_ENTRIES {
        return Err(ParseError::new(format!("invalid stsd entry count {count}")));
    }
    let entries = stsd.get(8..).unwrap_or(&[]);
    let size = be32(entries, 0).ok_or_else(|| ParseError::new("corrupt stsd"))? as usize;
    if size <= 7 {
        return Err(ParseError::new(format!("invalid stsd entry size {size}")));
    }
    let entry = entries.get(..size.min(entries.len())).unwrap_or(&[]);
    let fourcc = fourcc(entry, 4).ok_or_else(|| ParseError::new("corrupt stsd"))?;
    let mut e = SampleEntry { kind: kind_of(handler, &fourcc), fourcc, ..SampleEntry::default() };
    let read_ext = !brands.isom || brands.qt_compatible || stsd_version == 0;
    let children = match e.kind {
        Kind::Video => parse_visual(entry, &mut e),
        Kind::Audio => parse_audio(entry, &mut e, read_ext),
        Kind::Subtitle if &fourcc != b"mp4s" => {
            e.config = entry.get(SAMPLE_ENTRY_HEADER..).unwrap_or(&[]).to_vec();
            &[][..]
        }
        Kind::Subtitle => entry.get(SAMPLE_ENTRY_HEADER..).unwrap_or(&[]),
        Kind::Data => &[][..],
    };
    read_entry_children(children, &mut e, 0)?;
    if e.kind == Kind::Audio && e.sample_rate == 0 && timescale > 1 {
        e.sample_rate = timescale;
    }
    Ok(e)
}

/// Visual sample entry: dimensions; child boxes start at byte [`VISUAL_CHILDREN_AT`].
fn parse_visual<'a>(entry: &'a [u8], e: &mut SampleEntry) -> &'a [u8] {
    e.width = be16(entry, 32).map_or(0, u32::from);
    e.height = be16(entry, 34).map_or(0, u32::from);
    entry.get(VISUAL_CHILDREN_AT..).unwrap_or(&[])
}

/// Audio sample entry (QuickTime v0/v1/v2 or ISO): channels, rate, PCM layout; returns the
/// child boxes, which follow the version-specific fields.
fn parse_audio<'a>(entry: &'a [u8], e: &mut SampleEntry, read_ext: bool) -> &'a [u8] {
    let version = be16(entry, 16).unwrap_or(0);
    e.channels = be16(entry, 24).map_or(0, u32::from);
    e.bits_per_sample = be16(entry, 26).map_or(0, u32::from);
    e.sample_rate = be32(entry, 32).map_or(0, |r| r >> 16);
    let mut lpcm_flags = None;
    let mut children_at = 36;
    if read_ext && version == 1 {
        e.samples_per_frame = be32(entry, 36).unwrap_or(0);
        e.bytes_per_frame = be32(entry, 44).unwrap_or(0);
        children_at = 52;
    } else if read_ext && version == 2 {
        let rate = be64(entry, 40).map_or(0.0, f64::from_bits);
        e.sample_rate = if rate.is_finite() && rate >= 0.0 && rate < f64::from(i32::MAX) { rate as u32 } else { 0 };
        e.channels = be32(entry, 48).unwrap_or(0);
        e.bits_per_sample = be32(entry, 56).unwrap_or(0);
        lpcm_flags = be32(entry, 60);
        e.bytes_per_frame = be32(entry, 64).unwrap_or(0);
        e.samples_per_frame = be32(entry, 68).unwrap_or(0);
        children_at = 72;
    }
    apply_codec_frame_defaults(e);
    let bits = pcm_bits(&e.fourcc, e.bits_per_sample, lpcm_flags);
    if bits > 0 {
        e.bits_per_sample = bits;
        e.pcm_frame_size = (bits >> 3).saturating_mul(e.channels);
    }
    entry.get(children_at..).unwrap_or(&[])
}

/// FFmpeg's fixed frame layouts of some old QuickTime codecs.
fn apply_codec_frame_defaults(e: &mut SampleEntry) {
    let ch = e.channels;
    let (spf, bpf) = match &e.fourcc {
        b"MAC3" => (6, 2u32.saturating_mul(ch)),
        b"MAC6" => (6, ch),
        b"ima4" => (64, 34u32.saturating_mul(ch)),
        b"agsm" => (160, 33),
        _ => return,
    };
    e.samples_per_frame = spf;
    e.bytes_per_frame = bpf;
}

/// Bits per sample of the PCM codec FFmpeg picks for an audio entry (0 if not PCM).
fn pcm_bits(fourcc: &[u8; 4], coded_bits: u32, lpcm_flags: Option<u32>) -> u32 {
    let s16_family = |bits: u32| match bits {
        8 | 24 | 32 => bits,
        _ => 16,
    };
    match fourcc {
        b"raw " | b"NONE" => {
            if coded_bits == 16 {
                16
            } else {
                8
            }
        }
        b"twos" | b"sowt" | b"ipcm" => s16_family(coded_bits),
        b"lpcm" => match lpcm_flags {
            Some(flags) => lpcm_bits(coded_bits, flags),
            None => s16_family(coded_bits),
        },
        b"in24" => 24,
        b"in32" | b"fl32" => 32,
        b"fl64" => 64,
        b"alaw" | b"ulaw" => 8,
        _ => 0,
    }
}

/// FFmpeg's `ff_mov_get_lpcm_codec_id` (flags: 1 float, 2 big-endian, 4 signed), as bits.
fn lpcm_bits(bits: u32, flags: u32) -> u32 {
    if bits == 0 || bits > 64 {
        return 0;
    }
    if flags & 1 != 0 {
        return if bits == 32 || bits == 64 { bits } else { 0 };
    }
    match (bits + 7) >> 3 {
        bytes @ (1 | 2 | 3 | 4 | 8) => bytes * 8,
        _ => 0,
    }
}

/// The boxes inside a sample entry (and, one level down, inside a QuickTime `wave` box):
/// decoder configuration and channel information.
fn read_entry_children(children: &[u8], e: &mut SampleEntry, depth: u8) -> ParseResult<()> {
    for (kind, body) in Boxes::new(children) {
        match &kind {
            // FFmpeg keeps the first of these ("ignoring multiple glbl").
            b"avcC" | b"hvcC" | b"av1C" | b"vpcC" | b"glbl" if e.config.len() <= 1 => e.config = body.to_vec(),
            b"pasp" => e.picture.set_sar(be32(body, 0).unwrap_or(0), be32(body, 4).unwrap_or(0)),
            b"colr" => e.picture.colour = colr(body).or(e.picture.colour),
            b"mdcv" => e.picture.mastering = MasteringDisplay::parse(body),
            b"clli" => e.picture.light = ContentLight::parse(body),
            b"esds" => read_esds(body, e),
            b"wave" if depth == 0 => read_entry_children(body, e, 1)?,
            b"dOps" => e.config = opus_head(body)?,
            b"dfLa" => e.config = flac_streaminfo(body)?,
            b"alac" if &e.fourcc == b"alac" => e.config = alac_box(body),
            b"dac3" => e.channels = ac3_channels(be24(body, 0), 11),
            b"dec3" => e.channels = ac3_channels(be24(body, 2), 9),
            _ => {}
        }
    }
    Ok(())
}

/// `colr` of type `nclx` (ISO) or `nclc` (QuickTime, no range flag); `None` for ICC profiles.
fn colr(body: &[u8]) -> Option<Colour> {
    let kind = fourcc(body, 0)?;
    if &kind != b"nclx" && &kind != b"nclc" {
        return None;
    }
    let code = |at: usize| be16(body, at).map(|v| u8::try_from(v).unwrap_or(crate::codec::picture::UNSPECIFIED));
    let colour = Colour {
        primaries: code(4)?,
        transfer: code(6)?,
        matrix: code(8)?,
        full_range: &kind == b"nclx" && body.get(10).is_some_and(|b| b & 0x80 != 0),
    };
    colour.is_declared().then_some(colour)
}

/// Channels from the 24 bits of dac3 / dec3 that hold `acmod` at `shift` and `lfeon` just below
/// (FFmpeg's AC-3 channel layout table); 0 when the box is too short.
fn ac3_channels(bits: Option<u32>, shift: u32) -> u32 {
    const BY_ACMOD: [u32; 8] = [2, 1, 2, 3, 3, 4, 4, 5];
    bits.map_or(0, |v| BY_ACMOD[((v >> shift) & 7) as usize] + ((v >> (shift - 1)) & 1))
}

/// The whole `alac` box (header included), as FFmpeg's extradata.
fn alac_box(body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 8);
    v.extend_from_slice(&((body.len() + 8) as u32).to_be_bytes());
    v.extend_from_slice(b"alac");
    v.extend_from_slice(body);
    v
}

/// dOps payload → OpusHead ("OpusHead", version 1, then the fields little-endian).
fn opus_head(dops: &[u8]) -> ParseResult<Vec<u8>> {
    if dops.len() < DOPS_MIN_LEN || dops[0] != 0 {
        return Err(ParseError::new("invalid dOps box"));
    }
    let mut h = Vec::with_capacity(dops.len() + 8);
    h.extend_from_slice(b"OpusHead");
    h.push(OPUS_HEAD_VERSION);
    h.extend_from_slice(&dops[1..]);
    let pre_skip = u16::from_be_bytes([h[10], h[11]]);
    h[10..12].copy_from_slice(&pre_skip.to_le_bytes());
    let rate = u32::from_be_bytes([h[12], h[13], h[14], h[15]]);
    h[12..16].copy_from_slice(&rate.to_le_bytes());
    let gain = u16::from_be_bytes([h[16], h[17]]);
    h[16..18].copy_from_slice(&gain.to_le_bytes());
    Ok(h)
}

/// dfLa payload → the 34-byte STREAMINFO block, which must come first.
fn flac_streaminfo(dfla: &[u8]) -> ParseResult<Vec<u8>> {
    if dfla.len() < DFLA_STREAMINFO_AT + FLAC_STREAMINFO_LEN || dfla[0] != 0 {
        return Err(ParseError::new("invalid dfLa box"));
    }
    let block_type = dfla[4] & 0x7f;
    let size = be24(dfla, 5).unwrap_or(0);
    if block_type != 0 || size != FLAC_STREAMINFO_LEN as u32 {
        return Err(ParseError::new("invalid dfLa box: STREAMINFO must come first"));
    }
    Ok(dfla[DFLA_STREAMINFO_AT..DFLA_STREAMINFO_AT + FLAC_STREAMINFO_LEN].to_vec())
}

/// esds: objectTypeIndication and DecoderSpecificInfo (FFmpeg's `ff_mov_read_esds`).
fn read_esds(esds: &[u8], e: &mut SampleEntry) {
    let mut c = Cursor { b: esds, pos: 4 };
    let _ = read_es_descriptor(&mut c, e);
}

/// ES_Descriptor, then its DecoderConfigDescriptor; `None` when cut short.
fn read_es_descriptor(c: &mut Cursor<'_>, e: &mut SampleEntry) -> Option<()> {
    let (tag, _) = c.descriptor()?;
    if tag == TAG_ES_DESCRIPTOR {
        c.skip(2)?;
        let flags = c.u8()?;
        if flags & ES_FLAG_DEPENDS_ON != 0 {
            c.skip(2)?;
        }
        if flags & ES_FLAG_URL != 0 {
            let len = c.u8()?;
            c.skip(usize::from(len))?;
        }
        if flags & ES_FLAG_OCR != 0 {
            c.skip(2)?;
        }
    } else {
        c.skip(2)?;
    }
    let (tag, _) = c.descriptor()?;
    if tag != TAG_DECODER_CONFIG {
        return Some(());
    }
    read_decoder_config(c, e)
}

/// DecoderConfigDescriptor: objectTypeIndication and the DecoderSpecificInfo.
fn read_decoder_config(c: &mut Cursor<'_>, e: &mut SampleEntry) -> Option<()> {
    let object_type = c.u8()?;
    e.object_type = object_type;
    c.skip(12)?;
    let (tag, len) = c.descriptor()?;
    if tag != TAG_DECODER_SPECIFIC_INFO || object_type == OTI_MPEG2_MP3 || object_type == OTI_MP3 || len == 0 {
        return Some(());
    }
    let end = c.pos.checked_add(len)?.min(c.b.len());
    let dsi = c.b.get(c.pos..end)?;
    e.config = dsi.to_vec();
    if object_type == OTI_AAC || OTI_MPEG2_AAC.contains(&object_type) {
        apply_audio_specific_config(dsi, e);
    }
    Some(())
}

/// AAC AudioSpecificConfig → channels and rate, as FFmpeg's demuxer applies them
/// (`ff_mp4_read_dec_config_descr`): nothing when the config does not parse.
fn apply_audio_specific_config(asc: &[u8], e: &mut SampleEntry) {
    let Ok(asc) = aac::AudioSpecificConfig::parse(asc) else { return };
    let Some(channels) = asc.channels() else { return };
    if channels > 0 {
        e.channels = channels;
    }
    // FFmpeg's "old mp3on4" rule: object type 29 with a sampling index < 3 takes MPEG-1 rates.
    let rate = match mp3::MPEG1_SAMPLE_RATES.get(asc.sampling_frequency_index as usize) {
        Some(&rate) if asc.core_object_type == aac::OBJECT_TYPE_PS => rate,
        _ => asc.output_sample_rate(),
    };
    if rate > 0 {
        e.sample_rate = rate;
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn opus_and_flac_configs() {
        let dops = [0u8, 2, 0x01, 0x38, 0, 0, 0xbb, 0x80, 0, 0, 0];
        let stsd = [words(&[0, 1]), audio_entry(b"Opus", 2, 16, 48000, &bx(b"dOps", &dops))].concat();
        let e = parse_stsd(&stsd, b"soun", Brands { isom: true, qt_compatible: false }, 48000).unwrap();
        assert_eq!((e.kind, e.channels, e.sample_rate), (Kind::Audio, 2, 48000));
        assert_eq!(&e.config[..8], b"OpusHead");
        assert_eq!(e.config[8..], [1, 2, 0x38, 0x01, 0x80, 0xbb, 0, 0, 0, 0, 0]);
        let mut dfla = vec![0u8, 0, 0, 0, 0x80, 0, 0, 34];
        dfla.extend(0..34u8);
        assert_eq!(flac_streaminfo(&dfla).unwrap(), (0..34u8).collect::<Vec<_>>());
        assert!(flac_streaminfo(&dfla[..20]).is_err());
    }

    #[test]
    fn aac_config_sets_channels_and_rate() {
        let applied = |asc: &[u8]| {
            let mut e = SampleEntry::default();
            apply_audio_specific_config(asc, &mut e);
            (e.channels, e.sample_rate)
        };
        // HE-AAC signalled explicitly: object type 5, 24 kHz core, 48 kHz extension, stereo.
        assert_eq!(applied(&[0x2b, 0x11, 0x88, 0x00]), (2, 48000));
        assert_eq!(applied(&[0x11, 0x90]), (2, 48000));
        assert_eq!(applied(&[0x12, 0x10]), (2, 44100));
    }
}
