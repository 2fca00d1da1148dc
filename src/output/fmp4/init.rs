//! The init segment: `ftyp` and a `moov` with one track (`mvhd`, `trak` with `tkhd`, `edts`,
//! `mdia`/`mdhd`/`hdlr`/`minf`, an empty sample table `stbl`) and `mvex`/`trex`. The sample
//! description inside `stsd` comes from the sample entry writer.

use crate::error::{Error, Result};

use super::boxes::BoxWriter;
use super::sample_entry::{sample_entry, write_sample_entry, ConfigBox, SampleEntry};
use super::types::{Protection, TrackInit, TrackKind};

/// Room reserved for an init segment besides the codec configuration record.
const INIT_CAPACITY: usize = 1024;
/// CMAF brands of `ftyp`: the major brand, its minor version, and the compatible brands.
const MAJOR_BRAND: &[u8; 4] = b"iso6";
/// `ftyp` minor version.
const MINOR_VERSION: u32 = 0;
/// `ftyp` compatible brands: ISO BMFF 6, CMAF, MP4 version 1.
const COMPATIBLE_BRANDS: &[u8; 12] = b"iso6cmfcmp41";
/// `mvhd` timescale (the movie has no duration, so any value would do).
const MOVIE_TIMESCALE: u32 = 1000;
/// 1.0 as a 16.16 fixed-point number (`rate`, the matrix's scale).
const FIXED_16_16_ONE: u32 = 0x0001_0000;
/// 1.0 as a 2.30 fixed-point number (the matrix's `w`).
const FIXED_2_30_ONE: u32 = 0x4000_0000;
/// 1.0 as an 8.8 fixed-point number (full `volume`).
const FIXED_8_8_ONE: u16 = 0x0100;
/// The identity transformation matrix of `mvhd` and `tkhd`.
const UNITY_MATRIX: [u32; 9] = [FIXED_16_16_ONE, 0, 0, 0, FIXED_16_16_ONE, 0, 0, 0, FIXED_2_30_ONE];
/// `tkhd` flag: the track is enabled.
const TKHD_ENABLED: u32 = 0x00_0001;
/// `tkhd` flag: the track is used in the presentation.
const TKHD_IN_MOVIE: u32 = 0x00_0002;
/// Largest integer part of a 16.16 `tkhd` width or height.
const MAX_TKHD_DIMENSION: u32 = 0xFFFF;
/// `elst` version 1: 64-bit segment duration and media time.
const ELST_VERSION_64: u8 = 1;
/// `vmhd` flags: always 1 (ISO/IEC 14496-12 8.4.5.2).
const VMHD_FLAGS: u32 = 0x00_0001;
/// `url ` flag: the media data is in the same file (here: in the media segments).
const URL_SELF_CONTAINED: u32 = 0x00_0001;
/// Added to a letter's 5-bit code in `mdhd`'s packed language (`a` is 1).
const LANGUAGE_CHAR_OFFSET: u8 = 0x60;

/// Writes an init segment: `ftyp` + `moov` with one track and `mvex`, no samples.
pub fn write_init(t: &TrackInit) -> Result<Vec<u8>> {
    write_init_with(t, None)
}

/// Writes the init segment of a track encrypted with CMAF `cbcs`: the sample entry becomes
/// `encv`/`enca` and carries `sinf` (`frma` with the original type, `schm` `cbcs` version
/// 1.0, `schi`/`tenc` version 1 with the pattern, the key ID and the constant IV), and the
/// `moov` ends with the caller's `pssh` boxes.
pub fn write_init_protected(t: &TrackInit, p: &Protection) -> Result<Vec<u8>> {
    write_init_with(t, Some(p))
}

/// `frma`, `schm` and `schi`/`tenc`: the body of `sinf`.
fn sinf_payload(original: [u8; 4], p: &Protection) -> Result<Vec<u8>> {
    let mut w = BoxWriter::with_capacity(96);
    w.write_box(b"frma", |w| {
        w.bytes(&original);
        Ok(())
    })?;
    w.write_full_box(b"schm", 0, 0, |w| {
        w.bytes(b"cbcs");
        w.u32(0x0001_0000); // scheme_version 1.0
        Ok(())
    })?;
    w.write_box(b"schi", |w| {
        w.write_full_box(b"tenc", 1, 0, |w| {
            w.u8(0); // reserved
            w.u8(p.crypt_byte_block << 4 | p.skip_byte_block & 0x0f);
            w.u8(1); // default_isProtected
            w.u8(0); // default_Per_Sample_IV_Size: 0, a constant IV follows
            w.bytes(&p.key_id);
            w.u8(16); // default_constant_IV_size
            w.bytes(&p.constant_iv);
            Ok(())
        })
    })?;
    Ok(w.into_bytes())
}

fn write_init_with(t: &TrackInit, protection: Option<&Protection>) -> Result<Vec<u8>> {
    if t.track_id == 0 || t.timescale == 0 {
        return Err(Error::internal(format!(
            "init segment: track_id ({}) and timescale ({}) must be non-zero",
            t.track_id, t.timescale
        )));
    }
    let mut entry = sample_entry(t.codec, t.kind)?;
    let mut tail = Vec::new();
    if let Some(p) = protection {
        let original = entry.fourcc;
        entry.fourcc = if t.kind == TrackKind::Video { *b"encv" } else { *b"enca" };
        tail.push(ConfigBox { fourcc: *b"sinf", full: None, payload: sinf_payload(original, p)? });
    }
    let mut w = BoxWriter::with_capacity(INIT_CAPACITY + entry.config.payload.len());
    write_ftyp(&mut w)?;
    w.write_box(b"moov", |w| {
        write_mvhd(w, t.track_id)?;
        write_trak(w, t, &entry, &tail)?;
        w.write_box(b"mvex", |w| write_trex(w, t.track_id))?;
        if let Some(p) = protection {
            w.bytes(p.pssh);
        }
        Ok(())
    })?;
    Ok(w.into_bytes())
}

/// `ftyp`: CMAF brands.
fn write_ftyp(w: &mut BoxWriter) -> Result<()> {
    w.write_box(b"ftyp", |w| {
        w.bytes(MAJOR_BRAND);
        w.u32(MINOR_VERSION);
        w.bytes(COMPATIBLE_BRANDS);
        Ok(())
    })
}

/// Appends the identity transformation matrix of `mvhd`/`tkhd`.
fn write_matrix(w: &mut BoxWriter) {
    for v in UNITY_MATRIX {
        w.u32(v);
    }
}

/// `mvhd` version 0, timescale 1000, duration 0.
fn write_mvhd(w: &mut BoxWriter, track_id: u32) -> Result<()> {
    w.write_full_box(b"mvhd", 0, 0, |w| {
        w.zeros(8); // creation, modification time
        w.u32(MOVIE_TIMESCALE);
        w.u32(0); // duration
        w.u32(FIXED_16_16_ONE); // rate 1.0
        w.u16(FIXED_8_8_ONE); // volume 1.0
        w.zeros(10); // reserved
        write_matrix(w);
        w.zeros(24); // pre_defined
        w.u32(track_id.saturating_add(1)); // next_track_ID
        Ok(())
    })
}

/// `trak` with `tkhd` and `mdia`.
fn write_trak(w: &mut BoxWriter, t: &TrackInit, entry: &SampleEntry, tail: &[ConfigBox]) -> Result<()> {
    w.write_box(b"trak", |w| {
        write_tkhd(w, t)?;
        if t.media_time > 0 {
            write_edts(w, t.media_time, t.edit_ignored_by_mse)?;
        }
        w.write_box(b"mdia", |w| {
            write_mdhd(w, t)?;
            write_hdlr(w, t.kind)?;
            write_minf(w, t.kind, entry, tail)
        })
    })
}

/// `edts` with one `elst` v1 entry: the whole (unknown-length) media from `media_time` on;
/// `empty_first`: after an empty edit of duration 0 (see [`TrackInit::edit_ignored_by_mse`]).
fn write_edts(w: &mut BoxWriter, media_time: u64, empty_first: bool) -> Result<()> {
    w.write_box(b"edts", |w| {
        w.write_full_box(b"elst", ELST_VERSION_64, 0, |w| {
            w.u32(1 + u32::from(empty_first)); // entry_count
            if empty_first {
                w.u64(0); // segment_duration: nothing presented
                w.u64(u64::MAX); // media_time -1: an empty edit
                w.u16(1); // media_rate_integer
                w.u16(0); // media_rate_fraction
            }
            w.u64(0); // segment_duration: 0 = the rest of the (fragmented) media
            w.u64(media_time); // media_time (signed; always >= 0 here)
            w.u16(1); // media_rate_integer
            w.u16(0); // media_rate_fraction
            Ok(())
        })
    })
}

/// `tkhd` version 0, enabled and in movie; a video track's display matrix and its size with the
/// sample aspect ratio applied, as the source shows it.
fn write_tkhd(w: &mut BoxWriter, t: &TrackInit) -> Result<()> {
    let video = t.kind == TrackKind::Video;
    w.write_full_box(b"tkhd", 0, TKHD_ENABLED | TKHD_IN_MOVIE, |w| {
        w.zeros(8); // creation, modification time
        w.u32(t.track_id);
        w.zeros(4); // reserved
        w.u32(0); // duration
        w.zeros(8); // reserved
        w.zeros(4); // layer, alternate_group
        w.u16(if video { 0 } else { FIXED_8_8_ONE }); // volume
        w.zeros(2); // reserved
        let picture = &t.codec.picture;
        for v in picture.matrix.filter(|_| video).map_or(UNITY_MATRIX, |m| m.map(|x| x as u32)) {
            w.u32(v);
        }
        // The size on a square grid before the matrix (ISO/IEC 14496-12 8.3.2.3).
        let (width, height) = if video { picture.square_size(t.codec.width, t.codec.height) } else { (0, 0) };
        w.u32(width.min(MAX_TKHD_DIMENSION) << 16);
        w.u32(height.min(MAX_TKHD_DIMENSION) << 16);
        Ok(())
    })
}

/// Packs an ISO-639-2/T code into 15 bits (`und` for anything not lowercase ASCII).
fn packed_language(lang: [u8; 3]) -> u16 {
    let lang = if lang.iter().all(u8::is_ascii_lowercase) { lang } else { *b"und" };
    lang.iter().fold(0u16, |acc, &c| acc << 5 | u16::from(c - LANGUAGE_CHAR_OFFSET))
}

/// `mdhd` version 0 with the track timescale and language.
fn write_mdhd(w: &mut BoxWriter, t: &TrackInit) -> Result<()> {
    w.write_full_box(b"mdhd", 0, 0, |w| {
        w.zeros(8); // creation, modification time
        w.u32(t.timescale);
        w.u32(0); // duration
        w.u16(packed_language(t.language));
        w.u16(0); // pre_defined
        Ok(())
    })
}

/// `hdlr`: `vide`/`soun`.
fn write_hdlr(w: &mut BoxWriter, kind: TrackKind) -> Result<()> {
    let (handler, name): (&[u8; 4], &[u8]) = match kind {
        TrackKind::Video => (b"vide", b"VideoHandler\0"),
        TrackKind::Audio => (b"soun", b"SoundHandler\0"),
    };
    w.write_full_box(b"hdlr", 0, 0, |w| {
        w.u32(0); // pre_defined
        w.bytes(handler);
        w.zeros(12); // reserved
        w.bytes(name);
        Ok(())
    })
}

/// `minf` with the media header, `dinf` and an empty sample table.
fn write_minf(w: &mut BoxWriter, kind: TrackKind, entry: &SampleEntry, tail: &[ConfigBox]) -> Result<()> {
    w.write_box(b"minf", |w| {
        match kind {
            TrackKind::Video => w.write_full_box(b"vmhd", 0, VMHD_FLAGS, |w| {
                w.zeros(8); // graphicsmode, opcolor
                Ok(())
            })?,
            TrackKind::Audio => w.write_full_box(b"smhd", 0, 0, |w| {
                w.zeros(4); // balance, reserved
                Ok(())
            })?,
        }
        w.write_box(b"dinf", |w| {
            w.write_full_box(b"dref", 0, 0, |w| {
                w.u32(1); // entry_count
                w.write_full_box(b"url ", 0, URL_SELF_CONTAINED, |_| Ok(()))
            })
        })?;
        write_stbl(w, entry, tail)
    })
}

/// `stbl` with the sample description and empty `stts`, `stsc`, `stsz`, `stco`.
fn write_stbl(w: &mut BoxWriter, entry: &SampleEntry, tail: &[ConfigBox]) -> Result<()> {
    w.write_box(b"stbl", |w| {
        w.write_full_box(b"stsd", 0, 0, |w| {
            w.u32(1); // entry_count
            write_sample_entry(w, entry, tail)
        })?;
        for fourcc in [b"stts", b"stsc", b"stco"] {
            w.write_full_box(fourcc, 0, 0, |w| {
                w.u32(0); // entry_count
                Ok(())
            })?;
        }
        w.write_full_box(b"stsz", 0, 0, |w| {
            w.zeros(8); // sample_size, sample_count
            Ok(())
        })
    })
}

/// `mvex`'s `trex`: defaults that every `trun` overrides.
fn write_trex(w: &mut BoxWriter, track_id: u32) -> Result<()> {
    w.write_full_box(b"trex", 0, 0, |w| {
        w.u32(track_id);
        w.u32(1); // default_sample_description_index
        w.zeros(12); // default duration, size, flags
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Codec, CodecConfig};
    use crate::error::ErrorKind;
    use crate::output::fmp4::test_util::{config, find, hex, init_for, outline, parse_boxes, Node, AVCC};

    #[test]
    fn h264_init_structure_and_fields() {
        let cfg = config(Codec::H264, hex(AVCC), Vec::new());
        let boxes = init_for(&cfg, TrackKind::Video, 90000);
        let mut lines = Vec::new();
        outline(&boxes, 0, &mut lines);
        let expect = "ftyp moov  mvhd  trak   tkhd   mdia    mdhd    hdlr    minf     vmhd     dinf      dref       url      stbl      stsd       avc1        avcC      stts      stsc      stco      stsz  mvex   trex";
        assert_eq!(lines.join(" "), expect);

        let ftyp = find(&boxes, "ftyp");
        assert_eq!(ftyp.body, b"iso6\0\0\0\0iso6cmfcmp41");
        let mvhd = find(&boxes, "moov/mvhd");
        assert_eq!((mvhd.body[0], mvhd.u32_at(12), mvhd.u32_at(16), mvhd.u32_at(96)), (0, 1000, 0, 2));
        let tkhd = find(&boxes, "moov/trak/tkhd");
        assert_eq!(tkhd.u32_at(0), 3); // version 0, flags enabled|in_movie
        assert_eq!((tkhd.u32_at(12), tkhd.u16_at(36)), (1, 0)); // track_id, volume
        assert_eq!((tkhd.u32_at(76), tkhd.u32_at(80)), (320 << 16, 240 << 16));
        let mdhd = find(&boxes, "moov/trak/mdia/mdhd");
        assert_eq!((mdhd.u32_at(12), mdhd.u32_at(16)), (90000, 0));
        let eng = (u16::from(b'e' - 0x60) << 10) | (u16::from(b'n' - 0x60) << 5) | u16::from(b'g' - 0x60);
        assert_eq!(mdhd.u16_at(20), eng);
        let hdlr = find(&boxes, "moov/trak/mdia/hdlr");
        assert_eq!(&hdlr.body[8..12], b"vide");
        assert_eq!(&hdlr.body[24..], b"VideoHandler\0");
        assert_eq!(find(&boxes, "moov/trak/mdia/minf/vmhd").u32_at(0), 1);
        let url = find(&boxes, "moov/trak/mdia/minf/dinf/dref/url ");
        assert_eq!(url.body, [0, 0, 0, 1]);
        let stsd = find(&boxes, "moov/trak/mdia/minf/stbl/stsd");
        assert_eq!(stsd.u32_at(4), 1);
        let avc1 = stsd.get("avc1");
        assert_eq!(avc1.u16_at(6), 1); // data_reference_index
        assert_eq!((avc1.u16_at(24), avc1.u16_at(26)), (320, 240));
        assert_eq!(
            (avc1.u32_at(28), avc1.u16_at(40), avc1.u16_at(74), avc1.u16_at(76)),
            (0x0048_0000, 1, 0x18, 0xFFFF)
        );
        assert_eq!(avc1.get("avcC").body, hex(AVCC));
        for empty in ["stts", "stsc", "stco"] {
            assert_eq!(find(&boxes, &format!("moov/trak/mdia/minf/stbl/{empty}")).body, [0; 8]);
        }
        assert_eq!(find(&boxes, "moov/trak/mdia/minf/stbl/stsz").body, [0; 12]);
        let trex = find(&boxes, "moov/mvex/trex");
        assert_eq!(trex.body, [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn bad_language_becomes_und_and_track_id_is_used() {
        let cfg = config(Codec::H264, hex(AVCC), Vec::new());
        let t = TrackInit {
            track_id: 7,
            kind: TrackKind::Video,
            timescale: 1000,
            language: *b"EN\0",
            codec: &cfg,
            media_time: 0,
            edit_ignored_by_mse: false,
        };
        let boxes = parse_boxes(&write_init(&t).unwrap());
        assert_eq!(find(&boxes, "moov/trak/mdia/mdhd").u16_at(20), packed_language(*b"und"));
        assert_eq!(find(&boxes, "moov/mvhd").u32_at(96), 8);
        assert_eq!(find(&boxes, "moov/trak/tkhd").u32_at(12), 7);
        assert_eq!(find(&boxes, "moov/mvex/trex").u32_at(4), 7);
    }

    #[test]
    fn invalid_init_arguments() {
        let cfg = config(Codec::H264, hex(AVCC), Vec::new());
        let init = |codec: &CodecConfig, kind, track_id, timescale| {
            write_init(&TrackInit {
                track_id,
                kind,
                timescale,
                language: *b"und",
                codec,
                media_time: 0,
                edit_ignored_by_mse: false,
            })
            .unwrap_err()
        };
        let e = init(&cfg, TrackKind::Audio, 1, 1000);
        assert_eq!((e.kind, e.message.as_str()), (ErrorKind::Internal, "H264 cannot be a Audio track"));
        let e = init(&cfg, TrackKind::Video, 0, 1000);
        let msg = "init segment: track_id (0) and timescale (1000) must be non-zero";
        assert_eq!((e.kind, e.message.as_str()), (ErrorKind::Internal, msg));
        assert_eq!(init(&cfg, TrackKind::Video, 1, 0).kind, ErrorKind::Internal);
        let mut wide = cfg.clone();
        wide.width = 70000;
        let e = init(&wide, TrackKind::Video, 1, 1000);
        let msg = "video width 70000 does not fit a sample entry";
        assert_eq!((e.kind, e.message.as_str()), (ErrorKind::InvalidMedia, msg));
        // A codec configuration crate::codec cannot read is invalid media, its message unchanged.
        let aac = config(Codec::Aac, Vec::new(), Vec::new());
        let e = init(&aac, TrackKind::Audio, 1, 1000);
        let parse = crate::codec::audio_specific_config(&aac).unwrap_err();
        assert_eq!((e.kind, e.message.as_str()), (ErrorKind::InvalidMedia, parse.message()));
    }

    /// The init segment of an H.264 track at 90 kHz whose edit list starts at 3003.
    fn init_with_edit(edit_ignored_by_mse: bool) -> Vec<Node> {
        let cfg = config(Codec::H264, hex(AVCC), Vec::new());
        let t = TrackInit {
            track_id: 1,
            kind: TrackKind::Video,
            timescale: 90000,
            language: *b"und",
            codec: &cfg,
            media_time: 3003,
            edit_ignored_by_mse,
        };
        parse_boxes(&write_init(&t).unwrap())
    }

    #[test]
    fn media_time_writes_an_edit_list() {
        let boxes = init_with_edit(false);
        let trak = find(&boxes, "moov/trak");
        let types: Vec<&str> = trak.children.iter().map(|n| n.fourcc.as_str()).collect();
        assert_eq!(types, ["tkhd", "edts", "mdia"]);
        let edts = find(&boxes, "moov/trak/edts");
        let elst = parse_boxes(&edts.body);
        let expect =
            [&[1, 0, 0, 0][..], &1u32.to_be_bytes(), &0u64.to_be_bytes(), &3003u64.to_be_bytes(), &[0, 1, 0, 0]];
        assert_eq!(find(&elst, "elst").body, expect.concat());
    }

    #[test]
    fn an_edit_list_mse_ignores_starts_with_an_empty_edit_of_nothing() {
        let boxes = init_with_edit(true);
        let elst = parse_boxes(&find(&boxes, "moov/trak/edts").body);
        let (rate, nothing, media) = ([0u8, 1, 0, 0], 0u64.to_be_bytes(), 3003u64.to_be_bytes());
        let (count, empty) = (2u32.to_be_bytes(), (-1i64).to_be_bytes());
        let expect = [&[1, 0, 0, 0][..], &count, &nothing, &empty, &rate, &nothing, &media, &rate];
        assert_eq!(find(&elst, "elst").body, expect.concat());
    }
}
