// TEMPORARY STUB (replaced by the real module)
use crate::codec::CodecConfig;
pub enum TrackKind { Video, Audio }
pub struct TrackInit<'a> { pub track_id: u32, pub kind: TrackKind, pub timescale: u32, pub language: [u8; 3], pub codec: &'a CodecConfig }
#[derive(Debug)] pub struct Fmp4Error(pub String);
impl std::fmt::Display for Fmp4Error { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(&self.0) } }
pub fn write_init(_t: &TrackInit) -> Result<Vec<u8>, Fmp4Error> { Ok(vec![]) }
pub struct SampleMeta { pub size: u32, pub duration: u32, pub composition_offset: i32, pub sync: bool }
pub fn write_media_segment(_s: u32, _t: u32, _b: u64, _samples: &[SampleMeta], payload: &[u8]) -> Result<Vec<u8>, Fmp4Error> { Ok(payload.to_vec()) }
pub fn media_segment_overhead(n: usize) -> usize { 100 + 16 * n }
