// TEMPORARY STUB (replaced by the real module)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec { H264, Hevc, Av1, Aac, Ac3, Eac3, Mp3, Opus, Flac }
#[derive(Clone, Debug)]
pub struct CodecConfig { pub codec: Codec, pub extradata: Vec<u8>, pub first_packet: Vec<u8>, pub width: u32, pub height: u32, pub sample_rate: u32, pub channels: u32, pub bits_per_sample: u32 }
#[derive(Debug, Clone, PartialEq, Eq)] pub struct CodecError(pub String);
impl std::fmt::Display for CodecError { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(&self.0) } }
pub fn codec_string(cfg: &CodecConfig) -> Result<String, CodecError> { Ok(format!("{:?}", cfg.codec)) }
