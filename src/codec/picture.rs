//! How a video's pictures are shown, beyond the codec's own configuration record: the display
//! matrix, the sample aspect ratio, the colour description (ISO/IEC 23091-2 code points, as in
//! an `nclx` `colr` box, a VUI or Matroska's Colour element), the HDR10 mastering display and
//! content light level (SMPTE ST 2086 / CTA-861.3, laid out as in the `mdcv`/`clli` boxes and
//! the H.264/HEVC SEI messages), and the closed captions that the video's SEI carries.
//!
//! Plain values read from the container (through FFmpeg) and from the bitstream; the fMP4 writer
//! lays them out and the playlist writer declares them.

use serde::{Deserialize, Serialize};
/// ISO/IEC 23091-2 `TransferCharacteristics`: SMPTE ST 2084 (PQ).
pub const TRANSFER_PQ: u8 = 16;
/// ISO/IEC 23091-2 `TransferCharacteristics`: ARIB STD-B67 (HLG).
pub const TRANSFER_HLG: u8 = 18;
/// ISO/IEC 23091-2 code point "unspecified" (primaries, transfer and matrix alike).
pub const UNSPECIFIED: u8 = 2;

/// 1.0 in the 16.16 fixed point of the display matrix's `a`, `b`, `c`, `d`, `x`, `y`.
const FIXED_16_16_ONE: i32 = 0x0001_0000;
/// 1.0 in the 2.30 fixed point of the display matrix's `u`, `v`, `w`.
const FIXED_2_30_ONE: i32 = 0x4000_0000;
/// The identity display matrix (`a b u / c d v / x y w`, as `tkhd` stores it).
pub const IDENTITY_MATRIX: [i32; 9] = [FIXED_16_16_ONE, 0, 0, 0, FIXED_16_16_ONE, 0, 0, 0, FIXED_2_30_ONE];

/// Colour description: primaries, transfer characteristics, matrix coefficients, range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Colour {
    /// `ColourPrimaries` (1 BT.709, 9 BT.2020, 2 unspecified).
    pub primaries: u8,
    /// `TransferCharacteristics` (1 BT.709, 16 PQ, 18 HLG, 2 unspecified).
    pub transfer: u8,
    /// `MatrixCoefficients` (1 BT.709, 9 BT.2020 non-constant, 2 unspecified).
    pub matrix: u8,
    /// Full range (0..255 for 8 bits) rather than limited ("TV") range.
    pub full_range: bool,
}

impl Colour {
    /// True when the description says anything (some code point specified, or full range).
    pub fn is_declared(&self) -> bool {
        self.full_range || [self.primaries, self.transfer, self.matrix].iter().any(|&c| c != UNSPECIFIED)
    }
}

/// SMPTE ST 2086 mastering display colour volume, in the units of the `mdcv` box and the SEI
/// message: chromaticities in 0.00002, luminance in 0.0001 cd/m².
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasteringDisplay {
    /// Display primaries x, y in the order green, blue, red.
    pub primaries: [[u16; 2]; 3],
    /// White point x, y.
    pub white_point: [u16; 2],
    /// Maximum display mastering luminance.
    pub max_luminance: u32,
    /// Minimum display mastering luminance.
    pub min_luminance: u32,
}

/// Bytes of a mastering display colour volume SEI payload (and `mdcv` box body).
pub const MASTERING_DISPLAY_LEN: usize = 24;

impl MasteringDisplay {
    /// Reads the 24-byte SEI payload / `mdcv` body.
    pub fn parse(b: &[u8]) -> Option<MasteringDisplay> {
        let b = b.get(..MASTERING_DISPLAY_LEN)?;
        let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Some(MasteringDisplay {
            primaries: [[u16_at(0), u16_at(2)], [u16_at(4), u16_at(6)], [u16_at(8), u16_at(10)]],
            white_point: [u16_at(12), u16_at(14)],
            max_luminance: u32_at(16),
            min_luminance: u32_at(20),
        })
    }

    /// The 24-byte `mdcv` body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MASTERING_DISPLAY_LEN);
        for v in self.primaries.iter().flatten().chain(&self.white_point) {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&self.max_luminance.to_be_bytes());
        out.extend_from_slice(&self.min_luminance.to_be_bytes());
        out
    }
}

/// CTA-861.3 content light level, in cd/m².
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentLight {
    /// Maximum content light level (MaxCLL).
    pub max_cll: u16,
    /// Maximum frame-average light level (MaxFALL).
    pub max_fall: u16,
}

impl ContentLight {
    /// Reads the 4-byte SEI payload / `clli` body.
    pub fn parse(b: &[u8]) -> Option<ContentLight> {
        let b = b.get(..4)?;
        Some(ContentLight { max_cll: u16::from_be_bytes([b[0], b[1]]), max_fall: u16::from_be_bytes([b[2], b[3]]) })
    }
}

/// Closed captions found in the video's SEI (ATSC A/53 `GA94` cc_data).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Captions {
    /// CEA-608 byte pairs (cc_type 0 or 1): `INSTREAM-ID="CC1"`.
    pub cea608: bool,
    /// CEA-708 packets (cc_type 2 or 3): `INSTREAM-ID="SERVICE1"`.
    pub cea708: bool,
}

impl Captions {
    /// True when any caption data was seen.
    pub fn any(&self) -> bool {
        self.cea608 || self.cea708
    }
}

/// What an H.264/HEVC SPS's video usability information says about the pictures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Vui {
    /// Sample aspect ratio (`aspect_ratio_idc`, or the explicit `sar_width:sar_height`).
    pub sar: Option<(u32, u32)>,
    /// Colour description (`video_full_range_flag` and, when present, the colour code points).
    pub colour: Option<Colour>,
}

/// How a video track's pictures are shown. Everything is optional: `None` is "as stored".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Picture {
    /// Display matrix (`a b u / c d v / x y w`, 16.16 and 2.30 fixed point, as in `tkhd`), when
    /// not the identity.
    pub matrix: Option<[i32; 9]>,
    /// Sample (pixel) aspect ratio, horizontal:vertical, when not 1:1.
    pub sar: Option<(u32, u32)>,
    /// Colour description, when the source declares one.
    pub colour: Option<Colour>,
    /// HDR10 mastering display.
    pub mastering: Option<MasteringDisplay>,
    /// HDR10 content light level.
    pub light: Option<ContentLight>,
}

impl Picture {
    /// Fills what the container left unsaid (sample aspect ratio, colour) from the bitstream's VUI.
    pub fn complete_from(&mut self, vui: Vui) {
        if self.sar.is_none() {
            if let Some((n, d)) = vui.sar {
                self.set_sar(n, d);
            }
        }
        if self.colour.is_none() {
            self.colour = vui.colour.filter(Colour::is_declared);
        }
    }

    /// Keeps a display matrix unless it is the identity (or all zeros: nothing said).
    pub fn set_matrix(&mut self, m: [i32; 9]) {
        self.matrix = (m != IDENTITY_MATRIX && m.iter().any(|&v| v != 0)).then_some(m);
    }

    /// Keeps a sample aspect ratio unless it is 1:1 or undefined (a zero term).
    pub fn set_sar(&mut self, num: u32, den: u32) {
        self.sar = (num > 0 && den > 0 && num != den).then_some((num, den));
    }

    /// True when the matrix turns the picture by a quarter (90° or 270°): width and height
    /// swap on screen.
    pub fn quarter_turn(&self) -> bool {
        self.matrix.is_some_and(|m| m[0].unsigned_abs() < m[1].unsigned_abs())
    }

    /// The size of the picture with its sample aspect ratio applied to the width, before the
    /// display matrix (`tkhd` width and height, ISO/IEC 14496-12 8.3.2.3).
    pub fn square_size(&self, width: u32, height: u32) -> (u32, u32) {
        match self.sar {
            Some((n, d)) => {
                let w = (u64::from(width) * u64::from(n) + u64::from(d) / 2) / u64::from(d);
                (u32::try_from(w).unwrap_or(u32::MAX), height)
            }
            None => (width, height),
        }
    }

    /// The size a viewer sees: sample aspect ratio applied, then width and height swapped by a
    /// quarter turn (the HLS `RESOLUTION`).
    pub fn displayed_size(&self, width: u32, height: u32) -> (u32, u32) {
        let (w, h) = self.square_size(width, height);
        if self.quarter_turn() {
            (h, w)
        } else {
            (w, h)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anamorphic_and_rotated_pictures_are_shown_at_their_displayed_size() {
        let mut p = Picture::default();
        p.set_sar(64, 45);
        assert_eq!(p.square_size(720, 576), (1024, 576));
        assert_eq!(p.displayed_size(720, 576), (1024, 576));
        p.set_sar(1, 1);
        assert_eq!(p.sar, None);
        // A phone's portrait recording: stored 320x180, turned 90 degrees.
        p.set_matrix([0, 0x10000, 0, -0x10000, 0, 0, 180 << 16, 0, 0x4000_0000]);
        assert!(p.quarter_turn());
        assert_eq!(p.displayed_size(320, 180), (180, 320));
        assert_eq!(p.square_size(320, 180), (320, 180));
        // Upside down (180 degrees) keeps its size; the identity is no matrix at all.
        p.set_matrix([-0x10000, 0, 0, 0, -0x10000, 0, 320 << 16, 180 << 16, 0x4000_0000]);
        assert!(!p.quarter_turn());
        assert_eq!(p.displayed_size(320, 180), (320, 180));
        p.set_matrix(IDENTITY_MATRIX);
        assert_eq!(p.matrix, None);
    }

    #[test]
    fn mastering_display_round_trips_its_sei_layout() {
        // G(13250,34500) B(7500,3000) R(34000,16000) WP(15635,16450) L(10000000,1)
        let mut b = Vec::new();
        for v in [13250u16, 34500, 7500, 3000, 34000, 16000, 15635, 16450] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend_from_slice(&10_000_000u32.to_be_bytes());
        b.extend_from_slice(&1u32.to_be_bytes());
        let m = MasteringDisplay::parse(&b).unwrap();
        assert_eq!(
            (m.primaries[0], m.white_point, m.max_luminance, m.min_luminance),
            ([13250, 34500], [15635, 16450], 10_000_000, 1)
        );
        assert_eq!(m.to_bytes(), b);
        assert_eq!(MasteringDisplay::parse(&b[..23]), None);
        assert_eq!(ContentLight::parse(&[3, 0xE8, 1, 0x90]), Some(ContentLight { max_cll: 1000, max_fall: 400 }));
    }
}
