//! Pictures as packed RGB: the display matrix applied (a quarter turn or a flip), tiles placed
//! on a sprite sheet, and full-range 4:2:0 Y'CbCr planes for the JPEG encoder.

#![deny(unsafe_code)]

use crate::codec::picture::Picture;

/// A packed 8-bit RGB picture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes, rows top to bottom.
    pub rgb: Vec<u8>,
}

impl Image {
    /// A black picture.
    pub fn black(width: u32, height: u32) -> Image {
        Image { width, height, rgb: vec![0; width as usize * height as usize * 3] }
    }

    /// Copies `tile` with its top-left corner at (`x`, `y`); what falls outside is dropped.
    pub fn place(&mut self, tile: &Image, x: u32, y: u32) {
        let w = tile.width.min(self.width.saturating_sub(x)) as usize;
        for row in 0..tile.height.min(self.height.saturating_sub(y)) as usize {
            let src = row * tile.width as usize * 3;
            let dst = ((y as usize + row) * self.width as usize + x as usize) * 3;
            self.rgb[dst..dst + w * 3].copy_from_slice(&tile.rgb[src..src + w * 3]);
        }
    }

    /// The picture as the display matrix shows it: each axis of the matrix's 2×2 part taken by
    /// its sign (a quarter turn swaps width and height, a negative term mirrors). The identity
    /// (or no matrix) returns the picture unchanged.
    pub fn oriented(self, picture: &Picture) -> Image {
        let Some(m) = picture.matrix else { return self };
        let sign = |v: i32| v.signum() as i64;
        // x' = a x + c y, y' = b x + d y (ISO/IEC 14496-12 8.3.2.3, matrix a b u / c d v / x y w).
        let (a, b, c, d) = (sign(m[0]), sign(m[1]), sign(m[3]), sign(m[4]));
        let quarter = picture.quarter_turn();
        let (a, b, c, d) = if quarter { (0, b, c, 0) } else { (a, 0, 0, d) };
        if (a, b, c, d) == (1, 0, 0, 1) || (a | b | c | d) == 0 {
            return self;
        }
        let (w, h) = (i64::from(self.width), i64::from(self.height));
        let (ow, oh) = if quarter { (h, w) } else { (w, h) };
        // Offsets that bring the mapped coordinates back to 0..extent.
        let off_x = -(a.min(0) * (w - 1) + c.min(0) * (h - 1));
        let off_y = -(b.min(0) * (w - 1) + d.min(0) * (h - 1));
        let mut out = Image::black(ow as u32, oh as u32);
        for y in 0..h {
            for x in 0..w {
                let (nx, ny) = (a * x + c * y + off_x, b * x + d * y + off_y);
                let src = ((y * w + x) * 3) as usize;
                let dst = ((ny * ow + nx) * 3) as usize;
                out.rgb[dst..dst + 3].copy_from_slice(&self.rgb[src..src + 3]);
            }
        }
        out
    }

    /// Full-range (JFIF) BT.601 Y'CbCr 4:2:0 planes: luma, Cb, Cr; chroma is the mean of each
    /// 2×2 block (width and height rounded up). Fixed point, 16 fractional bits.
    pub fn to_yuv420(&self) -> [Vec<u8>; 3] {
        let (w, h) = (self.width as usize, self.height as usize);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let mut y_plane = vec![0u8; w * h];
        // Per 2×2 block: sum of Cb and Cr (times 2^16) and the pixel count.
        let mut sums = vec![[0i64; 3]; cw * ch];
        for row in 0..h {
            let block_row = &mut sums[(row / 2) * cw..(row / 2 + 1) * cw];
            for (col, p) in self.rgb[row * w * 3..(row + 1) * w * 3].chunks_exact(3).enumerate() {
                let (r, g, b) = (i64::from(p[0]), i64::from(p[1]), i64::from(p[2]));
                y_plane[row * w + col] = ((19_595 * r + 38_470 * g + 7_471 * b + 32_768) >> 16) as u8;
                let s = &mut block_row[col / 2];
                s[0] += -11_059 * r - 21_709 * g + 32_768 * b;
                s[1] += 32_768 * r - 27_439 * g - 5_329 * b;
                s[2] += 1;
            }
        }
        let chroma = |i: usize| -> Vec<u8> {
            sums.iter()
                .map(|s| {
                    let n = s[2].max(1) << 16;
                    ((s[i] + (128 << 16) * s[2].max(1) + n / 2).div_euclid(n)).clamp(0, 255) as u8
                })
                .collect()
        };
        [y_plane, chroma(0), chroma(1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::picture::IDENTITY_MATRIX;

    /// 3×2: pixel values are their own index, one channel repeated.
    fn numbered() -> Image {
        Image { width: 3, height: 2, rgb: (0u8..6).flat_map(|v| [v, v, v]).collect() }
    }

    fn values(i: &Image) -> Vec<u8> {
        i.rgb.chunks(3).map(|p| p[0]).collect()
    }

    #[test]
    fn a_phone_held_upright_is_turned_clockwise() {
        let mut p = Picture::default();
        // The matrix gen-media.sh writes for a phone held upright: x' = -y + h, y' = x.
        p.set_matrix([0, 0x10000, 0, -0x10000, 0, 0, 180 << 16, 0, 0x4000_0000]);
        let out = numbered().oriented(&p);
        assert_eq!((out.width, out.height), (2, 3));
        // 0 1 2 / 3 4 5 turned clockwise: 3 0 / 4 1 / 5 2.
        assert_eq!(values(&out), [3, 0, 4, 1, 5, 2]);
        let mut none = Picture::default();
        none.set_matrix(IDENTITY_MATRIX);
        assert_eq!(numbered().oriented(&none), numbered());
    }

    #[test]
    fn a_mirrored_matrix_flips_and_tiles_land_where_asked() {
        let mut p = Picture::default();
        p.set_matrix([-0x10000, 0, 0, 0, 0x10000, 0, 3 << 16, 0, 0x4000_0000]);
        assert_eq!(values(&numbered().oriented(&p)), [2, 1, 0, 5, 4, 3]);
        let mut sheet = Image::black(4, 4);
        sheet.place(&numbered(), 2, 3);
        assert_eq!(&values(&sheet)[12..], [0, 0, 0, 1]);
        let [y, cb, cr] = Image { width: 1, height: 1, rgb: vec![255, 0, 0] }.to_yuv420();
        assert_eq!((y[0], cb[0], cr[0]), (76, 85, 255));
    }
}
