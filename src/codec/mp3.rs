//! MPEG-1/2 Audio Layer III: what libhls needs to know about it (the `esds` object type, the
//! codec string that names it, and the MPEG-1 sampling frequencies).

/// MP3 sample rates from this one up are MPEG-1 Layer III; below, MPEG-2 (lower sampling
/// frequencies).
const MPEG1_MIN_SAMPLE_RATE: u32 = 32000;
/// `objectTypeIndication` (ISO/IEC 14496-1): MPEG-1 Audio (MP3 at 32 kHz and up).
pub(crate) const OTI_MPEG1_AUDIO: u8 = 0x6B;
/// `objectTypeIndication`: MPEG-2 Audio, lower sampling frequencies (MP3 below 32 kHz).
pub(crate) const OTI_MPEG2_AUDIO: u8 = 0x69;

/// The `esds` `objectTypeIndication` of MP3 at `sample_rate` (0, unknown: MPEG-1).
pub(crate) fn object_type_indication(sample_rate: u32) -> u8 {
    if sample_rate == 0 || sample_rate >= MPEG1_MIN_SAMPLE_RATE {
        OTI_MPEG1_AUDIO
    } else {
        OTI_MPEG2_AUDIO
    }
}

/// RFC 6381 codec string of MP3 in MP4: `mp4a.` and the `esds` object type in hex (`mp4a.6B`,
/// `mp4a.69`), so it names what the sample entry says. (`mp4a.40.34` is valid RFC 6381 too, but
/// Chromium's MSE refuses it.)
pub(crate) fn codec_string(sample_rate: u32) -> String {
    format!("mp4a.{:02X}", object_type_indication(sample_rate))
}

/// MPEG-1 audio sampling frequencies by the frame header's sampling_frequency index (ISO/IEC
/// 11172-3); index 3 is reserved.
pub(crate) const MPEG1_SAMPLE_RATES: [u32; 3] = [44100, 48000, 32000];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_string_names_the_esds_object_type() {
        assert_eq!(codec_string(44100), "mp4a.6B");
        assert_eq!(codec_string(32000), "mp4a.6B");
        assert_eq!(codec_string(24000), "mp4a.69");
        assert_eq!(codec_string(0), "mp4a.6B");
        assert_eq!(object_type_indication(22050), OTI_MPEG2_AUDIO);
        assert_eq!(object_type_indication(48000), OTI_MPEG1_AUDIO);
    }
}
