//! MPEG-1/2 Audio Layer III: what libhls needs to know about it (the codec string and the
//! MPEG-1 sampling frequencies).

/// RFC 6381 codec string of MP3 in MP4 (MPEG-4 Audio object type 34, Layer-3).
pub(crate) const CODEC_STRING: &str = "mp4a.40.34";

/// MPEG-1 audio sampling frequencies by the frame header's sampling_frequency index (ISO/IEC
/// 11172-3); index 3 is reserved.
pub(crate) const MPEG1_SAMPLE_RATES: [u32; 3] = [44100, 48000, 32000];
