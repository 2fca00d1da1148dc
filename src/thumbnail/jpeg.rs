//! FFmpeg's MJPEG encoder: one full-range 4:2:0 JPEG (JFIF) from an RGB picture.

#![deny(unsafe_code)]

use ffmpeg_next as ff;

use super::image::Image;
use crate::error::{ParseError, ParseResult};

/// JPEG quantiser scale (2 best .. 31 worst): 5 keeps text and edges of a 320 px tile sharp
/// at about 10–20 KB per tile.
const QSCALE: i32 = 5;

/// `image` as a baseline JPEG.
pub(super) fn encode(image: &Image) -> ParseResult<Vec<u8>> {
    let err = |what: &'static str| move |e: ff::Error| ParseError::new(format!("JPEG encoder: {what}: {e}"));
    let codec = ff::codec::encoder::find(ff::codec::Id::MJPEG).ok_or_else(|| ParseError::new("no MJPEG encoder"))?;
    let mut enc = ff::codec::Context::new_with_codec(codec).encoder().video().map_err(err("create"))?;
    enc.set_width(image.width);
    enc.set_height(image.height);
    enc.set_format(ff::format::Pixel::YUV420P);
    enc.set_color_range(ff::color::Range::JPEG);
    enc.set_time_base(ff::Rational::new(1, 1));
    enc.set_flags(ff::codec::Flags::QSCALE);
    // Fixed quantiser: the frame carries no quality, so the scale is clipped to qmin..=qmax.
    enc.set_qmin(QSCALE);
    enc.set_qmax(QSCALE);
    let mut enc = enc.open_as(codec).map_err(err("open"))?;

    let mut frame = ff::frame::Video::new(ff::format::Pixel::YUV420P, image.width, image.height);
    frame.set_color_range(ff::color::Range::JPEG);
    frame.set_pts(Some(0));
    for (i, plane) in image.to_yuv420().iter().enumerate() {
        let (w, h) = (frame.plane_width(i) as usize, frame.plane_height(i) as usize);
        let stride = frame.stride(i);
        let dst = frame.data_mut(i);
        for row in 0..h {
            dst[row * stride..row * stride + w].copy_from_slice(&plane[row * w..row * w + w]);
        }
    }
    enc.send_frame(&frame).map_err(err("send"))?;
    enc.send_eof().map_err(err("flush"))?;
    let mut packet = ff::Packet::empty();
    enc.receive_packet(&mut packet).map_err(err("receive"))?;
    Ok(packet.data().unwrap_or(&[]).to_vec())
}
