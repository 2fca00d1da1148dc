//! Matroska's own index, read without a demuxer: the Cues (keyframe times and cluster
//! positions) and a walker over block *headers* that never reads frame data it is not asked for.
//!
//! Opening a Matroska file reads its Cues, then only the block headers around each segment
//! boundary (see `index::mkv`). FFmpeg's demuxer cannot do this: it parses the Cues only on the
//! first seek and reads every block's payload, even of discarded streams.
//!
//! - `ebml`: element IDs, variable-size integers, element headers and the chunked positioned
//!   reader under everything else here.
//! - `layout`: [`read_layout`] reads the EBML header, SeekHead, Info, Tracks and Cues into a
//!   [`Layout`] of [`TrackEntry`]s and [`CuePoint`]s.
//! - `blocks`: [`BlockWalker`] walks block headers ([`BlockHead`]) and splits laced blocks.
//!
//! Errors are [`ParseError`](crate::error::ParseError)s: the caller falls back to a packet scan
//! or reports a damaged file.

#![deny(unsafe_code)]

mod blocks;
mod ebml;
mod layout;
#[cfg(test)]
mod testutil;

pub use blocks::{BlockHead, BlockWalker};
pub use layout::{is_matroska, read_layout, CuePoint, Layout, TrackEntry};
pub(crate) use layout::{TRACK_TYPE_AUDIO, TRACK_TYPE_SUBTITLE, TRACK_TYPE_VIDEO};
