//! Which subtitle codecs can be served as WebVTT: text formats FFmpeg can decode; bitmap
//! formats (PGS, VobSub, DVB, XSUB) are refused with a reason naming them.

use std::ffi::CStr;

use ffmpeg_next as ffmpeg;

use ffmpeg::ffi;

use crate::error::{Error, ErrorKind, Result};

/// Is this codec a text subtitle we can serve?
///
/// # Errors
/// An [`ErrorKind::Unsupported`] error with a human-readable reason for bitmap subtitles
/// ("bitmap subtitles (PGS) cannot be converted to WebVTT"), non-subtitle codecs and subtitle
/// codecs FFmpeg has no decoder for.
pub fn classify(codec_id: ffmpeg::codec::Id) -> Result<()> {
    let unsupported = |reason: String| Err(Error::new(ErrorKind::Unsupported, reason));
    let raw: ffi::AVCodecID = codec_id.into();
    // SAFETY: avcodec_descriptor_get accepts any id and returns a pointer to a static descriptor
    // or null (`as_ref` turns null into None).
    let descriptor = unsafe { ffi::avcodec_descriptor_get(raw).as_ref() };
    let Some(descriptor) = descriptor else {
        return unsupported(format!("unknown codec {codec_id:?}"));
    };
    let name = descriptor_name(descriptor);
    if descriptor.type_ != ffi::AVMediaType::AVMEDIA_TYPE_SUBTITLE {
        return unsupported(format!("codec {name} is not a subtitle codec"));
    }
    if descriptor.props & ffi::AV_CODEC_PROP_BITMAP_SUB != 0 {
        return unsupported(format!(
            "bitmap subtitles ({}) cannot be converted to WebVTT",
            bitmap_label(codec_id, &name)
        ));
    }
    if descriptor.props & ffi::AV_CODEC_PROP_TEXT_SUB == 0 {
        return unsupported(format!("subtitle codec {name} is not a text format"));
    }
    // SAFETY: avcodec_find_decoder accepts any id and returns a static codec or null.
    if unsafe { ffi::avcodec_find_decoder(raw) }.is_null() {
        return unsupported(format!("FFmpeg has no decoder for subtitle codec {name}"));
    }
    Ok(())
}

/// The short name of a codec descriptor.
fn descriptor_name(descriptor: &ffi::AVCodecDescriptor) -> String {
    if descriptor.name.is_null() {
        return String::from("?");
    }
    // SAFETY: a non-null descriptor name is a static NUL-terminated string.
    unsafe { CStr::from_ptr(descriptor.name) }.to_string_lossy().into_owned()
}

/// Human label of a bitmap subtitle format for error messages.
fn bitmap_label(codec_id: ffmpeg::codec::Id, name: &str) -> String {
    use ffmpeg::codec::Id;
    match codec_id {
        Id::HDMV_PGS_SUBTITLE => "PGS".into(),
        Id::DVD_SUBTITLE => "VobSub".into(),
        Id::DVB_SUBTITLE => "DVB".into(),
        Id::XSUB => "XSUB".into(),
        Id::DVB_TELETEXT => "teletext".into(),
        _ => name.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ffmpeg::codec::Id;

    #[test]
    fn classify_refuses_bitmap_and_unknown() {
        assert_eq!(
            classify(Id::HDMV_PGS_SUBTITLE),
            Err(Error::new(ErrorKind::Unsupported, "bitmap subtitles (PGS) cannot be converted to WebVTT"))
        );
        for id in [Id::DVD_SUBTITLE, Id::DVB_SUBTITLE, Id::XSUB] {
            let reason = classify(id).expect_err("bitmap").to_string();
            assert!(reason.starts_with("bitmap subtitles ("), "{reason}");
        }
        for id in [Id::SUBRIP, Id::ASS, Id::MOV_TEXT, Id::WEBVTT, Id::TEXT] {
            assert_eq!(classify(id), Ok(()), "{id:?}");
        }
        assert!(classify(Id::H264).is_err());
        assert!(classify(Id::TTML).is_err(), "TTML has no decoder");
    }
}
