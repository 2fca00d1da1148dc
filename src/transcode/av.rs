//! FFmpeg glue shared by the stages: FFmpeg error codes as [`ParseError`]s and native-order
//! channel layouts.

use ffmpeg_next as ff;

use ff::ffi;

use super::target::SURROUND_CHANNELS;
use crate::error::ParseError;

/// `what: <FFmpeg's description of code>`.
pub(super) fn av_error(what: &str, code: i32) -> ParseError {
    ParseError::new(format!("{what}: {}", ff::Error::from(code)))
}

/// A native-order channel layout (no heap part, so it needs no uninit).
pub(super) fn layout_from_mask(mask: u64) -> ffi::AVChannelLayout {
    // SAFETY: AVChannelLayout is plain data for which all-zero is a valid (unspecified) value;
    // av_channel_layout_from_mask only writes through the valid pointer it is given and fills
    // the layout completely (a native layout owns no heap memory).
    unsafe {
        let mut layout: ffi::AVChannelLayout = std::mem::zeroed();
        ffi::av_channel_layout_from_mask(&mut layout, mask);
        layout
    }
}

/// The encoder's layout: stereo, or 5.1 as AAC channel configuration 6 (L R C LFE Ls Rs).
pub(super) fn target_layout(channels: usize) -> ffi::AVChannelLayout {
    if channels == SURROUND_CHANNELS as usize {
        layout_from_mask(ffi::AV_CH_LAYOUT_5POINT1_BACK)
    } else {
        layout_from_mask(ffi::AV_CH_LAYOUT_STEREO)
    }
}
