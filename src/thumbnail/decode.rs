//! One keyframe through a fresh FFmpeg decoder, and the decoded picture scaled to RGB with
//! swscale.

use std::ptr;

use ff::ffi;
use ff::packet::Ref as _;
use ffmpeg_next as ff;

use super::image::Image;
use crate::codec::Codec;
use crate::error::{ParseError, ParseResult};

fn av_error(what: &str, code: i32) -> ParseError {
    ParseError::new(format!("{what}: {}", ff::Error::from(code)))
}

/// FFmpeg's codec id of a video codec.
fn codec_id(codec: Codec) -> ParseResult<ffi::AVCodecID> {
    Ok(match codec {
        Codec::H264 => ffi::AVCodecID::AV_CODEC_ID_H264,
        Codec::Hevc => ffi::AVCodecID::AV_CODEC_ID_HEVC,
        Codec::Av1 => ffi::AVCodecID::AV_CODEC_ID_AV1,
        Codec::Vp9 => ffi::AVCodecID::AV_CODEC_ID_VP9,
        other => return Err(ParseError::new(format!("{other:?} is not a video codec"))),
    })
}

/// A decoder for `codec` configured with `record` (avcC, hvcC or av1C: the samples are
/// length-prefixed as fMP4 carries them; empty for VP9).
fn open_decoder(codec: Codec, record: &[u8]) -> ParseResult<ff::codec::Context> {
    let id = codec_id(codec)?;
    // SAFETY: every pointer FFmpeg returns is checked before use; the extradata buffer is
    // allocated by av_mallocz with the padding FFmpeg requires and handed to the context, which
    // frees it; the context is owned (and freed) by the returned wrapper.
    unsafe {
        let decoder = ffi::avcodec_find_decoder(id);
        if decoder.is_null() {
            return Err(ParseError::new(format!("no FFmpeg decoder for {codec:?}")));
        }
        let raw = ffi::avcodec_alloc_context3(decoder);
        if raw.is_null() {
            return Err(ParseError::new("cannot allocate a decoder"));
        }
        let mut ctx = ff::codec::Context::wrap(raw, None);
        if !record.is_empty() {
            let len = record.len();
            let buf = ffi::av_mallocz(len + ffi::AV_INPUT_BUFFER_PADDING_SIZE as usize) as *mut u8;
            if buf.is_null() {
                return Err(ParseError::new("cannot allocate the decoder configuration"));
            }
            ptr::copy_nonoverlapping(record.as_ptr(), buf, len);
            (*raw).extradata = buf;
            (*raw).extradata_size = len as i32;
        }
        let c = ctx.as_mut_ptr();
        (*c).thread_count = 1;
        let ret = ffi::avcodec_open2(c, decoder, ptr::null_mut());
        if ret < 0 {
            return Err(av_error("cannot open the decoder", ret));
        }
        Ok(ctx)
    }
}

/// Decodes one keyframe (`sample`, as fMP4 carries it) alone: the decoder is fed that one
/// picture and drained.
pub(super) fn decode_keyframe(codec: Codec, record: &[u8], sample: &[u8]) -> ParseResult<ff::frame::Video> {
    let mut ctx = open_decoder(codec, record)?;
    let mut packet = ff::Packet::copy(sample);
    packet.set_flags(ff::packet::Flags::KEY);
    packet.set_pts(Some(0));
    packet.set_dts(Some(0));
    // SAFETY: the decoder is open, the packet valid for the call; a NULL packet starts draining.
    let sent = unsafe { ffi::avcodec_send_packet(ctx.as_mut_ptr(), packet.as_ptr()) };
    if sent < 0 {
        return Err(av_error("the keyframe does not decode", sent));
    }
    // SAFETY: as above.
    unsafe { ffi::avcodec_send_packet(ctx.as_mut_ptr(), ptr::null()) };
    let mut frame = ff::frame::Video::empty();
    // SAFETY: the decoder is open; the frame is a freshly allocated AVFrame it may fill.
    let ret = unsafe { ffi::avcodec_receive_frame(ctx.as_mut_ptr(), frame.as_mut_ptr()) };
    if ret < 0 {
        return Err(av_error("the keyframe gave no picture", ret));
    }
    if frame.width() == 0 || frame.height() == 0 || frame.format() == ff::format::Pixel::None {
        return Err(ParseError::new("the keyframe gave an empty picture"));
    }
    Ok(frame)
}

/// The decoded picture scaled (area averaging) to `width` × `height` packed RGB, as stored
/// (before the display matrix). The stretch to that size is what applies the sample aspect ratio.
pub(super) fn to_rgb(frame: &ff::frame::Video, width: u32, height: u32) -> ParseResult<Image> {
    let mut scaler = ff::software::scaling::Context::get(
        frame.format(),
        frame.width(),
        frame.height(),
        ff::format::Pixel::RGB24,
        width,
        height,
        ff::software::scaling::Flags::AREA | ff::software::scaling::Flags::ACCURATE_RND,
    )
    .map_err(|e| ParseError::new(format!("swscale: {e}")))?;
    let mut out = ff::frame::Video::empty();
    scaler.run(frame, &mut out).map_err(|e| ParseError::new(format!("swscale: {e}")))?;
    let stride = out.stride(0);
    let data = out.data(0);
    let row = width as usize * 3;
    let mut rgb = Vec::with_capacity(row * height as usize);
    for y in 0..height as usize {
        rgb.extend_from_slice(&data[y * stride..y * stride + row]);
    }
    Ok(Image { width, height, rgb })
}
