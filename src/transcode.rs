// TEMPORARY STUB (replaced by the real module)
pub struct AacSettings { pub bitrate: u32, pub keep_surround: bool }
pub struct AacTarget { pub sample_rate: u32, pub channels: u32, pub bitrate: u32, pub asc: Vec<u8> }
#[derive(Debug, Clone)] pub struct TranscodeError(pub String);
impl std::fmt::Display for TranscodeError { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(&self.0) } }
pub fn plan(_p: &ffmpeg_next::codec::Parameters, _s: &AacSettings) -> Result<AacTarget, TranscodeError> { Err(TranscodeError("stub".into())) }
pub fn preroll_us() -> i64 { 200_000 }
pub struct EncodedRange { pub payload: Vec<u8>, pub frame_sizes: Vec<u32> }
pub fn encode_range(_p: &ffmpeg_next::codec::Parameters, _tb: ffmpeg_next::Rational, _packets: &[ffmpeg_next::Packet], _t: &AacTarget, _a: u64, _b: u64) -> Result<EncodedRange, TranscodeError> { Err(TranscodeError("stub".into())) }
