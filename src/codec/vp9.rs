//! VP9: the uncompressed header of a key frame (profile, bit depth, colour space, chroma
//! subsampling, range, size; VP9 bitstream specification 6.2), the level (from the WebM
//! CodecPrivate when it carries one, else from the picture size, sample rate and bit rate by the
//! VP9 level table), the `vpcC` record (VP Codec ISO Media File Format Binding, version 1) and
//! its `vp09.PP.LL.DD.CC.cp.tc.mc.FF` codec string.

use super::bits::BitReader;
use super::picture::{Colour, UNSPECIFIED};
use crate::error::{ParseError, ParseResult};

/// `frame_marker`: always 2.
const FRAME_MARKER: u32 = 2;
/// `frame_sync_code` of a key frame.
const SYNC_CODE: u32 = 0x49_83_42;
/// `color_space` CS_RGB: no range or subsampling bits follow (4:4:4, full range).
const CS_RGB: u32 = 7;
/// ISO/IEC 23091-2 `MatrixCoefficients` of each VP9 `color_space` (as FFmpeg maps them):
/// unknown, BT.601 (470BG), BT.709, SMPTE 170M, SMPTE 240M, BT.2020 NCL, reserved, RGB.
const MATRIX_OF_COLOR_SPACE: [u8; 8] = [UNSPECIFIED, 5, 1, 6, 7, 9, UNSPECIFIED, 0];
/// `vpcC` chromaSubsampling: 4:2:0 with chroma co-located with luma (the default of the
/// codec string).
const CHROMA_420_COLOCATED: u8 = 1;
/// `vpcC` chromaSubsampling: 4:2:2.
const CHROMA_422: u8 = 2;
/// `vpcC` chromaSubsampling: 4:4:4.
const CHROMA_444: u8 = 3;
/// Version of the `vpcC` box written.
pub(crate) const VPCC_VERSION: u8 = 1;
/// Bytes of a `vpcC` version 1 body after the FullBox header.
const VPCC_LEN: usize = 8;
/// WebM CodecPrivate feature ID of the level (VP9 codec features).
const WEBM_FEATURE_LEVEL: u8 = 2;

/// VP9 levels (level × 10) with their maximum luma picture size, luma sample rate (samples/s)
/// and bit rate (kbit/s), from the VP9 level definitions.
const LEVELS: [(u8, u64, u64, u64); 14] = [
    (10, 36_864, 829_440, 200),
    (11, 73_728, 2_764_800, 800),
    (20, 122_880, 4_608_000, 1_800),
    (21, 245_760, 9_216_000, 3_600),
    (30, 552_960, 20_736_000, 7_200),
    (31, 983_040, 36_864_000, 12_000),
    (40, 2_228_224, 83_558_400, 18_000),
    (41, 2_228_224, 160_432_128, 30_000),
    (50, 8_912_896, 311_951_360, 60_000),
    (51, 8_912_896, 588_251_136, 120_000),
    (52, 8_912_896, 1_176_502_272, 180_000),
    (60, 35_651_584, 1_176_502_272, 180_000),
    (61, 35_651_584, 2_353_004_544, 240_000),
    (62, 35_651_584, 4_706_009_088, 480_000),
];

/// What a key frame's uncompressed header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KeyFrame {
    pub(crate) profile: u8,
    pub(crate) bit_depth: u8,
    /// `vpcC` chromaSubsampling.
    pub(crate) chroma: u8,
    pub(crate) full_range: bool,
    /// ISO/IEC 23091-2 matrix coefficients of the `color_space`.
    pub(crate) matrix: u8,
    pub(crate) width: u32,
    pub(crate) height: u32,
}

/// Reads the uncompressed header of the first frame of `packet` (a superframe's frames follow
/// one another, the first at the start); an error unless it is a key frame.
pub(crate) fn parse_key_frame(packet: &[u8]) -> ParseResult<KeyFrame> {
    let mut r = BitReader::new(packet);
    if r.bits(2)? != FRAME_MARKER {
        return Err(ParseError::new("VP9: no frame marker"));
    }
    let low = r.bits(1)?;
    let profile = (r.bits(1)? << 1 | low) as u8;
    if profile == 3 {
        r.skip(1)?; // reserved_zero
    }
    let show_existing = r.bit()?;
    let inter = r.bit()?; // frame_type: 0 is KEY_FRAME
    if show_existing || inter {
        return Err(ParseError::new("VP9: the first frame is not a key frame"));
    }
    r.skip(2)?; // show_frame, error_resilient_mode
    if r.bits(24)? != SYNC_CODE {
        return Err(ParseError::new("VP9: bad key frame sync code"));
    }
    let bit_depth = match (profile >= 2, profile >= 2 && r.bit()?) {
        (false, _) => 8,
        (true, false) => 10,
        (true, true) => 12,
    };
    let color_space = r.bits(3)?;
    let odd_profile = profile == 1 || profile == 3;
    let (full_range, chroma) = if color_space == CS_RGB {
        if odd_profile {
            r.skip(1)?;
        }
        (true, CHROMA_444)
    } else {
        let full_range = r.bit()?;
        let chroma = if odd_profile {
            let (sx, sy) = (r.bit()?, r.bit()?);
            r.skip(1)?;
            match (sx, sy) {
                (true, true) => CHROMA_420_COLOCATED,
                (true, false) => CHROMA_422,
                _ => CHROMA_444,
            }
        } else {
            CHROMA_420_COLOCATED
        };
        (full_range, chroma)
    };
    let width = r.bits(16)? + 1;
    let height = r.bits(16)? + 1;
    Ok(KeyFrame {
        profile,
        bit_depth,
        chroma,
        full_range,
        matrix: MATRIX_OF_COLOR_SPACE[color_space as usize],
        width,
        height,
    })
}

/// The level that the codec private data declares: a `vpcC` (an MP4 source's, version 1, with
/// its FullBox header) or a WebM CodecPrivate (ID, length, value features).
fn codec_private_level(private: &[u8]) -> Option<u8> {
    if private.len() >= VPCC_LEN + 4 && private[..4] == [VPCC_VERSION, 0, 0, 0] {
        return Some(private[5]);
    }
    let mut rest = private;
    while let [id, len, tail @ ..] = rest {
        let value = tail.get(..usize::from(*len))?;
        if *id == WEBM_FEATURE_LEVEL && value.len() == 1 {
            return Some(value[0]);
        }
        rest = &tail[usize::from(*len)..];
    }
    None
}

/// The lowest level whose picture size, luma sample rate and bit rate (kbit/s) limits hold the
/// stream (the highest when none does; unknown rates are not limits).
pub(crate) fn level_for(width: u32, height: u32, frame_rate: f64, bit_rate: u64) -> u8 {
    let size = u64::from(width) * u64::from(height);
    let sample_rate = (size as f64 * frame_rate.max(0.0)).ceil() as u64;
    let kbps = bit_rate.div_ceil(1000);
    LEVELS
        .iter()
        .find(|&&(_, max_size, max_rate, max_kbps)| size <= max_size && sample_rate <= max_rate && kbps <= max_kbps)
        .map_or(LEVELS[LEVELS.len() - 1].0, |l| l.0)
}

/// The `vpcC` version 1 body (after the FullBox header): profile, level, bit depth, chroma
/// subsampling and range from the key frame `first_packet`; colour primaries and transfer from
/// the container's `colour` (unspecified when it has none), matrix from the container or else
/// the bitstream; no codec initialisation data.
pub(crate) fn vpcc_payload(
    first_packet: &[u8],
    codec_private: &[u8],
    colour: Option<Colour>,
    frame_rate: f64,
    bit_rate: u64,
) -> ParseResult<Vec<u8>> {
    let k = parse_key_frame(first_packet)?;
    let level =
        codec_private_level(codec_private).unwrap_or_else(|| level_for(k.width, k.height, frame_rate, bit_rate));
    let (primaries, transfer, matrix) = match colour {
        Some(c) => (c.primaries, c.transfer, if c.matrix == UNSPECIFIED { k.matrix } else { c.matrix }),
        None => (UNSPECIFIED, UNSPECIFIED, k.matrix),
    };
    let full = k.full_range || colour.is_some_and(|c| c.full_range);
    Ok(vec![k.profile, level, k.bit_depth << 4 | k.chroma << 1 | u8::from(full), primaries, transfer, matrix, 0, 0])
}

/// `vp09.PP.LL.DD.CC.cp.tc.mc.FF` from a `vpcC` version 1 body.
pub(crate) fn codec_string(vpcc: &[u8]) -> ParseResult<String> {
    let v = vpcc.get(..VPCC_LEN).ok_or_else(|| ParseError::new("vpcC: record too short"))?;
    Ok(format!(
        "vp09.{:02}.{:02}.{:02}.{:02}.{:02}.{:02}.{:02}.{:02}",
        v[0],
        v[1],
        v[2] >> 4,
        v[2] >> 1 & 7,
        v[3],
        v[4],
        v[5],
        v[2] & 1
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::bits::BitWriter;

    /// A key frame header: profile, (ten_or_twelve_bit), color_space, range, subsampling, size.
    fn key_frame(profile: u32, twelve: bool, cs: u32, full: bool, ss: (u32, u32), w: u32, h: u32) -> Vec<u8> {
        let mut b = BitWriter::new();
        b.put(2, FRAME_MARKER);
        b.put(1, profile & 1);
        b.put(1, profile >> 1);
        if profile == 3 {
            b.put(1, 0);
        }
        b.put(4, 0b0010); // show_existing 0, key frame, show_frame 1, error_resilient 0
        b.put(24, SYNC_CODE);
        if profile >= 2 {
            b.put(1, u32::from(twelve));
        }
        b.put(3, cs);
        if cs != CS_RGB {
            b.put(1, u32::from(full));
            if profile == 1 || profile == 3 {
                b.put(1, ss.0);
                b.put(1, ss.1);
                b.put(1, 0);
            }
        } else if profile == 1 || profile == 3 {
            b.put(1, 0);
        }
        b.put(16, w - 1);
        b.put(16, h - 1);
        b.put(8, 0);
        b.finish()
    }

    #[test]
    fn vp09_string_comes_from_the_key_frame_header() {
        // Profile 0 BT.709 320x180 at 25 fps and 300 kbit/s: level 1.1 by its sample rate.
        let kf = key_frame(0, false, 2, false, (1, 1), 320, 180);
        let k = parse_key_frame(&kf).unwrap();
        assert_eq!((k.profile, k.bit_depth, k.chroma, k.full_range, k.matrix), (0, 8, 1, false, 1));
        assert_eq!((k.width, k.height), (320, 180));
        let vpcc = vpcc_payload(&kf, &[], None, 25.0, 300_000).unwrap();
        assert_eq!(codec_string(&vpcc).unwrap(), "vp09.00.11.08.01.02.02.01.00");
        // Profile 2, 10-bit BT.2020 HDR (PQ declared by the container), 1080p: level 4.0.
        let kf = key_frame(2, false, 5, false, (1, 1), 1920, 1080);
        let pq = Colour { primaries: 9, transfer: 16, matrix: 9, full_range: false };
        let vpcc = vpcc_payload(&kf, &[], Some(pq), 25.0, 5_000_000).unwrap();
        assert_eq!(codec_string(&vpcc).unwrap(), "vp09.02.40.10.01.09.16.09.00");
        // Profile 1 4:4:4 full range; profile 3 12-bit 4:2:2; sRGB.
        let k = parse_key_frame(&key_frame(1, false, 1, true, (0, 0), 64, 64)).unwrap();
        assert_eq!((k.profile, k.chroma, k.full_range, k.matrix), (1, 3, true, 5));
        let k = parse_key_frame(&key_frame(3, true, 3, false, (1, 0), 64, 64)).unwrap();
        assert_eq!((k.profile, k.bit_depth, k.chroma), (3, 12, 2));
        let k = parse_key_frame(&key_frame(1, false, CS_RGB, false, (0, 0), 64, 64)).unwrap();
        assert_eq!((k.chroma, k.full_range, k.matrix), (3, true, 0));
        // A level in the WebM CodecPrivate wins over the table.
        let vpcc = vpcc_payload(&key_frame(0, false, 0, false, (1, 1), 320, 180), &[1, 1, 0, 2, 1, 31], None, 25.0, 0)
            .unwrap();
        assert_eq!(codec_string(&vpcc).unwrap(), "vp09.00.31.08.01.02.02.02.00");
        // So does the vpcC of an MP4 source.
        let src_vpcc = [1, 0, 0, 0, 0, 21, 0x82, 1, 1, 1, 0, 0];
        let vpcc = vpcc_payload(&key_frame(0, false, 2, false, (1, 1), 320, 180), &src_vpcc, None, 25.0, 0).unwrap();
        assert_eq!(vpcc[1], 21);
    }

    #[test]
    fn levels_follow_the_table() {
        assert_eq!(level_for(256, 144, 15.0, 100_000), 10);
        assert_eq!(level_for(1280, 720, 30.0, 3_000_000), 31);
        assert_eq!(level_for(1920, 1080, 60.0, 10_000_000), 41);
        assert_eq!(level_for(3840, 2160, 30.0, 20_000_000), 50);
        assert_eq!(level_for(100_000, 100_000, 60.0, 0), 62);
    }

    #[test]
    fn inter_frames_and_garbage_are_errors() {
        assert!(parse_key_frame(&[0x86, 0, 0]).is_err()); // inter frame
        assert!(parse_key_frame(&[]).is_err());
        assert!(parse_key_frame(&[0x82, 0x49, 0x83, 0x43, 0, 0, 0, 0, 0]).is_err());
        assert!(codec_string(&[0; 7]).is_err());
        let mut x: u32 = 99;
        for len in 0..64 {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            let _ = parse_key_frame(&data);
            let _ = codec_private_level(&data);
        }
    }
}
