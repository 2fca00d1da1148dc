//! Scrubbing thumbnails: a keyframe decoded alone with FFmpeg, scaled (swscale) to the size a
//! viewer sees, turned upright by the display matrix, and encoded as JPEG (FFmpeg's MJPEG
//! encoder). The engine finds the keyframe (through the same readers segments use) and lays
//! tiles out on sprite sheets as `model/thumbs.rs` says.
//!
//! - `decode`: the FFmpeg decoder (one keyframe, alone) and swscale to packed RGB;
//! - `image`: RGB pictures: orientation, tiles on a sheet, 4:2:0 planes for the encoder;
//! - `jpeg`: the MJPEG encoder.
//!
//! Pictures are converted as stored: HDR (PQ, HLG) thumbnails are not tone-mapped.

#![deny(unsafe_op_in_unsafe_fn)]

mod decode;
mod image;
mod jpeg;

pub use image::Image;

use crate::codec::picture::Picture;
use crate::codec::Codec;
use crate::error::ParseResult;

/// One keyframe to show, as fMP4 carries it.
pub struct Keyframe<'a> {
    /// The video codec.
    pub codec: Codec,
    /// The decoder configuration record the init segment declares (avcC, hvcC, av1C; empty for
    /// VP9): the sample's NAL units are length-prefixed as it says.
    pub record: &'a [u8],
    /// The keyframe's bytes.
    pub sample: &'a [u8],
}

/// The keyframe's picture as a viewer sees it (sample aspect ratio and display matrix applied),
/// scaled to `size` (width, height on screen).
pub fn picture(key: &Keyframe, picture: &Picture, size: (u32, u32)) -> ParseResult<Image> {
    let frame = decode::decode_keyframe(key.codec, key.record, key.sample)?;
    let stored = if picture.quarter_turn() { (size.1, size.0) } else { size };
    Ok(decode::to_rgb(&frame, stored.0, stored.1)?.oriented(picture))
}

/// `image` as a JPEG.
pub fn jpeg(image: &Image) -> ParseResult<Vec<u8>> {
    jpeg::encode(image)
}
