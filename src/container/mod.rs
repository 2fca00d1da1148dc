//! Containers read as containers: FFmpeg's demuxer, MP4 boxes and sample tables, Matroska's EBML,
//! Cues and block headers. Nothing here knows about HLS.

pub mod demux;
pub mod mkv;
pub mod mp4;
pub mod read;
pub mod sample;
